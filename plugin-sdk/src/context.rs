//! [`Context`]: what a running step sees of the world, and the [`Host`] seam under it.
//!
//! On wasm the host is the generated WIT imports, called with static dispatch so the
//! linker drops every import a plugin never calls — a component's imports are the
//! capabilities it asks for, and calling `ctx.secret` is what makes a plugin need
//! `secrets`. Natively the host is a `Box<dyn Host>`, normally [`MockHost`](crate::MockHost)'s.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;

use crate::{Error, FileError};

/// Severity of a log line (`types.level` in the WIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed, off by default.
    Trace,
    /// Useful when diagnosing the plugin.
    Debug,
    /// Normal progress messages.
    Info,
    /// Something the user should look at; the step still succeeds.
    Warn,
    /// Something failed; usually followed by the step's error.
    Error,
}

/// A secret by reference: its name, never its value. Pass it to capabilities that accept
/// secrets (registry logins, AWS credentials); the host substitutes the value itself.
pub struct Secret {
    pub(crate) name: String,
    // Keeps the host's handle alive (dropping it releases the resource).
    #[cfg(target_arch = "wasm32")]
    #[allow(dead_code)]
    pub(crate) handle: crate::guest::bindings::forge::plugin::secrets::Secret,
}

impl Secret {
    /// The name the secret was declared under.
    pub fn name(&self) -> &str {
        &self.name
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn from_name(name: &str) -> Self {
        Secret {
            name: name.to_owned(),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({:?})", self.name)
    }
}

/// The imports a step can call, one method per WIT function.
///
/// Implemented by the real host bindings (on wasm) and by [`MockHost`](crate::MockHost)
/// (natively). **Extension point:** when a capability lands (`docker`, `aws`,
/// `terraform`), it adds methods here with a default body that answers "capability not
/// available", a [`Context`] wrapper, a WIT interface, and a `MockHost` builder method
/// that records canned answers (e.g. `.docker_build(|req| ..)`), so existing hosts and
/// plugins keep compiling.
pub trait Host {
    /// `log.log`.
    fn log(&self, level: Level, message: &str);
    /// `log.progress`.
    fn progress(&self, done: u64, total: u64);
    /// `files.read` (capability `files.read`).
    fn read(&self, path: &str) -> Result<Vec<u8>, FileError>;
    /// `outputs.write`: stores an output file and returns its blake3 hash (hex).
    fn write_output(&self, name: &str, contents: &[u8]) -> Result<String, String>;
    /// `secrets.get` (capability `secrets`).
    fn secret(&self, name: &str) -> Result<Secret, String>;
}

#[cfg(target_arch = "wasm32")]
pub(crate) type HostImpl = crate::guest::WitHost;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type HostImpl = Box<dyn Host>;

/// The step's input, decoded once from the WIT `step-input`.
pub(crate) struct StepData {
    pub(crate) step: String,
    pub(crate) env: String,
    pub(crate) config: String,
    pub(crate) upstream: BTreeMap<String, String>,
    pub(crate) files: Vec<String>,
    pub(crate) commit: Option<String>,
}

/// What a running step sees: its identity, its declared inputs, and the host's imports.
pub struct Context {
    data: StepData,
    host: HostImpl,
}

impl Context {
    pub(crate) fn new(data: StepData, host: HostImpl) -> Self {
        Context { data, host }
    }

    /// The step's id, e.g. `docker-build:backend`.
    pub fn step(&self) -> &str {
        &self.data.step
    }

    /// The forge env being run (`dev`, `prod`) for deploy-phase steps. Empty for
    /// build-phase steps: their results are shared by every env, so they must not depend
    /// on one (put per-env values in the step's config, inside an `env` block).
    pub fn env(&self) -> &str {
        &self.data.env
    }

    /// The git commit SHA, only when the step declares `commit-sha #true` (so that a
    /// commit feeds its fingerprint).
    pub fn commit(&self) -> Option<&str> {
        self.data.commit.as_deref()
    }

    /// The step's declared input files: project-relative, `/`-separated, sorted. These,
    /// and only these, can be [`read`](Self::read).
    pub fn inputs(&self) -> &[String] {
        &self.data.files
    }

    /// The ids of the steps this one needs, sorted.
    pub fn upstream_steps(&self) -> impl Iterator<Item = &str> {
        self.data.upstream.keys().map(String::as_str)
    }

    /// The output manifest of upstream step `step`, decoded as `T`.
    pub fn upstream<T: DeserializeOwned>(&self, step: &str) -> Result<T, Error> {
        let Some(manifest) = self.data.upstream.get(step) else {
            let known: Vec<&str> = self.upstream_steps().collect();
            return Err(Error::new(format!(
                "`{step}` is not an upstream step of `{}` (upstream: {})",
                self.data.step,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))
            .with_help(format!("add `{step}` to the step's `needs` in project.kdl")));
        };
        serde_json::from_str(manifest).map_err(|e| {
            Error::new(format!("the output of upstream step `{step}` does not have the expected shape: {e}"))
                .with_help("the upstream plugin's version may have changed its output; check both plugins' versions")
        })
    }

    /// Reads a declared input file (capability `files.read`).
    pub fn read(&self, path: &str) -> Result<Vec<u8>, Error> {
        self.host.read(path).map_err(Error::from)
    }

    /// Reads a declared input file as UTF-8 text (capability `files.read`).
    pub fn read_to_string(&self, path: &str) -> Result<String, Error> {
        let bytes = self.read(path)?;
        String::from_utf8(bytes)
            .map_err(|e| Error::new(format!("declared input `{path}` is not UTF-8 text: {e}")))
    }

    /// Writes an output file (a relative `/`-separated `name`) into forge's store and
    /// returns its blake3 hash (hex). Always granted; total size is capped by the host.
    pub fn write_output(&self, name: &str, contents: impl AsRef<[u8]>) -> Result<String, Error> {
        self.host
            .write_output(name, contents.as_ref())
            .map_err(|e| Error::new(format!("writing output `{name}` failed: {e}")))
    }

    /// A secret the step was given, by name, as an opaque handle (capability `secrets`).
    pub fn secret(&self, name: &str) -> Result<Secret, Error> {
        self.host.secret(name).map_err(|e| {
            Error::new(format!("secret `{name}` is not available: {e}")).with_help(format!(
                "declare the secret `{name}` for this step in project.kdl"
            ))
        })
    }

    /// Logs a line at `level`. Log volume is capped by the host; prefer progress for
    /// per-item chatter.
    pub fn log(&self, level: Level, message: impl AsRef<str>) {
        self.host.log(level, message.as_ref());
    }

    /// Logs at [`Level::Trace`].
    pub fn trace(&self, message: impl AsRef<str>) {
        self.log(Level::Trace, message);
    }

    /// Logs at [`Level::Debug`].
    pub fn debug(&self, message: impl AsRef<str>) {
        self.log(Level::Debug, message);
    }

    /// Logs at [`Level::Info`].
    pub fn info(&self, message: impl AsRef<str>) {
        self.log(Level::Info, message);
    }

    /// Logs at [`Level::Warn`].
    pub fn warn(&self, message: impl AsRef<str>) {
        self.log(Level::Warn, message);
    }

    /// Logs at [`Level::Error`].
    pub fn error(&self, message: impl AsRef<str>) {
        self.log(Level::Error, message);
    }

    /// Reports `done` of `total` units of work (bytes, files, layers...).
    pub fn progress(&self, done: u64, total: u64) {
        self.host.progress(done, total);
    }
}
