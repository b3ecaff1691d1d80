//! The rollout's logic against the SDK's MockHost: scripted `DescribeServices` answers, one
//! per poll, and a virtual clock (the real path, with the real host and an ECS endpoint, is
//! tested in forge's CLI tests).

use ecs_rollout::{EcsRollout, Output};
use forge_plugin_sdk::ecs::{
    Container, Deployment, Failure, LoadBalancer, Service, ServiceEvent, Services, TargetHealth,
    Task,
};
use forge_plugin_sdk::{AwsError, MockEcs, MockHost};
use serde_json::json;

const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/backend:42";
const OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/backend:41";
const CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/two-tier-dev";

fn deployment(
    id: &str,
    status: &str,
    td: &str,
    state: &str,
    desired: u64,
    running: u64,
) -> Deployment {
    Deployment {
        id: id.into(),
        status: status.into(),
        task_definition: td.into(),
        desired_count: desired,
        pending_count: desired.saturating_sub(running),
        running_count: running,
        failed_tasks: 0,
        rollout_state: Some(state.into()),
        rollout_state_reason: None,
        created_at: Some(1000.0),
        updated_at: None,
    }
}

fn service(deployments: Vec<Deployment>, events: &[(f64, &str)]) -> Result<Services, AwsError> {
    Ok(Services {
        services: vec![Service {
            service_name: "backend".into(),
            service_arn: "arn:aws:ecs:us-east-1:123456789012:service/two-tier-dev/backend".into(),
            status: "ACTIVE".into(),
            desired_count: 2,
            running_count: deployments.iter().map(|d| d.running_count).sum(),
            pending_count: 0,
            task_definition: deployments[0].task_definition.clone(),
            deployments,
            events: events
                .iter()
                .enumerate()
                .map(|(i, (at, m))| ServiceEvent {
                    id: i.to_string(),
                    created_at: Some(*at),
                    message: (*m).into(),
                })
                .collect(),
            load_balancers: Vec::new(),
        }],
        failures: Vec::new(),
    })
}

fn rollout(ecs: MockEcs) -> MockHost {
    MockHost::new()
        .step("ecs-rollout:backend")
        .config(json!({
            "service": "backend",
            "region": "us-east-1",
            "port": 8080,
            "health-check": {"path": "/healthz", "matcher": "200"},
            "ecs": {
                "cluster": {"$ref": "module.backend-service.cluster_arn"},
                "service": {"$ref": "module.backend-service.service_name"},
                "task-definition": {"$ref": "module.backend-service.task_definition_arn"}
            },
            "timeout-secs": 600,
            "poll-ms": 5000
        }))
        .upstream(
            "terraform-apply",
            json!({"outputs": {
                "backend-service__cluster_arn": CLUSTER,
                "backend-service__service_name": "backend",
                "backend-service__task_definition_arn": TD
            }, "sensitive": []}),
        )
        .ecs(ecs)
}

#[test]
fn a_rolling_update_is_followed_until_the_new_revision_runs_alone() {
    let ecs = MockEcs::answers([
        service(
            vec![
                deployment("ecs-svc/2", "PRIMARY", TD, "IN_PROGRESS", 2, 0),
                deployment("ecs-svc/1", "ACTIVE", OLD, "COMPLETED", 2, 2),
            ],
            &[],
        ),
        service(
            vec![
                deployment("ecs-svc/2", "PRIMARY", TD, "IN_PROGRESS", 2, 2),
                deployment("ecs-svc/1", "ACTIVE", OLD, "COMPLETED", 0, 1),
            ],
            &[],
        ),
        service(
            vec![deployment("ecs-svc/2", "PRIMARY", TD, "COMPLETED", 2, 2)],
            &[],
        ),
    ]);
    let mut host = rollout(ecs);
    let out: Output = host.run::<EcsRollout>().expect("the rollout completes");
    assert_eq!(out.task_definition, TD);
    assert_eq!(out.deployment, "ecs-svc/2");
    assert_eq!((out.desired, out.running), (2, 2));
    let ecs = host.ecs_state();
    assert_eq!(ecs.count("DescribeServices"), 3);
    assert_eq!(ecs.count("pause"), 2);
    let logs: Vec<String> = host.logs().iter().map(|l| l.message.clone()).collect();
    assert!(
        logs.iter()
            .any(|l| l
                == "backend backend:42 IN_PROGRESS: desired 2 running 0 pending 2 failed 0 (0s)"),
        "{logs:#?}"
    );
}

