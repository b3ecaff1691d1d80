//! The content-addressed store: action cache, blobs, history, verify and gc.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use forge_engine::events::StepStatus;
use forge_engine::executor::StepOutput;
use forge_engine::fingerprint::Fingerprint;
use forge_engine::store::{
    GcOptions, ItemKind, Lookup, RunOutcome, RunRecord, StepRecord, Store, StoreError,
    canonical_json, new_run_id, project_key,
};
use serde_json::json;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("cache")).expect("open store");
    (dir, store)
}

fn fp(n: u32) -> Fingerprint {
    let mut fp = Fingerprint::new("builtin:docker-build@test");
    fp.config.insert("n".into(), n.to_string());
    fp
}

fn output(v: serde_json::Value) -> StepOutput {
    StepOutput::new(v)
}

fn hit(store: &Store, key: &str) -> forge_engine::store::ActionEntry {
    match store.lookup(key) {
        Lookup::Hit(e) => e,
        other => panic!("expected a hit for {key}, got {other:?}"),
    }
}

fn flip_byte(path: &Path, at: usize) {
    let mut bytes = fs::read(path).expect("read");
    bytes[at] ^= 0x01;
    fs::write(path, bytes).expect("write");
}

fn blob_path(store: &Store, hash: &str) -> PathBuf {
    store.dir().join("v2/cas").join(&hash[..2]).join(hash)
}

fn entry_path(store: &Store, key: &str) -> PathBuf {
    store.dir().join("v2/ac").join(&key[..2]).join(key)
}

#[test]
fn record_then_lookup_hits_with_the_manifest() {
    let (_t, store) = store();
    let f = fp(1);
    assert!(matches!(store.lookup(&f.hash()), Lookup::Miss));
    let manifest = json!({"digest": "sha256:abc", "tags": ["x"], "a": 1});
    let recorded = store.record(&f, &output(manifest.clone())).expect("record");
    assert_eq!(recorded.key, f.hash());
    assert_eq!(recorded.output, output(manifest.clone()).hash());
    let got = hit(&store, &f.hash());
    assert_eq!(got, recorded);
    assert_eq!(got.result.manifest, manifest);
    assert_eq!(
        store.fingerprint(&got.fingerprint).expect("read"),
        Some(f.clone())
    );
    assert_eq!(store.fingerprint_by_key(&f.hash()).expect("read"), Some(f));
    let manifest_blob = blake3::hash(canonical_json(&manifest).as_bytes())
        .to_hex()
        .to_string();
    assert_eq!(
        store.manifest(&manifest_blob).expect("read"),
        Some(manifest)
    );
}

#[test]
fn equal_outputs_share_one_output_hash() {
    // Early cutoff rests on this: two different runs producing the same manifest (in any key
    // order) give downstream steps the same upstream hash.
    let (_t, store) = store();
    let a = store
        .record(&fp(1), &output(json!({"b": 2, "a": 1})))
        .expect("record");
    let b = store
        .record(&fp(2), &output(json!({"a": 1, "b": 2})))
        .expect("record");
    assert_ne!(a.key, b.key);
    assert_eq!(a.output, b.output);
}

#[test]
fn blobs_round_trip_and_reject_bad_hashes() {
    let (_t, store) = store();
    let h = store.put_blob(b"hello").expect("put");
    assert_eq!(h, blake3::hash(b"hello").to_hex().to_string());
    assert_eq!(store.get_blob(&h).expect("get"), Some(b"hello".to_vec()));
    let absent = blake3::hash(b"absent").to_hex().to_string();
    assert_eq!(store.get_blob(&absent).expect("get"), None);
    for bad in ["../../etc/passwd", "ABC", &h.to_uppercase(), ""] {
        assert!(matches!(
            store.get_blob(bad),
            Err(StoreError::InvalidHash { .. })
        ));
        assert!(matches!(store.lookup(bad), Lookup::Corrupt(_)));
    }
}

