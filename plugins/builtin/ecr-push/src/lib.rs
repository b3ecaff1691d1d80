//! The `ecr-push` built-in: puts the image `docker-build` produced into the service's
//! registry under the commit SHA, uploading only what the registry lacks.
//!
//! 1. ECR (`kind "ecr"`): the repository must exist (`DescribeRepositories`), or is created
//!    when the registry says `create-repositories #true`; credentials come from
//!    `GetAuthorizationToken` and stay in the host. An `oci` registry is used as is, or
//!    logged in to with its `username` and the password secret the project declares for
//!    it (`registry.login`: the host reads the value and keeps it).
//! 2. The tag is the commit SHA, never `latest`. If the tag already names this image there
//!    is nothing to do; if it names another one and tags are immutable (the repository's
//!    setting or the registry's `immutable-tags`), the push stops: a commit's image never
//!    changes under its tag.
//! 3. Each blob (config, layers) is uploaded only if the registry lacks it, from
//!    `docker-build`'s output files (not from the Docker Engine), then the manifest; the
//!    digest the registry reports must equal the one `docker-build` computed.
//!
//! Output: the repository URI, the image pinned by digest (`uri@sha256:...`) and the
//! digest; the tag and the upload counts are logged, not output, so a new commit of an
//! unchanged image leaves downstream steps cached.

use forge_plugin_sdk::{
    AwsTarget, Blob, Context, Credentials, Error, Info, Plugin, UpstreamBlob, capability,
    export_plugin,
};
use serde::{Deserialize, Serialize};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Repository name in the registry (`two-tier/backend`).
    pub repository: String,
    /// The project's AWS region.
    pub region: String,
    pub registry: Registry,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    pub name: String,
    /// `ecr` or `oci`.
    pub kind: String,
    /// The registry host (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`, `127.0.0.1:5000`).
    pub url: String,
    /// AWS API endpoint override (a local moto server).
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(rename = "create-repositories", default)]
    pub create_repositories: bool,
    #[serde(rename = "immutable-tags", default)]
    pub immutable_tags: bool,
    /// The user an `oci` registry is logged in to as, with `password-secret`.
    #[serde(default)]
    pub username: Option<String>,
    /// The name of this step's secret that holds the password.
    #[serde(rename = "password-secret", default)]
    pub password_secret: Option<String>,
}

/// What `docker-build` outputs (the fields this step reads).
#[derive(Debug, Deserialize)]
pub struct Built {
    pub digest: String,
    pub manifest: String,
    pub config: Blob,
    pub layers: Vec<Blob>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Output {
    /// `<registry>/<repository>`.
    pub repository: String,
    /// `<registry>/<repository>@sha256:...`: how later steps pin the image.
    pub image: String,
    pub digest: String,
}

pub struct EcrPush;

impl Plugin for EcrPush {
    type Config = Config;
    type Output = Output;

    fn info() -> Info {
        Info::new(
            "ecr-push",
            "pushes an image to ECR or an OCI registry, tagged by commit SHA",
        )
        .config_schema(include_str!("schema.json"))
        .capability(capability::REGISTRY)
        .capability(capability::AWS)
        .capability(capability::SECRETS)
    }

    fn run(ctx: &mut Context, config: Config) -> Result<Output, Error> {
        let Some(tag) = ctx.commit().map(str::to_owned) else {
            return Err(Error::new("no commit SHA to tag the image with").with_help(
                "run forge inside a git checkout with at least one commit, or set FORGE_COMMIT_SHA (or GIT_COMMIT)",
            ));
        };
        let build_step = ctx
            .upstream_steps()
            .find(|s| s.starts_with("docker-build:"))
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::new(format!(
                    "`{}` has no docker-build step upstream",
                    ctx.step()
                ))
            })?;
        let built: Built = ctx.upstream(&build_step)?;
        let registry = config.registry.url.trim_end_matches('/').to_owned();
        let repo = config.repository.as_str();
        let uri = format!("{registry}/{repo}");

