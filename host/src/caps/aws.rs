//! Capability `aws`: the ECR calls a push needs, with the standard AWS chain's region,
//! endpoint and credentials. Credentials stay in the host: `ecr-login` hands the plugin a
//! `registry.credentials` handle, never the token.
//!
//! An SDK client is built once per (region, endpoint) and reused, so credentials are
//! resolved (and IMDS asked) once per host rather than once per step. Timeouts are short
//! and retries few: a wrong endpoint should fail a step in seconds, while the SDK's
//! defaults would keep it waiting for a long time.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ecr::config::SharedCredentialsProvider;
use aws_sdk_ecr::config::http::HttpResponse;
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::types::ImageTagMutability;
use wasmtime::component::Resource;

use super::registry::Credentials;
use super::{connect_reason, innermost, until_stopped};
use crate::bindings::forge::plugin::aws as wit;
use crate::state::HostState;

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

impl From<wit::Target> for Target {
    fn from(t: wit::Target) -> Self {
        Target {
            region: t.region,
            endpoint: t.endpoint,
        }
    }
}

/// An ECR repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub name: String,
    pub uri: String,
    pub arn: String,
    pub immutable_tags: bool,
}

impl From<Repository> for wit::Repository {
    fn from(r: Repository) -> Self {
        wit::Repository {
            name: r.name,
            uri: r.uri,
            arn: r.arn,
            immutable_tags: r.immutable_tags,
        }
    }
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
}

impl From<AwsError> for wit::AwsError {
    fn from(e: AwsError) -> Self {
        match e {
            AwsError::Credentials(m) => wit::AwsError::Credentials(m),
            AwsError::Unreachable(m) => wit::AwsError::Unreachable(m),
            AwsError::Service(code, message) => wit::AwsError::Service((code, message)),
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

/// A client for ECR at one target, and where it calls (for messages).
#[derive(Clone)]
struct Ecr {
    client: aws_sdk_ecr::Client,
    endpoint: String,
}

/// AWS access for one host: the chain (or fixed credentials) and the clients built so far.
pub struct Aws {
    credentials: Option<SharedCredentialsProvider>,
    clients: tokio::sync::Mutex<HashMap<Target, Ecr>>,
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
            clients: tokio::sync::Mutex::default(),
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
            clients: tokio::sync::Mutex::default(),
        }
    }

    async fn ecr(&self, target: &Target) -> Result<Ecr, AwsError> {
        let mut clients = self.clients.lock().await;
        if let Some(ecr) = clients.get(target) {
            return Ok(ecr.clone());
        }
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
        let endpoint = config.endpoint_url().map_or_else(
            || format!("https://api.ecr.{region}.amazonaws.com"),
            str::to_owned,
        );
        let ecr = Ecr {
            client: aws_sdk_ecr::Client::new(&config),
            endpoint,
        };
        clients.insert(target.clone(), ecr.clone());
        Ok(ecr)
    }

    /// `ecr:GetAuthorizationToken`: credentials for `registry`, or for the registry the
    /// token is issued for.
    pub async fn ecr_login(
        &self,
        target: &Target,
        registry: Option<&str>,
    ) -> Result<Credentials, AwsError> {
        let ecr = self.ecr(target).await?;
        let answer = ecr
            .client
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| sdk_error(e, &ecr.endpoint))?;
        let data = answer
            .authorization_data()
            .first()
            .ok_or_else(|| malformed("GetAuthorizationToken returned no authorization data"))?;
        let token = data
            .authorization_token()
            .ok_or_else(|| malformed("GetAuthorizationToken returned no token"))?;
        // Deliberately no detail from the decoder or the token in these messages.
        let decoded = aws_smithy_types::base64::decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| malformed("the ECR token is not base64 text"))?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or_else(|| malformed("the ECR token is not `user:password`"))?;
        let host = match registry {
            Some(r) => r.to_owned(),
            None => data
                .proxy_endpoint()
                .map(|p| {
                    p.trim_start_matches("https://")
                        .trim_start_matches("http://")
                        .trim_end_matches('/')
                        .to_owned()
                })
                .ok_or_else(|| malformed("GetAuthorizationToken named no registry"))?,
        };
        Ok(Credentials::new(host, user, password))
    }

    /// `ecr:DescribeRepositories` for `name`; `None` when it does not exist.
    pub async fn ecr_describe_repository(
        &self,
        target: &Target,
        name: &str,
    ) -> Result<Option<Repository>, AwsError> {
        let ecr = self.ecr(target).await?;
        let answer = match ecr
            .client
            .describe_repositories()
            .repository_names(name)
            .send()
            .await
        {
            Ok(answer) => answer,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_repository_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(sdk_error(e, &ecr.endpoint)),
        };
        Ok(answer
            .repositories()
            .iter()
            .find(|r| r.repository_name() == Some(name))
            .map(repository))
    }

    /// `ecr:CreateRepository`.
    pub async fn ecr_create_repository(
        &self,
        target: &Target,
        name: &str,
        immutable_tags: bool,
    ) -> Result<Repository, AwsError> {
        let ecr = self.ecr(target).await?;
        let mutability = if immutable_tags {
            ImageTagMutability::Immutable
        } else {
            ImageTagMutability::Mutable
        };
        let answer = ecr
            .client
            .create_repository()
            .repository_name(name)
            .image_tag_mutability(mutability)
            .send()
            .await
            .map_err(|e| sdk_error(e, &ecr.endpoint))?;
        answer
            .repository()
            .map(repository)
            .ok_or_else(|| malformed("CreateRepository returned no repository"))
    }
}

