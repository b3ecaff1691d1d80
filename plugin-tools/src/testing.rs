//! Components for tests. Most are made without a wasm toolchain: wit-component's dummy
//! module for a world (every import used, every export a stub), encoded like `forge plugin
//! build` encodes a real plugin. [`fixture_plugin`] builds one of forge's real fixture
//! plugins (that needs a wasm toolchain). Enabled by the `testing` feature.

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

/// forge's fixture plugin `plugins/fixtures/<name>` (package `fixture-<name>`), built into
/// `out/fixture-<name>.wasm` by the same code as `forge plugin build` (with the plugin
/// workspace's committed lockfile), once per process. Panics, saying what to install, when
/// no wasm toolchain is found: a test that needs a real plugin must not pass without one.
pub fn fixture_plugin(name: &str, out: &std::path::Path) -> std::path::PathBuf {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    // One build at a time (they share the plugin workspace's target dir) and one per name.
    static BUILT: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let path = out.join(format!("fixture-{name}.wasm"));
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if built.contains(name) {
        return path;
    }
    let toolchain = crate::toolchain::detect().unwrap_or_else(|err| {
        panic!(
            "this test needs the real compiled fixture plugin fixture-{name}, and no wasm \
             toolchain is here: {:?}",
            miette::Report::new(err)
        )
    });
    let plugins = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/fixtures");
    let jobs = std::env::var("FORGE_BUILD_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(2);
    let options = crate::build::BuildOptions {
        dir: plugins.join(name),
        out: Some(path.clone()),
        default_dir: None,
        jobs: Some(jobs),
        rustc_wrapper: None,
        locked: true,
    };
    if let Err(err) = crate::build::build(&options, &toolchain) {
        panic!(
            "building fixture-{name} failed: {:?}",
            miette::Report::new(err)
        );
    }
    built.insert(name.to_owned());
    path
}
