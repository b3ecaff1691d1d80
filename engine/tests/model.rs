//! The project model on valid files: defaults, env overlays, references, the reference
//! `project.kdl` at the repository root, and project-file discovery.

use std::path::{Path, PathBuf};

use forge_engine::model::{
    self, ConfigValue, LoadBalancer, Phase, PluginSource, Project, RefValue, RegistryKind,
    SecretRef, StateLock,
};

/// A fixture folder with `app/`, `web/` (Dockerfiles) and `modules/net` (a `.tf` module).
const FIXTURE: &str = "tests/fixtures/model/project.kdl";

const BASE: &str = r#"
version 1
project "shop" { region "us-east-1" }
registry "ecr" { url "123456789012.dkr.ecr.us-east-1.amazonaws.com" }
state {
    s3 bucket="tf-state"
    lock "dynamodb" table="tf-locks"
}
service "api" {
    build { context "app"; arg "PROFILE" "release"; input "Cargo.lock"; secret "NPM_TOKEN" from="ssm:/ci/npm-token"; }
    repository "shop/api"
    port 8080
    environment { LOG_LEVEL "info"; WORKERS 4 }
    secret "DB_PASSWORD" from="arn:aws:secretsmanager:us-east-1:123456789012:secret:db"
}
module "net" {
    source "modules/net"
    input "cidr_block" "10.0.0.0/16"
    input "subnets" "10.0.1.0/24" "10.0.2.0/24"
    input "tags" { Team "shop"; Cost 12 }
}
var "cidr" "10.0.0.0/16"
"#;

fn render(errors: &model::ModelErrors) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .render_report(&mut out, errors)
        .expect("render");
    out
}

fn parse(text: &str) -> Project {
    match model::parse(Path::new(FIXTURE), text) {
        Ok(project) => project,
        Err(errors) => panic!("expected a valid project, got:\n{}", render(&errors)),
    }
}

/// The base file with `env` blocks and `default-env "dev"`.
fn with_envs(envs: &str) -> String {
    let base = BASE.replace(
        r#"region "us-east-1" }"#,
        r#"region "us-east-1"; default-env "dev" }"#,
    );
    format!("{base}\n{envs}")
}

#[test]
fn defaults_fill_every_optional_value() {
    let project = parse(BASE);
    assert_eq!(project.default_env.value, "default");
    let config = project.resolve(None).expect("default env");
    assert_eq!(config.env, model::IMPLICIT_ENV);
    assert_eq!(config.project.value, "shop");
    assert_eq!(config.region.value, "us-east-1");

    let api = &config.services["api"];
    assert_eq!(api.build.context.value, PathBuf::from("app"));
    assert_eq!(api.build.dockerfile.value, PathBuf::from("Dockerfile"));
    assert_eq!(api.build.args["PROFILE"].value, "release");
    assert_eq!(api.build.inputs[0].value, "Cargo.lock");
    assert!(api.build.target.is_none());
    // A build's secret is read by forge (for BuildKit), in the project's region.
    assert!(matches!(
        &api.build.secrets["NPM_TOKEN"].value,
        SecretRef::Ssm { path, region } if path == "/ci/npm-token" && !region.is_empty()
    ));
    assert!(api.registry.is_none());
    assert_eq!(api.port.value, 8080);
    assert_eq!(api.cpu.value, model::defaults::CPU);
    assert_eq!(api.memory.value, model::defaults::MEMORY);
    assert_eq!(api.desired_count.value, 1);
    assert_eq!(api.health_check.path.value, "/");
    assert_eq!(api.health_check.interval_secs.value, 30);
    assert_eq!(api.health_check.timeout_secs.value, 5);
    assert_eq!(api.health_check.healthy_threshold.value, 3);
    assert_eq!(api.health_check.unhealthy_threshold.value, 3);
    assert_eq!(api.health_check.matcher.value, "200");
    assert_eq!(api.load_balancer.value, LoadBalancer::None);
    assert_eq!(api.env_vars["LOG_LEVEL"].value, "info");
    assert_eq!(api.env_vars["WORKERS"].value, "4");
    assert!(
        matches!(&api.secrets["DB_PASSWORD"].value, SecretRef::SecretsManager(arn) if arn.ends_with(":secret:db"))
    );

    let registry = &config.registries["ecr"];
    assert_eq!(registry.kind.value, RegistryKind::Ecr);
    assert!(!registry.create_repositories.value);
    assert!(registry.immutable_tags.value);
    assert!(registry.endpoint.is_none());

    let state = config.state.as_ref().expect("state");
    assert_eq!(state.bucket.value, "tf-state");
    assert_eq!(state.key.value, "shop/{env}/terraform.tfstate");
    assert_eq!(state.key_for("prod"), "shop/prod/terraform.tfstate");
    assert_eq!(state.region.value, "us-east-1");
    assert_eq!(
        state.lock.value,
        StateLock::DynamoDb {
            table: "tf-locks".into()
        }
    );
}

