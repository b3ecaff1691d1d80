//! The contract between forge and a step plugin, as data: one crate that every side reads,
//! so the host, the engine, the authoring tools and the SDK cannot disagree.
//!
//! | module | what it owns |
//! |---|---|
//! | [`interface`] | the interfaces of `plugin-sdk/wit/plugin.wit` and the capability each needs ([`Interface`], [`Access`], [`Capability`]), and what an import name means ([`classify_import`]) |
//! | [`capability`] | the capability names as `project.kdl` writes them (`grant "files.read"`) |
//! | [`grants`] | a step's granted capabilities ([`GrantSet`], with `aws` implying `registry`), the default grants of the built-ins, and the fewest `grant` lines that cover a set of capabilities |
//! | [`pin`] | plugin pins, `blake3:<hex>` (feature `pin`) |
//! | `lock` | the env's Terraform state lock: Terraform's lock info, the backend, and what the engine and the `state-lock` plugin say to each other (feature `lock`) |
//! | `terraform` | what a Terraform run reports: its plan summary, and the root output that carries a module output to later steps (feature `terraform`) |
//! | `ecs` | ECS services, deployments and tasks as forge reads them, and when a service is settled (feature `ecs`) |
//! | [`path`] | what a path a step names may be ([`check_relative_path`]): declared inputs, output file names |
//!
//! and, here, the contract's version and the rule for which versions run together.
//!
//! The WIT file is the contract's text; this crate is its table. A test
//! (`tests/wit.rs`) parses the WIT and fails when an interface has no entry here, an
//! entry has no interface, or the package version is not [`VERSION`]: adding an
//! interface to the WIT without saying who may use it cannot go unnoticed.
//!
//! The crate has no dependencies without its features (`pin` adds blake3, `lock`, `terraform` and `ecs` serde), so the SDK builds it for
//! `wasm32-unknown-unknown` too.

pub mod capability;
#[cfg(feature = "ecs")]
pub mod ecs;
pub mod grants;
pub mod interface;
#[cfg(feature = "lock")]
pub mod lock;
pub mod path;
#[cfg(feature = "pin")]
pub mod pin;
#[cfg(feature = "terraform")]
pub mod terraform;

pub use grants::{BUILTIN_GRANTS, GrantSet, builtin_grants, fewest_grants};
pub use interface::{Access, Capability, ImportName, Interface, classify_import};
pub use path::check_relative_path;

/// The WIT package of the contract.
pub const PACKAGE: &str = "forge:plugin";

/// The world every step plugin targets.
pub const WORLD: &str = "step";

/// The contract version this forge speaks: the WIT package's version, which the drift test
/// checks. Plugins built for any version [`compatible`] with it run.
pub const VERSION: &str = "0.2.4";

/// The functions a step plugin exports.
pub const EXPORTS: [&str; 2] = ["describe", "run"];

/// `forge:plugin/<interface>@<VERSION>`, the name a component imports an interface by.
pub fn import_name(interface: &str) -> String {
    format!("{PACKAGE}/{interface}@{VERSION}")
}

/// Whether a plugin built for contract `found` runs on a forge speaking `ours`: the same
/// major version and, below 1.0, the same minor (a 0.x minor bump is breaking, as in
/// Cargo). Versions are `MAJOR.MINOR.PATCH`, optionally with `-pre`/`+build`.
pub fn compatible(found: &str, ours: &str) -> bool {
    match (major_minor(found), major_minor(ours)) {
        (Some((fmaj, fmin)), Some((omaj, omin))) => fmaj == omaj && (omaj != 0 || fmin == omin),
        _ => false,
    }
}

/// Whether this forge runs a plugin built for contract `found`.
pub fn speaks(found: &str) -> bool {
    compatible(found, VERSION)
}

/// A version that this forge does *not* speak (the next breaking one), for tests and
/// examples that need one.
pub fn next_breaking_version() -> String {
    match major_minor(VERSION) {
        Some((0, minor)) => format!("0.{}.0", minor + 1),
        Some((major, _)) => format!("{}.0.0", major + 1),
        None => unreachable!("VERSION is a valid version (checked by a test)"),
    }
}

fn major_minor(version: &str) -> Option<(u64, u64)> {
    let core = version.split(['-', '+']).next()?;
    let mut parts = core.split('.');
    let number = |part: Option<&str>| -> Option<u64> {
        let part = part?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let major = number(parts.next())?;
    let minor = number(parts.next())?;
    number(parts.next())?;
    parts.next().is_none().then_some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(compatible("0.1.0", "0.1.0"));
        assert!(compatible("0.1.7", "0.1.0"));
        assert!(!compatible("0.2.0", "0.1.0"));
        assert!(compatible("1.4.0", "1.0.0"));
        assert!(!compatible("2.0.0", "1.0.0"));
        for bad in ["", "garbage", "0.1", "0.1.", "0.1.x", "0.1.0.0"] {
            assert!(!compatible(bad, "0.1.0"), "{bad:?}");
        }
        assert!(compatible("0.1.2-rc.1", "0.1.0"));
        assert!(speaks(VERSION));
        assert!(!speaks(&next_breaking_version()));
        assert_eq!(import_name("log"), format!("forge:plugin/log@{VERSION}"));
    }
}
