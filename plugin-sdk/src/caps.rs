//! The types of the `docker`, `registry` and `aws` capabilities, the same on wasm and under
//! [`MockHost`](crate::MockHost). Each mirrors its WIT record; the WIT comments in
//! `wit/plugin.wit` are the reference for what the host does.

use std::fmt;

/// `docker.build-request`: what to build. The plugin makes `context` deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildRequest {
    /// The build context as a tar archive.
    pub context: Vec<u8>,
    /// Path of the Dockerfile inside the context.
    pub dockerfile: String,
    /// `--build-arg`s, sorted by name.
    pub build_args: Vec<(String, String)>,
    /// The stage to build.
    pub target: Option<String>,
    /// Labels added to the image config.
    pub labels: Vec<(String, String)>,
    /// Every timestamp in the image is set to (or clamped at) this.
    pub source_date_epoch: u64,
    /// Local tags of the result.
    pub tags: Vec<String>,
}

/// One blob of a built image, stored as one of the step's output files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Blob {
    /// `sha256:<hex>`.
    pub digest: String,
    pub size: u64,
    #[serde(rename = "media-type")]
    pub media_type: String,
    /// The output file holding it.
    pub output: String,
}

/// A built image, normalized and described as an OCI image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The local image ID (the config's digest).
    pub id: String,
    /// The OCI manifest, canonical JSON.
    pub manifest: String,
    /// The manifest's digest: the image's digest in any registry.
    pub digest: String,
    pub config: Blob,
    pub layers: Vec<Blob>,
}

/// `docker.docker-error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerError {
    /// The engine could not be reached.
    Unreachable(String),
    /// The build failed; the engine's message.
    BuildFailed(String),
    Other(String),
}

impl fmt::Display for DockerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DockerError::Unreachable(m) => write!(f, "cannot reach the Docker Engine: {m}"),
            DockerError::BuildFailed(m) => write!(f, "docker build failed: {m}"),
            DockerError::Other(m) => write!(f, "Docker Engine error: {m}"),
        }
    }
}

/// `registry.registry-error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    Unreachable(String),
    /// The registry refused the credentials.
    Unauthorized(String),
    Other(String),
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::Unreachable(m) | RegistryError::Other(m) => f.write_str(m),
            RegistryError::Unauthorized(m) => {
                write!(f, "the registry refused the credentials: {m}")
            }
        }
    }
}

/// Registry credentials held by the host: a plugin can pass them on, never read them.
pub struct Credentials {
    pub(crate) registry: String,
    #[cfg(target_arch = "wasm32")]
    pub(crate) handle: crate::guest::bindings::forge::plugin::registry::Credentials,
}

impl Credentials {
    /// The registry host they are for.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn mock(registry: &str) -> Credentials {
        Credentials {
            registry: registry.to_owned(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({:?})", self.registry)
    }
}

/// A blob to push, taken from an upstream step's output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamBlob {
    pub step: String,
    pub output: String,
    pub digest: String,
}

/// Where AWS calls go: overrides of the standard chain's region and endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsTarget {
    pub region: Option<String>,
    pub endpoint: Option<String>,
}

/// `aws.aws-error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsError {
    /// No credentials, or AWS refused them.
    Credentials(String),
    /// The endpoint could not be reached.
    Unreachable(String),
    /// The service's error code and message.
    Service { code: String, message: String },
    /// `s3.s3-error.precondition-failed`: an object written only if absent was there.
    PreconditionFailed,
    /// `dynamodb.dynamodb-error.conditional-check-failed`: an item written only if absent
    /// was there.
    ConditionalCheckFailed,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AwsError::Credentials(m) | AwsError::Unreachable(m) => f.write_str(m),
            AwsError::Service { code, message } => write!(f, "{code}: {message}"),
            AwsError::PreconditionFailed => f.write_str("the object already exists"),
            AwsError::ConditionalCheckFailed => f.write_str("the item already exists"),
        }
    }
}

