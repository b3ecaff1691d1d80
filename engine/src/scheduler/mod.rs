//! The scheduler: runs the selected steps of a graph on tokio.
//!
//! One coordinator loop owns all the bookkeeping; each step runs as its own task:
//!
//! 1. A step becomes ready when every step it needs produced an output (ran or cached).
//!    Ready steps start in graph order, at most `jobs` at a time (`-j N`).
//! 2. Its [`Fingerprint`] is computed off the async threads (input files are hashed on the
//!    blocking pool against the run's one [`Inputs`] tree walk and stat cache), from the
//!    upstream steps' *output* hashes — which is what gives early cutoff: an upstream that
//!    reruns and yields the same output leaves this fingerprint unchanged.
//! 3. A store hit is `cached` and the executor is never called, except for a step whose
//!    result describes the world outside ([`crate::recheck`]): its hit is served only
//!    after the executor's one cheap recheck says it still holds, and run again, with the
//!    reason, when it does not. A corrupt entry is a `Warning` and a miss, never served.
//! 4. Otherwise the executor runs it; only a success is recorded in the store (a failure is
//!    never cached, like Buck2's DICE never caches transient errors).
//! 5. A failure marks the step's transitive dependents `skipped`; unrelated steps go on.
//! 6. Cancellation (Ctrl-C through [`RunOptions::cancel`], or a step's `--timeout`) reaches
//!    running steps through their executor cancel token; a cancelled step writes nothing to
//!    the store and every step not yet finished is `skipped`. The run is still recorded in
//!    the env's history, as cancelled.
//! 7. The env's state lock is a scope, not a step (`lock`): taken right before the first
//!    locked step that must run, released once the last locked step finished, and before
//!    the run returns whatever happened.

mod lock;

pub(crate) use lock::HeldLock;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::events::{Event, EventSink, StepStatus, Summary};
use crate::executor::{Executor, StepError, StepOutput, StepRequest};
use crate::fingerprint::cache::{Cache, LazyPrevious, Lookup};
use crate::fingerprint::inputs::Inputs;
use crate::graph::{Step, StepGraph};
use crate::model::Phase;

/// Options of one `forge build` / `forge deploy`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `Build` runs only build-phase steps; `Deploy` runs everything.
    pub phase: Phase,
    /// Steps run at once (`-j N`).
    pub jobs: usize,
    /// Only these steps and what they need (empty: all of the phase).
    pub targets: Vec<String>,
    /// The command line, recorded in run history.
    pub command: String,
    pub cancel: CancellationToken,
    /// Per-step deadline (`--timeout`); cancels the step through the same path as Ctrl-C.
    pub step_timeout: Option<Duration>,
    /// How long to wait for the env's state lock when someone else holds it
    /// (`--lock-timeout`; zero fails at once, like Terraform's default).
    pub lock_timeout: Duration,
    /// Steps whose result is taken from an earlier run instead of running them, by id
    /// (`forge rollback`: the pushes of the deploy it goes back to). What only they need
    /// does not run at all.
    pub pinned: BTreeMap<String, Pinned>,
    /// Recorded in run history: the run whose images this one deploys again.
    pub rollback_of: Option<String>,
    /// `forge build --check`: every [rebuildable](Step::is_rebuildable) step runs again,
    /// whatever the cache holds, and fails when its outputs differ from the stored ones
    /// (a step with none stored runs twice). The stored result stays and is what later
    /// steps get; nothing is recorded in the history.
    pub check: bool,
    /// `forge cache pull`: nothing runs; a step the local store lacks is taken whole
    /// (output files too) from the remote cache, or skipped when the remote has none.
    pub pull: bool,
}

/// An earlier run's result of a step, served in its place ([`RunOptions::pinned`]).
#[derive(Debug, Clone)]
pub struct Pinned {
    pub fingerprint: String,
    pub output_hash: String,
    pub output: Arc<StepOutput>,
    /// Where it comes from, for people: `run 20261203T…` (a rollback), `release.json of
    /// commit 1a2b…` (a release). The step reports "the result of {from}".
    pub from: String,
}

impl RunOptions {
    /// Every step of `phase`, as many jobs as cores, no timeout, a fresh cancel token.
    pub fn new(phase: Phase) -> RunOptions {
        RunOptions {
            phase,
            jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
            targets: Vec::new(),
            command: String::new(),
            cancel: CancellationToken::new(),
            step_timeout: None,
            lock_timeout: Duration::ZERO,
            pinned: BTreeMap::new(),
            rollback_of: None,
            check: false,
            pull: false,
        }
    }
}

