//! The HTTP client the registry and the signed AWS calls share: hyper over rustls with the
//! system's roots (plain HTTP for loopback endpoints), and one request-answer exchange with
//! a time limit and a cap on the answer's size.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::reason::{connect_reason, innermost};

/// A pooled HTTP/1 client speaking HTTPS or plain HTTP.
pub(crate) type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client trusting the system's root certificates. Without them, HTTPS endpoints fail
/// with an unknown-issuer error that says as much; plain-HTTP ones still work.
pub(crate) fn https_client(connect_timeout: Duration) -> HttpsClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    let provider = rustls::crypto::ring::default_provider();
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let tls = match builder.with_provider_and_native_roots(provider.clone()) {
        Ok(b) => b,
        Err(_) => hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(
            rustls::ClientConfig::builder_with_provider(provider.into())
                .with_safe_default_protocol_versions()
                .map(|b| {
                    b.with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                })
                .unwrap_or_else(|_| {
                    rustls::ClientConfig::builder()
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                }),
        ),
    };
    let connector = tls.https_or_http().enable_http1().wrap_connector(http);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// An answer, its body read whole.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why an exchange gave no answer.
pub(crate) enum ExchangeError {
    /// No connection: refused, no route, a name that does not resolve, or no answer in time.
    Unreachable(String),
    /// Connected, then the request or the answer broke off.
    Failed(String),
}

/// Sends `request` and reads the answer, at most `max_body` bytes of it, within `timeout`.
pub(crate) async fn exchange(
    client: &HttpsClient,
    request: Request<Full<Bytes>>,
    max_body: usize,
    timeout: Duration,
) -> Result<Answer, ExchangeError> {
    let work = async {
        let response = client.request(request).await.map_err(|e| {
            let reason = connect_reason(&e).unwrap_or_else(|| innermost(&e));
            if e.is_connect() {
                ExchangeError::Unreachable(reason)
            } else {
                ExchangeError::Failed(reason)
            }
        })?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, max_body)
            .collect()
            .await
            .map_err(|e| ExchangeError::Failed(format!("reading the answer: {e}")))?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| {
        ExchangeError::Unreachable(format!("no answer within {}s", timeout.as_secs()))
    })?
}
