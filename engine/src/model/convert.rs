//! One env's merged KDL nodes → a typed [`Config`], with the documented defaults.
//!
//! Readers report problems into [`Cx`] and fill a placeholder for anything missing, so one
//! pass finds every problem in the file. A `Config` built with placeholders is never handed
//! out: [`super::parse`] fails if any error was reported.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kdl::KdlNode;
use miette::SourceSpan;

use super::Phase;
use super::read::Cx;
use super::schema::Ctx;
use super::{
    Config, ConfigValue, ModelError, Module, PROJECT_FILE, PluginDecl, PluginSource, Registry,
    RegistryKind, RegistryLogin, RemoteCacheDecl, SecretRef, Spanned, StateBackend, StateLock,
    StepDecl,
};

/// Defaults for optional values; `docs/project-kdl.md` lists the same numbers.
pub mod defaults {
    pub const DOCKERFILE: &str = "Dockerfile";
    pub const CPU: u32 = 256;
    pub const MEMORY: u32 = 512;
    pub const DESIRED_COUNT: u32 = 1;
    pub const HEALTH_PATH: &str = "/";
    pub const HEALTH_INTERVAL: u32 = 30;
    pub const HEALTH_TIMEOUT: u32 = 5;
    pub const HEALTHY: u32 = 3;
    pub const UNHEALTHY: u32 = 3;
    pub const MATCHER: &str = "200";
    pub const STATE_KEY: &str = "{project}/{env}/terraform.tfstate";
    /// How long `ecs-rollout` follows a rollout before calling it stalled.
    pub const ROLLOUT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10 * 60);
    /// `ecs-rollout`'s pause between polls.
    pub const ROLLOUT_POLL: std::time::Duration = std::time::Duration::from_secs(5);
}

pub(crate) fn placeholder<T>(value: T, span: SourceSpan) -> Spanned<T> {
    Spanned::new(value, span)
}

pub(crate) fn u32_of(v: Spanned<i128>) -> Spanned<u32> {
    Spanned::new(u32::try_from(v.value).unwrap_or(0), v.span)
}

/// What the base `project` node says, besides the per-env config.
pub(crate) struct Header {
    pub default_env: Option<Spanned<String>>,
}