/// `s3.object-meta`: what changes when anyone writes the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub etag: String,
    /// Set in a versioned bucket.
    pub version_id: Option<String>,
    pub size: u64,
}

/// `s3.object`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    pub body: Vec<u8>,
    pub meta: ObjectMeta,
}

/// `terraform.terraform-error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerraformError {
    /// No usable `terraform` on the machine.
    NotInstalled(String),
    /// `init` could not install a provider (no network, no mirror).
    ProviderUnavailable(String),
    /// The command failed; its last lines.
    Failed(String),
}

impl fmt::Display for TerraformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TerraformError::NotInstalled(m)
            | TerraformError::ProviderUnavailable(m)
            | TerraformError::Failed(m) => f.write_str(m),
        }
    }
}

impl From<TerraformError> for crate::Error {
    fn from(e: TerraformError) -> Self {
        let help = match &e {
            TerraformError::NotInstalled(_) => {
                "install Terraform 1.10 or newer on the machine forge runs on, or set FORGE_TERRAFORM to its path"
            }
            TerraformError::ProviderUnavailable(_) => {
                "give the machine network to registry.terraform.io, or a provider mirror (FORGE_TERRAFORM_MIRROR); docs/deploy.md says how"
            }
            TerraformError::Failed(_) => "Terraform's own message is above",
        };
        crate::Error::new(e.to_string()).with_help(help)
    }
}

/// `terraform.plan-summary`: Terraform's own plan summary.
pub use forge_contract::terraform::PlanSummary;

/// `terraform.root-file`: one file of the root module, an upstream step's output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootFile {
    /// Its name in the root module (`main.tf`).
    pub name: String,
    pub step: String,
    pub output: String,
}

/// `terraform.workspace`: what `terraform.init` lays out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workspace {
    pub files: Vec<RootFile>,
    /// Where the root module sits relative to the project root.
    pub dir: String,
    /// `-backend-config` settings: (name, HCL value).
    pub backend: Vec<(String, String)>,
}

/// `dynamodb.item`: an item's string attributes, by name.
pub type Item = std::collections::BTreeMap<String, String>;

/// An ECR repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub name: String,
    pub uri: String,
    pub arn: String,
    pub immutable_tags: bool,
}

impl From<DockerError> for crate::Error {
    fn from(e: DockerError) -> Self {
        let help = match &e {
            DockerError::Unreachable(_) => {
                "start the Docker Engine, or point DOCKER_HOST at it (locally: `scripts/local-stack up`)"
            }
            DockerError::BuildFailed(_) => {
                "fix the Dockerfile or the build context; the build's log is above"
            }
            DockerError::Other(_) => "see the Docker Engine's log",
        };
        crate::Error::new(e.to_string()).with_help(help)
    }
}

impl From<RegistryError> for crate::Error {
    fn from(e: RegistryError) -> Self {
        let help = match &e {
            RegistryError::Unreachable(_) => {
                "check the registry's `url` in project.kdl and that it is running"
            }
            RegistryError::Unauthorized(_) => {
                "check the AWS credentials forge runs with, and that they may push to this repository"
            }
            RegistryError::Other(_) => "see the registry's message",
        };
        crate::Error::new(e.to_string()).with_help(help)
    }
}

impl From<AwsError> for crate::Error {
    fn from(e: AwsError) -> Self {
        let help = match &e {
            AwsError::Credentials(_) => {
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, for the account that owns the registry"
            }
            AwsError::Unreachable(_) => {
                "check the registry's `endpoint` in project.kdl (or AWS_ENDPOINT_URL) and the network"
            }
            AwsError::Service { .. } => "see the AWS error above",
            AwsError::PreconditionFailed | AwsError::ConditionalCheckFailed => {
                "another writer got there first"
            }
        };
        crate::Error::new(e.to_string()).with_help(help)
    }
}
