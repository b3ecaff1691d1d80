//! What a plugin is: the [`Plugin`] trait, the [`Info`] it describes itself with, and the
//! capability names a step can be granted.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Context, Error};

/// Capability names, as written in `project.kdl` (`grant "files.read"`) and in
/// [`Info::capability`]: the plugin contract's, so the SDK, the host and `forge plugin
/// inspect` spell them the same.
pub use forge_contract::capability;

/// A forge step plugin.
///
/// Implement it on a unit struct and export it with [`export_plugin!`](crate::export_plugin).
/// The SDK turns the step's JSON `config` into [`Plugin::Config`] before `run` (a bad config
/// fails the step with the field's path and serde's message) and turns [`Plugin::Output`]
/// into the JSON manifest downstream steps see.
pub trait Plugin {
    /// The step's `config` block. Use [`NoConfig`] for a plugin that takes none.
    type Config: DeserializeOwned;
    /// The step's output manifest. Keep it small and deterministic: its hash feeds every
    /// downstream fingerprint, so a `HashMap` (random order) here would defeat caching.
    type Output: Serialize;

    /// Who the plugin is and what it needs. Must depend on nothing but the plugin itself.
    fn info() -> Info;

    /// Runs the step.
    fn run(ctx: &mut Context, config: Self::Config) -> Result<Self::Output, Error>;
}

/// What a plugin tells forge about itself (`forge plugin inspect` shows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Short name, e.g. `docker-build`.
    pub name: String,
    /// The plugin's semver version; `None` means the plugin crate's `CARGO_PKG_VERSION`,
    /// filled in by [`export_plugin!`](crate::export_plugin) and by `MockHost`.
    pub version: Option<String>,
    /// One line for humans.
    pub description: String,
    /// JSON Schema of the `config` block, as JSON text.
    pub config_schema: String,
    /// Capabilities the plugin uses; the host refuses to start it when one is not granted.
    pub capabilities: Vec<String>,
}

impl Info {
    /// A plugin named `name` that takes any config (`{}` schema) and needs no capability.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Info {
            name: name.into(),
            version: None,
            description: description.into(),
            config_schema: "{}".to_owned(),
            capabilities: Vec::new(),
        }
    }

    /// Overrides the version taken from the plugin crate's `Cargo.toml`.
    #[must_use]
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Sets the config's JSON Schema (JSON text, e.g. from `serde_json::json!(..).to_string()`).
    #[must_use]
    pub fn config_schema(mut self, schema: impl Into<String>) -> Self {
        self.config_schema = schema.into();
        self
    }

    /// Declares a capability the plugin uses (see [`capability`]).
    #[must_use]
    pub fn capability(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        if !self.capabilities.contains(&name) {
            self.capabilities.push(name);
        }
        self
    }

    /// The version, with `default` (the crate's version) when none was set.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn resolved_version(&self, default: &str) -> String {
        self.version.clone().unwrap_or_else(|| default.to_owned())
    }
}

/// A `Config` for plugins that take none: accepts any JSON (including `{}` and `null`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoConfig;

impl<'de> serde::Deserialize<'de> for NoConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| NoConfig)
    }
}
