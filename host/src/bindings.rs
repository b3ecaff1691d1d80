//! Rust bindings generated from `plugin-sdk/wit` (world `step`), the single source of truth
//! shared with the SDK. Host functions are synchronous: every import here does bounded,
//! local work (memory copies, one file read), and a step runs on a blocking thread, so
//! nothing is gained by async imports while much would be (the `async` wasmtime feature,
//! fibers, a second executor on the hot path).

wasmtime::component::bindgen!({
    path: "../plugin-sdk/wit",
    world: "step",
    imports: {
        // Writing past the output cap stops the plugin at once rather than trusting it to
        // honour an error value.
        "forge:plugin/outputs.write": trappable,
    },
    with: {
        "forge:plugin/secrets.secret": crate::state::SecretHandle,
    },
});
