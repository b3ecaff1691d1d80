//! `forge cache stats | verify | gc`: the local content-addressed store. These need no
//! project: the store is shared by every project of the user (or CI agent).
//! `forge cache keygen | push | pull`: the shared remote cache (`push` and `pull` open the
//! project, whose `cache` block says where it is and whom it trusts).

use std::io::Write;

use forge_engine::store::{CorruptItem, GcItemKind, GcOptions, ItemKind, Store};
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
        CacheCommand::Keygen(args) => keygen(ctx, args),
        CacheCommand::Push => push(ctx),
        CacheCommand::Pull(args) => pull(ctx, args),
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
                    let steps = stats.steps.get(env).cloned().unwrap_or_default();
                    writeln!(
                        out,
                        "  {env}: {runs}; steps in them: {} ran, {} local hits, {} remote hits",
                        steps.ran, steps.local_hits, steps.remote_hits
                    )?;
                }
            }
            older_layouts(&mut out, &store)?;
            Ok(Outcome::Ok)
        }
        CacheCommand::Verify(args) => {
            let mut report = store
                .verify(args.repair)
                .map_err(forge_engine::Error::from)?;
            // Compiled plugins: the host owns their format and its check.
            let (checked, damaged) = forge_host::cache::verify_store(&dir, args.repair)?;
            report.components = checked;
            for (path, reason) in damaged {
                if args.repair {
                    report.repaired += 1;
                }
                report.corrupt.push(CorruptItem {
                    kind: ItemKind::CompiledComponent,
                    path,
                    reason,
                });
            }
            if ctx.mode.json {
                json::line(&Line {
                    kind: "cache-verify",
                    store: &dir,
                    report: &report,
                })?;
            } else {
                writeln!(
                    out,
                    "checked {}, {} and {}",
                    plural_with(report.entries, "entry", "entries"),
                    plural(report.blobs, "blob"),
                    plural(report.components, "compiled plugin")
                )?;
                for item in &report.corrupt {
                    let kind = match item.kind {
                        ItemKind::Blob => "blob",
                        ItemKind::ActionEntry => "entry",
                        ItemKind::CompiledComponent => "compiled plugin",
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
            let options = GcOptions {
                keep_runs: args.keep_runs,
                max_size: args.max_size,
                dry_run: args.dry_run,
            };
            let report = store.gc(&options).map_err(forge_engine::Error::from)?;
            if ctx.mode.json {
                json::line(&Line {
                    kind: "cache-gc",
                    store: &dir,
                    report: &report,
                })?;
                return Ok(Outcome::Ok);
            }
            if args.dry_run {
                for item in &report.removed {
                    let kind = match item.kind {
                        GcItemKind::Run => "run",
                        GcItemKind::Entry => "entry",
                        GcItemKind::Blob => "blob",
                        GcItemKind::Temp => "temp",
                    };
                    let of = item
                        .of
                        .as_deref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "would remove {kind} {}{of}, {}",
                        item.name,
                        bytes(item.bytes)
                    )?;
                }
            }
            let verb = if args.dry_run {
                "would remove"
            } else {
                "removed"
            };
            let deployed = if report.deployed_kept > 0 {
                format!(
                    ", {} kept as what is deployed",
                    plural(report.deployed_kept, "older deploy run")
                )
            } else {
                String::new()
            };
            writeln!(
                out,
                "kept {} ({} per env{deployed}); {verb} {}, {} and {}; {} {}",
                plural(report.runs_kept, "run"),
                args.keep_runs,
                plural(report.runs_deleted, "run"),
                plural_with(report.entries_deleted, "entry", "entries"),
                plural(report.blobs_deleted, "blob"),
                if args.dry_run { "would free" } else { "freed" },
                bytes(report.bytes_freed)
            )?;
            if let Some(max) = args.max_size {
                writeln!(
                    out,
                    "{} left ({} needed by kept runs, {} kept within --max-size {})",
                    bytes(report.bytes_left),
                    bytes(report.bytes_rooted),
                    plural_with(report.entries_cached, "other entry", "other entries"),
                    bytes(max)
                )?;
                if report.bytes_rooted > max {
                    writeln!(
                        out,
                        "note: the kept runs alone need {}, more than --max-size; keep fewer with --keep-runs",
                        bytes(report.bytes_rooted)
                    )?;
                }
            }
            older_layouts(&mut out, &store)?;
            Ok(Outcome::Ok)
        }
    }
}

