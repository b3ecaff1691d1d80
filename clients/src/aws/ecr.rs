//! ECR: logging in to a registry, and describing and creating repositories.

use aws_sdk_ecr::types::ImageTagMutability;

use super::{Aws, AwsError, Target, malformed, sdk_error};
use crate::registry::Credentials;

/// An ECR repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub name: String,
    pub uri: String,
    pub arn: String,
    pub immutable_tags: bool,
}

/// A client for ECR at one target, and where it calls (for messages).
#[derive(Clone)]
pub(super) struct Ecr {
    client: aws_sdk_ecr::Client,
    endpoint: String,
}

impl Aws {
    async fn ecr(&self, target: &Target) -> Result<Ecr, AwsError> {
        self.ecr
            .get_or_try_init(target, || async {
                let (config, region) = self.sdk_config(target).await?;
                let endpoint = config.endpoint_url().map_or_else(
                    || format!("https://api.ecr.{region}.amazonaws.com"),
                    str::to_owned,
                );
                Ok(Ecr {
                    client: aws_sdk_ecr::Client::new(&config),
                    endpoint,
                })
            })
            .await
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
