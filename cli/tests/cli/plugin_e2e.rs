//! A third-party plugin from scaffold to a pinned, cached step, through the real `forge`
//! binary and the real plugin host (no test executor): `forge plugin new` → `forge plugin
//! build` → a `project.kdl` that pins it → `forge build` twice → edit an input → rerun
//! and `forge explain` → a wrong pin. And the worked example (`examples/plugins/template`
//! with `examples/plugin-project`), whose committed pin must be what a fresh build gives.
//! And a third-party plugin that calls AWS, from a scaffold outside any forge checkout
//! (its SDK vendored) to a run against moto, and one that calls `docker` to a real image
//! built by the local stack's Docker Engine: those also need the local stack
//! (`scripts/local-stack up`) and fail, never skip, without it.
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

/// A third party's plugin: `forge plugin new NAME` outside a checkout (the SDK vendored),
/// its source replaced by `source`, its two MockHost tests run by `forge plugin test`, and
/// built to `plugins/NAME.wasm`; returns `forge plugin build --json`'s answer.
fn third_party_plugin(project: &Project, name: &str, source: &str, target: &str) -> Value {
    project
        .forge(&format!("plugin new {name}"))
        .env_remove("FORGE_PLUGIN_SDK")
        .run();
    let crate_dir = project.root().join(name);
    assert!(crate_dir.join("forge-sdk/plugin-sdk/Cargo.toml").is_file());
    project.write(&format!("{name}/src/lib.rs"), source);
    let target = kept_target(target);
    let tested = project
        .forge(&format!("-j1 plugin test {name}"))
        .env("CARGO_TARGET_DIR", &target)
        .run();
    assert!(
        tested.stdout.contains("test result: ok. 2 passed"),
        "{}",
        tested.stdout
    );
    build_plugin(
        project,
        &crate_dir,
        &format!("plugins/{name}.wasm"),
        &target,
    )
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
    // ...naming the toolchain that built the file, the usual cause of a teammate's miss.
    // (miette wraps the help anywhere, even inside a word: compare without blanks.)
    let bare = |text: &str| text.split_whitespace().collect::<String>();
    let said = bare(&refused.stderr);
    let component = std::fs::read(project.root().join("plugins/greet.wasm")).expect("greet");
    let toolchain =
        forge_plugin_tools::section::toolchain_of(&component).expect("the recorded toolchain");
    assert!(
        said.contains(&bare(&format!("this file was built by {toolchain}"))),
        "{said}"
    );
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
    let built = third_party_plugin(&project, "ecr-check", ECR_CHECK, "plugin-e2e-aws");
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

/// A third-party plugin that builds an image: it calls `docker` with a context tar it
/// writes itself (a `FROM scratch` Dockerfile and one file, so nothing is pulled).
const IMAGE_BUILD: &str = r#"//! Builds a one-file image through the Docker Engine (capability `docker`).

use forge_plugin_sdk::{BuildRequest, Context, Error, Info, Plugin, capability, export_plugin};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The image's local tag.
    pub tag: String,
}

#[derive(Debug, Serialize)]
pub struct Output {
    pub id: String,
    pub digest: String,
    pub tag: String,
}

pub const DOCKERFILE: &[u8] = b"FROM scratch\nCOPY hello.txt /hello.txt\n";

