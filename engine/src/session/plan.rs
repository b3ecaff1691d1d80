//! `forge plan` and `forge explain`: what a run would do, and why, without running anything.
//!
//! Both walk the selected steps in graph order. A step whose upstream steps are all cached
//! has a knowable fingerprint: it is looked up in the store (`cached`) or diffed against
//! the step's last recorded run in this env (`never run`, `changed`). A step with an
//! upstream that will run cannot be known until that upstream produces its output
//! (`after upstream`). Nothing is written except the stat cache.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use serde::Serialize;

use crate::Error;
use crate::events::EventSink;
use crate::events::StepStatus;
use crate::executor::StepOutput;
use crate::fingerprint::cache::{Cache, LazyPrevious, Lookup, PreviousRuns};
use crate::fingerprint::inputs::Inputs;
use crate::fingerprint::{Change, Fingerprint};
use crate::graph::Step;
use crate::model::Phase;
use crate::recheck::Rechecker;

use super::Session;

/// What `forge plan` reports for one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum PlanStatus {
    /// Fingerprint found in the store: nothing to do.
    Cached,
    /// In the store, but the world it describes changed outside forge (its
    /// [`crate::recheck::Recheck`] found it stale): it would run again.
    Stale { reason: String },
    /// Never run with any recorded fingerprint in this env.
    NeverRun,
    /// Inputs differ from the last recorded run.
    Changed { changes: Vec<Change> },
    /// Same inputs as the last recorded run, but no result in the store: that run failed
    /// or was cancelled, or the entry was removed (`cache gc`) or found corrupt.
    NotInStore,
    /// Its fingerprint cannot be known until an upstream step runs.
    AfterUpstream { upstream: Vec<String> },
}

impl PlanStatus {
    /// One short phrase: "cached", "never run", "changed: file src/main.rs", ...
    pub fn describe(&self) -> String {
        match self {
            PlanStatus::Cached => "cached".to_string(),
            PlanStatus::NeverRun => "never run".to_string(),
            PlanStatus::Stale { reason } => reason.clone(),
            PlanStatus::Changed { changes } => match changes.first() {
                Some(first) if changes.len() > 1 => {
                    format!("{first} (and {} more)", changes.len() - 1)
                }
                Some(first) => first.to_string(),
                None => "inputs changed since its last run".to_string(),
            },
            PlanStatus::NotInStore => "same inputs as last run, result not in the store".into(),
            PlanStatus::AfterUpstream { upstream } => format!("after {}", upstream_run(upstream)),
        }
    }
}

/// "a runs", "a and b run", "a, b and c run".
pub(crate) fn upstream_run(upstream: &[String]) -> String {
    match upstream {
        [] => "its upstream steps run".to_string(),
        [one] => format!("{one} runs"),
        [rest @ .., last] => format!("{} and {last} run", rest.join(", ")),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    pub step: String,
    #[serde(flatten)]
    pub status: PlanStatus,
    /// Runs inside the env's state lock.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub env: String,
    pub steps: Vec<PlannedStep>,
    /// The env's state lock, when the plan has locked steps.
    pub lock: Option<PlannedLock>,
}

/// Whether a deploy would take the env's state lock.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedLock {
    /// Where it is (`S3 lockfile s3://…`).
    pub backend: String,
    /// A locked step would run, so the lock would be taken; all cached: no lock.
    pub taken: bool,
}

impl Plan {
    /// Whether any step would run (`--detailed-exitcode` 2).
    pub fn has_work(&self) -> bool {
        self.steps
            .iter()
            .any(|s| !matches!(s.status, PlanStatus::Cached))
    }
}

/// The step's last recorded run in this env.
#[derive(Debug, Clone, Serialize)]
pub struct LastRun {
    pub status: StepStatus,
    /// Fingerprint hash of that run.
    pub fingerprint: String,
    /// Where its result came from, when the remote cache served it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// What `forge explain STEP` reports. As JSON: `{"step", "env", "status": "cached" |
/// "stale" | "never-run" | "changed" | "not-in-store" | "after-upstream", "reason"
/// (stale only), "upstream": [...] (after upstream only), "changes": [...],
/// "fingerprint", "last_run"}`.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub step: String,
    pub env: String,
    pub status: PlanStatus,
    /// The step's own input changes against its last recorded run. Equal to the changes of
    /// `Changed`; for `AfterUpstream`, what is already known to differ (its config, files,
    /// env values, commit, and the upstream outputs that are known).
    pub changes: Vec<Change>,
    /// Current fingerprint hash, when it can be known without running anything.
    pub fingerprint: Option<String>,
    pub last_run: Option<LastRun>,
}

impl PlanStatus {
    /// The status name used in JSON (`"after-upstream"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            PlanStatus::Cached => "cached",
            PlanStatus::NeverRun => "never-run",
            PlanStatus::Stale { .. } => "stale",
            PlanStatus::Changed { .. } => "changed",
            PlanStatus::NotInStore => "not-in-store",
            PlanStatus::AfterUpstream { .. } => "after-upstream",
        }
    }
}