/// Mentions the data older forge versions left in the cache dir, which this one neither
/// reads nor collects.
fn older_layouts(out: &mut impl Write, store: &Store) -> Result<(), CliError> {
    for dir in store.older_layouts() {
        writeln!(
            out,
            "note: {} holds an older forge's store layout, which this forge does not read or collect; delete it when no older forge uses this cache dir",
            dir.display()
        )?;
    }
    Ok(())
}

/// Sizes as forge shows them everywhere ([`forge_engine::text::human_bytes`]).
fn bytes(n: u64) -> String {
    forge_engine::text::human_bytes(n)
}

/// `forge cache keygen`: a new signing key in a file only its owner reads, and the line
/// that trusts it.
fn keygen(ctx: &Context<'_>, args: &crate::cli::KeygenArgs) -> Result<Outcome, CliError> {
    use std::io::Write as _;
    let key =
        forge_engine::remote::WriterKey::generate().map_err(|message| CliError::RemoteCache {
            message,
            help: "the operating system gave no random bytes".into(),
        })?;
    let io = |source| CliError::Io {
        action: "write the signing key to",
        path: args.out.clone(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&args.out).map_err(io)?;
    file.write_all(key.encode().as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    let public = key.public().encode();
    let trust = format!("trust \"{}\" \"{public}\"", args.name);
    if ctx.mode.json {
        json::line(&serde_json::json!({
            "type": "cache-key",
            "file": args.out,
            "name": args.name,
            "public_key": public,
            "trust": trust,
        }))?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "secret key written to {} (keep it secret: whoever has it can feed every agent's builds)",
            args.out.display()
        )?;
        writeln!(out, "add to the `cache` block of project.kdl:")?;
        writeln!(out, "    {trust}")?;
    }
    Ok(Outcome::Ok)
}

/// `forge cache pull`: the build run with nothing run, every missing result pulled whole.
fn pull(ctx: &Context<'_>, args: &crate::cli::PullArgs) -> Result<Outcome, CliError> {
    let (session, mut reporter) = match super::run::start(ctx, None, "forge cache pull") {
        Ok(started) => started,
        Err(aborted) => return aborted,
    };
    if session.remote.is_none() {
        let err = CliError::RemoteCache {
            message: "this project has no remote cache to pull from".into(),
            help: "add `cache { s3 bucket=\"NAME\"; trust \"ci\" \"ed25519:…\" }` to project.kdl, or pass --remote-cache s3://BUCKET/PREFIX".into(),
        };
        return super::run::abort(reporter.as_mut(), err, &Default::default());
    }
    let options = forge_engine::session::RunOptions {
        targets: args.steps.clone(),
        pull: true,
        ..super::run::options(ctx, forge_engine::model::Phase::Build)
    };
    super::run::execute(&session, options, reporter)
}

/// `forge cache push`: publishes the build results of the env's newest recorded run.
fn push(ctx: &Context<'_>) -> Result<Outcome, CliError> {
    use std::io::Write as _;
    let session = ctx.open_session()?;
    let Some(remote) = session.remote.clone() else {
        return Err(CliError::RemoteCache {
            message: "this project has no remote cache".into(),
            help: "add `cache { s3 bucket=\"NAME\" prefix=\"forge-cache/\"; trust \"ci\" \"ed25519:…\" }` to project.kdl, or pass --remote-cache s3://BUCKET/PREFIX".into(),
        });
    };
    if remote.writer_name().is_none() {
        return Err(CliError::RemoteCache {
            message: "no signing key that project.kdl trusts: nothing can be published".into(),
            help: "set FORGE_CACHE_KEY (or --cache-key) to a key whose public half a `trust` line names (`forge cache keygen` makes one)".into(),
        });
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let report = runtime.block_on(session.publish_last_run(&remote))?;
    if ctx.mode.json {
        json::line(&serde_json::json!({
            "type": "cache-push",
            "remote": remote.describe(),
            "published": report.published,
            "already_there": report.already_there,
            "failed": report.failed,
        }))?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{}: {} published, {} already there",
            remote.describe(),
            plural(report.published, "result"),
            report.already_there
        )?;
        for (step, why) in &report.failed {
            writeln!(out, "  not published: {step}: {why}")?;
        }
    }
    if report.failed.is_empty() {
        Ok(Outcome::Ok)
    } else {
        Err(CliError::RemoteCache {
            message: format!("{} not published", plural(report.failed.len(), "result")),
            help: "each one's reason is printed above".into(),
        })
    }
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
