//! References in config values: those known from the project itself are resolved when the
//! graph is built; the others name the step whose output they read, which becomes a need.

use crate::model::{Config, ConfigValue, SecretRef};

use super::plugin_config::s;
use crate::graph::ids;

/// `value` with every reference whose value is known from the project itself replaced by
/// that value: `var.NAME` and `service.NAME.ATTR` for the service's own settings
/// (`repository`, `port`, `cpu`, `memory`, `desired-count`, and its secrets by reference:
/// `secrets`, `secret-arns`, `ssm-parameters`). What only a run can tell
/// (`module.*` outputs, a service's `image`/`digest`, `step.*` outputs) stays a reference
/// for the plugin to resolve from its upstream outputs.
///
/// This is what makes such references part of the step's fingerprint: a plugin is
/// sandboxed and sees only its config and upstream outputs, so `cpu 1024` in an env must
/// change the config of every step that reads `service.backend.cpu`, or the cached
/// Terraform for `cpu 512` would be reused.
pub(super) fn resolve_static(config: &Config, value: &ConfigValue, depth: usize) -> ConfigValue {
    // Vars may refer to vars; a cycle stays a reference rather than recursing forever.
    const MAX_DEPTH: usize = 16;
    match value {
        ConfigValue::Ref(r) if depth < MAX_DEPTH => match static_ref(config, &r.target) {
            Some(resolved) => resolve_static(config, &resolved, depth + 1),
            None => value.clone(),
        },
        ConfigValue::List(items) => ConfigValue::List(
            items
                .iter()
                .map(|v| resolve_static(config, v, depth))
                .collect(),
        ),
        ConfigValue::Map(entries) => ConfigValue::Map(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), resolve_static(config, v, depth)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The step whose output a run-time reference reads: `service.NAME.image|digest` → its
/// `ecr-push`, `step.NAME.OUTPUT` → that step, `module.*` → `terraform-apply` (when there
/// is one). Unknown names are left to the graph's `needs` check, which reports them.
pub(super) fn producer_of(target: &str, apply: Option<&str>) -> Option<String> {
    let mut parts = target.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("service"), Some(name), Some("image" | "digest")) => Some(ids::ecr_push(name)),
        (Some("step"), Some(name), Some(_)) => Some(name.to_string()),
        (Some("module"), Some(_), Some(_)) => apply.map(str::to_string),
        _ => None,
    }
}

/// The value of a reference known without running anything, if `target` is one.
fn static_ref(config: &Config, target: &str) -> Option<ConfigValue> {
    let mut parts = target.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("var"), Some(name), None) => config.vars.get(name).map(|v| v.value.clone()),
        (Some("service"), Some(name), Some(attr)) => {
            let svc = config.services.get(name)?;
            Some(match attr {
                "repository" => s(&svc.repository.value),
                "port" => ConfigValue::Int(i64::from(svc.port.value)),
                "cpu" => ConfigValue::Int(i64::from(svc.cpu.value)),
                "memory" => ConfigValue::Int(i64::from(svc.memory.value)),
                "desired-count" => ConfigValue::Int(i64::from(svc.desired_count.value)),
                // By reference only: the task definition's `secrets` (name → valueFrom)
                // and what its execution role may read. No value is ever known here.
                "secrets" => ConfigValue::Map(
                    svc.secrets
                        .iter()
                        .filter_map(|(name, r)| Some((name.clone(), s(r.value.value_from()?))))
                        .collect(),
                ),
                "secret-arns" => ConfigValue::List(
                    svc.secrets
                        .values()
                        .filter_map(|r| match &r.value {
                            SecretRef::SecretsManager(arn) => Some(s(arn)),
                            SecretRef::Ssm { .. } | SecretRef::Env(_) => None,
                        })
                        .collect(),
                ),
                "ssm-parameters" => ConfigValue::List(
                    svc.secrets
                        .values()
                        .filter_map(|r| match &r.value {
                            SecretRef::Ssm { path, .. } => Some(s(path)),
                            SecretRef::SecretsManager(_) | SecretRef::Env(_) => None,
                        })
                        .collect(),
                ),
                _ => return None,
            })
        }
        _ => None,
    }
}
