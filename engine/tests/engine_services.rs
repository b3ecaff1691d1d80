//! The service sugar end to end: a two-tier project file in a temp dir → the standard step
//! chain → runs against a real store with the test executor. Checks the rules the chain
//! exists for: images rebuild only when their context changes (not on every commit), the
//! commit SHA retags at push time, `.dockerignore`d files change nothing, module `.tf`
//! edits rerun the Terraform render.

use std::collections::BTreeMap;
use std::sync::Arc;

use forge_engine::events::EventSink;
use forge_engine::fingerprint::EnvVars;
use forge_engine::model::Phase;
use forge_engine::session::{RunOptions, Session};
use forge_engine::testing::TestExecutor;
use tempfile::TempDir;

const PROJECT: &str = r#"
version 1
project "shop" {
    region "eu-west-1"
    default-env "dev"
}
registry "ecr" { url "123456789012.dkr.ecr.eu-west-1.amazonaws.com"; }
state {
    s3 bucket="tf-state" key="shop/{env}.tfstate"
    lock "s3-lockfile"
}
service "backend" {
    build { context "backend"; }
    repository "shop/backend"
    port 8080
    load-balancer "internal"
}
service "frontend" {
    build { context "frontend"; }
    repository "shop/frontend"
    port 3000
    load-balancer "public"
    depends-on "backend"
}
module "net" {
    source "modules/net"
    input "cidr" "10.0.0.0/16"
}
env "dev" {}
env "prod" {}
"#;

struct Fixture {
    project: TempDir,
    store: TempDir,
    sha: String,
}

impl Fixture {
    fn new() -> Fixture {
        let fx = Fixture {
            project: TempDir::new().expect("temp project"),
            store: TempDir::new().expect("temp store"),
            sha: "1".repeat(40),
        };
        fx.write("project.kdl", PROJECT);
        for svc in ["backend", "frontend"] {
            fx.write(
                &format!("{svc}/Dockerfile"),
                "FROM scratch\nCOPY app /app\n",
            );
            fx.write(&format!("{svc}/app"), svc);
            fx.write(&format!("{svc}/.dockerignore"), "*.log\n");
        }
        fx.write("modules/net/main.tf", "variable \"cidr\" {}\n");
        fx
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.project.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn session(&self, env: &str) -> Session {
        let mut session = Session::open(
            &self.project.path().join("project.kdl"),
            self.store.path(),
            Some(env),
        )
        .expect("project opens");
        session.env_vars = EnvVars::Fixed(BTreeMap::from([(
            "FORGE_COMMIT_SHA".into(),
            self.sha.clone(),
        )]));
        session
    }

    async fn run(&self, exec: &Arc<TestExecutor>, phase: Phase, env: &str) -> Vec<String> {
        exec.reset_log();
        let summary = self
            .session(env)
            .run(exec.clone(), RunOptions::new(phase), EventSink::null())
            .await
            .expect("run");
        assert_eq!(summary.failed + summary.skipped, 0, "{summary:?}");
        let mut calls = exec.calls();
        calls.sort();
        calls
    }
}

#[test]
fn services_expand_into_the_standard_chain() {
    let fx = Fixture::new();
    let session = fx.session("dev");
    let order: Vec<&str> = session.graph.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        order,
        [
            "docker-build:backend",
            "docker-build:frontend",
            "ecr-push:backend",
            "ecr-push:frontend",
            "terraform-render",
            "terraform-apply",
            "ecs-rollout:backend",
            "ecs-rollout:frontend",
        ]
    );
    assert_eq!(
        session.graph.to_text(),
        "\
build:
  docker-build:backend   (docker-build)
  docker-build:frontend  (docker-build)
  ecr-push:backend       (ecr-push)  ← docker-build:backend
  ecr-push:frontend      (ecr-push)  ← docker-build:frontend
deploy (env dev):
  terraform-render       (terraform-render)  ← ecr-push:backend, ecr-push:frontend
  terraform-apply        (terraform-apply)  ← terraform-render  [state lock]
  ecs-rollout:backend    (ecs-rollout)  ← terraform-apply, ecr-push:backend  [state lock]
  ecs-rollout:frontend   (ecs-rollout)  ← terraform-apply, ecr-push:frontend, ecs-rollout:backend  [state lock]
state lock (env dev): S3 lockfile s3://tf-state/shop/dev.tfstate.tflock
  taken before the first [state lock] step that runs, released after the last
"
    );
    let dot = session.graph.to_dot();
    assert!(dot.contains("\"ecs-rollout:backend\" -> \"ecs-rollout:frontend\";"));
    let json: serde_json::Value =
        serde_json::from_str(&session.graph.to_json()).expect("graph JSON");
    assert_eq!(json["steps"][5]["id"], "terraform-apply");
    assert_eq!(
        json["steps"][5]["config"]["state"]["key"],
        "shop/dev.tfstate"
    );
    assert_eq!(json["steps"][5]["env_scoped"], true);
    assert_eq!(json["steps"][5]["locked"], true);
    assert_eq!(json["lock"]["key"], "shop/dev.tfstate");
}

