//! The project model: `project.kdl` (KDL v2) parsed into typed, validated values.
//!
//! - [`load`] / [`parse`] read a file into a [`Project`]: the base layer plus one overlay per
//!   `env` block. Every environment is resolved and validated at load time, so an error in
//!   `prod` is caught by a `forge plan` run against `dev`.
//! - [`Project::resolve`] picks one env's [`Config`] (base merged with that env's overlay):
//!   the complete, validated description of what that environment ships.
//!
//! Inside: [`parse`](self::parse) runs the pipeline; `schema` is the table of which nodes go
//! where; `merge` applies env overlays on the KDL tree; `read` and `convert` turn nodes into
//! typed values with defaults; `validate` checks references and the disk; `error` holds
//! the diagnostics.
//! - Every value keeps its [`SourceSpan`] so later stages (graph expansion, cycle detection)
//!   can point at the line that caused a problem.
//!
//! The schema is documented for users in `docs/project-kdl.md`.

mod convert;
mod error;
mod merge;
mod parse;
mod read;
pub(crate) mod schema;
mod service;
mod terraform;
mod validate;
mod value;

pub use convert::defaults;
pub use error::{ModelError, ModelErrors};
pub use parse::IMPLICIT_ENV;
pub use value::{ConfigValue, RefValue};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};

/// The schema version this forge understands (`version 1` at the top of `project.kdl`).
pub const SCHEMA_VERSION: u32 = 1;

/// The file name forge looks for in the current directory and its parents.
pub const PROJECT_FILE: &str = "project.kdl";

/// The text of a `project.kdl`, kept for diagnostics.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: Arc<str>,
}

impl SourceFile {
    /// A `NamedSource` for miette labels.
    pub fn named(&self) -> NamedSource<Arc<str>> {
        NamedSource::new(self.display_path(), self.text.clone())
    }

    /// The path as a user would type it from where forge runs: relative to the current
    /// directory when the file is at or above it (`project.kdl`, `../../project.kdl`),
    /// absolute otherwise.
    pub fn display_path(&self) -> String {
        let cwd = std::env::current_dir().ok();
        cwd.and_then(|cwd| relative_to(&self.path, &cwd))
            .unwrap_or_else(|| self.path.display().to_string())
    }
}

fn relative_to(path: &Path, cwd: &Path) -> Option<String> {
    if let Ok(below) = path.strip_prefix(cwd) {
        return Some(below.display().to_string());
    }
    let dir = path.parent()?;
    let depth = cwd.strip_prefix(dir).ok()?.components().count();
    let up = "../".repeat(depth);
    Some(format!("{up}{}", path.file_name()?.to_string_lossy()))
}

