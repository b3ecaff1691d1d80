//! What a `.wasm` file is, as `forge plugin inspect` shows it: a component or not, which
//! contract version it speaks, which capabilities its imports request (and the `grant`
//! lines a project needs for them), what it exports, its size and hash.
//!
//! A component's imports are its requested capabilities (wit-component drops the imports a
//! plugin does not use), so this is also what the host checks against a step's grants.
//! Names alone are not enough: every function the component imports from the contract,
//! and the `describe`/`run` it exports, must have the contract's type ([`typecheck`]), or
//! the host could not link it. That is checked here, so `forge plugin build` and `inspect`
//! refuse what `forge build` would.

use std::path::{Path, PathBuf};

use forge_contract::{Access, Capability as Cap, Interface};
use serde::Serialize;
use wit_parser::{Resolve, WorldItem, WorldKey};

use crate::pin::hash_bytes;
use crate::typecheck::{self, Contract};
use crate::{CONTRACT_PACKAGE, Error};

/// What [`inspect_file`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inspection {
    /// Always `forge:plugin/step` for a plugin that passed inspection.
    pub world: String,
    /// The contract version its imports name, e.g. `0.1.0`.
    pub version: String,
    pub imports: Vec<Import>,
    /// The capabilities to grant it, fewest first (`aws` covers `registry`): what goes in
    /// `grant` lines in project.kdl.
    pub grants: Vec<String>,
    /// Exported names (`describe`, `run`).
    pub exports: Vec<String>,
    pub size: u64,
    /// `blake3:<hex>`, what `project.kdl`'s `hash=` pins.
    pub hash: String,
    /// The toolchain that built it, as `forge plugin build` recorded it
    /// ([`crate::section`]); `None` for a component built otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toolchain: Option<String>,
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
    /// Needs `grant "NAME"` in project.kdl (`files.read`, `docker`, ...), or a grant that
    /// implies it.
    Grant(String),
    /// Granted to every step (`log`, `outputs`).
    Always,
    /// Shared type definitions only; not a capability.
    Types,
    /// Nothing this forge provides.
    Unknown,
}

impl Inspection {
    /// The capabilities a step running this plugin must have (granted or implied), each
    /// once (`aws` covers the `aws`, `s3` and `dynamodb` interfaces).
    pub fn capabilities(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for import in &self.imports {
            if let Capability::Grant(name) = &import.capability
                && !out.contains(&name.as_str())
            {
                out.push(name);
            }
        }
        out
    }

    /// Imports no forge capability provides.
    pub fn unknown_imports(&self) -> Vec<&str> {
        self.imports
            .iter()
            .filter(|i| i.capability == Capability::Unknown)
            .map(|i| i.name.as_str())
            .collect()
    }

