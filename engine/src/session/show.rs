//! `forge show STEP`: the step's last result in an env, read from the store: the run that
//! produced it, its fingerprint, its manifest and its output files (with their contents on
//! request). Nothing runs and nothing is written.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Error;
use crate::events::StepStatus;
use crate::executor::OutputFile;
use crate::fingerprint::cache::Cache;
use crate::model::Phase;

use super::Session;

/// The last result of one step in one env.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub step: String,
    pub env: String,
    /// The plugin that produced it.
    pub plugin: String,
    /// What the step did in that run: `ran` or `cached`.
    pub status: StepStatus,
    /// The recorded run it comes from.
    pub run: String,
    /// That run's command line.
    pub command: String,
    /// When that run finished, milliseconds since the Unix epoch.
    pub finished_ms: u64,
    /// When the result was stored (the run that first produced it), likewise.
    pub stored_ms: u64,
    /// `remote hit from WRITER at TIME`, when the remote cache served it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The fingerprint hash: the result's key in the store.
    pub fingerprint: String,
    /// The output hash downstream steps' fingerprints record.
    pub output: String,
    pub manifest: serde_json::Value,
    /// By output file name.
    pub files: BTreeMap<String, ShownFile>,
}

/// One output file of a [`StepResult`].
#[derive(Debug, Clone, Serialize)]
pub struct ShownFile {
    #[serde(flatten)]
    pub file: OutputFile,
    /// Whether its blob is in this store. A remote cache hit leaves it in the remote
    /// cache until a step that runs reads it.
    pub local: bool,
}

impl Session {
    /// The last result of `step` in this env: the newest recorded run in which it ran or
    /// was cached, and that result as the store holds it.
    pub fn show(&self, step: &str) -> Result<StepResult, Error> {
        let index = self.check_step(step)?;
        let graph_step = &self.graph.steps[index];
        let cache = Cache::open_read_only(&self.store_dir)?;
        let store = cache.store();
        let Some((run, record)) = store.last_result(&self.project_key(), &self.env, step)? else {
            return Err(Error::NoResult {
                step: step.to_owned(),
                env: self.env.clone(),
                help: format!(
                    "run it first: `{}`; `forge history --env {}` lists this env's deploys",
                    match graph_step.phase {
                        Phase::Build => format!("forge build --env {}", self.env),
                        Phase::Deploy => format!("forge deploy --env {}", self.env),
                    },
                    self.env
                ),
            });
        };
        let fingerprint = record.fingerprint.clone().ok_or_else(|| {
            Error::Internal(format!(
                "run {} recorded `{step}` without a fingerprint",
                run.id
            ))
        })?;
        let gone = |why: String| Error::ResultGone {
            step: step.to_owned(),
            run: run.id.clone(),
            why,
        };
        let entry = store
            .entry_refs(&fingerprint)
            .map_err(|e| gone(e.to_string()))?
            .ok_or_else(|| gone("its entry is no longer in the store".into()))?;
        let manifest = store
            .manifest(&entry.manifest)
            .map_err(|e| gone(e.to_string()))?
            .ok_or_else(|| gone(format!("its manifest blob {} is missing", entry.manifest)))?;
        let files = entry
            .files
            .iter()
            .map(|(name, file)| {
                let local = store.check_blob_size(name, file).is_ok();
                (
                    name.clone(),
                    ShownFile {
                        file: file.clone(),
                        local,
                    },
                )
            })
            .collect();
        Ok(StepResult {
            step: step.to_owned(),
            env: self.env.clone(),
            plugin: graph_step.plugin.clone(),
            status: record.status,
            command: run.command.clone(),
            finished_ms: run.finished,
            stored_ms: entry.created_ms,
            origin: record.origin.clone(),
            output: crate::executor::output_hash(&entry.manifest, &entry.files),
            fingerprint,
            manifest,
            files,
            run: run.id,
        })
    }

    /// The contents of output file `name` of `result`, verified against its hash.
    pub fn output_contents(&self, result: &StepResult, name: &str) -> Result<Vec<u8>, Error> {
        let Some(file) = result.files.get(name) else {
            return Err(Error::UnknownOutput {
                step: result.step.clone(),
                name: name.to_owned(),
                help: if result.files.is_empty() {
                    "this result has no output files; its manifest is all there is".to_owned()
                } else {
                    format!(
                        "its output files are: {}",
                        result
                            .files
                            .keys()
                            .map(String::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            });
        };
        let not_local = || Error::OutputNotLocal {
            step: result.step.clone(),
            name: name.to_owned(),
            help: format!(
                "it came from the remote cache, whose files are downloaded only when a step reads them: `forge cache pull --env {} {}` downloads it",
                result.env, result.step
            ),
        };
        let store = Cache::open_read_only(&self.store_dir)?;
        store
            .store()
            .get_blob(&file.file.hash)?
            .ok_or_else(not_local)
    }
}
