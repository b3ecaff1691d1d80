//! What a plugin's imports act on: the per-run host state, one per wasmtime `Store`.
//!
//! Every import is implemented here, on [`HostState`], whether or not a given step is
//! granted it; what a step can *reach* is decided by which interfaces
//! [`crate::grants`] links. Nothing here touches the world beyond the step's declared
//! input files (read-only) and its event sink: output files are kept in memory and only
//! committed to the store by the executor after the step succeeded, so a failed or
//! cancelled step leaves nothing behind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use forge_engine::events::{Event, EventSink};
use wasmtime::component::{Resource, ResourceTable};

use crate::bindings::forge::plugin::{files, log, outputs, secrets, types};
use crate::error::bytes;
use crate::limits::{Limiter, Limits};

/// A secret handle's payload: only the name. Values never enter the host state, let alone
/// plugin memory; later capabilities resolve them by name when they use them.
#[derive(Debug)]
pub struct SecretHandle {
    name: String,
}

/// Why the epoch callback stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupt {
    Deadline,
    Cancelled,
}

impl std::fmt::Display for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Interrupt::Deadline => f.write_str("step deadline reached"),
            Interrupt::Cancelled => f.write_str("step cancelled"),
        }
    }
}

impl std::error::Error for Interrupt {}

/// An output file the plugin wrote.
#[derive(Debug, Clone)]
pub(crate) struct OutputFile {
    pub(crate) hash: String,
    pub(crate) bytes: Vec<u8>,
}

/// A cap the plugin ran into that fails the step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutputOverflow {
    pub(crate) size: u64,
    pub(crate) limit: u64,
}

/// The state behind one step run's imports.
pub struct HostState {
    step: String,
    limits: Limits,
    /// Declared inputs: project-relative `/`-separated path → absolute path.
    files: BTreeMap<String, PathBuf>,
    events: EventSink,
    log_bytes: u64,
    log_truncated: bool,
    pub(crate) outputs: BTreeMap<String, OutputFile>,
    output_bytes: u64,
    pub(crate) output_overflow: Option<OutputOverflow>,
    pub(crate) panic_message: Option<String>,
    secret_names: BTreeSet<String>,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) interrupt: Option<Interrupt>,
    started: Instant,
}

impl HostState {
    pub(crate) fn new(
        step: String,
        limits: Limits,
        files: BTreeMap<String, PathBuf>,
        secret_names: BTreeSet<String>,
        events: EventSink,
    ) -> HostState {
        HostState {
            step,
            limiter: Limiter::new(&limits),
            limits,
            files,
            events,
            log_bytes: 0,
            log_truncated: false,
            outputs: BTreeMap::new(),
            output_bytes: 0,
            output_overflow: None,
            panic_message: None,
            secret_names,
            table: ResourceTable::new(),
            interrupt: None,
            started: Instant::now(),
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn emit(&mut self, line: String) {
        if self.log_truncated {
            return;
        }
        let len = line.len() as u64;
        if self.log_bytes + len > self.limits.log {
            self.log_truncated = true;
            self.events.send(Event::StepLog {
                step: self.step.clone(),
                line: format!(
                    "[forge] log truncated: the plugin exceeded the {} log cap; further lines are dropped",
                    bytes(self.limits.log)
                ),
            });
            return;
        }
        self.log_bytes += len;
        self.events.send(Event::StepLog {
            step: self.step.clone(),
            line,
        });
    }
}

/// Declared-path lookup key for `path`, or `None` if it is not a plain project-relative
/// path (absolute, `..`, `.`, empty segments, backslashes). Such paths are never declared.
fn plain_relative(path: &str) -> Option<&str> {
    let plain = !path.is_empty()
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && !path.contains(':');
    plain.then_some(path)
}

impl types::Host for HostState {}

impl log::Host for HostState {
    fn log(&mut self, level: types::Level, message: String) {
        let prefix = match level {
            types::Level::Trace => "trace: ",
            types::Level::Debug => "debug: ",
            types::Level::Info => "",
            types::Level::Warn => "warning: ",
            types::Level::Error => "error: ",
        };
        self.emit(format!("{prefix}{message}"));
    }

    fn progress(&mut self, _done: u64, _total: u64) {
        // The engine's event stream has no progress event yet; progress is dropped rather
        // than turned into log lines that would flood the log cap.
    }

    fn panicked(&mut self, message: String) {
        // Kept whole for the error (capped, in case a plugin panics with megabytes).
        let mut message = message;
        if message.len() > 64 * 1024 {
            let mut end = 64 * 1024;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push('…');
        }
        self.panic_message = Some(message);
    }
}

impl files::Host for HostState {
    fn inputs(&mut self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    fn read(&mut self, path: String) -> Result<Vec<u8>, files::FileError> {
        let Some(abs) = plain_relative(&path).and_then(|p| self.files.get(p)) else {
            return Err(files::FileError::NotDeclared(path));
        };
        let meta = match std::fs::metadata(abs) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(files::FileError::NotFound(path));
            }
            Err(e) => return Err(files::FileError::Io(format!("{path}: {e}"))),
        };
        if meta.len() > self.limits.read {
            return Err(files::FileError::TooLarge(format!(
                "{path}: {} (cap {})",
                bytes(meta.len()),
                bytes(self.limits.read)
            )));
        }
        std::fs::read(abs).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => files::FileError::NotFound(path.clone()),
            _ => files::FileError::Io(format!("{path}: {e}")),
        })
    }
}

