//! Real compiled fixture plugins and a throwaway project to run them in.
//!
//! The components are built once per test binary by `forge plugin build`'s code
//! (`forge_plugin_tools::testing::fixture_plugin`, the path every plugin is built by) into
//! cargo's per-target temp dir. When no toolchain can build them the tests fail, loudly: a
//! host test that skips without its plugins proves nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use forge_engine::events::{Event, EventSink};
use forge_engine::executor::StepRequest;
use forge_engine::fingerprint::Fingerprint;
use forge_engine::graph::{Origin, Step};
use forge_engine::model::{ConfigValue, Phase, PluginSource};
use forge_host::{GrantSet, PluginCode, RunSpec};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

/// The bytes of fixture component `name` (`ok` → `fixture-ok.wasm`).
pub fn component(name: &str) -> Vec<u8> {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("forge-fixture-plugins");
    let path = forge_plugin_tools::testing::fixture_plugin(name, &out);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

pub fn code(name: &str) -> PluginCode {
    PluginCode::new(format!("fixture-{name}"), component(name))
}

/// A temp dir holding a project root (`root/`) and a forge store (`store/`).
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("root")).expect("root");
        Project { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    pub fn write(&self, rel: &str, contents: &str) -> &Self {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, contents).expect("write");
        self
    }

    /// A run spec declaring `files` (which exist under the root), granted `grants`.
    pub fn spec(&self, files: &[&str], grants: &[&str], config: &str) -> (RunSpec, Events) {
        let (events, rx) = EventSink::channel();
        let spec = RunSpec {
            step: "fixture-step".into(),
            env: "dev".into(),
            config: config.into(),
            upstream: Default::default(),
            files: files
                .iter()
                .map(|f| ((*f).to_owned(), self.root().join(f)))
                .collect(),
            commit: None,
            commit_time: None,
            store: None,
            secrets: Default::default(),
            grants: GrantSet::from_grants(grants),
            limits: None,
            cancel: CancellationToken::new(),
            events,
            terraform: None,
            rebuild: false,
        };
        (spec, Events(rx))
    }

    /// An engine request for step `id` running `plugin` from `source`.
    pub fn request(
        &self,
        plugin: &str,
        source: PluginSource,
        files: &[&str],
        grants: &[&str],
        config: ConfigValue,
    ) -> (StepRequest, Events) {
        let (events, rx) = EventSink::channel();
        let mut fingerprint = Fingerprint::new(plugin);
        for f in files {
            fingerprint.files.insert((*f).to_owned(), "0".repeat(64));
        }
        let step = Step {
            id: "render".into(),
            plugin: plugin.into(),
            plugin_source: source,
            phase: Phase::Build,
            config,
            inputs: vec![],
            needs: vec![],
            need_spans: vec![],
            env_vars: vec![],
            secrets: BTreeMap::new(),
            commit_sha: false,
            stamp_commit: false,
            env_scoped: false,
            locked: false,
            recheck: None,
            time_limit: None,
            grants: grants.iter().map(|g| (*g).to_owned()).collect(),
            origin: Origin::Step("render".into()),
            span: (0, 0).into(),
        };
        let request = StepRequest {
            step: Arc::new(step),
            fingerprint: Arc::new(fingerprint),
            root: self.root(),
            env: "dev".into(),
            upstream: BTreeMap::from([(
                "up".to_owned(),
                std::sync::Arc::new(forge_engine::executor::StepOutput::new(
                    serde_json::json!({"digest": "d"}),
                )),
            )]),
            stamp: None,
            cancel: CancellationToken::new(),
            events,
            lock: None,
            rebuild: false,
        };
        (request, Events(rx))
    }
}

/// The events a run sent.
pub struct Events(pub UnboundedReceiver<Event>);

impl Events {
    pub fn drain(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        while let Ok(e) = self.0.try_recv() {
            out.push(e);
        }
        out
    }

    pub fn logs(&mut self) -> Vec<String> {
        self.drain()
            .into_iter()
            .filter_map(|e| match e {
                Event::StepLog { line, .. } => Some(line),
                _ => None,
            })
            .collect()
    }

    pub fn warnings(&mut self) -> Vec<String> {
        self.drain()
            .into_iter()
            .filter_map(|e| match e {
                Event::Warning { message } => Some(message),
                _ => None,
            })
            .collect()
    }
}
