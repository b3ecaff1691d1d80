//! forge's plugin host: runs each step as a sandboxed WebAssembly component.
//!
//! - [`grants`]: the one place deciding which interfaces of `forge:plugin` a step gets,
//!   and the check that refuses an over-reaching component before it starts.
//! - [`host`]: the deterministic engine, the `InstancePre` cache, one run in a fresh store,
//!   and what a failure is called.
//! - `state` and `bindings`: the imports, generated from `plugin-sdk/wit` and implemented
//!   on [`HostState`]: declared files only, capped logs and outputs, secrets as opaque
//!   handles.
//! - `caps`: the imports that reach past the sandbox (`docker`, `registry`, `aws`), bound
//!   to the plain async clients of [`forge_clients`].
//! - [`limits`]: memory cap, CPU deadline by epoch interruption (also Ctrl-C), output and
//!   log caps.
//! - [`cache`]: compiled components on disk, verified before they are mapped.
//! - [`builtins`]: components embedded in the binary.
//! - [`executor`]: [`HostExecutor`], the engine's `Executor`.
//!
//! There is no WASI: a plugin can do exactly what its imports let it, which is what makes
//! a step's output a function of its inputs, and caching it sound.

mod bindings;
pub mod builtins;
pub mod cache;
mod caps;
pub mod command;
mod error;
pub mod executor;
pub mod grants;
pub mod host;
pub mod limits;
mod state;

pub use bindings::PluginInfo;
pub use builtins::Builtins;
pub use error::HostError;
pub use executor::HostExecutor;
pub use grants::GrantSet;
pub use host::{Host, HostConfig, PluginCode, RunError, RunResult, RunSpec};
pub use limits::Limits;
pub use state::HostState;
