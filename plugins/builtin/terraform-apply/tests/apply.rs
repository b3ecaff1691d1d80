//! terraform-apply's decisions against MockHost's fake `terraform` and S3: apply only what
//! the plan changes, keep no sensitive value, record the state's identity. The real
//! `terraform` runs in the host's and the CLI's tests.

use forge_plugin_sdk::{MockHost, MockTerraform, PlanSummary, TerraformError};
use serde_json::json;
use terraform_apply::TerraformApply;

const KEY: &str = "app/dev/terraform.tfstate";

fn host(plan: PlanSummary) -> MockHost {
    MockHost::new()
        .step("terraform-apply")
        .env("dev")
        .config(json!({
            "region": "us-east-1",
            "state": {
                "bucket": "state", "key": KEY, "region": "us-east-1",
                "endpoint": "http://127.0.0.1:4566", "lockfile": true
            }
        }))
        .upstream(
            "terraform-render",
            json!({"env": "dev", "dir": ".forge/terraform/dev", "files": {"main.tf": "h1", "versions.tf": "h2"}, "root": "r"}),
        )
        .upstream_output("terraform-render", "main.tf", b"# main")
        .upstream_output("terraform-render", "versions.tf", b"# versions")
        .s3_object("state", KEY, "{\"version\": 4}")
        .terraform(MockTerraform {
            plan,
            outputs: Some(
                json!({
                    "vpc_id": {"value": "vpc-1", "type": "string", "sensitive": false},
                    "db_password": {"value": "s3cr3t", "type": "string", "sensitive": true}
                })
                .to_string(),
            ),
            ..MockTerraform::default()
        })
}

#[test]
fn a_plan_with_changes_is_applied_and_outputs_keep_no_secret() {
    let changes = PlanSummary {
        add: 2,
        change: 1,
        destroy: 0,
        changes: true,
    };
    let mut host = host(changes);
    host.run::<TerraformApply>().expect("applies");
    let tf = host.terraform_state();
    assert_eq!(tf.calls, ["version", "init", "plan", "apply", "output"]);
    let ws = tf.workspace.expect("init was given a workspace");
    assert_eq!(ws.dir, ".forge/terraform/dev");
    let names: Vec<&str> = ws.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["main.tf", "versions.tf"]);
    let manifest = host.manifest().expect("manifest");
    assert!(!manifest.contains("s3cr3t"), "{manifest}");
    let manifest: serde_json::Value = serde_json::from_str(manifest).expect("json");
    assert_eq!(manifest["outputs"]["vpc_id"], "vpc-1");
    assert_eq!(manifest["sensitive"], json!(["db_password"]));
    assert!(
        manifest["state"]["etag"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );
    let log: Vec<String> = host.logs().iter().map(|l| l.message.clone()).collect();
    assert!(
        log.iter()
            .any(|l| l == "plan: 2 to add, 1 to change, 0 to destroy"),
        "{log:?}"
    );
}

#[test]
fn a_plan_without_changes_applies_nothing() {
    let mut host = host(PlanSummary::default());
    host.run::<TerraformApply>().expect("runs");
    assert_eq!(
        host.terraform_state().calls,
        ["version", "init", "plan", "output"]
    );
}

#[test]
fn a_provider_that_cannot_be_installed_fails_with_the_fix() {
    let mut host = host(PlanSummary::default()).terraform(MockTerraform {
        error: Some(TerraformError::ProviderUnavailable(
            "terraform init could not install a provider".into(),
        )),
        ..MockTerraform::default()
    });
    let err = host.run::<TerraformApply>().expect_err("init fails");
    assert!(
        err.to_string().contains("could not install a provider"),
        "{err}"
    );
    assert!(err.help().is_some_and(|h| h.contains("mirror")), "{err:?}");
}
