//! The facade the CLI uses: open a project for one env against one store, then
//! [`Session::run`] (build / deploy), [`Session::plan`] or [`Session::explain`].
//!
//! - `mod.rs`: opening, running, run history.
//! - [`plan`](self::plan): the dry run and `explain`, which share one assessment pass.
//!
//! The no-op path is kept cheap on purpose: no executor is instantiated unless a step
//! misses the cache, the project tree is walked once per command, file hashes come from
//! the stat cache, and a run where every step was cached writes nothing but the stat cache
//! (its history record would say nothing the previous one does not).

mod infra;
mod plan;
pub mod release;
pub mod remote;
pub mod rollback;
mod show;

pub use infra::InfraPlan;
pub use plan::{Explanation, LastRun, Plan, PlanStatus, PlannedLock, PlannedStep};
pub use show::{ShownFile, StepResult};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Error;
use crate::events::{Event, EventSink, Summary};
use crate::executor::Executor;
use crate::fingerprint::cache::{Cache, LazyPrevious, PreviousRuns};
use crate::fingerprint::inputs::{BuiltinIdentities, EnvVars, Inputs, ToolVersions};
use crate::graph::StepGraph;
use crate::lock::{LockAction, LockInfo, LockReply, LockRequest};
use crate::model::{self, Project};
pub use crate::scheduler::RunOptions;
use crate::scheduler::{self, RunContext};
use crate::store::{RunOutcome, RunRecord, StepRecord};

/// A project opened for one env against one store.
pub struct Session {
    pub project: Project,
    pub env: String,
    pub graph: Arc<StepGraph>,
    pub store_dir: PathBuf,
    /// Where declared env values and the commit SHA come from (default: the process).
    pub env_vars: EnvVars,
    /// Component hashes of the embedded built-in plugins (see [`BuiltinIdentities`]).
    pub builtins: BuiltinIdentities,
    /// The identity of an executor that stands in for every plugin (the engine's
    /// [`crate::testing::TestExecutor`]): it feeds every step's plugin identity, so what
    /// it produces is never served as a real plugin's result, nor the other way round.
    pub executor_identity: Option<String>,
    /// Versions of the external tools steps run, which feed their fingerprints
    /// ([`crate::fingerprint::Tool`]); `None`: not recorded (an embedder whose executor
    /// runs no external tool).
    pub tools: Option<Arc<dyn ToolVersions>>,
    /// The shared remote cache, when the caller set one up ([`crate::remote`]): asked on
    /// a local miss of a build step, and given what this machine builds when it holds a
    /// trusted signing key.
    pub remote: Option<Arc<crate::remote::RemoteCache>>,
}

impl Session {
    /// Loads `project_file`, resolves `env` (default env when `None`), expands the graph.
    /// Touches nothing on disk: the store is opened by the command that needs it.
    pub fn open(
        project_file: &Path,
        store_dir: &Path,
        env: Option<&str>,
    ) -> Result<Session, Error> {
        let project = model::load(project_file)?;
        Session::from_project(project, store_dir, env)
    }

    /// Like [`Session::open`] for an already parsed project.
    pub fn from_project(
        project: Project,
        store_dir: &Path,
        env: Option<&str>,
    ) -> Result<Session, Error> {
        let config = project.resolve(env).map_err(Error::from_resolve)?;
        let graph = StepGraph::from_config(config, &project.source)?;
        Ok(Session {
            env: config.env.clone(),
            graph: Arc::new(graph),
            project,
            store_dir: store_dir.to_path_buf(),
            env_vars: EnvVars::Process,
            builtins: BuiltinIdentities::default(),
            executor_identity: None,
            tools: None,
            remote: None,
        })
    }

    /// The project root: input paths are relative to it.
    pub fn root(&self) -> &Path {
        &self.project.root
    }

    /// `Error::UnknownStep` (with a suggestion) unless `name` is a step of the graph.
    pub fn check_step(&self, name: &str) -> Result<usize, Error> {
        self.graph
            .index
            .get(name)
            .copied()
            .ok_or_else(|| Error::UnknownStep {
                name: name.to_string(),
                env: self.env.clone(),
                help: Some(match self.graph.suggest(name) {
                    Some(best) => format!("did you mean `{best}`? (`forge graph` lists steps)"),
                    None => "`forge graph` lists the steps of this env".to_string(),
                }),
            })
    }

    /// Runs the steps of `options.phase` (or `options.targets` and what they need).
    /// Step failures are in the summary, not an `Err`: `Err` means the run could not
    /// happen (unknown target, store unusable).
    pub async fn run<E: Executor>(
        &self,
        executor: Arc<E>,
        options: RunOptions,
        events: EventSink,
    ) -> Result<Summary, Error> {
        self.run_recorded(executor, options, events)
            .await
            .map(|(summary, _)| summary)
    }

