//! Why and when a run stops: what the epoch callback ([`crate::host`]) and the networked
//! imports ([`crate::caps`]) share. Depends on nothing else in the crate.
//!
//! The epoch callback stops a run while wasm runs; during a networked call no wasm runs,
//! maybe for minutes, so such a call races the run's cancellation token and deadline
//! ([`until_stopped`]) and ends the run with the same [`Interrupt`].

use std::future::Future;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// Why a run was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupt {
    Deadline,
    Cancelled,
}

impl std::fmt::Display for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Interrupt::Deadline => f.write_str("step deadline reached"),
            Interrupt::Cancelled => f.write_str("step cancelled"),
        }
    }
}

impl std::error::Error for Interrupt {}

/// A run's clock and cancellation token, from which each host call cuts its [`Stop`].
#[derive(Debug, Clone)]
pub(crate) struct RunClock {
    started: Instant,
    timeout: Duration,
    cancel: CancellationToken,
}

impl RunClock {
    /// Starts the clock of a run that may take `timeout`.
    pub(crate) fn start(timeout: Duration, cancel: CancellationToken) -> RunClock {
        RunClock {
            started: Instant::now(),
            timeout,
            cancel,
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// When a host call must give up: the run's cancellation and its deadline.
    pub(crate) fn stop(&self) -> Stop {
        let left = self.timeout.saturating_sub(self.started.elapsed());
        Stop {
            cancel: self.cancel.clone(),
            deadline: tokio::time::Instant::now() + left,
        }
    }
}

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