#[test]
fn module_inputs_and_vars_keep_their_shape() {
    let project = parse(BASE);
    let config = project.resolve(None).expect("default env");
    let net = &config.modules["net"];
    assert_eq!(net.source.value, PathBuf::from("modules/net"));
    assert_eq!(
        net.inputs["cidr_block"].value,
        ConfigValue::String("10.0.0.0/16".into())
    );
    assert_eq!(
        net.inputs["subnets"].value,
        ConfigValue::List(vec![
            ConfigValue::String("10.0.1.0/24".into()),
            ConfigValue::String("10.0.2.0/24".into())
        ])
    );
    let ConfigValue::Map(tags) = &net.inputs["tags"].value else {
        panic!("tags is a map")
    };
    assert_eq!(tags["Team"], ConfigValue::String("shop".into()));
    assert_eq!(tags["Cost"], ConfigValue::Int(12));
    assert_eq!(
        config.vars["cidr"].value,
        ConfigValue::String("10.0.0.0/16".into())
    );
    // Spans point at the value as written.
    let span = net.inputs["cidr_block"].span;
    assert_eq!(
        &project.source.text[span.offset()..span.offset() + span.len()],
        "\"10.0.0.0/16\""
    );
}

#[test]
fn env_overlays_override_field_by_field() {
    let text = with_envs(
        r#"
env "dev" {}
env "prod" {
    region "eu-west-1"
    service "api" {
        cpu 512
        memory 2048
        desired-count 3
        health-check path="/healthz"
        environment { LOG_LEVEL "warn" }
    }
    module "net" { input "cidr_block" "10.1.0.0/16" }
    var "cidr" "10.1.0.0/16"
    state { lock "s3-lockfile" }
}
"#,
    );
    let project = parse(&text);
    assert_eq!(project.envs.keys().collect::<Vec<_>>(), ["dev", "prod"]);
    assert_eq!(project.default_env.value, "dev");

    let dev = project.resolve(None).expect("dev");
    assert_eq!(dev.env, "dev");
    assert_eq!(dev.services["api"].cpu.value, 256);
    assert_eq!(dev.region.value, "us-east-1");

    let prod = project.resolve(Some("prod")).expect("prod");
    let api = &prod.services["api"];
    assert_eq!(prod.region.value, "eu-west-1");
    assert_eq!(
        (api.cpu.value, api.memory.value, api.desired_count.value),
        (512, 2048, 3)
    );
    // No `build` in the overlay: the base build is kept, arguments and all.
    assert_eq!(api.build.context.value, PathBuf::from("app"));
    assert_eq!(api.build.args["PROFILE"].value, "release");
    // Properties override one by one; the rest keep their defaults.
    assert_eq!(api.health_check.path.value, "/healthz");
    assert_eq!(api.health_check.interval_secs.value, 30);
    // Maps merge by key.
    assert_eq!(api.env_vars["LOG_LEVEL"].value, "warn");
    assert_eq!(api.env_vars["WORKERS"].value, "4");
    assert_eq!(
        prod.modules["net"].inputs["cidr_block"].value,
        ConfigValue::String("10.1.0.0/16".into())
    );
    assert!(prod.modules["net"].inputs.contains_key("tags"));
    assert_eq!(
        prod.vars["cidr"].value,
        ConfigValue::String("10.1.0.0/16".into())
    );
    let state = prod.state.as_ref().expect("state");
    // The lock is replaced whole (no stale `table=`); the bucket is inherited.
    assert_eq!(state.lock.value, StateLock::S3Lockfile);
    assert_eq!(state.bucket.value, "tf-state");
    // The state region follows the env's region unless set.
    assert_eq!(state.region.value, "eu-west-1");

    // The overlay value's span points into the env block.
    let cpu = api.cpu.span;
    let env_start = text.find("env \"prod\"").expect("prod block");
    assert!(cpu.offset() > env_start);
    assert_eq!(&text[cpu.offset()..cpu.offset() + cpu.len()], "512");
}

