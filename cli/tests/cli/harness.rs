//! The harness: a temporary project ([`Project`]) and a readable builder for one `forge`
//! invocation in it ([`Forge`]), in the spirit of just's `Test::new().arg(..).stdout(..)`.
//!
//! ```ignore
//! let project = Project::new();
//! project.forge("plan --phase build").code(2).stdout(str![[...]]).run();
//! ```
//!
//! Every invocation gets its own store (`FORGE_CACHE_DIR` in a temp dir owned by the
//! project), runs steps through the engine's test executor (`FORGE_TEST_EXECUTOR`), and has
//! colors off. Snapshot output names the project dir `[ROOT]` and the store `[CACHE]`;
//! timings and timestamps are matched with `[..]`.

use std::path::{Path, PathBuf};

use snapbox::cmd::{Command, OutputAssert};
use snapbox::{Assert, IntoData, Redactions};

/// A small project: three build steps and two deploy steps, two envs. `compile` and
/// `lint` differ in config as well as globs: two steps with the same plugin, config and
/// input files have the same fingerprint and share one cache entry.
pub const PROJECT_KDL: &str = r#"version 1

project "demo" {
    region "us-east-1"
    default-env "dev"
}

step "compile" {
    plugin "docker-build"
    input "src/**"
    phase "build"
}

step "lint" {
    plugin "docker-build"
    input "src/*.rs"
    config {
        target "lint"
    }
    phase "build"
}

step "package" {
    plugin "ecr-push"
    needs "compile"
    phase "build"
}

step "render" {
    plugin "terraform-render"
    needs "package"
}

step "release" {
    plugin "ecs-rollout"
    needs "render"
}

env "dev" {}

env "prod" {}
"#;

/// A project with one container service: the service sugar expands into the standard
/// chain (`docker-build:web` → `ecr-push:web` → `terraform-render` → ... → `state-unlock`).
pub const SERVICE_KDL: &str = r#"version 1

project "shop" {
    region "us-east-1"
    default-env "dev"
}

registry "ecr" { url "123456789012.dkr.ecr.us-east-1.amazonaws.com" }

state {
    s3 bucket="tf-state"
    lock "s3-lockfile"
}

service "web" {
    build { context "web" }
    repository "shop/web"
    port 8080
}

module "net" {
    source "modules/net"
    input "cidr_block" "10.0.0.0/16"
}

env "dev" {}

env "prod" {}
"#;

pub struct Project {
    root: tempfile::TempDir,
    cache: tempfile::TempDir,
}

impl Project {
    /// [`PROJECT_KDL`] with a `src/` for its steps to hash.
    pub fn new() -> Project {
        Project::with_kdl(PROJECT_KDL)
            .file("src/main.rs", "fn main() {}\n")
            .file("src/util.rs", "pub fn util() {}\n")
    }

    /// [`SERVICE_KDL`] with its build context and Terraform module.
    pub fn service() -> Project {
        Project::with_kdl(SERVICE_KDL)
            .file("web/Dockerfile", "FROM scratch\n")
            .file("web/src/main.rs", "fn main() {}\n")
            .file("modules/net/main.tf", "variable \"cidr_block\" {}\n")
    }

    /// A project with `kdl` as its project file and no other files.
    pub fn with_kdl(kdl: &str) -> Project {
        let project = Project {
            root: tempfile::tempdir().expect("temp dir for the project"),
            cache: tempfile::tempdir().expect("temp dir for the store"),
        };
        project.file("project.kdl", kdl)
    }

    /// A directory with no project file anywhere above it that forge could find... as long
    /// as the system temp dir has none, which the test checks first.
    pub fn empty() -> Project {
        let project = Project {
            root: tempfile::tempdir().expect("temp dir"),
            cache: tempfile::tempdir().expect("temp dir for the store"),
        };
        assert!(
            forge_engine_free_find(project.root()).is_none(),
            "a project.kdl above the temp dir would make this test meaningless"
        );
        project
    }

    /// Writes `contents` to `path` (relative to the project root), creating directories.
    pub fn file(self, path: &str, contents: &str) -> Project {
        self.write(path, contents);
        self
    }

    pub fn write(&self, path: &str, contents: &str) {
        let path = self.root().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent dirs");
        }
        std::fs::write(&path, contents).expect("write project file");
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn cache_dir(&self) -> &Path {
        self.cache.path()
    }

    /// `forge ARGS` in the project root; `args` is split on whitespace.
    pub fn forge(&self, args: &str) -> Forge<'_> {
        Forge {
            project: self,
            args: args.split_whitespace().map(str::to_string).collect(),
            dir: PathBuf::new(),
            env: vec![("FORGE_TEST_EXECUTOR".into(), String::new())],
            unset: Vec::new(),
            code: Some(0),
            stdout: None,
            stderr: None,
        }
    }
}

/// Looks for a `project.kdl` the way forge does, without forge.
fn forge_engine_free_find(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|d| d.join("project.kdl"))
        .find(|p| p.symlink_metadata().is_ok())
}

/// One `forge` invocation: set it up, say what to expect, [`Forge::run`] it.
#[must_use = "a Forge does nothing until .run()"]
pub struct Forge<'a> {
    project: &'a Project,
    args: Vec<String>,
    dir: PathBuf,
    env: Vec<(String, String)>,
    unset: Vec<String>,
    code: Option<i32>,
    stdout: Option<snapbox::Data>,
    stderr: Option<snapbox::Data>,
}