    /// The grant that gives `capability` when it is not granted itself: `aws` for
    /// `registry` in a plugin that uses both.
    pub fn implied_by(&self, capability: &str) -> Option<&str> {
        if self.grants.iter().any(|g| g == capability) {
            return None;
        }
        let wanted = Cap::from_name(capability)?;
        self.grants.iter().map(String::as_str).find(|g| {
            Cap::from_name(g)
                .is_some_and(|g| forge_contract::GrantSet::NONE.with(g).contains(wanted))
        })
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
    let wit_component::DecodedWasm::Component(resolve, world_id) = decoded else {
        return Err(Error::NotAPlugin {
            path: path_buf(),
            reason: "it is a WIT package, not a component".into(),
        });
    };
    let world = &resolve.worlds[world_id];

    let mut versions = Vec::new();
    let mut imports = Vec::new();
    // The contract's interfaces it imports, to type-check once the version is known.
    let mut contract_imports = Vec::new();
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
                        let known = interface.name.as_deref().and_then(Interface::from_name);
                        if let Some(known) = known {
                            contract_imports.push((name.clone(), known, *id));
                        }
                        capability_of(known)
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
    for required in forge_contract::EXPORTS {
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
    if !forge_contract::speaks(&version) {
        return Err(Error::ContractVersion {
            path: path_buf(),
            found: version,
        });
    }

    // Same names, same types: what the host's linker will demand.
    let contract = Contract::parse();
    for (name, interface, id) in &contract_imports {
        typecheck::import(&contract, *interface, &resolve, *id)
            .map_err(|m| m.into_error(path, Some(name)))?;
    }
    for item in world.exports.values() {
        if let WorldItem::Function(function) = item {
            typecheck::export(&contract, &resolve, function)
                .map_err(|m| m.into_error(path, None))?;
        }
    }

    let needed: Vec<Cap> = imports
        .iter()
        .filter_map(|i| match &i.capability {
            Capability::Grant(name) => Cap::from_name(name),
            _ => None,
        })
        .collect();
    let grants = forge_contract::fewest_grants(&needed)
        .into_iter()
        .map(|c| c.name().to_owned())
        .collect();

    Ok(Inspection {
        world: format!("{CONTRACT_PACKAGE}/{}", forge_contract::WORLD),
        version,
        imports,
        grants,
        exports,
        size: bytes.len() as u64,
        hash: hash_bytes(bytes),
        toolchain: crate::section::toolchain_of(bytes),
    })
}

/// What importing one of the contract's interfaces takes (the contract's table).
fn capability_of(interface: Option<Interface>) -> Capability {
    match interface.map(Interface::access) {
        Some(Access::Capability(capability)) => Capability::Grant(capability.name().to_owned()),
        Some(Access::Always) => Capability::Always,
        Some(Access::TypesOnly) => Capability::Types,
        None => Capability::Unknown,
    }
}

fn export_name(resolve: &Resolve, key: &WorldKey) -> String {
    resolve.name_world_key(key)
}

/// Whether a plugin built for contract `found` runs on a forge speaking `ours` (the
/// contract's rule, [`forge_contract::compatible`]).
pub fn compatible(found: &str, ours: &str) -> bool {
    forge_contract::compatible(found, ours)
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
    use crate::CONTRACT_VERSION as V;
    use crate::testing::{edited_step_component, full_step_component, step_component};

    #[test]
    fn headers() {
        assert_eq!(wasm_kind(b"\0asm\x01\0\0\0rest"), WasmKind::Core);
        assert_eq!(wasm_kind(b"\0asm\x0d\0\x01\0rest"), WasmKind::Component);
        assert_eq!(wasm_kind(b"\0asm"), WasmKind::NotWasm);
        assert_eq!(wasm_kind(b"#!/bin/sh\necho hi\n"), WasmKind::NotWasm);
    }

    #[test]
    fn imports_are_capabilities() {
        let bytes = step_component(V, &["log", "files"], "");
        let found = inspect_bytes(Path::new("p.wasm"), &bytes).expect("a plugin");
        assert_eq!(found.world, "forge:plugin/step");
        assert_eq!(found.version, V);
        assert_eq!(found.capabilities(), ["files.read"]);
        assert_eq!(found.grants, ["files.read"]);
        assert!(found.unknown_imports().is_empty());
        assert_eq!(found.exports, ["describe", "run"]);
        assert_eq!(found.hash, hash_bytes(&bytes));
        assert_eq!(found.size, bytes.len() as u64);
        let names: Vec<&str> = found.imports.iter().map(|i| i.name.as_str()).collect();
        assert!(
            names.contains(&format!("forge:plugin/log@{V}").as_str()),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.contains("secrets")), "{names:?}");
    }

    #[test]
    fn the_full_world_asks_for_every_capability_and_its_grants_cover_the_implied_ones() {
        let found = inspect_bytes(Path::new("p.wasm"), &full_step_component()).expect("a plugin");
        assert_eq!(
            found.capabilities(),
            [
                "files.read",
                "secrets",
                "docker",
                "registry",
                "aws",
                "terraform"
            ]
        );
        assert_eq!(found.grants, ["files.read", "docker", "aws", "terraform"]);
        assert_eq!(found.implied_by("registry"), Some("aws"));
        // `docker.build-with-secrets` and `registry.login` take `secrets` handles; the first
        // grant that implies it is named.
        assert_eq!(found.implied_by("secrets"), Some("docker"));
        assert_eq!(found.implied_by("docker"), None);
        assert!(found.unknown_imports().is_empty());
    }

    #[test]
    fn unknown_imports_are_marked() {
        let extra = "interface kubernetes { apply: func(manifest: string); }\n";
        let bytes = step_component(V, &["log", "kubernetes"], extra);
        let found = inspect_bytes(Path::new("p.wasm"), &bytes).expect("still inspectable");
        assert_eq!(
            found.unknown_imports(),
            [format!("forge:plugin/kubernetes@{V}")]
        );
    }

    #[test]
    fn another_contract_version_names_both() {
        let next = forge_contract::next_breaking_version();
        let bytes = step_component(&next, &["log"], "");
        let err = inspect_bytes(Path::new("p.wasm"), &bytes).expect_err("not this contract");
        assert_eq!(
            err.to_string(),
            format!("p.wasm speaks forge:plugin@{next}, but this forge speaks forge:plugin@{V}")
        );
    }

    #[test]
    fn a_forge_name_with_another_type_is_refused_naming_both() {
        let bytes = edited_step_component(
            &["log", "docker"],
            "build: func(request: build-request) -> result<image, docker-error>;",
            "build: func(request: string) -> result<image, docker-error>;",
        );
        let err = inspect_bytes(Path::new("p.wasm"), &bytes).expect_err("wrong type");
        assert_eq!(
            err.to_string(),
            format!(
                "p.wasm: function `build` of forge:plugin/docker@{V} has a type this forge does \
                 not provide\n  component: func(request: string) -> result<image, docker-error>\n  \
                 contract:  func(request: build-request) -> result<image, docker-error>"
            )
        );
        assert!(matches!(err, Error::ContractType { .. }));
    }

    #[test]
    fn a_difference_inside_a_record_is_pointed_at() {
        let bytes = edited_step_component(
            &["log", "docker"],
            "        target: option<string>,",
            "        target: string,",
        );
        let err = inspect_bytes(Path::new("p.wasm"), &bytes).expect_err("wrong field");
        let message = err.to_string();
        assert!(
            message.ends_with(
                "(parameter `request`: field `target` of record `build-request`: `string` here, \
                 `option<string>` in the contract)"
            ),
            "{message}"
        );
    }

    #[test]
    fn exports_and_extra_functions_are_checked_too() {
        let bytes = edited_step_component(&["log"], "        config-schema: string,\n", "");
        let err = inspect_bytes(Path::new("p.wasm"), &bytes).expect_err("a field is missing");
        assert!(
            err.to_string()
                .starts_with("p.wasm: export `describe` has a type"),
            "{err}"
        );
        let bytes = edited_step_component(
            &["log"],
            "    panicked: func(message: string);",
            "    panicked: func(message: string);\n    shout: func(message: string);",
        );
        let err = inspect_bytes(Path::new("p.wasm"), &bytes).expect_err("no such function");
        assert_eq!(
            err.to_string(),
            format!(
                "p.wasm: function `shout` of forge:plugin/log@{V} (func(message: string)) is not \
                 part of contract forge:plugin@{V}"
            )
        );
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
