//! `forge cache stats | verify | gc` against the store the other commands filled.

use crate::harness::Project;

#[test]
fn stats_of_an_empty_and_a_used_store() {
    let project = Project::new();
    let empty = project.forge("cache stats").run();
    assert!(empty.stdout.contains("entries: 0"), "{}", empty.stdout);
    project.forge("build -q").run();
    let used = project.forge("cache stats").run();
    assert!(
        used.stdout.contains("store:   [ROOT]") || used.stdout.contains("store:"),
        "{}",
        used.stdout
    );
    assert!(used.stdout.contains("entries: 3"), "{}", used.stdout);
    let json = project.forge("cache stats --json").run().json_lines();
    assert_eq!(json[0]["type"], "cache-stats");
    assert_eq!(json[0]["entries"], 3);
}

#[test]
fn verify_a_healthy_store() {
    let project = Project::new();
    project.forge("build -q").run();
    let out = project.forge("cache verify").run();
    assert!(out.stdout.contains("store is consistent"), "{}", out.stdout);
}

#[test]
fn verify_finds_corruption_and_repair_removes_it() {
    let project = Project::new();
    project.forge("build -q").run();
    let corrupted = corrupt_one_blob(project.cache_dir());
    let out = project.forge("cache verify").code(1).run();
    assert!(out.stdout.contains("corrupt"), "{}", out.stdout);
    // Each corrupt item names its path once, then says what is wrong with it.
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("corrupt blob "))
        .unwrap_or_else(|| panic!("no corrupt blob line in {}", out.stdout));
    let name = corrupted
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name");
    assert_eq!(
        line.matches(name).count(),
        2,
        "path and expected hash: {line}"
    );
    assert!(line.contains("content hashes to"), "{line}");
    assert!(
        out.stderr.contains("forge cache verify --repair"),
        "{}",
        out.stderr
    );
    project.forge("cache verify --repair").run();
    assert!(!corrupted.exists(), "repair removed the corrupt blob");
    project.forge("cache verify").run();
}

#[test]
fn gc_keeps_what_recorded_runs_need() {
    let project = Project::new();
    project.forge("build -q").run();
    project.write("src/main.rs", "fn main() { /* 2 */ }\n");
    project.forge("build -q").run();
    let out = project.forge("cache gc --keep-runs 1").run();
    assert!(out.stdout.contains("kept 1 run"), "{}", out.stdout);
    // What the last run produced is still there: nothing to do.
    let out = project.forge("build").run();
    assert!(
        out.stdout.contains("nothing to do: 3 steps cached"),
        "{}",
        out.stdout
    );
}

/// Overwrites one blob of the store (`v1/cas/<shard>/<hash>`); returns its path.
fn corrupt_one_blob(store: &std::path::Path) -> std::path::PathBuf {
    let cas = store.join("v2/cas");
    let mut shards: Vec<_> = std::fs::read_dir(&cas)
        .unwrap_or_else(|e| panic!("{}: {e}", cas.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    shards.sort();
    let blob = shards
        .iter()
        .flat_map(|shard| std::fs::read_dir(shard).expect("shard dir"))
        .map(|e| e.expect("dir entry").path())
        .find(|p| p.is_file())
        .expect("a blob in the store");
    std::fs::write(&blob, b"not what was stored").expect("overwrite blob");
    blob
}

/// A project whose one `command` step writes an output file, and the blob that holds it.
fn command_project() -> Project {
    let project = Project::with_kdl(
        r#"version 1
project "outs" { region "us-east-1"; }
step "make" {
    plugin "command"
    phase "build"
    config {
        run "sh" "-c" "mkdir -p out && cp in.txt out/made.txt"
        outputs { made "out/made.txt"; }
    }
    input "in.txt"
}
"#,
    );
    project.write("in.txt", "made by the step\n");
    project
}

fn blob_of(project: &Project, bytes: &[u8]) -> std::path::PathBuf {
    let hash = forge_engine::executor::OutputFile::of(bytes).hash;
    project
        .cache_dir()
        .join(forge_engine::store::LAYOUT_DIR)
        .join("cas")
        .join(&hash[..2])
        .join(&hash)
}

#[test]
fn a_deleted_output_blob_is_found_by_verify_and_restored_by_the_next_build() {
    let project = command_project();
    let build = || project.forge("--json build").without_test_executor().run();
    assert_eq!(
        build()
            .json_lines()
            .iter()
            .filter(|l| l["status"] == "ran")
            .count(),
        1
    );
    let blob = blob_of(&project, b"made by the step\n");
    assert!(blob.exists(), "the output file is a blob in the store");
    std::fs::remove_file(&blob).expect("delete the blob");

    let out = project.forge("cache verify").code(1).run();
    assert!(
        out.stdout
            .contains("names missing or corrupt output file `made`"),
        "{}",
        out.stdout
    );
    // Not served from the store: the step runs again and puts the file back.
    let again = build();
    let warning = again.stdout.clone() + &again.stderr;
    assert!(warning.contains("running it again"), "{warning}");
    assert_eq!(
        again
            .json_lines()
            .iter()
            .filter(|l| l["status"] == "ran")
            .count(),
        1
    );
    assert!(blob.exists(), "restored");
    project.forge("cache verify").run();
}

#[test]
fn verify_checks_compiled_plugins_and_repair_removes_a_damaged_one() {
    let project = Project::with_kdl(crate::builtins::RENDER_KDL);
    let run = project.forge("build").without_test_executor().run();
    let wasm = project
        .cache_dir()
        .join(forge_engine::store::LAYOUT_DIR)
        .join("wasm");
    let compiled: Vec<_> = std::fs::read_dir(&wasm)
        .unwrap_or_else(|e| panic!("no compiled plugins after {}: {e}", run.stderr))
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(compiled.len(), 1, "{compiled:?}");
    let ok = project.forge("cache verify").run();
    assert!(ok.stdout.contains("1 compiled plugin"), "{}", ok.stdout);

    let mut bytes = std::fs::read(&compiled[0]).expect("read");
    bytes[100] ^= 0xff;
    std::fs::write(&compiled[0], bytes).expect("corrupt");
    let bad = project.forge("cache verify").code(1).run();
    assert!(
        bad.stdout.contains("corrupt compiled plugin"),
        "{}",
        bad.stdout
    );
    assert!(bad.stdout.contains("checksum"), "{}", bad.stdout);
    project.forge("cache verify --repair").run();
    assert!(!compiled[0].exists());
    project.forge("cache verify").run();
}

/// A store an older forge wrote (layout `v1`) is not read: the first run says why every
/// step runs, later runs do not repeat it, and `cache stats` and `gc` name the old data.
#[test]
fn an_older_store_layout_is_named_not_read() {
    let project = Project::new();
    let old = project.cache_dir().join("v1").join("ac");
    std::fs::create_dir_all(&old).expect("an older layout");
    std::fs::write(old.join("entry"), "from an older forge").expect("write");
    let first = project.forge("build").run();
    let said = first.stdout.clone() + &first.stderr;
    assert!(said.contains("holds results of an older forge"), "{said}");
    let second = project.forge("build").run();
    assert!(
        !(second.stdout.clone() + &second.stderr).contains("older forge"),
        "said once: {}",
        second.stderr
    );
    let stats = project.forge("cache stats").run();
    assert!(
        stats.stdout.contains("older forge's store layout"),
        "{}",
        stats.stdout
    );
    let gc = project.forge("cache gc").run();
    assert!(
        gc.stdout.contains("older forge's store layout"),
        "{}",
        gc.stdout
    );
    assert!(
        old.join("entry").exists(),
        "gc leaves another version's data alone"
    );
}
