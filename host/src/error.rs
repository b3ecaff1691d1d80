//! Why the host could not run a step, as miette diagnostics.
//!
//! Each variant names one failure a user can act on; the executor turns them into
//! [`forge_engine::executor::StepError::Failed`] with the message and the help text, and
//! [`HostError::Cancelled`] into [`forge_engine::executor::StepError::Cancelled`].

use std::path::PathBuf;
use std::time::Duration;

use miette::Diagnostic;
use thiserror::Error;

/// Bytes as a short human figure (`512 MiB`, `3.2 KiB`), as everywhere in forge.
pub(crate) fn bytes(n: u64) -> String {
    forge_engine::text::human_bytes(n)
}

/// The most a plugin's own text may carry into an error: its `step-error` message and its
/// help each, and its panic message. Past it the text is cut with a note (see
/// [`cap_message`]); a plugin that returns megabytes of error has a bug, and forge would
/// otherwise print all of it.
pub(crate) const MESSAGE_CAP: usize = 16 * 1024;

/// `message` cut to [`MESSAGE_CAP`] bytes at a char boundary, saying how much was dropped.
pub(crate) fn cap_message(message: String) -> String {
    forge_engine::text::truncate(message, MESSAGE_CAP)
}

fn duration(d: &Duration) -> String {
    humantime::format_duration(*d).to_string()
}

/// Everything that can go wrong between resolving a step's plugin and reading its result.
#[derive(Debug, Error, Diagnostic)]
pub enum HostError {
    #[error("plugin `{plugin}` trapped: {summary}")]
    #[diagnostic(
        code(forge::host::trap),
        help(
            "a WebAssembly trap is a bug in the plugin: report it to its author with the trap and the functions named after `in`"
        )
    )]
    Trap { plugin: String, summary: String },

    #[error("plugin `{plugin}` panicked: {message}")]
    #[diagnostic(
        code(forge::host::panic),
        help("this is a bug in the plugin; report it to its author with the message above")
    )]
    Panic { plugin: String, message: String },

    #[error("plugin `{plugin}` ran past its deadline of {}", duration(.limit))]
    #[diagnostic(
        code(forge::host::deadline),
        help(
            "the step was stopped; if it legitimately needs longer, raise the limit with `--timeout`"
        )
    )]
    Deadline { plugin: String, limit: Duration },

    #[error("plugin `{plugin}` exceeded its memory cap of {}", bytes(*.limit))]
    #[diagnostic(
        code(forge::host::memory_limit),
        help(
            "the plugin tried to grow its memory past the cap and was stopped; check its inputs for something unexpectedly large"
        )
    )]
    MemoryLimit { plugin: String, limit: u64 },

    #[error("plugin `{plugin}` produced too large {what}: {} (cap {})", bytes(*.size), bytes(*.limit))]
    #[diagnostic(
        code(forge::host::output_too_large),
        help(
            "step outputs are for manifests and generated files, not bulk data; make the plugin produce less"
        )
    )]
    OutputTooLarge {
        plugin: String,
        what: &'static str,
        size: u64,
        limit: u64,
    },

    #[error("plugin `{plugin}` wrote more than {limit} output files, the cap for one step")]
    #[diagnostic(
        code(forge::host::too_many_outputs),
        help(
            "bundle many small files into one output (a tar archive, a JSON map); each output file costs a store entry"
        )
    )]
    TooManyOutputs { plugin: String, limit: u64 },

    #[error("plugin `{plugin}` returned an invalid manifest: {message}")]
    #[diagnostic(
        code(forge::host::invalid_manifest),
        help("a step's manifest must be JSON; this is a bug in the plugin")
    )]
    InvalidManifest { plugin: String, message: String },

    #[error("cancelled")]
    #[diagnostic(code(forge::host::cancelled))]
    Cancelled,

    #[error("plugin `{plugin}` uses capability `{capability}`, which its step is not granted")]
    #[diagnostic(
        code(forge::host::ungranted_capability),
        help(
            "grant it in project.kdl by adding the line\n    grant \"{capability}\"\ninside `plugin \"{plugin}\" {{ ... }}` (only if you trust the plugin with it)"
        )
    )]
    Ungranted { plugin: String, capability: String },

    #[error("plugin `{plugin}` imports `{import}`, which forge does not provide")]
    #[diagnostic(
        code(forge::host::unknown_import),
        help(
            "forge provides only the `forge:plugin@{}` interfaces (no WASI); rebuild the plugin with the forge plugin SDK (`forge plugin build`)",
            crate::grants::WIT_VERSION
        )
    )]
    UnknownImport { plugin: String, import: String },

    #[error(
        "plugin `{plugin}` was built against `{import}`, but this forge speaks `forge:plugin@{}`",
        crate::grants::WIT_VERSION
    )]
    #[diagnostic(
        code(forge::host::version_mismatch),
        help("rebuild the plugin against the forge plugin SDK matching this forge version")
    )]
    VersionMismatch { plugin: String, import: String },

    #[error("plugin `{plugin}` at {} does not match its pinned hash\n  pinned:  {expected}\n  on disk: {actual}", path.display())]
    #[diagnostic(
        code(forge::host::pin_mismatch),
        help(
            "forge never runs a plugin that differs from its pin; if you rebuilt it on purpose, update `hash=` on `plugin \"{plugin}\"` in project.kdl to the on-disk hash"
        )
    )]
    PinMismatch {
        plugin: String,
        path: PathBuf,
        expected: String,
        actual: String,
    },

    #[error("cannot read plugin `{plugin}` at {}: {source}", path.display())]
    #[diagnostic(
        code(forge::host::plugin_read),
        help(
            "check the `path=` of `plugin \"{plugin}\"` in project.kdl (relative to the project root)"
        )
    )]
    PluginRead {
        plugin: String,
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("`{plugin}` is not a built-in plugin of this forge build")]
    #[diagnostic(
        code(forge::host::unknown_builtin),
        help(
            "this forge binary was built without it; declare it with `plugin \"{plugin}\" path=... hash=...` or use a forge build that embeds it"
        )
    )]
    UnknownBuiltin { plugin: String },

    #[error("plugin `{plugin}` is not a valid forge plugin component: {message}")]
    #[diagnostic(
        code(forge::host::invalid_component),
        help("build plugins with `forge plugin build`, which produces a WebAssembly component")
    )]
    Compile { plugin: String, message: String },

    #[error("plugin `{plugin}` could not be started: {message}")]
    #[diagnostic(
        code(forge::host::instantiate),
        help("the component does not fit the `step` world; rebuild it with the forge plugin SDK")
    )]
    Instantiate { plugin: String, message: String },

    #[error("the plugin host failed: {message}")]
    #[diagnostic(
        code(forge::host::internal),
        help("this is a bug in forge; please report it with the command you ran")
    )]
    Internal { message: String },
}

impl HostError {
    /// The help text miette would show, for callers that carry it separately.
    pub fn help_text(&self) -> Option<String> {
        Diagnostic::help(self).map(|h| h.to_string())
    }
}
