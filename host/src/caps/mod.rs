//! The capabilities that reach past the sandbox, bound to their WIT interfaces: the
//! Docker engine (`docker`), image registries (`registry`) and AWS (`aws`).
//!
//! The work is done by [`forge_clients`], in plain async functions that know nothing of
//! wasm. Each module here is a thin binding adding what only a run has: its log, its
//! output files, its upstream steps' files, its credentials table, and stopping when the
//! run is cancelled or out of time; and converting the clients' types to the WIT's.
//!
//! Stopping matters here more than anywhere: epoch interruption only fires while wasm
//! runs, and during one of these calls no wasm runs, maybe for minutes. So every call
//! races the run's cancellation token and deadline (`until_stopped`) and traps with the
//! same interrupt the epoch callback would have used.

mod aws;
mod docker;
mod registry;
#[cfg(test)]
mod state_tests;

use std::future::Future;

use tokio_util::sync::CancellationToken;

use crate::state::Interrupt;

/// When a run must stop: its cancellation token, and its deadline.
#[derive(Debug, Clone)]
pub(crate) struct Stop {
    pub(crate) cancel: CancellationToken,
    pub(crate) deadline: tokio::time::Instant,
}

/// Runs `work` unless the run is cancelled or out of time first; dropping `work` then
/// closes its connections, which is how the engine learns to stop a build.
pub(crate) async fn until_stopped<F: Future>(stop: &Stop, work: F) -> Result<F::Output, Interrupt> {
    tokio::select! {
        biased;
        () = stop.cancel.cancelled() => Err(Interrupt::Cancelled),
        () = tokio::time::sleep_until(stop.deadline) => Err(Interrupt::Deadline),
        out = work => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cancelled_run_stops_waiting() {
        let stop = Stop {
            cancel: CancellationToken::new(),
            deadline: tokio::time::Instant::now() + std::time::Duration::from_secs(60),
        };
        let canceller = stop.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            canceller.cancel();
        });
        let started = std::time::Instant::now();
        let out = until_stopped(&stop, std::future::pending::<()>()).await;
        assert_eq!(out, Err(Interrupt::Cancelled));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let late = Stop {
            cancel: CancellationToken::new(),
            deadline: tokio::time::Instant::now(),
        };
        assert_eq!(
            until_stopped(&late, std::future::pending::<()>()).await,
            Err(Interrupt::Deadline)
        );
    }
}
