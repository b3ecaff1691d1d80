//! The on-disk cache of compiled components.
//!
//! # Layout
//!
//! ```text
//! <store>/v2/wasm/<component blake3>-<compat>.cwasm   (see forge_engine::store::component_cache_dir)
//! ```
//!
//! `<compat>` is the first 16 hex digits of blake3 over the engine's
//! `precompile_compatibility_hash` (target, Cranelift flags, tunables, wasmtime's own
//! version), the pinned wasmtime version and [`CONFIG_TAG`]; a different engine
//! configuration or wasmtime upgrade therefore never even looks at old entries.
//!
//! A file is wasmtime's serialized component followed by a 40-byte trailer: the blake3 of
//! the serialized bytes (32 bytes) and the magic `FRGCWSM1`. It lives at the end because
//! wasmtime maps the file as an ELF image, which must start at offset 0; ELF readers do
//! not look past their sections, so the trailer is inert to wasmtime.
//!
//! # Guarantees
//!
//! - Written atomically: temp file in the same directory, fsync, rename, fsync of the
//!   directory. A crash leaves the old state or the new file, never half of one.
//! - Verified before use: the whole file is hashed and compared with its trailer *before*
//!   wasmtime sees it. Deserializing is `unsafe` precisely because wasmtime trusts those
//!   bytes as machine code; a mismatch is logged, the file deleted and the component
//!   recompiled. Unverified bytes are never loaded, let alone executed.
//! - Loaded with mmap ([`Component::deserialize_file`]): a warm load costs a hash of the
//!   file and a page-table setup, not a compile.

use std::fs::{self, File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::Engine;
use wasmtime::component::Component;

/// The wasmtime version this host pins (`=48.0.8` in the workspace).
pub const WASMTIME_VERSION: &str = "48.0.8";

/// The host's own engine configuration choices that feed the compatibility key (bump it
/// when [`crate::host::engine_config`] changes in a way wasmtime's hash might not see).
pub const CONFIG_TAG: &str = "forge-host/1 nan-canon epoch no-threads no-wasi";

const MAGIC: &[u8; 8] = b"FRGCWSM1";
const TRAILER: u64 = 32 + 8;

/// Counters for tests and benchmarks: how often the cache compiled, hit, or threw away a
/// damaged file.
#[derive(Debug, Default)]
pub struct CacheStats {
    compiles: AtomicU64,
    disk_hits: AtomicU64,
    corrupt: AtomicU64,
}

impl CacheStats {
    /// Components compiled from wasm (cache misses, corrupt entries, no cache dir).
    pub fn compiles(&self) -> u64 {
        self.compiles.load(Ordering::Relaxed)
    }
    /// Components loaded from a verified cache file.
    pub fn disk_hits(&self) -> u64 {
        self.disk_hits.load(Ordering::Relaxed)
    }
    /// Cache files that failed verification (or deserialization) and were replaced.
    pub fn corrupt(&self) -> u64 {
        self.corrupt.load(Ordering::Relaxed)
    }
}

/// `std::hash::Hasher` over blake3, to turn wasmtime's `impl Hash` into stable bytes.
struct Blake3Hasher(blake3::Hasher);

impl Hasher for Blake3Hasher {
    fn finish(&self) -> u64 {
        let hash = self.0.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash.as_bytes()[..8]);
        u64::from_le_bytes(first)
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The engine-compatibility part of a cache key: 16 hex digits.
pub fn compat_hash(engine: &Engine) -> String {
    let mut hasher = Blake3Hasher(blake3::Hasher::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.update(WASMTIME_VERSION.as_bytes());
    hasher.0.update(CONFIG_TAG.as_bytes());
    hasher.0.finalize().to_hex()[..16].to_string()
}

/// Compiled components under a store directory, or in memory only when there is none.
#[derive(Debug)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
    compat: String,
    stats: CacheStats,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl ComponentCache {
    /// A cache in the store's component directory
    /// ([`forge_engine::store::component_cache_dir`]), or none (`store_dir = None`: always
    /// compile).
    pub fn new(store_dir: Option<&Path>, engine: &Engine) -> ComponentCache {
        ComponentCache {
            dir: store_dir.map(forge_engine::store::component_cache_dir),
            compat: compat_hash(engine),
            stats: CacheStats::default(),
        }
    }

    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// Where the compiled form of the component with blake3 `component_hash` (hex) lives.
    pub fn path_for(&self, component_hash: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{component_hash}-{}.cwasm", self.compat)))
    }

    /// The compiled component for `wasm` (whose blake3 hex is `component_hash`): from a
    /// verified cache file, else compiled (and written back). `warn` hears about damaged
    /// or unwritable cache files; neither fails the step.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        component_hash: &str,
        wasm: &[u8],
        warn: &dyn Fn(String),
    ) -> wasmtime::Result<Component> {
        let Some(path) = self.path_for(component_hash) else {
            self.stats.compiles.fetch_add(1, Ordering::Relaxed);
            return Component::new(engine, wasm);
        };
        match verify(&path) {
            Ok(Verified::Intact) => match deserialize_verified(engine, &path) {
                Ok(component) => {
                    self.stats.disk_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(component);
                }
                Err(e) => self.discard(&path, &format!("wasmtime rejected it: {e}"), warn),
            },
            Ok(Verified::Damaged(why)) => self.discard(&path, &why, warn),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => warn(format!(
                "cannot read compiled plugin cache {}: {e}; recompiling",
                path.display()
            )),
        }
        self.stats.compiles.fetch_add(1, Ordering::Relaxed);
        let component = Component::new(engine, wasm)?;
        match component.serialize() {
            Ok(serialized) => {
                if let Err(e) = write_entry(&path, &serialized) {
                    warn(format!(
                        "cannot write compiled plugin cache {}: {e}; the plugin will be compiled again next time",
                        path.display()
                    ));
                }
            }
            Err(e) => warn(format!("cannot serialize compiled plugin: {e}")),
        }
        Ok(component)
    }

    fn discard(&self, path: &Path, why: &str, warn: &dyn Fn(String)) {
        self.stats.corrupt.fetch_add(1, Ordering::Relaxed);
        warn(format!(
            "compiled plugin cache {} is damaged ({why}); deleted it and recompiling",
            path.display()
        ));
        let _ = fs::remove_file(path);
    }
}

enum Verified {
    Intact,
    Damaged(String),
}

/// `forge cache verify` for compiled components: checks every cache file under the store at
/// `store_dir` against its checksum, the same check a load makes, and with `repair` deletes
/// the damaged ones (the next run compiles them again). Returns how many files were
/// checked and, for each damaged one, its path and what is wrong.
pub fn verify_store(store_dir: &Path, repair: bool) -> io::Result<(usize, Vec<(PathBuf, String)>)> {
    let dir = forge_engine::store::component_cache_dir(store_dir);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, Vec::new())),
        Err(e) => return Err(e),
    };
    let mut checked = 0;
    let mut damaged = Vec::new();
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect();
    paths.sort();
    for path in paths {
        checked += 1;
        let why = match verify(&path) {
            Ok(Verified::Intact) => continue,
            Ok(Verified::Damaged(why)) => why,
            Err(e) => format!("cannot read it: {e}"),
        };
        if repair {
            // A file being mapped by a running forge stays valid for it: unlinking never
            // truncates, and that process verified its copy before mapping it.
            let _ = fs::remove_file(&path);
        }
        damaged.push((path, why));
    }
    Ok((checked, damaged))
}

