//! Workspace-level checks and the small tools they share. Tests live in `tests/tests/`.
//!
//! - [`builtins`]: the built-in plugins' manifest (`plugins/dist/manifest.json`), written by
//!   `scripts/build-builtins` and checked by `cargo test`.
//! - [`modules`]: the Terraform modules' README tables, checked against their
//!   `variables.tf` and `outputs.tf`.

pub mod builtins;
pub mod modules;