#[test]
fn envs_add_services_and_replace_lists() {
    let text = with_envs(
        r#"
service "web" {
    build { context "web" }
    repository "shop/web"
    port 3000
    load-balancer "public"
    depends-on "api"
}
env "dev" {}
env "prod" {
    service "worker" {
        build { context "app"; target "worker" }
        repository "shop/worker"
        port 9000
        desired-count 0
    }
    service "web" { depends-on "api" "worker" }
    service "api" { build { dockerfile "Dockerfile" } }
}
"#,
    );
    let project = parse(&text);
    let dev = project.resolve(Some("dev")).expect("dev");
    assert!(!dev.services.contains_key("worker"));
    assert_eq!(
        dev.services["web"]
            .depends_on
            .iter()
            .map(|d| d.value.as_str())
            .collect::<Vec<_>>(),
        ["api"]
    );
    let prod = project.resolve(Some("prod")).expect("prod");
    assert_eq!(
        prod.services["worker"]
            .build
            .target
            .as_ref()
            .map(|t| t.value.as_str()),
        Some("worker")
    );
    assert_eq!(prod.services["worker"].desired_count.value, 0);
    assert_eq!(
        prod.services["web"]
            .depends_on
            .iter()
            .map(|d| d.value.as_str())
            .collect::<Vec<_>>(),
        ["api", "worker"]
    );
    assert_eq!(
        prod.services["web"].load_balancer.value,
        LoadBalancer::Public
    );
    // A partial `build` in an overlay merges into the base build.
    assert_eq!(
        prod.services["api"].build.context.value,
        PathBuf::from("app")
    );
}

#[test]
fn plugins_and_steps() {
    let wasm = std::fs::read("tests/fixtures/model/plugins/manifest.wasm").expect("fixture");
    let hash = format!("blake3:{}", blake3::hash(&wasm).to_hex());
    let text = format!(
        r#"{BASE}
plugin "docker-build"
plugin "manifest" path="plugins/manifest.wasm" hash="{hash}" {{
    grant "files.read" "docker"
}}
step "render-manifest" {{
    plugin "manifest"
    config {{
        name "api"
        replicas 2
        image (ref)"service.api.image"
        limits {{ cpu 256 }}
    }}
    input "config/*.yaml"
    needs "docker-build:api"
    env-var "BUILD_MODE"
    commit-sha #true
    phase "build"
}}
step "smoke" {{ plugin "ecs-rollout" }}
"#
    );
    let project = parse(&text);
    let config = project.resolve(None).expect("default env");
    assert_eq!(config.plugins["docker-build"].source, PluginSource::Builtin);
    let manifest = &config.plugins["manifest"];
    assert_eq!(
        manifest.source,
        PluginSource::Path {
            path: "plugins/manifest.wasm".into(),
            hash
        }
    );
    assert_eq!(
        manifest
            .grants
            .iter()
            .map(|g| g.value.as_str())
            .collect::<Vec<_>>(),
        ["files.read", "docker"]
    );

    let step = &config.steps["render-manifest"];
    assert_eq!(step.plugin.value, "manifest");
    assert_eq!(step.phase.value, Phase::Build);
    assert!(step.commit_sha.value);
    assert_eq!(step.inputs[0].value, "config/*.yaml");
    assert_eq!(step.env_vars[0].value, "BUILD_MODE");
    // `needs` are kept verbatim with their spans: the graph resolves and checks them.
    let needs = &step.needs[0];
    assert_eq!(needs.value, "docker-build:api");
    assert_eq!(
        &text[needs.span.offset()..needs.span.offset() + needs.span.len()],
        "\"docker-build:api\""
    );
    let ConfigValue::Map(cfg) = &step.config.value else {
        panic!("config is a map")
    };
    assert_eq!(cfg["replicas"], ConfigValue::Int(2));
    assert_eq!(
        cfg["image"],
        ConfigValue::Ref(RefValue {
            target: "service.api.image".into()
        })
    );
    assert!(matches!(&cfg["limits"], ConfigValue::Map(m) if m["cpu"] == ConfigValue::Int(256)));
    assert_eq!(step.config.value.refs(), ["service.api.image"]);

    let smoke = &config.steps["smoke"];
    assert_eq!(smoke.phase.value, Phase::Deploy);
    assert!(!smoke.commit_sha.value);
    assert_eq!(smoke.config.value, ConfigValue::Map(Default::default()));
}