#[test]
fn corrupt_blob_is_detected_never_served_and_replaced_on_rewrite() {
    let (_t, store) = store();
    let f = fp(1);
    let entry = store
        .record(&f, &output(json!({"ok": true})))
        .expect("record");
    let path = blob_path(&store, &entry.manifest_blob);
    flip_byte(&path, 3);
    match store.get_blob(&entry.manifest_blob) {
        Err(StoreError::Corrupt {
            path: p, expected, ..
        }) => {
            assert_eq!(p, path);
            assert_eq!(expected, entry.manifest_blob);
        }
        other => panic!("corrupt blob served: {other:?}"),
    }
    assert!(matches!(store.lookup(&f.hash()), Lookup::Corrupt(_)));
    // The step reruns and records again: the damaged blob is replaced.
    store
        .record(&f, &output(json!({"ok": true})))
        .expect("record");
    assert_eq!(hit(&store, &f.hash()).result.manifest, json!({"ok": true}));
}

#[test]
fn corrupt_action_entries_are_detected() {
    let (_t, store) = store();
    let f = fp(1);
    let other = store.record(&fp(2), &output(json!(2))).expect("record");
    store.record(&f, &output(json!(1))).expect("record");
    let path = entry_path(&store, &f.hash());
    let good = fs::read_to_string(&path).expect("read");

    // Pointing the entry at another (valid) manifest breaks its checksum.
    let v: serde_json::Value = serde_json::from_str(&good).expect("json");
    let old_output = v["manifest"].as_str().expect("manifest").to_owned();
    fs::write(&path, good.replace(&old_output, &other.manifest_blob)).expect("write");
    assert!(matches!(
        store.lookup(&f.hash()),
        Lookup::Corrupt(StoreError::Corrupt { .. })
    ));

    // Truncated.
    fs::write(&path, &good[..good.len() / 2]).expect("write");
    assert!(matches!(
        store.lookup(&f.hash()),
        Lookup::Corrupt(StoreError::Decode { .. })
    ));

    // A valid entry copied under another key.
    fs::write(&path, &good).expect("write");
    let other_path = entry_path(&store, &other.key);
    fs::write(&other_path, &good).expect("write");
    assert!(matches!(store.lookup(&other.key), Lookup::Corrupt(_)));
    assert_eq!(hit(&store, &f.hash()).result.manifest, json!(1));
}

#[test]
fn verify_finds_every_corrupt_item_and_repair_deletes_them() {
    let (_t, store) = store();
    let a = store.record(&fp(1), &output(json!("a"))).expect("record");
    let b = store.record(&fp(2), &output(json!("b"))).expect("record");
    let c = store.record(&fp(3), &output(json!("c"))).expect("record");
    let clean = store.verify(false).expect("verify");
    assert!(clean.is_ok(), "{clean:?}");
    assert_eq!((clean.entries, clean.blobs), (3, 6));

    flip_byte(&blob_path(&store, &a.manifest_blob), 1);
    flip_byte(&entry_path(&store, &b.key), 20);
    let report = store.verify(false).expect("verify");
    let mut found: Vec<(ItemKind, PathBuf)> = report
        .corrupt
        .iter()
        .map(|c| (c.kind, c.path.clone()))
        .collect();
    found.sort_by(|x, y| x.1.cmp(&y.1));
    let mut expected = vec![
        (ItemKind::Blob, blob_path(&store, &a.manifest_blob)),
        // a's entry names the damaged blob, so it is reported too
        (ItemKind::ActionEntry, entry_path(&store, &a.key)),
        (ItemKind::ActionEntry, entry_path(&store, &b.key)),
    ];
    expected.sort_by(|x, y| x.1.cmp(&y.1));
    assert_eq!(found, expected);
    assert_eq!(report.repaired, 0);
    assert!(
        blob_path(&store, &a.manifest_blob).exists(),
        "verify without repair deleted"
    );

    let repaired = store.verify(true).expect("verify");
    assert_eq!(repaired.repaired, 3);
    assert!(store.verify(false).expect("verify").is_ok());
    assert!(matches!(store.lookup(&a.key), Lookup::Miss));
    assert!(matches!(store.lookup(&b.key), Lookup::Miss));
    assert_eq!(hit(&store, &c.key).result.manifest, json!("c"));
}

