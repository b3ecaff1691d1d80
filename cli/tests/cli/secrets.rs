//! A step's secrets: declared by reference, given to a `command` process as environment
//! variables, masked in everything forge writes, never stored, and fingerprinted by their
//! reference only. Through the real `command` executor, the real store and the real
//! reporters (terminal, `--json`, `--junit`).

use std::path::Path;

use crate::harness::Project;

/// A value no output of forge may contain.
const SECRET: &str = "s3cr3t-ZX81-value";

const KDL: &str = r#"version 1
project "sec" { region "us-east-1"; }
step "publish" {
    plugin "command"
    phase "build"
    secret "NPM_TOKEN" from="env:FORGE_TEST_NPM_TOKEN"
    config {
        run "sh" "-c" "echo \"token=$NPM_TOKEN\"; echo \"to stderr: $NPM_TOKEN\" >&2; env | grep NPM_TOKEN; mkdir -p out; echo published > out/receipt.txt"
        outputs { receipt "out/receipt.txt"; }
    }
    input "src/*"
}
"#;

fn project() -> Project {
    Project::with_kdl(KDL).file("src/app.txt", "app\n")
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
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

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn a_secret_reaches_the_command_and_none_of_forges_outputs() {
    let project = project();
    let junit = project.root().join("reports/build.xml");
    let json = project
        .forge("--json build --junit")
        .arg(junit.display().to_string())
        .env("FORGE_TEST_NPM_TOKEN", SECRET)
        .without_test_executor()
        .run();
    let text = project
        .forge("-v build --check")
        .env("FORGE_TEST_NPM_TOKEN", SECRET)
        .without_test_executor()
        .run();

    // The process got it, under the declared name: its lines say so, masked.
    let lines: Vec<String> = json
        .json_lines()
        .iter()
        .filter(|l| l["type"] == "step-log")
        .filter_map(|l| l["line"].as_str().map(str::to_owned))
        .collect();
    assert!(lines.iter().any(|l| l == "token=****"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "to stderr: ****"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "NPM_TOKEN=****"), "{lines:?}");
    let terminal = format!("{}{}", text.stdout, text.stderr);
    assert!(terminal.contains("token=****"), "{terminal}");

    // Every byte forge wrote: its terminal and JSON output, the JUnit report, and every
    // file of the store (results, history, logs, fingerprints).
    let mut checked = 0;
    for (what, bytes) in [
        ("--json stdout", json.stdout.as_bytes()),
        ("--json stderr", json.stderr.as_bytes()),
        ("terminal stdout", text.stdout.as_bytes()),
        ("terminal stderr", text.stderr.as_bytes()),
    ] {
        assert!(!contains(bytes, SECRET), "the secret is in {what}");
        checked += 1;
    }
    let report = std::fs::read(&junit).expect("the JUnit report");
    assert!(
        contains(&report, "token=****"),
        "the report has the masked log"
    );
    assert!(
        !contains(&report, SECRET),
        "the secret is in the JUnit report"
    );
    let store_files = files_under(project.cache_dir());
    assert!(store_files.len() > 5, "{store_files:?}");
    for path in &store_files {
        let bytes = std::fs::read(path).expect("a store file");
        assert!(
            !contains(&bytes, SECRET),
            "the secret is in {}",
            path.display()
        );
        checked += 1;
    }
    for path in files_under(&project.root().join(".forge")) {
        let bytes = std::fs::read(&path).expect("a project file forge wrote");
        assert!(
            !contains(&bytes, SECRET),
            "the secret is in {}",
            path.display()
        );
    }
    assert!(checked > 9);

    // The reference feeds the fingerprint, the value does not: rotating the secret does
    // not rebuild; pointing it at another variable does, and explain says why.
    let rotated = project
        .forge("--json build")
        .env("FORGE_TEST_NPM_TOKEN", "another-value-entirely")
        .without_test_executor()
        .run()
        .json_lines();
    assert_eq!(rotated.last().expect("summary")["cached"], 1, "{rotated:?}");
    project.write(
        "project.kdl",
        &KDL.replace("env:FORGE_TEST_NPM_TOKEN", "env:FORGE_TEST_OTHER"),
    );
    let explain = project
        .forge("explain publish")
        .without_test_executor()
        .run();
    assert!(
        explain.stdout.contains(
            "secret NPM_TOKEN now comes from env:FORGE_TEST_OTHER (was env:FORGE_TEST_NPM_TOKEN)"
        ),
        "{}",
        explain.stdout
    );
}

#[test]
fn a_missing_secret_fails_the_step_naming_the_variable() {
    let out = project()
        .forge("build")
        .env_remove("FORGE_TEST_NPM_TOKEN")
        .without_test_executor()
        .code(1)
        .run();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("secret `NPM_TOKEN`: environment variable FORGE_TEST_NPM_TOKEN is not set"),
        "{all}"
    );
    assert!(all.contains("withCredentials"), "{all}");
}

#[test]
fn a_failing_command_and_an_output_holding_the_secret_never_show_it() {
    let failing = Project::with_kdl(&KDL.replace(
        "mkdir -p out; echo published > out/receipt.txt",
        "echo \\\"login failed for $NPM_TOKEN\\\" >&2; exit 4",
    ))
    .file("src/app.txt", "app\n");
    let out = failing
        .forge("build")
        .env("FORGE_TEST_NPM_TOKEN", SECRET)
        .without_test_executor()
        .code(1)
        .run();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("login failed for ****"), "{all}");
    assert!(!all.contains(SECRET), "{all}");

    let leaking = Project::with_kdl(&KDL.replace(
        "echo published > out/receipt.txt",
        "echo \\\"$NPM_TOKEN\\\" > out/receipt.txt",
    ))
    .file("src/app.txt", "app\n");
    let out = leaking
        .forge("build")
        .env("FORGE_TEST_NPM_TOKEN", SECRET)
        .without_test_executor()
        .code(1)
        .run();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("output `receipt` (out/receipt.txt) contains the value of secret `NPM_TOKEN`"),
        "{all}"
    );
    for path in files_under(leaking.cache_dir()) {
        let bytes = std::fs::read(&path).expect("a store file");
        assert!(
            !contains(&bytes, SECRET),
            "the secret is in {}",
            path.display()
        );
    }
}

#[test]
fn secrets_are_declared_by_reference_and_a_service_cannot_read_forges_environment() {
    let bad_step = Project::with_kdl(&KDL.replace(
        "env:FORGE_TEST_NPM_TOKEN",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:npm",
    ));
    let out = bad_step.forge("graph").code(2).run();
    assert!(
        out.stderr.contains("a step's secret from"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("env:VARIABLE"), "{}", out.stderr);

    let service = Project::service();
    let kdl = std::fs::read_to_string(service.root().join("project.kdl")).expect("kdl");
    let with_env = kdl.replacen(
        "service \"web\" {",
        "service \"web\" {\n    secret \"TOKEN\" from=\"env:CI_TOKEN\"",
        1,
    );
    assert_ne!(
        with_env, kdl,
        "the service fixture has a `service \"web\"` block"
    );
    service.write("project.kdl", &with_env);
    let out = service.forge("graph").code(2).run();
    assert!(
        out.stderr
            .contains("a service's secret cannot come from `env:CI_TOKEN`"),
        "{}",
        out.stderr
    );
}
