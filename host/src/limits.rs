//! Resource limits of one step run and the epoch ticker that enforces time.
//!
//! Time is enforced by epoch interruption: one thread per [`crate::Host`] bumps the
//! engine's epoch every [`EPOCH_TICK`]; every store's deadline is one tick ahead, and on
//! each tick its callback decides whether the run goes on: it stops when the step's
//! [`Limits::timeout`] has passed or its cancellation token fired (Ctrl-C, `--timeout`),
//! and otherwise yields to the async runtime before going on, so steps sharing a thread
//! take turns. A runaway plugin is stopped within about one tick, and both stops share
//! one path.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Engine, ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// How often the engine's epoch advances: the resolution of deadlines and cancellation.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

const MIB: u64 = 1 << 20;

/// Caps for one step run. [`Limits::default`] documents the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory (all memories together), bytes. Default 512 MiB.
    pub memory: u64,
    /// Wall-clock deadline for `describe` + `run`. Default 10 minutes.
    pub timeout: Duration,
    /// Size of the returned manifest JSON, bytes. Default 4 MiB.
    pub manifest: u64,
    /// Total size of the files written through `outputs.write`, bytes. Default 64 MiB.
    pub output_files: u64,
    /// Number of files written through `outputs.write`. Default 10,000: each is a blob
    /// and a line of the step's action entry, and downstream steps list them all.
    pub output_count: u64,
    /// Total size of the image blobs `docker.build` stores as the step's outputs. They are
    /// written by the host, not the plugin, so they have a cap of their own, sized for
    /// real images; the engine's export of the image is held in memory while it is
    /// normalized. Default 4 GiB.
    pub image_blobs: u64,
    /// Log volume; past it lines are dropped and one note says so. Default 1 MiB.
    pub log: u64,
    /// Size of one `files.read`; larger files answer `too-large`. Default 128 MiB.
    pub read: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: 512 * MIB,
            timeout: Duration::from_secs(10 * 60),
            manifest: 4 * MIB,
            output_files: 64 * MIB,
            output_count: 10_000,
            image_blobs: 4096 * MIB,
            log: MIB,
            read: 128 * MIB,
        }
    }
}

/// wasmtime's [`StoreLimits`], remembering whether it refused a memory growth so that a
/// memory bomb is reported as such rather than as a bare trap.
pub(crate) struct Limiter {
    inner: StoreLimits,
    pub(crate) memory_refused: bool,
}

impl Limiter {
    pub(crate) fn new(limits: &Limits) -> Limiter {
        let memory = usize::try_from(limits.memory).unwrap_or(usize::MAX);
        Limiter {
            inner: StoreLimitsBuilder::new()
                .memory_size(memory)
                .instances(64)
                .tables(64)
                .memories(16)
                .table_elements(1 << 20)
                .trap_on_grow_failure(true)
                .build(),
            memory_refused: false,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let answer = self.inner.memory_growing(current, desired, maximum);
        if !matches!(answer, Ok(true)) {
            self.memory_refused = true;
        }
        answer
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// The thread that advances the engine's epoch. It holds the engine weakly and stops when
/// dropped (or when the engine is gone).
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: &Engine) -> std::io::Result<EpochTicker> {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("forge-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
