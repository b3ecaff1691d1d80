//! `forge build` and `forge deploy`: run the graph, report as it goes, map the result to
//! an exit status.
//!
//! Ctrl-C (or SIGTERM) cancels the run's token: running steps are told to stop, nothing new starts, the
//! engine records what finished, and forge exits 130. A second Ctrl-C exits at once (the
//! store stays consistent either way: every write is atomic).

use std::sync::Arc;

use forge_engine::events::{EventSink, Summary};
use forge_engine::executor::Executor;
use forge_engine::model::Phase;
use forge_engine::session::{RunOptions, Session};
use forge_engine::store::RunRecord;
use tokio_util::sync::CancellationToken;

use crate::cli::{BuildArgs, DeployArgs, RunArgs};
use crate::context::Context;
use crate::executor::{builtins, host_executor, test_executor};
use crate::exit::{CliError, Outcome};
use crate::report::{Reporter, Tally};

/// `forge build`, and with `--release-out`, the release manifest of what it pushed.
pub fn build(ctx: &Context<'_>, args: &BuildArgs) -> Result<Outcome, CliError> {
    let (session, reporter) = match start(ctx, args.run.junit.as_deref(), "forge build") {
        Ok(started) => started,
        Err(aborted) => return aborted,
    };
    let options = RunOptions {
        check: args.check,
        ..run_options(ctx, &args.run, Phase::Build)
    };
    let Some(path) = &args.release_out else {
        return execute(&session, options, reporter);
    };
    execute_then(&session, options, reporter, |record| {
        let release = session.release(record)?;
        forge_engine::store::write_atomic_beside(path, release.to_json().as_bytes()).map_err(
            |source| CliError::Io {
                action: "write the release manifest to",
                path: path.clone(),
                source,
            },
        )?;
        if !ctx.mode.json {
            crate::report::stderr_line(format_args!(
                "release manifest {}: {} of commit {}",
                path.display(),
                crate::exit::plural(release.images.len(), "image"),
                forge_engine::text::short_hash(&release.commit)
            ));
        }
        Ok(())
    })
}

/// `forge deploy`; with `--release`, of exactly the images a CI build released.
pub fn deploy(ctx: &Context<'_>, args: &DeployArgs) -> Result<Outcome, CliError> {
    let (session, mut reporter) = match start(ctx, args.run.junit.as_deref(), "forge deploy") {
        Ok(started) => started,
        Err(aborted) => return aborted,
    };
    let mut options = run_options(ctx, &args.run, Phase::Deploy);
    if let Some(path) = &args.release {
        match super::release::pins(&session, path) {
            Ok(pinned) => options.pinned = pinned,
            Err(err) => return abort(reporter.as_mut(), err, &Summary::default()),
        }
    }
    execute(&session, options, reporter)
}

/// The session and reporter (writing `junit` too, when given) of a run named `suite`;
/// when the project cannot be opened, the run is over and `Err` holds how it ended (the
/// error reported, in `--json` and the JUnit report too).
#[allow(clippy::type_complexity)]
pub(crate) fn start(
    ctx: &Context<'_>,
    junit: Option<&std::path::Path>,
    suite: &str,
) -> Result<(Session, Box<dyn Reporter>), Result<Outcome, CliError>> {
    let mut reporter = ctx.mode.run_reporter(junit, suite);
    match ctx.open_session() {
        Ok(session) => Ok((session, reporter)),
        Err(err) => Err(abort(reporter.as_mut(), err, &Summary::default())),
    }
}

fn run_options(ctx: &Context<'_>, args: &RunArgs, phase: Phase) -> RunOptions {
    RunOptions {
        targets: args.steps.clone(),
        step_timeout: args.timeout,
        lock_timeout: args.lock_timeout.unwrap_or_default(),
        ..options(ctx, phase)
    }
}

