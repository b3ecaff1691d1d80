//! One module per subcommand; [`dispatch`] picks one.

mod completions;
mod man;
mod plan;
mod run;

use clap::CommandFactory;
use forge_engine::model::Phase;

use crate::cli::{Cli, Command};
use crate::context::{Context, change_dir};
use crate::exit::{CliError, Outcome};
use crate::report::OutputMode;

pub fn dispatch(cli: &Cli, mode: OutputMode) -> Result<Outcome, CliError> {
    change_dir(&cli.global)?;
    let ctx = Context {
        global: &cli.global,
        mode,
    };
    match &cli.command {
        Command::Build(args) => run::run(&ctx, args, Phase::Build),
        Command::Deploy(args) => {
            if cli.global.env.is_none() {
                // A deploy to the default env by accident is the mistake this prevents.
                let mut command = Cli::command();
                command.build();
                let deploy = command
                    .find_subcommand_mut("deploy")
                    .expect("deploy is a subcommand");
                deploy
                    .error(
                        clap::error::ErrorKind::MissingRequiredArgument,
                        "`forge deploy` needs `--env NAME`: deploys always name their env",
                    )
                    .exit();
            }
            run::run(&ctx, args, Phase::Deploy)
        }
        Command::Plan(args) => plan::plan(&ctx, args),
        Command::Explain(_) | Command::Graph(_) | Command::Cache(_) => Err(CliError::Interrupted),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => man::man(args),
    }
}