/// A ustar archive of `files`: fixed mode, owner and mtime, so the same files give the
/// same bytes.
pub fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut header = [0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        header[100..108].copy_from_slice(b"0000644\0");
        header[108..116].copy_from_slice(b"0000000\0");
        header[116..124].copy_from_slice(b"0000000\0");
        header[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        header[136..148].copy_from_slice(b"00000000000\0");
        header[148..156].copy_from_slice(b"        ");
        header[156] = b'0';
        header[257..265].copy_from_slice(b"ustar\x0000");
        let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
        header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

pub struct ImageBuild;

impl Plugin for ImageBuild {
    type Config = Config;
    type Output = Output;

    fn info() -> Info {
        Info::new("image-build", "builds a one-file image").capability(capability::DOCKER)
    }

    fn run(ctx: &mut Context, config: Config) -> Result<Output, Error> {
        let context = tar(&[("Dockerfile", DOCKERFILE), ("hello.txt", b"hello from a plugin\n")]);
        let image = ctx.docker_build(&BuildRequest {
            context,
            dockerfile: "Dockerfile".to_owned(),
            source_date_epoch: ctx.commit_time().unwrap_or(0),
            tags: vec![config.tag.clone()],
            ..BuildRequest::default()
        })?;
        ctx.info(format!("built {} as {} ({})", config.tag, image.digest, image.id));
        Ok(Output { id: image.id, digest: image.digest, tag: config.tag })
    }
}

export_plugin!(ImageBuild);

#[cfg(test)]
mod tests {
    use forge_plugin_sdk::{Blob, DockerError, Image, MockHost};
    use serde_json::json;

    use super::*;

    fn image() -> Image {
        let config = Blob {
            digest: "sha256:c0".to_owned(),
            size: 2,
            media_type: "application/vnd.oci.image.config.v1+json".to_owned(),
            output: "config".to_owned(),
        };
        Image {
            id: "sha256:c0".to_owned(),
            manifest: "{}".to_owned(),
            digest: "sha256:d1".to_owned(),
            config,
            layers: Vec::new(),
        }
    }

    #[test]
    fn sends_the_dockerfile_in_its_context_and_reports_the_digest() {
        let mut host = MockHost::new()
            .config(json!({ "tag": "forge-e2e/hello:test" }))
            .docker(|_| Ok(image()));
        let out = host.run::<ImageBuild>().expect("runs");
        assert_eq!(out.digest, "sha256:d1");
        let request = &host.docker_requests()[0];
        assert_eq!(request.tags, ["forge-e2e/hello:test"]);
        assert_eq!(request.source_date_epoch, 0);
        assert_eq!(request.context.len() % 512, 0);
        assert!(request.context.starts_with(b"Dockerfile\0"));
        assert!(request.context.windows(DOCKERFILE.len()).any(|w| w == DOCKERFILE));
        assert!(host.logs().iter().any(|l| l.message.contains("sha256:d1")));
    }

    #[test]
    fn a_failed_build_is_reported() {
        let err = MockHost::new()
            .config(json!({ "tag": "forge-e2e/hello:test" }))
            .docker(|_| Err(DockerError::BuildFailed("COPY failed".to_owned())))
            .run::<ImageBuild>()
            .expect_err("the build fails");
        assert!(err.message().contains("COPY failed"), "{}", err.message());
    }
}
"#;

/// One request to the local stack's Docker Engine; the whole answer.
fn docker_api(request: &str) -> String {
    let host = crate::images::docker_host();
    let socket = host.strip_prefix("unix://").unwrap_or(&host);
    let stream = std::os::unix::net::UnixStream::connect(socket)
        .unwrap_or_else(|e| panic!("the Docker Engine at {socket}: {e}"));
    crate::images::http(stream, request)
}

/// A plugin that uses `docker`, written by a third party: scaffolded outside a checkout,
/// its MockHost tests, `forge plugin build` and `inspect` (the grant line), a step refused
/// without the grant (naming the line to add), and the same step building a real image in
/// the local stack's Docker Engine once granted.
#[test]
fn plugin_e2e_third_party_docker_plugin_needs_its_grant_and_builds_an_image() {
    require_wasm_toolchain();
    crate::images::require_stack();
    let docker_host = crate::images::docker_host();
    let project = Project::empty();
    let built = third_party_plugin(&project, "image-build", IMAGE_BUILD, "plugin-e2e-docker");
    let hash = built["hash"].as_str().expect("hash").to_owned();
    assert_eq!(
        built["capabilities"],
        serde_json::json!(["docker"]),
        "{built}"
    );
    let inspected = project
        .forge("plugin inspect plugins/image-build.wasm")
        .run();
    assert!(
        inspected
            .stdout
            .contains("grant line    grant \"docker\"\n"),
        "{}",
        inspected.stdout
    );

    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let tag = format!("forge-e2e/hello:{}-{nanos:x}", std::process::id());
    let kdl = |grant: &str| {
        format!(
            r#"version 1

project "e2e" {{
    region "us-east-1"
    default-env "dev"
}}

plugin "image-build" path="plugins/image-build.wasm" hash="{hash}" {grant}

step "image" {{
    plugin "image-build"
    config {{
        tag "{tag}"
    }}
    phase "build"
}}

env "dev" {{}}
"#
        )
    };

    // Not granted: refused before it starts, with the line to add.
    project.write("project.kdl", &kdl(""));
    let refused = project
        .forge("build")
        .without_test_executor()
        .env("DOCKER_HOST", &docker_host)
        .code(1)
        .run();
    let all = format!("{}{}", refused.stdout, refused.stderr);
    assert!(
        all.contains(
            "plugin `image-build` uses capability `docker`, which its step is not granted"
        ),
        "{all}"
    );
    assert!(all.contains("grant \"docker\""), "the fix is named: {all}");

    // Granted: the engine builds the image, tagged as asked.
    project.write("project.kdl", &kdl("{\n    grant \"docker\"\n}"));
    let ran = project
        .forge("build --json")
        .without_test_executor()
        .env("DOCKER_HOST", &docker_host)
        .run();
    let (steps, _) = statuses(&ran);
    assert_eq!(steps["image"], "ran", "{}", ran.stdout);
    let logged = format!("built {tag} as sha256:");
    let start = ran
        .stdout
        .find(&logged)
        .unwrap_or_else(|| panic!("the plugin's log line:\n{}", ran.stdout))
        + logged.len();
    let digest = &ran.stdout[start..start + 64];
    assert!(
        digest.bytes().all(|b| b.is_ascii_hexdigit()),
        "a sha256 digest: {digest}"
    );
    let id_at = ran.stdout[start..].find("(sha256:").expect("the image id") + start + 1;
    let id = &ran.stdout[id_at..id_at + "sha256:".len() + 64];

    let inspected = docker_api(&format!("GET /images/{tag}/json HTTP/1.0\r\n\r\n"));
    let removed = docker_api(&format!("DELETE /images/{tag}?force=1 HTTP/1.0\r\n\r\n"));
    assert!(
        inspected.starts_with("HTTP/1.0 200") || inspected.starts_with("HTTP/1.1 200"),
        "the engine has {tag}:\n{inspected}"
    );
    assert!(inspected.contains(id), "{tag} is {id}:\n{inspected}");
    assert!(
        removed.starts_with("HTTP/1.0 200") || removed.starts_with("HTTP/1.1 200"),
        "removing {tag}:\n{removed}"
    );
}