pub(crate) fn read_config(nodes: &[KdlNode], env: &str, cx: &mut Cx) -> (Config, Header) {
    let none = SourceSpan::from(0..0);
    let mut project = None;
    let mut region = None;
    let mut header = Header { default_env: None };
    let mut config = Config {
        env: env.to_string(),
        project: placeholder(String::new(), none),
        region: placeholder(String::new(), none),
        source: None,
        services: BTreeMap::new(),
        registries: BTreeMap::new(),
        modules: BTreeMap::new(),
        state: None,
        cache: None,
        plugins: BTreeMap::new(),
        steps: BTreeMap::new(),
        vars: BTreeMap::new(),
    };
    let mut project_node = None;
    for node in nodes {
        match node.name().value() {
            // Checked once for the whole file before envs are resolved.
            "version" => {}
            "project" => {
                project_node = Some(node);
                cx.shape(node, 1, &[], Ctx::Project);
                project = cx.name(node, "project");
                for child in node.iter_children() {
                    match child.name().value() {
                        "region" => {
                            region = cx.leaf_string(child, "an AWS region such as `us-east-1`")
                        }
                        "default-env" => {
                            header.default_env =
                                cx.leaf_string(child, "the env used without `--env`")
                        }
                        "source" => {
                            config.source =
                                cx.leaf_string(child, "the URL of the project's source repository")
                        }
                        _ => cx.unknown_node_in(child, Ctx::Project),
                    }
                }
            }
            "registry" => {
                if let Some(r) = read_registry(node, cx) {
                    config.registries.insert(r.name.value.clone(), r);
                }
            }
            "state" => config.state = Some(read_state(node, cx)),
            "cache" => config.cache = read_cache(node, cx),
            "service" => {
                if let Some(s) = super::service::read_service(node, cx) {
                    config.services.insert(s.name.value.clone(), s);
                }
            }
            "module" => {
                if let Some(m) = read_module(node, cx) {
                    config.modules.insert(m.name.value.clone(), m);
                }
            }
            "var" => {
                if let Some(name) = cx.name(node, "var") {
                    let value =
                        cx.node_value(node, 1, "give the var a value: `var \"NAME\" \"value\"`");
                    let value = value.unwrap_or_else(|| placeholder(ConfigValue::Null, name.span));
                    config.vars.insert(name.value, value);
                }
            }
            "plugin" => {
                if let Some(p) = read_plugin(node, cx) {
                    config.plugins.insert(p.name.value.clone(), p);
                }
            }
            "step" => {
                if let Some(s) = read_step(node, cx) {
                    config.steps.insert(s.name.value.clone(), s);
                }
            }
            _ => cx.unknown_node_in(node, Ctx::Top),
        }
    }
    match (project, project_node) {
        (Some(name), Some(node)) => {
            match region {
                Some(r) => config.region = r,
                None => cx.missing(
                    node,
                    "a `region`",
                    "add `region \"us-east-1\"` to the project block".into(),
                ),
            }
            config.project = name;
        }
        (None, Some(_)) => {}
        _ => {
            // A missing required node, so `missing_value` like every other one.
            let err = ModelError::MissingValue {
                node: PROJECT_FILE.into(),
                what: "a `project` node".into(),
                src: cx.src(),
                span: none,
                help: "add `project \"NAME\" { region \"us-east-1\" }` after `version 1`".into(),
            };
            cx.errors.push(err);
        }
    }
    if let Some(cache) = &mut config.cache
        && cache.region.value.is_empty()
    {
        cache.region = config.region.clone();
    }
    // An SSM parameter a step reads is read in the project's region.
    let secrets = config
        .services
        .values_mut()
        .flat_map(|s| s.secrets.values_mut().chain(s.build.secrets.values_mut()))
        .chain(
            config
                .steps
                .values_mut()
                .flat_map(|s| s.secrets.values_mut()),
        )
        .chain(
            config
                .registries
                .values_mut()
                .filter_map(|r| r.login.as_mut().map(|l| &mut l.password)),
        );
    for secret in secrets {
        if let SecretRef::Ssm { region, .. } = &mut secret.value
            && region.is_empty()
        {
            region.clone_from(&config.region.value);
        }
    }
    if let Some(state) = &mut config.state {
        if state.region.value.is_empty() {
            state.region = config.region.clone();
        }
        if state.key.value.contains("{project}") {
            state.key.value = state.key.value.replace("{project}", &config.project.value);
        }
    }
    (config, header)
}

