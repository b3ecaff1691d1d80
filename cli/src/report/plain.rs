//! Plain lines for logs (Jenkins, CI, pipes): one line per finished step, each with a UTC
//! timestamp, never a control character unless `--color always` asked for one.
//!
//! `2026-11-26T10:00:01Z ran     docker-build:backend (1.2s): file src/main.rs changed`
//!
//! With `-v`, a step's log lines too, each behind the step id and escaped
//! (`2026-11-26T10:00:01Z docker-build:backend| Step 3/7 : RUN cargo build`); progress is
//! not shown.

use std::io::Write;
use std::time::SystemTime;

use forge_engine::events::{Event, StepStatus, Summary};

use forge_engine::text::escape_control;

use super::{OutputMode, Reporter, Style, Verbosity, step_lines, step_text_lines, summary_line};

pub struct PlainReporter {
    mode: OutputMode,
    style: Style,
}

impl PlainReporter {
    pub fn new(mode: OutputMode) -> PlainReporter {
        PlainReporter {
            mode,
            style: Style::new(mode.color),
        }
    }

    fn line(&self, text: &str) -> std::io::Result<()> {
        let now = humantime::format_rfc3339_seconds(SystemTime::now());
        let mut out = std::io::stdout().lock();
        writeln!(out, "{} {text}", self.style.dim(&now.to_string()))?;
        out.flush()
    }

    fn lines(&self, lines: &[String]) -> std::io::Result<()> {
        lines.iter().try_for_each(|line| self.line(line))
    }
}

impl Reporter for PlainReporter {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        let verbose = self.mode.verbosity >= Verbosity::Verbose;
        let quiet = self.mode.verbosity == Verbosity::Quiet;
        match event {
            Event::RunStarted { env, steps, .. } if !quiet => self.line(&format!(
                "{} env {env}, {} in scope",
                self.style.bold("forge"),
                crate::exit::plural(*steps, "step")
            )),
            Event::StepStarted { step } if verbose => {
                self.line(&format!("start   {}", escape_control(step)))
            }
            Event::StepLog { step, line } if verbose => {
                self.lines(&step_text_lines(self.style, step, line))
            }
            Event::StepFinished {
                step,
                status,
                duration,
                reason,
            } => {
                let show = match status {
                    StepStatus::Failed => true,
                    StepStatus::Ran | StepStatus::Skipped => !quiet,
                    StepStatus::Cached => verbose,
                };
                if show {
                    self.lines(&step_lines(
                        self.style,
                        step,
                        *status,
                        *duration,
                        reason.as_deref(),
                    ))
                } else {
                    Ok(())
                }
            }
            Event::Warning { message } => {
                super::stderr_line(format_args!("warning: {}", escape_control(message)));
                Ok(())
            }
            Event::StateLock { env, change } if !quiet => self.line(&super::lock_line(env, change)),
            _ => Ok(()),
        }
    }

    fn finish(&mut self, summary: &Summary) -> std::io::Result<()> {
        self.line(&summary_line(summary))
    }

    fn abort(&mut self, _: &dyn miette::Diagnostic, _: &Summary) -> std::io::Result<()> {
        Ok(())
    }
}
