//! The shared remote cache on S3 (see [`forge_engine::remote`]): where it is, whose
//! entries are trusted, and whether this machine may write.
//!
//! - Where: project.kdl's `cache { s3 bucket=… prefix=… }` (an env may override it), or
//!   `--remote-cache s3://BUCKET/PREFIX` / `FORGE_REMOTE_CACHE`, which replaces the bucket
//!   and prefix.
//! - Whose: only project.kdl's `trust "NAME" "ed25519:…"` lines, never a flag: who may
//!   feed everyone's builds is part of the project's reviewed config.
//! - Writing: with `--cache-key FILE` / `FORGE_CACHE_KEY` (a key `forge cache keygen`
//!   wrote) whose public half the project trusts. Without one a machine only reads, which
//!   is what a developer machine does.

use std::collections::BTreeMap;
use std::sync::Arc;

use forge_clients::aws::{Aws, AwsError, Target};
use forge_engine::remote::{BoxFuture, ObjectStore, PublicKey, RemoteCache, WriterKey};
use forge_engine::session::Session;

use crate::cli::GlobalArgs;
use crate::exit::CliError;

/// An S3 bucket and key prefix as the remote cache's object store.
pub struct S3Objects {
    aws: Aws,
    target: Target,
    bucket: String,
    /// Empty, or ends with `/`.
    prefix: String,
}

impl S3Objects {
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

impl ObjectStore for S3Objects {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, String>> {
        Box::pin(async move {
            self.aws
                .s3_get_object(&self.target, &self.bucket, &self.key(key))
                .await
                .map(|o| o.map(|o| o.body))
                .map_err(|e| e.to_string())
        })
    }

    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            self.aws
                .s3_head_object(&self.target, &self.bucket, &self.key(key))
                .await
                .map(|m| m.is_some())
                .map_err(|e| e.to_string())
        })
    }

    fn put_if_absent<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            match self
                .aws
                .s3_put_object(&self.target, &self.bucket, &self.key(key), body, true)
                .await
            {
                Ok(_) => Ok(true),
                Err(AwsError::PreconditionFailed(_)) => Ok(false),
                Err(e) => Err(e.to_string()),
            }
        })
    }

    fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }
}

/// `s3://BUCKET/PREFIX` → (bucket, prefix).
fn parse_url(url: &str) -> Result<(String, String), CliError> {
    let bad = |why: &str| CliError::RemoteCache {
        message: format!("`{url}` is not a remote cache location: {why}"),
        help: "write it as s3://BUCKET or s3://BUCKET/PREFIX".into(),
    };
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| bad("it is not an s3:// URL"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(bad("it names no bucket"));
    }
    Ok((bucket.to_owned(), prefix.to_owned()))
}

/// The session's remote cache, when it has one; `None` when neither project.kdl nor the
/// command line names one.
pub(crate) fn remote_cache(
    global: &GlobalArgs,
    session: &Session,
) -> Result<Option<Arc<RemoteCache>>, CliError> {
    let decl = session
        .project
        .envs
        .get(&session.env)
        .and_then(|c| c.cache.clone());
    let (decl, location) = match (decl, &global.remote_cache) {
        (None, None) => return Ok(None),
        (None, Some(url)) => {
            return Err(CliError::RemoteCache {
                message: format!("--remote-cache {url}: project.kdl trusts no writer"),
                help: "add a `cache` block with the writers whose results agents may use: `cache { s3 bucket=\"NAME\"; trust \"ci\" \"ed25519:…\" }` (`forge cache keygen` makes a key)".into(),
            });
        }
        (Some(decl), Some(url)) => (decl, parse_url(url)?),
        (Some(decl), None) => {
            let location = (decl.bucket.value.clone(), decl.prefix.value.clone());
            (decl, location)
        }
    };
    let trusted: BTreeMap<String, PublicKey> = decl
        .trusted
        .iter()
        .filter_map(|(name, key)| Some((name.clone(), PublicKey::parse(&key.value).ok()?)))
        .collect();
    let mut writer = match &global.cache_key {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| CliError::RemoteCache {
                message: format!("cannot read the cache signing key {}: {e}", path.display()),
                help: "FORGE_CACHE_KEY (or --cache-key) names a file `forge cache keygen` wrote"
                    .into(),
            })?;
            Some(WriterKey::parse(&text).map_err(|why| {
                CliError::RemoteCache {
                    message: format!("{} is not a cache signing key: {why}", path.display()),
                    help:
                        "FORGE_CACHE_KEY (or --cache-key) names a file `forge cache keygen` wrote"
                            .into(),
                }
            })?)
        }
        None => None,
    };
    if let Some(key) = &writer
        && !trusted.values().any(|k| *k == key.public())
    {
        crate::report::stderr_line(format_args!(
            "warning: the cache signing key's public half {} is not trusted by project.kdl, so this machine only reads the remote cache; to publish, add `trust \"NAME\" \"{}\"` to the `cache` block",
            key.public().encode(),
            key.public().encode()
        ));
        writer = None;
    }
    let (bucket, mut prefix) = location;
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    let objects = S3Objects {
        aws: Aws::default(),
        target: Target {
            region: Some(decl.region.value.clone()),
            endpoint: decl.endpoint.as_ref().map(|e| e.value.clone()),
        },
        bucket,
        prefix,
    };
    Ok(Some(Arc::new(RemoteCache::new(
        Arc::new(objects),
        trusted,
        writer,
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_cache_url_is_an_s3_bucket_and_a_prefix() {
        assert_eq!(
            parse_url("s3://shop-cache/forge/ci").expect("valid"),
            ("shop-cache".to_owned(), "forge/ci".to_owned())
        );
        assert_eq!(
            parse_url("s3://shop-cache").expect("valid"),
            ("shop-cache".to_owned(), String::new())
        );
        for bad in ["https://shop-cache/x", "s3:///prefix", "shop-cache"] {
            let err = parse_url(bad).expect_err("refused");
            assert!(
                err.to_string().contains("is not a remote cache location"),
                "{err}"
            );
        }
    }
}
