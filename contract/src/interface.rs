//! The table: each interface of the `step` world, and what a step must be granted to
//! import it.
//!
//! | interface  | access                         |
//! |------------|--------------------------------|
//! | `types`    | types only, always linked      |
//! | `log`      | always granted                 |
//! | `outputs`  | always granted                 |
//! | `files`    | capability `files.read`        |
//! | `secrets`  | capability `secrets`           |
//! | `docker`   | capability `docker`            |
//! | `registry` | capability `registry`          |
//! | `aws`      | capability `aws`               |
//! | `s3`       | capability `aws`               |
//! | `dynamodb` | capability `aws`               |
//! | `ecs`      | capability `aws`               |
//! | `terraform`| capability `terraform`         |
//!
//! A component imports exactly the interfaces its code calls (the linker and wit-component
//! drop the rest), so its imports are the capabilities it asks for.

use std::fmt;

use crate::capability;

/// One interface of the contract's `step` world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interface {
    Types,
    Log,
    Outputs,
    Files,
    Secrets,
    Docker,
    Registry,
    Aws,
    S3,
    Dynamodb,
    Ecs,
    Terraform,
}

/// What it takes to import an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Shared type definitions; no functions, so nothing to grant.
    TypesOnly,
    /// Granted to every step (`log`, `outputs`).
    Always,
    /// Linked only when the step is granted this capability.
    Capability(Capability),
}

impl Interface {
    /// Every interface, in the WIT's order.
    pub const ALL: [Interface; 12] = [
        Interface::Types,
        Interface::Log,
        Interface::Outputs,
        Interface::Files,
        Interface::Secrets,
        Interface::Docker,
        Interface::Registry,
        Interface::Aws,
        Interface::S3,
        Interface::Dynamodb,
        Interface::Ecs,
        Interface::Terraform,
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
            Interface::S3 => "s3",
            Interface::Dynamodb => "dynamodb",
            Interface::Ecs => "ecs",
            Interface::Terraform => "terraform",
        }
    }

    /// What a step needs to import it.
    pub fn access(self) -> Access {
        match self {
            Interface::Types => Access::TypesOnly,
            Interface::Log | Interface::Outputs => Access::Always,
            Interface::Files => Access::Capability(Capability::FilesRead),
            Interface::Secrets => Access::Capability(Capability::Secrets),
            Interface::Docker => Access::Capability(Capability::Docker),
            Interface::Registry => Access::Capability(Capability::Registry),
            Interface::Aws | Interface::S3 | Interface::Dynamodb | Interface::Ecs => {
                Access::Capability(Capability::Aws)
            }
            Interface::Terraform => Access::Capability(Capability::Terraform),
        }
    }

    /// The capability a step must be granted to import it; `None` for the always-linked.
    pub fn capability(self) -> Option<Capability> {
        match self.access() {
            Access::Capability(capability) => Some(capability),
            Access::TypesOnly | Access::Always => None,
        }
    }

    /// The full import name, `forge:plugin/files@<VERSION>`.
    pub fn import_name(self) -> String {
        crate::import_name(self.name())
    }

    /// The interface called `name` inside the package.
    pub fn from_name(name: &str) -> Option<Interface> {
        Interface::ALL.into_iter().find(|i| i.name() == name)
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A capability a step can be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    FilesRead,
    Secrets,
    Docker,
    Registry,
    Aws,
    Terraform,
}

impl Capability {
    /// Every capability.
    pub const ALL: [Capability; 6] = [
        Capability::FilesRead,
        Capability::Secrets,
        Capability::Docker,
        Capability::Registry,
        Capability::Aws,
        Capability::Terraform,
    ];

