//! What a plugin's imports act on: the per-run host state, one per wasmtime `Store`.
//!
//! [`HostState`] owns a run's parts, and each interface is implemented on the part it
//! acts on, never on [`HostState`] itself; [`crate::grants`] links each granted interface
//! with a projection from [`HostState`] to its part (`HasSelf<LogCtx>` with
//! `|s| &mut s.log`), or to a view of `&mut` borrows of the parts it needs when it shares
//! them (`SecretsView`, [`crate::caps::CapsView`]):
//!
//! - `types`: no functions; [`Types`].
//! - `log`: [`LogCtx`] (the step's log lines and progress, capped; a panic's message).
//! - `outputs`: [`OutputsCtx`] (output files, kept in memory, within the output caps).
//! - `files`: [`FilesCtx`] (declared inputs, and the [`UpstreamFiles`] reader).
//! - `secrets`: [`SecretsView`] (the step's secret names, the resource table).
//! - `docker`, `registry`, `aws`, `s3`, `dynamodb`, `terraform`: [`crate::caps::CapsView`]
//!   (the shared clients, the run's clock, the resource table, the upstream reader, the
//!   outputs, the log, and where Terraform works).
//!
//! What a step can *reach* is decided by which interfaces are linked. The imports here
//! touch nothing beyond the step's declared input files and its upstream steps' output
//! files (read-only) and its event sink. Output files are only committed to the store by
//! the executor after the step succeeded, so a failed or cancelled step leaves nothing
//! behind in forge's store (an image a `docker` step built stays in the engine, like any
//! build cache).

pub(crate) mod files;
pub(crate) mod log;
pub(crate) mod outputs;
pub(crate) mod secrets;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use forge_clients::Clients;
use forge_engine::events::EventSink;
use forge_engine::model::SecretRef;
use forge_engine::store::Store;
use tokio_util::sync::CancellationToken;
use wasmtime::component::{HasData, ResourceTable};

use crate::bindings::forge::plugin::types;
use crate::caps::CapsView;
use crate::limits::{Limiter, Limits};
use crate::stop::{Interrupt, RunClock};
pub(crate) use files::{FilesCtx, UpstreamFiles};
pub(crate) use log::LogCtx;
pub(crate) use outputs::{OutputOverflow, OutputsCtx};
pub use secrets::SecretHandle;
pub(crate) use secrets::SecretsView;

/// The state behind one step run's imports: the parts each interface acts on.
pub struct HostState {
    pub(crate) log: LogCtx,
    pub(crate) outputs: OutputsCtx,
    pub(crate) files: FilesCtx,
    /// The secrets the step may ask handles for, by reference.
    secrets: BTreeMap<String, SecretRef>,
    /// Secret handles and registry credentials.
    table: ResourceTable,
    clients: Arc<Clients>,
    clock: RunClock,
    /// What `terraform` laid out and where.
    terraform: crate::caps::TerraformRun,
    pub(crate) limiter: Limiter,
    /// Why the run was stopped, by the epoch callback or a waiting host call.
    pub(crate) interrupt: Option<Interrupt>,
    /// [`Reach::rebuild`].
    rebuild: bool,
}

/// What a run's networked capabilities and `files.read-upstream` act on.
#[derive(Debug, Clone)]
pub(crate) struct Reach {
    pub(crate) clients: Arc<Clients>,
    /// Where `terraform` works, if anywhere.
    pub(crate) terraform: Option<crate::host::TerraformPlace>,
    /// Upstream step id → its manifest and output files.
    pub(crate) upstream: BTreeMap<String, crate::host::Upstream>,
    /// Where upstream output files are; `None` when the caller runs without a store.
    pub(crate) store: Option<Store>,
    pub(crate) cancel: CancellationToken,
    /// A `--check` rerun: tools build without their own caches.
    pub(crate) rebuild: bool,
}

impl HostState {
    pub(crate) fn new(
        step: String,
        limits: Limits,
        files: BTreeMap<String, PathBuf>,
        secrets: BTreeMap<String, SecretRef>,
        events: EventSink,
        reach: Reach,
    ) -> HostState {
        let terraform = crate::caps::TerraformRun::new(reach.terraform, files.clone());
        HostState {
            terraform,
            log: LogCtx::new(step, events, limits.log),
            outputs: OutputsCtx::new(&limits),
            files: FilesCtx::new(
                files,
                limits.read,
                UpstreamFiles::new(reach.upstream, reach.store),
            ),
            secrets,
            table: ResourceTable::new(),
            clients: reach.clients,
            clock: RunClock::start(limits.timeout, reach.cancel),
            limiter: Limiter::new(&limits),
            interrupt: None,
            rebuild: reach.rebuild,
        }
    }

    /// How long the run has taken so far.
    pub(crate) fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    /// The projection `secrets` is linked with.
    pub(crate) fn secrets(&mut self) -> SecretsView<'_> {
        SecretsView {
            declared: &self.secrets,
            table: &mut self.table,
        }
    }

    /// The projection `docker`, `registry` and `aws` are linked with.
    pub(crate) fn caps(&mut self) -> CapsView<'_> {
        CapsView {
            clients: &self.clients,
            clock: &self.clock,
            interrupt: &mut self.interrupt,
            table: &mut self.table,
            secrets: &self.secrets,
            upstream: &self.files.upstream,
            outputs: &mut self.outputs,
            log: &mut self.log,
            terraform: &mut self.terraform,
            rebuild: self.rebuild,
        }
    }
}

/// `types` declares types only: there is nothing for it to act on.
pub(crate) struct Types;

impl HasData for Types {
    type Data<'a> = Types;
}

impl types::Host for Types {}
