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
use forge_engine::text::escape_control;

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
    /// When the component was written outside any forge project: where in the project
    /// `kdl` expects it (copy it there).
    #[serde(skip_serializing_if = "Option::is_none")]
    copy_to: Option<&'a str>,
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
        default_dir: default_dir(&args.path),
        jobs: ctx.global.jobs,
        rustc_wrapper: std::env::current_exe().ok(),
        locked: args.locked,
    };
    let built: BuildOutput = forge_plugin_tools::build::build(&options, &toolchain)?;
    let pin = pin_path(&built.path);
    let pinned = match &pin {
        PinPath::InProject(relative) => relative.clone(),
        PinPath::Outside => format!("plugins/{}.wasm", built.name),
    };
    let shown = match &pin {
        PinPath::InProject(relative) => relative.clone(),
        PinPath::Outside => built.path.display().to_string(),
    };
    let kdl = format!(
        "plugin \"{}\" path=\"{pinned}\" hash=\"{}\"",
        built.name, built.hash
    );
    let capabilities = built.inspection.capabilities();
    if let Some(replaced) = &built.replaced {
        // A pin of the old file no longer matches: say so, and whether the toolchain is why.
        let new_toolchain = built.toolchain.recorded();
        let why = match &replaced.toolchain {
            Some(old) if *old != new_toolchain => format!(
                "it was built with {old}, this build with {new_toolchain}: a different toolchain gives different bytes for the same sources; build with the toolchain the pin was made with, or pin the new hash"
            ),
            Some(_) => "it was built with the same toolchain, so its sources or Cargo.lock changed"
                .to_owned(),
            None => {
                "it records no toolchain (built before forge recorded one, or otherwise)".to_owned()
            }
        };
        crate::report::stderr_line(format_args!(
            "warning: replaced {} ({}) with a different build ({}); a pin of the old hash no longer matches: {why}",
            built.path.display(),
            replaced.hash,
            built.hash
        ));
    }
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
            copy_to: matches!(pin, PinPath::Outside).then_some(pinned.as_str()),
        })?;
        return Ok(Outcome::Ok);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "Wrote {shown} ({} bytes)", built.inspection.size)?;
    writeln!(out, "hash          {}", built.hash)?;
    writeln!(out, "toolchain     {}", built.toolchain.recorded())?;
    writeln!(out, "capabilities  {}", list_or_none(&capabilities))?;
    if let PinPath::Outside = pin {
        // project.kdl only takes paths inside the project: the file has to move there.
        writeln!(
            out,
            "\nThis is outside any forge project. Copy it into yours as {pinned} and pin it:"
        )?;
    } else {
        writeln!(out, "\nPin it in project.kdl:")?;
    }
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
    /// What `describe` returned; absent when an unknown import stopped inspection.
    #[serde(skip_serializing_if = "Option::is_none")]
    describe: Option<&'a Described>,
    /// Why `describe` failed (a trap is a bug in the plugin).
    #[serde(skip_serializing_if = "Option::is_none")]
    describe_error: Option<&'a str>,
}

fn inspect(ctx: &Context<'_>, args: &PluginInspectArgs) -> Result<Outcome, CliError> {
    let found = forge_plugin_tools::inspect::inspect_file(&args.file)?;
    let unknown = found.unknown_imports();
    // What the component says of itself needs it instantiated, which an unknown import
    // forbids: then the static inspection is all there is, followed by the error.
    // A `describe` that fails (a trap: a bug in the plugin, which every run of it would
    // hit too) does not hide what inspection found; it is reported beside it.
    let (described, describe_error) = if unknown.is_empty() {
        match describe(ctx, &args.file, &found) {
            Ok(described) => (Some(described), None),
            Err(CliError::Host(e)) => (None, Some(e)),
            Err(e) => return Err(e),
        }
    } else {
        (None, None)
    };
    let describe_failed = describe_error.map(|e| e.to_string());
    if ctx.mode.json {
        json::line(&InspectLine {
            kind: "plugin-inspect",
            path: &args.file,
            component: true,
            capabilities: found.capabilities(),
            inspection: &found,
            describe: described.as_ref(),
            describe_error: describe_failed.as_deref(),
        })?;
    } else {
        write_inspection(&args.file, &found, described.as_ref())?;
        if let Some(error) = &describe_failed {
            writeln!(
                std::io::stdout().lock(),
                "describe      failed, so every run of it fails too: {}",
                escape_control(error)
            )?;
        }
    }
    if !unknown.is_empty() {
        return Err(forge_plugin_tools::Error::UnknownImports {
            path: args.file.clone(),
            imports: unknown.into_iter().map(str::to_owned).collect(),
        }
        .into());
    }
    Ok(Outcome::Ok)
}

