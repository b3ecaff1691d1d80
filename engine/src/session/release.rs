//! The release manifest: what a CI build pushed, handed to CD so a deploy ships exactly
//! those images and builds nothing.
//!
//! `forge build --release-out release.json` writes a [`Release`] from the build's own run
//! record: the project, the commit, per service the repository, the tag (the commit SHA,
//! which `ecr-push` tags with), the image pinned by digest, and the push's result (its full
//! fingerprint and output manifest), plus the fingerprint hash of every build step.
//!
//! `forge deploy --env E --release release.json` checks the manifest against the checkout
//! ([`Session::release_pins`]: same project, same commit, same services, the same
//! repositories as this env pushes to), records each push's result in the local store (so
//! `forge history` and `forge rollback` work on the CD agent too) and pins the pushes to
//! it ([`crate::scheduler::Pinned`]). The graph then leaves out everything only the pushes
//! need ([`crate::graph::StepGraph::up_to_pinned`]): no image is built, nothing is pushed.
//! That the digests exist in the registry is the caller's check (it needs the registry's
//! credentials): [`Session::release_images`] says where to look.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::executor::StepOutput;
use crate::fingerprint::Fingerprint;
use crate::graph::ids;
use crate::model::Phase;
use crate::scheduler::Pinned;
use crate::store::{RunRecord, Store};
use crate::text::short_hash;

use super::Session;
use super::rollback::result;

/// The `format` of the manifests this forge writes and reads.
pub const FORMAT: &str = "forge-release/1";

/// What CI built, for CD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// [`FORMAT`].
    pub format: String,
    /// The project's name (`project` in project.kdl).
    pub project: String,
    /// The commit the images were built from (and are tagged with).
    pub commit: String,
    /// The id of the build run that wrote it.
    pub run: String,
    /// When it was written (RFC 3339, UTC).
    pub created: String,
    /// Service → its image.
    pub images: BTreeMap<String, ReleasedImage>,
    /// Build step id → its fingerprint hash, for comparing two builds and `forge explain`.
    pub steps: BTreeMap<String, String>,
}

/// One service's image in a [`Release`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasedImage {
    /// `<registry>/<repository>`.
    pub repository: String,
    /// The tag the push left: the commit SHA.
    pub tag: String,
    /// `<repository>@sha256:…`: what is deployed.
    pub image: String,
    pub digest: String,
    pub push: PushResult,
}

/// The push step's result, as the build stored it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushResult {
    /// Its fingerprint; the hash is [`Release::steps`]`["ecr-push:<service>"]`.
    pub fingerprint: Fingerprint,
    /// Its output manifest, exactly as the step returned it.
    pub output: serde_json::Value,
}

/// Where to check that a released image exists: the registry and repository this env's
/// push step is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasedTarget {
    pub service: String,
    /// `ecr` or `oci`.
    pub kind: String,
    /// The registry host (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`, `127.0.0.1:5000`).
    pub registry: String,
    /// The repository name in it (`two-tier/backend`).
    pub repository: String,
    pub digest: String,
    pub region: String,
    /// AWS API endpoint override of the registry (a local moto).
    pub endpoint: Option<String>,
}

impl Release {
    /// Reads and checks a manifest file.
    pub fn read(path: &Path) -> Result<Release, Error> {
        let invalid = |message: String, help: &str| Error::ReleaseInvalid {
            path: path.display().to_string(),
            message,
            help: help.to_owned(),
        };
        let bytes = std::fs::read(path).map_err(|e| {
            invalid(
                e.to_string(),
                "pass the release.json that `forge build --release-out release.json` wrote (in Jenkins: copyArtifacts of the CI build)",
            )
        })?;
        let release: Release = serde_json::from_slice(&bytes).map_err(|e| {
            invalid(
                e.to_string(),
                "the file is not a release manifest, or was edited; write it again with `forge build --release-out`",
            )
        })?;
        if release.format != FORMAT {
            return Err(invalid(
                format!(
                    "format `{}`, but this forge reads `{FORMAT}`",
                    release.format
                ),
                "build the release and deploy it with the same forge version",
            ));
        }
        for (service, image) in &release.images {
            let output = |field: &str| image.push.output[field].as_str().unwrap_or_default();
            let consistent = output("image") == image.image
                && output("digest") == image.digest
                && output("repository") == image.repository
                && release.steps.get(&ids::ecr_push(service))
                    == Some(&image.push.fingerprint.hash());
            if !consistent {
                return Err(invalid(
                    format!(
                        "the image of `{service}` does not match the push result recorded with it"
                    ),
                    "the file was edited after forge wrote it; write it again with `forge build --release-out`",
                ));
            }
        }
        Ok(release)
    }