/// A value together with where it was written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Spanned<T> {
    pub value: T,
    pub span: SourceSpan,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: SourceSpan) -> Self {
        Spanned { value, span }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// A parsed `project.kdl`.
#[derive(Debug, Clone)]
pub struct Project {
    /// Directory that holds `project.kdl`; every relative path in the file is relative to it.
    pub root: PathBuf,
    pub source: SourceFile,
    /// Every environment, resolved and validated (base + overlay), by name.
    pub envs: BTreeMap<String, Config>,
    /// The env used when `--env` is not given (`default-env` in the `project` node).
    pub default_env: Spanned<String>,
}

impl Project {
    /// The resolved config for `env`, or an "unknown env" error with a suggestion.
    // A diagnostic carries its source text and labels; it is built once per failed command,
    // so its size does not matter.
    #[allow(clippy::result_large_err)]
    pub fn resolve(&self, env: Option<&str>) -> Result<&Config, ModelError> {
        let name = env.unwrap_or(&self.default_env.value);
        self.envs.get(name).ok_or_else(|| {
            ModelError::unknown_env(name, self.envs.keys().map(String::as_str), &self.source)
        })
    }
}

/// Reads and validates the project file at `path`.
pub fn load(path: &Path) -> Result<Project, ModelErrors> {
    let bytes = std::fs::read(path).map_err(|e| ModelErrors::io(path, e))?;
    parse_bytes(path, &bytes)
}

/// Parses and validates a project file's raw bytes: text that is not UTF-8 is reported at
/// the first byte that is not, like any other syntax error.
pub fn parse_bytes(path: &Path, bytes: &[u8]) -> Result<Project, ModelErrors> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(path, text),
        Err(err) => {
            // The lossy text is byte-identical up to the bad byte, so the offset holds.
            let text: Arc<str> = String::from_utf8_lossy(bytes).into();
            let at = err.valid_up_to();
            let bad = &bytes[at..at + err.error_len().unwrap_or(bytes.len() - at)];
            let hex: Vec<String> = bad.iter().map(|b| format!("0x{b:02x}")).collect();
            let source = SourceFile {
                path: path.to_path_buf(),
                text,
            };
            Err(ModelError::Syntax {
                message: "the project file is not UTF-8 text".into(),
                src: source.named(),
                span: SourceSpan::new(at.into(), char::REPLACEMENT_CHARACTER.len_utf8()),
                label: format!("invalid UTF-8: {}", hex.join(" ")),
                help: "save project.kdl as UTF-8 (KDL files are UTF-8); if this is not your \
                       project file, move it out of the way"
                    .into(),
            }
            .into())
        }
    }
}

/// Attributes a `(ref)"service.NAME.ATTR"` may name: what the build steps of a service output
/// (`image` = repository URL + digest, `digest` = `sha256:...`) and the service's own values,
/// so module inputs follow an env's overrides without repeating them.
pub const SERVICE_REF_ATTRS: &[&str] = &[
    "image",
    "digest",
    "repository",
    "port",
    "cpu",
    "memory",
    "desired-count",
    "secrets",
    "secret-arns",
    "ssm-parameters",
];

/// Parses and validates project source text. `path` is used for diagnostics and as the root.
pub fn parse(path: &Path, text: &str) -> Result<Project, ModelErrors> {
    parse::parse_project(path, text)
}

/// Finds `project.kdl` in `start` or its closest ancestor. Anything by that name counts
/// (a directory, a dangling link), so [`load`] reports what is wrong with it instead of
/// the search silently passing it by for a parent's project.
pub fn find_project_file(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(PROJECT_FILE))
        .find(|candidate| candidate.symlink_metadata().is_ok())
}

/// Everything one environment ships: the base file with that env's overlay applied.
#[derive(Debug, Clone)]
pub struct Config {
    pub env: String,
    pub project: Spanned<String>,
    pub region: Spanned<String>,
    /// Where the sources live (`project { source "URL" }`): images' OCI source label.
    pub source: Option<Spanned<String>>,
    pub services: BTreeMap<String, Service>,
    pub registries: BTreeMap<String, Registry>,
    pub modules: BTreeMap<String, Module>,
    pub state: Option<StateBackend>,
    /// The shared remote cache (`cache { s3 …; trust … }`), when the project has one.
    pub cache: Option<RemoteCacheDecl>,
    pub plugins: BTreeMap<String, PluginDecl>,
    pub steps: BTreeMap<String, StepDecl>,
    /// Free-form values of the env (`var "name" value`), usable as module inputs.
    pub vars: BTreeMap<String, Spanned<ConfigValue>>,
}