fn read_registry(node: &KdlNode, cx: &mut Cx) -> Option<Registry> {
    cx.shape(node, 1, &[], Ctx::Registry);
    let name = cx.name(node, "registry")?;
    let head = cx.head_span(node);
    let mut registry = Registry {
        name,
        kind: placeholder(RegistryKind::Ecr, head),
        url: placeholder(String::new(), head),
        endpoint: None,
        create_repositories: placeholder(false, head),
        immutable_tags: placeholder(true, head),
        login: None,
    };
    let mut url = None;
    let (mut username, mut password) = (None, None);
    for child in node.iter_children() {
        match child.name().value() {
            "kind" => {
                if let Some(kind) = cx.leaf_string(child, "`ecr` or `oci`") {
                    let value = match kind.value.as_str() {
                        "ecr" => RegistryKind::Ecr,
                        "oci" => RegistryKind::Oci,
                        other => {
                            let help = super::schema::did_you_mean(other, ["ecr", "oci"], "kind");
                            cx.invalid(
                                kind.span,
                                format!("unknown registry kind `{other}`"),
                                "not a registry kind",
                                help,
                            );
                            continue;
                        }
                    };
                    registry.kind = Spanned::new(value, kind.span);
                }
            }
            "url" => {
                url = cx.leaf_string(
                    child,
                    "the registry host, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com`",
                )
            }
            "endpoint" => registry.endpoint = cx.leaf_string(child, "an AWS API endpoint URL"),
            "create-repositories" => {
                if let Some(b) = cx.leaf_bool(child) {
                    registry.create_repositories = b;
                }
            }
            "immutable-tags" => {
                if let Some(b) = cx.leaf_bool(child) {
                    registry.immutable_tags = b;
                }
            }
            "username" => username = cx.leaf_string(child, "the user the registry knows forge as"),
            "password" => {
                cx.shape(child, 0, &["from"], Ctx::Leaf);
                password = super::service::secret_from(
                    child,
                    cx,
                    super::service::SecretUse::Step,
                    "`password from=\"env:VARIABLE\"`, `from=\"ssm:/path\"` or `from=\"arn:aws:secretsmanager:...\"`: forge reads the value when it pushes, and never stores it",
                );
            }
            _ => cx.unknown_node_in(child, Ctx::Registry),
        }
    }
    match url {
        Some(url) => registry.url = url,
        None => cx.missing(
            node,
            "a `url`",
            "add `url \"HOST\"` (the registry host images are pushed to)".into(),
        ),
    }
    registry.login = match (username, password) {
        (Some(username), Some(_)) if registry.kind.value == RegistryKind::Ecr => {
            cx.invalid(
                username.span,
                "an ECR registry takes no `username`".to_string(),
                "ECR logs in with forge's AWS credentials",
                "forge gets ECR's credentials from GetAuthorizationToken; `username` and `password` are for `kind \"oci\"` registries".into(),
            );
            None
        }
        (Some(username), Some(password)) => Some(RegistryLogin { username, password }),
        (None, None) => None,
        (Some(_), None) => {
            cx.missing(
                node,
                "a `password`",
                "a registry with a `username` logs in with `password from=\"env:VARIABLE\"` (or an `ssm:/path` or Secrets Manager ARN)".into(),
            );
            None
        }
        (None, Some(_)) => {
            cx.missing(
                node,
                "a `username`",
                "add `username \"USER\"`: the password is that user's".into(),
            );
            None
        }
    };
    Some(registry)
}

fn read_state(node: &KdlNode, cx: &mut Cx) -> StateBackend {
    cx.shape(node, 0, &[], Ctx::State);
    let head = cx.head_span(node);
    let mut state = StateBackend {
        bucket: placeholder(String::new(), head),
        key: placeholder(defaults::STATE_KEY.to_string(), head),
        region: placeholder(String::new(), head),
        endpoint: None,
        lock: placeholder(StateLock::S3Lockfile, head),
        span: head,
    };
    let mut has_s3 = false;
    for child in node.iter_children() {
        match child.name().value() {
            "s3" => {
                has_s3 = true;
                state.endpoint = read_s3(
                    cx,
                    child,
                    "the S3 bucket that holds the state",
                    &mut state.bucket,
                    [("key", &mut state.key), ("region", &mut state.region)],
                );
            }
            "lock" => {
                cx.shape(child, 2, &["table"], Ctx::Leaf);
                let help = "`lock \"s3-lockfile\"`, `lock \"dynamodb\" table=\"NAME\"`, or both: `lock \"s3-lockfile\" \"dynamodb\" table=\"NAME\"`";
                if cx.arg(child, 0).is_none() {
                    cx.missing(child, "a lock kind", help.into());
                    continue;
                }
                let mut lockfile = false;
                let mut dynamodb = false;
                let mut bad = false;
                for index in 0..2 {
                    let Some(entry) = cx.arg(child, index) else {
                        break;
                    };
                    let Some(kind) = cx.string(child, entry, help) else {
                        bad = true;
                        continue;
                    };
                    match kind.value.as_str() {
                        "s3-lockfile" => lockfile = true,
                        "dynamodb" => dynamodb = true,
                        other => {
                            let hint = super::schema::did_you_mean(
                                other,
                                ["s3-lockfile", "dynamodb"],
                                "lock",
                            );
                            cx.invalid(
                                kind.span,
                                format!("unknown lock kind `{other}`"),
                                "not a lock kind",
                                hint,
                            );
                            bad = true;
                        }
                    }
                }
                if bad {
                    continue;
                }
                let table = cx.prop(child, "table");
                let lock = match (dynamodb, table) {
                    (false, None) => StateLock::S3Lockfile,
                    (false, Some(t)) => {
                        let span = cx.entry_span(t);
                        cx.invalid(
                            span,
                            "`table=` only applies to the DynamoDB lock".into(),
                            "not used by `s3-lockfile`",
                            "remove `table=`, or use `lock \"dynamodb\" table=\"NAME\"`".into(),
                        );
                        StateLock::S3Lockfile
                    }
                    (true, Some(t)) => match cx.string(child, t, "the DynamoDB table name") {
                        Some(t) if lockfile => StateLock::Both { table: t.value },
                        Some(t) => StateLock::DynamoDb { table: t.value },
                        None => continue,
                    },
                    (true, None) => {
                        cx.missing(child, "a `table=`", "add `table=\"NAME\"`: a DynamoDB table with a `LockID` string hash key".into());
                        continue;
                    }
                };
                state.lock = Spanned::new(lock, cx.head_span(child));
            }
            _ => cx.unknown_node_in(child, Ctx::State),
        }
    }
    if !has_s3 {
        cx.missing(
            node,
            "an `s3` backend",
            "add `s3 bucket=\"NAME\" key=\"PROJECT/{env}/terraform.tfstate\"`".into(),
        );
    }
    state
}

