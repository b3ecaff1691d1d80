//! `terraform-apply` end to end through the real CLI, host and `terraform` 1.11, with the
//! S3 backend and the state lock on moto. No provider can be downloaded here, so the
//! fixture plugin `tf-root` stands in for `terraform-render` (a `plugin` node may replace a
//! built-in) and renders a root module on Terraform's built-in provider, with the project's
//! real module source beside it. `FORGE_TERRAFORM` points at a wrapper that logs every
//! `terraform` process forge starts.

use serde_json::Value;

use crate::harness::{Forge, Project, fixture_plugin};
use crate::lock::{on_moto, require_moto, terraform, unique};

const BUCKET: &str = "two-tier-terraform-state-123456789012";
const TABLE: &str = "two-tier-terraform-locks";

pub(crate) struct TfProject {
    pub(crate) project: Project,
    prefix: String,
    pin: String,
    /// More of project.kdl (a step reading the apply's outputs).
    pub(crate) extra: std::cell::RefCell<String>,
    /// More environment for every forge command (an ECS endpoint).
    pub(crate) env: std::cell::RefCell<Vec<(String, String)>>,
}

impl TfProject {
    pub(crate) fn new(v: &str) -> TfProject {
        require_moto();
        let real = terraform();
        let project = Project::with_kdl("version 1\n");
        let pin = project.pin_plugin("terraform-render", &fixture_plugin("tf-root"), &[]);
        let project = project.file("tools/terraform", &wrapper(&real, None)).file(
            "modules/net/main.tf",
            "variable \"cidr\" {\n  default = \"10.0.0.0/16\"\n}\n\noutput \"cidr\" {\n  value = var.cidr\n}\n",
        );
        let tool = project.root().join("tools/terraform");
        std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod the wrapper");
        let tf = TfProject {
            project,
            prefix: unique("forge-tf"),
            pin,
            extra: Default::default(),
            env: Default::default(),
        };
        tf.set_var(v);
        tf
    }

    /// Writes project.kdl with `var "v"` set to `v`.
    pub(crate) fn set_var(&self, v: &str) {
        let kdl = format!(
            r#"version 1
project "tf" {{ region "us-east-1"; }}
state {{
    s3 bucket="{BUCKET}" key="{prefix}/{{env}}.tfstate" endpoint="http://127.0.0.1:4566"
    lock "s3-lockfile" "dynamodb" table="{TABLE}"
}}
module "net" {{ source "modules/net"; }}
var "v" "{v}"
{pin}
{extra}
"#,
            prefix = self.prefix,
            pin = self.pin,
            extra = self.extra.borrow(),
        );
        std::fs::write(self.project.root().join("project.kdl"), kdl).expect("write project.kdl");
    }

