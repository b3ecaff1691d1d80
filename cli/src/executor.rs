//! Which [`Executor`] runs steps for this forge binary.
//!
//! The wasm plugin host is not part of this build yet, so the production executor fails
//! every step it is asked to run with a message saying exactly that. Planning, explaining,
//! the graph and the cache all work without it, and so does a fully cached run (no
//! executor is called on a cache hit).
//!
//! Test-only: when `FORGE_TEST_EXECUTOR=1` is set, steps run through the engine's
//! [`TestExecutor`] instead, which produces deterministic outputs from each step's
//! fingerprint; `FORGE_TEST_FAIL=<step>[,<step>...]` makes those steps fail. The CLI's
//! integration tests use this to exercise real runs end to end. It is deliberately absent
//! from `--help`: it is not a user feature.

use std::future::Future;

use forge_engine::executor::{Executor, StepError, StepOutput, StepRequest};

/// Fails each step honestly: there is nothing in this build that can run a plugin.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPluginHost;

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
                help: Some(
                    "this build of forge can plan, explain, graph and cache, but cannot run \
                     plugins; steps whose results are already in the store are reused"
                        .to_string(),
                ),
            })
        }
    }
}
