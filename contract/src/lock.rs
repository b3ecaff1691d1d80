//! The env's Terraform state lock, as forge and its `state-lock` plugin speak about it
//! (feature `lock`).
//!
//! forge holds Terraform's own lock, in Terraform's own format, so a colleague's
//! `terraform plan` waits for forge and forge waits for them:
//!
//! - **S3 lockfile** (`use_lockfile = true`): the object `<key>.tflock` in the state
//!   bucket, written only if absent (`If-None-Match: *`); its body is the [`LockInfo`] JSON.
//! - **DynamoDB** (`dynamodb_table`): the item `LockID = "<bucket>/<key>"`, written only if
//!   absent (`attribute_not_exists(LockID)`); its `Info` attribute is the [`LockInfo`] JSON.
//! - **Both**: the lockfile first, then the item; when the item cannot be taken the file
//!   is deleted again (Terraform's order). Releasing removes both.
//!
//! Releasing is ID-checked: read, compare [`LockInfo::id`], then delete. The engine asks
//! the plugin with a [`LockCall`] (the step's config) and reads a [`LockReply`] (its
//! manifest); randomness, clocks and retries stay in the engine, which has them.
//!
//! [`StateIdentity`] and [`AppliedState`] are what a cached `terraform-apply` is
//! rechecked against: the state object as the apply left it.

use serde::{Deserialize, Serialize};

/// The built-in plugin that speaks the lock protocol.
pub const PLUGIN: &str = "state-lock";

/// Where the state is and which lock guards it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Backend {
    pub bucket: String,
    /// The state object's key (the env's, `{env}` already replaced).
    pub key: String,
    pub region: String,
    /// An S3/DynamoDB endpoint override (a local moto server); path-style addressing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Take the S3 lockfile `<key>.tflock`.
    pub lockfile: bool,
    /// Take the item in this DynamoDB table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
}

impl Backend {
    /// `<bucket>/<key>`: the lock's `Path`, and the DynamoDB item's `LockID`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.bucket, self.key)
    }

    /// The S3 lockfile's key.
    pub fn lockfile_key(&self) -> String {
        format!("{}.tflock", self.key)
    }

    /// How the lock is taken, for people: `S3 lockfile`, `DynamoDB table T`, or both.
    pub fn describe(&self) -> String {
        match (&self.table, self.lockfile) {
            (None, _) => format!("S3 lockfile s3://{}/{}", self.bucket, self.lockfile_key()),
            (Some(table), false) => format!("DynamoDB table {table}, LockID {}", self.path()),
            (Some(table), true) => format!(
                "S3 lockfile s3://{}/{} and DynamoDB table {table}",
                self.bucket,
                self.lockfile_key()
            ),
        }
    }
}

/// Terraform's lock info (`statemgr.LockInfo`), field for field: its JSON has Go's field
/// names, and Terraform shows these fields when it finds the lock held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// A random UUID-formatted id; releasing needs it.
    #[serde(rename = "ID")]
    pub id: String,
    /// `OperationTypeApply`, `OperationTypePlan`, ...
    #[serde(rename = "Operation", default)]
    pub operation: String,
    /// Free text: forge writes [`ForgeInfo`] here.
    #[serde(rename = "Info", default)]
    pub info: String,
    /// `user@host`.
    #[serde(rename = "Who", default)]
    pub who: String,
    /// The version of the tool holding it.
    #[serde(rename = "Version", default)]
    pub version: String,
    /// UTC RFC 3339 with nanoseconds.
    #[serde(rename = "Created", default)]
    pub created: String,
    /// `<bucket>/<key>`.
    #[serde(rename = "Path", default)]
    pub path: String,
}

impl LockInfo {
    /// The forge run behind the lock, when forge holds it.
    pub fn forge(&self) -> Option<ForgeInfo> {
        ForgeInfo::parse(&self.info)
    }
}

/// What forge writes in [`LockInfo::info`]: `forge run <id> commit <sha>: <command>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ForgeInfo {
    pub run: String,
    pub commit: Option<String>,
    pub command: String,
}

impl ForgeInfo {
    const PREFIX: &'static str = "forge run ";

    /// The text for [`LockInfo::info`].
    pub fn render(&self) -> String {
        let commit = self
            .commit
            .as_deref()
            .map_or(String::new(), |c| format!(" commit {c}"));
        format!("{}{}{commit}: {}", Self::PREFIX, self.run, self.command)
    }

