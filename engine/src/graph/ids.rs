//! The ids of the steps forge generates from services and modules, in
//! one place. Each generated step runs the built-in plugin of the same name; a service's
//! steps are suffixed with `:<service>` (`docker-build:backend`). A `step` block may not
//! take one of these ids (`forge::graph::duplicate_step`).

/// Builds a service's image: `docker-build:<service>`.
pub const DOCKER_BUILD: &str = "docker-build";
/// Pushes it and tags it with the commit: `ecr-push:<service>`.
pub const ECR_PUSH: &str = "ecr-push";
/// Renders the root Terraform module from the project's modules.
pub const TERRAFORM_RENDER: &str = "terraform-render";
/// Applies the rendered Terraform.
pub const TERRAFORM_APPLY: &str = "terraform-apply";
/// The built-in that runs a process instead of a wasm plugin (a `step`'s `plugin
/// "command"`).
pub const COMMAND: &str = "command";
/// Rolls a service out on ECS: `ecs-rollout:<service>`.
pub const ECS_ROLLOUT: &str = "ecs-rollout";

/// `docker-build:<service>`.
pub fn docker_build(service: &str) -> String {
    per_service(DOCKER_BUILD, service)
}

/// `ecr-push:<service>`.
pub fn ecr_push(service: &str) -> String {
    per_service(ECR_PUSH, service)
}

/// `ecs-rollout:<service>`.
pub fn ecs_rollout(service: &str) -> String {
    per_service(ECS_ROLLOUT, service)
}

fn per_service(kind: &str, service: &str) -> String {
    format!("{kind}:{service}")
}