/// Hashes the serialized part of a cache file and compares it with the trailer.
fn verify(path: &Path) -> io::Result<Verified> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len < TRAILER {
        return Ok(Verified::Damaged(format!("only {len} bytes")));
    }
    let body = len - TRAILER;
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader((&mut file).take(body))?;
    let mut trailer = [0u8; TRAILER as usize];
    file.seek(SeekFrom::Start(body))?;
    file.read_exact(&mut trailer)?;
    if &trailer[32..] != MAGIC {
        return Ok(Verified::Damaged("no forge trailer".into()));
    }
    if hasher.finalize().as_bytes() != &trailer[..32] {
        return Ok(Verified::Damaged(
            "contents do not match their checksum".into(),
        ));
    }
    Ok(Verified::Intact)
}

/// Maps a cache file whose contents [`verify`] has just checked.
#[allow(unsafe_code)]
fn deserialize_verified(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: `deserialize_file` trusts the file to be wasmtime's own serialization of a
    // component, since it maps it as executable code. The only caller passes a path that
    // `verify` has just hashed end to end and matched with the checksum forge wrote next
    // to the bytes `Component::serialize` produced; the file is in forge's private cache
    // dir and replaced only by atomic renames, so it is that output (or, if someone
    // swapped it since, another complete entry forge wrote). wasmtime itself still checks
    // the engine-compatibility header and rejects an incompatible image with an error.
    unsafe { Component::deserialize_file(engine, path) }
}

/// Writes `serialized` plus its trailer to `path` atomically.
fn write_entry(path: &Path, serialized: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{}-{n}.tmp", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(serialized)?;
        file.write_all(blake3::hash(serialized).as_bytes())?;
        file.write_all(MAGIC)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        #[cfg(unix)]
        File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
