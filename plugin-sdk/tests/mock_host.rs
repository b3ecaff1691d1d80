//! MockHost tests of small plugins written the way an author would write them: each test
//! asserts what the real host would show (manifest, error message, help, captured logs).

use std::collections::BTreeMap;

use forge_plugin_sdk::{
    Context, Error, FileError, Info, Level, MockHost, NoConfig, Plugin, ResultExt, bail,
    capability, export_plugin,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A plugin touching every part of the Context.
struct Render;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenderConfig {
    service: String,
    replicas: u32,
    #[serde(default)]
    fail_with: Option<String>,
}

#[derive(Deserialize)]
struct ImageManifest {
    digest: String,
}

#[derive(Debug, Serialize)]
struct RenderOutput {
    service: String,
    digest: String,
    env: String,
    commit: Option<String>,
    step: String,
    sizes: BTreeMap<String, usize>,
    rendered: String,
}

impl Plugin for Render {
    type Config = RenderConfig;
    type Output = RenderOutput;

    fn info() -> Info {
        Info::new("render", "renders a service file").capability(capability::FILES_READ)
    }

    fn run(ctx: &mut Context, config: RenderConfig) -> Result<RenderOutput, Error> {
        if let Some(message) = config.fail_with {
            return Err(Error::new(message).with_help("remove `fail_with`"));
        }
        let image: ImageManifest = ctx.upstream("docker-build:web")?;
        let mut sizes = BTreeMap::new();
        let inputs = ctx.inputs().to_vec();
        for (i, path) in inputs.iter().enumerate() {
            sizes.insert(path.clone(), ctx.read(path)?.len());
            ctx.progress(i as u64 + 1, inputs.len() as u64);
        }
        let template = ctx.read_to_string("service.tpl")?;
        let text = template
            .replace("{service}", &config.service)
            .replace("{replicas}", &config.replicas.to_string())
            .replace("{digest}", &image.digest);
        let rendered = ctx.write_output("out/service.txt", &text)?;
        ctx.info(format!("rendered {}", config.service));
        ctx.warn("this is a test");
        Ok(RenderOutput {
            service: config.service,
            digest: image.digest,
            env: ctx.env().to_owned(),
            commit: ctx.commit().map(str::to_owned),
            step: ctx.step().to_owned(),
            sizes,
            rendered,
        })
    }
}

export_plugin!(Render);

fn render_host() -> MockHost {
    MockHost::new()
        .step("render:web")
        .env("prod")
        .commit("abc123")
        .file(
            "service.tpl",
            "name={service} replicas={replicas} image={digest}",
        )
        .file("extra/notes.md", "hello")
        .config(json!({ "service": "web", "replicas": 3 }))
        .upstream("docker-build:web", json!({ "digest": "sha256:feed" }))
}

#[test]
fn a_run_sees_its_step_and_writes_outputs_logs_and_manifest() {
    let mut host = render_host();
    let out = host.run::<Render>().expect("render should succeed");
    assert_eq!(out.service, "web");
    assert_eq!(out.digest, "sha256:feed");
    assert_eq!(
        (out.env.as_str(), out.commit.as_deref(), out.step.as_str()),
        ("prod", Some("abc123"), "render:web")
    );
    assert_eq!(
        out.sizes.keys().collect::<Vec<_>>(),
        ["extra/notes.md", "service.tpl"],
        "inputs are sorted"
    );

    let outputs = host.outputs();
    let text = &outputs["out/service.txt"];
    assert_eq!(text, b"name=web replicas=3 image=sha256:feed");
    assert_eq!(
        out.rendered,
        blake3::hash(text).to_hex().to_string(),
        "write_output returns the blake3 hash"
    );

    let logs = host.logs();
    assert_eq!(logs.len(), 2);
    assert_eq!(
        (logs[0].level, logs[0].message.as_str()),
        (Level::Info, "rendered web")
    );
    assert_eq!(logs[1].level, Level::Warn);
    assert_eq!(host.progress(), [(1, 2), (2, 2)]);

    let manifest: serde_json::Value =
        serde_json::from_str(host.manifest().expect("a successful run has a manifest"))
            .expect("manifest is JSON");
    assert_eq!(manifest["digest"], "sha256:feed");
    assert_eq!(manifest["sizes"]["extra/notes.md"], 5);
}

#[test]
fn a_second_run_starts_from_clean_captures() {
    let mut host = render_host();
    host.run::<Render>().expect("first run");
    host.run::<Render>()
        .expect("second run writes the same output name again");
    assert_eq!(host.logs().len(), 2);
    assert_eq!(host.outputs().len(), 1);
}

#[test]
fn a_bad_config_fails_naming_the_field() {
    let err = render_host()
        .config(json!({ "service": "web", "replicas": "three" }))
        .run::<Render>()
        .expect_err("a string is not a u32");
    assert_eq!(
        err.message(),
        "invalid config at `replicas`: invalid type: string \"three\", expected u32"
    );
    assert!(
        err.help()
            .expect("config errors have help")
            .contains("config")
    );

    let err = render_host()
        .config(json!({ "service": "web" }))
        .run::<Render>()
        .expect_err("missing field");
    assert_eq!(err.message(), "invalid config: missing field `replicas`");
}

#[test]
fn the_plugins_own_error_and_help_reach_the_step_and_no_manifest_is_kept() {
    let mut host =
        render_host().config(json!({ "service": "web", "replicas": 1, "fail_with": "boom" }));
    let err = host.run::<Render>().expect_err("the plugin fails");
    assert_eq!(
        (err.message(), err.help()),
        ("boom", Some("remove `fail_with`"))
    );
    assert_eq!(host.manifest(), None);
}

#[test]
fn a_missing_upstream_step_is_named_with_the_fix() {
    let err = MockHost::new()
        .file("service.tpl", "")
        .config(json!({ "service": "web", "replicas": 1 }))
        .upstream("docker-build:api", json!({ "digest": "x" }))
        .run::<Render>()
        .expect_err("docker-build:web is not upstream");
    assert_eq!(
        err.message(),
        "`docker-build:web` is not an upstream step of `test` (upstream: docker-build:api)"
    );
    assert_eq!(
        err.help(),
        Some("add `docker-build:web` to the step's `needs` in project.kdl")
    );
}

#[test]
fn an_upstream_manifest_of_the_wrong_shape_is_an_error() {
    let err = render_host()
        .upstream("docker-build:web", json!({ "tag": "v1" }))
        .run::<Render>()
        .expect_err("no digest field");
    assert!(
        err.message().contains("missing field `digest`"),
        "{}",
        err.message()
    );
}

/// Reads whatever path its config names.
struct ReadPath;

#[derive(Deserialize)]
struct PathConfig {
    path: String,
}

impl Plugin for ReadPath {
    type Config = PathConfig;
    type Output = usize;

    fn info() -> Info {
        Info::new("read-path", "reads one path").capability(capability::FILES_READ)
    }

    fn run(ctx: &mut Context, config: PathConfig) -> Result<usize, Error> {
        Ok(ctx.read(&config.path)?.len())
    }
}

#[test]
fn reads_outside_the_declared_inputs_are_denied_as_not_declared() {
    let mut host = MockHost::new().file("a.txt", "abc");
    for path in ["b.txt", "../a.txt", "/a.txt", "./a.txt", "A.TXT"] {
        host = host.config(json!({ "path": path }));
        let err = host.run::<ReadPath>().expect_err("undeclared path");
        assert_eq!(
            err.file_error(),
            Some(&FileError::NotDeclared(path.to_owned())),
            "{path}"
        );
        assert_eq!(
            err.message(),
            format!("`{path}` is not one of this step's declared inputs")
        );
        assert!(err.help().expect("help").contains("inputs"));
    }
    assert_eq!(
        host.config(json!({ "path": "a.txt" })).run::<ReadPath>(),
        Ok(3)
    );
}

#[test]
fn a_declared_input_that_vanished_is_not_found() {
    let err = MockHost::new()
        .missing_file("gone.txt")
        .config(json!({ "path": "gone.txt" }))
        .run::<ReadPath>()
        .expect_err("vanished");
    assert_eq!(err.file_error().map(FileError::kind), Some("not-found"));
}

#[test]
fn an_ungranted_declared_capability_refuses_to_start() {
    let mut host = MockHost::new()
        .file("a.txt", "abc")
        .config(json!({ "path": "a.txt" }))
        .grants(Vec::<String>::new());
    let err = host.run::<ReadPath>().expect_err("files.read not granted");
    assert_eq!(
        err.message(),
        "plugin `read-path` needs capability `files.read`, which this step is not granted"
    );
    assert_eq!(
        err.help(),
        Some("add `grant \"files.read\"` to the step in project.kdl")
    );
}

/// Uses files without declaring the capability: the real host would refuse its import.
struct Sneaky;

impl Plugin for Sneaky {
    type Config = NoConfig;
    type Output = ();

    fn info() -> Info {
        Info::new("sneaky", "reads without declaring files.read")
    }

    fn run(ctx: &mut Context, _: NoConfig) -> Result<(), Error> {
        ctx.read("a.txt")?;
        Ok(())
    }
}

#[test]
fn a_capability_used_but_not_granted_fails_the_call() {
    let err = MockHost::new()
        .file("a.txt", "abc")
        .run::<Sneaky>()
        .expect_err("files.read not granted");
    assert_eq!(err.file_error().map(FileError::kind), Some("io"));
    assert!(
        err.message()
            .contains("capability `files.read` is not granted"),
        "{}",
        err.message()
    );
}

/// Declares only `aws`, and checks a registry for a blob with the credentials it got.
struct PushesWithAws;

impl Plugin for PushesWithAws {
    type Config = NoConfig;
    type Output = bool;

    fn info() -> Info {
        Info::new("pushes", "logs in with aws, then asks the registry").capability(capability::AWS)
    }

    fn run(ctx: &mut Context, _: NoConfig) -> Result<bool, Error> {
        Ok(ctx.registry_has_blob("registry.test", "shop/api", "sha256:00", None)?)
    }
}

/// As on the real host, a grant of `aws` covers `registry` (the contract's implication):
/// `aws.ecr-login` returns registry credentials, useless without the registry calls.
#[test]
fn a_grant_of_aws_covers_the_registry() {
    let has = MockHost::new()
        .run::<PushesWithAws>()
        .expect("aws implies registry");
    assert!(!has, "the empty MockRegistry has no blob");
    let err = MockHost::new()
        .grants(["registry"])
        .run::<PushesWithAws>()
        .expect_err("registry does not imply aws");
    assert!(err.message().contains("`aws`"), "{}", err.message());
}

/// Asks for a secret by name and returns its name (never a value).
struct UsesSecret;

impl Plugin for UsesSecret {
    type Config = NoConfig;
    type Output = String;

    fn info() -> Info {
        Info::new("uses-secret", "gets TOKEN").capability(capability::SECRETS)
    }

    fn run(ctx: &mut Context, _: NoConfig) -> Result<String, Error> {
        let secret = ctx.secret("TOKEN")?;
        Ok(format!("{secret:?} {}", secret.name()))
    }
}

#[test]
fn secrets_are_opaque_handles_by_name() {
    assert_eq!(
        MockHost::new().secret("TOKEN").run::<UsesSecret>(),
        Ok("Secret(\"TOKEN\") TOKEN".to_owned())
    );
    let err = MockHost::new()
        .secret("OTHER")
        .run::<UsesSecret>()
        .expect_err("TOKEN not given");
    assert_eq!(
        err.message(),
        "secret `TOKEN` is not available: no secret named `TOKEN` is declared for this step"
    );
}

/// Writes whatever output names its config lists.
struct Writes;

impl Plugin for Writes {
    type Config = Vec<String>;
    type Output = Vec<String>;

    fn info() -> Info {
        Info::new("writes", "writes outputs")
    }

    fn run(ctx: &mut Context, names: Vec<String>) -> Result<Vec<String>, Error> {
        names
            .iter()
            .map(|n| ctx.write_output(n, n.as_bytes()).context("output"))
            .collect()
    }
}

#[test]
fn output_names_must_be_relative_clean_and_unique() {
    for bad in ["", "/abs", "a/../b", "./a", "a//b", "a\\b", "a\0b", "C:/x"] {
        let err = MockHost::new()
            .config(json!([bad]))
            .run::<Writes>()
            .expect_err(bad);
        assert!(
            err.message()
                .starts_with(&format!("output: writing output `{bad}` failed: ")),
            "{}",
            err.message()
        );
    }
    let err = MockHost::new()
        .config(json!(["a", "a"]))
        .run::<Writes>()
        .expect_err("duplicate");
    assert!(
        err.message()
            .ends_with("output `a` was already written by this step; each output is written once"),
        "{}",
        err.message()
    );
    let mut host = MockHost::new().config(json!(["dir/a.txt", "b"]));
    assert_eq!(host.run::<Writes>().expect("valid names").len(), 2);
    assert_eq!(
        host.outputs().keys().collect::<Vec<_>>(),
        ["b", "dir/a.txt"]
    );
}

/// An output serde_json cannot encode (non-string map keys).
struct BadOutput;

impl Plugin for BadOutput {
    type Config = NoConfig;
    type Output = BTreeMap<(u8, u8), u8>;

    fn info() -> Info {
        Info::new("bad-output", "returns a map with tuple keys")
    }

    fn run(_: &mut Context, _: NoConfig) -> Result<Self::Output, Error> {
        Ok(BTreeMap::from([((1, 2), 3)]))
    }
}

#[test]
fn an_unencodable_output_is_a_step_error() {
    let err = MockHost::new().run::<BadOutput>().expect_err("tuple keys");
    assert!(
        err.message()
            .starts_with("the step's output could not be encoded as a JSON manifest"),
        "{}",
        err.message()
    );
}

#[test]
fn bail_and_info_builders() {
    fn check(n: u32) -> Result<u32, Error> {
        if n > 2 {
            bail!("{n} is too many");
        }
        Ok(n)
    }
    assert_eq!(check(3).expect_err("bails").message(), "3 is too many");
    let info = Info::new("x", "y")
        .capability("files.read")
        .capability("files.read")
        .version("2.0.0");
    assert_eq!(info.capabilities, ["files.read"]);
    assert_eq!(info.version.as_deref(), Some("2.0.0"));
    assert_eq!(Info::new("x", "y").config_schema, "{}");
}

/// Reads the env twice, as a template with two `{{ env }}` placeholders would.
struct EnvReader;

impl Plugin for EnvReader {
    type Config = serde_json::Value;
    type Output = String;

    fn info() -> Info {
        Info::new("env-reader", "says which env it runs in")
    }

    fn run(ctx: &mut Context, _config: serde_json::Value) -> Result<String, Error> {
        Ok(format!("{}{}", ctx.env(), ctx.env()))
    }
}

#[test]
fn a_build_phase_step_that_reads_the_env_is_warned_once() {
    // forge gives a build-phase step no env.
    let mut host = MockHost::new().env("");
    assert_eq!(host.run::<EnvReader>().expect("runs"), "");
    let warnings: Vec<_> = host
        .logs()
        .into_iter()
        .filter(|l| l.level == Level::Warn)
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .message
            .contains("build-phase step read the forge env")
            && warnings[0].message.contains("env \"NAME\""),
        "{}",
        warnings[0].message
    );

    let mut host = MockHost::new().env("prod");
    assert_eq!(host.run::<EnvReader>().expect("runs"), "prodprod");
    assert!(host.logs().iter().all(|l| l.level != Level::Warn));
}