impl outputs::Host for HostState {
    fn write(
        &mut self,
        name: String,
        contents: Vec<u8>,
    ) -> wasmtime::Result<Result<String, String>> {
        if plain_relative(&name).is_none() {
            return Ok(Err(format!(
                "output name `{name}` must be a relative `/`-separated path without `.` or `..`"
            )));
        }
        let replaced = self.outputs.get(&name).map_or(0, |o| o.bytes.len() as u64);
        let total = self.output_bytes - replaced + contents.len() as u64;
        if total > self.limits.output_files {
            let overflow = OutputOverflow {
                size: total,
                limit: self.limits.output_files,
            };
            self.output_overflow = Some(overflow);
            // A trap, not an error value: the plugin cannot shrug the cap off.
            return Err(wasmtime::Error::msg(format!(
                "output files total {} past the cap of {}",
                bytes(overflow.size),
                bytes(overflow.limit)
            )));
        }
        let hash = blake3::hash(&contents).to_hex().to_string();
        self.output_bytes = total;
        self.outputs.insert(
            name,
            OutputFile {
                hash: hash.clone(),
                bytes: contents,
            },
        );
        Ok(Ok(hash))
    }
}

impl secrets::HostSecret for HostState {
    fn name(&mut self, handle: Resource<SecretHandle>) -> String {
        self.table
            .get(&handle)
            .map_or_else(|_| String::new(), |s| s.name.clone())
    }

    fn drop(&mut self, handle: Resource<SecretHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl secrets::Host for HostState {
    fn get(&mut self, name: String) -> Result<Resource<SecretHandle>, String> {
        if !self.secret_names.contains(&name) {
            return Err(format!("secret `{name}` is not given to this step"));
        }
        self.table
            .push(SecretHandle { name })
            .map_err(|e| format!("too many secret handles: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::plain_relative;

    #[test]
    fn only_plain_relative_paths_can_be_declared() {
        for ok in ["a", "src/main.rs", "a/b/c.txt", ".dockerignore"] {
            assert_eq!(plain_relative(ok), Some(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "./a",
            "a//b",
            "a/",
            "a\\b",
            "C:/x",
            "a/./b",
        ] {
            assert_eq!(plain_relative(bad), None, "{bad}");
        }
    }
}
