//! The authoring tools' one error type; every variant says how to fix it.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

use crate::CONTRACT_VERSION;

#[derive(Debug, Error, Diagnostic)]
pub enum Error {
    #[error(
        "no toolchain here can build wasm32-unknown-unknown:\n{}",
        .missing.iter().map(|m| format!("  - {m}")).collect::<Vec<_>>().join("\n")
    )]
    #[diagnostic(
        code(forge::plugin::no_wasm_toolchain),
        help(
            "either `rustup target add wasm32-unknown-unknown` (with rustup), or \
             `apt-get install rustc-web cargo-web rust-web-src lld-22` (Debian: std is then \
             built from source); FORGE_WASM_RUSTC, FORGE_WASM_CARGO and FORGE_WASM_LINKER \
             point forge at tools installed elsewhere"
        )
    )]
    NoWasmToolchain { missing: Vec<String> },

    #[error("{} is not a Rust crate: it has no Cargo.toml", dir.display())]
    #[diagnostic(
        code(forge::plugin::not_a_crate),
        help("pass the plugin crate's directory, or create one with `forge plugin new NAME`")
    )]
    NotACrate { dir: PathBuf },

    #[error("`cargo metadata` failed for {}: {message}", manifest.display())]
    #[diagnostic(
        code(forge::plugin::metadata),
        help("fix Cargo.toml until `cargo metadata` succeeds in the plugin's directory")
    )]
    Metadata { manifest: PathBuf, message: String },

    #[error("crate `{name}` does not build a cdylib, so it cannot become a plugin")]
    #[diagnostic(
        code(forge::plugin::not_cdylib),
        help("add `[lib] crate-type = [\"cdylib\", \"rlib\"]` to its Cargo.toml")
    )]
    NotCdylib { name: String },

    #[error("cargo failed to build the plugin ({status})")]
    #[diagnostic(
        code(forge::plugin::build_failed),
        help("cargo's messages above say why; `forge plugin test` runs its tests natively")
    )]
    CargoFailed { status: String },

    #[error("cargo finished but {} is missing", path.display())]
    #[diagnostic(
        code(forge::plugin::no_artifact),
        help("check that the crate's [lib] is the plugin and that no build config renames it")
    )]
    NoArtifact { path: PathBuf },

    #[error("cannot run {program}")]
    #[diagnostic(
        code(forge::plugin::spawn),
        help("check that it is installed and executable")
    )]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot {action} {}", path.display())]
    #[diagnostic(
        code(forge::plugin::io),
        help("check that the path exists and is readable (or writable)")
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot encode the core module as a component: {message}")]
    #[diagnostic(
        code(forge::plugin::encode),
        help(
            "a plugin must be built with the forge plugin SDK (or wit-bindgen against \
             plugin-sdk/wit), so that it carries its WIT world"
        )
    )]
    Encode { message: String },

    #[error("{} is not a WebAssembly file", path.display())]
    #[diagnostic(
        code(forge::plugin::not_wasm),
        help("inspect the component `forge plugin build` wrote; it prints the path")
    )]
    NotWasm { path: PathBuf },

    #[error("{} is a core module, not a component", path.display())]
    #[diagnostic(
        code(forge::plugin::core_module),
        help("this is a core module; run `forge plugin build` to make a component")
    )]
    CoreModule { path: PathBuf },

    #[error("cannot read the component {}: {message}", path.display())]
    #[diagnostic(
        code(forge::plugin::decode),
        help("rebuild it with `forge plugin build`; the file may be truncated or corrupt")
    )]
    Decode { path: PathBuf, message: String },

    #[error(
        "{} speaks forge:plugin@{found}, but this forge speaks forge:plugin@{CONTRACT_VERSION}",
        path.display()
    )]
    #[diagnostic(
        code(forge::plugin::contract_version),
        help(
            "rebuild the plugin against a forge-plugin-sdk for contract {CONTRACT_VERSION}, or \
             use a forge release that speaks {found}"
        )
    )]
    ContractVersion { path: PathBuf, found: String },

    #[error("{} is not a forge step plugin: {reason}", path.display())]
    #[diagnostic(
        code(forge::plugin::not_a_plugin),
        help(
            "a step plugin exports `describe` and `run` from world forge:plugin/step; write it \
             with the forge plugin SDK (`forge plugin new NAME`)"
        )
    )]
    NotAPlugin { path: PathBuf, reason: String },

    #[error("{} imports {}: this forge cannot run it", path.display(), .imports.join(", "))]
    #[diagnostic(
        code(forge::plugin::unknown_import),
        help(
            "a plugin may import only forge:plugin/{{{}}}@{CONTRACT_VERSION}; \
             rebuild it without the others (no WASI), or use a forge that provides them",
            contract_interfaces()
        )
    )]
    UnknownImports { path: PathBuf, imports: Vec<String> },

    #[error(
        "{}: {what} has a type this forge does not provide\n  component: {found}\n  contract:  {expected}{}",
        path.display(),
        .detail.as_ref().map(|d| format!("\n  ({d})")).unwrap_or_default()
    )]
    #[diagnostic(
        code(forge::plugin::contract_type),
        help(
            "build the plugin with the forge plugin SDK for contract {CONTRACT_VERSION} (its \
             bindings come from plugin-sdk/wit/plugin.wit); a component made from another copy \
             of the WIT must match it function for function"
        )
    )]
    ContractType {
        path: PathBuf,
        /// `function `build` of forge:plugin/docker@0.1.0`, or `export `run``.
        what: String,
        found: String,
        expected: String,
        detail: Option<String>,
    },

    #[error(
        "{}: {what} ({found}) is not part of contract forge:plugin@{CONTRACT_VERSION}",
        path.display()
    )]
    #[diagnostic(
        code(forge::plugin::not_in_contract),
        help(
            "build the plugin with the forge plugin SDK for contract {CONTRACT_VERSION}, or use a \
             forge whose contract has this function"
        )
    )]
    NotInContract {
        path: PathBuf,
        what: String,
        found: String,
    },

    #[error("invalid plugin name `{name}`: {reason}")]
    #[diagnostic(
        code(forge::plugin::bad_name),
        help(
            "use lowercase letters, digits and `-`, starting with a letter, e.g. `site-manifest`"
        )
    )]
    BadName { name: String, reason: &'static str },

    #[error("{} already exists", path.display())]
    #[diagnostic(
        code(forge::plugin::exists),
        help("choose another name or `--path`; forge never overwrites an existing directory")
    )]
    AlreadyExists { path: PathBuf },
}

/// `types,log,outputs,...`: every interface of the contract.
fn contract_interfaces() -> String {
    forge_contract::Interface::ALL
        .map(forge_contract::Interface::name)
        .join(",")
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Whether this is the user's input (a bad name, path or file) rather than a failure
    /// of forge or the toolchain; the CLI exits 2 for those.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Error::NotACrate { .. }
                | Error::NotCdylib { .. }
                | Error::NotWasm { .. }
                | Error::CoreModule { .. }
                | Error::NotAPlugin { .. }
                | Error::BadName { .. }
                | Error::AlreadyExists { .. }
        )
    }
}
