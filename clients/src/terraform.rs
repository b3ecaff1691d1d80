//! The `terraform` CLI as a deploy runs it: found and version-checked once, run in a
//! working directory forge controls, with no ambient configuration, and its failures worded
//! for the user (a provider that cannot be installed is said to be that, not shown as a
//! wall of Terraform output).
//!
//! Every command gets `TF_IN_AUTOMATION=1`, `CHECKPOINT_DISABLE=1`, `-input=false`,
//! `-no-color`, and `TF_CLI_CONFIG_FILE` pointing at a file forge writes in the working
//! directory (empty, or a `provider_installation` block for a provider mirror), so a
//! user's `~/.terraformrc` cannot change what a deploy does. The lock: inside forge's held
//! state lock Terraform runs with `-lock=false` ([`Lock::HeldByForge`]); outside it, with
//! its own lock and a timeout ([`Lock::Wait`]).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The oldest Terraform forge runs: `use_lockfile` in the S3 backend arrived in 1.10.
pub const MIN_VERSION: (u64, u64) = (1, 10);

/// The saved plan's file name in the working directory.
pub const PLAN_FILE: &str = "forge.tfplan";

/// The CLI configuration forge writes for each run (see the module docs).
pub const CLI_CONFIG_FILE: &str = ".forge-terraformrc";

/// Why a Terraform command failed, worded for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TerraformError {
    /// No `terraform`, or one too old.
    #[error("{0}")]
    NotInstalled(String),
    /// `init` could not install a provider: no network to the registry and no mirror.
    #[error("{0}")]
    ProviderUnavailable(String),
    /// The command failed; the message ends with its last lines of output.
    #[error("{0}")]
    Failed(String),
}

/// How the command relates to the env's state lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// forge holds Terraform's lock for this run: `-lock=false`.
    HeldByForge,
    /// Terraform takes its own lock, waiting at most this long (`-lock-timeout`).
    Wait(Duration),
}

impl Lock {
    fn args(self) -> Vec<String> {
        match self {
            Lock::HeldByForge => vec!["-lock=false".to_owned()],
            Lock::Wait(d) => vec![format!("-lock-timeout={}s", d.as_secs())],
        }
    }
}

/// What `plan` found.
pub use forge_contract::terraform::PlanSummary;

/// A `terraform` binary, version-checked.
#[derive(Debug, Clone)]
pub struct Terraform {
    binary: PathBuf,
    version: String,
    /// A provider mirror directory (`provider_installation { filesystem_mirror }`).
    mirror: Option<PathBuf>,
}

/// Lines of a failed command's output kept for its error.
const TAIL_LINES: usize = 20;

