//! `forge cache stats / verify / gc`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::action::EntryFile;
use super::history::{RunOutcome, list_run_files, read_run};
use super::{Store, StoreError, is_hash};
use crate::events::StepStatus;
use crate::model::Phase;

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
    /// What the steps of those recorded runs did, by `project/env`. (A run in which every
    /// step was a local hit is not recorded, so local hits are those of runs where
    /// something else happened too.)
    pub steps: BTreeMap<String, StepCounts>,
}

/// How the steps of recorded runs ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StepCounts {
    pub ran: usize,
    /// Served from this store.
    pub local_hits: usize,
    /// Served by the shared remote cache.
    pub remote_hits: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    Blob,
    ActionEntry,
    /// A compiled plugin in [`super::component_cache_dir`] (checked by the plugin host,
    /// which owns its format).
    CompiledComponent,
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
    /// Compiled components checked (filled in by whoever knows their format).
    pub components: usize,
    pub corrupt: Vec<CorruptItem>,
    /// Corrupt items deleted (with `repair`).
    pub repaired: usize,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.corrupt.is_empty()
    }
}

/// What `forge cache gc` keeps and how far it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcOptions {
    /// Run records kept per project and env (newest first); what they need is kept.
    pub keep_runs: usize,
    /// With a size, unrooted entries are evicted least recently used first only until the
    /// store fits (an entry is used by each run that records its fingerprint); without
    /// one, every unrooted entry goes.
    pub max_size: Option<u64>,
    /// Report what would go and delete nothing.
    pub dry_run: bool,
}

impl GcOptions {
    /// Keep `keep_runs` runs per env and what they need, delete everything else.
    pub fn keep_runs(keep_runs: usize) -> GcOptions {
        GcOptions {
            keep_runs,
            max_size: None,
            dry_run: false,
        }
    }
}

