//! The content-addressed store: action cache (fingerprint → output manifest), blobs by
//! hash, run history per env.
//!
//! # Layout
//!
//! ```text
//! <dir>/CACHEDIR.TAG                     tells backup tools to skip the store
//! <dir>/v2/lock                          shared by runs, exclusive for gc
//! <dir>/v2/key                           this store's secret key (see `key`)
//! <dir>/v2/cas/<2 hex>/<blake3>          blobs: output manifests (canonical JSON), output
//!                                        files, fingerprints (JSON)
//! <dir>/v2/ac/<2 hex>/<fingerprint hash> action cache entries (see `action`)
//! <dir>/v2/history/<project key>/<env>/<run id>.json   run records, newest = greatest id
//! <dir>/v2/stat/<root key>.bin           stat caches of `crate::files`
//! <dir>/v2/wasm/                         the plugin host's compiled components
//! <dir>/v2/tmp/                          staging for atomic writes
//! ```
//!
//! # Guarantees
//!
//! - Every write is atomic (temp file in `v1/tmp`, fsync, rename, fsync of the directory):
//!   a crash leaves the old state or the new one, plus at most an orphan temp file.
//! - Every read is verified: a blob must hash to its name, an action entry carries a
//!   checksum over its fields and its own key. Anything else is reported as
//!   [`StoreError::Corrupt`] and treated as a miss, never served.
//! - Several forge processes may share a store: writers only ever rename complete files
//!   into place, and identical content lands under identical names. `gc` deletes, so it
//!   takes the lock exclusively while runs hold it shared ([`Store::lock_shared`]).
//! - Only successful results can be recorded: [`Store::record`] takes a
//!   [`crate::executor::StepOutput`], which only a step that succeeded produces.

mod action;
pub(crate) mod atomic;
mod history;
mod key;
mod maintain;

pub use action::{ActionEntry, Lookup, canonical_json};
pub use atomic::write_atomic_beside;
pub use history::{RunOutcome, RunRecord, StepRecord, new_run_id, now_ms, project_key};
pub use key::StoreKey;
pub use maintain::{
    CorruptItem, GcItem, GcItemKind, GcOptions, GcReport, ItemKind, StepCounts, StoreStats,
    VerifyReport,
};

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// The versioned directory inside a store; a new layout gets a new directory, so old and
/// new forge versions can share a cache dir without misreading each other.
///
/// - `v1`: action entries named one output manifest; output files hid inside it.
/// - `v2`: action entries name their output files (name → blob hash, size); run records
///   say whether they were a build or a deploy; env values are hashed with the store key.
pub const LAYOUT_DIR: &str = "v2";

/// Layout directories of older forge versions, which this one neither reads nor collects.
const OLDER_LAYOUTS: &[&str] = &["v1"];

/// Where the plugin host keeps compiled components for the store at `store_dir`: beside
/// the store's own files, in the same layout version.
pub fn component_cache_dir(store_dir: &Path) -> PathBuf {
    store_dir.join(LAYOUT_DIR).join("wasm")
}

/// Where the `terraform` capability keeps its working directory for the project at `root`
/// and `env` (Terraform's `.terraform/` stays there between deploys): beside the store's
/// own files, never collected by gc.
pub fn terraform_work_dir(store_dir: &Path, root: &Path, env: &str) -> PathBuf {
    store_dir
        .join(LAYOUT_DIR)
        .join("terraform")
        .join(history::project_key("project", root))
        .join(history::safe_name(env))
}

/// Where `forge plan --terraform` runs Terraform for `env`: apart from the deploy's
/// directory, so a plan never disturbs a deploy running beside it.
pub fn terraform_plan_dir(store_dir: &Path, root: &Path, env: &str) -> PathBuf {
    store_dir
        .join(LAYOUT_DIR)
        .join("terraform-plan")
        .join(history::project_key("project", root))
        .join(history::safe_name(env))
}

/// Where the versions of external tools (`terraform`), keyed by their binaries' stat, are
/// kept for the store at `store_dir`, so a no-op command does not run them.
pub fn tool_versions_file(store_dir: &Path) -> PathBuf {
    store_dir.join(LAYOUT_DIR).join("tools.json")
}