    /// The name `project.kdl` grants it by.
    pub fn name(self) -> &'static str {
        match self {
            Capability::FilesRead => capability::FILES_READ,
            Capability::Secrets => capability::SECRETS,
            Capability::Docker => capability::DOCKER,
            Capability::Registry => capability::REGISTRY,
            Capability::Aws => capability::AWS,
            Capability::Terraform => capability::TERRAFORM,
        }
    }

    /// The capability called `name`.
    pub fn from_name(name: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The interfaces it links (`aws` links `aws`, `s3`, `dynamodb` and `ecs`).
    pub fn interfaces(self) -> impl Iterator<Item = Interface> {
        Interface::ALL
            .into_iter()
            .filter(move |i| i.capability() == Some(self))
    }

    /// Capabilities a grant of this one brings along. `aws` returns registry credentials
    /// (`aws.ecr-login`), a resource of the `registry` interface: a component that calls
    /// `aws` imports `registry` too, so granting `aws` alone would be useless. Likewise
    /// `registry.login` and `docker.build-with-secrets` take handles of `secrets`: `registry`
    /// and `docker` imply `secrets`, which gives handles to the secrets the step declares,
    /// never a value.
    pub fn implies(self) -> &'static [Capability] {
        match self {
            Capability::Aws => &[Capability::Registry],
            // `registry.login` takes a `secrets.secret` handle.
            Capability::Registry => &[Capability::Secrets],
            // `docker.build-with-secrets` takes `secrets.secret` handles.
            Capability::Docker => &[Capability::Secrets],
            _ => &[],
        }
    }

    /// What it lets a plugin do, in a few words.
    pub fn summary(self) -> &'static str {
        match self {
            Capability::FilesRead => "read the step's declared input files and upstream outputs",
            Capability::Secrets => "get the step's secrets as opaque handles",
            Capability::Docker => "build images with the Docker Engine",
            Capability::Registry => "read, push to and log in to image registries",
            Capability::Aws => "call AWS APIs with forge's AWS credentials",
            Capability::Terraform => {
                "run the terraform CLI on the step's rendered root module, with forge's AWS credentials"
            }
        }
    }
}

impl Capability {
    /// Whether a step granted it may change something outside this machine (push an
    /// image, call AWS, apply Terraform). Such a step is never run just to check that it
    /// reproduces (`forge build --check`); building with the local Docker Engine is not
    /// such a change.
    pub fn acts_outside(self) -> bool {
        matches!(
            self,
            Capability::Registry | Capability::Aws | Capability::Terraform
        )
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an import name means to forge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportName<'a> {
    /// An interface of the contract, at a version this forge speaks.
    Contract {
        interface: Interface,
        version: &'a str,
    },
    /// An interface of the contract, at a version this forge does not speak.
    OtherVersion {
        interface: &'a str,
        version: &'a str,
    },
    /// `forge:plugin/<name>` with a name the contract does not have.
    UnknownInterface { interface: &'a str },
    /// Anything else (WASI, another package, a bare function).
    Foreign,
}

/// Classifies an import name such as `forge:plugin/files@0.1.0`.
pub fn classify_import(name: &str) -> ImportName<'_> {
    let Some((package, rest)) = name.split_once('/') else {
        return ImportName::Foreign;
    };
    if package != crate::PACKAGE {
        return ImportName::Foreign;
    }
    let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
    match Interface::from_name(interface) {
        None => ImportName::UnknownInterface { interface },
        Some(interface) if crate::speaks(version) => ImportName::Contract { interface, version },
        Some(_) => ImportName::OtherVersion { interface, version },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_capability_links_an_interface_and_back() {
        for capability in Capability::ALL {
            assert!(capability.interfaces().next().is_some(), "{capability}");
            assert_eq!(Capability::from_name(capability.name()), Some(capability));
        }
        let aws: Vec<Interface> = Capability::Aws.interfaces().collect();
        assert_eq!(
            aws,
            [
                Interface::Aws,
                Interface::S3,
                Interface::Dynamodb,
                Interface::Ecs
            ]
        );
        assert_eq!(Capability::from_name("files.write"), None);
    }

    #[test]
    fn import_names() {
        let v = crate::VERSION;
        assert_eq!(
            classify_import(&format!("forge:plugin/files@{v}")),
            ImportName::Contract {
                interface: Interface::Files,
                version: v
            }
        );
        let next = crate::next_breaking_version();
        assert_eq!(
            classify_import(&format!("forge:plugin/log@{next}")),
            ImportName::OtherVersion {
                interface: "log",
                version: &next
            }
        );
        assert!(matches!(
            classify_import("forge:plugin/log"),
            ImportName::OtherVersion { version: "", .. }
        ));
        assert_eq!(
            classify_import(&format!("forge:plugin/kubernetes@{v}")),
            ImportName::UnknownInterface {
                interface: "kubernetes"
            }
        );
        for foreign in ["wasi:cli/environment@0.2.0", "forge:other/log@0.1.0", "log"] {
            assert_eq!(classify_import(foreign), ImportName::Foreign, "{foreign}");
        }
    }
}
