//! Measures the plugin host: first compile vs cached load of each component, and the
//! per-step overhead (fresh store + instantiate + `describe` + `run` + return, all async
//! on a current-thread runtime) of a trivial plugin.
//!
//! ```text
//! for f in ok spin; do
//!     forge plugin build plugins/fixtures/$f --locked --out target/plugins/fixture-$f.wasm
//! done
//! cargo run --release -p forge-host --example host-bench -- target/plugins [fixture-ok]
//! ```
//!
//! Wall-clock figures on a shared machine: read them as orders of magnitude.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use forge_engine::events::EventSink;
use forge_host::{GrantSet, Host, HostConfig, PluginCode, RunSpec};
use tokio_util::sync::CancellationToken;

// One thread, like a step's share of the engine's runtime: the figures include the fiber
// switch and the future polling that async wasmtime adds to a call.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: host-bench COMPONENT_DIR [TRIVIAL]")?,
    );
    let trivial = args.next().unwrap_or_else(|| "fixture-ok".into());
    let mut components: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    components.sort();

    println!("component                      size   first compile   cached load (verify+mmap)");
    for path in &components {
        let code = load(path)?;
        let cache = tempfile::tempdir()?;
        let config = || HostConfig {
            cache_dir: Some(cache.path().to_path_buf()),
            ..HostConfig::default()
        };
        let all = GrantSet::from_grants(&["files.read", "secrets"]);
        let cold = Host::new(config())?;
        let t = Instant::now();
        cold.prepare(&code, all, &EventSink::null())?;
        let compile = t.elapsed();
        let mut loads = Vec::new();
        for _ in 0..5 {
            let warm = Host::new(config())?;
            let t = Instant::now();
            warm.prepare(&code, all, &EventSink::null())?;
            loads.push(t.elapsed());
            assert_eq!(warm.cache().stats().compiles(), 0);
        }
        println!(
            "{:<28} {:>6} KiB {:>12} {:>14} (median of 5)",
            code.name,
            code.bytes.len() / 1024,
            ms(compile),
            ms(median(&mut loads)),
        );
    }

    let code = load(&dir.join(format!("{trivial}.wasm")))?;
    for pooling in [false, true] {
        let host = Host::new(HostConfig {
            pooling,
            ..HostConfig::default()
        })?;
        let spec = RunSpec {
            step: "bench".into(),
            env: "dev".into(),
            config: "{}".into(),
            upstream: Default::default(),
            files: Default::default(),
            commit: None,
            commit_time: None,
            store: None,
            secrets: Default::default(),
            grants: GrantSet::from_grants(&["files.read"]),
            limits: None,
            cancel: CancellationToken::new(),
            events: EventSink::null(),
            terraform: None,
            rebuild: false,
        };
        for _ in 0..50 {
            host.run(&code, spec.clone())
                .await
                .map_err(|e| format!("{e:?}"))?;
        }
        let mut runs = Vec::new();
        for _ in 0..1000 {
            let t = Instant::now();
            host.run(&code, spec.clone())
                .await
                .map_err(|e| format!("{e:?}"))?;
            runs.push(t.elapsed());
        }
        let mean = runs.iter().sum::<Duration>() / runs.len() as u32;
        let p50 = median(&mut runs);
        let p99 = runs[runs.len() * 99 / 100];
        println!(
            "per-step overhead of {trivial} ({}): mean {} p50 {} p99 {} (1000 runs)",
            if pooling {
                "pooling allocator"
            } else {
                "on-demand allocator"
            },
            us(mean),
            us(p50),
            us(p99)
        );
    }
    Ok(())
}

fn load(path: &Path) -> std::io::Result<PluginCode> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(PluginCode::new(name, std::fs::read(path)?))
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}