impl Forge<'_> {
    /// One more argument, kept whole (may contain spaces).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Run from `dir`, relative to the project root.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = dir.into();
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs forge without `key` in its environment.
    pub fn env_remove(mut self, key: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.unset.push(key.into());
        self
    }

    /// The test executor's controls, e.g. `fail:compile=boom` (see `engine::testing`).
    pub fn test_executor(self, spec: &str) -> Self {
        self.env("FORGE_TEST_EXECUTOR", spec)
    }

    /// Run steps through the production executor (this build has no plugin host).
    pub fn without_test_executor(mut self) -> Self {
        self.env.retain(|(k, _)| k != "FORGE_TEST_EXECUTOR");
        self.unset.push("FORGE_TEST_EXECUTOR".into());
        self
    }

    /// Expected exit status (default 0).
    pub fn code(mut self, code: i32) -> Self {
        self.code = Some(code);
        self
    }

    pub fn stdout(mut self, expected: impl IntoData) -> Self {
        self.stdout = Some(expected.into_data());
        self
    }

    pub fn stderr(mut self, expected: impl IntoData) -> Self {
        self.stderr = Some(expected.into_data());
        self
    }

    /// Starts forge without waiting, stdout piped, for tests that interact with a running
    /// process (signals). Expectations set on this builder are not checked.
    pub fn spawn(self) -> std::process::Child {
        self.command().spawn().expect("start forge")
    }

    /// The invocation as a plain [`std::process::Command`] (stdout and stderr piped), for
    /// tests that need to wire its streams themselves. Expectations are not checked.
    pub fn command(self) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_forge"));
        command
            .current_dir(self.project.root().join(&self.dir))
            .env("FORGE_CACHE_DIR", self.project.cache_dir())
            .env("NO_COLOR", "1")
            .env_remove("XDG_CACHE_HOME")
            .args(&self.args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        for key in &self.unset {
            command.env_remove(key);
        }
        command
    }

    /// Runs forge and checks status, stdout and stderr; returns the output for further
    /// checks.
    pub fn run(self) -> Output {
        let mut redactions = Redactions::new();
        redactions
            .insert("[ROOT]", self.project.root().to_path_buf())
            .expect("valid placeholder");
        redactions
            .insert("[CACHE]", self.project.cache_dir().to_path_buf())
            .expect("valid placeholder");
        let assert = Assert::new()
            .action_env(snapbox::assert::DEFAULT_ACTION_ENV)
            .redact_with(redactions);
        let mut command = Command::new(env!("CARGO_BIN_EXE_forge"))
            .with_assert(assert)
            .current_dir(self.project.root().join(&self.dir))
            .env("FORGE_CACHE_DIR", self.project.cache_dir())
            .env("NO_COLOR", "1")
            .env_remove("XDG_CACHE_HOME")
            .args(&self.args);
        for (key, value) in &self.env {
            command = command.env(key, value);
        }
        for key in &self.unset {
            command = command.env_remove(key);
        }
        let mut assert: OutputAssert = command.assert();
        if let Some(code) = self.code {
            assert = assert.code(code);
        }
        if let Some(stdout) = self.stdout {
            assert = assert.stdout_eq(stdout);
        }
        if let Some(stderr) = self.stderr {
            assert = assert.stderr_eq(stderr);
        }
        let output = assert.get_output();
        Output {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Every stdout line as JSON; fails the test on a line that is not a JSON object with
    /// a string `type`.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        assert!(!self.stdout.is_empty(), "no JSON on stdout");
        self.stdout
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
                assert!(
                    value.get("type").and_then(|t| t.as_str()).is_some(),
                    "JSON line without a string `type`: {line}"
                );
                value
            })
            .collect()
    }
}

/// The compiled fixture plugin `name` (`plugins/fixtures/<name>`, package
/// `fixture-<name>`), built once per test binary by `forge plugin build`'s code
/// ([`forge_plugin_tools::testing::fixture_plugin`]), as the host tests build theirs.
/// Without a wasm toolchain the test fails, loudly.
pub fn fixture_plugin(name: &str) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("forge-cli-fixture-plugins");
    forge_plugin_tools::testing::fixture_plugin(name, &out)
}

impl Project {
    /// Copies a compiled plugin into the project (`plugins/<name>.wasm`) and returns the
    /// `plugin` block that pins it, granting `grants`.
    pub fn pin_plugin(&self, name: &str, component: &Path, grants: &[&str]) -> String {
        let rel = format!("plugins/{name}.wasm");
        let dest = self.root().join(&rel);
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        std::fs::copy(component, &dest).expect("copy the plugin");
        let hash = forge_plugin_tools::hash_file(&dest).expect("hash the plugin");
        let grants: String = grants.iter().map(|g| format!(" grant \"{g}\";")).collect();
        format!(r#"plugin "{name}" path="{rel}" hash="{hash}" {{{grants} }}"#)
    }
}

/// Copies the tree at `src` to `dest`, leaving out build output (`target/`, `dist/`).
pub fn copy_tree(src: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).expect("mkdir");
    for entry in std::fs::read_dir(src).expect("read dir").flatten() {
        let name = entry.file_name();
        if name == "target" || name == "dist" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &dest.join(&name));
        } else {
            std::fs::copy(&path, dest.join(&name)).expect("copy file");
        }
    }
}
