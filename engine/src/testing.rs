//! [`TestExecutor`]: a deterministic [`Executor`] for tests of the engine and the CLI.
//!
//! By default a step "runs" instantly and outputs a manifest derived from its fingerprint,
//! so any change of input changes the output, like a real plugin would. Tests steer it:
//!
//! - [`TestExecutor::output_override`]: fixed output for a step (an upstream that reruns but
//!   produces the same output: early cutoff);
//! - [`TestExecutor::fail`]: the step fails with a message;
//! - [`TestExecutor::block`]: the step waits until it is cancelled (Ctrl-C, `--timeout`);
//! - [`TestExecutor::rendezvous`]: every step waits until `n` steps have run at once, which
//!   proves parallelism without sleeping;
//! - the call log: [`TestExecutor::calls`], [`TestExecutor::max_concurrency`],
//!   [`TestExecutor::wait_started`];
//! - the state lock: an in-memory lock table with the plugin's semantics
//!   ([`TestExecutor::locks`], [`TestExecutor::lock_calls`], [`TestExecutor::hold_lock`]
//!   for a holder from elsewhere), and which steps ran holding it
//!   ([`TestExecutor::ran_locked`]);
//! - `terraform plan`: [`TestExecutor::terraform_plans`] counts them; the answer is
//!   [`TestExecutor::plan_summary`] (no changes by default);
//! - rechecks of cached results: fresh unless [`TestExecutor::stale`] says what changed
//!   ([`TestExecutor::rechecks`] counts them).
//!
//! The CLI selects it instead of the wasm host when `FORGE_TEST_EXECUTOR` is set (see
//! [`TestExecutor::from_env`]), so its integration tests run without Docker or AWS.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::events::Event;
use crate::executor::{Executor, StepError, StepOutput, StepRequest};
use crate::lock::{LockAction, LockInfo, LockReply, LockRequest};
use crate::recheck::{RecheckRequest, Rechecker, Verdict};

/// The environment variable that makes the CLI use a [`TestExecutor`]; its value is a
/// [`TestExecutor::from_spec`] spec (may be empty).
pub const TEST_EXECUTOR_ENV: &str = "FORGE_TEST_EXECUTOR";

#[derive(Debug, Default)]
struct State {
    overrides: BTreeMap<String, serde_json::Value>,
    failures: BTreeMap<String, String>,
    blocked: BTreeSet<String>,
    rendezvous: usize,
    calls: Vec<String>,
    running: usize,
    max_running: usize,
    /// Lock path → holder.
    locks: BTreeMap<String, LockInfo>,
    lock_calls: Vec<String>,
    ran_locked: BTreeSet<String>,
    /// Step → what changed outside, for its next rechecks.
    stale: BTreeMap<String, String>,
    rechecks: Vec<String>,
    plan_summary: forge_contract::terraform::PlanSummary,
    /// Step → the upstream steps it saw, per `terraform_plan` call.
    terraform_plans: Vec<(String, Vec<String>)>,
}

/// See the module docs. Shared between the test and the engine through an `Arc`.
#[derive(Debug, Default)]
pub struct TestExecutor {
    state: Mutex<State>,
    /// Woken whenever a step starts or ends, for the waits above.
    changed: Notify,
}

impl TestExecutor {
    /// What stands for the plugin in the fingerprint of a step this executor runs
    /// ([`crate::session::Session::executor_identity`]): its results are stored apart
    /// from real plugins' results, so a store it was used on is not poisoned.
    pub const IDENTITY: &'static str = "forge-test-executor";

    pub fn new() -> TestExecutor {
        TestExecutor::default()
    }

    /// Built from `FORGE_TEST_EXECUTOR` when it is set (see [`TestExecutor::from_spec`]).
    pub fn from_env() -> Option<Result<TestExecutor, String>> {
        std::env::var(TEST_EXECUTOR_ENV)
            .ok()
            .map(|spec| TestExecutor::from_spec(&spec))
    }

