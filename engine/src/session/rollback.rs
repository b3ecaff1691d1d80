//! `forge history` and `forge rollback`: an env's deploys from its run history, and the
//! deploy a rollback goes back to.
//!
//! A rollback is a deploy whose pushes are not run but taken from an earlier deploy
//! ([`RunOptions::pinned`](crate::scheduler::RunOptions::pinned)): no image is built, the
//! render gets that deploy's digests, and the apply (its cached result rechecked against
//! the state, which has moved since) runs Terraform again, inside the lock, and the
//! rollouts watch. It is recorded as a run like any deploy, with `rollback_of` naming the
//! deploy it went back to, so a second rollback goes back further.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::Error;
use crate::graph::{Origin, ids};
use crate::model::Phase;
use crate::scheduler::Pinned;
use crate::store::{Lookup, RunOutcome, RunRecord, Store};

use super::Session;

/// One deploy of an env, for `forge history`.
#[derive(Debug, Clone)]
pub struct Deploy {
    pub run: RunRecord,
    /// Service → the image it pushed (its digest, or the push's output hash when the
    /// push's output has no digest), when the store still has it.
    pub images: BTreeMap<String, String>,
    /// Service → the task definition revision its rollout left (`backend:42`).
    pub revisions: BTreeMap<String, String>,
}

/// What `forge rollback` will do.
#[derive(Debug, Clone)]
pub struct RollbackPlan {
    /// The deploy whose images go back.
    pub to: RunRecord,
    /// The deploy that put up what runs now.
    pub from: RunRecord,
    /// The services whose image changes, sorted.
    pub changes: Vec<ServiceChange>,
    /// The pushes to pin, by step id (every service's: the others keep what runs now).
    pub pinned: BTreeMap<String, Pinned>,
}

/// One service a rollback changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceChange {
    pub service: String,
    pub image_now: String,
    pub image_then: String,
    pub revision_now: Option<String>,
    pub revision_then: Option<String>,
}

impl Session {
    /// The env's deploy runs, newest first, with their images.
    pub fn deploys(&self) -> Result<Vec<Deploy>, Error> {
        let store = Store::open(&self.store_dir)?;
        let services = self.services();
        let mut runs: Vec<RunRecord> = store
            .runs(&self.project_key(), &self.env)?
            .into_iter()
            .filter(|r| r.phase == Phase::Deploy)
            .collect();
        runs.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(runs
            .into_iter()
            .map(|run| {
                let mut images = BTreeMap::new();
                let mut revisions = BTreeMap::new();
                for service in &services {
                    if let Some((_, output)) = result(&store, &run, &ids::ecr_push(service)) {
                        images.insert(
                            service.clone(),
                            image(&output.manifest, &output_hash(&run, service)),
                        );
                    }
                    if let Some(revision) = revision(&store, &run, service) {
                        revisions.insert(service.clone(), revision);
                    }
                }
                Deploy {
                    run,
                    images,
                    revisions,
                }
            })
            .collect())
    }