        let mut immutable = config.registry.immutable_tags;
        let credentials: Option<Credentials> = match config.registry.kind.as_str() {
            "ecr" => {
                let target = AwsTarget {
                    region: Some(config.region.clone()),
                    endpoint: config.registry.endpoint.clone(),
                };
                let existing = ctx.ecr_describe_repository(&target, repo)?;
                let repository = match existing {
                    Some(r) => r,
                    None if config.registry.create_repositories => {
                        ctx.info(format!("creating ECR repository {repo}"));
                        ctx.ecr_create_repository(&target, repo, config.registry.immutable_tags)?
                    }
                    None => {
                        return Err(Error::new(format!(
                            "ECR repository `{repo}` does not exist"
                        ))
                        .with_help(format!(
                            "create it (the reference project's Terraform module `ecr-*` does), or set `create-repositories #true` in registry \"{}\"",
                            config.registry.name
                        )));
                    }
                };
                immutable |= repository.immutable_tags;
                Some(ctx.ecr_login(&target, Some(&registry))?)
            }
            "oci" => match (&config.registry.username, &config.registry.password_secret) {
                (Some(username), Some(secret)) => {
                    let password = ctx.secret(secret)?;
                    ctx.info(format!("logging in to {registry} as {username}"));
                    Some(ctx.registry_login(&registry, username, &password)?)
                }
                (None, None) => None,
                _ => {
                    return Err(Error::new(format!(
                        "registry \"{}\" has a user name or a password, not both",
                        config.registry.name
                    ))
                    .with_help("give the registry both `username` and `password from=...`"));
                }
            },
            other => {
                return Err(Error::new(format!("unknown registry kind `{other}`"))
                    .with_help("use `kind \"ecr\"` or `kind \"oci\"`"));
            }
        };
        let creds = credentials.as_ref();
        let output = Output {
            repository: uri.clone(),
            image: format!("{uri}@{}", built.digest),
            digest: built.digest.clone(),
        };

        match ctx.registry_resolve(&registry, repo, &tag, creds)? {
            Some(existing) if existing == built.digest => {
                ctx.info(format!(
                    "{uri}:{tag} is already {}: nothing to push",
                    built.digest
                ));
                return Ok(output);
            }
            Some(existing) if immutable => {
                return Err(Error::new(format!(
                    "tag {uri}:{tag} already names {existing}, not this build's {}",
                    built.digest
                ))
                .with_help(
                    "tags are immutable here: the image built for this commit differs from the one pushed before (a non-reproducible build, or a rebuilt store?); push from the build that made the first image, or delete the tag deliberately",
                ));
            }
            Some(existing) => ctx.warn(format!(
                "{uri}:{tag} named {existing}; moving it to {} (the repository's tags are mutable)",
                built.digest
            )),
            None => {}
        }

        let blobs: Vec<&Blob> = std::iter::once(&built.config)
            .chain(built.layers.iter())
            .collect();
        let (mut uploaded, mut bytes) = (0usize, 0u64);
        for (i, blob) in blobs.iter().enumerate() {
            if !ctx.registry_has_blob(&registry, repo, &blob.digest, creds)? {
                bytes += ctx.registry_push_blob(
                    &registry,
                    repo,
                    &UpstreamBlob {
                        step: build_step.clone(),
                        output: blob.output.clone(),
                        digest: blob.digest.clone(),
                    },
                    creds,
                )?;
                uploaded += 1;
            }
            ctx.progress(i as u64 + 1, blobs.len() as u64);
        }
        let pushed = ctx.registry_put_manifest(
            &registry,
            repo,
            &tag,
            OCI_MANIFEST,
            built.manifest.as_bytes(),
            creds,
        )?;
        if pushed != built.digest {
            return Err(Error::new(format!(
                "the registry stored {uri}:{tag} as {pushed}, but the build's digest is {}",
                built.digest
            ))
            .with_help("the registry rewrote the manifest; forge pins images by the built digest, so this registry cannot be used as is"));
        }
        ctx.info(format!(
            "pushed {uri}:{tag} = {}: {uploaded} of {} blobs uploaded ({bytes} bytes)",
            built.digest,
            blobs.len()
        ));
        Ok(output)
    }
}

export_plugin!(EcrPush);
