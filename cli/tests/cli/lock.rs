//! The env's state lock through the real path: the CLI, the plugin host, the `state-lock`
//! built-in and moto's S3 and DynamoDB (`scripts/local-stack up`), against the real
//! `terraform` (1.11, on `PATH`) contending for the same lock. No test here skips: a
//! missing moto or terraform fails it, saying how to provide it.
//!
//! forge holds the lock while a locked step runs; the projects here stand a fixture plugin
//! in for `terraform-apply` (a `plugin` node may replace a built-in of the same name):
//! `spin` holds the lock until forge is stopped, `trap`, `panic` and `ok` end the step the
//! ways a real one can.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output as ProcessOutput, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Forge, Project, fixture_plugin};

/// What `scripts/local-stack up` makes in moto (the reference project's names).
const BUCKET: &str = "two-tier-terraform-state-123456789012";
const TABLE: &str = "two-tier-terraform-locks";
const MOTO: &str = "127.0.0.1:4566";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Lockfile,
    Dynamodb,
    Both,
}

pub const MODES: [Mode; 3] = [Mode::Lockfile, Mode::Dynamodb, Mode::Both];

impl Mode {
    fn kdl(self) -> String {
        match self {
            Mode::Lockfile => r#"lock "s3-lockfile""#.to_owned(),
            Mode::Dynamodb => format!(r#"lock "dynamodb" table="{TABLE}""#),
            Mode::Both => format!(r#"lock "s3-lockfile" "dynamodb" table="{TABLE}""#),
        }
    }

    /// Terraform's backend settings for the same lock.
    fn backend_hcl(self) -> String {
        let mut out = String::new();
        if matches!(self, Mode::Lockfile | Mode::Both) {
            out.push_str("use_lockfile = true\n");
        }
        if matches!(self, Mode::Dynamodb | Mode::Both) {
            out.push_str(&format!("dynamodb_table = \"{TABLE}\"\n"));
        }
        out
    }
}

/// moto, or a panic saying how to start it.
pub fn require_moto() {
    assert!(
        std::net::TcpStream::connect(MOTO).is_ok(),
        "moto is not running on {MOTO}; start the local stack with `scripts/local-stack up`"
    );
}

/// The `terraform` binary, or a panic saying it is required.
pub fn terraform() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("terraform"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "`terraform` is not on PATH: the state-lock tests contend with the real Terraform \
             (1.11.x; no Debian/PyPI/npm package ships it: install it from releases.hashicorp.com)"
        )
    })
}

/// A project whose deploy is `terraform-render` → `terraform-apply` (the fixture plugin
/// `apply`) inside the state lock, and a Terraform root module on the same state.
pub struct LockProject {
    pub project: Project,
    pub key: String,
}

impl LockProject {
    pub fn new(mode: Mode, apply: &str) -> LockProject {
        require_moto();
        let prefix = unique("forge-tests");
        let project = Project::with_kdl("version 1\n");
        let pin = project.pin_plugin("terraform-apply", &fixture_plugin(apply), &["files.read"]);
        let kdl = format!(
            r#"version 1
project "locks" {{ region "us-east-1"; }}
state {{
    s3 bucket="{BUCKET}" key="{prefix}/{{env}}.tfstate" endpoint="http://{MOTO}"
    {lock}
}}
module "net" {{ source "modules/net"; }}
{pin}
"#,
            lock = mode.kdl()
        );
        let project = project
            .file("project.kdl", &kdl)
            .file("modules/net/main.tf", "variable \"cidr\" { default = \"10.0.0.0/16\" }\n")
            .file(
                "tf/main.tf",
                "terraform {\n  backend \"s3\" {}\n}\n\nvariable \"hold\" {\n  default = 0\n}\n\nresource \"terraform_data\" \"x\" {\n  input = timestamp()\n  provisioner \"local-exec\" {\n    command = \"sleep ${var.hold}\"\n  }\n}\n",
            );
        let key = format!("{prefix}/default.tfstate");
        let backend = format!(
            "bucket = \"{BUCKET}\"\nkey = \"{key}\"\nregion = \"us-east-1\"\n{}endpoints = {{\n  s3 = \"http://{MOTO}\"\n  dynamodb = \"http://{MOTO}\"\n}}\nuse_path_style = true\nskip_credentials_validation = true\nskip_requesting_account_id = true\nskip_metadata_api_check = true\nskip_region_validation = true\naccess_key = \"testing\"\nsecret_key = \"testing\"\n",
            mode.backend_hcl()
        );
        let project = project
            .file("tf/backend.hcl", &backend)
            .file("tf/cli.tfrc", "");
        LockProject { project, key }
    }

