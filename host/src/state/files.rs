//! `forge:plugin/files` on [`FilesCtx`]: the step's declared input files, and its upstream
//! steps' output files ([`UpstreamFiles`], which `registry.push-blob` reads too), both
//! read-only and within the read cap.

use std::collections::BTreeMap;
use std::path::PathBuf;

use forge_engine::executor::check_relative_path;
use forge_engine::store::Store;

use crate::bindings::forge::plugin::files;
use crate::error::bytes;

/// What `files` reads.
pub(crate) struct FilesCtx {
    /// Declared inputs: project-relative `/`-separated path → absolute path.
    inputs: BTreeMap<String, PathBuf>,
    /// [`crate::Limits::read`].
    read_cap: u64,
    pub(crate) upstream: UpstreamFiles,
}

impl FilesCtx {
    pub(crate) fn new(
        inputs: BTreeMap<String, PathBuf>,
        read_cap: u64,
        upstream: UpstreamFiles,
    ) -> FilesCtx {
        FilesCtx {
            inputs,
            read_cap,
            upstream,
        }
    }
}

/// The output files of the steps a step needs, as the engine recorded them.
pub(crate) struct UpstreamFiles {
    /// Upstream step id → its manifest and output files.
    steps: BTreeMap<String, crate::host::Upstream>,
    /// Where upstream output files are; `None` when the caller runs without a store.
    store: Option<Store>,
}

impl UpstreamFiles {
    pub(crate) fn new(
        steps: BTreeMap<String, crate::host::Upstream>,
        store: Option<Store>,
    ) -> UpstreamFiles {
        UpstreamFiles { steps, store }
    }

    /// An output file of an upstream step, from the store. `cap` bounds what may be handed
    /// to the plugin; `None` when the bytes stay in the host.
    pub(crate) fn read(
        &self,
        step: &str,
        name: &str,
        cap: Option<u64>,
    ) -> impl Future<Output = Result<Vec<u8>, files::FileError>> + Send + 'static {
        let label = format!("{step}: {name}");
        // Only what the step wrote in its run (the engine's record of it), never a name
        // its manifest claims: a manifest is the plugin's to write, the files are not.
        let file = match self.steps.get(step) {
            None => Err(format!(
                "`{step}` is not a step this one needs; add it to the step's `needs`"
            )),
            Some(up) => up
                .files
                .get(name)
                .cloned()
                .ok_or_else(|| format!("step `{step}` wrote no output file `{name}`")),
        };
        let store = self.store.clone();
        async move {
            let file = file.map_err(files::FileError::NotDeclared)?;
            let hash = file.hash;
            let Some(store) = store else {
                return Err(files::FileError::Io(format!(
                    "{label}: this run has no store to read upstream outputs from"
                )));
            };
            let outcome = off_runtime(&label, move || store.get_blob(&hash)).await?;
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
}

/// Declared-path lookup key for `path`, or `None` if it is not a plain project-relative
/// path ([`check_relative_path`]). Such paths are never declared.
fn plain_relative(path: &str) -> Option<&str> {
    check_relative_path(path).is_ok().then_some(path)
}

impl files::Host for FilesCtx {
    async fn inputs(&mut self) -> Vec<String> {
        self.inputs.keys().cloned().collect()
    }

    async fn read(&mut self, path: String) -> Result<Vec<u8>, files::FileError> {
        let Some(abs) = plain_relative(&path)
            .and_then(|p| self.inputs.get(p))
            .cloned()
        else {
            return Err(files::FileError::NotDeclared(path));
        };
        let cap = self.read_cap;
        // The project root: `abs` is the root joined with the declared path's segments.
        let root = abs
            .ancestors()
            .nth(path.split('/').count())
            .map(std::path::Path::to_path_buf);
        let outcome = off_runtime(&path, move || read_capped(&abs, root.as_deref(), cap)).await?;
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
        let cap = self.read_cap;
        self.upstream.read(&step, &name, Some(cap)).await
    }
}

/// Runs `read`, disk I/O up to the read cap, off the runtime thread, which other steps
/// share (inline only when polled outside a tokio runtime, where there is no pool).
/// `what` names the file for the error.
async fn off_runtime<T: Send + 'static>(
    what: &str,
    read: impl FnOnce() -> T + Send + 'static,
) -> Result<T, files::FileError> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn_blocking(read)
            .await
            .map_err(|e| files::FileError::Io(format!("{what}: the read failed: {e}"))),
        Err(_) => Ok(read()),
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
