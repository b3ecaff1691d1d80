//! One module per subcommand; [`dispatch`] picks one.

mod cache;
mod completions;
mod explain;
mod graph;
mod history;
mod lock;
mod man;
mod plan;
mod plugin;
mod release;
mod rollback;
mod run;
mod show;

use crate::cli::{Cli, Command};
use crate::context::{Context, change_dir};
use crate::exit::{CliError, Outcome};
use crate::report::OutputMode;

/// Asks `question` on the terminal: `Some(true)` when the answer is `yes`, `None` when
/// stdin is not a terminal (the command then needs `--yes`).
pub(crate) fn ask_yes(question: &str) -> Result<Option<bool>, CliError> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(None);
    }
    let mut err = std::io::stderr().lock();
    write!(err, "{question} Type `yes`: ")?;
    err.flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    Ok(Some(answer.trim() == "yes"))
}

pub fn dispatch(cli: &Cli, mode: OutputMode) -> Result<Outcome, CliError> {
    change_dir(&cli.global)?;
    let ctx = Context {
        global: &cli.global,
        mode,
    };
    match &cli.command {
        Command::Build(args) => run::build(&ctx, args),
        Command::Deploy(args) => run::deploy(&ctx, args),
        Command::Rollback(args) => rollback::rollback(&ctx, args),
        Command::History(args) => history::history(&ctx, args),
        Command::Plan(args) => plan::plan(&ctx, args),
        Command::Graph(args) => graph::graph(&ctx, args),
        Command::Cache(command) => cache::cache(&ctx, command),
        Command::Explain(args) => explain::explain(&ctx, args),
        Command::Show(args) => show::show(&ctx, args),
        Command::Plugin(command) => plugin::plugin(&ctx, command),
        Command::Lock(command) => lock::lock(&ctx, command),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => man::man(args),
    }
}
