//! `forge plugin new|build|inspect|test`. Components for `inspect` are made in the test
//! without a wasm toolchain (`forge_plugin_tools::testing`); `plugin_e2e_*` builds a real
//! plugin and needs a wasm toolchain: it fails, never skips, without one (CI installs one).
//! Run it alone with `cargo test -p forge-cli --test cli plugin_e2e`.

use std::path::Path;

use forge_plugin_tools::CONTRACT_VERSION as V;
use forge_plugin_tools::testing::{edited_step_component, step_component};
use snapbox::str;

use crate::harness::{Project, copy_tree};

const NO_TOOLCHAIN: &str = "/nonexistent/forge-test/rustc";

fn write(project: &Project, name: &str, bytes: &[u8]) {
    std::fs::write(project.root().join(name), bytes).expect("write test file");
}

#[test]
fn inspect_names_the_contract_and_capabilities() {
    let project = Project::empty();
    write(
        &project,
        "p.wasm",
        &step_component(V, &["log", "files"], ""),
    );
    project
        .forge("plugin inspect p.wasm")
        .stdout(format!(
            r#"file          p.wasm
kind          component
world         forge:plugin/step
contract      {V} (this forge speaks {V})
toolchain     not recorded (not built by `forge plugin build`)
capabilities  files.read
grant line    grant "files.read"
imports
  forge:plugin/types@{V}  types only
  forge:plugin/log@{V}    always granted
  forge:plugin/files@{V}  capability files.read (needs grant "files.read")
exports       describe, run
size          [..] bytes
hash          blake3:[..]
describe      failed, so every run of it fails too: plugin `p` trapped: [..]
"#
        ))
        .run();
}

/// `aws` returns registry credentials, so a plugin that calls it imports `registry` too,
/// and `registry.login` takes a `secrets` handle, as does `docker.build-with-secrets`:
/// `grant "docker" "aws"` covers all four, and inspect says so, naming the first grant
/// that implies each. (This component imports every function of those interfaces.)
#[test]
fn inspect_lists_networked_capabilities_and_the_one_grant_they_need() {
    let project = Project::empty();
    write(
        &project,
        "push.wasm",
        &step_component(V, &["log", "docker", "registry", "aws"], ""),
    );
    let output = project.forge("plugin inspect push.wasm").run();
    for line in [
        "capabilities  secrets, docker, registry, aws\n".to_owned(),
        "grant line    grant \"docker\" \"aws\"\n".to_owned(),
        format!("forge:plugin/docker@{V}    capability docker (needs grant \"docker\")\n"),
        format!("forge:plugin/secrets@{V}   capability secrets (implied by grant \"docker\")\n"),
        format!("forge:plugin/registry@{V}  capability registry (implied by grant \"aws\")\n"),
        format!("forge:plugin/aws@{V}       capability aws (needs grant \"aws\")\n"),
    ] {
        assert!(
            output.stdout.contains(&line),
            "{line:?} in:\n{}",
            output.stdout
        );
    }
    let json = project.forge("plugin inspect push.wasm --json").run();
    let line = &json.json_lines()[0];
    assert_eq!(
        line["capabilities"],
        serde_json::json!(["secrets", "docker", "registry", "aws"])
    );
    assert_eq!(line["grants"], serde_json::json!(["docker", "aws"]));
}

/// Every built-in forge embeds inspects cleanly, and the grants forge gives it by default
/// (the contract's table) cover every capability it imports.
#[test]
fn inspect_accepts_every_built_in_and_its_default_grants_cover_it() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dist).expect("plugins/dist") {
        let path = entry.expect("a dist entry").path();
        if path.extension().is_none_or(|e| e != "wasm") {
            continue;
        }
        let name = path
            .file_stem()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        let project = Project::empty();
        let output = project
            .forge("plugin inspect --json")
            .arg(path.to_str().expect("utf-8 path"))
            .run();
        let line = &output.json_lines()[0];
        let defaults = forge_plugin_tools::contract::GrantSet::from_grants(
            forge_plugin_tools::contract::builtin_grants(&name),
        );
        for capability in line["capabilities"].as_array().expect("capabilities") {
            let capability = capability.as_str().expect("a name");
            assert!(
                defaults.has_capability(capability),
                "built-in {name} imports {capability}, which its default grants lack"
            );
        }
        // Its own `describe`, run in the real host: its name and the schema of its config.
        let described = &line["describe"];
        assert_eq!(described["name"], name.as_str(), "{line}");
        assert!(described["config_schema"].is_object(), "{line}");
        assert!(line.get("describe_error").is_none(), "{line}");
        seen.push(name);
    }
    seen.sort();
    assert!(
        seen.iter().any(|n| n == "docker-build") && seen.iter().any(|n| n == "ecr-push"),
        "{seen:?}"
    );
}

