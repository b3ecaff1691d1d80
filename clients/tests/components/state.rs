//! S3 objects and DynamoDB items, the calls of Terraform's state lock, against moto with
//! the state bucket and lock table `scripts/local-stack up` makes.

use std::collections::BTreeMap;

use forge_clients::aws::{Aws, AwsError, Target};

use crate::stack::{self, moto};

/// What `scripts/local-stack up` bootstraps in moto.
pub const STATE_BUCKET: &str = "two-tier-terraform-state-123456789012";
pub const LOCK_TABLE: &str = "two-tier-terraform-locks";

#[tokio::test]
async fn an_object_written_only_if_absent_is_written_once() {
    let (aws, target) = moto();
    let key = format!("forge-test/{}/state.tflock", stack::unique("obj"));
    assert_eq!(
        aws.s3_get_object(&target, STATE_BUCKET, &key).await,
        Ok(None)
    );
    assert_eq!(
        aws.s3_head_object(&target, STATE_BUCKET, &key).await,
        Ok(None)
    );
    let written = aws
        .s3_put_object(
            &target,
            STATE_BUCKET,
            &key,
            b"{\"ID\":\"a\"}".to_vec(),
            true,
        )
        .await
        .expect("first write");
    assert!(!written.etag.is_empty());
    let again = aws
        .s3_put_object(
            &target,
            STATE_BUCKET,
            &key,
            b"{\"ID\":\"b\"}".to_vec(),
            true,
        )
        .await;
    assert!(
        matches!(again, Err(AwsError::PreconditionFailed(_))),
        "{again:?}"
    );
    let object = aws
        .s3_get_object(&target, STATE_BUCKET, &key)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(object.body, b"{\"ID\":\"a\"}");
    let head = aws
        .s3_head_object(&target, STATE_BUCKET, &key)
        .await
        .expect("head")
        .expect("exists");
    assert_eq!(head.etag, object.meta.etag);
    assert_eq!(head.size, 10);
    assert!(head.version_id.is_some(), "the state bucket is versioned");
    // An unconditional write changes the identity a HEAD sees.
    let rewritten = aws
        .s3_put_object(
            &target,
            STATE_BUCKET,
            &key,
            b"{\"ID\":\"c\"}".to_vec(),
            false,
        )
        .await
        .expect("unconditional");
    assert_ne!(rewritten.etag, head.etag);
    aws.s3_delete_object(&target, STATE_BUCKET, &key)
        .await
        .expect("delete");
    assert_eq!(
        aws.s3_get_object(&target, STATE_BUCKET, &key).await,
        Ok(None)
    );
    aws.s3_delete_object(&target, STATE_BUCKET, &key)
        .await
        .expect("deleting what is gone succeeds");
}

#[tokio::test]
async fn a_missing_bucket_is_an_error_not_an_absent_object() {
    let (aws, target) = moto();
    let bucket = stack::unique("no-such-bucket").to_lowercase();
    let got = aws.s3_get_object(&target, &bucket, "k").await;
    match got {
        Err(AwsError::Service(code, _)) => assert_eq!(code, "NoSuchBucket"),
        other => panic!("expected NoSuchBucket, got {other:?}"),
    }
}

#[tokio::test]
async fn an_item_written_only_if_absent_is_written_once() {
    let (aws, target) = moto();
    let id = format!("{STATE_BUCKET}/{}", stack::unique("item"));
    let key = ("LockID", id.as_str());
    assert_eq!(
        aws.dynamodb_get_item(&target, LOCK_TABLE, key).await,
        Ok(None)
    );
    let item = BTreeMap::from([
        ("LockID".to_owned(), id.clone()),
        ("Info".to_owned(), "{\"ID\":\"a\"}".to_owned()),
    ]);
    aws.dynamodb_put_item(&target, LOCK_TABLE, &item, Some("LockID"))
        .await
        .expect("first write");
    // Another holder's item for the same key is refused, and the first one stays. (The
    // very same item again is what an SDK retry sends; the local stack's moto answers that
    // with success, see scripts/local-stack.)
    let other = BTreeMap::from([
        ("LockID".to_owned(), id.clone()),
        ("Info".to_owned(), "{\"ID\":\"b\"}".to_owned()),
    ]);
    let again = aws
        .dynamodb_put_item(&target, LOCK_TABLE, &other, Some("LockID"))
        .await;
    assert!(
        matches!(again, Err(AwsError::ConditionalCheckFailed(_))),
        "{again:?}"
    );
    let read = aws
        .dynamodb_get_item(&target, LOCK_TABLE, key)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(read, item);
    aws.dynamodb_delete_item(&target, LOCK_TABLE, key)
        .await
        .expect("delete");
    assert_eq!(
        aws.dynamodb_get_item(&target, LOCK_TABLE, key).await,
        Ok(None)
    );
}

#[tokio::test]
async fn a_missing_table_is_a_service_error() {
    let (aws, target) = moto();
    let got = aws
        .dynamodb_get_item(&target, &stack::unique("no-table"), ("LockID", "x"))
        .await;
    match got {
        Err(AwsError::Service(code, _)) => assert_eq!(code, "ResourceNotFoundException"),
        other => panic!("expected ResourceNotFoundException, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_says_so() {
    let (key, secret) = stack::aws_key();
    let aws = Aws::with_credentials(&key, &secret);
    let target = Target {
        region: Some("us-east-1".into()),
        endpoint: Some("http://127.0.0.1:1".into()),
    };
    let got = aws.s3_head_object(&target, STATE_BUCKET, "k").await;
    match got {
        Err(AwsError::Unreachable(m)) => assert!(m.contains("connection refused"), "{m}"),
        other => panic!("expected unreachable, got {other:?}"),
    }
}
