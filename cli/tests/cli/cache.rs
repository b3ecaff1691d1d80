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
    let cas = store.join("v1/cas");
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
