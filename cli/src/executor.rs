//! Which [`Executor`] runs steps for this forge binary.
//!
//! The wasm plugin host is not part of this build yet, so the production executor fails
//! every step it is asked to run with a message saying exactly that. Planning, explaining,
//! the graph and the cache all work without it, and so does a fully cached run (no
//! executor is called on a cache hit).
//!
//! Test-only: when `FORGE_TEST_EXECUTOR` is set (to a possibly empty spec), steps run
//! through the engine's [`TestExecutor`] instead, which produces deterministic outputs from
//! each step's fingerprint. The spec steers it: `fail:STEP=message`, `block:STEP`,
//! `output:STEP={json}`, `;`-separated (see [`TestExecutor::from_spec`]). The CLI's
//! integration tests use this to exercise real runs end to end without Docker or AWS. It is
//! deliberately absent from `--help`: it is not a user feature.

use std::future::Future;

use forge_engine::executor::{Executor, StepError, StepOutput, StepRequest};
use forge_engine::testing::TestExecutor;

use crate::exit::CliError;

/// The test executor, when the test-only `FORGE_TEST_EXECUTOR` selects it.
pub fn test_executor() -> Result<Option<TestExecutor>, CliError> {
    match TestExecutor::from_env() {
        None => Ok(None),
        Some(Ok(executor)) => Ok(Some(executor)),
        Some(Err(message)) => Err(CliError::TestExecutor(message)),
    }
}

/// Fails each step honestly: there is nothing in this build that can run a plugin.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPluginHost;

impl NoPluginHost {
    pub const HELP: &str = "this forge build cannot run plugins yet: `forge plan`, `forge \
                            explain`, `forge graph` and `forge cache` work, and steps whose \
                            results are already in the store are reused";
}

impl Executor for NoPluginHost {
    fn run(
        &self,
        request: StepRequest,
    ) -> impl Future<Output = Result<StepOutput, StepError>> + Send {
        let message = format!(
            "step `{}` needs plugin `{}`; this forge build has no plugin host yet",
            request.step.id, request.step.plugin
        );
        async move {
            Err(StepError::Failed {
                message,
                help: Some(NoPluginHost::HELP.to_string()),
            })
        }
    }
}