    pub(crate) fn forge(&self, args: &str) -> Forge<'_> {
        let mut forge = on_moto(&self.project, args);
        for (key, value) in self.env.borrow().iter() {
            forge = forge.env(key, value);
        }
        forge.env(
            "FORGE_TERRAFORM",
            &self
                .project
                .root()
                .join("tools/terraform")
                .display()
                .to_string(),
        )
    }

    /// `terraform` run by hand, as a colleague would, in forge's own working directory
    /// of the env (initialized, with the S3 backend on moto).
    fn by_hand(&self, args: &[&str]) {
        let versions = walk(self.project.cache_dir())
            .into_iter()
            .find(|p| p.ends_with(".forge/terraform/default/versions.tf"))
            .expect("forge's terraform working directory");
        let dir = versions.parent().expect("its directory");
        let out = std::process::Command::new(terraform())
            .args(args)
            .current_dir(dir)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run terraform");
        assert!(
            out.status.success(),
            "terraform {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The requests moto logged for this project's keys (`scripts/local-stack` keeps its
    /// log in `$FORGE_STACK_DIR`).
    fn s3_requests(&self) -> Vec<String> {
        let dir = std::env::var("FORGE_STACK_DIR")
            .unwrap_or_else(|_| "/tmp/forge-local-stack".to_owned());
        let log = std::path::Path::new(&dir).join("moto.log");
        let text = std::fs::read_to_string(&log).unwrap_or_else(|e| {
            panic!(
                "cannot read moto's request log {}: {e} (start it with scripts/local-stack up)",
                log.display()
            )
        });
        text.lines()
            .filter(|l| l.contains(&self.prefix))
            .map(str::to_owned)
            .collect()
    }

    /// The stored manifest of `step`'s current result (its fingerprint from `explain`).
    pub(crate) fn manifest(&self, step: &str) -> Value {
        let explained: Value = serde_json::from_str(
            self.forge(&format!("--json explain {step}"))
                .run()
                .stdout
                .trim(),
        )
        .expect("explain --json");
        let key = explained["fingerprint"].as_str().expect("a fingerprint");
        let store = forge_engine::store::Store::open(self.project.cache_dir()).expect("store");
        match store.lookup(key) {
            forge_engine::store::Lookup::Hit(hit) => hit.result.manifest,
            _ => panic!("`{step}` has no stored result"),
        }
    }

    /// The `terraform` commands forge started so far.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.project.root().join("tools/terraform-calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// A `terraform` that logs each command, then runs the real one; with `version`, it
/// claims to be that version instead.
fn wrapper(real: &std::path::Path, version: Option<&str>) -> String {
    let fake = version
        .map(|v| {
            format!(
                "if [ \"$1\" = version ]; then echo '{{\"terraform_version\":\"{v}\"}}'; exit 0; fi\n"
            )
        })
        .unwrap_or_default();
    format!(
        "#!/bin/sh\necho \"$1\" >> \"$(dirname \"$0\")/terraform-calls.log\"\n{fake}exec {} \"$@\"\n",
        real.display()
    )
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

pub(crate) fn events(out: &crate::harness::Output) -> Vec<Value> {
    out.json_lines()
}

fn logged(events: &[Value], step: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "step-log" && e["step"] == step)
        .filter_map(|e| e["line"].as_str().map(str::to_owned))
        .collect()
}

pub(crate) fn ran(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "step-finished" && e["status"] == "ran")
        .filter_map(|e| e["step"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_deploy_applies_then_is_cached_and_an_input_change_plans_and_applies() {
    let p = TfProject::new("a");

    // First deploy: init, plan (the summary in the log), apply, output; inside the lock.
    let first = events(&p.forge("--json -v deploy").run());
    assert_eq!(ran(&first), ["terraform-render", "terraform-apply"]);
    let log = logged(&first, "terraform-apply");
    assert!(
        log.iter()
            .any(|l| l == "plan: 1 to add, 0 to change, 0 to destroy"),
        "{log:#?}"
    );
    assert!(log.iter().any(|l| l.contains("Apply complete")), "{log:#?}");
    assert!(
        log.iter().all(|l| !l.contains("Acquiring state lock")),
        "terraform runs with -lock=false inside forge's lock: {log:#?}"
    );
    // One `version` for the fingerprint (kept in the store for this binary), one when
    // the host first runs it.
    assert_eq!(
        p.calls(),
        ["version", "version", "init", "plan", "apply", "output"]
    );
    let changes: Vec<&str> = first
        .iter()
        .filter(|e| e["type"] == "state-lock")
        .filter_map(|e| e["change"].as_str())
        .collect();
    assert_eq!(changes, ["acquired", "released"]);

    // Second deploy: every step cached, no terraform process, no lock.
    let second = events(&p.forge("--json deploy").run());
    assert!(ran(&second).is_empty(), "{second:#?}");
    assert_eq!(p.calls().len(), 6, "a cached deploy starts no terraform");
    assert!(second.iter().all(|e| e["type"] != "state-lock"));

    // An input change: the plan shows what changes, and it is applied.
    p.set_var("b");
    let third = events(&p.forge("--json -v deploy").run());
    assert_eq!(ran(&third), ["terraform-render", "terraform-apply"]);
    let log = logged(&third, "terraform-apply");
    assert!(
        log.iter()
            .any(|l| l.starts_with("plan: ") && l.contains("1 to change")),
        "{log:#?}"
    );
    assert!(log.iter().any(|l| l.contains("Apply complete")), "{log:#?}");
    // The lock is free again, and Terraform sees the applied state.
    let status: Value =
        serde_json::from_str(p.forge("--json lock status").run().stdout.trim()).expect("json");
    assert_eq!(status["held"], false);

    // A new Terraform (the binary replaced): part of the fingerprint, so it plans again.
    let tool = p.project.root().join("tools/terraform");
    std::fs::remove_file(&tool).expect("remove the old terraform");
    std::fs::write(&tool, wrapper(&terraform(), Some("1.11.99"))).expect("the new one");
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let fourth = events(&p.forge("--json deploy").run());
    assert_eq!(ran(&fourth), ["terraform-apply"], "{fourth:#?}");
    let reason = fourth
        .iter()
        .find(|e| e["type"] == "step-finished" && e["step"] == "terraform-apply")
        .and_then(|e| e["reason"].as_str())
        .expect("a reason");
    assert!(
        reason.starts_with("terraform changed (1.11.") && reason.ends_with(" → 1.11.99)"),
        "{reason}"
    );
}

/// A cached apply is served only while the state object is as forge left it: a
/// colleague's `terraform apply` makes the next `forge plan` say so and the next deploy
/// plan again (nothing to apply: the state already matches) and the steps reading its
/// output run again, after which all is cached again. The apply's outputs reach a step that reads them, sensitive values left out.
#[test]
fn a_hand_run_apply_reruns_the_cached_apply_and_outputs_reach_downstream_steps() {
    let p = TfProject::new("a");
    let ok = p
        .project
        .pin_plugin("ok", &crate::harness::fixture_plugin("ok"), &["files.read"]);
    *p.extra.borrow_mut() = format!(
        "{ok}\nstep \"report\" {{\n    plugin \"ok\"\n    phase \"deploy\"\n    config {{ cidr (ref)\"module.net.cidr\"; }}\n}}\n"
    );
    p.set_var("a");

    let first = events(&p.forge("--json deploy").run());
    assert_eq!(
        ran(&first),
        ["terraform-render", "terraform-apply", "report"]
    );
    let report = first
        .iter()
        .find(|e| e["type"] == "step-finished" && e["step"] == "report")
        .expect("report finished");
    assert_eq!(report["status"], "ran");
    let manifest = p.manifest("report");
    let applied = &manifest["manifests"]["terraform-apply"];
    assert_eq!(applied["outputs"]["value"], "a", "{manifest:#}");
    assert_eq!(applied["outputs"]["cidr"], "10.0.0.0/16", "{manifest:#}");
    assert_eq!(applied["sensitive"], serde_json::json!(["token"]));
    assert!(
        !manifest.to_string().contains("s3cr3t"),
        "a sensitive value never reaches a downstream step: {manifest:#}"
    );
    let etag = applied["state"]["etag"].as_str().expect("the state's ETag");

    // A fully cached deploy: no terraform, no lock, and one request to S3: the HEAD of
    // the state object (moto's request log, filtered to this project's keys).
    let calls = p.calls().len();
    let before = p.s3_requests();
    let cached = events(&p.forge("--json deploy").run());
    assert!(ran(&cached).is_empty(), "{cached:#?}");
    assert_eq!(p.calls().len(), calls);
    assert!(cached.iter().all(|e| e["type"] != "state-lock"));
    let requests = p.s3_requests()[before.len()..].to_vec();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert!(
        requests[0].contains("\"HEAD /")
            && requests[0].ends_with("/default.tfstate HTTP/1.1\" 200 -"),
        "{requests:#?}"
    );

    // A colleague replaces the resource by hand: the state object changes.
    p.by_hand(&[
        "apply",
        "-input=false",
        "-auto-approve",
        "-replace=terraform_data.x",
    ]);
    let plan = p.forge("--json plan").run();
    let apply = plan
        .json_lines()
        .into_iter()
        .find(|l| l["type"] == "plan-step" && l["step"] == "terraform-apply")
        .expect("apply planned");
    assert_eq!(apply["status"], "stale", "{apply}");
    let reason = apply["reason"].as_str().expect("a reason");
    assert!(
        reason.starts_with("the state changed outside this forge since run "),
        "{reason}"
    );
    assert!(reason.contains(etag), "names what forge recorded: {reason}");
    let human = p.forge("plan").run().stdout;
    assert!(
        human.contains("the state changed outside this forge"),
        "{human}"
    );

    let rerun = events(&p.forge("--json deploy").run());
    // The state's identity is part of the apply's output, so what reads it runs again.
    assert_eq!(ran(&rerun), ["terraform-apply", "report"], "{rerun:#?}");
    let finished = rerun
        .iter()
        .find(|e| e["type"] == "step-finished" && e["step"] == "terraform-apply")
        .expect("apply finished");
    assert!(
        finished["reason"]
            .as_str()
            .is_some_and(|r| r.contains("outside this forge")),
        "{finished}"
    );
    let log = logged(&rerun, "terraform-apply");
    assert!(
        log.iter().any(|l| l == "plan: no changes"),
        "the state already matches: {log:#?}"
    );
    assert_eq!(
        p.calls()[calls..],
        ["version", "init", "plan", "output"],
        "planned, nothing applied"
    );

    // Forge recorded the new state: cached again.
    let again = events(&p.forge("--json deploy").run());
    assert!(ran(&again).is_empty(), "{again:#?}");
}

/// The plan's lines of one kind.
fn lines_of(events: &[Value], kind: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["type"] == kind)
        .cloned()
        .collect()
}

/// `forge plan --terraform` answers "what would this deploy change" across steps and
/// infrastructure: it runs the render (pure) when needed, then the apply step's plugin
/// read-only — `init` and `plan`, never `apply` — under Terraform's own lock.
#[test]
fn plan_with_terraform_plans_and_applies_nothing() {
    let p = TfProject::new("a");

    let before = p
        .forge("--json plan --terraform --detailed-exitcode")
        .code(2)
        .run()
        .json_lines();
    let infra = lines_of(&before, "plan-terraform");
    assert_eq!(infra.len(), 1, "{before:#?}");
    assert_eq!(infra[0]["status"], "planned", "{infra:#?}");
    assert_eq!(
        infra[0]["summary"],
        serde_json::json!({"add": 1, "change": 0, "destroy": 0, "changes": true})
    );
    assert!(
        !p.calls().iter().any(|c| c == "apply"),
        "a plan applies nothing: {:?}",
        p.calls()
    );
    assert!(p.calls().iter().any(|c| c == "plan"), "{:?}", p.calls());
    let status: Value =
        serde_json::from_str(p.forge("--json lock status").run().stdout.trim()).expect("json");
    assert_eq!(status["held"], false, "Terraform released its own lock");
    // The render it ran is kept: the deploy finds it cached.
    let deploy = events(&p.forge("--json deploy").run());
    assert_eq!(ran(&deploy), ["terraform-apply"], "{deploy:#?}");

    // Applied: nothing to change, nothing to run.
    let human = p.forge("plan --terraform --detailed-exitcode").run().stdout;
    assert!(
        human.contains("terraform plan (env default): no changes"),
        "{human}"
    );
    p.set_var("b");
    let human = p.forge("-v plan --terraform").run().stdout;
    assert!(
        human.contains("terraform plan (env default): 0 to add, 1 to change, 0 to destroy"),
        "{human}"
    );
    assert!(
        human.contains("terraform-apply | ") && human.contains("terraform_data.x"),
        "-v shows Terraform's own plan: {human}"
    );

    // Someone holds the state lock: Terraform waits (here: not at all) and fails naming
    // them; nothing is left behind.
    let info = serde_json::json!({
        "ID": "0b6a4f4e-1111-2222-3333-444455556666",
        "Operation": "OperationTypeApply",
        "Info": "",
        "Who": "alice@laptop",
        "Version": "1.11.4",
        "Created": "2026-12-03T10:00:00.000000000Z",
        "Path": format!("{BUCKET}/{}/default.tfstate", p.prefix),
    });
    let key = format!("{}/default.tfstate.tflock", p.prefix);
    let target = forge_clients::aws::Target {
        region: Some("us-east-1".into()),
        endpoint: Some("http://127.0.0.1:4566".into()),
    };
    let aws = forge_clients::aws::Aws::with_credentials("testing", "testing");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime
        .block_on(aws.s3_put_object(&target, BUCKET, &key, info.to_string().into_bytes(), true))
        .expect("hold the lock");
    let held = p
        .forge("--json plan --terraform --lock-timeout 1s")
        .code(1)
        .run()
        .json_lines();
    let infra = lines_of(&held, "plan-terraform");
    assert_eq!(infra[0]["status"], "failed", "{infra:#?}");
    let reason = infra[0]["reason"].as_str().expect("a reason");
    assert!(
        reason.contains("alice@laptop") && reason.contains("lock"),
        "{reason}"
    );
    runtime
        .block_on(aws.s3_delete_object(&target, BUCKET, &key))
        .expect("let it go");

    // A build has no infrastructure to plan.
    let err = p
        .forge("plan --terraform --phase build")
        .code(2)
        .run()
        .stderr;
    assert!(err.contains("`--terraform` plans a deploy"), "{err}");
}
