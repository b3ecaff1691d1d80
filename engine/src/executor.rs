//! The executor seam: how the engine has a step run, without knowing what runs it.
//!
//! The CLI passes the wasm plugin host; engine tests pass [`crate::testing::TestExecutor`].

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use miette::Diagnostic;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use crate::events::EventSink;
use crate::fingerprint::Fingerprint;
use crate::graph::Step;

/// What an executor gets to run one step.
#[derive(Debug, Clone)]
pub struct StepRequest {
    pub step: Arc<Step>,
    /// The fingerprint the result will be stored under.
    pub fingerprint: Arc<Fingerprint>,
    /// Project root; input paths in the fingerprint are relative to it.
    pub root: PathBuf,
    /// The forge env being run, for env-scoped (deploy) steps; empty for build-phase
    /// steps, whose results every env shares.
    pub env: String,
    /// Outputs (manifest and files) of the steps this one needs, by step id.
    pub upstream: BTreeMap<String, Arc<StepOutput>>,
    /// The commit being built and its time, for steps that declare the commit SHA or
    /// stamp it ([`Step::stamp_commit`]); read only when such a step runs.
    pub stamp: Option<Stamp>,
    /// Cancelled on Ctrl-C, `--timeout`, or when the run is aborted.
    pub cancel: CancellationToken,
    pub events: EventSink,
    /// The env's state lock, held by this run while the step runs ([`Step::locked`]
    /// steps of an env with a `state` backend): a step that runs Terraform runs it with
    /// `-lock=false`, since forge holds Terraform's own lock for it.
    pub lock: Option<crate::lock::LockInfo>,
    /// A `forge build --check` rerun: tools must not serve the result from caches of
    /// their own (the Docker Engine builds without its layer cache).
    pub rebuild: bool,
}

/// The commit a run builds: what images are labelled and timestamped with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub commit: String,
    /// Committer time, seconds since the Unix epoch (`SOURCE_DATE_EPOCH` when set).
    pub time: u64,
}

/// What a step produced: a JSON manifest (image digest, rendered directory hash, ...) and
/// the output files it wrote. Downstream steps see both, and [`StepOutput::hash`] feeds
/// their fingerprints.
///
/// The files are the engine's to know, not a convention inside the manifest: the store
/// records them in the step's action entry, `gc` keeps their blobs for as long as it keeps
/// the entry, `verify` checks them, and a cache hit whose blobs are gone is a miss. An
/// executor fills `files` only with what the step wrote in this run, after putting each
/// blob in the store ([`crate::store::Store::put_blob`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepOutput {
    pub manifest: serde_json::Value,
    /// Output file name (a relative `/`-separated path) → its blob.
    pub files: BTreeMap<String, OutputFile>,
}

/// One output file: the blob holding it in the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutputFile {
    /// blake3 of the contents (64 lowercase hex digits): the blob's name.
    pub hash: String,
    /// Size in bytes.
    pub size: u64,
}

impl OutputFile {
    /// The entry for `contents`.
    pub fn of(contents: &[u8]) -> OutputFile {
        OutputFile {
            hash: blake3::hash(contents).to_hex().to_string(),
            size: contents.len() as u64,
        }
    }
}

/// The rule for declared inputs, output file names and `command` paths, which the plugin
/// contract owns (the SDK's `MockHost` applies the same one).
pub use forge_contract::check_relative_path;

/// The key [`StepOutput::hash`] is derived under.
const OUTPUT_CONTEXT: &str = "forge 2026-12 step output";

impl StepOutput {
    /// An output with a manifest and no files.
    pub fn new(manifest: serde_json::Value) -> StepOutput {
        StepOutput {
            manifest,
            files: BTreeMap::new(),
        }
    }

    /// The output's identity for downstream fingerprints and run history: the hash of
    /// the manifest's canonical JSON and of every file's name, hash and size. Equal
    /// outputs hash equal however the plugin built its JSON, which is what gives early
    /// cutoff.
    pub fn hash(&self) -> String {
        output_hash(
            blake3::hash(crate::store::canonical_json(&self.manifest).as_bytes())
                .to_hex()
                .as_str(),
            &self.files,
        )
    }
}

/// How `rebuilt` differs from `stored`, one line per difference, for people: each output
/// file whose bytes differ, and each manifest value, by its JSON path (an image's
/// `layers[1].digest` or `config.digest` says which layer changed). Empty when they are
/// the same. At most [`MAX_DIFFERENCES`] lines, the last saying how many more there are.
pub fn differences(stored: &StepOutput, rebuilt: &StepOutput) -> Vec<String> {
    let mut out = Vec::new();
    let names: std::collections::BTreeSet<&String> =
        stored.files.keys().chain(rebuilt.files.keys()).collect();
    for name in names {
        let file = |f: Option<&OutputFile>| {
            f.map_or("absent".to_owned(), |f| {
                format!(
                    "{} bytes, blake3 {}",
                    f.size,
                    crate::text::short_hash(&f.hash)
                )
            })
        };
        let (a, b) = (stored.files.get(name), rebuilt.files.get(name));
        if a != b {
            out.push(format!("output file `{name}`: {} → {}", file(a), file(b)));
        }
    }
    json_differences("", &stored.manifest, &rebuilt.manifest, &mut out);
    if out.len() > MAX_DIFFERENCES {
        let more = out.len() - MAX_DIFFERENCES + 1;
        out.truncate(MAX_DIFFERENCES - 1);
        out.push(format!("… and {more} more"));
    }
    out
}