    /// What a rollback of `services` (all of them when empty) does: back to the newest
    /// successful deploy, before the one running now, whose images of those services
    /// differ from what runs.
    pub fn rollback_plan(&self, services: &[String]) -> Result<RollbackPlan, Error> {
        let all = self.services();
        for s in services {
            if !all.contains(s) {
                return Err(Error::UnknownStep {
                    name: ids::ecr_push(s),
                    env: self.env.clone(),
                    help: Some(format!(
                        "`{s}` is not a service of this project; services: {}",
                        all.join(", ")
                    )),
                });
            }
        }
        let chosen: Vec<String> = if services.is_empty() {
            all.clone()
        } else {
            services.to_vec()
        };
        let nothing = |why: String, help: Option<String>| Error::NothingToRollBack {
            env: self.env.clone(),
            why,
            help,
        };
        let store = Store::open(&self.store_dir)?;
        let mut deploys: Vec<RunRecord> = store
            .runs(&self.project_key(), &self.env)?
            .into_iter()
            .filter(|r| r.phase == Phase::Deploy && r.outcome == RunOutcome::Succeeded)
            .collect();
        deploys.sort_by(|a, b| b.id.cmp(&a.id));
        let Some(current) = deploys.first().cloned() else {
            return Err(nothing(
                "it has no successful deploy in this store's history".into(),
                Some(format!(
                    "`forge history --env {}` lists the deploys forge recorded",
                    self.env
                )),
            ));
        };
        // A rollback runs what it went back to: the next one goes back from there.
        let position = current.rollback_of.clone().unwrap_or(current.id.clone());
        let now = |service: &str| output_hash(&current, service);
        let target = deploys.iter().find(|r| {
            r.rollback_of.is_none()
                && r.id < position
                && chosen.iter().all(|s| output_hash(r, s).is_some())
                && chosen.iter().any(|s| output_hash(r, s) != now(s))
        });
        let Some(target) = target.cloned() else {
            return Err(nothing(
                format!(
                    "no successful deploy before run {position} pushed other images of {}",
                    chosen.join(", ")
                ),
                Some(format!(
                    "`forge history --env {}` lists the deploys forge recorded",
                    self.env
                )),
            ));
        };
        let mut pinned = BTreeMap::new();
        let mut changes = Vec::new();
        for service in &all {
            let from = if chosen.contains(service) {
                &target
            } else {
                &current
            };
            let step = ids::ecr_push(service);
            let Some((record_fp, output)) = result(&store, from, &step) else {
                return Err(nothing(
                    format!(
                        "the push of `{service}` in run {} is no longer in the store",
                        from.id
                    ),
                    Some("`forge cache gc` keeps the results of each env's newest runs; an older deploy can only be redone with `forge deploy` at its commit".into()),
                ));
            };
            let output_hash = output_hash(from, service).unwrap_or_default();
            if chosen.contains(service) {
                let then = image(&output.manifest, &Some(output_hash.clone()));
                let image_now = result(&store, &current, &step)
                    .map(|(_, o)| image(&o.manifest, &now(service)))
                    .unwrap_or_else(|| "none".into());
                if image_now != then {
                    changes.push(ServiceChange {
                        service: service.clone(),
                        image_now,
                        image_then: then,
                        revision_now: revision(&store, &current, service),
                        revision_then: revision(&store, &target, service),
                    });
                }
            }
            pinned.insert(
                step,
                Pinned {
                    fingerprint: record_fp,
                    output_hash,
                    output: Arc::new(output),
                    from: format!("run {}", from.id),
                },
            );
        }
        Ok(RollbackPlan {
            to: target,
            from: current,
            changes,
            pinned,
        })
    }

    /// The project's services, sorted.
    pub(crate) fn services(&self) -> Vec<String> {
        let mut services: Vec<String> = self
            .graph
            .steps
            .iter()
            .filter(|s| s.plugin == ids::ECR_PUSH)
            .filter_map(|s| match &s.origin {
                Origin::Service(name) => Some(name.clone()),
                _ => None,
            })
            .collect();
        services.sort();
        services.dedup();
        services
    }
}

/// The push's output hash in `run`.
fn output_hash(run: &RunRecord, service: &str) -> Option<String> {
    run.steps
        .get(&ids::ecr_push(service))
        .and_then(|s| s.output.clone())
}

/// `step`'s stored result in `run`: its fingerprint and output, when the store still has
/// exactly the output the run recorded.
pub(crate) fn result(
    store: &Store,
    run: &RunRecord,
    step: &str,
) -> Option<(String, crate::executor::StepOutput)> {
    let record = run.steps.get(step)?;
    let fingerprint = record.fingerprint.clone()?;
    match store.lookup(&fingerprint) {
        Lookup::Hit(entry) if Some(&entry.output) == record.output.as_ref() => {
            Some((fingerprint, entry.result))
        }
        _ => None,
    }
}

fn revision(store: &Store, run: &RunRecord, service: &str) -> Option<String> {
    let (_, output) = result(store, run, &ids::ecs_rollout(service))?;
    output.manifest["task-definition"]
        .as_str()
        .map(|td| forge_contract::ecs::revision(td).to_owned())
}

/// How people know an image: its digest, else the push's output hash (a push that
/// reports no digest).
fn image(manifest: &serde_json::Value, output_hash: &Option<String>) -> String {
    match manifest["digest"].as_str() {
        Some(digest) => digest.to_owned(),
        None => format!(
            "output {}",
            output_hash
                .as_deref()
                .map_or("?", |h| &h[..h.len().min(12)])
        ),
    }
}
