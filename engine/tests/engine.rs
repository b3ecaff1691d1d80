//! Engine tests: real project files in temp dirs, a real store, the [`TestExecutor`].
//! Every caching rule is checked by what the executor was (not) asked to run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use forge_engine::Error;
use forge_engine::events::{Event, EventSink, StepStatus, Summary};
use forge_engine::fingerprint::Change;
use forge_engine::fingerprint::EnvVars;
use forge_engine::model::Phase;
use forge_engine::session::{PlanStatus, RunOptions, Session};
use forge_engine::store::{RunOutcome, Store};
use forge_engine::testing::TestExecutor;
use tempfile::TempDir;

/// `gen` reads `src/`; `compile` needs `gen` and reads an env var; `package` needs
/// `compile` and declares the commit SHA; `docs` is unrelated and reads `docs/`.
const PROJECT: &str = r#"
version 1
project "shop" {
    region "eu-west-1"
    default-env "dev"
}
step "gen" {
    plugin "docker-build"
    input "src/**"
    config {
        flavour "plain"
    }
}
step "compile" {
    plugin "docker-build"
    needs "gen"
    env-var "FORGE_TEST_PROFILE"
}
step "package" {
    plugin "docker-build"
    needs "compile"
    commit-sha #true
}
step "docs" {
    plugin "docker-build"
    input "docs/**"
}
env "dev" {}
"#;

struct Fixture {
    project: TempDir,
    store: TempDir,
    vars: BTreeMap<String, String>,
}

