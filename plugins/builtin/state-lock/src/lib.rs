//! The `state-lock` built-in: Terraform's state lock for one env, in Terraform's format,
//! so forge and `terraform` exclude each other.
//!
//! forge runs it with a [`LockCall`] as config (not as a step of the graph: the scheduler
//! holds the lock as a scope around the steps that change infrastructure) and reads the
//! [`LockReply`] manifest. The lock info (a random id, who, when) comes from the engine:
//! a plugin has no randomness or clock, and needs none.
//!
//! - **Acquire**: the S3 lockfile `<key>.tflock` written only if absent, then the DynamoDB
//!   item `LockID = "<bucket>/<key>"` only if absent (Terraform's order); when the item
//!   is held, the lockfile just written is deleted again. A held lock answers `held` with
//!   the holder's info, read back from where it is held.
//! - **Release**: for each lock kind, read the holder; if its `ID` is not ours, answer
//!   `held` with it and touch nothing; else delete. Both gone: `released`; nothing there:
//!   `free`.
//! - **Status**: the holder from the lockfile, else from the item, else `free`.

use forge_plugin_sdk::lock::{Backend, LockAction, LockCall, LockInfo, LockReply};
use forge_plugin_sdk::{
    AwsError, AwsTarget, Context, Error, Info, Item, Plugin, capability, export_plugin,
};

/// The DynamoDB key attribute Terraform's lock table has.
pub const LOCK_ID: &str = "LockID";
/// The attribute holding the lock info JSON.
pub const INFO: &str = "Info";

pub struct StateLock;

impl Plugin for StateLock {
    type Config = LockCall;
    type Output = LockReply;

    fn info() -> Info {
        Info::new(
            "state-lock",
            "Terraform's S3 lockfile / DynamoDB state lock, in Terraform's format",
        )
        .capability(capability::AWS)
    }

    fn run(ctx: &mut Context, call: LockCall) -> Result<LockReply, Error> {
        let lock = Lock {
            ctx,
            backend: &call.backend,
            target: AwsTarget {
                region: Some(call.backend.region.clone()),
                endpoint: call.backend.endpoint.clone(),
            },
        };
        match &call.action {
            LockAction::Acquire { info } => lock.acquire(info),
            LockAction::Release { id } => lock.release(id),
            LockAction::Status => lock.status(),
        }
    }
}

struct Lock<'a> {
    ctx: &'a Context,
    backend: &'a Backend,
    target: AwsTarget,
}

