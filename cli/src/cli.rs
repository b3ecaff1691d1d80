//! The command line, declared once with clap's derive API.
//!
//! Every flag lives here with its help text; commands read the parsed values and nothing
//! else parses `argv`. Global flags (`-C`, `--env`, `--json`, ...) are accepted before or
//! after the subcommand, like git and cargo.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  forge plan                      what would run in the default env, and why
  forge build                     build and push every image whose inputs changed
  forge deploy --env prod         everything for prod: lock, render, apply, roll out
  forge explain docker-build:backend
  forge graph --format dot | dot -Tsvg > graph.svg
  forge -C path/to/project plan --json";

/// Declarative build-and-deploy from one project.kdl.
#[derive(Debug, Parser)]
#[command(
    name = "forge",
    version,
    long_about = "forge reads project.kdl (in the current directory or a parent), expands it into a \
                  graph of steps and runs only the steps whose inputs changed since their last \
                  run.",
    after_help = EXAMPLES,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Run as if forge was started in DIR (like `git -C`)
    #[arg(
        short = 'C',
        value_name = "DIR",
        global = true,
        help_heading = "Global options"
    )]
    pub chdir: Option<PathBuf>,

    /// Content-addressed store to use [default: the user's cache dir, e.g. ~/.cache/forge]
    #[arg(
        long,
        value_name = "DIR",
        env = "FORGE_CACHE_DIR",
        global = true,
        help_heading = "Global options"
    )]
    pub cache_dir: Option<PathBuf>,

    /// The shared remote cache to use instead of project.kdl's `cache { s3 … }` location
    /// (s3://BUCKET/PREFIX); whose results are trusted is still project.kdl's `trust` list
    #[arg(
        long,
        value_name = "URL",
        env = "FORGE_REMOTE_CACHE",
        global = true,
        help_heading = "Global options"
    )]
    pub remote_cache: Option<String>,

    /// Signing key (from `forge cache keygen`) with which this machine publishes what it
    /// builds to the remote cache; without one, it only reads
    #[arg(
        long,
        value_name = "FILE",
        env = "FORGE_CACHE_KEY",
        global = true,
        help_heading = "Global options"
    )]
    pub cache_key: Option<PathBuf>,

    /// Environment to use instead of the project's default env
    #[arg(
        long,
        value_name = "NAME",
        global = true,
        help_heading = "Global options"
    )]
    pub env: Option<String>,

    /// Machine output: one JSON object per line on stdout, each with a `type` field
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    /// When to use colors
    #[arg(
        long,
        value_name = "WHEN",
        default_value = "auto",
        global = true,
        help_heading = "Global options"
    )]
    pub color: ColorChoice,

    /// Steps to run at once [default: the number of CPUs]
    #[arg(short, long, value_name = "N", global = true, help_heading = "Global options", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,

    /// Print only errors and the final summary
    #[arg(
        short,
        long,
        global = true,
        help_heading = "Global options",
        conflicts_with = "verbose"
    )]
    pub quiet: bool,

    /// Also print when steps start and what they log
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub verbose: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colors when writing to a terminal and `NO_COLOR` is not set
    Auto,
    /// Always, even into a pipe or file
    Always,
    /// Never
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build and push every image whose inputs changed (the build phase)
    #[command(after_help = "\
Examples:
  forge build                        every build step of the default env
  forge build docker-build:backend   one step and what it needs
  forge build --json | jq -c 'select(.type == \"summary\")'
  forge build --release-out release.json --junit forge-build.xml   in CI
  forge build --check                do the images and binaries reproduce?")]
    Build(BuildArgs),

    /// Run everything for one env: build, push, render, lock, apply, roll out
    #[command(after_help = "\
Without --env, deploys the project's default env.

Examples:
  forge deploy                      the default env (`default-env` in project.kdl)
  forge deploy --env prod
  forge deploy --env prod --timeout 20m
  forge deploy --env prod --release release.json --junit forge-deploy.xml   in CD")]
    Deploy(DeployArgs),

    /// Deploy again the images of the env's previous successful deploy
    #[command(after_help = "\
Goes back through Terraform, which owns the services: the pushes of that deploy are taken
from forge's store (nothing is built), the root module is rendered with their digests,
and the env is applied inside its state lock and the rollouts watched, like any deploy.
It shows what changes first and asks on a terminal. Recorded as a run: a second rollback
goes back further. `forge history` lists the deploys.

Examples:
  forge rollback --env prod                 every service
  forge rollback --env prod backend         only the backend; the others keep what runs
  forge rollback --env prod --yes           in CI: no question")]
    Rollback(RollbackArgs),

    /// List the env's deploys: when, commit, images, who, result
    #[command(after_help = "\
