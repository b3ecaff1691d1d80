//! The Jenkins pipelines (`jenkins/ci.Jenkinsfile`, `jenkins/cd.Jenkinsfile`): the shell
//! steps they run, taken from the Jenkinsfiles themselves, run as Jenkins runs them
//! (`sh -xe`, the job's environment) on two agents: a CI agent and a CD agent, each a clean
//! `git clone` with its own store, against the local stack. What Jenkins itself does
//! between them is done here the way its steps do it: `withAWS` gives credentials (moto's),
//! `archiveArtifacts` + `copyArtifacts` carry release.json, and CD's `checkout scmGit`
//! checks out the `COMMIT` parameter. The Groovy is checked by `npm-groovy-lint` in CI.
//!
//! The project is the release tests' (real `docker-build` and `ecr-push`, `terraform` 1.11
//! on moto with the `tf-root` render, ECS answered by the replay), with an env `dev`, the
//! env the pipelines use.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::images::docker_host;
use crate::release::{junit_cases, release_project_with, settled_on};

/// The repository's `jenkins/` directory.
fn jenkins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../jenkins")
}

/// Every `sh '''…'''` step of a Jenkinsfile, in order, as the shell receives it (Groovy's
/// escapes in a single-quoted string undone: `\\` is one backslash).
fn sh_steps(jenkinsfile: &str) -> Vec<String> {
    let mut steps = Vec::new();
    let mut rest = jenkinsfile;
    while let Some(start) = rest.find("sh '''") {
        let body = &rest[start + "sh '''".len()..];
        let end = body.find("'''").expect("a closed ''' string");
        steps.push(body[..end].replace("\\\\", "\\").replace("\\'", "'"));
        rest = &body[end + 3..];
    }
    assert!(!steps.is_empty(), "no sh ''' steps in the Jenkinsfile");
    steps
}

/// The `NAME = 'value'` entries of a Jenkinsfile's `environment { }` block.
fn environment(jenkinsfile: &str) -> Vec<(String, String)> {
    let Some(start) = jenkinsfile.find("environment {") else {
        return Vec::new();
    };
    let block = &jenkinsfile[start..];
    let block = &block[..block.find('}').expect("a closed environment block")];
    block
        .lines()
        .filter_map(|line| {
            let (name, value) = line.trim().split_once(" = ")?;
            Some((name.to_owned(), value.trim().trim_matches('\'').to_owned()))
        })
        .collect()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=jenkins",
            "-c",
            "user.email=jenkins@example.invalid",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned()
}

/// One Jenkins agent: a workspace (a clean clone) and a store of its own.
struct Agent {
    workspace: tempfile::TempDir,
    store: tempfile::TempDir,
}

impl Agent {
    fn clone_of(origin: &Path, commit: &str) -> Agent {
        let workspace = tempfile::tempdir().expect("workspace");
        git(
            workspace.path(),
            &["clone", "-q", &origin.display().to_string(), "."],
        );
        git(workspace.path(), &["checkout", "-q", "--detach", commit]);
        Agent {
            workspace,
            store: tempfile::tempdir().expect("store"),
        }
    }

    fn root(&self) -> &Path {
        self.workspace.path()
    }

