//! `--json`: one JSON object per line on stdout, each with a `type`.
//!
//! Step events are the engine's own [`Event`] serialization (`step-started`,
//! `step-finished` with `step` and `status`, ...). The last line of a run is always
//! `{"type":"summary", "ran":.., "cached":.., "failed":.., "skipped":.., ...}`: the engine's
//! own summary events are held back so it appears exactly once, at the end.

use std::io::Write;

use forge_engine::events::{Event, Summary};
use serde::Serialize;

use super::Reporter;

/// Writes one value as a line and flushes, so a consumer sees each event as it happens.
pub fn line<T: Serialize>(value: &T) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()
}

#[derive(Debug, Default)]
pub struct JsonReporter;

impl JsonReporter {
    pub fn new() -> JsonReporter {
        JsonReporter
    }
}

impl Reporter for JsonReporter {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        if matches!(event, Event::Summary(_)) {
            return Ok(());
        }
        line(event)
    }

    fn finish(&mut self, summary: &Summary) -> std::io::Result<()> {
        line(&Event::Summary(summary.clone()))
    }

    fn abort(
        &mut self,
        code: Option<String>,
        message: &str,
        summary: &Summary,
    ) -> std::io::Result<()> {
        line(&serde_json::json!({ "type": "error", "code": code, "message": message }))?;
        self.finish(summary)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use forge_engine::events::StepStatus;

    #[test]
    fn step_events_carry_type_step_and_status() {
        let event = forge_engine::events::Event::StepFinished {
            step: "docker-build:backend".into(),
            status: StepStatus::Cached,
            duration: Duration::from_millis(3),
            reason: None,
        };
        let value = serde_json::to_value(&event).expect("events serialize");
        assert_eq!(value["type"], "step-finished");
        assert_eq!(value["step"], "docker-build:backend");
        assert_eq!(value["status"], "cached");
    }

    #[test]
    fn the_summary_is_flat_with_the_four_counts() {
        let summary = forge_engine::events::Event::Summary(forge_engine::events::Summary {
            ran: 1,
            cached: 2,
            failed: 3,
            skipped: 4,
            ..Default::default()
        });
        let value = serde_json::to_value(&summary).expect("summary serializes");
        assert_eq!(value["type"], "summary");
        for (key, n) in [("ran", 1), ("cached", 2), ("failed", 3), ("skipped", 4)] {
            assert_eq!(value[key], n, "{key}");
        }
    }
}
