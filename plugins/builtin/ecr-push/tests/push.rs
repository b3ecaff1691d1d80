//! ecr-push's decisions against MockHost's fake ECR and registry: what is uploaded, what
//! is refused. The real registry and moto are exercised through the CLI tests.

use ecr_push::{EcrPush, Output};
use forge_plugin_sdk::{AwsError, MockHost, sha256};
use serde_json::json;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn host(create: bool, immutable: bool) -> MockHost {
    let config = b"{\"config\":1}".to_vec();
    let layer = b"layer bytes".to_vec();
    let (cd, ld) = (sha256(&config), sha256(&layer));
    let manifest =
        json!({"schemaVersion": 2, "config": {"digest": cd}, "layers": [{"digest": ld}]})
            .to_string();
    let digest = sha256(manifest.as_bytes());
    MockHost::new()
        .step("ecr-push:backend")
        .commit(SHA)
        .config(json!({
            "repository": "two-tier/backend",
            "region": "us-east-1",
            "registry": {
                "name": "ecr", "kind": "ecr", "url": "127.0.0.1:5000",
                "endpoint": "http://127.0.0.1:4566",
                "create-repositories": create, "immutable-tags": immutable
            }
        }))
        .upstream(
            "docker-build:backend",
            json!({
                "digest": digest, "manifest": manifest,
                "config": {"digest": cd, "size": config.len(), "media-type": "c", "output": "blobs/c"},
                "layers": [{"digest": ld, "size": layer.len(), "media-type": "l", "output": "blobs/l"}]
            }),
        )
        .upstream_output("docker-build:backend", "blobs/c", config)
        .upstream_output("docker-build:backend", "blobs/l", layer)
}

#[test]
fn first_push_uploads_every_blob_then_a_repush_uploads_none() {
    let mut h = host(true, true);
    let out: Output = h.run::<EcrPush>().unwrap();
    assert!(
        out.image
            .starts_with("127.0.0.1:5000/two-tier/backend@sha256:")
    );
    assert_eq!(out.repository, "127.0.0.1:5000/two-tier/backend");
    assert_eq!(h.registry().uploads, 2);
    assert!(h.ecr_repositories()["two-tier/backend"].immutable_tags);
    // Same commit again: the tag already names the digest.
    let again: Output = h.run::<EcrPush>().unwrap();
    assert_eq!(again, out);
    assert_eq!(h.registry().uploads, 2);
}

#[test]
fn a_new_commit_of_the_same_image_adds_its_tag_without_uploading() {
    let mut h = host(true, true);
    h.run::<EcrPush>().unwrap();
    let mut h2 = host(true, true).commit("fedcba9876543210fedcba9876543210fedcba98");
    *h2.registry() = h.registry().clone();
    h2 = h2.ecr_repository("two-tier/backend", true);
    let out: Output = h2.run::<EcrPush>().unwrap();
    assert_eq!(h2.registry().uploads, 2, "no new uploads");
    let tags = &h2.registry().tags;
    assert_eq!(tags.len(), 2);
    assert!(tags.values().all(|d| *d == out.digest));
}

#[test]
fn an_immutable_tag_naming_another_digest_is_an_error_not_an_overwrite() {
    let mut h = host(true, true);
    let other = sha256(b"another image");
    h.registry()
        .tags
        .insert(("two-tier/backend".into(), SHA.into()), other.clone());
    let err = h.run::<EcrPush>().unwrap_err();
    assert!(err.message().contains(&other), "{}", err.message());
    assert!(err.message().contains("already names"));
    assert_eq!(h.registry().uploads, 0);
    assert_eq!(
        h.registry().tags[&("two-tier/backend".into(), SHA.into())],
        other
    );
}

#[test]
fn a_missing_repository_is_an_error_unless_the_project_creates_them() {
    let mut h = host(false, true);
    let err = h.run::<EcrPush>().unwrap_err();
    assert!(err.message().contains("does not exist"));
    assert!(err.help().unwrap().contains("create-repositories"));
}

#[test]
fn aws_errors_and_a_missing_commit_explain_themselves() {
    let mut h = host(true, true).aws_error(AwsError::Credentials(
        "AWS refused the credentials: UnrecognizedClientException".into(),
    ));
    let err = h.run::<EcrPush>().unwrap_err();
    assert!(err.message().contains("UnrecognizedClientException"));
    assert!(err.help().unwrap().contains("AWS_ACCESS_KEY_ID"));

    let mut h = host(true, true);
    h.registry().down = true;
    let err = h.run::<EcrPush>().unwrap_err();
    assert!(err.message().contains("cannot reach the registry"));
}

/// An `oci` registry with a user and a password secret: ecr-push logs in with the secret's
/// handle (never a value) and pushes with those credentials; a refused password stops it.
#[test]
fn an_oci_registry_with_a_password_secret_is_logged_in_to_by_handle() {
    let oci = |h: MockHost| {
        h.config(json!({
            "repository": "two-tier/backend",
            "region": "us-east-1",
            "registry": {
                "name": "private", "kind": "oci", "url": "127.0.0.1:5001",
                "username": "forge", "password-secret": "REGISTRY_PASSWORD"
            }
        }))
    };
    let mut h = oci(host(false, false)).secret("REGISTRY_PASSWORD");
    let out: Output = h.run::<EcrPush>().unwrap();
    assert_eq!(out.repository, "127.0.0.1:5001/two-tier/backend");
    assert_eq!(
        h.registry().logins,
        [(
            "127.0.0.1:5001".to_owned(),
            "forge".to_owned(),
            "REGISTRY_PASSWORD".to_owned()
        )]
    );
    assert_eq!(h.registry().uploads, 2);

    let mut refused = oci(host(false, false)).secret("REGISTRY_PASSWORD");
    refused.registry().refuse_logins = true;
    let err = refused.run::<EcrPush>().unwrap_err();
    assert!(err.message().contains("refused the credentials"), "{err:?}");
    assert_eq!(refused.registry().uploads, 0);

    // The step was not given the secret the config names.
    let mut undeclared = oci(host(false, false));
    let err = undeclared.run::<EcrPush>().unwrap_err();
    assert!(err.message().contains("REGISTRY_PASSWORD"), "{err:?}");
}