#[tokio::test]
async fn a_new_commit_retags_images_without_rebuilding_them() {
    let mut fx = Fixture::new();
    let exec = Arc::new(TestExecutor::new());
    let first = fx.run(&exec, Phase::Build, "dev").await;
    assert_eq!(
        first,
        [
            "docker-build:backend",
            "docker-build:frontend",
            "ecr-push:backend",
            "ecr-push:frontend"
        ]
    );

    fx.sha = "2".repeat(40);
    let second = fx.run(&exec, Phase::Build, "dev").await;
    assert_eq!(second, ["ecr-push:backend", "ecr-push:frontend"]);
}

#[tokio::test]
async fn only_the_service_whose_context_changed_rebuilds() {
    let fx = Fixture::new();
    let exec = Arc::new(TestExecutor::new());
    fx.run(&exec, Phase::Build, "dev").await;

    fx.write("backend/app", "backend v2");
    let calls = fx.run(&exec, Phase::Build, "dev").await;
    assert_eq!(calls, ["docker-build:backend", "ecr-push:backend"]);

    fx.write("frontend/debug.log", "ignored by .dockerignore");
    let calls = fx.run(&exec, Phase::Build, "dev").await;
    assert!(calls.is_empty(), "{calls:?}");
}

/// Docker reads the Dockerfile and `.dockerignore` even when `.dockerignore` excludes them
/// (the usual `*` + `!app` allow-list), so editing either must rebuild the image.
#[tokio::test]
async fn dockerfile_and_dockerignore_are_inputs_even_when_excluded() {
    let fx = Fixture::new();
    fx.write("backend/.dockerignore", "*\n!app\n");
    let exec = Arc::new(TestExecutor::new());
    fx.run(&exec, Phase::Build, "dev").await;

    fx.write("backend/Dockerfile", "FROM scratch\nCOPY app /srv/app\n");
    let calls = fx.run(&exec, Phase::Build, "dev").await;
    assert_eq!(calls, ["docker-build:backend", "ecr-push:backend"]);

    fx.write("backend/.dockerignore", "*\n!app\n!README\n");
    let calls = fx.run(&exec, Phase::Build, "dev").await;
    assert_eq!(calls, ["docker-build:backend", "ecr-push:backend"]);

    fx.write("backend/notes.txt", "excluded by the allow-list");
    let calls = fx.run(&exec, Phase::Build, "dev").await;
    assert!(calls.is_empty(), "{calls:?}");
}

/// A built-in plugin is identified by its component hash: a forge whose `docker-build`
/// component changed reruns docker-build steps (and says why), one whose didn't keeps
/// them cached.
#[tokio::test]
async fn a_changed_builtin_component_reruns_its_steps() {
    let fx = Fixture::new();
    let exec = Arc::new(TestExecutor::new());
    let identities = |hash: &str| {
        Arc::new(BTreeMap::from([(
            "docker-build".to_string(),
            format!("blake3:{}", hash.repeat(64)),
        )]))
    };
    let run = |builtins: forge_engine::fingerprint::BuiltinIdentities| {
        let exec = exec.clone();
        let mut session = fx.session("dev");
        session.builtins = builtins;
        async move {
            exec.reset_log();
            session
                .run(
                    exec.clone(),
                    RunOptions::new(Phase::Build),
                    EventSink::null(),
                )
                .await
                .expect("run");
            let mut calls = exec.calls();
            calls.sort();
            calls
        }
    };
    run(identities("a")).await;
    let calls = run(identities("a")).await;
    assert!(calls.is_empty(), "{calls:?}");

    let mut next = fx.session("dev");
    next.builtins = identities("b");
    let why = next
        .explain("docker-build:frontend", &TestExecutor::new())
        .expect("explain")
        .to_string();
    assert!(why.contains("plugin changed"), "{why}");

    let calls = run(identities("b")).await;
    // The images' output (a function of their inputs) changes with the plugin here, so
    // the pushes rerun too.
    assert_eq!(
        calls,
        [
            "docker-build:backend",
            "docker-build:frontend",
            "ecr-push:backend",
            "ecr-push:frontend"
        ]
    );
}

