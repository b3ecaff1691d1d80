//! The config each generated step hands its plugin: what the service, module and state
//! nodes say, normalized into a [`ConfigValue`] map with the keys the built-ins read.

use std::collections::BTreeMap;

use crate::model::{
    Config, ConfigValue, LoadBalancer, RefValue, RegistryKind, Service, StateBackend,
};

use super::inputs::rel_path;
use super::refs::resolve_static;

pub(super) fn docker_build_config(svc: &Service) -> ConfigValue {
    let b = &svc.build;
    let mut config = map([
        ("context", s(&rel_path(&b.context))),
        ("dockerfile", s(&rel_path(&b.dockerfile))),
        (
            "args",
            ConfigValue::Map(
                b.args
                    .iter()
                    .map(|(k, v)| (k.clone(), s(&v.value)))
                    .collect(),
            ),
        ),
        (
            "target",
            b.target.as_ref().map_or(ConfigValue::Null, |t| s(&t.value)),
        ),
        ("repository", s(&svc.repository.value)),
        (
            "artifacts",
            ConfigValue::Map(
                b.artifacts
                    .iter()
                    .map(|(path, r)| (path.clone(), r.value.clone()))
                    .collect(),
            ),
        ),
    ]);
    // The ids of the secrets the Dockerfile mounts (the step is given them by reference);
    // absent when there are none, so a build without secrets keeps its fingerprint.
    if let (ConfigValue::Map(m), false) = (&mut config, b.secrets.is_empty()) {
        m.insert(
            "secrets".into(),
            ConfigValue::List(b.secrets.keys().map(|k| s(k)).collect()),
        );
    }
    config
}

/// The registry `svc` pushes to: the one it names, else the only one.
pub(super) fn registry_of<'c>(
    config: &'c Config,
    svc: &Service,
) -> Option<&'c crate::model::Registry> {
    match &svc.registry {
        Some(name) => config.registries.get(&name.value),
        None => config.registries.values().next(),
    }
}

pub(super) fn ecr_push_config(config: &Config, svc: &Service) -> ConfigValue {
    let registry = registry_of(config, svc);
    let registry = registry.map_or(ConfigValue::Null, |r| {
        let mut registry = map([
            ("name", s(&r.name.value)),
            (
                "kind",
                s(match r.kind.value {
                    RegistryKind::Ecr => "ecr",
                    RegistryKind::Oci => "oci",
                }),
            ),
            ("url", s(&r.url.value)),
            (
                "endpoint",
                r.endpoint
                    .as_ref()
                    .map_or(ConfigValue::Null, |e| s(&e.value)),
            ),
            (
                "create-repositories",
                ConfigValue::Bool(r.create_repositories.value),
            ),
            ("immutable-tags", ConfigValue::Bool(r.immutable_tags.value)),
        ]);
        // Only a registry with a login says so: every other push keeps its config.
        if let (Some(login), ConfigValue::Map(fields)) = (&r.login, &mut registry) {
            fields.insert("username".into(), s(&login.username.value));
            fields.insert(
                "password-secret".into(),
                s(crate::model::RegistryLogin::PASSWORD_SECRET),
            );
        }
        registry
    });
    map([
        ("repository", s(&svc.repository.value)),
        ("region", s(&config.region.value)),
        ("registry", registry),
    ])
}

pub(super) fn render_config(config: &Config) -> ConfigValue {
    let modules = config
        .modules
        .iter()
        .map(|(name, m)| {
            let inputs = m
                .inputs
                .iter()
                .map(|(k, v)| (k.clone(), resolve_static(config, &v.value, 0)))
                .collect();
            (
                name.clone(),
                map([
                    ("source", s(&rel_path(&m.source))),
                    ("inputs", ConfigValue::Map(inputs)),
                ]),
            )
        })
        .collect();
    let vars = config
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), v.value.clone()))
        .collect();
    map([
        ("project", s(&config.project.value)),
        ("region", s(&config.region.value)),
        ("modules", ConfigValue::Map(modules)),
        ("vars", ConfigValue::Map(vars)),
        (
            "state",
            config
                .state
                .as_ref()
                .map_or(ConfigValue::Null, |st| state_config(st, &config.env)),
        ),
    ])
}

/// `terraform-apply`: where the state is (the rendered files come from its upstream).
pub(super) fn apply_config(config: &Config) -> ConfigValue {
    map([
        ("region", s(&config.region.value)),
        (
            "state",
            config
                .state
                .as_ref()
                .map_or(ConfigValue::Null, |st| state_config(st, &config.env)),
        ),
    ])
}

