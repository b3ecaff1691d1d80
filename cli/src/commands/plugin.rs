//! `forge plugin new|build|inspect|test`: the plugin author's commands. The work is done by
//! `forge-plugin-tools`; this module only turns its results into terminal or `--json`
//! output (`plugin-new`, `plugin-build`, `plugin-inspect`, `plugin-test` lines).
//!
//! cargo's own messages always go to stderr, so `--json` stdout stays JSON.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use forge_plugin_tools::build::{BuildOptions, BuildOutput};
use forge_plugin_tools::inspect::{Capability, Inspection};
use forge_plugin_tools::scaffold::{SdkSource, VENDOR_DIR, new_plugin};
use forge_plugin_tools::{CONTRACT_VERSION, toolchain};
use serde::Serialize;

use crate::cli::{
    PluginBuildArgs, PluginCommand, PluginInspectArgs, PluginNewArgs, PluginTestArgs,
};
use crate::context::Context;
use crate::exit::{CliError, Outcome};
use crate::report::json;

pub fn plugin(ctx: &Context<'_>, command: &PluginCommand) -> Result<Outcome, CliError> {
    match command {
        PluginCommand::New(args) => new(ctx, args),
        PluginCommand::Build(args) => build(ctx, args),
        PluginCommand::Inspect(args) => inspect(ctx, args),
        PluginCommand::Test(args) => test(ctx, args),
    }
}

fn new(ctx: &Context<'_>, args: &PluginNewArgs) -> Result<Outcome, CliError> {
    let dir = args
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    let made = new_plugin(&args.name, &dir, &SdkSource::detect(&dir))?;
    if ctx.mode.json {
        let sdk = match &made.sdk {
            SdkSource::Path(path) => serde_json::json!({ "path": path }),
            SdkSource::Vendored => serde_json::json!({ "vendored": VENDOR_DIR }),
        };
        json::line(&serde_json::json!({
            "type": "plugin-new",
            "name": made.name,
            "dir": made.dir,
            "files": made.files,
            "sdk": sdk,
        }))?;
        return Ok(Outcome::Ok);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Created plugin `{}` in {}",
        made.name,
        made.dir.display()
    )?;
    for file in &made.files {
        if file.trim_end_matches('/') == VENDOR_DIR {
            // Not a registry crate: the SDK travels with the plugin, so rebuilds match.
            writeln!(
                out,
                "  {file}  forge's plugin SDK for contract {CONTRACT_VERSION}, vendored: commit it"
            )?;
        } else {
            writeln!(out, "  {file}")?;
        }
    }
    writeln!(out, "\nNext:")?;
    writeln!(out, "  cd {}", made.dir.display())?;
    writeln!(out, "  forge plugin test      # its tests, natively")?;
    writeln!(
        out,
        "  forge plugin build     # the component, and the line for project.kdl"
    )?;
    Ok(Outcome::Ok)
}

#[derive(Serialize)]
struct BuildLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    path: &'a Path,
    hash: &'a str,
    size: u64,
    capabilities: Vec<&'a str>,
    /// The fewest `grant`s that cover `capabilities`.
    grants: &'a [String],
    toolchain: toolchain::ToolchainKind,
    /// `rustc --version` of the toolchain: the bytes are only reproducible with the same.
    rustc: &'a str,
    /// The line to paste into project.kdl.
    kdl: &'a str,
}

fn build(ctx: &Context<'_>, args: &PluginBuildArgs) -> Result<Outcome, CliError> {
    // A wrong path is the likelier mistake, and cheaper to report than the toolchain.
    if !args.path.join("Cargo.toml").is_file() {
        return Err(forge_plugin_tools::Error::NotACrate {
            dir: args.path.clone(),
        }
        .into());
    }
    let toolchain = toolchain::detect()?;
    if !ctx.global.quiet {
        eprintln!(
            "Building {} with {}",
            args.path.display(),
            toolchain.describe()
        );
    }
    let options = BuildOptions {
        dir: args.path.clone(),
        out: args.out.clone(),
        jobs: ctx.global.jobs,
        rustc_wrapper: std::env::current_exe().ok(),
        locked: args.locked,
    };
    let built: BuildOutput = forge_plugin_tools::build::build(&options, &toolchain)?;
    let shown = for_project_kdl(&built.path);
    let kdl = format!(
        "plugin \"{}\" path=\"{}\" hash=\"{}\"",
        built.name,
        shown.display(),
        built.hash
    );
    let capabilities = built.inspection.capabilities();
    if ctx.mode.json {
        json::line(&BuildLine {
            kind: "plugin-build",
            name: &built.name,
            path: &built.path,
            hash: &built.hash,
            size: built.inspection.size,
            capabilities,
            grants: &built.inspection.grants,
            toolchain: built.toolchain.kind,
            rustc: &built.toolchain.version,
            kdl: &kdl,
        })?;
        return Ok(Outcome::Ok);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Wrote {} ({} bytes)",
        shown.display(),
        built.inspection.size
    )?;
    writeln!(out, "hash          {}", built.hash)?;
    writeln!(out, "capabilities  {}", list_or_none(&capabilities))?;
    writeln!(out, "\nPin it in project.kdl:")?;
    let grants = &built.inspection.grants;
    if grants.is_empty() {
        writeln!(out, "  {kdl}")?;
    } else {
        // Its imports are what it will ask for: grant them, or the host refuses to start it.
        writeln!(out, "  {kdl} {{")?;
        for grant in grants {
            writeln!(out, "      grant \"{grant}\"")?;
        }
        writeln!(out, "  }}")?;
    }
    Ok(Outcome::Ok)
}

