//! The commit SHA of a project, read from `.git` directly (no `git` process: this is on the
//! no-op path, and spawning git costs more than the rest of a cached run).
//!
//! Order of precedence in [`commit_sha`]:
//! 1. `FORGE_COMMIT_SHA` (a CI job that checked out a detached tree can say what it built);
//! 2. `GIT_COMMIT` (set by Jenkins for every build);
//! 3. the `.git` found in the project root or its parents: a directory, or a `gitdir:` file
//!    (worktrees, submodules). `HEAD` is either a detached SHA or a symbolic ref, resolved
//!    through loose ref files (in the worktree's own git dir, then the common dir named by
//!    `commondir`) and then `packed-refs`.
//!
//! Anything unreadable or unborn (a fresh repo with no commit) gives `None`: steps that
//! declare the commit SHA then fingerprint "no commit", which is honest.

use std::fs;
use std::path::{Path, PathBuf};

/// Environment variables consulted before `.git`, in order.
pub const COMMIT_ENV_VARS: [&str; 2] = ["FORGE_COMMIT_SHA", "GIT_COMMIT"];

/// The commit SHA `root` is checked out at, or `None` outside a repository.
pub fn commit_sha(root: &Path) -> Option<String> {
    commit_sha_with_env(root, |name| std::env::var(name).ok())
}

/// [`commit_sha`] with the environment supplied by the caller (tests, embedding).
pub fn commit_sha_with_env(root: &Path, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    for name in COMMIT_ENV_VARS {
        if let Some(value) = env(name) {
            let value = value.trim();
            if !value.is_empty() {
                return Some(value.to_owned());
            }
        }
    }
    let git_dir = find_git_dir(root)?;
    let common_dir = common_dir(&git_dir);
    let head = fs::read_to_string(git_dir.join("HEAD")).ok()?;
    resolve(&git_dir, &common_dir, head.trim(), 0)
}