    /// Parses `;`-separated controls: `fail:STEP=message`, `block:STEP`,
    /// `output:STEP={"json":1}`, `stale:STEP=what changed`. An empty spec is a plain
    /// executor.
    pub fn from_spec(spec: &str) -> Result<TestExecutor, String> {
        let exec = TestExecutor::new();
        for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (kind, rest) = part
                .split_once(':')
                .ok_or_else(|| format!("`{part}`: expected fail:, block:, output: or stale:"))?;
            match kind {
                "block" => {
                    exec.block(rest);
                }
                "stale" => {
                    let (step, detail) = rest.split_once('=').unwrap_or((rest, "changed"));
                    exec.stale(step, detail);
                }
                "fail" => {
                    let (step, msg) = rest.split_once('=').unwrap_or((rest, "test failure"));
                    exec.fail(step, msg);
                }
                "output" => {
                    let (step, json) = rest
                        .split_once('=')
                        .ok_or_else(|| format!("`{part}`: expected output:STEP=JSON"))?;
                    let value = serde_json::from_str(json)
                        .map_err(|e| format!("`{part}`: invalid JSON: {e}"))?;
                    exec.output_override(step, value);
                }
                other => return Err(format!("unknown test executor control `{other}`")),
            }
        }
        Ok(exec)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock already failed; keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `step` outputs exactly `manifest` (until [`TestExecutor::clear`]).
    pub fn output_override(&self, step: &str, manifest: serde_json::Value) -> &Self {
        self.state().overrides.insert(step.to_string(), manifest);
        self
    }

    /// `step` fails with `message` (until [`TestExecutor::clear`]).
    pub fn fail(&self, step: &str, message: &str) -> &Self {
        self.state()
            .failures
            .insert(step.to_string(), message.to_string());
        self
    }

    /// `step` waits until its cancel token fires, then reports `Cancelled`.
    pub fn block(&self, step: &str) -> &Self {
        self.state().blocked.insert(step.to_string());
        self
    }

    /// Every step waits (or is cancelled) until `n` steps have been running at once.
    /// Only use with at least `n` independent steps and `-j >= n`, or the run never ends.
    pub fn rendezvous(&self, n: usize) -> &Self {
        self.state().rendezvous = n;
        self
    }

    /// A recheck of `step`'s cached result finds it stale: `detail` changed outside.
    pub fn stale(&self, step: &str, detail: &str) -> &Self {
        self.state()
            .stale
            .insert(step.to_string(), detail.to_string());
        self
    }

    /// What `terraform plan` answers from now on.
    pub fn plan_summary(&self, summary: forge_contract::terraform::PlanSummary) -> &Self {
        self.state().plan_summary = summary;
        self
    }

    /// The `terraform plan` calls so far: the step, and the upstream outputs it was given.
    pub fn terraform_plans(&self) -> Vec<(String, Vec<String>)> {
        self.state().terraform_plans.clone()
    }

    /// The steps whose cached results were rechecked, in order.
    pub fn rechecks(&self) -> Vec<String> {
        self.state().rechecks.clone()
    }

    /// Drops every control for `step` (override, failure, block, stale).
    pub fn clear(&self, step: &str) -> &Self {
        let mut state = self.state();
        state.stale.remove(step);
        state.overrides.remove(step);
        state.failures.remove(step);
        state.blocked.remove(step);
        self
    }

    /// Steps executed so far, in the order they started.
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    /// How many times `step` was executed.
    pub fn count(&self, step: &str) -> usize {
        self.state().calls.iter().filter(|c| *c == step).count()
    }

    /// The most steps that were running at the same time.
    pub fn max_concurrency(&self) -> usize {
        self.state().max_running
    }

