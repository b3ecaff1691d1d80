//! Binding of `forge:plugin/ecs` to [`forge_clients::aws`]'s ECS and ELBv2 reads, and
//! `pause`, the one way a plugin waits between polls.

use std::hash::BuildHasher;
use std::time::Duration;

use forge_clients::aws::ecs;
use forge_clients::aws::{AwsError, Target};

use super::CapsView;
use crate::bindings::forge::plugin::ecs as wit;

/// The longest single `pause`: a watcher asks again at least this often, so a run that is
/// cancelled meanwhile is noticed by the clock anyway (the pause races it too).
const MAX_PAUSE: Duration = Duration::from_secs(60);

impl From<ecs::Deployment> for wit::Deployment {
    fn from(d: ecs::Deployment) -> Self {
        wit::Deployment {
            id: d.id,
            status: d.status,
            task_definition: d.task_definition,
            desired_count: d.desired_count,
            pending_count: d.pending_count,
            running_count: d.running_count,
            failed_tasks: d.failed_tasks,
            rollout_state: d.rollout_state,
            rollout_state_reason: d.rollout_state_reason,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

impl From<ecs::Service> for wit::Service {
    fn from(s: ecs::Service) -> Self {
        wit::Service {
            service_name: s.service_name,
            service_arn: s.service_arn,
            status: s.status,
            desired_count: s.desired_count,
            running_count: s.running_count,
            pending_count: s.pending_count,
            task_definition: s.task_definition,
            deployments: s.deployments.into_iter().map(Into::into).collect(),
            events: s
                .events
                .into_iter()
                .map(|e| wit::ServiceEvent {
                    id: e.id,
                    created_at: e.created_at,
                    message: e.message,
                })
                .collect(),
            load_balancers: s
                .load_balancers
                .into_iter()
                .map(|l| wit::LoadBalancer {
                    target_group_arn: l.target_group_arn,
                    container_name: l.container_name,
                    container_port: l.container_port,
                })
                .collect(),
        }
    }
}

impl From<ecs::Task> for wit::Task {
    fn from(t: ecs::Task) -> Self {
        wit::Task {
            task_arn: t.task_arn,
            task_definition_arn: t.task_definition_arn,
            last_status: t.last_status,
            started_by: t.started_by,
            stopped_reason: t.stopped_reason,
            stop_code: t.stop_code,
            containers: t
                .containers
                .into_iter()
                .map(|c| wit::Container {
                    name: c.name,
                    last_status: c.last_status,
                    exit_code: c.exit_code,
                    reason: c.reason,
                })
                .collect(),
        }
    }
}

impl CapsView<'_> {
    async fn ecs_call<T>(
        &mut self,
        call: impl Future<Output = Result<T, AwsError>>,
    ) -> wasmtime::Result<Result<T, wit::AwsError>> {
        Ok(self.call(call).await?.map_err(Into::into))
    }
}

/// `ms` plus up to a tenth more, so that watchers started together do not poll together.
fn jittered(ms: u32) -> Duration {
    let base = Duration::from_millis(u64::from(ms)).min(MAX_PAUSE);
    let spread = u64::try_from(base.as_millis() / 10).unwrap_or(0);
    let extra = match spread {
        0 => 0,
        n => std::collections::hash_map::RandomState::new().hash_one(ms) % (n + 1),
    };
    base + Duration::from_millis(extra)
}

impl wit::Host for CapsView<'_> {
    async fn describe_services(
        &mut self,
        target: wit::Target,
        cluster: String,
        services: Vec<String>,
    ) -> wasmtime::Result<Result<wit::Services, wit::AwsError>> {
        let aws = self.clients.aws();
        let target = Target::from(target);
        self.ecs_call(async move {
            let found = aws
                .ecs_describe_services(&target, &cluster, &services)
                .await?;
            Ok(wit::Services {
                services: found.services.into_iter().map(Into::into).collect(),
                failures: found
                    .failures
                    .into_iter()
                    .map(|f| wit::Failure {
                        arn: f.arn,
                        reason: f.reason,
                    })
                    .collect(),
            })
        })
        .await
    }

    async fn list_tasks(
        &mut self,
        target: wit::Target,
        cluster: String,
        service: String,
        desired_status: String,
    ) -> wasmtime::Result<Result<Vec<String>, wit::AwsError>> {
        let aws = self.clients.aws();
        let target = Target::from(target);
        self.ecs_call(async move {
            aws.ecs_list_tasks(&target, &cluster, &service, &desired_status)
                .await
        })
        .await
    }

    async fn describe_tasks(
        &mut self,
        target: wit::Target,
        cluster: String,
        tasks: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<wit::Task>, wit::AwsError>> {
        let aws = self.clients.aws();
        let target = Target::from(target);
        self.ecs_call(async move {
            let found = aws.ecs_describe_tasks(&target, &cluster, &tasks).await?;
            Ok(found.into_iter().map(Into::into).collect())
        })
        .await
    }

    async fn describe_task_definition(
        &mut self,
        target: wit::Target,
        task_definition: String,
    ) -> wasmtime::Result<Result<Vec<(String, String)>, wit::AwsError>> {
        let aws = self.clients.aws();
        let target = Target::from(target);
        self.ecs_call(async move {
            aws.ecs_describe_task_definition(&target, &task_definition)
                .await
        })
        .await
    }

    async fn describe_target_health(
        &mut self,
        target: wit::Target,
        target_group: String,
    ) -> wasmtime::Result<Result<Vec<wit::TargetHealth>, wit::AwsError>> {
        let aws = self.clients.aws();
        let target = Target::from(target);
        self.ecs_call(async move {
            let found = aws
                .elb_describe_target_health(&target, &target_group)
                .await?;
            Ok(found
                .into_iter()
                .map(|t| wit::TargetHealth {
                    id: t.id,
                    port: t.port,
                    state: t.state,
                    reason: t.reason,
                    description: t.description,
                })
                .collect())
        })
        .await
    }

    async fn pause(&mut self, ms: u32) -> wasmtime::Result<u64> {
        self.call(tokio::time::sleep(jittered(ms))).await?;
        Ok(u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_is_jittered_by_at_most_a_tenth_and_capped() {
        for _ in 0..50 {
            let d = jittered(1000);
            assert!(d >= Duration::from_millis(1000) && d <= Duration::from_millis(1100));
        }
        assert_eq!(jittered(0), Duration::ZERO);
        assert!(jittered(u32::MAX) <= MAX_PAUSE + MAX_PAUSE / 10);
    }
}
