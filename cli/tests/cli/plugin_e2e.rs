//! A third-party plugin from scaffold to a pinned, cached step, through the real `forge`
//! binary and the real plugin host (no test executor): `forge plugin new` → `forge plugin
//! build` → a `project.kdl` that pins it → `forge build` twice → edit an input → rerun
//! and `forge explain` → a wrong pin. And the worked example (`examples/plugins/template`
//! with `examples/plugin-project`), whose committed pin must be what a fresh build gives.
//! And a third-party plugin that calls AWS, from a scaffold outside any forge checkout
//! (its SDK vendored) to a run against moto: that one also needs the local stack
//! (`scripts/local-stack up`) and fails, never skips, without it.
//!
//! These compile wasm (slow the first time, then incremental in a target dir kept under
//! `CARGO_TARGET_TMPDIR`) and need a wasm toolchain: without one they FAIL, never skip.
//! Run them alone with `cargo test -p forge-cli --test cli plugin_e2e`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{Forge, Output, Project};

/// The toolchain check every test here starts with: a missing toolchain is a failure that
/// says what to install, not a silent pass.
fn require_wasm_toolchain() {
    if let Err(err) = forge_plugin_tools::toolchain::detect() {
        panic!(
            "this test builds a real plugin and needs a wasm toolchain \
             (`rustup target add wasm32-unknown-unknown`, or Debian's rustc-web, \
             cargo-web, rust-web-src and lld); CI installs one.\n{:?}",
            miette::Report::new(err)
        );
    }
}

/// A target dir per test, kept across runs: std (with -Zbuild-std) and the dependencies
/// build once; distinct from the other plugin tests' so concurrent builds never share one.
fn kept_target(test: &str) -> String {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    target.to_str().expect("utf-8 target dir").to_owned()
}

/// The SDK a scaffold depends on: this checkout's, by path.
fn sdk_dir() -> String {
    let dir = repo().join("plugin-sdk");
    dir.to_str().expect("utf-8 path").to_owned()
}

fn repo() -> PathBuf {
    std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .expect("the repository root")
}

/// `forge plugin build DIR --out OUT --json` in `project`; returns the `plugin-build` line.
fn build_plugin(project: &Project, dir: &Path, out: &str, target: &str) -> Value {
    let output = project
        .forge("-j1 plugin build --json --out")
        .arg(out)
        .arg(dir.to_str().expect("utf-8 plugin dir"))
        .env("CARGO_TARGET_DIR", target)
        .env("FORGE_PLUGIN_SDK", &sdk_dir())
        .run();
    let line = output.json_lines().remove(0);
    assert_eq!(line["type"], "plugin-build", "{line}");
    let hash =
        forge_plugin_tools::hash_file(&project.root().join(out)).expect("hash the component");
    assert_eq!(
        line["hash"],
        hash.as_str(),
        "the reported hash is the file's"
    );
    line
}

/// Each step's final status, and the summary line, of a `forge build --json`.
fn statuses(output: &Output) -> (BTreeMap<String, String>, Value) {
    let mut steps = BTreeMap::new();
    let mut summary = Value::Null;
    for line in output.json_lines() {
        match line["type"].as_str() {
            Some("step-finished") => {
                let step = line["step"].as_str().expect("step id").to_owned();
                let status = line["status"].as_str().expect("status").to_owned();
                steps.insert(step, status);
            }
            Some("summary") => summary = line,
            _ => {}
        }
    }
    assert!(summary.is_object(), "no summary line:\n{}", output.stdout);
    (steps, summary)
}

fn project_kdl(pin: &str) -> String {
    format!(
        r#"version 1

project "e2e" {{
    region "us-east-1"
    default-env "dev"
}}

{pin}

step "greet" {{
    plugin "greet"
    input "data/*.txt"
    config {{
        name "e2e"
    }}
    phase "build"
}}

step "greet-other" {{
    plugin "greet"
    input "other/*.txt"
    config {{
        name "other"
    }}
    phase "build"
}}

env "dev" {{}}
"#
    )
}