Examples:
  forge history --env prod
  forge history --env prod --json | jq -r 'select(.outcome == \"succeeded\") | .run'")]
    History(HistoryArgs),

    /// Show which steps would run and why, without running anything
    #[command(after_help = "\
Exit status with --detailed-exitcode (like terraform plan):
  0  nothing to run
  1  error
  2  steps would run

Examples:
  forge plan --env prod
  forge plan --phase build --detailed-exitcode")]
    Plan(PlanArgs),

    /// Why a step will run: what changed since its last run, field by field
    #[command(after_help = "\
Examples:
  forge explain docker-build:backend
  forge explain ecs-rollout:frontend --env prod")]
    Explain(ExplainArgs),

    /// A step's last result: its run, fingerprint, manifest and output files
    #[command(after_help = "\
Examples:
  forge show docker-build:backend
  forge show terraform-render --env prod --output main.tf
  forge show terraform-render --env prod --out rendered/")]
    Show(ShowArgs),

    /// Print the step graph
    #[command(after_help = "\
Examples:
  forge graph
  forge graph --format dot | dot -Tsvg > graph.svg
  forge graph --format json | jq '.steps[].id'")]
    Graph(GraphArgs),

    /// The local content-addressed store, and the shared remote cache
    #[command(
        subcommand,
        after_help = "\
Examples:
  forge cache stats                 what the store holds, per project and env
  forge cache verify --repair       re-hash everything, remove what is corrupt
  forge cache gc --keep-runs 3      keep what the last 3 runs of each env need
  forge cache pull                  every build result the shared cache has for this checkout
  forge --cache-dir /mnt/ci-cache cache stats"
    )]
    Cache(CacheCommand),

    /// The env's Terraform state lock: who holds it, and releasing a stale one
    #[command(
        subcommand,
        after_help = "\
forge holds Terraform's own lock (S3 lockfile and/or DynamoDB item) for a whole deploy,
so `terraform` run by hand waits for forge, and forge for it.

Examples:
  forge lock status --env prod
  forge lock status --env prod --json | jq -r .holder.ID
  forge lock force-unlock 6f1c0c2e-9d4b-4b7e-a1c3-0e5b2f7d9a10 --env prod"
    )]
    Lock(LockCommand),

    /// Write, test, build and inspect WebAssembly step plugins
    #[command(
        subcommand,
        after_help = "\
Examples:
  forge plugin new greet             scaffold a plugin crate in ./greet
  forge plugin test greet            its tests, natively, against the SDK's MockHost
  forge plugin build greet           the component, and the line that pins it in project.kdl
  forge plugin inspect greet.wasm    contract version, capabilities, hash

docs/plugin-guide.md walks through all of it."
    )]
    Plugin(PluginCommand),

    /// Print a shell completion script
    #[command(after_help = "\
Examples:
  forge completions bash > ~/.local/share/bash-completion/completions/forge
  forge completions zsh > ~/.zfunc/_forge
  forge completions fish > ~/.config/fish/completions/forge.fish")]
    Completions(CompletionsArgs),

    /// Write man pages for forge and each subcommand
    #[command(after_help = "\
Examples:
  forge man | man -l -
  forge man --out /usr/local/share/man/man1")]
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub run: RunArgs,

    /// After a successful build, write the release manifest (project, commit, each
    /// service's image by digest) that `forge deploy --release` deploys
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    pub release_out: Option<PathBuf>,

    /// Build every selected step again, whatever the cache holds, and fail naming each
    /// output that differs from the stored result (like Nix's --check); pushes are not
    /// redone, and nothing stored changes
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub run: RunArgs,

    /// Deploy exactly the images of this release manifest (from `forge build
    /// --release-out`): nothing is built or pushed; the checkout must be its commit and
    /// every image must be in the registry
    #[arg(long, value_name = "FILE")]
    pub release: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Only these steps and what they need [default: every step of the phase]
    #[arg(value_name = "STEP")]
    pub steps: Vec<String>,

    /// Cancel a step that runs longer than this (e.g. `90s`, `20m`)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,

    /// Wait this long for the env's state lock when someone else holds it (deploy),
    /// retrying like Terraform's -lock-timeout [default: 0s, fail at once]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub lock_timeout: Option<Duration>,

    /// Also write the run as a JUnit XML report (one testcase per step), for CI servers
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Only these services; the others keep the images that run now [default: all]
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// Do not ask for confirmation (required when stdin is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Cancel a step that runs longer than this (e.g. `90s`, `20m`)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,

    /// Wait this long for the env's state lock when someone else holds it
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub lock_timeout: Option<Duration>,

    /// Also write the run as a JUnit XML report (one testcase per step), for CI servers
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Show at most this many deploys, newest first
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Whether the env's state lock is free, or who holds it since when
    #[command(after_help = "\
