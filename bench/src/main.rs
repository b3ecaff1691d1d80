//! `forge-synth DIR [--files N] [--steps N] [--services N]`: writes a synthetic workspace.

use std::path::PathBuf;
use std::process::ExitCode;

use forge_bench::{Shape, generate};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let mut shape = Shape::default();
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Option<usize> {
            let value = args.next().and_then(|v| v.parse().ok());
            if value.is_none() {
                eprintln!("error: {name} takes a whole number");
            }
            value
        };
        match arg.as_str() {
            "--files" => match number("--files") {
                Some(n) => shape.files = n,
                None => return ExitCode::from(2),
            },
            "--steps" => match number("--steps") {
                Some(n) => shape.steps = n,
                None => return ExitCode::from(2),
            },
            "--services" => match number("--services") {
                Some(n) => shape.services = n,
                None => return ExitCode::from(2),
            },
            "-h" | "--help" => {
                println!("usage: forge-synth DIR [--files N] [--steps N] [--services N]");
                return ExitCode::SUCCESS;
            }
            other if dir.is_none() => dir = Some(PathBuf::from(other)),
            other => {
                eprintln!("error: unexpected argument `{other}`");
                return ExitCode::from(2);
            }
        }
    }
    let Some(dir) = dir else {
        eprintln!("usage: forge-synth DIR [--files N] [--steps N] [--services N]");
        return ExitCode::from(2);
    };
    match generate(&dir, shape) {
        Ok(files) => {
            println!(
                "wrote {files} input files and project.kdl to {}",
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: cannot write {}: {err}", dir.display());
            ExitCode::FAILURE
        }
    }
}
