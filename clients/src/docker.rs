//! The Docker Engine: builds an image with it, then makes the image reproducible.
//!
//! [`build`] sends the context to the engine's classic builder, or to its BuildKit when the
//! build mounts secrets ([`crate::buildkit`]: the classic builder cannot), exports the result,
//! normalizes it ([`crate::oci`]) and loads the normalized image back under the requested
//! tags. The engine then holds exactly the image whose blobs the step outputs, under an ID
//! that is its config digest, so a later `docker push` or `docker run` uses the same bytes
//! that the step's manifest names.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptions, ImportImageOptions, RemoveImageOptions};
use bytes::Bytes;
use futures_util::StreamExt;

use crate::oci::{self, NormalizedImage};
use crate::reason::{connect_reason, innermost};
use crate::secret_values::SecretValues;

/// Where `DOCKER_HOST` points when it is unset, as the Docker CLI assumes.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// How long one engine request may take. Builds can run long; a stuck one is ended by the
/// step's deadline or cancellation, which race every call, not by this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(6 * 60 * 60);
/// How long connecting and negotiating the API version may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What to build. Mirrors the WIT `build-request`, plus what tests need.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// The build context, a tar archive.
    pub context: Vec<u8>,
    pub dockerfile: String,
    pub build_args: Vec<(String, String)>,
    pub target: Option<String>,
    pub labels: Vec<(String, String)>,
    pub source_date_epoch: u64,
    pub tags: Vec<String>,
    /// Ignore the engine's build cache (`--no-cache`). Plugins cannot ask for it: the
    /// result is normalized either way, so it only costs time. Tests use it to show that.
    pub no_cache: bool,
    /// Secrets the Dockerfile mounts (`RUN --mount=type=secret,id=ID`), by id. A build
    /// with any goes to BuildKit; its log and errors are masked.
    pub secrets: SecretValues,
}

/// Why a build failed, worded for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerError {
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    BuildFailed(String),
    #[error("{0}")]
    Other(String),
}

/// Connects to the engine at `host` (else `DOCKER_HOST`, else the default socket) and
/// negotiates the API version, so that an engine older than this client (Debian's 20.10
/// speaks API 1.41) is spoken to in its own version.
pub async fn connect(host: Option<&str>) -> Result<Docker, DockerError> {
    let host = engine_address(host);
    let unreachable = |reason: String| {
        DockerError::Unreachable(format!(
            "cannot reach the Docker engine at {host}: {reason} (is it running? DOCKER_HOST selects another one)"
        ))
    };
    let docker = Docker::connect_with_host(&host)
        .map_err(|e| match e {
            bollard::errors::Error::SocketNotFoundError(_) => unreachable("no such socket".into()),
            e => unreachable(e.to_string()),
        })?
        .with_timeout(CONNECT_TIMEOUT);
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|e| unreachable(engine_reason(&e)))?;
    Ok(docker.with_timeout(REQUEST_TIMEOUT))
}

/// The engine forge talks to: `host`, else `DOCKER_HOST`, else the default socket.
pub fn engine_address(host: Option<&str>) -> String {
    match host {
        Some(h) => h.to_owned(),
        None => std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_owned()),
    }
}

fn engine_reason(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::RequestTimeoutError => "timed out".to_owned(),
        e => connect_reason(e).unwrap_or_else(|| innermost(e)),
    }
}

/// An engine error during a call that is not the build itself.
fn engine_error(what: &str, e: &bollard::errors::Error) -> DockerError {
    match e {
        bollard::errors::Error::HyperLegacyError { err } if err.is_connect() => {
            DockerError::Unreachable(format!(
                "lost the Docker engine while {what}: {}",
                engine_reason(e)
            ))
        }
        bollard::errors::Error::DockerResponseServerError { message, .. }
        | bollard::errors::Error::DockerStreamError { error: message } => {
            DockerError::Other(format!("{what} failed: {message}"))
        }
        e => DockerError::Other(format!("{what} failed: {}", engine_reason(e))),
    }
}

