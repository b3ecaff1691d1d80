//! Rust bindings generated from `plugin-sdk/wit` (world `step`), the single source of truth
//! shared with the SDK. Imports and exports are async: the capabilities to come (Docker,
//! AWS) do network I/O, and a step waiting on one must leave its runtime thread free for
//! other steps rather than pin it for the whole call. Today's imports do bounded, local
//! work and never actually suspend, so being async costs them next to nothing.

wasmtime::component::bindgen!({
    path: "../plugin-sdk/wit",
    world: "step",
    imports: {
        // Writing past the output cap stops the plugin at once rather than trusting it to
        // honour an error value.
        "forge:plugin/outputs.write": async | trappable,
        // Calls that wait on the network trap when the run is cancelled or out of time
        // (no wasm runs meanwhile, so the epoch callback cannot stop them).
        "forge:plugin/docker.build": async | trappable,
        "forge:plugin/docker.build-with-secrets": async | trappable,
        "forge:plugin/registry.login": async | trappable,
        "forge:plugin/registry.resolve": async | trappable,
        "forge:plugin/registry.has-blob": async | trappable,
        "forge:plugin/registry.push-blob": async | trappable,
        "forge:plugin/registry.put-manifest": async | trappable,
        "forge:plugin/aws.ecr-login": async | trappable,
        "forge:plugin/aws.ecr-describe-repository": async | trappable,
        "forge:plugin/aws.ecr-create-repository": async | trappable,
        "forge:plugin/s3.put-object": async | trappable,
        "forge:plugin/s3.get-object": async | trappable,
        "forge:plugin/s3.head-object": async | trappable,
        "forge:plugin/s3.delete-object": async | trappable,
        "forge:plugin/dynamodb.put-item": async | trappable,
        "forge:plugin/dynamodb.get-item": async | trappable,
        "forge:plugin/dynamodb.delete-item": async | trappable,
        "forge:plugin/ecs.describe-services": async | trappable,
        "forge:plugin/ecs.list-tasks": async | trappable,
        "forge:plugin/ecs.describe-tasks": async | trappable,
        "forge:plugin/ecs.describe-task-definition": async | trappable,
        "forge:plugin/ecs.describe-target-health": async | trappable,
        "forge:plugin/ecs.pause": async | trappable,
        "forge:plugin/terraform.version": async | trappable,
        "forge:plugin/terraform.init": async | trappable,
        "forge:plugin/terraform.plan": async | trappable,
        "forge:plugin/terraform.apply": async | trappable,
        "forge:plugin/terraform.output": async | trappable,
        default: async,
    },
    exports: {
        default: async,
    },
    with: {
        "forge:plugin/secrets.secret": crate::state::SecretHandle,
        "forge:plugin/registry.credentials": forge_clients::registry::Credentials,
    },
});