impl Terraform {
    /// `binary` if given, else the one [`locate`] finds; checks its version.
    pub async fn find(binary: Option<&Path>) -> Result<Terraform, TerraformError> {
        let binary = match binary {
            Some(b) => b.to_path_buf(),
            None => locate()?,
        };
        let out = Command::new(&binary)
            .args(["version", "-json"])
            .env("CHECKPOINT_DISABLE", "1")
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| {
                TerraformError::NotInstalled(format!("cannot run {}: {e}", binary.display()))
            })?;
        let version = version_of(&binary, &out.stdout)?;
        Ok(Terraform {
            binary,
            version,
            mirror: None,
        })
    }

    /// Installs providers from this directory instead of the registry (for agents
    /// without network: `terraform providers mirror DIR` fills one).
    pub fn with_mirror(mut self, mirror: PathBuf) -> Terraform {
        self.mirror = Some(mirror);
        self
    }

    /// `1.11.4`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// `terraform init` with the S3 backend settings (`-backend-config=name=value`).
    pub async fn init(
        &self,
        dir: &Path,
        backend: &[(String, String)],
        log: &mut (dyn FnMut(String) + Send),
    ) -> Result<(), TerraformError> {
        let mut args = vec![
            "init".to_owned(),
            "-input=false".to_owned(),
            "-no-color".to_owned(),
        ];
        args.extend(
            backend
                .iter()
                .map(|(k, v)| format!("-backend-config={k}={v}")),
        );
        let run = self.run(dir, &args, log).await?;
        if run.code == 0 {
            return Ok(());
        }
        let text = run.tail.join("\n");
        if PROVIDER_FAILURES.iter().any(|p| text.contains(p)) {
            return Err(TerraformError::ProviderUnavailable(format!(
                "terraform init could not install a provider (no network to the Terraform registry, and no provider mirror); on an agent without network, fill a mirror with `terraform providers mirror DIR` on a connected machine and point forge at it with FORGE_TERRAFORM_MIRROR=DIR. Terraform said:\n{text}"
            )));
        }
        Err(failed("init", &run))
    }

    /// `terraform plan -detailed-exitcode -out=forge.tfplan`.
    pub async fn plan(
        &self,
        dir: &Path,
        lock: Lock,
        log: &mut (dyn FnMut(String) + Send),
    ) -> Result<PlanSummary, TerraformError> {
        let mut args = vec![
            "plan".to_owned(),
            "-input=false".to_owned(),
            "-no-color".to_owned(),
            "-detailed-exitcode".to_owned(),
            format!("-out={PLAN_FILE}"),
        ];
        args.extend(lock.args());
        let mut summary = PlanSummary::default();
        let run = {
            let mut watch = |line: String| {
                if let Some(s) = parse_summary(&line) {
                    summary = s;
                }
                log(line);
            };
            self.run(dir, &args, &mut watch).await?
        };
        match run.code {
            0 => Ok(PlanSummary::default()),
            2 => Ok(PlanSummary {
                changes: true,
                ..summary
            }),
            _ => Err(failed("plan", &run)),
        }
    }

    /// `terraform apply forge.tfplan`: exactly what `plan` showed.
    pub async fn apply(
        &self,
        dir: &Path,
        lock: Lock,
        log: &mut (dyn FnMut(String) + Send),
    ) -> Result<(), TerraformError> {
        let mut args = vec![
            "apply".to_owned(),
            "-input=false".to_owned(),
            "-no-color".to_owned(),
        ];
        args.extend(lock.args());
        args.push(PLAN_FILE.to_owned());
        let run = self.run(dir, &args, log).await?;
        if run.code == 0 {
            Ok(())
        } else {
            Err(failed("apply", &run))
        }
    }

    /// `terraform output -json`: every root output, `sensitive` ones included (the caller
    /// decides what to keep of them).
    pub async fn output(&self, dir: &Path) -> Result<serde_json::Value, TerraformError> {
        let out = self
            .command(dir)
            .args(["output", "-json", "-no-color"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await
            .map_err(|e| TerraformError::Failed(format!("cannot run terraform output: {e}")))?;
        if !out.status.success() {
            return Err(TerraformError::Failed(format!(
                "terraform output failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        serde_json::from_slice(&out.stdout)
            .map_err(|e| TerraformError::Failed(format!("terraform output -json is not JSON: {e}")))
    }

    fn command(&self, dir: &Path) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.current_dir(dir)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_CLI_CONFIG_FILE", dir.join(CLI_CONFIG_FILE))
            .env_remove("TF_CLI_ARGS")
            .env_remove("TF_WORKSPACE")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Runs `terraform ARGS` in `dir`, every output line to `log`; the last lines are kept.
    async fn run(
        &self,
        dir: &Path,
        args: &[String],
        log: &mut (dyn FnMut(String) + Send),
    ) -> Result<Run, TerraformError> {
        std::fs::write(dir.join(CLI_CONFIG_FILE), self.cli_config())
            .map_err(|e| TerraformError::Failed(format!("cannot write {}: {e}", dir.display())))?;
        let mut child = self
            .command(dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                TerraformError::NotInstalled(format!("cannot run {}: {e}", self.binary.display()))
            })?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut tail = std::collections::VecDeque::new();
        while let Some(line) = rx.recv().await {
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.clone());
            log(line);
        }
        let status = child.wait().await.map_err(|e| {
            TerraformError::Failed(format!("waiting for terraform {}: {e}", args[0]))
        })?;
        Ok(Run {
            code: status.code().unwrap_or(-1),
            tail: tail.into_iter().filter(|l| !l.trim().is_empty()).collect(),
        })
    }

    fn cli_config(&self) -> String {
        match &self.mirror {
            None => "# Written by forge: no ambient CLI configuration.\n".to_owned(),
            Some(dir) => format!(
                "# Written by forge.\nprovider_installation {{\n  filesystem_mirror {{\n    path = {:?}\n  }}\n}}\n",
                dir.display().to_string()
            ),
        }
    }
}

struct Run {
    code: i32,
    tail: Vec<String>,
}

/// What Terraform prints when it cannot get a provider.
const PROVIDER_FAILURES: [&str; 4] = [
    "Failed to query available provider packages",
    "Failed to install provider",
    "Failed to resolve provider packages",
    "could not connect to registry.terraform.io",
];

fn failed(command: &str, run: &Run) -> TerraformError {
    TerraformError::Failed(format!(
        "terraform {command} failed (exit {}):\n{}",
        run.code,
        run.tail.join("\n")
    ))
}

/// `Plan: 1 to add, 2 to change, 0 to destroy.` → the numbers.
fn parse_summary(line: &str) -> Option<PlanSummary> {
    let rest = line.trim().strip_prefix("Plan: ")?;
    let mut numbers = rest
        .split(',')
        .map(|part| part.trim().split(' ').next()?.parse::<u64>().ok());
    Some(PlanSummary {
        add: numbers.next()??,
        change: numbers.next()??,
        destroy: numbers.next()??,
        changes: true,
    })
}

fn at_least(version: &str, min: (u64, u64)) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= min,
        _ => false,
    }
}

/// The `terraform` forge runs: `FORGE_TERRAFORM` when set, else the first on `PATH`.
pub fn locate() -> Result<PathBuf, TerraformError> {
    if let Some(binary) = std::env::var_os(crate::clients::TERRAFORM_ENV).filter(|b| !b.is_empty())
    {
        return Ok(PathBuf::from(binary));
    }
    on_path("terraform").ok_or_else(|| {
        TerraformError::NotInstalled(format!(
            "`terraform` is not on PATH; install Terraform {}.{} or newer (releases.hashicorp.com), or set {} to its path",
            MIN_VERSION.0,
            MIN_VERSION.1,
            crate::clients::TERRAFORM_ENV
        ))
    })
}

/// The version `terraform version -json` answered (`stdout`), checked against
/// [`MIN_VERSION`].
fn version_of(binary: &Path, stdout: &[u8]) -> Result<String, TerraformError> {
    let json: serde_json::Value = serde_json::from_slice(stdout).map_err(|_| {
        TerraformError::NotInstalled(format!(
            "{} is not a Terraform this forge knows (`version -json` did not answer JSON)",
            binary.display()
        ))
    })?;
    let version = json["terraform_version"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !at_least(&version, MIN_VERSION) {
        return Err(TerraformError::NotInstalled(format!(
            "{} is Terraform {version}; forge needs {}.{} or newer (the S3 backend's use_lockfile)",
            binary.display(),
            MIN_VERSION.0,
            MIN_VERSION.1
        )));
    }
    Ok(version)
}

/// The versions of the tools steps run, for their fingerprints
/// ([`forge_engine::fingerprint::ToolVersions`]), without running a tool on every
/// command: an answer is kept in a small file in the store, keyed by the binary's path,
/// size, modification time and inode, and the tool runs (`version -json`) only when one
/// of those changed. A fully cached deploy stats one file and starts no `terraform`.
#[derive(Debug, Clone)]
pub struct ToolVersionCache {
    file: PathBuf,
}

impl ToolVersionCache {
    /// The cache of the store at `store_dir`.
    pub fn new(store_dir: &Path) -> ToolVersionCache {
        ToolVersionCache {
            file: forge_engine::store::tool_versions_file(store_dir),
        }
    }

    /// `binary`'s Terraform version, from the cache when the binary is unchanged.
    pub fn terraform(&self, binary: &Path) -> Result<String, TerraformError> {
        let unreadable = |e: std::io::Error| {
            TerraformError::NotInstalled(format!("cannot read {}: {e}", binary.display()))
        };
        let meta = std::fs::metadata(binary).map_err(unreadable)?;
        let key = stat_key(binary, &meta);
        let mut known: std::collections::BTreeMap<String, String> = std::fs::read(&self.file)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        if let Some(version) = known.get(&key) {
            return Ok(version.clone());
        }
        let out = std::process::Command::new(binary)
            .args(["version", "-json"])
            .env("CHECKPOINT_DISABLE", "1")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| {
                TerraformError::NotInstalled(format!("cannot run {}: {e}", binary.display()))
            })?;
        let version = version_of(binary, &out.stdout)?;
        // Best effort: a cache that cannot be written costs one `version` next time.
        if known.len() >= 16 {
            known.clear();
        }
        known.insert(key, version.clone());
        if let (Some(dir), Ok(bytes)) = (self.file.parent(), serde_json::to_vec(&known)) {
            let tmp = dir.join(format!(".tools.{}.tmp", std::process::id()));
            let _ = std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(&tmp, bytes))
                .and_then(|()| std::fs::rename(&tmp, &self.file));
        }
        Ok(version)
    }
}