#[test]
fn a_circuit_breaker_rollback_is_a_failure_with_its_story() {
    let mut failed = deployment("ecs-svc/2", "ACTIVE", TD, "FAILED", 0, 0);
    failed.failed_tasks = 3;
    failed.rollout_state_reason =
        Some("ECS deployment circuit breaker: tasks failed to start.".into());
    let ecs = MockEcs::answers([
        service(vec![deployment("ecs-svc/2", "PRIMARY", TD, "IN_PROGRESS", 2, 0)], &[]),
        service(
            vec![
                deployment("ecs-svc/3", "PRIMARY", OLD, "IN_PROGRESS", 2, 2),
                failed,
            ],
            &[
                (1300.0, "(service backend) rolling back to deployment ecs-svc/1."),
                (1200.0, "(service backend) deployment ecs-svc/2 deployment failed: tasks failed to start."),
                (1100.0, "(service backend) has started 1 tasks: (task abc)."),
                (900.0, "(service backend) failed an old thing before this deployment."),
            ],
        ),
    ])
    .with_tasks([Task {
        task_arn: "arn:aws:ecs:us-east-1:123456789012:task/two-tier-dev/abc".into(),
        task_definition_arn: TD.into(),
        last_status: "STOPPED".into(),
        started_by: Some("ecs-svc/2".into()),
        stopped_reason: Some("Essential container in task exited".into()),
        stop_code: Some("EssentialContainerExited".into()),
        containers: vec![Container {
            name: "backend".into(),
            last_status: Some("STOPPED".into()),
            exit_code: Some(101),
            reason: None,
        }],
    }]);
    let mut host = rollout(ecs);
    let err = host
        .run::<EcsRollout>()
        .expect_err("a rollback is a failure");
    let message = err.message();
    assert!(
        message.starts_with("ECS rolled back backend to revision backend:41: the deployment of revision backend:42 failed after 3 failed tasks (ECS deployment circuit breaker: tasks failed to start.)"),
        "{message}"
    );
    assert!(
        message.contains("  (service backend) deployment ecs-svc/2 deployment failed"),
        "{message}"
    );
    assert!(
        message.contains("rolling back to deployment ecs-svc/1"),
        "{message}"
    );
    assert!(
        !message.contains("old thing"),
        "events before the deployment are not its story: {message}"
    );
    assert!(
        message.contains("abc: Essential container in task exited"),
        "{message}"
    );
    assert!(message.contains("backend exited 101"), "{message}");
    let help = err.help().expect("a hint");
    assert!(help.contains("container `backend` exited with code 101: read its CloudWatch log stream `backend/backend/abc`"), "{help}");
}

#[test]
fn a_failure_alarm_during_bake_time_fails_the_rollout() {
    let mut failed = deployment("ecs-svc/2", "PRIMARY", TD, "FAILED", 2, 2);
    failed.rollout_state_reason = Some("Failed due to CloudWatch alarm(s): backend-5xx".into());
    let mut host = rollout(MockEcs::answers([
        service(
            vec![deployment("ecs-svc/2", "PRIMARY", TD, "IN_PROGRESS", 2, 2)],
            &[],
        ),
        service(vec![failed], &[]),
    ]));
    let err = host.run::<EcsRollout>().expect_err("an alarm fails it");
    assert!(
        err.message().starts_with("the rollout of backend to revision backend:42 failed after 0 failed tasks (Failed due to CloudWatch alarm(s): backend-5xx)"),
        "{}",
        err.message()
    );
}

