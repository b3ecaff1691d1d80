//! The step graph: services and `step` blocks expanded into steps with dependencies.
//!
//! - [`expand`]: one resolved [`Config`] → the list of [`Step`]s (the service sugar
//!   `docker-build → ecr-push → terraform-render → terraform-apply → ecs-rollout`, plus
//!   every `step` block), and the env's state lock held around the steps that change
//!   infrastructure ([`StateLockScope`]).
//! - [`validate`](self::validate): unknown `needs`, phase order, cycles (with the cycle
//!   printed and every `needs` on it underlined), then a stable topological order.
//! - [`render`]: `forge graph` as text, DOT and JSON.
//!
//! [`StepGraph`] keeps its steps topologically sorted: every step comes after the steps it
//! needs, and among steps that are ready at the same time the order is by id, so the order
//! (and everything printed from it) does not depend on how the file was written.

// A `GraphError` carries its source text and labels; it is built at most once per invalid
// file, so its size on the cold path is not worth boxing every variant for.
#![allow(clippy::result_large_err)]

mod error;
mod expand;
pub mod ids;
mod render;
mod validate;

pub use error::GraphError;
pub use render::LOCKED_MARK;

use std::collections::{BTreeMap, BTreeSet};

use miette::SourceSpan;
use serde::Serialize;

use crate::model::{Config, ConfigValue, Phase, PluginSource, SourceFile};

/// Which files a step reads, relative to the project root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
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
    /// Where each entry of `needs` was written (same length and order as `needs`); for
    /// generated edges, the node that caused them (the service, its `depends-on`).
    #[serde(skip)]
    pub need_spans: Vec<SourceSpan>,
    /// Process environment variables that feed the fingerprint.
    pub env_vars: Vec<String>,
    /// Secrets the step is given, by name, by reference ([`crate::model::SecretRef`]): the
    /// references feed the fingerprint; a value is read only where it is used.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, crate::model::SecretRef>,
    /// Whether the commit SHA feeds the fingerprint.
    pub commit_sha: bool,
    /// Whether the plugin is told the commit SHA and its time *without* them feeding the
    /// fingerprint (stamping, like Bazel's volatile status): `docker-build` writes them into
    /// image labels and timestamps, and a cached image keeps the stamp of the commit that
    /// first built it. A new commit that changes none of its inputs reuses the image.
    pub stamp_commit: bool,
    /// Whether the forge env name feeds the fingerprint (deploy steps).
    pub env_scoped: bool,
    /// Whether the step runs inside the env's state lock ([`StepGraph::lock`]): the
    /// scheduler takes the lock before the first such step that must run and releases it
    /// after the last. A cached one needs no lock.
    pub locked: bool,
    /// What a cached result must still match to be served ([`crate::recheck`]):
    /// `terraform-apply` of an env with a state backend rechecks the state object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recheck: Option<crate::recheck::Recheck>,
    /// How long the step's plugin may run, when its job says so: a rollout's own timeout
    /// plus a margin for telling the story, so the plugin, not the host's default limit,
    /// ends a stalled rollout. `None`: the host's limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_limit: Option<std::time::Duration>,
    /// Capabilities granted to the plugin for this step.
    pub grants: Vec<String>,
    pub origin: Origin,
    #[serde(skip)]
    pub span: SourceSpan,
}

/// Steps in a topological order with their dependency edges.
#[derive(Debug, Clone, Default)]
pub struct StepGraph {
    /// The env this graph was expanded for.
    pub env: String,
    /// Topologically sorted: every step comes after the steps it needs.
    pub steps: Vec<Step>,
    /// Step id → position in `steps`.
    pub index: BTreeMap<String, usize>,
    /// For each step, the positions of the steps it needs (same order as `Step::needs`).
    pub deps: Vec<Vec<usize>>,
    /// The env's state lock, when the project has a `state` backend and modules: held
    /// around the [`Step::locked`] steps.
    pub lock: Option<StateLockScope>,
}

/// The env's Terraform state lock, as a scope the scheduler holds rather than a step.
///
/// As steps, "lock" would have to run before forge knows whether anything inside needs
/// it (so a fully cached deploy would still take the lock), it could not be cached while
/// everything around it is, and "unlock" could not run after a failure (a failed step's
/// dependents are skipped). As a scope: the lock is taken only when a locked step misses
/// the cache, right before it runs, and released after the last locked step finishes,
/// whatever happened to it, on Ctrl-C and on `--timeout` too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateLockScope {
    pub backend: forge_contract::lock::Backend,
    /// The `state` node.
    pub span: SourceSpan,
}

