//! The HTTP plumbing the sample app's two services share: just enough HTTP/1.1 for a
//! service behind an ALB ([`http`]) and the accept loop with its limits and the
//! `--healthcheck` probe for `FROM scratch` images ([`server`]). std only, so the services
//! build offline into static binaries.

pub mod http;
pub mod server;
