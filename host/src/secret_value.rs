//! A secret's value, read where the project declares it: forge's environment (`env:VAR`),
//! an SSM parameter (`ssm:/path`, decrypted, in the project's region) or a Secrets Manager
//! secret (its ARN, in the ARN's region). Read only by what uses it — a `command` step's
//! process ([`crate::command`]), a registry login (`registry.login`) — and only when the
//! step runs: a cached result reads nothing. The value goes to its user and nowhere else.

use forge_clients::aws::{Aws, AwsError, Target};
use forge_engine::model::SecretRef;

/// Shorter values would mask ordinary text in a step's output (and still be guessable):
/// refused wherever forge masks a secret.
pub(crate) const MIN_SECRET_LEN: usize = 6;

/// `value`, unless it is shorter than [`MIN_SECRET_LEN`].
pub(crate) fn long_enough(
    name: &str,
    reference: &SecretRef,
    value: String,
) -> Result<String, Unreadable> {
    if value.len() < MIN_SECRET_LEN {
        return Err(unreadable_because(
            format!(
                "secret `{name}` ({}) is shorter than {MIN_SECRET_LEN} bytes",
                reference.reference()
            ),
            "forge masks every secret value in the step's output, and a value this short would mask ordinary text: use the real credential",
        ));
    }
    Ok(value)
}

/// Why a secret could not be read, and what to do; never holds the value.
#[derive(Debug, Clone)]
pub(crate) struct Unreadable {
    pub message: String,
    pub help: String,
}

fn unreadable_because(message: impl Into<String>, help: impl Into<String>) -> Unreadable {
    Unreadable {
        message: message.into(),
        help: help.into(),
    }
}

/// The value of secret `name`, declared as `reference`.
pub(crate) async fn read(
    name: &str,
    reference: &SecretRef,
    aws: &Aws,
) -> Result<String, Unreadable> {
    match reference {
        SecretRef::Env(var) => from_env(name, var),
        SecretRef::Ssm { path, region } => {
            let target = Target {
                region: Some(region.clone()),
                endpoint: None,
            };
            aws.ssm_parameter(&target, path)
                .await
                .map_err(|e| unreadable(name, reference, region, &e))
        }
        SecretRef::SecretsManager(arn) => {
            let region = reference.region().unwrap_or_default();
            let target = Target {
                region: Some(region.to_owned()),
                endpoint: None,
            };
            aws.secret_value(&target, arn)
                .await
                .map_err(|e| unreadable(name, reference, region, &e))
        }
    }
}

/// A secret's value from forge's environment variable `var`.
fn from_env(name: &str, var: &str) -> Result<String, Unreadable> {
    match std::env::var(var) {
        Ok(value) => Ok(value),
        Err(std::env::VarError::NotPresent) => Err(unreadable_because(
            format!("secret `{name}`: environment variable {var} is not set"),
            format!(
                "set {var} in forge's environment (in Jenkins, `withCredentials([string(credentialsId: ..., variable: '{var}')])`)"
            ),
        )),
        Err(std::env::VarError::NotUnicode(_)) => Err(unreadable_because(
            format!("secret `{name}`: environment variable {var} is not UTF-8"),
            "forge masks secrets in text output, so their values must be text",
        )),
    }
}

/// Why a secret in SSM or Secrets Manager could not be read, and what to do about it. AWS's
/// answers to these calls never carry the value, so quoting them is safe.
fn unreadable(name: &str, reference: &SecretRef, region: &str, error: &AwsError) -> Unreadable {
    let (code, _) = error.code_and_message();
    let (what, read) = match reference {
        SecretRef::Ssm { path, .. } => (
            format!("parameter {path}"),
            format!(
                "ssm:GetParameter on parameter {path} (and kms:Decrypt on its key if it is a SecureString)"
            ),
        ),
        _ => (
            format!("secret {}", reference.reference()),
            "secretsmanager:GetSecretValue on this secret (and kms:Decrypt on its key)".to_owned(),
        ),
    };
    let help = match code.as_str() {
        "ParameterNotFound" | "ResourceNotFoundException" => format!(
            "create the {what} in {region} (`aws ssm put-parameter --type SecureString` / `aws secretsmanager create-secret`), or fix the `from=` reference"
        ),
        "AccessDeniedException" => format!("the AWS identity forge runs as needs {read}"),
        "Credentials" => "forge reads step secrets with the standard AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (in Jenkins, the agent's role)".to_owned(),
        "Unreachable" => "check the network, or AWS_ENDPOINT_URL for a local stand-in".to_owned(),
        _ => format!("the AWS identity forge runs as needs {read}"),
    };
    Unreadable {
        message: format!(
            "secret `{name}`: could not read {} in {region}: {error}",
            reference.reference()
        ),
        help,
    }
}
