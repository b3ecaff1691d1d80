//! The no-op path of forge on a synthetic workspace (10,000 input files, 200 deploy steps):
//! what `forge plan` and a fully cached `forge deploy` cost when nothing changed, with the
//! stat cache warm (the everyday case) and cold (first command after a fresh clone or a
//! `cache gc`), plus the pieces that add up to it.
//!
//! The workspace is generated and the store populated once per process, by a real run
//! through the engine's deterministic test executor; every measured iteration then finds
//! all 200 steps cached. `cargo bench -p forge-bench` runs it; `bench/run.sh` measures the
//! same scenarios end to end through the `forge` binary.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use forge_bench::{Shape, generate};
use forge_engine::events::EventSink;
use forge_engine::files::FileIndex;
use forge_engine::model::Phase;
use forge_engine::session::{PlanStatus, RunOptions, Session};
use forge_engine::testing::TestExecutor;

/// A generated workspace with a populated store, removed when dropped.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    project_file: PathBuf,
    store: PathBuf,
    stat_cache: PathBuf,
    runtime: tokio::runtime::Runtime,
    /// Fails every step: a fully cached run never calls it, and if it did the summary
    /// would say so.
    strict: Arc<TestExecutor>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir for the synthetic workspace");
        let root = dir.path().join("ws");
        let store = dir.path().join("store");
        std::fs::create_dir_all(&root).expect("workspace dir");
        let files = generate(&root, Shape::default()).expect("generate the workspace");
        assert_eq!(files, Shape::default().files);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let fixture = Fixture {
            project_file: root.join("project.kdl"),
            stat_cache: FileIndex::cache_path(&root, &store),
            root,
            store,
            runtime,
            strict: Arc::new(TestExecutor::new()),
            _dir: dir,
        };
        for step in &fixture.session().graph.steps {
            fixture
                .strict
                .fail(&step.id, "a cached run must not execute steps");
        }
        let summary = fixture.run(Some(Arc::new(TestExecutor::new())));
        assert_eq!(
            (summary.0, summary.1),
            (200, 0),
            "the populating run should run all 200 steps"
        );
        // The populating run cannot trust hashes of files written in its own clock tick;
        // one more pass settles the stat cache so "warm" means warm from the first sample.
        fixture.plan();
        let plan = fixture.plan();
        assert!(
            plan.iter().all(|s| *s == PlanStatus::Cached) && plan.len() == 200,
            "after populating, every step should be cached"
        );
        fixture
    }

    fn session(&self) -> Session {
        Session::open(&self.project_file, &self.store, None).expect("open the project")
    }

    fn plan(&self) -> Vec<PlanStatus> {
        let plan = self
            .session()
            .plan(Phase::Deploy, &TestExecutor::new())
            .expect("plan");
        plan.steps.into_iter().map(|s| s.status).collect()
    }

    /// (ran, cached) of a deploy; `None`: with the executor that fails every step.
    fn run(&self, executor: Option<Arc<TestExecutor>>) -> (usize, usize) {
        let session = self.session();
        let executor = executor.unwrap_or_else(|| self.strict.clone());
        let summary = self
            .runtime
            .block_on(session.run(executor, RunOptions::new(Phase::Deploy), EventSink::null()))
            .expect("run");
        (summary.ran, summary.cached)
    }

    fn drop_stat_cache(&self) {
        match std::fs::remove_file(&self.stat_cache) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("cannot remove the stat cache: {e}"),
        }
    }
}

fn noop(c: &mut Criterion) {
    let fx = Fixture::new();
    let mut group = c.benchmark_group("noop");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    group.bench_function("plan_warm", |b| {
        b.iter(|| {
            let plan = fx.plan();
            assert_eq!(plan.len(), 200);
            black_box(plan)
        })
    });
    group.bench_function("plan_cold_stat_cache", |b| {
        b.iter_batched(
            || fx.drop_stat_cache(),
            |()| black_box(fx.plan()),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("run_cached_warm", |b| {
        b.iter(|| {
            let (ran, cached) = fx.run(None);
            assert_eq!((ran, cached), (0, 200));
        })
    });
    group.bench_function("run_cached_cold_stat_cache", |b| {
        b.iter_batched(
            || fx.drop_stat_cache(),
            |()| {
                let (ran, cached) = fx.run(None);
                assert_eq!((ran, cached), (0, 200));
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();

    // The parts of the total, each on its own.
    let mut parts = c.benchmark_group("parts");
    parts
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    parts.bench_function("parse_project", |b| {
        b.iter(|| black_box(forge_engine::model::load(&fx.project_file).expect("parse")))
    });
    parts.bench_function("open_session", |b| b.iter(|| black_box(fx.session())));
    parts.bench_function("walk_tree", |b| {
        b.iter(|| {
            let index = FileIndex::scan(&fx.root).expect("walk");
            assert!(index.len() >= 10_000);
            black_box(index)
        })
    });
    parts.bench_function("walk_and_load_stat_cache", |b| {
        b.iter(|| black_box(FileIndex::open(&fx.root, &fx.store).expect("walk")))
    });
    parts.bench_function("hash_10k_files_cold", |b| {
        b.iter_batched(
            || FileIndex::scan(&fx.root).expect("walk"),
            |mut index| {
                let paths = input_paths(&index);
                let hashes = index.hash_files(&paths).expect("hash");
                assert_eq!(hashes.len(), 10_000);
                black_box(hashes)
            },
            BatchSize::PerIteration,
        )
    });
    parts.finish();
}

/// The generated input files (not the project file, Dockerfiles or plugin).
fn input_paths(index: &FileIndex) -> Vec<String> {
    index
        .paths()
        .iter()
        .filter(|p| p.ends_with(".rs") && is_input(Path::new(p.as_str())))
        .cloned()
        .collect()
}

fn is_input(path: &Path) -> bool {
    path.starts_with("services") || path.starts_with("lib")
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = noop
}
criterion_main!(benches);
