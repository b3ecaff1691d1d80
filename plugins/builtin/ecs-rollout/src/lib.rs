//! The `ecs-rollout` built-in: after `terraform-apply` has pointed a service at a new task
//! definition, follows the service's deployment of that revision to its end.
//!
//! Terraform owns the service; this step changes nothing. It polls `DescribeServices`
//! (pausing between polls through the host, with jitter, backing off when throttled) until
//! the newest (`PRIMARY`) deployment runs the task definition the apply left,
//! `COMPLETED`, alone, with running == desired ([`ecs::Service::settled_on`]). It fails
//! when:
//!
//! - the deployment of that revision is `FAILED` (circuit breaker, alarm), and above all
//!   when ECS rolled the service back to an older revision: a rollback is a failure, never
//!   "stable";
//! - the service is missing or not `ACTIVE`;
//! - the rollout has not ended within its `timeout`.
//!
//! A failure carries the deployment's story ([`story`]): the service events since it
//! started that matter, the stopped tasks' reasons and exit codes, and a hint for the
//! common causes.
//!
//! Config (the engine's `rollout_config`): `{"service", "region", "port", "health-check":
//! {"path", "matcher", …}, "ecs": {"cluster", "service", "task-definition"} | null,
//! "timeout-secs", "poll-ms", …}`. The `ecs` values are usually references to module
//! outputs (`{"$ref": "module.backend-service.cluster_arn"}`), read from the
//! `terraform-apply` output under the contract's [`terraform::root_output`] name.

use std::collections::BTreeMap;

use forge_plugin_sdk::ecs::{self, Deployment, Service};
use forge_plugin_sdk::{
    AwsError, AwsTarget, Context, Error, Info, Plugin, capability, export_plugin, terraform,
};
use serde::{Deserialize, Serialize};

pub mod story;

/// The step whose outputs the `ecs` references read.
pub const APPLY: &str = "terraform-apply";

/// The longest pause between two polls, however often ECS throttles.
const MAX_POLL_MS: u32 = 60_000;

#[derive(Debug, Deserialize)]
pub struct Config {
    /// The forge service's name.
    pub service: String,
    pub region: String,
    #[serde(default)]
    pub port: Option<u64>,
    #[serde(default, rename = "health-check")]
    pub health_check: Option<HealthCheck>,
    /// Which ECS service runs it; values or references to module outputs.
    #[serde(default)]
    pub ecs: Option<EcsRefs>,
    /// How long the rollout may take before it counts as stalled.
    #[serde(rename = "timeout-secs", default = "default_timeout")]
    pub timeout_secs: u64,
    /// Pause between polls (the first; throttling backs off from it).
    #[serde(rename = "poll-ms", default = "default_poll")]
    pub poll_ms: u32,
}

fn default_timeout() -> u64 {
    600
}

fn default_poll() -> u32 {
    5_000
}

#[derive(Debug, Clone, Deserialize)]
pub struct HealthCheck {
    pub path: String,
    #[serde(default)]
    pub matcher: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct EcsRefs {
    pub cluster: serde_json::Value,
    pub service: serde_json::Value,
    #[serde(rename = "task-definition")]
    pub task_definition: serde_json::Value,
}

/// What `terraform-apply` outputs (the field this step reads).
#[derive(Debug, Deserialize)]
struct Applied {
    #[serde(default)]
    outputs: BTreeMap<String, serde_json::Value>,
}

/// The step's manifest: where the service now runs, what the drift check compares.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Output {
    pub cluster: String,
    pub service: String,
    #[serde(rename = "task-definition")]
    pub task_definition: String,
    pub deployment: String,
    pub desired: u64,
    pub running: u64,
}

/// The ECS service a rollout follows.
#[derive(Debug, Clone)]
pub struct Watched {
    pub cluster: String,
    pub service: String,
    pub task_definition: String,
}

pub struct EcsRollout;

impl Plugin for EcsRollout {
    type Config = Config;
    type Output = Output;

    fn info() -> Info {
        Info::new(
            "ecs-rollout",
            "follows an ECS service's rollout to COMPLETED or FAILED and tells why it failed",
        )
        .capability(capability::AWS)
    }