/// How many lines [`differences`] gives at most.
pub const MAX_DIFFERENCES: usize = 20;

fn json_differences(
    path: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    let at = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let missing = Value::Null;
                json_differences(
                    &at(key),
                    x.get(key).unwrap_or(&missing),
                    y.get(key).unwrap_or(&missing),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                json_differences(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (x, y) if x != y => {
            let show = |v: &Value| {
                let text = v.to_string();
                if text.chars().count() > 80 {
                    format!(
                        "{}… ({} bytes)",
                        text.chars().take(40).collect::<String>(),
                        text.len()
                    )
                } else {
                    text
                }
            };
            let name = if path.is_empty() { "manifest" } else { path };
            out.push(format!("`{name}`: {} → {}", show(x), show(y)));
        }
        _ => {}
    }
}

/// [`StepOutput::hash`] from the manifest blob's hash (what the store keeps).
pub(crate) fn output_hash(manifest_hash: &str, files: &BTreeMap<String, OutputFile>) -> String {
    let mut h = blake3::Hasher::new_derive_key(OUTPUT_CONTEXT);
    let mut field = |s: &str| {
        h.update(&(s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    field(manifest_hash);
    for (name, file) in files {
        field(name);
        field(&file.hash);
        field(&file.size.to_string());
    }
    h.finalize().to_hex().to_string()
}

/// Why a step did not produce an output. Failures are never cached.
#[derive(Debug, Error, Diagnostic)]
pub enum StepError {
    #[error("{message}")]
    #[diagnostic(code(forge::step::failed))]
    Failed {
        message: String,
        #[help]
        help: Option<String>,
    },
    #[error("cancelled")]
    #[diagnostic(code(forge::step::cancelled))]
    Cancelled,
}

/// Runs steps. Implementations must be cancel-safe: when `cancel` fires they return
/// [`StepError::Cancelled`] promptly and leave nothing half-written.
pub trait Executor: Send + Sync + 'static {
    fn run(
        &self,
        request: StepRequest,
    ) -> impl Future<Output = Result<StepOutput, StepError>> + Send;

    /// Checks that a cached output of a step with a [`crate::recheck::Recheck`] still
    /// describes the world: one cheap read, made before the output is served. An
    /// executor that cannot check says so, and the step runs again (an unchecked result
    /// is not trusted).
    fn recheck(
        &self,
        request: crate::recheck::RecheckRequest,
    ) -> impl Future<Output = Result<crate::recheck::Verdict, StepError>> + Send {
        let _ = request;
        async {
            Err(StepError::Failed {
                message: "this executor cannot recheck a cached result".to_owned(),
                help: None,
            })
        }
    }

    /// Runs `terraform plan` for a step granted the `terraform` capability, read-only:
    /// the plugin runs as for a deploy, but its `terraform.apply` is refused, Terraform
    /// takes its own state lock (waiting at most `lock_timeout`), and nothing is stored.
    /// The answer is the plan the step's plugin made. An executor without Terraform
    /// refuses.
    fn terraform_plan(
        &self,
        request: StepRequest,
        lock_timeout: std::time::Duration,
    ) -> impl Future<Output = Result<forge_contract::terraform::PlanSummary, StepError>> + Send
    {
        let _ = (request, lock_timeout);
        async {
            Err(StepError::Failed {
                message: "this executor cannot run terraform plan".to_owned(),
                help: None,
            })
        }
    }

    /// Takes, releases or reads the env's state lock (the `state-lock` plugin, for the
    /// wasm host). An executor without one refuses, and a deploy that needs the lock
    /// fails before its first locked step.
    fn state_lock(
        &self,
        request: crate::lock::LockRequest,
    ) -> impl Future<Output = Result<crate::lock::LockReply, StepError>> + Send {
        let _ = request;
        async {
            Err(StepError::Failed {
                message: "this executor cannot take the state lock".to_owned(),
                help: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_the_file_and_the_manifest_path() {
        let stored = StepOutput {
            manifest: serde_json::json!({
                "digest": "sha256:aa",
                "config": {"digest": "sha256:c1"},
                "layers": [{"digest": "sha256:l0"}, {"digest": "sha256:l1"}],
            }),
            files: BTreeMap::from([("bin".to_owned(), OutputFile::of(b"one"))]),
        };
        assert!(differences(&stored, &stored.clone()).is_empty());
        let mut rebuilt = stored.clone();
        rebuilt.manifest["layers"][1]["digest"] = "sha256:l9".into();
        rebuilt.files.insert("bin".into(), OutputFile::of(b"other"));
        assert_eq!(
            differences(&stored, &rebuilt),
            [
                format!(
                    "output file `bin`: 3 bytes, blake3 {} → 5 bytes, blake3 {}",
                    &OutputFile::of(b"one").hash[..12],
                    &OutputFile::of(b"other").hash[..12]
                ),
                "`layers[1].digest`: \"sha256:l1\" → \"sha256:l9\"".to_owned(),
            ]
        );
    }

    #[test]
    fn differences_are_capped() {
        let stored = StepOutput::new(serde_json::json!({}));
        let many: serde_json::Map<String, serde_json::Value> =
            (0..30).map(|i| (format!("k{i:02}"), i.into())).collect();
        let rebuilt = StepOutput::new(serde_json::Value::Object(many));
        let found = differences(&stored, &rebuilt);
        assert_eq!(found.len(), MAX_DIFFERENCES);
        assert_eq!(found.last().map(String::as_str), Some("… and 11 more"));
    }
}
