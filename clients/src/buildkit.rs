//! BuildKit builds: a build that mounts secrets (`RUN --mount=type=secret,id=NAME`).
//!
//! The classic builder cannot mount a secret, so a build given secrets goes to the engine's
//! BuildKit (`POST /build?version=2`). BuildKit asks the client for each secret over a
//! session the client opens first: `POST /session`, upgraded to HTTP/2, on which the
//! *engine* is the gRPC client and forge the server. forge's session exposes two methods,
//! the health check BuildKit polls and `moby.buildkit.secrets.v1.Secrets/GetSecret`,
//! answered from the values the host read for this one build. Nothing else is exposed: no
//! files (the context is the uploaded tar, as for the classic builder), no SSH agent, no
//! registry credentials.
//!
//! The values stay in forge's memory and the engine's: BuildKit mounts them in a tmpfs for
//! the `RUN` that asks, never in a layer. Every line of the build's progress and its error
//! goes through [`SecretValues::mask`] before forge shows or keeps it.

use std::collections::BTreeMap;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::docker::{BuildRequest, DockerError};
use crate::oci;
use crate::secret_values::SecretValues;

/// A connection to the engine, over its Unix socket or TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn dial(engine: &str) -> Result<Pin<Box<dyn Io>>, DockerError> {
    let unreachable = |e: std::io::Error| {
        DockerError::Unreachable(format!(
            "cannot reach the Docker engine at {engine}: {e} (is it running? DOCKER_HOST selects another one)"
        ))
    };
    if let Some(path) = engine.strip_prefix("unix://") {
        #[cfg(unix)]
        {
            let stream = tokio::net::UnixStream::connect(path)
                .await
                .map_err(unreachable)?;
            return Ok(Box::pin(stream));
        }
        #[cfg(not(unix))]
        {
            let _ = path;
        }
    }
    if let Some(addr) = engine
        .strip_prefix("tcp://")
        .or_else(|| engine.strip_prefix("http://"))
    {
        let stream = tokio::net::TcpStream::connect(addr.trim_end_matches('/'))
            .await
            .map_err(unreachable)?;
        return Ok(Box::pin(stream));
    }
    Err(DockerError::Other(format!(
        "a build with secrets needs the engine's BuildKit session, which forge opens over `unix://` or `tcp://` engines only; DOCKER_HOST is {engine}"
    )))
}

/// Builds `request` (which has secrets) with the engine's BuildKit and returns the built
/// image's ID. `api` is the negotiated API version (`1.41`).
pub(crate) async fn run_build(
    engine: &str,
    api: &str,
    request: &BuildRequest,
    log: &mut (dyn FnMut(String) + Send),
) -> Result<String, DockerError> {
    let session_id = session_id(request);
    // Served until the build ends, or until this future is dropped (a cancelled run).
    let _session = open_session(engine, api, &session_id, request.secrets.clone()).await?;
    build(engine, api, &session_id, request, log).await
}

/// A task that ends when its handle is dropped: the session and the build's connection
/// never outlive the build, even when a cancelled run drops it midway.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A session ID unique to this build (the engine keys sessions by it).
fn session_id(request: &BuildRequest) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    use sha2::Digest;
    let seed = format!("{}:{nanos}:{}", std::process::id(), request.tags.join(","));
    let digest = sha2::Sha256::digest(seed.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The gRPC methods the session serves.
const HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";
const GET_SECRET: &str = "/moby.buildkit.secrets.v1.Secrets/GetSecret";

/// Opens the session and serves it on a task of its own until aborted.
async fn open_session(
    engine: &str,
    api: &str,
    id: &str,
    secrets: SecretValues,
) -> Result<AbortOnDrop, DockerError> {
    let mut io = dial(engine).await?;
    let request = format!(
        "POST /v{api}/session HTTP/1.1\r\nHost: docker\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\
         X-Docker-Expose-Session-Uuid: {id}\r\nX-Docker-Expose-Session-Name: forge\r\n\
         X-Docker-Expose-Session-Sharedkey: {id}\r\n\
         X-Docker-Expose-Session-Grpc-Method: {HEALTH_CHECK}\r\n\
         X-Docker-Expose-Session-Grpc-Method: {GET_SECRET}\r\nContent-Length: 0\r\n\r\n"
    );
    let lost = |e: std::io::Error| {
        DockerError::Unreachable(format!(
            "lost the Docker engine while opening a BuildKit session: {e}"
        ))
    };
    io.write_all(request.as_bytes()).await.map_err(lost)?;
    // The response head, byte by byte: after it the engine speaks HTTP/2 on the same
    // connection, and nothing of that may be read here.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err(DockerError::Other(
                "the engine answered the BuildKit session request with an oversized header".into(),
            ));
        }
        let byte = io.read_u8().await.map_err(lost)?;
        head.push(byte);
    }
    let head = String::from_utf8_lossy(&head);
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 101 ") {
        return Err(DockerError::Other(format!(
            "the engine refused a BuildKit session ({}); builds with secrets need an engine with BuildKit (Docker 18.09 or newer, not started with the `buildkit` feature off)",
            status.trim()
        )));
    }
    let mut connection = h2::server::handshake(io).await.map_err(|e| {
        DockerError::Other(format!(
            "the BuildKit session's HTTP/2 handshake failed: {e}"
        ))
    })?;
    Ok(AbortOnDrop(tokio::spawn(async move {
        while let Some(Ok((request, respond))) = connection.accept().await {
            let secrets = secrets.clone();
            tokio::spawn(async move {
                let _ = serve(request, respond, &secrets).await;
            });
        }
    })))
}

