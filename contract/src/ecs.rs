//! ECS as forge reads it (feature `ecs`): services, their deployments and events, and
//! tasks, with the fields forge uses, named as ECS's JSON names them. The `ecs` interface
//! of the WIT carries exactly these records; the host's client decodes ECS's answers into
//! them, the SDK hands them to plugins, and the `ecs-rollout` step and the engine's drift
//! check judge a service with [`Service::settled_on`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// A service, as `DescribeServices` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub service_name: String,
    #[serde(default)]
    pub service_arn: String,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub desired_count: u64,
    #[serde(default)]
    pub running_count: u64,
    #[serde(default)]
    pub pending_count: u64,
    #[serde(default)]
    pub task_definition: String,
    #[serde(default)]
    pub deployments: Vec<Deployment>,
    /// Newest first.
    #[serde(default)]
    pub events: Vec<ServiceEvent>,
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancer>,
}

/// One deployment of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    /// `PRIMARY` (newest), `ACTIVE` (old, being replaced) or `INACTIVE`.
    pub status: String,
    #[serde(default)]
    pub task_definition: String,
    #[serde(default)]
    pub desired_count: u64,
    #[serde(default)]
    pub pending_count: u64,
    #[serde(default)]
    pub running_count: u64,
    /// Consecutive failed tasks (reset once a task of the deployment runs).
    #[serde(default)]
    pub failed_tasks: u64,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED`; absent on old APIs and stand-ins.
    #[serde(default)]
    pub rollout_state: Option<String>,
    #[serde(default)]
    pub rollout_state_reason: Option<String>,
    /// Seconds since the epoch (ECS's JSON timestamps), fractional.
    #[serde(default)]
    pub created_at: Option<f64>,
    #[serde(default)]
    pub updated_at: Option<f64>,
}

// Timestamps are whole or fractional seconds, never NaN.
impl Eq for Deployment {}

/// One entry of a service's event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEvent {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub created_at: Option<f64>,
    pub message: String,
}

impl Eq for ServiceEvent {}

/// Where a service registers its tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    #[serde(default)]
    pub target_group_arn: Option<String>,
    #[serde(default)]
    pub container_name: Option<String>,
    #[serde(default)]
    pub container_port: Option<u64>,
}

/// A service `DescribeServices` could not describe, and why (`MISSING`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    #[serde(default)]
    pub arn: String,
    #[serde(default)]
    pub reason: String,
}

/// What `DescribeServices` answered for the services asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Services {
    pub services: Vec<Service>,
    pub failures: Vec<Failure>,
}

/// A task, as `DescribeTasks` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub task_arn: String,
    #[serde(default)]
    pub task_definition_arn: String,
    #[serde(default)]
    pub last_status: String,
    /// `ecs-svc/<deployment id>` for a service's task.
    #[serde(default)]
    pub started_by: Option<String>,
    #[serde(default)]
    pub stopped_reason: Option<String>,
    #[serde(default)]
    pub stop_code: Option<String>,
    #[serde(default)]
    pub containers: Vec<Container>,
}

/// A container of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    #[serde(default)]
    pub last_status: Option<String>,
    #[serde(default)]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// One target of a service's load balancer target group, as ELBv2's
/// `DescribeTargetHealth` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetHealth {
    /// The task's IP (Fargate) or instance id.
    pub id: String,
    pub port: Option<u64>,
    /// `initial`, `healthy`, `unhealthy`, `unused`, `draining`, `unavailable`.
    pub state: String,
    /// `Target.ResponseCodeMismatch`, `Target.Timeout`, `Target.FailedHealthChecks`…
    pub reason: Option<String>,
    /// `Health checks failed with these codes: [404]`.
    pub description: Option<String>,
}

impl fmt::Display for TargetHealth {
    /// `10.0.1.5:8080 unhealthy: Target.ResponseCodeMismatch (Health checks failed with these codes: [404])`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, " {}", self.state)?;
        if let Some(reason) = &self.reason {
            write!(f, ": {reason}")?;
        }
        if let Some(description) = &self.description {
            write!(f, " ({description})")?;
        }
        Ok(())
    }
}

/// The deployment status of the newest deployment.
pub const PRIMARY: &str = "PRIMARY";
/// `rolloutState` of a deployment that reached its desired count and passed its checks.
pub const COMPLETED: &str = "COMPLETED";
/// `rolloutState` of a deployment the circuit breaker or an alarm stopped.
pub const FAILED: &str = "FAILED";

/// Why a service is not what a deploy left it as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsettled {
    /// The service's newest deployment runs another task definition.
    Revision { runs: String, expected: String },
    /// The newest deployment is still rolling out (or stuck): `IN_PROGRESS`.
    InProgress,
    /// The newest deployment failed: its reason.
    Failed(Option<String>),
    /// Fewer tasks run than are desired.
    Count { desired: u64, running: u64 },
    /// The service has no deployment at all, or is not `ACTIVE`.
    Inactive(String),
}

impl fmt::Display for Unsettled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsettled::Revision { runs, expected } => write!(
                f,
                "it runs {}, the last deploy left {}",
                revision(runs),
                revision(expected)
            ),
            Unsettled::InProgress => f.write_str("its rollout is still in progress"),
            Unsettled::Failed(None) => f.write_str("its last rollout failed"),
            Unsettled::Failed(Some(reason)) => write!(f, "its last rollout failed: {reason}"),
            Unsettled::Count { desired, running } => {
                write!(f, "desired {desired}, running {running}")
            }
            Unsettled::Inactive(status) => write!(f, "it is {status}"),
        }
    }
}

/// `family:revision` of a task definition ARN (`arn:…:task-definition/backend:42` →
/// `backend:42`); anything else as it is.
pub fn revision(task_definition: &str) -> &str {
    task_definition
        .rsplit_once(":task-definition/")
        .map_or(task_definition, |(_, rev)| rev)
}

impl Service {
    /// The newest deployment (`PRIMARY`), the one a rollout follows.
    pub fn primary(&self) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.status == PRIMARY)
    }

    /// Whether the service is settled on `task_definition`: `ACTIVE`, its newest
    /// deployment on that task definition, `COMPLETED` (when ECS reports rollout states),
    /// alone, with running == desired. The first thing that is not so, otherwise.
    pub fn settled_on(&self, task_definition: &str) -> Result<(), Unsettled> {
        if self.status != "ACTIVE" {
            return Err(Unsettled::Inactive(self.status.clone()));
        }
        let Some(primary) = self.primary() else {
            return Err(Unsettled::Inactive("without a deployment".into()));
        };
        if !same_task_definition(&primary.task_definition, task_definition) {
            return Err(Unsettled::Revision {
                runs: primary.task_definition.clone(),
                expected: task_definition.to_owned(),
            });
        }
        match primary.rollout_state.as_deref() {
            Some(FAILED) => return Err(Unsettled::Failed(primary.rollout_state_reason.clone())),
            Some(COMPLETED) | None => {}
            Some(_) => return Err(Unsettled::InProgress),
        }
        if self.deployments.len() > 1 {
            return Err(Unsettled::InProgress);
        }
        if primary.running_count != primary.desired_count {
            return Err(Unsettled::Count {
                desired: primary.desired_count,
                running: primary.running_count,
            });
        }
        Ok(())
    }
}

/// Whether two task definition references name the same revision: full ARNs, or a
/// `family:revision` against an ARN.
pub fn same_task_definition(a: &str, b: &str) -> bool {
    a == b || revision(a) == revision(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(deployments: Vec<Deployment>) -> Service {
        Service {
            service_name: "backend".into(),
            service_arn: String::new(),
            status: "ACTIVE".into(),
            desired_count: 2,
            running_count: 2,
            pending_count: 0,
            task_definition: String::new(),
            deployments,
            events: Vec::new(),
            load_balancers: Vec::new(),
        }
    }

    fn deployment(td: &str, state: &str, desired: u64, running: u64) -> Deployment {
        Deployment {
            id: format!("ecs-svc/{td}"),
            status: PRIMARY.into(),
            task_definition: format!("arn:aws:ecs:us-east-1:1:task-definition/{td}"),
            desired_count: desired,
            pending_count: 0,
            running_count: running,
            failed_tasks: 0,
            rollout_state: Some(state.into()),
            rollout_state_reason: None,
            created_at: None,
            updated_at: None,
        }
    }

    #[test]
    fn a_service_is_settled_only_on_its_revision_completed_and_full() {
        let td = "arn:aws:ecs:us-east-1:1:task-definition/backend:42";
        let ok = service(vec![deployment("backend:42", COMPLETED, 2, 2)]);
        assert_eq!(ok.settled_on(td), Ok(()));
        assert_eq!(ok.settled_on("backend:42"), Ok(()));

        let other = service(vec![deployment("backend:40", COMPLETED, 2, 2)]);
        let drift = other.settled_on(td).expect_err("unsettled");
        assert_eq!(
            drift.to_string(),
            "it runs backend:40, the last deploy left backend:42"
        );

        let short = service(vec![deployment("backend:42", COMPLETED, 2, 0)]);
        assert_eq!(
            short.settled_on(td).expect_err("unsettled").to_string(),
            "desired 2, running 0"
        );

        let rolling = service(vec![deployment("backend:42", "IN_PROGRESS", 2, 1)]);
        assert_eq!(rolling.settled_on(td), Err(Unsettled::InProgress));

        let mut gone = ok.clone();
        gone.status = "INACTIVE".into();
        assert_eq!(
            gone.settled_on(td).expect_err("unsettled").to_string(),
            "it is INACTIVE"
        );
    }
}
