//! docker-build's request to the engine, against MockHost: what goes into the context,
//! the labels and the tag. The real Docker Engine is exercised through the CLI tests.

use docker_build::{DockerBuild, Output};
use forge_plugin_sdk::{Blob, BuildRequest, DockerError, Image, MockHost};
use serde_json::json;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn image(_: &BuildRequest) -> Result<Image, DockerError> {
    let blob = |d: &str| Blob {
        digest: format!("sha256:{d}"),
        size: 1,
        media_type: "m".into(),
        output: format!("blobs/sha256/{d}"),
    };
    Ok(Image {
        id: "sha256:c0".into(),
        manifest: "{}".into(),
        digest: "sha256:aa".into(),
        config: blob("c0"),
        layers: vec![blob("11")],
    })
}

fn host() -> MockHost {
    host_with_output("backend")
}

/// The host of [`host`], where `backend-bin` wrote one output file named `output`.
fn host_with_output(output: &str) -> MockHost {
    MockHost::new()
        .step("docker-build:backend")
        .commit(SHA)
        .commit_time(1_700_000_000)
        .config(json!({
            "context": "app/backend", "dockerfile": "Dockerfile", "repository": "two-tier/backend",
            "args": {"PROFILE": "release"}, "target": null,
            "artifacts": {"dist/backend": {"$ref": "step.backend-bin.backend"}}
        }))
        .file(
            "app/backend/Dockerfile",
            "FROM scratch\nCOPY dist/backend /backend\n",
        )
        .file("app/backend/.dockerignore", "*\n!dist/backend\n")
        .file("app/shared/lib.rs", "// an extra input outside the context")
        .upstream_output("backend-bin", output, b"\x7fELF binary")
        .docker(image)
}

/// (path, mode) of every entry of a tar archive.
fn entries(tar: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 512 <= tar.len() && tar[at] != 0 {
        let h = &tar[at..at + 512];
        let name = String::from_utf8_lossy(&h[..100])
            .trim_end_matches('\0')
            .to_string();
        let mode = String::from_utf8_lossy(&h[100..107]).to_string();
        let size = u64::from_str_radix(std::str::from_utf8(&h[124..135]).unwrap(), 8).unwrap();
        out.push((name, mode));
        at += 512 + (size as usize).div_ceil(512) * 512;
    }
    out
}

#[test]
fn the_context_is_the_inputs_under_it_plus_the_artifacts_from_upstream_outputs() {
    let mut h = host();
    let out: Output = h.run::<DockerBuild>().unwrap();
    let req = &h.docker_requests()[0];
    assert_eq!(
        entries(&req.context),
        [
            (".dockerignore".to_string(), "0000644".to_string()),
            ("Dockerfile".into(), "0000644".into()),
            ("dist/".into(), "0000755".into()),
            ("dist/backend".into(), "0000755".into()),
        ]
    );
    assert_eq!(req.tags, [format!("two-tier/backend:{SHA}")]);
    assert_eq!(req.source_date_epoch, 1_700_000_000);
    assert!(
        req.labels
            .contains(&("org.opencontainers.image.revision".into(), SHA.into()))
    );
    // `created` is the host's to set, from the epoch.
    assert!(
        !req.labels
            .iter()
            .any(|(k, _)| k == "org.opencontainers.image.created")
    );
    assert!(
        req.build_args
            .contains(&("PROFILE".into(), "release".into()))
    );
    assert_eq!(out.digest, "sha256:aa");
    assert_eq!(out.revision.as_deref(), Some(SHA));
    assert!(out.context.starts_with("blake3:"));
    // The same inputs give the same context bytes.
    let mut again = host();
    let out2: Output = again.run::<DockerBuild>().unwrap();
    assert_eq!(out2.context, out.context);
    assert_eq!(again.docker_requests()[0].context, req.context);
}

#[test]
fn a_context_file_that_shadows_an_artifact_is_refused() {
    let mut h = host().file("app/backend/dist/backend", "stale binary from an old build");
    let err = h.run::<DockerBuild>().unwrap_err();
    assert!(
        err.message().contains("also the artifact"),
        "{}",
        err.message()
    );
    assert!(err.help().unwrap().contains(".dockerignore"));
}

#[test]
fn an_artifact_naming_an_output_its_step_lacks_lists_what_it_has() {
    let mut h = host_with_output("server");
    let err = h.run::<DockerBuild>().unwrap_err();
    assert!(
        err.message()
            .contains("step `backend-bin` has no output `backend` (it has: server)"),
        "{}",
        err.message()
    );
}

#[test]
fn the_engine_error_reaches_the_step_error() {
    let mut h = host().docker(|_| {
        Err(DockerError::BuildFailed(
            "dockerfile parse error line 1: unknown instruction: FORM".into(),
        ))
    });
    let err = h.run::<DockerBuild>().unwrap_err();
    assert!(err.message().contains("unknown instruction: FORM"));
}

/// The secrets the config names are passed to the build as handles (the host reads the
/// values); a plain build passes none.
#[test]
fn the_configured_secrets_are_mounted_by_handle() {
    let mut h = host();
    h.run::<DockerBuild>().expect("plain build");
    let mut with = host()
        .config(json!({
            "context": "app/backend", "dockerfile": "Dockerfile", "repository": "two-tier/backend",
            "artifacts": {"dist/backend": {"$ref": "step.backend-bin.backend"}},
            "secrets": ["NPM_TOKEN", "PIP_INDEX_URL"]
        }))
        .secret("NPM_TOKEN")
        .secret("PIP_INDEX_URL");
    with.run::<DockerBuild>().expect("build with secrets");
    assert_eq!(h.docker_build_secrets(), [Vec::<String>::new()]);
    assert_eq!(
        with.docker_build_secrets(),
        [vec!["NPM_TOKEN".to_owned(), "PIP_INDEX_URL".to_owned()]]
    );
    assert!(with.logs().iter().any(|l| {
        l.message
            .contains("mounting secrets NPM_TOKEN, PIP_INDEX_URL")
    }));

    // A name the step was not given fails before anything is built.
    let mut missing = host().config(json!({
        "context": "app/backend", "dockerfile": "Dockerfile", "repository": "two-tier/backend",
        "artifacts": {"dist/backend": {"$ref": "step.backend-bin.backend"}},
        "secrets": ["NPM_TOKEN"]
    }));
    let err = missing.run::<DockerBuild>().unwrap_err();
    assert!(
        err.message().contains("secret `NPM_TOKEN`"),
        "{}",
        err.message()
    );
    assert!(missing.docker_requests().is_empty());
}