    fn run(ctx: &mut Context, config: Config) -> Result<Output, Error> {
        let watched = resolve(ctx, &config)?;
        let target = AwsTarget {
            region: Some(config.region.clone()),
            endpoint: None,
        };
        check_image(ctx, &config, &watched, &target)?;
        ctx.info(format!(
            "following {} in {} to {}",
            watched.service,
            short_cluster(&watched.cluster),
            ecs::revision(&watched.task_definition)
        ));
        watch(ctx, &config, &watched, &target)
    }
}

/// The cluster, service and task definition, from literal values or references to the
/// apply's outputs.
pub fn resolve(ctx: &Context, config: &Config) -> Result<Watched, Error> {
    let Some(refs) = &config.ecs else {
        return Err(Error::new(format!(
            "forge does not know which ECS service runs service `{}`",
            config.service
        ))
        .with_help(format!(
            "name the module that deploys it in project.kdl: `service \"{}\" {{ deployed-by \"<module>\" }}` (a module built on modules/ecs-service)",
            config.service
        )));
    };
    let needs_apply = [&refs.cluster, &refs.service, &refs.task_definition]
        .iter()
        .any(|v| reference(v).is_some());
    let outputs = if needs_apply {
        ctx.upstream::<Applied>(APPLY)?.outputs
    } else {
        BTreeMap::new()
    };
    let value = |what: &str, v: &serde_json::Value| -> Result<String, Error> {
        match (v, reference(v)) {
            (serde_json::Value::String(s), _) => Ok(s.clone()),
            (_, Some(target)) => {
                let name = terraform::root_output(target).ok_or_else(|| {
                    Error::new(format!(
                        "{what}: `{target}` is not a module output reference"
                    ))
                })?;
                match outputs.get(&name) {
                    Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                    Some(other) => Err(Error::new(format!(
                        "{what}: `{target}` is {other}, not an ECS name or ARN"
                    ))),
                    None => Err(Error::new(format!(
                        "{what}: terraform-apply has no output for `{target}`"
                    ))
                    .with_help(
                        "the module must output it (modules/ecs-service outputs cluster_arn, service_name and task_definition_arn); run `forge plan --terraform` to see the root module's outputs",
                    )),
                }
            }
            _ => Err(Error::new(format!(
                "{what}: {v} is not a string or a reference"
            ))),
        }
    };
    Ok(Watched {
        cluster: value("cluster", &refs.cluster)?,
        service: value("service", &refs.service)?,
        task_definition: value("task definition", &refs.task_definition)?,
    })
}

fn reference(v: &serde_json::Value) -> Option<&str> {
    v.as_object()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.get("$ref"))
        .and_then(|t| t.as_str())
}

/// The task definition the apply left must run the image this deploy pushed (the
/// `digest` of `ecr-push:<service>`, when the push reports one): a module that takes the
/// image by tag, or another service's image, would roll out something else.
fn check_image(
    ctx: &Context,
    config: &Config,
    watched: &Watched,
    target: &AwsTarget,
) -> Result<(), Error> {
    let push = format!("ecr-push:{}", config.service);
    if !ctx.upstream_steps().any(|s| s == push) {
        return Ok(());
    }
    let pushed: serde_json::Value = ctx.upstream(&push)?;
    let Some(digest) = pushed["digest"]
        .as_str()
        .filter(|d| d.starts_with("sha256:"))
    else {
        return Ok(());
    };
    let mut pause = config.poll_ms.max(1);
    let containers = loop {
        match ctx.ecs_describe_task_definition(target, &watched.task_definition) {
            Ok(containers) => break containers,
            Err(e) if throttled(&e) && pause < MAX_POLL_MS => {
                ctx.pause(pause);
                pause = pause.saturating_mul(2);
            }
            Err(e) => {
                return Err(Error::new(format!(
                    "cannot describe task definition {}: {e}",
                    ecs::revision(&watched.task_definition)
                ))
                .with_help(aws_help(&e)));
            }
        }
    };
    let pinned = format!("@{digest}");
    if containers.iter().any(|(_, image)| image.ends_with(&pinned)) {
        return Ok(());
    }
    let runs: Vec<String> = containers
        .iter()
        .map(|(name, image)| format!("{name} runs {image}"))
        .collect();
    Err(Error::new(format!(
        "task definition {} does not run the image this deploy pushed ({digest}): {}",
        ecs::revision(&watched.task_definition),
        if runs.is_empty() { "it has no container".to_owned() } else { runs.join(", ") }
    ))
    .with_help(format!(
        "the task definition must take the image by digest: give its module (ref)\"service.{}.digest\" (modules/ecs-task-definition input `image_digest`) and deploy again",
        config.service
    )))
}

