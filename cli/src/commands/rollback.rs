//! `forge rollback`: show what goes back, ask, then deploy with the earlier pushes
//! pinned (see `forge_engine::session::rollback`).

use std::io::Write;

use forge_engine::events::Summary;
use forge_engine::model::Phase;
use forge_engine::session::RunOptions;
use forge_engine::session::rollback::RollbackPlan;
use forge_engine::text::escape_control;

use crate::cli::RollbackArgs;
use crate::commands::run;
use crate::context::Context;
use crate::exit::{CliError, Outcome};
use crate::report::json;

pub fn rollback(ctx: &Context<'_>, args: &RollbackArgs) -> Result<Outcome, CliError> {
    let mut reporter = ctx
        .mode
        .run_reporter(args.junit.as_deref(), "forge rollback");
    // Like a run, a rollback that cannot start says so in `--json` too.
    let planned = ctx.open_session().and_then(|session| {
        let plan = session.rollback_plan(&args.services)?;
        Ok((session, plan))
    });
    let (session, plan) = match planned {
        Ok(planned) => planned,
        Err(err) => return run::abort(reporter.as_mut(), err, &Summary::default()),
    };
    show(ctx, &session.env, &plan)?;
    if !args.yes
        && let Err(err) = confirm(&session.env)
    {
        return run::abort(reporter.as_mut(), err, &Summary::default());
    }
    let options = RunOptions {
        step_timeout: args.timeout,
        lock_timeout: args.lock_timeout.unwrap_or_default(),
        pinned: plan.pinned,
        rollback_of: Some(plan.to.id.clone()),
        ..run::options(ctx, Phase::Deploy)
    };
    run::execute(&session, options, reporter)
}

fn show(ctx: &Context<'_>, env: &str, plan: &RollbackPlan) -> Result<(), CliError> {
    if ctx.mode.json {
        let changes: Vec<serde_json::Value> = plan
            .changes
            .iter()
            .map(|c| {
                serde_json::json!({
                    "service": c.service,
                    "image_now": c.image_now,
                    "image_then": c.image_then,
                    "revision_now": c.revision_now,
                    "revision_then": c.revision_then,
                })
            })
            .collect();
        json::line(&serde_json::json!({
            "type": "rollback-plan",
            "env": env,
            "to": plan.to.id,
            "from": plan.from.id,
            "to_commit": plan.to.commit,
            "changes": changes,
        }))?;
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    let commit = plan
        .to
        .commit
        .as_deref()
        .map(|c| format!(", commit {}", c.chars().take(12).collect::<String>()))
        .unwrap_or_default();
    writeln!(
        out,
        "{}",
        escape_control(&format!(
            "rolling back env {env} to the images of run {}{commit}:",
            plan.to.id
        ))
    )?;
    for c in &plan.changes {
        let rev = |r: &Option<String>| r.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
        writeln!(
            out,
            "  {}",
            escape_control(&format!(
                "{}: {}{} → {}{}",
                c.service,
                c.image_now,
                rev(&c.revision_now),
                c.image_then,
                rev(&c.revision_then)
            ))
        )?;
    }
    Ok(())
}

/// Asks on the terminal; without one, `--yes` is required.
fn confirm(env: &str) -> Result<(), CliError> {
    let question =
        format!("Apply this to env {env} (render, lock, terraform apply, watch the rollouts)?");
    match super::ask_yes(&question)? {
        None => Err(CliError::RollbackNeedsConfirmation),
        Some(true) => Ok(()),
        Some(false) => Err(CliError::RollbackDeclined),
    }
}