Examples:
  forge lock status --env prod
  forge lock status --env prod --json | jq -r '.holder.ID // \"free\"'")]
    Status,
    /// Release a stale lock (forge's or Terraform's) by its ID
    #[command(after_help = "\
Check `forge lock status` first: releasing a lock another deploy still holds lets two
writers at the same state.

Examples:
  forge lock force-unlock 6f1c0c2e-9d4b-4b7e-a1c3-0e5b2f7d9a10 --env prod
  forge lock force-unlock \"$ID\" --env prod --yes     in a script or CI job")]
    ForceUnlock(ForceUnlockArgs),
}

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The lock's ID, as `forge lock status` or the error of a blocked deploy shows it
    #[arg(value_name = "ID")]
    pub id: String,

    /// Do not ask for confirmation (required when stdin is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Which command to plan for: `build` (forge build) or `deploy` (everything)
    #[arg(long, value_name = "PHASE", default_value = "deploy")]
    pub phase: PhaseArg,

    /// Exit 0 when nothing would run, 2 when steps would run (or, with --terraform,
    /// Terraform would change something), 1 on any error
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Also run `terraform plan` for the env (read-only, under Terraform's own state
    /// lock) and show what it would change
    #[arg(long)]
    pub terraform: bool,

    /// With --terraform: wait this long for the env's state lock when someone else holds
    /// it [default: 0s, fail at once]
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = humantime::parse_duration,
        requires = "terraform"
    )]
    pub lock_timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PhaseArg {
    /// Image build and push
    Build,
    /// Everything (what `forge deploy` runs)
    Deploy,
}

