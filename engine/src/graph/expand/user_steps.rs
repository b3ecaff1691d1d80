//! `step` blocks: a plugin (built-in or declared, as the model checked) with its config,
//! inputs and needs, plus the needs its config's references imply.

use crate::model::StepDecl;

use super::inputs::glob_selections;
use super::refs::{producer_of, resolve_static};
use super::{NewStep, Origin, Step};

pub(super) fn step(new: &NewStep<'_>, name: &str, decl: &StepDecl, apply: Option<&str>) -> Step {
    let mut step = new.step(
        name.to_string(),
        &decl.plugin.value,
        decl.phase.value,
        decl.span,
        Origin::Step(name.to_string()),
    );
    step.config = resolve_static(new.config, &decl.config.value, 0);
    step.inputs
        .extend(glob_selections(decl.inputs.iter().map(|g| &g.value)));
    for need in &decl.needs {
        step.need(need.value.clone(), need.span);
    }
    // A reference to what another step produces is a dependency on that step: it must
    // run first, and its output must feed this step's fingerprint.
    let implied: Vec<String> = step
        .config
        .refs()
        .into_iter()
        .filter_map(|target| producer_of(target, apply))
        .collect();
    for need in implied {
        step.need_once(need, decl.config.span);
    }
    step.env_vars = decl.env_vars.iter().map(|v| v.value.clone()).collect();
    step.secrets = decl
        .secrets
        .iter()
        .map(|(name, r)| (name.clone(), r.value.clone()))
        .collect();
    step.commit_sha = decl.commit_sha.value;
    step
}
