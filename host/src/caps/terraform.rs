//! Binding of `forge:plugin/terraform` to [`forge_clients::terraform`]: the host lays out
//! the env's private working directory and runs the `terraform` CLI there.
//!
//! The working directory (one per project and env, under the store, given by the executor
//! as a [`TerraformPlace`]) holds exactly what the step's fingerprint covers: the root
//! module's files, read from the upstream step's output files, at the directory the render
//! wrote them for (`.forge/terraform/<env>`), and the step's declared input files (the
//! module sources) at their project paths, so the root module's relative `source`s resolve.
//! Anything else from an earlier run is removed first, except Terraform's own
//! `.terraform/` and `.terraform.lock.hcl`, so providers are not installed again.
//!
//! The lock: when forge holds the env's state lock for this run, Terraform runs with
//! `-lock=false`; otherwise it takes its own lock and fails at once if it is held (a
//! read-only `forge plan --terraform` waits for it up to `--lock-timeout`, and its
//! `apply` is refused).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use forge_clients::terraform::{Lock, PlanSummary, Terraform, TerraformError};
use forge_engine::executor::check_relative_path;

use super::CapsView;
use crate::bindings::forge::plugin::terraform as wit;
use crate::host::TerraformPlace;
use crate::state::files::describe_file_error;

/// What a run's `terraform` calls act on.
#[derive(Debug)]
pub(crate) struct TerraformRun {
    place: Option<TerraformPlace>,
    /// Declared inputs: project path → absolute path (the module sources).
    declared: BTreeMap<String, PathBuf>,
    /// The root module's directory, once `init` laid it out.
    root: Option<PathBuf>,
}

impl TerraformRun {
    pub(crate) fn new(
        place: Option<TerraformPlace>,
        declared: BTreeMap<String, PathBuf>,
    ) -> TerraformRun {
        TerraformRun {
            place,
            declared,
            root: None,
        }
    }

    fn lock(&self) -> Lock {
        self.place
            .as_ref()
            .map_or(Lock::Wait(Duration::ZERO), |place| place.lock)
    }
}

impl From<TerraformError> for wit::TerraformError {
    fn from(e: TerraformError) -> Self {
        match e {
            TerraformError::NotInstalled(m) => wit::TerraformError::NotInstalled(m),
            TerraformError::ProviderUnavailable(m) => wit::TerraformError::ProviderUnavailable(m),
            TerraformError::Failed(m) => wit::TerraformError::Failed(m),
        }
    }
}

impl From<PlanSummary> for wit::PlanSummary {
    fn from(s: PlanSummary) -> Self {
        wit::PlanSummary {
            add: s.add,
            change: s.change,
            destroy: s.destroy,
            changes: s.changes,
        }
    }
}

fn failed(message: impl Into<String>) -> wit::TerraformError {
    wit::TerraformError::Failed(message.into())
}