/// The time of `commit` in seconds since the Unix epoch, for stamping images:
/// `SOURCE_DATE_EPOCH` when set (the reproducible-builds convention), else the commit's
/// committer time from `git show` (a process, but only when a stamping step runs, never on
/// the no-op path), else `None` (no git, or the commit is not in the repository).
pub fn commit_time_with_env(
    root: &Path,
    commit: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Option<u64> {
    if let Some(epoch) = env("SOURCE_DATE_EPOCH") {
        return epoch.trim().parse().ok();
    }
    if !is_sha(commit) {
        return None;
    }
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["show", "-s", "--format=%ct", commit])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The git dir of the repository containing `start`: `.git` itself, or where a `.git` file's
/// `gitdir:` line points.
pub fn find_git_dir(start: &Path) -> Option<PathBuf> {
    let start = start.canonicalize().unwrap_or_else(|_| start.to_path_buf());
    for dir in start.ancestors() {
        let dot_git = dir.join(".git");
        let Ok(meta) = fs::metadata(&dot_git) else {
            continue;
        };
        if meta.is_dir() {
            return Some(dot_git);
        }
        let text = fs::read_to_string(&dot_git).ok()?;
        let target = text.lines().find_map(|l| l.strip_prefix("gitdir:"))?.trim();
        return Some(dir.join(target));
    }
    None
}

/// Where shared refs live: the dir named by `commondir` (worktrees), else the git dir.
fn common_dir(git_dir: &Path) -> PathBuf {
    match fs::read_to_string(git_dir.join("commondir")) {
        Ok(text) => git_dir.join(text.trim()),
        Err(_) => git_dir.to_path_buf(),
    }
}

fn is_sha(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Resolves a `HEAD`-like value: a SHA, or `ref: <name>` followed (a few levels at most,
/// against cycles) through loose refs and `packed-refs`.
fn resolve(git_dir: &Path, common: &Path, value: &str, depth: u8) -> Option<String> {
    if is_sha(value) {
        return Some(value.to_ascii_lowercase());
    }
    let name = value.strip_prefix("ref:")?.trim();
    if depth > 5 || name.contains("..") {
        return None;
    }
    for dir in [git_dir, common] {
        if let Ok(text) = fs::read_to_string(dir.join(name)) {
            return resolve(git_dir, common, text.trim(), depth + 1);
        }
    }
    let packed = fs::read_to_string(common.join("packed-refs")).ok()?;
    packed.lines().find_map(|line| {
        let (sha, refname) = line.split_once(' ')?;
        (refname.trim() == name && is_sha(sha)).then(|| sha.to_ascii_lowercase())
    })
}

/// The files that differ between commits `a` and `b` (`git diff --name-only`), or `None`
/// when git cannot tell (not a repository, a commit this clone does not have). Spawns git:
/// only for explaining a mismatch, never on a run's path.
pub fn changed_files(root: &Path, a: &str, b: &str) -> Option<Vec<String>> {
    if !is_sha(a) || !is_sha(b) {
        return None;
    }
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["diff", "--name-only", "--no-renames", a, b, "--"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=forge",
                "-c",
                "user.email=forge@example.invalid",
            ])
            .args([
                "-c",
                "commit.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_owned()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn repo_with_commits() -> (tempfile::TempDir, String, String) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        git(d, &["init", "-q"]);
        fs::write(d.join("a"), "1").expect("write");
        git(d, &["add", "a"]);
        git(d, &["commit", "-q", "-m", "one"]);
        let first = git(d, &["rev-parse", "HEAD"]);
        fs::write(d.join("a"), "2").expect("write");
        git(d, &["commit", "-q", "-am", "two"]);
        let second = git(d, &["rev-parse", "HEAD"]);
        (tmp, first, second)
    }

    #[test]
    fn reads_branch_head_from_a_subdirectory() {
        let (tmp, _, second) = repo_with_commits();
        let sub = tmp.path().join("deep/er");
        fs::create_dir_all(&sub).expect("mkdir");
        assert_eq!(commit_sha_with_env(&sub, no_env), Some(second));
    }

    #[test]
    fn reads_packed_refs() {
        let (tmp, _, second) = repo_with_commits();
        git(tmp.path(), &["pack-refs", "--all", "--prune"]);
        assert!(!tmp.path().join(".git/refs/heads/main").exists());
        assert_eq!(commit_sha_with_env(tmp.path(), no_env), Some(second));
    }

    #[test]
    fn reads_detached_head() {
        let (tmp, first, _) = repo_with_commits();
        git(tmp.path(), &["checkout", "-q", "--detach", &first]);
        assert_eq!(commit_sha_with_env(tmp.path(), no_env), Some(first));
    }

    #[test]
    fn follows_gitdir_file_and_commondir() {
        // The layout `git worktree add` makes, built by hand: a `.git` file pointing at
        // `<repo>/.git/worktrees/wt`, whose `commondir` points back at `<repo>/.git`.
        let (tmp, first, second) = repo_with_commits();
        let wt_git = tmp.path().join(".git/worktrees/wt");
        fs::create_dir_all(&wt_git).expect("mkdir");
        fs::write(wt_git.join("commondir"), "../..\n").expect("write");
        git(tmp.path(), &["branch", "feature", &first]);
        fs::write(wt_git.join("HEAD"), "ref: refs/heads/feature\n").expect("write");
        let wt = tempfile::tempdir().expect("tempdir");
        fs::write(
            wt.path().join(".git"),
            format!("gitdir: {}\n", wt_git.display()),
        )
        .expect("write");
        assert_eq!(commit_sha_with_env(wt.path(), no_env), Some(first.clone()));
        git(tmp.path(), &["pack-refs", "--all", "--prune"]);
        assert_eq!(commit_sha_with_env(wt.path(), no_env), Some(first));
        assert_eq!(commit_sha_with_env(tmp.path(), no_env), Some(second));
    }

    #[test]
    fn unborn_branch_and_no_repo_give_none() {
        let tmp = tempfile::tempdir().expect("tempdir");
        assert_eq!(commit_sha_with_env(tmp.path(), no_env), None);
        git(tmp.path(), &["init", "-q"]);
        assert_eq!(commit_sha_with_env(tmp.path(), no_env), None);
    }

    #[test]
    fn environment_overrides_win_in_order() {
        let (tmp, _, _) = repo_with_commits();
        let both = |n: &str| match n {
            "FORGE_COMMIT_SHA" => Some("forge".to_owned()),
            "GIT_COMMIT" => Some("jenkins".to_owned()),
            _ => None,
        };
        assert_eq!(
            commit_sha_with_env(tmp.path(), both).as_deref(),
            Some("forge")
        );
        let jenkins = |n: &str| (n == "GIT_COMMIT").then(|| " jenkins\n".to_owned());
        assert_eq!(
            commit_sha_with_env(tmp.path(), jenkins).as_deref(),
            Some("jenkins")
        );
        let empty = |n: &str| (n == "FORGE_COMMIT_SHA").then(String::new);
        assert_eq!(
            commit_sha_with_env(tmp.path(), empty),
            commit_sha_with_env(tmp.path(), no_env)
        );
    }
}
