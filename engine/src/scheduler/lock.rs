//! The env's state lock as a scope the scheduler holds (see
//! [`crate::graph::StateLockScope`] for why it is no step).
//!
//! - Taken lazily: the first [`Step::locked`](crate::graph::Step::locked) step that misses
//!   the cache calls [`HeldLock::ensure`] right before it runs; every later one finds it
//!   held. A run whose locked steps are all cached never takes it.
//! - Held by someone else: retried with Terraform's backoff for up to `--lock-timeout`
//!   (default 0: fail at once, naming the holder), telling the user once who holds it.
//! - Released by the coordinator once every locked step of the run has finished, however
//!   it finished, and in any case before the run returns: on success, a failed or trapped
//!   step, `--timeout` and Ctrl-C/SIGTERM alike. Only a process killed outright leaves it
//!   (then `forge lock status` names the run and `forge lock force-unlock` frees it).

use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::events::{Event, EventSink, LockChange};
use crate::executor::{Executor, StepError};
use crate::lock::{self, Backend, ForgeInfo, LockAction, LockInfo, LockReply, LockRequest};

/// How long releasing may take before the run gives up and reports the lock left.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(60);

/// The lock of one run.
pub(crate) struct HeldLock {
    backend: Backend,
    env: String,
    forge: ForgeInfo,
    timeout: Duration,
    state: Mutex<State>,
    events: EventSink,
}

enum State {
    NotTaken,
    Held(LockInfo),
    /// Taking it failed: every locked step fails with this.
    Failed(String),
    Released,
}

impl HeldLock {
    pub(crate) fn new(
        backend: Backend,
        env: String,
        forge: ForgeInfo,
        timeout: Duration,
        events: EventSink,
    ) -> HeldLock {
        HeldLock {
            backend,
            env,
            forge,
            timeout,
            state: Mutex::new(State::NotTaken),
            events,
        }
    }

    fn send(&self, change: LockChange) {
        self.events.send(Event::StateLock {
            env: self.env.clone(),
            change,
        });
    }

    /// Holds the lock, taking it if this is the first locked step to run. `Err` is the
    /// locked step's failure: held by someone else past the timeout, or unreachable.
    pub(crate) async fn ensure<E: Executor>(
        &self,
        executor: &E,
        cancel: &CancellationToken,
    ) -> Result<LockInfo, StepError> {
        let mut state = self.state.lock().await;
        match &*state {
            State::Held(info) => return Ok(info.clone()),
            State::Failed(message) => {
                return Err(StepError::Failed {
                    message: message.clone(),
                    help: None,
                });
            }
            State::Released => {
                return Err(StepError::Failed {
                    message: "the state lock was already released for this run".to_owned(),
                    help: None,
                });
            }
            State::NotTaken => {}
        }
        match self.acquire(executor, cancel).await {
            Ok(info) => {
                *state = State::Held(info.clone());
                Ok(info)
            }
            Err(StepError::Cancelled) => Err(StepError::Cancelled),
            Err(e @ StepError::Failed { .. }) => {
                *state = State::Failed(format!(
                    "the state lock was not taken: {}",
                    super::failure_reason(&e)
                ));
                Err(e)
            }
        }
    }

    async fn acquire<E: Executor>(
        &self,
        executor: &E,
        cancel: &CancellationToken,
    ) -> Result<LockInfo, StepError> {
        let info =
            lock::new_info(&self.backend, lock::OPERATION_APPLY, &self.forge).map_err(|e| {
                StepError::Failed {
                    message: format!("cannot make a lock id: reading /dev/urandom: {e}"),
                    help: None,
                }
            })?;
        let started = Instant::now();
        let mut attempt = 0u32;
        let mut told: Option<String> = None;
        loop {
            let request = LockRequest {
                backend: self.backend.clone(),
                action: LockAction::Acquire { info: info.clone() },
                cancel: cancel.clone(),
                events: self.events.clone(),
            };
            match executor.state_lock(request).await? {
                LockReply::Acquired => {
                    self.send(LockChange::Acquired {
                        lock: info.clone(),
                        backend: self.backend.describe(),
                    });
                    return Ok(info);
                }
                LockReply::Held { holder } => {
                    attempt += 1;
                    let wait = lock::backoff(attempt);
                    if started.elapsed() + wait > self.timeout {
                        return Err(held_error(&holder, &self.env, self.timeout));
                    }
                    if told.as_deref() != Some(holder.id.as_str()) {
                        told = Some(holder.id.clone());
                        self.send(LockChange::Waiting {
                            holder,
                            timeout: self.timeout,
                        });
                    }
                    tokio::select! {
                        () = cancel.cancelled() => return Err(StepError::Cancelled),
                        () = tokio::time::sleep(wait) => {}
                    }
                }
                other => {
                    return Err(StepError::Failed {
                        message: format!("the state-lock plugin answered {other:?} to acquire"),
                        help: None,
                    });
                }
            }
        }
    }

    /// Releases the lock if this run holds it. `Some(id)` when it could not: the run
    /// fails and says how to free it.
    pub(crate) async fn release<E: Executor>(&self, executor: &E) -> Option<String> {
        let mut state = self.state.lock().await;
        let State::Held(info) = std::mem::replace(&mut *state, State::Released) else {
            return None;
        };
        // Not the run's token: a cancelled run must still release what it holds.
        let cancel = CancellationToken::new();
        let request = LockRequest {
            backend: self.backend.clone(),
            action: LockAction::Release {
                id: info.id.clone(),
            },
            cancel: cancel.clone(),
            events: self.events.clone(),
        };
        let outcome = tokio::time::timeout(RELEASE_TIMEOUT, executor.state_lock(request)).await;
        let message = match outcome {
            // Someone force-unlocked it meanwhile: nothing of ours is left.
            Ok(Ok(LockReply::Released | LockReply::Free)) => {
                self.send(LockChange::Released {
                    id: info.id.clone(),
                });
                return None;
            }
            Ok(Ok(LockReply::Held { holder })) => {
                // Force-unlocked and taken by someone else: not ours to free any more.
                self.events.send(Event::Warning {
                    message: format!(
                        "state lock {} was released by someone else, and is now held by {}",
                        info.id,
                        lock::describe_holder(&holder)
                    ),
                });
                return None;
            }
            Ok(Ok(other)) => format!("the state-lock plugin answered {other:?}"),
            Ok(Err(e)) => e.to_string(),
            Err(_) => {
                cancel.cancel();
                format!(
                    "no answer within {}",
                    humantime::format_duration(RELEASE_TIMEOUT)
                )
            }
        };
        self.send(LockChange::NotReleased {
            id: info.id.clone(),
            message,
        });
        Some(info.id)
    }
}

/// The error of a deploy that found the lock held.
pub(crate) fn held_error(holder: &LockInfo, env: &str, waited: Duration) -> StepError {
    let waited = if waited.is_zero() {
        String::new()
    } else {
        format!(" after waiting {}", humantime::format_duration(waited))
    };
    StepError::Failed {
        message: format!(
            "the state lock of env `{env}` is held by {}{waited}",
            lock::describe_holder(holder)
        ),
        help: Some(format!(
            "wait for it to finish (`--lock-timeout 5m` waits for you), or, if that process is gone, `forge lock force-unlock {} --env {env}`",
            holder.id
        )),
    }
}
