//! Events a run reports as it goes; the CLI turns them into progress bars, plain lines or JSON.

use std::time::Duration;

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
    StepLog {
        step: String,
        line: String,
    },
    StepFinished {
        step: String,
        status: StepStatus,
        #[serde(with = "millis")]
        duration: Duration,
        /// Why it ran (first fingerprint change) or why it was skipped or failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Warning {
        message: String,
    },
    Summary(Summary),
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

mod millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}
