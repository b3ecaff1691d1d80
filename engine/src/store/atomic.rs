//! Crash-safe writes: a reader sees the old file or the complete new one, never half of it.
//!
//! The bytes go to a fresh file in the store's `tmp/` (same filesystem as the destination),
//! are flushed to disk, renamed over the destination, and the destination's directory is
//! flushed so the rename itself survives a power cut. A crash leaves at most an orphan in
//! `tmp/`, which nothing reads and `gc` removes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temp file name no other thread or process is using.
fn temp_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{n}-{nanos:08x}.tmp", std::process::id())
}

/// Writes `bytes` to `dest` atomically, staging in `tmp_dir`. Creates `dest`'s directory.
pub(crate) fn write_atomic(tmp_dir: &Path, dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
    fs::create_dir_all(tmp_dir)?;
    let tmp: PathBuf = tmp_dir.join(temp_name());
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, dest)?;
        sync_dir(parent)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes `bytes` to `dest` atomically, staging beside it (a report or manifest a user
/// asked for: a reader, such as a CI server archiving it, never sees half of it).
pub fn write_atomic_beside(dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    write_atomic(parent, dest, bytes)
}

/// Flushes a directory's entries (the rename) to disk. Not possible on every platform;
/// where it is not, the rename is still atomic, only not yet durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}