#[derive(Serialize)]
struct InspectLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    path: &'a Path,
    component: bool,
    capabilities: Vec<&'a str>,
    #[serde(flatten)]
    inspection: &'a Inspection,
}

fn inspect(ctx: &Context<'_>, args: &PluginInspectArgs) -> Result<Outcome, CliError> {
    let found = forge_plugin_tools::inspect::inspect_file(&args.file)?;
    if ctx.mode.json {
        json::line(&InspectLine {
            kind: "plugin-inspect",
            path: &args.file,
            component: true,
            capabilities: found.capabilities(),
            inspection: &found,
        })?;
    } else {
        write_inspection(&args.file, &found)?;
    }
    let unknown = found.unknown_imports();
    if !unknown.is_empty() {
        return Err(forge_plugin_tools::Error::UnknownImports {
            path: args.file.clone(),
            imports: unknown.into_iter().map(str::to_owned).collect(),
        }
        .into());
    }
    Ok(Outcome::Ok)
}

fn write_inspection(path: &Path, found: &Inspection) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "file          {}", path.display())?;
    writeln!(out, "kind          component")?;
    writeln!(out, "world         {}", found.world)?;
    writeln!(
        out,
        "contract      {} (this forge speaks {CONTRACT_VERSION})",
        found.version
    )?;
    writeln!(out, "capabilities  {}", list_or_none(&found.capabilities()))?;
    if !found.grants.is_empty() {
        // The line for its `plugin` node in project.kdl: the fewest grants (`aws` covers
        // `registry`), or the host refuses to start it.
        let grants: Vec<String> = found.grants.iter().map(|g| format!("\"{g}\"")).collect();
        writeln!(out, "grant line    grant {}", grants.join(" "))?;
    }
    writeln!(out, "imports")?;
    let width = found
        .imports
        .iter()
        .map(|i| i.name.len())
        .max()
        .unwrap_or(0);
    for import in &found.imports {
        let meaning = match &import.capability {
            Capability::Grant(name) => match found.implied_by(name) {
                Some(by) => format!("capability {name} (implied by grant \"{by}\")"),
                None => format!("capability {name} (needs grant \"{name}\")"),
            },
            Capability::Always => "always granted".to_owned(),
            Capability::Types => "types only".to_owned(),
            Capability::Unknown => {
                format!("unknown import {}: this forge cannot run it", import.name)
            }
        };
        writeln!(out, "  {:width$}  {meaning}", import.name)?;
    }
    writeln!(out, "exports       {}", found.exports.join(", "))?;
    writeln!(out, "size          {} bytes", found.size)?;
    writeln!(out, "hash          {}", found.hash)?;
    Ok(())
}

fn test(ctx: &Context<'_>, args: &PluginTestArgs) -> Result<Outcome, CliError> {
    let manifest = args.path.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(forge_plugin_tools::Error::NotACrate {
            dir: args.path.clone(),
        }
        .into());
    }
    // The native toolchain on PATH: MockHost tests run on the host, not in wasm.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command.arg("test").arg("--manifest-path").arg(&manifest);
    if let Some(jobs) = ctx.global.jobs {
        command.arg(format!("-j{jobs}"));
    }
    if ctx.global.quiet {
        command.arg("--quiet");
    }
    if !args.args.is_empty() {
        command.arg("--").args(&args.args);
    }
    if ctx.mode.json {
        command.stdout(Stdio::from(std::io::stderr()));
    }
    let status = command.stdin(Stdio::null()).status().map_err(|source| {
        forge_plugin_tools::Error::Spawn {
            program: cargo.to_string_lossy().into_owned(),
            source,
        }
    })?;
    if ctx.mode.json {
        json::line(&serde_json::json!({
            "type": "plugin-test",
            "passed": status.success(),
            "status": status.code(),
        }))?;
    }
    if status.success() {
        Ok(Outcome::Ok)
    } else {
        Err(CliError::PluginTestsFailed { status })
    }
}

/// `path` as `project.kdl` should name it: relative to the project that holds it (the
/// closest `project.kdl` above the file itself, which is where the plugin will be pinned),
/// else relative to the current directory, else as is.
fn for_project_kdl(path: &Path) -> PathBuf {
    let Ok(cwd) = std::env::current_dir() else {
        return path.to_path_buf();
    };
    let absolute = cwd.join(path);
    let absolute = std::fs::canonicalize(&absolute).unwrap_or(absolute);
    let base = absolute
        .parent()
        .and_then(forge_engine::model::find_project_file)
        .and_then(|file| file.parent().map(Path::to_path_buf))
        .unwrap_or(cwd);
    let base = std::fs::canonicalize(&base).unwrap_or(base);
    absolute
        .strip_prefix(&base)
        .map(Path::to_path_buf)
        .unwrap_or(absolute)
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none (log and outputs are always granted)".to_owned()
    } else {
        items.join(", ")
    }
}
