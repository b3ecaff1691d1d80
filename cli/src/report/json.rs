//! `--json`: one JSON object per line on stdout, each with a `type`.
//!
//! Step events are the engine's own [`Event`] serialization (`step-started`,
//! `step-finished` with `step` and `status`, ...). The last line of a run is always
//! `{"type":"summary", "ran":.., "cached":.., "failed":.., "skipped":.., ...}`: the engine's
//! own summary events are held back so it appears exactly once, at the end.
//!
//! Text a step wrote is third-party text, made safe the same way as in human output
//! ([`forge_engine::text`]) so a consumer that prints a field as is prints nothing a
//! terminal obeys: a `step-log` line that held line breaks becomes one `step-log` per line,
//! each with its `step`; control and bidi characters in `line`, in `step-finished`'s
//! `reason` and in a `warning`'s `message` are escaped (`\x1b`, `\u{202e}`), and a line
//! break inside a `reason` or `message` is the two characters `\n`. `step-progress`
//! (`step`, `done`, `total`) passes through as the engine sends it.

use std::io::Write;

use forge_engine::events::{Event, LockChange, Summary};
use forge_engine::text::{escape_control, escaped_lines};
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
        safe_events(event).iter().try_for_each(line)
    }

    fn finish(&mut self, summary: &Summary) -> std::io::Result<()> {
        line(&Event::Summary(summary.clone()))
    }

    fn abort(&mut self, err: &dyn Diagnostic, summary: &Summary) -> std::io::Result<()> {
        line(&error_value(err))?;
        self.finish(summary)
    }
}

/// `event` as the events `--json` writes for it: none for the engine's summary (written
/// once, by [`Reporter::finish`]), one `step-log` per line of a log line, and step text
/// escaped (see the module docs).
fn safe_events(event: &Event) -> Vec<Event> {
    let escape = |text: &str| escape_control(text).into_owned();
    match event {
        Event::Summary(_) => Vec::new(),
        Event::StepLog { step, line } => escaped_lines(line)
            .map(|line| Event::StepLog {
                step: step.clone(),
                line: line.into_owned(),
            })
            .collect(),
        Event::StepFinished {
            step,
            status,
            duration,
            reason,
        } => vec![Event::StepFinished {
            step: step.clone(),
            status: *status,
            duration: *duration,
            reason: reason.as_deref().map(escape),
        }],
        Event::Warning { message } => vec![Event::Warning {
            message: escape(message),
        }],
        Event::StateLock { env, change } => {
            let clean = |info: &forge_engine::lock::LockInfo| forge_engine::lock::LockInfo {
                id: escape(&info.id),
                operation: escape(&info.operation),
                info: escape(&info.info),
                who: escape(&info.who),
                version: escape(&info.version),
                created: escape(&info.created),
                path: escape(&info.path),
            };
            let change = match change {
                LockChange::Waiting { holder, timeout } => LockChange::Waiting {
                    holder: clean(holder),
                    timeout: *timeout,
                },
                LockChange::NotReleased { id, message } => LockChange::NotReleased {
                    id: id.clone(),
                    message: escape(message),
                },
                other => other.clone(),
            };
            vec![Event::StateLock {
                env: env.clone(),
                change,
            }]
        }
        other => vec![other.clone()],
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
    fn step_text_is_split_and_escaped_and_keeps_its_step() {
        use forge_engine::events::Event;
        let log = Event::StepLog {
            step: "evil".into(),
            line: "one\n12:00:00 ran deploy-prod\x1b[2J\u{202e}".into(),
        };
        let lines: Vec<serde_json::Value> = super::safe_events(&log)
            .iter()
            .map(|e| serde_json::to_value(e).expect("serializes"))
            .collect();
        assert_eq!(
            lines,
            [
                serde_json::json!({"type": "step-log", "step": "evil", "line": "one"}),
                serde_json::json!({"type": "step-log", "step": "evil", "line": "12:00:00 ran deploy-prod\\x1b[2J\\u{202e}"}),
            ]
        );
        let failed = Event::StepFinished {
            step: "evil".into(),
            status: StepStatus::Failed,
            duration: Duration::ZERO,
            reason: Some("boom\x07\n  help: fix it".into()),
        };
        let value = serde_json::to_value(&super::safe_events(&failed)[0]).expect("serializes");
        assert_eq!(value["reason"], "boom\\x07\\n  help: fix it");
        let progress = Event::StepProgress {
            step: "evil".into(),
            done: 1,
            total: 2,
        };
        let value = serde_json::to_value(&super::safe_events(&progress)[0]).expect("serializes");
        assert_eq!(
            (value["type"].as_str(), value["done"].as_u64()),
            (Some("step-progress"), Some(1))
        );
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
