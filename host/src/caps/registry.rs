//! Binding of `forge:plugin/registry` to [`forge_clients::registry`]: credentials are
//! handles into the run's resource table, blobs are read from upstream steps' outputs.

use forge_clients::registry::{Credentials, RegistryError};
use wasmtime::component::Resource;

use super::CapsView;
use crate::bindings::forge::plugin::registry as wit;
use crate::state::SecretHandle;
use crate::state::files::describe_file_error;

impl From<RegistryError> for wit::RegistryError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Unreachable(m) => wit::RegistryError::Unreachable(m),
            RegistryError::Unauthorized(m) => wit::RegistryError::Unauthorized(m),
            RegistryError::Other(m) => wit::RegistryError::Other(m),
        }
    }
}

impl CapsView<'_> {
    /// The credentials behind a handle, cloned so the table is free while a call runs.
    fn credentials(
        &self,
        handle: Option<&Resource<Credentials>>,
    ) -> wasmtime::Result<Option<Credentials>> {
        handle
            .map(|h| self.table.get(h).cloned())
            .transpose()
            .map_err(Into::into)
    }

    /// Runs one registry call, stopping with the run.
    async fn registry_call<T>(
        &mut self,
        call: impl Future<Output = Result<T, RegistryError>>,
    ) -> wasmtime::Result<Result<T, wit::RegistryError>> {
        Ok(self.call(call).await?.map_err(Into::into))
    }
}

impl wit::HostCredentials for CapsView<'_> {
    async fn registry(&mut self, handle: Resource<Credentials>) -> String {
        self.table
            .get(&handle)
            .map_or_else(|_| String::new(), |c| c.registry().to_owned())
    }

    async fn drop(&mut self, handle: Resource<Credentials>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl wit::Host for CapsView<'_> {
    async fn login(
        &mut self,
        registry: String,
        username: String,
        password: Resource<SecretHandle>,
    ) -> wasmtime::Result<Result<Resource<Credentials>, wit::RegistryError>> {
        let password = match self.secret_value(&password).await? {
            Ok((_, value)) => value,
            Err(e) => {
                return Ok(Err(wit::RegistryError::Other(format!(
                    "{}; {}",
                    e.message, e.help
                ))));
            }
        };
        let credentials = Credentials::new(&registry, &username, password);
        let client = self.clients.registry();
        let checked = self.registry_call(client.check_login(&credentials)).await?;
        if let Err(e) = checked {
            return Ok(Err(e));
        }
        Ok(Ok(self.table.push(credentials)?))
    }

    async fn resolve(
        &mut self,
        registry: String,
        repository: String,
        reference: String,
        credentials: Option<Resource<Credentials>>,
    ) -> wasmtime::Result<Result<Option<String>, wit::RegistryError>> {
        let credentials = self.credentials(credentials.as_ref())?;
        let client = self.clients.registry();
        self.registry_call(async move {
            client
                .resolve(&registry, &repository, &reference, credentials.as_ref())
                .await
        })
        .await
    }

    async fn has_blob(
        &mut self,
        registry: String,
        repository: String,
        digest: String,
        credentials: Option<Resource<Credentials>>,
    ) -> wasmtime::Result<Result<bool, wit::RegistryError>> {
        let credentials = self.credentials(credentials.as_ref())?;
        let client = self.clients.registry();
        self.registry_call(async move {
            client
                .has_blob(&registry, &repository, &digest, credentials.as_ref())
                .await
        })
        .await
    }

    async fn push_blob(
        &mut self,
        registry: String,
        repository: String,
        blob: wit::UpstreamBlob,
        credentials: Option<Resource<Credentials>>,
    ) -> wasmtime::Result<Result<u64, wit::RegistryError>> {
        let credentials = self.credentials(credentials.as_ref())?;
        let bytes = match self.upstream.read(&blob.step, &blob.output, None).await {
            Ok(bytes) => bytes,
            Err(e) => {
                return Ok(Err(wit::RegistryError::Other(format!(
                    "cannot push blob {}: {}",
                    blob.digest,
                    describe_file_error(&e)
                ))));
            }
        };
        let client = self.clients.registry();
        self.registry_call(async move {
            client
                .push_blob(
                    &registry,
                    &repository,
                    &blob.digest,
                    bytes,
                    credentials.as_ref(),
                )
                .await
        })
        .await
    }

    async fn put_manifest(
        &mut self,
        registry: String,
        repository: String,
        reference: String,
        media_type: String,
        manifest: Vec<u8>,
        credentials: Option<Resource<Credentials>>,
    ) -> wasmtime::Result<Result<String, wit::RegistryError>> {
        let credentials = self.credentials(credentials.as_ref())?;
        let client = self.clients.registry();
        self.registry_call(async move {
            client
                .put_manifest(
                    &registry,
                    &repository,
                    &reference,
                    &media_type,
                    manifest,
                    credentials.as_ref(),
                )
                .await
        })
        .await
    }
}
