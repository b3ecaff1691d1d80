//! The engine, its caches, and one step run from component bytes to a raw result.
//!
//! [`Host::prepare`] is synchronous CPU work done once per (component, grants): load or
//! compile the component, refuse it if it imports more than its grants allow, and keep the
//! `InstancePre`. [`Host::run`] is async and runs on the caller's runtime thread:
//! instantiate into a fresh `Store`, call `describe` then `run`, and classify whatever
//! went wrong. A running plugin yields to the runtime on every epoch tick, so one spinning
//! step never starves the others, even on a single-threaded runtime.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use forge_clients::Clients;
use forge_engine::events::{Event, EventSink};
use tokio_util::sync::CancellationToken;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store, UpdateDeadline};

use crate::bindings::forge::plugin::types::{OutputFile, UpstreamStep};
use crate::bindings::{PluginInfo, StepInput, StepPre};
use crate::cache::ComponentCache;
use crate::error::{HostError, cap_message};
use crate::grants::{self, GrantSet};
use crate::limits::{EpochTicker, Limits};
use crate::state::{HostState, OutputOverflow, Reach};
use crate::stop::Interrupt;

/// How to build a [`Host`].
#[derive(Debug, Clone, Default)]
pub struct HostConfig {
    /// The forge store directory; compiled components are cached in it
    /// ([`forge_engine::store::component_cache_dir`]).
    /// `None` compiles in memory only.
    pub cache_dir: Option<PathBuf>,
    pub limits: Limits,
    /// Use wasmtime's pooling allocator. It reserves address space up front and caps each
    /// memory at the default 512 MiB whatever `limits.memory` says; measured per-step
    /// overhead is the same as on-demand allocation for forge's plugins, so it is off.
    pub pooling: bool,
}

/// A plugin component to run: its bytes and their blake3 (hex).
#[derive(Debug, Clone)]
pub struct PluginCode {
    /// The plugin's name, for messages (`docker-build`, a `plugin` node's name).
    pub name: String,
    pub bytes: Arc<[u8]>,
    pub hash: String,
}

impl PluginCode {
    pub fn new(name: impl Into<String>, bytes: impl Into<Arc<[u8]>>) -> PluginCode {
        let bytes = bytes.into();
        PluginCode {
            name: name.into(),
            hash: blake3::hash(&bytes).to_hex().to_string(),
            bytes,
        }
    }
}

/// Everything one run gets besides the plugin.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub step: String,
    pub env: String,
    /// The step's config as JSON text.
    pub config: String,
    /// What the upstream steps produced, by step id: the plugin sees their manifests and
    /// output files, and may read those files (`files.read-upstream`).
    pub upstream: BTreeMap<String, Upstream>,
    /// Declared inputs: project-relative `/`-separated path → absolute path.
    pub files: BTreeMap<String, PathBuf>,
    pub commit: Option<String>,
    /// The commit's committer time, seconds since the Unix epoch (`step-input.commit-time`).
    pub commit_time: Option<u64>,
    /// The store upstream steps' output files are read from (`files.read-upstream`,
    /// `registry.push-blob`); `None` makes those calls fail with an I/O error.
    pub store: Option<forge_engine::store::Store>,
    /// The secrets the step may ask handles for, by name, by reference: a capability that
    /// takes a handle (`registry.login`) reads the value, the plugin never does.
    pub secrets: BTreeMap<String, forge_engine::model::SecretRef>,
    pub grants: GrantSet,
    /// Overrides [`HostConfig::limits`] for this run (e.g. `--timeout`).
    pub limits: Option<Limits>,
    pub cancel: CancellationToken,
    pub events: EventSink,
    /// Where the `terraform` capability works, and under which lock; `None` makes its
    /// calls fail.
    pub terraform: Option<TerraformPlace>,
    /// A `forge build --check` rerun ([`forge_engine::executor::StepRequest::rebuild`]):
    /// `docker.build` builds without the Docker Engine's layer cache.
    pub rebuild: bool,
}