    /// `forge ARGS` with the real host against moto.
    pub fn forge(&self, args: &str) -> Forge<'_> {
        on_moto(&self.project, args)
    }

    /// `forge --json lock status`.
    pub fn status(&self) -> Value {
        let out = self.forge("--json lock status").run();
        serde_json::from_str(out.stdout.trim()).expect("lock status is one JSON line")
    }

    /// Starts `forge --json deploy` and returns once it holds the lock, with the lock ID.
    /// The caller waits for the child.
    #[allow(clippy::zombie_processes)]
    pub fn hold(&self) -> (Child, String) {
        let mut child = self.forge("--json deploy").spawn();
        let stdout = child.stdout.take().expect("piped stdout");
        let mut seen = Vec::new();
        let mut lines = BufReader::new(stdout).lines();
        while let Some(line) = lines.next() {
            let line = line.expect("utf-8 line");
            let event: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            seen.push(line);
            if event["type"] == "state-lock" && event["change"] == "acquired" {
                let id = event["lock"]["ID"].as_str().expect("lock ID").to_owned();
                // Keep reading: a closed pipe would end forge before the test does.
                std::thread::spawn(move || lines.for_each(drop));
                return (child, id);
            }
        }
        let _ = child.kill();
        let exit = child.wait();
        panic!("forge deploy ended ({exit:?}) without taking the lock: {seen:#?}");
    }

    fn terraform(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(terraform());
        cmd.args(args)
            .current_dir(self.project.root().join("tf"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env(
                "TF_CLI_CONFIG_FILE",
                self.project.root().join("tf/cli.tfrc"),
            )
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("TF_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// `terraform init` against the same backend (only the built-in provider: no download).
    pub fn terraform_init(&self) {
        let out = self
            .terraform(&["init", "-input=false", "-backend-config=backend.hcl"])
            .output()
            .expect("run terraform init");
        assert!(out.status.success(), "terraform init: {}", text(&out));
    }

    /// `terraform plan -lock-timeout=0s`.
    pub fn terraform_plan(&self) -> ProcessOutput {
        self.terraform(&["plan", "-input=false", "-lock-timeout=0s"])
            .output()
            .expect("run terraform plan")
    }

    /// Starts `terraform apply` holding its lock for `hold` seconds (a provisioner sleeps).
    pub fn terraform_apply(&self, hold: u32) -> Child {
        let var = format!("-var=hold={hold}");
        self.terraform(&["apply", "-input=false", "-auto-approve", &var])
            .spawn()
            .expect("start terraform apply")
    }

    /// Waits until someone holds the lock (by `forge lock status`), and returns the holder.
    pub fn wait_held(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = self.status();
            if status["held"] == true {
                return status["holder"].clone();
            }
            assert!(Instant::now() < deadline, "nobody took the lock in 60s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `forge ARGS` in `project` with the real host, and moto's test credentials.
pub fn on_moto<'a>(project: &'a Project, args: &str) -> Forge<'a> {
    project
        .forge(args)
        .without_test_executor()
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
}

/// stdout and stderr of a finished process, for messages.
pub fn text(out: &ProcessOutput) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A report with miette's line wrapping (and its frame) taken out, to find an ID in it.
fn unwrapped(report: &str) -> String {
    report
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '│')
        .collect()
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}/{}-{nanos:x}", std::process::id())
}

fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

/// forge ↔ forge, forge ↔ terraform, terraform ↔ forge, in each mode: whoever holds the
/// lock, the other fails naming them; a SIGTERM'd deploy releases it.
#[test]
fn forge_and_terraform_exclude_each_other_in_each_mode() {
    for mode in MODES {
        let p = LockProject::new(mode, "spin");
        assert_eq!(p.status()["held"], false, "{mode:?}");
        p.terraform_init();

        // forge holds it.
        let (mut holder, id) = p.hold();
        let status = p.status();
        assert_eq!(status["holder"]["ID"], id.as_str(), "{mode:?}");
        assert_eq!(status["holder"]["Operation"], "OperationTypeApply");
        assert_eq!(status["holder"]["Path"], format!("{BUCKET}/{}", p.key));
        assert!(status["forge_run"].is_string(), "{status}");

        // terraform waits for forge: it fails with forge's lock info.
        let plan = p.terraform_plan();
        let shown = text(&plan);
        assert!(!plan.status.success(), "{mode:?}: {shown}");
        assert!(shown.contains("Error acquiring the state lock"), "{shown}");
        assert!(
            shown.contains(&id),
            "{mode:?}: terraform names forge's lock: {shown}"
        );
        assert!(shown.contains("forge run"), "{shown}");

        // A second forge fails at once, naming the first.
        let second = p.forge("deploy").code(1).run();
        assert!(second.stdout.contains("is held by"), "{}", second.stdout);
        assert!(second.stdout.contains(&id), "{}", second.stdout);

        // SIGTERM (a CI server aborting the job) releases it.
        signal(&holder, "-TERM");
        let exit = holder.wait().expect("forge exits");
        assert_eq!(exit.code(), Some(130), "{mode:?}");
        assert_eq!(p.status()["held"], false, "{mode:?}: released on SIGTERM");

        // terraform holds it: forge fails naming terraform's lock.
        let mut apply = p.terraform_apply(6);
        let theirs = p.wait_held();
        assert_eq!(theirs["Operation"], "OperationTypeApply", "{theirs}");
        assert_ne!(theirs["Who"], "", "{theirs}");
        let blocked = p.forge("deploy").code(1).run();
        let theirs_id = theirs["ID"].as_str().expect("ID");
        assert!(
            blocked.stdout.contains(theirs_id),
            "{mode:?}: {}",
            blocked.stdout
        );
        let applied = apply.wait().expect("terraform apply ends");
        assert!(applied.success(), "{mode:?}");
        assert_eq!(p.status()["held"], false, "{mode:?}");
    }
}

/// A forge killed outright leaves its lock; `forge lock status` names the run, a wrong
/// ID is refused, `terraform force-unlock` (or `forge lock force-unlock`) frees it, and a
/// deploy then proceeds. Terraform's own stale lock is freed by forge the same way.
#[test]
fn a_lock_left_by_kill_9_is_named_and_force_unlocked() {
    for (mode, by_terraform) in [
        (Mode::Lockfile, true),
        (Mode::Dynamodb, false),
        (Mode::Both, true),
    ] {
        let p = LockProject::new(mode, "spin");
        let (mut holder, id) = p.hold();
        signal(&holder, "-KILL");
        let _ = holder.wait();
        let status = p.status();
        assert_eq!(status["held"], true, "{mode:?}: kill -9 leaves the lock");
        assert_eq!(status["holder"]["ID"], id.as_str());
        let human = p.forge("lock status").run();
        assert!(human.stdout.contains("forge run:"), "{}", human.stdout);
        assert!(human.stdout.contains(&id), "{}", human.stdout);

        let wrong = p.forge("lock force-unlock not-the-id --yes").code(1).run();
        assert!(
            unwrapped(&wrong.stderr).contains(&id),
            "the holder is shown: {}",
            wrong.stderr
        );
        assert_eq!(p.status()["held"], true);
        let refused = p.forge(&format!("lock force-unlock {id}")).code(2).run();
        assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);

        if by_terraform {
            p.terraform_init();
            let out = p
                .terraform(&["force-unlock", "-force", &id])
                .output()
                .expect("run terraform force-unlock");
            assert!(out.status.success(), "{mode:?}: {}", text(&out));
        } else {
            let out = p.forge(&format!("lock force-unlock {id} --yes")).run();
            assert!(out.stdout.contains("released"), "{}", out.stdout);
        }
        assert_eq!(p.status()["held"], false, "{mode:?}");
    }

    // Terraform killed mid-apply: its lock stays until forge frees it.
    let p = LockProject::new(Mode::Both, "ok");
    p.terraform_init();
    let mut apply = p.terraform_apply(60);
    let theirs = p.wait_held();
    signal(&apply, "-KILL");
    let _ = apply.wait();
    let id = theirs["ID"].as_str().expect("ID").to_owned();
    assert_eq!(p.status()["holder"]["ID"], id.as_str());
    p.forge(&format!("lock force-unlock {id} --yes")).run();
    assert_eq!(p.status()["held"], false);
    let plan = p.terraform_plan();
    assert!(
        plan.status.success(),
        "terraform runs again: {}",
        text(&plan)
    );
    // And forge deploys, taking and giving back the lock.
    let out = p.forge("deploy").run();
    assert!(out.stdout.contains("released"), "{}", out.stdout);
}

/// Every way a locked step can end gives the lock back: a failing plugin, a trap, and
/// `--timeout`.
#[test]
fn every_exit_path_releases_the_lock() {
    for (apply, args, code) in [
        ("panic", "deploy", 1),
        ("trap", "deploy", 1),
        ("spin", "deploy --timeout 2s", 1),
        ("ok", "deploy", 0),
    ] {
        let p = LockProject::new(Mode::Both, apply);
        let out = p.forge(args).code(code).run();
        assert!(
            out.stdout.contains("state lock") && out.stdout.contains("released"),
            "{apply}: {}",
            out.stdout
        );
        assert_eq!(p.status()["held"], false, "{apply}: released");
    }
}

/// `forge lock` on an env without a state lock is a usage error that says what to add.
#[test]
fn lock_commands_need_a_state_block() {
    let out = Project::new().forge("lock status").code(2).run();
    assert!(out.stderr.contains("has no state lock"), "{}", out.stderr);
    assert!(out.stderr.contains("state {"), "{}", out.stderr);
}

/// A true race through the real host and plugin: 20 acquirers on one key at once, 100
/// rounds, in each mode; every round exactly one holds the lock, and the winner's release
/// frees it for the next. Each round is bounded in time.
#[test]
fn twenty_acquirers_one_holder_every_round_in_each_mode() {
    use forge_engine::events::EventSink;
    use forge_engine::executor::Executor;
    use forge_engine::lock::{self, Backend, ForgeInfo, LockAction, LockReply, LockRequest};
    use forge_host::{Builtins, Host, HostConfig, HostExecutor};

    require_moto();
    const ACQUIRERS: usize = 20;
    const ROUNDS: usize = 100;
    let store = tempfile::tempdir().expect("store dir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let clients = forge_clients::Clients::default().with_aws(
        forge_clients::aws::Aws::with_credentials("testing", "testing"),
    );
    let host = Host::new(HostConfig {
        cache_dir: Some(store.path().to_path_buf()),
        ..HostConfig::default()
    })
    .expect("host")
    .with_clients(clients);
    let executor = HostExecutor::new(
        std::sync::Arc::new(host),
        forge_engine::store::Store::open(store.path()).expect("store"),
        Builtins::embedded(),
    );
    for mode in MODES {
        let prefix = unique("forge-race");
        let backend = Backend {
            bucket: BUCKET.into(),
            key: format!("{prefix}/race.tfstate"),
            region: "us-east-1".into(),
            endpoint: Some(format!("http://{MOTO}")),
            lockfile: matches!(mode, Mode::Lockfile | Mode::Both),
            table: matches!(mode, Mode::Dynamodb | Mode::Both).then(|| TABLE.to_owned()),
        };
        let started = Instant::now();
        runtime.block_on(async {
            for round in 0..ROUNDS {
                let mut tasks = tokio::task::JoinSet::new();
                for n in 0..ACQUIRERS {
                    let executor = executor.clone();
                    let backend = backend.clone();
                    tasks.spawn(async move {
                        let forge = ForgeInfo {
                            run: format!("race-{round}-{n}"),
                            commit: None,
                            command: String::new(),
                        };
                        let info =
                            lock::new_info(&backend, lock::OPERATION_APPLY, &forge).expect("info");
                        let request = LockRequest {
                            backend,
                            action: LockAction::Acquire { info: info.clone() },
                            cancel: tokio_util::sync::CancellationToken::new(),
                            events: EventSink::null(),
                        };
                        let reply = executor.state_lock(request).await;
                        (info.id, reply)
                    });
                }
                let round_done = tokio::time::timeout(Duration::from_secs(60), async {
                    let mut winners = Vec::new();
                    while let Some(joined) = tasks.join_next().await {
                        let (id, reply) = joined.expect("acquirer task");
                        match reply {
                            Ok(LockReply::Acquired) => winners.push(id),
                            Ok(LockReply::Held { .. }) => {}
                            other => panic!("{mode:?} round {round}: {other:?}"),
                        }
                    }
                    winners
                })
                .await;
                let winners =
                    round_done.unwrap_or_else(|_| panic!("{mode:?} round {round} took over 60s"));
                assert_eq!(winners.len(), 1, "{mode:?} round {round}: {winners:?}");
                let release = LockRequest {
                    backend: backend.clone(),
                    action: LockAction::Release {
                        id: winners[0].clone(),
                    },
                    cancel: tokio_util::sync::CancellationToken::new(),
                    events: EventSink::null(),
                };
                let released = executor.state_lock(release).await;
                assert!(
                    matches!(released, Ok(LockReply::Released)),
                    "{mode:?} round {round}: {released:?}"
                );
            }
        });
        eprintln!(
            "{mode:?}: {ROUNDS} rounds of {ACQUIRERS} acquirers in {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }
}
