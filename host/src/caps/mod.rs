//! The capabilities that reach past the sandbox: the Docker engine (`docker`), image
//! registries (`registry`) and AWS (`aws`).
//!
//! Each module does its work in plain async functions that know nothing of wasm, so the
//! integration tests in `host/tests` drive them against real local components, and other
//! crates (benchmarks, tools) can call them too. The `impl <interface>::Host for HostState` next to them
//! is a thin layer adding what only a run has: its log, its output files, its upstream
//! steps' files, its credentials table, and stopping when the run is cancelled or out of
//! time.
//!
//! Stopping matters here more than anywhere: epoch interruption only fires while wasm
//! runs, and during one of these calls no wasm runs, maybe for minutes. So every call
//! races the run's cancellation token and deadline (`until_stopped`) and traps with the
//! same interrupt the epoch callback would have used.

pub mod aws;
pub mod docker;
pub mod oci;
pub mod registry;
#[cfg(test)]
mod state_tests;

use std::error::Error as StdError;
use std::future::Future;
use std::sync::OnceLock;

use tokio_util::sync::CancellationToken;

use crate::state::Interrupt;

/// Clients shared by every run of one [`crate::Host`]: connecting to the engine
/// (negotiating its API version), loading TLS roots and building AWS SDK configs is done
/// once, not per step.
#[derive(Default)]
pub(crate) struct Clients {
    docker: tokio::sync::OnceCell<bollard::Docker>,
    registry: OnceLock<registry::RegistryClient>,
    aws: aws::Aws,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("docker", &self.docker.initialized())
            .finish_non_exhaustive()
    }
}

impl Clients {
    /// The engine `DOCKER_HOST` names. A failure is not remembered: the next step tries
    /// again, so starting the engine mid-run helps.
    pub(crate) async fn docker(&self) -> Result<bollard::Docker, docker::DockerError> {
        self.docker
            .get_or_try_init(|| docker::connect(None))
            .await
            .cloned()
    }

    pub(crate) fn registry(&self) -> &registry::RegistryClient {
        self.registry.get_or_init(registry::RegistryClient::new)
    }

    pub(crate) fn aws(&self) -> &aws::Aws {
        &self.aws
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

/// Why a connection failed, in a few words (`connection refused`), when an I/O error in
/// `error`'s source chain says so.
pub(crate) fn connect_reason(error: &(dyn StdError + 'static)) -> Option<String> {
    use std::io::ErrorKind;
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            let reason = match io.kind() {
                ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                ErrorKind::NotFound => "no such socket".to_owned(),
                ErrorKind::PermissionDenied => "permission denied".to_owned(),
                ErrorKind::TimedOut => "timed out".to_owned(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                    "the connection was reset".to_owned()
                }
                ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => {
                    "no route to host".to_owned()
                }
                _ => io.to_string(),
            };
            return Some(reason);
        }
        let text = e.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return Some("the host name does not resolve".to_owned());
        }
        current = e.source();
    }
    None
}

/// The innermost message of an error chain: usually the one that says what happened.
pub(crate) fn innermost(error: &(dyn StdError + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_come_from_the_io_error_anywhere_in_the_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let refused = Outer(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(
            connect_reason(&refused).as_deref(),
            Some("connection refused")
        );
        assert_eq!(innermost(&refused), "connection refused");
        let plain = std::fmt::Error;
        assert_eq!(connect_reason(&plain), None);
    }

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
