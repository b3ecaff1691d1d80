//! What a plugin's imports act on: the per-run host state, one per wasmtime `Store`.
//!
//! Every import is implemented on [`HostState`], whether or not a given step is granted
//! it; what a step can *reach* is decided by which interfaces [`crate::grants`] links.
//! The ones here touch nothing beyond the step's declared input files and its upstream
//! steps' output files (read-only) and its event sink; the networked ones (`docker`,
//! `registry`, `aws`) live in [`crate::caps`]. Output files are kept in memory and only
//! committed to the store by the executor after the step succeeded, so a failed or
//! cancelled step leaves nothing behind in forge's store (an image a `docker` step built
//! stays in the engine, like any build cache).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use forge_clients::Clients;
use forge_engine::events::{Event, EventSink, ProgressGate};
use forge_engine::executor::check_relative_path;
use forge_engine::store::Store;
use tokio_util::sync::CancellationToken;
use wasmtime::component::{Resource, ResourceTable};

use crate::bindings::forge::plugin::{files, log, outputs, secrets, types};
use crate::caps::Stop;
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
pub(crate) enum OutputOverflow {
    /// Output files total `size` bytes, past `limit`.
    Size { size: u64, limit: u64 },
    /// More than `limit` output files.
    Count { limit: u64 },
}

impl std::fmt::Display for OutputOverflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputOverflow::Size { size, limit } => write!(
                f,
                "output files total {} past the cap of {}",
                bytes(*size),
                bytes(*limit)
            ),
            OutputOverflow::Count { limit } => {
                write!(f, "more than {limit} output files, the cap for one step")
            }
        }
    }
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
    /// Which `log.progress` calls become events (see [`log::Host::progress`]).
    progress: ProgressGate,
    pub(crate) outputs: BTreeMap<String, OutputFile>,
    output_bytes: u64,
    image_bytes: u64,
    pub(crate) output_overflow: Option<OutputOverflow>,
    pub(crate) panic_message: Option<String>,
    secret_names: BTreeSet<String>,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) interrupt: Option<Interrupt>,
    started: Instant,
    reach: Reach,
}

/// What a run's networked capabilities and `files.read-upstream` act on.
#[derive(Debug, Clone)]
pub(crate) struct Reach {
    pub(crate) clients: Arc<Clients>,
    /// Upstream step id → its manifest and output files.
    pub(crate) upstream: BTreeMap<String, crate::host::Upstream>,
    /// Where upstream output files are; `None` when the caller runs without a store.
    pub(crate) store: Option<Store>,
    pub(crate) cancel: CancellationToken,
}

impl HostState {
    pub(crate) fn new(
        step: String,
        limits: Limits,
        files: BTreeMap<String, PathBuf>,
        secret_names: BTreeSet<String>,
        events: EventSink,
        reach: Reach,
    ) -> HostState {
        HostState {
            step,
            limiter: Limiter::new(&limits),
            limits,
            files,
            events,
            log_bytes: 0,
            log_truncated: false,
            progress: ProgressGate::new(),
            outputs: BTreeMap::new(),
            output_bytes: 0,
            image_bytes: 0,
            output_overflow: None,
            panic_message: None,
            secret_names,
            table: ResourceTable::new(),
            interrupt: None,
            started: Instant::now(),
            reach,
        }
    }

    /// When a host call must give up: the run's cancellation and its deadline.
    pub(crate) fn stop(&self) -> Stop {
        let left = self.limits.timeout.saturating_sub(self.started.elapsed());
        Stop {
            cancel: self.reach.cancel.clone(),
            deadline: tokio::time::Instant::now() + left,
        }
    }

    /// Records why a host call stopped the run and returns the trap that ends it, the
    /// same one the epoch callback would have raised.
    pub(crate) fn interrupted(&mut self, interrupt: Interrupt) -> wasmtime::Error {
        self.interrupt = Some(interrupt);
        wasmtime::Error::new(interrupt)
    }

    pub(crate) fn clients(&self) -> Arc<Clients> {
        Arc::clone(&self.reach.clients)
    }

    pub(crate) fn table(&self) -> &ResourceTable {
        &self.table
    }

