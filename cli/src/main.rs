//! The `forge` binary. Kept thin: parse the command line ([`cli`]), run one command
//! ([`commands`]), report the outcome ([`report`]) and map it to an exit status ([`exit`]).

mod cli;
mod commands;
mod context;
mod executor;
mod exit;
mod remote;
mod report;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, ColorChoice, Command};
use crate::report::OutputMode;

fn main() -> ExitCode {
    // `forge plugin build` runs cargo with forge itself as the rustc wrapper.
    if let Some(code) = forge_plugin_tools::wrapper::run_as_rustc_wrapper() {
        return ExitCode::from(u8::try_from(code).unwrap_or(101));
    }
    let cli = Cli::parse();
    install_error_hook(cli.global.color);
    let detailed = matches!(&cli.command, Command::Plan(plan) if plan.detailed_exitcode);
    let mode = OutputMode::from_args(&cli.global);

    match commands::dispatch(&cli, mode) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(err) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Err(err) => {
            let code = err.exit_code(detailed);
            report::stderr_line(format_args!("{:?}", miette::Report::new(err)));
            ExitCode::from(code)
        }
    }
}

/// Errors go to stderr, so their colors follow stderr, not stdout.
fn install_error_hook(color: ColorChoice) {
    let color = match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    // Only fails if a hook is already set, which nothing else in this binary does.
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .color(color)
                // Decided here, not detected: detection depends on which miette features
                // the build unified, and CI logs must read the same as a terminal.
                .unicode(true)
                .terminal_links(false)
                .build(),
        )
    }));
    miette::set_panic_hook();
}