fn run(
    store: &Store,
    project: &str,
    env: &str,
    steps: &[(&str, Option<&str>, Option<&str>)],
) -> RunRecord {
    let steps: BTreeMap<String, StepRecord> = steps
        .iter()
        .map(|(id, fp, out)| {
            (
                (*id).to_owned(),
                StepRecord {
                    status: if fp.is_some() {
                        StepStatus::Ran
                    } else {
                        StepStatus::Skipped
                    },
                    fingerprint: fp.map(str::to_owned),
                    output: out.map(str::to_owned),
                    duration_ms: 5,
                    origin: None,
                },
            )
        })
        .collect();
    let record = RunRecord {
        id: new_run_id(),
        project: project.to_owned(),
        env: env.to_owned(),
        phase: forge_engine::model::Phase::Build,
        command: "forge build".into(),
        started: 1,
        finished: 2,
        outcome: RunOutcome::Succeeded,
        steps,
        commit: None,
        user: None,
        rollback_of: None,
    };
    store.record_run(&record).expect("record run");
    record
}

#[test]
fn history_is_newest_first_and_last_step_skips_runs_without_a_fingerprint() {
    let (_t, store) = store();
    let r1 = run(
        &store,
        "p",
        "dev",
        &[("a", Some("fa1"), Some("oa1")), ("b", Some("fb1"), None)],
    );
    let r2 = run(
        &store,
        "p",
        "dev",
        &[("a", Some("fa2"), Some("oa2")), ("b", None, None)],
    );
    run(&store, "p", "prod", &[("a", Some("fa-prod"), None)]);
    let runs = store.runs("p", "dev").expect("runs");
    assert_eq!(runs, vec![r2.clone(), r1]);
    let a = store.last_step("p", "dev", "a").expect("history");
    assert_eq!(a.and_then(|s| s.fingerprint).as_deref(), Some("fa2"));
    let b = store.last_step("p", "dev", "b").expect("history");
    assert_eq!(b.and_then(|s| s.fingerprint).as_deref(), Some("fb1"));
    assert_eq!(store.last_step("p", "dev", "zzz").expect("history"), None);
    let all = store.last_steps("p", "dev", ["a", "b"]).expect("history");
    assert_eq!(all.len(), 2);
    assert_eq!(all["a"].0, r2.id, "a's last record is in the newer run");
    assert_eq!(store.runs("p", "staging").expect("runs"), vec![]);
    let stats = store.stats().expect("stats");
    assert_eq!(stats.runs.get("p/dev"), Some(&2));
    assert_eq!(stats.runs.get("p/prod"), Some(&1));
}

#[test]
fn run_ids_sort_by_time_and_are_unique() {
    let ids: Vec<String> = (0..1000).map(|_| new_run_id()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted, ids,
        "ids made one after another must sort in that order"
    );
    // Ids of later milliseconds sort later: the prefix is the fixed-width time.
    assert!(ids.iter().all(|id| id.len() == ids[0].len()));
}

#[test]
fn project_keys_are_path_safe_and_distinguish_checkouts() {
    let a = project_key("my app/../x", Path::new("/tmp/one"));
    let b = project_key("my app/../x", Path::new("/tmp/two"));
    assert_ne!(a, b);
    assert!(!a.contains('/') && !a.starts_with('.'), "{a}");
    assert!(a.starts_with("my_app_.._x-"));
}