// By hand: flattening `status` would write `changes` twice for a changed step.
impl Serialize for Explanation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            step: &'a str,
            env: &'a str,
            status: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            reason: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            upstream: Option<&'a [String]>,
            changes: &'a [Change],
            fingerprint: &'a Option<String>,
            last_run: &'a Option<LastRun>,
        }
        Json {
            step: &self.step,
            env: &self.env,
            status: self.status.name(),
            reason: match &self.status {
                PlanStatus::Stale { reason } => Some(reason),
                _ => None,
            },
            upstream: match &self.status {
                PlanStatus::AfterUpstream { upstream } => Some(upstream),
                _ => None,
            },
            changes: &self.changes,
            fingerprint: &self.fingerprint,
            last_run: &self.last_run,
        }
        .serialize(serializer)
    }
}

impl fmt::Display for Explanation {
    /// Plain words for the terminal, one change per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (env {}): ", self.step, self.env)?;
        match &self.status {
            PlanStatus::Cached => writeln!(f, "cached, nothing to do")?,
            PlanStatus::NeverRun => writeln!(f, "never run in this env")?,
            PlanStatus::Stale { reason } => writeln!(f, "will run; cached, but {reason}")?,
            PlanStatus::NotInStore => writeln!(
                f,
                "inputs unchanged since its last run, but no result in the store (that run did not succeed, or the entry was removed)"
            )?,
            PlanStatus::Changed { changes } if changes.is_empty() => writeln!(
                f,
                "will run; inputs changed since its last run, which did not succeed (no fingerprint was kept to compare field by field)"
            )?,
            PlanStatus::Changed { .. } => writeln!(f, "will run; changed since its last run:")?,
            PlanStatus::AfterUpstream { upstream } => writeln!(
                f,
                "will be decided after {}{}",
                upstream_run(upstream),
                if self.changes.is_empty() {
                    String::new()
                } else {
                    "; already changed since its last run:".to_string()
                }
            )?,
        }
        for change in &self.changes {
            writeln!(f, "  - {change}")?;
        }
        if let Some(last) = &self.last_run {
            let status = serde_json::to_value(last.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let origin = last
                .origin
                .as_deref()
                .map(|o| format!(" ({o})"))
                .unwrap_or_default();
            writeln!(
                f,
                "last run: {status}{origin}, fingerprint {}",
                short(&last.fingerprint)
            )?;
        }
        Ok(())
    }
}

/// One step assessed by [`Session::assess`].
struct Assessed {
    status: PlanStatus,
    fingerprint: Option<Fingerprint>,
    partial_changes: Vec<Change>,
}

impl Session {
    /// Dry run of `phase`: each step's status, in run order. A cached step with a
    /// [`crate::recheck::Recheck`] is rechecked through `recheck` (one cheap read), as a
    /// run would before serving it.
    pub fn plan(&self, phase: Phase, recheck: &dyn Rechecker) -> Result<Plan, Error> {
        let selected = self.graph.closure(phase, &[]);
        let assessed = self.assess(&selected, recheck)?;
        let steps: Vec<PlannedStep> = selected
            .iter()
            .zip(assessed)
            .map(|(&i, a)| PlannedStep {
                step: self.graph.steps[i].id.clone(),
                status: a.status,
                locked: self.graph.steps[i].locked,
            })
            .collect();
        let lock = self
            .graph
            .lock
            .as_ref()
            .filter(|_| steps.iter().any(|s| s.locked))
            .map(|scope| PlannedLock {
                backend: scope.backend.describe(),
                taken: steps
                    .iter()
                    .any(|s| s.locked && !matches!(s.status, PlanStatus::Cached)),
            });
        Ok(Plan {
            env: self.env.clone(),
            steps,
            lock,
        })
    }

    /// Why `step` would run (or not): its status and field-by-field changes against its
    /// last recorded run in this env.
    pub fn explain(&self, step: &str, recheck: &dyn Rechecker) -> Result<Explanation, Error> {
        self.check_step(step)?;
        let selected = self.graph.closure(Phase::Deploy, &[step.to_string()]);
        let mut assessed = self.assess(&selected, recheck)?;
        let mine = assessed
            .pop()
            .ok_or_else(|| Error::Internal(format!("`{step}` missing from its own closure")))?;
        let cache = Cache::open_read_only(&self.store_dir)?;
        let previous = self.previous(&cache)?;
        let changes = match &mine.status {
            PlanStatus::Changed { changes } => changes.clone(),
            _ => mine.partial_changes,
        };
        Ok(Explanation {
            step: step.to_string(),
            env: self.env.clone(),
            status: mine.status,
            changes,
            fingerprint: mine.fingerprint.map(|fp| fp.hash()),
            last_run: previous.last(step).map(|p| LastRun {
                status: p.status,
                fingerprint: p.fingerprint_hash.clone(),
                origin: p.origin.clone(),
            }),
        })
    }

