//! [`MockHost`]: runs a plugin natively under `cargo test`, with fake inputs and captured
//! logs and outputs, answering every import the way the real host does.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use serde::Serialize;

use crate::context::{Host, Level, Secret, StepData};
use crate::plugin::capability;
use crate::{Error, FileError, Info, Plugin};

/// One captured [`Context::log`](crate::Context::log) call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Its severity.
    pub level: Level,
    /// Its text.
    pub message: String,
}

#[derive(Default)]
struct State {
    files: BTreeMap<String, Option<Vec<u8>>>,
    secrets: BTreeSet<String>,
    granted: BTreeSet<String>,
    logs: Vec<LogRecord>,
    progress: Vec<(u64, u64)>,
    outputs: BTreeMap<String, Vec<u8>>,
}

/// A fake forge host for unit tests of a plugin.
///
/// ```
/// use forge_plugin_sdk::{Context, Error, Info, MockHost, NoConfig, Plugin, capability};
///
/// struct Count;
/// impl Plugin for Count {
///     type Config = NoConfig;
///     type Output = usize;
///     fn info() -> Info {
///         Info::new("count", "counts input bytes").capability(capability::FILES_READ)
///     }
///     fn run(ctx: &mut Context, _: NoConfig) -> Result<usize, Error> {
///         let mut n = 0;
///         for path in ctx.inputs().to_vec() {
///             n += ctx.read(&path)?.len();
///         }
///         ctx.info(format!("{n} bytes"));
///         Ok(n)
///     }
/// }
///
/// let mut host = MockHost::new().file("a.txt", "abc").file("b.txt", "de");
/// assert_eq!(host.run::<Count>()?, 5);
/// assert_eq!(host.logs()[0].message, "5 bytes");
/// assert_eq!(host.manifest(), Some("5"));
/// # Ok::<(), Error>(())
/// ```
///
/// Like the real host it denies reads of undeclared paths (`FileError::NotDeclared`),
/// refuses to start a plugin whose [`Info`] capabilities are not all granted, and refuses
/// a capability call the step was not granted. By default the step is granted exactly the
/// capabilities the plugin declares; [`MockHost::grants`] simulates a `project.kdl` that
/// grants less.
///
/// **Extension point:** fake Docker and AWS answers arrive with those capabilities, as
/// builder methods here that record canned responses (see [`Host`] for the pattern).
pub struct MockHost {
    state: Rc<RefCell<State>>,
    grants: Option<BTreeSet<String>>,
    step: String,
    env: String,
    commit: Option<String>,
    config: serde_json::Value,
    upstream: BTreeMap<String, String>,
    manifest: Option<String>,
}

impl Default for MockHost {
    fn default() -> Self {
        Self::new()
    }
}

impl MockHost {
    /// A host for step `test` in env `dev`, with an empty config and no inputs.
    pub fn new() -> Self {
        MockHost {
            state: Rc::default(),
            grants: None,
            step: "test".to_owned(),
            env: "dev".to_owned(),
            commit: None,
            config: serde_json::Value::Object(serde_json::Map::new()),
            upstream: BTreeMap::new(),
            manifest: None,
        }
    }

    /// Declares an input file with these contents.
    #[must_use]
    pub fn file(self, path: impl Into<String>, contents: impl AsRef<[u8]>) -> Self {
        self.state
            .borrow_mut()
            .files
            .insert(path.into(), Some(contents.as_ref().to_vec()));
        self
    }

    /// Declares an input file that has vanished since fingerprinting (reads are `NotFound`).
    #[must_use]
    pub fn missing_file(self, path: impl Into<String>) -> Self {
        self.state.borrow_mut().files.insert(path.into(), None);
        self
    }

    /// Sets the step's `config` block.
    #[must_use]
    pub fn config(mut self, config: serde_json::Value) -> Self {
        self.config = config;
        self
    }

    /// Adds an upstream step's output manifest.
    #[must_use]
    pub fn upstream(mut self, step: impl Into<String>, manifest: impl Serialize) -> Self {
        let json =
            serde_json::to_string(&manifest).expect("upstream manifest must serialize to JSON");
        self.upstream.insert(step.into(), json);
        self
    }

    /// Gives the step a secret by name (values never reach a plugin, so there is none).
    #[must_use]
    pub fn secret(self, name: impl Into<String>) -> Self {
        self.state.borrow_mut().secrets.insert(name.into());
        self
    }