    /// Runs each `sh` step like Jenkins (`sh -xe`, in the workspace, with `env`); the
    /// console output of all of them and whether every one succeeded.
    fn run(&self, steps: &[String], env: &[(String, String)]) -> (String, bool) {
        let forge_dir = Path::new(env!("CARGO_BIN_EXE_forge"))
            .parent()
            .expect("the forge binary's directory")
            .to_path_buf();
        let path = format!(
            "{}:{}",
            forge_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut console = String::new();
        for step in steps {
            let mut command = Command::new("sh");
            command
                .args(["-xe", "-c", step])
                .current_dir(self.root())
                .env("PATH", &path)
                .env("WORKSPACE", self.root())
                .env("FORGE_CACHE_DIR", self.store.path())
                .env_remove("FORGE_TEST_EXECUTOR")
                .env_remove("FORGE_COMMIT_SHA")
                .env_remove("AWS_PROFILE")
                .env_remove("NO_COLOR")
                .env_remove("XDG_CACHE_HOME");
            for (key, value) in env {
                command.env(key, value);
            }
            let out = command.output().expect("sh runs");
            console.push_str(&String::from_utf8_lossy(&out.stdout));
            console.push_str(&String::from_utf8_lossy(&out.stderr));
            if !out.status.success() {
                return (console, false);
            }
        }
        (console, true)
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn the_ci_and_cd_pipelines_hand_a_release_from_one_agent_to_another() {
    let ci_file = std::fs::read_to_string(jenkins_dir().join("ci.Jenkinsfile")).expect("CI");
    let cd_file = std::fs::read_to_string(jenkins_dir().join("cd.Jenkinsfile")).expect("CD");
    let (ci_steps, cd_steps) = (sh_steps(&ci_file), sh_steps(&cd_file));
    let ci_env = environment(&ci_file);
    let forge_env = ci_env
        .iter()
        .find(|(k, _)| k == "FORGE_ENV")
        .map(|(_, v)| v.clone())
        .expect("CI sets FORGE_ENV");

    // The origin repository: the project, committed.
    let (tf, _prefix, ecs) = release_project_with(&format!("env \"{forge_env}\" {{}}"));
    let origin = tf.project.root();
    std::fs::write(origin.join(".gitignore"), "release.json\nreports/\n").expect(".gitignore");
    git(origin, &["init", "-q"]);
    git(origin, &["add", "-A"]);
    git(origin, &["commit", "-q", "-m", "first"]);
    let first = git(origin, &["rev-parse", "HEAD"]);

    // What withAWS and the agents' own setup give every step.
    let mut aws = pairs(&[
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ]);
    aws.extend(tf.env.borrow().iter().cloned());
    aws.push((
        "FORGE_TERRAFORM".into(),
        origin.join("tools/terraform").display().to_string(),
    ));

    // CI agent, build 7.
    let ci = Agent::clone_of(origin, &first);
    let mut env = aws.clone();
    env.extend(ci_env.clone());
    env.extend(pairs(&[
        ("BUILD_NUMBER", "7"),
        ("GIT_COMMIT", &first),
        ("SOURCE_DATE_EPOCH", "1700000000"),
    ]));
    env.push(("DOCKER_HOST".into(), docker_host()));
    let (console, ok) = ci.run(&ci_steps, &env);
    assert!(ok, "CI failed:\n{console}");
    // forge sees no terminal: plain lines, each with its UTC timestamp.
    let step_line = console
        .lines()
        .find(|l| l.contains(" ran ") && l.contains("ecr-push:web"))
        .unwrap_or_else(|| panic!("no line for the push:\n{console}"));
    assert!(
        step_line.len() > 21 && step_line.as_bytes()[4] == b'-' && step_line[..20].ends_with('Z'),
        "{step_line}"
    );
    let cases = junit_cases(&ci.root().join("reports/forge-build.xml"));
    assert_eq!(cases.len(), 2, "{cases:?}");
    let release_json = std::fs::read(ci.root().join("release.json")).expect("CI's release.json");
    let release: serde_json::Value = serde_json::from_slice(&release_json).expect("JSON");
    assert_eq!(release["commit"], first.as_str());

    // CD agent: checkout scmGit of COMMIT, copyArtifacts of build 7, then the deploy.
    let cd = Agent::clone_of(origin, &first);
    std::fs::write(cd.root().join("release.json"), &release_json).expect("copyArtifacts");
    settled_on(
        &ecs,
        release["images"]["web"]["image"]
            .as_str()
            .expect("the image"),
    );
    let mut env = aws.clone();
    env.extend(pairs(&[
        ("DEPLOY_ENV", &forge_env),
        ("CI_BUILD", "7"),
        ("COMMIT", &first),
        ("BUILD_NUMBER", "3"),
        ("GIT_COMMIT", &first),
        // The CD agent has no Docker Engine: a build there could not start.
        ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
    ]));
    let (console, ok) = cd.run(&cd_steps, &env);
    assert!(ok, "CD failed:\n{console}");
    assert!(!console.contains("docker-build:web"), "{console}");
    assert!(
        console
            .lines()
            .any(|l| l.contains("ran     terraform-apply")),
        "{console}"
    );
    let cases = junit_cases(&cd.root().join("reports/forge-deploy.xml"));
    assert!(
        cases.iter().any(|c| c.0 == "ecr-push:web"
            && c.2
                .starts_with("cached: the result of release.json (commit ")),
        "{cases:?}"
    );
    assert!(
        cases
            .iter()
            .any(|c| c.0 == "ecs-rollout:web" && c.1 == "passed"),
        "{cases:?}"
    );

    // A new commit changes the page. CD given the old release at the new commit says
    // which files differ, and deploys nothing.
    std::fs::write(origin.join("web/index.html"), "<h1>second</h1>\n").expect("edit");
    git(origin, &["commit", "-q", "-am", "second"]);
    let second = git(origin, &["rev-parse", "HEAD"]);
    let cd2 = Agent::clone_of(origin, &second);
    std::fs::write(cd2.root().join("release.json"), &release_json).expect("the old release");
    let mut env2 = env.clone();
    env2.extend(pairs(&[("COMMIT", &second), ("GIT_COMMIT", &second)]));
    let (console, ok) = cd2.run(&cd_steps, &env2);
    assert!(
        !ok,
        "an old release at a new commit must not deploy:\n{console}"
    );
    let flat = console
        .split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ");
    assert!(flat.contains("1 file differs: web/index.html"), "{console}");
    let cases = junit_cases(&cd2.root().join("reports/forge-deploy.xml"));
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!(cases[0].1, "error", "{cases:?}");
}
