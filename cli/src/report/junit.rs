//! `--junit FILE`: the run as a JUnit XML report, for CI servers (Jenkins' `junit` step,
//! GitLab, GitHub's test reporters), written beside whatever the terminal shows.
//!
//! One `<testsuite>` per run (`forge deploy prod`), one `<testcase>` per step in the order
//! the steps finished: `classname` is `forge.<env>`, `name` the step id. A step that ran or
//! was cached passes (a cached one says so in its `<system-out>`); a failed step has a
//! `<failure>` whose message is the first line of its error and whose text is all of it,
//! help and, for a rollout, the ECS failure story; a skipped step has `<skipped>` with why.
//! A run that could not start or go on (invalid project, a release that does not match,
//! a store error) adds a testcase `run` with an `<error>`, so the report never hides the
//! reason a pipeline stopped. What a step logged is its `<system-out>` (the last
//! [`LOG_LINES`] lines).
//!
//! The elements and attributes are the ones Ant's JUnit report format defines and Jenkins'
//! junit plugin reads. Step text is third-party text: control characters are escaped
//! ([`forge_engine::text`]) before XML escaping, so the file is always well-formed XML 1.0.
//! The report is written atomically when the run ends (also on failure or Ctrl-C).

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use forge_engine::events::{Event, StepStatus, Summary};
use forge_engine::text::escaped_lines;
use miette::Diagnostic;

use super::Reporter;

/// How many of a step's log lines its testcase keeps (the last ones: where it failed).
pub const LOG_LINES: usize = 500;

/// Passes every event to `inner` and collects the report, written to `path` when the run
/// finishes or aborts.
pub struct JunitReporter {
    inner: Box<dyn Reporter>,
    path: PathBuf,
    report: Report,
}

impl JunitReporter {
    /// `suite` names the run (`forge deploy`); the env is added when the run starts.
    pub fn new(inner: Box<dyn Reporter>, path: PathBuf, suite: &str) -> JunitReporter {
        JunitReporter {
            inner,
            path,
            report: Report::new(suite),
        }
    }

    fn write(&self) -> std::io::Result<()> {
        forge_engine::store::write_atomic_beside(&self.path, self.report.to_xml().as_bytes())
    }
}

impl Reporter for JunitReporter {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.report.record(event);
        self.inner.event(event)
    }

    fn finish(&mut self, summary: &Summary) -> std::io::Result<()> {
        self.report.summary = Some(summary.clone());
        let written = self.write();
        self.inner.finish(summary)?;
        written
    }

    fn abort(&mut self, err: &dyn Diagnostic, summary: &Summary) -> std::io::Result<()> {
        self.report.summary = Some(summary.clone());
        self.report.error = Some(diagnostic_text(err));
        let written = self.write();
        self.inner.abort(err, summary)?;
        written
    }
}

/// An error with its code and help, as lines.
fn diagnostic_text(err: &dyn Diagnostic) -> (String, String) {
    let mut text = String::new();
    let mut push = |d: &dyn Diagnostic| {
        if let Some(code) = d.code() {
            let _ = write!(text, "{code}: ");
        }
        let _ = writeln!(text, "{d}");
        if let Some(help) = d.help() {
            let _ = writeln!(text, "  help: {help}");
        }
    };
    push(err);
    if let Some(related) = err.related() {
        for d in related {
            push(d);
        }
    }
    (err.to_string(), text)
}

/// What the report holds so far.
#[derive(Debug, Default)]
struct Report {
    suite: String,
    env: Option<String>,
    run_id: Option<String>,
    started: Option<SystemTime>,
    cases: Vec<Case>,
    /// Step → its last log lines, and how many were dropped before them.
    logs: BTreeMap<String, (VecDeque<String>, usize)>,
    warnings: Vec<String>,
    summary: Option<Summary>,
    /// The run's own error (message, full text), when it aborted.
    error: Option<(String, String)>,
}

#[derive(Debug)]
struct Case {
    step: String,
    status: StepStatus,
    duration: Duration,
    reason: Option<String>,
}

impl Report {
    fn new(suite: &str) -> Report {
        Report {
            suite: suite.to_owned(),
            started: Some(SystemTime::now()),
            ..Report::default()
        }
    }