/// Answers one gRPC call of the engine.
async fn serve(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    secrets: &SecretValues,
) -> Result<(), h2::Error> {
    let path = request.uri().path().to_owned();
    let mut body = request.into_body();
    let mut message = BytesMut::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
        message.extend_from_slice(&chunk);
    }
    // A gRPC message: 1 byte compressed flag, 4 bytes length, the protobuf.
    let message = if message.len() >= 5 {
        message.split_off(5).freeze()
    } else {
        Bytes::new()
    };
    let answer = match path.as_str() {
        // HealthCheckResponse { status: SERVING }
        HEALTH_CHECK => Ok(Bytes::from_static(&[0x08, 0x01])),
        GET_SECRET => {
            let id = proto::string_field(&message, 1).unwrap_or_default();
            match secrets.get(&id) {
                // GetSecretResponse { data }
                Some(value) => Ok(proto::bytes_message(1, value.as_bytes())),
                None => Err((5, format!("secret {id} not found"))),
            }
        }
        _ => Err((12, format!("{path} is not served by forge"))),
    };
    let response = http::Response::builder()
        .status(200)
        .header("content-type", "application/grpc");
    match answer {
        Ok(reply) => {
            let mut stream = respond.send_response(response.body(()).unwrap_or_default(), false)?;
            let mut framed = BytesMut::with_capacity(reply.len() + 5);
            framed.extend_from_slice(&[0]);
            framed.extend_from_slice(&(reply.len() as u32).to_be_bytes());
            framed.extend_from_slice(&reply);
            stream.send_data(framed.freeze(), false)?;
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            stream.send_trailers(trailers)
        }
        Err((code, message)) => {
            let response = response
                .header("grpc-status", code.to_string())
                .header("grpc-message", message)
                .body(())
                .unwrap_or_default();
            respond.send_response(response, true).map(drop)
        }
    }
}

/// Runs the build on a connection of its own, passing the progress to `log`.
async fn build(
    engine: &str,
    api: &str,
    session: &str,
    request: &BuildRequest,
    log: &mut (dyn FnMut(String) + Send),
) -> Result<String, DockerError> {
    let mut labels: BTreeMap<&str, String> = request
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    labels
        .entry(oci::CREATED_LABEL)
        .or_insert_with(|| oci::rfc3339(request.source_date_epoch));
    let build_args: BTreeMap<&str, &str> = request
        .build_args
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut query = vec![
        ("version", "2".to_owned()),
        ("session", session.to_owned()),
        ("dockerfile", request.dockerfile.clone()),
        ("labels", to_json(&labels)),
        ("buildargs", to_json(&build_args)),
        ("rm", "1".to_owned()),
        ("forcerm", "1".to_owned()),
    ];
    if let Some(target) = &request.target {
        query.push(("target", target.clone()));
    }
    if request.no_cache {
        query.push(("nocache", "1".to_owned()));
    }
    let query: String = query
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");

    let io = dial(engine).await?;
    let lost = |e: hyper::Error| {
        DockerError::Unreachable(format!(
            "lost the Docker engine while building with BuildKit: {e}"
        ))
    };
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(lost)?;
    let _driver = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let http_request = http::Request::post(format!("/v{api}/build?{query}"))
        .header("host", "docker")
        .header("content-type", "application/x-tar")
        .body(Full::new(Bytes::from(request.context.clone())))
        .map_err(|e| DockerError::Other(format!("building the BuildKit request: {e}")))?;
    let response = sender.send_request(http_request).await.map_err(lost)?;
    let status = response.status();
    let mut body = response.into_body();
    let mut progress = Progress::new(&request.secrets);
    let mut pending = BytesMut::new();
    let mut refused = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(lost)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if !status.is_success() {
            refused.extend_from_slice(&data);
            continue;
        }
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line = pending.split_to(end + 1);
            progress.line(&line, log);
        }
    }
    if !pending.is_empty() {
        let line = std::mem::take(&mut pending);
        progress.line(&line, log);
    }
    if !status.is_success() {
        let text = String::from_utf8_lossy(&refused);
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| text.trim().to_owned());
        return Err(DockerError::BuildFailed(
            request.secrets.mask(&message).into_owned(),
        ));
    }
    progress.finish()
}