/// A container service: an image built from a context, pushed, and run on ECS.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: Spanned<String>,
    pub build: BuildSpec,
    /// Name of a `registry` node; `None` means the project's only registry.
    pub registry: Option<Spanned<String>>,
    pub repository: Spanned<String>,
    pub port: Spanned<u16>,
    pub cpu: Spanned<u32>,
    pub memory: Spanned<u32>,
    pub desired_count: Spanned<u32>,
    pub health_check: HealthCheck,
    pub load_balancer: Spanned<LoadBalancer>,
    pub env_vars: BTreeMap<String, Spanned<String>>,
    pub secrets: BTreeMap<String, Spanned<SecretRef>>,
    /// Other services this one calls (ordering for rollout, and the `BACKEND_URL`-style wiring).
    pub depends_on: Vec<Spanned<String>>,
    /// The `module` that runs this service on ECS (`deployed-by "backend-service"`): its
    /// outputs `cluster_arn`, `service_name` and `task_definition_arn` (those of
    /// modules/ecs-service) say which service `ecs-rollout` follows.
    pub deployed_by: Option<Spanned<String>>,
    pub rollout: Rollout,
    pub span: SourceSpan,
}

/// How `ecs-rollout` follows a service (`rollout timeout="10m" poll="5s"`).
#[derive(Debug, Clone)]
pub struct Rollout {
    /// How long the rollout may take before it counts as stalled.
    pub timeout: Spanned<std::time::Duration>,
    /// The pause between two polls of ECS.
    pub poll: Spanned<std::time::Duration>,
}

#[derive(Debug, Clone)]
pub struct BuildSpec {
    /// Build context, relative to the project root.
    pub context: Spanned<PathBuf>,
    /// Dockerfile, relative to the context.
    pub dockerfile: Spanned<PathBuf>,
    pub args: BTreeMap<String, Spanned<String>>,
    pub target: Option<Spanned<String>>,
    /// Extra input globs beyond the context (relative to the project root).
    pub inputs: Vec<Spanned<String>>,
    /// Files placed into the build context from other steps' outputs: path inside the
    /// context → `(ref)"step.NAME.OUTPUT"`. How a binary built by a `command` step reaches
    /// the image through the step graph rather than through a file left on disk.
    pub artifacts: BTreeMap<String, Spanned<ConfigValue>>,
    /// Secrets the Dockerfile mounts (`RUN --mount=type=secret,id=NAME`), by reference:
    /// `secret "NAME" from="REF"`. forge reads each when the image is built and hands it to
    /// the engine's BuildKit only; the reference, not the value, feeds the fingerprint.
    pub secrets: BTreeMap<String, Spanned<SecretRef>>,
}

#[derive(Debug, Clone)]
pub struct HealthCheck {
    pub path: Spanned<String>,
    pub interval_secs: Spanned<u32>,
    pub timeout_secs: Spanned<u32>,
    pub healthy_threshold: Spanned<u32>,
    pub unhealthy_threshold: Spanned<u32>,
    pub matcher: Spanned<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadBalancer {
    /// Internet-facing ALB.
    Public,
    /// ALB reachable only inside the VPC.
    Internal,
    /// No load balancer (workers).
    None,
}

/// A secret by reference: forge never stores its value, nor passes it to a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretRef {
    /// `arn:aws:secretsmanager:...`
    SecretsManager(String),
    /// `ssm:/path/to/param`: the parameter's name (its path), in `region`: the project's
    /// (filled in once the project is read), where a step's value is read. A task
    /// definition names it by path alone, and ECS reads it in the task's own region.
    Ssm { path: String, region: String },
    /// `env:NAME`: an environment variable of the forge process (a CI credential), for a
    /// step's secrets only.
    Env(String),
}

impl SecretRef {
    /// What an ECS task definition's `secrets[].valueFrom` says: the secret's ARN, or the
    /// parameter's name (ECS resolves a name in the task's own region and account).
    /// `None` for an environment variable, which ECS cannot read (services refuse it).
    pub fn value_from(&self) -> Option<&str> {
        match self {
            SecretRef::SecretsManager(arn) => Some(arn),
            SecretRef::Ssm { path, .. } => Some(path),
            SecretRef::Env(_) => None,
        }
    }

