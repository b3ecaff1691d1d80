//! Progress on a terminal: one spinner line per running step, finished steps printed
//! above them, and an overall bar at the bottom.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use forge_engine::events::{Event, StepStatus, Summary};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{OutputMode, Reporter, Style, Verbosity, step_line, summary_line};

pub struct TtyReporter {
    mode: OutputMode,
    style: Style,
    multi: MultiProgress,
    total: Option<ProgressBar>,
    running: HashMap<String, ProgressBar>,
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
        for (_, bar) in self.running.drain() {
            bar.finish_and_clear();
        }
        if let Some(total) = self.total.take() {
            total.finish_and_clear();
        }
        self.multi.clear()
    }

    fn println(&self, line: &str) -> std::io::Result<()> {
        self.multi.println(line)
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
                    .with_message(step.clone());
                let bar = match &self.total {
                    Some(total) => self.multi.insert_before(total, bar),
                    None => self.multi.add(bar),
                };
                bar.enable_steady_tick(Duration::from_millis(100));
                self.running.insert(step.clone(), bar);
                Ok(())
            }
            Event::StepLog { step, line } if verbose => {
                self.println(&self.style.dim(&format!("{step}| {line}")))
            }
            // Without -v, a running step's spinner shows its latest line (a Docker build's
            // current instruction, a compiler's current crate).
            Event::StepLog { step, line } => {
                if let Some(bar) = self.running.get(step) {
                    let line: String = line.chars().take(100).collect();
                    bar.set_message(format!("{step}  {}", self.style.dim(line.trim_end())));
                }
                Ok(())
            }
            Event::StepFinished {
                step,
                status,
                duration,
                reason,
            } => {
                if let Some(bar) = self.running.remove(step) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
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
                    self.println(&step_line(
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
                self.multi
                    .suspend(|| super::stderr_line(format_args!("warning: {message}")));
                Ok(())
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
