//! A step's fingerprint from the world: its input files (through the run's one
//! [`FileIndex`]), its config, the declared env values, the commit SHA where declared, and
//! the upstream output hashes the scheduler hands in.
//!
//! Plugin identity: until the wasm host exists, a built-in plugin is identified by its name
//! and the engine version (`builtin:docker-build@0.1.0`), so upgrading forge invalidates
//! built-in results; a third-party plugin by the `blake3:` hash it is pinned to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::Error;
use crate::files::FileIndex;
use crate::fingerprint::{Fingerprint, env_var_inputs, flatten_config};
use crate::graph::Step;
use crate::model::PluginSource;
use crate::store::StoreKey;

/// The engine version that identifies built-in plugins.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Per-command input state: one tree walk, one stat cache, the commit SHA read at most once.
pub(crate) struct Inputs {
    root: PathBuf,
    env: String,
    /// Behind a mutex because hashing updates the stat cache; `hash_files` is itself
    /// parallel, so steps taking turns here lose little.
    index: Mutex<FileIndex>,
    commit: OnceLock<Option<String>>,
    stamp: OnceLock<Option<crate::executor::Stamp>>,
    vars: EnvVars,
    builtins: BuiltinIdentities,
    /// Set when steps do not run as their plugins (the engine's test executor): it then
    /// feeds every plugin identity, so its results never pass for the plugins' own.
    executor: Option<String>,
    store_dir: PathBuf,
    /// Read (or made) only when a step declares an env var.
    key: OnceLock<Result<StoreKey, String>>,
    /// Where tool versions come from; `None`: none are recorded (engine tests).
    tools: Option<std::sync::Arc<dyn ToolVersions>>,
    /// Each tool's version, asked at most once per command.
    tool_versions: OnceLock<Result<String, String>>,
}

/// An external program a step runs, whose version is part of the step's fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// The `terraform` CLI, for steps granted the `terraform` capability.
    Terraform,
}

impl Tool {
    /// The tools `step` runs: those its grants allow.
    pub fn of(step: &Step) -> impl Iterator<Item = Tool> + '_ {
        step.grants
            .iter()
            .filter(|g| g.as_str() == forge_contract::capability::TERRAFORM)
            .map(|_| Tool::Terraform)
    }

    /// `terraform`.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Terraform => "terraform",
        }
    }
}

/// Tells the version of a [`Tool`] as the executor will run it. Called on every command
/// that fingerprints a step running the tool, the no-op path included, so an
/// implementation must be cheap when nothing changed (the CLI's keys a cached answer on
/// the binary's path and stat, and runs the tool only when those change). The error
/// says what is missing and how to fix it.
pub trait ToolVersions: Send + Sync {
    fn version(&self, tool: Tool) -> Result<String, String>;
}

/// Identities of the built-in plugins this forge embeds: name → `blake3:<hash>` of the
/// component. The host knows them, the engine does not, so whoever runs the engine hands
/// them in; a built-in missing from the map is identified by the engine version instead.
pub type BuiltinIdentities = std::sync::Arc<BTreeMap<String, String>>;

/// Where declared env values (and the commit SHA's `FORGE_COMMIT_SHA`/`GIT_COMMIT`) come
/// from: the process, or a fixed map (tests, embedders that run several envs side by side).
#[derive(Debug, Clone, Default)]
pub enum EnvVars {
    #[default]
    Process,
    Fixed(BTreeMap<String, String>),
}

impl EnvVars {
    pub fn get(&self, name: &str) -> Option<String> {
        match self {
            EnvVars::Process => std::env::var(name).ok(),
            EnvVars::Fixed(map) => map.get(name).cloned(),
        }
    }
}

impl Inputs {
    /// Walks the project tree once (honouring `.gitignore`) and loads the stat cache kept in
    /// the store directory.
    pub fn open(
        root: &Path,
        store_dir: &Path,
        env: &str,
        vars: EnvVars,
        builtins: BuiltinIdentities,
        executor: Option<String>,
        tools: Option<std::sync::Arc<dyn ToolVersions>>,
    ) -> Result<Inputs, Error> {
        let index = FileIndex::open(root, store_dir)?;
        Ok(Inputs {
            root: root.to_path_buf(),
            env: env.to_string(),
            index: Mutex::new(index),
            commit: OnceLock::new(),
            stamp: OnceLock::new(),
            vars,
            builtins,
            executor,
            store_dir: store_dir.to_path_buf(),
            key: OnceLock::new(),
            tools,
            tool_versions: OnceLock::new(),
        })
    }

