//! [`Context`]: what a running step sees of the world, and the [`Host`] seam under it.
//!
//! On wasm the host is the generated WIT imports, called with static dispatch so the
//! linker drops every import a plugin never calls — a component's imports are the
//! capabilities it asks for, and calling `ctx.secret` is what makes a plugin need
//! `secrets`. Natively the host is a `Box<dyn Host>`, normally [`MockHost`](crate::MockHost)'s.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;

use crate::caps::{
    AwsError, AwsTarget, BuildRequest, Credentials, DockerError, Image, Item, ObjectMeta,
    PlanSummary, RegistryError, Repository, S3Object, TerraformError, UpstreamBlob, Workspace,
};
use crate::{Error, FileError, ecs};

/// Severity of a log line (`types.level` in the WIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed, off by default.
    Trace,
    /// Useful when diagnosing the plugin.
    Debug,
    /// Normal progress messages.
    Info,
    /// Something the user should look at; the step still succeeds.
    Warn,
    /// Something failed; usually followed by the step's error.
    Error,
}

/// A secret by reference: its name, never its value. Pass it to a capability that accepts
/// one ([`Context::registry_login`]); the host reads the value itself.
pub struct Secret {
    pub(crate) name: String,
    // Keeps the host's handle alive (dropping it releases the resource).
    #[cfg(target_arch = "wasm32")]
    pub(crate) handle: crate::guest::bindings::forge::plugin::secrets::Secret,
}

