//! Image registries: the few calls of the OCI distribution protocol a push needs.
//!
//! [`Credentials`] are passed to each call, which adds the `Authorization` header (the
//! host keeps them as a resource: a plugin holds a handle, never the values). Their
//! values appear in no log, error or `Debug` output, and are only sent to the host they
//! were issued for.
//!
//! Loopback registries are spoken to over plain HTTP, as Docker does (a local
//! `registry:2` has no certificate); every other host over HTTPS unless the name says
//! otherwise (`http://host:port`).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::Full;

use crate::http::{Answer, ExchangeError, HttpsClient, exchange, https_client};
use crate::oci::{self, DOCKER_MANIFEST_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};

/// How long connecting may take: a registry that does not answer by then is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request without a large body may take.
const SMALL_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a blob upload may take; the step's deadline and cancellation still apply.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// Largest response body read (error documents, manifests).
const MAX_RESPONSE: usize = 4 << 20;

/// Everything a manifest HEAD may answer with, so the registry reports the digest of the
/// manifest as stored rather than converting it.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Credentials for one registry. `Debug` shows the registry only.
#[derive(Clone)]
pub struct Credentials {
    registry: String,
    username: String,
    password: String,
}

impl Credentials {
    pub fn new(
        registry: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Credentials {
        Credentials {
            registry: registry.into(),
            username: username.into(),
            password: password.into(),
        }
    }

    /// The registry host they are for.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    fn authorization(&self) -> HeaderValue {
        let basic =
            aws_smithy_types::base64::encode(format!("{}:{}", self.username, self.password));
        let mut value = HeaderValue::from_str(&format!("Basic {basic}"))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        value.set_sensitive(true);
        value
    }

    /// Whether they may be sent to `url`: only to the host they were issued for.
    fn applies_to(&self, url: &str) -> bool {
        host_of(url).eq_ignore_ascii_case(host_of(&self.registry))
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

/// Why a registry call failed, worded for the user. Never holds a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Other(String),
}

/// `host[:port]` of a registry name or URL.
fn host_of(name: &str) -> &str {
    let rest = name
        .strip_prefix("https://")
        .or_else(|| name.strip_prefix("http://"))
        .unwrap_or(name);
    rest.split('/').next().unwrap_or(rest)
}

/// Whether `host[:port]` is a loopback address, which Docker reaches over plain HTTP.
fn is_loopback(host: &str) -> bool {
    let name = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or(v6)
    } else {
        host.split(':').next().unwrap_or(host)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `scheme://host[:port]` for a registry name.
pub fn base_url(registry: &str) -> String {
    let registry = registry.trim_end_matches('/');
    if registry.starts_with("http://") || registry.starts_with("https://") {
        registry.to_owned()
    } else if is_loopback(host_of(registry)) {
        format!("http://{registry}")
    } else {
        format!("https://{registry}")
    }
}

/// `Location` of an upload session, made absolute, with `digest=` added to its query.
fn upload_url(base: &str, location: &str, digest: &str) -> String {
    let absolute = if location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        format!("{base}/{location}")
    };
    let separator = if absolute.contains('?') { '&' } else { '?' };
    format!("{absolute}{separator}digest={}", digest.replace(':', "%3A"))
}

/// The messages of a distribution error document (`{"errors":[{"code","message"}]}`),
/// else the body as text.
fn error_text(body: &[u8]) -> String {
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(errors) = doc["errors"].as_array()
    {
        let messages: Vec<String> = errors
            .iter()
            .map(|e| {
                let code = e["code"].as_str().unwrap_or("");
                let message = e["message"].as_str().unwrap_or("");
                match (code.is_empty(), message.is_empty()) {
                    (false, false) => format!("{code}: {message}"),
                    (true, _) => message.to_owned(),
                    (false, true) => code.to_owned(),
                }
            })
            .filter(|m| !m.is_empty())
            .collect();
        if !messages.is_empty() {
            return messages.join("; ");
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.len() > 300 {
        let mut end = 300;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &text[..end])
    } else {
        text.to_owned()
    }
}

/// The HTTP client registry calls share (connection pool, TLS roots).
#[derive(Clone)]
pub struct RegistryClient {
    http: HttpsClient,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient").finish_non_exhaustive()
    }
}

impl Default for RegistryClient {
    fn default() -> Self {
        RegistryClient::new()
    }
}

impl RegistryClient {
    /// A client trusting the system's root certificates.
    pub fn new() -> RegistryClient {
        RegistryClient {
            http: https_client(CONNECT_TIMEOUT),
        }
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(header::HeaderName, &str)],
        body: Bytes,
        credentials: Option<&Credentials>,
        timeout: Duration,
    ) -> Result<Answer, RegistryError> {
        let base = base_url(host_of(url));
        let base = if url.starts_with("http://") && base.starts_with("https://") {
            base.replacen("https://", "http://", 1)
        } else {
            base
        };
        let mut request = Request::builder().method(method).uri(url);
        request = request.header(header::USER_AGENT, "forge");
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        if let Some(c) = credentials.filter(|c| c.applies_to(url)) {
            request = request.header(header::AUTHORIZATION, c.authorization());
        }
        let request = request.body(Full::new(body)).map_err(|e| {
            RegistryError::Other(format!("invalid registry request to {base}: {e}"))
        })?;
        exchange(&self.http, request, MAX_RESPONSE, timeout)
            .await
            .map_err(|e| match e {
                ExchangeError::Unreachable(reason) => RegistryError::Unreachable(format!(
                    "cannot reach the registry at {base}: {reason}"
                )),
                ExchangeError::Failed(reason) => RegistryError::Other(format!(
                    "the request to the registry at {base} failed: {reason}"
                )),
            })
    }

