//! `forge build --check`: every build step runs again, whatever the cache holds, and a
//! step whose rebuild differs from its stored result fails naming what differs. Through
//! the real CLI and host with `command` steps (the images are checked in `images.rs`, on
//! the reference project).

use crate::harness::Project;

const KDL: &str = r#"version 1
project "check" { region "us-east-1"; }
step "steady" {
    plugin "command"
    phase "build"
    config {
        run "sh" "-c" "mkdir -p out && tr a-z A-Z < src/in.txt > out/up.txt"
        outputs { up "out/up.txt"; }
    }
    input "src/*.txt"
}
step "jittery" {
    plugin "command"
    phase "build"
    config {
        run "sh" "-c" "mkdir -p out && cat src/in.txt > out/stamped.txt && date +%s%N >> out/stamped.txt && cp src/in.txt out/same.txt && echo \"rebuild=${FORGE_REBUILD:-0}\""
        outputs { stamped "out/stamped.txt"; same "out/same.txt"; }
    }
    input "src/*.txt"
}
step "after" {
    plugin "command"
    phase "build"
    config {
        run "sh" "-c" "mkdir -p out && wc -c < out/up.txt > out/n.txt"
        outputs { n "out/n.txt"; }
    }
    needs "steady" "jittery"
}
"#;

fn finished<'a>(lines: &'a [serde_json::Value], step: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|l| l["type"] == "step-finished" && l["step"] == step)
        .unwrap_or_else(|| panic!("{step} did not finish: {lines:#?}"))
}

#[test]
fn a_step_that_does_not_reproduce_fails_the_check_naming_its_output() {
    let project = Project::with_kdl(KDL).file("src/in.txt", "hello\n");
    let build =
        |args: &str, code: i32| project.forge(args).without_test_executor().code(code).run();
    build("--json build", 0);
    let store_before = snapshot(project.cache_dir());

    let out = build("--json build --check", 1);
    let lines = out.json_lines();
    let steady = finished(&lines, "steady");
    assert_eq!(steady["status"], "ran");
    assert_eq!(
        steady["reason"],
        "reproducible: rebuilt to the same outputs"
    );
    let jittery = finished(&lines, "jittery");
    assert_eq!(jittery["status"], "failed");
    let reason = jittery["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("not reproducible: rebuilt from the same inputs, 1 output differs from the stored result:"),
        "{reason}"
    );
    assert!(reason.contains("output file `stamped`"), "{reason}");
    assert!(!reason.contains("`same`"), "{reason}");
    // The rerun is told it is one.
    assert!(
        lines
            .iter()
            .any(|l| l["step"] == "jittery" && l["line"] == "rebuild=1"),
        "{lines:#?}"
    );
    // Later steps are still checked, against the stored results.
    assert_eq!(finished(&lines, "after")["status"], "ran");
    assert!(
        out.stderr.contains("forge::check::differs"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("1 step did not reproduce: jittery"),
        "{}",
        out.stderr
    );

    // No stored result changed (the rebuild's own blobs are unreferenced: gc's), no run
    // was added to the history, and the next build is fully cached.
    let store_after = snapshot(project.cache_dir());
    assert!(
        store_after == store_before,
        "the check changed the store: {:?} → {:?}",
        store_before.iter().map(|f| &f.0).collect::<Vec<_>>(),
        store_after.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    let again = build("--json build", 0).json_lines();
    assert_eq!(again.last().map(|s| s["cached"].clone()), Some(3.into()));
}

#[test]
fn a_check_with_nothing_stored_builds_twice() {
    let project = Project::with_kdl(KDL).file("src/in.txt", "hello\n");
    let out = project
        .forge("--json build --check steady")
        .without_test_executor()
        .run();
    let lines = out.json_lines();
    assert_eq!(finished(&lines, "steady")["status"], "ran");
    assert_eq!(
        finished(&lines, "steady")["reason"],
        "reproducible: rebuilt to the same outputs"
    );
    // The first of the two builds is stored: a plain build finds it.
    let again = project
        .forge("--json build steady")
        .without_test_executor()
        .run()
        .json_lines();
    assert_eq!(finished(&again, "steady")["status"], "cached");
}

/// The store's action entries and run history, with their bytes (not its blobs: a
/// rebuild's output files are stored before they are compared, and left to gc).
fn snapshot(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read the store").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .expect("under the store")
                    .display()
                    .to_string();
                if !(rel.starts_with("v2/ac/") || rel.starts_with("v2/history/")) {
                    continue;
                }
                files.push((rel, std::fs::read(&path).expect("read")));
            }
        }
    }
    files.sort();
    files
}