/// An `s3 bucket=… KEY=… region=… endpoint=…` node (of `state` and `cache`): the bucket
/// (required), two more string properties into `slots`, and the endpoint it returns.
fn read_s3(
    cx: &mut Cx,
    child: &KdlNode,
    bucket_is: &str,
    bucket: &mut Spanned<String>,
    slots: [(&str, &mut Spanned<String>); 2],
) -> Option<Spanned<String>> {
    let props = [slots[0].0, slots[1].0, "bucket", "endpoint"];
    cx.shape(child, 0, &props, Ctx::Leaf);
    match cx.prop(child, "bucket") {
        Some(e) => {
            if let Some(b) = cx.string(child, e, bucket_is) {
                *bucket = b;
            }
        }
        None => cx.missing(
            child,
            "a `bucket=`",
            format!("add `bucket=\"NAME\"`: {bucket_is}"),
        ),
    }
    for (key, slot) in slots {
        if let Some(e) = cx.prop(child, key)
            && let Some(v) = cx.string(child, e, "a string")
        {
            *slot = v;
        }
    }
    let endpoint = cx.prop(child, "endpoint")?;
    cx.string(child, endpoint, "an S3 endpoint URL")
}

fn read_cache(node: &KdlNode, cx: &mut Cx) -> Option<RemoteCacheDecl> {
    cx.shape(node, 0, &[], Ctx::Cache);
    let head = cx.head_span(node);
    let mut cache = RemoteCacheDecl {
        bucket: placeholder(String::new(), head),
        prefix: placeholder(String::new(), head),
        region: placeholder(String::new(), head),
        endpoint: None,
        trusted: BTreeMap::new(),
        span: head,
    };
    let mut has_s3 = false;
    for child in node.iter_children() {
        match child.name().value() {
            "s3" => {
                has_s3 = true;
                cache.endpoint = read_s3(
                    cx,
                    child,
                    "the S3 bucket the agents share results in",
                    &mut cache.bucket,
                    [("prefix", &mut cache.prefix), ("region", &mut cache.region)],
                );
            }
            "trust" => {
                cx.shape(child, 2, &[], Ctx::Leaf);
                let Some(name) = cx.name(child, "trust") else {
                    continue;
                };
                let help = "`trust \"NAME\" \"ed25519:…\"`: the public key `forge cache keygen` printed for that writer";
                let Some(entry) = cx.arg(child, 1) else {
                    cx.missing(child, "a public key", help.into());
                    continue;
                };
                let Some(key) = cx.string(child, entry, help) else {
                    continue;
                };
                if let Err(why) = crate::remote::PublicKey::parse(&key.value) {
                    cx.invalid(
                        key.span,
                        format!("`{}` is not a writer's public key: {why}", key.value),
                        "not an ed25519 public key",
                        help.into(),
                    );
                    continue;
                }
                cache.trusted.insert(name.value, key);
            }
            _ => cx.unknown_node_in(child, Ctx::Cache),
        }
    }
    if !has_s3 {
        cx.missing(
            node,
            "an `s3` location",
            "add `s3 bucket=\"NAME\" prefix=\"forge-cache/\"`".into(),
        );
        return None;
    }
    Some(cache)
}