fn malformed(message: &str) -> AwsError {
    AwsError::Service("MalformedResponse".into(), message.into())
}

fn repository(r: &aws_sdk_ecr::types::Repository) -> Repository {
    Repository {
        name: r.repository_name().unwrap_or_default().to_owned(),
        uri: r.repository_uri().unwrap_or_default().to_owned(),
        arn: r.repository_arn().unwrap_or_default().to_owned(),
        immutable_tags: matches!(
            r.image_tag_mutability(),
            Some(ImageTagMutability::Immutable)
        ),
    }
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

impl HostState {
    async fn aws_call<T, U>(
        &mut self,
        call: impl Future<Output = Result<T, AwsError>>,
        convert: impl FnOnce(&mut HostState, T) -> wasmtime::Result<U>,
    ) -> wasmtime::Result<Result<U, wit::AwsError>> {
        let stop = self.stop();
        match until_stopped(&stop, call).await {
            Err(interrupt) => Err(self.interrupted(interrupt)),
            Ok(Err(e)) => Ok(Err(e.into())),
            Ok(Ok(value)) => Ok(Ok(convert(self, value)?)),
        }
    }
}

impl wit::Host for HostState {
    async fn ecr_login(
        &mut self,
        target: wit::Target,
        registry: Option<String>,
    ) -> wasmtime::Result<Result<Resource<Credentials>, wit::AwsError>> {
        let clients = self.clients();
        let target = Target::from(target);
        self.aws_call(
            async move { clients.aws().ecr_login(&target, registry.as_deref()).await },
            |state, credentials| Ok(state.table_mut().push(credentials)?),
        )
        .await
    }

    async fn ecr_describe_repository(
        &mut self,
        target: wit::Target,
        name: String,
    ) -> wasmtime::Result<Result<Option<wit::Repository>, wit::AwsError>> {
        let clients = self.clients();
        let target = Target::from(target);
        self.aws_call(
            async move { clients.aws().ecr_describe_repository(&target, &name).await },
            |_, repository| Ok(repository.map(Into::into)),
        )
        .await
    }

    async fn ecr_create_repository(
        &mut self,
        target: wit::Target,
        name: String,
        immutable_tags: bool,
    ) -> wasmtime::Result<Result<wit::Repository, wit::AwsError>> {
        let clients = self.clients();
        let target = Target::from(target);
        self.aws_call(
            async move {
                clients
                    .aws()
                    .ecr_create_repository(&target, &name, immutable_tags)
                    .await
            },
            |_, repository| Ok(repository.into()),
        )
        .await
    }
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
            clients: tokio::sync::Mutex::default(),
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
