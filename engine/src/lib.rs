//! forge's engine: everything between `project.kdl` and "run this step".
//!
//! It knows nothing of wasmtime, clap, bollard or the AWS SDK (a test in `tests/` checks
//! that). Data flows one way:
//!
//! - [`model`]: parse and validate `project.kdl` into typed [`model::Config`]s, one per env.
//! - [`graph`]: expand services and `step` blocks into a [`graph::StepGraph`].
//! - [`files`]: find and hash each step's input files (stat cache, parallel blake3).
//! - [`fingerprint`]: one struct with every input of a step; its hash keys the cache.
//!   Beside it, the code that fills one from the world (`fingerprint::inputs`: files,
//!   config, env values keyed by the store, the commit) and the store as fingerprints see
//!   it (`fingerprint::cache`: hit, miss, corrupt, last run and why a step runs).
//! - [`git`]: the commit SHA, read from `.git` without running git.
//! - [`store`]: the local content-addressed store (action entries with their output
//!   files, blobs), run history, gc roots, the store's secret key.
//! - [`lock`]: the env's Terraform state lock: the info a run writes into it, and the
//!   call the scheduler makes to the executor to take, release or read it.
//! - [`executor`]: the seam through which a step is run (wasm host, or a test executor),
//!   and what a step produces ([`executor::StepOutput`]: manifest and output files).
//! - [`scheduler`]: runs the graph on tokio, in parallel, with cancellation
//!   ([`scheduler::RunOptions`]).
//! - [`session`]: the facade the CLI uses: build, deploy, plan, explain.
//! - [`events`]: what a run reports as it goes.
//! - [`testing`]: a deterministic executor for engine and CLI tests.
//! - [`text`]: showing untrusted text safely, byte sizes, short hashes.

pub mod events;
pub mod executor;
pub mod files;
pub mod fingerprint;
pub mod git;
pub mod graph;
pub mod lock;
pub mod model;
pub mod recheck;
pub mod remote;
pub mod scheduler;
pub mod session;
pub mod store;
pub mod testing;
pub mod text;

/// Plugin pins (`blake3:<hex>`), defined with the rest of the plugin contract.
pub use forge_contract::pin;

mod error;
pub use error::Error;
