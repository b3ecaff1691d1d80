//! One env's [`Config`] → steps. The service sugar expands into the standard chain:
//!
//! ```text
//! docker-build:<svc> → ecr-push:<svc> ─┐                         (phase build)
//!                                      ├→ terraform-render → state-lock → terraform-apply
//!                                      │     → ecs-rollout:<svc> → state-unlock  (phase deploy)
//! ```
//!
//! `ecs-rollout:<svc>` also needs its own `ecr-push:<svc>` and the rollouts of the services
//! it `depends-on` (the backend is rolled out before the frontend that calls it). Without
//! modules there is no Terraform chain; without a state backend there is no lock/unlock.
//! Deploy-phase steps (the generated ones and `step` blocks with `phase "deploy"`) are
//! env-scoped: the env name feeds their fingerprint, so `dev` and `prod` never share a
//! result. Build steps are not: an image built for `dev` is the image `prod` runs.
//!
//! ## Where the commit SHA goes
//! Images are tagged by commit SHA, but the SHA feeds **`ecr-push`**'s fingerprint, not
//! `docker-build`'s. If docker-build declared it, every commit would rebuild every image
//! even when its context did not change, and the same sources built at two commits would
//! give two digests (the revision label changes the image config). Keeping the image a pure
//! function of its context makes a commit that does not touch the frontend leave
//! `docker-build:frontend` cached; `ecr-push:frontend` reruns to add the new SHA tag to the
//! existing digest (no blob is uploaded again), and its output keeps the digest downstream
//! steps pin, so Terraform reruns only as far as the digest or tag actually matter.

use std::collections::BTreeMap;
use std::path::Path;

use crate::model::{
    BUILTIN_PLUGINS, Config, ConfigValue, LoadBalancer, Phase, PluginSource, RegistryKind,
    SecretRef, Service, SourceFile, StateBackend, StateLock,
};

use super::error::{GraphError, did_you_mean};
use super::{InputSelection, Origin, Step};

