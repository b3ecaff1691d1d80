//! Turning engine events and results into output: progress bars on a terminal ([`tty`]),
//! timestamped lines for CI logs ([`plain`]) and JSON lines for machines ([`json`]).
//!
//! Human output goes to stdout; diagnostics go to stderr. In JSON mode stdout carries
//! nothing but JSON objects, one per line, each with a `type`, and the run's last line is
//! always the `summary`.
//!
//! What a step says (its log lines, its error and help) is third-party text. Every
//! reporter shows it through [`forge_engine::text`]: split at line breaks, control and
//! bidi characters escaped, and every line of it marked with the step id (`step| ...`
//! for humans, a `step` field in JSON), so no step can move the cursor, retitle the
//! terminal, or print a line that passes for one of forge's own.

pub mod json;
pub mod junit;
pub mod plain;
pub mod tty;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use forge_engine::events::{Event, LockChange, StepStatus, Summary};
use forge_engine::text::{escape_control, escaped_lines};

use crate::cli::{ColorChoice, GlobalArgs};
use crate::exit::plural;

/// Writes one line to stderr. Unlike `eprintln!`, a stderr that cannot be written (closed
/// by `2>&- `, a full disk, a reader that went away) is not a panic: the exit status still
/// tells the outcome, and there is nowhere left to report the failure.
pub fn stderr_line(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// How this invocation writes its output.
#[derive(Debug, Clone, Copy)]
pub struct OutputMode {
    pub json: bool,
    pub color: bool,
    pub verbosity: Verbosity,
    /// stdout is a terminal: progress bars instead of timestamped lines.
    pub tty: bool,
}

impl OutputMode {
    pub fn from_args(args: &GlobalArgs) -> OutputMode {
        let tty = std::io::stdout().is_terminal();
        let color = match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        };
        let verbosity = if args.quiet {
            Verbosity::Quiet
        } else if args.verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        };
        OutputMode {
            json: args.json,
            color: color && !args.json,
            verbosity,
            tty,
        }
    }

    /// The reporter for a run that also writes a JUnit report to `junit` when given
    /// (`suite` names the run: `forge deploy`).
    pub fn run_reporter(&self, junit: Option<&std::path::Path>, suite: &str) -> Box<dyn Reporter> {
        let reporter = self.reporter();
        match junit {
            Some(path) => Box::new(junit::JunitReporter::new(
                reporter,
                path.to_path_buf(),
                suite,
            )),
            None => reporter,
        }
    }

    /// The reporter for a build or deploy run.
    pub fn reporter(&self) -> Box<dyn Reporter> {
        if self.json {
            Box::new(json::JsonReporter::new())
        } else if self.tty {
            Box::new(tty::TtyReporter::new(*self))
        } else {
            Box::new(plain::PlainReporter::new(*self))
        }
    }
}

/// Receives a run's events as they happen, then its summary.
pub trait Reporter {
    fn event(&mut self, event: &Event) -> std::io::Result<()>;
    /// The run is over (also after a failure or Ctrl-C); `summary` is always the last thing
    /// written.
    fn finish(&mut self, summary: &Summary) -> std::io::Result<()>;
    /// The run could not start or go on (invalid project, store error, ...). `main` prints
    /// the diagnostic on stderr; a reporter only cleans up, or in JSON mode, still ends
    /// stdout with an `error` line and the summary of what happened so far.
    fn abort(&mut self, err: &dyn miette::Diagnostic, summary: &Summary) -> std::io::Result<()>;
}

/// Counts and failures seen so far, so a run that errors halfway still has a summary.
#[derive(Debug, Default)]
pub struct Tally {
    pub summary: Summary,
    pub failed: Vec<String>,
}

impl Tally {
    pub fn record(&mut self, event: &Event) {
        if let Event::StepFinished { step, status, .. } = event {
            match status {
                StepStatus::Ran => self.summary.ran += 1,
                StepStatus::Cached => self.summary.cached += 1,
                StepStatus::Failed => {
                    self.summary.failed += 1;
                    self.failed.push(step.clone());
                }
                StepStatus::Skipped => self.summary.skipped += 1,
            }
        }
    }
}

/// ANSI styles, applied only when colors are on.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    enabled: bool,
}

impl Style {
    pub fn new(enabled: bool) -> Style {
        Style { enabled }
    }

