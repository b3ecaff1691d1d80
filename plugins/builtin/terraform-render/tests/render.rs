//! terraform-render under MockHost: the reference project against golden files, byte
//! stability, reference resolution, escaping, and the backend variants.
//!
//! The golden `.tf` files under `tests/golden/` were checked once with the real
//! `terraform fmt -check -recursive tests/golden` (terraform is not needed to run these
//! tests). To regenerate after an intended change: `FORGE_UPDATE_GOLDEN=1 cargo test ...`,
//! then re-run `terraform fmt -check` on them and review the diff.

use std::collections::BTreeMap;
use std::path::PathBuf;

use forge_plugin_sdk::{Error, MockHost};
use serde_json::{Value, json};
use terraform_render::{TerraformRender, root_hash};

const BACKEND_DIGEST: &str =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const FRONTEND_DIGEST: &str =
    "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const OTHER_DIGEST: &str =
    "sha256:3333333333333333333333333333333333333333333333333333333333333333";
const ECR: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

fn reference_config() -> Value {
    serde_json::from_str(include_str!("reference-dev.json")).expect("reference-dev.json is JSON")
}

/// The reference project's config for env `prod` (the graph test in cli keeps it in sync).
fn reference_prod_config() -> Value {
    serde_json::from_str(include_str!("reference-prod.json")).expect("reference-prod.json is JSON")
}

fn ecr_push(service: &str, digest: &str) -> Value {
    let repository = format!("{ECR}/two-tier/{service}");
    json!({
        "image": format!("{repository}@{digest}"),
        "digest": digest,
        "repository": repository,
        "tag": "0123456789abcdef0123456789abcdef01234567",
    })
}

fn reference_host(config: Value) -> MockHost {
    MockHost::new()
        .step("terraform-render")
        .env("dev")
        .config(config)
        .upstream("ecr-push:backend", ecr_push("backend", BACKEND_DIGEST))
        .upstream("ecr-push:frontend", ecr_push("frontend", FRONTEND_DIGEST))
}

fn run(host: &mut MockHost) -> Result<BTreeMap<String, String>, Error> {
    host.run::<TerraformRender>()?;
    Ok(host
        .outputs()
        .into_iter()
        .map(|(name, bytes)| (name, String::from_utf8(bytes).expect("output is UTF-8")))
        .collect())
}

/// A minimal config: one module with the given inputs, optional state.
fn small(inputs: Value, state: Value) -> Value {
    json!({
        "project": "demo",
        "region": "eu-west-1",
        "modules": {
            "alb": { "source": "modules/alb", "inputs": {} },
            "app": { "source": "modules/app", "inputs": inputs },
        },
        "vars": {},
        "state": state,
    })
}

/// Compares each output with `tests/golden/<case>/<file>`, or rewrites them when
/// `FORGE_UPDATE_GOLDEN` is set.
fn assert_golden(case: &str, outputs: &BTreeMap<String, String>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(case);
    let update = std::env::var_os("FORGE_UPDATE_GOLDEN").is_some();
    if update {
        std::fs::create_dir_all(&dir).expect("create golden dir");
    }
    for (name, text) in outputs {
        let path = dir.join(name);
        if update {
            std::fs::write(&path, text).expect("write golden file");
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (FORGE_UPDATE_GOLDEN=1 creates it)", path.display())
        });
        assert_eq!(
            text, &expected,
            "{case}/{name} differs from its golden file"
        );
    }
    if !update {
        let golden_files = std::fs::read_dir(&dir)
            .expect("golden dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".tf"))
            .count();
        assert_eq!(
            golden_files,
            outputs.len(),
            "{case}: output files differ from the golden set"
        );
    }
}

#[test]
fn reference_project_renders_its_golden_root_module() -> Result<(), Error> {
    let mut host = reference_host(reference_config());
    let outputs = run(&mut host)?;
    assert_eq!(
        outputs.keys().collect::<Vec<_>>(),
        ["main.tf", "outputs.tf", "providers.tf", "versions.tf"]
    );
    assert_golden("reference-dev", &outputs);

    // The manifest names every file by its content hash, and `root` covers them all.
    let manifest: Value = serde_json::from_str(host.manifest().expect("manifest"))?;
    let files: BTreeMap<String, String> = serde_json::from_value(manifest["files"].clone())?;
    for (name, text) in &outputs {
        assert_eq!(
            files[name],
            blake3::hash(text.as_bytes()).to_hex().to_string()
        );
    }
    assert_eq!(manifest["env"], "dev");
    assert_eq!(manifest["root"], root_hash(&files));
    Ok(())
}