impl From<PhaseArg> for forge_engine::model::Phase {
    fn from(p: PhaseArg) -> Self {
        match p {
            PhaseArg::Build => forge_engine::model::Phase::Build,
            PhaseArg::Deploy => forge_engine::model::Phase::Deploy,
        }
    }
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Step id, as `forge graph` prints it (e.g. `docker-build:backend`)
    #[arg(value_name = "STEP")]
    pub step: String,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Step id, as `forge graph` prints it (e.g. `terraform-render`)
    #[arg(value_name = "STEP")]
    pub step: String,
    /// Write this output file's contents to stdout, and nothing else
    #[arg(long, value_name = "NAME", conflicts_with = "out")]
    pub output: Option<String>,
    /// Copy every output file into DIR (which must not exist or be empty), keeping their
    /// relative paths
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Output format (`--json` implies `json`)
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    pub format: GraphFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// One line per step with what it needs
    Text,
    /// Graphviz DOT
    Dot,
    /// A JSON document with every step and its edges
    Json,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Entries, blobs, runs and bytes in the store
    #[command(after_help = "\
Examples:
  forge cache stats
  forge cache stats --json | jq .bytes")]
    Stats,
    /// Re-hash every entry and blob; report corrupt ones
    #[command(after_help = "\
Examples:
  forge cache verify
  forge cache verify --repair   remove what is corrupt so the next run rebuilds it")]
    Verify(VerifyArgs),
    /// Remove entries and blobs that no recorded run still needs
    #[command(after_help = "\
Examples:
  forge cache gc
  forge cache gc --keep-runs 3
  forge cache gc --max-size 20G --dry-run")]
    Gc(GcArgs),
    /// Make a signing key for publishing to the shared remote cache
    #[command(after_help = "\
Writes the secret key to FILE (mode 0600; give it to the CI agents that publish, e.g. as a
Jenkins file credential exposed as FORGE_CACHE_KEY) and prints the `trust` line that lets
every agent use what they publish: add it to the `cache` block of project.kdl.

Examples:
  forge cache keygen --out ci-cache.key --name jenkins-ci")]
    Keygen(KeygenArgs),
    /// Publish the env's newest build results to the remote cache
    #[command(after_help = "\
Needs a signing key the project trusts (FORGE_CACHE_KEY). A build on such a machine
publishes as it goes; this is for results built before, or while the remote was down.

Examples:
  FORGE_CACHE_KEY=ci-cache.key forge cache push --env dev")]
    Push,
    /// Download the build results this store lacks from the remote cache
    #[command(after_help = "\
Output files included; nothing is built. A step the remote cache has no result of is
skipped (a build would run it), and so is what needs it. Every entry and file is checked as in a build (docs/caching.md).

Examples:
  forge cache pull
  forge cache pull docker-build:backend")]
    Pull(PullArgs),
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Only these steps and what they need [default: every build step]
    #[arg(value_name = "STEP")]
    pub steps: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the secret key (must not exist)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The writer's name in the printed `trust` line
    #[arg(long, value_name = "NAME", default_value = "ci")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Remove corrupt entries (they are treated as misses either way)
    #[arg(long)]
    pub repair: bool,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Recorded runs to keep per env; what they need is kept (and, always, what each
    /// env's newest successful deploy needs)
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub keep_runs: usize,
    /// Keep results no kept run needs, least recently used going first, as long as the
    /// store fits in SIZE (e.g. 500M, 20GiB; without it, they all go)
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_size: Option<u64>,
    /// List what would be removed and remove nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// A size: bytes, or a number with K, M, G or T (powers of 1024; `KiB`, `MB`, `G`... all
/// mean the same).
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().map_err(|_| {
        format!("`{text}` is not a size: write bytes, or a number with K, M, G or T")
    })?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{text}`: use K, M, G or T"
            ));
        }
    };
    let bytes = number * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("`{text}` is out of range"));
    }
    Ok(bytes as u64)
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Create a plugin crate that builds and tests out of the box
    #[command(after_help = "\
Examples:
  forge plugin new site-manifest
  forge plugin new site-manifest --path plugins/site-manifest")]
    New(PluginNewArgs),

    /// Build a plugin crate into a WebAssembly component and print the line that pins it
    #[command(after_help = "\
Builds for wasm32-unknown-unknown with rustup's target (`rustup target add
wasm32-unknown-unknown`) or, without it, Debian's rustc-web with -Zbuild-std
(`apt-get install rustc-web cargo-web rust-web-src lld-22`). FORGE_WASM_RUSTC,
FORGE_WASM_CARGO and FORGE_WASM_LINKER choose the tools explicitly. The same
sources always give the same bytes, so the printed hash can be pinned.

Examples:
  forge plugin build
  forge plugin build plugins/site-manifest --out plugins/site-manifest.wasm")]
    Build(PluginBuildArgs),

    /// Show a component's contract version, requested capabilities, exports and hash
    #[command(after_help = "\
Examples:
  forge plugin inspect dist/site-manifest.wasm
  forge plugin inspect plugins/site-manifest.wasm --json | jq .capabilities")]
    Inspect(PluginInspectArgs),

    /// Run a plugin crate's tests natively (against the SDK's MockHost)
    #[command(after_help = "\
Examples:
  forge plugin test
  forge plugin test plugins/site-manifest -- --nocapture")]
    Test(PluginTestArgs),
}

#[derive(Debug, Args)]
pub struct PluginNewArgs {
    /// The plugin's name: lowercase letters, digits and `-` (also its crate name)
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Directory to create [default: ./NAME]
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PluginBuildArgs {
    /// The plugin crate's directory
    #[arg(value_name = "PATH", default_value = ".")]
    pub path: PathBuf,

    /// Where to write the component [default: plugins/<crate>.wasm in the forge project
    /// around the current directory or the crate, else <crate dir>/dist/<crate>.wasm]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Build exactly what Cargo.lock pins, failing if it would change (cargo's --locked)
    #[arg(long)]
    pub locked: bool,
}

#[derive(Debug, Args)]
pub struct PluginInspectArgs {
    /// The component (`.wasm`) to inspect
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct PluginTestArgs {
    /// The plugin crate's directory
    #[arg(value_name = "PATH", default_value = ".")]
    pub path: PathBuf,

    /// Arguments for the test binaries (after `--`), e.g. a test name filter
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to generate the script for
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write forge.1 and one page per subcommand into DIR [default: print forge.1 to stdout]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from(["forge", "plan", "--env", "prod", "--json", "-j", "3"])
            .expect("valid command line");
        assert_eq!(cli.global.env.as_deref(), Some("prod"));
        assert!(cli.global.json);
        assert_eq!(cli.global.jobs, Some(3));
    }

    #[test]
    fn timeout_takes_a_human_duration() {
        let cli = Cli::try_parse_from(["forge", "deploy", "--env", "dev", "--timeout", "1m 30s"])
            .expect("valid command line");
        let Command::Deploy(args) = cli.command else {
            panic!("expected deploy");
        };
        assert_eq!(args.run.timeout, Some(Duration::from_secs(90)));
    }

    #[test]
    fn plugin_test_passes_arguments_after_the_separator() {
        let cli = Cli::try_parse_from(["forge", "plugin", "test", "p", "--", "--nocapture"])
            .expect("valid command line");
        let Command::Plugin(PluginCommand::Test(args)) = cli.command else {
            panic!("expected plugin test");
        };
        assert_eq!(args.path, PathBuf::from("p"));
        assert_eq!(args.args, ["--nocapture"]);
    }

    #[test]
    fn zero_jobs_is_rejected() {
        assert!(Cli::try_parse_from(["forge", "build", "-j", "0"]).is_err());
    }
}
