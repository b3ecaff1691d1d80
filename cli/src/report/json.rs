//! `--json`: one JSON object per line on stdout, each with a `type`.
//!
//! Step events are the engine's own [`Event`] serialization (`step-started`,
//! `step-finished` with `step` and `status`, ...). The last line of a run is always
//! `{"type":"summary", "ran":.., "cached":.., "failed":.., "skipped":.., ...}`: the engine's
//! own summary events are held back so it appears exactly once, at the end.

use std::io::Write;

use forge_engine::events::{Event, Summary};
use miette::Diagnostic;
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

    fn abort(&mut self, err: &dyn Diagnostic, summary: &Summary) -> std::io::Result<()> {
        line(&error_value(err))?;
        self.finish(summary)
    }
}

/// `{"type":"error", "code":.., "message":.., "diagnostics":[..]}`: one diagnostic per
/// problem (a project file with three mistakes has three), each with its `code`,
/// `message`, `help` and, when it points into a file, `file`, `line` and `column` (1-based),
/// so a CI tool can annotate the line without parsing the human report.
pub fn error_value(err: &dyn Diagnostic) -> serde_json::Value {
    let problems: Vec<&dyn Diagnostic> = match err.related() {
        Some(related) => related.collect(),
        None => Vec::new(),
    };
    let problems = if problems.is_empty() {
        vec![err]
    } else {
        problems
    };
    let diagnostics: Vec<serde_json::Value> = problems.into_iter().map(diagnostic_value).collect();
    serde_json::json!({
        "type": "error",
        "code": err.code().map(|c| c.to_string()),
        "message": err.to_string(),
        "diagnostics": diagnostics,
    })
}

fn diagnostic_value(diag: &dyn Diagnostic) -> serde_json::Value {
    let mut value = serde_json::json!({
        "code": diag.code().map(|c| c.to_string()),
        "message": diag.to_string(),
        "help": diag.help().map(|h| h.to_string()),
    });
    let label = diag.labels().and_then(|mut labels| labels.next());
    if let (Some(source), Some(label)) = (diag.source_code(), label)
        && let Ok(contents) = source.read_span(label.inner(), 0, 0)
    {
        value["file"] = serde_json::json!(contents.name());
        value["line"] = serde_json::json!(contents.line() + 1);
        value["column"] = serde_json::json!(contents.column() + 1);
    }
    value
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
