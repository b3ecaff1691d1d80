//! The lock protocol against MockHost's fake S3 and DynamoDB: Terraform's order, the
//! ID-checked release, and what is left behind when the second lock cannot be had. The
//! real moto and the real `terraform` contend for it in the CLI tests.

use forge_plugin_sdk::lock::{Backend, LockAction, LockCall, LockInfo, LockReply};
use forge_plugin_sdk::{AwsError, Item, MockHost};
use state_lock::StateLock;

const BUCKET: &str = "state";
const KEY: &str = "app/prod/terraform.tfstate";
const TABLE: &str = "locks";
const PATH: &str = "state/app/prod/terraform.tfstate";

fn backend(lockfile: bool, table: bool) -> Backend {
    Backend {
        bucket: BUCKET.into(),
        key: KEY.into(),
        region: "us-east-1".into(),
        endpoint: Some("http://127.0.0.1:4566".into()),
        lockfile,
        table: table.then(|| TABLE.to_owned()),
    }
}

fn info(id: &str, who: &str) -> LockInfo {
    LockInfo {
        id: id.into(),
        operation: "OperationTypeApply".into(),
        info: String::new(),
        who: who.into(),
        version: "1.11.4".into(),
        created: "2026-12-03T09:00:00.123456789Z".into(),
        path: PATH.into(),
    }
}

fn call(host: MockHost, backend: &Backend, action: LockAction) -> (MockHost, LockReply) {
    let mut host = host.config(
        serde_json::to_value(LockCall {
            backend: backend.clone(),
            action,
        })
        .expect("json"),
    );
    let reply = host.run::<StateLock>().expect("the plugin answers");
    (host, reply)
}

/// Terraform's own lock test sequence, in each mode: A locks; B fails with A's info; A
/// unlocks; B locks with another ID; a release with the wrong ID is refused.
#[test]
fn terraforms_lock_sequence_in_each_mode() {
    for (lockfile, table) in [(true, false), (false, true), (true, true)] {
        let b = backend(lockfile, table);
        let a = info("aaaaaaaa-0000-4000-8000-000000000001", "alice@a");
        let (host, reply) = call(MockHost::new(), &b, LockAction::Acquire { info: a.clone() });
        assert_eq!(reply, LockReply::Acquired, "{b:?}");
        if lockfile {
            let stored = &host.s3_objects()[&(BUCKET.to_owned(), format!("{KEY}.tflock"))];
            let stored: LockInfo = serde_json::from_slice(stored).expect("lock info JSON");
            assert_eq!(stored, a);
        }
        if table {
            let item = &host.dynamodb_items()[&(TABLE.to_owned(), PATH.to_owned())];
            assert_eq!(item["LockID"], PATH);
            let stored: LockInfo = serde_json::from_str(&item["Info"]).expect("lock info JSON");
            assert_eq!(stored, a);
        }

        let bob = info("bbbbbbbb-0000-4000-8000-000000000002", "bob@b");
        let (host, reply) = call(host, &b, LockAction::Acquire { info: bob.clone() });
        assert_eq!(reply, LockReply::Held { holder: a.clone() }, "{b:?}");
        let (host, reply) = call(host, &b, LockAction::Status);
        assert_eq!(reply, LockReply::Held { holder: a.clone() });

        let (host, reply) = call(host, &b, LockAction::Release { id: bob.id.clone() });
        assert_eq!(
            reply,
            LockReply::Held { holder: a.clone() },
            "wrong id refused"
        );
        let (host, reply) = call(host, &b, LockAction::Release { id: a.id.clone() });
        assert_eq!(reply, LockReply::Released);
        assert!(host.s3_objects().is_empty() && host.dynamodb_items().is_empty());

        let (host, reply) = call(host, &b, LockAction::Acquire { info: bob.clone() });
        assert_eq!(reply, LockReply::Acquired);
        let (host, reply) = call(host, &b, LockAction::Release { id: bob.id.clone() });
        assert_eq!(reply, LockReply::Released);
        let (_, reply) = call(host, &b, LockAction::Release { id: bob.id });
        assert_eq!(reply, LockReply::Free);
    }
}

/// With both set, a held item gives the lockfile back (Terraform's order), so nothing of
/// ours is left.
#[test]
fn both_locks_give_back_the_file_when_the_item_is_held() {
    let b = backend(true, true);
    let theirs = info("cccccccc-0000-4000-8000-000000000003", "terraform@ci");
    let host = MockHost::new().dynamodb_item(
        TABLE,
        "LockID",
        Item::from([
            ("LockID".to_owned(), PATH.to_owned()),
            (
                "Info".to_owned(),
                serde_json::to_string(&theirs).expect("json"),
            ),
        ]),
    );
    let mine = info("dddddddd-0000-4000-8000-000000000004", "forge@me");
    let (host, reply) = call(host, &b, LockAction::Acquire { info: mine });
    assert_eq!(reply, LockReply::Held { holder: theirs });
    assert!(host.s3_objects().is_empty(), "our lockfile was given back");
    assert_eq!(host.dynamodb_items().len(), 1, "theirs is untouched");
}

/// A lock object that is not lock info (written by hand, truncated) still shows as held,
/// and is not taken over.
#[test]
fn an_unreadable_lock_is_held_by_unknown() {
    let b = backend(true, false);
    let host = MockHost::new().s3_object(BUCKET, &format!("{KEY}.tflock"), "not json");
    let (_, reply) = call(host, &b, LockAction::Status);
    let LockReply::Held { holder } = reply else {
        panic!("expected held, got {reply:?}")
    };
    assert_eq!(holder.who, "unknown");
    assert!(holder.info.contains("not json"), "{holder:?}");
}

#[test]
fn aws_failures_fail_the_call_with_help() {
    let b = backend(true, false);
    let mut host = MockHost::new()
        .aws_error(AwsError::Unreachable("connection refused".into()))
        .config(
            serde_json::to_value(LockCall {
                backend: b,
                action: LockAction::Status,
            })
            .expect("json"),
        );
    let err = host.run::<StateLock>().expect_err("unreachable");
    let text = err.to_string();
    assert!(text.contains("reading the lockfile"), "{text}");
    assert!(text.contains("connection refused"), "{text}");
    assert!(
        err.help().is_some_and(|h| h.contains("endpoint")),
        "{err:?}"
    );
}
