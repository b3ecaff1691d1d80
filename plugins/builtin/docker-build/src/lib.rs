//! The `docker-build` built-in: one service image, built by the Docker Engine from a
//! deterministic context, normalized by the host into a reproducible OCI image.
//!
//! - **Context**: the step's declared inputs under the service's `context` directory (the
//!   engine has already applied `.dockerignore`, and always includes the Dockerfile and
//!   `.dockerignore` themselves) plus its `artifact`s, the output files of other steps
//!   (a binary built by a `command` step), written as a sorted tar with fixed mtimes and
//!   owners ([`tar`]). Its blake3 is in the output; the same inputs give the same tar.
//! - **Stamp**: the commit SHA and its time are *stamped*, not fingerprinted: the image is
//!   labelled `org.opencontainers.image.revision` = the commit and every timestamp in it is
//!   the commit's time (`SOURCE_DATE_EPOCH`), but a new commit that changes none of the
//!   inputs reuses the cached image (and `ecr-push` gives it the new tag).
//! - **Tag**: `<repository>:<commit SHA>` locally; never `latest`.
//! - **Output**: the image ID, its OCI digest (the digest it will have in any registry),
//!   the manifest, and its blobs (stored as this step's output files, which `ecr-push`
//!   uploads without asking the Docker Engine again).

pub mod tar;

use std::collections::BTreeMap;

use forge_plugin_sdk::{
    Blob, BuildRequest, Context, Error, Info, Plugin, capability, export_plugin,
};
use serde::{Deserialize, Serialize};

use crate::tar::Mode;

/// The step's config, written by the engine from the service's `build` block.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Build context directory, relative to the project root.
    pub context: String,
    /// Dockerfile, relative to the context.
    pub dockerfile: String,
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    #[serde(default)]
    pub target: Option<String>,
    /// The image repository (`two-tier/backend`): the local tag's name.
    pub repository: String,
    /// Path in the context → `{"$ref": "step.NAME.OUTPUT"}`.
    #[serde(default)]
    pub artifacts: BTreeMap<String, serde_json::Value>,
    /// Where the sources live (a URL), for the `org.opencontainers.image.source` label.
    #[serde(default)]
    pub source: Option<String>,
    /// The secrets the Dockerfile mounts (`RUN --mount=type=secret,id=NAME`), by name: the
    /// step is given them by reference (`build { secret "NAME" from="REF" }`).
    #[serde(default)]
    pub secrets: Vec<String>,
}

/// The manifest downstream steps see.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Output {
    /// The local image ID (`sha256:` of the config).
    pub id: String,
    /// The OCI manifest digest.
    pub digest: String,
    /// The OCI manifest (canonical JSON), pushed as is by `ecr-push`.
    pub manifest: String,
    pub config: Blob,
    pub layers: Vec<Blob>,
    /// blake3 of the context tar sent to the engine.
    pub context: String,
    /// The commit the image was stamped with, if any.
    pub revision: Option<String>,
}

pub struct DockerBuild;

const REVISION: &str = "org.opencontainers.image.revision";
const SOURCE: &str = "org.opencontainers.image.source";

impl Plugin for DockerBuild {
    type Config = Config;
    type Output = Output;

    fn info() -> Info {
        Info::new(
            "docker-build",
            "builds a service image through the Docker Engine, reproducibly",
        )
        .config_schema(include_str!("schema.json"))
        .capability(capability::FILES_READ)
        .capability(capability::DOCKER)
    }

