//! A secret's value by reference: an SSM parameter (`GetParameter`, decrypted) or a
//! Secrets Manager secret (`GetSecretValue`), both awsJson1.1. The value is returned to
//! the caller and nowhere else: no error of these calls quotes an answer's body.

use serde_json::{Value, json};

use super::signed::{JsonApi, service_error};
use super::{Aws, AwsError, Target};

const SSM: JsonApi = JsonApi {
    service: "ssm",
    prefix: "AmazonSSM",
    version: "1.1",
};

const SECRETS_MANAGER: JsonApi = JsonApi {
    service: "secretsmanager",
    prefix: "secretsmanager",
    version: "1.1",
};

impl Aws {
    /// `ssm:GetParameter` with decryption: the value of parameter `name` (a path such as
    /// `/two-tier/api-key`; a `SecureString` is decrypted with its KMS key).
    pub async fn ssm_parameter(&self, target: &Target, name: &str) -> Result<String, AwsError> {
        let body = json!({ "Name": name, "WithDecryption": true });
        let answer = self
            .json_call(target, &SSM, "GetParameter", body, service_error)
            .await?;
        answer["Parameter"]["Value"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| super::malformed("GetParameter answered without Parameter.Value"))
    }

    /// `secretsmanager:GetSecretValue`: the current (`AWSCURRENT`) text of secret `id` (an
    /// ARN or a name). A binary secret is an error: forge masks secrets in text.
    pub async fn secret_value(&self, target: &Target, id: &str) -> Result<String, AwsError> {
        let body = json!({ "SecretId": id });
        let answer = self
            .json_call(
                target,
                &SECRETS_MANAGER,
                "GetSecretValue",
                body,
                service_error,
            )
            .await?;
        match &answer["SecretString"] {
            Value::String(text) => Ok(text.clone()),
            _ if answer.get("SecretBinary").is_some() => Err(AwsError::Service(
                "BinarySecret".into(),
                format!("secret {id} holds binary data; forge gives steps text secrets only"),
            )),
            _ => Err(super::malformed(
                "GetSecretValue answered without SecretString",
            )),
        }
    }
}