impl Lock<'_> {
    fn acquire(&self, info: &LockInfo) -> Result<LockReply, Error> {
        let json = serde_json::to_string(info).map_err(|e| Error::new(e.to_string()))?;
        if self.backend.lockfile {
            match self.ctx.s3_put_object(
                &self.target,
                &self.backend.bucket,
                &self.backend.lockfile_key(),
                json.as_bytes(),
                true,
            ) {
                Ok(_) => {}
                Err(AwsError::PreconditionFailed) => return self.held_by_lockfile(),
                Err(e) => return Err(self.failed("writing the lockfile", e)),
            }
        }
        if let Some(table) = &self.backend.table {
            let item = Item::from([
                (LOCK_ID.to_owned(), self.backend.path()),
                (INFO.to_owned(), json),
            ]);
            let taken = self
                .ctx
                .dynamodb_put_item(&self.target, table, &item, Some(LOCK_ID));
            if let Err(e) = taken {
                // Terraform's order: the file is given back when the item cannot be had.
                if self.backend.lockfile {
                    self.delete_lockfile()?;
                }
                return match e {
                    AwsError::ConditionalCheckFailed => self.held_by_item(table),
                    e => Err(self.failed("writing the lock item", e)),
                };
            }
        }
        self.ctx.info(format!(
            "state lock {} taken ({})",
            info.id,
            self.backend.describe()
        ));
        Ok(LockReply::Acquired)
    }

    fn release(&self, id: &str) -> Result<LockReply, Error> {
        let file = if self.backend.lockfile {
            self.lockfile_holder()?
        } else {
            None
        };
        let item = match &self.backend.table {
            Some(table) => self.item_holder(table)?,
            None => None,
        };
        // Someone else's lock is reported and left alone, wherever it is held.
        for holder in file.iter().chain(item.iter()) {
            if holder.id != id {
                return Ok(LockReply::Held {
                    holder: holder.clone(),
                });
            }
        }
        if file.is_none() && item.is_none() {
            return Ok(LockReply::Free);
        }
        if let (Some(table), Some(_)) = (&self.backend.table, &item) {
            self.ctx
                .dynamodb_delete_item(&self.target, table, (LOCK_ID, &self.backend.path()))
                .map_err(|e| self.failed("deleting the lock item", e))?;
        }
        if file.is_some() {
            self.delete_lockfile()?;
        }
        self.ctx.info(format!("state lock {id} released"));
        Ok(LockReply::Released)
    }

    fn status(&self) -> Result<LockReply, Error> {
        if self.backend.lockfile
            && let Some(holder) = self.lockfile_holder()?
        {
            return Ok(LockReply::Held { holder });
        }
        if let Some(table) = &self.backend.table
            && let Some(holder) = self.item_holder(table)?
        {
            return Ok(LockReply::Held { holder });
        }
        Ok(LockReply::Free)
    }

    fn held_by_lockfile(&self) -> Result<LockReply, Error> {
        match self.lockfile_holder()? {
            Some(holder) => Ok(LockReply::Held { holder }),
            // Released between our write and our read: the caller's next attempt may win.
            None => Ok(LockReply::Held {
                holder: released_meanwhile(self.backend),
            }),
        }
    }

    fn held_by_item(&self, table: &str) -> Result<LockReply, Error> {
        match self.item_holder(table)? {
            Some(holder) => Ok(LockReply::Held { holder }),
            None => Ok(LockReply::Held {
                holder: released_meanwhile(self.backend),
            }),
        }
    }

    fn lockfile_holder(&self) -> Result<Option<LockInfo>, Error> {
        let object = self
            .ctx
            .s3_get_object(
                &self.target,
                &self.backend.bucket,
                &self.backend.lockfile_key(),
            )
            .map_err(|e| self.failed("reading the lockfile", e))?;
        Ok(object.map(|o| parse_info(&o.body, self.backend)))
    }

    fn item_holder(&self, table: &str) -> Result<Option<LockInfo>, Error> {
        let item = self
            .ctx
            .dynamodb_get_item(&self.target, table, (LOCK_ID, &self.backend.path()))
            .map_err(|e| self.failed("reading the lock item", e))?;
        Ok(item.map(|i| {
            parse_info(
                i.get(INFO).map(String::as_bytes).unwrap_or_default(),
                self.backend,
            )
        }))
    }

    fn delete_lockfile(&self) -> Result<(), Error> {
        self.ctx
            .s3_delete_object(
                &self.target,
                &self.backend.bucket,
                &self.backend.lockfile_key(),
            )
            .map_err(|e| self.failed("deleting the lockfile", e))
    }

    fn failed(&self, doing: &str, e: AwsError) -> Error {
        let where_ = self.backend.describe();
        let help = match &e {
            AwsError::Credentials(_) => {
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, for an identity that may read and write the state bucket (and lock table)"
            }
            AwsError::Unreachable(_) => {
                "check the `state` block's `region`/`endpoint` in project.kdl and the network"
            }
            AwsError::Service { code, .. } if code == "NoSuchBucket" => {
                "create the state bucket first (the remote-backend module does; locally `scripts/local-stack up`)"
            }
            AwsError::Service { code, .. } if code == "ResourceNotFoundException" => {
                "create the lock table (hash key `LockID`, a string) first, or use `lock \"s3-lockfile\"`"
            }
            _ => "see the AWS error above",
        };
        Error::new(format!("{doing} ({where_}): {e}")).with_help(help)
    }
}

/// A lock info as stored; something that is not one (a lock written by hand, a corrupt
/// object) still names the lock, so `force-unlock` and the error can show it.
fn parse_info(body: &[u8], backend: &Backend) -> LockInfo {
    serde_json::from_slice(body).unwrap_or_else(|_| LockInfo {
        id: String::new(),
        operation: String::new(),
        info: format!(
            "unreadable lock info: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ),
        who: "unknown".to_owned(),
        version: String::new(),
        created: String::new(),
        path: backend.path(),
    })
}

/// The holder of a lock that was released between a refused write and the read after it.
fn released_meanwhile(backend: &Backend) -> LockInfo {
    LockInfo {
        id: String::new(),
        operation: String::new(),
        info: "released while forge looked; try again".to_owned(),
        who: "unknown".to_owned(),
        version: String::new(),
        created: String::new(),
        path: backend.path(),
    }
}

export_plugin!(StateLock);
