//! Authoring tools for forge plugins: everything `forge plugin new|build|inspect|test`
//! does, as a library.
//!
//! | module | what it holds |
//! |---|---|
//! | [`toolchain`] | finding a compiler for `wasm32-unknown-unknown` (rustup target, or Debian's `-Zbuild-std` fallback) |
//! | [`build`] | a reproducible cargo build, the core module encoded as a component, written atomically |
//! | [`inspect`] | a component's contract version, imports as capabilities (and the `grant` lines they need), exports, size and hash |
//! | `typecheck` | every function a component imports from the contract, and its exports, have the contract's types |
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
pub mod section;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod toolchain;
mod typecheck;
pub mod wrapper;

pub use error::Error;
/// The plugin contract these tools check components against.
pub use forge_contract as contract;
pub use pin::{PinError, hash_bytes, hash_file, verify_pin, verify_pin_bytes};

/// The WIT package of the plugin contract (`plugin-sdk/wit/plugin.wit`).
pub const CONTRACT_PACKAGE: &str = forge_contract::PACKAGE;

/// The contract version this forge speaks (`forge-contract` owns it; plugins for any
/// compatible version run).
pub const CONTRACT_VERSION: &str = forge_contract::VERSION;

/// The contract itself, as this forge was built with it: what `inspect` type-checks a
/// component against.
pub const CONTRACT_WIT: &str = include_str!("../../plugin-sdk/wit/plugin.wit");