    /// [`Session::run`], also returning the run's record: what each step ended with
    /// (fingerprint, output), as the history keeps it. A fully cached run is not kept in
    /// the history, but its record is still returned (`forge build --release-out` reads it).
    pub async fn run_recorded<E: Executor>(
        &self,
        executor: Arc<E>,
        options: RunOptions,
        events: EventSink,
    ) -> Result<(Summary, RunRecord), Error> {
        for target in &options.targets {
            self.check_step(target)?;
        }
        let mut selected = self.graph.closure(options.phase, &options.targets);
        if !options.pinned.is_empty() {
            let pinned: std::collections::BTreeSet<&str> =
                options.pinned.keys().map(String::as_str).collect();
            selected = self.graph.up_to_pinned(&selected, &pinned);
        }
        let cache = Arc::new(Cache::open(&self.store_dir)?);
        if cache.store().upgraded() {
            events.send(Event::Warning {
                message: format!(
                    "the store at {} holds results of an older forge, in a layout this one does not read: every step runs once; `forge cache stats` shows how to free that space",
                    self.store_dir.display()
                ),
            });
        }
        // Shared: runs may proceed side by side; `forge cache gc` takes it exclusively.
        let _lock = cache.lock_shared()?;
        let inputs = Arc::new(self.inputs(&selected).await?);
        let previous = Arc::new(self.lazy_previous(&cache));
        let run_id = crate::store::new_run_id();
        let started_ms = crate::store::now_ms();
        events.send(Event::RunStarted {
            run_id: run_id.clone(),
            env: self.env.clone(),
            steps: selected.len(),
        });
        let lock = self
            .graph
            .lock
            .as_ref()
            .filter(|_| selected.iter().any(|&i| self.graph.steps[i].locked))
            .map(|scope| {
                let forge = crate::lock::ForgeInfo {
                    run: run_id.clone(),
                    commit: inputs.commit(),
                    command: options.command.clone(),
                };
                Arc::new(scheduler::HeldLock::new(
                    scope.backend.clone(),
                    self.env.clone(),
                    forge,
                    options.lock_timeout,
                    events.clone(),
                ))
            });
        let ctx = Arc::new(RunContext {
            graph: self.graph.clone(),
            steps: self.graph.steps.iter().cloned().map(Arc::new).collect(),
            env: self.env.clone(),
            inputs: inputs.clone(),
            cache: cache.clone(),
            previous,
            lock,
            pinned: options.pinned.clone(),
            check: options.check,
            pull: options.pull,
            // `--check` ignores every cache, the remote one too.
            remote: self.remote.clone().filter(|_| !options.check),
            pending: Default::default(),
        });
        let mut result = scheduler::run(ctx, executor, &options, &selected, events.clone()).await;
        result.commit = inputs.commit();

        if let Err(err) = inputs.save() {
            events.send(Event::Warning {
                message: format!("stat cache not saved (next run hashes again): {err}"),
            });
        }
        let summary = result.summary.clone();
        let all_cached = summary.ran == 0 && summary.failed == 0 && summary.skipped == 0;
        let record = self.run_record(run_id, started_ms, &options, &result);
        // A check run changes no result: the history keeps the runs that made them. A run
        // the remote cache served is kept: where its results came from is news.
        let remote_hits = record.steps.values().any(|s| s.origin.is_some());
        if (!all_cached || summary.cancelled || remote_hits) && !options.check {
            // The steps' results are already stored; a history write that fails costs
            // `explain` its comparison and `gc` a reason to keep them, not the run.
            if let Err(err) = cache.record_run(&record) {
                events.send(Event::Warning {
                    message: format!("run history not recorded: {err}"),
                });
            }
        }
        events.send(Event::Summary(summary.clone()));
        Ok((summary, record))
    }

    /// Who holds the env's state lock: `None` when it is free (`forge lock status`).
    pub async fn lock_status<E: Executor>(
        &self,
        executor: &E,
        events: EventSink,
    ) -> Result<Option<LockInfo>, Error> {
        match self.lock_call(executor, LockAction::Status, events).await? {
            LockReply::Held { holder } => Ok(Some(holder)),
            LockReply::Free => Ok(None),
            other => Err(self.lock_error(format!("unexpected answer {other:?}"), None)),
        }
    }

    /// Releases the env's state lock if `id` is its holder's (`forge lock force-unlock`):
    /// a lock left by a killed forge or `terraform`. `Ok(false)` when it was free already.
    pub async fn force_unlock<E: Executor>(
        &self,
        executor: &E,
        id: &str,
        events: EventSink,
    ) -> Result<bool, Error> {
        let action = LockAction::Release { id: id.to_owned() };
        match self.lock_call(executor, action, events).await? {
            LockReply::Released => Ok(true),
            LockReply::Free => Ok(false),
            LockReply::Held { holder } => Err(Error::WrongLockId {
                id: id.to_owned(),
                env: self.env.clone(),
                holder: crate::lock::describe_holder(&holder),
            }),
            other => Err(self.lock_error(format!("unexpected answer {other:?}"), None)),
        }
    }

