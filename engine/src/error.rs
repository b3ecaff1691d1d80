//! The engine's top-level error: one variant per stage, each a miette diagnostic of its own.

use miette::Diagnostic;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum Error {
    /// The project file is invalid (exit 2).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Model(#[from] crate::model::ModelErrors),
    /// The step graph is invalid: unknown reference, cycle (exit 2).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Graph(Box<crate::graph::GraphError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Files(#[from] crate::files::FilesError),
    /// `--env NAME` names no env of the project (exit 2). Not a problem in the file, so it
    /// is not reported as one.
    #[error(transparent)]
    #[diagnostic(transparent)]
    UnknownEnv(Box<crate::model::ModelError>),
    /// A step name on the command line that is not in the graph (exit 2).
    #[error("no step named `{name}` in env `{env}`")]
    #[diagnostic(code(forge::unknown_step))]
    UnknownStep {
        name: String,
        env: String,
        #[help]
        help: Option<String>,
    },
    /// `forge lock` on an env without a state lock (exit 2).
    #[error("env `{env}` has no state lock")]
    #[diagnostic(
        code(forge::lock::none),
        help(
            "the lock guards Terraform's remote state: add a `state {{ s3 bucket=\"…\"; }}` block (and `module`s) to project.kdl"
        )
    )]
    NoStateLock { env: String },
    /// `forge lock force-unlock ID` with an ID that is not the holder's (exit 1).
    #[error("lock ID {id} is not the lock held on env `{env}`; it is held by {holder}")]
    #[diagnostic(
        code(forge::lock::wrong_id),
        help("check the holder above; to release it, pass its lock ID")
    )]
    WrongLockId {
        id: String,
        env: String,
        holder: String,
    },
    /// A call to the state lock failed (S3/DynamoDB unreachable, credentials).
    #[error("the state lock of env `{env}`: {message}")]
    #[diagnostic(code(forge::lock::failed))]
    Lock {
        env: String,
        message: String,
        #[help]
        help: Option<String>,
    },
    /// A tool a step runs, whose version is part of its fingerprint, cannot be found or
    /// asked ([`crate::fingerprint::ToolVersions`]).
    #[error("step `{step}` runs {tool}, whose version forge cannot tell: {message}")]
    #[diagnostic(
        code(forge::tool::unavailable),
        help(
            "its version is part of the step's fingerprint (a new {tool} may plan differently), so even a cached run needs it: install it, or point forge at it"
        )
    )]
    ToolUnavailable {
        tool: &'static str,
        step: String,
        message: String,
    },
    /// A bug in forge, not in the project: a task that stopped unexpectedly.
    /// `forge rollback` with nothing to go back to (exit 1).
    #[error("nothing to roll back to in env `{env}`: {why}")]
    #[diagnostic(code(forge::rollback::nothing))]
    NothingToRollBack {
        env: String,
        why: String,
        #[help]
        help: Option<String>,
    },
    /// `--release FILE` that cannot be read or is not a release manifest.
    #[error("cannot use release manifest {path}: {message}")]
    #[diagnostic(code(forge::release::invalid))]
    ReleaseInvalid {
        path: String,
        message: String,
        #[help]
        help: String,
    },
    /// A release manifest that does not describe this checkout and env.
    #[error("the release does not match this checkout: {why}")]
    #[diagnostic(code(forge::release::mismatch))]
    ReleaseMismatch {
        why: String,
        #[help]
        help: String,
    },
    /// `--release-out` after a build that did not push every image.
    #[error("no release manifest written: {why}")]
    #[diagnostic(code(forge::release::incomplete))]
    ReleaseIncomplete {
        why: String,
        #[help]
        help: String,
    },
    /// `forge show STEP` for a step that never produced a result in the env.
    #[error("`{step}` has no result recorded in env `{env}`")]
    #[diagnostic(code(forge::show::no_result))]
    NoResult {
        step: String,
        env: String,
        #[help]
        help: String,
    },
    /// `forge show STEP`: the run is recorded, but its result is no longer in the store.
    #[error("the result of `{step}` from run {run} is not in the store: {why}")]
    #[diagnostic(
        code(forge::show::gone),
        help(
            "`forge cache gc` removed it, or it was damaged (`forge cache verify` says); run the step again to store it anew"
        )
    )]
    ResultGone {
        step: String,
        run: String,
        why: String,
    },
    /// `forge show STEP --output NAME` for a name the result does not have.
    #[error("`{step}`'s result has no output file `{name}`")]
    #[diagnostic(code(forge::show::unknown_output))]
    UnknownOutput {
        step: String,
        name: String,
        #[help]
        help: String,
    },
    /// An output file of a remote cache hit that was never downloaded.
    #[error("output file `{name}` of `{step}` is not in this store")]
    #[diagnostic(code(forge::show::not_local))]
    OutputNotLocal {
        step: String,
        name: String,
        #[help]
        help: String,
    },
    /// `forge cache push` with no recorded run to publish.
    #[error("nothing to publish in env `{env}`: no run of it is recorded in this store")]
    #[diagnostic(
        code(forge::cache::nothing_recorded),
        help(
            "run `forge build` first; a machine with a trusted signing key publishes as it builds"
        )
    )]
    NothingToPublish { env: String },
    #[error("internal error: {0}")]
    #[diagnostic(
        code(forge::internal),
        help("this is a bug in forge; please report it with the command you ran")
    )]
    Internal(String),
}

impl Error {
    /// Whether the user's input (project file, command line) is at fault: exit status 2.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Error::Model(_)
                | Error::Graph(_)
                | Error::UnknownEnv(_)
                | Error::UnknownStep { .. }
                | Error::NoStateLock { .. }
                | Error::ReleaseInvalid { .. }
                | Error::ReleaseMismatch { .. }
                | Error::NoResult { .. }
                | Error::UnknownOutput { .. }
        )
    }

    /// The error of [`crate::model::Project::resolve`]: an env the command line asked for
    /// that does not exist stands alone; anything else is a problem in the project file.
    pub fn from_resolve(err: crate::model::ModelError) -> Self {
        match err {
            crate::model::ModelError::UnknownEnv { span: None, .. } => {
                Error::UnknownEnv(Box::new(err))
            }
            err => Error::Model(err.into()),
        }
    }
}

// Boxed: a graph error carries the source text and its labels, and would otherwise make
// every `Result<_, Error>` in the engine as large as the rarest failure.
impl From<crate::graph::GraphError> for Error {
    fn from(err: crate::graph::GraphError) -> Self {
        Error::Graph(Box::new(err))
    }
}
