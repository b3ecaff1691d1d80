//! Graph expansion and validation on configs built in code (the parser has its own tests;
//! end-to-end graph tests from `project.kdl` live in `engine/tests/`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use miette::SourceSpan;

use super::*;
use crate::model::{
    BuildSpec, HealthCheck, LoadBalancer, Module, Registry, RegistryKind, Service, Spanned,
    StateBackend, StateLock, StepDecl,
};

fn sp<T>(value: T) -> Spanned<T> {
    Spanned::new(value, SourceSpan::from(0..0))
}

fn at<T>(value: T, offset: usize, len: usize) -> Spanned<T> {
    Spanned::new(value, SourceSpan::from(offset..offset + len))
}

fn source() -> SourceFile {
    SourceFile {
        path: PathBuf::from("project.kdl"),
        text: Arc::from(" ".repeat(200)),
    }
}

fn service(name: &str, depends_on: &[&str]) -> Service {
    Service {
        name: sp(name.to_string()),
        build: BuildSpec {
            context: sp(PathBuf::from(format!("./services/{name}"))),
            dockerfile: sp(PathBuf::from("Dockerfile")),
            args: BTreeMap::new(),
            target: None,
            inputs: vec![sp("shared/**/*.rs".to_string())],
            artifacts: BTreeMap::new(),
            secrets: BTreeMap::new(),
        },
        registry: None,
        repository: sp(format!("app/{name}")),
        port: sp(8080),
        cpu: sp(256),
        memory: sp(512),
        desired_count: sp(2),
        health_check: HealthCheck {
            path: sp("/health".into()),
            interval_secs: sp(30),
            timeout_secs: sp(5),
            healthy_threshold: sp(2),
            unhealthy_threshold: sp(3),
            matcher: sp("200".into()),
        },
        load_balancer: sp(LoadBalancer::Public),
        env_vars: BTreeMap::new(),
        secrets: BTreeMap::new(),
        depends_on: depends_on.iter().map(|d| sp(d.to_string())).collect(),
        deployed_by: None,
        rollout: crate::model::Rollout {
            timeout: sp(crate::model::defaults::ROLLOUT_TIMEOUT),
            poll: sp(crate::model::defaults::ROLLOUT_POLL),
        },
        span: SourceSpan::from(0..0),
    }
}

fn step(name: &str, needs: &[(&str, usize)], phase: Phase) -> StepDecl {
    StepDecl {
        name: sp(name.to_string()),
        plugin: sp("docker-build".to_string()),
        config: sp(ConfigValue::Null),
        inputs: vec![],
        needs: needs
            .iter()
            .map(|(n, o)| at(n.to_string(), *o, n.len()))
            .collect(),
        env_vars: vec![],
        secrets: BTreeMap::new(),
        commit_sha: sp(false),
        phase: sp(phase),
        span: SourceSpan::from(0..0),
    }
}

pub(crate) fn two_tier() -> Config {
    let mut services = BTreeMap::new();
    services.insert("backend".to_string(), service("backend", &[]));
    services.insert("frontend".to_string(), service("frontend", &["backend"]));
    let mut registries = BTreeMap::new();
    registries.insert(
        "ecr".to_string(),
        Registry {
            name: sp("ecr".into()),
            kind: sp(RegistryKind::Ecr),
            url: sp("123.dkr.ecr.eu-west-1.amazonaws.com".into()),
            endpoint: None,
            create_repositories: sp(true),
            immutable_tags: sp(true),
            login: None,
        },
    );
    let mut modules = BTreeMap::new();
    modules.insert(
        "vpc".to_string(),
        Module {
            name: sp("vpc".into()),
            source: sp(PathBuf::from("modules/vpc")),
            inputs: BTreeMap::new(),
            span: SourceSpan::from(0..0),
        },
    );
    Config {
        env: "dev".into(),
        project: sp("shop".into()),
        region: sp("eu-west-1".into()),
        source: None,
        services,
        registries,
        modules,
        cache: None,
        state: Some(StateBackend {
            bucket: sp("tf-state".into()),
            key: sp("shop/{env}.tfstate".into()),
            region: sp("eu-west-1".into()),
            endpoint: None,
            lock: sp(StateLock::S3Lockfile),
            span: SourceSpan::from(0..0),
        }),
        plugins: BTreeMap::new(),
        steps: BTreeMap::new(),
        vars: BTreeMap::new(),
    }
}

