//! forge as cargo's `RUSTC_WRAPPER` during `forge plugin build`, so that a plugin builds to
//! the same bytes in any directory.
//!
//! Remapping paths is not enough: cargo derives each crate's `-C metadata` (which feeds
//! symbol names, their order, and so the bytes) from the absolute path of a path
//! dependency — the plugin crate itself, and the SDK when it is used by path. For exactly
//! those crates the wrapper replaces the value with one derived from the crate's name, and
//! hands everything else to rustc untouched. Registry crates already have path-free
//! metadata.

use std::ffi::OsString;
use std::process::Command;

/// Set by [`crate::build::build`] for the wrapper: the crate names (as rustc spells them,
/// `_` for `-`) of the path packages whose metadata must not depend on where they are.
pub const PATH_CRATES_ENV: &str = "FORGE_RUSTC_WRAPPER_PATH_CRATES";

/// When this process was started by cargo as forge's rustc wrapper, runs rustc with the
/// rewritten arguments and returns its exit code; `None` otherwise (a normal forge run).
pub fn run_as_rustc_wrapper() -> Option<i32> {
    let crates = std::env::var(PATH_CRATES_ENV).ok()?;
    let mut args = std::env::args_os().skip(1);
    let rustc = args.next()?;
    let mut args: Vec<OsString> = args.collect();
    let crates: Vec<&str> = crates.split(',').filter(|c| !c.is_empty()).collect();
    rewrite_metadata(&mut args, &crates);
    match Command::new(&rustc).args(&args).status() {
        Ok(status) => Some(status.code().unwrap_or(101)),
        Err(err) => {
            eprintln!("forge: cannot run {}: {err}", rustc.to_string_lossy());
            Some(101)
        }
    }
}

/// Replaces every `metadata=...` codegen value with `metadata=forge-<crate>` when the
/// crate being compiled is one of `path_crates`.
fn rewrite_metadata(args: &mut [OsString], path_crates: &[&str]) {
    let crate_name = args
        .iter()
        .position(|a| a == "--crate-name")
        .and_then(|i| args.get(i + 1))
        .map(|name| name.to_string_lossy().into_owned());
    let Some(name) = crate_name.filter(|n| path_crates.contains(&n.as_str())) else {
        return;
    };
    for arg in args.iter_mut() {
        let text = arg.to_string_lossy();
        if let Some(prefix) = ["metadata=", "-Cmetadata="]
            .iter()
            .find(|p| text.starts_with(**p))
        {
            *arg = OsString::from(format!("{prefix}forge-{name}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn only_path_crates_get_path_free_metadata() {
        let mut sdk = args(&[
            "--crate-name",
            "forge_plugin_sdk",
            "-C",
            "metadata=ab12",
            "src/lib.rs",
        ]);
        rewrite_metadata(&mut sdk, &["forge_plugin_sdk", "greet"]);
        assert_eq!(sdk[3], "metadata=forge-forge_plugin_sdk");

        let mut serde = args(&["--crate-name", "serde", "-C", "metadata=cd34"]);
        rewrite_metadata(&mut serde, &["forge_plugin_sdk", "greet"]);
        assert_eq!(serde[3], "metadata=cd34");
    }
}
