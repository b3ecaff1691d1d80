//! What a step is granted: the `grant` lines of its plugin's node in `project.kdl`, or the
//! defaults of a built-in that the project does not declare.

use crate::{Access, Capability, Interface, capability};

/// The capabilities one step is granted, closed under [`Capability::implies`].
///
/// Names this forge does not know are ignored here (`project.kdl` validation reports
/// them): they could only ever *add* interfaces, and a plugin importing an interface this
/// forge lacks is refused as an unknown import anyway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GrantSet(u8);

impl GrantSet {
    /// No capability: `log` and `outputs` only.
    pub const NONE: GrantSet = GrantSet(0);

    /// The set `grants` (as written in `project.kdl`) gives.
    pub fn from_grants<S: AsRef<str>>(grants: &[S]) -> GrantSet {
        grants
            .iter()
            .filter_map(|g| Capability::from_name(g.as_ref()))
            .fold(GrantSet::NONE, GrantSet::with)
    }

    /// This set plus `capability` and what it implies.
    #[must_use]
    pub fn with(self, capability: Capability) -> GrantSet {
        let mut set = GrantSet(self.0 | bit(capability));
        for &implied in capability.implies() {
            set = set.with(implied);
        }
        set
    }

    /// Whether `capability` is granted (directly or implied).
    pub fn contains(self, capability: Capability) -> bool {
        self.0 & bit(capability) != 0
    }

    /// Whether the step may import `interface`.
    pub fn allows(self, interface: Interface) -> bool {
        match interface.access() {
            Access::TypesOnly | Access::Always => true,
            Access::Capability(capability) => self.contains(capability),
        }
    }

    /// Whether the step is granted the capability called `name`.
    pub fn has_capability(self, name: &str) -> bool {
        Capability::from_name(name).is_some_and(|c| self.contains(c))
    }

    /// The granted capabilities, in [`Capability::ALL`]'s order.
    pub fn capabilities(self) -> impl Iterator<Item = Capability> {
        Capability::ALL
            .into_iter()
            .filter(move |&c| self.contains(c))
    }
}

fn bit(capability: Capability) -> u8 {
    1 << (capability as u8)
}

/// The capabilities each built-in plugin gets when the project declares no `plugin` node
/// for it: what its job needs, nothing more. Built-ins not listed get none (`command` is
/// not a wasm plugin: forge runs its process directly).
pub const BUILTIN_GRANTS: &[(&str, &[&str])] = &[
    (
        "docker-build",
        &[capability::FILES_READ, capability::DOCKER],
    ),
    ("ecr-push", &[capability::REGISTRY, capability::AWS]),
    ("ecs-rollout", &[capability::AWS]),
    ("state-lock", &[capability::AWS]),
    (
        "terraform-apply",
        &[
            capability::FILES_READ,
            capability::TERRAFORM,
            capability::AWS,
        ],
    ),
];

/// The default grants of built-in `plugin` (see [`BUILTIN_GRANTS`]).
pub fn builtin_grants(plugin: &str) -> &'static [&'static str] {
    BUILTIN_GRANTS
        .iter()
        .find(|(name, _)| *name == plugin)
        .map_or(&[], |(_, grants)| grants)
}

/// The fewest capabilities whose grant covers all of `needed`: those implied by another
/// one in the set are left out (`registry` and `aws` need only `grant "aws"`). Sorted in
/// [`Capability::ALL`]'s order.
pub fn fewest_grants(needed: &[Capability]) -> Vec<Capability> {
    let mut out: Vec<Capability> = Capability::ALL
        .into_iter()
        .filter(|c| needed.contains(c))
        .collect();
    out.retain(|&c| {
        !needed
            .iter()
            .any(|&other| other != c && GrantSet::NONE.with(other).contains(c))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_decide_interfaces() {
        let none = GrantSet::from_grants::<&str>(&[]);
        assert!(none.allows(Interface::Log) && none.allows(Interface::Outputs));
        assert!(none.allows(Interface::Types));
        assert!(!none.allows(Interface::Files) && !none.allows(Interface::Docker));
        let build = GrantSet::from_grants(&["files.read", "docker"]);
        assert!(build.allows(Interface::Files) && build.allows(Interface::Docker));
        assert!(!build.allows(Interface::Registry));
        // `docker` implies `secrets`, whose handles `docker.build-with-secrets` takes.
        assert!(build.allows(Interface::Secrets));
        assert!(build.has_capability("docker") && !build.has_capability("aws"));
        assert!(!GrantSet::from_grants(&["files.readx"]).contains(Capability::FilesRead));
    }

    #[test]
    fn aws_implies_registry_and_not_the_reverse() {
        let aws = GrantSet::from_grants(&["aws"]);
        assert!(aws.allows(Interface::Aws) && aws.allows(Interface::Registry));
        let registry = GrantSet::from_grants(&["registry"]);
        assert!(registry.allows(Interface::Registry) && !registry.allows(Interface::Aws));
        // ...and `registry` implies `secrets`, whose handle `registry.login` takes.
        assert!(registry.allows(Interface::Secrets));
        assert_eq!(
            aws.capabilities().collect::<Vec<_>>(),
            [Capability::Secrets, Capability::Registry, Capability::Aws]
        );
    }

    #[test]
    fn builtin_defaults_name_real_capabilities() {
        assert_eq!(builtin_grants("docker-build"), ["files.read", "docker"]);
        assert_eq!(builtin_grants("ecr-push"), ["registry", "aws"]);
        assert!(builtin_grants("terraform-render").is_empty());
        for (plugin, grants) in BUILTIN_GRANTS {
            for grant in *grants {
                assert!(Capability::from_name(grant).is_some(), "{plugin}: {grant}");
            }
        }
    }

    #[test]
    fn fewest_grants_drop_the_implied() {
        use Capability::*;
        assert_eq!(fewest_grants(&[Aws, Registry]), [Aws]);
        assert_eq!(fewest_grants(&[Registry]), [Registry]);
        assert_eq!(fewest_grants(&[Docker, FilesRead]), [FilesRead, Docker]);
        assert!(fewest_grants(&[]).is_empty());
    }
}
