//! The `terraform` CLI as a deploy runs it, against the S3 backend on moto: Terraform's
//! built-in provider only (`terraform_data`), so nothing is downloaded. Terraform 1.11 on
//! PATH is required: these tests fail, never skip, without it.

use std::path::Path;
use std::time::Duration;

use forge_clients::terraform::{Lock, Terraform, TerraformError};

use crate::stack;
use crate::state::{LOCK_TABLE, STATE_BUCKET};

const MODULE: &str = r#"terraform {
  backend "s3" {}
}

variable "v" {
  default = "a"
}

resource "terraform_data" "x" {
  input = var.v
}

output "value" {
  value = terraform_data.x.output
}

output "token" {
  value     = "s3cr3t"
  sensitive = true
}
"#;

async fn terraform() -> Terraform {
    match Terraform::find(None).await {
        Ok(t) => t,
        Err(e) => panic!("Terraform is required for these tests: {e}"),
    }
}

fn backend(key: &str) -> Vec<(String, String)> {
    let endpoint = stack::aws_endpoint();
    let (id, secret) = stack::aws_key();
    [
        ("bucket", STATE_BUCKET.to_owned()),
        ("key", key.to_owned()),
        ("region", stack::aws_region()),
        ("use_lockfile", "true".to_owned()),
        ("dynamodb_table", LOCK_TABLE.to_owned()),
        (
            "endpoints",
            format!("{{s3=\"{endpoint}\",dynamodb=\"{endpoint}\"}}"),
        ),
        ("use_path_style", "true".to_owned()),
        ("skip_credentials_validation", "true".to_owned()),
        ("skip_requesting_account_id", "true".to_owned()),
        ("skip_metadata_api_check", "true".to_owned()),
        ("skip_region_validation", "true".to_owned()),
        ("access_key", id),
        ("secret_key", secret),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn module(dir: &Path, text: &str) {
    std::fs::write(dir.join("main.tf"), text).expect("write main.tf");
}

#[tokio::test]
async fn init_plan_apply_output_and_a_second_plan_without_changes() {
    stack::require_listening("moto (the AWS API)", &stack::aws_endpoint());
    let tf = terraform().await;
    assert!(tf.version().starts_with("1."), "{}", tf.version());
    let dir = tempfile::tempdir().expect("work dir");
    module(dir.path(), MODULE);
    let key = format!("forge-test/{}/terraform.tfstate", stack::unique("tf"));
    let mut lines = Vec::new();
    let mut log = |l: String| lines.push(l);
    tf.init(dir.path(), &backend(&key), &mut log)
        .await
        .expect("init");
    let lock = Lock::Wait(Duration::ZERO);
    let plan = tf.plan(dir.path(), lock, &mut log).await.expect("plan");
    assert!(plan.changes);
    assert_eq!((plan.add, plan.change, plan.destroy), (1, 0, 0));
    assert_eq!(plan.to_string(), "1 to add, 0 to change, 0 to destroy");
    tf.apply(dir.path(), lock, &mut log).await.expect("apply");
    let outputs = tf.output(dir.path()).await.expect("output");
    assert_eq!(outputs["value"]["value"], "a");
    assert_eq!(outputs["token"]["sensitive"], true);
    let again = tf.plan(dir.path(), lock, &mut log).await.expect("plan");
    assert!(!again.changes, "{again:?}");

    // The state object is in the bucket, and its identity changes with an apply.
    let (aws, target) = stack::moto();
    let before = aws
        .s3_head_object(&target, STATE_BUCKET, &key)
        .await
        .expect("head")
        .expect("the state exists");
    module(
        dir.path(),
        &MODULE.replace("default = \"a\"", "default = \"b\""),
    );
    let changed = tf.plan(dir.path(), lock, &mut log).await.expect("plan");
    assert!(changed.changes);
    tf.apply(dir.path(), lock, &mut log).await.expect("apply");
    let after = aws
        .s3_head_object(&target, STATE_BUCKET, &key)
        .await
        .expect("head")
        .expect("the state exists");
    assert_ne!(before.etag, after.etag);
    assert!(
        lines.iter().any(|l| l.contains("Apply complete")),
        "{lines:#?}"
    );
}

/// Inside forge's held lock Terraform must not take its own (it would find forge's);
/// outside it, it waits and fails with the holder.
#[tokio::test]
async fn inside_forges_lock_terraform_runs_with_lock_false() {
    stack::require_listening("moto (the AWS API)", &stack::aws_endpoint());
    let tf = terraform().await;
    let dir = tempfile::tempdir().expect("work dir");
    module(dir.path(), MODULE);
    let key = format!("forge-test/{}/terraform.tfstate", stack::unique("tf"));
    let mut log = |_: String| {};
    tf.init(dir.path(), &backend(&key), &mut log)
        .await
        .expect("init");
    let (aws, target) = stack::moto();
    let info = format!(
        r#"{{"ID":"11111111-2222-4333-8444-555555555555","Operation":"OperationTypeApply","Info":"forge run r1: forge deploy","Who":"forge@ci","Version":"forge 0.1.0","Created":"2026-12-03T09:00:00Z","Path":"{STATE_BUCKET}/{key}"}}"#
    );
    aws.s3_put_object(
        &target,
        STATE_BUCKET,
        &format!("{key}.tflock"),
        info.into_bytes(),
        true,
    )
    .await
    .expect("hold the lockfile");
    let blocked = tf
        .plan(dir.path(), Lock::Wait(Duration::ZERO), &mut log)
        .await;
    match blocked {
        Err(TerraformError::Failed(m)) => {
            assert!(m.contains("11111111-2222-4333-8444-555555555555"), "{m}");
        }
        other => panic!("expected the lock to stop terraform, got {other:?}"),
    }
    let inside = tf
        .plan(dir.path(), Lock::HeldByForge, &mut log)
        .await
        .expect("plan inside forge's lock");
    assert!(inside.changes);
    aws.s3_delete_object(&target, STATE_BUCKET, &format!("{key}.tflock"))
        .await
        .expect("release");
}

/// No network to the registry here: a module that needs the AWS provider cannot init, and
/// the error says so and how to fix it.
#[tokio::test]
async fn a_provider_that_cannot_be_installed_is_said_to_be_that() {
    let tf = terraform().await;
    let dir = tempfile::tempdir().expect("work dir");
    module(
        dir.path(),
        "terraform {\n  required_providers {\n    aws = {\n      source  = \"hashicorp/aws\"\n      version = \"~> 5.0\"\n    }\n  }\n}\n",
    );
    let mut log = |_: String| {};
    match tf.init(dir.path(), &[], &mut log).await {
        Err(TerraformError::ProviderUnavailable(m)) => {
            assert!(m.contains("provider mirror"), "{m}");
            assert!(m.contains("FORGE_TERRAFORM_MIRROR"), "{m}");
        }
        other => panic!("expected a provider error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_terraform_says_how_to_get_one() {
    match Terraform::find(Some(Path::new("/nonexistent/terraform"))).await {
        Err(TerraformError::NotInstalled(m)) => assert!(m.contains("cannot run"), "{m}"),
        other => panic!("expected not installed, got {other:?}"),
    }
}

/// A root module that needs a provider this machine cannot download.
const NEEDS_A_PROVIDER: &str = r#"terraform {
  required_providers {
    fake = {
      source  = "example.com/forge/fake"
      version = "1.0.0"
    }
  }
}
"#;

/// An air-gapped agent installs providers from a mirror (`FORGE_TERRAFORM_MIRROR`, a
/// `provider_installation { filesystem_mirror }` in the CLI configuration forge writes);
/// without one, `init` fails with the error that says so. The provider here is a stand-in
/// executable in the mirror's unpacked layout: `init` installs it without running it.
#[tokio::test]
async fn init_installs_providers_from_a_mirror_and_says_so_without_one() {
    let mirror = tempfile::tempdir().expect("mirror");
    let package = mirror
        .path()
        .join("example.com/forge/fake/1.0.0")
        .join(format!("linux_{}", go_arch()));
    std::fs::create_dir_all(&package).expect("mkdir");
    let provider = package.join("terraform-provider-fake_v1.0.0");
    std::fs::write(&provider, "#!/bin/sh\nexit 1\n").expect("write the provider");
    std::fs::set_permissions(
        &provider,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");

    let dir = tempfile::tempdir().expect("work dir");
    module(dir.path(), NEEDS_A_PROVIDER);
    let tf = terraform().await;
    let err = tf
        .init(dir.path(), &[], &mut |_| {})
        .await
        .expect_err("no network, no mirror");
    let TerraformError::ProviderUnavailable(message) = &err else {
        panic!("{err:?}");
    };
    assert!(
        message.starts_with("terraform init could not install a provider")
            && message.contains("FORGE_TERRAFORM_MIRROR"),
        "{message}"
    );

    let mirrored = tf.with_mirror(mirror.path().to_path_buf());
    let mut lines = Vec::new();
    mirrored
        .init(dir.path(), &[], &mut |l| lines.push(l))
        .await
        .unwrap_or_else(|e| panic!("init from the mirror: {e}"));
    assert!(
        dir.path()
            .join(".terraform/providers/example.com/forge/fake/1.0.0")
            .is_dir(),
        "installed: {lines:#?}"
    );
    let lock = std::fs::read_to_string(dir.path().join(".terraform.lock.hcl")).expect("lock");
    assert!(lock.contains("example.com/forge/fake"), "{lock}");
}

/// Terraform's name for this machine's architecture.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