    /// The region of a Secrets Manager secret ARN (`arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME`),
    /// where its value is read; `None` when the ARN is not of that shape.
    pub(crate) fn arn_region(arn: &str) -> Option<&str> {
        let mut parts = arn.splitn(7, ':');
        let (Some("arn"), Some(_partition), Some("secretsmanager"), Some(region), Some(account)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let (Some("secret"), Some(name)) = (parts.next(), parts.next()) else {
            return None;
        };
        (!region.is_empty() && !account.is_empty() && !name.is_empty()).then_some(region)
    }

    /// Where a step's value is read: the ARN's region, the project's for a parameter;
    /// `None` for an environment variable.
    pub fn region(&self) -> Option<&str> {
        match self {
            SecretRef::SecretsManager(arn) => SecretRef::arn_region(arn),
            SecretRef::Ssm { region, .. } => Some(region),
            SecretRef::Env(_) => None,
        }
    }

    /// The reference as project.kdl writes it (`from=`): what feeds a fingerprint, never
    /// the value (rotating a secret reruns nothing; pointing at another one does).
    pub fn reference(&self) -> String {
        match self {
            SecretRef::SecretsManager(arn) => arn.clone(),
            SecretRef::Ssm { path, .. } => format!("ssm:{path}"),
            SecretRef::Env(name) => format!("env:{name}"),
        }
    }
}

impl serde::Serialize for SecretRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.reference())
    }
}

#[derive(Debug, Clone)]
pub struct Registry {
    pub name: Spanned<String>,
    pub kind: Spanned<RegistryKind>,
    /// Registry host (e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com`, `127.0.0.1:5000`).
    pub url: Spanned<String>,
    /// AWS API endpoint override (local endpoints such as moto).
    pub endpoint: Option<Spanned<String>>,
    pub create_repositories: Spanned<bool>,
    pub immutable_tags: Spanned<bool>,
    /// An `oci` registry's login: the user and the secret that holds the password, which
    /// the push step is given and the host reads (`registry.login`); never for ECR, whose
    /// credentials come from `GetAuthorizationToken`.
    pub login: Option<RegistryLogin>,
}

/// `username "U"` and `password from="REF"` of an `oci` registry.
#[derive(Debug, Clone)]
pub struct RegistryLogin {
    pub username: Spanned<String>,
    pub password: Spanned<SecretRef>,
}

impl RegistryLogin {
    /// The name the push step gets the password secret under.
    pub const PASSWORD_SECRET: &'static str = "REGISTRY_PASSWORD";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryKind {
    Ecr,
    /// A plain OCI/Docker registry.
    Oci,
}

/// A Terraform module that makes part of the infrastructure.
#[derive(Debug, Clone)]
pub struct Module {
    pub name: Spanned<String>,
    /// Folder with the module's `.tf` files, relative to the project root.
    pub source: Spanned<PathBuf>,
    /// Input variables: literals, or references (`(ref)"module.vpc.vpc_id"`,
    /// `(ref)"service.backend.image"`, `(ref)"var.cidr"`).
    pub inputs: BTreeMap<String, Spanned<ConfigValue>>,
    pub span: SourceSpan,
}

/// The shared remote cache: an S3 bucket and prefix where agents share step results, and
/// the writers whose signed entries are served (see [`crate::remote`]).
#[derive(Debug, Clone)]
pub struct RemoteCacheDecl {
    pub bucket: Spanned<String>,
    /// Prepended to every object key (`forge-cache/`); may be empty.
    pub prefix: Spanned<String>,
    /// The bucket's region; the project's region when not given.
    pub region: Spanned<String>,
    pub endpoint: Option<Spanned<String>>,
    /// Trusted writer name → its public key (`ed25519:…`), already checked to parse.
    pub trusted: BTreeMap<String, Spanned<String>>,
    pub span: SourceSpan,
}