/// Problems with the store.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StoreError {
    #[error("store I/O error at {path}: {source}")]
    #[diagnostic(
        code(forge::store::io),
        help(
            "check that the store directory is writable and the disk is not full; set FORGE_CACHE_DIR or --cache-dir to use another one"
        )
    )]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("corrupt store entry {path}: expected {expected}, found {actual}")]
    #[diagnostic(
        code(forge::store::corrupt),
        help(
            "forge ignores it and reruns the step; `forge cache verify --repair` deletes every corrupt entry"
        )
    )]
    Corrupt {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("cannot decode store entry {path}: {message}")]
    #[diagnostic(
        code(forge::store::decode),
        help(
            "the entry was written by an incompatible forge or damaged; `forge cache verify --repair` deletes it"
        )
    )]
    Decode { path: PathBuf, message: String },
    #[error("`{hash}` is not a blake3 hash")]
    #[diagnostic(
        code(forge::store::invalid_hash),
        help("store keys are 64 lowercase hex digits")
    )]
    InvalidHash { hash: String },
    #[error("the store at {path} is in use by another forge process")]
    #[diagnostic(
        code(forge::store::busy),
        help(
            "`forge cache gc` needs the store to itself; run it again when the other runs finish"
        )
    )]
    Busy { path: PathBuf },
}

impl StoreError {
    /// What is wrong, without the path the message also names: for reports that already
    /// print the path (`forge cache verify`).
    pub fn detail(&self) -> String {
        match self {
            StoreError::Io { source, .. } => source.to_string(),
            StoreError::Corrupt {
                expected, actual, ..
            } => format!("content hashes to {actual}, expected {expected}"),
            StoreError::Decode { message, .. } => format!("cannot decode: {message}"),
            other => other.to_string(),
        }
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An open store.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    layout: PathBuf,
}

/// Held by a run for as long as it reads and writes the store; `gc` cannot run meanwhile.
/// Dropping it releases the lock.
#[derive(Debug)]
#[must_use = "the lock is released when the guard is dropped"]
pub struct StoreLock {
    _file: File,
}

impl Store {
    /// Opens (creating if needed) the store at `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        let layout = dir.join(LAYOUT_DIR);
        for sub in ["ac", "cas", "history", "stat", "tmp"] {
            let p = layout.join(sub);
            fs::create_dir_all(&p).map_err(io_err(&p))?;
        }
        let tag = dir.join("CACHEDIR.TAG");
        if !tag.exists() {
            atomic::write_atomic(
                &layout.join("tmp"),
                &tag,
                b"Signature: 8a477f597d28d172789f06886806bc55\n\
                  # This file marks the forge cache; backup tools may skip this directory.\n",
            )
            .map_err(io_err(&tag))?;
        }
        Ok(Store { dir, layout })
    }

    /// The store directory: `FORGE_CACHE_DIR`, else `$XDG_CACHE_HOME/forge`, else the
    /// platform cache dir (`~/.cache/forge`, `~/Library/Caches/forge`), else `~/.cache/forge`.
    pub fn default_dir() -> PathBuf {
        Store::default_dir_with_env(|name| std::env::var_os(name))
    }