/// `arn:…:cluster/name` → `name`.
pub fn short_cluster(cluster: &str) -> &str {
    cluster.rsplit_once(":cluster/").map_or(cluster, |(_, n)| n)
}

/// Whether an AWS error says "slow down".
fn throttled(e: &AwsError) -> bool {
    matches!(e, AwsError::Service { code, .. }
        if code.contains("Throttl") || code == "TooManyRequestsException" || code == "RequestLimitExceeded")
}

/// Polls until the rollout ends; the story on failure.
pub fn watch(
    ctx: &Context,
    config: &Config,
    watched: &Watched,
    target: &AwsTarget,
) -> Result<Output, Error> {
    let timeout_ms = config.timeout_secs.saturating_mul(1000);
    let base = config.poll_ms.max(1);
    let mut poll = base;
    let mut elapsed = 0u64;
    let mut last_line = String::new();
    let mut throttles = 0u32;
    loop {
        let answer = ctx.ecs_describe_services(
            target,
            &watched.cluster,
            std::slice::from_ref(&watched.service),
        );
        let found = match answer {
            Ok(found) => {
                poll = base;
                found
            }
            Err(e) if throttled(&e) => {
                throttles += 1;
                poll = poll.saturating_mul(2).min(MAX_POLL_MS);
                ctx.warn(format!(
                    "ECS is throttling ({e}); asking again in {poll} ms"
                ));
                elapsed = ctx.pause(poll);
                if elapsed >= timeout_ms {
                    return Err(stalled(ctx, config, watched, target, None, elapsed));
                }
                continue;
            }
            Err(e) => {
                return Err(Error::new(format!(
                    "cannot describe ECS service {} in {}: {e}",
                    watched.service,
                    short_cluster(&watched.cluster)
                ))
                .with_help(aws_help(&e)));
            }
        };
        let Some(service) = found
            .services
            .into_iter()
            .find(|s| s.service_name == watched.service || s.service_arn == watched.service)
        else {
            let why = found
                .failures
                .first()
                .map_or("MISSING".to_owned(), |f| f.reason.clone());
            return Err(Error::new(format!(
                "ECS has no service {} in cluster {} ({why})",
                watched.service,
                short_cluster(&watched.cluster)
            ))
            .with_help("terraform-apply should have created it: check the module's `cluster_arn` and `name` inputs, or run `forge deploy` again to re-apply"));
        };
        if service.status != "ACTIVE" {
            return Err(Error::new(format!(
                "ECS service {} is {}: it runs nothing",
                watched.service, service.status
            ))
            .with_help("a service being deleted (DRAINING) or deleted (INACTIVE) cannot roll out: re-apply the env so Terraform creates it again"));
        }
        if let Some(d) = service
            .deployments
            .iter()
            .find(|d| ecs::same_task_definition(&d.task_definition, &watched.task_definition))
        {
            ctx.progress(d.running_count, d.desired_count);
        }
        let line = progress_line(&service, watched, elapsed);
        if line != last_line {
            ctx.info(&line);
            last_line = line;
        }
        if let Some(failed) = failed_deployment(&service, watched) {
            return Err(rollout_failed(
                ctx, config, watched, target, &service, failed,
            ));
        }
        if service.settled_on(&watched.task_definition).is_ok() {
            let primary = service.primary().expect("settled implies a primary");
            if throttles > 0 {
                ctx.info(format!(
                    "ECS throttled {throttles} polls; each was asked again"
                ));
            }
            return Ok(Output {
                cluster: watched.cluster.clone(),
                service: watched.service.clone(),
                task_definition: primary.task_definition.clone(),
                deployment: primary.id.clone(),
                desired: primary.desired_count,
                running: primary.running_count,
            });
        }
        if !service
            .deployments
            .iter()
            .any(|d| ecs::same_task_definition(&d.task_definition, &watched.task_definition))
        {
            return Err(Error::new(format!(
                "ECS service {} runs {}, not {}, which this deploy applied: another deploy changed it",
                watched.service,
                service
                    .primary()
                    .map_or("nothing", |p| ecs::revision(&p.task_definition)),
                ecs::revision(&watched.task_definition)
            ))
            .with_help("run `forge deploy` again (under the env's lock) to apply this env's revision; `forge plan` shows what differs"));
        }
        if elapsed >= timeout_ms {
            return Err(stalled(
                ctx,
                config,
                watched,
                target,
                Some(&service),
                elapsed,
            ));
        }
        elapsed = ctx.pause(poll);
    }
}