#[test]
fn references_between_nodes_resolve() {
    let text = format!(
        r#"{BASE}
module "app" {{
    source "modules/net"
    input "cidr_block" (ref)"var.cidr"
    input "name" (ref)"module.net.vpc_id"
    input "tags" {{ image (ref)"service.api.digest" }}
}}
"#
    );
    let project = parse(&text);
    let config = project.resolve(None).expect("default env");
    assert_eq!(
        config.modules["app"].inputs["cidr_block"].value.refs(),
        ["var.cidr"]
    );
}

#[test]
fn unknown_env_is_reported_with_a_suggestion() {
    let project = parse(&with_envs("env \"dev\" {}\nenv \"prod\" {}"));
    let err = project.resolve(Some("prd")).expect_err("no such env");
    assert_eq!(err.to_string(), "unknown env `prd`");
    let help = miette::Diagnostic::help(&err)
        .map(|h| h.to_string())
        .unwrap_or_default();
    assert!(help.contains("did you mean `prod`?"), "{help}");
    assert_eq!(
        miette::Diagnostic::code(&err)
            .map(|c| c.to_string())
            .as_deref(),
        Some("forge::model::unknown_env")
    );
}

#[test]
fn the_reference_project_parses_and_every_env_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join("project.kdl");
    let project = match model::load(&path) {
        Ok(p) => p,
        Err(errors) => panic!("the reference project.kdl is invalid:\n{}", render(&errors)),
    };
    assert_eq!(
        project.envs.keys().collect::<Vec<_>>(),
        ["dev", "local", "prod"]
    );
    assert_eq!(project.default_env.value, "local");
    let local = project.resolve(None).expect("the default env resolves");
    assert_eq!(local.registries["ecr"].url.value, "127.0.0.1:5000");
    assert_eq!(
        local.services["backend"].build.artifacts["dist/backend"]
            .value
            .refs(),
        ["step.backend-bin.backend"]
    );
    for env in ["dev", "local", "prod"] {
        let config = project.resolve(Some(env)).expect("env resolves");
        let frontend = &config.services["frontend"];
        let backend = &config.services["backend"];
        assert_eq!(frontend.load_balancer.value, LoadBalancer::Public);
        assert_eq!(backend.load_balancer.value, LoadBalancer::Internal);
        assert_eq!(
            frontend
                .depends_on
                .iter()
                .map(|d| d.value.as_str())
                .collect::<Vec<_>>(),
            ["backend"]
        );
        // Instances (`backend-task`, `frontend-task`) share folders; every folder of
        // modules/ (14) is used.
        let sources: std::collections::BTreeSet<_> = config
            .modules
            .values()
            .map(|m| m.source.value.clone())
            .collect();
        let folders: std::collections::BTreeSet<_> = std::fs::read_dir(root.join("modules"))
            .expect("modules/")
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| Path::new("modules").join(e.file_name()))
            .collect();
        assert_eq!(folders.len(), 14);
        assert_eq!(sources, folders, "{env}: every module of modules/ is used");
        let state = config.state.as_ref().expect("remote state");
        assert!(matches!(state.lock.value, StateLock::DynamoDb { .. }));
        assert!(state.key_for(env).contains(env));
    }
    let dev = project.resolve(Some("dev")).expect("dev");
    let prod = project.resolve(Some("prod")).expect("prod");
    assert!(
        prod.services["backend"].desired_count.value > dev.services["backend"].desired_count.value
    );
}

