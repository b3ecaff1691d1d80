//! AWS: the ECR calls a push needs (`ecr`), the S3 objects ([`s3`]) and DynamoDB items
//! ([`dynamodb`]) of Terraform's state lock, the ECS reads of a rollout ([`ecs`]) and the
//! health of its targets ([`elb`]), the values of a step's secrets (SSM parameters and
//! Secrets Manager secrets, `secrets`), with the standard AWS chain's region, endpoint
//! and credentials. `ecr_login` returns [`Credentials`](crate::registry::Credentials) for
//! the registry client, never the token itself.
//!
//! An SDK client is built once per (region, endpoint) and reused, so credentials are
//! resolved (and IMDS asked) once per host rather than once per step. Timeouts are short
//! and retries few: a wrong endpoint should fail a step in seconds, while the SDK's
//! defaults would keep it waiting for a long time.
//!
//! S3 and DynamoDB are spoken with SigV4-signed requests (`signed`) rather than SDK
//! clients: four calls each do not pay for two large crates.
//!
//! A service is one submodule (`ecr`): its SDK client, kept per [`Target`] in a
//! `PerTarget` field of [`Aws`] and made from the shared `Aws::sdk_config`, and its calls
//! as methods of [`Aws`], which word SDK failures with the shared `sdk_error`.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_ecr::config::SharedCredentialsProvider;
use aws_sdk_ecr::config::http::HttpResponse;
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};

use crate::reason::{connect_reason, innermost};

pub mod dynamodb;
mod ecr;
pub mod ecs;
pub mod elb;
pub mod s3;
mod secrets;
mod signed;
mod xml;

pub use ecr::Repository;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(45);
const MAX_ATTEMPTS: u32 = 2;

/// Where to call: `None` takes the chain's value (`AWS_REGION`, `AWS_ENDPOINT_URL`, the
/// profile...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Target {
    pub region: Option<String>,
    pub endpoint: Option<String>,
}

/// Why an AWS call failed, worded for the user. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    #[error("{0}")]
    Credentials(String),
    #[error("{0}")]
    Unreachable(String),
    /// The service's error code and message.
    #[error("{0}: {1}")]
    Service(String, String),
    /// An S3 write made only if absent (`If-None-Match: *`) found the object there.
    #[error("PreconditionFailed: {0}")]
    PreconditionFailed(String),
    /// A DynamoDB write made only if absent found the item there.
    #[error("ConditionalCheckFailedException: {0}")]
    ConditionalCheckFailed(String),
    /// The service asked to slow down (`ThrottlingException`): ask again later.
    #[error("{0}")]
    Throttled(String),
}

impl AwsError {
    /// The error as a service error code and message, for an interface that has no
    /// variant of its own for it.
    pub fn code_and_message(&self) -> (String, String) {
        match self {
            AwsError::Service(code, message) => (code.clone(), message.clone()),
            AwsError::PreconditionFailed(m) => ("PreconditionFailed".into(), m.clone()),
            AwsError::ConditionalCheckFailed(m) => {
                ("ConditionalCheckFailedException".into(), m.clone())
            }
            AwsError::Throttled(m) => {
                let (code, message) = m.split_once(": ").unwrap_or(("ThrottlingException", m));
                (code.to_owned(), message.to_owned())
            }
            AwsError::Credentials(m) => ("Credentials".into(), m.clone()),
            AwsError::Unreachable(m) => ("Unreachable".into(), m.clone()),
        }
    }
}

/// Error codes that mean "these credentials are wrong", as opposed to "not allowed".
const CREDENTIAL_CODES: [&str; 7] = [
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
];

const CREDENTIALS_HELP: &str = "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE";

/// AWS access for one host: the chain (or fixed credentials) and the clients built so far.
pub struct Aws {
    credentials: Option<SharedCredentialsProvider>,
    ecr: PerTarget<ecr::Ecr>,
    signed: PerTarget<signed::Signed>,
}

impl Default for Aws {
    fn default() -> Self {
        Aws::from_environment()
    }
}