/// The options every run shares: the phase, `-j`, the command line, a fresh cancel token.
pub(crate) fn options(ctx: &Context<'_>, phase: Phase) -> RunOptions {
    RunOptions {
        jobs: ctx.jobs(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        ..RunOptions::new(phase)
    }
}

/// Runs `options` on the session (a deploy, a build, a rollback), reporting as it goes,
/// and maps the result to an exit status.
pub(crate) fn execute(
    session: &Session,
    options: RunOptions,
    reporter: Box<dyn Reporter>,
) -> Result<Outcome, CliError> {
    execute_then(session, options, reporter, |_| Ok(()))
}

/// [`execute`], calling `after` with the run's record when every step succeeded, before
/// the summary: what it fails with is the run's error.
pub(crate) fn execute_then(
    session: &Session,
    options: RunOptions,
    mut reporter: Box<dyn Reporter>,
    after: impl FnOnce(&RunRecord) -> Result<(), CliError>,
) -> Result<Outcome, CliError> {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            return abort(
                reporter.as_mut(),
                CliError::Runtime(err),
                &Summary::default(),
            );
        }
    };
    let cancel = options.cancel.clone();
    let timeout = options.step_timeout;
    let check = options.check;
    let test_executor = match test_executor() {
        Ok(executor) => executor,
        Err(err) => return abort(reporter.as_mut(), err, &Summary::default()),
    };
    let host = match host_executor(session.store_dir.clone(), builtins(), timeout) {
        Ok(host) => host,
        Err(err) => return abort(reporter.as_mut(), err, &Summary::default()),
    };
    let (result, tally) = runtime.block_on(async {
        tokio::spawn(watch_ctrl_c(cancel.clone()));
        match test_executor {
            Some(executor) => drive(session, Arc::new(executor), options, reporter.as_mut()).await,
            None => drive(session, Arc::new(host), options, reporter.as_mut()).await,
        }
    })?;
    match result {
        Ok((summary, record)) => {
            let succeeded = summary.failed == 0 && !summary.cancelled && !cancel.is_cancelled();
            if succeeded
                && summary.lock_left.is_none()
                && let Err(err) = after(&record)
            {
                return abort(reporter.as_mut(), err, &summary);
            }
            reporter.finish(&summary)?;
            if let Some(id) = summary.lock_left.clone() {
                Err(CliError::LockLeft {
                    id,
                    env: session.env.clone(),
                })
            } else if summary.cancelled || cancel.is_cancelled() {
                Err(CliError::Interrupted)
            } else if check && (summary.failed > 0 || !tally.failed.is_empty()) {
                Err(CliError::NotReproducible {
                    failed: tally.failed,
                })
            } else if summary.failed > 0 || !tally.failed.is_empty() {
                Err(CliError::StepsFailed {
                    failed: tally.failed,
                    help: FAILURE_HELP.to_string(),
                })
            } else {
                Ok(Outcome::Ok)
            }
        }
        Err(err) => {
            let mut summary = tally.summary;
            summary.cancelled = cancel.is_cancelled();
            abort(reporter.as_mut(), err.into(), &summary)
        }
    }
}

const FAILURE_HELP: &str = "each step's error is printed above; fix it and run again (steps \
                            that succeeded are cached and will not rerun)";

pub(crate) fn abort(
    reporter: &mut dyn Reporter,
    err: CliError,
    summary: &Summary,
) -> Result<Outcome, CliError> {
    reporter.abort(&err, summary)?;
    Err(err)
}

/// Runs the session and feeds its events to the reporter while it runs. The outer error
/// is only a failure to write output.
async fn drive<E: Executor>(
    session: &Session,
    executor: Arc<E>,
    options: RunOptions,
    reporter: &mut dyn Reporter,
) -> Result<(Result<(Summary, RunRecord), forge_engine::Error>, Tally), CliError> {
    let (sink, mut events) = EventSink::channel();
    let mut tally = Tally::default();
    let run = session.run_recorded(executor, options, sink);
    tokio::pin!(run);
    // The run may hand clones of the sink to tasks that outlive it, so stop on the run's
    // result, not on the channel closing, then drain what is already queued.
    let result = loop {
        tokio::select! {
            biased;
            Some(event) = events.recv() => {
                tally.record(&event);
                reporter.event(&event)?;
            }
            result = &mut run => break result,
        }
    };
    while let Ok(event) = events.try_recv() {
        tally.record(&event);
        reporter.event(&event)?;
    }
    Ok((result, tally))
}

async fn watch_ctrl_c(cancel: CancellationToken) {
    if !interrupt().await {
        return;
    }
    crate::report::stderr_line(format_args!(
        "interrupting: letting running steps stop cleanly (Ctrl-C again to quit now)"
    ));
    cancel.cancel();
    if interrupt().await {
        std::process::exit(130);
    }
}

/// Ctrl-C, or SIGTERM (what CI servers such as Jenkins send when a job is aborted).
/// `false` when no signal handler could be installed.
async fn interrupt() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                result = tokio::signal::ctrl_c() => result.is_ok(),
                received = term.recv() => received.is_some(),
            };
        }
    }
    tokio::signal::ctrl_c().await.is_ok()
}