/// What the coordinator knows about one finished step, and what the run history records.
#[derive(Debug, Clone)]
pub(crate) struct StepOutcome {
    pub status: StepStatus,
    pub fingerprint_hash: Option<String>,
    pub output_hash: Option<String>,
    pub output: Option<Arc<StepOutput>>,
    pub reason: Option<String>,
    pub duration: Duration,
    /// Where a cached result came from when not this machine's store: `remote hit from
    /// WRITER at TIME` ([`crate::remote::describe_origin`]).
    pub origin: Option<String>,
}

/// Everything a run needs besides the executor: shared by every step task.
pub(crate) struct RunContext {
    pub graph: Arc<StepGraph>,
    pub steps: Vec<Arc<Step>>,
    pub env: String,
    pub inputs: Arc<Inputs>,
    pub cache: Arc<Cache>,
    pub previous: Arc<LazyPrevious>,
    /// The env's state lock, when the graph has one and the run selected a locked step.
    pub lock: Option<Arc<HeldLock>>,
    /// [`RunOptions::pinned`].
    pub pinned: BTreeMap<String, Pinned>,
    /// [`RunOptions::check`].
    pub check: bool,
    /// [`RunOptions::pull`].
    pub pull: bool,
    /// The shared remote cache ([`crate::session::Session::remote`]).
    pub remote: Option<Arc<crate::remote::RemoteCache>>,
    /// Steps served by the remote cache whose output files are not in the local store
    /// yet, by id: their fingerprint and its hash. A step that runs and reads them fetches
    /// them, and the result is then recorded locally.
    pub pending: std::sync::Mutex<BTreeMap<String, (crate::fingerprint::Fingerprint, String)>>,
}

/// The result of a run: the summary and, per step id, its outcome (for run history).
pub(crate) struct RunResult {
    pub summary: Summary,
    pub outcomes: BTreeMap<String, StepOutcome>,
    /// The commit the run's inputs were read at (set by the session).
    pub commit: Option<String>,
}

