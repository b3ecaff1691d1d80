//! `forge cache stats / verify / gc`.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::history::{list_run_files, read_run};
use super::{Store, StoreError, is_hash};

/// Temp files younger than this may belong to a write in progress; older ones are orphans
/// of a crash.
const TEMP_MAX_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Action cache entries.
    pub entries: usize,
    pub blobs: usize,
    /// Bytes in entries and blobs.
    pub bytes: u64,
    /// Run records by `project/env`.
    pub runs: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    Blob,
    ActionEntry,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorruptItem {
    pub kind: ItemKind,
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub blobs: usize,
    pub entries: usize,
    pub corrupt: Vec<CorruptItem>,
    /// Corrupt items deleted (with `repair`).
    pub repaired: usize,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.corrupt.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    pub runs_kept: usize,
    pub runs_deleted: usize,
    pub entries_deleted: usize,
    pub blobs_deleted: usize,
    pub temp_deleted: usize,
    pub bytes_freed: u64,
}

/// Every file two levels under `dir` (`<dir>/<shard>/<name>`), with its name.
fn sharded_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, StoreError> {
    let mut out = Vec::new();
    for shard in read_dir(dir)? {
        if !shard.is_dir() {
            continue;
        }
        for file in read_dir(&shard)? {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            out.push((name, file));
        }
    }
    out.sort();
    Ok(out)
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(entries.filter_map(|e| e.ok().map(|e| e.path())).collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(StoreError::Io {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

fn file_len(path: &Path) -> u64 {
    fs::symlink_metadata(path).map_or(0, |m| m.len())
}

/// Removes a file, counting its size; a file already gone (another gc, a repair) is fine.
fn remove(path: &Path, freed: &mut u64) -> Result<bool, StoreError> {
    let len = file_len(path);
    match fs::remove_file(path) {
        Ok(()) => {
            *freed += len;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(StoreError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

impl Store {
    /// `(project, env, env dir)` for every env with history.
    fn history_envs(&self) -> Result<Vec<(String, String, PathBuf)>, StoreError> {
        let mut out = Vec::new();
        for project in read_dir(&self.path("history"))? {
            for env in read_dir(&project)? {
                if env.is_dir() {
                    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
                    out.push((
                        name(&project).unwrap_or_default(),
                        name(&env).unwrap_or_default(),
                        env,
                    ));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let mut stats = StoreStats::default();
        for (_, path) in sharded_files(&self.path("ac"))? {
            stats.entries += 1;
            stats.bytes += file_len(&path);
        }
        for (_, path) in sharded_files(&self.path("cas"))? {
            stats.blobs += 1;
            stats.bytes += file_len(&path);
        }
        for (project, env, dir) in self.history_envs()? {
            let n = list_run_files(&dir)?.len();
            stats.runs.insert(format!("{project}/{env}"), n);
        }
        Ok(stats)
    }

    /// Re-hashes every blob and checks every action entry (checksum, and that the blobs it
    /// names exist intact). With `repair`, deletes what is corrupt: the next run rebuilds it.
    pub fn verify(&self, repair: bool) -> Result<VerifyReport, StoreError> {
        let mut report = VerifyReport::default();
        let mut bad_blobs = HashSet::new();
        for (name, path) in sharded_files(&self.path("cas"))? {
            report.blobs += 1;
            let reason = if !is_hash(&name) {
                Some("file name is not a blake3 hash".to_owned())
            } else {
                match self.get_blob(&name) {
                    Ok(_) => None,
                    Err(e) => Some(e.detail()),
                }
            };
            if let Some(reason) = reason {
                bad_blobs.insert(name);
                report.corrupt.push(CorruptItem {
                    kind: ItemKind::Blob,
                    path,
                    reason,
                });
            }
        }
        for (name, path) in sharded_files(&self.path("ac"))? {
            report.entries += 1;
            let reason = match self.entry_refs(&name) {
                Ok(Some((fp, out))) => [fp, out]
                    .into_iter()
                    .find(|b| {
                        bad_blobs.contains(b) || self.blob_path(b).map_or(true, |p| !p.exists())
                    })
                    .map(|b| format!("names missing or corrupt blob {b}")),
                Ok(None) => None,
                Err(e) => Some(e.detail()),
            };
            if let Some(reason) = reason {
                report.corrupt.push(CorruptItem {
                    kind: ItemKind::ActionEntry,
                    path,
                    reason,
                });
            }
        }
        if repair {
            let mut freed = 0;
            for item in &report.corrupt {
                if remove(&item.path, &mut freed)? {
                    report.repaired += 1;
                }
            }
        }
        Ok(report)
    }

    /// Deletes everything the newest `keep_runs_per_env` run records of each project and
    /// env do not need: older run records, action entries and blobs nothing kept refers to,
    /// and temp files orphaned by crashes. Fails with [`StoreError::Busy`] while any run
    /// holds the store (see [`Store::lock_shared`]).
    pub fn gc(&self, keep_runs_per_env: usize) -> Result<GcReport, StoreError> {
        let _lock = self.try_lock_exclusive()?;
        let mut report = GcReport::default();
        let mut freed = 0;
        let mut live_entries = HashSet::new();
        let mut live_blobs = HashSet::new();
        for (_, _, dir) in self.history_envs()? {
            let mut kept = 0;
            for path in list_run_files(&dir)? {
                let run = if kept < keep_runs_per_env {
                    read_run(&path)
                } else {
                    None
                };
                match run {
                    Some(run) => {
                        kept += 1;
                        for step in run.steps.into_values() {
                            live_entries.extend(step.fingerprint);
                            live_blobs.extend(step.output);
                        }
                    }
                    None => {
                        if remove(&path, &mut freed)? {
                            report.runs_deleted += 1;
                        }
                    }
                }
            }
            report.runs_kept += kept;
        }
        for (name, path) in sharded_files(&self.path("ac"))? {
            let refs = if live_entries.contains(&name) {
                self.entry_refs(&name).ok().flatten()
            } else {
                None
            };
            match refs {
                Some((fp, out)) => {
                    live_blobs.insert(fp);
                    live_blobs.insert(out);
                }
                None => {
                    if remove(&path, &mut freed)? {
                        report.entries_deleted += 1;
                    }
                }
            }
        }
        for (name, path) in sharded_files(&self.path("cas"))? {
            if !live_blobs.contains(&name) && remove(&path, &mut freed)? {
                report.blobs_deleted += 1;
            }
        }
        let now = SystemTime::now();
        for path in read_dir(&self.tmp_dir())? {
            let old = fs::symlink_metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > TEMP_MAX_AGE));
            if old && remove(&path, &mut freed)? {
                report.temp_deleted += 1;
            }
        }
        report.bytes_freed = freed;
        Ok(report)
    }
}
