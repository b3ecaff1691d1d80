//! [`MockHost`]: runs a plugin natively under `cargo test`, with fake inputs and captured
//! logs and outputs, answering every import the way the real host does.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use serde::Serialize;

use crate::caps::{
    AwsError, AwsTarget, BuildRequest, Credentials, DockerError, Image, Item, ObjectMeta,
    PlanSummary, RegistryError, Repository, S3Object, TerraformError, UpstreamBlob, Workspace,
};
use crate::context::{Host, Level, OutputFile, Secret, StepData, UpstreamData};
use crate::ecs;
use crate::mock_ecs::MockEcs;
use crate::plugin::capability;
use crate::{Error, FileError, Info, Plugin};

/// One captured [`Context::log`](crate::Context::log) call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Its severity.
    pub level: Level,
    /// Its text.
    pub message: String,
}

#[derive(Default)]
struct State {
    files: BTreeMap<String, Option<Vec<u8>>>,
    secrets: BTreeSet<String>,
    granted: BTreeSet<String>,
    logs: Vec<LogRecord>,
    progress: Vec<(u64, u64)>,
    outputs: BTreeMap<String, Vec<u8>>,
    upstream_outputs: BTreeMap<(String, String), Vec<u8>>,
    docker: Option<DockerFake>,
    docker_requests: Vec<BuildRequest>,
    /// The names of the secrets each build mounted, in step with `docker_requests`.
    docker_secrets: Vec<Vec<String>>,
    registry: MockRegistry,
    ecr: BTreeMap<String, Repository>,
    aws_down: Option<AwsError>,
    /// (bucket, key) → (body, version): S3 as the AWS capability sees it.
    s3: BTreeMap<(String, String), (Vec<u8>, u64)>,
    s3_writes: u64,
    /// (table, key value) → item: DynamoDB, every table keyed by one string attribute.
    dynamodb: BTreeMap<(String, String), Item>,
    terraform: MockTerraform,
    ecs: MockEcs,
}

/// The fake `terraform` behind a [`MockHost`]: canned answers, and the calls made.
#[derive(Debug, Clone, Default)]
pub struct MockTerraform {
    /// `terraform.version`'s answer (default `1.11.4`).
    pub version: Option<String>,
    /// What `plan` finds.
    pub plan: PlanSummary,
    /// What `output` answers (`terraform output -json`; default `{}`).
    pub outputs: Option<String>,
    /// When set, every call fails with it.
    pub error: Option<TerraformError>,
    /// The calls so far: `version`, `init`, `plan`, `apply`, `output`.
    pub calls: Vec<String>,
    /// What the last `init` was asked to lay out.
    pub workspace: Option<Workspace>,
}

type DockerFake = Box<dyn Fn(&BuildRequest) -> Result<Image, DockerError>>;

/// The fake registry behind a [`MockHost`]: blobs and tags per repository, like a real
/// one, and a count of what was uploaded.
#[derive(Debug, Clone, Default)]
pub struct MockRegistry {
    /// (repository, digest) of every blob it holds.
    pub blobs: BTreeSet<(String, String)>,
    /// (repository, tag) → manifest digest.
    pub tags: BTreeMap<(String, String), String>,
    /// Blobs uploaded since the host was made.
    pub uploads: usize,
    /// Bytes uploaded since the host was made.
    pub bytes: u64,
    /// When set, every call fails as unreachable.
    pub down: bool,
    /// (registry, username, secret name) of every `registry_login`.
    pub logins: Vec<(String, String, String)>,
    /// When set, every `registry_login` is refused (a wrong password).
    pub refuse_logins: bool,
}

