//! The built-in plugins' manifest, `plugins/dist/manifest.json`: for each built-in, the
//! blake3 of the committed component and of the sources it was built from.
//!
//! forge embeds the committed components (`host/build.rs`), so `cargo build` needs no wasm
//! toolchain. Two checks keep them honest:
//! - the source hash, checked by `cargo test` everywhere (cheap, no toolchain): editing a
//!   built-in, the SDK, the contract crate, the WIT or the plugin lockfile without
//!   rebuilding fails;
//! - a byte-for-byte rebuild (`scripts/build-builtins --check`, run in CI where the wasm
//!   toolchain is installed): the committed bytes are exactly what the sources build to.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// Where the built-in crates live, relative to the repository root.
pub const BUILTIN_DIR: &str = "plugins/builtin";
/// Where their committed components and the manifest live.
pub const DIST_DIR: &str = "plugins/dist";

/// What every built-in is built from besides its own crate.
const SHARED_INPUTS: &[&str] = &[
    "contract/Cargo.toml",
    "contract/src",
    "plugin-sdk/Cargo.toml",
    "plugin-sdk/src",
    "plugin-sdk/wit",
    "plugins/Cargo.toml",
    "plugins/Cargo.lock",
];

/// The repository root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Names of the built-in crates (`plugins/builtin/<name>/Cargo.toml`), sorted.
pub fn builtin_names(root: &Path) -> io::Result<Vec<String>> {
    let dir = root.join(BUILTIN_DIR);
    let mut names = Vec::new();
    if dir.is_dir() {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.path().join("Cargo.toml").is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// blake3 over the sorted (path, contents) of every source file built-in `name` is built
/// from. Paths are repository-relative and `/`-separated, so the hash is the same in every
/// checkout; `target/` directories are skipped.
pub fn source_hash(root: &Path, name: &str) -> io::Result<String> {
    let mut files = BTreeMap::new();
    let own = format!("{BUILTIN_DIR}/{name}");
    for input in SHARED_INPUTS.iter().copied().chain([own.as_str()]) {
        collect(root, &root.join(input), &mut files)?;
    }
    let mut hasher = blake3::Hasher::new_derive_key("forge 2026-11 built-in plugin sources");
    for (path, contents) in &files {
        hasher.update(&(path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        hasher.update(&(contents.len() as u64).to_le_bytes());
        hasher.update(contents);
    }
    Ok(format!("blake3:{}", hasher.finalize().to_hex()))
}

fn collect(root: &Path, path: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> io::Result<()> {
    let meta = fs::metadata(path)?;
    if meta.is_dir() {
        if path.file_name().is_some_and(|n| n == "target") {
            return Ok(());
        }
        for entry in fs::read_dir(path)? {
            collect(root, &entry?.path(), out)?;
        }
    } else {
        let rel = path
            .strip_prefix(root)
            .map_err(|_| io::Error::other(format!("{} is outside the repo", path.display())))?;
        let rel = rel.to_string_lossy().replace('\\', "/");
        out.insert(rel, fs::read(path)?);
    }
    Ok(())
}

/// The manifest as committed (an empty object when there is none yet).
pub fn read_manifest(root: &Path) -> io::Result<Value> {
    let path = root.join(DIST_DIR).join("manifest.json");
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| io::Error::other(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(json!({})),
        Err(e) => Err(e),
    }
}

/// Writes the manifest for the components now in `plugins/dist/`, recording `toolchain`
/// (the rustc that built them: the byte check needs the same one).
pub fn write_manifest(root: &Path, toolchain: &str) -> io::Result<Value> {
    let mut entries = serde_json::Map::new();
    for name in builtin_names(root)? {
        let component = fs::read(root.join(DIST_DIR).join(format!("{name}.wasm")))?;
        entries.insert(
            name.clone(),
            json!({
                "component": format!("blake3:{}", blake3::hash(&component).to_hex()),
                "bytes": component.len(),
                "source": source_hash(root, &name)?,
            }),
        );
    }
    let manifest = json!({ "toolchain": toolchain, "builtins": entries });
    let mut text = serde_json::to_string_pretty(&manifest).map_err(io::Error::other)?;
    text.push('\n');
    fs::write(root.join(DIST_DIR).join("manifest.json"), text)?;
    Ok(manifest)
}

/// Every way the committed built-ins disagree with their sources, in words.
pub fn stale(root: &Path) -> io::Result<Vec<String>> {
    let manifest = read_manifest(root)?;
    let listed = manifest["builtins"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut problems = Vec::new();
    let names = builtin_names(root)?;
    for name in &names {
        let Some(entry) = listed.get(name) else {
            problems.push(format!("built-in `{name}` has no component in {DIST_DIR}"));
            continue;
        };
        if entry["source"].as_str() != Some(source_hash(root, name)?.as_str()) {
            problems.push(format!(
                "built-in `{name}`: its sources (or the SDK, WIT or plugin lockfile) changed since {DIST_DIR}/{name}.wasm was built"
            ));
        }
        match fs::read(root.join(DIST_DIR).join(format!("{name}.wasm"))) {
            Ok(bytes) => {
                let actual = format!("blake3:{}", blake3::hash(&bytes).to_hex());
                if entry["component"].as_str() != Some(actual.as_str()) {
                    problems.push(format!(
                        "built-in `{name}`: {DIST_DIR}/{name}.wasm does not match the manifest's hash"
                    ));
                }
            }
            Err(e) => problems.push(format!("built-in `{name}`: {e}")),
        }
    }
    for name in listed.keys() {
        if !names.contains(name) {
            problems.push(format!(
                "{DIST_DIR}/manifest.json lists `{name}`, which has no crate in {BUILTIN_DIR}"
            ));
        }
    }
    Ok(problems)
}
