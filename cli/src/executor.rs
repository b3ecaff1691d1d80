//! Which [`Executor`] runs steps for this forge binary.
//!
//! Steps run as WebAssembly plugins through [`forge_host`]. The host (a wasmtime engine
//! and its compiled-component cache) is started by the first step that actually has to
//! run, so a fully cached run — the no-op path — never pays for it.
//!
//! Test-only: when `FORGE_TEST_EXECUTOR` is set (to a possibly empty spec), steps run
//! through the engine's [`TestExecutor`] instead, which produces deterministic outputs from
//! each step's fingerprint. The spec steers it: `fail:STEP=message`, `block:STEP`,
//! `output:STEP={json}`, `;`-separated (see [`TestExecutor::from_spec`]). The CLI's
//! integration tests use this to exercise the engine end to end without plugins. It is
//! deliberately absent from `--help`: it is not a user feature.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use forge_engine::executor::{Executor, StepError, StepOutput, StepRequest};
use forge_engine::scheduler::BuiltinIdentities;
use forge_engine::store::Store;
use forge_engine::testing::TestExecutor;
use forge_host::{Builtins, Host, HostConfig, HostExecutor};

use crate::exit::CliError;

/// The test executor, when the test-only `FORGE_TEST_EXECUTOR` selects it.
pub fn test_executor() -> Result<Option<TestExecutor>, CliError> {
    match TestExecutor::from_env() {
        None => Ok(None),
        Some(Ok(executor)) => Ok(Some(executor)),
        Some(Err(message)) => Err(CliError::TestExecutor(message)),
    }
}

/// The built-in plugins embedded in this binary.
pub fn builtins() -> Builtins {
    Builtins::embedded()
}

/// Name → `blake3:<hash>` of every embedded built-in: their identities in fingerprints.
pub fn builtin_identities(builtins: &Builtins) -> BuiltinIdentities {
    Arc::new(
        builtins
            .names()
            .filter_map(|name| Some((name.to_owned(), builtins.hash(name)?)))
            .collect(),
    )
}

/// The plugin host, started on first use.
pub struct LazyHost {
    store_dir: PathBuf,
    builtins: Builtins,
    timeout: Option<Duration>,
    executor: OnceLock<Result<HostExecutor, String>>,
}

impl LazyHost {
    pub fn new(store_dir: PathBuf, builtins: Builtins, timeout: Option<Duration>) -> LazyHost {
        LazyHost {
            store_dir,
            builtins,
            timeout,
            executor: OnceLock::new(),
        }
    }

    fn executor(&self) -> &Result<HostExecutor, String> {
        self.executor.get_or_init(|| {
            let store = Store::open(&self.store_dir).map_err(|e| e.to_string())?;
            let host = Host::new(HostConfig {
                cache_dir: Some(self.store_dir.clone()),
                ..HostConfig::default()
            })
            .map_err(|e| e.to_string())?;
            let executor = HostExecutor::new(Arc::new(host), store, self.builtins.clone());
            Ok(match self.timeout {
                Some(timeout) => executor.with_timeout(timeout),
                None => executor,
            })
        })
    }
}

impl Executor for LazyHost {
    async fn run(&self, request: StepRequest) -> Result<StepOutput, StepError> {
        // A `command` step is a process, not a plugin: no need to start wasmtime for it.
        if forge_host::command::is_command(&request.step) {
            let store = Store::open(&self.store_dir).map_err(|e| StepError::Failed {
                message: e.to_string(),
                help: Some("check that the store directory is writable (`--cache-dir`)".into()),
            })?;
            return forge_host::command::run(request, store).await;
        }
        match self.executor() {
            Ok(executor) => executor.run(request).await,
            Err(message) => Err(StepError::Failed {
                message: format!("the plugin host could not start: {message}"),
                help: Some("check that the store directory is writable (`--cache-dir`)".into()),
            }),
        }
    }
}
