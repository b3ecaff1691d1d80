//! `forge lock status | force-unlock`: the env's Terraform state lock, read and released
//! through the same `state-lock` plugin a deploy takes it with.

use std::io::Write;

use forge_engine::events::EventSink;
use forge_engine::executor::Executor;
use forge_engine::lock::{self, LockInfo};
use forge_engine::session::Session;
use forge_engine::text::escape_control;
use serde::Serialize;

use crate::cli::LockCommand;
use crate::context::Context;
use crate::executor::{builtins, host_executor, test_executor};
use crate::exit::{CliError, Outcome};
use crate::report::json;

/// `forge lock status --json`.
#[derive(Serialize)]
struct Status<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    env: &'a str,
    /// Where the lock is (`S3 lockfile s3://…`).
    backend: String,
    held: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    holder: Option<&'a LockInfo>,
    /// Seconds since the lock was taken, when its `Created` time reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    age_secs: Option<u64>,
    /// The forge run and commit, when forge holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    forge_run: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<String>,
}

pub fn lock(ctx: &Context<'_>, command: &LockCommand) -> Result<Outcome, CliError> {
    let session = ctx.open_session()?;
    // Before anything touches the network: an env without a lock is a usage error.
    let backend = session.lock_backend()?.describe();
    if let LockCommand::ForceUnlock(args) = command
        && !args.yes
    {
        confirm(&session, &args.id)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    match test_executor()? {
        Some(executor) => runtime.block_on(act(ctx, &session, &executor, command, backend)),
        None => {
            let host = host_executor(session.store_dir.clone(), builtins(), None)?;
            runtime.block_on(act(ctx, &session, &host, command, backend))
        }
    }
}

async fn act<E: Executor>(
    ctx: &Context<'_>,
    session: &Session,
    executor: &E,
    command: &LockCommand,
    backend: String,
) -> Result<Outcome, CliError> {
    let mut out = std::io::stdout().lock();
    match command {
        LockCommand::Status => {
            let holder = session.lock_status(executor, EventSink::null()).await?;
            let forge = holder.as_ref().and_then(LockInfo::forge);
            if ctx.mode.json {
                json::line(&Status {
                    kind: "lock-status",
                    env: &session.env,
                    backend,
                    held: holder.is_some(),
                    holder: holder.as_ref(),
                    age_secs: holder
                        .as_ref()
                        .and_then(|h| lock::age(&h.created))
                        .map(|d| d.as_secs()),
                    forge_run: forge.as_ref().map(|f| f.run.clone()),
                    commit: forge.and_then(|f| f.commit),
                })?;
                return Ok(Outcome::Ok);
            }
            writeln!(out, "env:       {}", session.env)?;
            writeln!(out, "lock:      {backend}")?;
            let Some(holder) = holder else {
                writeln!(out, "status:    free")?;
                return Ok(Outcome::Ok);
            };
            // Every field is read from S3/DynamoDB, which others write: escaped.
            let show = |s: &str| escape_control(s).into_owned();
            writeln!(out, "status:    held")?;
            writeln!(out, "ID:        {}", show(&holder.id))?;
            writeln!(out, "who:       {}", show(&holder.who))?;
            writeln!(out, "operation: {}", show(&holder.operation))?;
            match lock::age(&holder.created) {
                Some(age) => writeln!(
                    out,
                    "created:   {} ({} ago)",
                    show(&holder.created),
                    humantime::format_duration(age)
                )?,
                None => writeln!(out, "created:   {}", show(&holder.created))?,
            }
            if !holder.version.is_empty() {
                writeln!(out, "version:   {}", show(&holder.version))?;
            }
            match holder.forge() {
                Some(forge) => {
                    writeln!(out, "forge run: {}", show(&forge.run))?;
                    if let Some(commit) = &forge.commit {
                        writeln!(out, "commit:    {}", show(commit))?;
                    }
                    if !forge.command.is_empty() {
                        writeln!(out, "command:   {}", show(&forge.command))?;
                    }
                }
                None if !holder.info.is_empty() => {
                    writeln!(out, "info:      {}", show(&holder.info))?;
                }
                None => {}
            }
            Ok(Outcome::Ok)
        }
        LockCommand::ForceUnlock(args) => {
            let released = session
                .force_unlock(executor, &args.id, EventSink::null())
                .await?;
            let text = if released {
                format!("released state lock {} of env {}", args.id, session.env)
            } else {
                format!("the state lock of env {} is already free", session.env)
            };
            if ctx.mode.json {
                json::line(&serde_json::json!({
                    "type": "lock-force-unlock",
                    "env": session.env,
                    "id": args.id,
                    "released": released,
                }))?;
            } else {
                writeln!(out, "{}", escape_control(&text))?;
            }
            Ok(Outcome::Ok)
        }
    }
}

/// Asks on the terminal, like `terraform force-unlock` without `-force`.
fn confirm(session: &Session, id: &str) -> Result<(), CliError> {
    let question = format!(
        "Release state lock {} of env {}? Another process may still be using it; only continue if it is gone.",
        escape_control(id),
        session.env
    );
    match super::ask_yes(&question)? {
        None => Err(CliError::NeedsConfirmation),
        Some(true) => Ok(()),
        Some(false) => Err(CliError::Declined),
    }
}