#[test]
fn reference_project_renders_prod_with_its_production_values() -> Result<(), Error> {
    let outputs = run(&mut reference_host(reference_prod_config()).env("prod"))?;
    assert_golden("reference-prod", &outputs);
    let main = &outputs["main.tf"];
    assert!(main.contains("# Root module for env \"prod\"."), "{main}");
    for line in [
        "  enable_deletion_protection = true\n",
        "  access_logs_bucket         = module.log-bucket.bucket_id\n",
        "  flow_logs_bucket_arn = module.log-bucket.bucket_arn\n",
        "  log_retention_days   = 365\n",
    ] {
        assert!(main.contains(line), "prod's main.tf lacks {line:?}");
    }
    assert!(main.contains("  certificate_arn            = \"arn:aws:acm:"));
    Ok(())
}

#[test]
fn images_are_pinned_from_the_ecr_push_outputs() -> Result<(), Error> {
    let outputs = run(&mut reference_host(reference_config()))?;
    let main = &outputs["main.tf"];
    assert!(main.contains(&format!("  image_digest         = \"{BACKEND_DIGEST}\"\n")));
    assert!(main.contains(&format!("  image_digest         = \"{FRONTEND_DIGEST}\"\n")));
    assert!(main.contains("  source         = \"../../../modules/ecs-task-definition\"\n"));
    assert!(main.contains("  subnet_id       = module.subnets.private_subnet_ids[0]\n"));
    assert!(!main.contains("$ref"));
    Ok(())
}

#[test]
fn same_input_gives_the_same_bytes_whatever_the_map_order() -> Result<(), Error> {
    let first = run(&mut reference_host(reference_config()))?;
    let again = run(&mut reference_host(reference_config()))?;
    assert_eq!(first, again);

    // The same config written with every object's keys in reverse order. (serde_json's
    // default map sorts on parse, and the plugin sorts again itself: both must hold.)
    fn reversed(v: &Value) -> String {
        match v {
            Value::Object(map) => {
                let entries: Vec<String> = map
                    .iter()
                    .rev()
                    .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), reversed(v)))
                    .collect();
                format!("{{{}}}", entries.join(","))
            }
            Value::Array(items) => {
                format!(
                    "[{}]",
                    items.iter().map(reversed).collect::<Vec<_>>().join(",")
                )
            }
            other => other.to_string(),
        }
    }
    let text = reversed(&reference_config());
    assert!(text.starts_with("{\"vars\":"), "keys really are reversed");
    let shuffled: Value = serde_json::from_str(&text)?;
    assert_eq!(run(&mut reference_host(shuffled))?, first);

    // A different upstream digest changes main.tf, and only main.tf.
    let mut host = reference_host(reference_config())
        .upstream("ecr-push:backend", ecr_push("backend", OTHER_DIGEST));
    let changed = run(&mut host)?;
    assert_ne!(changed["main.tf"], first["main.tf"]);
    assert_eq!(changed["versions.tf"], first["versions.tf"]);
    Ok(())
}

#[test]
fn module_refs_become_expressions_and_step_refs_literals() -> Result<(), Error> {
    let inputs = json!({
        "lb_arn": { "$ref": "module.alb[0].arn" },
        "first": { "$ref": "module.alb.ids[0][1]" },
        "listener": { "$ref": "step.certs.listener" },
        "nested": { "$ref": "step.certs.cert.arn" },
        "wired": { "upstream": { "$ref": "module.alb.dns_name" }, "list": [{ "$ref": "module.alb.zone_id" }, "x"] },
    });
    let mut config = small(inputs, Value::Null);
    config["modules"]["app"]["depends_on"] = json!(["alb", "alb"]);
    let mut host = MockHost::new()
        .config(config)
        .upstream(
            "certs",
            json!({ "listener": { "port": 443, "$ref": "data, not a ref" }, "cert": { "arn": "arn:aws:acm:1" } }),
        );
    let outputs = run(&mut host)?;
    let expected = r#"# Generated by forge (terraform-render). Do not edit: change project.kdl.
# Root module for env "dev".

module "alb" {
  source = "../../../modules/alb"
}

module "app" {
  source     = "../../../modules/app"
  depends_on = [module.alb]

  first  = module.alb.ids[0][1]
  lb_arn = module.alb[0].arn
  listener = {
    "$ref" = "data, not a ref"
    port   = 443
  }
  nested = "arn:aws:acm:1"
  wired = {
    list     = [module.alb.zone_id, "x"]
    upstream = module.alb.dns_name
  }
}
"#;
    assert_eq!(outputs["main.tf"], expected);
    assert_golden("refs", &outputs);
    Ok(())
}