pub(crate) async fn run<E: Executor>(
    ctx: Arc<RunContext>,
    executor: Arc<E>,
    options: &RunOptions,
    selected: &[usize],
    events: EventSink,
) -> RunResult {
    let started = Instant::now();
    let graph = ctx.graph.clone();
    let jobs = options.jobs.max(1);
    // Child of the user's token: cancelling it stops our steps, not the caller's other work.
    let run_cancel = options.cancel.child_token();

    let in_run: BTreeSet<usize> = selected.iter().copied().collect();
    let mut waiting_on: BTreeMap<usize, usize> = BTreeMap::new();
    let mut dependents: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &i in selected {
        let deps: Vec<usize> = graph.deps[i]
            .iter()
            .copied()
            .filter(|d| in_run.contains(d))
            .collect();
        waiting_on.insert(i, deps.len());
        for d in deps {
            dependents.entry(d).or_default().push(i);
        }
    }
    // Graph order is topological and stable, so ready steps start in a reproducible order.
    let mut ready: BTreeSet<usize> = waiting_on
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(i, _)| *i)
        .collect();
    let mut outcomes: BTreeMap<usize, StepOutcome> = BTreeMap::new();
    let mut tasks: JoinSet<(usize, StepOutcome, Duration)> = JoinSet::new();
    let mut task_steps: BTreeMap<tokio::task::Id, usize> = BTreeMap::new();
    let mut summary = Summary::default();
    let mut cancelled = false;
    // Locked steps of this run still to finish; at zero the lock goes.
    let mut locked_left = selected.iter().filter(|&&i| graph.steps[i].locked).count();

    loop {
        while !cancelled && tasks.len() < jobs {
            let Some(i) = ready.pop_first() else { break };
            let upstream = upstream_outputs(&ctx, i, &outcomes);
            events.send(Event::StepStarted {
                step: graph.steps[i].id.clone(),
            });
            let task = StepTask {
                ctx: ctx.clone(),
                index: i,
                upstream,
                cancel: run_cancel.child_token(),
                run_cancel: run_cancel.clone(),
                timeout: options.step_timeout,
                events: events.clone(),
            };
            let executor = executor.clone();
            let handle = tasks.spawn(async move {
                let t0 = Instant::now();
                let outcome = task.run(executor).await;
                (task.index, outcome, t0.elapsed())
            });
            task_steps.insert(handle.id(), i);
        }
        if tasks.is_empty() {
            break;
        }
        let joined = tokio::select! {
            joined = tasks.join_next_with_id() => joined,
            _ = options.cancel.cancelled(), if !cancelled => {
                cancelled = true;
                run_cancel.cancel();
                continue;
            }
        };
        let Some(joined) = joined else { break };
        let (i, outcome, duration) = match joined {
            Ok((id, done)) => {
                task_steps.remove(&id);
                done
            }
            Err(err) => {
                // A panicking step task is a bug in an executor: that step fails, its
                // dependents are skipped, the rest of the run goes on.
                let Some(i) = task_steps.remove(&err.id()) else {
                    continue;
                };
                let mut outcome = skipped(String::new());
                outcome.status = StepStatus::Failed;
                outcome.reason = Some(format!("the executor stopped unexpectedly: {err}"));
                (i, outcome, Duration::ZERO)
            }
        };
        count(&mut summary, outcome.status);
        events.send(Event::StepFinished {
            step: graph.steps[i].id.clone(),
            status: outcome.status,
            duration,
            reason: outcome.reason.clone(),
        });
        let mut outcome = outcome;
        outcome.duration = duration;
        let produced = outcome.output_hash.is_some();
        outcomes.insert(i, outcome);
        if produced {
            for &d in dependents.get(&i).map(Vec::as_slice).unwrap_or(&[]) {
                if let Some(n) = waiting_on.get_mut(&d) {
                    *n -= 1;
                    if *n == 0 {
                        ready.insert(d);
                    }
                }
            }
        } else {
            skip_dependents(
                &ctx,
                i,
                &dependents,
                &mut outcomes,
                &mut ready,
                &mut summary,
                &events,
            );
        }
        if let Some(lock) = &ctx.lock {
            let still = selected
                .iter()
                .filter(|&&s| graph.steps[s].locked && !outcomes.contains_key(&s))
                .count();
            if still == 0 && locked_left > 0 {
                summary.lock_left = lock.release(&*executor).await;
            }
            locked_left = still;
        }
    }

    // Whatever never started: cancelled run, or a task that died.
    let cancelled = cancelled || options.cancel.is_cancelled();
    for &i in selected {
        if outcomes.contains_key(&i) {
            continue;
        }
        let reason = if cancelled {
            "run cancelled".to_string()
        } else {
            "an upstream step did not finish".to_string()
        };
        let outcome = skipped(reason);
        count(&mut summary, outcome.status);
        events.send(Event::StepFinished {
            step: graph.steps[i].id.clone(),
            status: outcome.status,
            duration: Duration::ZERO,
            reason: outcome.reason.clone(),
        });
        outcomes.insert(i, outcome);
    }
    // Whatever happened above, the lock does not outlive the run.
    if let Some(lock) = &ctx.lock
        && let Some(left) = lock.release(&*executor).await
    {
        summary.lock_left = Some(left);
    }
    summary.cancelled = cancelled;
    summary.duration = started.elapsed();
    RunResult {
        summary,
        outcomes: outcomes
            .into_iter()
            .map(|(i, o)| (graph.steps[i].id.clone(), o))
            .collect(),
        commit: None,
    }
}

fn count(summary: &mut Summary, status: StepStatus) {
    match status {
        StepStatus::Ran => summary.ran += 1,
        StepStatus::Cached => summary.cached += 1,
        StepStatus::Failed => summary.failed += 1,
        StepStatus::Skipped => summary.skipped += 1,
    }
}

fn skipped(reason: String) -> StepOutcome {
    StepOutcome {
        status: StepStatus::Skipped,
        fingerprint_hash: None,
        output_hash: None,
        output: None,
        reason: Some(reason),
        duration: Duration::ZERO,
        origin: None,
    }
}

