//! The capabilities that reach past the sandbox, bound to their WIT interfaces: the
//! Docker engine (`docker`), image registries (`registry`) and AWS (`aws`, and its S3
//! objects `s3`, DynamoDB items `dynamodb` and ECS reads `ecs`).
//!
//! The work is done by [`forge_clients`], in plain async functions that know nothing of
//! wasm. Each module here is a thin binding on [`CapsView`], the one view the three are
//! linked with: it borrows what only a run has (its log, its output files, its upstream
//! steps' files, its credentials table, its clock) and converts the clients' types to the
//! WIT's. A new capability is a client module in `forge-clients` and one binding here
//! (plus its line in [`crate::grants`]'s linker); if it needs another part of the run,
//! that part is borrowed into [`CapsView`] in `HostState::caps`.
//!
//! Stopping matters here more than anywhere: epoch interruption only fires while wasm
//! runs, and during one of these calls no wasm runs, maybe for minutes. So every call
//! races the run's cancellation token and deadline ([`CapsView::call`]) and traps with
//! the same interrupt the epoch callback would have used.

mod aws;
mod docker;
mod dynamodb;
mod ecs;
mod registry;
mod s3;
mod terraform;

pub(crate) use terraform::TerraformRun;
#[cfg(test)]
mod state_tests;

use std::future::Future;

use forge_clients::Clients;
use wasmtime::component::{HasData, ResourceTable};

use crate::state::{LogCtx, OutputsCtx, UpstreamFiles};
use crate::stop::{Interrupt, RunClock, until_stopped};

/// What `docker`, `registry` and `aws` act on, borrowed from [`crate::HostState`] for one
/// call.
pub(crate) struct CapsView<'a> {
    /// The host's clients, shared by its runs.
    pub(crate) clients: &'a Clients,
    /// When a call must give up.
    pub(crate) clock: &'a RunClock,
    /// Where a call records why it stopped the run.
    pub(crate) interrupt: &'a mut Option<Interrupt>,
    /// Registry credentials (`aws.ecr-login` and `registry.login` add them, `registry`
    /// reads them) and secret handles (`registry.login` and `docker.build-with-secrets`
    /// read them).
    pub(crate) table: &'a mut ResourceTable,
    /// The step's secrets by reference, whose values [`CapsView::secret_value`] reads.
    pub(crate) secrets: &'a std::collections::BTreeMap<String, forge_engine::model::SecretRef>,
    /// Blobs `registry.push-blob` sends.
    pub(crate) upstream: &'a UpstreamFiles,
    /// Where `docker.build` writes the image's blobs.
    pub(crate) outputs: &'a mut OutputsCtx,
    /// Where `docker.build` sends the builder's lines.
    pub(crate) log: &'a mut LogCtx,
    /// Where `terraform` works, and what it laid out there.
    pub(crate) terraform: &'a mut TerraformRun,
    /// A `forge build --check` rerun: `docker.build` skips the Docker Engine's layer cache.
    pub(crate) rebuild: bool,
}

/// Links `docker`, `registry` and `aws` to a [`CapsView`].
pub(crate) struct Caps;

impl HasData for Caps {
    type Data<'a> = CapsView<'a>;
}

impl CapsView<'_> {
    /// The value of the secret behind `handle`, read where the project declares it (see
    /// [`crate::secret_value`]), with its name; `Err` says why it could not be, never with
    /// a value. Traps only when the run is stopped meanwhile.
    async fn secret_value(
        &mut self,
        handle: &wasmtime::component::Resource<crate::state::SecretHandle>,
    ) -> wasmtime::Result<Result<(String, String), crate::secret_value::Unreadable>> {
        let name = self.table.get(handle)?.name().to_owned();
        let Some(reference) = self.secrets.get(&name).cloned() else {
            // A handle is only ever made for a declared secret.
            return Ok(Err(crate::secret_value::Unreadable {
                message: format!("secret `{name}` is not given to this step"),
                help: format!("declare `secret \"{name}\" from=\"REF\"` for this step"),
            }));
        };
        let clients: &Clients = self.clients;
        let read = self
            .call(crate::secret_value::read(&name, &reference, clients.aws()))
            .await?;
        Ok(read.map(|value| (name, value)))
    }

    /// Runs one client call unless the run is cancelled or out of time first; then the
    /// run ends with [`CapsView::interrupted`]'s trap. `work` must not borrow the view:
    /// copy out the references it needs (`let clients = self.clients;`).
    async fn call<F: Future>(&mut self, work: F) -> wasmtime::Result<F::Output> {
        let stop = self.clock.stop();
        match until_stopped(&stop, work).await {
            Ok(out) => Ok(out),
            Err(interrupt) => Err(self.interrupted(interrupt)),
        }
    }

    /// Records why a host call stopped the run and returns the trap that ends it, the
    /// same one the epoch callback would have raised.
    fn interrupted(&mut self, interrupt: Interrupt) -> wasmtime::Error {
        *self.interrupt = Some(interrupt);
        wasmtime::Error::new(interrupt)
    }
}
