//! The `command` built-in: a process forge runs itself, for the work no sandboxed plugin
//! can do (a compiler, a bundler), with declared inputs and declared output files.
//!
//! ```kdl
//! step "backend-bin" {
//!     plugin "command"
//!     phase "build"
//!     config {
//!         run "cargo" "build" "--release" "-p" "backend"
//!         cwd "examples/app"
//!         env { RUSTFLAGS "-C target-feature=+crt-static"; }
//!         outputs { backend "examples/app/target/release/backend"; }
//!     }
//!     input "examples/app/**/*.rs" "examples/app/**/Cargo.toml" "examples/app/Cargo.lock"
//! }
//! ```
//!
//! It is the one step kind that is not a wasm component, so it is not sandboxed: it is
//! hermetic only as far as its declaration says. What forge does to keep it honest:
//! - the process gets a cleared environment: `PATH`, `HOME` and a few toolchain locations
//!   (which select the tools, like `PATH` does for Bazel's actions), the step's declared
//!   `env-var`s (which feed its fingerprint) and the config's `env` map, nothing else;
//! - its outputs are copied into the store and become the step's output files, so a
//!   consumer (a `docker-build` `artifact`) reads the bytes this run produced, never a
//!   file that a later edit or an earlier build left on disk;
//! - a declared output that is missing after a successful exit fails the step;
//! - its declared `secret`s are read when it runs (never for a cached result) from where
//!   they are declared — forge's environment (`from="env:VAR"`), an SSM parameter
//!   (`from="ssm:/path"`, decrypted, in the project's region) or a Secrets Manager secret
//!   (`from="arn:aws:secretsmanager:..."`, in the ARN's region) — and given to the process
//!   as environment variables under their names; every value is masked (`****`) in the
//!   lines it prints and in its error, and an output file that holds one fails the step
//!   rather than reach the store.
//!
//! Its stdout and stderr stream to the step's log; Ctrl-C kills the process.

use forge_clients::secret_values::SecretValues;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use forge_clients::Clients;
use forge_clients::aws::Aws;
use forge_engine::events::Event;
use forge_engine::executor::{OutputFile, StepError, StepOutput, StepRequest, check_relative_path};
use forge_engine::model::SecretRef;
use forge_engine::store::Store;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The plugin name that selects this executor.
pub use forge_engine::graph::ids::COMMAND;

/// Whether `step` is a `command` step (the built-in, not a plugin a project named so).
pub fn is_command(step: &forge_engine::graph::Step) -> bool {
    step.is_command()
}

/// Variables a toolchain needs to find itself, passed through when set. Their values do
/// not feed the fingerprint (like `PATH`); declare an `env-var` for one that should.
const PASS_THROUGH: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "TMPDIR",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    run: Argv,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    outputs: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Argv {
    One(String),
    Many(Vec<String>),
}

fn failed(message: impl Into<String>, help: impl Into<String>) -> StepError {
    StepError::Failed {
        message: message.into(),
        help: Some(help.into()),
    }
}

const SHAPE: &str = "a command step's config is `run \"PROGRAM\" \"ARG\"...`, optional `cwd \"DIR\"`, \
                     `env { NAME \"value\" }` and `outputs { NAME \"path/from/project/root\" }`";

fn parse_config(request: &StepRequest) -> Result<(Vec<String>, Config), StepError> {
    let json = request.step.config.canonical_json();
    let config: Config = serde_json::from_str(&json)
        .map_err(|e| failed(format!("invalid `command` config: {e}"), SHAPE))?;
    let argv = match &config.run {
        Argv::One(program) => vec![program.clone()],
        Argv::Many(argv) => argv.clone(),
    };
    if argv.first().is_none_or(|p| p.is_empty()) {
        return Err(failed("`run` names no program", SHAPE));
    }
    for path in config.cwd.iter().chain(config.outputs.values()) {
        if let Err(problem) = check_relative_path(path) {
            return Err(failed(
                format!("path {problem}"),
                "paths in a command step are relative to the folder that holds project.kdl, \
                 without `..` or a leading `/`",
            ));
        }
    }
    Ok((argv, config))
}

