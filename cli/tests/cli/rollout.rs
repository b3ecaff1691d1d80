//! `ecs-rollout` end to end: the real CLI, host and built-in plugin, `terraform` 1.11 with
//! the S3 backend and the state lock on moto, and ECS answered by the replay endpoint
//! (`forge_clients::testing::EcsReplay`, reached through `AWS_ENDPOINT_URL_ECS`): moto's
//! ECS never advances a deployment, so a rollout cannot be watched against it.
//!
//! The project is the Terraform fixture's (`tf-root` stands in for the render, since no
//! provider can be downloaded) with a service `web` `deployed-by` module `net`; the root
//! outputs the rollout reads (`net__cluster_arn`, …) take their values from vars. Its
//! image steps are the `ok` fixture: images are tested in `images.rs`.

use forge_clients::testing::{Answer, EcsReplay};
use serde_json::{Value, json};

use crate::harness::fixture_plugin;
use crate::terraform::{TfProject, events, ran};

pub(crate) const CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/forge-test";
const TARGET_GROUP: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/0123456789abcdef";

pub(crate) fn td(revision: u32) -> String {
    format!("arn:aws:ecs:us-east-1:123456789012:task-definition/web:{revision}")
}

struct Rollout {
    tf: TfProject,
    ecs: EcsReplay,
    /// The `plugin` nodes of the image steps.
    pins: String,
    /// The service's `rollout timeout=`.
    timeout: std::cell::Cell<&'static str>,
}

impl Rollout {
    /// The project, deploying task definition revision `revision`.
    fn new(revision: u32) -> Rollout {
        let tf = TfProject::new("a");
        let ok = fixture_plugin("ok");
        let build = tf.project.pin_plugin("docker-build", &ok, &["files.read"]);
        let push = tf.project.pin_plugin("ecr-push", &ok, &["files.read"]);
        std::fs::create_dir_all(tf.project.root().join("web")).expect("mkdir web");
        std::fs::write(tf.project.root().join("web/Dockerfile"), "FROM scratch\n")
            .expect("write the Dockerfile");
        let rollout = Rollout {
            tf,
            ecs: EcsReplay::start(),
            pins: format!("{build}\n{push}"),
            timeout: std::cell::Cell::new("10s"),
        };
        // The replay answers ECS and ELBv2 (target health) alike.
        for service in ["ECS", "ELASTIC_LOAD_BALANCING_V2"] {
            rollout.tf.env.borrow_mut().push((
                format!("AWS_ENDPOINT_URL_{service}"),
                rollout.ecs.endpoint().to_owned(),
            ));
        }
        rollout.set(revision);
        rollout
    }

    /// project.kdl with the apply outputting task definition revision `revision`.
    fn set(&self, revision: u32) {
        *self.tf.extra.borrow_mut() = format!(
            r#"{pins}
registry "r" {{ kind "ecr"; url "127.0.0.1:5000"; }}
service "web" {{
    build {{ context "web"; }}
    repository "t/web"
    port 8080
    health-check path="/healthz" matcher="200"
    deployed-by "net"
    rollout timeout="{timeout}" poll="20ms"
}}
var "net__cluster_arn" "{CLUSTER}"
var "net__service_name" "web"
var "net__task_definition_arn" "{td}"
"#,
            pins = self.pins,
            timeout = self.timeout.get(),
            td = td(revision)
        );
        self.tf.set_var("a");
    }

    fn deploy(&self, code: i32) -> Vec<Value> {
        events(&self.tf.forge("--json deploy").code(code).run())
    }
}

pub(crate) fn deployment(
    id: &str,
    status: &str,
    revision: u32,
    state: &str,
    running: u64,
) -> Value {
    json!({
        "id": id, "status": status, "taskDefinition": td(revision),
        "desiredCount": 2, "runningCount": running, "pendingCount": 2 - running.min(2),
        "failedTasks": 0, "rolloutState": state, "createdAt": 1000.0
    })
}