/// The acceptance path of a third-party plugin, end to end.
#[test]
fn plugin_e2e_new_build_pin_build_twice_edit_rerun_explain() {
    require_wasm_toolchain();
    let project = Project::empty()
        .file("data/a.txt", "one\n")
        .file("other/b.txt", "two\n");
    project
        .forge("plugin new greet")
        .env("FORGE_PLUGIN_SDK", &sdk_dir())
        .run();
    let target = kept_target("plugin-e2e-project");
    let built = build_plugin(
        &project,
        &project.root().join("greet"),
        "plugins/greet.wasm",
        &target,
    );
    let hash = built["hash"].as_str().expect("hash").to_owned();
    assert!(hash.starts_with("blake3:"), "{hash}");
    project.write(
        "project.kdl",
        &project_kdl(&format!(
            r#"plugin "greet" path="plugins/greet.wasm" hash="{hash}""#
        )),
    );

    // First build: both steps run, through the wasm host.
    let first = project.forge("build --json").without_test_executor().run();
    let (steps, summary) = statuses(&first);
    assert_eq!(steps["greet"], "ran", "{}", first.stdout);
    assert_eq!(steps["greet-other"], "ran", "{}", first.stdout);
    assert_eq!(summary["ran"], 2);

    // Second build: nothing runs.
    let second = project.forge("build --json").without_test_executor().run();
    let (steps, summary) = statuses(&second);
    assert_eq!(summary["ran"], 0, "{}", second.stdout);
    assert_eq!(summary["cached"], 2, "{}", second.stdout);
    assert!(steps.values().all(|s| s == "cached"), "{steps:?}");

    // Edit one declared input: explain names it, and exactly its step reruns.
    project.write("data/a.txt", "one, edited\n");
    let explained = project.forge("explain greet").without_test_executor().run();
    assert!(
        explained.stdout.contains("data/a.txt"),
        "explain must name the edited file:\n{}",
        explained.stdout
    );
    let third = project.forge("build --json").without_test_executor().run();
    let (steps, summary) = statuses(&third);
    assert_eq!(steps["greet"], "ran", "{}", third.stdout);
    assert_eq!(steps["greet-other"], "cached", "{}", third.stdout);
    assert_eq!(summary["ran"], 1);
    let reason = third
        .json_lines()
        .into_iter()
        .find(|l| l["type"] == "step-finished" && l["step"] == "greet")
        .map(|l| l["reason"].to_string())
        .unwrap_or_default();
    assert!(reason.contains("data/a.txt"), "reason: {reason}");

    // A wrong pin: refused before anything runs, showing both hashes.
    let wrong = format!("blake3:{}", "0".repeat(64));
    project.write(
        "project.kdl",
        &project_kdl(&format!(
            r#"plugin "greet" path="plugins/greet.wasm" hash="{wrong}""#
        )),
    );
    let refused = project.forge("build").without_test_executor().code(2).run();
    assert!(refused.stderr.contains(&wrong), "{}", refused.stderr);
    assert!(refused.stderr.contains(&hash), "{}", refused.stderr);
    assert!(!refused.stdout.contains("ran "), "{}", refused.stdout);
}

