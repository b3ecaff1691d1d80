//! `service` blocks: the image build, where it is pushed, and how ECS runs it, with the
//! documented defaults and Fargate's CPU/memory rules checked up front (a wrong pair is
//! otherwise only refused by ECS at deploy time).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use kdl::KdlNode;

use super::convert::{defaults, placeholder, u32_of};
use super::read::Cx;
use super::schema::{Ctx, did_you_mean};
use super::{
    BuildSpec, ConfigValue, HealthCheck, LoadBalancer, Rollout, SecretRef, Service, Spanned,
};

/// Fargate's task sizes: each CPU value with the memory (MiB) range and step it allows.
const FARGATE: &[(u32, u32, u32, u32)] = &[
    (256, 512, 2048, 512),
    (512, 1024, 4096, 1024),
    (1024, 2048, 8192, 1024),
    (2048, 4096, 16384, 1024),
    (4096, 8192, 30720, 1024),
    (8192, 16384, 61440, 4096),
    (16384, 32768, 122880, 8192),
];

fn fargate_memory_ok(cpu: u32, memory: u32) -> Option<bool> {
    let &(_, lo, hi, step) = FARGATE.iter().find(|f| f.0 == cpu)?;
    // 256 CPU also allows 1024 and 2048 exactly, which the step of 512 covers.
    Some((lo..=hi).contains(&memory) && (memory - lo).is_multiple_of(step))
}

pub(crate) fn read_service(node: &KdlNode, cx: &mut Cx) -> Option<Service> {
    cx.shape(node, 1, &[], Ctx::Service);
    let name = cx.name(node, "service")?;
    let head = cx.head_span(node);
    let mut service = Service {
        name,
        build: BuildSpec {
            context: placeholder(PathBuf::new(), head),
            dockerfile: placeholder(PathBuf::from(defaults::DOCKERFILE), head),
            args: BTreeMap::new(),
            target: None,
            inputs: Vec::new(),
            artifacts: BTreeMap::new(),
            secrets: BTreeMap::new(),
        },
        registry: None,
        repository: placeholder(String::new(), head),
        port: placeholder(0, head),
        cpu: placeholder(defaults::CPU, head),
        memory: placeholder(defaults::MEMORY, head),
        desired_count: placeholder(defaults::DESIRED_COUNT, head),
        health_check: HealthCheck {
            path: placeholder(defaults::HEALTH_PATH.to_string(), head),
            interval_secs: placeholder(defaults::HEALTH_INTERVAL, head),
            timeout_secs: placeholder(defaults::HEALTH_TIMEOUT, head),
            healthy_threshold: placeholder(defaults::HEALTHY, head),
            unhealthy_threshold: placeholder(defaults::UNHEALTHY, head),
            matcher: placeholder(defaults::MATCHER.to_string(), head),
        },
        load_balancer: placeholder(LoadBalancer::None, head),
        env_vars: BTreeMap::new(),
        secrets: BTreeMap::new(),
        depends_on: Vec::new(),
        deployed_by: None,
        rollout: Rollout {
            timeout: placeholder(defaults::ROLLOUT_TIMEOUT, head),
            poll: placeholder(defaults::ROLLOUT_POLL, head),
        },
        span: head,
    };
    let (mut build, mut repository, mut port, mut memory) = (false, false, false, false);
    for child in node.iter_children() {
        match child.name().value() {
            "build" => {
                build = true;
                read_build(child, &mut service.build, cx);
            }
            "registry" => service.registry = cx.leaf_string(child, "the name of a `registry` node"),
            "repository" => {
                if let Some(r) =
                    cx.leaf_string(child, "the image repository, e.g. `two-tier/backend`")
                {
                    repository = true;
                    service.repository = r;
                }
            }
            "port" => {
                port = true;
                if let Some(p) = cx.leaf_int(
                    child,
                    1,
                    65535,
                    "the container port the service listens on, e.g. `port 8080`",
                ) {
                    service.port = Spanned::new(u16::try_from(p.value).unwrap_or(0), p.span);
                }
            }
            "cpu" => {
                if let Some(c) = cx.leaf_int(
                    child,
                    256,
                    16384,
                    "Fargate CPU units: 256, 512, 1024, 2048, 4096, 8192 or 16384",
                ) {
                    let c = u32_of(c);
                    if FARGATE.iter().any(|f| f.0 == c.value) {
                        service.cpu = c;
                    } else {
                        cx.invalid(
                            c.span,
                            format!("{} is not a Fargate CPU size", c.value),
                            "not a Fargate size",
                            "use 256, 512, 1024, 2048, 4096, 8192 or 16384 (1024 = one vCPU)"
                                .into(),
                        );
                    }
                }
            }
            "memory" => {
                if let Some(m) = cx.leaf_int(child, 512, 122880, "memory in MiB, e.g. `memory 512`")
                {
                    memory = true;
                    service.memory = u32_of(m);
                }
            }
            "desired-count" => {
                if let Some(d) = cx.leaf_int(child, 0, 5000, "how many tasks ECS keeps running") {
                    service.desired_count = u32_of(d);
                }
            }
            "health-check" => read_health(child, &mut service.health_check, cx),
            "load-balancer" => {
                if let Some(lb) = cx.leaf_string(child, "`public`, `internal` or `none`") {
                    let kind = match lb.value.as_str() {
                        "public" => LoadBalancer::Public,
                        "internal" => LoadBalancer::Internal,
                        "none" => LoadBalancer::None,
                        other => {
                            let help = did_you_mean(other, ["public", "internal", "none"], "kind");
                            cx.invalid(
                                lb.span,
                                format!("unknown load balancer `{other}`"),
                                "not a load balancer kind",
                                help,
                            );
                            continue;
                        }
                    };
                    service.load_balancer = Spanned::new(kind, lb.span);
                }
            }
            "environment" => {
                cx.shape(child, 0, &[], Ctx::Free);
                for var in child.iter_children() {
                    if let Some(v) = read_env_var(var, cx) {
                        service.env_vars.insert(var.name().value().to_string(), v);
                    }
                }
            }
            "secret" => {
                if let Some((name, secret)) = read_secret(child, cx, SecretUse::Service) {
                    service.secrets.insert(name, secret);
                }
            }
            "depends-on" => service
                .depends_on
                .extend(cx.strings(child, "the name of another service")),
            "deployed-by" => {
                service.deployed_by = cx.leaf_string(
                    child,
                    "the `module` that runs the service on ECS, e.g. `deployed-by \"backend-service\"`",
                );
            }
            "rollout" => read_rollout(child, &mut service.rollout, cx),
            _ => cx.unknown_node_in(child, Ctx::Service),
        }
    }
    let name = &service.name.value;
    if !build {
        cx.missing(node, "a `build` block", format!("add `build {{ context \"path/to/{name}\" }}`: the directory the image is built from"));
    }
    if !repository {
        cx.missing(
            node,
            "a `repository`",
            format!(
                "add `repository \"{}/{name}\"`: where the image is pushed",
                "PROJECT"
            ),
        );
    }
    if !port {
        cx.missing(
            node,
            "a `port`",
            "add `port 8080`: the port the container listens on".into(),
        );
    }
    if !memory {
        // The smallest size Fargate allows for the CPU, so `cpu 1024` alone is valid.
        if let Some(f) = FARGATE.iter().find(|f| f.0 == service.cpu.value) {
            service.memory.value = f.1;
        }
    }
    if fargate_memory_ok(service.cpu.value, service.memory.value) == Some(false) {
        let valid: Vec<String> = FARGATE
            .iter()
            .filter(|f| f.0 == service.cpu.value)
            .map(|f| format!("{}..={} in steps of {}", f.1, f.2, f.3))
            .collect();
        cx.invalid(
            service.memory.span,
            format!(
                "Fargate cannot run cpu {} with memory {}",
                service.cpu.value, service.memory.value
            ),
            "not a Fargate size for this cpu",
            format!(
                "with cpu {}, memory must be {} MiB",
                service.cpu.value,
                valid.join(", ")
            ),
        );
    }
    Some(service)
}

