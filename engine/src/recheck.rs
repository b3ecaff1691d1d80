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
//! A recheck is a read (a HEAD of the state object; one `DescribeServices` per cluster for
//! the services the rollouts left), never a plan: a fully cached deploy makes only those
//! calls and starts no `terraform`. `ecs-rollout` is the other case: someone's `aws ecs
//! update-service`, or tasks that died since, make "the service runs revision 42, all
//! tasks up" false; the apply's check sees it first and runs Terraform again, which puts
//! the service back, and the rollout's own check then finds it rolling and watches.

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
        /// The services the env's rollouts follow, named by the apply's own outputs: each
        /// must still be settled on the task definition the apply output (one
        /// `DescribeServices` per cluster for all of them). A service changed behind
        /// forge's back makes the apply run again, under the lock, so Terraform puts it
        /// back; the rollout then watches it.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        services: Vec<EcsService>,
    },
    /// The ECS service a cached `ecs-rollout` left: its manifest's service must still be
    /// settled on its task definition. Answered from the same batched `DescribeServices`
    /// as the apply's check when there is one.
    Rollout {
        /// The project's region (the endpoint comes from the AWS chain).
        region: String,
    },
}

/// A service the apply's recheck looks at: the names of `terraform-apply`'s root outputs
/// that hold its cluster, its ECS name and its task definition
/// ([`forge_contract::terraform::root_output`] of the rollout's references).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EcsService {
    /// The forge service (`backend`), for messages.
    pub service: String,
    pub region: String,
    pub cluster: String,
    pub name: String,
    pub task_definition: String,
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
            Ok(Verdict::Drifted { detail }) => Some(drift_reason(&detail, since().as_deref())),
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
            Recheck::Rollout { .. } => {
                format!("the service is not as it was left{since}: {detail}")
            }
        }
    }

    /// Why a step whose check could not be made runs again (it cannot be trusted).
    pub fn unchecked_reason(&self, error: &str) -> String {
        match self {
            Recheck::State { backend, services } if services.is_empty() => format!(
                "could not check the state object s3://{}/{} ({error}); running it again",
                backend.bucket, backend.key
            ),
            Recheck::State { backend, .. } => format!(
                "could not check the state object s3://{}/{} and the services on ECS ({error}); running it again",
                backend.bucket, backend.key
            ),
            Recheck::Rollout { .. } => {
                format!("could not check the service on ECS ({error}); running it again")
            }
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
    /// The state is as the apply left it, but an ECS service is not (`frontend: it runs
    /// frontend:40, the last deploy left frontend:42`): run the step again.
    Drifted { detail: String },
}

/// Why a step whose ECS services drifted runs again.
pub fn drift_reason(detail: &str, since: Option<&str>) -> String {
    let since = since
        .map(|run| format!(" since run {run}"))
        .unwrap_or_default();
    format!("ECS changed outside this forge{since}: {detail}")
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