impl Secret {
    /// The name the secret was declared under.
    pub fn name(&self) -> &str {
        &self.name
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn from_name(name: &str) -> Self {
        Secret {
            name: name.to_owned(),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({:?})", self.name)
    }
}

/// The imports a step can call, one method per WIT function.
///
/// Implemented by the real host bindings (on wasm) and by [`MockHost`](crate::MockHost)
/// (natively). **Extension point:** when a capability lands (`docker`, `aws`,
/// `terraform`), it adds methods here with a default body that answers "capability not
/// available", a [`Context`] wrapper, a WIT interface, and a `MockHost` builder method
/// that records canned answers (e.g. `.docker_build(|req| ..)`), so existing hosts and
/// plugins keep compiling.
pub trait Host {
    /// `log.log`.
    fn log(&self, level: Level, message: &str);
    /// `log.progress`.
    fn progress(&self, done: u64, total: u64);
    /// `files.read` (capability `files.read`).
    fn read(&self, path: &str) -> Result<Vec<u8>, FileError>;
    /// `outputs.write`: stores an output file and returns its blake3 hash (hex).
    fn write_output(&self, name: &str, contents: &[u8]) -> Result<String, String>;
    /// `secrets.get` (capability `secrets`).
    fn secret(&self, name: &str) -> Result<Secret, String>;
    /// `files.read-upstream` (capability `files.read`).
    fn read_upstream(&self, step: &str, name: &str) -> Result<Vec<u8>, FileError> {
        Err(FileError::NotDeclared(format!("{step}/{name}")))
    }
    /// `docker.build` (capability `docker`).
    fn docker_build(&self, request: &BuildRequest) -> Result<Image, DockerError> {
        let _ = request;
        Err(DockerError::Other(UNAVAILABLE.into()))
    }
    /// `docker.build-with-secrets` (capability `docker`, with handles from `secrets`).
    fn docker_build_with_secrets(
        &self,
        request: &BuildRequest,
        secrets: &[&Secret],
    ) -> Result<Image, DockerError> {
        let _ = (request, secrets);
        Err(DockerError::Other(UNAVAILABLE.into()))
    }
    /// `registry.login` (capability `registry`, with a handle from `secrets`).
    fn registry_login(
        &self,
        registry: &str,
        username: &str,
        password: &Secret,
    ) -> Result<Credentials, RegistryError> {
        let _ = (registry, username, password);
        Err(RegistryError::Other(UNAVAILABLE.into()))
    }
    /// `registry.resolve` (capability `registry`).
    fn registry_resolve(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
        credentials: Option<&Credentials>,
    ) -> Result<Option<String>, RegistryError> {
        let _ = (registry, repository, reference, credentials);
        Err(RegistryError::Other(UNAVAILABLE.into()))
    }
    /// `registry.has-blob` (capability `registry`).
    fn registry_has_blob(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
        credentials: Option<&Credentials>,
    ) -> Result<bool, RegistryError> {
        let _ = (registry, repository, digest, credentials);
        Err(RegistryError::Other(UNAVAILABLE.into()))
    }
    /// `registry.push-blob` (capability `registry`): bytes sent.
    fn registry_push_blob(
        &self,
        registry: &str,
        repository: &str,
        blob: &UpstreamBlob,
        credentials: Option<&Credentials>,
    ) -> Result<u64, RegistryError> {
        let _ = (registry, repository, blob, credentials);
        Err(RegistryError::Other(UNAVAILABLE.into()))
    }
    /// `registry.put-manifest` (capability `registry`): the digest the registry reports.
    fn registry_put_manifest(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
        media_type: &str,
        manifest: &[u8],
        credentials: Option<&Credentials>,
    ) -> Result<String, RegistryError> {
        let _ = (
            registry,
            repository,
            reference,
            media_type,
            manifest,
            credentials,
        );
        Err(RegistryError::Other(UNAVAILABLE.into()))
    }
    /// `aws.ecr-login` (capability `aws`).
    fn ecr_login(
        &self,
        target: &AwsTarget,
        registry: Option<&str>,
    ) -> Result<Credentials, AwsError> {
        let _ = (target, registry);
        Err(AwsError::Credentials(UNAVAILABLE.into()))
    }
    /// `aws.ecr-describe-repository` (capability `aws`).
    fn ecr_describe_repository(
        &self,
        target: &AwsTarget,
        name: &str,
    ) -> Result<Option<Repository>, AwsError> {
        let _ = (target, name);
        Err(AwsError::Credentials(UNAVAILABLE.into()))
    }
    /// `aws.ecr-create-repository` (capability `aws`).
    fn ecr_create_repository(
        &self,
        target: &AwsTarget,
        name: &str,
        immutable_tags: bool,
    ) -> Result<Repository, AwsError> {
        let _ = (target, name, immutable_tags);
        Err(AwsError::Credentials(UNAVAILABLE.into()))
    }
    /// `s3.put-object` (capability `aws`).
    fn s3_put_object(
        &self,
        target: &AwsTarget,
        bucket: &str,
        key: &str,
        body: &[u8],
        if_absent: bool,
    ) -> Result<ObjectMeta, AwsError> {
        let _ = (target, bucket, key, body, if_absent);
        Err(AwsError::Credentials(UNAVAILABLE.into()))
    }
    /// `s3.get-object` (capability `aws`).
    fn s3_get_object(
        &self,
        target: &AwsTarget,
        bucket: &str,
        key: &str,
    ) -> Result<Option<S3Object>, AwsError> {
        let _ = (target, bucket, key);
        Err(AwsError::Credentials(UNAVAILABLE.into()))
    }
    /// `s3.head-object` (capability `aws`).
    fn s3_head_object(
        &self,
        target: &AwsTarget,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectMeta>, AwsError> {
        let _ = (target, bucket, key);
        Err(AwsError::Credentials(UNAVAILABLE.into()))
    }
    /// `s3.delete-object` (capability `aws`).
    fn s3_delete_object(
        &self,
        target: &AwsTarget,
        bucket: &str,
        key: &str,
    ) -> Result<(), AwsError> {
        let _ = (target, bucket, key);
        Err(AwsError::Credentials(UNAVAILABLE.into()))
    }
    /// `dynamodb.put-item` (capability `aws`).
    fn dynamodb_put_item(
        &self,
        target: &AwsTarget,
        table: &str,
        item: &Item,
        if_absent: Option<&str>,
    ) -> Result<(), AwsError> {
        let _ = (target, table, item, if_absent);
        Err(AwsError::Credentials(UNAVAILABLE.into()))
    }
    /// `dynamodb.get-item` (capability `aws`).
    fn dynamodb_get_item(
        &self,
        target: &AwsTarget,
        table: &str,
        key: (&str, &str),
    ) -> Result<Option<Item>, AwsError> {
        let _ = (target, table, key);
        Err(AwsError::Credentials(UNAVAILABLE.into()))
    }
    /// `dynamodb.delete-item` (capability `aws`).
    fn dynamodb_delete_item(
        &self,
        target: &AwsTarget,
        table: &str,
        key: (&str, &str),
    ) -> Result<(), AwsError> {
        let _ = (target, table, key);
        Err(AwsError::Credentials(UNAVAILABLE.into()))
    }
    /// `terraform.version` (capability `terraform`).
    fn terraform_version(&self) -> Result<String, TerraformError> {
        Err(TerraformError::NotInstalled(UNAVAILABLE.into()))
    }
    /// `terraform.init` (capability `terraform`).
    fn terraform_init(&self, workspace: &Workspace) -> Result<(), TerraformError> {
        let _ = workspace;
        Err(TerraformError::NotInstalled(UNAVAILABLE.into()))
    }
    /// `terraform.plan` (capability `terraform`).
    fn terraform_plan(&self) -> Result<PlanSummary, TerraformError> {
        Err(TerraformError::NotInstalled(UNAVAILABLE.into()))
    }
    /// `terraform.apply` (capability `terraform`).
    fn terraform_apply(&self) -> Result<(), TerraformError> {
        Err(TerraformError::NotInstalled(UNAVAILABLE.into()))
    }
    /// `terraform.output` (capability `terraform`).
    fn terraform_output(&self) -> Result<String, TerraformError> {
        Err(TerraformError::NotInstalled(UNAVAILABLE.into()))
    }
    /// `ecs.describe-services` (capability `aws`).
    fn ecs_describe_services(
        &self,
        target: &AwsTarget,
        cluster: &str,
        services: &[String],
    ) -> Result<ecs::Services, AwsError> {
        let _ = (target, cluster, services);
        Err(AwsError::Credentials(UNAVAILABLE.into()))
    }
    /// `ecs.list-tasks` (capability `aws`).
    fn ecs_list_tasks(
        &self,
        target: &AwsTarget,
        cluster: &str,
        service: &str,
        desired_status: &str,
    ) -> Result<Vec<String>, AwsError> {
        let _ = (target, cluster, service, desired_status);
        Err(AwsError::Credentials(UNAVAILABLE.into()))
    }
    /// `ecs.describe-tasks` (capability `aws`).
    fn ecs_describe_tasks(
        &self,
        target: &AwsTarget,
        cluster: &str,
        tasks: &[String],
    ) -> Result<Vec<ecs::Task>, AwsError> {
        let _ = (target, cluster, tasks);
        Err(AwsError::Credentials(UNAVAILABLE.into()))
    }
    /// `ecs.describe-task-definition` (capability `aws`).
    fn ecs_describe_task_definition(
        &self,
        target: &AwsTarget,
        task_definition: &str,
    ) -> Result<Vec<(String, String)>, AwsError> {
        let _ = (target, task_definition);
        Err(AwsError::Credentials(UNAVAILABLE.into()))
    }
    /// `ecs.describe-target-health` (capability `aws`).
    fn elb_describe_target_health(
        &self,
        target: &AwsTarget,
        target_group: &str,
    ) -> Result<Vec<ecs::TargetHealth>, AwsError> {
        let _ = (target, target_group);
        Err(AwsError::Credentials(UNAVAILABLE.into()))
    }
    /// `ecs.pause` (capability `aws`): waits about `ms`, returns the step's elapsed
    /// milliseconds. A host without it does not wait and answers `u64::MAX`, so a watcher
    /// gives up at once instead of spinning.
    fn pause(&self, ms: u32) -> u64 {
        let _ = ms;
        u64::MAX
    }
}

const UNAVAILABLE: &str = "this host does not provide the capability";

#[cfg(target_arch = "wasm32")]
pub(crate) type HostImpl = crate::guest::WitHost;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type HostImpl = Box<dyn Host>;

/// An output file of an upstream step: the blob forge keeps it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// blake3 of the contents, 64 lowercase hex digits.
    pub hash: String,
    pub size: u64,
}

/// What an upstream step produced.
#[derive(Debug, Clone, Default)]
pub(crate) struct UpstreamData {
    /// Its output manifest (JSON text).
    pub(crate) manifest: String,
    /// The files it wrote, by name: listed by forge, not by the step's manifest.
    pub(crate) outputs: BTreeMap<String, OutputFile>,
}

/// The step's input, decoded once from the WIT `step-input`.
pub(crate) struct StepData {
    pub(crate) step: String,
    pub(crate) env: String,
    pub(crate) config: String,
    pub(crate) upstream: BTreeMap<String, UpstreamData>,
    pub(crate) files: Vec<String>,
    pub(crate) commit: Option<String>,
    pub(crate) commit_time: Option<u64>,
}

/// What a running step sees: its identity, its declared inputs, and the host's imports.
pub struct Context {
    data: StepData,
    host: HostImpl,
    /// Whether [`Context::env`] already warned that a build-phase step has no env.
    warned_env: std::cell::Cell<bool>,
}

impl Context {
    pub(crate) fn new(data: StepData, host: HostImpl) -> Self {
        Context {
            data,
            host,
            warned_env: std::cell::Cell::new(false),
        }
    }

    /// The step's id, e.g. `docker-build:backend`.
    pub fn step(&self) -> &str {
        &self.data.step
    }

    /// The forge env being run (`dev`, `prod`) for deploy-phase steps. Empty for
    /// build-phase steps: their results are shared by every env, so they must not depend
    /// on one (put per-env values in the step's config, inside an `env` block).
    ///
    /// A build-phase step that asks gets the empty string and a warning in its log (once
    /// per run), since whatever it makes of it is shared by every env.
    pub fn env(&self) -> &str {
        if self.data.env.is_empty() && !self.warned_env.replace(true) {
            self.warn(
                "this build-phase step read the forge env, which is empty here: build results are shared by every env. Put per-env values in the step's config inside an `env \"NAME\" { step ... }` block, or make it `phase \"deploy\"`",
            );
        }
        &self.data.env
    }

    /// The git commit SHA, only when the step declares `commit-sha #true` (so that a
    /// commit feeds its fingerprint).
    pub fn commit(&self) -> Option<&str> {
        self.data.commit.as_deref()
    }

    /// The commit's time (seconds since the Unix epoch; `SOURCE_DATE_EPOCH` when set),
    /// alongside [`commit`](Self::commit).
    pub fn commit_time(&self) -> Option<u64> {
        self.data.commit_time
    }

    /// Builds an image through the Docker Engine (capability `docker`).
    pub fn docker_build(&self, request: &BuildRequest) -> Result<Image, DockerError> {
        self.host.docker_build(request)
    }

    /// Builds an image like [`docker_build`](Self::docker_build), mounting each of `secrets`
    /// for the Dockerfile's `RUN`s that ask for it: `RUN --mount=type=secret,id=NAME` with
    /// NAME the secret's [`name`](Secret::name). The host reads the values and hands them
    /// to the engine's BuildKit; they never reach the plugin, and forge masks them in the
    /// build's log (capability `docker`; the handles come from [`Context::secret`]).
    pub fn docker_build_with_secrets(
        &self,
        request: &BuildRequest,
        secrets: &[&Secret],
    ) -> Result<Image, DockerError> {
        self.host.docker_build_with_secrets(request, secrets)
    }

    /// Credentials for `registry`: `username` and the value of the secret `password`, which
    /// the host reads where the project declares it and checks with the registry (a
    /// refused password is [`RegistryError::Unauthorized`]). The value never reaches the
    /// plugin (capability `registry`; the handle comes from [`Context::secret`]).
    pub fn registry_login(
        &self,
        registry: &str,
        username: &str,
        password: &Secret,
    ) -> Result<Credentials, RegistryError> {
        self.host.registry_login(registry, username, password)
    }

    /// The digest `reference` (a tag) names in `repository`, if any (capability `registry`).
    pub fn registry_resolve(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
        credentials: Option<&Credentials>,
    ) -> Result<Option<String>, RegistryError> {
        self.host
            .registry_resolve(registry, repository, reference, credentials)
    }

    /// Whether the registry has the blob (capability `registry`).
    pub fn registry_has_blob(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
        credentials: Option<&Credentials>,
    ) -> Result<bool, RegistryError> {
        self.host
            .registry_has_blob(registry, repository, digest, credentials)
    }

    /// Uploads an upstream output file as a blob; returns the bytes sent (capability
    /// `registry`).
    pub fn registry_push_blob(
        &self,
        registry: &str,
        repository: &str,
        blob: &UpstreamBlob,
        credentials: Option<&Credentials>,
    ) -> Result<u64, RegistryError> {
        self.host
            .registry_push_blob(registry, repository, blob, credentials)
    }

    /// Puts a manifest under a tag; returns the registry's digest for it (capability
    /// `registry`).
    pub fn registry_put_manifest(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
        media_type: &str,
        manifest: &[u8],
        credentials: Option<&Credentials>,
    ) -> Result<String, RegistryError> {
        self.host.registry_put_manifest(
            registry,
            repository,
            reference,
            media_type,
            manifest,
            credentials,
        )
    }

    /// ECR credentials for `registry` (capability `aws`).
    pub fn ecr_login(
        &self,
        target: &AwsTarget,
        registry: Option<&str>,
    ) -> Result<Credentials, AwsError> {
        self.host.ecr_login(target, registry)
    }

    /// An ECR repository by name, if it exists (capability `aws`).
    pub fn ecr_describe_repository(
        &self,
        target: &AwsTarget,
        name: &str,
    ) -> Result<Option<Repository>, AwsError> {
        self.host.ecr_describe_repository(target, name)
    }

    /// Creates an ECR repository (capability `aws`).
    pub fn ecr_create_repository(
        &self,
        target: &AwsTarget,
        name: &str,
        immutable_tags: bool,
    ) -> Result<Repository, AwsError> {
        self.host
            .ecr_create_repository(target, name, immutable_tags)
    }

    /// Terraform's version (capability `terraform`).
    pub fn terraform_version(&self) -> Result<String, TerraformError> {
        self.host.terraform_version()
    }

    /// Lays out the env's working directory (the root module from upstream output files,
    /// the declared module sources beside it) and runs `terraform init` (capability
    /// `terraform`).
    pub fn terraform_init(&self, workspace: &Workspace) -> Result<(), TerraformError> {
        self.host.terraform_init(workspace)
    }

    /// `terraform plan`, saving the plan (capability `terraform`).
    pub fn terraform_plan(&self) -> Result<PlanSummary, TerraformError> {
        self.host.terraform_plan()
    }

    /// `terraform apply` of the saved plan (capability `terraform`).
    pub fn terraform_apply(&self) -> Result<(), TerraformError> {
        self.host.terraform_apply()
    }

    /// `terraform output -json` (capability `terraform`).
    pub fn terraform_output(&self) -> Result<String, TerraformError> {
        self.host.terraform_output()
    }

    /// Writes an S3 object; with `if_absent`, only when there is none
    /// ([`AwsError::PreconditionFailed`] otherwise) (capability `aws`).
    pub fn s3_put_object(
        &self,
        target: &AwsTarget,
        bucket: &str,
        key: &str,
        body: &[u8],
        if_absent: bool,
    ) -> Result<ObjectMeta, AwsError> {
        self.host
            .s3_put_object(target, bucket, key, body, if_absent)
    }

    /// An S3 object, if it exists (capability `aws`).
    pub fn s3_get_object(
        &self,
        target: &AwsTarget,
        bucket: &str,
        key: &str,
    ) -> Result<Option<S3Object>, AwsError> {
        self.host.s3_get_object(target, bucket, key)
    }

    /// An S3 object's ETag, version and size, if it exists (capability `aws`).
    pub fn s3_head_object(
        &self,
        target: &AwsTarget,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectMeta>, AwsError> {
        self.host.s3_head_object(target, bucket, key)
    }

    /// Deletes an S3 object; one that is not there is not an error (capability `aws`).
    pub fn s3_delete_object(
        &self,
        target: &AwsTarget,
        bucket: &str,
        key: &str,
    ) -> Result<(), AwsError> {
        self.host.s3_delete_object(target, bucket, key)
    }

    /// Writes a DynamoDB item; with `if_absent = Some(key attribute)`, only when there is
    /// none ([`AwsError::ConditionalCheckFailed`] otherwise) (capability `aws`).
    pub fn dynamodb_put_item(
        &self,
        target: &AwsTarget,
        table: &str,
        item: &Item,
        if_absent: Option<&str>,
    ) -> Result<(), AwsError> {
        self.host.dynamodb_put_item(target, table, item, if_absent)
    }

    /// A DynamoDB item by its key (name, value), read consistently (capability `aws`).
    pub fn dynamodb_get_item(
        &self,
        target: &AwsTarget,
        table: &str,
        key: (&str, &str),
    ) -> Result<Option<Item>, AwsError> {
        self.host.dynamodb_get_item(target, table, key)
    }

    /// Deletes a DynamoDB item by its key (capability `aws`).
    pub fn dynamodb_delete_item(
        &self,
        target: &AwsTarget,
        table: &str,
        key: (&str, &str),
    ) -> Result<(), AwsError> {
        self.host.dynamodb_delete_item(target, table, key)
    }

    /// `DescribeServices` of `services` in `cluster` (capability `aws`). A throttled call
    /// is [`AwsError::Service`] with code `ThrottlingException`: pause and ask again.
    pub fn ecs_describe_services(
        &self,
        target: &AwsTarget,
        cluster: &str,
        services: &[String],
    ) -> Result<ecs::Services, AwsError> {
        self.host.ecs_describe_services(target, cluster, services)
    }

    /// The task ARNs of `service` with `desired_status` (`RUNNING`, `STOPPED`), every page
    /// (capability `aws`).
    pub fn ecs_list_tasks(
        &self,
        target: &AwsTarget,
        cluster: &str,
        service: &str,
        desired_status: &str,
    ) -> Result<Vec<String>, AwsError> {
        self.host
            .ecs_list_tasks(target, cluster, service, desired_status)
    }

    /// `DescribeTasks` of task ARNs in `cluster` (capability `aws`).
    pub fn ecs_describe_tasks(
        &self,
        target: &AwsTarget,
        cluster: &str,
        tasks: &[String],
    ) -> Result<Vec<ecs::Task>, AwsError> {
        self.host.ecs_describe_tasks(target, cluster, tasks)
    }

    /// Each container of a task definition: (name, image) (capability `aws`).
    pub fn ecs_describe_task_definition(
        &self,
        target: &AwsTarget,
        task_definition: &str,
    ) -> Result<Vec<(String, String)>, AwsError> {
        self.host
            .ecs_describe_task_definition(target, task_definition)
    }

    /// The health of the targets of a load balancer target group (ELBv2
    /// `DescribeTargetHealth`; capability `aws`).
    pub fn elb_describe_target_health(
        &self,
        target: &AwsTarget,
        target_group: &str,
    ) -> Result<Vec<ecs::TargetHealth>, AwsError> {
        self.host.elb_describe_target_health(target, target_group)
    }

    /// Waits about `ms` milliseconds before the next poll and returns the milliseconds
    /// since the step started: the one clock a plugin has (capability `aws`). A cancelled
    /// or timed-out run ends inside the pause.
    pub fn pause(&self, ms: u32) -> u64 {
        self.host.pause(ms)
    }

    /// An output file of upstream step `step`, one of its
    /// [`upstream_outputs`](Self::upstream_outputs) (capability `files.read`).
    pub fn read_upstream(&self, step: &str, name: &str) -> Result<Vec<u8>, Error> {
        let outputs = self.upstream_outputs(step)?;
        if !outputs.contains_key(name) {
            return Err(no_such_output(step, name, outputs));
        }
        self.host.read_upstream(step, name).map_err(|e| match e {
            FileError::NotDeclared(_) => no_such_output(step, name, outputs),
            FileError::NotFound(_) => Error::new(format!(
                "output `{name}` of step `{step}` is missing from forge's store"
            ))
            .with_help("run `forge cache verify --repair`, then the build again: the step that wrote it runs again"),
            FileError::TooLarge(detail) => Error::new(format!(
                "output `{name}` of step `{step}` is larger than the host's read cap ({detail})"
            ))
            .with_help("hand the file to a capability that reads it in the host (e.g. `registry.push-blob`) instead of reading it into the plugin"),
            FileError::Io(detail) => Error::new(format!(
                "reading output `{name}` of step `{step}` failed: {detail}"
            )),
        })
    }

    /// The output files upstream step `step` wrote in the run that produced its result:
    /// name → blob. forge lists them from the store, so a step's manifest cannot add to
    /// them.
    pub fn upstream_outputs(&self, step: &str) -> Result<&BTreeMap<String, OutputFile>, Error> {
        Ok(&self.upstream_data(step)?.outputs)
    }

    fn upstream_data(&self, step: &str) -> Result<&UpstreamData, Error> {
        self.data.upstream.get(step).ok_or_else(|| {
            let known: Vec<&str> = self.upstream_steps().collect();
            Error::new(format!(
                "`{step}` is not an upstream step of `{}` (upstream: {})",
                self.data.step,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))
            .with_help(format!("add `{step}` to the step's `needs` in project.kdl"))
        })
    }

    /// The step's declared input files: project-relative, `/`-separated, sorted. These,
    /// and only these, can be [`read`](Self::read).
    pub fn inputs(&self) -> &[String] {
        &self.data.files
    }

    /// The ids of the steps this one needs, sorted.
    pub fn upstream_steps(&self) -> impl Iterator<Item = &str> {
        self.data.upstream.keys().map(String::as_str)
    }

    /// The output manifest of upstream step `step`, decoded as `T`.
    pub fn upstream<T: DeserializeOwned>(&self, step: &str) -> Result<T, Error> {
        let manifest = &self.upstream_data(step)?.manifest;
        serde_json::from_str(manifest).map_err(|e| {
            Error::new(format!("the output of upstream step `{step}` does not have the expected shape: {e}"))
                .with_help("the upstream plugin's version may have changed its output; check both plugins' versions")
        })
    }

    /// Reads a declared input file (capability `files.read`).
    pub fn read(&self, path: &str) -> Result<Vec<u8>, Error> {
        self.host.read(path).map_err(Error::from)
    }

    /// Reads a declared input file as UTF-8 text (capability `files.read`).
    pub fn read_to_string(&self, path: &str) -> Result<String, Error> {
        let bytes = self.read(path)?;
        String::from_utf8(bytes)
            .map_err(|e| Error::new(format!("declared input `{path}` is not UTF-8 text: {e}")))
    }

    /// Writes an output file (a relative `/`-separated `name`) into forge's store and
    /// returns its blake3 hash (hex). Always granted; total size is capped by the host.
    pub fn write_output(&self, name: &str, contents: impl AsRef<[u8]>) -> Result<String, Error> {
        self.host
            .write_output(name, contents.as_ref())
            .map_err(|e| Error::new(format!("writing output `{name}` failed: {e}")))
    }

    /// A secret the step was given, by name, as an opaque handle (capability `secrets`).
    pub fn secret(&self, name: &str) -> Result<Secret, Error> {
        self.host.secret(name).map_err(|e| {
            Error::new(format!("secret `{name}` is not available: {e}")).with_help(format!(
                "declare the secret `{name}` for this step in project.kdl"
            ))
        })
    }

    /// Logs a line at `level`. Log volume is capped by the host; prefer progress for
    /// per-item chatter.
    pub fn log(&self, level: Level, message: impl AsRef<str>) {
        self.host.log(level, message.as_ref());
    }

    /// Logs at [`Level::Trace`].
    pub fn trace(&self, message: impl AsRef<str>) {
        self.log(Level::Trace, message);
    }

    /// Logs at [`Level::Debug`].
    pub fn debug(&self, message: impl AsRef<str>) {
        self.log(Level::Debug, message);
    }

    /// Logs at [`Level::Info`].
    pub fn info(&self, message: impl AsRef<str>) {
        self.log(Level::Info, message);
    }

    /// Logs at [`Level::Warn`].
    pub fn warn(&self, message: impl AsRef<str>) {
        self.log(Level::Warn, message);
    }

    /// Logs at [`Level::Error`].
    pub fn error(&self, message: impl AsRef<str>) {
        self.log(Level::Error, message);
    }

    /// Reports `done` of `total` units of work (bytes, files, layers...).
    pub fn progress(&self, done: u64, total: u64) {
        self.host.progress(done, total);
    }
}

/// A read of an output file the upstream step did not write.
fn no_such_output(step: &str, name: &str, outputs: &BTreeMap<String, OutputFile>) -> Error {
    let known: Vec<&str> = outputs.keys().map(String::as_str).collect();
    Error::new(format!(
        "step `{step}` wrote no output file `{name}` (it wrote: {})",
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    ))
    .with_help(format!(
        "name one of `{step}`'s output files, or make `{step}` write `{name}`"
    ))
}