/// Marks every transitive dependent of `failed` skipped, naming the step that stopped it.
fn skip_dependents(
    ctx: &RunContext,
    failed: usize,
    dependents: &BTreeMap<usize, Vec<usize>>,
    outcomes: &mut BTreeMap<usize, StepOutcome>,
    ready: &mut BTreeSet<usize>,
    summary: &mut Summary,
    events: &EventSink,
) {
    let cause = &ctx.graph.steps[failed].id;
    let mut stack: Vec<usize> = dependents.get(&failed).cloned().unwrap_or_default();
    while let Some(d) = stack.pop() {
        if outcomes.contains_key(&d) {
            continue;
        }
        ready.remove(&d);
        let outcome = skipped(format!("needs `{cause}`, which did not complete"));
        summary.skipped += 1;
        events.send(Event::StepFinished {
            step: ctx.graph.steps[d].id.clone(),
            status: StepStatus::Skipped,
            duration: Duration::ZERO,
            reason: outcome.reason.clone(),
        });
        outcomes.insert(d, outcome);
        stack.extend(dependents.get(&d).into_iter().flatten().copied());
    }
}

/// Outputs and their hashes of the steps `i` needs (all finished with an output).
fn upstream_outputs(
    ctx: &RunContext,
    i: usize,
    outcomes: &BTreeMap<usize, StepOutcome>,
) -> BTreeMap<String, (String, Arc<StepOutput>)> {
    ctx.graph.deps[i]
        .iter()
        .filter_map(|d| {
            let o = outcomes.get(d)?;
            Some((
                ctx.graph.steps[*d].id.clone(),
                (o.output_hash.clone()?, o.output.clone()?),
            ))
        })
        .collect()
}

struct StepTask {
    ctx: Arc<RunContext>,
    index: usize,
    upstream: BTreeMap<String, (String, Arc<StepOutput>)>,
    cancel: CancellationToken,
    /// The run's token (parent of `cancel`): tells a timeout apart from Ctrl-C.
    run_cancel: CancellationToken,
    timeout: Option<Duration>,
    events: EventSink,
}