/// A built, normalized image, loaded into the engine.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub image: NormalizedImage,
    /// The ID the builder gave the image before normalization (removed from the engine
    /// unless it happens to be the same).
    pub raw_id: String,
}

/// Builds `request` with `docker`, passing each line the builder prints to `log`.
pub async fn build(
    docker: &Docker,
    request: &BuildRequest,
    log: &mut (dyn FnMut(String) + Send),
) -> Result<BuiltImage, DockerError> {
    let started = std::time::Instant::now();
    let raw_id = build_retrying_lost_cache(docker, request, log).await?;
    let built = started.elapsed();

    let mut export = Vec::new();
    let mut chunks = docker.export_image(&raw_id);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| match &e {
            bollard::errors::Error::DockerResponseServerError { message, .. }
                if message.contains("empty export") =>
            {
                DockerError::Other(
                    "the engine cannot export an image without any filesystem layer (a Dockerfile that only sets metadata on `scratch`), and forge normalizes images from their export; add a layer, e.g. COPY a file".to_owned(),
                )
            }
            e => engine_error("exporting the built image", e),
        })?;
        export.extend_from_slice(&chunk);
    }
    let saved = oci::read_docker_save(&export)
        .map_err(|e| DockerError::Other(format!("reading the engine's image export: {e}")))?;
    drop(export);
    let image = oci::normalize_image(&saved, request.source_date_epoch)
        .map_err(|e| DockerError::Other(format!("normalizing the built image: {e}")))?;

    let archive = oci::docker_load_archive(&image, &request.tags)
        .map_err(|e| DockerError::Other(format!("packing the normalized image: {e}")))?;
    let mut loading = docker.import_image(
        ImportImageOptions {
            quiet: true,
            ..Default::default()
        },
        bollard::body_full(Bytes::from(archive)),
        None,
    );
    while let Some(item) = loading.next().await {
        item.map_err(|e| engine_error("loading the normalized image", &e))?;
    }
    let loaded = docker
        .inspect_image(image.id())
        .await
        .map_err(|e| engine_error("looking up the loaded image", &e))?;
    if loaded.id.as_deref() != Some(image.id()) {
        return Err(DockerError::Other(format!(
            "the engine named the loaded image {} instead of {}",
            loaded.id.as_deref().unwrap_or("nothing"),
            image.id()
        )));
    }
    if raw_id != image.id() {
        // The builder's own image is not what the step produced; keep its parents (the
        // build cache) but not it. It may be in use by a container: that is fine.
        let _ = docker
            .remove_image(
                &raw_id,
                Some(RemoveImageOptions {
                    noprune: true,
                    ..Default::default()
                }),
                None,
            )
            .await;
    }
    log(format!("image {} ({})", image.digest, image.id()));
    // Where the step's time went: the engine's build, then forge's export, normalization
    // and reload (see docs/performance.md).
    log(format!(
        "[forge] engine build {:.2}s, export + normalize + load {:.2}s",
        built.as_secs_f64(),
        (started.elapsed() - built).as_secs_f64()
    ));
    Ok(BuiltImage { image, raw_id })
}

/// How often a build is started again after the engine lost an image while looking for
/// cached layers.
const LOST_CACHE_ATTEMPTS: usize = 3;

/// Runs the builder, starting again when the failure is the classic builder's cache race:
/// while it looks for a cached layer it reads every image with the same parent, and one
/// removed meanwhile (forge drops each build's raw image while other builds run; a user may
/// be pruning) fails the whole build with `unable to find image "sha256:…"`. Nothing of the
/// failed attempt is kept, so building again is safe.
async fn build_retrying_lost_cache(
    docker: &Docker,
    request: &BuildRequest,
    log: &mut (dyn FnMut(String) + Send),
) -> Result<String, DockerError> {
    if !request.secrets.is_empty() {
        // BuildKit's cache is its own: the classic builder's race below does not apply.
        let version = docker.client_version();
        let api = format!("{}.{}", version.major_version, version.minor_version);
        return crate::buildkit::run_build(&engine_address(None), &api, request, log).await;
    }
    let mut attempt = 1;
    loop {
        match run_build(docker, request, log).await {
            Err(DockerError::BuildFailed(message))
                if is_lost_cache_image(&message) && attempt < LOST_CACHE_ATTEMPTS =>
            {
                attempt += 1;
                log(format!(
                    "[forge] the engine lost a cached image while this build looked at it ({message}); it was removed meanwhile, building again (attempt {attempt} of {LOST_CACHE_ATTEMPTS})"
                ));
            }
            other => return other,
        }
    }
}

