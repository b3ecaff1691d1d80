//! Running fixture plugins: success, and every way a plugin can fail or be refused.

use std::sync::Arc;
use std::time::Duration;

use forge_engine::events::Event;
use forge_engine::executor::{Executor, StepError};
use forge_engine::model::{ConfigValue, PluginSource};
use forge_engine::store::Store;
use forge_host::{Builtins, GrantSet, Host, HostConfig, HostError, HostExecutor, Limits, RunError};

use crate::fixtures::{Project, code, component};

fn host() -> Host {
    Host::new(HostConfig::default()).expect("host")
}

fn host_error(result: Result<forge_host::RunResult, RunError>) -> HostError {
    match result {
        Err(RunError::Host(e)) => e,
        Err(RunError::Plugin(f)) => panic!("expected a host error, the plugin failed: {f:?}"),
        Ok(r) => panic!("expected a host error, the run succeeded: {}", r.manifest),
    }
}

fn manifest(result: Result<forge_host::RunResult, RunError>) -> serde_json::Value {
    match result {
        Ok(r) => serde_json::from_str(&r.manifest).expect("manifest is JSON"),
        Err(e) => panic!("run failed: {e:?}"),
    }
}

fn executor(project: &Project, builtins: Builtins) -> HostExecutor {
    let store = Store::open(project.store_dir()).expect("store");
    let host = Host::new(HostConfig {
        cache_dir: Some(project.store_dir()),
        ..HostConfig::default()
    })
    .expect("host");
    HostExecutor::new(Arc::new(host), store, builtins)
}

fn builtin(name: &str) -> Builtins {
    Builtins::from_map([(format!("fixture-{name}"), component(name))].into())
}

fn config(json: serde_json::Value) -> ConfigValue {
    serde_json::from_value(json).expect("config")
}

#[tokio::test]
async fn ok_reads_declared_inputs_writes_an_output_and_returns_its_manifest() {
    let project = Project::new();
    project
        .write("src/a.txt", "alpha")
        .write("src/b.txt", "beta!");
    let exec = executor(&project, builtin("ok"));
    let (request, mut events) = project.request(
        "fixture-ok",
        PluginSource::Builtin,
        &["src/a.txt", "src/b.txt"],
        &["files.read"],
        config(serde_json::json!({"replicas": 2})),
    );
    let output = exec.run(request).await.expect("ok runs");
    let m = &output.manifest;
    assert_eq!(m["step"], "render");
    assert_eq!(m["env"], "dev");
    assert_eq!(m["config"], serde_json::json!({"replicas": 2}));
    assert_eq!(m["upstream"], serde_json::json!(["up"]));
    let files = m["files"].as_array().expect("files");
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["path"], "src/a.txt");
    assert_eq!(files[0]["size"], 5);
    assert_eq!(files[0]["blake3"], blake3::hash(b"alpha").to_hex().as_str());
    assert_eq!(files[1]["blake3"], blake3::hash(b"beta!").to_hex().as_str());

    // The output file is one of the step's output files (not a manifest key), stored in
    // the store under its hash.
    assert_eq!(
        m.as_object().map(|o| o.contains_key("$outputs")),
        Some(false)
    );
    let file = &output.files["summary.txt"];
    let hash = file.hash.as_str();
    assert_eq!(m["summary_hash"], hash);
    let store = Store::open(project.store_dir()).expect("store");
    let blob = store
        .get_blob(hash)
        .expect("read blob")
        .expect("blob stored");
    let summary = String::from_utf8(blob).expect("utf8");
    assert!(
        summary.contains("src/a.txt") && summary.contains("src/b.txt"),
        "{summary}"
    );

    let logs = events.logs();
    assert!(logs.iter().any(|l| l == "read 2 files"), "{logs:?}");
}

#[tokio::test]
async fn a_trap_is_named_with_where_it_happened_and_the_host_keeps_working() {
    let project = Project::new();
    let host = host();
    let (spec, _) = project.spec(&[], &[], "null");
    let err = host_error(host.run(&code("trap"), spec).await);
    let HostError::Trap { summary, .. } = &err else {
        panic!("expected a trap, got {err:?}");
    };
    assert!(summary.contains("unreachable"), "{summary}");
    assert_eq!(
        miette::Diagnostic::code(&err)
            .map(|c| c.to_string())
            .as_deref(),
        Some("forge::host::trap")
    );

    // The same host runs the next step normally: nothing leaked from the trapped store.
    project.write("a.txt", "a");
    let (spec, _) = project.spec(&["a.txt"], &["files.read"], "{}");
    let m = manifest(host.run(&code("ok"), spec).await);
    assert_eq!(m["files"][0]["path"], "a.txt");
}

