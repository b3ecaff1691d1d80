//! What a `.wasm` file is, as `forge plugin inspect` shows it: a component or not, which
//! contract version it speaks, which capabilities its imports request, what it exports,
//! its size and hash.
//!
//! A component's imports are its requested capabilities (wit-component drops the imports a
//! plugin does not use), so this is also what the host checks against a step's grants.

use std::path::{Path, PathBuf};

use serde::Serialize;
use wit_parser::{Resolve, WorldItem, WorldKey};

use crate::pin::hash_bytes;
use crate::{CONTRACT_PACKAGE, CONTRACT_VERSION, Error};

/// What [`inspect_file`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inspection {
    /// Always `forge:plugin/step` for a plugin that passed inspection.
    pub world: String,
    /// The contract version its imports name, e.g. `0.1.0`.
    pub version: String,
    pub imports: Vec<Import>,
    /// Exported names (`describe`, `run`).
    pub exports: Vec<String>,
    pub size: u64,
    /// `blake3:<hex>`, what `project.kdl`'s `hash=` pins.
    pub hash: String,
}

/// One import and what it means to forge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Import {
    /// The full interface name, e.g. `forge:plugin/files@0.1.0`.
    pub name: String,
    pub capability: Capability,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum Capability {
    /// Needs `grant "NAME"` in project.kdl (`files.read`, `secrets`).
    Grant(String),
    /// Granted to every step (`log`, `outputs`).
    Always,
    /// Shared type definitions only; not a capability.
    Types,
    /// Nothing this forge provides.
    Unknown,
}