#[tokio::test]
async fn deploy_runs_the_whole_chain_per_env_and_module_edits_rerender() {
    let fx = Fixture::new();
    let exec = Arc::new(TestExecutor::new());
    assert_eq!(fx.run(&exec, Phase::Deploy, "dev").await.len(), 8);
    assert!(fx.run(&exec, Phase::Deploy, "dev").await.is_empty());

    // Build steps are shared between envs; deploy steps are env-scoped.
    let prod = fx.run(&exec, Phase::Deploy, "prod").await;
    assert_eq!(prod.len(), 4, "{prod:?}");
    assert!(prod.iter().all(|s| !s.starts_with("docker-build")));

    fx.write(
        "modules/net/main.tf",
        "variable \"cidr\" { default = \"10.0.0.0/16\" }\n",
    );
    let calls = fx.run(&exec, Phase::Deploy, "dev").await;
    assert!(calls.contains(&"terraform-render".to_string()), "{calls:?}");
    // The test executor's output follows its inputs, so everything downstream reruns too.
    assert_eq!(calls.len(), 4, "{calls:?}");
}

/// The rendered root module names module sources by path only, so editing a module
/// renders byte-identical files; `terraform-apply` must still rerun, because Terraform
/// reads the module sources when it applies.
#[tokio::test]
async fn a_module_edit_reapplies_even_when_the_render_output_is_unchanged() {
    let fx = Fixture::new();
    let exec = Arc::new(TestExecutor::new());
    exec.output_override(
        "terraform-render",
        serde_json::json!({"files": {"main.tf": "same"}}),
    );
    fx.run(&exec, Phase::Deploy, "dev").await;

    fx.write(
        "modules/net/main.tf",
        "variable \"cidr\" { default = \"10.1.0.0/16\" }\n",
    );
    let calls = fx.run(&exec, Phase::Deploy, "dev").await;
    assert!(calls.contains(&"terraform-render".to_string()), "{calls:?}");
    assert!(calls.contains(&"terraform-apply".to_string()), "{calls:?}");
}

/// Records the env each step was handed.
#[derive(Default)]
struct EnvRecorder(std::sync::Mutex<Vec<(String, String)>>);

impl forge_engine::executor::Executor for EnvRecorder {
    async fn run(
        &self,
        request: forge_engine::executor::StepRequest,
    ) -> Result<forge_engine::executor::StepOutput, forge_engine::executor::StepError> {
        let env = request.env.clone();
        self.0
            .lock()
            .expect("not poisoned")
            .push((request.step.id.clone(), env.clone()));
        Ok(forge_engine::executor::StepOutput::new(
            serde_json::json!({ "step": request.step.id, "env": env }),
        ))
    }

    async fn state_lock(
        &self,
        request: forge_engine::lock::LockRequest,
    ) -> Result<forge_engine::lock::LockReply, forge_engine::executor::StepError> {
        use forge_engine::lock::{LockAction, LockReply};
        Ok(match request.action {
            LockAction::Acquire { .. } => LockReply::Acquired,
            LockAction::Release { .. } => LockReply::Released,
            LockAction::Status => LockReply::Free,
        })
    }
}

/// A build-phase result is shared by every env (its fingerprint has no env), so its plugin
/// is not told the env: a result that said "dev" must never be reused for prod. Deploy
/// steps are env-scoped and see it.
/// A `ToolVersions` whose answer the test sets, counting the questions.
struct Versions {
    answer: std::sync::Mutex<Result<String, String>>,
    asked: std::sync::atomic::AtomicUsize,
}

impl forge_engine::fingerprint::ToolVersions for Versions {
    fn version(&self, tool: forge_engine::fingerprint::Tool) -> Result<String, String> {
        assert_eq!(tool, forge_engine::fingerprint::Tool::Terraform);
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.answer.lock().expect("not poisoned").clone()
    }
}