impl std::fmt::Debug for Aws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aws")
            .field("fixed_credentials", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

impl Aws {
    /// Credentials, region and endpoint from the standard chain: environment, profile,
    /// web identity, container and instance roles.
    pub fn from_environment() -> Aws {
        Aws {
            credentials: None,
            ecr: PerTarget::default(),
            signed: PerTarget::default(),
        }
    }

    /// Fixed credentials instead of the chain's (region and endpoint still come from
    /// the chain unless a [`Target`] overrides them).
    pub fn with_credentials(access_key_id: &str, secret_access_key: &str) -> Aws {
        Aws {
            credentials: Some(SharedCredentialsProvider::new(
                aws_sdk_ecr::config::Credentials::new(
                    access_key_id,
                    secret_access_key,
                    None,
                    None,
                    "forge",
                ),
            )),
            ecr: PerTarget::default(),
            signed: PerTarget::default(),
        }
    }

    /// The SDK config for `target`, with forge's HTTP client, timeouts and retries, and
    /// the region it resolved to (none is an error).
    async fn sdk_config(&self, target: &Target) -> Result<(SdkConfig, String), AwsError> {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        if let Some(region) = &target.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(endpoint) = &target.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(credentials) = &self.credentials {
            loader = loader.credentials_provider(credentials.clone());
        }
        let config = loader.load().await;
        let Some(region) = config.region().map(ToString::to_string) else {
            return Err(AwsError::Service(
                "NoRegion".into(),
                "no AWS region is configured (set AWS_REGION or the step's region)".into(),
            ));
        };
        Ok((config, region))
    }
}

/// One service's clients, by target: made on first use and reused.
struct PerTarget<C>(tokio::sync::Mutex<HashMap<Target, C>>);

impl<C> Default for PerTarget<C> {
    fn default() -> Self {
        PerTarget(tokio::sync::Mutex::default())
    }
}

impl<C: Clone> PerTarget<C> {
    /// The client for `target`, made by `make` unless one was already. Concurrent callers
    /// wait for the first one's rather than making their own.
    async fn get_or_try_init<F>(
        &self,
        target: &Target,
        make: impl FnOnce() -> F,
    ) -> Result<C, AwsError>
    where
        F: Future<Output = Result<C, AwsError>>,
    {
        let mut clients = self.0.lock().await;
        if let Some(client) = clients.get(target) {
            return Ok(client.clone());
        }
        let client = make().await?;
        clients.insert(target.clone(), client.clone());
        Ok(client)
    }
}

fn malformed(message: &str) -> AwsError {
    AwsError::Service("MalformedResponse".into(), message.into())
}

/// Maps an SDK failure to what the user should do about it.
fn sdk_error<E>(error: SdkError<E, HttpResponse>, endpoint: &str) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let unreachable = |reason: String| {
        AwsError::Unreachable(format!("cannot reach the AWS API at {endpoint}: {reason}"))
    };
    if let Some(reason) = missing_credentials(&error) {
        return AwsError::Credentials(format!("no AWS credentials: {reason} ({CREDENTIALS_HELP})"));
    }
    match &error {
        SdkError::TimeoutError(_) => return unreachable("timed out".into()),
        SdkError::DispatchFailure(failure) => {
            let reason = connect_reason(&error).unwrap_or_else(|| {
                if failure.is_timeout() {
                    "timed out".into()
                } else {
                    innermost(&error)
                }
            });
            return unreachable(reason);
        }
        _ => {}
    }
    let refused = |code: &str, message: Option<&str>| {
        AwsError::Credentials(format!(
            "AWS refused the credentials: {code}{} ({CREDENTIALS_HELP})",
            message.map(|m| format!(": {m}")).unwrap_or_default()
        ))
    };
    if let Some(code) = error.code() {
        return if CREDENTIAL_CODES.contains(&code) {
            refused(code, error.message())
        } else {
            AwsError::Service(
                code.to_owned(),
                error.message().unwrap_or_default().to_owned(),
            )
        };
    }
    // No code: the answer was not in the service's protocol. Some endpoints (STS-style
    // stand-ins, proxies) answer an authentication failure in XML or HTML.
    let Some(raw) = error.raw_response() else {
        return AwsError::Service("Unknown".into(), innermost(&error));
    };
    let status = raw.status().as_u16();
    let body = raw
        .body()
        .bytes()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let tagged = |tag: &str| {
        let open = format!("<{tag}>");
        let start = body.find(&open)? + open.len();
        let len = body[start..].find('<')?;
        Some(body[start..start + len].trim().to_owned())
    };
    match (tagged("Code"), tagged("Message")) {
        (Some(code), message) if CREDENTIAL_CODES.contains(&code.as_str()) => {
            refused(&code, message.as_deref())
        }
        (Some(code), message) => AwsError::Service(code, message.unwrap_or_default()),
        (None, _) => AwsError::Service(
            format!("HTTP{status}"),
            format!("{endpoint} answered {status} with something that is not an AWS response"),
        ),
    }
}

/// The credential chain's complaint, when the call failed for lack of credentials.
fn missing_credentials(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    use aws_credential_types::provider::error::CredentialsError;
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            return Some(match c {
                CredentialsError::CredentialsNotLoaded(_) => {
                    "none were found in the environment, the profile or an instance role".into()
                }
                other => innermost(other),
            });
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::{ProvideCredentials, error::CredentialsError, future};

    /// A chain that finds nothing, as on a machine without any AWS setup.
    #[derive(Debug)]
    struct Nothing;

    impl ProvideCredentials for Nothing {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            future::ProvideCredentials::ready(Err(CredentialsError::not_loaded("no provider")))
        }
    }

    #[tokio::test]
    async fn missing_credentials_say_how_to_provide_them() {
        let aws = Aws {
            credentials: Some(SharedCredentialsProvider::new(Nothing)),
            ecr: PerTarget::default(),
            signed: PerTarget::default(),
        };
        let target = Target {
            region: Some("us-east-1".into()),
            endpoint: Some("http://127.0.0.1:1".into()),
        };
        match aws.ecr_describe_repository(&target, "x").await {
            Err(AwsError::Credentials(m)) => {
                assert!(m.starts_with("no AWS credentials"), "{m}");
                assert!(
                    m.contains("AWS_ACCESS_KEY_ID") && m.contains("AWS_PROFILE"),
                    "{m}"
                );
            }
            other => panic!("expected a credentials error, got {other:?}"),
        }
    }
}
