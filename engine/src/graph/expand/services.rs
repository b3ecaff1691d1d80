//! A service's steps: `docker-build:<svc>` and `ecr-push:<svc>` (phase build), and
//! `ecs-rollout:<svc>` (phase deploy).

use crate::graph::ids;
use crate::model::{ConfigValue, Phase, Service};

use super::inputs::{context_inputs, glob_selections};
use super::plugin_config::{docker_build_config, ecr_push_config, registry_of, rollout_config, s};
use super::refs::producer_of;
use super::{NewStep, Origin, Step};

pub(super) fn docker_build(new: &NewStep<'_>, name: &str, svc: &Service) -> Step {
    let mut build = new.step(
        ids::docker_build(name),
        ids::DOCKER_BUILD,
        Phase::Build,
        svc.span,
        Origin::Service(name.to_string()),
    );
    build.config = docker_build_config(svc);
    if let (ConfigValue::Map(m), Some(url)) = (&mut build.config, &new.config.source) {
        m.insert("source".into(), s(&url.value));
    }
    build.stamp_commit = true;
    // The secrets the Dockerfile mounts, by reference: the host reads them for BuildKit.
    for (name, secret) in &svc.build.secrets {
        build.secrets.insert(name.clone(), secret.value.clone());
    }
    // An artifact is another step's output: that step runs first, and its output
    // (not a file left on disk) feeds this build's fingerprint and its context.
    for artifact in svc.build.artifacts.values() {
        for target in artifact.value.refs() {
            if let Some(need) = producer_of(target, None) {
                build.need_once(need, artifact.span);
            }
        }
    }
    build.inputs.extend(context_inputs(&svc.build));
    build
        .inputs
        .extend(glob_selections(svc.build.inputs.iter().map(|g| &g.value)));
    build
}

/// Pushes the image; the commit SHA (its tag) feeds this step, not the build (see the
/// parent module).
pub(super) fn ecr_push(new: &NewStep<'_>, name: &str, svc: &Service) -> Step {
    let mut push = new.step(
        ids::ecr_push(name),
        ids::ECR_PUSH,
        Phase::Build,
        svc.span,
        Origin::Service(name.to_string()),
    );
    push.config = ecr_push_config(new.config, svc);
    // The registry's password, by reference: the host reads it when it logs in.
    if let Some(login) = registry_of(new.config, svc).and_then(|r| r.login.as_ref()) {
        push.secrets.insert(
            crate::model::RegistryLogin::PASSWORD_SECRET.to_owned(),
            login.password.value.clone(),
        );
    }
    push.commit_sha = true;
    push.need(ids::docker_build(name), svc.span);
    push
}

/// What a rollout's plugin gets beyond its own timeout: the polls it is in and the story it
/// gathers when the timeout passes.
const ROLLOUT_MARGIN: std::time::Duration = std::time::Duration::from_secs(120);

/// Rolls the service out after `terraform-apply` (when there is one), its own push, and
/// the rollouts of the services it `depends-on` (which the model checked exist).
pub(super) fn ecs_rollout(
    new: &NewStep<'_>,
    name: &str,
    svc: &Service,
    apply: Option<&str>,
) -> Step {
    let mut rollout = new.step(
        ids::ecs_rollout(name),
        ids::ECS_ROLLOUT,
        Phase::Deploy,
        svc.span,
        Origin::Service(name.to_string()),
    );
    rollout.config = rollout_config(new.config, svc);
    rollout.time_limit = Some(svc.rollout.timeout.value + ROLLOUT_MARGIN);
    // Inside the state lock with the apply whose outputs it reads.
    rollout.locked = apply.is_some() && new.config.state.is_some();
    if let Some(apply) = apply {
        rollout.need(apply, svc.span);
    }
    rollout.need(ids::ecr_push(name), svc.span);
    for dep in &svc.depends_on {
        rollout.need(ids::ecs_rollout(&dep.value), dep.span);
    }
    rollout
}
