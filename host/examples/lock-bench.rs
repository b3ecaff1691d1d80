//! Measures the env's state lock through the real path: the `state-lock` built-in in the
//! plugin host, against moto's S3 and DynamoDB (`scripts/local-stack up`). For each lock
//! mode, N cycles of acquire then release on one key; prints the median and the 90th
//! percentile of acquire, release and the cycle.
//!
//! ```text
//! scripts/local-stack up
//! cargo run --release -p forge-host --example lock-bench -- [N=100]
//! ```
//!
//! Wall-clock figures on a shared machine with a Python AWS stand-in: read them as the
//! overhead forge adds around a deploy, not as S3's own latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use forge_clients::Clients;
use forge_clients::aws::Aws;
use forge_engine::events::EventSink;
use forge_engine::executor::Executor;
use forge_engine::lock::{self, Backend, ForgeInfo, LockAction, LockReply, LockRequest};
use forge_host::{Builtins, Host, HostConfig, HostExecutor};
use tokio_util::sync::CancellationToken;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100);
    let endpoint =
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "http://127.0.0.1:4566".into());
    let store = tempfile::tempdir()?;
    let host = Host::new(HostConfig {
        cache_dir: Some(store.path().to_path_buf()),
        ..HostConfig::default()
    })?
    .with_clients(Clients::default().with_aws(Aws::with_credentials("testing", "testing")));
    let executor = HostExecutor::new(
        Arc::new(host),
        forge_engine::store::Store::open(store.path())?,
        Builtins::embedded(),
    );
    println!("{n} cycles per mode against {endpoint}");
    println!("mode                 acquire p50/p90      release p50/p90      cycle p50/p90");
    for (name, lockfile, table) in [
        ("s3-lockfile", true, None),
        ("dynamodb", false, Some("two-tier-terraform-locks")),
        (
            "s3-lockfile+dynamodb",
            true,
            Some("two-tier-terraform-locks"),
        ),
    ] {
        let backend = Backend {
            bucket: "two-tier-terraform-state-123456789012".into(),
            key: format!("forge-bench/{}/{name}.tfstate", std::process::id()),
            region: "us-east-1".into(),
            endpoint: Some(endpoint.clone()),
            lockfile,
            table: table.map(str::to_owned),
        };
        // One call first: compiling the component is not the lock's cost.
        call(&executor, &backend, LockAction::Status).await?;
        let (mut acquire, mut release, mut cycle) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let info = lock::new_info(&backend, lock::OPERATION_APPLY, &ForgeInfo::default())?;
            let id = info.id.clone();
            let t0 = Instant::now();
            let got = call(&executor, &backend, LockAction::Acquire { info }).await?;
            let t1 = Instant::now();
            let gone = call(&executor, &backend, LockAction::Release { id }).await?;
            let t2 = Instant::now();
            if got != LockReply::Acquired || gone != LockReply::Released {
                return Err(format!("{name}: unexpected {got:?} / {gone:?}").into());
            }
            acquire.push(t1 - t0);
            release.push(t2 - t1);
            cycle.push(t2 - t0);
        }
        println!(
            "{name:<20} {:>20} {:>20} {:>18}",
            quantiles(&mut acquire),
            quantiles(&mut release),
            quantiles(&mut cycle)
        );
    }
    Ok(())
}

async fn call(
    executor: &HostExecutor,
    backend: &Backend,
    action: LockAction,
) -> Result<LockReply, Box<dyn std::error::Error>> {
    let request = LockRequest {
        backend: backend.clone(),
        action,
        cancel: CancellationToken::new(),
        events: EventSink::null(),
    };
    executor
        .state_lock(request)
        .await
        .map_err(|e| e.to_string().into())
}

fn quantiles(samples: &mut [Duration]) -> String {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!("{:.1} / {:.1} ms", ms(at(0.5)), ms(at(0.9)))
}
