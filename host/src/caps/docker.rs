//! Binding of `forge:plugin/docker` to [`forge_clients::docker`]: the builder's lines go to
//! the step's log, the image's blobs become its output files.

use forge_clients::docker::{BuildRequest, DockerError, build};
use forge_clients::oci::Blob;
use forge_clients::secret_values::SecretValues;
use wasmtime::component::Resource;

use super::CapsView;
use crate::bindings::forge::plugin::docker as wit;
use crate::state::SecretHandle;
use crate::stop::until_stopped;

impl From<DockerError> for wit::DockerError {
    fn from(e: DockerError) -> Self {
        match e {
            DockerError::Unreachable(m) => wit::DockerError::Unreachable(m),
            DockerError::BuildFailed(m) => wit::DockerError::BuildFailed(m),
            DockerError::Other(m) => wit::DockerError::Other(m),
        }
    }
}

impl From<&Blob> for wit::Blob {
    fn from(b: &Blob) -> Self {
        wit::Blob {
            digest: b.digest.clone(),
            size: b.size,
            media_type: b.media_type.clone(),
            output: b.output.clone(),
        }
    }
}

impl wit::Host for CapsView<'_> {
    async fn build(
        &mut self,
        request: wit::BuildRequest,
    ) -> wasmtime::Result<Result<wit::Image, wit::DockerError>> {
        self.build_image(request, SecretValues::default()).await
    }

    async fn build_with_secrets(
        &mut self,
        request: wit::BuildRequest,
        secrets: Vec<Resource<SecretHandle>>,
    ) -> wasmtime::Result<Result<wit::Image, wit::DockerError>> {
        let mut values = SecretValues::default();
        for handle in &secrets {
            // The build's log is masked with the values: too short a one is refused.
            let read = self.secret_value(handle).await?.and_then(|(name, value)| {
                crate::secret_value::long_enough(&name, &self.secrets[&name], value)
                    .map(|value| (name, value))
            });
            match read {
                Ok((name, value)) => values.insert(name, value),
                Err(e) => {
                    return Ok(Err(wit::DockerError::Other(format!(
                        "{}; {}",
                        e.message, e.help
                    ))));
                }
            }
        }
        self.build_image(request, values).await
    }
}

impl CapsView<'_> {
    /// Builds `request` (mounting `secrets`, when there are any), streaming the builder's
    /// lines to the step's log, and writes the image's blobs as the step's outputs.
    async fn build_image(
        &mut self,
        request: wit::BuildRequest,
        secrets: SecretValues,
    ) -> wasmtime::Result<Result<wit::Image, wit::DockerError>> {
        let request = BuildRequest {
            context: request.context,
            dockerfile: request.dockerfile,
            build_args: request.build_args,
            target: request.target,
            labels: request.labels,
            source_date_epoch: request.source_date_epoch,
            tags: request.tags,
            no_cache: self.rebuild,
            secrets,
        };
        // Not `self.call`: the build's lines go to the log while it runs.
        let stop = self.clock.stop();
        let clients = self.clients;
        let outcome = {
            let mut log = |line: String| self.log.emit(line);
            until_stopped(&stop, async {
                let docker = clients.docker().await?;
                build(&docker, &request, &mut log).await
            })
            .await
        };
        let built = match outcome {
            Err(interrupt) => return Err(self.interrupted(interrupt)),
            Ok(Err(e)) => return Ok(Err(e.into())),
            Ok(Ok(built)) => built,
        };
        let image = built.image;
        for (name, bytes) in image.files() {
            if let Err(message) = self.outputs.write_image_blob(name, bytes) {
                return Ok(Err(wit::DockerError::Other(message)));
            }
        }
        Ok(Ok(wit::Image {
            id: image.id().to_owned(),
            digest: image.digest.clone(),
            config: (&image.config).into(),
            layers: image.layers.iter().map(Into::into).collect(),
            manifest: image.manifest,
        }))
    }
}