/// The deployment of the watched revision, when it has failed.
fn failed_deployment<'a>(service: &'a Service, watched: &Watched) -> Option<&'a Deployment> {
    service.deployments.iter().find(|d| {
        ecs::same_task_definition(&d.task_definition, &watched.task_definition)
            && d.rollout_state.as_deref() == Some(ecs::FAILED)
    })
}

/// `backend:42 IN_PROGRESS desired 2 running 1 pending 1 failed 0 (35s)`.
fn progress_line(service: &Service, watched: &Watched, elapsed_ms: u64) -> String {
    let d = service
        .deployments
        .iter()
        .find(|d| ecs::same_task_definition(&d.task_definition, &watched.task_definition))
        .or(service.primary());
    match d {
        None => format!(
            "{}: no deployment yet ({}s)",
            watched.service,
            elapsed_ms / 1000
        ),
        Some(d) => format!(
            "{} {} {}: desired {} running {} pending {} failed {} ({}s)",
            watched.service,
            ecs::revision(&d.task_definition),
            d.rollout_state.as_deref().unwrap_or("IN_PROGRESS"),
            d.desired_count,
            d.running_count,
            d.pending_count,
            d.failed_tasks,
            elapsed_ms / 1000
        ),
    }
}

fn rollout_failed(
    ctx: &Context,
    config: &Config,
    watched: &Watched,
    target: &AwsTarget,
    service: &Service,
    failed: &Deployment,
) -> Error {
    let rev = ecs::revision(&failed.task_definition);
    let reason = failed
        .rollout_state_reason
        .clone()
        .unwrap_or_else(|| "no reason given".into());
    let headline = match service.primary() {
        Some(p) if !ecs::same_task_definition(&p.task_definition, &watched.task_definition) => {
            format!(
                "ECS rolled back {} to revision {}: the deployment of revision {} failed after {} failed tasks ({reason})",
                watched.service,
                ecs::revision(&p.task_definition),
                rev,
                failed.failed_tasks
            )
        }
        _ => format!(
            "the rollout of {} to revision {} failed after {} failed tasks ({reason})",
            watched.service, rev, failed.failed_tasks
        ),
    };
    story::report(
        ctx,
        config,
        watched,
        target,
        Some(service),
        Some(failed),
        headline,
    )
}

fn stalled(
    ctx: &Context,
    config: &Config,
    watched: &Watched,
    target: &AwsTarget,
    service: Option<&Service>,
    elapsed_ms: u64,
) -> Error {
    let deployment = service.and_then(|s| {
        s.deployments
            .iter()
            .find(|d| ecs::same_task_definition(&d.task_definition, &watched.task_definition))
    });
    let state = match (service, deployment) {
        (Some(s), Some(d)) => format!(
            ": {} {} with {} of {} tasks running",
            ecs::revision(&d.task_definition),
            d.rollout_state.as_deref().unwrap_or("IN_PROGRESS"),
            d.running_count,
            d.desired_count.max(s.desired_count)
        ),
        _ => String::new(),
    };
    let headline = format!(
        "the rollout of {} did not finish within {}s{state}",
        watched.service,
        elapsed_ms / 1000
    );
    story::report(ctx, config, watched, target, service, deployment, headline)
}

fn aws_help(e: &AwsError) -> String {
    match e {
        AwsError::Credentials(_) => {
            "set AWS credentials for forge (AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); the deploy role needs ecs:DescribeServices, ecs:ListTasks and ecs:DescribeTasks".into()
        }
        AwsError::Unreachable(_) => {
            "check the network path to ECS, or AWS_ENDPOINT_URL_ECS when ECS is a local stand-in".into()
        }
        _ => "the deploy role needs ecs:DescribeServices, ecs:ListTasks and ecs:DescribeTasks on the cluster".into(),
    }
}

export_plugin!(EcsRollout);