pub(super) fn expand(config: &Config, source: &SourceFile) -> Result<Vec<Step>, GraphError> {
    let mut steps = Vec::new();
    let plugin = |name: &str| -> (PluginSource, Vec<String>) {
        match config.plugins.get(name) {
            Some(decl) => (
                decl.source.clone(),
                decl.grants.iter().map(|g| g.value.clone()).collect(),
            ),
            None => (
                PluginSource::Builtin,
                crate::model::builtin_grants(name)
                    .iter()
                    .map(|g| g.to_string())
                    .collect(),
            ),
        }
    };
    let builtin = |id: String, name: &str, phase: Phase, span, origin: Origin| {
        let (plugin_source, grants) = plugin(name);
        Step {
            id,
            plugin: name.to_string(),
            plugin_source,
            phase,
            config: ConfigValue::Null,
            inputs: Vec::new(),
            needs: Vec::new(),
            need_spans: Vec::new(),
            env_vars: Vec::new(),
            commit_sha: false,
            stamp_commit: false,
            env_scoped: phase == Phase::Deploy,
            grants,
            origin,
            span,
        }
    };

    for (name, svc) in &config.services {
        let origin = Origin::Service(name.clone());
        let mut build = builtin(
            format!("docker-build:{name}"),
            "docker-build",
            Phase::Build,
            svc.span,
            origin.clone(),
        );
        build.config = docker_build_config(svc);
        if let (ConfigValue::Map(m), Some(url)) = (&mut build.config, &config.source) {
            m.insert("source".into(), s(&url.value));
        }
        build.stamp_commit = true;
        // An artifact is another step's output: that step runs first, and its output
        // (not a file left on disk) feeds this build's fingerprint and its context.
        for artifact in svc.build.artifacts.values() {
            for target in artifact.value.refs() {
                if let Some(need) = producer_of(target, None)
                    && !build.needs.contains(&need)
                {
                    build.needs.push(need);
                    build.need_spans.push(artifact.span);
                }
            }
        }
        let context = rel_path(&svc.build.context);
        build.inputs.push(InputSelection {
            base: context.clone(),
            globs: Vec::new(),
            ignore_file: Some(".dockerignore".to_string()),
        });
        // Docker reads the Dockerfile and `.dockerignore` whatever `.dockerignore` says (a
        // common `*` + `!dist/app` file excludes both), so they are inputs on their own.
        build.inputs.push(InputSelection {
            base: context,
            globs: vec![
                globset::escape(&rel_path(&svc.build.dockerfile)),
                ".dockerignore".to_string(),
            ],
            ignore_file: None,
        });
        build
            .inputs
            .extend(glob_selections(svc.build.inputs.iter().map(|g| &g.value)));
        steps.push(build);

        let mut push = builtin(
            format!("ecr-push:{name}"),
            "ecr-push",
            Phase::Build,
            svc.span,
            origin.clone(),
        );
        push.config = ecr_push_config(config, svc);
        push.commit_sha = true;
        push.needs.push(format!("docker-build:{name}"));
        push.need_spans.push(svc.span);
        steps.push(push);
    }

    let project_span = config.project.span;
    let terraform = !config.modules.is_empty();
    let locked = terraform && config.state.is_some();
    let mut apply_id = None;
    if terraform {
        let mut render = builtin(
            "terraform-render".into(),
            "terraform-render",
            Phase::Deploy,
            project_span,
            Origin::Project,
        );
        render.config = render_config(config);
        // The rendered root module names module sources by path only, so an edit inside
        // a module leaves the render's output unchanged; `terraform-apply` reads the
        // sources too, and declares them itself (below) so such an edit still reapplies.
        let module_sources: Vec<InputSelection> = config
            .modules
            .values()
            .map(|module| InputSelection {
                base: rel_path(&module.source),
                globs: vec!["**/*.tf".to_string()],
                ignore_file: None,
            })
            .collect();
        render.inputs.extend(module_sources.iter().cloned());
        for (name, svc) in &config.services {
            render.needs.push(format!("ecr-push:{name}"));
            render.need_spans.push(svc.span);
        }
        // Module inputs may read a `step`'s output; module outputs are Terraform's own
        // business (the render wires them module to module), so they add no need.
        for module in config.modules.values() {
            for input in module.inputs.values() {
                for target in input.value.refs() {
                    if let Some(need) = producer_of(target, None)
                        && !render.needs.contains(&need)
                    {
                        render.needs.push(need);
                        render.need_spans.push(input.span);
                    }
                }
            }
        }
        let mut upstream = "terraform-render".to_string();
        steps.push(render);

        if let Some(state) = &config.state {
            let mut lock = builtin(
                "state-lock".into(),
                "state-lock",
                Phase::Deploy,
                state.span,
                Origin::Project,
            );
            lock.config = state_config(state, &config.env);
            lock.needs.push(upstream);
            lock.need_spans.push(state.span);
            upstream = "state-lock".to_string();
            steps.push(lock);
        }

        let mut apply = builtin(
            "terraform-apply".into(),
            "terraform-apply",
            Phase::Deploy,
            project_span,
            Origin::Project,
        );
        apply.config = map([
            ("region", s(&config.region.value)),
            (
                "state",
                config
                    .state
                    .as_ref()
                    .map_or(ConfigValue::Null, |st| state_config(st, &config.env)),
            ),
        ]);
        apply.inputs = module_sources;
        // The rendered files come from the render; the lock (when there is one) orders
        // apply after it is held.
        if upstream != "terraform-render" {
            apply.needs.push("terraform-render".into());
            apply.need_spans.push(project_span);
        }
        apply.needs.push(upstream);
        apply.need_spans.push(project_span);
        steps.push(apply);
        apply_id = Some("terraform-apply".to_string());
    }

    let mut rollouts = Vec::new();
    for (name, svc) in &config.services {
        let mut rollout = builtin(
            format!("ecs-rollout:{name}"),
            "ecs-rollout",
            Phase::Deploy,
            svc.span,
            Origin::Service(name.clone()),
        );
        rollout.config = rollout_config(config, svc);
        if let Some(apply) = &apply_id {
            rollout.needs.push(apply.clone());
            rollout.need_spans.push(svc.span);
        }
        rollout.needs.push(format!("ecr-push:{name}"));
        rollout.need_spans.push(svc.span);
        for dep in &svc.depends_on {
            if !config.services.contains_key(&dep.value) {
                return Err(GraphError::UnknownNeed {
                    step: rollout.id,
                    name: dep.value.clone(),
                    env: config.env.clone(),
                    src: source.named(),
                    span: dep.span,
                    help: did_you_mean(
                        &dep.value,
                        config.services.keys().map(String::as_str),
                        "service",
                    ),
                });
            }
            rollout.needs.push(format!("ecs-rollout:{}", dep.value));
            rollout.need_spans.push(dep.span);
        }
        rollouts.push((rollout.id.clone(), svc.span));
        steps.push(rollout);
    }

    if locked && let Some(state) = &config.state {
        let mut unlock = builtin(
            "state-unlock".into(),
            "state-unlock",
            Phase::Deploy,
            state.span,
            Origin::Project,
        );
        unlock.config = state_config(state, &config.env);
        if rollouts.is_empty() {
            unlock.needs.push("terraform-apply".into());
            unlock.need_spans.push(state.span);
        }
        for (id, span) in rollouts {
            unlock.needs.push(id);
            unlock.need_spans.push(span);
        }
        steps.push(unlock);
    }

    for (name, decl) in &config.steps {
        let plugin_name = &decl.plugin.value;
        if !BUILTIN_PLUGINS.contains(&plugin_name.as_str())
            && !config.plugins.contains_key(plugin_name)
        {
            return Err(GraphError::UnknownPlugin {
                step: name.clone(),
                plugin: plugin_name.clone(),
                src: source.named(),
                span: decl.plugin.span,
                help: did_you_mean(
                    plugin_name,
                    BUILTIN_PLUGINS
                        .iter()
                        .copied()
                        .chain(config.plugins.keys().map(String::as_str)),
                    "plugin",
                ),
            });
        }
        let phase = decl.phase.value;
        let mut step = builtin(
            name.clone(),
            plugin_name,
            phase,
            decl.span,
            Origin::Step(name.clone()),
        );
        step.config = resolve_static(config, &decl.config.value, 0);
        step.inputs
            .extend(glob_selections(decl.inputs.iter().map(|g| &g.value)));
        for need in &decl.needs {
            step.needs.push(need.value.clone());
            step.need_spans.push(need.span);
        }
        // A reference to what another step produces is a dependency on that step: it must
        // run first, and its output must feed this step's fingerprint.
        let implied: Vec<String> = step
            .config
            .refs()
            .into_iter()
            .filter_map(|target| producer_of(target, apply_id.as_deref()))
            .collect();
        for need in implied {
            if !step.needs.contains(&need) {
                step.needs.push(need);
                step.need_spans.push(decl.config.span);
            }
        }
        step.env_vars = decl.env_vars.iter().map(|v| v.value.clone()).collect();
        step.commit_sha = decl.commit_sha.value;
        steps.push(step);
    }
    Ok(steps)
}

