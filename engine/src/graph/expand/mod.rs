//! One env's [`Config`] → steps. The service sugar expands into the standard chain:
//!
//! ```text
//! docker-build:<svc> → ecr-push:<svc> ─┐                         (phase build)
//!                                      ├→ terraform-render → terraform-apply
//!                                      │     → ecs-rollout:<svc>                 (phase deploy)
//! ```
//!
//! `ecs-rollout:<svc>` also needs its own `ecr-push:<svc>` and the rollouts of the services
//! it `depends-on` (the backend is rolled out before the frontend that calls it). Without
//! modules there is no Terraform chain. With a state backend, `terraform-apply` and the
//! rollouts are [`Step::locked`]: the scheduler holds the env's state lock around them
//! ([`super::StateLockScope`]); the lock is no step of its own.
//! Deploy-phase steps (the generated ones and `step` blocks with `phase "deploy"`) are
//! env-scoped: the env name feeds their fingerprint, so `dev` and `prod` never share a
//! result. Build steps are not: an image built for `dev` is the image `prod` runs.
//!
//! The generated ids are in [`ids`](super::ids); each concern has its module: the
//! service steps (`services`), the Terraform chain (`terraform`), `step` blocks
//! (`user_steps`), the plugins' configs (`plugin_config`), references (`refs`) and input
//! selections (`inputs`). The config was validated by the model (plugins and `depends-on`
//! name something, paths stay inside the root), so nothing here can fail; what only the
//! whole graph can tell (unknown `needs`, cycles) is checked by `validate`.
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

mod inputs;
mod plugin_config;
mod refs;
mod services;
mod terraform;
mod user_steps;

use inputs::rel_path;

use miette::SourceSpan;

use crate::model::{Config, ConfigValue, Phase, PluginSource};

use super::{InputSelection, Origin, Step};

/// Every step of `config`, generated ones first. The order matters only for which of two
/// steps with the same id `validate` reports (the later one: a `step` block, never the
/// generated step it collides with).
pub(super) fn expand(config: &Config) -> Vec<Step> {
    let new = NewStep { config };
    let mut steps = Vec::new();
    for (name, svc) in &config.services {
        steps.push(services::docker_build(&new, name, svc));
        steps.push(services::ecr_push(&new, name, svc));
    }
    let terraform = terraform::chain(&new);
    let apply = terraform.apply.clone();
    steps.extend(terraform.steps);
    let rollouts: Vec<Step> = config
        .services
        .iter()
        .map(|(name, svc)| services::ecs_rollout(&new, name, svc, apply.as_deref()))
        .collect();
    steps.extend(rollouts);
    for (name, decl) in &config.steps {
        steps.push(user_steps::step(&new, name, decl, apply.as_deref()));
    }
    terraform::export_outputs(&mut steps, config);
    steps
}

/// Makes a step with what every step shares: its plugin's source and grants (a `plugin`
/// node may stand in for a built-in of the same name), and env-scoping for deploy steps.
struct NewStep<'a> {
    config: &'a Config,
}

impl NewStep<'_> {
    fn step(
        &self,
        id: String,
        plugin: &str,
        phase: Phase,
        span: SourceSpan,
        origin: Origin,
    ) -> Step {
        let (plugin_source, grants) = match self.config.plugins.get(plugin) {
            Some(decl) => (
                decl.source.clone(),
                decl.grants.iter().map(|g| g.value.clone()).collect(),
            ),
            None => (
                PluginSource::Builtin,
                crate::model::builtin_grants(plugin)
                    .iter()
                    .map(|g| g.to_string())
                    .collect(),
            ),
        };
        Step {
            id,
            plugin: plugin.to_string(),
            plugin_source,
            phase,
            config: ConfigValue::Null,
            inputs: Vec::new(),
            needs: Vec::new(),
            need_spans: Vec::new(),
            env_vars: Vec::new(),
            secrets: std::collections::BTreeMap::new(),
            commit_sha: false,
            stamp_commit: false,
            env_scoped: phase == Phase::Deploy,
            locked: false,
            recheck: None,
            time_limit: None,
            grants,
            origin,
            span,
        }
    }
}

impl Step {
    /// Adds a need, with where it was written (or what caused it).
    fn need(&mut self, id: impl Into<String>, span: SourceSpan) {
        self.needs.push(id.into());
        self.need_spans.push(span);
    }

    /// Adds a need unless the step has it already (references imply needs, and two
    /// references may name the same step).
    fn need_once(&mut self, id: String, span: SourceSpan) {
        if !self.needs.contains(&id) {
            self.need(id, span);
        }
    }
}