/// The Terraform version is part of the fingerprint of the step that runs it (and only
/// of that one): a new Terraform reapplies, saying so; no Terraform at all is a clear
/// error, not a silent cache hit.
#[tokio::test]
async fn a_new_terraform_reapplies_and_a_missing_one_is_named() {
    let fx = Fixture::new();
    let exec = Arc::new(TestExecutor::new());
    let versions = Arc::new(Versions {
        answer: std::sync::Mutex::new(Ok("1.11.3".into())),
        asked: Default::default(),
    });
    let session = |fx: &Fixture| {
        let mut session = fx.session("dev");
        session.tools = Some(versions.clone());
        session
    };
    let deploy = |session: Session| {
        let exec = exec.clone();
        async move {
            exec.reset_log();
            let (sink, mut rx) = EventSink::channel();
            let summary = session
                .run(exec.clone(), RunOptions::new(Phase::Deploy), sink)
                .await
                .expect("run");
            let mut finished = BTreeMap::new();
            while let Ok(e) = rx.try_recv() {
                if let forge_engine::events::Event::StepFinished { step, reason, .. } = e {
                    finished.insert(step, reason);
                }
            }
            (summary, exec.calls(), finished)
        }
    };
    let (summary, _, _) = deploy(session(&fx)).await;
    assert_eq!(summary.failed, 0, "{summary:?}");
    assert_eq!(
        versions.asked.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "asked once per command, for terraform-apply only"
    );
    let (summary, calls, _) = deploy(session(&fx)).await;
    assert_eq!((summary.ran, summary.cached), (0, 8), "{calls:?}");

    *versions.answer.lock().expect("not poisoned") = Ok("1.11.4".into());
    let (summary, calls, finished) = deploy(session(&fx)).await;
    // (The rollouts follow because this executor's output is a function of the whole
    // fingerprint; a real apply that finds nothing to change outputs the same.)
    assert_eq!(calls[0], "terraform-apply", "{summary:?}");
    assert_eq!(summary.ran, 3, "the apply and the two rollouts: {calls:?}");
    assert_eq!(
        finished["terraform-apply"].as_deref(),
        Some("terraform changed (1.11.3 → 1.11.4)")
    );
    let explained = session(&fx)
        .explain("terraform-apply", &TestExecutor::new())
        .expect("explain");
    assert_eq!(explained.status, forge_engine::session::PlanStatus::Cached);

    *versions.answer.lock().expect("not poisoned") =
        Err("`terraform` is not on PATH; install Terraform 1.10 or newer".into());
    let (summary, calls, finished) = deploy(session(&fx)).await;
    assert_eq!(summary.failed, 1, "{summary:?}");
    assert!(calls.is_empty(), "{calls:?}");
    let reason = finished["terraform-apply"].as_deref().expect("a reason");
    assert!(
        reason.contains(
            "runs terraform, whose version forge cannot tell: `terraform` is not on PATH"
        ),
        "{reason}"
    );
    let err = session(&fx)
        .plan(Phase::Deploy, &TestExecutor::new())
        .expect_err("plan needs the version too");
    assert!(err.to_string().contains("not on PATH"), "{err}");
}

#[tokio::test]
async fn only_env_scoped_steps_are_told_the_env() {
    let fx = Fixture::new();
    let exec = Arc::new(EnvRecorder::default());
    fx.session("dev")
        .run(
            exec.clone(),
            RunOptions::new(Phase::Deploy),
            EventSink::null(),
        )
        .await
        .expect("run");
    let seen = exec.0.lock().expect("not poisoned").clone();
    for (step, env) in &seen {
        let deploy = !(step.starts_with("docker-build:") || step.starts_with("ecr-push:"));
        let expected = if deploy { "dev" } else { "" };
        assert_eq!(env, expected, "{step} was told env {env:?}");
    }
    assert_eq!(seen.len(), 8, "{seen:?}");
}

/// Fails every step with a message and a help line, as the plugin host does.
struct FailsWithHelp;

impl forge_engine::executor::Executor for FailsWithHelp {
    async fn run(
        &self,
        _: forge_engine::executor::StepRequest,
    ) -> Result<forge_engine::executor::StepOutput, forge_engine::executor::StepError> {
        Err(forge_engine::executor::StepError::Failed {
            message: "plugin `x` imports `secrets`, which its step is not granted".into(),
            help: Some("add the line `grant \"secrets\"` inside `plugin \"x\" { ... }`".into()),
        })
    }
}

/// A failure's help line (how to fix it) reaches the step's reported reason.
#[tokio::test]
async fn a_failed_steps_help_is_part_of_its_reason() {
    let fx = Fixture::new();
    let (sink, mut events) = EventSink::channel();
    fx.session("dev")
        .run(Arc::new(FailsWithHelp), RunOptions::new(Phase::Build), sink)
        .await
        .expect("run");
    let mut reasons = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let forge_engine::events::Event::StepFinished {
            status: forge_engine::events::StepStatus::Failed,
            reason: Some(reason),
            ..
        } = event
        {
            reasons.push(reason);
        }
    }
    assert!(!reasons.is_empty());
    for reason in reasons {
        assert!(
            reason.contains("help: add the line `grant \"secrets\"`"),
            "{reason}"
        );
    }
}