    /// The manifest as the file holds it: pretty JSON, keys in a fixed order, a final
    /// newline.
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.push('\n');
        json
    }
}

impl Session {
    /// The release a build run produced: it must have pushed (or found cached) every
    /// service's image.
    pub fn release(&self, run: &RunRecord) -> Result<Release, Error> {
        let incomplete = |why: String, help: &str| Error::ReleaseIncomplete {
            why,
            help: help.to_owned(),
        };
        let Some(commit) = run.commit.clone() else {
            return Err(incomplete(
                "the build has no commit SHA to tag and name the release by".into(),
                "run forge in a git checkout with at least one commit, or set FORGE_COMMIT_SHA (or GIT_COMMIT)",
            ));
        };
        let store = Store::open(&self.store_dir)?;
        let mut images = BTreeMap::new();
        for service in self.services() {
            let step = ids::ecr_push(&service);
            let ok = run.steps.get(&step).is_some_and(|s| {
                matches!(
                    s.status,
                    crate::events::StepStatus::Ran | crate::events::StepStatus::Cached
                )
            });
            if !ok {
                return Err(incomplete(
                    format!(
                        "`{step}` did not succeed in this build, so the release would lack the image of `{service}`"
                    ),
                    "a release holds every service's image: run `forge build --release-out FILE` without naming steps, and fix any failed step first",
                ));
            }
            let (key, output) = result(&store, run, &step).ok_or_else(|| {
                Error::Internal(format!("the result of `{step}` is not in the store"))
            })?;
            let fingerprint = store
                .fingerprint_by_key(&key)?
                .ok_or_else(|| Error::Internal(format!("the fingerprint of `{step}` is gone")))?;
            let field = |name: &str| {
                output.manifest[name]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        incomplete(
                            format!("the output of `{step}` has no `{name}`"),
                            "a release needs pushes that report the image by digest (the built-in ecr-push does)",
                        )
                    })
            };
            images.insert(
                service,
                ReleasedImage {
                    repository: field("repository")?,
                    tag: commit.clone(),
                    image: field("image")?,
                    digest: field("digest")?,
                    push: PushResult {
                        fingerprint,
                        output: output.manifest.clone(),
                    },
                },
            );
        }
        let steps = run
            .steps
            .iter()
            .filter(|(id, _)| {
                self.graph
                    .steps
                    .iter()
                    .any(|s| &s.id == *id && s.phase == Phase::Build)
            })
            .filter_map(|(id, s)| Some((id.clone(), s.fingerprint.clone()?)))
            .collect();
        Ok(Release {
            format: FORMAT.to_owned(),
            project: self.project_name().to_owned(),
            commit,
            run: run.id.clone(),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            images,
            steps,
        })
    }

    /// Checks `release` against this checkout and env, records its pushes' results in the
    /// store, and returns the pins that make a deploy use them.
    pub fn release_pins(&self, release: &Release) -> Result<BTreeMap<String, Pinned>, Error> {
        let mismatch = |why: String, help: String| Error::ReleaseMismatch { why, help };
        if release.project != self.project_name() {
            return Err(mismatch(
                format!(
                    "release.json is of project `{}`, this is project `{}`",
                    release.project,
                    self.project_name()
                ),
                "deploy a release built from this project".into(),
            ));
        }
        let here = crate::git::commit_sha_with_env(self.root(), |n| self.env_vars.get(n));
        match here {
            Some(here) if here == release.commit => {}
            Some(here) => {
                let changed = crate::git::changed_files(self.root(), &release.commit, &here);
                let what = match changed {
                    Some(files) if files.is_empty() => {
                        " (the two commits have the same files)".to_owned()
                    }
                    Some(files) => {
                        let shown: Vec<&str> = files.iter().take(8).map(String::as_str).collect();
                        let more = files.len().saturating_sub(shown.len());
                        format!(
                            "; {} {}: {}{}",
                            crate::text::plural(files.len(), "file"),
                            if files.len() == 1 {
                                "differs"
                            } else {
                                "differ"
                            },
                            shown.join(", "),
                            if more > 0 {
                                format!(" and {more} more")
                            } else {
                                String::new()
                            }
                        )
                    }
                    None => format!(
                        " (commit {} is not in this clone, so forge cannot say what differs)",
                        short_hash(&release.commit)
                    ),
                };
                return Err(mismatch(
                    format!(
                        "release.json was built from commit {}, but this checkout is at {}{what}",
                        short_hash(&release.commit),
                        short_hash(&here)
                    ),
                    format!(
                        "check out the commit CI built (`git checkout {}`): the render and apply must come from the same project.kdl and modules as the images",
                        release.commit
                    ),
                ));
            }
            None => {
                return Err(mismatch(
                    "this checkout has no commit SHA to compare with the release's".into(),
                    format!(
                        "deploy from a git checkout of commit {} (or set FORGE_COMMIT_SHA to it)",
                        release.commit
                    ),
                ));
            }
        }
        let services = self.services();
        let released: Vec<String> = release.images.keys().cloned().collect();
        if released != services {
            return Err(mismatch(
                format!(
                    "release.json has images of {}, this project's services are {}",
                    list(&released),
                    list(&services)
                ),
                "build the release from this checkout's project.kdl".into(),
            ));
        }
        for target in self.release_images(release)? {
            let image = &release.images[&target.service];
            let here = format!(
                "{}/{}",
                target.registry.trim_end_matches('/'),
                target.repository
            );
            if image.repository != here {
                return Err(mismatch(
                    format!(
                        "release.json has the image of `{}` in {}, but env `{}` takes it from {here}",
                        target.service, image.repository, self.env
                    ),
                    "an env deploys images from the registry its project.kdl names: build the release for a registry this env uses".into(),
                ));
            }
        }
        let store = Store::open(&self.store_dir)?;
        let mut pins = BTreeMap::new();
        for (service, image) in &release.images {
            let output = StepOutput {
                manifest: image.push.output.clone(),
                files: BTreeMap::new(),
            };
            let entry = store.record(&image.push.fingerprint, &output)?;
            pins.insert(
                ids::ecr_push(service),
                Pinned {
                    fingerprint: entry.key,
                    output_hash: entry.output,
                    output: Arc::new(output),
                    from: format!(
                        "release.json (commit {}, build run {})",
                        short_hash(&release.commit),
                        release.run
                    ),
                },
            );
        }
        Ok(pins)
    }

    /// Where each released image must be: the registry and repository of this env's push
    /// step of its service.
    pub fn release_images(&self, release: &Release) -> Result<Vec<ReleasedTarget>, Error> {
        release
            .images
            .iter()
            .map(|(service, image)| {
                let step = ids::ecr_push(service);
                let config = self
                    .graph
                    .steps
                    .iter()
                    .find(|s| s.id == step)
                    .map(|s| serde_json::to_value(&s.config).unwrap_or_default())
                    .ok_or_else(|| Error::ReleaseMismatch {
                        why: format!("this project has no service `{service}`"),
                        help: "build the release from this checkout's project.kdl".into(),
                    })?;
                let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
                Ok(ReleasedTarget {
                    service: service.clone(),
                    kind: text(&config["registry"]["kind"]),
                    registry: text(&config["registry"]["url"]),
                    repository: text(&config["repository"]),
                    digest: image.digest.clone(),
                    region: text(&config["region"]),
                    endpoint: config["registry"]["endpoint"].as_str().map(str::to_owned),
                })
            })
            .collect()
    }

    /// The project's name in this env.
    pub fn project_name(&self) -> &str {
        self.project
            .envs
            .get(&self.env)
            .map_or("project", |c| c.project.value.as_str())
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}
