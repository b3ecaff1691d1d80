//! `forge explain STEP`: never run, cached, and which input changed.

use snapbox::str;

use crate::harness::Project;

#[test]
fn never_run() {
    Project::new()
        .forge("explain compile")
        .stdout(str![[r#"
compile (env dev): never run in this env

"#]])
        .run();
}

#[test]
fn cached() {
    let project = Project::new();
    project.forge("build -q").run();
    let out = project.forge("explain compile").run();
    assert!(
        out.stdout
            .starts_with("compile (env dev): cached, nothing to do\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn file_changed() {
    let project = Project::new();
    project.forge("build -q").run();
    project.write("src/main.rs", "fn main() { todo!() }\n");
    project.write("src/new.rs", "\n");
    let out = project.forge("explain compile").run();
    assert!(out.stdout.contains("will run"), "{}", out.stdout);
    assert!(out.stdout.contains("src/main.rs"), "{}", out.stdout);
    assert!(out.stdout.contains("src/new.rs"), "{}", out.stdout);
}

#[test]
fn upstream_output_changed_is_named() {
    let project = Project::new();
    project.forge("build -q").run();
    project.write("src/main.rs", "fn main() { /* v2 */ }\n");
    project.forge("build -q").run();
    // `package` reran because the output of `compile` changed; explain says so now that
    // both are cached again, and `--json` carries the structured change.
    project.write("src/main.rs", "fn main() { /* v3 */ }\n");
    project.forge("build -q compile").run();
    let out = project.forge("explain package").run();
    assert!(out.stdout.contains("compile"), "{}", out.stdout);
    let json = project.forge("explain package --json").run().json_lines();
    assert_eq!(json.len(), 1);
    assert_eq!(json[0]["type"], "explain");
    let changes = json[0]["changes"].as_array().expect("changes");
    assert!(
        changes
            .iter()
            .any(|c| c["field"] == "upstream" && c["step"] == "compile"),
        "{}",
        json[0]
    );
}

#[test]
fn unknown_step_suggests_the_closest() {
    let out = Project::new().forge("explain compil").code(2).run();
    assert!(out.stderr.contains("compil"), "{}", out.stderr);
    assert!(out.stderr.contains("compile"), "{}", out.stderr);
}
