//! SigV4-signed HTTP calls, for the few S3 and DynamoDB operations the state lock and the
//! Terraform state check need: a handful of requests do not justify two SDK crates (S3's
//! alone costs minutes of compile on a small machine), and they are simple to speak.
//! Credentials and region come from the same chain as the SDK clients' (`sdk_config`).

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_ecr::config::SharedCredentialsProvider;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::Full;

use super::{AwsError, CREDENTIAL_CODES, CREDENTIALS_HELP, Target};
use crate::http::{Answer, ExchangeError, HttpsClient, exchange, https_client};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer read: lock infos, error documents, item JSON.
const MAX_ANSWER: usize = 4 << 20;

/// Signs and sends requests to one target's S3 and DynamoDB.
#[derive(Clone)]
pub(crate) struct Signed {
    http: HttpsClient,
    credentials: Option<SharedCredentialsProvider>,
    pub(crate) region: String,
    /// The endpoint override (a local moto server), else AWS's own per service.
    endpoint: Option<String>,
    /// Whether `endpoint` is the step's own (`Target::endpoint`), which nothing overrides.
    explicit: bool,
}

/// The AWS chain's endpoint for one service (`AWS_ENDPOINT_URL_ECS`), which beats the
/// global `AWS_ENDPOINT_URL` but not a step's own endpoint: how a local stand-in for one
/// service (the ECS replay endpoint of forge's tests) is reached while the others go to
/// moto or AWS.
fn service_endpoint(service: &str) -> Option<String> {
    // The variable is named by the service's id, which is not always its signing name.
    let id = match service {
        "elasticloadbalancing" => "ELASTIC_LOAD_BALANCING_V2".to_owned(),
        "secretsmanager" => "SECRETS_MANAGER".to_owned(),
        other => other.to_ascii_uppercase(),
    };
    std::env::var(format!("AWS_ENDPOINT_URL_{id}"))
        .ok()
        .filter(|e| !e.is_empty())
        .map(|e| e.trim_end_matches('/').to_owned())
}

/// What a signed call answered.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Signed {
    pub(crate) fn new(
        credentials: Option<SharedCredentialsProvider>,
        region: String,
        endpoint: Option<String>,
        explicit: bool,
    ) -> Signed {
        Signed {
            http: https_client(CONNECT_TIMEOUT),
            credentials,
            region,
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_owned()),
            explicit,
        }
    }

    /// The endpoint override for `service`, if any.
    fn endpoint_of(&self, service: &str) -> Option<String> {
        match (&self.endpoint, self.explicit) {
            (Some(endpoint), true) => Some(endpoint.clone()),
            (endpoint, false) => service_endpoint(service).or_else(|| endpoint.clone()),
            (None, true) => None,
        }
    }

    /// The base URL of `service` (`s3`, `dynamodb`, `ecs`).
    pub(crate) fn base(&self, service: &str) -> String {
        self.endpoint_of(service)
            .unwrap_or_else(|| format!("https://{service}.{}.amazonaws.com", self.region))
    }

    /// Whether S3 is addressed path-style (`endpoint/bucket/key`): always for an endpoint
    /// override, as local stand-ins need; AWS itself gets virtual-hosted names.
    pub(crate) fn path_style(&self) -> bool {
        self.endpoint_of("s3").is_some()
    }

    /// Sends one signed request for `service` and reads the answer.
    pub(crate) async fn send(
        &self,
        service: &str,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Reply, AwsError> {
        let credentials = match &self.credentials {
            Some(provider) => provider.provide_credentials().await,
            None => {
                return Err(AwsError::Credentials(format!(
                    "no AWS credentials: none were found in the environment, the profile or an instance role ({CREDENTIALS_HELP})"
                )));
            }
        }
        .map_err(|e| {
            AwsError::Credentials(format!(
                "no AWS credentials: {} ({CREDENTIALS_HELP})",
                crate::reason::innermost(&e)
            ))
        })?;
        let identity = credentials.into();
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        if service == "s3" {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| malformed_request(url, e))?
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            url,
            headers.iter().copied(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| malformed_request(url, e))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| malformed_request(url, e))?
            .into_parts();
        let mut request = Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| malformed_request(url, e))?;
        instructions.apply_to_request_http1x(&mut request);
        let host = self.base(service);
        let Answer {
            status,
            headers,
            body,
        } = exchange(&self.http, request, MAX_ANSWER, REQUEST_TIMEOUT)
            .await
            .map_err(|e| match e {
                ExchangeError::Unreachable(reason) | ExchangeError::Failed(reason) => {
                    AwsError::Unreachable(format!("cannot reach {service} at {host}: {reason}"))
                }
            })?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }
}

fn malformed_request(url: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::Service("InvalidRequest".into(), format!("{url}: {e}"))
}

/// A service error as forge words it: bad credentials apart from everything else.
pub(crate) fn service_error(code: String, message: String) -> AwsError {
    if CREDENTIAL_CODES.contains(&code.as_str()) || code == "InvalidAccessKeyId" {
        AwsError::Credentials(format!(
            "AWS refused the credentials: {code}: {message} ({CREDENTIALS_HELP})"
        ))
    } else {
        AwsError::Service(code, message)
    }
}

/// A header's value as text.
pub(crate) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl super::Aws {
    /// The signed-call client for `target`, made once.
    pub(crate) async fn signed(&self, target: &Target) -> Result<Signed, AwsError> {
        self.signed
            .get_or_try_init(target, || async {
                let (config, region) = self.sdk_config(target).await?;
                Ok(Signed::new(
                    config.credentials_provider(),
                    region,
                    config.endpoint_url().map(str::to_owned),
                    target.endpoint.is_some(),
                ))
            })
            .await
    }
}

/// An AWS JSON-protocol API (`x-amz-target: <prefix>.<Operation>`): DynamoDB, ECS.
pub(crate) struct JsonApi {
    /// The signing name and endpoint prefix (`dynamodb`, `ecs`).
    pub service: &'static str,
    pub prefix: &'static str,
    /// `application/x-amz-json-<version>`.
    pub version: &'static str,
}

impl super::Aws {
    /// One call of a JSON-protocol API; a service error is worded by `error` from its
    /// `__type` (namespace dropped) and message.
    pub(crate) async fn json_call(
        &self,
        target: &Target,
        api: &JsonApi,
        operation: &str,
        body: serde_json::Value,
        error: impl FnOnce(String, String) -> AwsError,
    ) -> Result<serde_json::Value, AwsError> {
        let signed = self.signed(target).await?;
        let url = format!("{}/", signed.base(api.service));
        let op = format!("{}.{operation}", api.prefix);
        let content_type = format!("application/x-amz-json-{}", api.version);
        let headers = [
            ("content-type", content_type.as_str()),
            ("x-amz-target", op.as_str()),
        ];
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let reply = signed
            .send(api.service, Method::POST, &url, &headers, body)
            .await?;
        if reply.status.is_success() {
            return serde_json::from_slice(&reply.body).map_err(|e| {
                AwsError::Service(
                    "MalformedResponse".into(),
                    format!("{operation} answered something that is not JSON: {e}"),
                )
            });
        }
        let answer: serde_json::Value =
            serde_json::from_slice(&reply.body).unwrap_or(serde_json::Value::Null);
        let kind = answer["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
            .unwrap_or_else(|| format!("HTTP{}", reply.status.as_u16()));
        let message = answer["message"]
            .as_str()
            .or_else(|| answer["Message"].as_str())
            .unwrap_or_default()
            .to_owned();
        Err(error(kind, message))
    }
}
