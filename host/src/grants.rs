//! The one place that decides what a step's plugin may import.
//!
//! A component imports exactly the interfaces it uses (wit-component drops the rest), so
//! its imports are the capabilities it asks for. Which interface needs which capability,
//! and which capabilities a set of `grant` lines gives, is the plugin contract's table
//! ([`forge_contract::Interface`], [`GrantSet`]); this module applies it:
//! [`check_imports`] compares a component's imports with a step's [`GrantSet`] *before*
//! anything is instantiated, so an ungranted plugin never runs a single instruction, and
//! `linker` links exactly the granted interfaces.
//!
//! `docker`, `registry` and `aws` reach the network, so their results are not a function
//! of the step's inputs; a step granted one is trusted to make its manifest describe what
//! it did (the image digest, the pushed digest) rather than when.

use forge_contract::{ImportName, classify_import, fewest_grants};
use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker};

use crate::bindings::forge::plugin::{
    aws, docker, dynamodb, ecs, files, log, outputs, registry, s3, secrets, terraform, types,
};
use crate::caps::Caps;
use crate::error::HostError;
use crate::state::secrets::Secrets;
use crate::state::{FilesCtx, HostState, LogCtx, OutputsCtx, Types};

pub use forge_contract::capability::{AWS, DOCKER, FILES_READ, REGISTRY, SECRETS};
pub use forge_contract::{GrantSet, Interface};
/// The WIT package the host speaks.
pub const WIT_PACKAGE: &str = forge_contract::PACKAGE;
/// Its version; plugins built against any compatible version are accepted (see the WIT's
/// header and [`forge_contract::compatible`]).
pub const WIT_VERSION: &str = forge_contract::VERSION;

/// Refuses a component that imports anything the step is not granted or forge does not
/// provide. Runs before instantiation.
pub fn check_imports(
    plugin: &str,
    component: &Component,
    engine: &Engine,
    grants: GrantSet,
) -> Result<(), HostError> {
    let ty = component.component_type();
    let mut missing = Vec::new();
    for (name, item) in ty.imports(engine) {
        let refuse_unknown = || HostError::UnknownImport {
            plugin: plugin.to_owned(),
            import: name.to_owned(),
        };
        // Only an instance can be one of the contract's interfaces.
        if !matches!(item.ty, ComponentItem::ComponentInstance(_)) {
            return Err(refuse_unknown());
        }
        let interface = match classify_import(name) {
            ImportName::Contract { interface, .. } => interface,
            ImportName::OtherVersion { .. } => {
                return Err(HostError::VersionMismatch {
                    plugin: plugin.to_owned(),
                    import: name.to_owned(),
                });
            }
            ImportName::UnknownInterface { .. } | ImportName::Foreign => {
                return Err(refuse_unknown());
            }
        };
        if !grants.allows(interface) {
            missing.extend(interface.capability());
        }
    }
    // Name the grant that fixes it: for `registry` and `aws` both missing that is `aws`
    // (which implies `registry`), not `registry` first and `aws` on the next attempt.
    match fewest_grants(&missing).first() {
        Some(capability) => Err(HostError::Ungranted {
            plugin: plugin.to_owned(),
            capability: capability.name().to_owned(),
        }),
        None => Ok(()),
    }
}

/// A linker with exactly the interfaces `grants` allows, each projecting [`HostState`] to
/// the part or view it acts on (see `crate::state`).
pub(crate) fn linker(engine: &Engine, grants: GrantSet) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    types::add_to_linker::<HostState, Types>(&mut linker, |_| Types)?;
    log::add_to_linker::<HostState, HasSelf<LogCtx>>(&mut linker, |s| &mut s.log)?;
    outputs::add_to_linker::<HostState, HasSelf<OutputsCtx>>(&mut linker, |s| &mut s.outputs)?;
    if grants.allows(Interface::Files) {
        files::add_to_linker::<HostState, HasSelf<FilesCtx>>(&mut linker, |s| &mut s.files)?;
    }
    if grants.allows(Interface::Secrets) {
        secrets::add_to_linker::<HostState, Secrets>(&mut linker, HostState::secrets)?;
    }
    if grants.allows(Interface::Docker) {
        docker::add_to_linker::<HostState, Caps>(&mut linker, HostState::caps)?;
    }
    if grants.allows(Interface::Registry) {
        registry::add_to_linker::<HostState, Caps>(&mut linker, HostState::caps)?;
    }
    if grants.allows(Interface::Aws) {
        aws::add_to_linker::<HostState, Caps>(&mut linker, HostState::caps)?;
    }
    if grants.allows(Interface::S3) {
        s3::add_to_linker::<HostState, Caps>(&mut linker, HostState::caps)?;
    }
    if grants.allows(Interface::Dynamodb) {
        dynamodb::add_to_linker::<HostState, Caps>(&mut linker, HostState::caps)?;
    }
    if grants.allows(Interface::Ecs) {
        ecs::add_to_linker::<HostState, Caps>(&mut linker, HostState::caps)?;
    }
    if grants.allows(Interface::Terraform) {
        terraform::add_to_linker::<HostState, Caps>(&mut linker, HostState::caps)?;
    }
    Ok(linker)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host links by the contract's table; what that table says is tested in
    /// `forge-contract`. Here: the names the host exports still mean the same.
    #[test]
    fn the_host_speaks_the_contract() {
        assert_eq!(WIT_VERSION, forge_contract::VERSION);
        assert_eq!(
            Interface::Files.import_name(),
            format!("forge:plugin/files@{WIT_VERSION}")
        );
        let push = GrantSet::from_grants(&[AWS]);
        assert!(push.allows(Interface::Registry) && push.has_capability(REGISTRY));
        // `docker.build-with-secrets` takes `secrets` handles: granting docker grants them.
        assert!(GrantSet::from_grants(&[FILES_READ, DOCKER]).has_capability(SECRETS));
        assert!(!GrantSet::from_grants(&[FILES_READ]).has_capability(SECRETS));
    }
}
