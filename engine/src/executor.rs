//! The executor seam: how the engine has a step run, without knowing what runs it.
//!
//! The CLI passes the wasm plugin host; engine tests pass [`crate::testing::TestExecutor`].

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use miette::Diagnostic;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use crate::events::EventSink;
use crate::fingerprint::Fingerprint;
use crate::graph::Step;

/// What an executor gets to run one step.
#[derive(Debug, Clone)]
pub struct StepRequest {
    pub step: Arc<Step>,
    /// The fingerprint the result will be stored under.
    pub fingerprint: Arc<Fingerprint>,
    /// Project root; input paths in the fingerprint are relative to it.
    pub root: PathBuf,
    /// The forge env being run, for env-scoped (deploy) steps; empty for build-phase
    /// steps, whose results every env shares.
    pub env: String,
    /// Output manifests of the steps this one needs, by step id.
    pub upstream: BTreeMap<String, serde_json::Value>,
    /// The commit being built and its time, for steps that declare the commit SHA or
    /// stamp it ([`Step::stamp_commit`]); read only when such a step runs.
    pub stamp: Option<Stamp>,
    /// Cancelled on Ctrl-C, `--timeout`, or when the run is aborted.
    pub cancel: CancellationToken,
    pub events: EventSink,
}

/// The commit a run builds: what images are labelled and timestamped with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub commit: String,
    /// Committer time, seconds since the Unix epoch (`SOURCE_DATE_EPOCH` when set).
    pub time: u64,
}

/// What a step produced: a JSON manifest (image digest, rendered directory hash, ...).
/// Downstream steps see it, and its hash feeds their fingerprints.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutput {
    pub manifest: serde_json::Value,
}

/// Why a step did not produce an output. Failures are never cached.
#[derive(Debug, Error, Diagnostic)]
pub enum StepError {
    #[error("{message}")]
    #[diagnostic(code(forge::step::failed))]
    Failed {
        message: String,
        #[help]
        help: Option<String>,
    },
    #[error("cancelled")]
    #[diagnostic(code(forge::step::cancelled))]
    Cancelled,
}

/// Runs steps. Implementations must be cancel-safe: when `cancel` fires they return
/// [`StepError::Cancelled`] promptly and leave nothing half-written.
pub trait Executor: Send + Sync + 'static {
    fn run(
        &self,
        request: StepRequest,
    ) -> impl Future<Output = Result<StepOutput, StepError>> + Send;
}