#[test]
fn gc_keeps_what_the_newest_runs_of_each_env_need() {
    let (_t, store) = store();
    let mut keys = Vec::new();
    for n in 0..4 {
        let e = store.record(&fp(n), &output(json!(n))).expect("record");
        keys.push(e);
    }
    let unreferenced = store.record(&fp(99), &output(json!(99))).expect("record");
    let step = |e: &forge_engine::store::ActionEntry| (e.key.clone(), e.output.clone());
    let (k0, o0) = step(&keys[0]);
    let (k1, o1) = step(&keys[1]);
    let (k2, o2) = step(&keys[2]);
    let (k3, o3) = step(&keys[3]);
    run(&store, "p", "dev", &[("s", Some(&k0), Some(&o0))]);
    run(&store, "p", "dev", &[("s", Some(&k1), Some(&o1))]);
    run(&store, "p", "dev", &[("s", Some(&k2), Some(&o2))]);
    run(&store, "p", "prod", &[("s", Some(&k3), Some(&o3))]);

    let report = store.gc(&GcOptions::keep_runs(2)).expect("gc");
    assert_eq!(report.runs_kept, 3);
    assert_eq!(report.runs_deleted, 1);
    // fp(0) and the unreferenced entry go, with their fingerprint blobs; outputs differ
    // (0 and 99), so both manifests go too.
    assert_eq!(report.entries_deleted, 2);
    assert_eq!(report.blobs_deleted, 4);
    assert!(report.bytes_freed > 0);
    for kept in &keys[1..] {
        assert_eq!(hit(&store, &kept.key), *kept);
        assert!(
            store
                .fingerprint(&kept.fingerprint)
                .expect("read")
                .is_some()
        );
    }
    assert!(matches!(store.lookup(&keys[0].key), Lookup::Miss));
    assert!(matches!(store.lookup(&unreferenced.key), Lookup::Miss));
    assert!(store.verify(false).expect("verify").is_ok());
    assert_eq!(store.runs("p", "dev").expect("runs").len(), 2);
    // Nothing more to collect.
    let again = store.gc(&GcOptions::keep_runs(2)).expect("gc");
    assert_eq!(
        (
            again.entries_deleted,
            again.blobs_deleted,
            again.runs_deleted
        ),
        (0, 0, 0)
    );
}

#[test]
fn crashed_temp_files_are_ignored_and_old_ones_collected() {
    let (_t, store) = store();
    let f = fp(1);
    store.record(&f, &output(json!(1))).expect("record");
    let tmp = store.dir().join("v2/tmp");
    // What a crash between write and rename leaves: a truncated temp file.
    let old = tmp.join("123-0-deadbeef.tmp");
    fs::write(&old, b"{\"v\":1,\"key\":\"trunc").expect("write");
    let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
    fs::File::options()
        .write(true)
        .open(&old)
        .expect("open")
        .set_modified(two_hours_ago)
        .expect("set mtime");
    let fresh = tmp.join("456-0-cafebabe.tmp");
    fs::write(&fresh, b"partial").expect("write");

    assert_eq!(hit(&store, &f.hash()).result.manifest, json!(1));
    let stats = store.stats().expect("stats");
    assert_eq!((stats.entries, stats.blobs), (1, 2));
    assert!(store.verify(false).expect("verify").is_ok());

    run(&store, "p", "dev", &[("s", Some(&f.hash()), None)]);
    let report = store.gc(&GcOptions::keep_runs(5)).expect("gc");
    assert_eq!(report.temp_deleted, 1);
    assert!(!old.exists());
    assert!(
        fresh.exists(),
        "a temp file that may belong to a live write was deleted"
    );
    assert_eq!(hit(&store, &f.hash()).result.manifest, json!(1));
}

#[test]
fn gc_waits_for_no_one_and_refuses_while_a_run_holds_the_store() {
    let (_t, store) = store();
    let other_handle = Store::open(store.dir()).expect("open");
    let guard = store.lock_shared().expect("lock");
    let second = other_handle.lock_shared().expect("shared locks coexist");
    match other_handle.gc(&GcOptions::keep_runs(1)) {
        Err(StoreError::Busy { path }) => assert_eq!(path, store.dir(), "names the store"),
        other => panic!("gc ran while a run held the store: {other:?}"),
    }
    drop(guard);
    drop(second);
    other_handle
        .gc(&GcOptions::keep_runs(1))
        .expect("gc after the runs finished");
}

