//! Which [`Executor`] runs steps for this forge binary.
//!
//! Steps run through [`forge_host`]'s executor: `command` steps as processes, every other
//! step as a WebAssembly plugin. The plugin host (a wasmtime engine and its
//! compiled-component cache) is started by the first plugin step that actually has to
//! run, so a fully cached run — the no-op path — never pays for it.
//!
//! Test-only: when `FORGE_TEST_EXECUTOR` is set (to a possibly empty spec), steps run
//! through the engine's [`TestExecutor`] instead, which produces deterministic outputs from
//! each step's fingerprint. The spec steers it: `fail:STEP=message`, `block:STEP`,
//! `output:STEP={json}`, `;`-separated (see [`TestExecutor::from_spec`]). The CLI's
//! integration tests use this to exercise the engine end to end without plugins. It is
//! deliberately absent from `--help`: it is not a user feature.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use forge_engine::fingerprint::BuiltinIdentities;
use forge_engine::recheck::{OnRuntime, Rechecker};
use forge_engine::store::Store;
use forge_engine::testing::TestExecutor;
use forge_host::{Builtins, HostConfig, HostExecutor};

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

/// The executor of `forge build` / `forge deploy`: the plugin host, started by the first
/// plugin step that has to run (see [`HostExecutor::lazy`]).
pub fn host_executor(
    store_dir: PathBuf,
    builtins: Builtins,
    timeout: Option<Duration>,
) -> Result<HostExecutor, CliError> {
    let store = Store::open(&store_dir).map_err(forge_engine::Error::from)?;
    let executor = HostExecutor::lazy(
        HostConfig {
            cache_dir: Some(store_dir),
            ..HostConfig::default()
        },
        store,
        builtins,
    );
    Ok(match timeout {
        Some(timeout) => executor.with_timeout(timeout),
        None => executor,
    })
}

/// Runs `f` with the rechecks of this forge's executor (the test executor's, when it is
/// selected): `plan` and `explain` recheck a cached result the way a run would. The
/// plugin host is not started for it (a recheck is a host call, not a plugin run).
pub fn with_rechecker<T>(
    store_dir: PathBuf,
    f: impl FnOnce(&dyn Rechecker) -> Result<T, CliError>,
) -> Result<T, CliError> {
    if let Some(executor) = test_executor()? {
        return f(&executor);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let host = host_executor(store_dir, builtins(), None)?;
    f(&OnRuntime {
        runtime: &runtime,
        executor: &host,
    })
}
