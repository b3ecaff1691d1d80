//! The Terraform chain, when the project has modules: `terraform-render` →
//! `terraform-apply`, the latter inside the env's state lock when there is a `state`
//! backend ([`crate::graph::StateLockScope`]), its cached result rechecked against the
//! state object ([`crate::recheck`]).

use crate::graph::ids;
use crate::model::{Config, Phase};
use crate::recheck::Recheck;

use super::plugin_config::{apply_config, render_config, rollout_targets};
use super::refs::producer_of;
use super::{InputSelection, NewStep, Origin, Step, rel_path};

/// The chain's steps, in order, and the id of its apply step (which module references and
/// rollouts need); no steps without modules.
pub(super) struct Chain {
    pub steps: Vec<Step>,
    pub apply: Option<String>,
}

pub(super) fn chain(new: &NewStep<'_>) -> Chain {
    let config = new.config;
    if config.modules.is_empty() {
        return Chain {
            steps: Vec::new(),
            apply: None,
        };
    }
    let project_span = config.project.span;
    let mut render = new.step(
        ids::TERRAFORM_RENDER.into(),
        ids::TERRAFORM_RENDER,
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
        render.need(ids::ecr_push(name), svc.span);
    }
    // Module inputs may read a `step`'s output; module outputs are Terraform's own
    // business (the render wires them module to module), so they add no need.
    for module in config.modules.values() {
        for input in module.inputs.values() {
            for target in input.value.refs() {
                if let Some(need) = producer_of(target, None) {
                    render.need_once(need, input.span);
                }
            }
        }
    }
    let mut steps = vec![render];

    let mut apply = new.step(
        ids::TERRAFORM_APPLY.into(),
        ids::TERRAFORM_APPLY,
        Phase::Deploy,
        project_span,
        Origin::Project,
    );
    apply.config = apply_config(config);
    apply.inputs = module_sources;
    apply.locked = config.state.is_some();
    // Someone else's `terraform apply` changes no input of this step: a cached apply is
    // served only while the state object is as it left it.
    apply.recheck = config.state.as_ref().map(|state| Recheck::State {
        backend: state.lock_backend(&config.env),
        services: Vec::new(),
    });
    // The rendered files come from the render.
    apply.need(ids::TERRAFORM_RENDER, project_span);
    steps.push(apply);
    Chain {
        steps,
        apply: Some(ids::TERRAFORM_APPLY.to_string()),
    }
}

/// Tells `terraform-render` which module outputs later steps read (`(ref)"module.M.O"` in
/// their config): its config's `outputs` lists them, sorted, and it writes a root output
/// for each under the contract's [`forge_contract::terraform::root_output`] name, which
/// `terraform-apply` then outputs. Without the list Terraform would keep module outputs
/// to itself.
pub(super) fn export_outputs(steps: &mut [Step], config: &Config) {
    watch_services(steps, config);
    let wanted: std::collections::BTreeSet<String> = steps
        .iter()
        .filter(|s| s.id != ids::TERRAFORM_RENDER)
        .flat_map(|s| s.config.refs())
        .filter(|target| target.starts_with("module."))
        .map(str::to_owned)
        .collect();
    if let Some(render) = steps.iter_mut().find(|s| s.id == ids::TERRAFORM_RENDER)
        && let crate::model::ConfigValue::Map(config) = &mut render.config
        && !wanted.is_empty()
    {
        config.insert(
            "outputs".into(),
            crate::model::ConfigValue::List(
                wanted
                    .into_iter()
                    .map(crate::model::ConfigValue::String)
                    .collect(),
            ),
        );
    }
}

/// Gives the apply's state recheck the services the rollouts follow (by the apply's own
/// root outputs) and each such rollout its own recheck; see [`crate::recheck`].
fn watch_services(steps: &mut [Step], config: &Config) {
    let mut watched = Vec::new();
    for (name, svc) in &config.services {
        let Some(targets) = rollout_targets(svc) else {
            continue;
        };
        let Some(rollout) = steps.iter_mut().find(|s| s.id == ids::ecs_rollout(name)) else {
            continue;
        };
        let [cluster, service, task_definition] = targets
            .map(|(_, target)| forge_contract::terraform::root_output(&target).unwrap_or(target));
        rollout.recheck = Some(Recheck::Rollout {
            region: config.region.value.clone(),
        });
        watched.push(crate::recheck::EcsService {
            service: name.clone(),
            region: config.region.value.clone(),
            cluster,
            name: service,
            task_definition,
        });
    }
    if let Some(Recheck::State { services, .. }) = steps
        .iter_mut()
        .find(|s| s.id == ids::TERRAFORM_APPLY)
        .and_then(|s| s.recheck.as_mut())
    {
        *services = watched;
    }
}