#[test]
fn default_dir_honours_forge_cache_dir_then_xdg() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    };
    assert_eq!(
        Store::default_dir_with_env(env(&[
            ("FORGE_CACHE_DIR", "/ci/cache"),
            ("XDG_CACHE_HOME", "/xdg")
        ])),
        PathBuf::from("/ci/cache")
    );
    assert_eq!(
        Store::default_dir_with_env(env(&[("FORGE_CACHE_DIR", ""), ("XDG_CACHE_HOME", "/xdg")])),
        PathBuf::from("/xdg/forge")
    );
    let fallback = Store::default_dir_with_env(env(&[("XDG_CACHE_HOME", "relative/dir")]));
    assert!(fallback.ends_with("forge"));
    assert!(fallback.is_absolute(), "{fallback:?}");
    assert!(!fallback.starts_with("relative"));
}

#[test]
fn open_creates_the_versioned_layout() {
    let (_t, store) = store();
    for sub in ["ac", "cas", "history", "stat", "tmp"] {
        assert!(
            store
                .dir()
                .join(forge_engine::store::LAYOUT_DIR)
                .join(sub)
                .is_dir(),
            "{sub}"
        );
    }
    let tag = fs::read_to_string(store.dir().join("CACHEDIR.TAG")).expect("tag");
    assert!(tag.starts_with("Signature: 8a477f597d28d172789f06886806bc55"));
    Store::open(store.dir()).expect("reopening is fine");
}

/// An output with one file whose blob is stored, as an executor leaves it.
fn output_with_file(
    store: &Store,
    manifest: serde_json::Value,
    name: &str,
    bytes: &[u8],
) -> StepOutput {
    store.put_blob(bytes).expect("put blob");
    let mut out = output(manifest);
    out.files.insert(
        name.to_owned(),
        forge_engine::executor::OutputFile::of(bytes),
    );
    out
}

fn record_run(
    store: &Store,
    env: &str,
    phase: forge_engine::model::Phase,
    outcome: RunOutcome,
    started: u64,
    entries: &[&forge_engine::store::ActionEntry],
) {
    let steps = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                format!("s{i}"),
                StepRecord {
                    status: StepStatus::Ran,
                    fingerprint: Some(e.key.clone()),
                    output: Some(e.output.clone()),
                    duration_ms: 1,
                    origin: None,
                },
            )
        })
        .collect();
    store
        .record_run(&RunRecord {
            id: new_run_id(),
            project: "p".into(),
            env: env.into(),
            phase,
            command: "forge".into(),
            started,
            finished: started + 1,
            outcome,
            steps,
            commit: None,
            user: None,
            rollback_of: None,
        })
        .expect("record run");
}

#[test]
fn output_files_are_part_of_the_entry_and_a_missing_one_is_a_miss() {
    let (_t, store) = store();
    let out = output_with_file(&store, json!({"image": "x"}), "dist/app", b"binary bytes");
    let entry = store.record(&fp(1), &out).expect("record");
    assert_eq!(entry.output, out.hash());
    let got = hit(&store, &entry.key);
    assert_eq!(
        got.result.files, out.files,
        "the files come back with the hit"
    );

    // The output hash covers the files: another file under the same manifest differs.
    let other = output_with_file(&store, json!({"image": "x"}), "dist/app", b"other bytes");
    assert_ne!(other.hash(), out.hash());

    // A blob gone from under a kept entry: the lookup is a miss (the step reruns and puts
    // it back), never a hit that fails downstream; verify names the file.
    let file_blob = blob_path(&store, &out.files["dist/app"].hash);
    fs::remove_file(&file_blob).expect("remove blob");
    assert!(matches!(
        store.lookup(&entry.key),
        Lookup::Corrupt(StoreError::Corrupt { .. })
    ));
    let report = store.verify(false).expect("verify");
    assert_eq!(report.corrupt.len(), 1, "{report:?}");
    assert!(
        report.corrupt[0].reason.contains("output file `dist/app`"),
        "{report:?}"
    );
    // A truncated blob is caught by its size without hashing it.
    fs::write(&file_blob, b"binary").expect("truncate");
    assert!(matches!(store.lookup(&entry.key), Lookup::Corrupt(_)));
    // Rerunning restores it.
    fs::remove_file(&file_blob).expect("remove");
    let again = output_with_file(&store, json!({"image": "x"}), "dist/app", b"binary bytes");
    store.record(&fp(1), &again).expect("record");
    assert_eq!(hit(&store, &entry.key).result.files, out.files);
}