impl StepTask {
    async fn run<E: Executor>(&self, executor: Arc<E>) -> StepOutcome {
        let step = self.ctx.steps[self.index].clone();
        if let Some(pinned) = self.ctx.pinned.get(&step.id) {
            return StepOutcome {
                status: StepStatus::Cached,
                fingerprint_hash: Some(pinned.fingerprint.clone()),
                output_hash: Some(pinned.output_hash.clone()),
                output: Some(pinned.output.clone()),
                reason: Some(format!("the result of {}", pinned.from)),
                duration: Duration::ZERO,
                origin: None,
            };
        }
        let failed = |reason: String, fingerprint_hash: Option<String>| StepOutcome {
            status: StepStatus::Failed,
            fingerprint_hash,
            output_hash: None,
            output: None,
            reason: Some(reason),
            duration: Duration::ZERO,
            origin: None,
        };

        let hashes: BTreeMap<String, String> = self
            .upstream
            .iter()
            .map(|(k, (h, _))| (k.clone(), h.clone()))
            .collect();
        let inputs = self.ctx.inputs.clone();
        let for_hashing = step.clone();
        let computed =
            tokio::task::spawn_blocking(move || inputs.fingerprint(&for_hashing, hashes)).await;
        let fingerprint = match computed {
            Ok(Ok(fp)) => fp,
            Ok(Err(err)) => return failed(format!("cannot compute inputs: {err}"), None),
            Err(err) => return failed(format!("input hashing stopped: {err}"), None),
        };
        let key = fingerprint.hash();

        let checking = self.ctx.check && step.is_rebuildable();
        let mut stale = None;
        let mut reference = None;
        match self.ctx.cache.lookup(&key) {
            Lookup::Hit {
                output,
                output_hash,
            } if checking => reference = Some((output, output_hash)),
            Lookup::Hit {
                output,
                output_hash,
            } => {
                let cached = |output| StepOutcome {
                    status: StepStatus::Cached,
                    fingerprint_hash: Some(key.clone()),
                    output_hash: Some(output_hash),
                    output: Some(output),
                    reason: None,
                    duration: Duration::ZERO,
                    origin: None,
                };
                let Some(check) = &step.recheck else {
                    return cached(output);
                };
                let request = check.request(&step, &output, &self.cancel, &self.events);
                let answer = executor.recheck(request).await;
                if let Err(StepError::Cancelled) = answer {
                    return skipped("run cancelled".to_string());
                }
                let since = || {
                    let previous = self.ctx.previous.get().ok()?;
                    previous.last(&step.id).map(|p| p.run.clone())
                };
                match check.reason(answer, since) {
                    None => return cached(output),
                    Some(reason) => stale = Some(reason),
                }
            }
            Lookup::Corrupt(message) => self.events.send(Event::Warning {
                message: format!(
                    "step `{}`: corrupt store entry, running it again: {message}",
                    step.id
                ),
            }),
            Lookup::Miss => {}
        }
        let shared = step.phase == crate::model::Phase::Build && !step.locked;
        if shared
            && !checking
            && stale.is_none()
            && let Some(remote) = &self.ctx.remote
            && let Some(outcome) = self.remote_lookup(remote, &step, &key).await
        {
            return outcome;
        }
        if self.ctx.pull {
            return skipped("the remote cache has no result of it (a build would run it)".into());
        }
        let why = match (stale, self.ctx.previous.get()) {
            (Some(stale), _) => stale,
            (None, Ok(previous)) => previous.reason(&step.id, &fingerprint, &key),
            // The reason is for people; an unreadable history must not stop the step.
            (None, Err(err)) => format!("inputs changed (run history unreadable: {err})"),
        };

        if self.cancel.is_cancelled() {
            return skipped("run cancelled".to_string());
        }
        let lock = match &self.ctx.lock {
            Some(lock) if step.locked => match lock.ensure(&*executor, &self.cancel).await {
                Ok(info) => Some(info),
                Err(StepError::Cancelled) => {
                    return skipped("cancelled while waiting for the state lock".to_string());
                }
                Err(e @ StepError::Failed { .. }) => return failed(failure_reason(&e), Some(key)),
            },
            _ => None,
        };
        if let Err(reason) = self.fetch_upstream().await {
            return failed(reason, Some(key));
        }
        let fingerprint = Arc::new(fingerprint);
        let request = |rebuild: bool| {
            let upstream = self
                .upstream
                .iter()
                .map(|(k, (_, o))| (k.clone(), o.clone()))
                .collect();
            StepRequest {
                lock: lock.clone(),
                rebuild,
                ..request_for(
                    &self.ctx.inputs,
                    &self.ctx.env,
                    step.clone(),
                    fingerprint.clone(),
                    upstream,
                    &self.cancel,
                    &self.events,
                )
            }
        };
        if let Some((output, output_hash)) = reference {
            if step.stamp_commit {
                // The stored result carries the stamp of the commit that first built it,
                // this rebuild the current one: compare two rebuilds with each other.
                let first = match self.execute(&executor, request(true), &key).await {
                    Ok(first) => first,
                    Err(failed) => {
                        return check_outcome(key, (output, output_hash), None, Err(failed));
                    }
                };
                let second = self.execute(&executor, request(true), &key).await;
                return check_outcome(key, (output, output_hash), Some(&first), second);
            }
            let rebuilt = self.execute(&executor, request(true), &key).await;
            return check_outcome(key, (output, output_hash), None, rebuilt);
        }
        let result = self.execute(&executor, request(false), &key).await;
        match result {
            Ok(output) => {
                // Blob checks and atomic writes with fsyncs: file I/O, off the runtime.
                let cache = self.ctx.cache.clone();
                let recorded_fp = fingerprint.clone();
                let recorded = tokio::task::spawn_blocking(move || {
                    let result = cache.record(&recorded_fp, &output);
                    (output, result)
                })
                .await;
                let (output, recorded) = match recorded {
                    Ok(done) => done,
                    Err(err) => {
                        return failed(format!("recording the result stopped: {err}"), Some(key));
                    }
                };
                let output_hash = match recorded {
                    Ok(hash) => hash,
                    Err(err) => {
                        // The output is still good for this run; it is just not reused later.
                        self.events.send(Event::Warning {
                            message: format!("step `{}`: result not cached: {err}", step.id),
                        });
                        output.hash()
                    }
                };
                if shared
                    && let Some(remote) = self.ctx.remote.as_ref().filter(|r| r.writes())
                    && let Err(err) = remote
                        .publish(&fingerprint, &output, self.ctx.cache.store())
                        .await
                {
                    self.events.send(Event::Warning {
                        message: format!(
                            "step `{}`: not published to the remote cache {}: {err}",
                            step.id,
                            remote.describe()
                        ),
                    });
                }
                let output = Arc::new(output);
                if checking {
                    // Nothing stored to compare with: this run is the reference, a second
                    // one the check.
                    let rebuilt = self.execute(&executor, request(true), &key).await;
                    return check_outcome(key, (output, output_hash), None, rebuilt);
                }
                StepOutcome {
                    status: StepStatus::Ran,
                    fingerprint_hash: Some(key),
                    output_hash: Some(output_hash),
                    output: Some(output),
                    reason: Some(why),
                    duration: Duration::ZERO,
                    origin: None,
                }
            }
            Err(outcome) => outcome,
        }
    }