/// A fake forge host for unit tests of a plugin.
///
/// ```
/// use forge_plugin_sdk::{Context, Error, Info, MockHost, NoConfig, Plugin, capability};
///
/// struct Count;
/// impl Plugin for Count {
///     type Config = NoConfig;
///     type Output = usize;
///     fn info() -> Info {
///         Info::new("count", "counts input bytes").capability(capability::FILES_READ)
///     }
///     fn run(ctx: &mut Context, _: NoConfig) -> Result<usize, Error> {
///         let mut n = 0;
///         for path in ctx.inputs().to_vec() {
///             n += ctx.read(&path)?.len();
///         }
///         ctx.info(format!("{n} bytes"));
///         Ok(n)
///     }
/// }
///
/// let mut host = MockHost::new().file("a.txt", "abc").file("b.txt", "de");
/// assert_eq!(host.run::<Count>()?, 5);
/// assert_eq!(host.logs()[0].message, "5 bytes");
/// assert_eq!(host.manifest(), Some("5"));
/// # Ok::<(), Error>(())
/// ```
///
/// Like the real host it denies reads of undeclared paths (`FileError::NotDeclared`),
/// refuses to start a plugin whose [`Info`] capabilities are not all granted, and refuses
/// a capability call the step was not granted. By default the step is granted exactly the
/// capabilities the plugin declares; [`MockHost::grants`] simulates a `project.kdl` that
/// grants less.
///
/// **Extension point:** fake Docker and AWS answers arrive with those capabilities, as
/// builder methods here that record canned responses (see [`Host`] for the pattern).
pub struct MockHost {
    state: Rc<RefCell<State>>,
    grants: Option<BTreeSet<String>>,
    step: String,
    env: String,
    commit: Option<String>,
    commit_time: Option<u64>,
    config: serde_json::Value,
    upstream: BTreeMap<String, UpstreamData>,
    manifest: Option<String>,
}

impl Default for MockHost {
    fn default() -> Self {
        Self::new()
    }
}

impl MockHost {
    /// A host for step `test` in env `dev`, with an empty config and no inputs.
    pub fn new() -> Self {
        MockHost {
            state: Rc::default(),
            grants: None,
            step: "test".to_owned(),
            env: "dev".to_owned(),
            commit: None,
            commit_time: None,
            config: serde_json::Value::Object(serde_json::Map::new()),
            upstream: BTreeMap::new(),
            manifest: None,
        }
    }

    /// Declares an input file with these contents.
    #[must_use]
    pub fn file(self, path: impl Into<String>, contents: impl AsRef<[u8]>) -> Self {
        self.state
            .borrow_mut()
            .files
            .insert(path.into(), Some(contents.as_ref().to_vec()));
        self
    }

    /// Declares an input file that has vanished since fingerprinting (reads are `NotFound`).
    #[must_use]
    pub fn missing_file(self, path: impl Into<String>) -> Self {
        self.state.borrow_mut().files.insert(path.into(), None);
        self
    }

    /// Sets the step's `config` block.
    #[must_use]
    pub fn config(mut self, config: serde_json::Value) -> Self {
        self.config = config;
        self
    }

    /// Adds an upstream step's output manifest.
    #[must_use]
    pub fn upstream(mut self, step: impl Into<String>, manifest: impl Serialize) -> Self {
        let json =
            serde_json::to_string(&manifest).expect("upstream manifest must serialize to JSON");
        self.upstream.entry(step.into()).or_default().manifest = json;
        self
    }

    /// Gives the step a secret by name (values never reach a plugin, so there is none).
    #[must_use]
    pub fn secret(self, name: impl Into<String>) -> Self {
        self.state.borrow_mut().secrets.insert(name.into());
        self
    }

