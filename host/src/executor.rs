//! [`HostExecutor`]: the engine's [`Executor`] backed by the wasm plugin host.
//!
//! For each step: resolve the plugin (a built-in by name, or a file pinned by hash), load
//! or compile it on a blocking thread unless it is already prepared, run it with
//! [`Host::run`] on the runtime (it yields every epoch tick, so steps share threads
//! fairly), then commit its output files to the store, again on a blocking thread, and
//! return its manifest.
//!
//! # The result
//!
//! The plugin's `step-output.manifest` must be JSON; it is the plugin's to shape. The files
//! it wrote through `outputs.write` (and the image blobs `docker.build` wrote for it) are
//! stored as blobs and returned beside the manifest as [`StepOutput::files`]: the engine
//! records them in the step's action entry, so nothing a plugin puts in its manifest can
//! add to them or point at another step's blobs.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use forge_clients::Clients;
use forge_clients::aws::Target;
use forge_clients::terraform::{Lock, PlanSummary};
use forge_contract::lock::{self, AppliedState, LockCall, StateIdentity};
use forge_engine::executor::{Executor, OutputFile, StepError, StepOutput, StepRequest};
use forge_engine::lock::{LockReply, LockRequest};
use forge_engine::model::PluginSource;
use forge_engine::recheck::{Recheck, RecheckRequest, Verdict};
use forge_engine::store::{Store, canonical_json};

use crate::builtins::Builtins;
use crate::drift::EcsReads;
use crate::error::HostError;
use crate::grants::{GrantSet, Interface};
use crate::host::{
    Host, HostConfig, PlanSink, PluginCode, PluginFailure, RunError, RunResult, RunSpec,
    TerraformPlace, Upstream, under_root,
};

/// Runs steps: `command` steps as processes ([`crate::command`]), every other step as a
/// wasm plugin. The one place a step is routed to what runs it.
#[derive(Debug, Clone)]
pub struct HostExecutor {
    host: Arc<HostSlot>,
    /// The host's clients, reachable before the host starts: a recheck uses them.
    clients: Arc<Clients>,
    /// The ECS answers of this command's rechecks ([`crate::drift`]).
    ecs: Arc<EcsReads>,
    store: Store,
    builtins: Builtins,
    timeout: Option<Duration>,
}

/// The plugin host, or what starts it on first use.
#[derive(Debug)]
enum HostSlot {
    Ready(Arc<Host>),
    Lazy {
        config: HostConfig,
        host: OnceLock<Result<Arc<Host>, String>>,
    },
}

impl HostExecutor {
    /// An executor on a running host.
    pub fn new(host: Arc<Host>, store: Store, builtins: Builtins) -> HostExecutor {
        HostExecutor {
            clients: Arc::clone(host.clients()),
            host: Arc::new(HostSlot::Ready(host)),
            ecs: Arc::default(),
            store,
            builtins,
            timeout: None,
        }
    }

    /// An executor whose host (a wasmtime engine, its epoch thread and compiled-component
    /// cache) starts with the first plugin step that has to run: a fully cached run, or
    /// one that runs only `command` steps, never pays for it.
    pub fn lazy(config: HostConfig, store: Store, builtins: Builtins) -> HostExecutor {
        HostExecutor {
            host: Arc::new(HostSlot::Lazy {
                config,
                host: OnceLock::new(),
            }),
            clients: Arc::default(),
            ecs: Arc::default(),
            store,
            builtins,
            timeout: None,
        }
    }

    /// The run's `--timeout`. The engine's scheduler enforces it, for every kind of step,
    /// with one message; the host's own deadline is only moved past it, so that a plugin
    /// may use all of it and the sandbox's deadline never fires first with another.
    pub fn with_timeout(mut self, timeout: Duration) -> HostExecutor {
        self.timeout = Some(timeout);
        self
    }

    /// The plugin host, started now if it was not yet.
    pub fn host(&self) -> Result<&Arc<Host>, HostError> {
        match &*self.host {
            HostSlot::Ready(host) => Ok(host),
            HostSlot::Lazy { config, host } => host
                .get_or_init(|| {
                    Host::new(config.clone())
                        .map(|host| Arc::new(host.sharing_clients(Arc::clone(&self.clients))))
                        .map_err(|e| e.to_string())
                })
                .as_ref()
                .map_err(|message| HostError::Internal {
                    message: format!("the plugin host could not start: {message}"),
                }),
        }
    }

    pub fn builtins(&self) -> &Builtins {
        &self.builtins
    }

