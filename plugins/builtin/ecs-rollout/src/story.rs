//! One story per failure: what ECS said about the failed or stalled deployment, gathered
//! when it ends, and a plain hint for the causes seen most.
//!
//! - the service's events since the deployment started that matter (failures, unhealthy
//!   targets, "unable to", errors, rollbacks), oldest first;
//! - the deployment's stopped tasks: `stoppedReason` and each container's exit code and
//!   reason;
//! - the health of the targets of the service's target groups (ELBv2), the ones not
//!   healthy;
//! - [`hints`]: image pulls from private subnets without a route to ECR, access denied to
//!   the execution role, `iam:PassRole`, ALB health checks (with the project's path, port
//!   and matcher), an essential container exiting (its exit code and log stream).

use forge_plugin_sdk::ecs::{Deployment, Service, TargetHealth, Task};
use forge_plugin_sdk::{AwsTarget, Context, Error};

use crate::{Config, Watched};

/// Events shown at most, and stopped tasks described at most.
const MAX_EVENTS: usize = 8;
const MAX_TASKS: usize = 5;

/// Words that make a service event part of a failure's story.
const MATTERS: [&str; 8] = [
    "fail",
    "unhealthy",
    "unable",
    "error",
    "rolling back",
    "rolled back",
    "circuit breaker",
    "denied",
];

/// The failure as one error: `headline`, then the story's lines, and the hints as help.
pub fn report(
    ctx: &Context,
    config: &Config,
    watched: &Watched,
    target: &AwsTarget,
    service: Option<&Service>,
    deployment: Option<&Deployment>,
    headline: String,
) -> Error {
    let events = service.map(|s| events(s, deployment)).unwrap_or_default();
    let tasks = stopped_tasks(ctx, watched, target, deployment);
    let targets = service
        .map(|s| target_health(ctx, target, s))
        .unwrap_or_default();
    let mut lines = vec![headline];
    if !events.is_empty() {
        lines.push("service events:".into());
        lines.extend(events.iter().map(|e| format!("  {e}")));
    }
    if !tasks.is_empty() {
        lines.push("stopped tasks:".into());
        for task in &tasks {
            lines.extend(describe_task(task).into_iter().map(|l| format!("  {l}")));
        }
    }
    if !targets.is_empty() {
        lines.push("load balancer targets:".into());
        lines.extend(targets.iter().map(|(group, t)| format!("  {group}: {t}")));
    }
    let text = lines.join("\n");
    let unhealthy: Vec<TargetHealth> = targets.into_iter().map(|(_, t)| t).collect();
    let hints = hints(config, &events, &tasks, &unhealthy);
    let help = if hints.is_empty() {
        format!(
            "the service events above are ECS's own account; `aws ecs describe-services --cluster {} --services {}` shows them all",
            watched.cluster, watched.service
        )
    } else {
        hints.join("\n")
    };
    Error::new(text).with_help(help)
}

/// The events that matter since `deployment` started (all of them without one), oldest
/// first, at most [`MAX_EVENTS`] (the newest).
pub fn events(service: &Service, deployment: Option<&Deployment>) -> Vec<String> {
    let since = deployment.and_then(|d| d.created_at);
    let mut out: Vec<String> = service
        .events
        .iter()
        .filter(|e| match (since, e.created_at) {
            (Some(since), Some(at)) => at >= since,
            _ => true,
        })
        .filter(|e| {
            let m = e.message.to_ascii_lowercase();
            MATTERS.iter().any(|w| m.contains(w))
        })
        .take(MAX_EVENTS)
        .map(|e| e.message.clone())
        .collect();
    // ECS lists events newest first; a story reads oldest first.
    out.reverse();
    out
}

/// The deployment's stopped tasks (those it started, or on its task definition).
fn stopped_tasks(
    ctx: &Context,
    watched: &Watched,
    target: &AwsTarget,
    deployment: Option<&Deployment>,
) -> Vec<Task> {
    let arns = match ctx.ecs_list_tasks(target, &watched.cluster, &watched.service, "STOPPED") {
        Ok(arns) => arns,
        Err(e) => {
            ctx.warn(format!("could not list the stopped tasks: {e}"));
            return Vec::new();
        }
    };
    if arns.is_empty() {
        return Vec::new();
    }
    let tasks = match ctx.ecs_describe_tasks(target, &watched.cluster, &arns) {
        Ok(tasks) => tasks,
        Err(e) => {
            ctx.warn(format!("could not describe the stopped tasks: {e}"));
            return Vec::new();
        }
    };
    tasks
        .into_iter()
        .filter(|t| match deployment {
            Some(d) => {
                t.started_by.as_deref() == Some(d.id.as_str())
                    || forge_plugin_sdk::ecs::same_task_definition(
                        &t.task_definition_arn,
                        &d.task_definition,
                    )
            }
            None => true,
        })
        .take(MAX_TASKS)
        .collect()
}

