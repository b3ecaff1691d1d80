//! # forge-plugin-sdk: write a forge step in Rust
//!
//! A forge step plugin is a WebAssembly component. This crate hides the component
//! plumbing: you implement one trait, export it with one macro, and test it natively with
//! [`MockHost`]. The contract underneath is `wit/plugin.wit` (`forge:plugin@0.1.0`).
//!
//! ## A complete plugin
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "line-count"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib", "rlib"]   # cdylib: the component; rlib: `cargo test`
//!
//! [dependencies]
//! forge-plugin-sdk = { path = "../forge/plugin-sdk" }
//! serde = { version = "1", features = ["derive"] }
//!
//! [profile.release]
//! panic = "abort"
//! ```
//!
//! `src/lib.rs`:
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! use forge_plugin_sdk::{Context, Error, Info, Plugin, capability, ensure, export_plugin};
//! use serde::{Deserialize, Serialize};
//!
//! /// The step's `config { ... }` block in project.kdl.
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! pub struct Config {
//!     /// Name of the summary file written to the store.
//!     #[serde(default = "default_report")]
//!     report: String,
//! }
//!
//! fn default_report() -> String {
//!     "lines.txt".to_owned()
//! }
//!
//! /// The manifest downstream steps see. `BTreeMap`, not `HashMap`: stable order, stable hash.
//! #[derive(Debug, Serialize)]
//! pub struct Output {
//!     lines: BTreeMap<String, usize>,
//!     report_hash: String,
//! }
//!
//! pub struct LineCount;
//!
//! impl Plugin for LineCount {
//!     type Config = Config;
//!     type Output = Output;
//!
//!     fn info() -> Info {
//!         Info::new("line-count", "counts the lines of each declared input")
//!             .config_schema(r#"{"type":"object","properties":{"report":{"type":"string"}}}"#)
//!             .capability(capability::FILES_READ)
//!     }
//!
//!     fn run(ctx: &mut Context, config: Config) -> Result<Output, Error> {
//!         ensure!(!config.report.is_empty(), "`report` must not be empty");
//!         let mut lines = BTreeMap::new();
//!         let inputs = ctx.inputs().to_vec();
//!         for (i, path) in inputs.iter().enumerate() {
//!             let text = ctx.read_to_string(path)?;
//!             lines.insert(path.clone(), text.lines().count());
//!             ctx.progress(i as u64 + 1, inputs.len() as u64);
//!         }
//!         let report: String = lines.iter().map(|(p, n)| format!("{p} {n}\n")).collect();
//!         let report_hash = ctx.write_output(&config.report, report)?;
//!         ctx.info(format!("counted {} files", lines.len()));
//!         Ok(Output { lines, report_hash })
//!     }
//! }
//!
//! export_plugin!(LineCount);
//!
//! // And its test, run natively by `cargo test`:
//! # fn main() -> Result<(), Error> {
//! use forge_plugin_sdk::MockHost;
//! use serde_json::json;
//!
//! let mut host = MockHost::new()
//!     .file("src/a.rs", "fn a() {}\n")
//!     .file("src/b.rs", "fn b() {}\nfn c() {}\n")
//!     .config(json!({ "report": "count.txt" }));
//! let out = host.run::<LineCount>()?;
//! assert_eq!(out.lines["src/b.rs"], 2);
//! assert_eq!(host.outputs()["count.txt"], b"src/a.rs 1\nsrc/b.rs 2\n");
//! assert_eq!(host.progress(), [(1, 2), (2, 2)]);
//!
//! // A config typo fails the step, naming the field:
//! let err = MockHost::new().config(json!({ "reprot": "x" })).run::<LineCount>().unwrap_err();
//! assert!(err.message().contains("unknown field `reprot`"));
//! # Ok(()) }
//! ```
//!
//! Build it into a component with `forge plugin build` (forge's own plugins are built the
//! same way), pin it by hash in `project.kdl`, and grant what [`Info`] declares:
//! `grant "files.read"`.
//!
//! ## The API in one screen
//!
//! - [`Plugin`]: `type Config` (serde-decoded from the step's `config`), `type Output`
//!   (serde-encoded as the step's JSON manifest), [`Plugin::info`] and [`Plugin::run`].
//! - [`export_plugin!`]`(MyPlugin)`: exports it as the component's `describe` and `run`,
//!   fills [`Info::version`] from your crate's version, and installs a panic hook that
//!   sends the panic message to forge before the plugin traps. Natively it only checks
//!   that `MyPlugin` implements [`Plugin`].
//! - [`Context`]: the step's identity ([`step`](Context::step), [`env`](Context::env),
//!   [`commit`](Context::commit)), its declared [`inputs`](Context::inputs) and
//!   [`read`](Context::read)/[`read_to_string`](Context::read_to_string), typed
//!   [`upstream`](Context::upstream) manifests, [`write_output`](Context::write_output),
//!   opaque [`secret`](Context::secret)s, and logging ([`info`](Context::info),
//!   [`warn`](Context::warn), ..., [`progress`](Context::progress)).
//! - [`Error`]: a message and an optional help line; `?` converts [`FileError`], serde and
//!   string errors; [`bail!`], [`ensure!`] and [`ResultExt`] add context and help.
//! - [`MockHost`] (native only): fake files, config, upstream manifests, secrets, env and
//!   commit; captured logs, progress, outputs and manifest.
//!
//! ## Capabilities are imports
//!
//! There is no filesystem, network, clock, randomness or environment in a plugin. Each
//! capability is a WIT interface, and a component imports only the interfaces its code
//! actually calls: calling [`Context::read`] makes it import `forge:plugin/files`
//! (capability `files.read`), calling [`Context::secret`] makes it import
//! `forge:plugin/secrets` (capability `secrets`). forge refuses, before starting it, a
//! plugin that imports a capability its step is not granted; declare the same names in
//! [`Info`] so `forge plugin inspect` and [`MockHost`] can check them too. Logging,
//! progress and outputs are always granted.
//!
//! ## Determinism
//!
//! forge caches a step's output under a hash of its inputs, so `run` must be a function of
//! its [`Context`] and config: iterate `BTreeMap`s, not `HashMap`s; don't embed timestamps.

mod caps;
mod context;
mod error;
mod plugin;
mod runtime;

#[cfg(target_arch = "wasm32")]
mod guest;
#[cfg(not(target_arch = "wasm32"))]
mod mock;
#[cfg(not(target_arch = "wasm32"))]
mod mock_ecs;

pub use caps::{
    AwsError, AwsTarget, Blob, BuildRequest, Credentials, DockerError, Image, Item, ObjectMeta,
    PlanSummary, RegistryError, Repository, RootFile, S3Object, TerraformError, UpstreamBlob,
    Workspace,
};
pub use context::{Context, Host, Level, OutputFile, Secret};
pub use error::{Error, FileError, ResultExt};
#[cfg(not(target_arch = "wasm32"))]
pub use mock::{LogRecord, MockHost, MockRegistry, MockTerraform, sha256};
#[cfg(not(target_arch = "wasm32"))]
pub use mock_ecs::MockEcs;
pub use plugin::{Info, NoConfig, Plugin, capability};

/// The version of the plugin contract (`wit/plugin.wit`) this SDK builds plugins for.
pub const CONTRACT_VERSION: &str = forge_contract::VERSION;

/// Terraform's state lock as forge and its `state-lock` plugin speak about it: the lock
/// info, the backend, the call and the reply (the contract's own types).
pub use forge_contract::lock;

/// ECS services, deployments and tasks as the `ecs` interface gives them, and when a
/// service is settled (the contract's own types).
pub use forge_contract::ecs;

/// What forge says about Terraform runs: the plan summary, and [`terraform::root_output`],
/// the root output that carries a `module.NAME.OUTPUT` reference to later steps.
pub use forge_contract::terraform;

/// Used by [`export_plugin!`]'s expansion; not part of the API.
#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::guest::{bindings, describe, run};

    /// Natively, `export_plugin!` only proves the type is a plugin.
    pub const fn assert_plugin<P: crate::Plugin>() {}
}

/// Exports a [`Plugin`] as the component's `describe` and `run` (on wasm); natively it
/// only checks that the type implements [`Plugin`], so the same crate runs under
/// `cargo test` with [`MockHost`].
#[cfg(not(target_arch = "wasm32"))]
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        const _: () = $crate::__private::assert_plugin::<$plugin>();
    };
}
