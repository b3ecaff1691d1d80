//! The Docker, registry and AWS clients against the real local components that
//! `scripts/local-stack up` starts (dockerd, a distribution registry, moto). A missing
//! component fails these tests loudly: a capability that was never exercised is not known
//! to work.

mod aws;
mod docker;
mod ecs;
mod registry;
mod stack;
mod state;
mod terraform;