    async fn run_step(&self, request: StepRequest) -> Result<StepOutput, RunError> {
        let place = TerraformPlace {
            workdir: forge_engine::store::terraform_work_dir(
                self.store.dir(),
                &request.root,
                &request.env,
            ),
            lock: if request.lock.is_some() {
                Lock::HeldByForge
            } else {
                Lock::Wait(Duration::ZERO)
            },
            plan_only: None,
        };
        let cancel = request.cancel.clone();
        let (plugin, result) = self.run_plugin(request, place).await?;
        if cancel.is_cancelled() {
            return Err(HostError::Cancelled.into());
        }
        if result.outputs.is_empty() {
            return Ok(self.commit(&plugin, result)?);
        }
        // Writing output blobs is file I/O.
        let this = self.clone();
        Ok(blocking(move || this.commit(&plugin, result)).await??)
    }

    /// `terraform plan` through the step's plugin, read-only (see
    /// [`Executor::terraform_plan`]).
    async fn plan_step(
        &self,
        request: StepRequest,
        lock_timeout: Duration,
    ) -> Result<PlanSummary, RunError> {
        let sink = PlanSink::default();
        let place = TerraformPlace {
            workdir: forge_engine::store::terraform_plan_dir(
                self.store.dir(),
                &request.root,
                &request.env,
            ),
            lock: Lock::Wait(lock_timeout),
            plan_only: Some(sink.clone()),
        };
        // The plugin stops at the refused apply, or ends when there is nothing to apply;
        // either way the plan it made is the answer. (It runs with its step's grants:
        // only `terraform apply` is refused.)
        let plugin = request.step.plugin.clone();
        let ran = self.run_plugin(request, place).await;
        let planned = *sink.lock().unwrap_or_else(|e| e.into_inner());
        match (planned, ran) {
            (Some(summary), _) => Ok(summary),
            (None, Err(err)) => Err(err),
            (None, Ok(_)) => Err(RunError::Plugin(PluginFailure {
                message: format!("plugin `{plugin}` ended without running terraform plan"),
                help: Some(
                    "forge plan --terraform reports the plan the step's plugin makes; this one made none"
                        .to_owned(),
                ),
            })),
        }
    }

    /// Runs the step's plugin, its `terraform` calls (if granted) working at `place`.
    async fn run_plugin(
        &self,
        request: StepRequest,
        place: TerraformPlace,
    ) -> Result<(String, RunResult), RunError> {
        let host = self.host()?;
        let step = &request.step;
        let grants = GrantSet::from_grants(&step.grants);
        let plugin = match &step.plugin_source {
            // A map lookup: the bytes are embedded and their hash computed once.
            PluginSource::Builtin => resolve(
                &self.builtins,
                &step.plugin,
                &step.plugin_source,
                &request.root,
            )?,
            // Reads and hashes the file: disk I/O and CPU, off the runtime.
            PluginSource::Path { .. } => {
                let this = self.clone();
                let step = Arc::clone(step);
                let root = request.root.clone();
                blocking(move || resolve(&this.builtins, &step.plugin, &step.plugin_source, &root))
                    .await??
            }
        };
        self.prepare(host, &plugin, grants, &request.events).await?;
        let mut limits = host.limits();
        if let Some(limit) = step.time_limit {
            limits.timeout = limits.timeout.max(limit);
        }
        if let Some(timeout) = self.timeout {
            limits.timeout = limits.timeout.max(timeout + TIMEOUT_MARGIN);
        }
        let spec = RunSpec {
            step: step.id.clone(),
            env: request.env.clone(),
            config: step.config.canonical_json(),
            upstream: request
                .upstream
                .iter()
                .map(|(id, out)| {
                    let upstream = Upstream {
                        manifest: canonical_json(&out.manifest),
                        files: out.files.clone(),
                    };
                    (id.clone(), upstream)
                })
                .collect(),
            files: request
                .fingerprint
                .files
                .keys()
                .map(|rel| (rel.clone(), under_root(&request.root, rel)))
                .collect(),
            // A declared commit is fingerprinted; a stamped one (docker-build) is not, but
            // the plugin sees both the same way.
            commit: request
                .fingerprint
                .commit
                .clone()
                .or_else(|| request.stamp.as_ref().map(|s| s.commit.clone())),
            commit_time: request.stamp.as_ref().map(|s| s.time),
            store: Some(self.store.clone()),
            // Handles only: `secrets.get` names a declared secret, never a value.
            secrets: step.secrets.clone(),
            grants,
            limits: Some(limits),
            cancel: request.cancel.clone(),
            events: request.events.clone(),
            terraform: grants.allows(Interface::Terraform).then_some(place),
            rebuild: request.rebuild,
        };
        let result = host.run(&plugin, spec).await?;
        Ok((plugin.name.clone(), result))
    }