    /// The error for an answer that is not the expected one.
    fn refused(
        base: &str,
        what: &str,
        answer: &Answer,
        credentials: Option<&Credentials>,
    ) -> RegistryError {
        let detail = error_text(&answer.body);
        let detail = if detail.is_empty() {
            answer
                .status
                .canonical_reason()
                .unwrap_or("no details")
                .to_owned()
        } else {
            detail
        };
        match answer.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                let given = if credentials.is_some() {
                    "refused the credentials"
                } else {
                    "requires credentials"
                };
                RegistryError::Unauthorized(format!(
                    "the registry at {base} {given} for {what} ({}): {detail}",
                    answer.status.as_u16()
                ))
            }
            status => RegistryError::Other(format!(
                "the registry at {base} answered {} to {what}: {detail}",
                status.as_u16()
            )),
        }
    }

    /// Checks `credentials` with the registry (`GET /v2/`, as `docker login` does): a
    /// refused password is [`RegistryError::Unauthorized`] here, before any push.
    pub async fn check_login(&self, credentials: &Credentials) -> Result<(), RegistryError> {
        let base = base_url(credentials.registry());
        let url = format!("{base}/v2/");
        let answer = self
            .send(
                Method::GET,
                &url,
                &[],
                Bytes::new(),
                Some(credentials),
                SMALL_REQUEST_TIMEOUT,
            )
            .await?;
        if answer.status.is_success() {
            return Ok(());
        }
        let what = format!("logging in as {}", credentials.username);
        Err(Self::refused(&base, &what, &answer, Some(credentials)))
    }

    /// The digest `reference` names in `repository`, or `None` when there is none.
    pub async fn resolve(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
        credentials: Option<&Credentials>,
    ) -> Result<Option<String>, RegistryError> {
        let base = base_url(registry);
        let url = format!("{base}/v2/{repository}/manifests/{reference}");
        let accept = [(header::ACCEPT, MANIFEST_ACCEPT)];
        let what = format!("looking up {repository}:{reference}");
        let answer = self
            .send(
                Method::HEAD,
                &url,
                &accept,
                Bytes::new(),
                credentials,
                SMALL_REQUEST_TIMEOUT,
            )
            .await?;
        match answer.status {
            StatusCode::NOT_FOUND => return Ok(None),
            s if s.is_success() => {}
            _ => return Err(Self::refused(&base, &what, &answer, credentials)),
        }
        if let Some(digest) = content_digest(&answer.headers) {
            return Ok(Some(digest));
        }
        // Not every registry names the digest on HEAD; the manifest's bytes always do.
        let answer = self
            .send(
                Method::GET,
                &url,
                &accept,
                Bytes::new(),
                credentials,
                SMALL_REQUEST_TIMEOUT,
            )
            .await?;
        match answer.status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(
                content_digest(&answer.headers).unwrap_or_else(|| oci::sha256_digest(&answer.body)),
            )),
            _ => Err(Self::refused(&base, &what, &answer, credentials)),
        }
    }

    /// Whether `repository` has the blob `digest`.
    pub async fn has_blob(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
        credentials: Option<&Credentials>,
    ) -> Result<bool, RegistryError> {
        let base = base_url(registry);
        let url = format!("{base}/v2/{repository}/blobs/{digest}");
        let answer = self
            .send(
                Method::HEAD,
                &url,
                &[],
                Bytes::new(),
                credentials,
                SMALL_REQUEST_TIMEOUT,
            )
            .await?;
        match answer.status {
            StatusCode::NOT_FOUND => Ok(false),
            s if s.is_success() => Ok(true),
            _ => Err(Self::refused(
                &base,
                &format!("checking for blob {digest} in {repository}"),
                &answer,
                credentials,
            )),
        }
    }

    /// Uploads `bytes` as the blob `digest` in one request, after checking that they are
    /// it. Returns the number of bytes sent.
    pub async fn push_blob(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
        bytes: impl Into<Bytes>,
        credentials: Option<&Credentials>,
    ) -> Result<u64, RegistryError> {
        let bytes = bytes.into();
        let actual = oci::sha256_digest(&bytes);
        if actual != digest {
            return Err(RegistryError::Other(format!(
                "refusing to push blob {digest} to {repository}: the content has digest {actual}"
            )));
        }
        let base = base_url(registry);
        let what = format!("uploading blob {digest} to {repository}");
        let start = format!("{base}/v2/{repository}/blobs/uploads/");
        let answer = self
            .send(
                Method::POST,
                &start,
                &[],
                Bytes::new(),
                credentials,
                SMALL_REQUEST_TIMEOUT,
            )
            .await?;
        if !answer.status.is_success() {
            return Err(Self::refused(&base, &what, &answer, credentials));
        }
        let location = answer
            .headers
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| {
                RegistryError::Other(format!(
                    "the registry at {base} started an upload without saying where to send it"
                ))
            })?;
        let url = upload_url(&base, location, digest);
        let size = bytes.len() as u64;
        let length = size.to_string();
        let headers = [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CONTENT_LENGTH, length.as_str()),
        ];
        let answer = self
            .send(
                Method::PUT,
                &url,
                &headers,
                bytes,
                credentials,
                UPLOAD_TIMEOUT,
            )
            .await?;
        if !answer.status.is_success() {
            return Err(Self::refused(&base, &what, &answer, credentials));
        }
        Ok(size)
    }

    /// Puts `manifest` under `reference` and returns the digest the registry gives it.
    pub async fn put_manifest(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
        media_type: &str,
        manifest: Vec<u8>,
        credentials: Option<&Credentials>,
    ) -> Result<String, RegistryError> {
        let base = base_url(registry);
        let url = format!("{base}/v2/{repository}/manifests/{reference}");
        let ours = oci::sha256_digest(&manifest);
        let headers = [(header::CONTENT_TYPE, media_type)];
        let answer = self
            .send(
                Method::PUT,
                &url,
                &headers,
                Bytes::from(manifest),
                credentials,
                SMALL_REQUEST_TIMEOUT,
            )
            .await?;
        if !answer.status.is_success() {
            return Err(Self::refused(
                &base,
                &format!("putting the manifest {repository}:{reference}"),
                &answer,
                credentials,
            ));
        }
        Ok(content_digest(&answer.headers).unwrap_or(ours))
    }
}