    /// Sets the env (default `dev`).
    #[must_use]
    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.env = env.into();
        self
    }

    /// Sets the commit SHA, as for a step that declares `commit-sha #true`.
    #[must_use]
    pub fn commit(mut self, sha: impl Into<String>) -> Self {
        self.commit = Some(sha.into());
        self
    }

    /// Sets the step id (default `test`).
    #[must_use]
    pub fn step(mut self, id: impl Into<String>) -> Self {
        self.step = id.into();
        self
    }

    /// Grants exactly these capabilities, as `project.kdl` would, instead of the ones the
    /// plugin declares.
    #[must_use]
    pub fn grants<I, S>(mut self, capabilities: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.grants = Some(capabilities.into_iter().map(Into::into).collect());
        self
    }

    /// Runs `P` as the host would: checks grants, decodes the config, runs, encodes the
    /// manifest. Logs, progress and outputs of earlier runs are cleared first.
    pub fn run<P: Plugin>(&mut self) -> Result<P::Output, Error> {
        self.manifest = None;
        let info: Info = P::info();
        let granted = self
            .grants
            .clone()
            .unwrap_or_else(|| info.capabilities.iter().cloned().collect());
        if let Some(missing) = info.capabilities.iter().find(|c| !granted.contains(*c)) {
            return Err(Error::new(format!(
                "plugin `{}` needs capability `{missing}`, which this step is not granted",
                info.name
            ))
            .with_help(format!(
                "add `grant \"{missing}\"` to the step in project.kdl"
            )));
        }
        let files = {
            let mut state = self.state.borrow_mut();
            state.granted = granted;
            state.logs.clear();
            state.progress.clear();
            state.outputs.clear();
            state.files.keys().cloned().collect()
        };
        let data = StepData {
            step: self.step.clone(),
            env: self.env.clone(),
            config: self.config.to_string(),
            upstream: self.upstream.clone(),
            files,
            commit: self.commit.clone(),
        };
        let backend = MockBackend {
            state: Rc::clone(&self.state),
        };
        let (output, manifest) = crate::runtime::execute::<P>(data, Box::new(backend))?;
        self.manifest = Some(manifest);
        Ok(output)
    }

    /// Every line logged by the last run, in order.
    pub fn logs(&self) -> Vec<LogRecord> {
        self.state.borrow().logs.clone()
    }

    /// Every progress report of the last run, in order.
    pub fn progress(&self) -> Vec<(u64, u64)> {
        self.state.borrow().progress.clone()
    }

    /// The output files the last run wrote, by name.
    pub fn outputs(&self) -> BTreeMap<String, Vec<u8>> {
        self.state.borrow().outputs.clone()
    }

    /// The JSON manifest of the last successful run, exactly as the host would store it.
    pub fn manifest(&self) -> Option<&str> {
        self.manifest.as_deref()
    }
}

struct MockBackend {
    state: Rc<RefCell<State>>,
}

impl MockBackend {
    fn require(&self, cap: &str) -> Result<(), String> {
        if self.state.borrow().granted.contains(cap) {
            Ok(())
        } else {
            Err(format!(
                "capability `{cap}` is not granted to this step (the real host would refuse to start a plugin that imports it; declare it in `Plugin::info` and grant it in project.kdl)"
            ))
        }
    }
}

impl Host for MockBackend {
    fn log(&self, level: Level, message: &str) {
        self.state.borrow_mut().logs.push(LogRecord {
            level,
            message: message.to_owned(),
        });
    }

    fn progress(&self, done: u64, total: u64) {
        self.state.borrow_mut().progress.push((done, total));
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, FileError> {
        self.require(capability::FILES_READ)
            .map_err(FileError::Io)?;
        match self.state.borrow().files.get(path) {
            None => Err(FileError::NotDeclared(path.to_owned())),
            Some(None) => Err(FileError::NotFound(path.to_owned())),
            Some(Some(bytes)) => Ok(bytes.clone()),
        }
    }

    fn write_output(&self, name: &str, contents: &[u8]) -> Result<String, String> {
        let valid = !name.is_empty()
            && !name.starts_with('/')
            && !name.contains('\\')
            && name
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        if !valid {
            return Err(format!(
                "`{name}` is not a relative `/`-separated path without `.` or `..` components"
            ));
        }
        let mut state = self.state.borrow_mut();
        if state.outputs.contains_key(name) {
            return Err(format!("output `{name}` was already written by this step"));
        }
        state.outputs.insert(name.to_owned(), contents.to_vec());
        Ok(blake3::hash(contents).to_hex().to_string())
    }

    fn secret(&self, name: &str) -> Result<Secret, String> {
        self.require(capability::SECRETS)?;
        if self.state.borrow().secrets.contains(name) {
            Ok(Secret::from_name(name))
        } else {
            Err(format!(
                "no secret named `{name}` is declared for this step"
            ))
        }
    }
}
