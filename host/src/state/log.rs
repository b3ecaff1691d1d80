//! `forge:plugin/log` on [`LogCtx`]: the step's log lines, capped, its progress, gated,
//! and the message of a panicking plugin.

use std::time::Instant;

use forge_engine::events::{Event, EventSink, ProgressGate};

use crate::bindings::forge::plugin::{log, types};
use crate::error::{bytes, cap_message};

/// Where a step's log goes, and what of it has gone so far.
pub(crate) struct LogCtx {
    step: String,
    events: EventSink,
    /// [`crate::Limits::log`].
    cap: u64,
    bytes: u64,
    truncated: bool,
    /// Which `log.progress` calls become events (see [`log::Host::progress`]).
    progress: ProgressGate,
    /// What the plugin said when it panicked, capped.
    pub(crate) panic_message: Option<String>,
}

impl LogCtx {
    pub(crate) fn new(step: String, events: EventSink, cap: u64) -> LogCtx {
        LogCtx {
            step,
            events,
            cap,
            bytes: 0,
            truncated: false,
            progress: ProgressGate::new(),
            panic_message: None,
        }
    }

    /// Sends one line to the step's log, unless the log cap is reached.
    pub(crate) fn emit(&mut self, line: String) {
        if self.truncated {
            return;
        }
        let len = line.len() as u64;
        if self.bytes + len > self.cap {
            self.truncated = true;
            self.events.send(Event::StepLog {
                step: self.step.clone(),
                line: format!(
                    "[forge] log truncated: the plugin exceeded the {} log cap; further lines are dropped",
                    bytes(self.cap)
                ),
            });
            return;
        }
        self.bytes += len;
        self.events.send(Event::StepLog {
            step: self.step.clone(),
            line,
        });
    }
}

impl log::Host for LogCtx {
    async fn log(&mut self, level: types::Level, message: String) {
        let prefix = match level {
            types::Level::Trace => "trace: ",
            types::Level::Debug => "debug: ",
            types::Level::Info => "",
            types::Level::Warn => "warning: ",
            types::Level::Error => "error: ",
        };
        self.emit(format!("{prefix}{message}"));
    }

    async fn progress(&mut self, done: u64, total: u64) {
        // A plugin may report every byte it handles: the gate lets through a percentage
        // change or one report per interval, so the run's event stream (unbounded) and the
        // terminal see a few a second. Progress never counts against the log cap.
        if self.progress.admit(done, total, Instant::now()) {
            self.events.send(Event::StepProgress {
                step: self.step.clone(),
                done,
                total,
            });
        }
    }

    async fn panicked(&mut self, message: String) {
        // Kept for the error, capped like a `step-error` message, in case a plugin panics
        // with megabytes.
        self.panic_message = Some(cap_message(message));
    }
}
