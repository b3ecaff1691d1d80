//! Finding a compiler that can build `wasm32-unknown-unknown`.
//!
//! Plugins are built for `wasm32-unknown-unknown` (no WASI). Two toolchains can do that:
//!
//! 1. **A prebuilt std**: rustup with `rustup target add wasm32-unknown-unknown`, or any
//!    rustc whose sysroot has `lib/rustlib/wasm32-unknown-unknown/lib`.
//! 2. **Debian's build-std fallback**: `/usr/bin/rustc` (`rustc-web`), the rust sources
//!    (`rust-web-src`, under `<sysroot>/lib/rustlib/src/rust/library`) and a wasm linker
//!    (`lld-22`'s `wasm-ld-22`, `wasm-ld` or `rust-lld`); std is compiled with the plugin
//!    (`RUSTC_BOOTSTRAP=1 cargo -Zbuild-std=std,panic_abort`).
//!
//! [`detect`] tries them in that order. Environment overrides, for machines where the
//! tools live elsewhere (and for tests that simulate a machine without them):
//!
//! | variable | meaning |
//! |---|---|
//! | `FORGE_WASM_RUSTC` | the rustc to use; no other rustc is tried |
//! | `FORGE_WASM_CARGO` | the cargo to use with it [default: the `cargo` next to it, else `cargo`] |
//! | `FORGE_WASM_LINKER` | the wasm linker for the build-std fallback; no other is tried |
//!
//! When nothing works, [`detect`] fails with one error that lists every check that failed
//! and the two ways to fix it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;

/// The target every plugin is built for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// How std for [`WASM_TARGET`] gets into the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToolchainKind {
    /// The sysroot has a prebuilt std for the target (rustup's `rust-std` component).
    Prebuilt,
    /// std is compiled from source with the plugin (`-Zbuild-std`, Debian's `rustc-web`).
    BuildStd,
}

/// A toolchain that can build plugins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    pub kind: ToolchainKind,
    pub rustc: PathBuf,
    pub cargo: PathBuf,
    /// `rustc --print sysroot`.
    pub sysroot: PathBuf,
    /// The std sources (`.../lib/rustlib/src/rust`) for [`ToolchainKind::BuildStd`].
    pub rust_src: Option<PathBuf>,
    /// The linker for [`ToolchainKind::BuildStd`] (a prebuilt toolchain uses its own).
    pub linker: Option<PathBuf>,
    /// `rustc --version`, for the build report.
    pub version: String,
}

impl Toolchain {
    /// What `forge plugin build` records in the component ([`crate::section`]): the rustc
    /// version and how std got in, with the linker's file name, never a path.
    pub fn recorded(&self) -> String {
        match self.kind {
            ToolchainKind::Prebuilt => format!("{}; prebuilt {WASM_TARGET} std", self.version),
            ToolchainKind::BuildStd => format!(
                "{}; std built from source (-Zbuild-std), linker {}",
                self.version,
                self.linker
                    .as_deref()
                    .and_then(|l| l.file_name())
                    .map_or_else(|| "?".into(), |n| n.to_string_lossy())
            ),
        }
    }

    /// One line for humans: which rustc, how std gets built.
    pub fn describe(&self) -> String {
        match self.kind {
            ToolchainKind::Prebuilt => format!("{} (prebuilt {WASM_TARGET} std)", self.version),
            ToolchainKind::BuildStd => format!(
                "{} (std built from source, linker {})",
                self.version,
                self.linker
                    .as_deref()
                    .map_or_else(|| "?".to_owned(), |l| l.display().to_string())
            ),
        }
    }
}

/// Where [`detect`] looks. [`Probe::from_env`] is the real machine; tests build their own.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub rustc_override: Option<PathBuf>,
    pub cargo_override: Option<PathBuf>,
    pub linker_override: Option<PathBuf>,
    /// The `PATH` to search for `rustc`, `cargo` and linkers.
    pub path: Option<OsString>,
    /// Debian's rustc, tried after the one on `PATH`.
    pub debian_rustc: PathBuf,
}

impl Probe {
    pub fn from_env() -> Probe {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Probe {
            rustc_override: var("FORGE_WASM_RUSTC"),
            cargo_override: var("FORGE_WASM_CARGO"),
            linker_override: var("FORGE_WASM_LINKER"),
            path: std::env::var_os("PATH"),
            debian_rustc: PathBuf::from("/usr/bin/rustc"),
        }
    }