/// A map as the JSON a query parameter carries.
fn to_json<V: serde::Serialize>(map: &BTreeMap<&str, V>) -> String {
    serde_json::to_string(map).unwrap_or_default()
}

fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The engine's BuildKit progress stream, turned into log lines: each step once when it
/// starts (`#3 [2/2] RUN ...`), its output, `CACHED`, its error.
struct Progress<'a> {
    secrets: &'a SecretValues,
    /// Vertex digest → its number in the log, in order of first sight.
    numbers: BTreeMap<String, usize>,
    started: std::collections::BTreeSet<String>,
    image: Option<String>,
    error: Option<String>,
    vertex_errors: Vec<String>,
}

impl<'a> Progress<'a> {
    fn new(secrets: &'a SecretValues) -> Self {
        Progress {
            secrets,
            numbers: BTreeMap::new(),
            started: Default::default(),
            image: None,
            error: None,
            vertex_errors: Vec::new(),
        }
    }

    fn emit(&self, log: &mut (dyn FnMut(String) + Send), line: &str) {
        let line = line.trim_end();
        if !line.is_empty() {
            log(self.secrets.mask(line).into_owned());
        }
    }

    fn number(&mut self, digest: &str) -> usize {
        let next = self.numbers.len() + 1;
        *self.numbers.entry(digest.to_owned()).or_insert(next)
    }

    fn line(&mut self, line: &[u8], log: &mut (dyn FnMut(String) + Send)) {
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(line) else {
            return;
        };
        if let Some(error) = message["errorDetail"]["message"]
            .as_str()
            .or(message["error"].as_str())
        {
            self.error = Some(error.to_owned());
        }
        if let Some(text) = message["stream"].as_str() {
            for line in text.lines() {
                self.emit(log, line);
            }
        }
        match message["id"].as_str() {
            Some("moby.image.id") => {
                self.image = message["aux"]["ID"].as_str().map(str::to_owned);
            }
            Some("moby.buildkit.trace") => {
                use base64::Engine;
                let Some(encoded) = message["aux"].as_str() else {
                    return;
                };
                let Ok(status) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
                    return;
                };
                self.status(&status, log);
            }
            _ => {}
        }
    }

    /// One `moby.buildkit.v1.StatusResponse`: vertexes (1), statuses (2), logs (3).
    fn status(&mut self, status: &[u8], log: &mut (dyn FnMut(String) + Send)) {
        for (field, value) in proto::fields(status) {
            match (field, value) {
                (1, proto::Value::Bytes(vertex)) => self.vertex(vertex, log),
                (3, proto::Value::Bytes(entry)) => {
                    // VertexLog: vertex (1), msg (4).
                    let digest = proto::string_field(entry, 1).unwrap_or_default();
                    let msg = proto::bytes_field(entry, 4).unwrap_or_default();
                    let n = self.number(&digest);
                    for line in String::from_utf8_lossy(&msg).lines() {
                        self.emit(log, &format!("#{n} {line}"));
                    }
                }
                _ => {}
            }
        }
    }

    /// One `Vertex`: digest (1), name (3), cached (4), started (5), completed (6), error (7).
    fn vertex(&mut self, vertex: &[u8], log: &mut (dyn FnMut(String) + Send)) {
        let digest = proto::string_field(vertex, 1).unwrap_or_default();
        let name = proto::string_field(vertex, 3).unwrap_or_default();
        let mut cached = false;
        let mut started = false;
        let mut error: Option<String> = None;
        for (field, value) in proto::fields(vertex) {
            match (field, value) {
                (4, proto::Value::Varint(v)) => cached = v != 0,
                (5, _) => started = true,
                (7, proto::Value::Bytes(e)) => error = Some(String::from_utf8_lossy(e).into()),
                _ => {}
            }
        }
        let n = self.number(&digest);
        if (started || cached) && self.started.insert(digest.clone()) {
            self.emit(log, &format!("#{n} {name}"));
            if cached {
                self.emit(log, &format!("#{n} CACHED"));
            }
        }
        if let Some(error) = error {
            let line = format!("#{n} ERROR: {error}");
            if !self.vertex_errors.contains(&line) {
                self.emit(log, &line);
                self.vertex_errors.push(line);
            }
        }
    }

    fn finish(self) -> Result<String, DockerError> {
        if let Some(error) = self.error {
            return Err(DockerError::BuildFailed(
                self.secrets.mask(error.trim_end()).into_owned(),
            ));
        }
        self.image.ok_or_else(|| {
            DockerError::BuildFailed(
                "the engine finished the BuildKit build without naming the image it built"
                    .to_owned(),
            )
        })
    }
}