#[test]
fn a_rollout_stuck_in_progress_stops_at_its_timeout_with_the_health_hint() {
    let stuck = service(
        vec![
            deployment("ecs-svc/2", "PRIMARY", TD, "IN_PROGRESS", 2, 0),
            deployment("ecs-svc/1", "ACTIVE", OLD, "COMPLETED", 2, 2),
        ],
        &[(
            1100.0,
            "(service backend) (port 8080) is unhealthy in target-group backend-tg due to (reason Health checks failed with these codes: [404]).",
        )],
    );
    let mut host = rollout(MockEcs::answers([stuck]));
    let err = host.run::<EcsRollout>().expect_err("times out");
    assert!(
        err.message().starts_with("the rollout of backend did not finish within 600s: backend:42 IN_PROGRESS with 0 of 2 tasks running"),
        "{}",
        err.message()
    );
    let help = err.help().expect("hint");
    assert!(
        help.contains("GET /healthz on port 8080 and expects 200"),
        "{help}"
    );
    let ecs = host.ecs_state();
    assert_eq!(
        ecs.clock, 600_000,
        "stops at the timeout on the virtual clock"
    );
    assert_eq!(ecs.count("DescribeServices"), 121);
}

#[test]
fn throttling_is_asked_again_with_backoff() {
    let throttle = || {
        Err(AwsError::Service {
            code: "ThrottlingException".into(),
            message: "Rate exceeded".into(),
        })
    };
    let mut host = rollout(MockEcs::answers([
        throttle(),
        throttle(),
        service(
            vec![deployment("ecs-svc/2", "PRIMARY", TD, "COMPLETED", 2, 2)],
            &[],
        ),
    ]));
    let out = host
        .run::<EcsRollout>()
        .expect("throttling is not a failure");
    assert_eq!(out.deployment, "ecs-svc/2");
    let ecs = host.ecs_state();
    assert_eq!(
        ecs.calls,
        [
            "DescribeServices",
            "pause 10000",
            "DescribeServices",
            "pause 20000",
            "DescribeServices"
        ]
    );
}

#[test]
fn a_missing_or_inactive_service_fails_at_once() {
    let mut host = rollout(MockEcs::answers([Ok(Services {
        services: Vec::new(),
        failures: vec![Failure {
            arn: "arn:aws:ecs:us-east-1:123456789012:service/two-tier-dev/backend".into(),
            reason: "MISSING".into(),
        }],
    })]));
    let err = host.run::<EcsRollout>().expect_err("missing");
    assert_eq!(
        err.message(),
        "ECS has no service backend in cluster two-tier-dev (MISSING)"
    );

    let mut inactive = service(
        vec![deployment("ecs-svc/2", "PRIMARY", TD, "COMPLETED", 2, 2)],
        &[],
    );
    inactive.as_mut().unwrap().services[0].status = "INACTIVE".into();
    let mut host = rollout(MockEcs::answers([inactive]));
    let err = host.run::<EcsRollout>().expect_err("inactive");
    assert_eq!(
        err.message(),
        "ECS service backend is INACTIVE: it runs nothing"
    );
}

#[test]
fn an_image_pull_failure_in_a_private_subnet_gets_the_nat_hint() {
    let mut failed = deployment("ecs-svc/2", "PRIMARY", TD, "FAILED", 2, 0);
    failed.failed_tasks = 3;
    let mut host = rollout(
        MockEcs::answers([service(vec![failed], &[])]).with_tasks([Task {
            task_arn: "arn:aws:ecs:us-east-1:123456789012:task/two-tier-dev/def".into(),
            task_definition_arn: TD.into(),
            last_status: "STOPPED".into(),
            started_by: Some("ecs-svc/2".into()),
            stopped_reason: Some("CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/two-tier/backend@sha256:ab: dial tcp 52.1.2.3:443: i/o timeout".into()),
            stop_code: Some("TaskFailedToStart".into()),
            containers: Vec::new(),
        }]),
    );
    let err = host.run::<EcsRollout>().expect_err("fails");
    assert!(
        err.message().contains("def: CannotPullContainerError"),
        "{}",
        err.message()
    );
    let help = err.help().expect("hint");
    assert!(help.contains("private subnets need a NAT gateway route or ECR (api, dkr), S3 and CloudWatch Logs VPC endpoints (module route-tables)"), "{help}");
}