    /// Compiles or loads `plugin` for `grants` unless it is ready. Compiling is CPU work
    /// measured in hundreds of milliseconds; loading from the cache verifies and maps a
    /// file. Neither belongs on a runtime thread.
    async fn prepare(
        &self,
        host: &Arc<Host>,
        plugin: &PluginCode,
        grants: GrantSet,
        events: &forge_engine::events::EventSink,
    ) -> Result<(), HostError> {
        if host.is_prepared(plugin, grants) {
            return Ok(());
        }
        let host = Arc::clone(host);
        let code = plugin.clone();
        let events = events.clone();
        blocking(move || host.prepare(&code, grants, &events).map(drop)).await?
    }

    /// The state object now against the one the cached apply recorded: one HEAD.
    async fn recheck_state(
        &self,
        backend: &lock::Backend,
        output: &StepOutput,
    ) -> Result<Verdict, StepError> {
        let object = format!("s3://{}/{}", backend.bucket, backend.key);
        let recorded = match serde_json::from_value::<AppliedState>(output.manifest.clone()) {
            Ok(applied) => applied.state,
            Err(err) => {
                return Ok(Verdict::Stale {
                    detail: format!("the cached result does not say how it left {object}: {err}"),
                });
            }
        };
        let target = Target {
            region: Some(backend.region.clone()),
            endpoint: backend.endpoint.clone(),
        };
        let now = self
            .clients
            .aws()
            .s3_head_object(&target, &backend.bucket, &backend.key)
            .await
            .map_err(|err| StepError::Failed {
                message: format!("HEAD {object}: {err}"),
                help: None,
            })?
            .map(|meta| StateIdentity {
                etag: meta.etag,
                version_id: meta.version_id,
            });
        Ok(match (recorded, now) {
            (recorded, now) if recorded == now => Verdict::Fresh,
            (Some(recorded), Some(now)) => Verdict::Stale {
                detail: format!("{object} was {recorded}, is now {now}"),
            },
            (Some(recorded), None) => Verdict::Stale {
                detail: format!("{object} ({recorded}) is gone"),
            },
            (None, Some(now)) => Verdict::Stale {
                detail: format!("{object} did not exist, is now {now}"),
            },
            (None, None) => Verdict::Fresh,
        })
    }

    /// One call of the `state-lock` built-in: the lock call as its config, the reply as
    /// its manifest. Not a step: nothing is stored, and it sees no files.
    async fn lock_call(&self, request: LockRequest) -> Result<LockReply, RunError> {
        let host = self.host()?;
        let plugin = self
            .builtins
            .get(lock::PLUGIN)
            .ok_or_else(|| HostError::UnknownBuiltin {
                plugin: lock::PLUGIN.to_owned(),
            })?;
        let grants = GrantSet::from_grants(forge_contract::builtin_grants(lock::PLUGIN));
        self.prepare(host, &plugin, grants, &request.events).await?;
        let call = LockCall {
            backend: request.backend,
            action: request.action,
        };
        let config = serde_json::to_string(&call).map_err(|e| HostError::Internal {
            message: format!("encoding the lock call: {e}"),
        })?;
        let spec = RunSpec::bare(
            lock::PLUGIN.to_owned(),
            config,
            grants,
            request.cancel.clone(),
            request.events,
        );
        let result = host.run(&plugin, spec).await?;
        if request.cancel.is_cancelled() {
            return Err(HostError::Cancelled.into());
        }
        serde_json::from_str(&result.manifest).map_err(|e| {
            HostError::InvalidManifest {
                plugin: lock::PLUGIN.to_owned(),
                message: format!("not a lock reply: {e}"),
            }
            .into()
        })
    }

    /// Parses the manifest and stores the output files.
    fn commit(&self, plugin: &str, result: RunResult) -> Result<StepOutput, HostError> {
        let manifest: serde_json::Value =
            serde_json::from_str(&result.manifest).map_err(|e| HostError::InvalidManifest {
                plugin: plugin.to_owned(),
                message: format!("not JSON: {e}"),
            })?;
        let mut output = StepOutput::new(manifest);
        for (name, (hash, bytes)) in &result.outputs {
            let stored = self
                .store
                .put_blob(bytes)
                .map_err(|e| HostError::Internal {
                    message: e.to_string(),
                })?;
            debug_assert_eq!(&stored, hash);
            output.files.insert(
                name.clone(),
                OutputFile {
                    hash: stored,
                    size: bytes.len() as u64,
                },
            );
        }
        Ok(output)
    }
}

/// How far past `--timeout` the host's own deadline is moved: the scheduler's cancel
/// reaches a plugin within one epoch tick, long before this.
const TIMEOUT_MARGIN: Duration = Duration::from_secs(5);

