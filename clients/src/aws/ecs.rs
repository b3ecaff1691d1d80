//! ECS, read-only: what watching a rollout and checking a cached one for drift need
//! (`DescribeServices`, `ListTasks`, `DescribeTasks`, `DescribeTaskDefinition`), spoken
//! as ECS's JSON protocol with the same signed client as DynamoDB.
//!
//! The answers keep only the fields forge reads, named as ECS names them. A throttled
//! call is [`AwsError::Throttled`], apart from other failures, so a watcher can back off
//! and ask again instead of failing the rollout.

pub use forge_contract::ecs::{
    Container, Deployment, Failure, LoadBalancer, Service, ServiceEvent, Services, Task,
};
use serde_json::{Value, json};

use super::signed::{JsonApi, service_error};
use super::{Aws, AwsError, Target};

/// ECS's JSON protocol.
const ECS: JsonApi = JsonApi {
    service: "ecs",
    prefix: "AmazonEC2ContainerServiceV20141113",
    version: "1.1",
};

/// `DescribeServices` takes at most this many services per call.
pub const SERVICES_PER_CALL: usize = 10;
/// `DescribeTasks` takes at most this many tasks per call.
pub const TASKS_PER_CALL: usize = 100;

/// Error codes that mean "slow down".
const THROTTLING: [&str; 3] = [
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
];

fn decode<T: serde::de::DeserializeOwned>(operation: &str, value: Value) -> Result<T, AwsError> {
    serde_json::from_value(value).map_err(|e| {
        AwsError::Service(
            "MalformedResponse".into(),
            format!("{operation} answered an unexpected shape: {e}"),
        )
    })
}

impl Aws {
    /// One ECS call, by operation name, with its JSON request.
    pub async fn ecs(
        &self,
        target: &Target,
        operation: &str,
        body: Value,
    ) -> Result<Value, AwsError> {
        self.json_call(target, &ECS, operation, body, |kind, message| {
            if THROTTLING.contains(&kind.as_str()) {
                AwsError::Throttled(format!("{kind}: {message}"))
            } else {
                service_error(kind, message)
            }
        })
        .await
    }

    /// `DescribeServices` of `names` in `cluster`, [`SERVICES_PER_CALL`] per call, with
    /// their events.
    pub async fn ecs_describe_services(
        &self,
        target: &Target,
        cluster: &str,
        names: &[String],
    ) -> Result<Services, AwsError> {
        let mut out = Services::default();
        for chunk in names.chunks(SERVICES_PER_CALL) {
            let answer = self
                .ecs(
                    target,
                    "DescribeServices",
                    json!({ "cluster": cluster, "services": chunk }),
                )
                .await?;
            let services: Vec<Service> = decode("DescribeServices", answer["services"].clone())?;
            let failures: Vec<Failure> = match answer.get("failures") {
                Some(f) => decode("DescribeServices", f.clone())?,
                None => Vec::new(),
            };
            out.services.extend(services);
            out.failures.extend(failures);
        }
        Ok(out)
    }

    /// `ListTasks` of `service` in `cluster` with `desired_status` (`RUNNING`,
    /// `STOPPED`), every page.
    pub async fn ecs_list_tasks(
        &self,
        target: &Target,
        cluster: &str,
        service: &str,
        desired_status: &str,
    ) -> Result<Vec<String>, AwsError> {
        let mut arns = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({
                "cluster": cluster,
                "serviceName": service,
                "desiredStatus": desired_status,
            });
            if let Some(t) = &token {
                body["nextToken"] = json!(t);
            }
            let answer = self.ecs(target, "ListTasks", body).await?;
            let page: Vec<String> = decode("ListTasks", answer["taskArns"].clone())?;
            arns.extend(page);
            token = answer["nextToken"].as_str().map(str::to_owned);
            if token.is_none() {
                return Ok(arns);
            }
        }
    }

    /// `DescribeTaskDefinition`: each container's (name, image).
    pub async fn ecs_describe_task_definition(
        &self,
        target: &Target,
        task_definition: &str,
    ) -> Result<Vec<(String, String)>, AwsError> {
        let answer = self
            .ecs(
                target,
                "DescribeTaskDefinition",
                json!({ "taskDefinition": task_definition }),
            )
            .await?;
        let containers = answer["taskDefinition"]["containerDefinitions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(containers
            .iter()
            .map(|c| {
                let field = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                (field("name"), field("image"))
            })
            .collect())
    }

    /// `DescribeTasks` of `arns` in `cluster`, [`TASKS_PER_CALL`] per call.
    pub async fn ecs_describe_tasks(
        &self,
        target: &Target,
        cluster: &str,
        arns: &[String],
    ) -> Result<Vec<Task>, AwsError> {
        let mut tasks = Vec::new();
        for chunk in arns.chunks(TASKS_PER_CALL) {
            let answer = self
                .ecs(
                    target,
                    "DescribeTasks",
                    json!({ "cluster": cluster, "tasks": chunk }),
                )
                .await?;
            let page: Vec<Task> = decode("DescribeTasks", answer["tasks"].clone())?;
            tasks.extend(page);
        }
        Ok(tasks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_describe_services_answer_reads() {
        let answer = json!({
            "serviceName": "backend",
            "status": "ACTIVE",
            "desiredCount": 2,
            "runningCount": 1,
            "pendingCount": 1,
            "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/backend:42",
            "deployments": [
                {"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": "td:42",
                 "desiredCount": 2, "runningCount": 1, "pendingCount": 1, "failedTasks": 0,
                 "rolloutState": "IN_PROGRESS", "createdAt": 1.7e9},
                {"id": "ecs-svc/1", "status": "ACTIVE", "taskDefinition": "td:41",
                 "desiredCount": 0, "runningCount": 1, "pendingCount": 0}
            ],
            "events": [{"id": "e1", "createdAt": 1.7e9, "message": "(service backend) has started 1 tasks"}],
            "loadBalancers": [{"targetGroupArn": "arn:tg", "containerName": "app", "containerPort": 8080}],
            "someFieldForgeIgnores": true
        });
        let service: Service = serde_json::from_value(answer).expect("reads");
        let primary = service.primary().expect("a primary");
        assert_eq!(primary.task_definition, "td:42");
        assert_eq!(primary.rollout_state.as_deref(), Some("IN_PROGRESS"));
        assert_eq!(service.deployments[1].rollout_state, None);
        assert_eq!(service.load_balancers[0].container_port, Some(8080));
    }
}