impl Inspection {
    /// The capabilities a step running this plugin must be granted.
    pub fn capabilities(&self) -> Vec<&str> {
        self.imports
            .iter()
            .filter_map(|i| match &i.capability {
                Capability::Grant(name) => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Imports no forge capability provides.
    pub fn unknown_imports(&self) -> Vec<&str> {
        self.imports
            .iter()
            .filter(|i| i.capability == Capability::Unknown)
            .map(|i| i.name.as_str())
            .collect()
    }
}

/// Reads and inspects `path`. Fails on anything that is not a forge step plugin this forge
/// speaks the contract of; a plugin with unknown imports is *returned* (with them marked
/// [`Capability::Unknown`]) so the caller can show everything before refusing it.
pub fn inspect_file(path: &Path) -> Result<Inspection, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
    inspect_bytes(path, &bytes)
}

/// [`inspect_file`] on bytes in memory; `path` is only for messages.
pub fn inspect_bytes(path: &Path, bytes: &[u8]) -> Result<Inspection, Error> {
    let path_buf = || PathBuf::from(path);
    match wasm_kind(bytes) {
        WasmKind::Component => {}
        WasmKind::Core => return Err(Error::CoreModule { path: path_buf() }),
        WasmKind::NotWasm => return Err(Error::NotWasm { path: path_buf() }),
    }
    let decoded = wit_component::decode(bytes).map_err(|e| Error::Decode {
        path: path_buf(),
        message: format!("{e:#}"),
    })?;
    let wit_component::DecodedWasm::Component(resolve, world) = decoded else {
        return Err(Error::NotAPlugin {
            path: path_buf(),
            reason: "it is a WIT package, not a component".into(),
        });
    };
    let world = &resolve.worlds[world];

    let mut versions = Vec::new();
    let mut imports = Vec::new();
    for (key, item) in &world.imports {
        let name = resolve.name_world_key(key);
        let capability = match item {
            WorldItem::Interface { id, .. } => {
                let interface = &resolve.interfaces[*id];
                match interface.package.map(|p| &resolve.packages[p].name) {
                    Some(package)
                        if format!("{}:{}", package.namespace, package.name)
                            == CONTRACT_PACKAGE =>
                    {
                        if let Some(version) = &package.version {
                            versions.push(version.to_string());
                        }
                        capability_of(interface.name.as_deref().unwrap_or_default())
                    }
                    _ => Capability::Unknown,
                }
            }
            // A bare imported function is nothing forge provides.
            WorldItem::Function(_) => Capability::Unknown,
            // Types come along with the interfaces that use them.
            WorldItem::Type { .. } => continue,
        };
        imports.push(Import { name, capability });
    }

    let exports: Vec<String> = world
        .exports
        .iter()
        .map(|(key, _)| export_name(&resolve, key))
        .collect();
    for required in ["describe", "run"] {
        if !exports.iter().any(|e| e == required) {
            return Err(Error::NotAPlugin {
                path: path_buf(),
                reason: format!(
                    "it does not export `{required}` (it exports: {})",
                    if exports.is_empty() {
                        "nothing".to_owned()
                    } else {
                        exports.join(", ")
                    }
                ),
            });
        }
    }

    versions.sort();
    versions.dedup();
    let version = match versions.as_slice() {
        [] => {
            return Err(Error::NotAPlugin {
                path: path_buf(),
                reason: format!("it uses no {CONTRACT_PACKAGE} interface"),
            });
        }
        [one] => one.clone(),
        many => {
            return Err(Error::NotAPlugin {
                path: path_buf(),
                reason: format!("it mixes contract versions {}", many.join(", ")),
            });
        }
    };
    if !compatible(&version, CONTRACT_VERSION) {
        return Err(Error::ContractVersion {
            path: path_buf(),
            found: version,
        });
    }

    Ok(Inspection {
        world: format!("{CONTRACT_PACKAGE}/step"),
        version,
        imports,
        exports,
        size: bytes.len() as u64,
        hash: hash_bytes(bytes),
    })
}

/// The capability behind one of the contract's interfaces.
fn capability_of(interface: &str) -> Capability {
    match interface {
        "files" => Capability::Grant("files.read".into()),
        "secrets" => Capability::Grant("secrets".into()),
        "log" | "outputs" => Capability::Always,
        "types" => Capability::Types,
        _ => Capability::Unknown,
    }
}

fn export_name(resolve: &Resolve, key: &WorldKey) -> String {
    resolve.name_world_key(key)
}

/// Whether a plugin built for contract `found` runs on a forge speaking `ours`: the same
/// major version, and below 1.0 the same minor (a 0.x minor bump is breaking).
pub fn compatible(found: &str, ours: &str) -> bool {
    fn major_minor(v: &str) -> Option<(&str, &str)> {
        let mut parts = v.split(['.', '-', '+']);
        Some((parts.next()?, parts.next()?))
    }
    match (major_minor(found), major_minor(ours)) {
        (Some((fmaj, fmin)), Some((omaj, omin))) => fmaj == omaj && (omaj != "0" || fmin == omin),
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WasmKind {
    Core,
    Component,
    NotWasm,
}

/// The binary header says which: `\0asm` then version 1 (core) or 0xd with layer 1
/// (component).
fn wasm_kind(bytes: &[u8]) -> WasmKind {
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => WasmKind::Core,
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => WasmKind::Component,
        _ => WasmKind::NotWasm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_versions() {
        assert!(compatible("0.1.0", "0.1.0"));
        assert!(compatible("0.1.3", "0.1.0"));
        assert!(!compatible("0.2.0", "0.1.0"));
        assert!(compatible("1.4.0", "1.0.0"));
        assert!(!compatible("2.0.0", "1.0.0"));
        assert!(!compatible("garbage", "0.1.0"));
    }

    #[test]
    fn headers() {
        assert_eq!(wasm_kind(b"\0asm\x01\0\0\0rest"), WasmKind::Core);
        assert_eq!(wasm_kind(b"\0asm\x0d\0\x01\0rest"), WasmKind::Component);
        assert_eq!(wasm_kind(b"\0asm"), WasmKind::NotWasm);
        assert_eq!(wasm_kind(b"#!/bin/sh\necho hi\n"), WasmKind::NotWasm);
    }

    #[test]
    fn imports_are_capabilities() {
        let bytes = crate::testing::step_component("0.1.0", &["log", "files"], "");
        let found = inspect_bytes(Path::new("p.wasm"), &bytes).expect("a plugin");
        assert_eq!(found.world, "forge:plugin/step");
        assert_eq!(found.version, "0.1.0");
        assert_eq!(found.capabilities(), ["files.read"]);
        assert!(found.unknown_imports().is_empty());
        assert_eq!(found.exports, ["describe", "run"]);
        assert_eq!(found.hash, hash_bytes(&bytes));
        assert_eq!(found.size, bytes.len() as u64);
        let names: Vec<&str> = found.imports.iter().map(|i| i.name.as_str()).collect();
        assert!(names.contains(&"forge:plugin/log@0.1.0"), "{names:?}");
        assert!(!names.iter().any(|n| n.contains("secrets")), "{names:?}");
    }

    #[test]
    fn the_full_world_asks_for_files_and_secrets() {
        let bytes = crate::testing::full_step_component();
        let found = inspect_bytes(Path::new("p.wasm"), &bytes).expect("a plugin");
        let mut caps = found.capabilities();
        caps.sort_unstable();
        assert_eq!(caps, ["files.read", "secrets"]);
    }

    #[test]
    fn unknown_imports_are_marked() {
        let extra = "interface kubernetes { apply: func(manifest: string); }\n";
        let bytes = crate::testing::step_component("0.1.0", &["log", "kubernetes"], extra);
        let found = inspect_bytes(Path::new("p.wasm"), &bytes).expect("still inspectable");
        assert_eq!(found.unknown_imports(), ["forge:plugin/kubernetes@0.1.0"]);
    }

    #[test]
    fn another_contract_version_names_both() {
        let bytes = crate::testing::step_component("0.2.0", &["log"], "");
        let err = inspect_bytes(Path::new("p.wasm"), &bytes).expect_err("0.2 is not 0.1");
        assert_eq!(
            err.to_string(),
            "p.wasm speaks forge:plugin@0.2.0, but this forge speaks forge:plugin@0.1.0"
        );
        let newer_patch = crate::testing::step_component("0.1.7", &["log"], "");
        inspect_bytes(Path::new("p.wasm"), &newer_patch).expect("0.1.7 runs on 0.1.0");
    }

    #[test]
    fn garbage_and_core_modules_are_named() {
        let path = Path::new("x.wasm");
        assert!(matches!(
            inspect_bytes(path, b"not wasm at all"),
            Err(Error::NotWasm { .. })
        ));
        assert!(matches!(
            inspect_bytes(path, b"\0asm\x01\0\0\0"),
            Err(Error::CoreModule { .. })
        ));
    }
}