impl Fixture {
    fn new(project_kdl: &str) -> Fixture {
        let fx = Fixture {
            project: TempDir::new().expect("temp project dir"),
            store: TempDir::new().expect("temp store dir"),
            vars: BTreeMap::from([
                ("FORGE_TEST_PROFILE".to_string(), "release".to_string()),
                ("FORGE_COMMIT_SHA".to_string(), "a".repeat(40)),
            ]),
        };
        fx.write("project.kdl", project_kdl);
        fx.write("src/main.rs", "fn main() {}\n");
        fx.write("src/lib.rs", "pub fn lib() {}\n");
        fx.write("docs/index.md", "# shop\n");
        fx
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.project.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn project_file(&self) -> PathBuf {
        self.project.path().join("project.kdl")
    }

    fn store_dir(&self) -> &Path {
        self.store.path()
    }

    fn try_session(&self) -> Result<Session, Error> {
        let mut session = Session::open(&self.project_file(), self.store_dir(), None)?;
        session.env_vars = EnvVars::Fixed(self.vars.clone());
        Ok(session)
    }

    fn session(&self) -> Session {
        self.try_session().expect("project opens")
    }

    async fn run(&self, exec: &Arc<TestExecutor>) -> (Summary, Vec<Event>) {
        self.run_with(exec, options(Phase::Deploy, 4)).await
    }

    async fn run_with(&self, exec: &Arc<TestExecutor>, opts: RunOptions) -> (Summary, Vec<Event>) {
        let (sink, mut rx) = EventSink::channel();
        let summary = self
            .session()
            .run(exec.clone(), opts, sink)
            .await
            .expect("run completes");
        let mut events = Vec::new();
        while let Ok(e) = rx.try_recv() {
            events.push(e);
        }
        (summary, events)
    }
}

fn options(phase: Phase, jobs: usize) -> RunOptions {
    let mut opts = RunOptions::new(phase);
    opts.jobs = jobs;
    opts.command = "forge test".into();
    opts
}

fn finished(events: &[Event], step: &str) -> (StepStatus, Option<String>) {
    events
        .iter()
        .find_map(|e| match e {
            Event::StepFinished {
                step: s,
                status,
                reason,
                ..
            } if s == step => Some((*status, reason.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no StepFinished for `{step}` in {events:?}"))
}

/// The file under `dir` whose name starts with `prefix` (an action entry by its key).
fn find_file(dir: &Path, prefix: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, prefix) {
                return Some(found);
            }
        } else if entry.file_name().to_string_lossy().starts_with(prefix) {
            return Some(path);
        }
    }
    None
}

fn counts(s: &Summary) -> (usize, usize, usize, usize) {
    (s.ran, s.cached, s.failed, s.skipped)
}

#[tokio::test]
async fn unchanged_inputs_are_served_from_the_store() {
    let fx = Fixture::new(PROJECT);
    let exec = Arc::new(TestExecutor::new());
    let (first, events) = fx.run(&exec).await;
    assert_eq!(counts(&first), (4, 0, 0, 0));
    assert_eq!(finished(&events, "gen").1.as_deref(), Some("never run"));
    // `docs` and `gen` are independent: either may start first.
    let calls = exec.calls();
    let at = |id: &str| calls.iter().position(|c| c == id).expect("step ran");
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert!(
        at("gen") < at("compile") && at("compile") < at("package"),
        "{calls:?}"
    );
    at("docs");

    exec.reset_log();
    let (second, events) = fx.run(&exec).await;
    assert_eq!(counts(&second), (0, 4, 0, 0));
    assert!(exec.calls().is_empty(), "executed: {:?}", exec.calls());
    assert_eq!(finished(&events, "package").0, StepStatus::Cached);
    assert!(matches!(events.last(), Some(Event::Summary(_))));
}

#[tokio::test]
async fn a_changed_file_reruns_its_step_and_dependents_only() {
    let fx = Fixture::new(PROJECT);
    let exec = Arc::new(TestExecutor::new());
    fx.run(&exec).await;
    exec.reset_log();

    fx.write("src/lib.rs", "pub fn lib() { /* changed */ }\n");
    let (summary, events) = fx.run(&exec).await;
    assert_eq!(exec.calls(), ["gen", "compile", "package"]);
    assert_eq!(counts(&summary), (3, 1, 0, 0));
    let reason = finished(&events, "gen").1.expect("a reason");
    assert!(reason.contains("src/lib.rs"), "{reason}");
}

#[tokio::test]
async fn a_changed_config_value_reruns_the_step() {
    let fx = Fixture::new(PROJECT);
    let exec = Arc::new(TestExecutor::new());
    fx.run(&exec).await;
    exec.reset_log();

    fx.write(
        "project.kdl",
        &PROJECT.replace("flavour \"plain\"", "flavour \"spicy\""),
    );
    let (_, events) = fx.run(&exec).await;
    assert_eq!(exec.count("gen"), 1);
    assert_eq!(exec.count("docs"), 0);
    let reason = finished(&events, "gen").1.expect("a reason");
    assert!(reason.contains("flavour"), "{reason}");
}

#[tokio::test]
async fn a_changed_env_value_reruns_only_steps_that_declare_it() {
    let mut fx = Fixture::new(PROJECT);
    let exec = Arc::new(TestExecutor::new());
    fx.run(&exec).await;
    exec.reset_log();

    fx.vars.insert("FORGE_TEST_PROFILE".into(), "debug".into());
    fx.run(&exec).await;
    assert_eq!(exec.calls(), ["compile", "package"]);
}

#[tokio::test]
async fn a_new_commit_reruns_only_steps_that_declare_the_sha() {
    let mut fx = Fixture::new(PROJECT);
    let exec = Arc::new(TestExecutor::new());
    fx.run(&exec).await;
    exec.reset_log();

    fx.vars.insert("FORGE_COMMIT_SHA".into(), "b".repeat(40));
    let (summary, events) = fx.run(&exec).await;
    assert_eq!(exec.calls(), ["package"]);
    assert_eq!(counts(&summary), (1, 3, 0, 0));
    let reason = finished(&events, "package").1.expect("a reason");
    assert!(reason.contains("commit"), "{reason}");
}

#[tokio::test]
async fn an_upstream_rerun_with_identical_output_stops_the_cascade() {
    let fx = Fixture::new(PROJECT);
    let exec = Arc::new(TestExecutor::new());
    exec.output_override("gen", serde_json::json!({"digest": "sha256:1234"}));
    fx.run(&exec).await;
    exec.reset_log();

    fx.write("src/main.rs", "fn main() { println!(\"same output\"); }\n");
    let (summary, events) = fx.run(&exec).await;
    assert_eq!(exec.calls(), ["gen"], "gen reruns, compile is cut off");
    assert_eq!(finished(&events, "compile").0, StepStatus::Cached);
    assert_eq!(counts(&summary), (1, 3, 0, 0));
}

#[tokio::test]
async fn a_failure_is_not_cached_and_skips_only_its_dependents() {
    let fx = Fixture::new(PROJECT);
    let exec = Arc::new(TestExecutor::new());
    exec.fail("compile", "compiler exploded");
    let (summary, events) = fx.run(&exec).await;
    assert_eq!(counts(&summary), (2, 0, 1, 1));
    assert_eq!(
        finished(&events, "compile"),
        (StepStatus::Failed, Some("compiler exploded".into()))
    );
    let (status, reason) = finished(&events, "package");
    assert_eq!(status, StepStatus::Skipped);
    assert!(reason.expect("reason").contains("compile"));
    assert_eq!(finished(&events, "docs").0, StepStatus::Ran);

    exec.reset_log();
    let (again, _) = fx.run(&exec).await;
    assert_eq!(exec.calls(), ["compile"], "the failure was not cached");
    assert_eq!(counts(&again), (0, 2, 1, 1));

    exec.clear("compile");
    exec.reset_log();
    let (fixed, _) = fx.run(&exec).await;
    assert_eq!(exec.calls(), ["compile", "package"]);
    assert_eq!(counts(&fixed), (2, 2, 0, 0));
}

/// Four independent steps for the parallelism tests. Their configs differ: steps with
/// identical fingerprints share one cache entry, like any content-addressed store.
const WIDE: &str = r#"
version 1
project "wide" {
    region "eu-west-1"
    default-env "dev"
}
step "a" {
    plugin "docker-build"
    config { name "a"; }
}
step "b" {
    plugin "docker-build"
    config { name "b"; }
}
step "c" {
    plugin "docker-build"
    config { name "c"; }
}
step "d" {
    plugin "docker-build"
    config { name "d"; }
}
env "dev" {}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn independent_steps_run_in_parallel_up_to_jobs() {
    let fx = Fixture::new(WIDE);
    let exec = Arc::new(TestExecutor::new());
    // Each step waits until two run at once: this only finishes if -j 2 really runs two.
    exec.rendezvous(2);
    let (summary, _) = fx.run_with(&exec, options(Phase::Deploy, 2)).await;
    assert_eq!(summary.ran, 4);
    assert_eq!(exec.max_concurrency(), 2, "never more than -j");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_one_runs_steps_one_at_a_time() {
    let fx = Fixture::new(WIDE);
    let exec = Arc::new(TestExecutor::new());
    let (summary, _) = fx.run_with(&exec, options(Phase::Deploy, 1)).await;
    assert_eq!(summary.ran, 4);
    assert_eq!(exec.max_concurrency(), 1);
    assert_eq!(exec.calls(), ["a", "b", "c", "d"], "graph order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_run_leaves_the_store_consistent() {
    let fx = Fixture::new(PROJECT);
    let exec = Arc::new(TestExecutor::new());
    exec.block("compile");
    let opts = options(Phase::Deploy, 4);
    let cancel = opts.cancel.clone();
    let run = {
        let exec = exec.clone();
        let session = fx.session();
        tokio::spawn(async move { session.run(exec, opts, EventSink::null()).await })
    };
    exec.wait_started("compile").await;
    cancel.cancel();
    let summary = run.await.expect("run task").expect("run completes");
    assert!(summary.cancelled);
    assert_eq!(summary.failed, 0);
    assert!(
        summary.skipped >= 2,
        "compile and package skipped: {summary:?}"
    );

    let store = Store::open(fx.store_dir()).expect("store opens");
    let report = store.verify(false).expect("verify runs");
    assert!(report.is_ok(), "{report:?}");
    let runs = store
        .runs(&fx.session().project_key(), "dev")
        .expect("history");
    let last = runs.first().expect("the cancelled run is in the history");
    assert_eq!(last.outcome, RunOutcome::Cancelled);
    let compile = &last.steps["compile"];
    assert_eq!(compile.status, StepStatus::Skipped);
    assert_eq!(
        compile.output, None,
        "no output recorded for the cancelled step"
    );

    // Nothing was recorded for the cancelled step: it runs again.
    exec.clear("compile");
    exec.reset_log();
    let (after, _) = fx.run(&exec).await;
    assert!(exec.calls().contains(&"compile".to_string()));
    assert_eq!(after.failed, 0);
    let explanation = fx
        .session()
        .explain("compile", &TestExecutor::new())
        .expect("explain");
    assert_eq!(explanation.status, PlanStatus::Cached);
}

#[tokio::test]
async fn a_step_past_its_timeout_fails_and_is_not_cached() {
    let fx = Fixture::new(PROJECT);
    let exec = Arc::new(TestExecutor::new());
    exec.block("docs");
    let mut opts = options(Phase::Deploy, 4);
    opts.step_timeout = Some(Duration::from_millis(20));
    let (summary, events) = fx.run_with(&exec, opts).await;
    let (status, reason) = finished(&events, "docs");
    assert_eq!(status, StepStatus::Failed);
    assert!(reason.expect("reason").contains("timed out"));
    assert!(!summary.cancelled);
    assert_eq!(summary.ran, 3, "unrelated steps finished");
}

#[tokio::test]
async fn a_corrupt_store_entry_is_reported_and_rerun() {
    let fx = Fixture::new(PROJECT);
    let exec = Arc::new(TestExecutor::new());
    fx.run(&exec).await;
    exec.reset_log();

    let explanation = fx
        .session()
        .explain("docs", &TestExecutor::new())
        .expect("explain");
    let key = explanation
        .fingerprint
        .expect("docs has a known fingerprint");
    let entry = find_file(fx.store_dir(), &key).expect("the action entry exists");
    let mut bytes = std::fs::read(&entry).expect("entry exists");
    let last = bytes.len() - 2;
    bytes[last] ^= 0x55;
    std::fs::write(&entry, bytes).expect("corrupt it");

    let (summary, events) = fx.run(&exec).await;
    assert_eq!(exec.calls(), ["docs"]);
    assert_eq!(summary.ran, 1);
    assert!(
        events.iter().any(|e| matches!(e, Event::Warning { message } if message.contains("docs") && message.contains("corrupt"))),
        "{events:?}"
    );
}

#[tokio::test]
async fn plan_says_what_would_run_and_why() {
    let fx = Fixture::new(PROJECT);
    let plan = fx
        .session()
        .plan(Phase::Deploy, &TestExecutor::new())
        .expect("plan");
    let status = |plan: &forge_engine::session::Plan, id: &str| {
        plan.steps
            .iter()
            .find(|s| s.step == id)
            .map(|s| s.status.clone())
            .expect("step in plan")
    };
    assert_eq!(status(&plan, "gen"), PlanStatus::NeverRun);
    assert_eq!(
        status(&plan, "compile"),
        PlanStatus::AfterUpstream {
            upstream: vec!["gen".into()]
        }
    );
    assert!(plan.has_work());

    let exec = Arc::new(TestExecutor::new());
    fx.run(&exec).await;
    let plan = fx
        .session()
        .plan(Phase::Deploy, &TestExecutor::new())
        .expect("plan");
    assert!(!plan.has_work(), "{plan:?}");

    fx.write("docs/index.md", "# shop, now documented\n");
    let plan = fx
        .session()
        .plan(Phase::Deploy, &TestExecutor::new())
        .expect("plan");
    assert_eq!(
        status(&plan, "docs"),
        PlanStatus::Changed {
            changes: vec![Change::FileChanged {
                path: "docs/index.md".into()
            }]
        }
    );
    assert_eq!(status(&plan, "gen"), PlanStatus::Cached);
    // A plan runs nothing and records nothing: the same plan again.
    let again = fx
        .session()
        .plan(Phase::Deploy, &TestExecutor::new())
        .expect("plan");
    assert_eq!(status(&again, "docs"), status(&plan, "docs"));
}

#[tokio::test]
async fn explain_names_the_changed_file_and_the_upstream_wait() {
    let fx = Fixture::new(PROJECT);
    let session = fx.session();
    let never = session
        .explain("gen", &TestExecutor::new())
        .expect("explain");
    assert_eq!(never.status, PlanStatus::NeverRun);
    assert!(never.to_string().contains("never run"));

    let exec = Arc::new(TestExecutor::new());
    fx.run(&exec).await;
    let cached = fx
        .session()
        .explain("package", &TestExecutor::new())
        .expect("explain");
    assert_eq!(cached.status, PlanStatus::Cached);
    assert!(cached.to_string().contains("cached"));
    assert!(cached.last_run.is_some());

    fx.write("src/main.rs", "fn main() { /* edited */ }\n");
    let changed = fx
        .session()
        .explain("gen", &TestExecutor::new())
        .expect("explain");
    assert_eq!(
        changed.changes,
        [Change::FileChanged {
            path: "src/main.rs".into()
        }]
    );
    assert!(changed.to_string().contains("src/main.rs"), "{changed}");
    let waiting = fx
        .session()
        .explain("compile", &TestExecutor::new())
        .expect("explain");
    assert_eq!(
        waiting.status,
        PlanStatus::AfterUpstream {
            upstream: vec!["gen".into()]
        }
    );
}

#[tokio::test]
async fn explain_of_an_unknown_step_suggests_one() {
    let fx = Fixture::new(PROJECT);
    let err = fx
        .session()
        .explain("compil", &TestExecutor::new())
        .expect_err("unknown step");
    match err {
        Error::UnknownStep { name, help, .. } => {
            assert_eq!(name, "compil");
            assert!(help.expect("help").contains("`compile`"));
        }
        other => panic!("expected UnknownStep, got {other:?}"),
    }
}

#[test]
fn a_dependency_cycle_is_reported_with_the_cycle() {
    let fx = Fixture::new(&PROJECT.replace(
        "plugin \"docker-build\"\n    input \"src/**\"",
        "plugin \"docker-build\"\n    input \"src/**\"\n    needs \"package\"",
    ));
    let err = fx.try_session().err().expect("cycle");
    let text = err.to_string();
    assert!(text.contains("compile → gen → package → compile"), "{text}");
    assert!(err.is_invalid_input());
}

#[test]
fn an_unknown_need_is_reported_with_a_suggestion() {
    let fx = Fixture::new(&PROJECT.replace("needs \"gen\"", "needs \"gne\""));
    let err = fx.try_session().err().expect("unknown need");
    let Error::Graph(graph) = &err else {
        panic!("expected a graph error, got {err:?}");
    };
    let help = miette::Diagnostic::help(graph.as_ref()).map(|h| h.to_string());
    assert_eq!(help.as_deref(), Some("did you mean `gen`?"));
}

#[test]
fn a_cycle_diagnostic_underlines_every_needs_on_the_cycle() {
    let fx = Fixture::new(&PROJECT.replace(
        "plugin \"docker-build\"\n    input \"src/**\"",
        "plugin \"docker-build\"\n    input \"src/**\"\n    needs \"package\"",
    ));
    let err = fx.try_session().err().expect("cycle");
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, &err)
        .expect("render");
    assert!(out.contains("forge::graph::cycle"), "{out}");
    for label in [
        "`compile` needs `gen`",
        "`gen` needs `package`",
        "`package` needs `compile`",
    ] {
        assert!(out.contains(label), "missing label {label}:\n{out}");
    }
    assert!(
        out.contains("needs \"package\""),
        "source line shown:\n{out}"
    );
    assert!(out.contains("remove one of the underlined"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_sharing_a_store_leave_it_consistent() {
    let fx = Fixture::new(PROJECT);
    let first = Arc::new(TestExecutor::new());
    let second = Arc::new(TestExecutor::new());
    let (a, b) = tokio::join!(fx.run(&first), fx.run(&second));
    // Each step ran at least once between them and every step finished somehow.
    assert_eq!(a.0.failed + b.0.failed, 0);
    assert_eq!(a.0.ran + a.0.cached, 4);
    assert_eq!(b.0.ran + b.0.cached, 4);
    let report = Store::open(fx.store_dir())
        .expect("store")
        .verify(false)
        .expect("verify");
    assert!(report.is_ok(), "{report:?}");
    let exec = Arc::new(TestExecutor::new());
    let (after, _) = fx.run(&exec).await;
    assert_eq!(after.cached, 4, "both runs' results are usable");
}

#[tokio::test]
async fn explain_serializes_to_one_flat_json_object() {
    let fx = Fixture::new(PROJECT);
    let exec = Arc::new(TestExecutor::new());
    fx.run(&exec).await;
    fx.write("src/main.rs", "fn main() { /* v2 */ }\n");
    let json = serde_json::to_string(
        &fx.session()
            .explain("gen", &TestExecutor::new())
            .expect("explain"),
    )
    .expect("serializes");
    assert_eq!(json.matches("\"changes\"").count(), 1, "{json}");
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(value["status"], "changed");
    assert_eq!(value["changes"][0]["field"], "file-changed");
    assert_eq!(value["changes"][0]["path"], "src/main.rs");
    assert_eq!(value["last_run"]["status"], "ran");
    let waiting = serde_json::to_value(
        fx.session()
            .explain("compile", &TestExecutor::new())
            .expect("explain"),
    )
    .expect("serializes");
    assert_eq!(waiting["status"], "after-upstream");
    assert_eq!(waiting["upstream"][0], "gen");
}

#[tokio::test]
async fn explain_names_an_upstream_output_that_changed() {
    let fx = Fixture::new(PROJECT);
    let exec = Arc::new(TestExecutor::new());
    fx.run(&exec).await;

    // Only `gen` (a target) reruns; `compile` now sees a new upstream output.
    fx.write("src/lib.rs", "pub fn lib() -> u8 { 2 }\n");
    exec.reset_log();
    let mut opts = options(Phase::Deploy, 2);
    opts.targets = vec!["gen".into()];
    let (summary, _) = fx.run_with(&exec, opts).await;
    assert_eq!(exec.calls(), ["gen"]);
    assert_eq!(summary.ran, 1);

    let explanation = fx
        .session()
        .explain("compile", &TestExecutor::new())
        .expect("explain");
    let [Change::Upstream { step, old, new }] = explanation.changes.as_slice() else {
        panic!("expected one upstream change, got {explanation:?}");
    };
    assert_eq!(step, "gen");
    assert_ne!(old, new);
    assert!(explanation.to_string().contains("gen"), "{explanation}");
}

#[tokio::test]
async fn an_unknown_target_is_an_error_before_anything_runs() {
    let fx = Fixture::new(PROJECT);
    let exec = Arc::new(TestExecutor::new());
    let mut opts = options(Phase::Deploy, 2);
    opts.targets = vec!["packge".into()];
    let err = fx
        .session()
        .run(exec.clone(), opts, EventSink::null())
        .await
        .expect_err("unknown target");
    assert!(matches!(err, Error::UnknownStep { ref name, .. } if name == "packge"));
    assert!(err.is_invalid_input());
    assert!(exec.calls().is_empty());
}

#[tokio::test]
async fn a_no_op_plan_or_run_does_not_read_run_history() {
    let fx = Fixture::new(PROJECT);
    let exec = Arc::new(TestExecutor::new());
    fx.run(&exec).await;
    // Make the env's history unreadable: a file where its directory was.
    let history = fx.store_dir().join("v2/history");
    let project_dir = std::fs::read_dir(&history)
        .expect("history dir")
        .flatten()
        .next()
        .expect("one project in the history")
        .path();
    let env_dir = project_dir.join("dev");
    std::fs::remove_dir_all(&env_dir).expect("remove env history");
    std::fs::write(&env_dir, "not a directory").expect("write blocker");

    // Nothing misses, so nothing needs the history: both succeed.
    let plan = fx
        .session()
        .plan(Phase::Deploy, &TestExecutor::new())
        .expect("no-op plan");
    assert!(!plan.has_work(), "{plan:?}");
    exec.reset_log();
    let (summary, _) = fx.run(&exec).await;
    assert_eq!(counts(&summary), (0, 4, 0, 0));

    // A step that would run is diffed against its last run: now the history is read,
    // and its error is reported.
    fx.write("docs/index.md", "# shop, changed\n");
    let err = fx
        .session()
        .plan(Phase::Deploy, &TestExecutor::new())
        .expect_err("history is unreadable");
    assert!(
        err.to_string().contains("history") || format!("{err:?}").contains("history"),
        "{err:?}"
    );
}