fn read_build(node: &KdlNode, build: &mut BuildSpec, cx: &mut Cx) {
    cx.shape(node, 0, &[], Ctx::Build);
    let mut context = !build.context.value.as_os_str().is_empty();
    for child in node.iter_children() {
        match child.name().value() {
            "context" => {
                if let Some(c) = cx.leaf_string(child, "a directory relative to the project root") {
                    context = true;
                    build.context = Spanned::new(PathBuf::from(c.value), c.span);
                }
            }
            "dockerfile" => {
                if let Some(d) = cx.leaf_string(child, "a file relative to the build context") {
                    build.dockerfile = Spanned::new(PathBuf::from(d.value), d.span);
                }
            }
            "arg" => {
                cx.shape(child, 2, &[], Ctx::Leaf);
                let help = "`arg \"NAME\" \"value\"`";
                let key = cx.arg(child, 0).and_then(|e| cx.string(child, e, help));
                match (key, cx.arg(child, 1)) {
                    (Some(key), Some(v)) => {
                        if let Some(v) = cx.string(child, v, help) {
                            build.args.insert(key.value, v);
                        }
                    }
                    (Some(_), None) | (None, None) => cx.missing(child, "a value", help.into()),
                    (None, Some(_)) => {}
                }
            }
            "target" => {
                build.target = cx.leaf_string(child, "a stage name of a multi-stage Dockerfile")
            }
            "input" => build
                .inputs
                .extend(cx.strings(child, "a glob relative to the project root")),
            "artifact" => read_artifact(child, build, cx),
            "secret" => {
                if let Some((name, secret)) = read_secret(child, cx, SecretUse::Step) {
                    build.secrets.insert(name, secret);
                }
            }
            _ => cx.unknown_node_in(child, Ctx::Build),
        }
    }
    if !context {
        cx.missing(
            node,
            "a `context`",
            "add `context \"path/to/app\"`: the directory the image is built from".into(),
        );
    }
}

