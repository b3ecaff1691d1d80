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

struct TfProject {
    project: Project,
    prefix: String,
    pin: String,
}

impl TfProject {
    fn new(v: &str) -> TfProject {
        require_moto();
        let real = terraform();
        let project = Project::with_kdl("version 1\n");
        let pin = project.pin_plugin("terraform-render", &fixture_plugin("tf-root"), &[]);
        let wrapper = format!(
            "#!/bin/sh\necho \"$1\" >> \"$(dirname \"$0\")/terraform-calls.log\"\nexec {} \"$@\"\n",
            real.display()
        );
        let project = project.file("tools/terraform", &wrapper).file(
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
        };
        tf.set_var(v);
        tf
    }

    /// Writes project.kdl with `var "v"` set to `v`.
    fn set_var(&self, v: &str) {
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
"#,
            prefix = self.prefix,
            pin = self.pin
        );
        std::fs::write(self.project.root().join("project.kdl"), kdl).expect("write project.kdl");
    }

    fn forge(&self, args: &str) -> Forge<'_> {
        on_moto(&self.project, args).env(
            "FORGE_TERRAFORM",
            &self
                .project
                .root()
                .join("tools/terraform")
                .display()
                .to_string(),
        )
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

fn events(out: &crate::harness::Output) -> Vec<Value> {
    out.json_lines()
}

fn logged(events: &[Value], step: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "step-log" && e["step"] == step)
        .filter_map(|e| e["line"].as_str().map(str::to_owned))
        .collect()
}

fn ran(events: &[Value]) -> Vec<String> {
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
    assert_eq!(p.calls(), ["version", "init", "plan", "apply", "output"]);
    let changes: Vec<&str> = first
        .iter()
        .filter(|e| e["type"] == "state-lock")
        .filter_map(|e| e["change"].as_str())
        .collect();
    assert_eq!(changes, ["acquired", "released"]);

    // Second deploy: every step cached, no terraform process, no lock.
    let second = events(&p.forge("--json deploy").run());
    assert!(ran(&second).is_empty(), "{second:#?}");
    assert_eq!(p.calls().len(), 5, "a cached deploy starts no terraform");
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
}
