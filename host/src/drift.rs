//! The ECS half of the rechecks ([`forge_engine::recheck`]): is each service a cached
//! deploy left still settled on its task definition?
//!
//! [`EcsReads`] asks `DescribeServices` once per cluster for every service the apply's
//! check names (ten per call, as ECS allows) and keeps the answers for the rollouts'
//! own checks of the same command, so a fully cached deploy reads each service once.
//! Anything that runs a step forgets them: after a Terraform apply the services may move.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use forge_clients::Clients;
use forge_clients::aws::ecs::Service;
use forge_clients::aws::{AwsError, Target};
use forge_engine::executor::{StepError, StepOutput};
use forge_engine::recheck::{EcsService, Verdict};

/// (region, cluster, service name) → what ECS said (`None`: no such service).
type Memo = HashMap<(String, String, String), Option<Service>>;

/// One command's ECS reads for rechecks.
#[derive(Debug, Default)]
pub(crate) struct EcsReads {
    memo: Mutex<Memo>,
}

/// A service to judge: where it is and what it must run.
struct Expected {
    /// The forge service, for messages.
    label: String,
    region: String,
    cluster: String,
    name: String,
    task_definition: String,
}

impl EcsReads {
    /// Forgets every answer (a step is about to change the world).
    pub(crate) fn forget(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memo> {
        self.memo.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The services the cached apply's outputs name, each still settled on the task
    /// definition the apply output.
    pub(crate) async fn check_apply(
        &self,
        clients: &Clients,
        services: &[EcsService],
        output: &StepOutput,
    ) -> Result<Verdict, StepError> {
        if services.is_empty() {
            return Ok(Verdict::Fresh);
        }
        let outputs = &output.manifest["outputs"];
        let mut expected = Vec::new();
        for s in services {
            let value = |name: &str| outputs[name].as_str().map(str::to_owned);
            let (Some(cluster), Some(name), Some(task_definition)) =
                (value(&s.cluster), value(&s.name), value(&s.task_definition))
            else {
                return Ok(Verdict::Drifted {
                    detail: format!(
                        "the cached apply does not output where service {} runs ({}, {}, {})",
                        s.service, s.cluster, s.name, s.task_definition
                    ),
                });
            };
            expected.push(Expected {
                label: s.service.clone(),
                region: s.region.clone(),
                cluster,
                name,
                task_definition,
            });
        }
        self.judge(clients, &expected).await
    }

    /// The service a cached rollout left (its manifest: `cluster`, `service`,
    /// `task-definition`), still settled.
    pub(crate) async fn check_rollout(
        &self,
        clients: &Clients,
        region: &str,
        output: &StepOutput,
    ) -> Result<Verdict, StepError> {
        let m = &output.manifest;
        let field = |key: &str| m[key].as_str().map(str::to_owned);
        let (Some(cluster), Some(name), Some(task_definition)) =
            (field("cluster"), field("service"), field("task-definition"))
        else {
            return Ok(Verdict::Drifted {
                detail: "the cached rollout does not say which service it left".into(),
            });
        };
        let expected = [Expected {
            label: name.clone(),
            region: region.to_owned(),
            cluster,
            name,
            task_definition,
        }];
        self.judge(clients, &expected).await
    }

    /// Reads what is not known yet (one batched call per region and cluster) and says
    /// which services are not settled.
    async fn judge(&self, clients: &Clients, expected: &[Expected]) -> Result<Verdict, StepError> {
        let mut wanted: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        {
            let memo = self.lock();
            for e in expected {
                let key = (e.region.clone(), e.cluster.clone(), e.name.clone());
                if !memo.contains_key(&key) {
                    let names = wanted
                        .entry((e.region.clone(), e.cluster.clone()))
                        .or_default();
                    if !names.contains(&e.name) {
                        names.push(e.name.clone());
                    }
                }
            }
        }
        for ((region, cluster), names) in wanted {
            let target = Target {
                region: Some(region.clone()),
                endpoint: None,
            };
            let found = clients
                .aws()
                .ecs_describe_services(&target, &cluster, &names)
                .await
                .map_err(|e| failed(&cluster, &e))?;
            let mut memo = self.lock();
            for name in names {
                let service = found
                    .services
                    .iter()
                    .find(|s| s.service_name == name || s.service_arn == name)
                    .cloned();
                memo.insert((region.clone(), cluster.clone(), name), service);
            }
        }
        let memo = self.lock();
        let drift: Vec<String> = expected
            .iter()
            .filter_map(|e| {
                let key = (e.region.clone(), e.cluster.clone(), e.name.clone());
                match memo.get(&key).cloned().flatten() {
                    None => Some(format!(
                        "service {} is missing from cluster {}",
                        e.label,
                        short_cluster(&e.cluster)
                    )),
                    Some(service) => service
                        .settled_on(&e.task_definition)
                        .err()
                        .map(|why| format!("{}: {why}", e.label)),
                }
            })
            .collect();
        Ok(if drift.is_empty() {
            Verdict::Fresh
        } else {
            Verdict::Drifted {
                detail: drift.join("; "),
            }
        })
    }
}

fn short_cluster(cluster: &str) -> &str {
    cluster.rsplit_once(":cluster/").map_or(cluster, |(_, n)| n)
}

fn failed(cluster: &str, e: &AwsError) -> StepError {
    StepError::Failed {
        message: format!("DescribeServices in {}: {e}", short_cluster(cluster)),
        help: None,
    }
}
