//! The `terraform-apply` built-in: the env's Terraform, from the root module
//! `terraform-render` wrote.
//!
//! 1. `terraform init` in the env's private working directory, which the host lays out
//!    from the render's output files (at the `dir` the render names) and this step's
//!    declared inputs, the module sources. The S3 backend is the render's `backend "s3"`
//!    block; credentials come from the host's AWS chain.
//! 2. `terraform plan`: its summary (N to add, M to change, K to destroy) goes to the log.
//! 3. `terraform apply` of that saved plan, only when it has changes. Inside forge's state
//!    lock the host runs both with `-lock=false`: forge holds Terraform's own lock.
//! 4. The output: `terraform output -json`, sensitive values left out (only their names
//!    are kept: a value never reaches the store), and the state object's identity (ETag
//!    and version, one HEAD) as it is after this step.
//!
//! The plan summary is logged, not output: a rerun that finds nothing to change gives the
//! same output as the run that applied, so the rollouts after it stay cached.

use std::collections::BTreeMap;

use forge_plugin_sdk::lock::{AppliedState, Backend, StateIdentity};
use forge_plugin_sdk::{
    AwsTarget, Context, Error, Info, Plugin, RootFile, Workspace, capability, export_plugin,
};
use serde::{Deserialize, Serialize};

/// The step that renders the root module.
pub const RENDER: &str = "terraform-render";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The project's AWS region.
    pub region: String,
    /// The env's state backend, when the project has one.
    #[serde(default)]
    pub state: Option<Backend>,
}

/// What `terraform-render` outputs (the fields this step reads).
#[derive(Debug, Deserialize)]
pub struct Rendered {
    pub dir: String,
    /// Output file name → blake3.
    pub files: BTreeMap<String, String>,
}

/// The step's manifest.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Output {
    /// Non-sensitive root outputs: name → value.
    pub outputs: BTreeMap<String, serde_json::Value>,
    /// Names of sensitive root outputs, whose values are not kept.
    pub sensitive: Vec<String>,
    /// The state object after this step, when the project has a state backend: what
    /// forge rechecks before serving this result from the cache.
    #[serde(flatten)]
    pub applied: AppliedState,
}

pub struct TerraformApply;

impl Plugin for TerraformApply {
    type Config = Config;
    type Output = Output;

    fn info() -> Info {
        Info::new(
            "terraform-apply",
            "terraform init, plan and (when it has changes) apply of the rendered root module",
        )
        .capability(capability::FILES_READ)
        .capability(capability::TERRAFORM)
        .capability(capability::AWS)
    }

    fn run(ctx: &mut Context, config: Config) -> Result<Output, Error> {
        let rendered: Rendered = ctx.upstream(RENDER)?;
        let version = ctx.terraform_version()?;
        ctx.info(format!("terraform {version}"));
        let workspace = Workspace {
            files: rendered
                .files
                .keys()
                .map(|name| RootFile {
                    name: name.clone(),
                    step: RENDER.to_owned(),
                    output: name.clone(),
                })
                .collect(),
            dir: rendered.dir,
            backend: Vec::new(),
        };
        ctx.terraform_init(&workspace)?;
        let plan = ctx.terraform_plan()?;
        ctx.info(format!("plan: {plan}"));
        if plan.changes {
            ctx.terraform_apply()?;
            ctx.info(format!("applied: {plan}"));
        }
        let (outputs, sensitive) = root_outputs(&ctx.terraform_output()?)?;
        let state = match &config.state {
            None => None,
            Some(backend) => {
                let target = AwsTarget {
                    region: Some(backend.region.clone()),
                    endpoint: backend.endpoint.clone(),
                };
                ctx.s3_head_object(&target, &backend.bucket, &backend.key)?
                    .map(|meta| StateIdentity {
                        etag: meta.etag,
                        version_id: meta.version_id,
                    })
            }
        };
        Ok(Output {
            outputs,
            sensitive,
            applied: AppliedState { state },
        })
    }
}

/// `terraform output -json` → (non-sensitive name → value, sensitive names).
pub fn root_outputs(
    json: &str,
) -> Result<(BTreeMap<String, serde_json::Value>, Vec<String>), Error> {
    let all: BTreeMap<String, serde_json::Value> = serde_json::from_str(json)
        .map_err(|e| Error::new(format!("terraform output -json is not an object: {e}")))?;
    let mut outputs = BTreeMap::new();
    let mut sensitive = Vec::new();
    for (name, output) in all {
        if output["sensitive"] == true {
            sensitive.push(name);
        } else {
            outputs.insert(name, output["value"].clone());
        }
    }
    Ok((outputs, sensitive))
}

export_plugin!(TerraformApply);