impl forge_engine::fingerprint::ToolVersions for ToolVersionCache {
    fn version(&self, tool: forge_engine::fingerprint::Tool) -> Result<String, String> {
        match tool {
            forge_engine::fingerprint::Tool::Terraform => locate()
                .and_then(|binary| self.terraform(&binary))
                .map_err(|e| e.to_string()),
        }
    }
}

/// What identifies one build of a binary without reading it.
fn stat_key(binary: &Path, meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    let path = binary
        .canonicalize()
        .unwrap_or_else(|_| binary.to_path_buf());
    format!(
        "{} {} {}.{} {}:{}",
        path.display(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.dev(),
        meta.ino()
    )
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_summaries_and_versions_read() {
        assert_eq!(
            parse_summary("Plan: 1 to add, 2 to change, 3 to destroy."),
            Some(PlanSummary {
                add: 1,
                change: 2,
                destroy: 3,
                changes: true
            })
        );
        assert_eq!(parse_summary("No changes."), None);
        assert!(at_least("1.11.4", (1, 10)));
        assert!(at_least("2.0.0", (1, 10)));
        assert!(!at_least("1.9.8", (1, 10)));
        assert!(!at_least("", (1, 10)));
        assert_eq!(PlanSummary::default().to_string(), "no changes");
    }

    /// A fake `terraform` answering `version -json` with `version`, logging each run.
    fn fake(dir: &Path, version: &str) -> PathBuf {
        let binary = dir.join("terraform");
        std::fs::write(
            &binary,
            format!(
                "#!/bin/sh\necho run >> \"{}\"\necho '{{\"terraform_version\":\"{version}\"}}'\n",
                dir.join("runs").display()
            ),
        )
        .expect("write the fake");
        std::fs::set_permissions(&binary, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        binary
    }

    fn runs(dir: &Path) -> usize {
        std::fs::read_to_string(dir.join("runs"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    #[test]
    fn a_tool_version_is_asked_once_per_binary_and_again_when_it_changes() {
        let tools = tempfile::tempdir().expect("tempdir");
        let store = tempfile::tempdir().expect("tempdir");
        let cache = ToolVersionCache::new(store.path());
        let binary = fake(tools.path(), "1.11.3");
        assert_eq!(cache.terraform(&binary).expect("version"), "1.11.3");
        assert_eq!(cache.terraform(&binary).expect("version"), "1.11.3");
        assert_eq!(
            runs(tools.path()),
            1,
            "the second answer came from the cache"
        );
        // Another cache over the same store (the next command) reads the same file.
        let next = ToolVersionCache::new(store.path());
        assert_eq!(next.terraform(&binary).expect("version"), "1.11.3");
        assert_eq!(runs(tools.path()), 1);

        // An upgrade replaces the binary: its stat changes, so it is asked again.
        std::fs::remove_file(&binary).expect("remove");
        let binary = fake(tools.path(), "1.11.14");
        assert_eq!(next.terraform(&binary).expect("version"), "1.11.14");
        assert_eq!(runs(tools.path()), 2);

        let old = tempfile::tempdir().expect("tempdir");
        let err = cache
            .terraform(&fake(old.path(), "1.9.8"))
            .expect_err("too old");
        assert!(
            err.to_string()
                .contains("is Terraform 1.9.8; forge needs 1.10 or newer"),
            "{err}"
        );
        let err = cache
            .terraform(&old.path().join("missing"))
            .expect_err("no binary");
        assert!(err.to_string().starts_with("cannot read "), "{err}");
    }
}
