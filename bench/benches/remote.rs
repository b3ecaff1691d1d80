//! What the remote cache's checks cost (see `forge_engine::remote`): serving one entry
//! (entry, signature, fingerprint and manifest blobs, the two blobs written to the local
//! store) and fetching an output file of 1 and 16 MiB into a local store, checked against
//! its hash and size, from an in-memory object store, so the figure is forge's own work,
//! not the network's; and the hash check alone. `cargo bench -p
//! forge-bench --bench remote`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use forge_engine::executor::{OutputFile, StepOutput};
use forge_engine::fingerprint::Fingerprint;
use forge_engine::remote::{RemoteCache, RemoteLookup, WriterKey};
use forge_engine::store::Store;
use forge_engine::testing::MemoryObjects;

const MIB: usize = 1 << 20;

struct Published {
    cache: RemoteCache,
    key: String,
    output: StepOutput,
}

fn publish(runtime: &tokio::runtime::Runtime, size: usize) -> Published {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path()).expect("store");
    let objects = Arc::new(MemoryObjects::default());
    let writer = WriterKey::generate().expect("key");
    let trusted = BTreeMap::from([("ci".to_owned(), writer.public())]);
    // Incompressible, distinct bytes.
    let bytes: Vec<u8> = (0..size as u64)
        .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8)
        .collect();
    let file = OutputFile::of(&bytes);
    store.put_blob(&bytes).expect("blob");
    let output = StepOutput {
        manifest: serde_json::json!({"digest": "sha256:00", "layers": [file.hash.clone()]}),
        files: BTreeMap::from([("layer".to_owned(), file)]),
    };
    let fingerprint = Fingerprint::new(format!("bench-{size}"));
    let publisher = RemoteCache::new(objects.clone(), trusted.clone(), Some(writer));
    runtime
        .block_on(publisher.publish(&fingerprint, &output, &store))
        .expect("published");
    Published {
        cache: RemoteCache::new(objects, trusted, None),
        key: fingerprint.hash(),
        output,
    }
}

fn remote(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let small = publish(&runtime, 1024);
    let mut group = c.benchmark_group("remote");
    group.bench_function("lookup: entry, signature, fingerprint, manifest", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("dir");
                let store = Store::open(dir.path()).expect("store");
                (dir, store)
            },
            |(_dir, store)| {
                let found = runtime.block_on(small.cache.lookup(&small.key, &store));
                assert!(matches!(found, RemoteLookup::Hit(_)));
                black_box(found);
            },
            BatchSize::PerIteration,
        );
    });
    for mib in [1, 16] {
        let big = publish(&runtime, mib * MIB);
        group.throughput(Throughput::Bytes((mib * MIB) as u64));
        group.bench_function(format!("fetch and check a {mib} MiB output"), |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().expect("dir");
                    let store = Store::open(dir.path()).expect("store");
                    (dir, store)
                },
                |(_dir, store)| {
                    let fetched = runtime
                        .block_on(big.cache.fetch_files(&big.key, &big.output, &store))
                        .expect("fetched");
                    black_box(fetched);
                },
                BatchSize::PerIteration,
            );
        });
        // The check alone: what a blob's hash costs, without the store's write and fsync.
        let bytes = vec![7u8; mib * MIB];
        group.bench_function(format!("blake3 check of {mib} MiB"), |b| {
            b.iter(|| black_box(OutputFile::of(black_box(&bytes))));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = remote
}
criterion_main!(benches);
