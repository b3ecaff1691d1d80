//! Components for tests, made without a wasm toolchain: wit-component's dummy module for
//! a world (every import used, every export a stub), encoded like `forge plugin build`
//! encodes a real plugin. Enabled by the `testing` feature.

use wit_parser::{LiftLowerAbi, ManglingAndAbi, Resolve};

use crate::CONTRACT_WIT;

/// A component for world `world` of `wit` (a whole WIT package, one file).
pub fn component(wit: &str, world: &str) -> Vec<u8> {
    let mut resolve = Resolve::default();
    let package = resolve
        .push_str("plugin.wit", wit)
        .expect("test WIT parses");
    let world = resolve
        .select_world(&[package], Some(world))
        .expect("test world exists");
    let mut module =
        wit_component::dummy_module(&resolve, world, ManglingAndAbi::Legacy(LiftLowerAbi::Sync));
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
        false,
    )
    .expect("embed the world");
    crate::build::encode_component(&module).expect("encode the component")
}

/// The contract's `step` world narrowed to `imports` (e.g. `["log", "files"]`), with
/// `extra` WIT (interfaces, say) added to the package and `version` as its version.
pub fn step_component(version: &str, imports: &[&str], extra: &str) -> Vec<u8> {
    let imports: String = imports
        .iter()
        .map(|i| format!("    import {i};\n"))
        .collect();
    let world = format!(
        "world test-step {{\n{imports}    use types.{{plugin-info, step-input, step-output, step-error}};\n    \
         export describe: func() -> plugin-info;\n    \
         export run: func(input: step-input) -> result<step-output, step-error>;\n}}\n"
    );
    let wit = CONTRACT_WIT.replace(
        "package forge:plugin@0.1.0;",
        &format!("package forge:plugin@{version};"),
    ) + extra
        + &world;
    component(&wit, "test-step")
}

/// A component of the contract's full `step` world (every capability imported).
pub fn full_step_component() -> Vec<u8> {
    component(CONTRACT_WIT, "step")
}
