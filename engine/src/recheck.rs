//! Cached results that describe something outside the store, and the one cheap read that
//! says whether they still do.
//!
//! A step's fingerprint covers everything forge gives it; it cannot cover what someone
//! else does to the world the step changed. `terraform-apply` is the case: its result is
//! "the state is as this apply left it", and a colleague's `terraform apply` against the
//! same state makes that false without touching any input. Such a step carries a
//! [`Recheck`]; on a cache hit the scheduler (and `forge plan`) asks the executor to
//! [`Executor::recheck`](crate::executor::Executor::recheck) the cached output first, and
//! a [`Verdict::Stale`] result is run again, with the reason shown, like any other miss.
//!
//! A recheck is one read (a HEAD of the state object), never a plan: a fully cached
//! deploy makes exactly one network call per recheck and starts no `terraform`.

use std::sync::Arc;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::events::EventSink;
use crate::executor::StepOutput;
use crate::graph::Step;

/// What a cached result of a step must still match to be served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Recheck {
    /// The env's Terraform state object: the cached output's
    /// [`forge_contract::lock::AppliedState`] (its ETag and version) must be
    /// what the object is now.
    State {
        backend: forge_contract::lock::Backend,
    },
}

impl Recheck {
    /// The request to check `output`, a cached result of `step`.
    pub(crate) fn request(
        &self,
        step: &Arc<Step>,
        output: &Arc<StepOutput>,
        cancel: &CancellationToken,
        events: &EventSink,
    ) -> RecheckRequest {
        RecheckRequest {
            step: step.clone(),
            check: self.clone(),
            output: output.clone(),
            cancel: cancel.clone(),
            events: events.clone(),
        }
    }

    /// Why the step runs again after the executor answered `answer`; `None`: the cached
    /// result may be served. `since` is asked only for a stale one.
    pub(crate) fn reason(
        &self,
        answer: Result<Verdict, crate::executor::StepError>,
        since: impl FnOnce() -> Option<String>,
    ) -> Option<String> {
        match answer {
            Ok(Verdict::Fresh) => None,
            Ok(Verdict::Stale { detail }) => Some(self.stale_reason(&detail, since().as_deref())),
            Err(err) => Some(self.unchecked_reason(&crate::scheduler::failure_reason(&err))),
        }
    }

    /// Why a step whose check found `detail` runs again. `since`: the run that last saw
    /// the result good, when the history has it.
    pub fn stale_reason(&self, detail: &str, since: Option<&str>) -> String {
        let since = since
            .map(|run| format!(" since run {run}"))
            .unwrap_or_default();
        match self {
            Recheck::State { .. } => {
                format!("the state changed outside this forge{since}: {detail}")
            }
        }
    }

    /// Why a step whose check could not be made runs again (it cannot be trusted).
    pub fn unchecked_reason(&self, error: &str) -> String {
        match self {
            Recheck::State { backend } => format!(
                "could not check the state object s3://{}/{} ({error}); running it again",
                backend.bucket, backend.key
            ),
        }
    }
}

/// One cached output to check.
#[derive(Debug, Clone)]
pub struct RecheckRequest {
    pub step: Arc<Step>,
    /// What the step's [`Step::recheck`] says to check.
    pub check: Recheck,
    /// The cached output.
    pub output: Arc<StepOutput>,
    pub cancel: CancellationToken,
    pub events: EventSink,
}

/// The answer of a recheck.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// The world is as the cached output says: serve it.
    Fresh,
    /// It is not; `detail` says what differs (`ETag "a" → "b"`).
    Stale { detail: String },
}

/// Rechecks for `forge plan` and `forge explain`, which are not async: an
/// [`Executor`](crate::executor::Executor) driven on a runtime ([`OnRuntime`]), or the
/// [`TestExecutor`](crate::testing::TestExecutor) itself.
pub trait Rechecker {
    fn recheck(&self, request: RecheckRequest) -> Result<Verdict, crate::executor::StepError>;
}

/// An executor's rechecks, each run to completion on `runtime`.
pub struct OnRuntime<'a, E> {
    pub runtime: &'a tokio::runtime::Runtime,
    pub executor: &'a E,
}

impl<E: crate::executor::Executor> Rechecker for OnRuntime<'_, E> {
    fn recheck(&self, request: RecheckRequest) -> Result<Verdict, crate::executor::StepError> {
        self.runtime.block_on(self.executor.recheck(request))
    }
}
