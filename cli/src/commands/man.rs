//! `forge man`: roff man pages generated from the clap definitions, so they never drift
//! from `--help`. With `--out DIR`: `forge.1` plus `forge-<sub>.1` for every subcommand
//! (nested ones too: `forge-cache-gc.1`).

use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::exit::{CliError, Outcome};

pub fn man(args: &ManArgs) -> Result<Outcome, CliError> {
    let mut command = Cli::command();
    // Building propagates the version and the global flags into every subcommand's page.
    command.build();
    match &args.out {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(command).render(&mut out)?;
            std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|source| CliError::Io {
                action: "create",
                path: dir.clone(),
                source,
            })?;
            write_pages(command, "forge", dir)?;
        }
    }
    Ok(Outcome::Ok)
}

fn write_pages(command: clap::Command, name: &str, dir: &Path) -> Result<(), CliError> {
    // Subcommand pages are titled `forge-cache-gc` so `man forge-cache-gc` finds them.
    let command = command
        .display_name(name.to_string())
        .bin_name(name.replace('-', " "));
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .title(name.to_string())
        .source(concat!("forge ", env!("CARGO_PKG_VERSION")))
        .render(&mut page)?;
    std::fs::write(&path, page).map_err(|source| CliError::Io {
        action: "write",
        path: path.clone(),
        source,
    })?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        write_pages(sub.clone(), &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}