/// `artifact "dist/backend" (ref)"step.backend-bin.backend"`: a file of the build context
/// that comes from another step's output.
fn read_artifact(node: &KdlNode, build: &mut BuildSpec, cx: &mut Cx) {
    cx.shape(node, 2, &[], Ctx::Leaf);
    let help = "`artifact \"PATH-IN-CONTEXT\" (ref)\"step.NAME.OUTPUT\"`";
    let path = cx.arg(node, 0).and_then(|e| cx.string(node, e, help));
    let Some(path) = path else {
        if cx.arg(node, 0).is_none() {
            cx.missing(node, "a path inside the build context", help.into());
        }
        return;
    };
    if super::validate::escapes_root(&path.value) {
        cx.invalid(
            path.span,
            format!("artifact path `{}` leaves the build context", path.value),
            "outside the build context",
            "an artifact's path is inside the build context, e.g. `dist/app`".into(),
        );
        return;
    }
    match cx.arg(node, 1).and_then(|e| cx.config_entry(e)) {
        Some(value) if matches!(&value.value, ConfigValue::Ref(r) if r.target.starts_with("step.")) =>
        {
            build.artifacts.insert(path.value, value);
        }
        Some(value) => cx.invalid(
            value.span,
            "an artifact comes from a step's output".into(),
            "not a step output reference",
            format!("write it as {help}, naming a `step` and one of its output files"),
        ),
        None => {
            if cx.arg(node, 1).is_none() {
                cx.missing(node, "the step output it comes from", help.into());
            }
        }
    }
}

/// `rollout timeout="10m" poll="5s"`.
fn read_rollout(node: &KdlNode, rollout: &mut Rollout, cx: &mut Cx) {
    cx.shape(node, 0, &["timeout", "poll"], Ctx::Leaf);
    let limits = [
        (
            "timeout",
            Duration::from_secs(1),
            Duration::from_secs(6 * 3600),
            &mut rollout.timeout,
        ),
        (
            "poll",
            Duration::from_millis(10),
            Duration::from_secs(60),
            &mut rollout.poll,
        ),
    ];
    for (key, min, max, slot) in limits {
        let Some(e) = cx.prop(node, key) else {
            continue;
        };
        let Some(text) = cx.string(node, e, "a duration such as \"10m\" or \"5s\"") else {
            continue;
        };
        match humantime::parse_duration(&text.value) {
            Ok(d) if d >= min && d <= max => *slot = Spanned::new(d, text.span),
            Ok(_) => cx.invalid(
                text.span,
                format!("rollout {key} `{}` is out of range", text.value),
                "out of range",
                format!(
                    "use between {} and {}",
                    humantime::format_duration(min),
                    humantime::format_duration(max)
                ),
            ),
            Err(e) => cx.invalid(
                text.span,
                format!("rollout {key} `{}` is not a duration: {e}", text.value),
                "not a duration",
                "write it like \"10m\", \"90s\" or \"500ms\"".into(),
            ),
        }
    }
}

fn read_health(node: &KdlNode, health: &mut HealthCheck, cx: &mut Cx) {
    let props = [
        "path",
        "interval",
        "timeout",
        "healthy",
        "unhealthy",
        "matcher",
    ];
    cx.shape(node, 0, &props, Ctx::Leaf);
    if let Some(e) = cx.prop(node, "path")
        && let Some(p) = cx.string(node, e, "the HTTP path the load balancer probes")
    {
        if p.value.starts_with('/') {
            health.path = p;
        } else {
            cx.invalid(
                p.span,
                format!("health-check path `{}` must start with `/`", p.value),
                "not an absolute URL path",
                format!("write `path=\"/{}\"`", p.value),
            );
        }
    }
    if let Some(e) = cx.prop(node, "matcher")
        && let Some(m) = cx.string(node, e, "HTTP codes, e.g. \"200\" or \"200-299\"")
    {
        health.matcher = m;
    }
    let ranges: [(&str, i128, i128, &mut Spanned<u32>); 4] = [
        ("interval", 5, 300, &mut health.interval_secs),
        ("timeout", 2, 120, &mut health.timeout_secs),
        ("healthy", 2, 10, &mut health.healthy_threshold),
        ("unhealthy", 2, 10, &mut health.unhealthy_threshold),
    ];
    for (key, min, max, slot) in ranges {
        if let Some(e) = cx.prop(node, key)
            && let Some(v) = cx.int(node, e, min, max, "the ALB target group limits apply")
        {
            *slot = u32_of(v);
        }
    }
    if health.timeout_secs.value >= health.interval_secs.value {
        cx.invalid(
            health.timeout_secs.span,
            format!(
                "health-check timeout ({}s) must be shorter than its interval ({}s)",
                health.timeout_secs.value, health.interval_secs.value
            ),
            "not shorter than the interval",
            "lower `timeout=` or raise `interval=`".into(),
        );
    }
}

