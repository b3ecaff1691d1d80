//! Authoring tools for forge plugins: everything `forge plugin new|build|inspect|test`
//! does, as a library.
//!
//! | module | what it holds |
//! |---|---|
//! | [`toolchain`] | finding a compiler for `wasm32-unknown-unknown` (rustup target, or Debian's `-Zbuild-std` fallback) |
//! | [`build`] | a reproducible cargo build, the core module encoded as a component, written atomically |
//! | [`inspect`] | a component's contract version, imports as capabilities, exports, size and hash |
//! | [`scaffold`] | a new plugin crate that builds and tests out of the box |
//! | [`pin`] | `blake3:` hashes and checking a plugin against its pin in `project.kdl` |
//!
//! The host (`forge-host`) calls [`pin::verify_pin_bytes`] before it compiles a
//! third-party plugin, and can use [`inspect::inspect_bytes`] to list what it requests.

pub mod build;
mod error;
pub mod inspect;
pub mod pin;
pub mod scaffold;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod toolchain;
pub mod wrapper;

pub use error::Error;
pub use pin::{PinError, hash_bytes, hash_file, verify_pin, verify_pin_bytes};

/// The WIT package of the plugin contract (`plugin-sdk/wit/plugin.wit`).
pub const CONTRACT_PACKAGE: &str = "forge:plugin";

/// The contract version this forge speaks; plugins for any `0.1.x` run.
pub const CONTRACT_VERSION: &str = "0.1.0";

/// The contract itself, as this forge was built with it.
pub const CONTRACT_WIT: &str = include_str!("../../plugin-sdk/wit/plugin.wit");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_version_matches_the_wit() {
        assert!(
            CONTRACT_WIT.contains(&format!("package {CONTRACT_PACKAGE}@{CONTRACT_VERSION};")),
            "update CONTRACT_VERSION with plugin-sdk/wit/plugin.wit"
        );
    }
}
