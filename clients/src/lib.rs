//! forge's clients for what a step reaches past its sandbox: the Docker Engine, image
//! registries and AWS. Plain async functions and types with their own errors, worded for
//! the user; nothing here knows of wasm, so tests, benchmarks and tools call them as they
//! are, and `forge-host` binds them to a plugin's imports.
//!
//! - [`docker`]: connect to the engine ([`docker::connect`]), build an image and make it
//!   reproducible ([`docker::build`]).
//! - [`oci`]: pure functions from the engine's image export to a normalized OCI image and
//!   back to something the engine loads.
//! - [`registry`]: the OCI distribution calls a push needs ([`registry::RegistryClient`]),
//!   with [`registry::Credentials`] sent only to their registry.
//! - [`aws`]: AWS with the standard chain's credentials ([`aws::Aws`]); ECR login and
//!   repositories.
//! - [`Clients`]: one of each client, made on first use and shared by a host's steps.
//! - `reason`: why a connection failed, in a few words, for the errors above.
//!
//! A new capability is one module here (its client, its calls, its error enum) and, if it
//! keeps a client, one field of [`Clients`]; the host adds its binding to a WIT interface.

pub mod aws;
mod clients;
pub mod docker;
mod http;
pub mod oci;
mod reason;
pub mod registry;

pub use clients::Clients;