/// Runs the step's process and stores its declared outputs.
pub async fn run(
    request: StepRequest,
    store: Store,
    clients: &Clients,
) -> Result<StepOutput, StepError> {
    let (argv, config) = parse_config(&request)?;
    let root = request.root.clone();
    let cwd = config
        .cwd
        .as_deref()
        .map_or_else(|| root.clone(), |c| root.join(c));
    let mut command = tokio::process::Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .current_dir(&cwd)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for name in PASS_THROUGH
        .iter()
        .copied()
        .chain(request.step.env_vars.iter().map(String::as_str))
    {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command.envs(&config.env);
    let secrets = resolve_secrets(&request.step.secrets, clients.aws()).await?;
    for (name, value) in secrets.iter() {
        command.env(name, value);
    }
    if let Some(stamp) = &request.stamp {
        command.env("FORGE_COMMIT_SHA", &stamp.commit);
    }
    if request.rebuild {
        // `forge build --check`: a script can skip caches of its own.
        command.env("FORGE_REBUILD", "1");
    }

    let shown = argv.join(" ");
    let mut child = command.spawn().map_err(|e| {
        failed(
            format!("could not start `{shown}` in {}: {e}", cwd.display()),
            "is the program installed and on PATH? (forge passes PATH through)",
        )
    })?;
    let stdout = child.stdout.take().map(|s| BufReader::new(s).lines());
    let stderr = child.stderr.take().map(|s| BufReader::new(s).lines());
    let step = request.step.id.clone();
    let events = request.events.clone();
    let masks = secrets.clone();
    // The last lines of stderr go into the error, where a failure is read first.
    let pump = async move {
        let mut tail: Vec<String> = Vec::new();
        let (mut out, mut err) = (stdout, stderr);
        loop {
            let line = tokio::select! {
                line = async { out.as_mut()?.next_line().await.ok().flatten() }, if out.is_some() => {
                    if line.is_none() { out = None; continue; }
                    line
                }
                line = async { err.as_mut()?.next_line().await.ok().flatten() }, if err.is_some() => {
                    match line {
                        None => { err = None; continue; }
                        Some(l) => {
                            if tail.len() == 20 { tail.remove(0); }
                            tail.push(masks.mask(&l).into_owned());
                            Some(l)
                        }
                    }
                }
                else => break,
            };
            if let Some(line) = line {
                events.send(Event::StepLog {
                    step: step.clone(),
                    line: masks.mask(&line).into_owned(),
                });
            }
        }
        tail
    };
    let (status, tail) = tokio::select! {
        _ = request.cancel.cancelled() => {
            let _ = child.kill().await;
            return Err(StepError::Cancelled);
        }
        (status, tail) = async { let tail = pump.await; (child.wait().await, tail) } => (status, tail),
    };
    let status = status.map_err(|e| failed(format!("`{shown}`: {e}"), "see the step's log"))?;
    if !status.success() {
        let mut message = format!("`{shown}` failed ({status})");
        if !tail.is_empty() {
            message.push_str(":\n");
            message.push_str(&tail.join("\n"));
        }
        return Err(failed(
            message,
            "the command's full output is in the step's log above",
        ));
    }
    let outputs = config.outputs;
    tokio::task::spawn_blocking(move || store_outputs(&root, &outputs, &store, &secrets))
        .await
        .map_err(|e| failed(format!("storing outputs: {e}"), "this is a bug in forge"))?
}

fn store_outputs(
    root: &Path,
    outputs: &BTreeMap<String, String>,
    store: &Store,
    secrets: &SecretValues,
) -> Result<StepOutput, StepError> {
    let mut output = StepOutput::new(serde_json::Value::Object(serde_json::Map::new()));
    for (name, rel) in outputs {
        check_relative_path(name).map_err(|problem| {
            failed(
                format!("output name {problem}"),
                "name outputs like files in a folder: `backend`, `dist/app.js`",
            )
        })?;
        let path: PathBuf = root.join(rel);
        let bytes = std::fs::read(&path).map_err(|e| {
            failed(
                format!("output `{name}` ({rel}) was not produced: {e}"),
                "the command succeeded but did not write this file: check the path in \
                 `outputs` against where the command puts it",
            )
        })?;
        if let Some(secret) = secrets.found_in(&bytes) {
            return Err(failed(
                format!(
                    "output `{name}` ({rel}) contains the value of secret `{secret}`, and forge never stores a secret's value"
                ),
                "use the secret inside the step without writing it to a declared output (outputs go to the store, the remote cache and every step downstream)",
            ));
        }
        let file = OutputFile::of(&bytes);
        let stored = store.put_blob(&bytes).map_err(|e| {
            failed(
                format!("storing output `{name}`: {e}"),
                "see `forge cache verify`",
            )
        })?;
        debug_assert_eq!(stored, file.hash);
        output.files.insert(name.clone(), file);
    }
    Ok(output)
}

/// Reads each declared secret where it is declared: the values this process gets as
/// environment variables, and masks in everything it prints. A missing, unreadable or too
/// short value fails the step, naming the secret and its reference, never a value.
async fn resolve_secrets(
    declared: &BTreeMap<String, SecretRef>,
    aws: &Aws,
) -> Result<SecretValues, StepError> {
    let mut secrets = SecretValues::default();
    for (name, reference) in declared {
        let value = crate::secret_value::read(name, reference, aws)
            .await
            .and_then(|value| crate::secret_value::long_enough(name, reference, value))
            .map_err(|e| failed(e.message, e.help))?;
        secrets.insert(name.clone(), value);
    }
    Ok(secrets)
}
