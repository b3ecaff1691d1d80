//! Capability names, as written in `project.kdl` (`grant "files.read"`) and in a plugin's
//! `Info` (the SDK re-exports this module as `forge_plugin_sdk::capability`). Each one is
//! a WIT interface the host links only when granted; see [`crate::Capability`] for the
//! table.

/// Read the step's declared input files and upstream output files (`forge:plugin/files`).
pub const FILES_READ: &str = "files.read";
/// Get secrets as opaque handles (`forge:plugin/secrets`).
pub const SECRETS: &str = "secrets";
/// The Docker Engine (`forge:plugin/docker`); implies [`SECRETS`], whose handles
/// `docker.build-with-secrets` takes.
pub const DOCKER: &str = "docker";
/// Image registries (`forge:plugin/registry`); implies [`SECRETS`], whose handle
/// `registry.login` takes.
pub const REGISTRY: &str = "registry";
/// AWS APIs (`forge:plugin/aws`); implies [`REGISTRY`], whose credentials `aws` returns.
pub const AWS: &str = "aws";
/// The `terraform` CLI on the step's rendered root module (`forge:plugin/terraform`).
pub const TERRAFORM: &str = "terraform";
