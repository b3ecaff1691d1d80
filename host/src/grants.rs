//! The one place that decides what a step's plugin may import.
//!
//! A component imports exactly the interfaces it uses (wit-component drops the rest), so
//! its imports are the capabilities it asks for. [`GrantSet::from_grants`] turns the
//! `grant` lines of `project.kdl` into the set of interfaces the host links;
//! [`check_imports`] compares a component's imports with that set *before* anything is
//! instantiated, so an ungranted plugin never runs a single instruction.
//!
//! | interface                      | capability   | linked                 |
//! |--------------------------------|--------------|------------------------|
//! | `forge:plugin/types@0.1.0`     | —            | always (types only)    |
//! | `forge:plugin/log@0.1.0`       | —            | always                 |
//! | `forge:plugin/outputs@0.1.0`   | —            | always                 |
//! | `forge:plugin/files@0.1.0`     | `files.read` | iff granted            |
//! | `forge:plugin/secrets@0.1.0`   | `secrets`    | iff granted            |
//! | `forge:plugin/docker@0.1.0`    | `docker`     | iff granted            |
//! | `forge:plugin/registry@0.1.0`  | `registry`   | iff granted            |
//! | `forge:plugin/aws@0.1.0`       | `aws`        | iff granted            |
//!
//! `docker`, `registry` and `aws` reach the network, so their results are not a function
//! of the step's inputs; a step granted one is trusted to make its manifest describe what
//! it did (the image digest, the pushed digest) rather than when.

use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker};

use crate::bindings::forge::plugin::{aws, docker, files, log, outputs, registry, secrets, types};
use crate::error::HostError;
use crate::state::HostState;

/// The WIT package the host speaks.
pub const WIT_PACKAGE: &str = "forge:plugin";
/// Its version; plugins built against any `0.1.x` are accepted (see the WIT's header).
pub const WIT_VERSION: &str = "0.1.0";
/// The capability that links `files`.
pub const FILES_READ: &str = "files.read";
/// The capability that links `secrets`.
pub const SECRETS: &str = "secrets";
/// The capability that links `docker`.
pub const DOCKER: &str = "docker";
/// The capability that links `registry`.
pub const REGISTRY: &str = "registry";
/// The capability that links `aws`.
pub const AWS: &str = "aws";

/// One interface of the `step` world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    Types,
    Log,
    Outputs,
    Files,
    Secrets,
    Docker,
    Registry,
    Aws,
}

impl Interface {
    pub const ALL: [Interface; 8] = [
        Interface::Types,
        Interface::Log,
        Interface::Outputs,
        Interface::Files,
        Interface::Secrets,
        Interface::Docker,
        Interface::Registry,
        Interface::Aws,
    ];

    /// The interface's name inside the package (`files`).
    pub fn name(self) -> &'static str {
        match self {
            Interface::Types => "types",
            Interface::Log => "log",
            Interface::Outputs => "outputs",
            Interface::Files => "files",
            Interface::Secrets => "secrets",
            Interface::Docker => "docker",
            Interface::Registry => "registry",
            Interface::Aws => "aws",
        }
    }

    /// The capability a step must be granted to get it; `None` for the always-linked ones.
    pub fn capability(self) -> Option<&'static str> {
        match self {
            Interface::Types | Interface::Log | Interface::Outputs => None,
            Interface::Files => Some(FILES_READ),
            Interface::Secrets => Some(SECRETS),
            Interface::Docker => Some(DOCKER),
            Interface::Registry => Some(REGISTRY),
            Interface::Aws => Some(AWS),
        }
    }

    /// The full import name, `forge:plugin/files@0.1.0`.
    pub fn import_name(self) -> String {
        format!("{WIT_PACKAGE}/{}@{WIT_VERSION}", self.name())
    }

    fn from_name(name: &str) -> Option<Interface> {
        Interface::ALL.into_iter().find(|i| i.name() == name)
    }
}

/// The capabilities one step is granted, as far as this host understands them. Grants of
/// capabilities this host does not know are ignored here: they can only ever *add*
/// interfaces, and a plugin importing one fails as an unknown import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GrantSet {
    pub files_read: bool,
    pub secrets: bool,
    pub docker: bool,
    pub registry: bool,
    pub aws: bool,
}

impl GrantSet {
    /// The decision: which interfaces a step granted `grants` (as written in
    /// `project.kdl`) gets.
    pub fn from_grants<S: AsRef<str>>(grants: &[S]) -> GrantSet {
        let has = |cap: &str| grants.iter().any(|g| g.as_ref() == cap);
        GrantSet {
            files_read: has(FILES_READ),
            secrets: has(SECRETS),
            docker: has(DOCKER),
            registry: has(REGISTRY),
            aws: has(AWS),
        }
    }

    /// Whether the step may import `interface`.
    pub fn allows(self, interface: Interface) -> bool {
        match interface {
            Interface::Types | Interface::Log | Interface::Outputs => true,
            Interface::Files => self.files_read,
            Interface::Secrets => self.secrets,
            Interface::Docker => self.docker,
            Interface::Registry => self.registry,
            Interface::Aws => self.aws,
        }
    }

    /// Whether the step is granted the capability called `capability`.
    pub fn has_capability(self, capability: &str) -> bool {
        Interface::ALL
            .into_iter()
            .any(|i| i.capability() == Some(capability) && self.allows(i))
    }
}

