//! The step graph: services and `step` blocks expanded into steps with dependencies.
//! (Skeleton: expansion, cycle detection and rendering are filled in by the graph work.)

use std::collections::BTreeMap;

use miette::SourceSpan;
use serde::Serialize;

use crate::model::{ConfigValue, Phase, PluginSource};

/// Which files a step reads, relative to the project root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputSelection {
    /// Directory (relative to the project root, `/`-separated, `""` = root) the globs are
    /// relative to.
    pub base: String,
    /// Globs relative to `base`; empty means every file under `base`.
    pub globs: Vec<String>,
    /// An ignore file in `base` whose patterns exclude files (`.dockerignore`).
    pub ignore_file: Option<String>,
}

/// Where a step came from in `project.kdl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum Origin {
    Service(String),
    Step(String),
    Project,
}

/// One node of the graph.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// `docker-build:backend`, `terraform-render`, or a user step's name.
    pub id: String,
    /// Plugin name (a built-in or a `plugin` node).
    pub plugin: String,
    #[serde(skip)]
    pub plugin_source: PluginSource,
    pub phase: Phase,
    /// Normalized config handed to the plugin.
    pub config: ConfigValue,
    pub inputs: Vec<InputSelection>,
    /// Ids of the steps this one needs.
    pub needs: Vec<String>,
    /// Process environment variables that feed the fingerprint.
    pub env_vars: Vec<String>,
    /// Whether the commit SHA feeds the fingerprint.
    pub commit_sha: bool,
    /// Whether the forge env name feeds the fingerprint (deploy steps).
    pub env_scoped: bool,
    /// Capabilities granted to the plugin for this step.
    pub grants: Vec<String>,
    pub origin: Origin,
    #[serde(skip)]
    pub span: SourceSpan,
}

/// Steps in a topological order with their dependency edges.
#[derive(Debug, Clone, Default)]
pub struct StepGraph {
    /// Topologically sorted: every step comes after the steps it needs.
    pub steps: Vec<Step>,
    pub index: BTreeMap<String, usize>,
}

/// Problems found while expanding the graph. (Skeleton.)
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum GraphError {
    #[error("dependency cycle: {cycle}")]
    #[diagnostic(code(forge::graph::cycle))]
    Cycle { cycle: String },
}
