//! [`HostExecutor`]: the engine's [`Executor`] backed by the wasm plugin host.
//!
//! For each step: resolve the plugin (a built-in by name, or a file pinned by hash),
//! run it on a blocking thread via [`Host::run`], then commit its output files to the
//! store and return its manifest.
//!
//! # The manifest
//!
//! The plugin's `step-output.manifest` must be JSON. When the plugin wrote output files,
//! the host adds them to the manifest object under the reserved key `"$outputs"`:
//! `{"$outputs": {"summary.txt": "<blake3 hex>"}, ...}` (name → hash of the blob in the
//! store), so downstream steps and the fingerprint of every consumer see exactly which
//! files a step produced. A plugin that writes files must therefore return an object, and
//! may not use `"$outputs"` itself.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use forge_engine::executor::{Executor, StepError, StepOutput, StepRequest};
use forge_engine::model::PluginSource;
use forge_engine::store::{Store, canonical_json};

use crate::builtins::Builtins;
use crate::error::HostError;
use crate::grants::GrantSet;
use crate::host::{Host, PluginCode, RunError, RunResult, RunSpec, under_root};

/// The manifest key output files are listed under.
pub const OUTPUTS_KEY: &str = "$outputs";

/// Runs steps as wasm plugins.
#[derive(Debug, Clone)]
pub struct HostExecutor {
    host: Arc<Host>,
    store: Store,
    builtins: Builtins,
    timeout: Option<Duration>,
}

impl HostExecutor {
    pub fn new(host: Arc<Host>, store: Store, builtins: Builtins) -> HostExecutor {
        HostExecutor {
            host,
            store,
            builtins,
            timeout: None,
        }
    }

    /// Per-step CPU deadline (`--timeout`), instead of the host's default.
    pub fn with_timeout(mut self, timeout: Duration) -> HostExecutor {
        self.timeout = Some(timeout);
        self
    }

    pub fn host(&self) -> &Arc<Host> {
        &self.host
    }

    pub fn builtins(&self) -> &Builtins {
        &self.builtins
    }

    fn run_blocking(&self, request: StepRequest) -> Result<StepOutput, RunError> {
        let step = &request.step;
        let plugin = resolve(
            &self.builtins,
            &step.plugin,
            &step.plugin_source,
            &request.root,
        )?;
        let mut limits = self.host.limits();
        if let Some(timeout) = self.timeout {
            limits.timeout = timeout;
        }
        let spec = RunSpec {
            step: step.id.clone(),
            env: request.env.clone(),
            config: step.config.canonical_json(),
            upstream: request
                .upstream
                .iter()
                .map(|(id, m)| (id.clone(), canonical_json(m)))
                .collect(),
            files: request
                .fingerprint
                .files
                .keys()
                .map(|rel| (rel.clone(), under_root(&request.root, rel)))
                .collect(),
            commit: request.fingerprint.commit.clone(),
            secrets: BTreeSet::new(),
            grants: GrantSet::from_grants(&step.grants),
            limits: Some(limits),
            cancel: request.cancel.clone(),
            events: request.events.clone(),
        };
        let result = self.host.run(&plugin, spec)?;
        if request.cancel.is_cancelled() {
            return Err(HostError::Cancelled.into());
        }
        Ok(self.commit(&plugin.name, result)?)
    }

    /// Parses the manifest, lists the output files in it and stores them.
    fn commit(&self, plugin: &str, result: RunResult) -> Result<StepOutput, HostError> {
        let invalid = |message: String| HostError::InvalidManifest {
            plugin: plugin.to_owned(),
            message,
        };
        let mut manifest: serde_json::Value = serde_json::from_str(&result.manifest)
            .map_err(|e| invalid(format!("not JSON: {e}")))?;
        if !result.outputs.is_empty() {
            let object = manifest.as_object_mut().ok_or_else(|| {
                invalid("a step that writes output files must return a JSON object".into())
            })?;
            if object.contains_key(OUTPUTS_KEY) {
                return Err(invalid(format!("`{OUTPUTS_KEY}` is reserved for forge")));
            }
            let mut listed = serde_json::Map::new();
            for (name, (hash, bytes)) in &result.outputs {
                let stored = self
                    .store
                    .put_blob(bytes)
                    .map_err(|e| HostError::Internal {
                        message: e.to_string(),
                    })?;
                debug_assert_eq!(&stored, hash);
                listed.insert(name.clone(), serde_json::Value::String(stored));
            }
            object.insert(OUTPUTS_KEY.to_owned(), serde_json::Value::Object(listed));
        }
        Ok(StepOutput { manifest })
    }
}

/// The component a step runs: a built-in by name, or a pinned file.
fn resolve(
    builtins: &Builtins,
    name: &str,
    source: &PluginSource,
    root: &Path,
) -> Result<PluginCode, HostError> {
    match source {
        PluginSource::Builtin => builtins.get(name).ok_or_else(|| HostError::UnknownBuiltin {
            plugin: name.to_owned(),
        }),
        PluginSource::Path { path, hash } => {
            let full: PathBuf = root.join(path);
            let bytes = std::fs::read(&full).map_err(|source| HostError::PluginRead {
                plugin: name.to_owned(),
                path: path.clone(),
                source,
            })?;
            let code = PluginCode::new(name, bytes);
            verify_pin(&code, hash).map_err(|actual| HostError::PinMismatch {
                plugin: name.to_owned(),
                path: path.clone(),
                expected: hash.clone(),
                actual,
            })?;
            Ok(code)
        }
    }
}

/// Checks a `blake3:<hex>` pin against the bytes; `Err` carries the actual pin.
fn verify_pin(code: &PluginCode, pinned: &str) -> Result<(), String> {
    let actual = format!("blake3:{}", code.hash);
    let wanted = pinned.trim().to_ascii_lowercase();
    if wanted == actual {
        Ok(())
    } else {
        Err(actual)
    }
}

fn to_step_error(error: RunError) -> StepError {
    match error {
        RunError::Host(HostError::Cancelled) => StepError::Cancelled,
        RunError::Host(e) => StepError::Failed {
            help: e.help_text(),
            message: e.to_string(),
        },
        RunError::Plugin(failure) => StepError::Failed {
            message: failure.message,
            help: failure.help,
        },
    }
}

impl Executor for HostExecutor {
    fn run(
        &self,
        request: StepRequest,
    ) -> impl Future<Output = Result<StepOutput, StepError>> + Send {
        let this = self.clone();
        async move {
            // wasm runs synchronously; cancellation reaches it through the epoch callback,
            // which sees `request.cancel` within one tick.
            match tokio::task::spawn_blocking(move || this.run_blocking(request)).await {
                Ok(result) => result.map_err(to_step_error),
                Err(join) => Err(StepError::Failed {
                    message: format!("the plugin host crashed: {join}"),
                    help: Some("this is a bug in forge; please report it".into()),
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_compare_case_insensitively_and_report_the_actual_hash() {
        let code = PluginCode::new("p", b"wasm".to_vec());
        let good = format!("blake3:{}", code.hash);
        assert!(verify_pin(&code, &good).is_ok());
        assert!(
            verify_pin(
                &code,
                &good.to_ascii_uppercase().replace("BLAKE3", "blake3")
            )
            .is_ok()
        );
        assert_eq!(verify_pin(&code, "blake3:00"), Err(good));
    }
}
