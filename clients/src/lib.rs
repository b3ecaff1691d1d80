//! forge's clients for what a step reaches past its sandbox: the Docker Engine, image
//! registries and AWS. Plain async functions and types with their own errors, worded for
//! the user; nothing here knows of wasm, so tests, benchmarks and tools call them as they
//! are, and `forge-host` binds them to a plugin's imports.
//!
//! - [`docker`]: connect to the engine, build an image and make it reproducible.
//! - [`oci`]: pure functions: the engine's image export to a normalized OCI image, and back.
//! - [`registry`]: the OCI distribution calls a push needs, and registry credentials.
//! - [`terraform`]: the `terraform` CLI as a deploy runs it: version-checked, no ambient
//!   configuration, `-lock=false` inside forge's state lock, failures worded for the user.
//! - [`aws`]: the standard chain's credentials; ECR, S3 objects and DynamoDB items.
//! - [`Clients`]: one of each client, made on first use and shared by a host's steps.
//! - `http`: the HTTP client and exchange the registry and the signed AWS calls share.
//! - `reason`: why a connection failed, in a few words, for the errors above.
//!
//! A new capability is one module here (its client, its calls, its error enum) and, if it
//! keeps a client, one field of [`Clients`]; the host adds its binding to a WIT interface.

pub mod aws;
mod buildkit;
mod clients;
pub mod docker;
mod http;
pub mod oci;
mod reason;
pub mod registry;
pub mod secret_values;
pub mod terraform;
#[cfg(feature = "testing")]
pub mod test_images;
#[cfg(feature = "testing")]
pub mod testing;

pub use clients::Clients;