    pub(crate) fn table_mut(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// An output file of an upstream step, from the store. `cap` bounds what may be handed
    /// to the plugin; `None` when the bytes stay in the host.
    pub(crate) fn upstream_output(
        &self,
        step: &str,
        name: &str,
        cap: Option<u64>,
    ) -> impl Future<Output = Result<Vec<u8>, files::FileError>> + Send + 'static {
        let label = format!("{step}: {name}");
        // Only what the step wrote in its run (the engine's record of it), never a name
        // its manifest claims: a manifest is the plugin's to write, the files are not.
        let file = match self.reach.upstream.get(step) {
            None => Err(format!(
                "`{step}` is not a step this one needs; add it to the step's `needs`"
            )),
            Some(up) => up
                .files
                .get(name)
                .cloned()
                .ok_or_else(|| format!("step `{step}` wrote no output file `{name}`")),
        };
        let store = self.reach.store.clone();
        async move {
            let file = file.map_err(files::FileError::NotDeclared)?;
            let hash = file.hash;
            let Some(store) = store else {
                return Err(files::FileError::Io(format!(
                    "{label}: this run has no store to read upstream outputs from"
                )));
            };
            // Reading a blob is disk I/O: off the runtime thread, which other steps share.
            let read = move || store.get_blob(&hash);
            let outcome = match tokio::runtime::Handle::try_current() {
                Ok(runtime) => runtime
                    .spawn_blocking(read)
                    .await
                    .map_err(|e| files::FileError::Io(format!("{label}: the read failed: {e}")))?,
                Err(_) => read(),
            };
            let bytes = match outcome {
                Ok(Some(bytes)) => bytes,
                Ok(None) => return Err(files::FileError::NotFound(label)),
                Err(e) => return Err(files::FileError::Io(format!("{label}: {e}"))),
            };
            match cap {
                Some(cap) if bytes.len() as u64 > cap => Err(files::FileError::TooLarge(format!(
                    "{label}: {} (cap {})",
                    crate::error::bytes(bytes.len() as u64),
                    crate::error::bytes(cap)
                ))),
                _ => Ok(bytes),
            }
        }
    }