fn render_err(inputs: Value, host: MockHost) -> Error {
    let mut host = host.config(small(inputs, Value::Null));
    match host.run::<TerraformRender>() {
        Ok(_) => panic!("expected the render to fail"),
        Err(e) => e,
    }
}

#[test]
fn missing_upstream_or_key_is_an_error_naming_it() {
    let err = render_err(
        json!({ "image": { "$ref": "service.backend.image" } }),
        MockHost::new(),
    );
    assert!(
        err.message().contains("module `app` input `image`"),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("step `ecr-push:backend`"),
        "{}",
        err.message()
    );

    let host = MockHost::new().upstream("ecr-push:backend", json!({ "digest": BACKEND_DIGEST }));
    let err = render_err(
        json!({ "image": { "$ref": "service.backend.image" } }),
        host,
    );
    assert!(
        err.message()
            .contains("`ecr-push:backend` has no key `image`"),
        "{}",
        err.message()
    );
    assert_eq!(err.help(), Some("its output has: digest"));

    let host = MockHost::new().upstream("certs", json!({ "arn": "x" }));
    let err = render_err(json!({ "c": { "$ref": "step.certs.listener.port" } }), host);
    assert!(
        err.message()
            .contains("step `certs` has no key `listener.port`"),
        "{}",
        err.message()
    );

    let err = render_err(
        json!({ "c": { "$ref": "step.certs.arn" } }),
        MockHost::new(),
    );
    assert!(
        err.message()
            .contains("step `certs`, which is not upstream"),
        "{}",
        err.message()
    );
}

#[test]
fn bad_references_are_errors_naming_the_input() {
    for (target, expect) in [
        ("module.nope.id", "refers to module `nope`"),
        ("module.alb", "malformed module reference"),
        ("module.alb.a b", "malformed module reference"),
        ("module.alb.x[-1]", "malformed module reference"),
        ("module.alb.x[0", "malformed module reference"),
        ("module.alb.x}\"${evil}", "malformed module reference"),
        ("var.name", "cannot resolve reference `var.name`"),
        ("service.backend.port", "cannot resolve reference"),
        ("nonsense", "cannot resolve reference"),
    ] {
        let err = render_err(json!({ "v": { "$ref": target } }), MockHost::new());
        assert!(
            err.message().starts_with("module `app` input `v`: "),
            "{target}: {}",
            err.message()
        );
        assert!(
            err.message().contains(expect),
            "{target}: {}",
            err.message()
        );
        assert!(err.help().is_some(), "{target}: no help");
    }
    let err = render_err(
        json!({ "v": { "$ref": "module.alb.id", "extra": 1 } }),
        MockHost::new(),
    );
    assert!(
        err.message().contains("exactly `{\"$ref\": \"TARGET\"}`"),
        "{}",
        err.message()
    );
}

#[test]
fn unpinned_images_are_refused() {
    for attr in ["image", "digest", "repository"] {
        let host = MockHost::new().upstream(
            "ecr-push:web",
            json!({ "image": format!("{ECR}/web:latest"), "digest": "sha256:abc", "repository": "" }),
        );
        let err = render_err(
            json!({ "v": { "$ref": format!("service.web.{attr}") } }),
            host,
        );
        assert!(
            err.message().contains("not a pinned image reference"),
            "{attr}: {}",
            err.message()
        );
    }
}