#[test]
fn an_entry_naming_a_blob_that_is_not_stored_is_refused() {
    let (_t, store) = store();
    let mut out = output(json!({}));
    out.files.insert(
        "ghost".into(),
        forge_engine::executor::OutputFile::of(b"never stored"),
    );
    assert!(matches!(
        store.record(&fp(1), &out),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(matches!(store.lookup(&fp(1).hash()), Lookup::Miss));
}

#[test]
fn gc_keeps_the_output_files_of_what_it_keeps() {
    let (_t, store) = store();
    let out = output_with_file(&store, json!({}), "backend", b"the binary");
    let kept = store.record(&fp(1), &out).expect("record");
    let dropped_out = output_with_file(&store, json!({}), "backend", b"an old binary");
    let dropped = store.record(&fp(2), &dropped_out).expect("record");
    record_run(
        &store,
        "dev",
        forge_engine::model::Phase::Build,
        RunOutcome::Succeeded,
        1,
        &[&dropped],
    );
    record_run(
        &store,
        "dev",
        forge_engine::model::Phase::Build,
        RunOutcome::Succeeded,
        2,
        &[&kept],
    );
    let report = store.gc(&GcOptions::keep_runs(1)).expect("gc");
    assert_eq!(report.entries_deleted, 1);
    assert_eq!(hit(&store, &kept.key).result.files, out.files);
    assert!(blob_path(&store, &out.files["backend"].hash).exists());
    assert!(!blob_path(&store, &dropped_out.files["backend"].hash).exists());
    assert!(store.verify(false).expect("verify").is_ok());
}

#[test]
fn gc_never_collects_what_is_deployed() {
    use forge_engine::model::Phase;
    let (_t, store) = store();
    let deployed = store
        .record(&fp(1), &output(json!("deployed")))
        .expect("record");
    let failed = store
        .record(&fp(2), &output(json!("failed")))
        .expect("record");
    let built = store
        .record(&fp(3), &output(json!("built")))
        .expect("record");
    // prod: a successful deploy, then a failed one and three builds.
    record_run(
        &store,
        "prod",
        Phase::Deploy,
        RunOutcome::Succeeded,
        1,
        &[&deployed],
    );
    record_run(
        &store,
        "prod",
        Phase::Deploy,
        RunOutcome::Failed,
        2,
        &[&failed],
    );
    for t in 3..6 {
        record_run(
            &store,
            "prod",
            Phase::Build,
            RunOutcome::Succeeded,
            t,
            &[&built],
        );
    }
    let report = store.gc(&GcOptions::keep_runs(1)).expect("gc");
    assert_eq!(report.runs_kept, 2, "the newest run and the deployed one");
    assert_eq!(report.deployed_kept, 1);
    assert_eq!(report.runs_deleted, 3);
    assert_eq!(
        hit(&store, &deployed.key).result.manifest,
        json!("deployed")
    );
    assert!(matches!(store.lookup(&failed.key), Lookup::Miss));
    let runs = store.runs("p", "prod").expect("runs");
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter()
            .any(|r| r.phase == Phase::Deploy && r.outcome == RunOutcome::Succeeded)
    );
}

#[test]
fn gc_dry_run_lists_what_would_go_and_deletes_nothing() {
    let (_t, store) = store();
    let old = store.record(&fp(1), &output(json!(1))).expect("record");
    let new = store.record(&fp(2), &output(json!(2))).expect("record");
    record_run(
        &store,
        "dev",
        forge_engine::model::Phase::Build,
        RunOutcome::Succeeded,
        1,
        &[&old],
    );
    record_run(
        &store,
        "dev",
        forge_engine::model::Phase::Build,
        RunOutcome::Succeeded,
        2,
        &[&new],
    );
    let before = store.stats().expect("stats");
    let dry = store
        .gc(&GcOptions {
            keep_runs: 1,
            max_size: None,
            dry_run: true,
        })
        .expect("gc");
    assert!(dry.dry_run);
    assert_eq!(store.stats().expect("stats"), before, "nothing deleted");
    let entries: Vec<&str> = dry
        .removed
        .iter()
        .filter(|i| i.kind == forge_engine::store::GcItemKind::Entry)
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(entries, [old.key.as_str()]);
    let real = store.gc(&GcOptions::keep_runs(1)).expect("gc");
    assert_eq!(
        (
            real.runs_deleted,
            real.entries_deleted,
            real.blobs_deleted,
            real.bytes_freed
        ),
        (
            dry.runs_deleted,
            dry.entries_deleted,
            dry.blobs_deleted,
            dry.bytes_freed
        ),
        "the dry run said exactly what gc then did"
    );
}

#[test]
fn gc_max_size_evicts_least_recently_used_unrooted_entries_first() {
    let (_t, store) = store();
    let big = |n: u8| vec![n; 4096];
    let mut entries = Vec::new();
    for n in 0..4u8 {
        let out = output_with_file(&store, json!(n), "blob", &big(n));
        entries.push(store.record(&fp(n.into()), &out).expect("record"));
    }
    // Used by runs at times 10 (entry 2), 20 (entry 0), 30 (entry 1); entry 3 by the newest.
    use forge_engine::model::Phase;
    record_run(
        &store,
        "dev",
        Phase::Build,
        RunOutcome::Succeeded,
        10,
        &[&entries[2]],
    );
    record_run(
        &store,
        "dev",
        Phase::Build,
        RunOutcome::Succeeded,
        20,
        &[&entries[0]],
    );
    record_run(
        &store,
        "dev",
        Phase::Build,
        RunOutcome::Succeeded,
        30,
        &[&entries[1]],
    );
    record_run(
        &store,
        "dev",
        Phase::Build,
        RunOutcome::Succeeded,
        40,
        &[&entries[3]],
    );
    let total = store.stats().expect("stats").bytes;
    // Room for about two of the three unrooted entries: the least recently used (2) goes.
    let report = store
        .gc(&GcOptions {
            keep_runs: 1,
            max_size: Some(total - 2048),
            dry_run: false,
        })
        .expect("gc");
    assert_eq!(report.entries_deleted, 1, "{report:?}");
    assert_eq!(report.entries_cached, 2);
    assert!(matches!(store.lookup(&entries[2].key), Lookup::Miss));
    for kept in [0, 1, 3] {
        assert!(
            matches!(store.lookup(&entries[kept].key), Lookup::Hit(_)),
            "{kept}"
        );
    }
    assert!(report.bytes_left <= total - 2048);
    // A size the rooted entry alone exceeds: every unrooted entry goes, the rooted stays.
    let report = store
        .gc(&GcOptions {
            keep_runs: 1,
            max_size: Some(1),
            dry_run: false,
        })
        .expect("gc");
    assert!(report.bytes_rooted > 1);
    assert!(matches!(store.lookup(&entries[3].key), Lookup::Hit(_)));
    assert!(matches!(store.lookup(&entries[0].key), Lookup::Miss));
    assert!(store.verify(false).expect("verify").is_ok());
}
