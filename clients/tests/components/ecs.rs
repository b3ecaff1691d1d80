//! ECS reads, the calls a rollout watcher and the drift check make: against moto for
//! what moto implements (a cluster, a task definition, a service, describe calls), and
//! against the replay endpoint (`forge_clients::testing::EcsReplay`) for what moto cannot
//! do: deployments that advance, throttling, pages.

use forge_clients::aws::ecs::SERVICES_PER_CALL;
use forge_clients::aws::{Aws, AwsError, Target};
use forge_clients::testing::{Answer, EcsReplay};
use serde_json::json;

use crate::stack::{self, moto};

#[tokio::test]
async fn a_service_in_moto_is_described_with_its_primary_deployment() {
    let (aws, target) = moto();
    let cluster = stack::unique("forge-ecs");
    aws.ecs(&target, "CreateCluster", json!({ "clusterName": cluster }))
        .await
        .expect("CreateCluster");
    let registered = aws
        .ecs(
            &target,
            "RegisterTaskDefinition",
            json!({
                "family": "backend",
                "containerDefinitions": [{
                    "name": "app",
                    "image": "127.0.0.1:5000/backend@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                    "essential": true,
                    "memory": 512
                }]
            }),
        )
        .await
        .expect("RegisterTaskDefinition");
    let task_definition = registered["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .expect("an ARN")
        .to_owned();
    aws.ecs(
        &target,
        "CreateService",
        json!({
            "cluster": cluster,
            "serviceName": "backend",
            "taskDefinition": task_definition,
            "desiredCount": 2
        }),
    )
    .await
    .expect("CreateService");

    let containers = aws
        .ecs_describe_task_definition(&target, &task_definition)
        .await
        .expect("DescribeTaskDefinition");
    assert_eq!(
        containers,
        [(
            "app".to_owned(),
            "127.0.0.1:5000/backend@sha256:0000000000000000000000000000000000000000000000000000000000000000".to_owned()
        )]
    );

    let names = vec!["backend".to_owned(), "nope".to_owned()];
    let described = aws
        .ecs_describe_services(&target, &cluster, &names)
        .await
        .expect("DescribeServices");
    assert_eq!(described.services.len(), 1, "{described:#?}");
    let backend = &described.services[0];
    assert_eq!(backend.service_name, "backend");
    assert_eq!(backend.status, "ACTIVE");
    assert_eq!(backend.desired_count, 2);
    let primary = backend.primary().expect("a PRIMARY deployment");
    assert_eq!(primary.task_definition, task_definition);
    assert_eq!(described.failures.len(), 1, "{described:#?}");
    assert_eq!(described.failures[0].reason, "MISSING");

    // moto starts no tasks for a service: the calls answer, empty.
    let stopped = aws
        .ecs_list_tasks(&target, &cluster, "backend", "STOPPED")
        .await
        .expect("ListTasks");
    let tasks = aws
        .ecs_describe_tasks(&target, &cluster, &stopped)
        .await
        .expect("DescribeTasks");
    assert_eq!(tasks.len(), stopped.len());
}

fn replay_target(replay: &EcsReplay) -> (Aws, Target) {
    (
        Aws::with_credentials("testing", "testing"),
        Target {
            region: Some("us-east-1".into()),
            endpoint: Some(replay.endpoint().to_owned()),
        },
    )
}

fn service(name: &str) -> serde_json::Value {
    json!({
        "serviceName": name,
        "status": "ACTIVE",
        "desiredCount": 1,
        "runningCount": 1,
        "deployments": [{"id": "ecs-svc/1", "status": "PRIMARY", "rolloutState": "COMPLETED"}]
    })
}

#[tokio::test]
async fn describe_services_asks_ten_at_a_time_and_a_deployment_advances_per_poll() {
    let replay = EcsReplay::start();
    let (aws, target) = replay_target(&replay);
    let names: Vec<String> = (0..12).map(|i| format!("svc{i}")).collect();
    replay.script(
        "DescribeServices",
        vec![
            Answer::Ok(json!({ "services": names[..10].iter().map(|n| service(n)).collect::<Vec<_>>(), "failures": [] })),
            Answer::Ok(json!({ "services": names[10..].iter().map(|n| service(n)).collect::<Vec<_>>(), "failures": [] })),
        ],
    );
    let described = aws
        .ecs_describe_services(&target, "c", &names)
        .await
        .expect("DescribeServices");
    assert_eq!(described.services.len(), 12);
    let calls = replay.calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(
        calls[0].1["services"].as_array().map(Vec::len),
        Some(SERVICES_PER_CALL)
    );
    assert_eq!(calls[1].1["services"].as_array().map(Vec::len), Some(2));
    assert_eq!(calls[0].1["cluster"], "c");

    // One answer per poll: IN_PROGRESS, then COMPLETED, which then stays.
    let mut rolling = service("backend");
    rolling["deployments"][0]["rolloutState"] = json!("IN_PROGRESS");
    replay.script(
        "DescribeServices",
        vec![
            Answer::Ok(json!({ "services": [rolling] })),
            Answer::Ok(json!({ "services": [service("backend")] })),
        ],
    );
    let one = vec!["backend".to_owned()];
    let mut states = Vec::new();
    for _ in 0..3 {
        let d = aws
            .ecs_describe_services(&target, "c", &one)
            .await
            .expect("poll");
        states.push(
            d.services[0]
                .primary()
                .and_then(|p| p.rollout_state.clone()),
        );
    }
    assert_eq!(
        states,
        [
            Some("IN_PROGRESS".into()),
            Some("COMPLETED".into()),
            Some("COMPLETED".into())
        ]
    );
}

#[tokio::test]
async fn throttling_is_its_own_error_and_list_tasks_reads_every_page() {
    let replay = EcsReplay::start();
    let (aws, target) = replay_target(&replay);
    replay.script("DescribeServices", vec![Answer::throttled()]);
    let err = aws
        .ecs_describe_services(&target, "c", &["backend".to_owned()])
        .await
        .expect_err("throttled");
    assert!(matches!(err, AwsError::Throttled(_)), "{err:?}");
    assert_eq!(err.code_and_message().0, "ThrottlingException");

    replay.script(
        "ListTasks",
        vec![
            Answer::Ok(json!({ "taskArns": ["t1", "t2"], "nextToken": "page2" })),
            Answer::Ok(json!({ "taskArns": ["t3"] })),
        ],
    );
    let arns = aws
        .ecs_list_tasks(&target, "c", "backend", "STOPPED")
        .await
        .expect("ListTasks");
    assert_eq!(arns, ["t1", "t2", "t3"]);
    let calls = replay.calls();
    let pages: Vec<_> = calls.iter().filter(|(op, _)| op == "ListTasks").collect();
    assert_eq!(pages[1].1["nextToken"], "page2");
    assert_eq!(pages[0].1["desiredStatus"], "STOPPED");

    replay.script(
        "DescribeTasks",
        vec![Answer::Ok(json!({ "tasks": [{
            "taskArn": "t1",
            "lastStatus": "STOPPED",
            "startedBy": "ecs-svc/2",
            "stoppedReason": "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
            "containers": [{"name": "app", "exitCode": 1, "reason": "exited"}]
        }] }))],
    );
    let tasks = aws
        .ecs_describe_tasks(&target, "c", &arns)
        .await
        .expect("DescribeTasks");
    assert!(
        tasks[0]
            .stopped_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("CannotPullContainerError"))
    );
    assert_eq!(tasks[0].containers[0].exit_code, Some(1));
}

