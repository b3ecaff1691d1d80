//! `forge show STEP`: a step's last result read back from the store, through the real
//! `command` plugin and the real store.

use crate::harness::Project;

const KDL: &str = r#"version 1
project "show" { region "us-east-1"; }
step "gen" {
    plugin "command"
    phase "build"
    config {
        run "sh" "-c" "mkdir -p out/sub && tr a-z A-Z < src/in.txt > out/up.txt && printf 'deep\n' > out/sub/deep.txt"
        outputs { up "out/up.txt"; deep "out/sub/deep.txt"; }
    }
    input "src/*.txt"
}
step "after" {
    plugin "command"
    phase "build"
    needs "gen"
    config { run "true"; }
}
"#;

fn project() -> Project {
    Project::with_kdl(KDL).file("src/in.txt", "hello\n")
}

/// `forge --json show gen`: its one line.
fn show_json(project: &Project) -> Vec<serde_json::Value> {
    project
        .forge("--json show gen")
        .without_test_executor()
        .run()
        .json_lines()
}

fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

#[test]
fn a_step_never_run_says_how_to_run_it() {
    let out = project()
        .forge("show gen")
        .without_test_executor()
        .code(2)
        .run();
    assert!(
        out.stderr.contains("forge::show::no_result"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("`gen` has no result recorded in env"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("forge build"), "{}", out.stderr);
    let unknown = project()
        .forge("show nope")
        .without_test_executor()
        .code(2)
        .run();
    assert!(
        unknown.stderr.contains("forge::unknown_step"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn the_last_result_its_files_and_copies_of_them() {
    let project = project();
    project.forge("build -q").without_test_executor().run();

    // JSON: the run, the fingerprint, and every output file with its hash and size.
    let json = show_json(&project);
    assert_eq!(json.len(), 1, "{json:?}");
    let shown = &json[0];
    assert_eq!(shown["type"], "show");
    assert_eq!(shown["step"], "gen");
    assert_eq!(shown["plugin"], "command");
    assert_eq!(shown["status"], "ran");
    assert!(shown["command"].as_str().unwrap_or("").contains("build"));
    let files = shown["files"].as_object().expect("files");
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(names, ["deep", "up"], "{shown}");
    assert_eq!(files["up"]["hash"], blake3_hex(b"HELLO\n"));
    assert_eq!(files["up"]["size"], 6);
    assert_eq!(files["up"]["local"], true);
    let fingerprint = shown["fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_owned();

    // The same fingerprint `forge explain` knows as current: it is the cached result.
    let explain = project
        .forge("--json explain gen")
        .without_test_executor()
        .run()
        .json_lines();
    assert_eq!(explain[0]["fingerprint"], fingerprint.as_str());

    // One file's bytes, exactly.
    let up = project
        .forge("show gen --output up")
        .without_test_executor()
        .run();
    assert_eq!(up.stdout, "HELLO\n");

    // The text form names the run and lists the files with sizes and hashes.
    let text = project
        .forge("show gen")
        .without_test_executor()
        .run()
        .stdout;
    assert!(text.starts_with("gen (command), env "), "{text}");
    assert!(text.contains(&fingerprint), "{text}");
    assert!(
        text.contains(&format!("blake3:{}", blake3_hex(b"HELLO\n"))),
        "{text}"
    );
    assert!(text.contains("forge show gen --env"), "{text}");

    // All files into a new directory, keeping their relative names.
    let out = project.root().join("copied");
    project
        .forge("show gen --out")
        .arg(out.display().to_string())
        .without_test_executor()
        .run();
    assert_eq!(
        std::fs::read_to_string(out.join("up")).expect("up"),
        "HELLO\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("deep")).expect("deep"),
        "deep\n"
    );
    // ...never over what is there.
    std::fs::write(out.join("up"), "mine\n").expect("edit");
    let refused = project
        .forge("show gen --out")
        .arg(out.display().to_string())
        .without_test_executor()
        .code(2)
        .run();
    assert!(
        refused.stderr.contains("forge::show::out_dir"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read_to_string(out.join("up")).expect("up"),
        "mine\n"
    );

    // A name the result does not have lists the ones it does.
    let unknown = project
        .forge("show gen --output nope")
        .without_test_executor()
        .code(2)
        .run();
    assert!(unknown.stderr.contains("deep, up"), "{}", unknown.stderr);
    let mixed = project
        .forge("--json show gen --output up")
        .without_test_executor()
        .code(2)
        .run();
    assert!(
        mixed.stderr.contains("forge::show::output_json"),
        "{}",
        mixed.stderr
    );

    // A later run that finds it cached is the newest record; the result is the same one.
    project.forge("build -q").without_test_executor().run();
    let again = show_json(&project);
    assert_eq!(again[0]["fingerprint"], fingerprint.as_str());
    assert_eq!(again[0]["stored_ms"], shown["stored_ms"]);

    // A step without output files: its manifest is all there is.
    let after = project.forge("show after").without_test_executor().run();
    assert!(after.stdout.contains("outputs: none"), "{}", after.stdout);
}

#[test]
fn a_damaged_blob_is_refused_not_shown() {
    let project = project();
    project.forge("build -q").without_test_executor().run();
    let json = show_json(&project);
    let hash = json[0]["files"]["up"]["hash"]
        .as_str()
        .expect("hash")
        .to_owned();
    let blob = walk(project.cache_dir())
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy() == hash))
        .expect("the blob is in the store");
    std::fs::write(&blob, "HELLX\n").expect("damage");
    let out = project
        .forge("show gen --output up")
        .without_test_executor()
        .code(1)
        .run();
    assert!(
        out.stdout.is_empty(),
        "nothing damaged is written: {}",
        out.stdout
    );
    assert!(
        out.stderr.contains("corrupt") || out.stderr.contains("damaged"),
        "{}",
        out.stderr
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}
