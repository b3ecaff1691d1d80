//! Events a run reports as it goes; the CLI turns them into progress bars, plain lines or JSON.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Ran,
    Cached,
    Failed,
    /// Not run because something it needs failed or the run was cancelled.
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    RunStarted {
        run_id: String,
        env: String,
        steps: usize,
    },
    StepStarted {
        step: String,
    },
    /// One line a step logged, as the step (a plugin, a process) wrote it: untrusted text
    /// that may hold line breaks and terminal controls. Whoever shows it escapes it and
    /// prefixes every line with the step id ([`crate::text::escaped_lines`]).
    StepLog {
        step: String,
        line: String,
    },
    /// How far a running step is: `done` of `total` units (bytes, files, layers; `total`
    /// may be 0 when unknown). Sources send it through a [`ProgressGate`], so a plugin that
    /// reports every byte does not flood the run with events.
    StepProgress {
        step: String,
        done: u64,
        total: u64,
    },
    StepFinished {
        step: String,
        status: StepStatus,
        #[serde(with = "millis")]
        duration: Duration,
        /// Why it ran (first fingerprint change) or why it was skipped or failed. A
        /// failure's reason holds the step's own error message, untrusted like
        /// [`Event::StepLog`]'s line, and may span lines (the message, then `help:`).
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Warning {
        message: String,
    },
    /// The env's state lock was taken, waited for, or released (see [`crate::lock`]).
    StateLock {
        env: String,
        #[serde(flatten)]
        change: LockChange,
    },
    Summary(Summary),
}

/// What happened to the env's state lock.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum LockChange {
    /// This run holds it now; `backend` says where (`S3 lockfile s3://…`).
    Acquired {
        lock: crate::lock::LockInfo,
        backend: String,
    },
    /// Someone else holds it; the run waits (`--lock-timeout`). Sent once per holder.
    Waiting {
        holder: crate::lock::LockInfo,
        #[serde(with = "millis")]
        timeout: Duration,
    },
    Released {
        id: String,
    },
    /// Releasing failed: the lock stays until `forge lock force-unlock ID`.
    NotReleased {
        id: String,
        message: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub ran: usize,
    pub cached: usize,
    pub failed: usize,
    pub skipped: usize,
    #[serde(with = "millis")]
    pub duration: Duration,
    pub cancelled: bool,
    /// The id of the env's state lock when this run took it and could not release it:
    /// the run fails, and `forge lock force-unlock ID` frees it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_left: Option<String>,
}

/// Where events go. Cloning is cheap; a sink whose receiver is gone drops events.
#[derive(Debug, Clone)]
pub struct EventSink(Option<mpsc::UnboundedSender<Event>>);

impl EventSink {
    pub fn channel() -> (EventSink, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (EventSink(Some(tx)), rx)
    }

    /// A sink that drops everything.
    pub fn null() -> EventSink {
        EventSink(None)
    }

    pub fn send(&self, event: Event) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(event);
        }
    }
}

/// Decides which of a step's progress reports become [`Event::StepProgress`]: the first,
/// the last (`done == total`), and otherwise one whenever the whole percentage changes or
/// [`ProgressGate::INTERVAL`] has passed since the last one sent. At most a hundred-odd
/// events per step for a known total, a few a second otherwise, however often the step
/// reports.
#[derive(Debug, Clone, Default)]
pub struct ProgressGate {
    last: Option<(Instant, u64, u64)>,
}

impl ProgressGate {
    /// The least time between two events that show the same percentage.
    pub const INTERVAL: Duration = Duration::from_millis(100);

    pub fn new() -> ProgressGate {
        ProgressGate::default()
    }

    /// Whether a report of `done` of `total` at `now` is worth an event; if so, it is
    /// remembered as the last one sent.
    pub fn admit(&mut self, done: u64, total: u64, now: Instant) -> bool {
        let now_percent = percent(done, total);
        let send = match self.last {
            None => true,
            Some((_, last_done, last_total)) if (last_done, last_total) == (done, total) => false,
            Some(_) if total > 0 && done >= total => true,
            Some((at, last_done, last_total)) => {
                now_percent != percent(last_done, last_total)
                    || now.saturating_duration_since(at) >= Self::INTERVAL
            }
        };
        if send {
            self.last = Some((now, done, total));
        }
        send
    }
}

/// `done` of `total` as a whole percentage; `None` when the total is unknown (0).
fn percent(done: u64, total: u64) -> Option<u64> {
    (total > 0).then(|| (u128::from(done.min(total)) * 100 / u128::from(total)) as u64)
}

mod millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_sent_when_the_percentage_changes() {
        let mut gate = ProgressGate::new();
        let now = Instant::now();
        // A plugin reporting every one of 100,000 units in a burst: the first report, one
        // per percent after it, and the end.
        let sent = (0..=100_000u64)
            .filter(|&done| gate.admit(done, 100_000, now))
            .count();
        assert_eq!(sent, 101);
        // The same report again is never news.
        assert!(!gate.admit(100_000, 100_000, now + Duration::from_secs(5)));
    }

    #[test]
    fn unchanged_percentages_are_sent_at_most_every_interval() {
        let mut gate = ProgressGate::new();
        let start = Instant::now();
        assert!(gate.admit(1, 1_000_000, start));
        assert!(!gate.admit(2, 1_000_000, start + Duration::from_millis(10)));
        assert!(gate.admit(3, 1_000_000, start + ProgressGate::INTERVAL));
        // An unknown total changes no percentage: only time lets a report through.
        let mut unknown = ProgressGate::new();
        assert!(unknown.admit(10, 0, start));
        assert!(!unknown.admit(20, 0, start + Duration::from_millis(50)));
        assert!(unknown.admit(30, 0, start + Duration::from_millis(150)));
    }

    #[test]
    fn progress_serializes_with_its_step() {
        let event = Event::StepProgress {
            step: "docker-build:web".into(),
            done: 3,
            total: 10,
        };
        let value = serde_json::to_value(&event).expect("serializes");
        assert_eq!(
            value,
            serde_json::json!({"type": "step-progress", "step": "docker-build:web", "done": 3, "total": 10})
        );
    }
}
