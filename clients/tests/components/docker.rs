use bollard::query_parameters::RemoveImageOptions;
use forge_clients::docker::{self, BuildRequest, DockerError};
use forge_clients::oci;
use forge_clients::secret_values::SecretValues;

use crate::stack::{self, EPOCH};

async fn remove(docker: &bollard::Docker, image: &str) {
    docker
        .remove_image(
            image,
            Some(RemoveImageOptions {
                force: true,
                ..Default::default()
            }),
            None,
        )
        .await
        .expect("remove image");
}

#[tokio::test]
async fn build_normalizes_and_loads_the_image() {
    let engine = stack::engine().await;
    let tag = format!("forge-test/{}:t", stack::unique("build"));
    let (built, lines) = stack::build(&engine, &stack::scratch_request(&tag)).await;
    let built = built.expect("build");
    let image = &built.image;

    assert_eq!(image.id(), oci::sha256_digest(&image.config_bytes));
    assert_eq!(image.digest, oci::sha256_digest(image.manifest.as_bytes()));
    assert_eq!(image.layers.len(), 1, "one COPY, one layer");
    let files = image.files();
    assert!(files.contains_key(&image.config.output));
    assert_eq!(files[&image.layers[0].output], image.layer_bytes[0]);
    assert!(image.config.output.starts_with("blobs/sha256/"));

    let config: serde_json::Value = serde_json::from_slice(&image.config_bytes).expect("config");
    assert_eq!(config["created"], oci::rfc3339(EPOCH));
    assert_eq!(config["config"]["Labels"]["org.example.kind"], "test");
    assert_eq!(
        config["config"]["Labels"][oci::CREATED_LABEL],
        oci::rfc3339(EPOCH)
    );
    assert_eq!(
        config["config"]["Labels"]["org.opencontainers.image.revision"],
        "abc123"
    );
    assert!(config.get("container").is_none() && config.get("container_config").is_none());
    let history = config["history"].as_array().expect("history");
    assert!(history.iter().all(|h| h["created"] == oci::rfc3339(EPOCH)));

    let inspected = engine.inspect_image(&tag).await.expect("the tag is loaded");
    assert_eq!(inspected.id.as_deref(), Some(image.id()));
    assert!(lines.iter().any(|l| l.starts_with("Step 1/")), "{lines:?}");
    if built.raw_id != image.id() {
        assert!(
            engine.inspect_image(&built.raw_id).await.is_err(),
            "the raw image is removed"
        );
    }
    remove(&engine, &tag).await;
}

/// Docker 20.10 cannot export an image without layers, so it cannot be normalized; the
/// error must say so rather than leak the engine's "not implemented".
#[tokio::test]
async fn an_image_of_metadata_only_is_refused_with_a_reason() {
    let engine = stack::engine().await;
    let tag = format!("forge-test/{}:t", stack::unique("empty"));
    let request = BuildRequest {
        context: stack::context(&[(
            "Dockerfile",
            format!("FROM scratch\nLABEL forge.test={tag}\n").as_bytes(),
        )]),
        dockerfile: "Dockerfile".into(),
        source_date_epoch: EPOCH,
        tags: vec![tag.clone()],
        ..Default::default()
    };
    match stack::build(&engine, &request).await.0 {
        Ok(built) => {
            // A newer engine exports it: then it must load like any other.
            assert!(built.image.layers.is_empty());
            let inspected = engine.inspect_image(&tag).await.expect("loaded");
            assert_eq!(inspected.id.as_deref(), Some(built.image.id()));
            remove(&engine, &tag).await;
        }
        Err(DockerError::Other(m)) => assert!(m.contains("without any filesystem layer"), "{m}"),
        Err(e) => panic!("unexpected error: {e:?}"),
    }
}

#[tokio::test]
async fn the_same_context_builds_to_the_same_digest() {
    let engine = stack::engine().await;
    let tag = format!("forge-test/{}:t", stack::unique("repro"));
    let request = stack::scratch_request(&tag);
    let first = stack::build(&engine, &request)
        .await
        .0
        .expect("first build");
    remove(&engine, &tag).await;
    let again = BuildRequest {
        no_cache: true,
        ..request
    };
    let second = stack::build(&engine, &again).await.0.expect("second build");
    assert_ne!(
        first.raw_id, second.raw_id,
        "the engine's own images differ"
    );
    assert_eq!(first.image.digest, second.image.digest);
    assert_eq!(first.image.manifest, second.image.manifest);
    assert_eq!(first.image.config_bytes, second.image.config_bytes);
    remove(&engine, &tag).await;
}