fn read_env_var(node: &KdlNode, cx: &mut Cx) -> Option<Spanned<String>> {
    cx.shape(node, 1, &[], Ctx::Leaf);
    let help = "`NAME \"value\"`; wire computed values (ALB URLs) through module inputs";
    let Some(entry) = cx.arg(node, 0) else {
        cx.missing(node, "a value", help.into());
        return None;
    };
    if entry.ty().is_some() {
        cx.string(node, entry, help);
        return None;
    }
    let span = cx.entry_span(entry);
    match entry.value() {
        kdl::KdlValue::String(s) => Some(Spanned::new(s.clone(), span)),
        kdl::KdlValue::Integer(i) => Some(Spanned::new(i.to_string(), span)),
        kdl::KdlValue::Bool(b) => Some(Spanned::new(b.to_string(), span)),
        _ => {
            cx.wrong_type(node, entry, "a string", help.into());
            None
        }
    }
}

/// Who reads a secret: ECS when a service's task starts, or forge when a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecretUse {
    Service,
    Step,
}

/// A `secret "NAME" from="REF"` node.
pub(crate) fn read_secret(
    node: &KdlNode,
    cx: &mut Cx,
    used_by: SecretUse,
) -> Option<(String, Spanned<SecretRef>)> {
    cx.shape(node, 1, &["from"], Ctx::Leaf);
    let help = match used_by {
        SecretUse::Service => {
            "`secret \"NAME\" from=\"arn:aws:secretsmanager:...\"` or `from=\"ssm:/path\"`"
        }
        SecretUse::Step => {
            "`secret \"NAME\" from=\"env:VARIABLE\"` (a variable of forge's environment, e.g. a CI credential), `from=\"ssm:/path\"` or `from=\"arn:aws:secretsmanager:...\"`"
        }
    };
    let name = cx.arg(node, 0).and_then(|e| cx.string(node, e, help));
    let reference = secret_from(node, cx, used_by, help)?;
    Some((name?.value, reference))
}

/// The `from="REF"` of a node that declares a secret (`secret`, a registry's `password`).
pub(crate) fn secret_from(
    node: &KdlNode,
    cx: &mut Cx,
    used_by: SecretUse,
    help: &str,
) -> Option<Spanned<SecretRef>> {
    let Some(from) = cx.prop(node, "from") else {
        cx.missing(
            node,
            "a `from=`",
            format!("{help}: forge passes the reference, never the value"),
        );
        return None;
    };
    let from = cx.string(node, from, help)?;
    let reference = if let Some(var) = from.value.strip_prefix("env:") {
        if used_by == SecretUse::Service {
            cx.invalid(
                from.span,
                format!("a service's secret cannot come from `{}`", from.value),
                "ECS cannot read forge's environment",
                "ECS fetches a service's secrets when a task starts: store it in Secrets Manager (`from=\"arn:aws:secretsmanager:...\"`) or SSM Parameter Store (`from=\"ssm:/path\"`)".into(),
            );
            return None;
        }
        if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            cx.invalid(
                from.span,
                format!("`{var}` is not an environment variable name"),
                "not a variable name",
                "letters, digits and `_`, e.g. `env:CI_NPM_TOKEN`".into(),
            );
            return None;
        }
        SecretRef::Env(var.to_owned())
    } else if from.value.starts_with("arn:aws:secretsmanager:") {
        if SecretRef::arn_region(&from.value).is_none() {
            cx.invalid(
                from.span,
                format!("`{}` is not a Secrets Manager secret ARN", from.value),
                "not `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME`",
                "copy the secret's ARN from the Secrets Manager console or `aws secretsmanager describe-secret --secret-id NAME`".into(),
            );
            return None;
        }
        SecretRef::SecretsManager(from.value.clone())
    } else if let Some(path) = from
        .value
        .strip_prefix("ssm:")
        .filter(|p| p.starts_with('/'))
    {
        // The project's region, filled in when the whole file is read.
        SecretRef::Ssm {
            path: path.to_string(),
            region: String::new(),
        }
    } else {
        cx.invalid(
            from.span,
            format!("`{}` is not a secret reference", from.value),
            "not a Secrets Manager ARN or SSM path",
            help.into(),
        );
        return None;
    };
    Some(Spanned::new(reference, from.span))
}