    /// Forgets the call log (controls stay), between two runs of one test.
    pub fn reset_log(&self) {
        let mut state = self.state();
        state.calls.clear();
        state.max_running = 0;
        state.lock_calls.clear();
        state.ran_locked.clear();
        state.rechecks.clear();
    }

    /// Who holds each lock path now.
    pub fn locks(&self) -> BTreeMap<String, LockInfo> {
        self.state().locks.clone()
    }

    /// The lock calls made so far: `acquire`, `release`, `status`.
    pub fn lock_calls(&self) -> Vec<String> {
        self.state().lock_calls.clone()
    }

    /// Someone else holds the lock at `path` (`<bucket>/<key>`).
    pub fn hold_lock(&self, path: &str, holder: LockInfo) -> &Self {
        self.state().locks.insert(path.to_owned(), holder);
        self
    }

    /// The holder of the lock at `path` lets it go.
    pub fn release_lock(&self, path: &str) -> &Self {
        self.state().locks.remove(path);
        self
    }

    /// The steps that ran with the state lock held for them.
    pub fn ran_locked(&self) -> BTreeSet<String> {
        self.state().ran_locked.clone()
    }

    /// Resolves once `step` has started executing.
    pub async fn wait_started(&self, step: &str) {
        loop {
            let changed = self.changed.notified();
            if self.state().calls.iter().any(|c| c == step) {
                return;
            }
            changed.await;
        }
    }

    /// The manifest a step outputs when not overridden: a function of its whole fingerprint.
    pub fn derived_output(request: &StepRequest) -> serde_json::Value {
        let encoded = serde_json::to_vec(&*request.fingerprint).unwrap_or_default();
        serde_json::json!({
            "step": request.step.id,
            "plugin": request.step.plugin,
            "inputs": blake3::hash(&encoded).to_hex().to_string(),
        })
    }

    async fn execute(&self, request: &StepRequest) -> Result<StepOutput, StepError> {
        let id = request.step.id.as_str();
        let (blocked, rendezvous) = {
            let state = self.state();
            (state.blocked.contains(id), state.rendezvous)
        };
        if rendezvous > 1 {
            loop {
                let changed = self.changed.notified();
                if self.state().max_running >= rendezvous {
                    break;
                }
                tokio::select! {
                    _ = changed => {}
                    _ = request.cancel.cancelled() => return Err(StepError::Cancelled),
                }
            }
        }
        if blocked {
            request.cancel.cancelled().await;
            return Err(StepError::Cancelled);
        }
        let state = self.state();
        if let Some(message) = state.failures.get(id) {
            return Err(StepError::Failed {
                message: message.clone(),
                help: None,
            });
        }
        let manifest = match state.overrides.get(id) {
            Some(value) => value.clone(),
            None => TestExecutor::derived_output(request),
        };
        Ok(StepOutput::new(manifest))
    }
}

impl Executor for TestExecutor {
    async fn run(&self, request: StepRequest) -> Result<StepOutput, StepError> {
        {
            let mut state = self.state();
            state.calls.push(request.step.id.clone());
            if request.lock.is_some() {
                state.ran_locked.insert(request.step.id.clone());
            }
            state.running += 1;
            state.max_running = state.max_running.max(state.running);
        }
        self.changed.notify_waiters();
        request.events.send(Event::StepLog {
            step: request.step.id.clone(),
            line: "test executor: running".to_string(),
        });
        let result = self.execute(&request).await;
        self.state().running -= 1;
        self.changed.notify_waiters();
        result
    }

    async fn recheck(&self, request: RecheckRequest) -> Result<Verdict, StepError> {
        Rechecker::recheck(self, request)
    }

    async fn terraform_plan(
        &self,
        request: StepRequest,
        _lock_timeout: std::time::Duration,
    ) -> Result<forge_contract::terraform::PlanSummary, StepError> {
        let mut state = self.state();
        state.terraform_plans.push((
            request.step.id.clone(),
            request.upstream.keys().cloned().collect(),
        ));
        Ok(state.plan_summary)
    }