/// The component a step runs: a built-in by name, or a pinned file.
fn resolve(
    builtins: &Builtins,
    name: &str,
    source: &PluginSource,
    root: &Path,
) -> Result<PluginCode, HostError> {
    match source {
        PluginSource::Builtin => builtins.get(name).ok_or_else(|| HostError::UnknownBuiltin {
            plugin: name.to_owned(),
        }),
        PluginSource::Path { path, hash } => {
            let full: PathBuf = root.join(path);
            let bytes = std::fs::read(&full).map_err(|source| HostError::PluginRead {
                plugin: name.to_owned(),
                path: path.clone(),
                source,
            })?;
            let code = PluginCode::new(name, bytes);
            verify_pin(&code, hash).map_err(|actual| HostError::PinMismatch {
                plugin: name.to_owned(),
                path: path.clone(),
                expected: hash.clone(),
                actual,
            })?;
            Ok(code)
        }
    }
}

/// Checks a pin against the bytes about to be compiled; `Err` carries the actual pin.
fn verify_pin(code: &PluginCode, pinned: &str) -> Result<(), String> {
    let actual = format!("{}{}", forge_engine::pin::HASH_PREFIX, code.hash);
    if forge_engine::pin::matches(&actual, pinned) {
        Ok(())
    } else {
        Err(actual)
    }
}

fn to_step_error(error: RunError) -> StepError {
    match error {
        RunError::Host(HostError::Cancelled) => StepError::Cancelled,
        RunError::Host(e) => StepError::Failed {
            help: e.help_text(),
            message: e.to_string(),
        },
        RunError::Plugin(failure) => StepError::Failed {
            message: failure.message,
            help: failure.help,
        },
    }
}

impl Executor for HostExecutor {
    fn run(
        &self,
        request: StepRequest,
    ) -> impl Future<Output = Result<StepOutput, StepError>> + Send {
        let this = self.clone();
        // Cancellation reaches a running plugin through the epoch callback, which sees
        // `request.cancel` within one tick.
        async move {
            // A step that runs may move the services (an apply above all): the ECS
            // answers read before it must not serve a recheck after it.
            this.ecs.forget();
            let result = if crate::command::is_command(&request.step) {
                crate::command::run(request, this.store.clone(), &this.clients).await
            } else {
                this.run_step(request).await.map_err(to_step_error)
            };
            this.ecs.forget();
            result
        }
    }

    fn recheck(
        &self,
        request: RecheckRequest,
    ) -> impl Future<Output = Result<Verdict, StepError>> + Send {
        let this = self.clone();
        async move {
            let check = async {
                match &request.check {
                    Recheck::State { backend, services } => {
                        match this.recheck_state(backend, &request.output).await? {
                            Verdict::Fresh => {
                                this.ecs
                                    .check_apply(&this.clients, services, &request.output)
                                    .await
                            }
                            stale => Ok(stale),
                        }
                    }
                    Recheck::Rollout { region } => {
                        this.ecs
                            .check_rollout(&this.clients, region, &request.output)
                            .await
                    }
                }
            };
            tokio::select! {
                verdict = check => verdict,
                () = request.cancel.cancelled() => Err(StepError::Cancelled),
            }
        }
    }

    fn terraform_plan(
        &self,
        request: StepRequest,
        lock_timeout: Duration,
    ) -> impl Future<Output = Result<PlanSummary, StepError>> + Send {
        let this = self.clone();
        async move {
            if crate::command::is_command(&request.step) {
                return Err(StepError::Failed {
                    message: format!("step `{}` is a command, not Terraform", request.step.id),
                    help: None,
                });
            }
            this.plan_step(request, lock_timeout)
                .await
                .map_err(to_step_error)
        }
    }

    fn state_lock(
        &self,
        request: LockRequest,
    ) -> impl Future<Output = Result<LockReply, StepError>> + Send {
        let this = self.clone();
        async move { this.lock_call(request).await.map_err(to_step_error) }
    }
}

/// Runs `f` on tokio's blocking pool; a panic in it becomes a host error, not a crash.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HostError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|join| HostError::Internal {
            message: format!("a blocking task of the plugin host failed: {join}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_compare_case_insensitively_and_report_the_actual_hash() {
        let code = PluginCode::new("p", b"wasm".to_vec());
        let good = format!("blake3:{}", code.hash);
        assert!(verify_pin(&code, &good).is_ok());
        assert!(
            verify_pin(
                &code,
                &good.to_ascii_uppercase().replace("BLAKE3", "blake3")
            )
            .is_ok()
        );
        assert_eq!(verify_pin(&code, "blake3:00"), Err(good));
    }
}
