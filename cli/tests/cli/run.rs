//! `forge build` and `forge deploy` through the test executor: caching across runs,
//! failures, exit statuses, and the `--json` contract.

use std::collections::BTreeSet;

use snapbox::str;

use crate::harness::Project;

#[test]
fn build_twice_second_run_does_nothing() {
    let project = Project::new();
    // One job: steps finish in graph order, so the snapshot is stable.
    project
        .forge("build -j 1")
        .stdout(str![[r#"
[..] forge env dev, 3 steps in scope
[..] ran     compile ([..]s): never run
[..] ran     lint ([..]s): never run
[..] ran     package ([..]s): never run
[..] 3 ran, 0 cached, 0 failed, 0 skipped in [..]s

"#]])
        .run();
    project
        .forge("build")
        .stdout(str![[r#"
[..] forge env dev, 3 steps in scope
[..] nothing to do: 3 steps cached

"#]])
        .run();
}

#[test]
fn verbose_lists_cached_steps_and_quiet_only_the_summary() {
    let project = Project::new();
    project
        .forge("build -q")
        .stdout(str![[r#"
[..] 3 ran, 0 cached, 0 failed, 0 skipped in [..]s

"#]])
        .run();
    let out = project.forge("build -v").run();
    for step in ["compile", "lint", "package"] {
        assert!(
            out.stdout.contains(&format!("cached  {step}")),
            "no cached line for {step}: {}",
            out.stdout
        );
    }
}

#[test]
fn editing_an_input_reruns_only_what_reads_it() {
    let project = Project::new().file("src/nested/deep.txt", "a");
    project.forge("build -q").run();
    // `lint` reads src/*.rs only; `compile` reads src/**.
    project.write("src/nested/deep.txt", "b");
    let out = project.forge("build").run();
    assert!(
        out.stdout.contains("ran     compile")
            && out.stdout.contains("file src/nested/deep.txt changed"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("ran     lint"), "{}", out.stdout);
}

#[test]
fn failing_step_exits_1_and_skips_its_dependents() {
    let project = Project::new();
    let out = project
        .forge("build -j 1")
        .test_executor("fail:compile=compiler exploded")
        .code(1)
        .run();
    assert!(out.stdout.contains("failed  compile ("), "{}", out.stdout);
    assert!(out.stdout.contains("compiler exploded"), "{}", out.stdout);
    assert!(out.stdout.contains("skipped package"), "{}", out.stdout);
    assert!(
        out.stdout.contains("ran     lint"),
        "unrelated step should run: {}",
        out.stdout
    );
    assert!(
        out.stderr.contains("1 step failed: compile"),
        "{}",
        out.stderr
    );

    // A failure is never cached: the next run retries it, and reuses `lint`.
    let out = project.forge("build -v").run();
    assert!(out.stdout.contains("ran     compile"), "{}", out.stdout);
    assert!(out.stdout.contains("cached  lint"), "{}", out.stdout);
}

#[test]
fn the_state_lock_is_not_a_step_plugin() {
    let out = Project::with_kdl(
        "version 1\nproject \"p\" { region \"us-east-1\"; }\nstep \"lock\" { plugin \"state-lock\"; phase \"build\"; }\n",
    )
    .forge("build")
    .code(2)
    .run();
    assert!(out.stderr.contains("is not a step"), "{}", out.stderr);
    assert!(out.stderr.contains("forge lock status"), "{}", out.stderr);
}

#[test]
fn deploy_runs_everything_and_envs_share_build_results() {
    let project = Project::new();
    let out = project.forge("deploy --env dev").run();
    assert!(out.stdout.contains("5 ran, 0 cached"), "{}", out.stdout);
    // Build steps do not depend on the env; deploy steps do.
    let out = project.forge("deploy --env prod").run();
    assert!(out.stdout.contains("2 ran, 3 cached"), "{}", out.stdout);
    let out = project.forge("deploy --env prod").run();
    assert!(
        out.stdout.contains("nothing to do: 5 steps cached"),
        "{}",
        out.stdout
    );
}

#[test]
fn build_only_the_named_step_and_what_it_needs() {
    let project = Project::new();
    let out = project.forge("build package").run();
    assert!(out.stdout.contains("2 ran"), "{}", out.stdout);
    assert!(!out.stdout.contains("lint"), "{}", out.stdout);
}

#[test]
fn unknown_step_is_invalid_input() {
    let out = Project::new().forge("build pakage").code(2).run();
    assert!(out.stderr.contains("pakage"), "{}", out.stderr);
}

const STATUSES: [&str; 4] = ["ran", "cached", "failed", "skipped"];

/// The contract other tools rely on: every stdout line a JSON object with a `type`; step
/// events with `step` and one of four statuses; the last line the summary with four counts.
fn check_json_contract(stdout_lines: &[serde_json::Value]) -> &serde_json::Value {
    let last = stdout_lines.last().expect("at least one line");
    assert_eq!(last["type"], "summary", "last line: {last}");
    for count in STATUSES {
        assert!(last[count].is_u64(), "summary without `{count}`: {last}");
    }
    let summaries = stdout_lines
        .iter()
        .filter(|l| l["type"] == "summary")
        .count();
    assert_eq!(summaries, 1, "exactly one summary");
    for line in stdout_lines {
        if line["type"] == "step-finished" {
            assert!(line["step"].is_string(), "{line}");
            let status = line["status"].as_str().expect("status is a string");
            assert!(STATUSES.contains(&status), "{line}");
        }
    }
    last
}

#[test]
fn json_contract_on_a_fresh_then_cached_run() {
    let project = Project::new();
    let out = project.forge("build --json").stderr(str![""]).run();
    let lines = out.json_lines();
    let summary = check_json_contract(&lines);
    assert_eq!(
        (summary["ran"].as_u64(), summary["cached"].as_u64()),
        (Some(3), Some(0))
    );
    let finished: BTreeSet<&str> = lines
        .iter()
        .filter(|l| l["type"] == "step-finished")
        .filter_map(|l| l["step"].as_str())
        .collect();
    assert_eq!(finished, BTreeSet::from(["compile", "lint", "package"]));

    let out = project.forge("build --json").run();
    let lines = out.json_lines();
    let summary = check_json_contract(&lines);
    assert_eq!(
        (summary["ran"].as_u64(), summary["cached"].as_u64()),
        (Some(0), Some(3))
    );
}

#[test]
fn json_contract_holds_when_a_step_fails() {
    let out = Project::new()
        .forge("build --json")
        .test_executor("fail:compile=boom")
        .code(1)
        .run();
    let lines = out.json_lines();
    let summary = check_json_contract(&lines);
    assert_eq!(summary["failed"], 1);
    assert_eq!(summary["skipped"], 1);
    assert!(
        out.stderr.contains("1 step failed: compile"),
        "diagnostics go to stderr"
    );
}

#[test]
fn json_contract_holds_when_the_project_is_invalid() {
    let out = Project::with_kdl("version 1\nproject \"x\" {\n  regoin \"us-east-1\"\n}\n")
        .forge("build --json")
        .code(2)
        .run();
    let lines = out.json_lines();
    check_json_contract(&lines);
    assert_eq!(lines[0]["type"], "error");
    assert!(out.stderr.contains("regoin"), "{}", out.stderr);
    // Each problem, located, for tools that annotate the file.
    let problems = lines[0]["diagnostics"].as_array().expect("diagnostics");
    let unknown = problems
        .iter()
        .find(|d| d["code"] == "forge::model::unknown_node")
        .unwrap_or_else(|| panic!("no unknown_node in {problems:?}"));
    assert_eq!(
        (unknown["line"].as_u64(), unknown["column"].as_u64()),
        (Some(3), Some(3))
    );
    assert!(
        unknown["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("project.kdl")),
        "{unknown}"
    );
    assert_eq!(unknown["help"], "did you mean `region`?");
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_cleanly_with_130_and_the_next_run_resumes() {
    use std::io::{BufRead, BufReader};

    let project = Project::new();
    let mut child = project
        .forge("build --json -j 2")
        .test_executor("block:compile")
        .spawn();
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    // Wait (on output, not on time) until the blocking step is running.
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("utf-8 line");
        let started =
            line.contains(r#""type":"step-started""#) && line.contains(r#""step":"compile""#);
        seen.push(line);
        if started {
            break;
        }
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    seen.extend(lines.map(|l| l.expect("utf-8 line")));
    let exit = child.wait().expect("forge exits");
    assert_eq!(exit.code(), Some(130), "output: {seen:#?}");
    let last: serde_json::Value =
        serde_json::from_str(seen.last().expect("a last line")).expect("last line is JSON");
    assert_eq!(last["type"], "summary");
    assert_eq!(last["cancelled"], true);

    // Nothing half-done was stored: compile runs now, and the store verifies clean.
    let out = project.forge("build").run();
    assert!(out.stdout.contains("ran     compile"), "{}", out.stdout);
    project.forge("cache verify").run();
}

#[test]
fn timeout_fails_the_step_that_overruns() {
    let out = Project::new()
        .forge("build --timeout 10ms")
        .test_executor("block:lint")
        .code(1)
        .run();
    assert!(out.stdout.contains("failed  lint ("), "{}", out.stdout);
    assert!(
        out.stdout.contains("timed out after 10ms"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("ran     compile"), "{}", out.stdout);
    assert!(out.stderr.contains("1 step failed: lint"), "{}", out.stderr);
}

#[test]
fn color_is_off_in_pipes_unless_asked_for() {
    let project = Project::new();
    let plain = project.forge("build").run();
    assert!(!plain.stdout.contains('\x1b'), "{:?}", plain.stdout);
    project.write("src/main.rs", "fn main() { /* recolor */ }\n");
    let colored = project.forge("build --color always").run();
    assert!(
        colored.stdout.contains("\x1b[32mran"),
        "{:?}",
        colored.stdout
    );
    let json = project.forge("build --json --color always").run();
    assert!(!json.stdout.contains('\x1b'), "JSON is never colored");
}