/// The env's state and its lock, as the contract's [`forge_contract::lock::Backend`]:
/// `{"bucket", "key", "region", "endpoint"?, "lockfile", "table"?}`, the shape the
/// `state-lock` plugin and `terraform-render` both read.
pub(super) fn state_config(state: &StateBackend, env: &str) -> ConfigValue {
    let backend = state.lock_backend(env);
    let mut out = BTreeMap::from([
        ("bucket".to_owned(), s(&backend.bucket)),
        ("key".to_owned(), s(&backend.key)),
        ("region".to_owned(), s(&backend.region)),
        ("lockfile".to_owned(), ConfigValue::Bool(backend.lockfile)),
    ]);
    if let Some(endpoint) = &backend.endpoint {
        out.insert("endpoint".to_owned(), s(endpoint));
    }
    if let Some(table) = &backend.table {
        out.insert("table".to_owned(), s(table));
    }
    ConfigValue::Map(out)
}

pub(super) fn rollout_config(config: &Config, svc: &Service) -> ConfigValue {
    let hc = &svc.health_check;
    let lb = match svc.load_balancer.value {
        LoadBalancer::Public => "public",
        LoadBalancer::Internal => "internal",
        LoadBalancer::None => "none",
    };
    let secrets = svc
        .secrets
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), s(v.value.value_from()?))))
        .collect();
    map([
        ("service", s(&svc.name.value)),
        ("region", s(&config.region.value)),
        ("port", ConfigValue::Int(i64::from(svc.port.value))),
        ("cpu", ConfigValue::Int(i64::from(svc.cpu.value))),
        ("memory", ConfigValue::Int(i64::from(svc.memory.value))),
        (
            "desired-count",
            ConfigValue::Int(i64::from(svc.desired_count.value)),
        ),
        ("load-balancer", s(lb)),
        (
            "health-check",
            map([
                ("path", s(&hc.path.value)),
                (
                    "interval",
                    ConfigValue::Int(i64::from(hc.interval_secs.value)),
                ),
                (
                    "timeout",
                    ConfigValue::Int(i64::from(hc.timeout_secs.value)),
                ),
                (
                    "healthy-threshold",
                    ConfigValue::Int(i64::from(hc.healthy_threshold.value)),
                ),
                (
                    "unhealthy-threshold",
                    ConfigValue::Int(i64::from(hc.unhealthy_threshold.value)),
                ),
                ("matcher", s(&hc.matcher.value)),
            ]),
        ),
        (
            "env",
            ConfigValue::Map(
                svc.env_vars
                    .iter()
                    .map(|(k, v)| (k.clone(), s(&v.value)))
                    .collect(),
            ),
        ),
        ("secrets", ConfigValue::Map(secrets)),
        ("ecs", rollout_target(svc)),
        (
            "timeout-secs",
            ConfigValue::Int(
                i64::try_from(svc.rollout.timeout.value.as_secs()).unwrap_or(i64::MAX),
            ),
        ),
        (
            "poll-ms",
            ConfigValue::Int(i64::try_from(svc.rollout.poll.value.as_millis()).unwrap_or(i64::MAX)),
        ),
    ])
}

/// The outputs of the module a service is `deployed-by` (modules/ecs-service's) that say
/// which ECS service its rollout follows, by the rollout's config key: the one table the
/// rollout's config and the apply's drift check are both made from.
pub(super) const ROLLOUT_OUTPUTS: [(&str, &str); 3] = [
    ("cluster", "cluster_arn"),
    ("service", "service_name"),
    ("task-definition", "task_definition_arn"),
];

/// `module.<deployed-by>.<output>` for each of [`ROLLOUT_OUTPUTS`], when the service names
/// its module.
pub(super) fn rollout_targets(svc: &Service) -> Option<[(&'static str, String); 3]> {
    let module = &svc.deployed_by.as_ref()?.value;
    Some(ROLLOUT_OUTPUTS.map(|(key, output)| (key, format!("module.{module}.{output}"))))
}

/// The ECS service a rollout follows: references to the outputs of the module the service
/// is `deployed-by`, or null when it names none.
fn rollout_target(svc: &Service) -> ConfigValue {
    let Some(targets) = rollout_targets(svc) else {
        return ConfigValue::Null;
    };
    map(targets.map(|(key, target)| (key, ConfigValue::Ref(RefValue { target }))))
}

pub(super) fn s(v: &str) -> ConfigValue {
    ConfigValue::String(v.to_string())
}

pub(super) fn map<const N: usize>(entries: [(&str, ConfigValue); N]) -> ConfigValue {
    ConfigValue::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}
