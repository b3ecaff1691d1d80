//! A plugin cannot forge output files: its manifest is its own to write, but the files a
//! downstream step may read are only those the upstream step wrote through
//! `outputs.write` in its run, as the engine recorded them. Once, a manifest that listed
//! `"$outputs": {"stolen": <hash>}` was accepted, and a downstream step then read any blob
//! of the (shared) store whose hash it knew.

use crate::harness::{Project, fixture_plugin};

const SECRET: &str = "another step's secret\n";

#[test]
fn a_manifest_cannot_list_files_its_step_never_wrote() {
    let project = Project::with_kdl("version 1\n");
    let pin = project.pin_plugin("forger", &fixture_plugin("forged-outputs"), &["files.read"]);
    // The victim's output is a blob in the store; the attacker knows its hash.
    let hash = forge_engine::executor::OutputFile::of(SECRET.as_bytes()).hash;
    project.write("secret.txt", SECRET);
    project.write(
        "project.kdl",
        &format!(
            r#"version 1
project "forged" {{ region "us-east-1"; }}
{pin}
step "victim" {{
    plugin "command"
    phase "build"
    config {{
        run "cp" "secret.txt" "copy.txt"
        outputs {{ secret "copy.txt"; }}
    }}
    input "secret.txt"
}}
step "forge" {{
    plugin "forger"
    phase "build"
    config {{
        mode "forge"
        hash "{hash}"
    }}
}}
step "steal" {{
    plugin "forger"
    phase "build"
    needs "forge"
    config {{
        mode "read"
        step "forge"
        name "stolen"
    }}
}}
"#
        ),
    );
    let lines = project
        .forge("--json build")
        .without_test_executor()
        .run()
        .json_lines();
    let text = serde_json::to_string(&lines).expect("json");
    assert!(
        !text.contains("another step's secret"),
        "the forged output was served: {text}"
    );
    let finished: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "step-finished")
        .map(|l| {
            (
                l["step"].as_str().unwrap_or(""),
                l["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(finished.contains(&("steal", "ran")), "{finished:?}");

    // What the reading step got: the host's refusal, naming what the upstream step wrote.
    let store = forge_engine::store::Store::open(project.cache_dir()).expect("store");
    let manifests: Vec<serde_json::Value> = std::fs::read_dir(
        project
            .cache_dir()
            .join(forge_engine::store::LAYOUT_DIR)
            .join("ac"),
    )
    .expect("ac")
    .flatten()
    .flat_map(|shard| {
        std::fs::read_dir(shard.path())
            .into_iter()
            .flatten()
            .flatten()
    })
    .filter_map(
        |entry| match store.lookup(&entry.file_name().to_string_lossy()) {
            forge_engine::store::Lookup::Hit(hit) => Some(hit.result.manifest),
            _ => None,
        },
    )
    .collect();
    let denial = manifests
        .iter()
        .find(|m| m.get("denied").is_some())
        .unwrap_or_else(|| panic!("no step recorded a denial: {manifests:?}"));
    assert!(
        denial["denied"]
            .as_str()
            .is_some_and(|m| m.contains("NotDeclared")
                && m.contains("step `forge` wrote no output file `stolen`")),
        "{denial}"
    );
    // The forger's manifest is kept as the plain data it is.
    assert!(
        manifests
            .iter()
            .any(|m| m["$outputs"]["stolen"] == hash.as_str())
    );
}
