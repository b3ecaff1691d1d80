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
        default: async,
    },
    exports: {
        default: async,
    },
    with: {
        "forge:plugin/secrets.secret": crate::state::SecretHandle,
    },
});