/// One thing `gc` removed (or, with `dry_run`, would remove).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GcItem {
    pub kind: GcItemKind,
    /// The run id, or the entry's or blob's hash.
    pub name: String,
    /// For a run: `project/env`; for an entry: the step it is a result of, when its
    /// fingerprint is readable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub of: Option<String>,
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GcItemKind {
    Run,
    Entry,
    Blob,
    Temp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    pub dry_run: bool,
    /// Run records kept: the newest `keep_runs` of each env, plus each env's newest
    /// successful deploy when it is older than those.
    pub runs_kept: usize,
    /// Of `runs_kept`, the deploy runs kept only because they are what is deployed.
    pub deployed_kept: usize,
    pub runs_deleted: usize,
    /// Action entries the kept runs need.
    pub entries_rooted: usize,
    /// Unrooted entries kept because the store fits `max_size` with them.
    pub entries_cached: usize,
    pub entries_deleted: usize,
    pub blobs_deleted: usize,
    pub temp_deleted: usize,
    pub bytes_freed: u64,
    /// Entries and blobs left, in bytes.
    pub bytes_left: u64,
    /// What the rooted entries alone take, in bytes: more than `max_size` means the size
    /// cannot be met without losing a kept run's results.
    pub bytes_rooted: u64,
    /// Everything removed (or that would be), runs first.
    pub removed: Vec<GcItem>,
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
            let files = list_run_files(&dir)?;
            let mut counts = StepCounts::default();
            for run in files.iter().filter_map(|p| read_run(p)) {
                for step in run.steps.values() {
                    match (step.status, &step.origin) {
                        (StepStatus::Ran, _) => counts.ran += 1,
                        (StepStatus::Cached, Some(_)) => counts.remote_hits += 1,
                        (StepStatus::Cached, None) => counts.local_hits += 1,
                        _ => {}
                    }
                }
            }
            stats.runs.insert(format!("{project}/{env}"), files.len());
            stats.steps.insert(format!("{project}/{env}"), counts);
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
                Ok(Some(entry)) => entry
                    .blobs()
                    .find(|b| {
                        bad_blobs.contains(*b) || self.blob_path(b).map_or(true, |p| !p.exists())
                    })
                    .map(|b| {
                        let what = entry.files.iter().find(|(_, f)| f.hash == b).map_or_else(
                            || "blob".to_owned(),
                            |(n, _)| format!("output file `{n}`, blob"),
                        );
                        format!("names missing or corrupt {what} {b}")
                    }),
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

    /// Deletes what the kept runs do not need: run records past the newest
    /// `keep_runs` of each project and env (the newest successful deploy of each env is
    /// always kept: it is what is deployed there, a rollback target), action entries no
    /// kept run refers to (least recently used first, only as far as `max_size` requires,
    /// when given), blobs no remaining entry names, and temp files orphaned by crashes.
    /// Fails with [`StoreError::Busy`] while any run holds the store
    /// (see [`Store::lock_shared`]).
    pub fn gc(&self, options: &GcOptions) -> Result<GcReport, StoreError> {
        let _lock = self.try_lock_exclusive()?;
        let mut report = GcReport {
            dry_run: options.dry_run,
            ..GcReport::default()
        };
        let mut freed = 0;
        let delete = |path: &Path, freed: &mut u64| -> Result<bool, StoreError> {
            if options.dry_run {
                *freed += file_len(path);
                Ok(true)
            } else {
                remove(path, freed)
            }
        };

        // Runs: roots, and when each entry was last used.
        let mut rooted: HashSet<String> = HashSet::new();
        let mut last_used: HashMap<String, u64> = HashMap::new();
        for (project, env, dir) in self.history_envs()? {
            let mut kept = 0;
            let mut deployed_seen = false;
            for path in list_run_files(&dir)? {
                let run = read_run(&path);
                let newest = kept < options.keep_runs;
                let deployed = !deployed_seen
                    && run.as_ref().is_some_and(|r| {
                        r.phase == Phase::Deploy && r.outcome == RunOutcome::Succeeded
                    });
                deployed_seen |= deployed;
                if let Some(run) = &run {
                    for step in run.steps.values() {
                        if let Some(fp) = &step.fingerprint {
                            let t = last_used.entry(fp.clone()).or_default();
                            *t = (*t).max(run.started);
                        }
                    }
                }
                match run {
                    Some(run) if newest || deployed => {
                        kept += 1;
                        if !newest {
                            report.deployed_kept += 1;
                        }
                        rooted.extend(run.steps.into_values().filter_map(|s| s.fingerprint));
                    }
                    run => {
                        let bytes = file_len(&path);
                        if delete(&path, &mut freed)? {
                            report.runs_deleted += 1;
                            report.removed.push(GcItem {
                                kind: GcItemKind::Run,
                                name: run.map_or_else(
                                    || {
                                        path.file_stem().map_or_else(String::new, |s| {
                                            s.to_string_lossy().into_owned()
                                        })
                                    },
                                    |r| r.id,
                                ),
                                of: Some(format!("{project}/{env}")),
                                bytes,
                            });
                        }
                    }
                }
            }
            report.runs_kept += kept;
        }

        // Entries: what each needs; unreadable ones go.
        let mut blob_refs: HashMap<String, usize> = HashMap::new();
        let mut candidates = Vec::new();
        let mut entries = Vec::new();
        for (name, path) in sharded_files(&self.path("ac"))? {
            match self.entry_refs(&name).ok().flatten() {
                Some(entry) => {
                    for blob in entry.blobs() {
                        *blob_refs.entry(blob.to_owned()).or_default() += 1;
                    }
                    if rooted.contains(&name) {
                        report.entries_rooted += 1;
                    } else {
                        let used = last_used.get(&name).copied().unwrap_or(entry.created_ms);
                        candidates.push((used, name.clone()));
                    }
                    entries.push((name, path, Some(entry)));
                }
                None => entries.push((name, path, None)),
            }
        }
        let blob_sizes: HashMap<String, u64> = sharded_files(&self.path("cas"))?
            .into_iter()
            .map(|(name, path)| {
                let len = file_len(&path);
                (name, len)
            })
            .collect();
        let entry_sizes: HashMap<String, u64> = entries
            .iter()
            .map(|(name, path, _)| (name.clone(), file_len(path)))
            .collect();

        // Which unrooted entries go: all of them, or the least recently used ones until
        // what is left fits.
        let mut doomed: HashSet<String> = entries
            .iter()
            .filter(|(_, _, e)| e.is_none())
            .map(|(name, _, _)| name.clone())
            .collect();
        candidates.sort();
        match options.max_size {
            None => doomed.extend(candidates.iter().map(|(_, name)| name.clone())),
            Some(max) => {
                // Orphan blobs and unreadable entries go whatever the size.
                let mut live: u64 = entries
                    .iter()
                    .filter(|(name, _, e)| e.is_some() && !doomed.contains(name))
                    .map(|(name, _, _)| entry_sizes[name])
                    .sum::<u64>()
                    + blob_refs
                        .keys()
                        .filter_map(|b| blob_sizes.get(b))
                        .sum::<u64>();
                let by_name: HashMap<&str, &EntryFile> = entries
                    .iter()
                    .filter_map(|(name, _, e)| Some((name.as_str(), e.as_ref()?)))
                    .collect();
                let mut refs = blob_refs.clone();
                for (_, name) in &candidates {
                    if live <= max {
                        report.entries_cached += 1;
                        continue;
                    }
                    doomed.insert(name.clone());
                    live -= entry_sizes[name];
                    for blob in by_name[name.as_str()].blobs() {
                        let n = refs.get_mut(blob).expect("counted above");
                        *n -= 1;
                        if *n == 0 {
                            live -= blob_sizes.get(blob).copied().unwrap_or(0);
                        }
                    }
                }
            }
        }

        for (name, path, entry) in &entries {
            if !doomed.contains(name) {
                continue;
            }
            if let Some(entry) = entry {
                for blob in entry.blobs() {
                    if let Some(n) = blob_refs.get_mut(blob) {
                        *n -= 1;
                    }
                }
            }
            let of = entry
                .as_ref()
                .and_then(|e| self.fingerprint(&e.fingerprint).ok().flatten())
                .map(|fp| fp.step);
            let bytes = entry_sizes[name];
            if delete(path, &mut freed)? {
                report.entries_deleted += 1;
                report.removed.push(GcItem {
                    kind: GcItemKind::Entry,
                    name: name.clone(),
                    of,
                    bytes,
                });
            }
        }
        for (name, path) in sharded_files(&self.path("cas"))? {
            if blob_refs.get(&name).is_some_and(|n| *n > 0) {
                continue;
            }
            let bytes = file_len(&path);
            if delete(&path, &mut freed)? {
                report.blobs_deleted += 1;
                report.removed.push(GcItem {
                    kind: GcItemKind::Blob,
                    name,
                    of: None,
                    bytes,
                });
            }
        }
        let now = SystemTime::now();
        for path in read_dir(&self.tmp_dir())? {
            let old = fs::symlink_metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > TEMP_MAX_AGE));
            let bytes = file_len(&path);
            if old && delete(&path, &mut freed)? {
                report.temp_deleted += 1;
                report.removed.push(GcItem {
                    kind: GcItemKind::Temp,
                    name: path
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                    of: None,
                    bytes,
                });
            }
        }

        let by_name: HashMap<&str, &EntryFile> = entries
            .iter()
            .filter_map(|(name, _, e)| Some((name.as_str(), e.as_ref()?)))
            .collect();
        let mut rooted_blobs = HashSet::new();
        for name in rooted.iter().filter(|n| by_name.contains_key(n.as_str())) {
            report.bytes_rooted += entry_sizes[name];
            rooted_blobs.extend(by_name[name.as_str()].blobs());
        }
        report.bytes_rooted += rooted_blobs
            .iter()
            .filter_map(|b| blob_sizes.get(*b))
            .sum::<u64>();
        report.bytes_left = entries
            .iter()
            .filter(|(name, _, _)| !doomed.contains(name))
            .map(|(name, _, _)| entry_sizes[name])
            .sum::<u64>()
            + blob_refs
                .iter()
                .filter(|(_, n)| **n > 0)
                .filter_map(|(b, _)| blob_sizes.get(b))
                .sum::<u64>();
        report.bytes_freed = freed;
        Ok(report)
    }
}
