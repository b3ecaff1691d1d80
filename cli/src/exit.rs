//! The binary's one top-level error and how every outcome maps to an exit status.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | ok (`plan --detailed-exitcode`: nothing would run) |
//! | 1 | a step failed, or forge itself failed (store I/O, ...); any error under `plan --detailed-exitcode` |
//! | 2 | invalid input: project file, unknown env or step, bad flags (`plan --detailed-exitcode`: steps would run) |
//! | 130 | interrupted (Ctrl-C) |
//!
//! Library crates keep their own error types; this one wraps them so `main` prints exactly
//! one miette report.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// How a command that did not error ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// `plan --detailed-exitcode` found steps that would run.
    PlanHasWork,
}

#[derive(Debug, Error, Diagnostic)]
pub enum CliError {
    #[error("no project.kdl in {} or any parent directory", start.display())]
    #[diagnostic(
        code(forge::cli::no_project),
        help(
            "run forge inside a project (a directory with a project.kdl, or below one), \
             or point at one with `forge -C DIR ...`; docs/project-kdl.md describes the file"
        )
    )]
    NoProject { start: PathBuf },

    #[error("cannot change to directory {}", dir.display())]
    #[diagnostic(code(forge::cli::chdir), help("check the path given to -C"))]
    ChangeDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot determine the current directory")]
    #[diagnostic(
        code(forge::cli::cwd),
        help("run forge from a directory that still exists")
    )]
    CurrentDir(#[source] std::io::Error),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Engine(#[from] forge_engine::Error),

    #[error("{} failed: {}", plural(.failed.len(), "step"), .failed.join(", "))]
    #[diagnostic(code(forge::run::failed))]
    StepsFailed {
        failed: Vec<String>,
        #[help]
        help: String,
    },

    #[error("interrupted")]
    #[diagnostic(
        code(forge::run::interrupted),
        help(
            "nothing half-written was stored; the next run reuses every step that finished \
             and runs the rest"
        )
    )]
    Interrupted,

    #[error("the store has {}", plural(*.count, "corrupt item"))]
    #[diagnostic(
        code(forge::cache::corrupt),
        help(
            "corrupt items are never served (a lookup treats them as misses); run \
             `forge cache verify --repair` to remove them"
        )
    )]
    CorruptStore { count: usize },

    #[error("cannot {action} {}", path.display())]
    #[diagnostic(
        code(forge::cli::io),
        help("check that the directory exists and is writable")
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `forge show --out DIR` into a directory that already holds something.
    #[error("will not copy outputs into {}: {why}", path.display())]
    #[diagnostic(
        code(forge::show::out_dir),
        help(
            "name a directory that does not exist yet (forge creates it) or an empty one, so nothing there is overwritten"
        )
    )]
    ShowOutDir { path: PathBuf, why: String },

    /// `forge show --output NAME --json`: the file's bytes and JSON lines cannot share stdout.
    #[error("`--output` writes the file's bytes to stdout, which `--json` keeps for JSON lines")]
    #[diagnostic(
        code(forge::show::output_json),
        help(
            "drop `--json`, or copy the files with `--out DIR` (with `--json`, one line says what was written)"
        )
    )]
    ShowOutputJson,

    #[error("cannot write to stdout")]
    #[diagnostic(code(forge::cli::stdout))]
    Stdout(#[source] std::io::Error),

    #[error("invalid FORGE_TEST_EXECUTOR: {0}")]
    #[diagnostic(
        code(forge::cli::test_executor),
        help("FORGE_TEST_EXECUTOR is for forge's own tests; unset it to run steps normally")
    )]
    TestExecutor(String),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Plugin(#[from] forge_plugin_tools::Error),

    /// The plugin host refused or stopped a component (`forge plugin inspect` runs its
    /// `describe`).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Host(#[from] forge_host::HostError),

    #[error("the plugin's tests failed ({status})")]
    #[diagnostic(
        code(forge::plugin::tests_failed),
        help("cargo's output above names the failing tests; forge exits with cargo's status")
    )]
    PluginTestsFailed { status: std::process::ExitStatus },

    #[error("the state lock {id} of env `{env}` could not be released")]
    #[diagnostic(
        code(forge::lock::left),
        help(
            "the reason is printed above; once S3/DynamoDB can be reached, free it with \
             `forge lock force-unlock {id} --env {env}`"
        )
    )]
    LockLeft { id: String, env: String },

    #[error("`force-unlock` needs confirmation, and stdin is not a terminal")]
    #[diagnostic(
        code(forge::lock::confirm),
        help("check `forge lock status` first, then pass `--yes`")
    )]
    NeedsConfirmation,

    #[error("not released: the answer was not `yes`")]
    #[diagnostic(code(forge::lock::declined))]
    Declined,

    #[error("a rollback needs confirmation, and stdin is not a terminal")]
    #[diagnostic(
        code(forge::rollback::confirm),
        help("read what it changes above, then pass `--yes`")
    )]
    RollbackNeedsConfirmation,

    #[error("not rolled back: the answer was not `yes`")]
    #[diagnostic(code(forge::rollback::declined))]
    RollbackDeclined,

    #[error("`--terraform` plans a deploy, not a build")]
    #[diagnostic(
        code(forge::plan::terraform_build),
        help("drop `--phase build`: `forge plan --terraform` plans what `forge deploy` would do")
    )]
    TerraformNeedsDeploy,

    #[error("terraform plan of env `{env}` failed")]
    #[diagnostic(
        code(forge::plan::terraform_failed),
        help("its reason is printed above (with --json: the `plan-terraform` line)")
    )]
    TerraformPlanFailed { env: String },

    /// `forge build --check` found steps whose rebuild differs from the stored result.
    #[error("{} did not reproduce: {}", plural(.failed.len(), "step"), .failed.join(", "))]
    #[diagnostic(
        code(forge::check::differs),
        help(
            "each step's differences are printed above: its result depends on something forge does not see (the time, randomness, the machine, a tool's own cache); make the build deterministic, or declare what it reads"
        )
    )]
    NotReproducible { failed: Vec<String> },

    /// The remote cache cannot be set up as asked.
    #[error("{message}")]
    #[diagnostic(code(forge::remote_cache::config))]
    RemoteCache {
        message: String,
        #[help]
        help: String,
    },

    /// An image of `--release` that the registry cannot show.
    #[error("the release's image of `{service}` cannot be deployed: {why}")]
    #[diagnostic(code(forge::release::image))]
    ReleaseImage {
        service: String,
        why: String,
        #[help]
        help: String,
    },

    #[error("cannot start the async runtime")]
    #[diagnostic(code(forge::cli::runtime))]
    Runtime(#[source] std::io::Error),
}