fn ids(graph: &StepGraph, selected: &[usize]) -> Vec<String> {
    selected
        .iter()
        .map(|&i| graph.steps[i].id.clone())
        .collect()
}

#[test]
fn a_service_deployed_by_a_module_has_its_rollout_read_that_modules_outputs() {
    let mut config = two_tier();
    let backend = config.services.get_mut("backend").expect("backend");
    backend.deployed_by = Some(sp("vpc".into()));
    backend.rollout.timeout = sp(std::time::Duration::from_secs(900));
    let graph = StepGraph::from_config(&config, &source()).expect("valid graph");
    let rollout = graph.get("ecs-rollout:backend").expect("rollout");
    let ConfigValue::Map(c) = &rollout.config else {
        panic!("a map: {:?}", rollout.config)
    };
    assert_eq!(
        c["ecs"].canonical_json(),
        r#"{"cluster":{"$ref":"module.vpc.cluster_arn"},"service":{"$ref":"module.vpc.service_name"},"task-definition":{"$ref":"module.vpc.task_definition_arn"}}"#
    );
    assert_eq!(c["timeout-secs"], ConfigValue::Int(900));
    assert_eq!(c["poll-ms"], ConfigValue::Int(5000));
    assert_eq!(
        rollout.time_limit,
        Some(std::time::Duration::from_secs(900 + 120)),
        "the plugin, not the host, ends a stalled rollout"
    );
    // The render exports exactly the module outputs later steps read.
    let render = graph.get("terraform-render").expect("render");
    let ConfigValue::Map(r) = &render.config else {
        panic!("a map")
    };
    assert_eq!(
        r["outputs"].canonical_json(),
        r#"["module.vpc.cluster_arn","module.vpc.service_name","module.vpc.task_definition_arn"]"#
    );
    let frontend = graph.get("ecs-rollout:frontend").expect("rollout");
    let ConfigValue::Map(f) = &frontend.config else {
        panic!("a map")
    };
    assert_eq!(f["ecs"], ConfigValue::Null);
}

#[test]
fn pinned_pushes_leave_out_what_only_they_need() {
    let graph = StepGraph::from_config(&two_tier(), &source()).expect("valid graph");
    let all = graph.closure(Phase::Deploy, &[]);
    let pinned: BTreeSet<&str> = ["ecr-push:backend", "ecr-push:frontend"].into();
    let kept = ids(&graph, &graph.up_to_pinned(&all, &pinned));
    assert_eq!(
        kept,
        [
            "ecr-push:backend",
            "ecr-push:frontend",
            "terraform-render",
            "terraform-apply",
            "ecs-rollout:backend",
            "ecs-rollout:frontend",
        ],
        "no image is built"
    );
    let one: BTreeSet<&str> = ["ecr-push:backend"].into();
    let kept = ids(&graph, &graph.up_to_pinned(&all, &one));
    assert!(kept.contains(&"docker-build:frontend".to_owned()));
    assert!(!kept.contains(&"docker-build:backend".to_owned()));
}

#[test]
fn services_expand_into_the_standard_chain_in_stable_order() {
    let graph = StepGraph::from_config(&two_tier(), &source()).expect("valid graph");
    let order: Vec<&str> = graph.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        order,
        [
            "docker-build:backend",
            "docker-build:frontend",
            "ecr-push:backend",
            "ecr-push:frontend",
            "terraform-render",
            "terraform-apply",
            "ecs-rollout:backend",
            "ecs-rollout:frontend",
        ]
    );
    let rollout = graph.get("ecs-rollout:frontend").expect("rollout");
    assert_eq!(
        rollout.needs,
        [
            "terraform-apply",
            "ecr-push:frontend",
            "ecs-rollout:backend"
        ]
    );
    let render = graph.get("terraform-render").expect("render");
    assert_eq!(render.inputs[0].base, "modules/vpc");
    assert!(render.env_scoped);
    let build = graph.get("docker-build:backend").expect("build");
    assert_eq!(build.inputs[0].base, "services/backend");
    assert_eq!(
        build.inputs[0].ignore_file.as_deref(),
        Some(".dockerignore")
    );
    assert!(
        !build.commit_sha,
        "the SHA tags at push time, not in the image"
    );
    assert!(graph.get("ecr-push:backend").expect("push").commit_sha);
    // The lock is a scope around the steps that change infrastructure, not a step.
    let lock = graph.lock.as_ref().expect("a state lock");
    assert_eq!(lock.backend.key, "shop/dev.tfstate");
    let locked: Vec<&str> = graph
        .steps
        .iter()
        .filter(|s| s.locked)
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(
        locked,
        [
            "terraform-apply",
            "ecs-rollout:backend",
            "ecs-rollout:frontend"
        ]
    );
}