#[test]
fn invalid_names_and_sources_are_refused() {
    let err = render_err(json!({ "count": 3 }), MockHost::new());
    assert!(
        err.message()
            .contains("input `count` is not a Terraform variable name"),
        "{}",
        err.message()
    );
    let err = render_err(json!({ "bad name": 3 }), MockHost::new());
    assert!(
        err.message()
            .contains("input `bad name` is not a Terraform variable name"),
        "{}",
        err.message()
    );

    for source in [
        "/abs/modules/vpc",
        "../outside",
        "modules/../../x",
        "git::https://x",
        "",
    ] {
        let config = json!({
            "project": "demo", "region": "eu-west-1", "vars": {}, "state": null,
            "modules": { "m": { "source": source, "inputs": {} } },
        });
        let err = MockHost::new()
            .config(config)
            .run::<TerraformRender>()
            .err();
        let err = err.unwrap_or_else(|| panic!("source {source:?} accepted"));
        assert!(
            err.message().contains("is not a path inside the project"),
            "{}",
            err.message()
        );
    }
    let config = json!({
        "project": "demo", "region": "eu-west-1",
        "modules": { "my.mod": { "source": "modules/m", "inputs": {} } },
    });
    let err = MockHost::new()
        .config(config)
        .run::<TerraformRender>()
        .err();
    assert!(err.is_some_and(|e| e.message().contains("not a Terraform identifier")));
}

#[test]
fn depends_on_must_name_another_module() {
    for wait in ["nope", "app"] {
        let mut config = small(json!({}), Value::Null);
        config["modules"]["app"]["depends_on"] = json!([wait]);
        let err = MockHost::new()
            .config(config)
            .run::<TerraformRender>()
            .err();
        let err = err.unwrap_or_else(|| panic!("depends_on {wait} accepted"));
        assert!(
            err.message().contains(&format!("depends on `{wait}`")),
            "{}",
            err.message()
        );
        assert_eq!(err.help(), Some("name one of: alb"));
    }
}