#[tokio::test]
async fn a_panic_fails_the_step_with_the_plugins_message() {
    let project = Project::new();
    let (spec, _) = project.spec(&[], &[], "null");
    let err = host_error(host().run(&code("panic"), spec).await);
    let HostError::Panic { message, .. } = &err else {
        panic!("expected a panic, got {err:?}");
    };
    assert!(
        message.contains("fixture-panic: the flux capacitor is out of plutonium"),
        "{message}"
    );
    assert!(err.to_string().contains("flux capacitor"), "{err}");
}

#[tokio::test]
async fn an_infinite_loop_is_stopped_by_the_deadline() {
    let project = Project::new();
    let (mut spec, _) = project.spec(&[], &[], "null");
    spec.limits = Some(Limits {
        timeout: Duration::from_millis(300),
        ..Limits::default()
    });
    let err = host_error(host().run(&code("spin"), spec).await);
    assert!(
        matches!(err, HostError::Deadline { limit, .. } if limit == Duration::from_millis(300)),
        "{err:?}"
    );
    assert!(err.help_text().expect("help").contains("--timeout"));
}

#[tokio::test]
async fn a_memory_bomb_is_stopped_by_the_cap() {
    let project = Project::new();
    let (mut spec, mut events) = project.spec(&[], &[], "null");
    spec.limits = Some(Limits {
        memory: 64 << 20,
        ..Limits::default()
    });
    let err = host_error(host().run(&code("membomb"), spec).await);
    assert!(
        matches!(err, HostError::MemoryLimit { limit, .. } if limit == 64 << 20),
        "{err:?}"
    );
    assert!(err.to_string().contains("64 MiB"), "{err}");
    // It did run (and was stopped), rather than being refused.
    assert!(events.logs().iter().any(|l| l == "allocating"));
}

#[tokio::test]
async fn reads_outside_the_declared_inputs_are_denied() {
    let project = Project::new();
    project
        .write("declared.txt", "yes")
        .write("secret.txt", "no");
    std::fs::write(project.dir.path().join("outside.txt"), "outside").expect("write");
    let host = host();
    for path in [
        "../outside.txt",
        "secret.txt",
        "/etc/passwd",
        "./declared.txt",
        "x/../secret.txt",
    ] {
        let cfg = serde_json::json!({ "path": path }).to_string();
        let (spec, _) = project.spec(&["declared.txt"], &["files.read"], &cfg);
        let m = manifest(host.run(&code("read-outside"), spec).await);
        assert_eq!(m["denied"], "not-declared", "{path}: {m}");
        assert!(m.get("read_bytes").is_none(), "{path} was read: {m}");
    }
    // The declared file itself is readable through the same plugin.
    let (spec, _) = project.spec(
        &["declared.txt"],
        &["files.read"],
        r#"{"path":"declared.txt"}"#,
    );
    assert_eq!(
        manifest(host.run(&code("read-outside"), spec).await)["read_bytes"],
        3
    );
}

