//! The env's Terraform state lock, from the engine's side: what a run writes into it, and
//! what it asks the executor to do with it.
//!
//! The lock's format and the protocol with the `state-lock` plugin are the contract's
//! ([`forge_contract::lock`]); the plugin does the S3/DynamoDB calls. What needs a clock,
//! randomness or the machine's identity is made here: a plugin has none of them.
//! The scheduler holds the lock as a scope around the [`crate::graph::Step::locked`]
//! steps (see [`crate::graph::StateLockScope`]).

use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

pub use forge_contract::lock::{Backend, ForgeInfo, LockAction, LockInfo, LockReply};

use crate::events::EventSink;

/// Terraform's operation name for a deploy.
pub const OPERATION_APPLY: &str = "OperationTypeApply";

/// One call to the env's lock.
#[derive(Debug, Clone)]
pub struct LockRequest {
    pub backend: Backend,
    pub action: LockAction,
    /// Stops a call that waits on the network.
    pub cancel: CancellationToken,
    pub events: EventSink,
}

/// A new lock info for this process: a fresh UUID, `user@host`, now.
pub fn new_info(
    backend: &Backend,
    operation: &str,
    forge: &ForgeInfo,
) -> std::io::Result<LockInfo> {
    Ok(LockInfo {
        id: uuid_v4()?,
        operation: operation.to_owned(),
        info: forge.render(),
        who: who(),
        version: format!("forge {}", env!("CARGO_PKG_VERSION")),
        created: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
        path: backend.path(),
    })
}

/// A random (version 4) UUID, as Terraform formats lock ids.
pub fn uuid_v4() -> std::io::Result<String> {
    use std::io::Read;
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// `user@host`, as Terraform's `Who`.
pub fn who() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    format!("{user}@{}", hostname())
}

/// This machine's host name, or `unknown`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// How long to wait before attempt `attempt` (1-based) to take a held lock: Terraform's
/// `-lock-timeout` backoff, 1 s doubling to 16 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(4))
}

/// The holder of a lock, for people: who, what, since when, and the forge run and commit
/// when forge holds it.
pub fn describe_holder(holder: &LockInfo) -> String {
    let mut out = format!("{} ({}", holder.who, holder.operation);
    if let Some(forge) = holder.forge() {
        out.push_str(&format!(", forge run {}", forge.run));
        if let Some(commit) = &forge.commit {
            out.push_str(&format!(" at commit {}", crate::text::short_hash(commit)));
        }
    } else if !holder.version.is_empty() {
        out.push_str(&format!(", {}", holder.version));
    }
    out.push(')');
    if let Some(ago) = age(&holder.created) {
        out.push_str(&format!(
            " since {} ({} ago)",
            holder.created,
            humantime::format_duration(ago)
        ));
    } else if !holder.created.is_empty() {
        out.push_str(&format!(" since {}", holder.created));
    }
    out.push_str(&format!(", lock ID {}", holder.id));
    out
}

/// How long ago an RFC 3339 time was, to the second.
pub fn age(created: &str) -> Option<Duration> {
    let then = humantime::parse_rfc3339_weak(created.trim_end_matches('Z')).ok()?;
    let ago = SystemTime::now().duration_since(then).ok()?;
    Some(Duration::from_secs(ago.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_uuids() {
        let a = uuid_v4().expect("urandom");
        let b = uuid_v4().expect("urandom");
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
        assert!(a.split('-').map(str::len).eq([8, 4, 4, 4, 12]));
    }

    #[test]
    fn backoff_is_terraforms() {
        let waits: Vec<u64> = (1..=7).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 16, 16]);
    }

    #[test]
    fn a_holder_is_described_with_its_forge_run() {
        let backend = Backend {
            bucket: "b".into(),
            key: "k".into(),
            region: "us-east-1".into(),
            endpoint: None,
            lockfile: true,
            table: None,
        };
        let forge = ForgeInfo {
            run: "r1".into(),
            commit: Some("0123456789abcdef0123".into()),
            command: "forge deploy".into(),
        };
        let info = new_info(&backend, OPERATION_APPLY, &forge).expect("info");
        assert_eq!(info.path, "b/k");
        assert_eq!(info.forge(), Some(forge));
        let text = describe_holder(&info);
        assert!(
            text.contains("forge run r1 at commit 0123456789ab"),
            "{text}"
        );
        assert!(text.contains(&info.id), "{text}");
        assert!(text.contains("ago)"), "{text}");
    }
}
