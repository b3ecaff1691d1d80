//! A hostile plugin through the real `forge` binary and the real plugin host: its log
//! lines, error and help try to clear the screen, retitle the terminal, ring the bell,
//! reverse text and print a line that passes for forge's own "`<time> ran deploy-prod`".
//! None of it may reach stdout or stderr raw, and every line of it carries the step id,
//! in plain output and in `--json` alike. Also: its progress shows in `--json`, and an
//! oversized error is capped.
//!
//! The fixture (`plugins/fixtures/hostile`) is built once per test binary by `forge plugin
//! build`'s code, as the host tests build theirs; without a wasm toolchain these tests
//! fail, loudly.

use std::path::PathBuf;

use serde_json::Value;

use crate::harness::{Output, Project};

/// The compiled `fixture-hostile` component.
fn component() -> PathBuf {
    crate::harness::fixture_plugin("hostile")
}

/// A project whose one step, `hostile`, runs the fixture pinned by hash with `config`.
fn project(config: &str) -> Project {
    let bytes = std::fs::read(component()).expect("read the fixture");
    let project = Project::with_kdl("version 1\n");
    let wasm = project.root().join("plugins/hostile.wasm");
    std::fs::create_dir_all(wasm.parent().expect("parent")).expect("mkdir");
    std::fs::write(&wasm, bytes).expect("copy the fixture");
    let hash = forge_plugin_tools::hash_file(&wasm).expect("hash the fixture");
    project.write(
        "project.kdl",
        &format!(
            r#"version 1

project "hostile" {{
    region "us-east-1"
    default-env "dev"
}}

plugin "hostile" path="plugins/hostile.wasm" hash="{hash}"

step "hostile" {{
    plugin "hostile"
    phase "build"
    config {{
        {config}
    }}
}}

env "dev" {{}}
"#
        ),
    );
    project
}

/// Characters that must never reach a terminal from a plugin: controls other than the line
/// breaks forge itself writes, and the bidi/format characters that reorder text.
fn raw_unsafe(text: &str, allow_newline: bool) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && !(allow_newline && c == '\n'))
                || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

/// `line` without the leading RFC 3339 timestamp plain output puts on each of its lines.
fn untimed(line: &str) -> &str {
    match line.split_once(' ') {
        Some((first, rest)) if first.ends_with('Z') && first.contains('T') => rest,
        _ => line,
    }
}

#[test]
fn hostile_plugin_text_is_escaped_and_prefixed_in_plain_output() {
    let project = project(r#"mode "inject""#);
    let out: Output = project
        .forge("-v build")
        .without_test_executor()
        .code(1)
        .run();
    for (stream, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let bad = raw_unsafe(text, true);
        assert!(bad.is_empty(), "raw {bad:?} on {stream}:\n{text}");
        for line in text.lines() {
            let line = untimed(line.trim_start());
            assert!(
                !line.starts_with("12:00:00"),
                "a plugin started a line of {stream}:\n{text}"
            );
            if line.contains("ran deploy-prod") {
                assert!(
                    line.starts_with("hostile| ") || line.starts_with("failed  hostile "),
                    "plugin text without its step id on {stream}: {line}\n{text}"
                );
            }
        }
    }
    // The text is there, shown rather than obeyed: from the log (three levels), the error
    // and its help.
    for shown in [
        "hostile| 12:00:00 ran deploy-prod",
        r"hostile| \x1b[2J\x1b[H\x1b[31mred\x1b[0m \x1b]0;owned title\x07",
        r"nul\x00 c1\u{9b}31m bidi\u{202e}exe.txt\u{202c} cr\r12:00:00 ran deploy-prod",
        "hostile| warning: innocent start",
        "hostile| error: innocent start",
        "failed  hostile",
        "hostile|   help: innocent start",
    ] {
        assert!(
            out.stdout.contains(shown),
            "missing {shown:?}:\n{}",
            out.stdout
        );
    }
}

/// Every string field of a JSON line, with its key.
fn strings(value: &Value) -> Vec<(&str, &str)> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
        .collect()
}

#[test]
fn hostile_plugin_text_is_escaped_and_marked_with_its_step_in_json() {
    let project = project(r#"mode "inject""#);
    let out = project
        .forge("--json build")
        .without_test_executor()
        .code(1)
        .run();
    let bad = raw_unsafe(&out.stderr, true);
    assert!(bad.is_empty(), "raw {bad:?} on stderr:\n{}", out.stderr);
    let lines = out.json_lines();
    let mut logged = 0;
    for line in &lines {
        // A consumer that prints any field as is must print nothing a terminal obeys, and
        // no line break.
        for (key, text) in strings(line) {
            let bad = raw_unsafe(text, false);
            assert!(bad.is_empty(), "raw {bad:?} in `{key}` of {line}");
        }
        match line["type"].as_str() {
            Some("step-log") => {
                assert_eq!(line["step"], "hostile", "{line}");
                logged += 1;
            }
            Some("step-finished") => {
                assert_eq!(line["step"], "hostile", "{line}");
                assert_eq!(line["status"], "failed", "{line}");
                let reason = line["reason"].as_str().expect("a failure has a reason");
                assert!(
                    reason.starts_with(r"innocent start\n12:00:00 ran deploy-prod\n\x1b[2J"),
                    "{reason}"
                );
                assert!(reason.contains(r"\n  help: innocent start"), "{reason}");
            }
            _ => {}
        }
    }
    // Three log calls of three lines each: one `step-log` per line.
    assert_eq!(logged, 9, "{}", out.stdout);
    assert!(
        lines
            .iter()
            .any(|l| l["line"] == "12:00:00 ran deploy-prod"),
        "the forged line arrives as a line of the step's log:\n{}",
        out.stdout
    );
}

#[test]
fn hostile_plugin_progress_is_a_json_event_of_its_step() {
    let project = project(r#"mode "progress"; total 1000"#);
    let out = project.forge("--json build").without_test_executor().run();
    let progress: Vec<Value> = out
        .json_lines()
        .into_iter()
        .filter(|l| l["type"] == "step-progress")
        .collect();
    assert!(!progress.is_empty(), "no step-progress:\n{}", out.stdout);
    assert!(
        progress
            .iter()
            .all(|p| p["step"] == "hostile" && p["total"] == 1000)
    );
    assert_eq!(
        progress.last().map(|p| &p["done"]),
        Some(&Value::from(1000))
    );
}

#[test]
fn hostile_plugin_oversized_error_is_capped() {
    let project = project(r#"mode "big"; mib 8"#);
    let out = project
        .forge("--json build")
        .without_test_executor()
        .code(1)
        .run();
    assert!(
        out.stdout.len() < 256 * 1024,
        "{} bytes of output",
        out.stdout.len()
    );
    let reason = out
        .json_lines()
        .into_iter()
        .find(|l| l["type"] == "step-finished")
        .and_then(|l| l["reason"].as_str().map(str::to_owned))
        .expect("a failed step-finished with a reason");
    let dropped = 8 * 1024 * 1024 - 16 * 1024;
    assert_eq!(
        reason
            .matches(&format!("… [{dropped} more bytes dropped]"))
            .count(),
        2,
        "message and help are each capped"
    );
}