    /// Sets the env (default `dev`).
    #[must_use]
    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.env = env.into();
        self
    }

    /// Sets the commit SHA, as for a step that declares `commit-sha #true`.
    #[must_use]
    pub fn commit(mut self, sha: impl Into<String>) -> Self {
        self.commit = Some(sha.into());
        self
    }

    /// Sets the commit's time (seconds since the Unix epoch).
    #[must_use]
    pub fn commit_time(mut self, time: u64) -> Self {
        self.commit_time = Some(time);
        self
    }

    /// Gives an upstream step an output file (listed in its
    /// [`Context::upstream_outputs`](crate::Context::upstream_outputs); what
    /// `files.read-upstream` and registry pushes read). The step's manifest is `{}` until
    /// [`upstream`](Self::upstream) sets it.
    #[must_use]
    pub fn upstream_output(
        mut self,
        step: impl Into<String>,
        name: impl Into<String>,
        contents: impl AsRef<[u8]>,
    ) -> Self {
        let (step, name) = (step.into(), name.into());
        let contents = contents.as_ref();
        let upstream = self.upstream.entry(step.clone()).or_default();
        if upstream.manifest.is_empty() {
            upstream.manifest = "{}".to_owned();
        }
        upstream.outputs.insert(
            name.clone(),
            OutputFile {
                hash: blake3::hash(contents).to_hex().to_string(),
                size: contents.len() as u64,
            },
        );
        self.state
            .borrow_mut()
            .upstream_outputs
            .insert((step, name), contents.to_vec());
        self
    }

    /// Answers `docker.build` with `f` (every request is also recorded, see
    /// [`docker_requests`](Self::docker_requests)).
    #[must_use]
    pub fn docker(self, f: impl Fn(&BuildRequest) -> Result<Image, DockerError> + 'static) -> Self {
        self.state.borrow_mut().docker = Some(Box::new(f));
        self
    }

    /// An existing ECR repository.
    #[must_use]
    pub fn ecr_repository(self, name: impl Into<String>, immutable_tags: bool) -> Self {
        let name = name.into();
        let repo = mock_repository(&name, immutable_tags);
        self.state.borrow_mut().ecr.insert(name, repo);
        self
    }

    /// Makes every AWS call fail with `error`.
    #[must_use]
    pub fn aws_error(self, error: AwsError) -> Self {
        self.state.borrow_mut().aws_down = Some(error);
        self
    }

    /// The registry's state, to set up or inspect.
    pub fn registry(&self) -> std::cell::RefMut<'_, MockRegistry> {
        std::cell::RefMut::map(self.state.borrow_mut(), |s| &mut s.registry)
    }

    /// The `docker.build` requests of every run so far.
    pub fn docker_requests(&self) -> Vec<BuildRequest> {
        self.state.borrow().docker_requests.clone()
    }

    /// The names of the secrets each of [`docker_requests`](Self::docker_requests) mounted
    /// (`docker.build-with-secrets`; none for `docker.build`).
    pub fn docker_build_secrets(&self) -> Vec<Vec<String>> {
        self.state.borrow().docker_secrets.clone()
    }

    /// The fake `terraform`'s answers.
    #[must_use]
    pub fn terraform(self, fake: MockTerraform) -> Self {
        self.state.borrow_mut().terraform = fake;
        self
    }

    /// The fake ECS's script.
    #[must_use]
    pub fn ecs(self, fake: MockEcs) -> Self {
        self.state.borrow_mut().ecs = fake;
        self
    }

    /// The fake ECS after the runs so far (its calls, its clock).
    pub fn ecs_state(&self) -> MockEcs {
        self.state.borrow().ecs.clone()
    }

    /// The fake `terraform` after the runs so far (its calls, the last workspace).
    pub fn terraform_state(&self) -> MockTerraform {
        self.state.borrow().terraform.clone()
    }

    /// An S3 object that exists before the run.
    #[must_use]
    pub fn s3_object(self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) -> Self {
        {
            let mut state = self.state.borrow_mut();
            state.s3_writes += 1;
            let version = state.s3_writes;
            state
                .s3
                .insert((bucket.to_owned(), key.to_owned()), (body.into(), version));
        }
        self
    }

    /// A DynamoDB item that exists before the run, keyed by the value of `key_attribute`.
    #[must_use]
    pub fn dynamodb_item(self, table: &str, key_attribute: &str, item: Item) -> Self {
        let key = item.get(key_attribute).cloned().unwrap_or_default();
        self.state
            .borrow_mut()
            .dynamodb
            .insert((table.to_owned(), key), item);
        self
    }

    /// The S3 objects after the runs so far: (bucket, key) → body.
    pub fn s3_objects(&self) -> BTreeMap<(String, String), Vec<u8>> {
        self.state
            .borrow()
            .s3
            .iter()
            .map(|(k, (body, _))| (k.clone(), body.clone()))
            .collect()
    }

    /// The DynamoDB items after the runs so far: (table, key value) → item.
    pub fn dynamodb_items(&self) -> BTreeMap<(String, String), Item> {
        self.state.borrow().dynamodb.clone()
    }

    /// The ECR repositories, after the runs so far.
    pub fn ecr_repositories(&self) -> BTreeMap<String, Repository> {
        self.state.borrow().ecr.clone()
    }

    /// Sets the step id (default `test`).
    #[must_use]
    pub fn step(mut self, id: impl Into<String>) -> Self {
        self.step = id.into();
        self
    }

    /// Grants exactly these capabilities, as `project.kdl` would, instead of the ones the
    /// plugin declares.
    #[must_use]
    pub fn grants<I, S>(mut self, capabilities: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.grants = Some(capabilities.into_iter().map(Into::into).collect());
        self
    }

    /// Runs `P` as the host would: checks grants, decodes the config, runs, encodes the
    /// manifest. Logs, progress and outputs of earlier runs are cleared first.
    pub fn run<P: Plugin>(&mut self) -> Result<P::Output, Error> {
        self.manifest = None;
        let info: Info = P::info();
        let granted = self
            .grants
            .clone()
            .unwrap_or_else(|| info.capabilities.iter().cloned().collect());
        if let Some(missing) = info.capabilities.iter().find(|c| !granted.contains(*c)) {
            return Err(Error::new(format!(
                "plugin `{}` needs capability `{missing}`, which this step is not granted",
                info.name
            ))
            .with_help(format!(
                "add `grant \"{missing}\"` to the step in project.kdl"
            )));
        }
        let files = {
            let mut state = self.state.borrow_mut();
            state.granted = granted;
            state.logs.clear();
            state.progress.clear();
            state.outputs.clear();
            state.files.keys().cloned().collect()
        };
        let data = StepData {
            step: self.step.clone(),
            env: self.env.clone(),
            config: self.config.to_string(),
            upstream: self.upstream.clone(),
            files,
            commit: self.commit.clone(),
            commit_time: self.commit_time,
        };
        let backend = MockBackend {
            state: Rc::clone(&self.state),
        };
        let (output, manifest) = crate::runtime::execute::<P>(data, Box::new(backend))?;
        self.manifest = Some(manifest);
        Ok(output)
    }

    /// Every line logged by the last run, in order.
    pub fn logs(&self) -> Vec<LogRecord> {
        self.state.borrow().logs.clone()
    }

    /// Every progress report of the last run, in order.
    pub fn progress(&self) -> Vec<(u64, u64)> {
        self.state.borrow().progress.clone()
    }

    /// The output files the last run wrote, by name.
    pub fn outputs(&self) -> BTreeMap<String, Vec<u8>> {
        self.state.borrow().outputs.clone()
    }

    /// The JSON manifest of the last successful run, exactly as the host would store it.
    pub fn manifest(&self) -> Option<&str> {
        self.manifest.as_deref()
    }
}