    /// The env's lock backend, or why there is none.
    pub fn lock_backend(&self) -> Result<&crate::lock::Backend, Error> {
        self.graph
            .lock
            .as_ref()
            .map(|scope| &scope.backend)
            .ok_or_else(|| Error::NoStateLock {
                env: self.env.clone(),
            })
    }

    async fn lock_call<E: Executor>(
        &self,
        executor: &E,
        action: LockAction,
        events: EventSink,
    ) -> Result<LockReply, Error> {
        let request = LockRequest {
            backend: self.lock_backend()?.clone(),
            action,
            cancel: tokio_util::sync::CancellationToken::new(),
            events,
        };
        executor.state_lock(request).await.map_err(|e| match e {
            crate::executor::StepError::Failed { message, help } => self.lock_error(message, help),
            crate::executor::StepError::Cancelled => self.lock_error("cancelled".into(), None),
        })
    }

    fn lock_error(&self, message: String, help: Option<String>) -> Error {
        Error::Lock {
            env: self.env.clone(),
            message,
            help,
        }
    }

    /// What the env's history keeps of a run.
    fn run_record(
        &self,
        id: String,
        started_ms: u64,
        options: &RunOptions,
        result: &scheduler::RunResult,
    ) -> RunRecord {
        let outcome = if result.summary.cancelled {
            RunOutcome::Cancelled
        } else if result.summary.failed > 0 {
            RunOutcome::Failed
        } else {
            RunOutcome::Succeeded
        };
        let steps = result
            .outcomes
            .iter()
            .map(|(id, o)| {
                let record = StepRecord {
                    status: o.status,
                    fingerprint: o.fingerprint_hash.clone(),
                    output: o.output_hash.clone(),
                    duration_ms: o.duration.as_millis() as u64,
                    origin: o.origin.clone(),
                };
                (id.clone(), record)
            })
            .collect();
        RunRecord {
            id,
            project: self.project_key(),
            env: self.env.clone(),
            phase: options.phase,
            command: options.command.clone(),
            started: started_ms,
            finished: crate::store::now_ms(),
            outcome,
            steps,
            commit: result.commit.clone(),
            user: std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .ok()
                .filter(|u| !u.is_empty()),
            rollback_of: options.rollback_of.clone(),
        }
    }

    /// The key this project's run history is filed under in the store.
    pub fn project_key(&self) -> String {
        crate::store::project_key(self.project_name(), &self.project.root)
    }

    /// The last recorded run of every step of the graph in this env.
    fn previous(&self, cache: &Cache) -> Result<PreviousRuns, Error> {
        cache.previous(
            &self.project_key(),
            &self.env,
            self.graph.steps.iter().map(|s| s.id.as_str()),
        )
    }

    /// [`Session::previous`], read only if a step turns out to need it.
    pub(crate) fn lazy_previous(&self, cache: &Cache) -> LazyPrevious {
        LazyPrevious::new(
            cache,
            self.project_key(),
            self.env.clone(),
            self.graph.steps.iter().map(|s| s.id.clone()).collect(),
        )
    }

    /// This command's inputs: one tree walk and the stat cache (blocking).
    pub(crate) fn open_inputs(&self) -> Result<Inputs, Error> {
        Inputs::open(
            &self.project.root,
            &self.store_dir,
            &self.env,
            self.env_vars.clone(),
            self.builtins.clone(),
            self.executor_identity.clone(),
            self.tools.clone(),
        )
    }

    /// Walks the project tree once, loads the stat cache and hashes every input of the
    /// selected steps in one parallel batch, off the async threads.
    async fn inputs(&self, selected: &[usize]) -> Result<Inputs, Error> {
        let root = self.project.root.clone();
        let store = self.store_dir.clone();
        let env = self.env.clone();
        let vars = self.env_vars.clone();
        let builtins = self.builtins.clone();
        let executor = self.executor_identity.clone();
        let tools = self.tools.clone();
        let graph = self.graph.clone();
        let selected = selected.to_vec();
        tokio::task::spawn_blocking(move || {
            let inputs = Inputs::open(&root, &store, &env, vars, builtins, executor, tools)?;
            // Best effort: a step whose inputs cannot be read fails on its own, later,
            // with its name on the error; the other steps still run.
            let _ = inputs.prehash(selected.iter().map(|&i| &graph.steps[i]));
            Ok(inputs)
        })
        .await
        .unwrap_or_else(|e| Err(Error::Internal(format!("tree walk stopped: {e}"))))
    }
}