    /// Assesses `selected` (a closure, in graph order) against the store and history.
    fn assess(&self, selected: &[usize], recheck: &dyn Rechecker) -> Result<Vec<Assessed>, Error> {
        let cache = Cache::open_read_only(&self.store_dir)?;
        let previous = self.lazy_previous(&cache);
        let inputs = self.open_inputs()?;
        // Best effort: an unreadable input is reported below by the step that reads it.
        let _ = inputs.prehash(selected.iter().map(|&i| &self.graph.steps[i]));
        // Output hash of each assessed step that is cached; `None`: it will run.
        let mut outputs: BTreeMap<usize, Option<String>> = BTreeMap::new();
        let mut out = Vec::with_capacity(selected.len());
        for &i in selected {
            let step = &self.graph.steps[i];
            let mut upstream = BTreeMap::new();
            let mut pending = Vec::new();
            for &d in &self.graph.deps[i] {
                let id = self.graph.steps[d].id.clone();
                match outputs.get(&d) {
                    Some(Some(hash)) => {
                        upstream.insert(id, hash.clone());
                    }
                    _ => pending.push(id),
                }
            }
            if !pending.is_empty() {
                let partial = partial_changes(&inputs, previous.get()?, step, upstream, &pending)?;
                outputs.insert(i, None);
                out.push(Assessed {
                    status: PlanStatus::AfterUpstream { upstream: pending },
                    fingerprint: None,
                    partial_changes: partial,
                });
                continue;
            }
            let fingerprint = inputs.fingerprint(step, upstream)?;
            let key = fingerprint.hash();
            let status = match cache.lookup(&key) {
                Lookup::Hit {
                    output_hash,
                    output,
                } => match self.stale(step, output, &previous, recheck)? {
                    None => {
                        outputs.insert(i, Some(output_hash));
                        PlanStatus::Cached
                    }
                    Some(reason) => {
                        outputs.insert(i, None);
                        PlanStatus::Stale { reason }
                    }
                },
                Lookup::Miss | Lookup::Corrupt(_) => {
                    outputs.insert(i, None);
                    match previous.get()?.last(&step.id) {
                        None => PlanStatus::NeverRun,
                        Some(last) if last.fingerprint_hash == key => PlanStatus::NotInStore,
                        // Its last run failed: the store kept no fingerprint to diff.
                        Some(last) => PlanStatus::Changed {
                            changes: last
                                .fingerprint
                                .as_ref()
                                .map(|old| fingerprint.diff(old))
                                .unwrap_or_default(),
                        },
                    }
                }
            };
            out.push(Assessed {
                status,
                fingerprint: Some(fingerprint),
                partial_changes: Vec::new(),
            });
        }
        // The stat cache is the one thing a plan may write: it makes the next command fast.
        let _ = inputs.save();
        Ok(out)
    }
}

impl Session {
    /// Why a cached `output` of `step` would not be served, when its recheck finds the
    /// world changed (or cannot look).
    fn stale(
        &self,
        step: &Step,
        output: Arc<StepOutput>,
        previous: &LazyPrevious,
        recheck: &dyn Rechecker,
    ) -> Result<Option<String>, Error> {
        let Some(check) = &step.recheck else {
            return Ok(None);
        };
        let request = check.request(
            &Arc::new(step.clone()),
            &output,
            &CancellationToken::new(),
            &EventSink::null(),
        );
        let since = || Some(previous.get().ok()?.last(&step.id)?.run.clone());
        Ok(check.reason(recheck.recheck(request), since))
    }
}

/// For a step waiting on upstream runs: its fingerprint with the unknown upstream outputs
/// taken from its last run, diffed against that run, so only what is already known to
/// differ is reported.
fn partial_changes(
    inputs: &Inputs,
    previous: &PreviousRuns,
    step: &crate::graph::Step,
    mut upstream: BTreeMap<String, String>,
    pending: &[String],
) -> Result<Vec<Change>, Error> {
    let Some(old) = previous.last(&step.id).and_then(|p| p.fingerprint.as_ref()) else {
        return Ok(Vec::new());
    };
    for id in pending {
        if let Some(hash) = old.upstream.get(id) {
            upstream.insert(id.clone(), hash.clone());
        }
    }
    let fingerprint = inputs.fingerprint(step, upstream)?;
    Ok(fingerprint.diff(old))
}

fn short(hash: &str) -> &str {
    crate::text::short_hash(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_on_upstream_reads_as_english() {
        let after = |ids: &[&str]| {
            PlanStatus::AfterUpstream {
                upstream: ids.iter().map(|s| s.to_string()).collect(),
            }
            .describe()
        };
        assert_eq!(after(&["a"]), "after a runs");
        assert_eq!(after(&["a", "b"]), "after a and b run");
        assert_eq!(after(&["a", "b", "c"]), "after a, b and c run");
    }
}