/// Where Terraform state lives and how it is locked.
#[derive(Debug, Clone)]
pub struct StateBackend {
    pub bucket: Spanned<String>,
    /// May contain `{env}`, replaced by the environment's name.
    pub key: Spanned<String>,
    pub region: Spanned<String>,
    pub endpoint: Option<Spanned<String>>,
    pub lock: Spanned<StateLock>,
    pub span: SourceSpan,
}

impl StateBackend {
    /// The state key for `env` (`{env}` replaced by its name).
    pub fn key_for(&self, env: &str) -> String {
        self.key.value.replace("{env}", env)
    }

    /// The env's state and its lock, as the `state-lock` plugin is told them.
    pub fn lock_backend(&self, env: &str) -> forge_contract::lock::Backend {
        let (lockfile, table) = match &self.lock.value {
            StateLock::S3Lockfile => (true, None),
            StateLock::DynamoDb { table } => (false, Some(table.clone())),
            StateLock::Both { table } => (true, Some(table.clone())),
        };
        forge_contract::lock::Backend {
            bucket: self.bucket.value.clone(),
            key: self.key_for(env),
            region: self.region.value.clone(),
            endpoint: self.endpoint.as_ref().map(|e| e.value.clone()),
            lockfile,
            table,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLock {
    /// S3 native lockfile (`use_lockfile = true`, conditional PUT).
    S3Lockfile,
    /// DynamoDB table with a `LockID` string hash key.
    DynamoDb { table: String },
    /// Both, as Terraform takes them with `use_lockfile` and `dynamodb_table` set: the
    /// lockfile first, then the item.
    Both { table: String },
}

/// A plugin a step can run.
#[derive(Debug, Clone)]
pub struct PluginDecl {
    pub name: Spanned<String>,
    pub source: PluginSource,
    /// Capabilities granted to every step run by this plugin (e.g. `files.read`, `docker`, `aws`).
    pub grants: Vec<Spanned<String>>,
    pub span: SourceSpan,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// Embedded in the forge binary (`docker-build`, `ecr-push`, ...).
    Builtin,
    /// A third-party `.wasm` file, relative to the project root, pinned by `blake3:` hash.
    Path { path: PathBuf, hash: String },
}

/// Built-in plugin names (what the service sugar expands into).
pub const BUILTIN_PLUGINS: &[&str] = &[
    "docker-build",
    "ecr-push",
    "terraform-render",
    "terraform-apply",
    "ecs-rollout",
    "command",
];

/// The capabilities a built-in plugin is granted when the project declares no `plugin` node
/// for it: what its job needs, nothing more. `command` is not a wasm plugin at all: forge
/// runs its process directly (see docs/project-kdl.md). The table is the contract's
/// ([`forge_contract::BUILTIN_GRANTS`]), shared with the host and `forge plugin inspect`.
pub fn builtin_grants(plugin: &str) -> &'static [&'static str] {
    forge_contract::builtin_grants(plugin)
}

/// A generic `step` block: anything the service sugar does not cover.
#[derive(Debug, Clone)]
pub struct StepDecl {
    pub name: Spanned<String>,
    pub plugin: Spanned<String>,
    pub config: Spanned<ConfigValue>,
    /// Input globs relative to the project root.
    pub inputs: Vec<Spanned<String>>,
    /// Other steps (user step names or generated ids such as `docker-build:backend`).
    pub needs: Vec<Spanned<String>>,
    /// Process environment variables whose values feed the fingerprint.
    pub env_vars: Vec<Spanned<String>>,
    /// Whether the git commit SHA feeds the fingerprint.
    pub commit_sha: Spanned<bool>,
    /// Secrets the step is given, by name.
    pub secrets: BTreeMap<String, Spanned<SecretRef>>,
    /// `build` (runs in `forge build`) or `deploy` (only in `forge deploy`).
    pub phase: Spanned<Phase>,
    pub span: SourceSpan,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Image build and push: what a CI job with no infrastructure permissions may do.
    Build,
    /// Everything that touches infrastructure.
    Deploy,
}
