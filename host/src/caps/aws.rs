//! Binding of `forge:plugin/aws` to [`forge_clients::aws`]: `ecr-login` puts the
//! credentials in the run's resource table and hands the plugin a handle, never the token.

use forge_clients::aws::{AwsError, Repository, Target};
use forge_clients::registry::Credentials;
use wasmtime::component::Resource;

use super::until_stopped;
use crate::bindings::forge::plugin::aws as wit;
use crate::state::HostState;

impl From<wit::Target> for Target {
    fn from(t: wit::Target) -> Self {
        Target {
            region: t.region,
            endpoint: t.endpoint,
        }
    }
}
impl From<Repository> for wit::Repository {
    fn from(r: Repository) -> Self {
        wit::Repository {
            name: r.name,
            uri: r.uri,
            arn: r.arn,
            immutable_tags: r.immutable_tags,
        }
    }
}
impl From<AwsError> for wit::AwsError {
    fn from(e: AwsError) -> Self {
        match e {
            AwsError::Credentials(m) => wit::AwsError::Credentials(m),
            AwsError::Unreachable(m) => wit::AwsError::Unreachable(m),
            AwsError::Service(code, message) => wit::AwsError::Service((code, message)),
        }
    }
}

impl HostState {
    async fn aws_call<T, U>(
        &mut self,
        call: impl Future<Output = Result<T, AwsError>>,
        convert: impl FnOnce(&mut HostState, T) -> wasmtime::Result<U>,
    ) -> wasmtime::Result<Result<U, wit::AwsError>> {
        let stop = self.stop();
        match until_stopped(&stop, call).await {
            Err(interrupt) => Err(self.interrupted(interrupt)),
            Ok(Err(e)) => Ok(Err(e.into())),
            Ok(Ok(value)) => Ok(Ok(convert(self, value)?)),
        }
    }
}

impl wit::Host for HostState {
    async fn ecr_login(
        &mut self,
        target: wit::Target,
        registry: Option<String>,
    ) -> wasmtime::Result<Result<Resource<Credentials>, wit::AwsError>> {
        let clients = self.clients();
        let target = Target::from(target);
        self.aws_call(
            async move { clients.aws().ecr_login(&target, registry.as_deref()).await },
            |state, credentials| Ok(state.table_mut().push(credentials)?),
        )
        .await
    }

    async fn ecr_describe_repository(
        &mut self,
        target: wit::Target,
        name: String,
    ) -> wasmtime::Result<Result<Option<wit::Repository>, wit::AwsError>> {
        let clients = self.clients();
        let target = Target::from(target);
        self.aws_call(
            async move { clients.aws().ecr_describe_repository(&target, &name).await },
            |_, repository| Ok(repository.map(Into::into)),
        )
        .await
    }

    async fn ecr_create_repository(
        &mut self,
        target: wit::Target,
        name: String,
        immutable_tags: bool,
    ) -> wasmtime::Result<Result<wit::Repository, wit::AwsError>> {
        let clients = self.clients();
        let target = Target::from(target);
        self.aws_call(
            async move {
                clients
                    .aws()
                    .ecr_create_repository(&target, &name, immutable_tags)
                    .await
            },
            |_, repository| Ok(repository.into()),
        )
        .await
    }
}
