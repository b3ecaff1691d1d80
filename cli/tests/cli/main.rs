//! Integration tests of the `forge` binary: one harness ([`harness`]), one module per
//! concern. Steps run through the engine's test executor; every test has its own project
//! and its own store in temp dirs.

mod harness;

mod builtins;
mod cache;
mod check;
mod command;
mod explain;
mod forged;
mod generate;
mod graph;
mod hostile;
mod images;
mod jenkins;
mod links;
mod lock;
mod plan;
mod plugin;
mod plugin_e2e;
mod release;
mod remote_cache;
mod rollout;
mod run;
mod secrets;
mod service;
mod show;
mod terraform;
mod usage;