impl From<std::io::Error> for CliError {
    /// Bare I/O errors in commands come from writing their output.
    fn from(err: std::io::Error) -> Self {
        CliError::Stdout(err)
    }
}

impl CliError {
    /// The exit status for this error; `detailed` is `plan --detailed-exitcode`, where
    /// 2 means "steps would run" and so every error is 1.
    pub fn exit_code(&self, detailed: bool) -> u8 {
        if let CliError::Interrupted = self {
            return 130;
        }
        if detailed {
            return 1;
        }
        if let CliError::PluginTestsFailed { status } = self {
            // cargo's own status (101 for failed tests), so scripts see what cargo said.
            return status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .filter(|&c| c != 0)
                .unwrap_or(1);
        }
        match self {
            CliError::NoProject { .. }
            | CliError::ChangeDir { .. }
            | CliError::TestExecutor(_)
            | CliError::NeedsConfirmation
            | CliError::RollbackNeedsConfirmation
            | CliError::TerraformNeedsDeploy
            | CliError::ShowOutDir { .. }
            | CliError::ShowOutputJson => 2,
            CliError::Engine(err) if err.is_invalid_input() => 2,
            CliError::Plugin(err) if err.is_invalid_input() => 2,
            _ => 1,
        }
    }

    /// A reader that closed the pipe early (`forge graph | head`) is not an error.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Stdout(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::PlanHasWork => 2,
        }
    }
}

pub use forge_engine::text::{plural, plural_with};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_input_is_two_unless_detailed() {
        let err = CliError::NoProject {
            start: PathBuf::from("/tmp"),
        };
        assert_eq!(err.exit_code(false), 2);
        assert_eq!(err.exit_code(true), 1);
    }

    #[test]
    fn failed_steps_are_one_and_interrupt_is_130() {
        let failed = CliError::StepsFailed {
            failed: vec!["a".into()],
            help: String::new(),
        };
        assert_eq!(failed.exit_code(false), 1);
        assert_eq!(CliError::Interrupted.exit_code(true), 130);
    }

    #[test]
    fn failure_message_names_the_steps() {
        let err = CliError::StepsFailed {
            failed: vec!["a".into(), "b".into()],
            help: String::new(),
        };
        assert_eq!(err.to_string(), "2 steps failed: a, b");
    }
}
