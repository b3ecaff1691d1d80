//! [`Clients`]: the clients one host shares between all its steps.

use std::sync::OnceLock;

use crate::aws::Aws;
use crate::docker::{self, DockerError};
use crate::registry::RegistryClient;
use crate::terraform::{Terraform, TerraformError};

/// The `terraform` binary to run instead of the one on `PATH`.
pub const TERRAFORM_ENV: &str = "FORGE_TERRAFORM";
/// A provider mirror directory `terraform init` installs from instead of the registry.
pub const TERRAFORM_MIRROR_ENV: &str = "FORGE_TERRAFORM_MIRROR";

/// Clients shared by every run of one host: connecting to the engine (negotiating its API
/// version), loading TLS roots and building AWS SDK configs is done once, not per step.
///
/// Each is made on first use. A capability to come adds its client here, beside these.
#[derive(Default)]
pub struct Clients {
    docker: tokio::sync::OnceCell<bollard::Docker>,
    registry: OnceLock<RegistryClient>,
    aws: Aws,
    terraform: tokio::sync::OnceCell<Result<Terraform, TerraformError>>,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("docker", &self.docker.initialized())
            .finish_non_exhaustive()
    }
}

impl Clients {
    /// These clients, with `docker` as the engine instead of the one `DOCKER_HOST` names.
    pub fn with_docker(self, docker: bollard::Docker) -> Clients {
        Clients {
            docker: tokio::sync::OnceCell::new_with(Some(docker)),
            ..self
        }
    }

    /// These clients, with `aws` for AWS access instead of the standard chain's.
    pub fn with_aws(self, aws: Aws) -> Clients {
        Clients { aws, ..self }
    }

    /// The engine `DOCKER_HOST` names. A failure is not remembered: the next step tries
    /// again, so starting the engine mid-run helps.
    pub async fn docker(&self) -> Result<bollard::Docker, DockerError> {
        self.docker
            .get_or_try_init(|| docker::connect(None))
            .await
            .cloned()
    }

    pub fn registry(&self) -> &RegistryClient {
        self.registry.get_or_init(RegistryClient::new)
    }

    pub fn aws(&self) -> &Aws {
        &self.aws
    }

    /// The `terraform` binary (`FORGE_TERRAFORM`, else `PATH`), version-checked once per
    /// host, with the provider mirror `FORGE_TERRAFORM_MIRROR` names.
    pub async fn terraform(&self) -> Result<Terraform, TerraformError> {
        self.terraform
            .get_or_init(|| async {
                let found = Terraform::find(None).await?;
                Ok(
                    match std::env::var_os(TERRAFORM_MIRROR_ENV).filter(|m| !m.is_empty()) {
                        Some(mirror) => found.with_mirror(mirror.into()),
                        None => found,
                    },
                )
            })
            .await
            .clone()
    }
}
