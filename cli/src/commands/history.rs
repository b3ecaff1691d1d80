//! `forge history`: the env's deploys, newest first (when, commit, images, who, result).

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use forge_engine::store::RunOutcome;
use forge_engine::text::escape_control;

use crate::cli::HistoryArgs;
use crate::context::Context;
use crate::exit::{CliError, Outcome};
use crate::report::json;

pub fn history(ctx: &Context<'_>, args: &HistoryArgs) -> Result<Outcome, CliError> {
    let session = ctx.open_session()?;
    let deploys = session.deploys()?;
    let mut out = std::io::stdout().lock();
    if deploys.is_empty() && !ctx.mode.json {
        writeln!(
            out,
            "no deploys of env {} in this store yet (`forge deploy --env {}`)",
            session.env, session.env
        )?;
    }
    for deploy in deploys.iter().take(args.limit) {
        let run = &deploy.run;
        let outcome = match run.outcome {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
            RunOutcome::Cancelled => "cancelled",
        };
        if ctx.mode.json {
            json::line(&serde_json::json!({
                "type": "deploy",
                "env": session.env,
                "run": run.id,
                "started": when(run.started),
                "finished": when(run.finished),
                "commit": run.commit,
                "user": run.user,
                "outcome": outcome,
                "rollback_of": run.rollback_of,
                "images": deploy.images,
                "revisions": deploy.revisions,
            }))?;
            continue;
        }
        let commit = run
            .commit
            .as_deref()
            .map_or("-".to_owned(), |c| c.chars().take(12).collect());
        let mut line = format!(
            "{}  {}  {commit}  {}  {outcome}",
            run.id,
            when(run.started),
            run.user.as_deref().unwrap_or("-"),
        );
        if let Some(of) = &run.rollback_of {
            line.push_str(&format!("  (rollback to {of})"));
        }
        writeln!(out, "{}", escape_control(&line))?;
        for (service, image) in &deploy.images {
            let revision = deploy
                .revisions
                .get(service)
                .map(|revision| format!(" ({revision})"))
                .unwrap_or_default();
            writeln!(
                out,
                "    {}",
                escape_control(&format!("{service}: {image}{revision}"))
            )?;
        }
    }
    Ok(Outcome::Ok)
}

/// RFC 3339 UTC, to the second.
pub(crate) fn when(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}