/// Refuses a component that imports anything the step is not granted or forge does not
/// provide. Runs before instantiation.
pub fn check_imports(
    plugin: &str,
    component: &Component,
    engine: &Engine,
    grants: GrantSet,
) -> Result<(), HostError> {
    let ty = component.component_type();
    for (name, item) in ty.imports(engine) {
        let interface = match classify_import(name) {
            Some(_) if !matches!(item.ty, ComponentItem::ComponentInstance(_)) => None,
            other => other,
        };
        let interface = match interface {
            None => {
                return Err(HostError::UnknownImport {
                    plugin: plugin.to_owned(),
                    import: name.to_owned(),
                });
            }
            Some(Err(())) => {
                return Err(HostError::VersionMismatch {
                    plugin: plugin.to_owned(),
                    import: name.to_owned(),
                });
            }
            Some(Ok(interface)) => interface,
        };
        if !grants.allows(interface) {
            return Err(HostError::Ungranted {
                plugin: plugin.to_owned(),
                capability: interface.capability().unwrap_or_default().to_owned(),
            });
        }
    }
    Ok(())
}

/// What an import name refers to: `None` if it is not one of ours at all, `Some(Err(()))`
/// if it is ours but from an incompatible contract version.
fn classify_import(name: &str) -> Option<Result<Interface, ()>> {
    let (package, rest) = name.split_once('/')?;
    if package != WIT_PACKAGE {
        return None;
    }
    let (iface, version) = rest.split_once('@').unwrap_or((rest, ""));
    let interface = Interface::from_name(iface)?;
    Some(if version_compatible(version) {
        Ok(interface)
    } else {
        Err(())
    })
}

/// `0.1.x` is compatible with `0.1.0` (below 1.0 the minor version is the breaking one).
fn version_compatible(version: &str) -> bool {
    let ours = WIT_VERSION
        .rsplit_once('.')
        .map_or(WIT_VERSION, |(mm, _)| mm);
    version
        .rsplit_once('.')
        .is_some_and(|(major_minor, patch)| {
            major_minor == ours && !patch.is_empty() && patch.bytes().all(|b| b.is_ascii_digit())
        })
}

/// A linker with exactly the interfaces `grants` allows.
pub(crate) fn linker(engine: &Engine, grants: GrantSet) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    types::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    log::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    outputs::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    if grants.allows(Interface::Files) {
        files::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    }
    if grants.allows(Interface::Secrets) {
        secrets::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    }
    if grants.allows(Interface::Docker) {
        docker::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    }
    if grants.allows(Interface::Registry) {
        registry::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    }
    if grants.allows(Interface::Aws) {
        aws::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
    }
    Ok(linker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_decide_interfaces() {
        let none = GrantSet::from_grants::<&str>(&[]);
        assert!(none.allows(Interface::Log) && none.allows(Interface::Outputs));
        assert!(!none.allows(Interface::Files) && !none.allows(Interface::Secrets));
        let files = GrantSet::from_grants(&["files.read", "docker"]);
        assert!(files.allows(Interface::Files) && !files.allows(Interface::Secrets));
        assert!(files.allows(Interface::Docker) && !files.allows(Interface::Registry));
        assert!(!files.allows(Interface::Aws) && files.has_capability("docker"));
        let push = GrantSet::from_grants(&["registry", "aws"]);
        assert!(push.allows(Interface::Registry) && push.allows(Interface::Aws));
        assert!(!push.allows(Interface::Docker) && !none.allows(Interface::Docker));
        let all = GrantSet::from_grants(&["secrets".to_string(), "files.read".to_string()]);
        assert!(all.allows(Interface::Secrets) && all.has_capability("files.read"));
        assert!(!GrantSet::from_grants(&["files.readx"]).files_read);
    }

    #[test]
    fn import_names() {
        assert_eq!(
            classify_import("forge:plugin/files@0.1.0"),
            Some(Ok(Interface::Files))
        );
        assert_eq!(
            classify_import("forge:plugin/log@0.1.3"),
            Some(Ok(Interface::Log))
        );
        assert_eq!(classify_import("forge:plugin/log@0.2.0"), Some(Err(())));
        assert_eq!(classify_import("forge:plugin/log"), Some(Err(())));
        assert_eq!(
            classify_import("forge:plugin/docker@0.1.0"),
            Some(Ok(Interface::Docker))
        );
        assert_eq!(
            classify_import("forge:plugin/registry@0.1.0"),
            Some(Ok(Interface::Registry))
        );
        assert_eq!(
            classify_import("forge:plugin/aws@0.1.0"),
            Some(Ok(Interface::Aws))
        );
        for unknown in [
            "wasi:cli/environment@0.2.0",
            "wasi:filesystem/types@0.2.0",
            "forge:plugin/kubernetes@0.1.0",
            "forge:other/log@0.1.0",
            "log",
        ] {
            assert_eq!(classify_import(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn versions() {
        assert!(version_compatible("0.1.0"));
        assert!(version_compatible("0.1.7"));
        assert!(!version_compatible("0.2.0"));
        assert!(!version_compatible("1.1.0"));
        assert!(!version_compatible(""));
        assert!(!version_compatible("0.1."));
    }
}
