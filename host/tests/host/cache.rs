//! The compiled-component cache: hits, invalidation, and damaged files.

use forge_engine::events::EventSink;
use forge_host::cache::ComponentCache;
use forge_host::host::engine_config;
use forge_host::{Host, HostConfig};

use crate::fixtures::{Project, code};

fn cached_host(project: &Project) -> Host {
    Host::new(HostConfig {
        cache_dir: Some(project.store_dir()),
        ..HostConfig::default()
    })
    .expect("host")
}

/// Replaces a cache file the way anything but a disk fault would: by rename. Writing in
/// place would truncate a file a live host may have mapped, which is a SIGBUS waiting to
/// happen, and not something forge itself ever does.
fn replace(path: &std::path::Path, bytes: &[u8]) {
    let tmp = path.with_extension("test-tmp");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

async fn run_ok(host: &Host, project: &Project) -> Vec<String> {
    project.write("a.txt", "a");
    let (spec, mut events) = project.spec(&["a.txt"], &["files.read"], "{}");
    let result = host.run(&code("ok"), spec).await.expect("ok runs");
    assert!(result.manifest.contains("a.txt"));
    events.warnings()
}

#[tokio::test]
async fn a_compiled_component_is_reused_after_first_use() {
    let project = Project::new();
    let first = cached_host(&project);
    assert!(run_ok(&first, &project).await.is_empty());
    assert_eq!(first.cache().stats().compiles(), 1);
    let path = first.cache_path(&code("ok").hash).expect("cache path");
    assert!(path.is_file(), "{}", path.display());
    assert!(
        path.starts_with(
            project
                .store_dir()
                .join(forge_engine::store::LAYOUT_DIR)
                .join("wasm")
        )
    );

    // Same host: the in-memory component and InstancePre are reused.
    run_ok(&first, &project).await;
    assert_eq!(first.cache().stats().compiles(), 1);

    // A new process (host) with the same store loads it from disk without compiling.
    let second = cached_host(&project);
    assert!(run_ok(&second, &project).await.is_empty());
    assert_eq!(second.cache().stats().compiles(), 0);
    assert_eq!(second.cache().stats().disk_hits(), 1);
}

#[tokio::test]
async fn a_different_component_or_engine_is_a_miss() {
    let project = Project::new();
    let host = cached_host(&project);
    run_ok(&host, &project).await;
    let ok = code("ok");
    let trap = code("trap");
    assert_ne!(host.cache_path(&ok.hash), host.cache_path(&trap.hash));
    host.prepare(&trap, Default::default(), &EventSink::null())
        .expect("trap prepares");
    assert_eq!(host.cache().stats().compiles(), 2);

    // An engine configured differently has another compatibility key, so it neither
    // finds nor reuses the entries of this one.
    let mut config = engine_config(false);
    config.cranelift_nan_canonicalization(false);
    let other_engine = wasmtime::Engine::new(&config).expect("engine");
    let other = ComponentCache::new(Some(&project.store_dir()), &other_engine);
    assert_ne!(other.path_for(&ok.hash), host.cache_path(&ok.hash));
    other
        .load_or_compile(&other_engine, &ok.hash, &ok.bytes, &|w| panic!("{w}"))
        .expect("compiles");
    assert_eq!(
        (other.stats().compiles(), other.stats().disk_hits()),
        (1, 0)
    );
}

#[tokio::test]
async fn a_corrupted_cache_file_is_detected_and_recompiled_never_loaded() {
    let project = Project::new();
    run_ok(&cached_host(&project), &project).await;
    let path = cached_host(&project)
        .cache_path(&code("ok").hash)
        .expect("path");
    let mut bytes = std::fs::read(&path).expect("cache file");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    replace(&path, &bytes);

    let host = cached_host(&project);
    let warnings = run_ok(&host, &project).await;
    let stats = host.cache().stats();
    assert_eq!(
        (stats.corrupt(), stats.compiles(), stats.disk_hits()),
        (1, 1, 0)
    );
    // Caught by the checksum, before wasmtime was handed the bytes.
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("do not match their checksum"),
        "{warnings:?}"
    );

    // The entry was rewritten, intact: the next host loads it.
    let next = cached_host(&project);
    run_ok(&next, &project).await;
    assert_eq!(
        (
            next.cache().stats().compiles(),
            next.cache().stats().disk_hits()
        ),
        (1 - 1, 1)
    );

    // A truncated file (a torn write on a filesystem without atomic rename) likewise.
    replace(&path, &bytes[..100]);
    let host = cached_host(&project);
    run_ok(&host, &project).await;
    assert_eq!(
        (
            host.cache().stats().corrupt(),
            host.cache().stats().compiles()
        ),
        (1, 1)
    );
}