    fn record(&mut self, event: &Event) {
        match event {
            Event::RunStarted { run_id, env, .. } => {
                self.env = Some(env.clone());
                self.run_id = Some(run_id.clone());
            }
            Event::StepLog { step, line } => {
                let (lines, dropped) = self.logs.entry(step.clone()).or_default();
                for line in escaped_lines(line) {
                    if lines.len() == LOG_LINES {
                        lines.pop_front();
                        *dropped += 1;
                    }
                    lines.push_back(line.into_owned());
                }
            }
            Event::StepFinished {
                step,
                status,
                duration,
                reason,
            } => self.cases.push(Case {
                step: step.clone(),
                status: *status,
                duration: *duration,
                reason: reason.clone(),
            }),
            Event::Warning { message } => self.warnings.push(lines_of(message)),
            Event::StateLock { env, change } => {
                self.warnings
                    .push(super::lock_line(env, change).trim_start().to_owned());
            }
            Event::StepStarted { .. } | Event::StepProgress { .. } | Event::Summary(_) => {}
        }
    }

    fn to_xml(&self) -> String {
        let env = self.env.as_deref().unwrap_or("-");
        let classname = format!("forge.{env}");
        let count = |s: StepStatus| self.cases.iter().filter(|c| c.status == s).count();
        let errors = usize::from(self.error.is_some());
        let tests = self.cases.len() + errors;
        let time = self
            .summary
            .as_ref()
            .map(|s| s.duration)
            .unwrap_or_else(|| self.cases.iter().map(|c| c.duration).sum());
        let timestamp = self
            .started
            .map(|t| {
                // Ant's format: ISO 8601 without a zone (UTC here).
                let mut s = humantime::format_rfc3339_seconds(t).to_string();
                s.pop();
                s
            })
            .unwrap_or_default();
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            x,
            "<testsuites name={} tests=\"{tests}\" failures=\"{}\" errors=\"{errors}\" skipped=\"{}\" time=\"{}\">",
            attr(&self.suite),
            count(StepStatus::Failed),
            count(StepStatus::Skipped),
            seconds(time)
        );
        let _ = writeln!(
            x,
            "  <testsuite name={} tests=\"{tests}\" failures=\"{}\" errors=\"{errors}\" skipped=\"{}\" time=\"{}\" timestamp={} hostname={}>",
            attr(&format!("{} {env}", self.suite)),
            count(StepStatus::Failed),
            count(StepStatus::Skipped),
            seconds(time),
            attr(&timestamp),
            attr(&forge_engine::lock::hostname()),
        );
        x.push_str("    <properties>\n");
        let mut property = |name: &str, value: &str| {
            let _ = writeln!(
                x,
                "      <property name={} value={}/>",
                attr(name),
                attr(value)
            );
        };
        property("env", env);
        if let Some(run) = &self.run_id {
            property("run", run);
        }
        if let Some(summary) = &self.summary {
            property("ran", &summary.ran.to_string());
            property("cached", &summary.cached.to_string());
            property("cancelled", &summary.cancelled.to_string());
        }
        x.push_str("    </properties>\n");
        for case in &self.cases {
            let _ = write!(
                x,
                "    <testcase name={} classname={} time=\"{}\"",
                attr(&case.step),
                attr(&classname),
                seconds(case.duration)
            );
            let reason = case.reason.as_deref().map(lines_of);
            let mut out = String::new();
            if case.status == StepStatus::Cached {
                let why = reason
                    .as_deref()
                    .unwrap_or("its inputs are unchanged since the run that stored it");
                let _ = writeln!(out, "cached: {why}");
            }
            if let Some((lines, dropped)) = self.logs.get(&case.step) {
                if *dropped > 0 {
                    let _ = writeln!(out, "[{dropped} earlier lines not kept]");
                }
                for line in lines {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            x.push_str(">\n");
            match case.status {
                StepStatus::Failed => {
                    let text = reason.unwrap_or_else(|| "failed".into());
                    let message = text.lines().next().unwrap_or("failed").to_owned();
                    let _ = writeln!(
                        x,
                        "      <failure message={} type=\"forge.step-failed\">{}</failure>",
                        attr(&message),
                        text_node(&text)
                    );
                }
                StepStatus::Skipped => {
                    let _ = writeln!(
                        x,
                        "      <skipped message={}/>",
                        attr(reason.as_deref().unwrap_or("not run"))
                    );
                }
                StepStatus::Ran | StepStatus::Cached => {
                    if let Some(reason) = &reason
                        && case.status == StepStatus::Ran
                    {
                        out.insert_str(0, &format!("ran: {reason}\n"));
                    }
                }
            }
            if !out.is_empty() {
                let _ = writeln!(x, "      <system-out>{}</system-out>", text_node(&out));
            }
            x.push_str("    </testcase>\n");
        }
        if let Some((message, text)) = &self.error {
            let _ = writeln!(
                x,
                "    <testcase name=\"run\" classname={} time=\"0\">\n      <error message={} type=\"forge.run-error\">{}</error>\n    </testcase>",
                attr(&classname),
                attr(&lines_of(message).replace('\n', " ")),
                text_node(&lines_of(text))
            );
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(
                x,
                "    <system-err>{}</system-err>",
                text_node(&self.warnings.join("\n"))
            );
        }
        x.push_str("  </testsuite>\n</testsuites>\n");
        x
    }
}

/// Third-party text with every line's control characters escaped, lines joined by `\n`.
fn lines_of(text: &str) -> String {
    escaped_lines(text).collect::<Vec<_>>().join("\n")
}

/// Seconds with millisecond precision, as JUnit's `time`.
fn seconds(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// A quoted XML attribute value. Line breaks become character references so they survive
/// attribute normalization.
fn attr(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c if forbidden_in_xml(c) => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Element text, XML-escaped.
fn text_node(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\t' => out.push(c),
            c if forbidden_in_xml(c) => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Characters XML 1.0 cannot carry at all (after escaping, only a stray one could remain).
fn forbidden_in_xml(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
        || c == '\r'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(step: &str, status: StepStatus, ms: u64, reason: Option<&str>) -> Event {
        Event::StepFinished {
            step: step.into(),
            status,
            duration: Duration::from_millis(ms),
            reason: reason.map(str::to_owned),
        }
    }

    fn report() -> Report {
        let mut r = Report::new("forge deploy");
        r.record(&Event::RunStarted {
            run_id: "r1".into(),
            env: "prod".into(),
            steps: 4,
        });
        r.record(&Event::StepLog {
            step: "ecs-rollout:web".into(),
            line: "web: 1/2 running\x1b[2J".into(),
        });
        r.record(&finished("docker-build:web", StepStatus::Cached, 0, None));
        r.record(&finished(
            "terraform-apply",
            StepStatus::Ran,
            1500,
            Some("file main.tf changed"),
        ));
        r.record(&finished(
            "ecs-rollout:web",
            StepStatus::Failed,
            2000,
            Some("ECS rolled back web <to> web:41 & \"more\"\n  help: check the health check\u{0}"),
        ));
        r.record(&finished(
            "after",
            StepStatus::Skipped,
            0,
            Some("ecs-rollout:web failed"),
        ));
        r.summary = Some(Summary {
            ran: 1,
            cached: 1,
            failed: 1,
            skipped: 1,
            duration: Duration::from_millis(3600),
            ..Summary::default()
        });
        r
    }

    #[test]
    fn each_step_is_a_testcase_with_its_outcome() {
        let xml = report().to_xml();
        assert!(xml.contains(
            "<testsuites name=\"forge deploy\" tests=\"4\" failures=\"1\" errors=\"0\" skipped=\"1\" time=\"3.600\">"
        ));
        assert!(xml.contains(
            "<testcase name=\"terraform-apply\" classname=\"forge.prod\" time=\"1.500\">"
        ));
        assert!(xml.contains("<system-out>ran: file main.tf changed\n</system-out>"));
        assert!(xml.contains("<failure message=\"ECS rolled back web &lt;to&gt; web:41 &amp; &quot;more&quot;\" type=\"forge.step-failed\">ECS rolled back web &lt;to&gt; web:41 &amp; \"more\"\n  help: check the health check\\x00</failure>"), "{xml}");
        assert!(xml.contains("web: 1/2 running\\x1b[2J"));
        assert!(xml.contains("<skipped message=\"ecs-rollout:web failed\"/>"));
        assert!(xml.contains("cached: its inputs are unchanged"));
        // Nothing a control character could leave behind.
        assert!(!xml.chars().any(|c| forbidden_in_xml(c) || c == '\x1b'));
    }

    #[test]
    fn a_run_that_aborts_says_why_in_a_testcase() {
        let mut r = report();
        r.error = Some((
            "release.json was built from commit abc".into(),
            "forge::release::commit: release.json was built from commit abc\n  help: check out abc\n"
                .into(),
        ));
        let xml = r.to_xml();
        assert!(xml.contains("tests=\"5\" failures=\"1\" errors=\"1\""));
        assert!(xml.contains("<testcase name=\"run\" classname=\"forge.prod\" time=\"0\">\n      <error message=\"release.json was built from commit abc\" type=\"forge.run-error\">forge::release::commit"));
    }

    #[test]
    fn only_the_last_log_lines_are_kept() {
        let mut r = Report::new("forge build");
        for i in 0..LOG_LINES + 3 {
            r.record(&Event::StepLog {
                step: "s".into(),
                line: format!("line {i}"),
            });
        }
        r.record(&finished("s", StepStatus::Ran, 1, None));
        let xml = r.to_xml();
        assert!(xml.contains("[3 earlier lines not kept]\nline 3\n"));
        assert!(!xml.contains("line 2\n"));
    }
}