#[test]
fn find_project_file_walks_up_to_the_nearest_project() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nested = dir.path().join("a/b/c");
    std::fs::create_dir_all(&nested).expect("mkdir");
    assert_eq!(model::find_project_file(&nested), None);
    std::fs::write(dir.path().join("project.kdl"), "version 1").expect("write");
    std::fs::write(dir.path().join("a/project.kdl"), "version 1").expect("write");
    assert_eq!(
        model::find_project_file(&nested),
        Some(dir.path().join("a/project.kdl"))
    );
    assert_eq!(
        model::find_project_file(dir.path()),
        Some(dir.path().join("project.kdl"))
    );
}

#[test]
fn load_reports_a_missing_file_as_an_io_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let errors = model::load(&dir.path().join("project.kdl")).expect_err("no file");
    assert_eq!(errors.errors.len(), 1);
    let err = &errors.errors[0];
    assert_eq!(
        miette::Diagnostic::code(err)
            .map(|c| c.to_string())
            .as_deref(),
        Some("forge::model::io")
    );
    assert!(miette::Diagnostic::help(err).is_some());
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let text = r#"
version 1
project "shop" { region "us-east-1" }
registry "ecr" { url "x" }
service "api" {
    build { context "app" }
    repository "shop/api"
    port "http"
    cpu 300
    prot 8080
}
module "net" { source "modules/net"; input "cidr" "10.0.0.0/16" }
"#;
    let errors = model::parse(Path::new(FIXTURE), text).expect_err("invalid");
    let codes: Vec<String> = errors
        .errors
        .iter()
        .filter_map(|e| miette::Diagnostic::code(e).map(|c| c.to_string()))
        .collect();
    assert_eq!(
        codes,
        [
            "forge::model::wrong_type",
            "forge::model::invalid_value",
            "forge::model::unknown_node",
            // `cidr_block` has no default, and `cidr` is not a variable.
            "forge::model::missing_value",
            "forge::model::unknown_module_input",
        ]
    );
}