    async fn state_lock(&self, request: LockRequest) -> Result<LockReply, StepError> {
        let path = request.backend.path();
        let mut state = self.state();
        let (call, reply) = match request.action {
            LockAction::Acquire { info } => match state.locks.get(&path) {
                Some(holder) => (
                    "acquire",
                    LockReply::Held {
                        holder: holder.clone(),
                    },
                ),
                None => {
                    state.locks.insert(path, info);
                    ("acquire", LockReply::Acquired)
                }
            },
            LockAction::Release { id } => match state.locks.get(&path) {
                None => ("release", LockReply::Free),
                Some(holder) if holder.id == id => {
                    state.locks.remove(&path);
                    ("release", LockReply::Released)
                }
                Some(holder) => (
                    "release",
                    LockReply::Held {
                        holder: holder.clone(),
                    },
                ),
            },
            LockAction::Status => match state.locks.get(&path) {
                None => ("status", LockReply::Free),
                Some(holder) => (
                    "status",
                    LockReply::Held {
                        holder: holder.clone(),
                    },
                ),
            },
        };
        state.lock_calls.push(call.to_owned());
        Ok(reply)
    }
}

/// Sync, for `plan` and `explain` tests: the same answers as [`Executor::recheck`].
impl Rechecker for TestExecutor {
    fn recheck(&self, request: RecheckRequest) -> Result<Verdict, StepError> {
        let mut state = self.state();
        state.rechecks.push(request.step.id.clone());
        Ok(match state.stale.get(&request.step.id) {
            Some(detail) => Verdict::Stale {
                detail: detail.clone(),
            },
            None => Verdict::Fresh,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_sets_each_control() {
        let exec = TestExecutor::from_spec(
            r#"fail:compile=boom; block:deploy ; output:gen={"digest":"sha256:1"}"#,
        )
        .expect("valid spec");
        let state = exec.state();
        assert_eq!(state.failures["compile"], "boom");
        assert!(state.blocked.contains("deploy"));
        assert_eq!(state.overrides["gen"]["digest"], "sha256:1");
    }

    #[test]
    fn spec_errors_name_the_bad_part() {
        let err = TestExecutor::from_spec("explode:x").expect_err("unknown control");
        assert!(err.contains("explode"), "{err}");
        let err = TestExecutor::from_spec("output:gen={not json").expect_err("bad JSON");
        assert!(err.contains("invalid JSON"), "{err}");
        assert!(TestExecutor::from_spec("").is_ok());
    }
}

/// An in-memory object store with S3's conditional create, for tests and benchmarks of
/// the remote cache ([`crate::remote`]) that need no S3. A test double: forge's own
/// remote is S3 (the CLI's), and its tests run against moto.
#[derive(Debug, Default)]
pub struct MemoryObjects(Mutex<BTreeMap<String, Vec<u8>>>);

impl MemoryObjects {
    /// The object under `key`, read directly.
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        self.objects().get(key).cloned()
    }

    /// Writes `key` unconditionally (a test tampering with the remote).
    pub fn replace(&self, key: &str, body: Vec<u8>) {
        self.objects().insert(key.to_owned(), body);
    }

    fn objects(&self) -> MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl crate::remote::ObjectStore for MemoryObjects {
    fn get<'a>(
        &'a self,
        key: &'a str,
    ) -> crate::remote::BoxFuture<'a, Result<Option<Vec<u8>>, String>> {
        Box::pin(async move { Ok(self.object(key)) })
    }

    fn exists<'a>(&'a self, key: &'a str) -> crate::remote::BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move { Ok(self.objects().contains_key(key)) })
    }

    fn put_if_absent<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
    ) -> crate::remote::BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            let mut objects = self.objects();
            if objects.contains_key(key) {
                return Ok(false);
            }
            objects.insert(key.to_owned(), body);
            Ok(true)
        })
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}