    /// Adds an output file, counting it against the output caps. `Ok(Err)` is a refusal
    /// the plugin sees (a bad name, a name written twice); `Err` is the trap for running
    /// past a cap, which a plugin cannot shrug off.
    pub(crate) fn write_output(
        &mut self,
        name: String,
        contents: Vec<u8>,
    ) -> wasmtime::Result<Result<String, String>> {
        if let Err(problem) = check_relative_path(&name) {
            return Ok(Err(format!("output name {problem}")));
        }
        if self.outputs.contains_key(&name) {
            return Ok(Err(format!(
                "output `{name}` was already written by this step; each output is written once"
            )));
        }
        if self.outputs.len() as u64 >= self.limits.output_count {
            let overflow = OutputOverflow::Count {
                limit: self.limits.output_count,
            };
            self.output_overflow = Some(overflow);
            return Err(wasmtime::Error::msg(overflow.to_string()));
        }
        let total = self.output_bytes + contents.len() as u64;
        if total > self.limits.output_files {
            let overflow = OutputOverflow::Size {
                size: total,
                limit: self.limits.output_files,
            };
            self.output_overflow = Some(overflow);
            return Err(wasmtime::Error::msg(overflow.to_string()));
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

    /// Adds an image blob `docker.build` produced as an output file, counting it against
    /// [`Limits::image_blobs`] (not the plugin's output cap). Past the cap the build is an
    /// error the plugin reports, not a trap: the plugin did nothing wrong.
    pub(crate) fn write_image_blob(
        &mut self,
        name: String,
        contents: Vec<u8>,
    ) -> Result<String, String> {
        let total = self.image_bytes + contents.len() as u64;
        if total > self.limits.image_blobs {
            return Err(format!(
                "the image is {} or more, past forge's cap of {} for one image",
                bytes(total),
                bytes(self.limits.image_blobs)
            ));
        }
        self.image_bytes = total;
        let hash = blake3::hash(&contents).to_hex().to_string();
        self.outputs.insert(
            name,
            OutputFile {
                hash: hash.clone(),
                bytes: contents,
            },
        );
        Ok(hash)
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Sends one line to the step's log, unless the log cap is reached.
    pub(crate) fn emit(&mut self, line: String) {
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
/// path ([`check_relative_path`]). Such paths are never declared.
fn plain_relative(path: &str) -> Option<&str> {
    check_relative_path(path).is_ok().then_some(path)
}

impl types::Host for HostState {}

impl log::Host for HostState {
    async fn log(&mut self, level: types::Level, message: String) {
        let prefix = match level {
            types::Level::Trace => "trace: ",
            types::Level::Debug => "debug: ",
            types::Level::Info => "",
            types::Level::Warn => "warning: ",
            types::Level::Error => "error: ",
        };
        self.emit(format!("{prefix}{message}"));
    }

    async fn progress(&mut self, done: u64, total: u64) {
        // A plugin may report every byte it handles: the gate lets through a percentage
        // change or one report per interval, so the run's event stream (unbounded) and the
        // terminal see a few a second. Progress never counts against the log cap.
        if self.progress.admit(done, total, Instant::now()) {
            self.events.send(Event::StepProgress {
                step: self.step.clone(),
                done,
                total,
            });
        }
    }

    async fn panicked(&mut self, message: String) {
        // Kept for the error, capped like a `step-error` message, in case a plugin panics
        // with megabytes.
        self.panic_message = Some(crate::error::cap_message(message));
    }
}

impl files::Host for HostState {
    async fn inputs(&mut self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    async fn read(&mut self, path: String) -> Result<Vec<u8>, files::FileError> {
        let Some(abs) = plain_relative(&path)
            .and_then(|p| self.files.get(p))
            .cloned()
        else {
            return Err(files::FileError::NotDeclared(path));
        };
        let cap = self.limits.read;
        // The project root: `abs` is the root joined with the declared path's segments.
        let root = abs
            .ancestors()
            .nth(path.split('/').count())
            .map(std::path::Path::to_path_buf);
        // Up to the read cap of disk I/O: off the runtime thread, which other steps share
        // (inline only when polled outside a tokio runtime, where there is no pool).
        let read = move || read_capped(&abs, root.as_deref(), cap);
        let outcome = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime
                .spawn_blocking(read)
                .await
                .map_err(|e| files::FileError::Io(format!("{path}: the read failed: {e}")))?,
            Err(_) => read(),
        };
        outcome.map_err(|e| match e {
            ReadError::NotFound => files::FileError::NotFound(path),
            ReadError::TooLarge(size) => {
                files::FileError::TooLarge(format!("{path}: {} (cap {})", bytes(size), bytes(cap)))
            }
            ReadError::Io(e) => files::FileError::Io(format!("{path}: {e}")),
            ReadError::OutsideRoot(real) => files::FileError::Io(format!(
                "{path}: resolves to {}, outside the project root; forge does not read it",
                real.display()
            )),
        })
    }

    async fn read_upstream(
        &mut self,
        step: String,
        name: String,
    ) -> Result<Vec<u8>, files::FileError> {
        let cap = self.limits.read;
        self.upstream_output(&step, &name, Some(cap)).await
    }
}

/// A file error as one sentence, for errors of other interfaces.
pub(crate) fn describe_file_error(e: &files::FileError) -> String {
    match e {
        files::FileError::NotDeclared(what) => what.clone(),
        files::FileError::NotFound(what) => format!("{what} is missing from the store"),
        files::FileError::TooLarge(what) => format!("{what} is too large"),
        files::FileError::Io(what) => what.clone(),
    }
}

enum ReadError {
    NotFound,
    TooLarge(u64),
    Io(std::io::Error),
    /// The path resolves (through a link) to this, outside the project root.
    OutsideRoot(std::path::PathBuf),
}

/// Reads a declared input, refusing one larger than `cap` before reading it.
///
/// The engine refuses inputs that are links leaving the project root when it selects
/// them; this checks again at read time, in case a link was put in place since (by a
/// `command` step that ran in between, say). The path is resolved once and the resolved
/// path is what is read, from one open handle: its size is the handle's.
fn read_capped(
    abs: &std::path::Path,
    root: Option<&std::path::Path>,
    cap: u64,
) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let classify = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => ReadError::NotFound,
        _ => ReadError::Io(e),
    };
    let real = std::fs::canonicalize(abs).map_err(classify)?;
    if let Some(root) = root {
        let real_root = std::fs::canonicalize(root).map_err(classify)?;
        if !real.starts_with(&real_root) {
            return Err(ReadError::OutsideRoot(real));
        }
    }
    let file = std::fs::File::open(&real).map_err(classify)?;
    let len = file.metadata().map_err(classify)?.len();
    if len > cap {
        return Err(ReadError::TooLarge(len));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(classify)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

impl outputs::Host for HostState {
    async fn write(
        &mut self,
        name: String,
        contents: Vec<u8>,
    ) -> wasmtime::Result<Result<String, String>> {
        self.write_output(name, contents)
    }
}

impl secrets::HostSecret for HostState {
    async fn name(&mut self, handle: Resource<SecretHandle>) -> String {
        self.table
            .get(&handle)
            .map_or_else(|_| String::new(), |s| s.name.clone())
    }

    async fn drop(&mut self, handle: Resource<SecretHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl secrets::Host for HostState {
    async fn get(&mut self, name: String) -> Result<Resource<SecretHandle>, String> {
        if !self.secret_names.contains(&name) {
            return Err(format!("secret `{name}` is not given to this step"));
        }
        self.table
            .push(SecretHandle { name })
            .map_err(|e| format!("too many secret handles: {e}"))
    }
}
