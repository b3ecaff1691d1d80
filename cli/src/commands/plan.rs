//! `forge plan`: which steps would run and why, without running anything.
//!
//! With `--json`: one `{"type":"plan-step", "step":.., "status":..}` line per step (status
//! `cached`, `stale` with its `reason` (cached, but what it describes changed outside
//! forge), `never-run`, `changed` with its `changes`, `not-in-store`, or
//! `after-upstream` with the `upstream` steps it waits for; `locked: true` inside the
//! env's state lock), a `plan-lock` line (`backend`, `taken`) when the env has a state
//! lock, then a `summary` line with `would_run` and the same four counts a run reports (`ran`, `failed`
//! and `skipped` are 0: a plan runs nothing).

use std::time::Duration;

use forge_engine::events::{Event, EventSink};
use forge_engine::session::{InfraPlan, Plan, PlanStatus, PlannedStep, Session};
use forge_engine::text::{escape_control, escaped_lines};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::cli::{PhaseArg, PlanArgs};
use crate::context::Context;
use crate::executor::{builtins, host_executor, test_executor, with_rechecker};
use crate::exit::{CliError, Outcome, plural};
use crate::report::{Reporter, Style, Verbosity, json};

pub fn plan(ctx: &Context<'_>, args: &PlanArgs) -> Result<Outcome, CliError> {
    if args.terraform && args.phase == PhaseArg::Build {
        return Err(CliError::TerraformNeedsDeploy);
    }
    let planned = ctx.open_session().and_then(|session| {
        let plan = with_rechecker(session.store_dir.clone(), |recheck| {
            Ok(session.plan(args.phase.into(), recheck)?)
        })?;
        let infra = if args.terraform {
            infra_plan(&session, args.lock_timeout.unwrap_or_default())?
        } else {
            None
        };
        Ok((plan, infra))
    });
    let (plan, infra) = match planned {
        Ok(plan) => plan,
        // The JSON contract holds on failure too: an `error` line, then the `summary`.
        Err(err) if ctx.mode.json => {
            json::line(&json::error_value(&err))?;
            json::line(&PlanSummary {
                kind: "summary",
                env: ctx.global.env.as_deref(),
                would_run: 0,
                ran: 0,
                cached: 0,
                failed: 0,
                skipped: 0,
            })?;
            return Err(err);
        }
        Err(err) => return Err(err),
    };
    if ctx.mode.json {
        if let Some(infra) = &infra {
            let mut reporter = json::JsonReporter::new();
            for event in &infra.log {
                reporter.event(event)?;
            }
        }
        print_json(&plan, infra.as_ref())?;
    } else {
        print_human(ctx, &plan, args.phase)?;
        if let Some(infra) = &infra {
            print_infra(ctx, &plan.env, infra)?;
        } else if args.terraform {
            println!("terraform: env {} has no modules", plan.env);
        }
    }
    if let Some(Infra {
        plan: InfraPlan::Failed { .. },
        ..
    }) = &infra
    {
        return Err(CliError::TerraformPlanFailed {
            env: plan.env.clone(),
        });
    }
    let infra_changes = infra.as_ref().is_some_and(|i| i.plan.has_changes());
    Ok(
        if args.detailed_exitcode && (plan.has_work() || infra_changes) {
            Outcome::PlanHasWork
        } else {
            Outcome::Ok
        },
    )
}

#[derive(Serialize)]
struct PlanLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    step: &'a PlannedStep,
}

#[derive(Serialize)]
struct PlanSummary<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    /// `None` only when the project could not be opened and no `--env` was given.
    env: Option<&'a str>,
    would_run: usize,
    ran: usize,
    cached: usize,
    failed: usize,
    skipped: usize,
}

/// `terraform plan` of the env, and what its steps logged.
struct Infra {
    plan: InfraPlan,
    log: Vec<Event>,
}

/// Runs the env's `terraform plan` through this forge's executor (see
/// [`forge_engine::session::Session::terraform_plan`]); `None` without modules.
fn infra_plan(session: &Session, lock_timeout: Duration) -> Result<Option<Infra>, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let cancel = CancellationToken::new();
    let (events, mut rx) = EventSink::channel();
    let planned = match test_executor()? {
        Some(executor) => {
            runtime.block_on(session.terraform_plan(&executor, lock_timeout, &cancel, &events))
        }
        None => {
            let host = host_executor(session.store_dir.clone(), builtins(), None)?;
            runtime.block_on(session.terraform_plan(&host, lock_timeout, &cancel, &events))
        }
    }?;
    drop(events);
    let mut log = Vec::new();
    while let Ok(event) = rx.try_recv() {
        if matches!(event, Event::StepLog { .. }) {
            log.push(event);
        }
    }
    Ok(planned.map(|plan| Infra { plan, log }))
}