fn docker_build_config(svc: &Service) -> ConfigValue {
    let b = &svc.build;
    map([
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
    ])
}

fn ecr_push_config(config: &Config, svc: &Service) -> ConfigValue {
    let registry = match &svc.registry {
        Some(name) => config.registries.get(&name.value),
        None => config.registries.values().next(),
    };
    let registry = registry.map_or(ConfigValue::Null, |r| {
        map([
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
        ])
    });
    map([
        ("repository", s(&svc.repository.value)),
        ("region", s(&config.region.value)),
        ("registry", registry),
    ])
}

fn render_config(config: &Config) -> ConfigValue {
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

fn state_config(state: &StateBackend, env: &str) -> ConfigValue {
    let lock = match &state.lock.value {
        StateLock::S3Lockfile => map([("kind", s("s3-lockfile"))]),
        StateLock::DynamoDb { table } => map([("kind", s("dynamodb")), ("table", s(table))]),
    };
    map([
        ("bucket", s(&state.bucket.value)),
        ("key", s(&state.key.value.replace("{env}", env))),
        ("region", s(&state.region.value)),
        (
            "endpoint",
            state
                .endpoint
                .as_ref()
                .map_or(ConfigValue::Null, |e| s(&e.value)),
        ),
        ("lock", lock),
    ])
}

fn rollout_config(config: &Config, svc: &Service) -> ConfigValue {
    let hc = &svc.health_check;
    let lb = match svc.load_balancer.value {
        LoadBalancer::Public => "public",
        LoadBalancer::Internal => "internal",
        LoadBalancer::None => "none",
    };
    let secrets = svc
        .secrets
        .iter()
        .map(|(k, v)| {
            let reference = match &v.value {
                SecretRef::SecretsManager(arn) => arn.clone(),
                SecretRef::Ssm(path) => format!("ssm:{path}"),
            };
            (k.clone(), s(&reference))
        })
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
    ])
}