#[test]
fn strings_and_keys_are_escaped_per_hcl() -> Result<(), Error> {
    let inputs = json!({
        "template": "${not_interpolated} and %{ if x }",
        "quotes": "say \"hi\" \\ bye",
        "lines": "one\ntwo\tthree\r\u{1}",
        "unicode": "héllo ✓",
        "keys": { "for": 1, "null": 2, "a.b": 3, "9x": 4, "ok_key": 5, "ünï": 6, "${x}": 7 },
        "numbers": [0, -1, 1.5, 1e100, 18446744073709551615u64],
        "nothing": null,
        "empty": { "list": [], "map": {} },
    });
    let outputs = run(&mut MockHost::new().config(small(inputs, Value::Null)))?;
    let main = &outputs["main.tf"];
    assert!(
        main.contains(r#"  template = "$${not_interpolated} and %%{ if x }""#),
        "{main}"
    );
    assert!(
        main.contains(r#"  quotes   = "say \"hi\" \\ bye""#),
        "{main}"
    );
    assert!(
        main.contains(r#"  lines    = "one\ntwo\tthree\r\u0001""#),
        "{main}"
    );
    assert!(main.contains(r#"    "\u00FCn\u00EF" = 6"#), "{main}");
    assert!(main.contains(r#"    "$${x}"         = 7"#), "{main}");
    assert_golden("escaping", &outputs);
    Ok(())
}

fn versions_and_providers(state: Value, vars: Value) -> Result<BTreeMap<String, String>, Error> {
    let mut config = small(json!({}), state);
    config["vars"] = vars;
    let mut outputs = run(&mut MockHost::new().env("prod").config(config))?;
    outputs.remove("main.tf");
    Ok(outputs)
}

#[test]
fn dynamodb_backend() -> Result<(), Error> {
    let outputs = versions_and_providers(
        json!({
            "bucket": "state-bucket", "key": "demo/prod/terraform.tfstate", "region": "eu-west-1",
            "lockfile": false, "table": "locks",
        }),
        json!({}),
    )?;
    let versions = &outputs["versions.tf"];
    assert!(
        versions.contains("    dynamodb_table = \"locks\"\n"),
        "{versions}"
    );
    assert!(!versions.contains("use_lockfile"));
    assert!(!versions.contains("endpoints"));
    assert!(!outputs["providers.tf"].contains("endpoints"));
    assert_golden("dynamodb", &outputs);
    Ok(())
}

/// Both locks, as Terraform takes them when `use_lockfile` and `dynamodb_table` are set.
#[test]
fn both_locks() -> Result<(), Error> {
    let outputs = versions_and_providers(
        json!({
            "bucket": "state-bucket", "key": "demo/prod/terraform.tfstate", "region": "eu-west-1",
            "lockfile": true, "table": "locks",
        }),
        json!({}),
    )?;
    let versions = &outputs["versions.tf"];
    assert!(
        versions.contains("dynamodb_table = \"locks\""),
        "{versions}"
    );
    assert!(versions.contains("use_lockfile   = true"), "{versions}");
    assert!(
        versions.contains("required_version = \">= 1.10\""),
        "{versions}"
    );
    Ok(())
}

#[test]
fn s3_lockfile_backend_with_a_local_endpoint() -> Result<(), Error> {
    let outputs = versions_and_providers(
        json!({
            "bucket": "state-bucket", "key": "demo/prod/terraform.tfstate", "region": "eu-west-1",
            "endpoint": "http://127.0.0.1:5000", "lockfile": true,
        }),
        json!({}),
    )?;
    let versions = &outputs["versions.tf"];
    assert!(
        versions.contains("  required_version = \">= 1.10\"\n"),
        "{versions}"
    );
    assert!(
        versions.contains("    use_lockfile                = true\n"),
        "{versions}"
    );
    assert!(
        versions.contains("      s3       = \"http://127.0.0.1:5000\"\n"),
        "{versions}"
    );
    assert!(!versions.contains("dynamodb_table"));
    assert!(outputs["providers.tf"].contains("    ecs      = \"http://127.0.0.1:5000\"\n"));
    assert_golden("lockfile-local", &outputs);
    Ok(())
}

#[test]
fn no_state_means_no_backend_and_aws_endpoint_var_overrides_the_provider() -> Result<(), Error> {
    let outputs = versions_and_providers(
        Value::Null,
        json!({ "aws_endpoint": "http://localhost:4566" }),
    )?;
    let versions = &outputs["versions.tf"];
    assert!(!versions.contains("backend"), "{versions}");
    assert!(
        versions.contains("  required_version = \">= 1.5\"\n"),
        "{versions}"
    );
    assert!(outputs["providers.tf"].contains("    s3       = \"http://localhost:4566\"\n"));
    assert_golden("no-state", &outputs);

    let err = versions_and_providers(Value::Null, json!({ "aws_endpoint": 5 })).err();
    assert!(err.is_some_and(|e| e.message().contains("aws_endpoint")));
    Ok(())
}

#[test]
fn unknown_config_fields_are_refused() {
    let mut config = small(json!({}), Value::Null);
    config["modules"]["app"]["sorce"] = json!("x");
    let err = MockHost::new()
        .config(config)
        .run::<TerraformRender>()
        .err();
    assert!(err.is_some_and(|e| e.message().contains("unknown field `sorce`")));
}

#[test]
fn module_outputs_later_steps_read_become_root_outputs() -> Result<(), Error> {
    let mut config = reference_config();
    config["outputs"] = json!([
        "module.backend-service.cluster_arn",
        "module.backend-service.task_definition_arn",
        "module.subnets.private_subnet_ids[0]"
    ]);
    let mut host = reference_host(config);
    let outputs = run(&mut host)?;
    assert_eq!(
        outputs["outputs.tf"],
        "# Generated by forge (terraform-render). Do not edit: change project.kdl.\n# Root module for env \"dev\".\n\noutput \"backend-service__cluster_arn\" {\n  value = module.backend-service.cluster_arn\n}\n\noutput \"backend-service__task_definition_arn\" {\n  value = module.backend-service.task_definition_arn\n}\n\noutput \"subnets__private_subnet_ids_0_\" {\n  value = module.subnets.private_subnet_ids[0]\n}\n"
    );

    let mut config = reference_config();
    config["outputs"] = json!(["module.nope.x"]);
    let err = run(&mut reference_host(config)).expect_err("an unknown module");
    assert!(
        err.message()
            .contains("refers to module `nope`, which this project does not declare"),
        "{}",
        err.message()
    );
    Ok(())
}
