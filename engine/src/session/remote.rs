//! `forge cache push`: publishing what this store already holds to the shared remote
//! cache ([`crate::remote`]).

use crate::Error;
use crate::events::StepStatus;
use crate::model::Phase;
use crate::remote::{Published, RemoteCache};
use crate::store::{Lookup, Store};

use super::Session;

/// What [`Session::publish_last_run`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushReport {
    pub published: usize,
    pub already_there: usize,
    /// Step → why it was not published.
    pub failed: Vec<(String, String)>,
}

impl Session {
    /// Publishes the build-step results of the env's newest recorded run that this store
    /// still holds.
    pub async fn publish_last_run(&self, remote: &RemoteCache) -> Result<PushReport, Error> {
        let store = Store::open(&self.store_dir)?;
        let Some(run) = store
            .runs(&self.project_key(), &self.env)?
            .into_iter()
            .max_by(|a, b| a.id.cmp(&b.id))
        else {
            return Err(Error::NothingToPublish {
                env: self.env.clone(),
            });
        };
        let mut report = PushReport::default();
        for (id, record) in &run.steps {
            let shared = self
                .graph
                .steps
                .iter()
                .any(|s| &s.id == id && s.phase == Phase::Build && !s.locked);
            let done = matches!(record.status, StepStatus::Ran | StepStatus::Cached);
            let Some(key) = record.fingerprint.as_deref().filter(|_| shared && done) else {
                continue;
            };
            let Lookup::Hit(entry) = store.lookup(key) else {
                report
                    .failed
                    .push((id.clone(), "its result is no longer in this store".into()));
                continue;
            };
            let Some(fingerprint) = store.fingerprint(&entry.fingerprint)? else {
                report.failed.push((
                    id.clone(),
                    "its fingerprint is no longer in this store".into(),
                ));
                continue;
            };
            match remote.publish(&fingerprint, &entry.result, &store).await {
                Ok(Published::Written) => report.published += 1,
                Ok(Published::AlreadyThere) => report.already_there += 1,
                Err(why) => report.failed.push((id.clone(), why)),
            }
        }
        Ok(report)
    }
}
