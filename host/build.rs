//! Embeds the built-in plugins: every component listed in `plugins/dist/manifest.json`
//! becomes an `include_bytes!` entry of `Builtins::embedded()`. A component whose bytes do
//! not match the manifest fails the build (a half-updated `plugins/dist/` must never ship).

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dist = manifest_dir.join("../plugins/dist");
    let manifest_path = dist.join("manifest.json");
    println!("cargo:rerun-if-changed={}", manifest_path.display());

    let mut table = String::from("&[\n");
    if let Ok(text) = std::fs::read_to_string(&manifest_path) {
        let manifest: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", manifest_path.display()));
        let builtins = manifest["builtins"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (name, entry) in builtins {
            let path = dist.join(format!("{name}.wasm"));
            println!("cargo:rerun-if-changed={}", path.display());
            let bytes = std::fs::read(&path).unwrap_or_else(|e| {
                panic!("built-in `{name}`: cannot read {}: {e}", path.display())
            });
            let actual = format!("blake3:{}", blake3::hash(&bytes).to_hex());
            let expected = entry["component"].as_str().unwrap_or_default();
            assert_eq!(
                actual,
                expected,
                "built-in `{name}`: {} does not match plugins/dist/manifest.json; run scripts/build-builtins",
                path.display()
            );
            let path = path.canonicalize().expect("the component exists");
            writeln!(
                table,
                "    ({name:?}, include_bytes!({:?}), {actual:?}),",
                path.display().to_string()
            )
            .expect("writing to a String");
        }
    }
    table.push(']');

    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("embedded.rs");
    let code = format!(
        "/// Components this build embeds: (plugin name, component bytes, `blake3:<hex>` checked\n/// by build.rs).\nconst EMBEDDED: &[(&str, &[u8], &str)] = {table};\n"
    );
    std::fs::write(&out, code).expect("OUT_DIR is writable");
}
