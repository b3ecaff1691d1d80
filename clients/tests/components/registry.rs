use bytes::Bytes;
use forge_clients::oci::{self, MANIFEST_MEDIA_TYPE};
use forge_clients::registry::{RegistryClient, RegistryError};

use crate::stack;

#[tokio::test]
async fn a_built_image_pushes_resolves_and_pushes_again_for_free() {
    let registry = stack::registry();
    stack::require_listening("the registry", &registry);
    let engine = stack::engine().await;
    let name = stack::unique("push");
    let tag = format!("forge-test/{name}:t");
    let image = stack::build(&engine, &stack::scratch_request(&tag))
        .await
        .0
        .expect("build")
        .image;
    let client = RegistryClient::new();
    let repo = format!("forge-test/{name}");
    let files = image.files();
    let blobs: Vec<_> = std::iter::once(&image.config)
        .chain(&image.layers)
        .collect();

    assert_eq!(client.resolve(&registry, &repo, "v1", None).await, Ok(None));
    let mut sent = 0;
    for blob in &blobs {
        assert!(
            !client
                .has_blob(&registry, &repo, &blob.digest, None)
                .await
                .expect("has-blob")
        );
        let bytes = Bytes::from(files[&blob.output].clone());
        sent += client
            .push_blob(&registry, &repo, &blob.digest, bytes, None)
            .await
            .expect("push-blob");
    }
    assert_eq!(sent, blobs.iter().map(|b| b.size).sum::<u64>());
    let digest = client
        .put_manifest(
            &registry,
            &repo,
            "v1",
            MANIFEST_MEDIA_TYPE,
            image.manifest.clone().into_bytes(),
            None,
        )
        .await
        .expect("put-manifest");
    assert_eq!(digest, image.digest);
    assert_eq!(
        client.resolve(&registry, &repo, "v1", None).await,
        Ok(Some(image.digest.clone()))
    );
    assert_eq!(
        client.resolve(&registry, &repo, &image.digest, None).await,
        Ok(Some(image.digest.clone())),
        "by digest too"
    );

    // A second push finds everything there: nothing to upload, same digest.
    for blob in &blobs {
        assert!(
            client
                .has_blob(&registry, &repo, &blob.digest, None)
                .await
                .expect("has-blob")
        );
    }
    let again = client
        .put_manifest(
            &registry,
            &repo,
            "v1",
            MANIFEST_MEDIA_TYPE,
            image.manifest.clone().into_bytes(),
            None,
        )
        .await
        .expect("put-manifest again");
    assert_eq!(again, image.digest);
    let _ = engine
        .remove_image(
            &tag,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;
}

#[tokio::test]
async fn a_blob_that_is_not_its_digest_is_refused_before_sending() {
    let registry = stack::registry();
    stack::require_listening("the registry", &registry);
    let client = RegistryClient::new();
    let repo = format!("forge-test/{}", stack::unique("liar"));
    let claimed = oci::sha256_digest(b"what was promised");
    match client
        .push_blob(
            &registry,
            &repo,
            &claimed,
            Bytes::from_static(b"something else"),
            None,
        )
        .await
    {
        Err(RegistryError::Other(m)) => assert!(m.contains("refusing"), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        !client
            .has_blob(&registry, &repo, &claimed, None)
            .await
            .expect("has-blob")
    );
}

#[tokio::test]
async fn registry_errors_carry_the_registrys_message() {
    let registry = stack::registry();
    stack::require_listening("the registry", &registry);
    let client = RegistryClient::new();
    let repo = format!("forge-test/{}", stack::unique("bad"));
    let err = client
        .put_manifest(
            &registry,
            &repo,
            "v1",
            MANIFEST_MEDIA_TYPE,
            b"{\"schemaVersion\":2}".to_vec(),
            None,
        )
        .await
        .expect_err("an invalid manifest");
    match err {
        RegistryError::Other(m) => assert!(m.contains("400") && m.contains("MANIFEST"), "{m}"),
        other => panic!("expected other, got {other:?}"),
    }
}

#[tokio::test]
async fn a_registry_that_is_not_there_is_unreachable() {
    let client = RegistryClient::new();
    let started = std::time::Instant::now();
    match client.resolve("127.0.0.1:1", "x/y", "latest", None).await {
        Err(RegistryError::Unreachable(m)) => assert_eq!(
            m,
            "cannot reach the registry at http://127.0.0.1:1: connection refused"
        ),
        other => panic!("expected unreachable, got {other:?}"),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
