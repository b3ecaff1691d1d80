//! The `command` built-in: a process with declared inputs and outputs, cached like any step.

use crate::harness::Project;

const KDL: &str = r#"version 1
project "cmd" { region "us-east-1"; }
step "gen" {
    plugin "command"
    phase "build"
    config {
        run "sh" "-c" "mkdir -p out && tr a-z A-Z < src/in.txt > out/up.txt && echo generated"
        outputs { up "out/up.txt"; }
    }
    input "src/*.txt"
}
"#;

fn summary(lines: &[serde_json::Value]) -> (u64, u64, u64) {
    let s = lines.last().expect("summary line");
    (
        s["ran"].as_u64().unwrap_or(99),
        s["cached"].as_u64().unwrap_or(99),
        s["failed"].as_u64().unwrap_or(99),
    )
}

/// `forge --json build` with real executors: (ran, cached, failed) and the event lines.
fn build(project: &Project) -> ((u64, u64, u64), Vec<serde_json::Value>) {
    let lines = project
        .forge("--json build")
        .without_test_executor()
        .run()
        .json_lines();
    (summary(&lines), lines)
}

#[test]
fn a_command_runs_stores_its_output_and_is_cached() {
    let project = Project::with_kdl(KDL).file("src/in.txt", "hello\n");
    let (counts, first) = build(&project);
    assert_eq!(counts, (1, 0, 0), "{first:?}");
    assert!(
        first
            .iter()
            .any(|l| l["type"] == "step-log" && l["line"] == "generated"),
        "stdout streams to the step's log: {first:?}"
    );
    assert_eq!(build(&project).0, (0, 1, 0));
    // A file the step does not declare is not an input.
    project.write("README.md", "not an input\n");
    assert_eq!(build(&project).0, (0, 1, 0));
    project.write("src/in.txt", "changed\n");
    assert_eq!(build(&project).0, (1, 0, 0));
}

#[test]
fn a_failing_command_shows_its_stderr_and_a_missing_output_is_named() {
    let project = Project::with_kdl(&KDL.replace(
        "mkdir -p out && tr a-z A-Z < src/in.txt > out/up.txt && echo generated",
        "echo 'error: no such crate' >&2; exit 3",
    ))
    .file("src/in.txt", "hello\n");
    let out = project.forge("build").without_test_executor().code(1).run();
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(text.contains("error: no such crate"), "{text}");
    assert!(text.contains("exit status: 3"), "{text}");

    project.write(
        "project.kdl",
        &KDL.replace(
            "mkdir -p out && tr a-z A-Z < src/in.txt > out/up.txt && echo generated",
            "true",
        ),
    );
    let out = project.forge("build").without_test_executor().code(1).run();
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("output `up` (out/up.txt) was not produced"),
        "{text}"
    );
}
