//! `forge show STEP`: the step's last result in the env, straight from the store: which run
//! produced it and when, its fingerprint, its manifest, and its output files with sizes and
//! hashes. `--output NAME` writes one file's bytes to stdout, `--out DIR` copies them all.
//! As JSON: one `show` line (the [`StepResult`]), or with `--out` a `show-out` line.

use std::io::Write;
use std::path::Path;

use forge_engine::session::{Session, StepResult};
use forge_engine::text::{escape_control, human_bytes};
use serde::Serialize;

use crate::cli::ShowArgs;
use crate::commands::history::when;
use crate::context::Context;
use crate::exit::{CliError, Outcome};
use crate::report::json;

#[derive(Serialize)]
struct ShowLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    result: &'a StepResult,
}

#[derive(Serialize)]
struct ShowOutLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    step: &'a str,
    dir: &'a Path,
    files: Vec<&'a str>,
    bytes: u64,
}

pub fn show(ctx: &Context<'_>, args: &ShowArgs) -> Result<Outcome, CliError> {
    if args.output.is_some() && ctx.mode.json {
        return Err(CliError::ShowOutputJson);
    }
    let session = ctx.open_session()?;
    let result = session.show(&args.step)?;
    if let Some(name) = &args.output {
        let bytes = session.output_contents(&result, name)?;
        std::io::stdout().lock().write_all(&bytes)?;
        return Ok(Outcome::Ok);
    }
    if let Some(dir) = &args.out {
        let written = copy_out(&session, &result, dir)?;
        if ctx.mode.json {
            json::line(&ShowOutLine {
                kind: "show-out",
                step: &result.step,
                dir,
                files: result.files.keys().map(String::as_str).collect(),
                bytes: written,
            })?;
        } else if !ctx.global.quiet {
            writeln!(
                std::io::stdout().lock(),
                "Wrote {} output file{} of {} ({}) to {}",
                result.files.len(),
                if result.files.len() == 1 { "" } else { "s" },
                result.step,
                human_bytes(written),
                dir.display()
            )?;
        }
        return Ok(Outcome::Ok);
    }
    if ctx.mode.json {
        json::line(&ShowLine {
            kind: "show",
            result: &result,
        })?;
        return Ok(Outcome::Ok);
    }
    let mut out = std::io::stdout().lock();
    // Names, manifest values and command lines come from plugins and users: no control
    // character of theirs reaches the terminal.
    for line in describe(&result).lines() {
        writeln!(out, "{}", escape_control(line))?;
    }
    Ok(Outcome::Ok)
}

/// The text form: the result's provenance, its manifest, its files and how to read them.
fn describe(result: &StepResult) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}), env {}: last result",
        result.step, result.plugin, result.env
    );
    let how = match &result.origin {
        Some(origin) => format!("{} ({origin})", status_word(result)),
        None => status_word(result).to_owned(),
    };
    let _ = writeln!(
        out,
        "  run:          {} ({how}), `{}`, finished {}",
        result.run,
        result.command,
        when(result.finished_ms)
    );
    let _ = writeln!(out, "  stored:       {}", when(result.stored_ms));
    let _ = writeln!(out, "  fingerprint:  {}", result.fingerprint);
    let _ = writeln!(out, "  output hash:  {}", result.output);
    let manifest = serde_json::to_string_pretty(&result.manifest).unwrap_or_default();
    let _ = writeln!(out, "manifest:");
    for line in manifest.lines() {
        let _ = writeln!(out, "  {line}");
    }
    if result.files.is_empty() {
        let _ = writeln!(out, "outputs: none (the manifest is the whole result)");
        return out;
    }
    let total: u64 = result.files.values().map(|f| f.file.size).sum();
    let _ = writeln!(
        out,
        "outputs: {} file{}, {}",
        result.files.len(),
        if result.files.len() == 1 { "" } else { "s" },
        human_bytes(total)
    );
    let width = result.files.keys().map(|n| n.len()).max().unwrap_or(0);
    for (name, file) in &result.files {
        let _ = writeln!(
            out,
            "  {name:width$}  {:>10}  blake3:{}{}",
            human_bytes(file.file.size),
            file.file.hash,
            if file.local {
                ""
            } else {
                "  (in the remote cache, not in this store)"
            }
        );
    }
    let first = result.files.keys().next().map(String::as_str).unwrap_or("");
    let _ = writeln!(
        out,
        "Read one: forge show {} --env {} --output {first}",
        result.step, result.env
    );
    let _ = writeln!(
        out,
        "Copy all: forge show {} --env {} --out DIR",
        result.step, result.env
    );
    out
}

fn status_word(result: &StepResult) -> &'static str {
    match result.status {
        forge_engine::events::StepStatus::Ran => "ran",
        forge_engine::events::StepStatus::Cached => "cached",
        forge_engine::events::StepStatus::Failed => "failed",
        forge_engine::events::StepStatus::Skipped => "skipped",
    }
}

/// Copies every output file of `result` into `dir`, which must not exist or be empty, after
/// checking that every file can be read: on any error nothing is left half-written beyond
/// the files already complete. Returns the bytes written.
fn copy_out(session: &Session, result: &StepResult, dir: &Path) -> Result<u64, CliError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(CliError::ShowOutDir {
                    path: dir.to_owned(),
                    why: "it is not empty".into(),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(CliError::ShowOutDir {
                path: dir.to_owned(),
                why: "it is a file".into(),
            });
        }
        Err(source) => {
            return Err(CliError::Io {
                action: "read",
                path: dir.to_owned(),
                source,
            });
        }
    }
    // Read (and verify) everything first: a file missing from this store fails the whole
    // copy before anything is written.
    let mut contents = Vec::with_capacity(result.files.len());
    for name in result.files.keys() {
        forge_engine::executor::check_relative_path(name).map_err(|why| {
            forge_engine::Error::Internal(format!("stored output file name `{name}`: {why}"))
        })?;
        contents.push((name, session.output_contents(result, name)?));
    }
    let mut written = 0;
    for (name, bytes) in contents {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| CliError::Io {
                action: "create",
                path: parent.to_owned(),
                source,
            })?;
        }
        std::fs::write(&path, &bytes).map_err(|source| CliError::Io {
            action: "write",
            path: path.clone(),
            source,
        })?;
        written += bytes.len() as u64;
    }
    if result.files.is_empty() {
        std::fs::create_dir_all(dir).map_err(|source| CliError::Io {
            action: "create",
            path: dir.to_owned(),
            source,
        })?;
    }
    Ok(written)
}
