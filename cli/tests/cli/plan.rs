//! `forge plan`: what would run and why, and `--detailed-exitcode`.

use snapbox::str;

use crate::harness::Project;

#[test]
fn fresh_project_would_run_everything() {
    Project::new()
        .forge("plan --phase build")
        .stdout(str![[r#"
3 of 3 steps would run (env dev, forge build):
  run    compile  never run
  run    lint     never run
  run    package  after compile runs

"#]])
        .run();
}

#[test]
fn after_a_build_everything_is_cached() {
    let project = Project::new();
    project.forge("build -q").run();
    project
        .forge("plan --phase build")
        .stdout(str![[r#"
nothing to do: 3 steps cached (env dev, forge build)

"#]])
        .run();
}

#[test]
fn after_editing_a_file_the_plan_names_it() {
    let project = Project::new();
    project.forge("build -q").run();
    project.write("src/util.rs", "pub fn util() { /* changed */ }\n");
    let out = project.forge("plan --phase build").run();
    assert!(out.stdout.contains("would run"), "{}", out.stdout);
    for step in ["compile", "lint"] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains(&format!(" {step} ")))
            .unwrap_or_else(|| panic!("no line for {step}: {}", out.stdout));
        assert!(line.contains("file src/util.rs changed"), "{line}");
    }
}

#[test]
fn deploy_phase_is_the_default() {
    let project = Project::new();
    project.forge("build -q").run();
    let out = project.forge("plan").run();
    assert!(
        out.stdout
            .contains("2 of 5 steps would run (env dev, forge deploy)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("(3 steps cached; -v lists them)"),
        "{}",
        out.stdout
    );
}

#[test]
fn detailed_exitcode_is_2_with_work_and_0_without() {
    let project = Project::new();
    project
        .forge("plan --phase build --detailed-exitcode")
        .code(2)
        .run();
    // Without the flag, pending work is not an error.
    project.forge("plan --phase build").code(0).run();
    project.forge("build -q").run();
    project
        .forge("plan --phase build --detailed-exitcode")
        .code(0)
        .run();
}

#[test]
fn json_plan_lines_and_summary() {
    let project = Project::new();
    project.forge("build -q").run();
    project.write("src/main.rs", "fn main() { println!(); }\n");
    let out = project.forge("plan --phase build --json").run();
    let lines = out.json_lines();
    let summary = lines.last().expect("a summary");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["ran"], 0);
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["skipped"], 0);
    let steps: Vec<_> = lines.iter().filter(|l| l["type"] == "plan-step").collect();
    assert_eq!(steps.len(), 3);
    let compile = steps
        .iter()
        .find(|l| l["step"] == "compile")
        .expect("compile");
    assert_eq!(compile["status"], "changed");
    assert_eq!(
        compile["changes"],
        serde_json::json!([{"field": "file-changed", "path": "src/main.rs"}])
    );
    assert_eq!(
        summary["would_run"].as_u64(),
        Some(3 - summary["cached"].as_u64().unwrap_or(0))
    );
}

#[test]
fn json_plan_that_cannot_start_still_ends_with_a_summary() {
    let kdl = crate::harness::PROJECT_KDL.replace("plugin \"ecr-push\"", "plugn \"ecr-push\"");
    let project = Project::with_kdl(&kdl);
    for (args, code) in [("plan --json", 2), ("plan --json --detailed-exitcode", 1)] {
        let out = project.forge(args).code(code).run();
        let lines = out.json_lines();
        assert_eq!(lines.len(), 2, "{}", out.stdout);
        assert_eq!(lines[0]["type"], "error");
        assert_eq!(lines[0]["code"], "forge::model::invalid");
        assert_eq!(lines[1]["type"], "summary");
        for count in ["would_run", "ran", "cached", "failed", "skipped"] {
            assert_eq!(lines[1][count], 0, "{count}");
        }
    }
    let out = Project::new().forge("plan --json --env prdo").code(2).run();
    let lines = out.json_lines();
    assert_eq!(lines[0]["code"], "forge::model::unknown_env");
    assert_eq!(lines[1]["env"], "prdo");
}

#[test]
fn quiet_prints_only_the_summary_line() {
    let project = Project::new();
    project.forge("build -q").run();
    project
        .forge("plan -q")
        .stdout(str![[r#"
2 of 5 steps would run (env dev, forge deploy)

"#]])
        .run();
}

#[test]
fn verbose_lists_cached_steps_too() {
    let project = Project::new();
    project.forge("build -q").run();
    project
        .forge("plan -v")
        .stdout(str![[r#"
2 of 5 steps would run (env dev, forge deploy):
  cached compile
  cached lint
  cached package
  run    render   never run
  run    release  after render runs

"#]])
        .run();
}
