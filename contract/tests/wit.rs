//! The table in this crate against the contract's text, `plugin-sdk/wit/plugin.wit`: a
//! new interface (say `terraform`), a capability without an interface, or a version bump
//! made in one place only fails here.

use std::path::Path;

use forge_contract::{Access, EXPORTS, GrantSet, Interface, PACKAGE, VERSION, WORLD};
use wit_parser::{PackageId, Resolve, Type, TypeDefKind, TypeOwner, WorldItem};

fn contract() -> (Resolve, PackageId) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk/wit/plugin.wit");
    let mut resolve = Resolve::default();
    let (package, _) = resolve
        .push_path(&path)
        .unwrap_or_else(|e| panic!("{} parses: {e:#}", path.display()));
    (resolve, package)
}

#[test]
fn the_package_version_is_the_contract_version() {
    let (resolve, package) = contract();
    let name = &resolve.packages[package].name;
    assert_eq!(format!("{}:{}", name.namespace, name.name), PACKAGE);
    let version = name.version.as_ref().map(ToString::to_string);
    assert_eq!(
        version.as_deref(),
        Some(VERSION),
        "plugin.wit says package {PACKAGE}@{}, but forge_contract::VERSION is {VERSION}: \
         change VERSION in contract/src/lib.rs with the WIT",
        version.as_deref().unwrap_or("(no version)")
    );
}

#[test]
fn every_interface_has_a_table_entry_and_back() {
    let (resolve, package) = contract();
    let in_wit: Vec<&str> = resolve.packages[package]
        .interfaces
        .keys()
        .map(String::as_str)
        .collect();
    for name in &in_wit {
        assert!(
            Interface::from_name(name).is_some(),
            "plugin.wit has interface `{name}`, which forge_contract::Interface does not list: \
             add it there with its access (always granted, or which capability) before any \
             forge can link it"
        );
    }
    for interface in Interface::ALL {
        assert!(
            in_wit.contains(&interface.name()),
            "forge_contract::Interface::{interface:?} has no interface `{}` in plugin.wit",
            interface.name()
        );
    }
}

#[test]
fn the_step_world_imports_every_interface_and_exports_the_plugin() {
    let (resolve, package) = contract();
    let world = resolve.packages[package]
        .worlds
        .get(WORLD)
        .map(|&id| &resolve.worlds[id])
        .unwrap_or_else(|| panic!("plugin.wit has world `{WORLD}`"));
    let imported: Vec<&str> = world
        .imports
        .values()
        .filter_map(|item| match item {
            WorldItem::Interface { id, .. } => resolve.interfaces[*id].name.as_deref(),
            _ => None,
        })
        .collect();
    for interface in Interface::ALL {
        assert!(
            imported.contains(&interface.name()),
            "world `{WORLD}` does not import `{interface}`"
        );
    }
    let exported: Vec<String> = world
        .exports
        .keys()
        .map(|key| resolve.name_world_key(key))
        .collect();
    assert_eq!(exported, EXPORTS);
}

/// An interface that uses a type of another (`aws` returns `registry.credentials`) makes
/// every component that calls it import that other interface too: its capability must
/// imply the other's, or granting it alone could never work.
#[test]
fn a_capability_implies_the_interfaces_its_types_come_from() {
    let (resolve, package) = contract();
    for (name, &id) in &resolve.packages[package].interfaces {
        let interface = Interface::from_name(name).expect("checked above");
        let Access::Capability(capability) = interface.access() else {
            continue;
        };
        let granted = GrantSet::NONE.with(capability);
        for &ty in resolve.interfaces[id].types.values() {
            let TypeDefKind::Type(Type::Id(used)) = resolve.types[ty].kind else {
                continue;
            };
            let TypeOwner::Interface(owner) = resolve.types[used].owner else {
                continue;
            };
            let owner = resolve.interfaces[owner]
                .name
                .as_deref()
                .unwrap_or_default();
            let owner = Interface::from_name(owner).expect("an interface of the contract");
            assert!(
                granted.allows(owner),
                "`{interface}` uses types of `{owner}`, so capability `{capability}` must imply \
                 access to `{owner}` (forge_contract::Capability::implies)"
            );
        }
    }
}