/// The targets of the service's target groups that are not healthy, with their group's
/// name (`arn:…:targetgroup/backend-tg/abc` → `backend-tg`).
fn target_health(
    ctx: &Context,
    target: &AwsTarget,
    service: &Service,
) -> Vec<(String, TargetHealth)> {
    let mut out = Vec::new();
    for group in service
        .load_balancers
        .iter()
        .filter_map(|l| l.target_group_arn.as_deref())
    {
        let name = group
            .split(":targetgroup/")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or(group)
            .to_owned();
        match ctx.elb_describe_target_health(target, group) {
            Ok(targets) => out.extend(
                targets
                    .into_iter()
                    .filter(|t| t.state != "healthy")
                    .take(MAX_TASKS)
                    .map(|t| (name.clone(), t)),
            ),
            Err(e) => ctx.warn(format!(
                "could not read the health of target group {name}: {e}"
            )),
        }
    }
    out
}

/// The task id of an ARN (`arn:…:task/cluster/abc123` → `abc123`).
pub fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn describe_task(task: &Task) -> Vec<String> {
    let mut lines = vec![format!(
        "{}: {}",
        task_id(&task.task_arn),
        task.stopped_reason.as_deref().unwrap_or("stopped")
    )];
    for c in &task.containers {
        match (c.exit_code, &c.reason) {
            (Some(code), Some(reason)) => {
                lines.push(format!("  {} exited {code}: {reason}", c.name));
            }
            (Some(code), None) => lines.push(format!("  {} exited {code}", c.name)),
            (None, Some(reason)) => lines.push(format!("  {}: {reason}", c.name)),
            (None, None) => {}
        }
    }
    lines
}

/// Plain hints for the causes the story shows.
pub fn hints(
    config: &Config,
    events: &[String],
    tasks: &[Task],
    targets: &[TargetHealth],
) -> Vec<String> {
    let mut text = events.join("\n");
    for t in targets {
        text.push('\n');
        text.push_str(&t.to_string());
    }
    for task in tasks {
        text.push('\n');
        text.push_str(task.stopped_reason.as_deref().unwrap_or(""));
        for c in &task.containers {
            text.push('\n');
            text.push_str(c.reason.as_deref().unwrap_or(""));
        }
    }
    let lower = text.to_ascii_lowercase();
    let mut hints = Vec::new();
    let pull = lower.contains("cannotpullcontainererror")
        || lower.contains("pull image")
        || lower.contains("resourceinitializationerror");
    let network = lower.contains("timeout")
        || lower.contains("timed out")
        || lower.contains("dial tcp")
        || lower.contains("i/o");
    if pull && network {
        hints.push("the tasks could not reach ECR to pull the image: private subnets need a NAT gateway route or ECR (api, dkr), S3 and CloudWatch Logs VPC endpoints (module route-tables)".to_owned());
    } else if pull && !lower.contains("accessdenied") && !lower.contains("not authorized") {
        hints.push("the image could not be pulled: check that the task definition's image (repository@digest) exists in ECR and that the tasks can reach ECR (module route-tables)".to_owned());
    }
    if lower.contains("iam:passrole") {
        hints.push("the deploy role may not pass the task's roles to ECS: grant it iam:PassRole on the execution and task roles (module iam, `deploy_role`)".to_owned());
    } else if (lower.contains("accessdenied") || lower.contains("not authorized"))
        && (lower.contains("ecr") || lower.contains("logs"))
    {
        hints.push("the task's execution role may not pull from ECR or write its logs: give it ecr:GetAuthorizationToken, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer and logs:CreateLogStream/PutLogEvents (module iam, `execution_role`)".to_owned());
    }
    if lower.contains("health check")
        || lower.contains("unhealthy in target-group")
        || lower.contains("target.responsecodemismatch")
        || lower.contains("target.timeout")
        || lower.contains("target.failedhealthchecks")
    {
        let path = config
            .health_check
            .as_ref()
            .map_or("/", |h| h.path.as_str());
        let matcher = config
            .health_check
            .as_ref()
            .and_then(|h| h.matcher.as_deref())
            .unwrap_or("200");
        let port = config
            .port
            .map_or_else(|| "its port".to_owned(), |p| p.to_string());
        hints.push(format!(
            "the load balancer found the tasks unhealthy: it asks GET {path} on port {port} and expects {matcher} (service `{}`'s `health-check` and `port` in project.kdl); check that the app answers there and that the service's security group admits the load balancer on {port}",
            config.service
        ));
    }
    if lower.contains("essential container") {
        for task in tasks {
            for c in &task.containers {
                if let Some(code) = c.exit_code.filter(|code| *code != 0) {
                    hints.push(format!(
                        "container `{}` exited with code {code}: read its CloudWatch log stream `{}/{}/{}` (the task definition's awslogs group)",
                        c.name,
                        c.name,
                        c.name,
                        task_id(&task.task_arn)
                    ));
                }
            }
        }
        if !hints.iter().any(|h| h.starts_with("container")) {
            hints.push(
                "an essential container exited: its CloudWatch log stream says why".to_owned(),
            );
        }
    }
    hints.dedup();
    hints
}
