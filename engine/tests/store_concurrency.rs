//! Several forge processes on one store: real processes (this test binary, re-executed as a
//! worker) record and look up the same and different fingerprints at once, and one is
//! killed mid-write. The store must come out with zero corrupt entries and every recorded
//! result readable.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use forge_engine::events::StepStatus;
use forge_engine::executor::StepOutput;
use forge_engine::fingerprint::Fingerprint;
use forge_engine::store::{
    GcOptions, Lookup, RunOutcome, RunRecord, StepRecord, Store, new_run_id,
};
use serde_json::json;

const DIR_ENV: &str = "FORGE_TEST_HAMMER_DIR";
const ID_ENV: &str = "FORGE_TEST_HAMMER_ID";
const ITER_ENV: &str = "FORGE_TEST_HAMMER_ITERATIONS";
/// Fingerprints every worker records: the same key written by several processes at once.
const SHARED: u64 = 12;

fn fingerprint(n: u64) -> Fingerprint {
    let mut fp = Fingerprint::new("builtin:hammer@1");
    fp.config.insert("n".into(), n.to_string());
    fp
}

/// What a deterministic step with fingerprint `n` produces; big enough that writes take a
/// while and overlap.
fn manifest(n: u64) -> serde_json::Value {
    json!({"n": n, "payload": format!("{n:x}").repeat(16 * 1024)})
}

fn own(worker: u64, i: u64) -> u64 {
    1_000_000 * (worker + 1) + i
}

/// The worker: not a test of its own, run only as a child process of the tests below.
#[test]
#[ignore = "helper process, spawned by the concurrency tests"]
fn hammer_worker() {
    let (Some(dir), Some(id), Some(iterations)) = (
        std::env::var_os(DIR_ENV),
        std::env::var(ID_ENV)
            .ok()
            .and_then(|s| s.parse::<u64>().ok()),
        std::env::var(ITER_ENV)
            .ok()
            .and_then(|s| s.parse::<u64>().ok()),
    ) else {
        return;
    };
    let store = Store::open(&dir).expect("open store");
    let _lock = store.lock_shared().expect("lock");
    for i in 0..iterations {
        let shared = fingerprint(i % SHARED);
        let mine = fingerprint(own(id, i));
        for (fp, n) in [(&shared, i % SHARED), (&mine, own(id, i))] {
            let out = StepOutput::new(manifest(n));
            store.record(fp, &out).expect("record");
            match store.lookup(&fp.hash()) {
                Lookup::Hit(e) => assert_eq!(e.result.manifest, manifest(n), "wrong manifest"),
                other => panic!("just-recorded entry not served: {other:?}"),
            }
        }
        // Someone else's shared key: absent or right, never corrupt or wrong.
        let peek = (i + 5) % SHARED;
        match store.lookup(&fingerprint(peek).hash()) {
            Lookup::Hit(e) => assert_eq!(e.result.manifest, manifest(peek)),
            Lookup::Miss => {}
            Lookup::Corrupt(e) => panic!("corrupt entry seen: {e}"),
        }
        if i % 5 == 4 {
            let step = StepRecord {
                status: StepStatus::Ran,
                fingerprint: Some(mine.hash()),
                output: None,
                duration_ms: 1,
                origin: None,
            };
            store
                .record_run(&RunRecord {
                    id: new_run_id(),
                    project: "hammer".into(),
                    env: "dev".into(),
                    phase: forge_engine::model::Phase::Build,
                    command: format!("worker {id}"),
                    started: 0,
                    finished: 0,
                    outcome: RunOutcome::Succeeded,
                    steps: [(format!("step-{id}"), step)].into_iter().collect(),
                    commit: None,
                    user: None,
                    rollback_of: None,
                })
                .expect("record run");
        }
        if i == 2 {
            // Tells the parent this worker is mid-run (the kill test waits for it).
            println!("hammer-ready");
        }
    }
}

fn spawn(dir: &Path, id: u64, iterations: u64) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "hammer_worker",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_ENV, dir)
        .env(ID_ENV, id.to_string())
        .env(ITER_ENV, iterations.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn worker")
}

fn assert_consistent(store: &Store) {
    let report = store.verify(false).expect("verify");
    assert!(report.is_ok(), "corrupt entries: {:#?}", report.corrupt);
    let stats = store.stats().expect("stats");
    assert_eq!(stats.entries, report.entries);
}

#[test]
fn concurrent_processes_never_corrupt_the_store() {
    let t = tempfile::tempdir().expect("tempdir");
    let dir = t.path().join("store");
    const WORKERS: u64 = 4;
    const ITERATIONS: u64 = 30;
    let children: Vec<Child> = (0..WORKERS).map(|id| spawn(&dir, id, ITERATIONS)).collect();
    for (id, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "worker {id} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("hammer-ready"),
            "worker {id} did not run"
        );
    }

    let store = Store::open(&dir).expect("open");
    assert_consistent(&store);
    let mut expected: Vec<u64> = (0..SHARED).collect();
    for w in 0..WORKERS {
        expected.extend((0..ITERATIONS).map(|i| own(w, i)));
    }
    for n in &expected {
        match store.lookup(&fingerprint(*n).hash()) {
            Lookup::Hit(e) => assert_eq!(e.result.manifest, manifest(*n)),
            other => panic!("entry {n} not readable: {other:?}"),
        }
    }
    let stats = store.stats().expect("stats");
    assert_eq!(stats.entries, expected.len());
    assert_eq!(
        stats.runs.get("hammer/dev"),
        Some(&((WORKERS * ITERATIONS / 5) as usize))
    );
    let leftovers = std::fs::read_dir(dir.join("v2/tmp")).expect("tmp").count();
    assert_eq!(leftovers, 0, "successful writes left temp files");
}

#[test]
fn a_process_killed_mid_write_leaves_no_corrupt_entry() {
    let t = tempfile::tempdir().expect("tempdir");
    let dir = t.path().join("store");
    let mut child = spawn(&dir, 7, 100_000);
    let stdout = child.stdout.take().expect("stdout");
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("hammer-ready"));
    assert!(ready, "worker never got going");
    child.kill().expect("kill -9");
    child.wait().expect("reap");

    let store = Store::open(&dir).expect("open");
    assert_consistent(&store);
    // Whatever made it in reads back whole: the shared keys, and the worker's own keys up
    // to the first one it never got to.
    for n in 0..SHARED {
        match store.lookup(&fingerprint(n).hash()) {
            Lookup::Hit(e) => assert_eq!(e.result.manifest, manifest(n)),
            Lookup::Miss => {}
            Lookup::Corrupt(e) => panic!("corrupt after kill: {e}"),
        }
    }
    let mut recorded = 0;
    loop {
        match store.lookup(&fingerprint(own(7, recorded)).hash()) {
            Lookup::Hit(e) => assert_eq!(e.result.manifest, manifest(own(7, recorded))),
            Lookup::Miss => break,
            Lookup::Corrupt(e) => panic!("corrupt after kill: {e}"),
        }
        recorded += 1;
    }
    assert!(
        recorded >= 3,
        "the worker said it was ready after 3 records"
    );
    // The store's lock died with the process: gc can run.
    store
        .gc(&GcOptions::keep_runs(10))
        .expect("gc after the killed run");
    assert_consistent(&store);
}
