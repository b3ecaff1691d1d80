//! Components for tests, made without a wasm toolchain: wit-component's dummy module for
//! a world (every import used, every export a stub), encoded like `forge plugin build`
//! encodes a real plugin. Enabled by the `testing` feature.

use wit_parser::{LiftLowerAbi, ManglingAndAbi, Resolve};

use crate::{CONTRACT_PACKAGE, CONTRACT_VERSION, CONTRACT_WIT};

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
    let ours = format!("package {CONTRACT_PACKAGE}@{CONTRACT_VERSION};");
    assert!(CONTRACT_WIT.contains(&ours), "the WIT declares {ours}");
    let wit = CONTRACT_WIT.replace(&ours, &format!("package {CONTRACT_PACKAGE}@{version};"))
        + extra
        + &narrow_world(imports);
    component(&wit, "test-step")
}

/// World `test-step`: the plugin's exports, and `imports` only.
fn narrow_world(imports: &[&str]) -> String {
    let imports: String = imports
        .iter()
        .map(|i| format!("    import {i};\n"))
        .collect();
    format!(
        "world test-step {{\n{imports}    use types.{{plugin-info, step-input, step-output, step-error}};\n    \
         export describe: func() -> plugin-info;\n    \
         export run: func(input: step-input) -> result<step-output, step-error>;\n}}\n"
    )
}

/// A component of the contract's full `step` world (every capability imported).
pub fn full_step_component() -> Vec<u8> {
    component(CONTRACT_WIT, "step")
}

/// A component of the contract with one edit to its text (`from` → `to`, which must
/// occur): the same names with other types, for the type check's tests.
pub fn edited_step_component(imports: &[&str], from: &str, to: &str) -> Vec<u8> {
    assert!(CONTRACT_WIT.contains(from), "the WIT has {from:?}");
    let wit = CONTRACT_WIT.replacen(from, to, 1) + &narrow_world(imports);
    component(&wit, "test-step")
}