#[tokio::test]
async fn dockerfile_errors_are_build_failures_with_the_engines_message() {
    let engine = stack::engine().await;
    let typo = BuildRequest {
        context: stack::context(&[("Dockerfile", b"FORM scratch\n")]),
        dockerfile: "Dockerfile".into(),
        ..Default::default()
    };
    match stack::build(&engine, &typo).await.0 {
        Err(DockerError::BuildFailed(m)) => {
            assert!(m.contains("unknown instruction: FORM"), "{m}")
        }
        other => panic!("expected build-failed, got {other:?}"),
    }
    let missing = BuildRequest {
        context: stack::context(&[(
            "Dockerfile",
            b"FROM scratch\nCOPY missing.txt /missing.txt\n",
        )]),
        dockerfile: "Dockerfile".into(),
        ..Default::default()
    };
    let (result, lines) = stack::build(&engine, &missing).await;
    match result {
        Err(DockerError::BuildFailed(m)) => {
            assert!(
                m.contains("COPY failed") && m.contains("missing.txt"),
                "{m}"
            )
        }
        other => panic!("expected build-failed, got {other:?}"),
    }
    assert!(
        lines.iter().any(|l| l.contains("COPY missing.txt")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn an_absent_engine_is_unreachable_and_says_where() {
    match docker::connect(Some("unix:///nonexistent.sock")).await {
        Err(DockerError::Unreachable(m)) => {
            assert!(
                m.contains("unix:///nonexistent.sock") && m.contains("no such socket"),
                "{m}"
            )
        }
        other => panic!("expected unreachable, got {:?}", other.map(|_| ())),
    }
    match docker::connect(Some("tcp://127.0.0.1:1")).await {
        Err(DockerError::Unreachable(m)) => {
            assert!(
                m.contains("127.0.0.1:1") && m.contains("connection refused"),
                "{m}"
            )
        }
        other => panic!("expected unreachable, got {:?}", other.map(|_| ())),
    }
}

/// A build given secrets goes to BuildKit, which mounts each for the `RUN` that asks; the
/// value is printed by that `RUN` (the worst case) and must reach the log masked, and
/// appear in no blob of the image.
#[tokio::test]
async fn a_build_secret_is_mounted_for_its_run_and_masked_everywhere() {
    let engine = stack::engine().await;
    let base = forge_clients::test_images::static_cat(&engine).await;
    let tag = format!("forge-test/{}:t", stack::unique("secret"));
    let value = format!("npm-token-{}", stack::unique("value"));
    let mut secrets = SecretValues::default();
    secrets.insert("NPM_TOKEN", value.clone());
    let dockerfile = format!(
        "FROM {base}\nRUN --mount=type=secret,id=NPM_TOKEN [\"/bin/cat\", \"/run/secrets/NPM_TOKEN\"]\nLABEL org.example.kind=secret\n"
    );
    let request = BuildRequest {
        context: stack::context(&[("Dockerfile", dockerfile.as_bytes())]),
        dockerfile: "Dockerfile".into(),
        source_date_epoch: EPOCH,
        tags: vec![tag.clone()],
        // BuildKit caches the RUN by its command, not the secret: run it every time.
        no_cache: true,
        secrets: secrets.clone(),
        ..Default::default()
    };
    let (built, lines) = stack::build(&engine, &request).await;
    let built = built.unwrap_or_else(|e| panic!("build with a secret: {e:?}\n{lines:#?}"));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("RUN --mount=type=secret,id=NPM_TOKEN")),
        "the log shows the step: {lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.ends_with(" ****")),
        "the RUN printed the secret, and the log shows it masked: {lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains(&value)),
        "the value is in the log: {lines:#?}"
    );
    for (name, bytes) in built.image.files() {
        assert!(
            !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
            "the value is in image blob {name}"
        );
    }
    let config: serde_json::Value =
        serde_json::from_slice(&built.image.config_bytes).expect("config");
    assert_eq!(config["created"], oci::rfc3339(EPOCH));
    assert_eq!(config["config"]["Labels"]["org.example.kind"], "secret");
    let inspected = engine.inspect_image(&tag).await.expect("the tag is loaded");
    assert_eq!(inspected.id.as_deref(), Some(built.image.id()));
    remove(&engine, &tag).await;

    // A secret the Dockerfile mounts but the build was not given fails the build, naming it.
    let other = BuildRequest {
        context: stack::context(&[(
            "Dockerfile",
            format!("FROM {base}\nRUN --mount=type=secret,id=OTHER,required=true [\"/bin/cat\", \"/run/secrets/OTHER\"]\n").as_bytes(),
        )]),
        tags: vec![],
        ..request
    };
    match stack::build(&engine, &other).await {
        (Err(DockerError::BuildFailed(m)), _) => assert!(m.contains("OTHER"), "{m}"),
        (other, lines) => panic!(
            "expected build-failed, got {:?}\n{lines:#?}",
            other.map(|_| ())
        ),
    }
}