/// A declared input that became a link out of the project after the engine selected it
/// (the engine refuses such links when it selects inputs) is not read either.
#[tokio::test]
async fn a_declared_input_that_links_out_of_the_project_is_not_read() {
    let project = Project::new();
    project.write("in-root.txt", "inside");
    std::fs::write(project.dir.path().join("outside.txt"), "outside").expect("write");
    std::os::unix::fs::symlink(
        project.dir.path().join("outside.txt"),
        project.root().join("link.txt"),
    )
    .expect("link out");
    std::os::unix::fs::symlink("in-root.txt", project.root().join("inner.txt")).expect("link in");
    let host = host();
    let (spec, _) = project.spec(&["link.txt"], &["files.read"], r#"{"path":"link.txt"}"#);
    let m = manifest(host.run(&code("read-outside"), spec).await);
    assert_eq!(m["denied"], "io", "{m}");
    assert!(
        m["detail"]
            .as_str()
            .is_some_and(|d| d.contains("outside the project root")),
        "{m}"
    );
    // A link that stays inside the root is read through.
    let (spec, _) = project.spec(&["inner.txt"], &["files.read"], r#"{"path":"inner.txt"}"#);
    assert_eq!(
        manifest(host.run(&code("read-outside"), spec).await)["read_bytes"],
        6
    );
}

#[tokio::test]
async fn an_ungranted_import_is_refused_before_the_plugin_starts() {
    let project = Project::new();
    let host = host();
    let (spec, mut events) = project.spec(&[], &[], "null");
    let err = host_error(host.run(&code("wants-secrets"), spec).await);
    assert!(
        matches!(&err, HostError::Ungranted { capability, .. } if capability == "secrets"),
        "{err:?}"
    );
    let help = err.help_text().expect("help");
    assert!(help.contains(r#"grant "secrets""#), "{help}");
    assert!(help.contains(r#"plugin "fixture-wants-secrets""#), "{help}");

    // `ok` logs as soon as it runs; refused for lack of `files.read`, it logged nothing,
    // so it never started.
    project.write("a.txt", "a");
    let (spec, mut ok_events) = project.spec(&["a.txt"], &[], "{}");
    let err = host_error(host.run(&code("ok"), spec).await);
    assert!(
        matches!(&err, HostError::Ungranted { capability, .. } if capability == "files.read"),
        "{err:?}"
    );
    assert!(ok_events.drain().is_empty());
    assert!(events.drain().is_empty());
}

#[tokio::test]
async fn granted_secrets_are_opaque_handles_by_name() {
    let project = Project::new();
    let (mut spec, _) = project.spec(&[], &["secrets"], "null");
    spec.secrets = [(
        "TOKEN".to_owned(),
        forge_engine::model::SecretRef::Env("FORGE_TEST_UNSET_TOKEN".into()),
    )]
    .into();
    let m = manifest(host().run(&code("wants-secrets"), spec).await);
    assert_eq!(m["secret"], "TOKEN");

    // Granted, but not given this secret: the plugin's own error, not a host failure.
    let (spec, _) = project.spec(&[], &["secrets"], "null");
    match host().run(&code("wants-secrets"), spec).await {
        Err(RunError::Plugin(f)) => assert!(f.message.contains("TOKEN"), "{f:?}"),
        other => panic!("expected the plugin to fail, got {other:?}"),
    }
}

#[tokio::test]
async fn oversized_outputs_are_refused() {
    let project = Project::new();
    let host = host();
    let (spec, _) = project.spec(&[], &[], "{}");
    let err = host_error(host.run(&code("big-output"), spec).await);
    assert!(
        matches!(err, HostError::OutputTooLarge { what: "manifest", size, limit, .. }
            if size > 64 << 20 && limit == 4 << 20),
        "{err:?}"
    );

    let (mut spec, _) = project.spec(&[], &[], r#"{"manifest_mib":0,"file_mib":8}"#);
    spec.limits = Some(Limits {
        output_files: 4 << 20,
        ..Limits::default()
    });
    let err = host_error(host.run(&code("big-output"), spec).await);
    assert!(
        matches!(err, HostError::OutputTooLarge { what: "output files", size, .. } if size == 8 << 20),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_log_is_capped_with_a_note() {
    let project = Project::new();
    project.write("a.txt", "a");
    let (mut spec, mut events) = project.spec(&["a.txt"], &["files.read"], "{}");
    spec.limits = Some(Limits {
        log: 4,
        ..Limits::default()
    });
    manifest(host().run(&code("ok"), spec).await);
    let logs = events.logs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(logs[0].contains("log truncated"), "{logs:?}");
}

#[tokio::test]
async fn cancelling_stops_a_running_plugin() {
    let project = Project::new();
    let exec = executor(&project, builtin("spin"));
    let (request, mut events) = project.request(
        "fixture-spin",
        PluginSource::Builtin,
        &[],
        &[],
        ConfigValue::Null,
    );
    let cancel = request.cancel.clone();
    let running = tokio::spawn({
        let exec = exec.clone();
        async move { exec.run(request).await }
    });
    // Cancel once the plugin is provably inside its loop.
    loop {
        match events.0.recv().await.expect("events") {
            Event::StepLog { line, .. } if line == "spinning" => break,
            _ => {}
        }
    }
    cancel.cancel();
    let result = running.await.expect("join");
    assert!(matches!(result, Err(StepError::Cancelled)), "{result:?}");
}

#[tokio::test]
async fn a_pinned_plugin_runs_and_a_changed_one_is_refused_showing_both_hashes() {
    let project = Project::new();
    let bytes = component("trap");
    std::fs::create_dir_all(project.root().join("plugins")).expect("mkdir");
    std::fs::write(project.root().join("plugins/p.wasm"), &bytes).expect("write");
    let good = format!("blake3:{}", blake3::hash(&bytes).to_hex());
    let exec = executor(&project, Builtins::default());

    let source = |hash: &str| PluginSource::Path {
        path: "plugins/p.wasm".into(),
        hash: hash.into(),
    };
    // The right pin gets as far as running the plugin (which traps).
    let (request, _) = project.request("p", source(&good), &[], &[], ConfigValue::Null);
    let err = exec.run(request).await.expect_err("trap fixture fails");
    assert!(err.to_string().contains("trapped"), "{err}");

    let wrong = format!("blake3:{}", "0".repeat(64));
    let (request, _) = project.request("p", source(&wrong), &[], &[], ConfigValue::Null);
    let err = exec.run(request).await.expect_err("pin mismatch");
    let text = err.to_string();
    assert!(text.contains(&wrong) && text.contains(&good), "{text}");

    // An unknown built-in is named.
    let (request, _) = project.request("nope", PluginSource::Builtin, &[], &[], ConfigValue::Null);
    let err = exec.run(request).await.expect_err("unknown builtin");
    assert!(err.to_string().contains("`nope`"), "{err}");
}

#[tokio::test]
async fn grant_sets_link_exactly_their_interfaces() {
    // Same component, two grant sets: each gets its own linker and pre-instance, and the
    // narrower one is refused.
    let project = Project::new();
    project.write("a.txt", "a");
    let host = host();
    let (spec, _) = project.spec(&["a.txt"], &["files.read", "secrets"], "{}");
    manifest(host.run(&code("ok"), spec).await);
    assert!(
        host.prepare(
            &code("ok"),
            GrantSet::default(),
            &forge_engine::events::EventSink::null()
        )
        .is_err()
    );
}

#[tokio::test]
async fn a_failed_step_leaves_nothing_in_the_store() {
    // Writes a 1 MiB output file, then returns a manifest past the cap: the file must not
    // reach the store, since outputs are committed only when the step succeeds.
    let project = Project::new();
    let exec = executor(&project, builtin("big-output"));
    let (request, _) = project.request(
        "fixture-big-output",
        PluginSource::Builtin,
        &[],
        &[],
        config(serde_json::json!({"manifest_mib": 8, "file_mib": 1})),
    );
    let err = exec.run(request).await.expect_err("manifest too large");
    assert!(err.to_string().contains("manifest"), "{err}");
    let written = blake3::hash(&vec![b'x'; 1 << 20]).to_hex().to_string();
    let store = Store::open(project.store_dir()).expect("store");
    assert_eq!(store.get_blob(&written).expect("read store"), None);
}

/// Two steps on one runtime thread: a running plugin yields at every epoch tick, so a
/// spinning step cannot starve the others. Were it to hold the thread, the `ok` step could
/// not start until the spinner hit its (generous) deadline, and the spinner would then
/// report `Deadline` rather than `Cancelled`.
#[tokio::test(flavor = "current_thread")]
async fn a_spinning_plugin_does_not_starve_other_steps_on_a_single_thread() {
    let project = Project::new();
    project.write("a.txt", "a");
    let builtins = Builtins::from_map(
        [
            ("fixture-spin".to_owned(), component("spin")),
            ("fixture-ok".to_owned(), component("ok")),
        ]
        .into(),
    );
    let exec = executor(&project, builtins).with_timeout(Duration::from_secs(120));
    let (spin, mut spin_events) = project.request(
        "fixture-spin",
        PluginSource::Builtin,
        &[],
        &[],
        ConfigValue::Null,
    );
    let cancel = spin.cancel.clone();
    let spinner = tokio::spawn({
        let exec = exec.clone();
        async move { exec.run(spin).await }
    });
    // Only once the spinner is provably inside its loop does the other step start.
    loop {
        match spin_events.0.recv().await.expect("events") {
            Event::StepLog { line, .. } if line == "spinning" => break,
            _ => {}
        }
    }

    let (ok, _) = project.request(
        "fixture-ok",
        PluginSource::Builtin,
        &["a.txt"],
        &["files.read"],
        config(serde_json::json!({})),
    );
    let output = exec.run(ok).await.expect("ok runs beside the spinner");
    assert_eq!(output.manifest["files"][0]["path"], "a.txt");
    assert!(
        !spinner.is_finished(),
        "the spinner stopped before it was cancelled: {:?}",
        spinner.await
    );

    cancel.cancel();
    let result = spinner.await.expect("join");
    assert!(matches!(result, Err(StepError::Cancelled)), "{result:?}");
}

/// A manifest past wasmtime's own per-call copy limit (128 MiB) is still judged by
/// forge's manifest cap, with forge's message.
#[tokio::test]
async fn a_huge_manifest_is_refused_by_the_manifest_cap() {
    let project = Project::new();
    let (mut spec, _) = project.spec(&[], &[], r#"{"manifest_mib":160}"#);
    // Room for the padding and its JSON: the cap under test is the manifest's.
    spec.limits = Some(Limits {
        memory: 2 << 30,
        ..Limits::default()
    });
    let err = host_error(host().run(&code("big-output"), spec).await);
    assert!(
        matches!(err, HostError::OutputTooLarge { what: "manifest", size, limit, .. }
            if size > 160 << 20 && limit == 4 << 20),
        "{err:?}"
    );
}

/// Outputs written straight through the import, past what the SDK would allow.
mod shapes {
    use super::*;

    fn run(config: &str, limits: Limits) -> Result<forge_host::RunResult, RunError> {
        let project = Project::new();
        let (mut spec, _) = project.spec(&[], &[], config);
        spec.limits = Some(limits);
        futures_block_on(host().run(&code("shapes"), spec))
    }

    fn futures_block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn the_number_of_output_files_is_capped() {
        let limits = Limits {
            output_count: 100,
            ..Limits::default()
        };
        let err = host_error(run(r#"{"mode":"many","count":100000}"#, limits));
        assert!(
            matches!(err, HostError::TooManyOutputs { limit: 100, .. }),
            "{err:?}"
        );
        let ok = manifest(run(r#"{"mode":"many","count":100}"#, limits));
        assert_eq!(ok["refused"], serde_json::json!([]));
    }

    #[test]
    fn an_output_is_written_once() {
        let result = run(r#"{"mode":"twice"}"#, Limits::default()).expect("run");
        let refused: serde_json::Value = serde_json::from_str(&result.manifest).expect("json");
        assert_eq!(
            refused["refused"].as_array().map(Vec::len),
            Some(1),
            "{refused}"
        );
        assert!(
            refused["refused"][0]
                .as_str()
                .is_some_and(|m| m.contains("already written")),
            "{refused}"
        );
        assert_eq!(result.outputs["a"].1, b"first", "the first write stands");
    }

    #[test]
    fn a_nul_in_an_output_name_is_called_that() {
        let m = manifest(run(r#"{"mode":"nul"}"#, Limits::default()));
        let message = m["refused"][0].as_str().unwrap_or_default();
        assert!(message.contains("NUL"), "{m}");
        assert!(!message.contains(".."), "not blamed on `.`/`..`: {m}");
    }
}

/// Every built-in forge knows is embedded in the real binary, so a build without one is
/// seen here: the step fails naming it, and says how to go on.
#[tokio::test]
async fn a_builtin_this_build_does_not_embed_fails_naming_it() {
    let project = Project::new();
    let exec = executor(&project, Builtins::from_map(Default::default()));
    let (request, _events) = project.request(
        "ecs-rollout",
        PluginSource::Builtin,
        &[],
        &[],
        ConfigValue::Null,
    );
    let err = exec.run(request).await.expect_err("not embedded");
    let text = format!("{err:?}");
    assert!(
        text.contains("`ecs-rollout` is not a built-in plugin of this forge build"),
        "{text}"
    );
    assert!(text.contains("path=... hash=..."), "{text}");
}
