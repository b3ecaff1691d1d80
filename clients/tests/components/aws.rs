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

/// Puts one `SecureString` parameter and two secrets (text and binary) into moto with
/// boto3 (which moto installs); returns the two secrets' ARNs.
fn seed_secrets(
    target: &Target,
    parameter: (&str, &str),
    text: (&str, &str),
    binary: &str,
) -> (String, String) {
    const SEED: &str = r#"
import json, sys, boto3
endpoint, region, parameter, value, text, text_value, binary = sys.argv[1:]
kw = dict(endpoint_url=endpoint, region_name=region,
          aws_access_key_id="testing", aws_secret_access_key="testing")
boto3.client("ssm", **kw).put_parameter(Name=parameter, Value=value, Type="SecureString")
sm = boto3.client("secretsmanager", **kw)
print(json.dumps([sm.create_secret(Name=text, SecretString=text_value)["ARN"],
                  sm.create_secret(Name=binary, SecretBinary=b"\x00\x01")["ARN"]]))
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            SEED,
            target.endpoint.as_deref().expect("moto's endpoint"),
            target.region.as_deref().expect("a region"),
            parameter.0,
            parameter.1,
            text.0,
            text.1,
            binary,
        ])
        .output()
        .expect("python3 with boto3 (scripts/local-stack up installs moto, which brings it)");
    assert!(
        out.status.success(),
        "seeding moto: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let arns: Vec<String> = serde_json::from_slice(&out.stdout).expect("two ARNs");
    (arns[0].clone(), arns[1].clone())
}

#[tokio::test]
async fn a_parameter_and_a_secret_are_read_by_reference() {
    let (aws, target) = moto();
    let name = stack::unique("forge-test");
    let parameter = format!("/{name}/api-key");
    let (text, binary) = seed_secrets(
        &target,
        (&parameter, "parameter-value"),
        (&format!("{name}/db"), "secret-value"),
        &format!("{name}/bin"),
    );
    assert_eq!(
        aws.ssm_parameter(&target, &parameter).await.as_deref(),
        Ok("parameter-value")
    );
    assert_eq!(
        aws.secret_value(&target, &text).await.as_deref(),
        Ok("secret-value")
    );
    match aws.secret_value(&target, &binary).await {
        Err(AwsError::Service(code, message)) => {
            assert_eq!(code, "BinarySecret");
            assert!(message.contains("text secrets only"), "{message}");
        }
        other => panic!("a binary secret is an error, got {other:?}"),
    }
    match aws
        .ssm_parameter(&target, &format!("/{name}/missing"))
        .await
    {
        Err(AwsError::Service(code, _)) => assert_eq!(code, "ParameterNotFound"),
        other => panic!("expected ParameterNotFound, got {other:?}"),
    }
    match aws.secret_value(&target, &format!("{text}-gone")).await {
        Err(AwsError::Service(code, _)) => assert_eq!(code, "ResourceNotFoundException"),
        other => panic!("expected ResourceNotFoundException, got {other:?}"),
    }
}