/// `hash="..."` of the `plugin "template"` node in the example project.
fn example_pin(kdl: &str) -> &str {
    let line = kdl
        .lines()
        .find(|l| l.trim_start().starts_with(r#"plugin "template""#))
        .expect("examples/plugin-project/project.kdl declares plugin \"template\"");
    let start = line.find(r#"hash=""#).expect("the plugin is pinned") + r#"hash=""#.len();
    let len = line[start..].find('"').expect("closing quote");
    &line[start..start + len]
}

/// The example's pin is what building its plugin gives today, and the example project
/// builds (then caches) with it.
#[test]
fn plugin_e2e_example_project_pin_matches_a_fresh_build() {
    require_wasm_toolchain();
    let repo = repo();
    let example = repo.join("examples/plugin-project");
    let kdl = std::fs::read_to_string(example.join("project.kdl")).expect("the example project");
    let pinned = example_pin(&kdl);

    let project = Project::empty()
        .file("project.kdl", &kdl)
        .file(
            "config/app.conf.tmpl",
            &std::fs::read_to_string(example.join("config/app.conf.tmpl")).expect("template"),
        )
        .file(
            "config/nginx.conf.tmpl",
            &std::fs::read_to_string(example.join("config/nginx.conf.tmpl")).expect("template"),
        );
    let target = kept_target("plugin-e2e-example");
    let built = build_plugin(
        &project,
        &repo.join("examples/plugins/template"),
        "plugins/template.wasm",
        &target,
    );
    assert_eq!(
        built["hash"].as_str(),
        Some(pinned),
        "examples/plugin-project/project.kdl pins {pinned}, but building examples/plugins/template \
         gives {} (toolchain: {}). If you changed the plugin or forge-plugin-sdk, update the pin \
         (and the outputs quoted in docs/plugin-guide.md); if you did not, the build is not \
         reproducible on this toolchain.",
        built["hash"],
        built["toolchain"],
    );
    assert_eq!(built["capabilities"], serde_json::json!(["files.read"]));

    let first = project.forge("build --json").without_test_executor().run();
    let (steps, _) = statuses(&first);
    assert_eq!(steps["render-config"], "ran", "{}", first.stdout);
    assert!(
        first.stdout.contains("rendered 2 file(s)"),
        "the plugin's log line:\n{}",
        first.stdout
    );
    let second = project.forge("build --json").without_test_executor().run();
    let (steps, summary) = statuses(&second);
    assert_eq!(steps["render-config"], "cached", "{}", second.stdout);
    assert_eq!(summary["ran"], 0);
}

/// moto (the AWS stand-in `scripts/local-stack up` starts) must answer: a test that needs
/// it fails, saying how to start it, rather than skipping.
fn require_moto() -> String {
    let addr = "127.0.0.1:4566";
    let up = std::net::TcpStream::connect_timeout(
        &addr.parse().expect("a socket address"),
        std::time::Duration::from_secs(2),
    )
    .is_ok();
    assert!(
        up,
        "moto is not listening on {addr}; start the local stack with `scripts/local-stack up`"
    );
    format!("http://{addr}")
}

/// `forge` through the real host with the local stack's test AWS credentials.
fn with_aws(forge: Forge<'_>) -> Forge<'_> {
    forge
        .without_test_executor()
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
}

/// A third-party plugin that makes sure an ECR repository exists: it calls `aws`.
const ECR_CHECK: &str = r#"//! Makes sure an ECR repository exists (capability `aws`).

use forge_plugin_sdk::{AwsTarget, Context, Error, Info, Plugin, capability, export_plugin};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub repository: String,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Output {
    pub uri: String,
    pub created: bool,
}

pub struct EcrCheck;

impl Plugin for EcrCheck {
    type Config = Config;
    type Output = Output;

    fn info() -> Info {
        Info::new("ecr-check", "makes sure an ECR repository exists").capability(capability::AWS)
    }

    fn run(ctx: &mut Context, config: Config) -> Result<Output, Error> {
        let target = AwsTarget { region: config.region, endpoint: config.endpoint };
        let (repo, created) = match ctx.ecr_describe_repository(&target, &config.repository)? {
            Some(repo) => (repo, false),
            None => (ctx.ecr_create_repository(&target, &config.repository, true)?, true),
        };
        ctx.info(format!("repository {} at {} (created: {created})", repo.name, repo.uri));
        Ok(Output { uri: repo.uri, created })
    }
}

export_plugin!(EcrCheck);

#[cfg(test)]
mod tests {
    use forge_plugin_sdk::MockHost;
    use serde_json::json;

    use super::*;

    #[test]
    fn creates_a_missing_repository_and_keeps_an_existing_one() {
        let mut host = MockHost::new().config(json!({ "repository": "shop/api" }));
        assert!(host.run::<EcrCheck>().expect("runs").created);
        assert!(host.ecr_repositories().contains_key("shop/api"));
        let mut host = MockHost::new()
            .ecr_repository("shop/api", true)
            .config(json!({ "repository": "shop/api" }));
        assert!(!host.run::<EcrCheck>().expect("runs").created);
    }

    #[test]
    fn without_the_grant_it_does_not_start() {
        let err = MockHost::new()
            .grants(Vec::<String>::new())
            .config(json!({ "repository": "shop/api" }))
            .run::<EcrCheck>()
            .expect_err("aws is not granted");
        assert!(err.message().contains("`aws`"), "{}", err.message());
    }
}
"#;

/// A plugin that uses `aws`, written by a third party: `forge plugin new` outside a
/// checkout (the SDK vendored), its MockHost tests, `forge plugin build` and `inspect`
/// (which print the grant line), a step refused without the grant (naming the line to
/// add), and the same step run against moto once granted.
#[test]
fn plugin_e2e_third_party_aws_plugin_needs_its_grant_and_runs_with_it() {
    require_wasm_toolchain();
    let endpoint = require_moto();
    let project = Project::empty();
    project
        .forge("plugin new ecr-check")
        .env_remove("FORGE_PLUGIN_SDK")
        .run();
    let crate_dir = project.root().join("ecr-check");
    assert!(crate_dir.join("forge-sdk/plugin-sdk/Cargo.toml").is_file());
    project.write("ecr-check/src/lib.rs", ECR_CHECK);
    let target = kept_target("plugin-e2e-aws");

    let tested = project
        .forge("-j1 plugin test ecr-check")
        .env("CARGO_TARGET_DIR", &target)
        .run();
    assert!(
        tested.stdout.contains("test result: ok. 2 passed"),
        "{}",
        tested.stdout
    );

    let built = build_plugin(&project, &crate_dir, "plugins/ecr-check.wasm", &target);
    let hash = built["hash"].as_str().expect("hash").to_owned();
    assert!(
        built["capabilities"]
            .as_array()
            .is_some_and(|caps| caps.iter().any(|c| c == "aws")),
        "{built}"
    );
    let inspected = project.forge("plugin inspect plugins/ecr-check.wasm").run();
    assert!(
        inspected.stdout.contains("grant line    grant \"aws\"\n"),
        "{}",
        inspected.stdout
    );

    let repository = format!("forge-e2e/ecr-check-{}", std::process::id());
    let kdl = |grant: &str| {
        format!(
            r#"version 1

project "e2e" {{
    region "us-east-1"
    default-env "dev"
}}

plugin "ecr-check" path="plugins/ecr-check.wasm" hash="{hash}" {grant}

step "repo" {{
    plugin "ecr-check"
    config {{
        repository "{repository}"
        endpoint "{endpoint}"
        region "us-east-1"
    }}
    phase "build"
}}

env "dev" {{}}
"#
        )
    };

    // Not granted: refused before it starts, with the line to add.
    project.write("project.kdl", &kdl(""));
    let refused = with_aws(project.forge("build")).code(1).run();
    let all = format!("{}{}", refused.stdout, refused.stderr);
    assert!(
        all.contains("plugin `ecr-check` uses capability `aws`, which its step is not granted"),
        "{all}"
    );
    assert!(all.contains("grant \"aws\""), "the fix is named: {all}");

    // Granted: it runs against moto and creates the repository.
    project.write("project.kdl", &kdl("{\n    grant \"aws\"\n}"));
    let ran = with_aws(project.forge("build --json")).run();
    let (steps, _) = statuses(&ran);
    assert_eq!(steps["repo"], "ran", "{}", ran.stdout);
    assert!(
        ran.stdout.contains(&format!("repository {repository} at "))
            && ran.stdout.contains("(created: true)"),
        "the plugin's log line:\n{}",
        ran.stdout
    );
}
