use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use forge_clients::aws::{Aws, AwsError, Target};

use crate::stack::{self, moto};

#[tokio::test]
async fn repositories_are_created_and_described() {
    let (aws, target) = moto();
    let name = format!("forge-test/{}", stack::unique("repo"));
    assert_eq!(aws.ecr_describe_repository(&target, &name).await, Ok(None));
    let created = aws
        .ecr_create_repository(&target, &name, true)
        .await
        .expect("create");
    assert_eq!(created.name, name);
    assert!(created.immutable_tags);
    assert!(
        created.uri.ends_with(&format!(".amazonaws.com/{name}")),
        "{}",
        created.uri
    );
    assert!(created.arn.starts_with("arn:aws:ecr:"), "{}", created.arn);
    let described = aws
        .ecr_describe_repository(&target, &name)
        .await
        .expect("describe")
        .expect("it exists now");
    assert_eq!(described, created);

    let mutable = format!("forge-test/{}", stack::unique("mutable"));
    let created = aws
        .ecr_create_repository(&target, &mutable, false)
        .await
        .expect("create mutable");
    assert!(!created.immutable_tags);
    match aws.ecr_create_repository(&target, &mutable, false).await {
        Err(AwsError::Service(code, _)) => assert_eq!(code, "RepositoryAlreadyExistsException"),
        other => panic!("expected a service error, got {other:?}"),
    }
}

#[tokio::test]
async fn login_gives_credentials_for_the_registry() {
    let (aws, target) = moto();
    let credentials = aws.ecr_login(&target, None).await.expect("login");
    assert!(
        credentials.registry().contains(".dkr.ecr.") && !credentials.registry().contains("://"),
        "{}",
        credentials.registry()
    );
    let shown = format!("{credentials:?}");
    assert!(!shown.to_lowercase().contains("password"), "{shown}");
    let local = aws
        .ecr_login(&target, Some("127.0.0.1:5000"))
        .await
        .expect("login for a named registry");
    assert_eq!(local.registry(), "127.0.0.1:5000");
}

#[tokio::test]
async fn a_dead_endpoint_is_unreachable_within_seconds() {
    let (aws, _) = moto();
    let target = Target {
        region: Some("us-east-1".into()),
        endpoint: Some("http://127.0.0.1:1".into()),
    };
    let started = Instant::now();
    match aws.ecr_describe_repository(&target, "x").await {
        Err(AwsError::Unreachable(m)) => assert_eq!(
            m,
            "cannot reach the AWS API at http://127.0.0.1:1: connection refused"
        ),
        other => panic!("expected unreachable, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// A moto server of this test's own, checking credentials against its IAM; killed when
/// dropped.
struct StrictMoto {
    child: Child,
    endpoint: String,
}

impl StrictMoto {
    fn start() -> StrictMoto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the moto server ({e}); install it with `scripts/local-stack up`"
                )
            });
        let moto = StrictMoto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the moto server did not start on {addr}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }
}

impl Drop for StrictMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn refused_credentials_are_a_credentials_error() {
    let moto = StrictMoto::start();
    let aws = Aws::with_credentials("AKIAFORGETESTUNKNOWN", "not-the-secret-123");
    let target = Target {
        region: Some("us-east-1".into()),
        endpoint: Some(moto.endpoint.clone()),
    };
    match aws.ecr_describe_repository(&target, "anything").await {
        Err(AwsError::Credentials(m)) => {
            assert!(
                m.contains("AWS refused the credentials: InvalidClientTokenId"),
                "{m}"
            );
            assert!(m.contains("AWS_ACCESS_KEY_ID"), "{m}");
            assert!(!m.contains("not-the-secret-123"), "{m}");
        }
        other => panic!("expected a credentials error, got {other:?}"),
    }
    drop(moto);
}