fn print_infra(ctx: &Context<'_>, env: &str, infra: &Infra) -> std::io::Result<()> {
    use std::io::Write;

    let style = Style::new(ctx.mode.color);
    let mut out = std::io::stdout().lock();
    if ctx.mode.verbosity >= Verbosity::Verbose {
        for event in &infra.log {
            if let Event::StepLog { step, line } = event {
                for line in escaped_lines(line) {
                    writeln!(out, "  {step} | {line}")?;
                }
            }
        }
    }
    writeln!(
        out,
        "{}",
        style.bold(&format!(
            "terraform plan (env {env}): {}",
            infra.plan.describe()
        ))
    )?;
    if let InfraPlan::Failed { reason, .. } = &infra.plan {
        for line in escaped_lines(reason) {
            writeln!(out, "  {line}")?;
        }
    }
    Ok(())
}

fn print_json(plan: &Plan, infra: Option<&Infra>) -> std::io::Result<()> {
    for step in &plan.steps {
        json::line(&PlanLine {
            kind: "plan-step",
            step,
        })?;
    }
    if let Some(lock) = &plan.lock {
        json::line(&serde_json::json!({
            "type": "plan-lock",
            "backend": lock.backend,
            "taken": lock.taken,
        }))?;
    }
    if let Some(infra) = infra {
        let mut value = serde_json::to_value(&infra.plan)?;
        value["type"] = "plan-terraform".into();
        value["env"] = plan.env.clone().into();
        if let InfraPlan::Failed { reason, .. } = &infra.plan {
            value["reason"] = escape_control(reason).into_owned().into();
        }
        json::line(&value)?;
    }
    let cached = cached_count(plan);
    json::line(&PlanSummary {
        kind: "summary",
        env: Some(&plan.env),
        would_run: plan.steps.len() - cached,
        ran: 0,
        cached,
        failed: 0,
        skipped: 0,
    })
}

fn cached_count(plan: &Plan) -> usize {
    plan.steps
        .iter()
        .filter(|s| matches!(s.status, PlanStatus::Cached))
        .count()
}

fn print_human(ctx: &Context<'_>, plan: &Plan, phase: PhaseArg) -> std::io::Result<()> {
    use std::io::Write;

    let style = Style::new(ctx.mode.color);
    let verbose = ctx.mode.verbosity >= Verbosity::Verbose;
    let cached = cached_count(plan);
    let would_run = plan.steps.len() - cached;
    let command = match phase {
        PhaseArg::Build => "forge build",
        PhaseArg::Deploy => "forge deploy",
    };
    let mut out = std::io::stdout().lock();
    if would_run == 0 {
        writeln!(
            out,
            "nothing to do: {} cached (env {}, {command})",
            plural(cached, "step"),
            plan.env
        )?;
        return Ok(());
    }
    // `-q`: the summary line is all.
    let quiet = ctx.mode.verbosity == Verbosity::Quiet;
    writeln!(
        out,
        "{}",
        style.bold(&format!(
            "{} of {} would run (env {}, {command}){}",
            would_run,
            plural(plan.steps.len(), "step"),
            plan.env,
            if quiet { "" } else { ":" }
        ))
    )?;
    if quiet {
        return Ok(());
    }
    let width = plan.steps.iter().map(|s| s.step.len()).max().unwrap_or(0);
    for step in &plan.steps {
        let cached = matches!(step.status, PlanStatus::Cached);
        if cached && !verbose {
            continue;
        }
        let mut line = if cached {
            format!("  {:<7}{}", "cached", step.step)
        } else {
            format!(
                "  {:<7}{:<width$}  {}",
                "run",
                step.step,
                step.status.describe()
            )
        };
        if step.locked {
            line = format!("{}  {}", line.trim_end(), forge_engine::graph::LOCKED_MARK);
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    if let Some(lock) = plan.lock.as_ref().filter(|l| l.taken) {
        writeln!(
            out,
            "  {:<7}the state lock ({}) around the {} steps",
            "lock",
            lock.backend,
            forge_engine::graph::LOCKED_MARK
        )?;
    }
    if cached > 0 && !verbose {
        writeln!(out, "  ({} cached; -v lists them)", plural(cached, "step"))?;
    }
    Ok(())
}
