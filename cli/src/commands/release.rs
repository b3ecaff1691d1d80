//! `forge deploy --release FILE`: the checks a release passes before anything runs, and
//! the pins that make the deploy use its images (see
//! [`forge_engine::session::release`]).
//!
//! The engine checks the manifest against the checkout (project, commit, services,
//! repositories). Here, with the registry's own credentials (ECR's token for an `ecr`
//! registry), each image is looked up by digest: a deploy never renders a digest the
//! registry does not have, which ECS would only discover as tasks failing to pull.

use std::collections::BTreeMap;
use std::path::Path;

use forge_clients::Clients;
use forge_clients::aws::Target;
use forge_engine::scheduler::Pinned;
use forge_engine::session::Session;
use forge_engine::session::release::{Release, ReleasedTarget};

use crate::exit::CliError;

/// Reads `path`, checks it against the session and the registry, and returns the pins.
pub(crate) fn pins(session: &Session, path: &Path) -> Result<BTreeMap<String, Pinned>, CliError> {
    let release = Release::read(path)?;
    // The manifest against the checkout first: cheap, and the likelier mistake.
    let targets = session.release_images(&release)?;
    let pins = session.release_pins(&release)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(check_images(&targets))?;
    Ok(pins)
}

/// Every image exists in its registry under its digest.
async fn check_images(targets: &[ReleasedTarget]) -> Result<(), CliError> {
    let clients = Clients::default();
    for target in targets {
        let failed = |why: String, help: &str| CliError::ReleaseImage {
            service: target.service.clone(),
            why,
            help: help.to_owned(),
        };
        let credentials = match target.kind.as_str() {
            "ecr" => {
                let aws = Target {
                    region: Some(target.region.clone()),
                    endpoint: target.endpoint.clone(),
                };
                Some(
                    clients
                        .aws()
                        .ecr_login(&aws, Some(&target.registry))
                        .await
                        .map_err(|e| {
                            failed(
                                format!("cannot log in to {}: {e}", target.registry),
                                "the deploy role needs ecr:GetAuthorizationToken and ecr:BatchGetImage on the service repositories",
                            )
                        })?,
                )
            }
            _ => None,
        };
        let found = clients
            .registry()
            .resolve(
                &target.registry,
                &target.repository,
                &target.digest,
                credentials.as_ref(),
            )
            .await
            .map_err(|e| {
                failed(
                    format!("cannot look it up in {}: {e}", target.registry),
                    "check that the registry is reachable from this agent and its credentials can read the repository",
                )
            })?;
        match found {
            Some(digest) if digest == target.digest => {}
            Some(other) => {
                return Err(failed(
                    format!(
                        "{}/{}@{} resolves to {other}",
                        target.registry, target.repository, target.digest
                    ),
                    "the registry does not serve content by digest; forge cannot deploy from it",
                ));
            }
            None => {
                return Err(failed(
                    format!(
                        "{}/{} has no image {}",
                        target.registry, target.repository, target.digest
                    ),
                    "the image was deleted (a lifecycle policy?) or pushed elsewhere: run the CI build of this commit again to push it, then deploy its new release.json",
                ));
            }
        }
    }
    Ok(())
}
