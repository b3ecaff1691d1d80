//! The facade the CLI uses. (Skeleton: signatures are the contract; bodies are filled in by
//! the scheduler work.)

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::events::{EventSink, Summary};
use crate::executor::Executor;
use crate::fingerprint::Change;
use crate::graph::StepGraph;
use crate::model::{Phase, Project};

/// Options of one `forge build` / `forge deploy`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `Build` runs only build-phase steps; `Deploy` runs everything.
    pub phase: Phase,
    /// Steps run at once (`-j N`).
    pub jobs: usize,
    /// Only these steps and what they need (empty: all of the phase).
    pub targets: Vec<String>,
    /// The command line, recorded in run history.
    pub command: String,
    pub cancel: CancellationToken,
    /// Per-step deadline (`--timeout`); cancels the step through the same path as Ctrl-C.
    pub step_timeout: Option<Duration>,
}

/// A project opened for one env against one store.
pub struct Session {
    pub project: Project,
    pub env: String,
    pub graph: StepGraph,
    pub store_dir: PathBuf,
}

/// What `forge plan` reports for one step.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum PlanStatus {
    /// Fingerprint found in the store: nothing to do.
    Cached,
    /// Never run with any recorded fingerprint in this env.
    NeverRun,
    /// Inputs differ from the last recorded run.
    Changed { changes: Vec<Change> },
    /// Its fingerprint cannot be known until an upstream step runs.
    AfterUpstream { upstream: Vec<String> },
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    pub step: String,
    #[serde(flatten)]
    pub status: PlanStatus,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub env: String,
    pub steps: Vec<PlannedStep>,
}

impl Plan {
    /// Whether any step would run (`--detailed-exitcode` 2).
    pub fn has_work(&self) -> bool {
        self.steps
            .iter()
            .any(|s| !matches!(s.status, PlanStatus::Cached))
    }
}

#[allow(unused_variables)]
impl Session {
    /// Loads `project_file`, resolves `env` (default env when `None`), expands the graph.
    pub fn open(
        project_file: &Path,
        store_dir: &Path,
        env: Option<&str>,
    ) -> Result<Session, crate::Error> {
        unimplemented!()
    }

    pub async fn run<E: Executor>(
        &self,
        executor: Arc<E>,
        options: RunOptions,
        events: EventSink,
    ) -> Result<Summary, crate::Error> {
        unimplemented!()
    }

    pub fn plan(&self, phase: Phase) -> Result<Plan, crate::Error> {
        unimplemented!()
    }
}
