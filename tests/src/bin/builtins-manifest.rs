//! `builtins-manifest write TOOLCHAIN` / `check` / `toolchain` (prints the recorded one): used by
//! `scripts/build-builtins`. See `forge_tests::builtins`.

use std::process::ExitCode;

use forge_tests::builtins::{read_manifest, repo_root, stale, write_manifest};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = repo_root();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["write", toolchain] => write_manifest(&root, toolchain).map(|m| {
            println!("{}", m["builtins"]);
            Vec::new()
        }),
        ["check"] => stale(&root),
        ["toolchain"] => read_manifest(&root).map(|m| {
            println!("{}", m["toolchain"].as_str().unwrap_or("(none recorded)"));
            Vec::new()
        }),
        _ => {
            eprintln!("usage: builtins-manifest write TOOLCHAIN | check | toolchain");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(problems) if problems.is_empty() => ExitCode::SUCCESS,
        Ok(problems) => {
            for p in problems {
                eprintln!("error: {p}");
            }
            eprintln!("help: run scripts/build-builtins and commit plugins/dist/");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
