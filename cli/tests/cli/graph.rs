//! `forge graph` in its three formats, and project discovery (`-C`, subdirectories).

use snapbox::str;

use crate::harness::Project;

#[test]
fn text() {
    Project::new()
        .forge("graph")
        .stdout(str![[r#"
build:
  compile  (docker-build)
  lint     (docker-build)
  package  (ecr-push)  ← compile
deploy (env dev):
  render   (terraform-render)  ← package
  release  (ecs-rollout)  ← render

"#]])
        .stderr(str![""])
        .run();
}

#[test]
fn dot() {
    Project::new()
        .forge("graph --format dot")
        .stdout(
            snapbox::IntoData::raw(str![[r#"
digraph forge {
  rankdir=LR;
  node [shape=ellipse];
  "compile" [shape=ellipse, label="compile\ndocker-build"];
  "lint" [shape=ellipse, label="lint\ndocker-build"];
  "package" [shape=ellipse, label="package\necr-push"];
  "render" [shape=box, label="render\nterraform-render"];
  "release" [shape=box, label="release\necs-rollout"];
  "compile" -> "package";
  "package" -> "render";
  "render" -> "release";
}

"#]]), // Raw: DOT labels hold `\n`, which path normalization would turn into `/n`.
        )
        .run();
}

#[test]
fn json_format_is_one_document_with_every_step_and_edge() {
    let out = Project::new().forge("graph --format json").run();
    let graph: serde_json::Value = serde_json::from_str(&out.stdout).expect("graph JSON");
    assert_eq!(graph["env"], "dev");
    let steps = graph["steps"].as_array().expect("steps array");
    let ids: Vec<&str> = steps
        .iter()
        .map(|s| s["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["compile", "lint", "package", "render", "release"]);
    assert_eq!(steps[2]["needs"], serde_json::json!(["compile"]));
    assert_eq!(steps[3]["phase"], "deploy");
}

#[test]
fn global_json_makes_the_graph_one_typed_line() {
    let out = Project::new().forge("graph --json").run();
    let lines = out.json_lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["type"], "graph");
    assert_eq!(lines[0]["steps"].as_array().map(Vec::len), Some(5));
}

#[test]
fn env_flag_selects_the_env() {
    let out = Project::new().forge("graph --env prod").run();
    assert!(out.stdout.contains("deploy (env prod):"), "{}", out.stdout);
}

#[test]
fn project_is_found_from_a_subdirectory() {
    let project = Project::new().file("src/deep/er/file.txt", "x");
    let out = project.forge("graph").current_dir("src/deep/er").run();
    assert!(
        out.stdout.starts_with("build:\n  compile"),
        "{}",
        out.stdout
    );
}

#[test]
fn dash_c_runs_in_another_directory() {
    let project = Project::new().file("elsewhere/.keep", "");
    let from_root = project.forge("graph").run();
    let out = project
        .forge("graph")
        .current_dir("elsewhere")
        .arg("-C")
        .arg(project.root().display().to_string())
        .run();
    assert_eq!(out.stdout, from_root.stdout);
}

#[test]
fn dash_c_relative_to_the_current_dir() {
    let outside = Project::empty();
    let project = Project::new();
    let relative = pathdiff(project.root(), outside.root());
    let out = outside.forge("-C").arg(relative).arg("graph").run();
    assert!(out.stdout.contains("compile"), "{}", out.stdout);
}

/// `to` relative to `from`, both absolute temp dirs under the same parent.
fn pathdiff(to: &std::path::Path, from: &std::path::Path) -> String {
    let name = to.file_name().expect("temp dir name").to_string_lossy();
    assert_eq!(to.parent(), from.parent(), "temp dirs share a parent");
    format!("../{name}")
}

/// terraform-render's golden tests render `tests/reference-dev.json` and
/// `tests/reference-prod.json`: each must be exactly the config this forge gives the step
/// for the reference project's env, or the golden files would show a root module the
/// project no longer renders.
#[test]
fn the_renders_golden_configs_are_the_reference_projects() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for env in ["dev", "prod"] {
        let config = reference_render_config(env);
        let golden_path = repo.join(format!(
            "plugins/builtin/terraform-render/tests/reference-{env}.json"
        ));
        let golden: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&golden_path).expect("reference config"))
                .expect("reference config is JSON");
        assert!(
            config == golden,
            "{} is not the config of the reference project's terraform-render (env {env}); write it again from `forge --env {env} graph --format json`",
            golden_path.display()
        );
    }
}

/// The terraform-render config of the reference project for `env`.
fn reference_render_config(env: &str) -> serde_json::Value {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Project::empty()
        .forge("-C")
        .arg(repo.display().to_string())
        .arg("--env")
        .arg(env)
        .arg("graph")
        .arg("--format")
        .arg("json")
        .run();
    let graph: serde_json::Value = serde_json::from_str(&out.stdout).expect("graph JSON");
    graph["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == "terraform-render")
        .unwrap_or_else(|| panic!("env {env}: a terraform-render step"))["config"]
        .clone()
}

/// Every env of the reference project loads (each module input checked against the
/// module's variables.tf) and renders the 17 module blocks (14 modules); prod carries the
/// production values the modules leave to their inputs.
#[test]
fn the_reference_project_renders_every_env_and_prod_is_production_grade() {
    for env in ["local", "dev", "prod"] {
        let config = reference_render_config(env);
        let modules = config["modules"].as_object().expect("modules");
        assert_eq!(modules.len(), 17, "env {env}: {:?}", modules.keys());
        // Jenkins: private subnet, and it only assumes the pipeline roles.
        let jenkins = &modules["jenkins-ec2"]["inputs"];
        assert_eq!(
            jenkins["subnet_id"]["$ref"],
            "module.subnets.private_subnet_ids[0]"
        );
        assert!(jenkins.get("ecr_repository_arns").is_none(), "{jenkins}");
        assert_eq!(jenkins["ci_role_arn"]["$ref"], "module.iam.ci_role_arn");
        assert_eq!(modules["iam"]["inputs"]["ci_role_name"], "two-tier-ci");
    }

    let prod = reference_render_config("prod");
    let input = |module: &str, name: &str| prod["modules"][module]["inputs"][name].clone();
    assert!(
        input("alb-public", "certificate_arn")
            .as_str()
            .is_some_and(|arn| arn.starts_with("arn:aws:acm:")),
        "prod serves HTTPS"
    );
    for alb in ["alb-public", "alb-internal"] {
        assert_eq!(input(alb, "enable_deletion_protection"), true, "{alb}");
        assert_eq!(
            input(alb, "access_logs_bucket")["$ref"],
            "module.log-bucket.bucket_id",
            "{alb}"
        );
    }
    assert_eq!(
        input("vpc", "flow_logs_bucket_arn")["$ref"],
        "module.log-bucket.bucket_arn"
    );
    assert_eq!(
        input("remote-backend", "access_logs_bucket")["$ref"],
        "module.log-bucket.bucket_id"
    );
    for task in ["backend-task", "frontend-task"] {
        assert_eq!(input(task, "log_retention_days"), 365, "{task}");
    }

    // dev keeps the cheap defaults: no certificate, no flow logs, short retention.
    let dev = reference_render_config("dev");
    assert!(dev["modules"]["alb-public"]["inputs"]["certificate_arn"].is_null());
    assert!(dev["modules"]["vpc"]["inputs"]["flow_logs_bucket_arn"].is_null());
    assert!(dev["modules"]["backend-task"]["inputs"]["log_retention_days"].is_null());
}
