//! Where the local components are (the defaults of `scripts/local-stack env`), and what
//! tests share.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use forge_clients::docker::{self, BuildRequest};

const HINT: &str = "start the local components with `scripts/local-stack up` (and `eval \"$(scripts/local-stack env)\"`)";

pub fn docker_host() -> String {
    env_or("DOCKER_HOST", "unix:///tmp/forge-local-stack/docker.sock")
}

pub fn registry() -> String {
    env_or("FORGE_LOCAL_REGISTRY", "127.0.0.1:5000")
}

pub fn aws_endpoint() -> String {
    env_or("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
}

pub fn aws_region() -> String {
    env_or("AWS_REGION", "us-east-1")
}

pub fn aws_key() -> (String, String) {
    (
        env_or("AWS_ACCESS_KEY_ID", "testing"),
        env_or("AWS_SECRET_ACCESS_KEY", "testing"),
    )
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}-{}-{nanos:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The engine, or a panic saying how to start it.
pub async fn engine() -> bollard::Docker {
    let host = docker_host();
    match docker::connect(Some(&host)).await {
        Ok(d) => d,
        Err(e) => panic!("the Docker engine is not available ({e}); {HINT}"),
    }
}

/// Panics unless something listens at `addr` (`host:port`).
pub fn require_listening(what: &str, addr: &str) {
    let target = addr
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/');
    let ok = std::net::ToSocketAddrs::to_socket_addrs(target)
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok());
    assert!(ok, "{what} does not answer at {addr}; {HINT}");
}

/// A build context tar: `files` with a fixed mtime, as a plugin would make it.
pub fn context(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(1_600_000_000);
        h.set_size(bytes.len() as u64);
        b.append_data(&mut h, name, *bytes).expect("context entry");
    }
    b.into_inner().expect("context tar")
}

pub const EPOCH: u64 = 1_700_000_000;

/// A `FROM scratch` image whose file content is unique to this call, tagged `tag`.
pub fn scratch_request(tag: &str) -> BuildRequest {
    let dockerfile = b"FROM scratch\nCOPY hello.txt /app/hello.txt\nLABEL org.example.kind=test\nENV GREETING=hello\n";
    let hello = format!("hello from {tag}\n");
    BuildRequest {
        context: context(&[("Dockerfile", dockerfile), ("hello.txt", hello.as_bytes())]),
        dockerfile: "Dockerfile".into(),
        labels: vec![("org.opencontainers.image.revision".into(), "abc123".into())],
        source_date_epoch: EPOCH,
        tags: vec![tag.to_owned()],
        ..Default::default()
    }
}

/// Builds `request`, returning the image and the log lines.
pub async fn build(
    docker: &bollard::Docker,
    request: &BuildRequest,
) -> (Result<docker::BuiltImage, docker::DockerError>, Vec<String>) {
    let mut lines = Vec::new();
    let mut log = |line: String| lines.push(line);
    let result = docker::build(docker, request, &mut log).await;
    (result, lines)
}

/// moto with the test credentials, and the target that reaches it; a panic saying how to
/// start it when it is down.
pub fn moto() -> (forge_clients::aws::Aws, forge_clients::aws::Target) {
    let endpoint = aws_endpoint();
    require_listening("moto (the AWS API)", &endpoint);
    let (key, secret) = aws_key();
    let target = forge_clients::aws::Target {
        region: Some(aws_region()),
        endpoint: Some(endpoint),
    };
    (
        forge_clients::aws::Aws::with_credentials(&key, &secret),
        target,
    )
}