/// A component with forge's names and other types is refused at inspect (and so at
/// build), naming the function and both types, not by the linker when a step runs.
#[test]
fn inspect_refuses_a_forge_name_with_another_type() {
    let project = Project::empty();
    write(
        &project,
        "bad.wasm",
        &edited_step_component(
            &["log", "aws"],
            "ecr-describe-repository: func(target: target, name: string) -> result<option<repository>, aws-error>;",
            "ecr-describe-repository: func(target: target, name: u32) -> result<option<repository>, aws-error>;",
        ),
    );
    let output = project.forge("plugin inspect bad.wasm").code(1).run();
    assert!(
        output.stderr.contains("forge::plugin::contract_type"),
        "{}",
        output.stderr
    );
    let message: String = output
        .stderr
        .lines()
        .map(|l| l.trim_start_matches([' ', '│', '×']).trim_end())
        .collect::<Vec<_>>()
        .join(" ");
    for part in [
        format!(
            "function `ecr-describe-repository` of forge:plugin/aws@{V} has a type this forge does not provide"
        ),
        "component: func(target: target, name: u32) -> result<option<repository>, aws-error>"
            .to_owned(),
        "contract:  func(target: target, name: string) -> result<option<repository>, aws-error>"
            .to_owned(),
    ] {
        assert!(message.contains(&part), "{part:?} in:\n{}", output.stderr);
    }
}

#[test]
fn inspect_json_has_the_hash_of_the_file() {
    let project = Project::empty();
    let bytes = step_component(V, &["log", "secrets"], "");
    write(&project, "p.wasm", &bytes);
    let output = project.forge("plugin inspect p.wasm --json").run();
    let lines = output.json_lines();
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(line["type"], "plugin-inspect");
    assert_eq!(line["component"], true);
    assert_eq!(line["version"], V);
    assert_eq!(line["capabilities"], serde_json::json!(["secrets"]));
    assert_eq!(line["size"], bytes.len());
    assert_eq!(line["hash"], forge_plugin_tools::hash_bytes(&bytes));
}

