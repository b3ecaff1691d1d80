//! S3 objects: the calls the state lock (`<key>.tflock`, written only if absent) and the
//! Terraform state check (the state object's ETag and version) need.

use http::{Method, StatusCode};

use super::signed::{Reply, header, service_error};
use super::{Aws, AwsError, Target};

/// An object's identity: what changes when anyone writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub etag: String,
    /// Set in a versioned bucket.
    pub version_id: Option<String>,
    pub size: u64,
}

/// An object and its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub body: Vec<u8>,
    pub meta: ObjectMeta,
}

/// Percent-encodes an object key for a URL path, keeping its `/`.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Whether `bucket` can be a DNS label (virtual-hosted addressing).
fn dns_compatible(bucket: &str) -> bool {
    !bucket.is_empty()
        && !bucket.contains('.')
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The `<Code>` and `<Message>` of an S3 error document, or the status when it has none.
fn error_of(reply: &Reply) -> AwsError {
    let body = String::from_utf8_lossy(&reply.body);
    let tagged = |tag: &str| super::xml::text(&body, tag);
    let code = tagged("Code").unwrap_or_else(|| match reply.status {
        StatusCode::FORBIDDEN => "AccessDenied".to_owned(),
        StatusCode::NOT_FOUND => "NoSuchBucket".to_owned(),
        status => format!("HTTP{}", status.as_u16()),
    });
    let message = tagged("Message").unwrap_or_else(|| {
        reply
            .status
            .canonical_reason()
            .unwrap_or("error")
            .to_owned()
    });
    service_error(code, message)
}

fn meta_of(reply: &Reply, size: u64) -> ObjectMeta {
    ObjectMeta {
        etag: header(&reply.headers, "etag").unwrap_or_default(),
        version_id: header(&reply.headers, "x-amz-version-id"),
        size,
    }
}

impl Aws {
    fn object_url(signed: &super::signed::Signed, bucket: &str, key: &str) -> String {
        let key = encode_key(key.trim_start_matches('/'));
        if signed.path_style() || !dns_compatible(bucket) {
            format!("{}/{bucket}/{key}", signed.base("s3"))
        } else {
            format!("https://{bucket}.s3.{}.amazonaws.com/{key}", signed.region)
        }
    }

    /// `PutObject`; with `if_absent`, only when no object has the key (`If-None-Match: *`):
    /// [`AwsError::PreconditionFailed`] when one does.
    pub async fn s3_put_object(
        &self,
        target: &Target,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        if_absent: bool,
    ) -> Result<ObjectMeta, AwsError> {
        let signed = self.signed(target).await?;
        let url = Self::object_url(&signed, bucket, key);
        let size = body.len() as u64;
        let mut headers = vec![("content-type", "application/json")];
        if if_absent {
            headers.push(("if-none-match", "*"));
        }
        let reply = signed.send("s3", Method::PUT, &url, &headers, body).await?;
        match reply.status {
            s if s.is_success() => Ok(meta_of(&reply, size)),
            StatusCode::PRECONDITION_FAILED | StatusCode::CONFLICT if if_absent => Err(
                AwsError::PreconditionFailed(format!("s3://{bucket}/{key} already exists")),
            ),
            _ => Err(error_of(&reply)),
        }
    }

    /// `GetObject`; `None` when there is no such key.
    pub async fn s3_get_object(
        &self,
        target: &Target,
        bucket: &str,
        key: &str,
    ) -> Result<Option<Object>, AwsError> {
        let signed = self.signed(target).await?;
        let url = Self::object_url(&signed, bucket, key);
        let reply = signed
            .send("s3", Method::GET, &url, &[], Vec::new())
            .await?;
        match reply.status {
            s if s.is_success() => Ok(Some(Object {
                meta: meta_of(&reply, reply.body.len() as u64),
                body: reply.body.to_vec(),
            })),
            StatusCode::NOT_FOUND if !error_of(&reply).to_string().starts_with("NoSuchBucket") => {
                Ok(None)
            }
            _ => Err(error_of(&reply)),
        }
    }

    /// `HeadObject`: the object's ETag and version, `None` when there is no such key.
    pub async fn s3_head_object(
        &self,
        target: &Target,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectMeta>, AwsError> {
        let signed = self.signed(target).await?;
        let url = Self::object_url(&signed, bucket, key);
        let reply = signed
            .send("s3", Method::HEAD, &url, &[], Vec::new())
            .await?;
        match reply.status {
            s if s.is_success() => {
                let size = header(&reply.headers, "content-length")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0);
                Ok(Some(meta_of(&reply, size)))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(error_of(&reply)),
        }
    }

    /// `DeleteObject`. Deleting a key that does not exist succeeds, as in S3.
    pub async fn s3_delete_object(
        &self,
        target: &Target,
        bucket: &str,
        key: &str,
    ) -> Result<(), AwsError> {
        let signed = self.signed(target).await?;
        let url = Self::object_url(&signed, bucket, key);
        let reply = signed
            .send("s3", Method::DELETE, &url, &[], Vec::new())
            .await?;
        match reply.status {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND if error_of(&reply).to_string().starts_with("NoSuchKey") => {
                Ok(())
            }
            _ => Err(error_of(&reply)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_slashes_and_encode_the_rest() {
        assert_eq!(
            encode_key("app/prod/terraform.tfstate.tflock"),
            "app/prod/terraform.tfstate.tflock"
        );
        assert_eq!(encode_key("env:/dev/a b+c"), "env%3A/dev/a%20b%2Bc");
    }

    #[test]
    fn buckets_with_dots_are_addressed_by_path() {
        assert!(dns_compatible("two-tier-terraform-state-123"));
        assert!(!dns_compatible("state.example.com"));
        assert!(!dns_compatible("Upper"));
    }
}
