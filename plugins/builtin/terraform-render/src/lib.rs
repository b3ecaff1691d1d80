//! # terraform-render: the env's Terraform root module, as output files
//!
//! A pure built-in step (no capability beyond the always-granted `log` and `outputs`): from
//! its config and its upstream steps' outputs it writes
//!
//! - `versions.tf`: `required_version`, `required_providers` (hashicorp/aws `~> 5.0`) and,
//!   when the project has `state`, the `backend "s3"` block (DynamoDB table or S3 lockfile;
//!   path-style endpoints and skipped AWS checks for a custom endpoint);
//! - `providers.tf`: `provider "aws"` with the region, `default_tags` (Project,
//!   Environment = the forge env, ManagedBy = forge) and, for a custom endpoint, endpoint
//!   overrides (see [`render`] for which endpoint);
//! - `main.tf`: one `module "NAME"` per module, sources relative to
//!   [`render::ROOT_MODULE_DIR`], inputs sorted, references resolved (see [`refs`]);
//! - `outputs.tf`, when later steps read module outputs (`outputs`: `module.NAME.OUTPUT`
//!   references): one root output each, named by the contract's `root_output`.
//!
//! The text is canonical: sorted keys, no timestamps or absolute paths, already in
//! `terraform fmt` form ([`hcl`]). The manifest is `{"env", "dir", "files": {name: blake3},
//! "root"}` (`dir`: where the files belong, [`render::ROOT_MODULE_DIR`]), where `root` is the blake3 of `name\0hash\n` for each file in name order: one
//! hash that changes exactly when the root module does.
//!
//! The config is what the engine's `render_config` builds:
//! `{"project", "region", "modules": {NAME: {"source", "inputs": {VAR: value}, "depends_on"?:
//! [NAME]}}, "vars",
//! "state": null | {"bucket", "key", "region", "endpoint"?, "lockfile", "table"?}}`
//! (the contract's lock backend: `lockfile` for `use_lockfile`, `table` for
//! `dynamodb_table`, both when both).

use std::collections::BTreeMap;

use forge_plugin_sdk::{Context, Error, Info, Plugin, export_plugin};
use serde::{Deserialize, Serialize};

pub mod hcl;
pub mod refs;
pub mod render;

/// The step config (see the crate doc).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub project: String,
    pub region: String,
    #[serde(default)]
    pub modules: BTreeMap<String, Module>,
    /// Project vars. The engine has already substituted `var.*` references into module
    /// inputs; the only one read here is `aws_endpoint` (see `providers.tf`).
    #[serde(default)]
    pub vars: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub state: Option<State>,
    /// Module outputs later steps read (`module.NAME.OUTPUT`), written as root outputs
    /// to `outputs.tf` (see [`render::outputs_tf`]).
    #[serde(default)]
    pub outputs: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Module {
    /// Project-relative directory, e.g. `modules/vpc`.
    pub source: String,
    #[serde(default)]
    pub inputs: BTreeMap<String, serde_json::Value>,
    /// Modules this one must wait for although none of its inputs says so (the seed
    /// article's NAT route before ECS services): rendered as `depends_on`, sorted.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

/// The env's state and its lock: the contract's type, which the engine writes and the
/// `state-lock` plugin reads too (the key has `{env}` replaced; an endpoint is a local
/// test server).
pub use forge_plugin_sdk::lock::Backend as State;

/// The step's manifest.
#[derive(Debug, Serialize)]
pub struct Output {
    pub env: String,
    /// Where the files belong, relative to the project root (`.forge/terraform/<env>`):
    /// their module `source`s are relative to it, so `terraform-apply` lays them out there.
    pub dir: String,
    /// Output file name → blake3 hex of its contents.
    pub files: BTreeMap<String, String>,
    /// blake3 over `name\0hash\n` for each file in name order.
    pub root: String,
}

pub struct TerraformRender;

impl Plugin for TerraformRender {
    type Config = Config;
    type Output = Output;

    fn info() -> Info {
        Info::new(
            "terraform-render",
            "renders the env's Terraform root module (versions.tf, providers.tf, main.tf)",
        )
        .config_schema(
            r#"{"type":"object","required":["project","region"],"properties":{"project":{"type":"string"},"region":{"type":"string"},"modules":{"type":"object"},"vars":{"type":"object"},"state":{"type":["object","null"]},"outputs":{"type":"array","items":{"type":"string"}}}}"#,
        )
    }

    fn run(ctx: &mut Context, config: Config) -> Result<Output, Error> {
        let env = ctx.env().to_owned();
        let mut rendered = vec![
            ("main.tf", render::main_tf(ctx, &config, &env)?),
            ("providers.tf", render::providers_tf(&config, &env)?),
            ("versions.tf", render::versions_tf(&config, &env)),
        ];
        if let Some(outputs) = render::outputs_tf(&config, &env)? {
            rendered.push(("outputs.tf", outputs));
        }
        let mut files = BTreeMap::new();
        for (name, text) in rendered {
            let hash = ctx.write_output(name, text)?;
            files.insert(name.to_owned(), hash);
        }
        let root = root_hash(&files);
        ctx.info(format!(
            "rendered {} module(s) for env `{env}` into {}",
            config.modules.len(),
            render::ROOT_MODULE_DIR.replace("<env>", &env)
        ));
        let dir = render::ROOT_MODULE_DIR.replace("<env>", &env);
        Ok(Output {
            env,
            dir,
            files,
            root,
        })
    }
}

/// The manifest's `root`: blake3 over `name\0hash\n` for each (name, hash) in name order.
pub fn root_hash(files: &BTreeMap<String, String>) -> String {
    let mut hasher = blake3::Hasher::new();
    for (name, hash) in files {
        hasher.update(name.as_bytes());
        hasher.update(b"\0");
        hasher.update(hash.as_bytes());
        hasher.update(b"\n");
    }
    hasher.finalize().to_hex().to_string()
}

export_plugin!(TerraformRender);