    /// Reads back what [`ForgeInfo::render`] wrote; `None` for anything else (Terraform's
    /// own locks have an empty `Info`).
    pub fn parse(text: &str) -> Option<ForgeInfo> {
        let rest = text.strip_prefix(Self::PREFIX)?;
        let (head, command) = rest.split_once(": ").unwrap_or((rest, ""));
        let mut words = head.split(' ');
        let run = words.next().filter(|r| !r.is_empty())?.to_owned();
        let commit = match (words.next(), words.next()) {
            (Some("commit"), Some(sha)) => Some(sha.to_owned()),
            _ => None,
        };
        Some(ForgeInfo {
            run,
            commit,
            command: command.to_owned(),
        })
    }
}

/// What the engine asks the `state-lock` plugin: its step config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockCall {
    pub backend: Backend,
    #[serde(flatten)]
    pub action: LockAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum LockAction {
    /// Take the lock with this info, unless someone holds it.
    Acquire { info: LockInfo },
    /// Release the lock whose id is `id` (forge's own, or `force-unlock ID`).
    Release { id: String },
    /// Who holds it, if anyone.
    Status,
}

/// What the plugin answers: its output manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum LockReply {
    /// The lock is ours now.
    Acquired,
    /// Someone holds it (acquire, status) — or holds a different one than the id given
    /// (release): this is who.
    Held { holder: LockInfo },
    /// Released.
    Released,
    /// Nobody holds it.
    Free,
}

/// The state object's identity: what changes whenever anyone writes the state.
/// `terraform-apply` records it after its apply (one HEAD), and a cached apply is served
/// only while a HEAD still finds the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateIdentity {
    pub etag: String,
    /// The object's version, in a versioned bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

impl std::fmt::Display for StateIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ETag {}", self.etag)?;
        if let Some(version) = &self.version_id {
            write!(f, " version {version}")?;
        }
        Ok(())
    }
}

/// The part of `terraform-apply`'s manifest the engine's host reads back: the state
/// object as the step left it (`None`: the env has no state backend, or Terraform wrote
/// no state). The plugin flattens this into its manifest, so the field has one owner.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AppliedState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateIdentity>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_info_has_terraforms_field_names() {
        let json = r#"{"ID":"c1ffc432-00c2-e689-b6cc-e98e0f579292","Operation":"OperationTypeApply","Info":"","Who":"root@vm","Version":"1.11.4","Created":"2026-12-03T03:23:36.529638972Z","Path":"tfstate/envs/dev/terraform.tfstate"}"#;
        let info: LockInfo = serde_json::from_str(json).expect("terraform's lock info");
        assert_eq!(info.id, "c1ffc432-00c2-e689-b6cc-e98e0f579292");
        assert_eq!(info.who, "root@vm");
        assert_eq!(info.forge(), None);
        let back = serde_json::to_string(&info).expect("json");
        assert_eq!(back, json);
    }

    #[test]
    fn forge_info_round_trips() {
        let info = ForgeInfo {
            run: "1764732216529-3f2a".into(),
            commit: Some("0123abc".into()),
            command: "forge deploy --env prod".into(),
        };
        assert_eq!(ForgeInfo::parse(&info.render()), Some(info.clone()));
        let no_commit = ForgeInfo {
            commit: None,
            ..info
        };
        assert_eq!(ForgeInfo::parse(&no_commit.render()), Some(no_commit));
        assert_eq!(ForgeInfo::parse("someone else"), None);
    }

    #[test]
    fn calls_and_replies_are_tagged_json() {
        let call = LockCall {
            backend: Backend {
                bucket: "b".into(),
                key: "app/prod/terraform.tfstate".into(),
                region: "us-east-1".into(),
                endpoint: None,
                lockfile: true,
                table: Some("locks".into()),
            },
            action: LockAction::Release { id: "x".into() },
        };
        let json = serde_json::to_value(&call).expect("json");
        assert_eq!(json["action"], "release");
        assert_eq!(json["id"], "x");
        assert_eq!(
            serde_json::from_value::<LockCall>(json).expect("back"),
            call
        );
        assert_eq!(call.backend.path(), "b/app/prod/terraform.tfstate");
        assert_eq!(
            call.backend.lockfile_key(),
            "app/prod/terraform.tfstate.tflock"
        );
        let reply: LockReply = serde_json::from_str(r#"{"status":"free"}"#).expect("reply");
        assert_eq!(reply, LockReply::Free);
    }
}