    fn run(ctx: &mut Context, config: Config) -> Result<Output, Error> {
        let mut context = tar::Context::default();
        let prefix = if config.context.is_empty() || config.context == "." {
            String::new()
        } else {
            format!("{}/", config.context.trim_end_matches('/'))
        };
        for (path, reference) in &config.artifacts {
            let (step, output) = artifact_source(path, reference)?;
            let produced = ctx.upstream_outputs(&step)?;
            if !produced.contains_key(&output) {
                let known: Vec<&str> = produced.keys().map(String::as_str).collect();
                return Err(Error::new(format!(
                    "artifact `{path}`: step `{step}` has no output `{output}` (it has: {})",
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                ))
                .with_help(format!(
                    "name one of `{step}`'s outputs in the reference, or add `{output}` to its `outputs`"
                )));
            }
            let bytes = ctx.read_upstream(&step, &output)?;
            context.add(path, Mode::Executable, bytes);
        }
        for input in ctx.inputs().to_vec() {
            let Some(rel) = input.strip_prefix(&prefix) else {
                continue; // an extra `input` glob outside the context: fingerprint only
            };
            let bytes = ctx.read(&input)?;
            if !context.add(rel, Mode::File, bytes) {
                return Err(Error::new(format!(
                    "`{input}` is in the build context and is also the artifact `{rel}`"
                ))
                .with_help(format!(
                    "exclude `{rel}` in {prefix}.dockerignore: the artifact comes from its step's output, not from the working tree"
                )));
            }
        }
        let dockerfile_in_context = config.dockerfile.clone();
        if context.is_empty() {
            return Err(Error::new(format!(
                "the build context `{}` has no files",
                config.context
            ))
            .with_help("check `context` in the service's build block and its .dockerignore"));
        }
        let tar = context.to_tar();
        let context_hash = format!("blake3:{}", blake3::hash(&tar).to_hex());

        let revision = ctx.commit().map(str::to_owned);
        let epoch = ctx.commit_time().unwrap_or(0);
        // `created` is the host's: it sets every timestamp to the epoch.
        let mut labels = Vec::new();
        if let Some(rev) = &revision {
            labels.push((REVISION.to_owned(), rev.clone()));
        }
        if let Some(source) = &config.source {
            labels.push((SOURCE.to_owned(), source.clone()));
        }
        labels.sort();
        let mut build_args: Vec<(String, String)> = config.args.clone().into_iter().collect();
        if !config.args.contains_key("SOURCE_DATE_EPOCH") {
            build_args.push(("SOURCE_DATE_EPOCH".to_owned(), epoch.to_string()));
            build_args.sort();
        }
        let tags = match &revision {
            Some(rev) => vec![format!("{}:{rev}", config.repository)],
            None => {
                ctx.warn("no commit SHA (not a git checkout, and FORGE_COMMIT_SHA is unset): the image gets no local tag");
                Vec::new()
            }
        };
        ctx.info(format!(
            "building {} from {} ({} files, {} bytes of context)",
            config.repository,
            config.context,
            context.len(),
            tar.len()
        ));
        let request = BuildRequest {
            context: tar,
            dockerfile: dockerfile_in_context,
            build_args,
            target: config.target.clone(),
            labels,
            source_date_epoch: epoch,
            tags,
        };
        let image = if config.secrets.is_empty() {
            ctx.docker_build(&request)?
        } else {
            // Handles only: the host reads the values and gives them to BuildKit.
            let secrets = config
                .secrets
                .iter()
                .map(|name| ctx.secret(name))
                .collect::<Result<Vec<_>, _>>()?;
            ctx.info(format!(
                "mounting secrets {} (values read by forge, masked in this log)",
                config.secrets.join(", ")
            ));
            ctx.docker_build_with_secrets(&request, &secrets.iter().collect::<Vec<_>>())?
        };
        ctx.info(format!("built {} ({})", image.digest, image.id));
        Ok(Output {
            id: image.id,
            digest: image.digest,
            manifest: image.manifest,
            config: image.config,
            layers: image.layers,
            context: context_hash,
            revision,
        })
    }
}

/// `{"$ref": "step.NAME.OUTPUT"}` → (`NAME`, `OUTPUT`).
fn artifact_source(path: &str, reference: &serde_json::Value) -> Result<(String, String), Error> {
    let target = reference
        .get("$ref")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    match target.strip_prefix("step.").and_then(|t| t.split_once('.')) {
        Some((step, output)) if !step.is_empty() && !output.is_empty() => {
            Ok((step.to_owned(), output.to_owned()))
        }
        _ => Err(Error::new(format!(
            "artifact `{path}` must come from a step output, got {reference}"
        ))
        .with_help(
            "write `artifact \"PATH\" (ref)\"step.NAME.OUTPUT\"` in the service's build block",
        )),
    }
}

export_plugin!(DockerBuild);
