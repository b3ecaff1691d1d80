//! `forge graph`: the graph as readable text, Graphviz DOT, or JSON. All three follow the
//! graph's stable topological order, so their output is byte-stable for a given file.

use std::fmt::Write as _;

use serde::Serialize;

use crate::model::Phase;

use super::{Step, StepGraph};

#[derive(Serialize)]
struct JsonGraph<'a> {
    env: &'a str,
    steps: &'a [Step],
    /// The env's state lock, held around the steps marked `locked`.
    #[serde(skip_serializing_if = "Option::is_none")]
    lock: Option<&'a forge_contract::lock::Backend>,
}

/// What marks a step inside the env's state lock in text output.
pub const LOCKED_MARK: &str = "[state lock]";

impl StepGraph {
    /// One line per step, grouped by phase, with what it needs:
    ///
    /// ```text
    /// build:
    ///   docker-build:backend        (docker-build)
    ///   ecr-push:backend            (ecr-push)  ← docker-build:backend
    /// deploy (env dev):
    ///   terraform-render            (terraform-render)  ← ecr-push:backend
    ///   terraform-apply             (terraform-apply)  ← terraform-render  [state lock]
    /// state lock (env dev): S3 lockfile s3://tf-state/dev.tfstate.tflock
    ///   taken before the first [state lock] step that runs, released after the last
    /// ```
    pub fn to_text(&self) -> String {
        let width = self.steps.iter().map(|s| s.id.len()).max().unwrap_or(0);
        let mut out = String::new();
        for phase in [Phase::Build, Phase::Deploy] {
            let steps: Vec<&Step> = self.steps.iter().filter(|s| s.phase == phase).collect();
            if steps.is_empty() {
                continue;
            }
            match phase {
                Phase::Build => out.push_str("build:\n"),
                Phase::Deploy => {
                    let _ = writeln!(out, "deploy (env {}):", self.env);
                }
            }
            for step in steps {
                let mut line = format!("  {:width$}  ({})", step.id, step.plugin);
                if !step.needs.is_empty() {
                    let _ = write!(line, "  ← {}", step.needs.join(", "));
                }
                if step.locked {
                    let _ = write!(line, "  {LOCKED_MARK}");
                }
                out.push_str(line.trim_end());
                out.push('\n');
            }
        }
        if let Some(lock) = &self.lock {
            let _ = writeln!(
                out,
                "state lock (env {}): {}\n  taken before the first {LOCKED_MARK} step that runs, released after the last",
                self.env,
                lock.backend.describe()
            );
        }
        out
    }

    /// Graphviz DOT: one node per step (deploy steps boxed), edges from a step to the steps
    /// that need it, so the picture reads in the direction the run goes.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph forge {\n  rankdir=LR;\n  node [shape=ellipse];\n");
        for step in &self.steps {
            let shape = match step.phase {
                Phase::Build => "ellipse",
                Phase::Deploy => "box",
            };
            let _ = writeln!(
                out,
                "  {} [shape={shape}, label={}];",
                dot_quote(&step.id),
                dot_quote(&format!("{}\n{}", step.id, step.plugin))
            );
        }
        if let Some(lock) = &self.lock {
            let _ = writeln!(
                out,
                "  subgraph cluster_state_lock {{\n    label={};\n    style=dashed;",
                dot_quote(&format!("state lock: {}", lock.backend.describe()))
            );
            for step in self.steps.iter().filter(|s| s.locked) {
                let _ = writeln!(out, "    {};", dot_quote(&step.id));
            }
            out.push_str("  }\n");
        }
        for step in &self.steps {
            for need in &step.needs {
                let _ = writeln!(out, "  {} -> {};", dot_quote(need), dot_quote(&step.id));
            }
        }
        out.push_str("}\n");
        out
    }

    /// Pretty JSON: `{"env": ..., "steps": [{"id", "plugin", "phase", "config", "inputs",
    /// "needs", "env_vars", "commit_sha", "env_scoped", "locked", "grants", "origin"}, ...],
    /// "lock": {"bucket", "key", "region", "lockfile", "table"}}` (`lock` only when the env
    /// has one).
    pub fn to_json(&self) -> String {
        let graph = JsonGraph {
            env: &self.env,
            steps: &self.steps,
            lock: self.lock.as_ref().map(|l| &l.backend),
        };
        serde_json::to_string_pretty(&graph).unwrap_or_else(|_| String::from("{}"))
    }
}

fn dot_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
