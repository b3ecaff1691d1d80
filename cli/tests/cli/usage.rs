//! Invalid invocations: clear messages and exit status 2, never a panic.

use snapbox::str;

use crate::harness::Project;

#[test]
fn no_project_file_says_what_to_do() {
    Project::empty()
        .forge("plan")
        .code(2)
        .stdout(str![""])
        .stderr(str![[r#"
forge::cli::no_project

  × no project.kdl in [ROOT] or any parent directory
  help: run forge inside a project (a directory with a project.kdl, or below
        one), or point at one with `forge -C DIR ...`; docs/project-kdl.md
        describes the file


"#]])
        .run();
}

#[test]
fn a_directory_named_project_kdl_is_reported_not_skipped() {
    let outer = Project::new();
    std::fs::create_dir_all(outer.root().join("sub/project.kdl")).expect("create dir");
    let out = outer
        .forge("plan")
        .current_dir(outer.root().join("sub"))
        .code(2)
        .stdout(str![""])
        .run();
    assert!(
        out.stderr.contains("project.kdl is a directory"),
        "{}",
        out.stderr
    );
}

#[test]
fn chdir_to_a_missing_dir_is_invalid_input() {
    let out = Project::empty().forge("-C nowhere graph").code(2).run();
    assert!(
        out.stderr.contains("cannot change to directory nowhere"),
        "{}",
        out.stderr
    );
}

/// The project's default env applies everywhere `--env` is not given, deploys included
/// (a project whose default is `prod` has said so in its own file).
#[test]
fn deploy_without_env_deploys_the_default_env() {
    let out = Project::new().forge("--json deploy").run();
    let lines = out.json_lines();
    let started = lines
        .iter()
        .find(|l| l["type"] == "run-started")
        .expect("a run-started event");
    assert_eq!(started["env"], "dev", "{}", out.stdout);
    let summary = lines.last().expect("a summary line");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["failed"], 0, "{}", out.stdout);
}

#[test]
fn bad_flags_are_usage_errors() {
    let out = Project::new().forge("graph --format svg").code(2).run();
    assert!(
        out.stderr.contains("possible values: text, dot, json"),
        "{}",
        out.stderr
    );
    Project::new().forge("build -j 0").code(2).run();
    Project::new().forge("build --timeout soon").code(2).run();
}

#[test]
fn help_shows_examples() {
    let out = Project::empty().forge("plan --help").run();
    assert!(out.stdout.contains("Examples:"), "{}", out.stdout);
    assert!(out.stdout.contains("--detailed-exitcode"), "{}", out.stdout);
}

/// The subcommands a `--help` lists under `Commands:` (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_command_and_subcommand_help_has_examples() {
    let project = Project::empty();
    let mut pending = vec![String::new()];
    let mut seen = 0;
    while let Some(command) = pending.pop() {
        let out = project.forge(&format!("{command} --help")).run();
        assert!(
            out.stdout.contains("Examples:"),
            "`forge {command} --help` has no examples:\n{}",
            out.stdout
        );
        for sub in subcommands(&out.stdout) {
            pending.push(format!("{command} {sub}"));
        }
        seen += 1;
    }
    assert!(seen >= 12, "only {seen} commands found");
}

#[test]
fn invalid_project_points_at_file_line_col_and_exits_2() {
    let kdl = crate::harness::PROJECT_KDL.replace("plugin \"ecr-push\"", "plugn \"ecr-push\"");
    let project = Project::with_kdl(&kdl);
    let out = project.forge("plan").code(2).stdout(str![""]).run();
    assert!(
        out.stderr.contains("[ROOT]/project.kdl:24:5") || out.stderr.contains("project.kdl:24:5"),
        "no file:line:col in {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `plugin`?"),
        "{}",
        out.stderr
    );
    // The same file fails every project command the same way.
    project.forge("graph").code(2).run();
    project.forge("build").code(2).run();
}

#[test]
fn invalid_project_under_detailed_exitcode_is_1() {
    let kdl = crate::harness::PROJECT_KDL.replace("plugin \"ecr-push\"", "plugn \"ecr-push\"");
    Project::with_kdl(&kdl)
        .forge("plan --detailed-exitcode")
        .code(1)
        .run();
}

#[test]
fn unknown_env_is_invalid_input() {
    let out = Project::new().forge("graph --env staging").code(2).run();
    assert!(
        out.stderr.contains("unknown env `staging`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("known envs: dev, prod"),
        "{}",
        out.stderr
    );
    // The command line is wrong, not the file: no "problem in project file" framing.
    assert!(!out.stderr.contains("project file"), "{}", out.stderr);
    let out = Project::new().forge("plan --env prdo").code(2).run();
    assert!(
        out.stderr.contains("did you mean `prod`?"),
        "{}",
        out.stderr
    );
}

/// `forge ... 2>/dev/full`: a stderr that cannot be written loses the messages, not the exit
/// status (no panic, no abort).
#[cfg(target_os = "linux")]
#[test]
fn unwritable_stderr_keeps_the_exit_status() {
    let full = || std::fs::File::create("/dev/full").expect("open /dev/full");
    let status = |forge: crate::harness::Forge<'_>| {
        forge
            .command()
            .stdout(full())
            .stderr(full())
            .status()
            .expect("run forge")
            .code()
    };
    let kdl = crate::harness::PROJECT_KDL.replace("plugin \"ecr-push\"", "plugn \"ecr-push\"");
    assert_eq!(status(Project::with_kdl(&kdl).forge("plan")), Some(2));
    let project = Project::new();
    assert_eq!(
        status(project.forge("build").test_executor("fail:lint=boom")),
        Some(1)
    );
}