impl RunSpec {
    /// A run of `step` with `config` and `grants` and nothing else: no env, upstream
    /// steps, input files, commit, store, secrets or Terraform place.
    pub fn bare(
        step: String,
        config: String,
        grants: GrantSet,
        cancel: CancellationToken,
        events: EventSink,
    ) -> RunSpec {
        RunSpec {
            step,
            env: String::new(),
            config,
            upstream: BTreeMap::new(),
            files: BTreeMap::new(),
            commit: None,
            commit_time: None,
            store: None,
            secrets: BTreeMap::new(),
            grants,
            limits: None,
            cancel,
            events,
            terraform: None,
            rebuild: false,
        }
    }
}

/// Where a run's `terraform` calls work: one private directory per project and env, kept
/// between runs (Terraform's `.terraform/` and lock file stay), and how they lock the
/// state: [`Lock::HeldByForge`] when forge holds the env's state lock for the run (then
/// Terraform runs with `-lock=false`), else Terraform's own lock.
#[derive(Debug, Clone)]
pub struct TerraformPlace {
    pub workdir: PathBuf,
    pub lock: forge_clients::terraform::Lock,
    /// A read-only run (`forge plan --terraform`): `apply` is refused, and the plan is
    /// recorded here for the executor.
    pub plan_only: Option<PlanSink>,
}

/// Where a read-only run's `terraform plan` summary goes.
pub type PlanSink = Arc<Mutex<Option<forge_clients::terraform::PlanSummary>>>;

/// One upstream step's output, as a run sees it.
#[derive(Debug, Clone, Default)]
pub struct Upstream {
    /// The output manifest as canonical JSON.
    pub manifest: String,
    /// Its output files: name → blob.
    pub files: BTreeMap<String, forge_engine::executor::OutputFile>,
}

/// A successful run, before anything is committed to the store.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub info: PluginInfo,
    /// The manifest JSON text the plugin returned.
    pub manifest: String,
    /// Output files: name → (blake3 hex, bytes).
    pub outputs: BTreeMap<String, (String, Vec<u8>)>,
}

/// What a plugin's own `run` reported as failure (not a host failure).
#[derive(Debug, Clone)]
pub struct PluginFailure {
    pub message: String,
    pub help: Option<String>,
}

/// Outcome of [`Host::run`].
#[derive(Debug)]
pub enum RunError {
    /// The plugin ran and returned `step-error`.
    Plugin(PluginFailure),
    /// The host stopped or refused it.
    Host(HostError),
}

impl From<HostError> for RunError {
    fn from(e: HostError) -> Self {
        RunError::Host(e)
    }
}