fn read_module(node: &KdlNode, cx: &mut Cx) -> Option<Module> {
    cx.shape(node, 1, &[], Ctx::Module);
    let name = cx.name(node, "module")?;
    let head = cx.head_span(node);
    let mut module = Module {
        name,
        source: placeholder(PathBuf::new(), head),
        inputs: BTreeMap::new(),
        span: head,
    };
    let mut source = false;
    let mut keys: Vec<Spanned<String>> = Vec::new();
    for child in node.iter_children() {
        match child.name().value() {
            "source" => {
                if let Some(s) = cx.leaf_string(
                    child,
                    "a folder of `.tf` files relative to the project root",
                ) {
                    source = true;
                    module.source = Spanned::new(PathBuf::from(s.value), s.span);
                }
            }
            "input" => {
                let help = "`input \"VARIABLE\" value` (a string, number, boolean, `(ref)\"...\"`, several values for a list, or a `{ ... }` block for a map)";
                let Some(key) = cx.arg(child, 0).and_then(|e| cx.string(child, e, help)) else {
                    if cx.arg(child, 0).is_none() {
                        cx.missing(child, "a variable name", help.into());
                    }
                    continue;
                };
                if let Some(v) = cx.node_value(child, 1, help) {
                    module.inputs.insert(key.value.clone(), v);
                    keys.push(key);
                }
            }
            _ => cx.unknown_node_in(child, Ctx::Module),
        }
    }
    if !source {
        let name = &module.name.value;
        cx.missing(
            node,
            "a `source`",
            format!("add `source \"modules/{name}\"`: the folder with the module's `.tf` files"),
        );
    } else {
        super::validate::module_files(&module, &keys, cx);
    }
    Some(module)
}

fn read_plugin(node: &KdlNode, cx: &mut Cx) -> Option<PluginDecl> {
    cx.shape(node, 1, &["path", "hash"], Ctx::Plugin);
    let name = cx.name(node, "plugin")?;
    let head = cx.head_span(node);
    let path = cx
        .prop(node, "path")
        .and_then(|e| cx.string(node, e, "a `.wasm` file relative to the project root"));
    let hash = cx
        .prop(node, "hash")
        .and_then(|e| cx.string(node, e, "`blake3:` + 64 hex digits"));
    if let Some(path) = &path {
        super::validate::inside_root(cx, &path.value, path.span, "plugin");
    }
    let source = match (path, hash) {
        (Some(path), Some(hash)) => {
            if crate::pin::well_formed(&hash.value) {
                super::validate::plugin_file(cx, &path, &hash);
            } else {
                cx.errors.push(super::ModelError::BadHash {
                    hash: hash.value.clone(),
                    src: cx.src(),
                    span: hash.span,
                    help: format!(
                        "compute it with `b3sum {}` and write `hash=\"blake3:<hex>\"`",
                        path.value
                    ),
                });
            }
            PluginSource::Path {
                path: PathBuf::from(&path.value),
                hash: hash.value,
            }
        }
        (Some(path), None) => {
            cx.missing(node, "a `hash=` pin", format!("third-party plugins are pinned by hash: add `hash=\"blake3:...\"` (`b3sum {}`)", path.value));
            PluginSource::Path {
                path: PathBuf::from(&path.value),
                hash: String::new(),
            }
        }
        (None, Some(hash)) => {
            cx.invalid(
                hash.span,
                "`hash=` without `path=`".into(),
                "pins nothing",
                "built-in plugins need no hash; third-party plugins need `path=` too".into(),
            );
            PluginSource::Builtin
        }
        (None, None) => {
            if !super::BUILTIN_PLUGINS.contains(&name.value.as_str()) {
                let help = format!(
                    "{} (a third-party plugin needs `path=\"plugins/NAME.wasm\" hash=\"blake3:...\"`)",
                    super::schema::did_you_mean(
                        &name.value,
                        super::BUILTIN_PLUGINS.iter().copied(),
                        "built-in plugin"
                    )
                );
                cx.errors.push(super::ModelError::UndefinedReference {
                    kind: "built-in plugin".into(),
                    name: name.value.clone(),
                    src: cx.src(),
                    span: name.span,
                    help,
                });
            }
            PluginSource::Builtin
        }
    };
    let mut grants = Vec::new();
    for child in node.iter_children() {
        match child.name().value() {
            "grant" => grants.extend(cx.strings(child, "a capability, e.g. `files.read`")),
            _ => cx.unknown_node_in(child, Ctx::Plugin),
        }
    }
    // A misspelt grant would otherwise be ignored, and the plugin refused at run time for
    // lacking the capability the author meant to give it.
    for grant in &grants {
        if forge_contract::Capability::from_name(&grant.value).is_none() {
            let names = forge_contract::Capability::ALL.map(forge_contract::Capability::name);
            cx.invalid(
                grant.span,
                format!("unknown capability `{}`", grant.value),
                "not a capability forge can grant",
                super::schema::did_you_mean(&grant.value, names, "capability"),
            );
        }
    }
    Some(PluginDecl {
        name,
        source,
        grants,
        span: head,
    })
}