#[tokio::test]
async fn target_health_is_read_over_the_query_protocol() {
    let replay = EcsReplay::start();
    let (aws, target) = replay_target(&replay);
    let group = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/abc";
    replay.script(
        "DescribeTargetHealth",
        vec![
            Answer::Error {
                code: "Throttling".into(),
                message: "Rate exceeded".into(),
            },
            Answer::Xml(
                "<DescribeTargetHealthResponse><DescribeTargetHealthResult><TargetHealthDescriptions><member><Target><Id>10.0.10.5</Id><Port>8080</Port></Target><TargetHealth><State>unhealthy</State><Reason>Target.Timeout</Reason><Description>Request timed out</Description></TargetHealth></member></TargetHealthDescriptions></DescribeTargetHealthResult></DescribeTargetHealthResponse>".into(),
            ),
        ],
    );
    let throttled = aws
        .elb_describe_target_health(&target, group)
        .await
        .expect_err("throttled first");
    assert!(matches!(throttled, AwsError::Throttled(_)), "{throttled:?}");
    let targets = aws
        .elb_describe_target_health(&target, group)
        .await
        .expect("described");
    assert_eq!(
        targets[0].to_string(),
        "10.0.10.5:8080 unhealthy: Target.Timeout (Request timed out)"
    );
    let calls = replay.calls();
    assert_eq!(calls[1].0, "DescribeTargetHealth");
    assert_eq!(calls[1].1["TargetGroupArn"], group, "the form is decoded");
    assert_eq!(calls[1].1["Version"], "2015-12-01");
}
