//! Binding of `forge:plugin/dynamodb` to [`forge_clients::aws`]'s DynamoDB item calls.

use forge_clients::aws::dynamodb::Item;
use forge_clients::aws::{AwsError, Target};

use super::CapsView;
use crate::bindings::forge::plugin::dynamodb as wit;

impl From<AwsError> for wit::DynamodbError {
    fn from(e: AwsError) -> Self {
        match e {
            AwsError::ConditionalCheckFailed(_) => wit::DynamodbError::ConditionalCheckFailed,
            AwsError::Credentials(m) => wit::DynamodbError::Credentials(m),
            AwsError::Unreachable(m) => wit::DynamodbError::Unreachable(m),
            e @ (AwsError::Service(..)
            | AwsError::PreconditionFailed(_)
            | AwsError::Throttled(_)) => wit::DynamodbError::Service(e.code_and_message()),
        }
    }
}

impl CapsView<'_> {
    async fn dynamodb_call<T>(
        &mut self,
        call: impl Future<Output = Result<T, AwsError>>,
    ) -> wasmtime::Result<Result<T, wit::DynamodbError>> {
        Ok(self.call(call).await?.map_err(Into::into))
    }
}

impl wit::Host for CapsView<'_> {
    async fn put_item(
        &mut self,
        target: wit::Target,
        table: String,
        item: wit::Item,
        if_absent: Option<String>,
    ) -> wasmtime::Result<Result<(), wit::DynamodbError>> {
        let aws = self.clients.aws();
        let target = Target::from(target);
        let item: Item = item.into_iter().collect();
        self.dynamodb_call(async move {
            aws.dynamodb_put_item(&target, &table, &item, if_absent.as_deref())
                .await
        })
        .await
    }

    async fn get_item(
        &mut self,
        target: wit::Target,
        table: String,
        key_name: String,
        key_value: String,
    ) -> wasmtime::Result<Result<Option<wit::Item>, wit::DynamodbError>> {
        let aws = self.clients.aws();
        let target = Target::from(target);
        self.dynamodb_call(async move {
            aws.dynamodb_get_item(&target, &table, (&key_name, &key_value))
                .await
                .map(|item| item.map(|i| i.into_iter().collect()))
        })
        .await
    }

    async fn delete_item(
        &mut self,
        target: wit::Target,
        table: String,
        key_name: String,
        key_value: String,
    ) -> wasmtime::Result<Result<(), wit::DynamodbError>> {
        let aws = self.clients.aws();
        let target = Target::from(target);
        self.dynamodb_call(async move {
            aws.dynamodb_delete_item(&target, &table, (&key_name, &key_value))
                .await
        })
        .await
    }
}