struct MockBackend {
    state: Rc<RefCell<State>>,
}

impl MockBackend {
    fn require(&self, cap: &str) -> Result<(), String> {
        // The contract's rule, as the host applies it: `aws` implies `registry`.
        let state = self.state.borrow();
        let granted: Vec<&String> = state.granted.iter().collect();
        if forge_contract::GrantSet::from_grants(&granted).has_capability(cap) {
            Ok(())
        } else {
            Err(format!(
                "capability `{cap}` is not granted to this step (the real host would refuse to start a plugin that imports it; declare it in `Plugin::info` and grant it in project.kdl)"
            ))
        }
    }
}

impl Host for MockBackend {
    fn log(&self, level: Level, message: &str) {
        self.state.borrow_mut().logs.push(LogRecord {
            level,
            message: message.to_owned(),
        });
    }

    fn progress(&self, done: u64, total: u64) {
        self.state.borrow_mut().progress.push((done, total));
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, FileError> {
        self.require(capability::FILES_READ)
            .map_err(FileError::Io)?;
        match self.state.borrow().files.get(path) {
            None => Err(FileError::NotDeclared(path.to_owned())),
            Some(None) => Err(FileError::NotFound(path.to_owned())),
            Some(Some(bytes)) => Ok(bytes.clone()),
        }
    }

    fn write_output(&self, name: &str, contents: &[u8]) -> Result<String, String> {
        // The host's rule and words: a test passes here only if the host would agree.
        forge_contract::check_relative_path(name)
            .map_err(|problem| format!("output name {problem}"))?;
        let mut state = self.state.borrow_mut();
        if state.outputs.contains_key(name) {
            return Err(format!(
                "output `{name}` was already written by this step; each output is written once"
            ));
        }
        state.outputs.insert(name.to_owned(), contents.to_vec());
        Ok(blake3::hash(contents).to_hex().to_string())
    }

    fn secret(&self, name: &str) -> Result<Secret, String> {
        self.require(capability::SECRETS)?;
        if self.state.borrow().secrets.contains(name) {
            Ok(Secret::from_name(name))
        } else {
            Err(format!(
                "no secret named `{name}` is declared for this step"
            ))
        }
    }

    fn read_upstream(&self, step: &str, name: &str) -> Result<Vec<u8>, FileError> {
        self.require(capability::FILES_READ)
            .map_err(FileError::Io)?;
        self.state
            .borrow()
            .upstream_outputs
            .get(&(step.to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| FileError::NotDeclared(format!("{step}/{name}")))
    }

    fn docker_build(&self, request: &BuildRequest) -> Result<Image, DockerError> {
        self.docker_build_with_secrets(request, &[])
    }

    fn docker_build_with_secrets(
        &self,
        request: &BuildRequest,
        secrets: &[&Secret],
    ) -> Result<Image, DockerError> {
        self.require(capability::DOCKER)
            .map_err(DockerError::Other)?;
        let mut state = self.state.borrow_mut();
        state.docker_requests.push(request.clone());
        state
            .docker_secrets
            .push(secrets.iter().map(|s| s.name().to_owned()).collect());
        match &state.docker {
            Some(f) => f(request),
            None => Err(DockerError::Unreachable(
                "MockHost has no Docker Engine (use `MockHost::docker`)".into(),
            )),
        }
    }

    fn registry_login(
        &self,
        registry: &str,
        username: &str,
        password: &Secret,
    ) -> Result<Credentials, RegistryError> {
        let refused = self.registry()?.refuse_logins;
        if refused {
            return Err(RegistryError::Unauthorized(format!(
                "the registry at {registry} refused the credentials for logging in as {username} (401) (MockRegistry::refuse_logins)"
            )));
        }
        self.state.borrow_mut().registry.logins.push((
            registry.to_owned(),
            username.to_owned(),
            password.name().to_owned(),
        ));
        Ok(Credentials::mock(registry))
    }

    fn registry_resolve(
        &self,
        _registry: &str,
        repository: &str,
        reference: &str,
        _credentials: Option<&Credentials>,
    ) -> Result<Option<String>, RegistryError> {
        let reg = self.registry()?;
        Ok(reg
            .tags
            .get(&(repository.to_owned(), reference.to_owned()))
            .cloned())
    }

    fn registry_has_blob(
        &self,
        _registry: &str,
        repository: &str,
        digest: &str,
        _credentials: Option<&Credentials>,
    ) -> Result<bool, RegistryError> {
        let reg = self.registry()?;
        Ok(reg
            .blobs
            .contains(&(repository.to_owned(), digest.to_owned())))
    }

    fn registry_push_blob(
        &self,
        _registry: &str,
        repository: &str,
        blob: &UpstreamBlob,
        _credentials: Option<&Credentials>,
    ) -> Result<u64, RegistryError> {
        drop(self.registry()?);
        let bytes = self
            .state
            .borrow()
            .upstream_outputs
            .get(&(blob.step.clone(), blob.output.clone()))
            .cloned()
            .ok_or_else(|| {
                RegistryError::Other(format!("`{}` has no output `{}`", blob.step, blob.output))
            })?;
        if sha256(&bytes) != blob.digest {
            return Err(RegistryError::Other(format!(
                "output `{}` is not blob {}",
                blob.output, blob.digest
            )));
        }
        let mut state = self.state.borrow_mut();
        state.registry.uploads += 1;
        state.registry.bytes += bytes.len() as u64;
        state
            .registry
            .blobs
            .insert((repository.to_owned(), blob.digest.clone()));
        Ok(bytes.len() as u64)
    }

    fn registry_put_manifest(
        &self,
        _registry: &str,
        repository: &str,
        reference: &str,
        _media_type: &str,
        manifest: &[u8],
        _credentials: Option<&Credentials>,
    ) -> Result<String, RegistryError> {
        drop(self.registry()?);
        let digest = sha256(manifest);
        self.state.borrow_mut().registry.tags.insert(
            (repository.to_owned(), reference.to_owned()),
            digest.clone(),
        );
        Ok(digest)
    }

    fn ecr_login(
        &self,
        _target: &AwsTarget,
        registry: Option<&str>,
    ) -> Result<Credentials, AwsError> {
        self.aws()?;
        Ok(Credentials::mock(
            registry.unwrap_or("123456789012.dkr.ecr.us-east-1.amazonaws.com"),
        ))
    }

    fn ecr_describe_repository(
        &self,
        _target: &AwsTarget,
        name: &str,
    ) -> Result<Option<Repository>, AwsError> {
        self.aws()?;
        Ok(self.state.borrow().ecr.get(name).cloned())
    }

    fn ecr_create_repository(
        &self,
        _target: &AwsTarget,
        name: &str,
        immutable_tags: bool,
    ) -> Result<Repository, AwsError> {
        self.aws()?;
        let mut state = self.state.borrow_mut();
        if state.ecr.contains_key(name) {
            return Err(AwsError::Service {
                code: "RepositoryAlreadyExistsException".into(),
                message: format!("repository `{name}` already exists"),
            });
        }
        let repo = mock_repository(name, immutable_tags);
        state.ecr.insert(name.to_owned(), repo.clone());
        Ok(repo)
    }

    fn terraform_version(&self) -> Result<String, TerraformError> {
        self.terraform_call("version")?;
        let state = self.state.borrow();
        Ok(state
            .terraform
            .version
            .clone()
            .unwrap_or_else(|| "1.11.4".to_owned()))
    }

    fn terraform_init(&self, workspace: &Workspace) -> Result<(), TerraformError> {
        self.terraform_call("init")?;
        // The real host reads each root file from its upstream step: so does the fake.
        for file in &workspace.files {
            let state = self.state.borrow();
            if !state
                .upstream_outputs
                .contains_key(&(file.step.clone(), file.output.clone()))
            {
                return Err(TerraformError::Failed(format!(
                    "cannot read the root module's {}: step `{}` wrote no output file `{}`",
                    file.name, file.step, file.output
                )));
            }
        }
        self.state.borrow_mut().terraform.workspace = Some(workspace.clone());
        Ok(())
    }

    fn terraform_plan(&self) -> Result<PlanSummary, TerraformError> {
        self.terraform_call("plan")?;
        Ok(self.state.borrow().terraform.plan)
    }

    fn terraform_apply(&self) -> Result<(), TerraformError> {
        self.terraform_call("apply")
    }

    fn terraform_output(&self) -> Result<String, TerraformError> {
        self.terraform_call("output")?;
        let state = self.state.borrow();
        Ok(state
            .terraform
            .outputs
            .clone()
            .unwrap_or_else(|| "{}".to_owned()))
    }

    fn ecs_describe_services(
        &self,
        _target: &AwsTarget,
        _cluster: &str,
        _services: &[String],
    ) -> Result<ecs::Services, AwsError> {
        self.aws()?;
        self.state.borrow_mut().ecs.describe_services()
    }

    fn ecs_list_tasks(
        &self,
        _target: &AwsTarget,
        _cluster: &str,
        _service: &str,
        desired_status: &str,
    ) -> Result<Vec<String>, AwsError> {
        self.aws()?;
        Ok(self.state.borrow_mut().ecs.list_tasks(desired_status))
    }

    fn ecs_describe_tasks(
        &self,
        _target: &AwsTarget,
        _cluster: &str,
        tasks: &[String],
    ) -> Result<Vec<ecs::Task>, AwsError> {
        self.aws()?;
        Ok(self.state.borrow_mut().ecs.describe_tasks(tasks))
    }

    fn ecs_describe_task_definition(
        &self,
        _target: &AwsTarget,
        task_definition: &str,
    ) -> Result<Vec<(String, String)>, AwsError> {
        self.aws()?;
        self.state
            .borrow_mut()
            .ecs
            .describe_task_definition(task_definition)
    }

    fn elb_describe_target_health(
        &self,
        _target: &AwsTarget,
        target_group: &str,
    ) -> Result<Vec<ecs::TargetHealth>, AwsError> {
        self.aws()?;
        Ok(self
            .state
            .borrow_mut()
            .ecs
            .describe_target_health(target_group))
    }

    fn pause(&self, ms: u32) -> u64 {
        self.state.borrow_mut().ecs.pause(ms)
    }

    fn s3_put_object(
        &self,
        _target: &AwsTarget,
        bucket: &str,
        key: &str,
        body: &[u8],
        if_absent: bool,
    ) -> Result<ObjectMeta, AwsError> {
        self.aws()?;
        let mut state = self.state.borrow_mut();
        let at = (bucket.to_owned(), key.to_owned());
        if if_absent && state.s3.contains_key(&at) {
            return Err(AwsError::PreconditionFailed);
        }
        state.s3_writes += 1;
        let version = state.s3_writes;
        state.s3.insert(at, (body.to_vec(), version));
        Ok(mock_meta(body, version))
    }

    fn s3_get_object(
        &self,
        _target: &AwsTarget,
        bucket: &str,
        key: &str,
    ) -> Result<Option<S3Object>, AwsError> {
        self.aws()?;
        let state = self.state.borrow();
        Ok(state
            .s3
            .get(&(bucket.to_owned(), key.to_owned()))
            .map(|(body, version)| S3Object {
                body: body.clone(),
                meta: mock_meta(body, *version),
            }))
    }

    fn s3_head_object(
        &self,
        target: &AwsTarget,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectMeta>, AwsError> {
        Ok(self.s3_get_object(target, bucket, key)?.map(|o| o.meta))
    }

    fn s3_delete_object(
        &self,
        _target: &AwsTarget,
        bucket: &str,
        key: &str,
    ) -> Result<(), AwsError> {
        self.aws()?;
        self.state
            .borrow_mut()
            .s3
            .remove(&(bucket.to_owned(), key.to_owned()));
        Ok(())
    }

    fn dynamodb_put_item(
        &self,
        _target: &AwsTarget,
        table: &str,
        item: &Item,
        if_absent: Option<&str>,
    ) -> Result<(), AwsError> {
        self.aws()?;
        let mut state = self.state.borrow_mut();
        let key_attribute = if_absent.unwrap_or("LockID");
        let at = (
            table.to_owned(),
            item.get(key_attribute).cloned().unwrap_or_default(),
        );
        if if_absent.is_some() && state.dynamodb.contains_key(&at) {
            return Err(AwsError::ConditionalCheckFailed);
        }
        state.dynamodb.insert(at, item.clone());
        Ok(())
    }

    fn dynamodb_get_item(
        &self,
        _target: &AwsTarget,
        table: &str,
        key: (&str, &str),
    ) -> Result<Option<Item>, AwsError> {
        self.aws()?;
        let state = self.state.borrow();
        Ok(state
            .dynamodb
            .get(&(table.to_owned(), key.1.to_owned()))
            .filter(|item| item.get(key.0).map(String::as_str) == Some(key.1))
            .cloned())
    }

    fn dynamodb_delete_item(
        &self,
        _target: &AwsTarget,
        table: &str,
        key: (&str, &str),
    ) -> Result<(), AwsError> {
        self.aws()?;
        self.state
            .borrow_mut()
            .dynamodb
            .remove(&(table.to_owned(), key.1.to_owned()));
        Ok(())
    }
}

impl MockBackend {
    /// Records a `terraform` call, or refuses it as the host would.
    fn terraform_call(&self, call: &str) -> Result<(), TerraformError> {
        self.require(capability::TERRAFORM)
            .map_err(TerraformError::NotInstalled)?;
        let mut state = self.state.borrow_mut();
        state.terraform.calls.push(call.to_owned());
        match &state.terraform.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

/// An object's identity in the fake S3: its content's hash and a version per write.
fn mock_meta(body: &[u8], version: u64) -> ObjectMeta {
    ObjectMeta {
        etag: format!("\"{}\"", &sha256(body)[7..39]),
        version_id: Some(version.to_string()),
        size: body.len() as u64,
    }
}

impl MockBackend {
    fn registry(&self) -> Result<std::cell::Ref<'_, MockRegistry>, RegistryError> {
        self.require(capability::REGISTRY)
            .map_err(RegistryError::Other)?;
        let reg = std::cell::Ref::map(self.state.borrow(), |s| &s.registry);
        if reg.down {
            return Err(RegistryError::Unreachable(
                "cannot reach the registry (MockRegistry::down)".into(),
            ));
        }
        Ok(reg)
    }

    fn aws(&self) -> Result<(), AwsError> {
        self.require(capability::AWS)
            .map_err(AwsError::Credentials)?;
        match &self.state.borrow().aws_down {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

fn mock_repository(name: &str, immutable_tags: bool) -> Repository {
    Repository {
        name: name.to_owned(),
        uri: format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}"),
        arn: format!("arn:aws:ecr:us-east-1:123456789012:repository/{name}"),
        immutable_tags,
    }
}

/// `sha256:<hex>` of `bytes`, as registries name blobs and manifests.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(bytes);
    let mut out = String::from("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}
