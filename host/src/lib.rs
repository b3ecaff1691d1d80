//! forge's plugin host: runs each step as a sandboxed WebAssembly component.
//!
//! - [`grants`]: the one place deciding which interfaces of `forge:plugin` a step gets,
//!   and the check that refuses an over-reaching component before it starts.
//! - [`host`]: the deterministic engine, the `InstancePre` cache, one run in a fresh store,
//!   and what a failure is called.
//! - `bindings`: the imports and exports, generated from `plugin-sdk/wit`.
//! - `state`: [`HostState`], which owns one run's parts (its log, output files, declared
//!   and upstream files, secret names, resource table, clients and clock). Each interface
//!   is implemented on the part it acts on (`LogCtx`, `OutputsCtx`, `FilesCtx`) or on a
//!   view of `&mut` borrows of the parts it shares (`SecretsView`), and [`grants`] links
//!   it with that projection: declared files only, capped logs and outputs, secrets as
//!   opaque handles.
//! - `caps`: the imports that reach past the sandbox (`docker`, `registry`, `aws`), on one
//!   view (`CapsView`), bound to the plain async clients of [`forge_clients`].
//! - `stop`: why and when a run stops (`Interrupt`, the run's clock, `until_stopped`),
//!   shared by the epoch callback and the networked imports.
//! - [`limits`]: memory cap, CPU deadline by epoch interruption (also Ctrl-C), output and
//!   log caps.
//! - [`cache`]: compiled components on disk, verified before they are mapped.
//! - [`builtins`]: components embedded in the binary.
//! - [`command`]: the `command` built-in, a process forge runs itself.
//! - [`executor`]: [`HostExecutor`], the engine's `Executor`.
//!
//! There is no WASI: a plugin can do exactly what its imports let it, which is what makes
//! a step's output a function of its inputs, and caching it sound.

mod bindings;
pub mod builtins;
pub mod cache;
mod caps;
pub mod command;
mod drift;
mod error;
pub mod executor;
pub mod grants;
pub mod host;
pub mod limits;
mod secret_value;
mod state;
mod stop;

pub use bindings::PluginInfo;
pub use builtins::Builtins;
pub use error::HostError;
pub use executor::HostExecutor;
pub use grants::GrantSet;
pub use host::{Host, HostConfig, PluginCode, RunError, RunResult, RunSpec, TerraformPlace};
pub use limits::Limits;
pub use state::HostState;