    fn key(&self) -> Result<&StoreKey, Error> {
        self.key
            .get_or_init(|| {
                crate::store::Store::open(&self.store_dir)
                    .and_then(|s| s.key())
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| Error::Internal(format!("cannot read the store key: {e}")))
    }

    /// The commit being built (`FORGE_COMMIT_SHA`, else `HEAD`), read once.
    pub fn commit(&self) -> Option<String> {
        self.commit
            .get_or_init(|| crate::git::commit_sha_with_env(&self.root, |n| self.vars.get(n)))
            .clone()
    }

    /// The commit and its time, for a step that runs and declares or stamps the commit.
    pub fn stamp(&self) -> Option<crate::executor::Stamp> {
        self.stamp
            .get_or_init(|| {
                let commit = self.commit()?;
                let time =
                    crate::git::commit_time_with_env(&self.root, &commit, |n| self.vars.get(n))
                        .unwrap_or(0);
                Some(crate::executor::Stamp { commit, time })
            })
            .clone()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Persists the stat cache (only if it changed).
    pub fn save(&self) -> Result<(), Error> {
        self.index().save()?;
        Ok(())
    }

    fn index(&self) -> MutexGuard<'_, FileIndex> {
        // Poisoned only if hashing panicked; the stat cache it guards is still usable.
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The plugin identity that feeds the fingerprint: a built-in's component hash (so a
    /// forge upgrade that changes a built-in reruns its steps, and one that doesn't
    /// keeps them cached), or a third-party plugin's pinned hash.
    pub fn plugin_identity(&self, step: &Step) -> String {
        let plugin = match &step.plugin_source {
            PluginSource::Builtin => match self.builtins.get(&step.plugin) {
                Some(hash) => format!("builtin:{}@{hash}", step.plugin),
                None => format!("builtin:{}@{ENGINE_VERSION}", step.plugin),
            },
            PluginSource::Path { hash, .. } => hash.clone(),
        };
        match &self.executor {
            Some(executor) => format!("{executor} for {plugin}"),
            None => plugin,
        }
    }

    /// Blocking: hashes the input files of all `steps` in one parallel batch, so a cold
    /// stat cache is filled at full core count instead of one step's files at a time. Each
    /// step's own [`Inputs::fingerprint`] then finds its hashes in memory.
    pub fn prehash<'a>(&self, steps: impl IntoIterator<Item = &'a Step>) -> Result<(), Error> {
        let mut index = self.index();
        let mut files = Vec::new();
        for step in steps {
            for selection in &step.inputs {
                files.extend_from_slice(&index.select_indices(selection)?);
            }
        }
        files.sort_unstable();
        files.dedup();
        index.hash_indices(&files)?;
        Ok(())
    }

    /// Blocking: hashes the step's input files (stat cache first).
    pub fn fingerprint(
        &self,
        step: &Step,
        upstream: BTreeMap<String, String>,
    ) -> Result<Fingerprint, Error> {
        let mut fp = Fingerprint::new(self.plugin_identity(step));
        fp.step = step.id.clone();
        fp.config = flatten_config(&step.config);
        let mut index = self.index();
        let files = match step.inputs.as_slice() {
            // One selection is already sorted and without duplicates.
            [one] => index.select_indices(one)?.to_vec(),
            many => {
                let mut files = Vec::new();
                for selection in many {
                    files.extend_from_slice(&index.select_indices(selection)?);
                }
                files.sort_unstable();
                files.dedup();
                files
            }
        };
        index.hash_indices(&files)?;
        fp.files = index.hex_hashes(&files);
        drop(index);
        fp.upstream = upstream;
        if !step.env_vars.is_empty() {
            fp.env_vars = env_var_inputs(
                step.env_vars.iter().map(String::as_str),
                |n| self.vars.get(n),
                self.key()?,
            );
        }
        fp.secrets = step
            .secrets
            .iter()
            .map(|(name, r)| (name.clone(), r.reference()))
            .collect();
        fp.env = step.env_scoped.then(|| self.env.clone());
        if step.commit_sha {
            fp.commit = self.commit();
        }
        if let Some(tools) = &self.tools {
            for tool in Tool::of(step) {
                let version = match tool {
                    Tool::Terraform => self.tool_versions.get_or_init(|| tools.version(tool)),
                };
                let version = version.as_ref().map_err(|message| Error::ToolUnavailable {
                    tool: tool.name(),
                    step: step.id.clone(),
                    message: message.clone(),
                })?;
                fp.tools.insert(tool.name().to_owned(), version.clone());
            }
        }
        Ok(fp)
    }
}
