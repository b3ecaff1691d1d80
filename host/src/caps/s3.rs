//! Binding of `forge:plugin/s3` to [`forge_clients::aws`]'s S3 object calls.

use forge_clients::aws::s3::{Object, ObjectMeta};
use forge_clients::aws::{AwsError, Target};

use super::CapsView;
use crate::bindings::forge::plugin::s3 as wit;

impl From<AwsError> for wit::S3Error {
    fn from(e: AwsError) -> Self {
        match e {
            AwsError::PreconditionFailed(_) => wit::S3Error::PreconditionFailed,
            AwsError::Credentials(m) => wit::S3Error::Credentials(m),
            AwsError::Unreachable(m) => wit::S3Error::Unreachable(m),
            e @ (AwsError::Service(..)
            | AwsError::ConditionalCheckFailed(_)
            | AwsError::Throttled(_)) => wit::S3Error::Service(e.code_and_message()),
        }
    }
}

impl From<ObjectMeta> for wit::ObjectMeta {
    fn from(m: ObjectMeta) -> Self {
        wit::ObjectMeta {
            etag: m.etag,
            version_id: m.version_id,
            size: m.size,
        }
    }
}

impl From<Object> for wit::Object {
    fn from(o: Object) -> Self {
        wit::Object {
            body: o.body,
            meta: o.meta.into(),
        }
    }
}

impl CapsView<'_> {
    async fn s3_call<T>(
        &mut self,
        call: impl Future<Output = Result<T, AwsError>>,
    ) -> wasmtime::Result<Result<T, wit::S3Error>> {
        Ok(self.call(call).await?.map_err(Into::into))
    }
}

impl wit::Host for CapsView<'_> {
    async fn put_object(
        &mut self,
        target: wit::Target,
        bucket: String,
        key: String,
        body: Vec<u8>,
        if_absent: bool,
    ) -> wasmtime::Result<Result<wit::ObjectMeta, wit::S3Error>> {
        let aws = self.clients.aws();
        let target = Target::from(target);
        self.s3_call(async move {
            aws.s3_put_object(&target, &bucket, &key, body, if_absent)
                .await
                .map(Into::into)
        })
        .await
    }

    async fn get_object(
        &mut self,
        target: wit::Target,
        bucket: String,
        key: String,
    ) -> wasmtime::Result<Result<Option<wit::Object>, wit::S3Error>> {
        let aws = self.clients.aws();
        let target = Target::from(target);
        self.s3_call(async move {
            aws.s3_get_object(&target, &bucket, &key)
                .await
                .map(|o| o.map(Into::into))
        })
        .await
    }

    async fn head_object(
        &mut self,
        target: wit::Target,
        bucket: String,
        key: String,
    ) -> wasmtime::Result<Result<Option<wit::ObjectMeta>, wit::S3Error>> {
        let aws = self.clients.aws();
        let target = Target::from(target);
        self.s3_call(async move {
            aws.s3_head_object(&target, &bucket, &key)
                .await
                .map(|m| m.map(Into::into))
        })
        .await
    }

    async fn delete_object(
        &mut self,
        target: wit::Target,
        bucket: String,
        key: String,
    ) -> wasmtime::Result<Result<(), wit::S3Error>> {
        let aws = self.clients.aws();
        let target = Target::from(target);
        self.s3_call(async move { aws.s3_delete_object(&target, &bucket, &key).await })
            .await
    }
}