    /// On a local miss: the remote cache's result of `key`, when it has one it can serve
    /// (see [`crate::remote`]); `None` to run the step. Its fingerprint and manifest are
    /// kept in the local store; so is the whole result when it has no output files, else
    /// once a step that runs fetches them.
    async fn remote_lookup(
        &self,
        remote: &crate::remote::RemoteCache,
        step: &Step,
        key: &str,
    ) -> Option<StepOutcome> {
        use crate::remote::RemoteLookup;
        let store = self.ctx.cache.store();
        if store.remote_refused(key).is_some() {
            return None;
        }
        match remote.lookup(key, store).await {
            RemoteLookup::Hit(hit) => {
                let hit = *hit;
                let origin = hit.describe();
                let output = Arc::new(hit.output.clone());
                let output_hash = output.hash();
                if self.ctx.pull
                    && let Err(why) = remote.fetch_files(key, &hit.output, store).await
                {
                    let _ = store.refuse_remote(key, &why);
                    return Some(StepOutcome {
                        status: StepStatus::Failed,
                        fingerprint_hash: Some(key.to_owned()),
                        output_hash: None,
                        output: None,
                        reason: Some(format!("the remote cache's result cannot be used: {why}")),
                        duration: Duration::ZERO,
                        origin: None,
                    });
                }
                if hit.output.files.is_empty() || self.ctx.pull {
                    let cache = self.ctx.cache.clone();
                    let recorded = tokio::task::spawn_blocking(move || {
                        cache.record(&hit.fingerprint, &hit.output)
                    })
                    .await;
                    if let Ok(Err(err)) = recorded {
                        self.events.send(Event::Warning {
                            message: format!("step `{}`: remote result not kept: {err}", step.id),
                        });
                    }
                } else {
                    self.ctx
                        .pending
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(step.id.clone(), (hit.fingerprint, key.to_owned()));
                }
                Some(StepOutcome {
                    status: StepStatus::Cached,
                    fingerprint_hash: Some(key.to_owned()),
                    output_hash: Some(output_hash),
                    output: Some(output),
                    reason: Some(origin.clone()),
                    duration: Duration::ZERO,
                    origin: Some(origin),
                })
            }
            RemoteLookup::Miss => None,
            RemoteLookup::Refused(why) => {
                self.events.send(Event::Warning {
                    message: format!(
                        "step `{}`: the remote cache's result is not used, the step runs here: {why}",
                        step.id
                    ),
                });
                None
            }
            RemoteLookup::Unreachable(err) => {
                self.events.send(Event::Warning {
                    message: format!(
                        "step `{}`: the remote cache {} cannot be read, the step runs here: {err}",
                        step.id,
                        remote.describe()
                    ),
                });
                None
            }
        }
    }

    /// Fetches the output files of upstream steps the remote cache served (they are read
    /// by this step), then keeps those results in the local store. A file that fails its
    /// check fails this step, and the entry is not used again.
    async fn fetch_upstream(&self) -> Result<(), String> {
        let Some(remote) = &self.ctx.remote else {
            return Ok(());
        };
        for (up, (_, output)) in &self.upstream {
            let pending = self
                .ctx
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(up)
                .cloned();
            let Some((fingerprint, key)) = pending else {
                continue;
            };
            let store = self.ctx.cache.store();
            if let Err(why) = remote.fetch_files(&key, output, store).await {
                let _ = store.refuse_remote(&key, &why);
                return Err(format!(
                    "the remote cache's result of `{up}` cannot be used: {why}; it will not be used again: run forge again to build `{up}` here"
                ));
            }
            let cache = self.ctx.cache.clone();
            let output = Arc::clone(output);
            let recorded =
                tokio::task::spawn_blocking(move || cache.record(&fingerprint, &output)).await;
            if let Ok(Err(err)) = recorded {
                self.events.send(Event::Warning {
                    message: format!("step `{up}`: remote result not kept: {err}"),
                });
            }
            self.ctx
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(up);
        }
        Ok(())
    }

