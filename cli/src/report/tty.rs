//! Progress on a terminal: one spinner line per running step, finished steps printed
//! above them, and an overall bar at the bottom.
//!
//! A running step's line shows its progress, when it reports any (`42%`, or `1234` units
//! when it does not know the total), and its latest log line, escaped and cut to fit.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use forge_engine::events::{Event, StepStatus, Summary};
use forge_engine::text::{escape_control, escaped_lines};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{OutputMode, Reporter, Style, Verbosity, step_lines, step_text_lines, summary_line};

/// The most characters of a log line a spinner shows.
const SPINNER_LOG_CHARS: usize = 100;

/// A running step's spinner and what it shows besides the step id.
struct Running {
    bar: ProgressBar,
    /// The latest non-empty log line, escaped and cut to [`SPINNER_LOG_CHARS`].
    log: String,
    /// The latest progress, `(done, total)`.
    progress: Option<(u64, u64)>,
}

impl Running {
    /// `step  42%  latest log line`
    fn message(&self, style: Style, step: &str) -> String {
        let mut message = escape_control(step).into_owned();
        if let Some(progress) = self.progress {
            message.push_str("  ");
            message.push_str(&progress_text(progress));
        }
        if !self.log.is_empty() {
            message.push_str("  ");
            message.push_str(&style.dim(&self.log));
        }
        message
    }
}

/// `42%` of a known total, the bare count of an unknown one (total 0).
fn progress_text((done, total): (u64, u64)) -> String {
    if total == 0 {
        done.to_string()
    } else {
        format!("{}%", u128::from(done.min(total)) * 100 / u128::from(total))
    }
}

pub struct TtyReporter {
    mode: OutputMode,
    style: Style,
    multi: MultiProgress,
    total: Option<ProgressBar>,
    running: HashMap<String, Running>,
}

impl TtyReporter {
    pub fn new(mode: OutputMode) -> TtyReporter {
        TtyReporter {
            mode,
            style: Style::new(mode.color),
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            total: None,
            running: HashMap::new(),
        }
    }

    fn spinner_style() -> ProgressStyle {
        ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
    }

    fn total_style() -> ProgressStyle {
        ProgressStyle::with_template("[{bar:30.cyan/blue}] {pos}/{len} steps {elapsed:.dim}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ")
    }

    fn clear(&mut self) -> std::io::Result<()> {
        for (_, running) in self.running.drain() {
            running.bar.finish_and_clear();
        }
        if let Some(total) = self.total.take() {
            total.finish_and_clear();
        }
        self.multi.clear()
    }

    fn println(&self, lines: &[String]) -> std::io::Result<()> {
        lines.iter().try_for_each(|line| self.multi.println(line))
    }

    fn refresh(&mut self, step: &str) {
        if let Some(running) = self.running.get(step) {
            running.bar.set_message(running.message(self.style, step));
        }
    }
}

impl Reporter for TtyReporter {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        let verbose = self.mode.verbosity >= Verbosity::Verbose;
        let quiet = self.mode.verbosity == Verbosity::Quiet;
        match event {
            Event::RunStarted { steps, .. } => {
                let bar = self
                    .multi
                    .add(ProgressBar::new(*steps as u64).with_style(Self::total_style()));
                bar.enable_steady_tick(Duration::from_millis(200));
                self.total = Some(bar);
                Ok(())
            }
            Event::StepStarted { step } => {
                let bar = ProgressBar::new_spinner()
                    .with_style(Self::spinner_style())
                    .with_message(escape_control(step).into_owned());
                let bar = match &self.total {
                    Some(total) => self.multi.insert_before(total, bar),
                    None => self.multi.add(bar),
                };
                bar.enable_steady_tick(Duration::from_millis(100));
                self.running.insert(
                    step.clone(),
                    Running {
                        bar,
                        log: String::new(),
                        progress: None,
                    },
                );
                Ok(())
            }
            Event::StepLog { step, line } if verbose => {
                self.println(&step_text_lines(self.style, step, line))
            }
            // Without -v, a running step's spinner shows its latest line (a Docker build's
            // current instruction, a compiler's current crate).
            Event::StepLog { step, line } => {
                let latest = escaped_lines(line).filter(|l| !l.trim().is_empty()).last();
                if let (Some(running), Some(latest)) = (self.running.get_mut(step), latest) {
                    running.log = latest.trim_end().chars().take(SPINNER_LOG_CHARS).collect();
                    self.refresh(step);
                }
                Ok(())
            }
            Event::StepProgress { step, done, total } => {
                if let Some(running) = self.running.get_mut(step) {
                    running.progress = Some((*done, *total));
                    self.refresh(step);
                }
                Ok(())
            }
            Event::StepFinished {
                step,
                status,
                duration,
                reason,
            } => {
                if let Some(running) = self.running.remove(step) {
                    running.bar.finish_and_clear();
                    self.multi.remove(&running.bar);
                }
                if let Some(total) = &self.total {
                    total.inc(1);
                }
                let show = match status {
                    StepStatus::Failed => true,
                    StepStatus::Ran | StepStatus::Skipped => !quiet,
                    StepStatus::Cached => verbose,
                };
                if show {
                    self.println(&step_lines(
                        self.style,
                        step,
                        *status,
                        *duration,
                        reason.as_deref(),
                    ))?;
                }
                Ok(())
            }
            Event::Warning { message } => {
                self.multi.suspend(|| {
                    super::stderr_line(format_args!("warning: {}", escape_control(message)))
                });
                Ok(())
            }
            Event::StateLock { env, change } if !quiet => {
                self.println(&[super::lock_line(env, change)])
            }
            _ => Ok(()),
        }
    }

    fn finish(&mut self, summary: &Summary) -> std::io::Result<()> {
        self.clear()?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", self.style.bold(&summary_line(summary)))?;
        out.flush()
    }

    fn abort(&mut self, _: &dyn miette::Diagnostic, _: &Summary) -> std::io::Result<()> {
        self.clear()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spinner_shows_progress_and_the_latest_line_escaped() {
        let running = Running {
            bar: ProgressBar::hidden(),
            log: "compiling\\x1b[2J".into(),
            progress: Some((21, 50)),
        };
        assert_eq!(
            running.message(Style::new(false), "build\u{202e}"),
            "build\\u{202e}  42%  compiling\\x1b[2J"
        );
        assert_eq!(progress_text((1234, 0)), "1234");
        assert_eq!(progress_text((7, 5)), "100%");
    }
}
