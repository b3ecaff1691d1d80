//! The store as fingerprints see it: look a fingerprint up, record a success, read and
//! write run history. Kept in one place so the scheduler, `plan` and `explain` agree on
//! what "cached", "corrupt" and "last run" mean.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::Error;
use crate::events::StepStatus;
use crate::executor::StepOutput;
use crate::fingerprint::Fingerprint;
use crate::store::{self, RunRecord, Store};

/// The answer of the action cache for one fingerprint.
pub(crate) enum Lookup {
    Hit {
        output: Arc<StepOutput>,
        output_hash: String,
    },
    Miss,
    /// An entry exists but does not verify, or an output file of it is gone: reported,
    /// then treated as a miss.
    Corrupt(String),
}

/// A step's last recorded run in one env.
#[derive(Debug, Clone)]
pub(crate) struct PreviousStep {
    pub status: StepStatus,
    pub fingerprint_hash: String,
    /// The run it was recorded in.
    pub run: String,
    /// The full fingerprint, for field-by-field diffs.
    pub fingerprint: Option<Fingerprint>,
    /// [`crate::store::StepRecord::origin`].
    pub origin: Option<String>,
}

/// For each step, its most recent recorded run that computed a fingerprint.
#[derive(Debug, Default)]
pub(crate) struct PreviousRuns {
    steps: BTreeMap<String, PreviousStep>,
}

impl PreviousRuns {
    pub fn last(&self, step: &str) -> Option<&PreviousStep> {
        self.steps.get(step)
    }

    /// Why `step` runs with `fingerprint`, in plain words: the first change since its last
    /// run, or "never run".
    pub fn reason(&self, step: &str, fingerprint: &Fingerprint, key: &str) -> String {
        let Some(previous) = self.last(step) else {
            return "never run".to_string();
        };
        if previous.fingerprint_hash == key {
            return match previous.status {
                StepStatus::Failed => "same inputs as its last run, which failed".to_string(),
                StepStatus::Skipped => "same inputs as its last run, which was cancelled".into(),
                _ => "result no longer in the store".to_string(),
            };
        }
        let Some(old) = &previous.fingerprint else {
            return "inputs changed since its last run".to_string();
        };
        let changes = fingerprint.diff(old);
        match changes.first() {
            None => "inputs changed since its last run".to_string(),
            Some(first) if changes.len() > 1 => {
                format!("{first} (and {} more)", changes.len() - 1)
            }
            Some(first) => first.to_string(),
        }
    }
}

/// [`PreviousRuns`], read from the store the first time a step needs them. Only a step that
/// misses the cache does (for its reason, or `plan`'s diff): a no-op command never reads
/// the history record, nor the action entry and fingerprint blob of every step.
pub(crate) struct LazyPrevious {
    cache: Cache,
    project: String,
    env: String,
    steps: Vec<String>,
    loaded: OnceLock<PreviousRuns>,
}

impl LazyPrevious {
    /// Nothing is read until [`LazyPrevious::get`].
    pub fn new(cache: &Cache, project: String, env: String, steps: Vec<String>) -> Self {
        LazyPrevious {
            cache: cache.clone(),
            project,
            env,
            steps,
            loaded: OnceLock::new(),
        }
    }

    /// Reads the runs on first use; a failed read is returned and tried again next time.
    pub fn get(&self) -> Result<&PreviousRuns, Error> {
        if let Some(previous) = self.loaded.get() {
            return Ok(previous);
        }
        let previous = self.cache.previous(
            &self.project,
            &self.env,
            self.steps.iter().map(String::as_str),
        )?;
        // Two tasks may race to load; both read the same records, either result will do.
        Ok(self.loaded.get_or_init(|| previous))
    }
}

/// The store, opened for one command.
#[derive(Clone)]
pub(crate) struct Cache {
    store: Store,
}

impl Cache {
    /// Opens (creating if needed) the store for a run.
    pub fn open(dir: &Path) -> Result<Cache, Error> {
        Ok(Cache {
            store: Store::open(dir)?,
        })
    }

    /// Opens the store for `plan` / `explain`. (The store creates its layout on open; that
    /// is the only write, and a later run needs it anyway.)
    pub fn open_read_only(dir: &Path) -> Result<Cache, Error> {
        Cache::open(dir)
    }

    /// The store this cache reads.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn lock_shared(&self) -> Result<crate::store::StoreLock, Error> {
        Ok(self.store.lock_shared()?)
    }

    pub fn lookup(&self, key: &str) -> Lookup {
        match self.store.lookup(key) {
            store::Lookup::Hit(entry) => Lookup::Hit {
                output: Arc::new(entry.result),
                output_hash: entry.output,
            },
            store::Lookup::Miss => Lookup::Miss,
            store::Lookup::Corrupt(err) => Lookup::Corrupt(err.to_string()),
        }
    }

    /// Records a success; returns the output hash downstream fingerprints use.
    pub fn record(&self, fingerprint: &Fingerprint, output: &StepOutput) -> Result<String, Error> {
        Ok(self.store.record(fingerprint, output)?.output)
    }
}

impl Cache {
    /// The last recorded run of each of `steps` in `env`, with the full fingerprint when
    /// the store still has it (it does for every step that succeeded).
    pub fn previous<'a>(
        &self,
        project: &str,
        env: &str,
        steps: impl IntoIterator<Item = &'a str>,
    ) -> Result<PreviousRuns, Error> {
        let records = self.store.last_steps(project, env, steps)?;
        let mut out = PreviousRuns::default();
        for (id, (run, record)) in records {
            let Some(hash) = record.fingerprint else {
                continue;
            };
            // A damaged or collected entry only costs the field-by-field diff.
            let fingerprint = self.store.fingerprint_by_key(&hash).ok().flatten();
            out.steps.insert(
                id,
                PreviousStep {
                    status: record.status,
                    fingerprint_hash: hash,
                    run,
                    fingerprint,
                    origin: record.origin.clone(),
                },
            );
        }
        Ok(out)
    }

    /// Writes a run's record to its env's history.
    pub fn record_run(&self, record: &RunRecord) -> Result<(), Error> {
        self.store.record_run(record)?;
        Ok(())
    }
}