/// The deterministic engine configuration every plugin runs under.
pub fn engine_config(pooling: bool) -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        // Same inputs, same bits: NaN payloads are the one float nondeterminism left.
        .cranelift_nan_canonicalization(true)
        // No threads or shared memory (this wasmtime is built without the `threads`
        // feature, so they cannot even be enabled), and no relaxed SIMD, whose results
        // may differ between CPUs.
        .wasm_shared_everything_threads(false)
        .wasm_relaxed_simd(false)
        .epoch_interruption(true)
        // Enough frames to name where a trap happened, cheap to capture.
        .wasm_backtrace_max_frames(std::num::NonZeroUsize::new(32))
        .parallel_compilation(true);
    // No `async_support(true)`: since wasmtime 48 the crate's `async` feature is what
    // enables async imports, `instantiate_async`/`call_async` and yielding on epoch ticks
    // (wasm then runs on a fiber that gives the thread back), and the setting is a no-op.
    if pooling {
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(64)
            .total_core_instances(256)
            .total_memories(128)
            .total_tables(128)
            .max_memory_size(usize::try_from(Limits::default().memory).unwrap_or(usize::MAX));
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// The plugin host: one engine, its caches, and the epoch ticker.
pub struct Host {
    engine: Engine,
    limits: Limits,
    cache: ComponentCache,
    components: Mutex<HashMap<String, Component>>,
    linkers: Mutex<HashMap<GrantSet, Linker<HostState>>>,
    pres: Mutex<HashMap<(String, GrantSet), StepPre<HostState>>>,
    clients: Arc<Clients>,
    _ticker: EpochTicker,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("limits", &self.limits)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

fn internal(e: impl std::fmt::Display) -> HostError {
    HostError::Internal {
        message: e.to_string(),
    }
}

impl Host {
    pub fn new(config: HostConfig) -> Result<Host, HostError> {
        let engine = Engine::new(&engine_config(config.pooling)).map_err(internal)?;
        let ticker = EpochTicker::start(&engine).map_err(internal)?;
        Ok(Host {
            cache: ComponentCache::new(config.cache_dir.as_deref(), &engine),
            engine,
            limits: config.limits,
            components: Mutex::default(),
            linkers: Mutex::default(),
            pres: Mutex::default(),
            clients: Arc::default(),
            _ticker: ticker,
        })
    }

    /// This host with `clients` for the networked capabilities instead of the ones the
    /// environment names (`DOCKER_HOST`, the AWS chain): for tests and tools that point a
    /// host at particular components.
    pub fn with_clients(self, clients: Clients) -> Host {
        self.sharing_clients(Arc::new(clients))
    }

    /// This host with `clients` shared with its executor (which rechecks cached results
    /// without starting the host).
    pub fn sharing_clients(mut self, clients: Arc<Clients>) -> Host {
        self.clients = clients;
        self
    }

    /// The clients of the networked capabilities.
    pub fn clients(&self) -> &Arc<Clients> {
        &self.clients
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn cache(&self) -> &ComponentCache {
        &self.cache
    }

    /// The cache file the compiled form of a component with this hash would live in.
    pub fn cache_path(&self, component_hash: &str) -> Option<PathBuf> {
        self.cache.path_for(component_hash)
    }

    /// Loads (or compiles) the component and checks its imports against `grants`; the
    /// result is reused for every later run of the same component with the same grants.
    pub fn prepare(
        &self,
        plugin: &PluginCode,
        grants: GrantSet,
        events: &EventSink,
    ) -> Result<StepPre<HostState>, HostError> {
        let key = (plugin.hash.clone(), grants);
        if let Some(pre) = lock(&self.pres).get(&key) {
            return Ok(pre.clone());
        }
        let component = self.component(plugin, events)?;
        grants::check_imports(&plugin.name, &component, &self.engine, grants)?;
        let mut linkers = lock(&self.linkers);
        let linker = match linkers.entry(grants) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(grants::linker(&self.engine, grants).map_err(internal)?)
            }
        };
        let instantiate_err = |e: wasmtime::Error| HostError::Instantiate {
            plugin: plugin.name.clone(),
            message: format!("{e:#}"),
        };
        let pre = linker
            .instantiate_pre(&component)
            .map_err(instantiate_err)?;
        drop(linkers);
        let pre = StepPre::new(pre).map_err(instantiate_err)?;
        lock(&self.pres).insert(key, pre.clone());
        Ok(pre)
    }

    fn component(&self, plugin: &PluginCode, events: &EventSink) -> Result<Component, HostError> {
        if let Some(c) = lock(&self.components).get(&plugin.hash) {
            return Ok(c.clone());
        }
        let warn = |message: String| events.send(Event::Warning { message });
        let component = self
            .cache
            .load_or_compile(&self.engine, &plugin.hash, &plugin.bytes, &warn)
            .map_err(|e| HostError::Compile {
                plugin: plugin.name.clone(),
                message: format!("{e:#}"),
            })?;
        lock(&self.components).insert(plugin.hash.clone(), component.clone());
        Ok(component)
    }

    /// Whether [`Host::prepare`] already holds the pre-instance for this component and
    /// grants, i.e. whether [`Host::run`] will start without loading or compiling.
    pub fn is_prepared(&self, plugin: &PluginCode, grants: GrantSet) -> bool {
        lock(&self.pres).contains_key(&(plugin.hash.clone(), grants))
    }

    /// A fresh wasmtime store for one run of `spec`: its host state, memory limiter, epoch
    /// deadline (the timeout and cancellation) and the cap on what one call may copy.
    fn store_for(&self, spec: &RunSpec, limits: Limits) -> Store<HostState> {
        let state = HostState::new(
            spec.step.clone(),
            limits,
            spec.files.clone(),
            spec.secrets.clone(),
            spec.events.clone(),
            Reach {
                terraform: spec.terraform.clone(),
                clients: Arc::clone(&self.clients),
                upstream: spec.upstream.clone(),
                store: spec.store.clone(),
                cancel: spec.cancel.clone(),
                rebuild: spec.rebuild,
            },
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        // wasmtime caps what one call may copy out of the guest (128 MiB by default) with
        // a message of its own. A guest cannot hand over more than it holds, so the memory
        // cap bounds the copy already; forge's own caps (manifest, outputs) then judge it
        // and say which cap it was.
        store.set_hostcall_fuel(usize::try_from(limits.memory).unwrap_or(usize::MAX));
        let cancel = spec.cancel.clone();
        let timeout = limits.timeout;
        store.epoch_deadline_callback(move |mut ctx| {
            let state = ctx.data_mut();
            let interrupt = if cancel.is_cancelled() {
                Interrupt::Cancelled
            } else if state.elapsed() >= timeout {
                Interrupt::Deadline
            } else {
                // Give the runtime thread to other tasks once per tick; the deadline and
                // the token are checked again on the next one.
                return Ok(UpdateDeadline::Yield(1));
            };
            state.interrupt = Some(interrupt);
            Err(wasmtime::Error::new(interrupt))
        });

        store
    }

    /// The plugin's own description (`describe`): name, version, config schema and the
    /// capabilities it asks for. Nothing else of it runs; `grants` must cover its imports
    /// (its [`crate::grants::check_imports`]), or it cannot be instantiated.
    pub async fn describe(
        &self,
        plugin: &PluginCode,
        grants: GrantSet,
    ) -> Result<PluginInfo, HostError> {
        let spec = RunSpec::bare(
            format!("describe {}", plugin.name),
            "{}".to_owned(),
            grants,
            CancellationToken::new(),
            EventSink::null(),
        );
        let pre = self.prepare(plugin, grants, &spec.events)?;
        let limits = self.limits;
        let mut store = self.store_for(&spec, limits);
        let outcome = async {
            let instance = pre.instantiate_async(&mut store).await?;
            instance.call_describe(&mut store).await
        }
        .await;
        outcome.map_err(|e| classify(&plugin.name, &limits, store.data(), &e))
    }

    /// Runs one step: `describe`, then `run`, in a fresh store.
    ///
    /// The plugin runs on the polling thread and yields at every epoch tick and whenever an
    /// import waits. If the component is not [prepared](Host::is_prepared) yet it is loaded
    /// or compiled first, on the polling thread: callers on a runtime should call
    /// [`Host::prepare`] on a blocking thread beforehand, as [`crate::HostExecutor`] does.
    pub async fn run(&self, plugin: &PluginCode, spec: RunSpec) -> Result<RunResult, RunError> {
        if spec.cancel.is_cancelled() {
            return Err(HostError::Cancelled.into());
        }
        let pre = self.prepare(plugin, spec.grants, &spec.events)?;
        let limits = spec.limits.unwrap_or(self.limits);
        let mut store = self.store_for(&spec, limits);
        let outcome = async {
            let instance = pre.instantiate_async(&mut store).await?;
            let info = instance.call_describe(&mut store).await?;
            let input = StepInput {
                step: spec.step.clone(),
                env: spec.env.clone(),
                config: spec.config.clone(),
                upstream: spec
                    .upstream
                    .iter()
                    .map(|(step, up)| UpstreamStep {
                        step: step.clone(),
                        manifest: up.manifest.clone(),
                        outputs: up
                            .files
                            .iter()
                            .map(|(name, file)| OutputFile {
                                name: name.clone(),
                                hash: file.hash.clone(),
                                size: file.size,
                            })
                            .collect(),
                    })
                    .collect(),
                files: spec.files.keys().cloned().collect(),
                commit: spec.commit.clone(),
                commit_time: spec.commit_time,
            };
            let result = instance.call_run(&mut store, &input).await?;
            Ok::<_, wasmtime::Error>((info, result))
        }
        .await;

        let (info, result) = match outcome {
            Ok(ok) => ok,
            Err(e) => return Err(classify(&plugin.name, &limits, store.data(), &e).into()),
        };
        if let Some(missing) = info
            .capabilities
            .iter()
            .find(|cap| !spec.grants.has_capability(cap))
        {
            return Err(HostError::Ungranted {
                plugin: plugin.name.clone(),
                capability: missing.clone(),
            }
            .into());
        }
        let output = match result {
            Ok(output) => output,
            Err(e) => {
                // The plugin's own words, shown to people: capped here, where they enter
                // forge, so no later copy (events, history, JSON) carries megabytes.
                return Err(RunError::Plugin(PluginFailure {
                    message: cap_message(e.message),
                    help: e.help.map(cap_message),
                }));
            }
        };
        if output.manifest.len() as u64 > limits.manifest {
            return Err(HostError::OutputTooLarge {
                plugin: plugin.name.clone(),
                what: "manifest",
                size: output.manifest.len() as u64,
                limit: limits.manifest,
            }
            .into());
        }
        let state = store.into_data();
        Ok(RunResult {
            info,
            manifest: output.manifest,
            outputs: state
                .outputs
                .files
                .into_iter()
                .map(|(name, f)| (name, (f.hash, f.bytes)))
                .collect(),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The maps hold only finished values; a panic elsewhere cannot leave one half-built.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Names what stopped a run, most specific cause first.
fn classify(
    plugin: &str,
    limits: &Limits,
    state: &HostState,
    error: &wasmtime::Error,
) -> HostError {
    let plugin = plugin.to_owned();
    let interrupt = state
        .interrupt
        .or_else(|| error.downcast_ref::<Interrupt>().copied());
    match interrupt {
        Some(Interrupt::Cancelled) => return HostError::Cancelled,
        Some(Interrupt::Deadline) => {
            return HostError::Deadline {
                plugin,
                limit: limits.timeout,
            };
        }
        None => {}
    }
    if state.limiter.memory_refused {
        return HostError::MemoryLimit {
            plugin,
            limit: limits.memory,
        };
    }
    match state.outputs.overflow {
        Some(OutputOverflow::Size { size, limit }) => {
            return HostError::OutputTooLarge {
                plugin,
                what: "output files",
                size,
                limit,
            };
        }
        Some(OutputOverflow::Count { limit }) => {
            return HostError::TooManyOutputs { plugin, limit };
        }
        None => {}
    }
    if let Some(message) = &state.log.panic_message {
        return HostError::Panic {
            plugin,
            message: message.clone(),
        };
    }
    HostError::Trap {
        plugin,
        summary: trap_summary(error),
    }
}

/// The trap and the innermost frames of its wasm backtrace, on one line.
fn trap_summary(error: &wasmtime::Error) -> String {
    let what = error
        .downcast_ref::<wasmtime::Trap>()
        .map_or_else(|| format!("{error}"), ToString::to_string);
    let Some(backtrace) = error.downcast_ref::<wasmtime::WasmBacktrace>() else {
        return what;
    };
    // A component built without a name section has no function names; the function's
    // index in its module is what its author can look up (`wasm-tools print`).
    let frames: Vec<String> = backtrace
        .frames()
        .iter()
        .take(6)
        .map(|f| match f.func_name() {
            Some(name) => name.to_owned(),
            None => format!("wasm function #{}", f.func_index()),
        })
        .collect();
    if frames.is_empty() {
        what
    } else {
        format!("{what}; in {}", frames.join(" <- "))
    }
}

/// `root` joined with a project-relative `/`-separated path.
pub(crate) fn under_root(root: &Path, rel: &str) -> PathBuf {
    rel.split('/')
        .fold(root.to_path_buf(), |p, seg| p.join(seg))
}
