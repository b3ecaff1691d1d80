//! `forge plan --terraform`: what Terraform would change in the env, beside which steps
//! forge would run, so one command answers "what would this deploy do".
//!
//! The root module a deploy would apply is what `terraform-apply`'s upstream steps
//! output. Each is taken from the store when cached; one that would run is run now only
//! when it is pure ([`Step::is_pure`]: `terraform-render`, which writes nothing outside
//! the store), and its result kept like a run's. One with effects (an image to build and
//! push, whose digest goes into the module) is never run by a plan: the answer is then
//! "after those steps run". With the root module known, the executor runs the apply
//! step's plugin read-only ([`Executor::terraform_plan`]): `terraform init` and `plan`
//! in a working directory of their own, Terraform taking its own state lock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use forge_contract::terraform::PlanSummary;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::events::EventSink;
use crate::executor::{Executor, StepOutput};
use crate::fingerprint::cache::{Cache, Lookup};
use crate::graph::{Step, ids};
use crate::model::Phase;
use crate::scheduler::{failure_reason, request_for};

use super::Session;

/// What `terraform plan` said about the env, or why it cannot be asked yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum InfraPlan {
    /// Planned against the root module this deploy would apply.
    Planned { summary: PlanSummary },
    /// The root module depends on steps with effects that would run first (an image to
    /// build and push): plan after they ran (`forge build`).
    AfterUpstream { upstream: Vec<String> },
    /// `terraform plan` (or a step before it) failed.
    Failed { step: String, reason: String },
}

impl InfraPlan {
    /// One line for people (a failure's reason, which may span lines, is left out).
    pub fn describe(&self) -> String {
        match self {
            InfraPlan::Planned { summary } => summary.to_string(),
            InfraPlan::AfterUpstream { upstream } => format!(
                "after {} (the root module takes their outputs); run `forge build` first",
                super::plan::upstream_run(upstream)
            ),
            InfraPlan::Failed { step, .. } => format!("failed in {step}"),
        }
    }

    /// Whether a deploy would change infrastructure.
    pub fn has_changes(&self) -> bool {
        match self {
            InfraPlan::Planned { summary } => summary.changes,
            InfraPlan::AfterUpstream { .. } | InfraPlan::Failed { .. } => true,
        }
    }
}

impl Session {
    /// Runs `terraform plan` for this env's deploy (see the module docs); `None` when the
    /// env has no Terraform.
    pub async fn terraform_plan<E: Executor>(
        &self,
        executor: &E,
        lock_timeout: Duration,
        cancel: &CancellationToken,
        events: &EventSink,
    ) -> Result<Option<InfraPlan>, Error> {
        let Some(&apply) = self.graph.index.get(ids::TERRAFORM_APPLY) else {
            return Ok(None);
        };
        let selected = self
            .graph
            .closure(Phase::Deploy, &[ids::TERRAFORM_APPLY.to_owned()]);
        let cache = Cache::open(&self.store_dir)?;
        let inputs = self.open_inputs()?;
        // Output hash and output of each step known so far.
        let mut known: BTreeMap<usize, (String, Arc<StepOutput>)> = BTreeMap::new();
        // Steps with effects that would run first.
        let mut first: BTreeSet<String> = BTreeSet::new();
        for &i in &selected {
            let step = Arc::new(self.graph.steps[i].clone());
            let deps = &self.graph.deps[i];
            if !deps.iter().all(|d| known.contains_key(d)) {
                continue;
            }
            let hashes = deps
                .iter()
                .map(|d| (self.graph.steps[*d].id.clone(), known[d].0.clone()))
                .collect();
            let upstream: BTreeMap<String, Arc<StepOutput>> = deps
                .iter()
                .map(|d| (self.graph.steps[*d].id.clone(), known[d].1.clone()))
                .collect();
            let fingerprint = Arc::new(inputs.fingerprint(&step, hashes)?);
            let request = request_for(
                &inputs,
                &self.env,
                step.clone(),
                fingerprint.clone(),
                upstream,
                cancel,
                events,
            );
            if i == apply {
                let _ = inputs.save();
                return Ok(Some(
                    match executor.terraform_plan(request, lock_timeout).await {
                        Ok(summary) => InfraPlan::Planned { summary },
                        Err(err) => InfraPlan::Failed {
                            step: step.id.clone(),
                            reason: failure_reason(&err),
                        },
                    },
                ));
            }
            if let Some(hit) = self
                .served(executor, &cache, &step, &fingerprint.hash())
                .await?
            {
                known.insert(i, hit);
            } else if step.is_pure() {
                let output = match executor.run(request).await {
                    Ok(output) => output,
                    Err(err) => {
                        return Ok(Some(InfraPlan::Failed {
                            step: step.id.clone(),
                            reason: failure_reason(&err),
                        }));
                    }
                };
                // Kept like a run's: the deploy after this plan finds it cached.
                let hash = cache
                    .record(&fingerprint, &output)
                    .unwrap_or_else(|_| output.hash());
                known.insert(i, (hash, Arc::new(output)));
            } else {
                first.insert(step.id.clone());
            }
        }
        let _ = inputs.save();
        Ok(Some(InfraPlan::AfterUpstream {
            upstream: first.into_iter().collect(),
        }))
    }

    /// The cached output of `step` under `key`, rechecked when the step says so.
    async fn served<E: Executor>(
        &self,
        executor: &E,
        cache: &Cache,
        step: &Arc<Step>,
        key: &str,
    ) -> Result<Option<(String, Arc<StepOutput>)>, Error> {
        let Lookup::Hit {
            output,
            output_hash,
        } = cache.lookup(key)
        else {
            return Ok(None);
        };
        let Some(check) = &step.recheck else {
            return Ok(Some((output_hash, output)));
        };
        let request = check.request(step, &output, &CancellationToken::new(), &EventSink::null());
        let stale = check.reason(executor.recheck(request).await, || None);
        Ok(stale.is_none().then_some((output_hash, output)))
    }
}