#[test]
fn without_a_state_backend_nothing_is_locked() {
    let mut config = two_tier();
    config.state = None;
    let graph = StepGraph::from_config(&config, &source()).expect("valid graph");
    assert!(graph.lock.is_none());
    assert!(graph.steps.iter().all(|s| !s.locked));
    assert!(!graph.to_text().contains("state lock"));
}

#[test]
fn closure_selects_a_phase_or_targets_with_their_needs() {
    let graph = StepGraph::from_config(&two_tier(), &source()).expect("valid graph");
    assert_eq!(graph.closure(Phase::Build, &[]).len(), 4);
    assert_eq!(graph.closure(Phase::Deploy, &[]).len(), graph.steps.len());
    let only = graph.closure(Phase::Build, &["ecr-push:frontend".to_string()]);
    assert_eq!(
        ids(&graph, &only),
        ["docker-build:frontend", "ecr-push:frontend"]
    );
}

#[test]
fn unknown_need_suggests_the_closest_step() {
    let mut config = two_tier();
    config.steps.insert(
        "smoke".into(),
        step("smoke", &[("ecs-rollout:backnd", 10)], Phase::Deploy),
    );
    let err = StepGraph::from_config(&config, &source()).expect_err("unknown need");
    match err {
        GraphError::UnknownNeed {
            name, help, span, ..
        } => {
            assert_eq!(name, "ecs-rollout:backnd");
            assert_eq!(help, "did you mean `ecs-rollout:backend`?");
            assert_eq!(span.offset(), 10);
        }
        other => panic!("expected UnknownNeed, got {other:?}"),
    }
}

#[test]
fn build_step_needing_a_deploy_step_is_rejected() {
    let mut config = two_tier();
    config.steps.insert(
        "lint".into(),
        step("lint", &[("terraform-apply", 5)], Phase::Build),
    );
    let err = StepGraph::from_config(&config, &source()).expect_err("phase order");
    assert!(matches!(err, GraphError::PhaseOrder { ref need, .. } if need == "terraform-apply"));
}

#[test]
fn cycle_is_printed_with_a_label_on_each_needs() {
    let mut config = two_tier();
    config
        .steps
        .insert("a".into(), step("a", &[("b", 10)], Phase::Build));
    config
        .steps
        .insert("b".into(), step("b", &[("c", 20)], Phase::Build));
    config
        .steps
        .insert("c".into(), step("c", &[("a", 30)], Phase::Build));
    let err = StepGraph::from_config(&config, &source()).expect_err("cycle");
    let GraphError::Cycle { cycle, labels, .. } = err else {
        panic!("expected a cycle, got {err:?}");
    };
    assert_eq!(cycle, "a → b → c → a");
    let offsets: Vec<usize> = labels.iter().map(|l| l.offset()).collect();
    assert_eq!(offsets, [10, 20, 30]);
    assert_eq!(labels[0].label(), Some("`a` needs `b`"));
}

#[test]
fn service_depends_on_cycle_is_reported_on_rollouts() {
    let mut config = two_tier();
    config
        .services
        .insert("backend".into(), service("backend", &["frontend"]));
    let err = StepGraph::from_config(&config, &source()).expect_err("cycle");
    let GraphError::Cycle { cycle, .. } = err else {
        panic!("expected a cycle, got {err:?}");
    };
    assert_eq!(
        cycle,
        "ecs-rollout:backend → ecs-rollout:frontend → ecs-rollout:backend"
    );
}