/// The little of protobuf's wire format the session and the progress stream need.
mod proto {
    use bytes::{BufMut, Bytes, BytesMut};

    pub(super) enum Value<'a> {
        Varint(u64),
        Bytes(&'a [u8]),
        Other,
    }

    fn varint(buf: &mut &[u8]) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = buf.split_first()?;
            *buf = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// The fields of a message, in order; stops at the first malformed one.
    pub(super) fn fields(mut buf: &[u8]) -> Vec<(u64, Value<'_>)> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            let Some(key) = varint(&mut buf) else { break };
            let value = match key & 7 {
                0 => match varint(&mut buf) {
                    Some(v) => Value::Varint(v),
                    None => break,
                },
                1 => {
                    if buf.len() < 8 {
                        break;
                    }
                    buf = &buf[8..];
                    Value::Other
                }
                2 => {
                    let Some(len) = varint(&mut buf) else { break };
                    let Ok(len) = usize::try_from(len) else { break };
                    if buf.len() < len {
                        break;
                    }
                    let (bytes, rest) = buf.split_at(len);
                    buf = rest;
                    Value::Bytes(bytes)
                }
                5 => {
                    if buf.len() < 4 {
                        break;
                    }
                    buf = &buf[4..];
                    Value::Other
                }
                _ => break,
            };
            out.push((key >> 3, value));
        }
        out
    }

    pub(super) fn bytes_field(message: &[u8], number: u64) -> Option<Vec<u8>> {
        fields(message).into_iter().find_map(|(n, v)| match v {
            Value::Bytes(b) if n == number => Some(b.to_vec()),
            _ => None,
        })
    }

    pub(super) fn string_field(message: &[u8], number: u64) -> Option<String> {
        bytes_field(message, number).map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// A message with one length-delimited field.
    pub(super) fn bytes_message(number: u64, value: &[u8]) -> Bytes {
        let mut out = BytesMut::with_capacity(value.len() + 12);
        put_varint(&mut out, (number << 3) | 2);
        put_varint(&mut out, value.len() as u64);
        out.put_slice(value);
        out.freeze()
    }

    fn put_varint(out: &mut BytesMut, mut value: u64) {
        while value >= 0x80 {
            out.put_u8((value as u8) | 0x80);
            value >>= 7;
        }
        out.put_u8(value as u8);
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_message_written_reads_back() {
            let long = vec![7u8; 300];
            let message = bytes_message(4, &long);
            assert_eq!(bytes_field(&message, 4), Some(long));
            assert_eq!(bytes_field(&message, 1), None);
            // A GetSecretRequest as BuildKit sends it: ID (1) and an annotation map (2).
            let mut request = BytesMut::new();
            request.put_slice(&bytes_message(1, b"NPM_TOKEN"));
            request.put_slice(&bytes_message(2, &bytes_message(1, b"k")));
            assert_eq!(string_field(&request, 1).as_deref(), Some("NPM_TOKEN"));
        }

        #[test]
        fn a_truncated_message_yields_what_came_before() {
            let mut message = BytesMut::new();
            message.put_slice(&bytes_message(1, b"first"));
            message.put_slice(&bytes_message(3, b"second")[..4]);
            assert_eq!(string_field(&message, 1).as_deref(), Some("first"));
            assert_eq!(string_field(&message, 3), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            percent_encode(r#"{"a":"b c"}"#),
            "%7B%22a%22%3A%22b%20c%22%7D"
        );
    }
}