    /// Runs the step's request under `--timeout`: its output, or the outcome of a step
    /// that failed, timed out or was cancelled.
    async fn execute<E: Executor>(
        &self,
        executor: &Arc<E>,
        request: StepRequest,
        key: &str,
    ) -> Result<StepOutput, StepOutcome> {
        let timer = self.timeout.map(|limit| {
            let cancel = self.cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep(limit).await;
                cancel.cancel();
            })
        });
        let result = executor.run(request).await;
        if let Some(timer) = timer {
            timer.abort();
        }
        let timed_out = self.cancel.is_cancelled() && !self.run_cancel.is_cancelled();
        let failed = |reason: String| StepOutcome {
            status: StepStatus::Failed,
            fingerprint_hash: Some(key.to_owned()),
            output_hash: None,
            output: None,
            reason: Some(reason),
            duration: Duration::ZERO,
            origin: None,
        };
        match result {
            Ok(output) => Ok(output),
            Err(StepError::Cancelled) if timed_out => {
                let limit = self.timeout.unwrap_or_default();
                Err(failed(format!(
                    "timed out after {}",
                    humantime::format_duration(limit)
                )))
            }
            Err(StepError::Cancelled) => Err(skipped("cancelled while running".to_string())),
            Err(e @ StepError::Failed { .. }) => Err(failed(failure_reason(&e))),
        }
    }
}

/// The outcome of a `--check` rebuild: ran when its outputs are those of `compared` (the
/// stored `reference` when `None`), failed naming each difference when not. Either way
/// the reference is what later steps get, so each step is checked against the same
/// inputs.
fn check_outcome(
    key: String,
    (reference, reference_hash): (Arc<StepOutput>, String),
    compared: Option<&StepOutput>,
    rebuilt: Result<StepOutput, StepOutcome>,
) -> StepOutcome {
    let (status, reason) = match rebuilt {
        Err(outcome) if outcome.status == StepStatus::Skipped => return outcome,
        Err(outcome) => (
            StepStatus::Failed,
            format!(
                "the rebuild to check it failed: {}",
                outcome.reason.unwrap_or_default()
            ),
        ),
        Ok(rebuilt) => {
            let differences =
                crate::executor::differences(compared.unwrap_or(&reference), &rebuilt);
            let against = if compared.is_some() {
                "the first rebuild (the stored result is stamped with the commit that first built it)"
            } else {
                "the stored result"
            };
            if differences.is_empty() {
                let how = if compared.is_some() {
                    "rebuilt twice to the same outputs"
                } else {
                    "rebuilt to the same outputs"
                };
                (StepStatus::Ran, format!("reproducible: {how}"))
            } else {
                let n = differences.len();
                (
                    StepStatus::Failed,
                    format!(
                        "not reproducible: rebuilt from the same inputs, {} {} from {against}:\n{}",
                        crate::text::plural(n, "output"),
                        if n == 1 { "differs" } else { "differ" },
                        differences
                            .iter()
                            .map(|d| format!("  {d}"))
                            .collect::<Vec<_>>()
                            .join("\n")
                    ),
                )
            }
        }
    };
    StepOutcome {
        status,
        fingerprint_hash: Some(key),
        output_hash: Some(reference_hash),
        output: Some(reference),
        reason: Some(reason),
        duration: Duration::ZERO,
        origin: None,
    }
}

/// What the executor gets to run `step` with `fingerprint`, outside the state lock.
pub(crate) fn request_for(
    inputs: &Inputs,
    env: &str,
    step: Arc<Step>,
    fingerprint: Arc<crate::fingerprint::Fingerprint>,
    upstream: BTreeMap<String, Arc<StepOutput>>,
    cancel: &CancellationToken,
    events: &EventSink,
) -> StepRequest {
    StepRequest {
        fingerprint,
        root: inputs.root().to_path_buf(),
        // A build-phase result is shared by every env (its fingerprint has no env), so
        // its plugin must not see one either: it could not have been cached otherwise.
        env: if step.env_scoped {
            env.to_owned()
        } else {
            String::new()
        },
        upstream,
        stamp: (step.commit_sha || step.stamp_commit)
            .then(|| inputs.stamp())
            .flatten(),
        cancel: cancel.clone(),
        events: events.clone(),
        lock: None,
        rebuild: false,
        step,
    }
}

/// A step failure as the run reports it: the message, then its help on a line of its own.
pub(crate) fn failure_reason(error: &StepError) -> String {
    match error {
        StepError::Failed {
            message,
            help: Some(help),
        } => format!("{message}\n  help: {help}"),
        StepError::Failed {
            message,
            help: None,
        } => message.clone(),
        StepError::Cancelled => "cancelled".to_owned(),
    }
}
