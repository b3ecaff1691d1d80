//! Binding of `forge:plugin/aws` to [`forge_clients::aws`]: `ecr-login` puts the
//! credentials in the run's resource table and hands the plugin a handle, never the token.

use forge_clients::aws::{AwsError, Repository, Target};
use forge_clients::registry::Credentials;
use wasmtime::component::Resource;

use super::CapsView;
use crate::bindings::forge::plugin::aws as wit;

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
            // ECR makes no conditional writes; should one answer so, it is a service error.
            e @ (AwsError::Service(..)
            | AwsError::PreconditionFailed(_)
            | AwsError::ConditionalCheckFailed(_)
            | AwsError::Throttled(_)) => wit::AwsError::Service(e.code_and_message()),
        }
    }
}

impl CapsView<'_> {
    async fn aws_call<T, U>(
        &mut self,
        call: impl Future<Output = Result<T, AwsError>>,
        convert: impl FnOnce(&mut Self, T) -> wasmtime::Result<U>,
    ) -> wasmtime::Result<Result<U, wit::AwsError>> {
        match self.call(call).await? {
            Err(e) => Ok(Err(e.into())),
            Ok(value) => Ok(Ok(convert(self, value)?)),
        }
    }
}

impl wit::Host for CapsView<'_> {
    async fn ecr_login(
        &mut self,
        target: wit::Target,
        registry: Option<String>,
    ) -> wasmtime::Result<Result<Resource<Credentials>, wit::AwsError>> {
        let clients = self.clients;
        let target = Target::from(target);
        self.aws_call(
            async move { clients.aws().ecr_login(&target, registry.as_deref()).await },
            |view, credentials| Ok(view.table.push(credentials)?),
        )
        .await
    }

    async fn ecr_describe_repository(
        &mut self,
        target: wit::Target,
        name: String,
    ) -> wasmtime::Result<Result<Option<wit::Repository>, wit::AwsError>> {
        let clients = self.clients;
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
        let clients = self.clients;
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