/// `value` with every reference whose value is known from the project itself replaced by
/// that value: `var.NAME` and `service.NAME.ATTR` for the service's own settings
/// (`repository`, `port`, `cpu`, `memory`, `desired-count`). What only a run can tell
/// (`module.*` outputs, a service's `image`/`digest`, `step.*` outputs) stays a reference
/// for the plugin to resolve from its upstream outputs.
///
/// This is what makes such references part of the step's fingerprint: a plugin is
/// sandboxed and sees only its config and upstream outputs, so `cpu 1024` in an env must
/// change the config of every step that reads `service.backend.cpu`, or the cached
/// Terraform for `cpu 512` would be reused.
fn resolve_static(config: &Config, value: &ConfigValue, depth: usize) -> ConfigValue {
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
fn producer_of(target: &str, apply: Option<&str>) -> Option<String> {
    let mut parts = target.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("service"), Some(name), Some("image" | "digest")) => Some(format!("ecr-push:{name}")),
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
                _ => return None,
            })
        }
        _ => None,
    }
}

fn s(v: &str) -> ConfigValue {
    ConfigValue::String(v.to_string())
}

fn map<const N: usize>(entries: [(&str, ConfigValue); N]) -> ConfigValue {
    ConfigValue::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// Root-relative globs as selections, each glob's leading literal directories moved into
/// the selection's base (`src/**/*.rs` → base `src`, glob `**/*.rs`). Same files, but
/// selecting them scans only that directory's slice of the sorted file index instead of
/// matching every file of the project against every glob of every step.
fn glob_selections<'a>(globs: impl Iterator<Item = &'a String>) -> Vec<InputSelection> {
    let mut by_base: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for glob in globs {
        let glob = glob.trim_start_matches("./");
        let parts: Vec<&str> = glob.split('/').collect();
        let literal = parts
            .iter()
            .take(parts.len().saturating_sub(1))
            .take_while(|p| !p.is_empty() && !p.contains(['*', '?', '[', ']', '{', '}', '\\', '!']))
            .count();
        let base = parts[..literal].join("/");
        let rest = parts[literal..].join("/");
        by_base.entry(base).or_default().push(rest);
    }
    by_base
        .into_iter()
        .map(|(base, globs)| InputSelection {
            base,
            globs,
            ignore_file: None,
        })
        .collect()
}

/// A project-relative path as forge spells it everywhere: `/`-separated, no `./`, `""` for
/// the root.
pub(crate) fn rel_path(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let trimmed = text.trim_start_matches("./").trim_end_matches('/');
    if trimmed == "." {
        String::new()
    } else {
        trimmed.to_string()
    }
}