    /// [`Store::default_dir`] with the environment supplied by the caller.
    pub fn default_dir_with_env(env: impl Fn(&str) -> Option<OsString>) -> PathBuf {
        if let Some(dir) = env("FORGE_CACHE_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        // The XDG spec says relative values are invalid and must be ignored.
        if let Some(xdg) = env("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
        {
            return xdg.join("forge");
        }
        if let Some(dir) = dirs::cache_dir() {
            return dir.join("forge");
        }
        let home = env("HOME")
            .map(PathBuf::from)
            .or_else(dirs::home_dir)
            .unwrap_or_default();
        home.join(".cache").join("forge")
    }

    /// The directory the store was opened at.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether an older forge's data sits beside a layout of this one that holds no
    /// result yet: the first runs after an upgrade, in which every step runs once (and a
    /// run says why). One stat when there is no older layout.
    pub fn upgraded(&self) -> bool {
        !self.older_layouts().is_empty()
            && fs::read_dir(self.path("ac")).map_or(true, |mut d| d.next().is_none())
    }

    /// Directories of older store layouts found beside this one (`<dir>/v1`): data an
    /// older forge wrote, which this one does not read, verify or collect. `forge cache`
    /// commands mention them so their space is not lost silently.
    pub fn older_layouts(&self) -> Vec<PathBuf> {
        OLDER_LAYOUTS
            .iter()
            .map(|v| self.dir.join(v))
            .filter(|p| p.is_dir())
            .collect()
    }

    pub(crate) fn path(&self, sub: &str) -> PathBuf {
        self.layout.join(sub)
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.layout.join("tmp")
    }

    fn lock_file(&self) -> Result<(File, PathBuf), StoreError> {
        let path = self.layout.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        Ok((file, path))
    }

    /// Takes the store's lock shared, waiting while `gc` holds it. A run holds this for its
    /// whole duration so that nothing it writes is collected before its run record exists.
    pub fn lock_shared(&self) -> Result<StoreLock, StoreError> {
        let (file, path) = self.lock_file()?;
        file.lock_shared().map_err(io_err(&path))?;
        Ok(StoreLock { _file: file })
    }

    /// Takes the lock exclusively, or fails with [`StoreError::Busy`] if anyone holds it.
    pub(crate) fn try_lock_exclusive(&self) -> Result<StoreLock, StoreError> {
        let (file, path) = self.lock_file()?;
        match file.try_lock() {
            Ok(()) => Ok(StoreLock { _file: file }),
            // The store, not its lock file, is what the user knows by name.
            Err(fs::TryLockError::WouldBlock) => Err(StoreError::Busy {
                path: self.dir.clone(),
            }),
            Err(fs::TryLockError::Error(e)) => Err(StoreError::Io { path, source: e }),
        }
    }

    /// Stores `bytes` under their blake3 hash and returns it (hex). Storing the same bytes
    /// twice is cheap and harmless; a damaged copy already there is replaced.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let hash = blake3::hash(bytes).to_hex().to_string();
        let path = self.blob_path(&hash)?;
        if let Ok(existing) = fs::read(&path)
            && blake3::hash(&existing).to_hex().as_str() == hash
        {
            return Ok(hash);
        }
        atomic::write_atomic(&self.tmp_dir(), &path, bytes).map_err(io_err(&path))?;
        Ok(hash)
    }

    /// The blob stored under `hash`, verified; `None` if there is none. A blob whose bytes do
    /// not hash to its name is [`StoreError::Corrupt`].
    pub fn get_blob(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.blob_path(hash)?;
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StoreError::Io { path, source }),
        };
        let actual = blake3::hash(&bytes).to_hex();
        if actual.as_str() != hash {
            return Err(StoreError::Corrupt {
                path,
                expected: hash.to_owned(),
                actual: actual.to_string(),
            });
        }
        Ok(Some(bytes))
    }

    /// Why the remote cache's entry for fingerprint hash `key` was found bad, when it was
    /// (an output blob that did not match its hash): such an entry is not used again.
    pub fn remote_refused(&self, key: &str) -> Option<String> {
        fs::read_to_string(self.sharded("remote-refused", key).ok()?).ok()
    }

    /// Remembers that the remote cache's entry for `key` must not be served again.
    pub fn refuse_remote(&self, key: &str, why: &str) -> Result<(), StoreError> {
        let path = self.sharded("remote-refused", key)?;
        atomic::write_atomic(&self.tmp_dir(), &path, why.as_bytes()).map_err(io_err(&path))
    }

    pub(crate) fn blob_path(&self, hash: &str) -> Result<PathBuf, StoreError> {
        self.sharded("cas", hash)
    }

    pub(crate) fn entry_path(&self, hash: &str) -> Result<PathBuf, StoreError> {
        self.sharded("ac", hash)
    }

    fn sharded(&self, kind: &str, hash: &str) -> Result<PathBuf, StoreError> {
        if !is_hash(hash) {
            return Err(StoreError::InvalidHash {
                hash: hash.to_owned(),
            });
        }
        Ok(self.layout.join(kind).join(&hash[..2]).join(hash))
    }
}

/// 64 lowercase hex digits: the only names the store reads or writes, so a key can never
/// escape its directory.
pub fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