    fn paint(self, text: &str, code: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn bold(self, text: &str) -> String {
        self.paint(text, "1")
    }

    pub fn dim(self, text: &str) -> String {
        self.paint(text, "2")
    }

    /// A status word padded to one width, so step ids line up.
    pub fn status(self, status: StepStatus) -> String {
        let (word, code) = match status {
            StepStatus::Ran => ("ran", "32"),
            StepStatus::Cached => ("cached", "2"),
            StepStatus::Failed => ("failed", "1;31"),
            StepStatus::Skipped => ("skipped", "33"),
        };
        self.paint(&format!("{word:<7}"), code)
    }
}

/// `ran     docker-build:backend (1.2s): file src/main.rs changed`
///
/// A reason that spans lines (a step's error, then its `help:`) continues on lines of
/// [`step_text_lines`], so a step's error cannot start a line of its own.
pub fn step_lines(
    style: Style,
    step: &str,
    status: StepStatus,
    duration: Duration,
    reason: Option<&str>,
) -> Vec<String> {
    let mut line = format!("{} {}", style.status(status), escape_control(step));
    if matches!(status, StepStatus::Ran | StepStatus::Failed) {
        line.push_str(&style.dim(&format!(" ({})", format_duration(duration))));
    }
    let Some(reason) = reason else {
        return vec![line];
    };
    let mut reason = escaped_lines(reason);
    line.push_str(": ");
    line.push_str(&reason.next().unwrap_or_default());
    let mut lines = vec![line];
    lines.extend(reason.map(|more| step_text_line(style, step, &more)));
    lines
}

/// Text a step wrote (a log line, possibly several), one display line per line:
/// `docker-build:backend| Step 3/7 : RUN cargo build`, escaped.
pub fn step_text_lines(style: Style, step: &str, text: &str) -> Vec<String> {
    escaped_lines(text)
        .map(|line| step_text_line(style, step, &line))
        .collect()
}

/// One already escaped line of a step's text, behind the step id.
fn step_text_line(style: Style, step: &str, escaped: &str) -> String {
    format!(
        "{} {escaped}",
        style.dim(&format!("{}|", escape_control(step)))
    )
}

/// What happened to the env's state lock, as one line. The holder's fields come from an
/// S3 object or DynamoDB item anyone with access could have written: escaped.
pub fn lock_line(env: &str, change: &LockChange) -> String {
    let line = match change {
        LockChange::Acquired { lock, backend } => {
            format!(
                "lock    env {env}: state lock {} taken ({backend})",
                lock.id
            )
        }
        LockChange::Waiting { holder, timeout } => format!(
            "lock    env {env}: waiting up to {} for the state lock, held by {}",
            humantime::format_duration(*timeout),
            forge_engine::lock::describe_holder(holder)
        ),
        LockChange::Released { id } => format!("lock    env {env}: state lock {id} released"),
        LockChange::NotReleased { id, message } => format!(
            "lock    env {env}: state lock {id} NOT released: {message}; free it with `forge lock force-unlock {id} --env {env}`"
        ),
    };
    escape_control(&line).into_owned()
}

/// The closing line of a human-readable run.
pub fn summary_line(summary: &Summary) -> String {
    let total = summary.ran + summary.cached + summary.failed + summary.skipped;
    if summary.cancelled {
        return format!(
            "interrupted: {} ran, {} cached, {} failed, {} skipped",
            summary.ran, summary.cached, summary.failed, summary.skipped
        );
    }
    if summary.ran == 0 && summary.failed == 0 && summary.skipped == 0 {
        if total == 0 {
            return "nothing to do: no steps to run".to_string();
        }
        return format!("nothing to do: {} cached", plural(total, "step"));
    }
    format!(
        "{} ran, {} cached, {} failed, {} skipped in {}",
        summary.ran,
        summary.cached,
        summary.failed,
        summary.skipped,
        format_duration(summary.duration)
    )
}

pub fn format_duration(d: Duration) -> String {
    if d < Duration::from_secs(60) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let secs = d.as_secs();
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fully_cached_run_says_so() {
        let summary = Summary {
            cached: 14,
            ..Summary::default()
        };
        assert_eq!(summary_line(&summary), "nothing to do: 14 steps cached");
    }

    #[test]
    fn step_line_lines_up_and_gives_the_reason() {
        let line = step_lines(
            Style::new(false),
            "docker-build:backend",
            StepStatus::Ran,
            Duration::from_millis(1234),
            Some("file src/main.rs changed"),
        );
        assert_eq!(
            line,
            ["ran     docker-build:backend (1.2s): file src/main.rs changed"]
        );
        let cached = step_lines(
            Style::new(false),
            "x",
            StepStatus::Cached,
            Duration::ZERO,
            None,
        );
        assert_eq!(cached, ["cached  x"]);
    }

    #[test]
    fn a_failure_cannot_forge_a_line_or_reach_the_terminal() {
        let lines = step_lines(
            Style::new(false),
            "evil",
            StepStatus::Failed,
            Duration::from_millis(100),
            Some("boom\n12:00:00 ran deploy-prod\x1b]0;title\x07\u{202e}\n  help: it\x1b[2J"),
        );
        assert_eq!(
            lines,
            [
                "failed  evil (0.1s): boom",
                "evil| 12:00:00 ran deploy-prod\\x1b]0;title\\x07\\u{202e}",
                "evil|   help: it\\x1b[2J",
            ]
        );
        let logged = step_text_lines(Style::new(false), "evil", "a\r\nb\0\n");
        assert_eq!(logged, ["evil| a", "evil| b\\x00"]);
    }

    #[test]
    fn tally_counts_failures_by_name() {
        let mut tally = Tally::default();
        tally.record(&Event::StepFinished {
            step: "a".into(),
            status: StepStatus::Failed,
            duration: Duration::ZERO,
            reason: None,
        });
        tally.record(&Event::StepFinished {
            step: "b".into(),
            status: StepStatus::Cached,
            duration: Duration::ZERO,
            reason: None,
        });
        assert_eq!(tally.failed, vec!["a".to_string()]);
        assert_eq!((tally.summary.failed, tally.summary.cached), (1, 1));
    }
}
