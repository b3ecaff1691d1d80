//! What every project command needs before it starts: the project file (found like git
//! finds `.git`), the store directory, the env, the job count.

use std::path::PathBuf;

use forge_engine::graph::StepGraph;
use forge_engine::model::find_project_file;
use forge_engine::session::Session;

use crate::cli::GlobalArgs;
use crate::exit::CliError;
use crate::report::OutputMode;

pub struct Context<'a> {
    pub global: &'a GlobalArgs,
    pub mode: OutputMode,
}

impl Context<'_> {
    /// `project.kdl` in the current directory or its closest ancestor.
    pub fn project_file(&self) -> Result<PathBuf, CliError> {
        let cwd = std::env::current_dir().map_err(CliError::CurrentDir)?;
        find_project_file(&cwd).ok_or(CliError::NoProject { start: cwd })
    }

    /// `--cache-dir`, then `FORGE_CACHE_DIR` (clap reads both), then the user's cache dir.
    pub fn store_dir(&self) -> PathBuf {
        self.global
            .cache_dir
            .clone()
            .unwrap_or_else(forge_engine::store::Store::default_dir)
    }

    /// Opens the project for `--env` (or its default env).
    pub fn open_session(&self) -> Result<Session, CliError> {
        let project_file = self.project_file()?;
        let mut session =
            Session::open(&project_file, &self.store_dir(), self.global.env.as_deref())?;
        session.builtins = crate::executor::builtin_identities(&crate::executor::builtins());
        session.remote = crate::remote::remote_cache(self.global, &session)?;
        if std::env::var_os(forge_engine::testing::TEST_EXECUTOR_ENV).is_some() {
            session.executor_identity =
                Some(forge_engine::testing::TestExecutor::IDENTITY.to_owned());
        } else {
            // The test executor runs no tool; the plugin host runs `terraform`.
            session.tools = Some(std::sync::Arc::new(
                forge_clients::terraform::ToolVersionCache::new(&session.store_dir),
            ));
        }
        Ok(session)
    }

    /// The graph of `--env` (or the default env) without opening the store: for commands
    /// that only read the project file.
    pub fn load_graph(&self) -> Result<StepGraph, CliError> {
        let project_file = self.project_file()?;
        let project =
            forge_engine::model::load(&project_file).map_err(forge_engine::Error::from)?;
        let config = project
            .resolve(self.global.env.as_deref())
            .map_err(forge_engine::Error::from_resolve)?;
        let graph =
            StepGraph::from_config(config, &project.source).map_err(forge_engine::Error::from)?;
        Ok(graph)
    }

    pub fn jobs(&self) -> usize {
        match self.global.jobs {
            Some(n) => usize::from(n),
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// `-C DIR`: everything after this, including relative paths in other flags, is relative to
/// DIR, as with git.
pub fn change_dir(global: &GlobalArgs) -> Result<(), CliError> {
    if let Some(dir) = &global.chdir {
        std::env::set_current_dir(dir).map_err(|source| CliError::ChangeDir {
            dir: dir.clone(),
            source,
        })?;
    }
    Ok(())
}