#[test]
fn renderings_name_every_step_and_edge() {
    let graph = StepGraph::from_config(&two_tier(), &source()).expect("valid graph");
    let text = graph.to_text();
    assert!(text.starts_with("build:\n"));
    assert!(text.contains("deploy (env dev):"));
    assert!(text.contains("ecr-push:backend"));
    assert!(text.contains("← docker-build:backend"));
    let dot = graph.to_dot();
    assert!(dot.contains("\"docker-build:backend\" -> \"ecr-push:backend\";"));
    let json: serde_json::Value = serde_json::from_str(&graph.to_json()).expect("json");
    assert_eq!(json["env"], "dev");
    assert_eq!(json["steps"].as_array().map(Vec::len), Some(8));
    assert_eq!(json["steps"][2]["needs"][0], "docker-build:backend");
    assert_eq!(json["steps"][5]["locked"], true);
    assert_eq!(json["lock"]["key"], "shop/dev.tfstate");
    assert!(text.contains("terraform-render  [state lock]"));
    assert!(text.contains("state lock (env dev): "));
    assert!(dot.contains("subgraph cluster_state_lock"));
}

#[test]
fn step_globs_are_split_into_literal_bases() {
    let mut config = two_tier();
    let mut decl = step("lint", &[], Phase::Build);
    decl.inputs = [
        "src/**/*.rs",
        "src/main.rs",
        "Cargo.lock",
        "**/*.toml",
        "web/*/x",
    ]
    .iter()
    .map(|g| sp(g.to_string()))
    .collect();
    config.steps.insert("lint".into(), decl);
    let graph = StepGraph::from_config(&config, &source()).expect("valid graph");
    let inputs: Vec<(&str, Vec<&str>)> = graph
        .get("lint")
        .expect("lint")
        .inputs
        .iter()
        .map(|s| {
            (
                s.base.as_str(),
                s.globs.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        inputs,
        [
            ("", vec!["Cargo.lock", "**/*.toml"]),
            ("src", vec!["**/*.rs", "main.rs"]),
            ("web", vec!["*/x"]),
        ]
    );
}

#[test]
fn references_to_outputs_are_needs_and_static_references_are_resolved() {
    let mut config = two_tier();
    config
        .vars
        .insert("zone".into(), sp(ConfigValue::String("a".into())));
    let reference = |target: &str| {
        ConfigValue::Ref(crate::model::RefValue {
            target: target.into(),
        })
    };
    let mut notify = step("notify", &[], Phase::Deploy);
    notify.config = sp(ConfigValue::Map(BTreeMap::from([
        ("image".to_string(), reference("service.backend.image")),
        ("vpc".to_string(), reference("module.vpc.vpc_id")),
        ("built".to_string(), reference("step.lint.report")),
        ("cpu".to_string(), reference("service.frontend.cpu")),
        ("zone".to_string(), reference("var.zone")),
    ])));
    config.steps.insert("notify".into(), notify);
    config
        .steps
        .insert("lint".into(), step("lint", &[], Phase::Build));
    if let Some(vpc) = config.modules.get_mut("vpc") {
        vpc.inputs
            .insert("name".into(), sp(reference("step.lint.report")));
        vpc.inputs
            .insert("peer".into(), sp(reference("module.other.id")));
    }
    let graph = StepGraph::from_config(&config, &source()).expect("valid graph");
    let render = &graph.steps[graph.index["terraform-render"]];
    assert!(
        render.needs.contains(&"lint".to_string()),
        "{:?}",
        render.needs
    );
    assert_eq!(render.needs.len(), render.need_spans.len());
    let notify = &graph.steps[graph.index["notify"]];
    let mut needs = notify.needs.clone();
    needs.sort();
    assert_eq!(needs, ["ecr-push:backend", "lint", "terraform-apply"]);
    assert_eq!(notify.needs.len(), notify.need_spans.len());
    let ConfigValue::Map(resolved) = &notify.config else {
        panic!("config is a map: {:?}", notify.config);
    };
    assert_eq!(resolved["cpu"], ConfigValue::Int(256));
    assert_eq!(resolved["zone"], ConfigValue::String("a".into()));
    assert_eq!(resolved["image"], reference("service.backend.image"));
}
