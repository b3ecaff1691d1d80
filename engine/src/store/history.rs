//! Run history: one JSON record per run, per project and env, named by a run id that sorts
//! by time. `forge explain` compares against the newest record in which a step has a
//! fingerprint; `gc` keeps what the newest records of each env still reference.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, atomic, io_err};
use crate::events::StepStatus;
use crate::model::Phase;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOutcome {
    Succeeded,
    Failed,
    Cancelled,
}

/// One step's part in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub status: StepStatus,
    /// [`crate::fingerprint::Fingerprint::hash`], when the fingerprint was known.
    pub fingerprint: Option<String>,
    /// [`crate::executor::StepOutput::hash`], when the step ran or was cached.
    pub output: Option<String>,
    pub duration_ms: u64,
    /// A result served by the remote cache: `remote hit from WRITER at TIME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// One `forge build` / `forge deploy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// From [`new_run_id`]: sorts by start time.
    pub id: String,
    /// From [`project_key`].
    pub project: String,
    pub env: String,
    /// `Build` (`forge build`) or `Deploy` (`forge deploy`): the newest successful deploy
    /// run of an env is what is deployed there, which `gc` never collects.
    pub phase: Phase,
    /// The command line, for people reading history.
    pub command: String,
    /// Milliseconds since the Unix epoch ([`now_ms`]).
    pub started: u64,
    pub finished: u64,
    pub outcome: RunOutcome,
    /// By step id.
    pub steps: BTreeMap<String, StepRecord>,
    /// The commit the run built or deployed, when the project is a git repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Who ran it (`$USER`), for `forge history`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// For a `forge rollback`: the run whose images it deployed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<String>,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A new run id: start time in milliseconds (fixed width, so ids sort by time) and a
/// suffix unique to this process and call. Within one process ids strictly increase even
/// when two are made in the same millisecond (a later id borrows the next millisecond).
pub fn new_run_id() -> String {
    static LAST_MS: AtomicU64 = AtomicU64::new(0);
    let now = now_ms();
    let prev = LAST_MS
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or(now);
    let ms = now.max(prev + 1);
    let mut h = blake3::Hasher::new();
    h.update(&std::process::id().to_le_bytes());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.update(&nanos.to_le_bytes());
    h.update(&ms.to_le_bytes());
    format!("{ms:013}-{}", &h.finalize().to_hex()[..8])
}

/// The key runs of one project are filed under: its name (made path-safe) and a short hash
/// of its root directory, so two checkouts of the same project keep separate histories.
pub fn project_key(name: &str, root: &Path) -> String {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let hash = blake3::hash(root.as_os_str().as_encoded_bytes()).to_hex();
    format!("{}-{}", safe_name(name), &hash[..12])
}

/// A name usable as one path component: `[A-Za-z0-9._-]`, never starting with `.`.
pub(crate) fn safe_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        s.insert(0, '_');
    }
    s
}

impl Store {
    fn history_dir(&self, project: &str, env: &str) -> PathBuf {
        self.path("history")
            .join(safe_name(project))
            .join(safe_name(env))
    }

    /// Writes a run record (atomically). Returns where.
    pub fn record_run(&self, run: &RunRecord) -> Result<PathBuf, StoreError> {
        let path = self
            .history_dir(&run.project, &run.env)
            .join(format!("{}.json", safe_name(&run.id)));
        let bytes = serde_json::to_vec_pretty(run).map_err(|e| StoreError::Decode {
            path: path.clone(),
            message: e.to_string(),
        })?;
        atomic::write_atomic(&self.tmp_dir(), &path, &bytes).map_err(io_err(&path))?;
        Ok(path)
    }

    /// Record files of one project and env, newest first.
    pub(crate) fn run_files(&self, project: &str, env: &str) -> Result<Vec<PathBuf>, StoreError> {
        list_run_files(&self.history_dir(project, env))
    }

    /// Every readable run record of one project and env, newest first. Records that cannot
    /// be parsed (another forge version's) are skipped.
    pub fn runs(&self, project: &str, env: &str) -> Result<Vec<RunRecord>, StoreError> {
        Ok(self
            .run_files(project, env)?
            .iter()
            .filter_map(|p| read_run(p))
            .collect())
    }

    /// The newest record of `step` that has a fingerprint: what `forge explain` diffs against.
    pub fn last_step(
        &self,
        project: &str,
        env: &str,
        step: &str,
    ) -> Result<Option<StepRecord>, StoreError> {
        Ok(self
            .last_steps(project, env, [step])?
            .remove(step)
            .map(|(_, record)| record))
    }

    /// The newest run in which `step` produced a result (it ran or was cached), with the
    /// step's record in it: what `forge show` reads.
    pub fn last_result(
        &self,
        project: &str,
        env: &str,
        step: &str,
    ) -> Result<Option<(RunRecord, StepRecord)>, StoreError> {
        for path in self.run_files(project, env)? {
            let Some(run) = read_run(&path) else {
                continue;
            };
            if let Some(record) = run.steps.get(step).filter(|r| {
                matches!(r.status, StepStatus::Ran | StepStatus::Cached) && r.fingerprint.is_some()
            }) {
                let record = record.clone();
                return Ok(Some((run, record)));
            }
        }
        Ok(None)
    }

    /// [`Store::last_step`] for many steps in one pass over the history, which stops as soon
    /// as every step is found (usually at the newest record). Each with the id of its run.
    pub fn last_steps<'a>(
        &self,
        project: &str,
        env: &str,
        steps: impl IntoIterator<Item = &'a str>,
    ) -> Result<BTreeMap<String, (String, StepRecord)>, StoreError> {
        let mut missing: std::collections::BTreeSet<&str> = steps.into_iter().collect();
        let mut found = BTreeMap::new();
        for path in self.run_files(project, env)? {
            if missing.is_empty() {
                break;
            }
            let Some(run) = read_run(&path) else {
                continue;
            };
            for (id, rec) in run.steps {
                if rec.fingerprint.is_some() && missing.remove(id.as_str()) {
                    found.insert(id, (run.id.clone(), rec));
                }
            }
        }
        Ok(found)
    }
}

pub(crate) fn list_run_files(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StoreError::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort_unstable_by(|a, b| b.cmp(a));
    Ok(files)
}

pub(crate) fn read_run(path: &Path) -> Option<RunRecord> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}