#[test]
fn a_service_another_deploy_moved_on_is_named() {
    let mut host = rollout(MockEcs::answers([service(
        vec![deployment(
            "ecs-svc/9",
            "PRIMARY",
            "arn:aws:ecs:us-east-1:123456789012:task-definition/backend:43",
            "COMPLETED",
            2,
            2,
        )],
        &[],
    )]));
    let err = host.run::<EcsRollout>().expect_err("fails");
    assert!(
        err.message()
            .starts_with("ECS service backend runs backend:43, not backend:42"),
        "{}",
        err.message()
    );
}

#[test]
fn a_service_without_its_module_says_how_to_name_it() {
    let mut host = MockHost::new()
        .config(json!({"service": "backend", "region": "us-east-1"}))
        .ecs(MockEcs::default());
    let err = host.run::<EcsRollout>().expect_err("unknown service");
    assert_eq!(
        err.message(),
        "forge does not know which ECS service runs service `backend`"
    );
    assert!(err.help().unwrap().contains("deployed-by"));
}

#[test]
fn failing_health_checks_are_read_from_the_target_group_with_the_projects_values() {
    let tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/backend-tg/abc";
    let mut failed = deployment("ecs-svc/2", "PRIMARY", TD, "FAILED", 2, 0);
    failed.failed_tasks = 4;
    let mut answer = service(vec![failed], &[]);
    answer.as_mut().unwrap().services[0].load_balancers = vec![LoadBalancer {
        target_group_arn: Some(tg.into()),
        container_name: Some("backend".into()),
        container_port: Some(8080),
    }];
    let unhealthy = TargetHealth {
        id: "10.0.10.5".into(),
        port: Some(8080),
        state: "unhealthy".into(),
        reason: Some("Target.ResponseCodeMismatch".into()),
        description: Some("Health checks failed with these codes: [404]".into()),
    };
    let healthy = TargetHealth {
        id: "10.0.11.7".into(),
        port: Some(8080),
        state: "healthy".into(),
        reason: None,
        description: None,
    };
    let mut host = rollout(MockEcs::answers([answer]).with_targets(tg, [unhealthy, healthy]));
    let err = host.run::<EcsRollout>().expect_err("fails");
    assert!(
        err.message().contains("load balancer targets:\n  backend-tg: 10.0.10.5:8080 unhealthy: Target.ResponseCodeMismatch (Health checks failed with these codes: [404])"),
        "{}",
        err.message()
    );
    assert!(
        !err.message().contains("10.0.11.7"),
        "healthy targets are not the story"
    );
    let help = err.help().expect("hint");
    assert!(
        help.contains("it asks GET /healthz on port 8080 and expects 200"),
        "{help}"
    );
    assert_eq!(host.ecs_state().count("DescribeTargetHealth"), 1);
}

#[test]
fn the_task_definition_must_run_the_image_this_deploy_pushed() {
    let digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    let image = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/two-tier/backend@{digest}");
    let done = || {
        service(
            vec![deployment("ecs-svc/2", "PRIMARY", TD, "COMPLETED", 2, 2)],
            &[],
        )
    };
    let pushed = json!({"digest": digest, "image": image});

    let mut host = rollout(
        MockEcs::answers([done()])
            .with_task_definition(TD, [("backend".to_owned(), image.clone())]),
    )
    .upstream("ecr-push:backend", pushed.clone());
    host.run::<EcsRollout>()
        .expect("the pushed image rolls out");
    assert_eq!(host.ecs_state().count("DescribeTaskDefinition"), 1);

    let mut host = rollout(MockEcs::answers([done()]).with_task_definition(
        TD,
        [(
            "backend".to_owned(),
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/two-tier/backend:latest".to_owned(),
        )],
    ))
    .upstream("ecr-push:backend", pushed);
    let err = host
        .run::<EcsRollout>()
        .expect_err("a tag is not the pushed image");
    assert_eq!(
        err.message(),
        format!(
            "task definition backend:42 does not run the image this deploy pushed ({digest}): backend runs 123456789012.dkr.ecr.us-east-1.amazonaws.com/two-tier/backend:latest"
        )
    );
    assert!(
        err.help()
            .unwrap()
            .contains("(ref)\"service.backend.digest\"")
    );
    assert_eq!(
        host.ecs_state().count("DescribeServices"),
        0,
        "nothing is watched"
    );
}