/// A module input that reads a service's own setting (`(ref)"service.backend.cpu"`) or a
/// var is resolved into the render step's config, so changing the setting re-renders the
/// Terraform instead of reusing the render made for the old value.
#[tokio::test]
async fn a_service_setting_a_module_input_reads_reruns_the_render() {
    let fx = Fixture::new();
    let with_refs =
        |cpu: u32, cidr: &str| {
            PROJECT
            .replace(
                "port 8080\n",
                &format!("port 8080\n    cpu {cpu}\n    memory 2048\n"),
            )
            .replace(
                "input \"cidr\" \"10.0.0.0/16\"",
                "input \"cidr\" (ref)\"var.cidr\"\n    input \"size\" (ref)\"service.backend.cpu\"",
            )
            .replace("env \"dev\" {}", &format!("var \"cidr\" \"{cidr}\"\nenv \"dev\" {{}}"))
        };
    fx.write(
        "modules/net/main.tf",
        "variable \"cidr\" {}\nvariable \"size\" {}\n",
    );
    fx.write("project.kdl", &with_refs(512, "10.0.0.0/16"));
    let exec = Arc::new(TestExecutor::new());
    fx.run(&exec, Phase::Deploy, "dev").await;

    fx.write("project.kdl", &with_refs(1024, "10.0.0.0/16"));
    let calls = fx.run(&exec, Phase::Deploy, "dev").await;
    assert!(calls.contains(&"terraform-render".to_string()), "{calls:?}");
    let render = fx.session("dev");
    let render = render
        .graph
        .steps
        .iter()
        .find(|s| s.id == "terraform-render")
        .expect("render step");
    let inputs = &render.config.canonical_json();
    assert!(inputs.contains(r#""size":1024"#), "{inputs}");

    fx.write("project.kdl", &with_refs(1024, "10.9.0.0/16"));
    let calls = fx.run(&exec, Phase::Deploy, "dev").await;
    assert!(calls.contains(&"terraform-render".to_string()), "{calls:?}");
}

/// The state lock as a scope, with the test executor's lock table (the real plugin and
/// S3/DynamoDB are tested through the host and the CLI).
mod state_lock {
    use super::*;
    use forge_engine::events::{Event, LockChange, Summary};
    use forge_engine::executor::{Executor, StepError, StepOutput, StepRequest};
    use forge_engine::lock::{self, ForgeInfo, LockInfo};
    use forge_engine::session::PlanStatus;

    const PATH: &str = "tf-state/shop/dev.tfstate";

    async fn deploy(
        fx: &Fixture,
        exec: &Arc<TestExecutor>,
        options: RunOptions,
    ) -> (Summary, Vec<Event>) {
        exec.reset_log();
        run_with(fx, exec, options).await
    }

    /// A run of env `dev` with any executor, and the events it sent.
    async fn run_with<E: Executor>(
        fx: &Fixture,
        exec: &Arc<E>,
        options: RunOptions,
    ) -> (Summary, Vec<Event>) {
        let (sink, mut rx) = EventSink::channel();
        let summary = fx
            .session("dev")
            .run(exec.clone(), options, sink)
            .await
            .expect("run");
        let mut events = Vec::new();
        while let Ok(e) = rx.try_recv() {
            events.push(e);
        }
        (summary, events)
    }

    fn changes(events: &[Event]) -> Vec<&'static str> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::StateLock { change, .. } => Some(match change {
                    LockChange::Acquired { .. } => "acquired",
                    LockChange::Waiting { .. } => "waiting",
                    LockChange::Released { .. } => "released",
                    LockChange::NotReleased { .. } => "not-released",
                }),
                _ => None,
            })
            .collect()
    }

    fn someone_else() -> LockInfo {
        let backend = Fixture::new()
            .session("dev")
            .graph
            .lock
            .clone()
            .expect("lock");
        let mut info = lock::new_info(&backend.backend, "OperationTypePlan", &ForgeInfo::default())
            .expect("info");
        info.info = String::new();
        info.who = "alice@laptop".into();
        info.version = "1.11.4".into();
        info
    }

    #[tokio::test]
    async fn a_deploy_holds_the_lock_around_the_locked_steps_and_a_cached_one_takes_none() {
        let fx = Fixture::new();
        let exec = Arc::new(TestExecutor::new());
        let (summary, events) = deploy(&fx, &exec, RunOptions::new(Phase::Deploy)).await;
        assert_eq!(summary.failed, 0, "{summary:?}");
        assert_eq!(exec.lock_calls(), ["acquire", "release"]);
        assert_eq!(changes(&events), ["acquired", "released"]);
        assert!(exec.locks().is_empty(), "released");
        let locked: Vec<String> = exec.ran_locked().into_iter().collect();
        assert_eq!(
            locked,
            [
                "ecs-rollout:backend",
                "ecs-rollout:frontend",
                "terraform-apply"
            ]
        );
        // The lock is taken right before the first locked step, after everything else.
        let acquired = events
            .iter()
            .position(|e| matches!(e, Event::StateLock { .. }))
            .expect("acquired");
        let render_done = events
            .iter()
            .position(
                |e| matches!(e, Event::StepFinished { step, .. } if step == "terraform-render"),
            )
            .expect("render finished");
        assert!(render_done < acquired);
        let lock_info = events.iter().find_map(|e| match e {
            Event::StateLock {
                change: LockChange::Acquired { lock, .. },
                ..
            } => Some(lock.clone()),
            _ => None,
        });
        let lock_info = lock_info.expect("lock info");
        assert_eq!(lock_info.path, PATH);
        assert_eq!(lock_info.operation, "OperationTypeApply");
        let forge = lock_info.forge().expect("forge's info");
        assert_eq!(forge.commit.as_deref(), Some(fx.sha.as_str()));

        let (summary, events) = deploy(&fx, &exec, RunOptions::new(Phase::Deploy)).await;
        assert_eq!(summary.cached, 8, "{summary:?}");
        assert!(
            exec.lock_calls().is_empty(),
            "a cached deploy takes no lock"
        );
        assert!(changes(&events).is_empty());
    }

    fn reason_of<'a>(events: &'a [Event], id: &str) -> Option<&'a str> {
        events.iter().find_map(|e| match e {
            Event::StepFinished { step, reason, .. } if step == id => reason.as_deref(),
            _ => None,
        })
    }

    #[tokio::test]
    async fn a_cached_apply_is_served_only_after_its_recheck_and_reruns_when_the_state_moved() {
        let fx = Fixture::new();
        let exec = Arc::new(TestExecutor::new());
        let (summary, _) = deploy(&fx, &exec, RunOptions::new(Phase::Deploy)).await;
        assert_eq!(summary.failed, 0, "{summary:?}");
        assert!(exec.rechecks().is_empty(), "nothing was cached to recheck");

        // Cached: one recheck, of the apply only (the rest describe nothing outside).
        let (summary, _) = deploy(&fx, &exec, RunOptions::new(Phase::Deploy)).await;
        assert_eq!(summary.cached, 8, "{summary:?}");
        assert_eq!(exec.rechecks(), ["terraform-apply"]);
        assert!(exec.lock_calls().is_empty());

        // Someone applied by hand: the apply reruns, inside the lock, saying why; its
        // output is the same, so the rollouts after it stay cached.
        exec.stale("terraform-apply", "ETag \"a\" → \"b\"");
        let plan = fx.session("dev").plan(Phase::Deploy, &*exec).expect("plan");
        let planned = plan
            .steps
            .iter()
            .find(|s| s.step == "terraform-apply")
            .expect("apply planned");
        let PlanStatus::Stale { reason } = &planned.status else {
            panic!("{planned:?}");
        };
        assert!(
            reason.starts_with("the state changed outside this forge since run "),
            "{reason}"
        );
        assert!(reason.ends_with(": ETag \"a\" → \"b\""), "{reason}");
        assert!(plan.lock.as_ref().is_some_and(|l| l.taken), "{plan:?}");
        assert!(plan.has_work());

        let (summary, events) = deploy(&fx, &exec, RunOptions::new(Phase::Deploy)).await;
        assert_eq!((summary.ran, summary.cached), (1, 7), "{summary:?}");
        assert_eq!(exec.calls(), ["terraform-apply"]);
        assert_eq!(exec.lock_calls(), ["acquire", "release"]);
        let reason = reason_of(&events, "terraform-apply").expect("a reason");
        assert!(reason.contains("outside this forge since run"), "{reason}");

        // Rechecked again next time; fresh now, so served.
        exec.clear("terraform-apply");
        let (summary, _) = deploy(&fx, &exec, RunOptions::new(Phase::Deploy)).await;
        assert_eq!(summary.cached, 8, "{summary:?}");
        assert_eq!(exec.rechecks(), ["terraform-apply"]);
    }

    #[tokio::test]
    async fn an_executor_that_cannot_recheck_reruns_the_apply() {
        /// Runs like the test executor, but has no recheck (the trait's default).
        struct NoRecheck(TestExecutor);
        impl Executor for NoRecheck {
            async fn run(&self, request: StepRequest) -> Result<StepOutput, StepError> {
                self.0.run(request).await
            }
            async fn state_lock(
                &self,
                request: forge_engine::lock::LockRequest,
            ) -> Result<forge_engine::lock::LockReply, StepError> {
                self.0.state_lock(request).await
            }
        }
        let fx = Fixture::new();
        let exec = Arc::new(NoRecheck(TestExecutor::new()));
        run_with(&fx, &exec, RunOptions::new(Phase::Deploy)).await;
        let (summary, events) = run_with(&fx, &exec, RunOptions::new(Phase::Deploy)).await;
        assert_eq!((summary.ran, summary.cached), (1, 7), "{summary:?}");
        let reason = reason_of(&events, "terraform-apply").expect("a reason");
        assert!(
            reason.starts_with("could not check the state object s3://tf-state/shop/dev.tfstate"),
            "{reason}"
        );
    }

    #[tokio::test]
    async fn plan_with_terraform_runs_only_pure_steps_and_waits_for_pushes() {
        use forge_contract::terraform::PlanSummary;
        use forge_engine::session::InfraPlan;
        let fx = Fixture::new();
        let exec = Arc::new(TestExecutor::new());
        let plan = |exec: &Arc<TestExecutor>| {
            let session = fx.session("dev");
            let exec = exec.clone();
            async move {
                exec.reset_log();
                session
                    .terraform_plan(
                        &*exec,
                        std::time::Duration::ZERO,
                        &tokio_util::sync::CancellationToken::new(),
                        &EventSink::null(),
                    )
                    .await
                    .expect("plan")
                    .expect("the env has modules")
            }
        };
        // Nothing built: the images must be pushed first; no step ran.
        let infra = plan(&exec).await;
        assert_eq!(
            infra,
            InfraPlan::AfterUpstream {
                upstream: vec![
                    "docker-build:backend".into(),
                    "docker-build:frontend".into()
                ]
            }
        );
        assert!(exec.calls().is_empty(), "{:?}", exec.calls());
        assert!(exec.terraform_plans().is_empty());

        // Built and pushed: the render (pure) runs, then the apply plans, read-only.
        deploy(&fx, &exec, RunOptions::new(Phase::Build)).await;
        let changes = PlanSummary {
            add: 2,
            change: 0,
            destroy: 0,
            changes: true,
        };
        exec.plan_summary(changes);
        let infra = plan(&exec).await;
        assert_eq!(infra, InfraPlan::Planned { summary: changes });
        assert!(infra.has_changes());
        assert_eq!(exec.calls(), ["terraform-render"]);
        assert_eq!(
            exec.terraform_plans(),
            [(
                "terraform-apply".to_owned(),
                vec!["terraform-render".to_owned()]
            )]
        );
        assert!(exec.lock_calls().is_empty(), "Terraform takes its own lock");

        // The render it ran was kept: a deploy finds it cached.
        let (summary, _) = deploy(&fx, &exec, RunOptions::new(Phase::Deploy)).await;
        assert!(
            !exec.calls().iter().any(|c| c == "terraform-render"),
            "{summary:?}"
        );
    }

    #[tokio::test]
    async fn a_build_never_takes_the_lock() {
        let fx = Fixture::new();
        let exec = Arc::new(TestExecutor::new());
        let (summary, _) = deploy(&fx, &exec, RunOptions::new(Phase::Build)).await;
        assert_eq!(summary.ran, 4);
        assert!(exec.lock_calls().is_empty());
    }

    #[tokio::test]
    async fn a_failed_locked_step_still_releases_the_lock() {
        let fx = Fixture::new();
        let exec = Arc::new(TestExecutor::new());
        exec.fail("terraform-apply", "apply failed");
        let (summary, events) = deploy(&fx, &exec, RunOptions::new(Phase::Deploy)).await;
        assert_eq!(summary.failed, 1, "{summary:?}");
        assert_eq!(summary.skipped, 2, "the rollouts");
        assert_eq!(changes(&events), ["acquired", "released"]);
        assert!(exec.locks().is_empty());
        assert_eq!(summary.lock_left, None);
    }

    #[tokio::test]
    async fn cancelling_inside_the_lock_releases_it() {
        let fx = Fixture::new();
        let exec = Arc::new(TestExecutor::new());
        exec.block("terraform-apply");
        let options = RunOptions::new(Phase::Deploy);
        let cancel = options.cancel.clone();
        let waiter = exec.clone();
        tokio::spawn(async move {
            waiter.wait_started("terraform-apply").await;
            cancel.cancel();
        });
        let (summary, events) = deploy(&fx, &exec, options).await;
        assert!(summary.cancelled);
        assert_eq!(changes(&events), ["acquired", "released"]);
        assert!(exec.locks().is_empty());
    }

    #[tokio::test]
    async fn a_step_timeout_inside_the_lock_releases_it() {
        let fx = Fixture::new();
        let exec = Arc::new(TestExecutor::new());
        exec.block("ecs-rollout:backend");
        let mut options = RunOptions::new(Phase::Deploy);
        options.step_timeout = Some(std::time::Duration::from_millis(200));
        let (summary, events) = deploy(&fx, &exec, options).await;
        assert_eq!(summary.failed, 1, "{summary:?}");
        assert_eq!(changes(&events), ["acquired", "released"]);
        assert!(exec.locks().is_empty());
    }

    #[tokio::test]
    async fn a_lock_held_elsewhere_fails_the_deploy_naming_the_holder() {
        let fx = Fixture::new();
        let exec = Arc::new(TestExecutor::new());
        let holder = someone_else();
        exec.hold_lock(PATH, holder.clone());
        let (sink, mut rx) = EventSink::channel();
        let summary = fx
            .session("dev")
            .run(exec.clone(), RunOptions::new(Phase::Deploy), sink)
            .await
            .expect("run");
        assert_eq!(summary.failed, 1, "{summary:?}");
        assert!(exec.ran_locked().is_empty());
        assert_eq!(exec.locks().get(PATH), Some(&holder), "theirs is untouched");
        let mut reason = None;
        while let Ok(e) = rx.try_recv() {
            if let Event::StepFinished {
                step,
                reason: Some(r),
                ..
            } = e
                && step == "terraform-apply"
            {
                reason = Some(r);
            }
        }
        let reason = reason.expect("apply's failure");
        assert!(reason.contains("held by alice@laptop"), "{reason}");
        assert!(reason.contains(&holder.id), "{reason}");
        assert!(reason.contains("forge lock force-unlock"), "{reason}");
        // Nothing was taken, so nothing is released; the build steps still ran.
        assert_eq!(exec.lock_calls(), ["acquire"]);
        assert_eq!(summary.ran, 5);
    }

    #[tokio::test]
    async fn with_a_lock_timeout_the_deploy_waits_for_the_holder() {
        let fx = Fixture::new();
        let exec = Arc::new(TestExecutor::new());
        exec.hold_lock(PATH, someone_else());
        let mut options = RunOptions::new(Phase::Deploy);
        options.lock_timeout = std::time::Duration::from_secs(30);
        let releaser = exec.clone();
        tokio::spawn(async move {
            // Released by its holder while forge waits.
            while releaser.lock_calls().is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            releaser.release_lock(PATH);
        });
        let (summary, events) = deploy(&fx, &exec, options).await;
        assert_eq!(summary.failed, 0, "{summary:?}");
        assert_eq!(changes(&events), ["waiting", "acquired", "released"]);
        assert_eq!(exec.lock_calls(), ["acquire", "acquire", "release"]);
    }

    #[tokio::test]
    async fn status_and_force_unlock_check_the_id() {
        let fx = Fixture::new();
        let exec = TestExecutor::new();
        let session = fx.session("dev");
        assert_eq!(
            session
                .lock_status(&exec, EventSink::null())
                .await
                .expect("status"),
            None
        );
        let holder = someone_else();
        exec.hold_lock(PATH, holder.clone());
        assert_eq!(
            session
                .lock_status(&exec, EventSink::null())
                .await
                .expect("status"),
            Some(holder.clone())
        );
        let wrong = session
            .force_unlock(&exec, "not-the-id", EventSink::null())
            .await
            .expect_err("a wrong id is refused");
        let text = wrong.to_string();
        assert!(
            text.contains("alice@laptop") && text.contains(&holder.id),
            "{text}"
        );
        assert!(!wrong.is_invalid_input());
        assert!(
            session
                .force_unlock(&exec, &holder.id, EventSink::null())
                .await
                .expect("released")
        );
        assert!(exec.locks().is_empty());
        assert!(
            !session
                .force_unlock(&exec, &holder.id, EventSink::null())
                .await
                .expect("free")
        );
    }
}