#[test]
fn inspect_refuses_garbage_and_core_modules() {
    let project = Project::empty();
    write(&project, "garbage.wasm", b"#!/bin/sh\necho not wasm\n");
    // The smallest valid core module: magic and version, no sections.
    write(&project, "core.wasm", b"\0asm\x01\0\0\0");
    project
        .forge("plugin inspect garbage.wasm")
        .code(2)
        .stderr(str![[r#"
forge::plugin::not_wasm

  × garbage.wasm is not a WebAssembly file
  help: inspect the component `forge plugin build` wrote; it prints the path


"#]])
        .run();
    project
        .forge("plugin inspect core.wasm")
        .code(2)
        .stderr(str![[r#"
forge::plugin::core_module

  × core.wasm is a core module, not a component
  help: this is a core module; run `forge plugin build` to make a component


"#]])
        .run();
}

#[test]
fn inspect_names_both_contract_versions() {
    let project = Project::empty();
    let next = forge_plugin_tools::contract::next_breaking_version();
    write(&project, "new.wasm", &step_component(&next, &["log"], ""));
    project
        .forge("plugin inspect new.wasm")
        .code(1)
        .stderr(format!(
            r#"forge::plugin::contract_version

  × new.wasm speaks forge:plugin@{next}, but this forge speaks
  │ forge:plugin@{V}
  help: rebuild the plugin against a forge-plugin-sdk for contract {V}, or
        use a forge release that speaks {next}

"#
        ))
        .run();
}

#[test]
fn inspect_shows_then_refuses_unknown_imports() {
    let project = Project::empty();
    let extra = "interface kubernetes { apply: func(manifest: string); }\n";
    write(
        &project,
        "d.wasm",
        &step_component(V, &["log", "kubernetes"], extra),
    );
    let output = project.forge("plugin inspect d.wasm").code(1).run();
    assert!(
        output.stdout.contains(&format!(
            "unknown import forge:plugin/kubernetes@{V}: this forge cannot run it"
        )),
        "{}",
        output.stdout
    );
    assert!(
        output.stderr.contains("forge::plugin::unknown_import"),
        "{}",
        output.stderr
    );
}

#[test]
fn new_scaffolds_a_crate_and_refuses_to_overwrite() {
    let project = Project::empty();
    project
        .forge("plugin new site-manifest")
        .env("FORGE_PLUGIN_SDK", &sdk_dir())
        .stdout(str![[r#"
Created plugin `site-manifest` in site-manifest
  Cargo.toml
  src/lib.rs
  README.md
  .gitignore

Next:
  cd site-manifest
  forge plugin test      # its tests, natively
  forge plugin build     # the component, and the line for project.kdl

"#]])
        .run();
    let dir = project.root().join("site-manifest");
    for file in ["Cargo.toml", "src/lib.rs", "README.md", ".gitignore"] {
        assert!(dir.join(file).is_file(), "{file} was not created");
    }
    let toml = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        toml.contains(r#"crate-type = ["cdylib", "rlib"]"#),
        "{toml}"
    );
    assert!(toml.contains("[workspace]"), "{toml}");
    assert!(toml.contains("forge-plugin-sdk = { path = "), "{toml}");
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).expect("lib.rs");
    assert!(lib.contains("export_plugin!(SiteManifest);"), "{lib}");

    std::fs::write(dir.join("src/lib.rs"), "// mine\n").expect("edit");
    project
        .forge("plugin new site-manifest")
        .code(2)
        .stderr(str![[r#"
forge::plugin::exists

  × site-manifest already exists
  help: choose another name or `--path`; forge never overwrites an existing
        directory


"#]])
        .run();
    assert_eq!(
        std::fs::read_to_string(dir.join("src/lib.rs")).expect("lib.rs"),
        "// mine\n",
        "the existing crate is untouched"
    );
    project.forge("plugin new Bad_Name").code(2).run();
}

/// Outside a forge checkout the SDK is vendored into the new crate from the forge binary:
/// no registry name (crates.io's `forge-plugin-sdk` is another author's crate) and no path
/// that exists only here. Its tests run with cargo offline, and the lockfile shows the SDK
/// and the contract come from the crate's own directory.
#[test]
fn new_outside_a_checkout_vendors_the_sdk_and_tests_offline() {
    let project = Project::empty();
    let made = project
        .forge("plugin new hello --json")
        .env_remove("FORGE_PLUGIN_SDK")
        .run();
    let line = &made.json_lines()[0];
    assert_eq!(line["sdk"], serde_json::json!({ "vendored": "forge-sdk" }));
    let dir = project.root().join("hello");
    let toml = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        toml.contains(r#"forge-plugin-sdk = { path = "forge-sdk/plugin-sdk" }"#),
        "{toml}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("forge-sdk/plugin-sdk/wit/plugin.wit")).expect("WIT"),
        forge_plugin_tools::CONTRACT_WIT
    );

    project
        .forge("-j1 plugin test hello")
        .env("CARGO_NET_OFFLINE", "true")
        .env("CARGO_TARGET_DIR", &shared_target("plugin-vendored"))
        .run();
    let lock = std::fs::read_to_string(dir.join("Cargo.lock")).expect("Cargo.lock");
    for package in ["forge-plugin-sdk", "forge-contract"] {
        let entry = lock
            .split("[[package]]")
            .find(|p| p.contains(&format!("name = \"{package}\"\n")))
            .unwrap_or_else(|| panic!("{package} is in the lockfile:\n{lock}"));
        assert!(
            !entry.contains("source ="),
            "{package} must not come from a registry: {entry}"
        );
    }
}

/// Inside a forge checkout the SDK is the checkout's, by a path relative to the crate, so
/// the checkout can move and a teammate's clone rebuilds the same bytes.
#[test]
fn new_inside_a_checkout_uses_its_sdk_by_relative_path() {
    let project = Project::empty()
        .file(
            "forge/plugin-sdk/Cargo.toml",
            "[package]\nname = \"forge-plugin-sdk\"\n",
        )
        .file("forge/plugin-sdk/wit/plugin.wit", "")
        .file("forge/contract/Cargo.toml", "");
    project
        .forge("plugin new hello --path forge/examples/plugins/hello")
        .env_remove("FORGE_PLUGIN_SDK")
        .run();
    let dir = project.root().join("forge/examples/plugins/hello");
    let toml = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        toml.contains(r#"forge-plugin-sdk = { path = "../../../plugin-sdk" }"#),
        "{toml}"
    );
    assert!(
        !dir.join("forge-sdk").exists(),
        "nothing vendored in a checkout"
    );
}

#[test]
fn build_says_what_is_missing_without_a_toolchain() {
    let project = Project::empty();
    project
        .forge("plugin new hello")
        .env("FORGE_PLUGIN_SDK", &sdk_dir())
        .run();
    project
        .forge("plugin build hello")
        .env("FORGE_WASM_RUSTC", NO_TOOLCHAIN)
        .code(1)
        .stderr(str![[r#"
forge::plugin::no_wasm_toolchain

  × no toolchain here can build wasm32-unknown-unknown:
  │   - FORGE_WASM_RUSTC: /nonexistent/forge-test/rustc not found
  help: either `rustup target add wasm32-unknown-unknown` (with rustup), or
        `apt-get install rustc-web cargo-web rust-web-src lld-22` (Debian: std
        is then built from source); FORGE_WASM_RUSTC, FORGE_WASM_CARGO and
        FORGE_WASM_LINKER point forge at tools installed elsewhere


"#]])
        .run();
}

#[test]
fn build_and_test_need_a_crate() {
    let project = Project::empty();
    for command in ["plugin build", "plugin test"] {
        let output = project.forge(command).arg("nowhere").code(2).run();
        assert!(
            output
                .stderr
                .contains("nowhere is not a Rust crate: it has no Cargo.toml"),
            "{command}: {}",
            output.stderr
        );
    }
}

/// `forge plugin test` is `cargo test` (natively, against MockHost): its output streams
/// through and a failing test gives cargo's exit status.
#[test]
fn plugin_test_passes_cargo_status_through() {
    let project = Project::empty();
    project
        .forge("plugin new hello")
        .env("FORGE_PLUGIN_SDK", &sdk_dir())
        .run();
    let lib = project.root().join("hello/src/lib.rs");
    let source = std::fs::read_to_string(&lib).expect("lib.rs");
    let broken = source.replace(
        r#"format!("hello, {}!", config.name)"#,
        r#"format!("bye, {}!", config.name)"#,
    );
    assert_ne!(source, broken, "the template changed: update this test");
    std::fs::write(&lib, broken).expect("break the plugin");
    let output = project
        .forge("-j1 plugin test hello")
        .env("CARGO_TARGET_DIR", &shared_target("plugin-broken"))
        .code(101)
        .run();
    assert!(
        output
            .stdout
            .contains("greets_and_writes_the_file ... FAILED"),
        "{}",
        output.stdout
    );
    assert!(
        output.stderr.contains("forge::plugin::tests_failed"),
        "{}",
        output.stderr
    );
}

/// `forge plugin new` → `test` → `build` → `inspect`, then a rebuild that must give the
/// same bytes. Needs a wasm toolchain (see the module docs).
#[test]
fn plugin_e2e_new_build_inspect_and_rebuild_identically() {
    if let Err(err) = forge_plugin_tools::toolchain::detect() {
        panic!(
            "this test builds a real plugin and needs a wasm toolchain; CI installs one.\n{:?}",
            miette::Report::new(err)
        );
    }
    let project = Project::empty();
    project
        .forge("plugin new hello")
        .env("FORGE_PLUGIN_SDK", &sdk_dir())
        .run();
    let target = shared_target("plugin-e2e");
    let target = target.as_str();

    project
        .forge("-j1 plugin test hello")
        .env("CARGO_TARGET_DIR", target)
        .run();

    let first = project
        .forge("-j1 plugin build hello --out hello.wasm --json")
        .env("CARGO_TARGET_DIR", target)
        .run();
    let built = &first.json_lines()[0];
    assert_eq!(built["type"], "plugin-build");
    let wasm = project.root().join("hello.wasm");
    let hash = forge_plugin_tools::hash_file(&wasm).expect("hash the component");
    assert_eq!(built["hash"], hash.as_str());
    // No project around it: the pin names where it goes in one, and says to copy it.
    assert_eq!(
        built["kdl"],
        format!("plugin \"hello\" path=\"plugins/hello.wasm\" hash=\"{hash}\"").as_str()
    );
    assert_eq!(built["copy_to"], "plugins/hello.wasm");
    assert_eq!(built["capabilities"], serde_json::json!([]));

    let inspected = project.forge("plugin inspect hello.wasm --json").run();
    let inspected = &inspected.json_lines()[0];
    assert_eq!(inspected["world"], "forge:plugin/step");
    assert_eq!(inspected["version"], V);
    assert_eq!(inspected["exports"], serde_json::json!(["describe", "run"]));
    assert_eq!(inspected["hash"], hash.as_str());

    // Forget cargo's fingerprint of the plugin so that it compiles and links it again.
    let fingerprints = Path::new(target).join("wasm32-unknown-unknown/release/.fingerprint");
    let mut forgotten = 0;
    for entry in std::fs::read_dir(&fingerprints).expect("cargo's fingerprints") {
        let entry = entry.expect("fingerprint entry");
        if entry.file_name().to_string_lossy().starts_with("hello-") {
            std::fs::remove_dir_all(entry.path()).expect("remove a fingerprint");
            forgotten += 1;
        }
    }
    assert!(
        forgotten > 0,
        "no fingerprint of hello in {}",
        fingerprints.display()
    );
    let second = project
        .forge("-j1 plugin build hello --out again.wasm --json")
        .env("CARGO_TARGET_DIR", target)
        .run();
    assert!(
        second.stderr.contains("Compiling hello"),
        "the second build must really rebuild: {}",
        second.stderr
    );
    assert_eq!(second.json_lines()[0]["hash"], hash.as_str());
    assert_eq!(
        std::fs::read(&wasm).expect("first"),
        std::fs::read(project.root().join("again.wasm")).expect("second"),
        "two builds of the same plugin differ"
    );

    // A teammate's checkout: the crate (as committed: no target/) in another directory,
    // inside a forge project. Without --out the component goes to the project's plugins/, and
    // the pin line is usable as printed: same bytes, same hash.
    let teammate = Project::with_kdl("version 1\nproject \"team\" { region \"us-east-1\"; }\n");
    // The crate sits at the same depth as before: the scaffold points at this checkout's
    // SDK by a relative path when the two share a parent directory.
    copy_tree(
        &project.root().join("hello"),
        &teammate.root().join("hello"),
    );
    // Its own target dir, as on another machine: nothing of the first builds is reused.
    let elsewhere = shared_target("plugin-e2e-teammate");
    let _ = std::fs::remove_dir_all(&elsewhere);
    let third = teammate
        .forge("-j1 plugin build hello --json")
        .env("CARGO_TARGET_DIR", &elsewhere)
        .run();
    assert!(
        third.stderr.contains("Compiling hello"),
        "the teammate's build must compile the plugin: {}",
        third.stderr
    );
    let third = &third.json_lines()[0];
    assert_eq!(
        third["hash"],
        hash.as_str(),
        "another directory, another hash"
    );
    assert_eq!(
        third["kdl"],
        format!("plugin \"hello\" path=\"plugins/hello.wasm\" hash=\"{hash}\"").as_str()
    );
    assert!(third.get("copy_to").is_none(), "{third}");
    assert_eq!(
        forge_plugin_tools::hash_file(&teammate.root().join("plugins/hello.wasm"))
            .expect("written to the project's plugins/"),
        hash
    );
    // ...and pinned so, the project accepts it.
    teammate.write(
        "project.kdl",
        &format!(
            "version 1\nproject \"team\" {{ region \"us-east-1\"; }}\n{}\nstep \"hi\" {{\n    plugin \"hello\"\n    phase \"build\"\n    config {{ name \"team\"; }}\n}}\n",
            third["kdl"].as_str().expect("kdl")
        ),
    );
    teammate.forge("graph").run();
}

/// A target dir kept across runs of one test that compiles a plugin: std (with
/// -Zbuild-std) and the dependencies are built once, the plugin itself every time. One per
/// test: every scaffold is a crate `hello` in its own workspace, so two of them in one
/// target dir would overwrite each other's binaries while both tests run.
fn shared_target(test: &str) -> String {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    target.to_str().expect("utf-8 target dir").to_owned()
}

fn sdk_dir() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk");
    let dir = std::fs::canonicalize(&dir).expect("the repo's plugin-sdk");
    dir.to_str().expect("utf-8 path").to_owned()
}