/// What a component's `describe` returns.
#[derive(Serialize)]
struct Described {
    name: String,
    version: String,
    description: String,
    /// The JSON Schema of the step's `config` block (as JSON; as text if it is not JSON).
    config_schema: serde_json::Value,
    /// The capabilities it says it needs at run time.
    capabilities: Vec<String>,
}

/// Runs the component's `describe` in the plugin host (granted exactly what its imports
/// need, nothing run but `describe`), for its name, version and config schema.
fn describe(ctx: &Context<'_>, path: &Path, found: &Inspection) -> Result<Described, CliError> {
    let bytes = std::fs::read(path).map_err(|source| CliError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let host = forge_host::Host::new(forge_host::HostConfig {
        cache_dir: Some(ctx.store_dir()),
        ..forge_host::HostConfig::default()
    })?;
    let name = path
        .file_stem()
        .map_or_else(|| "plugin".to_owned(), |s| s.to_string_lossy().into_owned());
    let code = forge_host::PluginCode::new(name, bytes);
    let grants = forge_host::GrantSet::from_grants(&found.grants);
    let info = runtime.block_on(host.describe(&code, grants))?;
    Ok(Described {
        config_schema: serde_json::from_str(&info.config_schema)
            .unwrap_or(serde_json::Value::String(info.config_schema)),
        name: info.name,
        version: info.version,
        description: info.description,
        capabilities: info.capabilities,
    })
}

fn write_inspection(
    path: &Path,
    found: &Inspection,
    described: Option<&Described>,
) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "file          {}", path.display())?;
    if let Some(d) = described {
        writeln!(
            out,
            "plugin        {} {}",
            escape_control(&d.name),
            escape_control(&d.version)
        )?;
        if !d.description.is_empty() {
            writeln!(out, "description   {}", escape_control(&d.description))?;
        }
    }
    writeln!(out, "kind          component")?;
    writeln!(out, "world         {}", found.world)?;
    writeln!(
        out,
        "contract      {} (this forge speaks {CONTRACT_VERSION})",
        found.version
    )?;
    writeln!(
        out,
        "toolchain     {}",
        found.toolchain.as_deref().map_or_else(
            || "not recorded (not built by `forge plugin build`)".into(),
            escape_control
        )
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
    if let Some(d) = described {
        // What the step's `config` block must match: the host checks it before `run`.
        let schema = serde_json::to_string_pretty(&d.config_schema).unwrap_or_default();
        let mut lines = schema.lines();
        writeln!(
            out,
            "config schema {}",
            escape_control(lines.next().unwrap_or("{}"))
        )?;
        for line in lines {
            writeln!(out, "              {}", escape_control(line))?;
        }
    }
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
/// Where `forge plugin build` writes without `--out`: the `plugins/` folder of the forge
/// project around the current directory (else around the crate), so the printed pin line is
/// usable as it is; outside any project, `None` (the crate's `dist/`).
fn default_dir(crate_dir: &Path) -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let project = forge_engine::model::find_project_file(&cwd)
        .or_else(|| forge_engine::model::find_project_file(&cwd.join(crate_dir)))?;
    Some(project.parent()?.join("plugins"))
}

/// How the pin line names a component.
enum PinPath {
    /// Relative to the project that holds it, `/`-separated: what project.kdl takes.
    InProject(String),
    /// Not inside any forge project: it must be copied into one first.
    Outside,
}

/// The component's path as project.kdl names it: relative to the folder of the project
/// file above it (project.kdl refuses absolute paths and paths outside the project).
fn pin_path(path: &Path) -> PinPath {
    let Ok(cwd) = std::env::current_dir() else {
        return PinPath::Outside;
    };
    let absolute = cwd.join(path);
    let absolute = std::fs::canonicalize(&absolute).unwrap_or(absolute);
    let Some(base) = absolute
        .parent()
        .and_then(forge_engine::model::find_project_file)
        .and_then(|file| file.parent().map(Path::to_path_buf))
    else {
        return PinPath::Outside;
    };
    let base = std::fs::canonicalize(&base).unwrap_or(base);
    match absolute.strip_prefix(&base) {
        Ok(relative) => PinPath::InProject(
            relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
        ),
        Err(_) => PinPath::Outside,
    }
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none (log and outputs are always granted)".to_owned()
    } else {
        items.join(", ")
    }
}