impl Step {
    /// Whether this is a `command` step (the built-in, run as a process), not a plugin a
    /// project named so.
    pub fn is_command(&self) -> bool {
        self.plugin == ids::COMMAND && self.plugin_source == crate::model::PluginSource::Builtin
    }

    /// Whether running the step changes nothing outside the store: a wasm plugin granted
    /// at most `files.read`, outside the state lock (`terraform-render`). `forge plan
    /// --terraform` may run such a step to know what a deploy would apply; a step with
    /// any effect (a push, a process) it never runs.
    pub fn is_pure(&self) -> bool {
        !self.is_command()
            && !self.locked
            && self
                .grants
                .iter()
                .all(|g| g == forge_contract::capability::FILES_READ)
    }

    /// Whether `forge build --check` may run the step again to compare its outputs: a
    /// build-phase step outside the state lock whose grants change nothing outside this
    /// machine ([`forge_contract::Capability::acts_outside`]). A push is not rerun.
    pub fn is_rebuildable(&self) -> bool {
        self.phase == crate::model::Phase::Build
            && !self.locked
            && !self
                .grants
                .iter()
                .any(|g| forge_contract::Capability::from_name(g).is_some_and(|c| c.acts_outside()))
    }
}

impl StepGraph {
    /// Expands one env's config into a validated, topologically sorted graph.
    pub fn from_config(config: &Config, source: &SourceFile) -> Result<StepGraph, GraphError> {
        let steps = expand::expand(config);
        let mut graph = validate::build(config.env.clone(), steps, source)?;
        graph.lock = config
            .state
            .as_ref()
            .filter(|_| graph.steps.iter().any(|s| s.locked))
            .map(|state| StateLockScope {
                backend: state.lock_backend(&config.env),
                span: state.span,
            });
        Ok(graph)
    }

    pub fn get(&self, id: &str) -> Option<&Step> {
        self.index.get(id).map(|&i| &self.steps[i])
    }

    /// Steps to run, in topological order: every step of `phase` (`Build`: the build
    /// steps; `Deploy`: everything) when `targets` is empty, otherwise the targets and
    /// everything they need, whatever its phase. Unknown targets are ignored: callers check
    /// them first with [`StepGraph::get`] to report them.
    pub fn closure(&self, phase: Phase, targets: &[String]) -> Vec<usize> {
        let mut selected = vec![false; self.steps.len()];
        if targets.is_empty() {
            for (i, step) in self.steps.iter().enumerate() {
                selected[i] = step.phase <= phase;
            }
        } else {
            let mut stack: Vec<usize> = targets
                .iter()
                .filter_map(|t| self.index.get(t).copied())
                .collect();
            while let Some(i) = stack.pop() {
                if !std::mem::replace(&mut selected[i], true) {
                    stack.extend(self.deps[i].iter().copied());
                }
            }
        }
        (0..self.steps.len()).filter(|&i| selected[i]).collect()
    }

    /// `selected` without what only `pinned` steps need: walking up from the selected
    /// steps nothing selected depends on, a pinned step is kept but not what is above it.
    /// `forge rollback` pins the pushes of an earlier deploy, so no image is built.
    pub fn up_to_pinned(&self, selected: &[usize], pinned: &BTreeSet<&str>) -> Vec<usize> {
        let in_run: BTreeSet<usize> = selected.iter().copied().collect();
        let needed: BTreeSet<usize> = selected
            .iter()
            .flat_map(|&i| self.deps[i].iter().copied())
            .filter(|d| in_run.contains(d))
            .collect();
        let mut stack: Vec<usize> = selected
            .iter()
            .copied()
            .filter(|i| !needed.contains(i))
            .collect();
        let mut keep = BTreeSet::new();
        while let Some(i) = stack.pop() {
            if !keep.insert(i) || pinned.contains(self.steps[i].id.as_str()) {
                continue;
            }
            stack.extend(self.deps[i].iter().copied().filter(|d| in_run.contains(d)));
        }
        selected
            .iter()
            .copied()
            .filter(|i| keep.contains(i))
            .collect()
    }

    /// The step id closest to `name`, for "did you mean" help.
    pub fn suggest(&self, name: &str) -> Option<&str> {
        error::closest(name, self.index.keys().map(String::as_str))
    }
}

#[cfg(test)]
mod tests;