    /// `name` resolved against [`Probe::path`] (a name with a `/` is taken as is).
    fn which(&self, name: &Path) -> Option<PathBuf> {
        if name.components().count() > 1 {
            return name.is_file().then(|| name.to_path_buf());
        }
        let path = self.path.as_ref()?;
        std::env::split_paths(path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    }
}

/// Finds a toolchain on this machine (see the module docs for the order and overrides).
pub fn detect() -> Result<Toolchain, Error> {
    detect_with(&Probe::from_env())
}

/// [`detect`] with explicit places to look.
pub fn detect_with(probe: &Probe) -> Result<Toolchain, Error> {
    let mut missing = Vec::new();

    if let Some(rustc) = &probe.rustc_override {
        // An explicit choice is never second-guessed by falling back to another rustc.
        return match try_rustc(probe, rustc, "FORGE_WASM_RUSTC", &mut missing) {
            Some(toolchain) => Ok(toolchain),
            None => Err(Error::NoWasmToolchain { missing }),
        };
    }

    if let Some(toolchain) = try_rustc(probe, Path::new("rustc"), "rustc on PATH", &mut missing)
        .filter(|t| t.kind == ToolchainKind::Prebuilt)
    {
        return Ok(toolchain);
    }
    if let Some(toolchain) = try_rustc(
        probe,
        &probe.debian_rustc,
        "Debian's rustc-web",
        &mut missing,
    ) {
        return Ok(toolchain);
    }
    Err(Error::NoWasmToolchain { missing })
}

/// The toolchain `rustc` gives, or `None` with what is missing recorded in `missing`.
fn try_rustc(
    probe: &Probe,
    rustc: &Path,
    label: &str,
    missing: &mut Vec<String>,
) -> Option<Toolchain> {
    let Some(rustc_path) = probe.which(rustc) else {
        missing.push(format!("{label}: {} not found", rustc.display()));
        return None;
    };
    let (sysroot, version) = match (
        run_capture(&rustc_path, &["--print", "sysroot"]),
        run_capture(&rustc_path, &["--version"]),
    ) {
        (Ok(sysroot), Ok(version)) => (PathBuf::from(sysroot), version),
        (Err(err), _) | (_, Err(err)) => {
            missing.push(format!(
                "{label}: {} does not run ({err})",
                rustc_path.display()
            ));
            return None;
        }
    };
    let cargo = find_cargo(probe, &rustc_path);
    let Some(cargo) = cargo else {
        missing.push(format!(
            "{label}: no cargo next to {}",
            rustc_path.display()
        ));
        return None;
    };

    let rustlib = sysroot.join("lib/rustlib");
    if rustlib.join(WASM_TARGET).join("lib").is_dir() {
        return Some(Toolchain {
            kind: ToolchainKind::Prebuilt,
            rustc: rustc_path,
            cargo,
            sysroot,
            rust_src: None,
            linker: None,
            version,
        });
    }
    missing.push(format!(
        "{label}: {} has no prebuilt {WASM_TARGET} std ({} does not exist)",
        rustc_path.display(),
        rustlib.join(WASM_TARGET).join("lib").display()
    ));

    let rust_src = rustlib.join("src/rust");
    let has_src = rust_src.join("library/std/Cargo.toml").is_file();
    if !has_src {
        missing.push(format!(
            "{label}: no rust sources for -Zbuild-std ({} does not exist)",
            rust_src.join("library").display()
        ));
    }
    let linker = find_linker(probe);
    if linker.is_none() {
        missing.push(match &probe.linker_override {
            Some(l) => format!("FORGE_WASM_LINKER: {} not found", l.display()),
            None => "no wasm linker on PATH (wasm-ld-22, wasm-ld or rust-lld)".to_owned(),
        });
    }
    match (has_src, linker) {
        (true, Some(linker)) => Some(Toolchain {
            kind: ToolchainKind::BuildStd,
            rustc: rustc_path,
            cargo,
            sysroot,
            rust_src: Some(rust_src),
            linker: Some(linker),
            version,
        }),
        _ => None,
    }
}

/// The cargo that goes with `rustc`: the override, the one beside it (rustup proxies and
/// `/usr/bin` both keep them together), else whatever `cargo` is on `PATH`.
fn find_cargo(probe: &Probe, rustc: &Path) -> Option<PathBuf> {
    if let Some(cargo) = &probe.cargo_override {
        return probe.which(cargo);
    }
    let beside = rustc.with_file_name(format!("cargo{}", std::env::consts::EXE_SUFFIX));
    if beside.is_file() {
        return Some(beside);
    }
    probe.which(Path::new("cargo"))
}

fn find_linker(probe: &Probe) -> Option<PathBuf> {
    if let Some(linker) = &probe.linker_override {
        return probe.which(linker);
    }
    ["wasm-ld-22", "wasm-ld", "rust-lld"]
        .into_iter()
        .find_map(|name| probe.which(Path::new(name)))
}

/// Runs `program args` and returns its trimmed stdout, or why it failed.
fn run_capture(program: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!("exited with {}", output.status));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nowhere() -> Probe {
        Probe {
            path: Some(OsString::new()),
            debian_rustc: PathBuf::from("/nonexistent/forge-test/rustc"),
            ..Probe::default()
        }
    }

    #[test]
    fn nothing_found_lists_every_check() {
        let Err(Error::NoWasmToolchain { missing }) = detect_with(&nowhere()) else {
            panic!("an empty PATH cannot have a toolchain");
        };
        assert_eq!(
            missing,
            [
                "rustc on PATH: rustc not found",
                "Debian's rustc-web: /nonexistent/forge-test/rustc not found"
            ]
        );
    }

    #[test]
    fn an_override_is_the_only_rustc_tried() {
        let probe = Probe {
            rustc_override: Some(PathBuf::from("/nonexistent/forge-test/my-rustc")),
            ..nowhere()
        };
        let Err(Error::NoWasmToolchain { missing }) = detect_with(&probe) else {
            panic!("a missing override cannot be a toolchain");
        };
        assert_eq!(
            missing,
            ["FORGE_WASM_RUSTC: /nonexistent/forge-test/my-rustc not found"]
        );
    }

    #[test]
    fn the_error_names_both_fixes() {
        let err = Error::NoWasmToolchain {
            missing: vec!["x".into()],
        };
        let help = miette::Diagnostic::help(&err)
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(
            help.contains("rustup target add wasm32-unknown-unknown"),
            "{help}"
        );
        assert!(
            help.contains("apt-get install rustc-web cargo-web rust-web-src lld-22"),
            "{help}"
        );
    }
}
