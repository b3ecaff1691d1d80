//! Crate boundaries, checked: `forge-engine` must stay free of the plugin host, the CLI
//! framework, the Docker client and the AWS SDK, so it can be tested and embedded alone.
//!
//! The rule is read from `cargo metadata`'s resolved graph (normal and build edges; dev
//! dependencies don't ship), so a forbidden crate pulled in transitively fails too.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use serde_json::Value;

/// Crate-name prefixes the engine must never depend on, with the reason.
const FORBIDDEN: &[(&str, &str)] = &[
    ("wasmtime", "the plugin host lives in `host/`"),
    ("wit-", "WIT bindings belong to `host/` and `plugin-sdk/`"),
    ("clap", "argument parsing belongs to `cli/`"),
    ("indicatif", "terminal output belongs to `cli/`"),
    ("bollard", "the Docker client is a host capability"),
    ("aws-sdk-", "AWS calls are a host capability"),
    ("aws-config", "AWS calls are a host capability"),
    ("aws-smithy-", "AWS calls are a host capability"),
];

struct Metadata {
    /// Package id → package name.
    names: HashMap<String, String>,
    /// Package id → ids of its normal and build dependencies.
    edges: HashMap<String, Vec<String>>,
}

fn metadata() -> Metadata {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");

    let names = doc["packages"]
        .as_array()
        .expect("packages array")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().expect("package id").to_owned(),
                p["name"].as_str().expect("package name").to_owned(),
            )
        })
        .collect();

    let mut edges = HashMap::new();
    for node in doc["resolve"]["nodes"].as_array().expect("resolve nodes") {
        let id = node["id"].as_str().expect("node id").to_owned();
        let deps = node["deps"]
            .as_array()
            .expect("node deps")
            .iter()
            .filter(|dep| {
                dep["dep_kinds"]
                    .as_array()
                    .expect("dep kinds")
                    .iter()
                    .any(|k| k["kind"].as_str() != Some("dev"))
            })
            .map(|dep| dep["pkg"].as_str().expect("dep pkg").to_owned())
            .collect();
        edges.insert(id, deps);
    }
    Metadata { names, edges }
}

/// Names of every crate `package` depends on, transitively, excluding dev dependencies.
fn closure(meta: &Metadata, package: &str) -> BTreeSet<String> {
    let root = meta
        .names
        .iter()
        .find(|(_, name)| *name == package)
        .map(|(id, _)| id.clone())
        .unwrap_or_else(|| panic!("package {package} is in the workspace"));
    let mut seen = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        for dep in meta.edges.get(&id).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                stack.push(dep.clone());
            }
        }
    }
    seen.iter().map(|id| meta.names[id].clone()).collect()
}

fn violations(deps: &BTreeSet<String>) -> Vec<String> {
    deps.iter()
        .filter_map(|name| {
            FORBIDDEN
                .iter()
                .find(|(prefix, _)| name.starts_with(prefix))
                .map(|(_, why)| format!("{name} ({why})"))
        })
        .collect()
}

#[test]
fn engine_depends_on_no_host_cli_docker_or_aws_crate() {
    let meta = metadata();
    let deps = closure(&meta, "forge-engine");
    let bad = violations(&deps);
    assert!(
        bad.is_empty(),
        "forge-engine must not depend on: {}",
        bad.join(", ")
    );
}

/// The plugin contract is read by the engine, the host, the authoring tools and the SDK,
/// which is also compiled into every plugin: it may depend on blake3 (for pins) and serde
/// (for the state lock's types), each behind a feature, and nothing else, so it never
/// drags the host or a framework into a plugin.
#[test]
fn contract_depends_on_nothing_but_blake3_and_serde() {
    let meta = metadata();
    let deps = closure(&meta, "forge-contract");
    let allowed: BTreeSet<String> = ["blake3", "serde"]
        .into_iter()
        .flat_map(|name| {
            let mut all = closure(&meta, name);
            all.insert(name.to_owned());
            all
        })
        .collect();
    let extra: Vec<&String> = deps.iter().filter(|d| !allowed.contains(*d)).collect();
    assert!(
        extra.is_empty(),
        "forge-contract must depend on nothing but blake3 and serde, found: {extra:?}"
    );
    assert!(violations(&deps).is_empty());
}

/// The clients of Docker, registries and AWS are called by tests, benchmarks and tools as
/// plain functions: they must not pull in the wasm runtime.
#[test]
fn clients_do_not_depend_on_wasmtime() {
    let meta = metadata();
    let deps = closure(&meta, "forge-clients");
    assert!(
        !deps.iter().any(|d| d.starts_with("wasmtime")),
        "forge-clients must not depend on wasmtime"
    );
}

/// The SDK (in every plugin) must not reach the plugin host or the CLI either.
#[test]
fn sdk_depends_on_no_host_or_cli_crate() {
    let meta = metadata();
    let deps = closure(&meta, "forge-plugin-sdk");
    assert!(deps.contains("forge-contract"));
    for forbidden in [
        "forge-host",
        "forge-engine",
        "forge-plugin-tools",
        "wasmtime",
    ] {
        assert!(
            !deps.contains(forbidden),
            "forge-plugin-sdk depends on {forbidden}"
        );
    }
}

/// Guards the guard: the same walk over the CLI must find clap, or the check above
/// would pass vacuously (say, if `cargo metadata` changed shape).
#[test]
fn the_rule_sees_forbidden_crates_where_they_are_allowed() {
    let meta = metadata();
    let deps = closure(&meta, "forge-cli");
    assert!(deps.contains("forge-engine") && deps.contains("forge-contract"));
    assert!(violations(&deps).iter().any(|v| v.starts_with("clap")));
}