/// Removes everything under `at` that is not on the way to `root`, and in `root` all but
/// Terraform's own `.terraform/` and `.terraform.lock.hcl`.
fn clean(at: &Path, root: &Path) -> std::io::Result<()> {
    const KEEP: [&str; 2] = [".terraform", ".terraform.lock.hcl"];
    for entry in std::fs::read_dir(at)? {
        let path = entry?.path();
        if at == root {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if KEEP.contains(&name) {
                continue;
            }
        } else if root.starts_with(&path) {
            clean(&path, root)?;
            continue;
        }
        if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Lays out `workdir` (see the module docs) and returns the root module's directory.
fn lay_out(
    workdir: &Path,
    dir: &str,
    files: &[(String, Vec<u8>)],
    declared: &BTreeMap<String, PathBuf>,
) -> std::io::Result<PathBuf> {
    let root = workdir.join(dir);
    std::fs::create_dir_all(&root)?;
    clean(workdir, &root)?;
    for (name, bytes) in files {
        std::fs::write(root.join(name), bytes)?;
    }
    for (rel, abs) in declared {
        let to = workdir.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(abs, &to)?;
    }
    Ok(root)
}

impl CapsView<'_> {
    /// The `terraform` binary, or the error the plugin reports.
    async fn terraform_binary(
        &mut self,
    ) -> wasmtime::Result<Result<Terraform, wit::TerraformError>> {
        let clients = self.clients;
        Ok(self
            .call(async move { clients.terraform().await })
            .await?
            .map_err(Into::into))
    }

    /// What a command after `init` needs: the root module `init` laid out, the binary,
    /// and the lock mode; or the error for calling too early.
    async fn ready(
        &mut self,
    ) -> wasmtime::Result<Result<(PathBuf, Terraform, Lock), wit::TerraformError>> {
        let Some(root) = self.terraform.root.clone() else {
            return Ok(Err(failed(
                "call terraform.init first: there is no working directory yet",
            )));
        };
        let lock = self.terraform.lock();
        Ok(self.terraform_binary().await?.map(|tf| (root, tf, lock)))
    }
}

impl wit::Host for CapsView<'_> {
    async fn version(&mut self) -> wasmtime::Result<Result<String, wit::TerraformError>> {
        Ok(self
            .terraform_binary()
            .await?
            .map(|t| t.version().to_owned()))
    }

    async fn init(
        &mut self,
        workspace: wit::Workspace,
    ) -> wasmtime::Result<Result<(), wit::TerraformError>> {
        let Some(place) = self.terraform.place.clone() else {
            return Ok(Err(failed(
                "this run has no Terraform working directory (the step runs outside a deploy)",
            )));
        };
        if let Err(problem) = check_relative_path(&workspace.dir) {
            return Ok(Err(failed(format!("workspace dir {problem}"))));
        }
        let tf = match self.terraform_binary().await? {
            Ok(tf) => tf,
            Err(e) => return Ok(Err(e)),
        };
        // The root module's files, from the upstream step's outputs.
        let mut files = Vec::new();
        for file in &workspace.files {
            if file.name.contains('/') || check_relative_path(&file.name).is_err() {
                return Ok(Err(failed(format!(
                    "root module file name `{}` must be a plain file name",
                    file.name
                ))));
            }
            let read = self.upstream.read(&file.step, &file.output, None);
            match self.call(read).await? {
                Ok(bytes) => files.push((file.name.clone(), bytes)),
                Err(e) => {
                    return Ok(Err(failed(format!(
                        "cannot read the root module's {}: {}",
                        file.name,
                        describe_file_error(&e)
                    ))));
                }
            }
        }
        let declared = self.terraform.declared.clone();
        let workdir = place.workdir.clone();
        let dir = workspace.dir.clone();
        let laid = tokio::task::spawn_blocking(move || lay_out(&workdir, &dir, &files, &declared))
            .await
            .map_err(|e| wasmtime::Error::msg(format!("laying out the working directory: {e}")))?;
        let root = match laid {
            Ok(root) => root,
            Err(e) => {
                return Ok(Err(failed(format!(
                    "cannot lay out the working directory {}: {e}",
                    place.workdir.display()
                ))));
            }
        };
        self.terraform.root = Some(root.clone());
        let backend = workspace.backend;
        let mut lines = Vec::new();
        let outcome = {
            let mut log = |line: String| lines.push(line);
            let init = tf.init(&root, &backend, &mut log);
            self.call(init).await?
        };
        self.log_lines(lines);
        Ok(outcome.map_err(Into::into))
    }

    async fn plan(&mut self) -> wasmtime::Result<Result<wit::PlanSummary, wit::TerraformError>> {
        let (root, tf, lock) = match self.ready().await? {
            Ok(ready) => ready,
            Err(e) => return Ok(Err(e)),
        };
        let mut lines = Vec::new();
        let outcome = {
            let mut log = |line: String| lines.push(line);
            self.call(tf.plan(&root, lock, &mut log)).await?
        };
        self.log_lines(lines);
        if let (Ok(summary), Some(sink)) = (&outcome, self.plan_sink()) {
            *sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(*summary);
        }
        Ok(outcome.map(Into::into).map_err(Into::into))
    }

    async fn apply(&mut self) -> wasmtime::Result<Result<(), wit::TerraformError>> {
        if self.plan_sink().is_some() {
            return Ok(Err(failed(
                "this is a read-only run (`forge plan --terraform`): it plans and applies nothing",
            )));
        }
        let (root, tf, lock) = match self.ready().await? {
            Ok(ready) => ready,
            Err(e) => return Ok(Err(e)),
        };
        let mut lines = Vec::new();
        let outcome = {
            let mut log = |line: String| lines.push(line);
            self.call(tf.apply(&root, lock, &mut log)).await?
        };
        self.log_lines(lines);
        Ok(outcome.map_err(Into::into))
    }

    async fn output(&mut self) -> wasmtime::Result<Result<String, wit::TerraformError>> {
        let (root, tf, _) = match self.ready().await? {
            Ok(ready) => ready,
            Err(e) => return Ok(Err(e)),
        };
        let output = self.call(async move { tf.output(&root).await }).await?;
        Ok(output.map(|json| json.to_string()).map_err(Into::into))
    }
}

impl CapsView<'_> {
    /// Where a read-only run records its plan.
    fn plan_sink(&self) -> Option<&crate::host::PlanSink> {
        self.terraform.place.as_ref()?.plan_only.as_ref()
    }

    /// Terraform's lines, to the step's log (capped like the plugin's own), once each
    /// command ended: the log borrows the run's state, which a running call holds.
    fn log_lines(&mut self, lines: Vec<String>) {
        for line in lines {
            self.log.emit(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_keeps_terraforms_own_files_and_nothing_stale() {
        let project = tempfile::tempdir().expect("project");
        std::fs::create_dir_all(project.path().join("modules/net")).expect("mkdir");
        std::fs::write(project.path().join("modules/net/main.tf"), "# net").expect("write");
        let declared = BTreeMap::from([(
            "modules/net/main.tf".to_owned(),
            project.path().join("modules/net/main.tf"),
        )]);
        let work = tempfile::tempdir().expect("work");
        let dir = ".forge/terraform/dev";
        let root = lay_out(
            work.path(),
            dir,
            &[("main.tf".into(), b"# root".to_vec())],
            &declared,
        )
        .expect("lay out");
        std::fs::create_dir_all(root.join(".terraform/providers")).expect("mkdir");
        std::fs::write(root.join(".terraform.lock.hcl"), "# lock").expect("write");
        std::fs::write(root.join("old.tf"), "# stale").expect("write");
        std::fs::create_dir_all(work.path().join("modules/gone")).expect("mkdir");
        std::fs::write(work.path().join("modules/gone/main.tf"), "# gone").expect("write");

        let root = lay_out(
            work.path(),
            dir,
            &[("main.tf".into(), b"# root v2".to_vec())],
            &declared,
        )
        .expect("lay out again");
        assert_eq!(
            std::fs::read_to_string(root.join("main.tf")).expect("main"),
            "# root v2"
        );
        assert!(root.join(".terraform/providers").is_dir(), "providers kept");
        assert!(root.join(".terraform.lock.hcl").is_file(), "lock file kept");
        assert!(!root.join("old.tf").exists(), "a stale root file goes");
        assert!(
            !work.path().join("modules/gone").exists(),
            "a stale module goes"
        );
        assert_eq!(
            std::fs::read_to_string(work.path().join("modules/net/main.tf")).expect("net"),
            "# net"
        );
    }
}