fn read_step(node: &KdlNode, cx: &mut Cx) -> Option<StepDecl> {
    cx.shape(node, 1, &[], Ctx::Step);
    let name = cx.name(node, "step")?;
    let head = cx.head_span(node);
    let mut step = StepDecl {
        name,
        plugin: placeholder(String::new(), head),
        config: placeholder(ConfigValue::Map(BTreeMap::new()), head),
        inputs: Vec::new(),
        needs: Vec::new(),
        env_vars: Vec::new(),
        commit_sha: placeholder(false, head),
        secrets: BTreeMap::new(),
        phase: placeholder(Phase::Deploy, head),
        span: head,
    };
    let mut plugin = false;
    for child in node.iter_children() {
        match child.name().value() {
            "plugin" => {
                if let Some(p) =
                    cx.leaf_string(child, "a built-in plugin or a `plugin` node's name")
                {
                    plugin = true;
                    step.plugin = p;
                }
            }
            "config" => {
                cx.shape(child, 0, &[], Ctx::Free);
                let mut map = BTreeMap::new();
                for entry in child.iter_children() {
                    if let Some(v) = cx.node_value(entry, 0, "`NAME value` or `NAME { ... }`") {
                        map.insert(entry.name().value().to_string(), v.value);
                    }
                }
                step.config = Spanned::new(ConfigValue::Map(map), cx.head_span(child));
            }
            "input" => step
                .inputs
                .extend(cx.strings(child, "a glob relative to the project root")),
            "needs" => step
                .needs
                .extend(cx.strings(child, "a step id, e.g. `docker-build:backend`")),
            "env-var" => step
                .env_vars
                .extend(cx.strings(child, "the name of a process environment variable")),
            "commit-sha" => {
                if let Some(b) = cx.leaf_bool(child) {
                    step.commit_sha = b;
                }
            }
            "secret" => {
                if let Some((name, secret)) =
                    super::service::read_secret(child, cx, super::service::SecretUse::Step)
                {
                    step.secrets.insert(name, secret);
                }
            }
            "phase" => {
                if let Some(p) = cx.leaf_string(child, "`build` or `deploy`") {
                    let phase = match p.value.as_str() {
                        "build" => Phase::Build,
                        "deploy" => Phase::Deploy,
                        other => {
                            let help =
                                super::schema::did_you_mean(other, ["build", "deploy"], "phase");
                            cx.invalid(
                                p.span,
                                format!("unknown phase `{other}`"),
                                "not a phase",
                                help,
                            );
                            continue;
                        }
                    };
                    step.phase = Spanned::new(phase, p.span);
                }
            }
            _ => cx.unknown_node_in(child, Ctx::Step),
        }
    }
    if !plugin {
        cx.missing(
            node,
            "a `plugin`",
            "add `plugin \"NAME\"`: a built-in plugin or a declared `plugin` node".into(),
        );
    }
    Some(step)
}
