//! `forge cache stats | verify | gc`: the local content-addressed store. These need no
//! project: the store is shared by every project of the user (or CI agent).

use std::io::Write;

use forge_engine::store::{ItemKind, Store};
use serde::Serialize;

use crate::cli::CacheCommand;
use crate::context::Context;
use crate::exit::{CliError, Outcome, plural, plural_with};
use crate::report::json;

#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    store: &'a std::path::Path,
    #[serde(flatten)]
    report: &'a T,
}

pub fn cache(ctx: &Context<'_>, command: &CacheCommand) -> Result<Outcome, CliError> {
    let dir = ctx.store_dir();
    let store = Store::open(&dir).map_err(forge_engine::Error::from)?;
    let mut out = std::io::stdout().lock();
    match command {
        CacheCommand::Stats => {
            let stats = store.stats().map_err(forge_engine::Error::from)?;
            if ctx.mode.json {
                json::line(&Line {
                    kind: "cache-stats",
                    store: &dir,
                    report: &stats,
                })?;
                return Ok(Outcome::Ok);
            }
            writeln!(out, "store:   {}", dir.display())?;
            writeln!(out, "entries: {}", stats.entries)?;
            writeln!(out, "blobs:   {}", stats.blobs)?;
            writeln!(out, "size:    {}", bytes(stats.bytes))?;
            if stats.runs.is_empty() {
                writeln!(out, "runs:    none recorded")?;
            } else {
                writeln!(out, "runs:")?;
                for (env, runs) in &stats.runs {
                    writeln!(out, "  {env}: {runs}")?;
                }
            }
            Ok(Outcome::Ok)
        }
        CacheCommand::Verify(args) => {
            let report = store
                .verify(args.repair)
                .map_err(forge_engine::Error::from)?;
            if ctx.mode.json {
                json::line(&Line {
                    kind: "cache-verify",
                    store: &dir,
                    report: &report,
                })?;
            } else {
                writeln!(
                    out,
                    "checked {} and {}",
                    plural_with(report.entries, "entry", "entries"),
                    plural(report.blobs, "blob")
                )?;
                for item in &report.corrupt {
                    let kind = match item.kind {
                        ItemKind::Blob => "blob",
                        ItemKind::ActionEntry => "entry",
                    };
                    writeln!(
                        out,
                        "corrupt {kind} {}: {}",
                        item.path.display(),
                        item.reason
                    )?;
                }
                if report.is_ok() {
                    writeln!(out, "store is consistent")?;
                } else if args.repair {
                    writeln!(
                        out,
                        "removed {}; the steps that produced them will run again",
                        plural(report.repaired, "corrupt item")
                    )?;
                }
            }
            if report.is_ok() || args.repair {
                Ok(Outcome::Ok)
            } else {
                Err(CliError::CorruptStore {
                    count: report.corrupt.len(),
                })
            }
        }
        CacheCommand::Gc(args) => {
            let report = store
                .gc(args.keep_runs)
                .map_err(forge_engine::Error::from)?;
            if ctx.mode.json {
                json::line(&Line {
                    kind: "cache-gc",
                    store: &dir,
                    report: &report,
                })?;
                return Ok(Outcome::Ok);
            }
            writeln!(
                out,
                "kept {} ({} per env), removed {}, {} and {}; freed {}",
                plural(report.runs_kept, "run"),
                args.keep_runs,
                plural(report.runs_deleted, "run"),
                plural_with(report.entries_deleted, "entry", "entries"),
                plural(report.blobs_deleted, "blob"),
                bytes(report.bytes_freed)
            )?;
            Ok(Outcome::Ok)
        }
    }
}

/// Sizes as forge shows them everywhere ([`forge_engine::text::human_bytes`]).
fn bytes(n: u64) -> String {
    forge_engine::text::human_bytes(n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_are_human() {
        assert_eq!(super::bytes(12), "12 B");
        assert_eq!(super::bytes(2048), "2 KiB");
        assert_eq!(super::bytes(5 * 1024 * 1024 + 1), "5.0 MiB");
    }
}