/// Whether a build failure is the engine's cache lookup finding an image gone.
fn is_lost_cache_image(message: &str) -> bool {
    message.starts_with("unable to find image \"sha256:")
}

/// Runs the builder and returns the ID of the image it built.
async fn run_build(
    docker: &Docker,
    request: &BuildRequest,
    log: &mut (dyn FnMut(String) + Send),
) -> Result<String, DockerError> {
    let pairs = |list: &[(String, String)]| -> Option<HashMap<String, String>> {
        (!list.is_empty()).then(|| list.iter().cloned().collect())
    };
    // The image's creation label is a timestamp like the others: the epoch, unless the
    // plugin set one itself.
    let mut labels: HashMap<String, String> = request.labels.iter().cloned().collect();
    labels
        .entry(oci::CREATED_LABEL.to_owned())
        .or_insert_with(|| oci::rfc3339(request.source_date_epoch));
    let options = BuildImageOptions {
        dockerfile: request.dockerfile.clone(),
        buildargs: pairs(&request.build_args),
        labels: Some(labels),
        target: request.target.clone().unwrap_or_default(),
        rm: true,
        forcerm: true,
        nocache: request.no_cache,
        pull: None,
        ..Default::default()
    };
    let mut stream = docker.build_image(
        options,
        None,
        Some(bollard::body_full(Bytes::from(request.context.clone()))),
    );
    let mut pending = String::new();
    let mut id = None;
    let flush = |pending: &mut String, log: &mut (dyn FnMut(String) + Send), all: bool| {
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            let line = line.trim_end();
            if !line.is_empty() {
                log(line.to_owned());
            }
        }
        if all && !pending.trim().is_empty() {
            log(std::mem::take(pending).trim_end().to_owned());
        }
    };
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(info) => info,
            Err(e) => {
                flush(&mut pending, log, true);
                return Err(build_error(&e));
            }
        };
        if let Some(text) = info.stream.as_deref().or(info.status.as_deref()) {
            pending.push_str(text);
            if info.status.is_some() && !text.ends_with('\n') {
                pending.push('\n');
            }
            flush(&mut pending, log, false);
        }
        if let Some(aux) = info.aux.and_then(|a| a.id) {
            id = Some(aux);
        }
    }
    flush(&mut pending, log, true);
    id.ok_or_else(|| {
        DockerError::BuildFailed(
            "the engine finished the build without naming the image it built".to_owned(),
        )
    })
}

fn build_error(e: &bollard::errors::Error) -> DockerError {
    match e {
        // A failing step (`COPY failed: ...`) arrives in the stream; a Dockerfile the engine
        // cannot parse or find is refused up front with an error status. Both are the
        // engine's verdict on the build.
        bollard::errors::Error::DockerStreamError { error } => {
            DockerError::BuildFailed(error.trim_end().to_owned())
        }
        bollard::errors::Error::DockerResponseServerError { message, .. } => {
            DockerError::BuildFailed(message.trim_end().to_owned())
        }
        e => engine_error("building", e),
    }
}

#[cfg(test)]
mod tests {
    use super::is_lost_cache_image;

    #[test]
    fn only_the_cache_lookups_lost_image_is_built_again() {
        assert!(is_lost_cache_image(
            "unable to find image \"sha256:9b990b76ff43d11e1948353ef1765d96bace8c6f6a71d3466c77c5b60b98b176\""
        ));
        assert!(!is_lost_cache_image(
            "COPY failed: file not found in build context"
        ));
        assert!(!is_lost_cache_image(
            "pull access denied for nginx, repository does not exist"
        ));
    }
}