pub(crate) fn services(deployments: Vec<Value>, events: Vec<Value>) -> Answer {
    Answer::Ok(json!({
        "services": [{
            "serviceName": "web", "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/forge-test/web",
            "status": "ACTIVE", "desiredCount": 2, "runningCount": 2, "pendingCount": 0,
            "taskDefinition": deployments[0]["taskDefinition"],
            "deployments": deployments, "events": events,
            "loadBalancers": [{"targetGroupArn": TARGET_GROUP, "containerName": "web", "containerPort": 8080}]
        }],
        "failures": []
    }))
}

fn finished<'a>(events: &'a [Value], step: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["type"] == "step-finished" && e["step"] == step)
        .unwrap_or_else(|| panic!("{step} did not finish: {events:#?}"))
}

fn lock_changes(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "state-lock")
        .filter_map(|e| e["change"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_rolling_update_is_watched_to_completed_inside_the_lock() {
    let p = Rollout::new(42);
    p.ecs.script(
        "DescribeServices",
        vec![
            Answer::throttled(),
            services(
                vec![
                    deployment("ecs-svc/2", "PRIMARY", 42, "IN_PROGRESS", 0),
                    deployment("ecs-svc/1", "ACTIVE", 41, "COMPLETED", 2),
                ],
                vec![],
            ),
            services(
                vec![deployment("ecs-svc/2", "PRIMARY", 42, "COMPLETED", 2)],
                vec![],
            ),
        ],
    );
    let first = p.deploy(0);
    assert_eq!(
        ran(&first),
        [
            "docker-build:web",
            "ecr-push:web",
            "terraform-render",
            "terraform-apply",
            "ecs-rollout:web"
        ]
    );
    assert_eq!(lock_changes(&first), ["acquired", "released"]);
    assert_eq!(p.ecs.count("DescribeServices"), 3, "{:#?}", p.ecs.calls());
    let (_, request) = &p.ecs.calls()[0];
    assert_eq!(request["cluster"], CLUSTER);
    assert_eq!(request["services"], json!(["web"]));
    let manifest = p.tf.manifest("ecs-rollout:web");
    assert_eq!(manifest["task-definition"], td(42));
    assert_eq!(manifest["deployment"], "ecs-svc/2");
    assert_eq!(
        (manifest["desired"].as_u64(), manifest["running"].as_u64()),
        (Some(2), Some(2))
    );
    let logs: Vec<&str> = first
        .iter()
        .filter(|e| e["type"] == "step-log" && e["step"] == "ecs-rollout:web")
        .filter_map(|e| e["line"].as_str())
        .collect();
    assert!(
        logs.iter().any(
            |l| l.starts_with("web web:42 IN_PROGRESS: desired 2 running 0 pending 2 failed 0")
        ),
        "{logs:#?}"
    );
    assert!(
        logs.iter().any(|l| l.contains("ThrottlingException")),
        "{logs:#?}"
    );

    // Nothing changed: nothing runs, no lock, and ECS is read once: one DescribeServices
    // for the cluster answers both the apply's check and the rollout's.
    let before = p.ecs.calls().len();
    let again = p.deploy(0);
    assert!(ran(&again).is_empty(), "{again:#?}");
    assert!(lock_changes(&again).is_empty());
    let calls: Vec<String> = p.ecs.calls()[before..]
        .iter()
        .map(|(op, _)| op.clone())
        .collect();
    assert_eq!(calls, ["DescribeServices"]);
}

#[test]
fn a_service_changed_behind_forges_back_is_named_and_reapplied_under_the_lock() {
    let p = Rollout::new(42);
    p.ecs.script(
        "DescribeServices",
        vec![services(
            vec![deployment("ecs-svc/2", "PRIMARY", 42, "COMPLETED", 2)],
            vec![],
        )],
    );
    p.deploy(0);

    // Someone points the service at revision 40 by hand. `forge plan` says so; the deploy
    // applies again (Terraform puts the service back: here the script plays that part),
    // and the rollout watches the service settle on 42 again.
    p.ecs.script(
        "DescribeServices",
        vec![
            services(
                vec![deployment("ecs-svc/5", "PRIMARY", 40, "COMPLETED", 2)],
                vec![],
            ),
            services(
                vec![deployment("ecs-svc/5", "PRIMARY", 40, "COMPLETED", 2)],
                vec![],
            ),
            services(
                vec![
                    deployment("ecs-svc/6", "PRIMARY", 42, "IN_PROGRESS", 1),
                    deployment("ecs-svc/5", "ACTIVE", 40, "COMPLETED", 1),
                ],
                vec![],
            ),
            services(
                vec![deployment("ecs-svc/6", "PRIMARY", 42, "COMPLETED", 2)],
                vec![],
            ),
        ],
    );
    let plan = p.tf.forge("--json plan").run().json_lines();
    let apply = plan
        .iter()
        .find(|l| l["type"] == "plan-step" && l["step"] == "terraform-apply")
        .expect("apply planned");
    assert_eq!(apply["status"], "stale", "{apply}");
    let reason = apply["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("ECS changed outside this forge since run ")
            && reason.ends_with(": web: it runs web:40, the last deploy left web:42"),
        "{reason}"
    );

    let out = p.deploy(0);
    assert_eq!(ran(&out), ["terraform-apply", "ecs-rollout:web"]);
    let apply = finished(&out, "terraform-apply");
    assert!(
        apply["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("it runs web:40, the last deploy left web:42"),
        "{apply}"
    );
    assert_eq!(lock_changes(&out), ["acquired", "released"]);
    let rollout = finished(&out, "ecs-rollout:web");
    assert!(
        rollout["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("its rollout is still in progress"),
        "{rollout}"
    );
    assert_eq!(p.tf.manifest("ecs-rollout:web")["deployment"], "ecs-svc/6");
    let writes: Vec<String> = p
        .ecs
        .calls()
        .into_iter()
        .map(|(op, _)| op)
        .filter(|op| !op.starts_with("Describe") && !op.starts_with("List"))
        .collect();
    assert!(writes.is_empty(), "forge never writes to ECS: {writes:?}");
}

#[test]
fn a_circuit_breaker_rollback_fails_the_deploy_with_its_story() {
    let p = Rollout::new(42);
    let mut failed = deployment("ecs-svc/2", "ACTIVE", 42, "FAILED", 0);
    failed["failedTasks"] = json!(3);
    failed["rolloutStateReason"] = json!("ECS deployment circuit breaker: tasks failed to start.");
    p.ecs
        .script(
            "DescribeServices",
            vec![
                services(vec![deployment("ecs-svc/2", "PRIMARY", 42, "IN_PROGRESS", 0)], vec![]),
                services(
                    vec![deployment("ecs-svc/3", "PRIMARY", 41, "IN_PROGRESS", 2), failed],
                    vec![
                        json!({"id": "2", "createdAt": 1300.0, "message": "(service web) rolling back to deployment ecs-svc/1."}),
                        json!({"id": "1", "createdAt": 1200.0, "message": "(service web) (port 8080) is unhealthy in target-group web-tg due to (reason Health checks failed with these codes: [404])."}),
                    ],
                ),
            ],
        )
        .script("ListTasks", vec![Answer::Ok(json!({"taskArns": ["arn:aws:ecs:us-east-1:123456789012:task/forge-test/t1"]}))])
        .script(
            "DescribeTasks",
            vec![Answer::Ok(json!({"tasks": [{
                "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/forge-test/t1",
                "taskDefinitionArn": td(42), "lastStatus": "STOPPED", "startedBy": "ecs-svc/2",
                "stoppedReason": "Task failed ELB health checks in (target-group web-tg)",
                "containers": [{"name": "web", "lastStatus": "STOPPED", "exitCode": 137}]
            }]}))],
        )
        .script(
            "DescribeTargetHealth",
            vec![Answer::Xml("<DescribeTargetHealthResponse><DescribeTargetHealthResult><TargetHealthDescriptions><member><Target><Id>10.0.10.5</Id><Port>8080</Port></Target><TargetHealth><State>unhealthy</State><Reason>Target.ResponseCodeMismatch</Reason><Description>Health checks failed with these codes: [404]</Description></TargetHealth></member></TargetHealthDescriptions></DescribeTargetHealthResult></DescribeTargetHealthResponse>".into())],
        );
    let out = events(
        &p.tf
            .forge("--json deploy --junit reports/deploy.xml")
            .code(1)
            .run(),
    );
    let rollout = finished(&out, "ecs-rollout:web");
    assert_eq!(rollout["status"], "failed");
    let reason = rollout["reason"].as_str().unwrap_or_default();
    // The JUnit report a CI server shows carries the same story, line by line.
    let cases = crate::release::junit_cases(&p.tf.project.root().join("reports/deploy.xml"));
    let (_, outcome, story) = cases
        .iter()
        .find(|c| c.0 == "ecs-rollout:web")
        .expect("a testcase for the rollout");
    assert_eq!(outcome, "failure");
    for line in [
        "ECS rolled back web to revision web:41",
        "t1: Task failed ELB health checks in (target-group web-tg)",
        "web-tg: 10.0.10.5:8080 unhealthy",
    ] {
        assert!(story.contains(line), "{line:?} not in the report's {story}");
    }
    // Real line breaks, not the `\n` of a JSON field.
    assert!(story.lines().count() > 5, "{story}");
    for line in [
        "ECS rolled back web to revision web:41: the deployment of revision web:42 failed after 3 failed tasks (ECS deployment circuit breaker: tasks failed to start.)",
        "is unhealthy in target-group web-tg",
        "rolling back to deployment ecs-svc/1",
        "t1: Task failed ELB health checks in (target-group web-tg)",
        "web exited 137",
        "web-tg: 10.0.10.5:8080 unhealthy: Target.ResponseCodeMismatch (Health checks failed with these codes: [404])",
        "it asks GET /healthz on port 8080 and expects 200",
    ] {
        assert!(reason.contains(line), "{line:?} not in {reason}");
    }
    assert_eq!(lock_changes(&out), ["acquired", "released"]);
    let (_, list) = p
        .ecs
        .calls()
        .into_iter()
        .find(|(op, _)| op == "ListTasks")
        .expect("the stopped tasks were listed");
    assert_eq!(list["desiredStatus"], "STOPPED");

    // A failure is never cached: the next deploy watches again (and now it completes).
    p.ecs.script(
        "DescribeServices",
        vec![services(
            vec![deployment("ecs-svc/4", "PRIMARY", 42, "COMPLETED", 2)],
            vec![],
        )],
    );
    let next = p.deploy(0);
    assert_eq!(ran(&next), ["ecs-rollout:web"]);
}

#[test]
fn a_missing_service_fails_at_once() {
    let p = Rollout::new(7);
    p.ecs.script(
        "DescribeServices",
        vec![Answer::Ok(json!({"services": [], "failures": [{"arn": "arn:aws:ecs:us-east-1:123456789012:service/forge-test/web", "reason": "MISSING"}]}))],
    );
    let out = p.deploy(1);
    let reason = finished(&out, "ecs-rollout:web")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        reason.starts_with("ECS has no service web in cluster forge-test (MISSING)"),
        "{reason}"
    );
    assert_eq!(p.ecs.count("DescribeServices"), 1);
}

fn completed(revision: u32) -> Vec<Answer> {
    vec![services(
        vec![deployment("ecs-svc/1", "PRIMARY", revision, "COMPLETED", 2)],
        vec![],
    )]
}

#[test]
fn a_rollback_deploys_the_previous_images_through_terraform_and_goes_further_back_next() {
    let p = Rollout::new(42);
    let none = p.tf.forge("--json rollback --yes").code(1).run();
    assert!(
        none.stderr
            .contains("nothing to roll back to in env `default`: it has no successful deploy"),
        "{}",
        none.stderr
    );

    // Deploy A, then B with another image (and the revision Terraform registers for it).
    p.ecs.script("DescribeServices", completed(42));
    p.deploy(0);
    let images_a = p.tf.manifest("terraform-apply")["outputs"]["images"].clone();
    std::fs::write(
        p.tf.project.root().join("web/Dockerfile"),
        "FROM scratch\nLABEL v=b\n",
    )
    .expect("change the image");
    p.set(43);
    p.ecs.script("DescribeServices", completed(43));
    let b = p.deploy(0);
    assert!(ran(&b).contains(&"ecr-push:web".to_owned()), "{b:#?}");
    let images_b = p.tf.manifest("terraform-apply")["outputs"]["images"].clone();
    assert_ne!(images_a, images_b);

    // Without a terminal, a rollback must be confirmed with --yes.
    let unconfirmed = p.tf.forge("rollback").code(2).run();
    assert!(
        unconfirmed.stderr.contains("--yes"),
        "{}",
        unconfirmed.stderr
    );

    let history: Vec<Value> = p.tf.forge("--json history").run().json_lines();
    let (run_b, run_a) = (history[0]["run"].clone(), history[1]["run"].clone());
    assert_eq!(history.len(), 2, "{history:#?}");
    assert_eq!(history[0]["revisions"]["web"], "web:43");

    p.ecs.script("DescribeServices", completed(43));
    let out = p.tf.forge("--json rollback --yes").run().json_lines();
    let plan = out
        .iter()
        .find(|l| l["type"] == "rollback-plan")
        .expect("what changes, first");
    assert_eq!(plan["to"], run_a);
    assert_eq!(plan["from"], run_b);
    assert_eq!(plan["changes"][0]["service"], "web");
    assert_eq!(plan["changes"][0]["revision_now"], "web:43");
    assert_eq!(plan["changes"][0]["revision_then"], "web:42");
    // No image is built or pushed: the pushes are A's; Terraform applies them under the
    // lock and the rollout watches.
    assert_eq!(
        ran(&out),
        ["terraform-render", "terraform-apply", "ecs-rollout:web"],
        "{out:#?}"
    );
    assert_eq!(lock_changes(&out), ["acquired", "released"]);
    let pinned = finished(&out, "ecr-push:web");
    assert_eq!(pinned["status"], "cached");
    assert_eq!(
        pinned["reason"].as_str().unwrap_or_default(),
        format!("the result of run {}", run_a.as_str().unwrap_or_default())
    );
    // The apply's state is what the render with A's images gives.
    let state = p.tf.forge("--json history").run().json_lines();
    assert_eq!(state.len(), 3);
    assert_eq!(state[0]["rollback_of"], run_a);
    assert_eq!(state[0]["images"]["web"], history[1]["images"]["web"]);
    assert_eq!(applied_images(&p), images_a, "A's images were applied");

    // A second rollback goes back from A: there is nothing before it.
    let further =
        p.tf.forge("--json rollback --yes")
            .code(1)
            .run()
            .json_lines();
    assert_eq!(further[0]["type"], "error", "{further:#?}");
    assert_eq!(
        further[0]["message"],
        format!(
            "nothing to roll back to in env `default`: no successful deploy before run {} pushed other images of web",
            run_a.as_str().unwrap_or_default()
        )
    );
}

/// The `images` output of the newest run's apply: what the render gave Terraform.
fn applied_images(p: &Rollout) -> Value {
    let store = forge_engine::store::Store::open(p.tf.project.cache_dir()).expect("store");
    let project = forge_engine::store::project_key("tf", p.tf.project.root());
    let mut runs = store.runs(&project, "default").expect("runs");
    runs.sort_by(|a, b| b.id.cmp(&a.id));
    let fingerprint = runs[0].steps["terraform-apply"]
        .fingerprint
        .clone()
        .expect("the apply's fingerprint");
    match store.lookup(&fingerprint) {
        forge_engine::store::Lookup::Hit(hit) => hit.result.manifest["outputs"]["images"].clone(),
        _ => panic!("the newest apply has no stored result"),
    }
}

/// The failed rollout's reason, after a deploy that exits 1 with it.
fn failed_reason(p: &Rollout) -> String {
    let out = p.deploy(1);
    let rollout = finished(&out, "ecs-rollout:web");
    assert_eq!(rollout["status"], "failed", "{rollout}");
    assert_eq!(lock_changes(&out), ["acquired", "released"]);
    rollout["reason"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn the_story_of_each_failure_names_its_cause() {
    // A failure alarm during bake time: the deployment FAILED with the alarm's name.
    let p = Rollout::new(42);
    let mut alarm = deployment("ecs-svc/2", "PRIMARY", 42, "FAILED", 2);
    alarm["rolloutStateReason"] = json!("Failed due to CloudWatch alarm(s): web-5xx");
    p.ecs.script(
        "DescribeServices",
        vec![
            services(
                vec![deployment("ecs-svc/2", "PRIMARY", 42, "IN_PROGRESS", 2)],
                vec![],
            ),
            services(vec![alarm], vec![]),
        ],
    );
    p.ecs
        .script("ListTasks", vec![Answer::Ok(json!({"taskArns": []}))]);
    p.ecs.script(
        "DescribeTargetHealth",
        vec![Answer::Xml(
            "<R><TargetHealthDescriptions></TargetHealthDescriptions></R>".into(),
        )],
    );
    let reason = failed_reason(&p);
    assert!(
        reason.starts_with("the rollout of web to revision web:42 failed after 0 failed tasks (Failed due to CloudWatch alarm(s): web-5xx)"),
        "{reason}"
    );

    // An image pull that times out from a private subnet: the NAT hint.
    let mut pull = deployment("ecs-svc/3", "PRIMARY", 42, "FAILED", 0);
    pull["failedTasks"] = json!(3);
    p.ecs
        .script("DescribeServices", vec![services(vec![pull], vec![])])
        .script("ListTasks", vec![Answer::Ok(json!({"taskArns": ["arn:aws:ecs:us-east-1:123456789012:task/forge-test/t2"]}))])
        .script(
            "DescribeTasks",
            vec![Answer::Ok(json!({"tasks": [{
                "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/forge-test/t2",
                "taskDefinitionArn": td(42), "lastStatus": "STOPPED", "startedBy": "ecs-svc/3",
                "stoppedReason": "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/t/web@sha256:ab: dial tcp 52.1.2.3:443: i/o timeout",
                "containers": []
            }]}))],
        );
    let reason = failed_reason(&p);
    assert!(reason.contains("t2: CannotPullContainerError"), "{reason}");
    assert!(
        reason.contains("private subnets need a NAT gateway route or ECR (api, dkr), S3 and CloudWatch Logs VPC endpoints (module route-tables)"),
        "{reason}"
    );

    // A service someone deleted.
    let mut gone = services(
        vec![deployment("ecs-svc/3", "PRIMARY", 42, "COMPLETED", 2)],
        vec![],
    );
    if let Answer::Ok(body) = &mut gone {
        body["services"][0]["status"] = json!("INACTIVE");
    }
    p.ecs.script("DescribeServices", vec![gone]);
    let reason = failed_reason(&p);
    assert!(
        reason.starts_with("ECS service web is INACTIVE: it runs nothing"),
        "{reason}"
    );

    // Stuck IN_PROGRESS: stopped at the service's rollout timeout, with what it saw.
    p.timeout.set("1s");
    p.set(42);
    p.ecs
        .script(
            "DescribeServices",
            vec![services(
                vec![
                    deployment("ecs-svc/4", "PRIMARY", 42, "IN_PROGRESS", 0),
                    deployment("ecs-svc/1", "ACTIVE", 41, "COMPLETED", 2),
                ],
                vec![],
            )],
        )
        .script("ListTasks", vec![Answer::Ok(json!({"taskArns": []}))]);
    let reason = failed_reason(&p);
    assert!(
        reason.starts_with("the rollout of web did not finish within 1s: web:42 IN_PROGRESS with 0 of 2 tasks running"),
        "{reason}"
    );
}