fn content_digest(headers: &HeaderMap) -> Option<String> {
    headers
        .get("docker-content-digest")
        .and_then(|d| d.to_str().ok())
        .map(str::to_owned)
        .filter(|d| !d.is_empty())
}

/// The media types a manifest pushed by forge may have.
pub const MANIFEST_MEDIA_TYPES: [&str; 2] = [MANIFEST_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_follow_docker() {
        assert_eq!(base_url("127.0.0.1:5000"), "http://127.0.0.1:5000");
        assert_eq!(base_url("localhost:5000"), "http://localhost:5000");
        assert_eq!(base_url("[::1]:5000"), "http://[::1]:5000");
        assert_eq!(base_url("localhost"), "http://localhost");
        assert_eq!(
            base_url("1234.dkr.ecr.eu-west-1.amazonaws.com"),
            "https://1234.dkr.ecr.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            base_url("registry.local:5000"),
            "https://registry.local:5000"
        );
        assert_eq!(
            base_url("http://registry.local:5000/"),
            "http://registry.local:5000"
        );
        assert_eq!(base_url("https://127.0.0.1:5000"), "https://127.0.0.1:5000");
    }

    #[test]
    fn upload_locations() {
        let base = "http://127.0.0.1:5000";
        assert_eq!(
            upload_url(base, "/v2/a/blobs/uploads/u1?_state=x", "sha256:ab"),
            "http://127.0.0.1:5000/v2/a/blobs/uploads/u1?_state=x&digest=sha256%3Aab"
        );
        assert_eq!(
            upload_url(base, "http://other:1/up/u2", "sha256:ab"),
            "http://other:1/up/u2?digest=sha256%3Aab"
        );
    }

    #[test]
    fn credentials_stay_with_their_registry_and_out_of_debug() {
        let c = Credentials::new(
            "1234.dkr.ecr.us-east-1.amazonaws.com",
            "AWS",
            "s3cr3t-token",
        );
        assert!(c.applies_to("https://1234.dkr.ecr.us-east-1.amazonaws.com/v2/x/blobs/uploads/"));
        assert!(!c.applies_to("https://elsewhere.example/upload"));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("AWS"),
            "{shown}"
        );
        assert!(c.authorization().is_sensitive());
    }

    #[test]
    fn error_documents() {
        assert_eq!(
            error_text(br#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":{}}]}"#),
            "MANIFEST_INVALID: manifest invalid"
        );
        assert_eq!(error_text(b"  plain  "), "plain");
    }
}