#[test]
fn the_documented_example_is_valid() {
    let doc = include_str!("../../docs/project-kdl.md");
    let start = doc.find("```kdl\n").expect("an example") + "```kdl\n".len();
    let example = &doc[start..start + doc[start..].find("```").expect("closed")];
    let wasm = b"a plugin component";
    let example = example.replace(
        "blake3:<64 hex digits>",
        &format!("blake3:{}", blake3::hash(wasm).to_hex()),
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let files: &[(&str, &str)] = &[
        ("app/backend/Dockerfile", "FROM scratch\n"),
        ("app/frontend/Dockerfile", "FROM scratch\n"),
        (
            "modules/vpc/main.tf",
            "variable \"name\" {}\nvariable \"cidr_block\" {}\nvariable \"tags\" {}\n",
        ),
        (
            "modules/subnets/main.tf",
            "variable \"vpc_id\" {}\nvariable \"azs\" {}\n",
        ),
        (
            "modules/ecs-task-definition/variables.tf",
            "variable \"image_digest\" {}\nvariable \"cpu\" {}\nvariable \"subnet_ids\" {}\nvariable \"environment\" {}\n",
        ),
    ];
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    std::fs::create_dir_all(dir.path().join("plugins")).expect("mkdir");
    std::fs::write(dir.path().join("plugins/manifest.wasm"), wasm).expect("write");
    let project = match model::parse(&dir.path().join("project.kdl"), &example) {
        Ok(p) => p,
        Err(errors) => panic!(
            "docs/project-kdl.md's example is invalid:\n{}",
            render(&errors)
        ),
    };
    let prod = project.resolve(Some("prod")).expect("prod");
    assert_eq!(prod.region.value, "eu-west-1");
    assert_eq!(prod.services["backend"].cpu.value, 512);
    assert_eq!(
        prod.services["backend"]
            .build
            .target
            .as_ref()
            .map(|t| t.value.as_str()),
        Some("runtime")
    );
    assert!(
        matches!(&prod.services["backend"].secrets["API_KEY"].value, SecretRef::Ssm { path, region } if path == "/shop/api-key" && region == "eu-west-1")
    );
    assert_eq!(
        prod.state.as_ref().map(|s| s.lock.value.clone()),
        Some(StateLock::S3Lockfile)
    );
    let ConfigValue::Map(tags) = &prod.vars["tags"].value else {
        panic!("tags is a map")
    };
    assert_eq!(tags["Project"], ConfigValue::String("shop".into()));
    assert_eq!(tags["Environment"], ConfigValue::String("prod".into()));
    let task = &prod.modules["backend-task"];
    assert!(
        matches!(&task.inputs["subnet_ids"].value, ConfigValue::List(items) if items.len() == 1)
    );
}

/// Terraform can take both locks (`use_lockfile` and `dynamodb_table`); so can forge.
#[test]
fn a_state_lock_may_be_the_lockfile_the_table_or_both() {
    let both = BASE.replace(
        r#"lock "dynamodb" table="tf-locks""#,
        r#"lock "s3-lockfile" "dynamodb" table="tf-locks""#,
    );
    let project = parse(&both);
    let config = project.resolve(None).expect("resolves");
    let state = config.state.as_ref().expect("state");
    assert_eq!(
        state.lock.value,
        StateLock::Both {
            table: "tf-locks".into()
        }
    );
    let backend = state.lock_backend(&config.env);
    assert!(backend.lockfile);
    assert_eq!(backend.table.as_deref(), Some("tf-locks"));
    assert_eq!(backend.region, "us-east-1");

    let bad = BASE.replace(
        r#"lock "dynamodb" table="tf-locks""#,
        r#"lock "s3-lockfile" "dynamo" table="tf-locks""#,
    );
    let errors = model::parse(Path::new(FIXTURE), &bad).expect_err("unknown kind");
    let text = render(&errors);
    assert!(text.contains("unknown lock kind `dynamo`"), "{text}");
    assert!(text.contains("dynamodb"), "{text}");
}

/// `cache`: where the shared remote cache is and whom it trusts; an env changes the
/// location and adds a writer; a key that is not one is refused with its span.
#[test]
fn the_remote_cache_is_declared_with_its_trusted_writers() {
    let key = "ed25519:13sM9eVEN1X8zRdqHH3DIV8Pa8KXun2g8BqQhGPaBb0=";
    let base = BASE.replace(
        r#"region "us-east-1" }"#,
        r#"region "us-east-1"; default-env "dev" }"#,
    );
    let text = format!(
        "{base}\ncache {{\n    s3 bucket=\"shop-cache\" prefix=\"forge/\"\n    trust \"ci\" \"{key}\"\n}}\nenv \"dev\" {{}}\nenv \"local\" {{\n    cache {{\n        s3 bucket=\"local-bucket\" endpoint=\"http://127.0.0.1:4566\"\n        trust \"laptop\" \"{key}\"\n    }}\n}}\n"
    );
    let project = parse(&text);
    let base = project.resolve(Some("dev")).expect("dev resolves");
    let cache = base.cache.as_ref().expect("a cache");
    assert_eq!(cache.bucket.value, "shop-cache");
    assert_eq!(cache.prefix.value, "forge/");
    assert_eq!(cache.region.value, "us-east-1", "the project's region");
    assert!(cache.endpoint.is_none());
    assert_eq!(cache.trusted.keys().collect::<Vec<_>>(), ["ci"]);
    let local = project.resolve(Some("local")).expect("local resolves");
    let cache = local.cache.as_ref().expect("a cache");
    assert_eq!(cache.bucket.value, "local-bucket");
    assert_eq!(cache.prefix.value, "forge/", "kept from the base");
    assert_eq!(
        cache.endpoint.as_ref().map(|e| e.value.as_str()),
        Some("http://127.0.0.1:4566")
    );
    assert_eq!(cache.trusted.keys().collect::<Vec<_>>(), ["ci", "laptop"]);

    let bad =
        format!("{BASE}\ncache {{\n    s3 bucket=\"b\"\n    trust \"ci\" \"ed25519:short\"\n}}\n");
    let errors = model::parse(Path::new(FIXTURE), &bad).expect_err("a bad key");
    let text = render(&errors);
    assert!(
        text.contains("`ed25519:short` is not a writer's public key"),
        "{text}"
    );
    assert!(text.contains("forge cache keygen"), "{text}");
}

#[test]
fn a_steps_secrets_come_from_the_environment_ssm_or_secrets_manager() {
    let text = format!(
        r#"{BASE}
step "publish" {{
    plugin "command"
    phase "build"
    secret "NPM_TOKEN" from="env:CI_NPM_TOKEN"
    secret "API_KEY" from="ssm:/shop/api-key"
    secret "DB" from="arn:aws:secretsmanager:eu-west-2:123456789012:secret:db-AbCdEf"
    config {{ run "true"; }}
}}
"#
    );
    let project = parse(&text);
    let config = project.resolve(None).expect("default env");
    let secrets = &config.steps["publish"].secrets;
    let api_key = &secrets["API_KEY"].value;
    // A parameter is read in the project's region; a secret in its ARN's.
    assert_eq!(
        api_key,
        &SecretRef::Ssm {
            path: "/shop/api-key".into(),
            region: "us-east-1".into()
        }
    );
    assert_eq!(api_key.region(), Some("us-east-1"));
    assert_eq!(secrets["DB"].value.region(), Some("eu-west-2"));
    assert_eq!(secrets["NPM_TOKEN"].value.region(), None);
    // What feeds the fingerprint: the reference as written, never a value.
    assert_eq!(api_key.reference(), "ssm:/shop/api-key");
    assert_eq!(
        secrets["DB"].value.reference(),
        "arn:aws:secretsmanager:eu-west-2:123456789012:secret:db-AbCdEf"
    );
}

#[test]
fn an_oci_registry_logs_in_with_a_password_secret_given_to_its_push_steps() {
    let text = BASE.replace(
        r#"registry "ecr" { url "123456789012.dkr.ecr.us-east-1.amazonaws.com" }"#,
        r#"registry "harbor" {
    kind "oci"
    url "harbor.example.com"
    username "robot"
    password from="ssm:/shop/harbor-password"
}"#,
    );
    assert_ne!(text, BASE);
    let project = parse(&text);
    let config = project.resolve(None).expect("default env");
    let login = config.registries["harbor"].login.as_ref().expect("a login");
    assert_eq!(login.username.value, "robot");
    assert_eq!(
        login.password.value,
        SecretRef::Ssm {
            path: "/shop/harbor-password".into(),
            region: "us-east-1".into()
        }
    );

    // The push step gets the password by reference, and its config names the secret.
    let graph =
        forge_engine::graph::StepGraph::from_config(config, &project.source).expect("graph");
    let push = &graph.steps[graph.index["ecr-push:api"]];
    let name = model::RegistryLogin::PASSWORD_SECRET;
    assert_eq!(push.secrets[name], login.password.value);
    let config = push.config.canonical_json();
    assert!(config.contains(r#""username":"robot""#), "{config}");
    assert!(
        config.contains(&format!(r#""password-secret":"{name}""#)),
        "{config}"
    );
    // ...which no other step gets.
    assert!(
        graph
            .steps
            .iter()
            .filter(|s| s.id != "ecr-push:api")
            .all(|s| !s.secrets.contains_key(name))
    );
    // The build gets its own secret (`build { secret ... }`) by reference, and its config
    // names it for the Dockerfile's mount; the service's task secret goes to no step.
    let build = &graph.steps[graph.index["docker-build:api"]];
    assert_eq!(
        build.secrets.keys().collect::<Vec<_>>(),
        ["NPM_TOKEN"],
        "{:?}",
        build.secrets
    );
    let build_config = build.config.canonical_json();
    assert!(
        build_config.contains(r#""secrets":["NPM_TOKEN"]"#),
        "{build_config}"
    );
    assert!(
        graph
            .steps
            .iter()
            .all(|s| !s.secrets.contains_key("DB_PASSWORD"))
    );
}
