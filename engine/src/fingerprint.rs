//! Fingerprints: everything that can change a step's result, hashed.
//!
//! (Skeleton: the module doc grows a table of every input and what feeds it.)

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bump when the meaning or encoding of any field changes. Log:
/// - 1: first version.
pub const FINGERPRINT_SCHEMA_VERSION: u32 = 1;

/// Every input of one step run. One field per input; `forge explain` diffs two of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// [`FINGERPRINT_SCHEMA_VERSION`] when this was computed.
    pub schema: u32,
    /// The plugin that runs the step and its identity: `builtin:docker-build@<hash>` or the
    /// `blake3:` hash of a third-party component.
    pub plugin: String,
    /// The step's config, flattened: dotted path → canonical JSON of the leaf value.
    pub config: BTreeMap<String, String>,
    /// Declared input files: path relative to the project root (`/`-separated) → blake3 hex.
    pub files: BTreeMap<String, String>,
    /// Upstream steps: step id → hash of its output manifest (not its fingerprint: an
    /// upstream that reruns and produces the same output does not rerun this step).
    pub upstream: BTreeMap<String, String>,
    /// Declared process environment variables: name → blake3 hex of the value (`None`: unset).
    /// Values are hashed because they may be secret.
    pub env_vars: BTreeMap<String, Option<String>>,
    /// The forge env (`dev`, `prod`) for steps whose result depends on it.
    pub env: Option<String>,
    /// The git commit SHA, only for steps that declare it.
    pub commit: Option<String>,
}

/// One difference between two fingerprints, as `forge explain` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "kebab-case")]
pub enum Change {
    Schema {
        old: u32,
        new: u32,
    },
    Plugin {
        old: String,
        new: String,
    },
    Config {
        key: String,
        old: Option<String>,
        new: Option<String>,
    },
    FileAdded {
        path: String,
    },
    FileRemoved {
        path: String,
    },
    FileChanged {
        path: String,
    },
    Upstream {
        step: String,
        old: Option<String>,
        new: Option<String>,
    },
    EnvVar {
        name: String,
    },
    Env {
        old: Option<String>,
        new: Option<String>,
    },
    Commit {
        old: Option<String>,
        new: Option<String>,
    },
}
