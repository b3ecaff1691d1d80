//! Symbolic links in a step's inputs, through the real executors: a link that ends outside
//! the project root fails the step that would read it (and `forge plan` says so too), and
//! what it points to never reaches the store; a link that stays inside is read through.

#![cfg(unix)]

use std::os::unix::fs::symlink;
use std::path::Path;

use crate::harness::Project;

/// Unique enough that finding it anywhere in the store means it leaked.
const SECRET: &str = "outside-the-project-7f3a9c1e";

const COMMAND_KDL: &str = r#"version 1
project "links" { region "us-east-1"; }
step "gen" {
    plugin "command"
    phase "build"
    config {
        run "sh" "-c" "mkdir -p out && cat data/*.txt > out/all.txt"
        outputs { all "out/all.txt"; }
    }
    input "data/*.txt"
}
"#;

const SERVICE_KDL: &str = r#"version 1
project "shop" { region "us-east-1"; }
registry "ecr" { url "123456789012.dkr.ecr.us-east-1.amazonaws.com" }
service "web" {
    build { context "web" }
    repository "shop/web"
    port 8080
}
"#;

/// A directory outside the project holding the secret, and the file's path.
fn outside() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir outside the project");
    let file = dir.path().join("secret.txt");
    std::fs::write(&file, format!("{SECRET}\n")).expect("write the outside file");
    (dir, file)
}

fn flat(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read store dir") {
            let path = entry.expect("store entry").path();
            let kind = std::fs::symlink_metadata(&path).expect("lstat").file_type();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let bytes = std::fs::read(&path).expect("read store file");
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(path);
                }
            }
        }
    }
    found
}

fn assert_names_the_link(text: &str, link: &str, target: &Path) {
    // Diagnostics wrap long lines (`│` continues them): compare words, not lines.
    let text = &flat(text);
    assert!(
        text.contains(&format!("`{link}` is a symbolic link to")),
        "the link is not named: {text}"
    );
    let target = target.canonicalize().expect("canonical target");
    assert!(
        text.contains(&target.display().to_string()),
        "where it points is not said: {text}"
    );
    assert!(text.contains("outside the project root"), "{text}");
}

#[test]
fn a_command_step_never_reads_through_a_link_out_of_the_project() {
    let (_dir, secret) = outside();
    let project = Project::with_kdl(COMMAND_KDL).file("data/a.txt", "inside\n");
    symlink(&secret, project.root().join("data/link.txt")).expect("symlink");

    let out = project.forge("build").without_test_executor().code(1).run();
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(text.contains("gen"), "the failing step is named: {text}");
    assert_names_the_link(&text, "data/link.txt", &secret);
    assert_eq!(
        files_containing(project.cache_dir(), SECRET),
        Vec::<std::path::PathBuf>::new(),
        "the outside file's content reached the store"
    );
    assert!(
        !project.root().join("out").exists(),
        "the command ran although an input leaves the project"
    );

    // `forge plan` refuses the same selection, with the diagnostic's code and help.
    let plan = project.forge("plan").without_test_executor().code(1).run();
    let text = flat(&format!("{}{}", plan.stdout, plan.stderr));
    assert_names_the_link(&text, "data/link.txt", &secret);
    assert!(text.contains("forge::files::link_outside_root"), "{text}");
    assert!(text.contains("copy the file into the project"), "{text}");
}

#[test]
fn a_link_inside_the_project_is_read_through_and_its_target_feeds_the_fingerprint() {
    let project = Project::with_kdl(COMMAND_KDL)
        .file("data/a.txt", "inside\n")
        .file("shared/b.data", "first\n");
    symlink("../shared/b.data", project.root().join("data/b.txt")).expect("symlink");

    let build = || {
        let lines = project
            .forge("--json build")
            .without_test_executor()
            .run()
            .json_lines();
        lines.last().expect("summary")["ran"].as_u64()
    };
    assert_eq!(build(), Some(1));
    let all = std::fs::read_to_string(project.root().join("out/all.txt")).expect("output");
    assert_eq!(all, "inside\nfirst\n");
    assert_eq!(build(), Some(0), "nothing changed");
    // `shared/b.data` is not selected by `data/*.txt`, but the link that is reads it.
    project.write("shared/b.data", "second\n");
    assert_eq!(build(), Some(1), "an edit behind the link reruns the step");
}

#[test]
fn a_build_context_with_a_link_out_of_the_project_fails_before_docker_is_asked() {
    let (_dir, secret) = outside();
    let project = Project::with_kdl(SERVICE_KDL).file("web/Dockerfile", "FROM scratch\nCOPY . /\n");
    symlink(&secret, project.root().join("web/secret.txt")).expect("symlink");

    // No Docker Engine here: the step must fail on its inputs, not on the connection.
    let out = project
        .forge("build")
        .without_test_executor()
        .env("DOCKER_HOST", "tcp://127.0.0.1:9")
        .code(1)
        .run();
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(text.contains("docker-build:web"), "{text}");
    assert_names_the_link(&text, "web/secret.txt", &secret);
    assert!(files_containing(project.cache_dir(), SECRET).is_empty());

    // Left out of the context by `.dockerignore`, the link is no input, and no error.
    project.write("web/.dockerignore", "secret.txt\n");
    let plan = project.forge("plan").without_test_executor().run();
    assert!(!plan.stdout.contains("symbolic link"), "{}", plan.stdout);
}
