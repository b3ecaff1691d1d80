//! One walk of the project tree: every file (and symlink) with the metadata the stat cache
//! compares, honouring `.gitignore` whether or not the tree is a git checkout. Links are
//! resolved as `links` says; those that leave the root are set apart, never indexed.

use std::fs::Metadata;
use std::path::Path;
use std::sync::Mutex;

use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkBuilder, WalkState};

use super::links::{self, Link, Outside};

/// Never walked or indexed: git's own data and forge's.
const SKIPPED: [&str; 2] = [".git", ".forge"];

/// What the stat cache compares to decide whether a file's recorded hash still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileMeta {
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Status-change time (unix), nanoseconds since the epoch; 0 where unavailable. Catches
    /// a file replaced by another with the same size and mtime (`cp -p`, `touch -r`).
    pub ctime_ns: i64,
    /// Inode number (unix); 0 where unavailable.
    pub ino: u64,
    /// A symbolic link inside the project root: its target path is hashed, and if it ends at
    /// a file, that file's content too (and the other fields are that file's; see `links`).
    pub symlink: bool,
}

impl FileMeta {
    pub fn from_metadata(m: &Metadata) -> FileMeta {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            FileMeta {
                size: m.size(),
                mtime_ns: m.mtime().saturating_mul(1_000_000_000) + m.mtime_nsec(),
                ctime_ns: m.ctime().saturating_mul(1_000_000_000) + m.ctime_nsec(),
                ino: m.ino(),
                symlink: m.file_type().is_symlink(),
            }
        }
        #[cfg(not(unix))]
        {
            let mtime_ns = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i64);
            FileMeta {
                size: m.len(),
                mtime_ns,
                ctime_ns: 0,
                ino: 0,
                symlink: m.file_type().is_symlink(),
            }
        }
    }
}

/// What one walk found, sorted by path.
#[derive(Debug, Default)]
pub(crate) struct Walked {
    pub files: Vec<(String, FileMeta)>,
    /// Paths (relative, `/`-separated; `""` for the root) the walk could not read, with why.
    pub errors: Vec<(String, String)>,
    /// Links that end outside the root: not in `files`.
    pub outside: Vec<Outside>,
}

/// Walks `root` on a few threads. Paths are relative to `root` and `/`-separated.
/// `canonical_root` is `root` canonicalized: where links may lead.
pub(crate) fn walk(root: &Path, canonical_root: &Path) -> Walked {
    let mut builder = WalkBuilder::new(root);
    builder
        // Build contexts routinely contain dotfiles (`.dockerignore`, `.env.example`).
        .hidden(false)
        .require_git(false)
        // `.ignore` files hide things from ripgrep and friends, not from builds.
        .ignore(false)
        // Outside a repository, a `.gitignore` above the project (a dotfiles repo's `*` in
        // `~/.gitignore`) must not hide the project's files; inside one, the repository's
        // own `.gitignore`s above the project root apply, as git applies them.
        .parents(inside_repository(canonical_root))
        // Global excludes and `.git/info/exclude` differ between machines; honouring them
        // would make the same commit fingerprint differently on a laptop and in CI.
        .git_global(false)
        .git_exclude(false)
        .follow_links(false)
        .threads(std::thread::available_parallelism().map_or(2, |n| n.get().min(4)))
        // Whatever their type: in a worktree or submodule `.git` is a file naming an
        // absolute path, which would make the same commit fingerprint differently per checkout.
        .filter_entry(|e| !e.file_name().to_str().is_some_and(|n| SKIPPED.contains(&n)));
    let shared = Mutex::new(Walked::default());
    let mut visitors = Builder {
        root,
        canonical_root,
        shared: &shared,
    };
    builder.build_parallel().visit(&mut visitors);
    let mut walked = shared.into_inner().unwrap_or_else(|p| p.into_inner());
    walked.files.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    walked.errors.sort();
    walked.outside.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    walked
}

struct Builder<'a> {
    root: &'a Path,
    canonical_root: &'a Path,
    shared: &'a Mutex<Walked>,
}

impl<'s> ParallelVisitorBuilder<'s> for Builder<'s> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        Box::new(Visitor {
            root: self.root,
            canonical_root: self.canonical_root,
            shared: self.shared,
            local: Walked::default(),
        })
    }
}

/// Collects into a thread-local buffer and merges once, when its thread is done.
struct Visitor<'a> {
    root: &'a Path,
    canonical_root: &'a Path,
    shared: &'a Mutex<Walked>,
    local: Walked,
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        shared.files.append(&mut self.local.files);
        shared.errors.append(&mut self.local.errors);
        shared.outside.append(&mut self.local.outside);
    }
}

impl ParallelVisitor for Visitor<'_> {
    fn visit(&mut self, entry: Result<DirEntry, ignore::Error>) -> WalkState {
        match entry {
            Ok(entry) => {
                let Some(kind) = entry.file_type() else {
                    return WalkState::Continue;
                };
                if !(kind.is_file() || kind.is_symlink()) {
                    return WalkState::Continue;
                }
                let rel = match relative(self.root, entry.path()) {
                    Some(rel) => rel,
                    None => {
                        let path = entry.path();
                        let rel = path.strip_prefix(self.root).unwrap_or(path);
                        self.local.errors.push((
                            rel.to_string_lossy()
                                .replace(std::path::MAIN_SEPARATOR, "/"),
                            "the name is not valid UTF-8".into(),
                        ));
                        return WalkState::Continue;
                    }
                };
                // `metadata` is the entry's own (`lstat`): links are never followed by the
                // walk, only resolved here, one by one.
                match entry.metadata() {
                    Ok(m) if kind.is_symlink() => {
                        match links::classify(self.canonical_root, &rel, &m) {
                            Link::Inside(meta) => self.local.files.push((rel, meta)),
                            Link::Outside(link) => self.local.outside.push(link),
                        }
                    }
                    Ok(m) => self.local.files.push((rel, FileMeta::from_metadata(&m))),
                    Err(e) => self.local.errors.push((rel, e.to_string())),
                }
            }
            // A malformed line in a `.gitignore` is skipped, as git does; only failures to
            // read the tree are worth stopping a step for.
            Err(e) if !is_read_failure(&e) => {}
            Err(e) => {
                let path = error_path(&e)
                    .and_then(|p| relative(self.root, p))
                    .unwrap_or_default();
                self.local.errors.push((path, e.to_string()));
            }
        }
        WalkState::Continue
    }
}

/// Whether a strict ancestor of `root` (canonical) holds a `.git` (the project is a
/// subdirectory of a repository).
fn inside_repository(root: &Path) -> bool {
    root.ancestors()
        .skip(1)
        .any(|dir| dir.join(".git").symlink_metadata().is_ok())
}

/// `path` relative to `root`, `/`-separated; `None` if it is not valid UTF-8.
pub(crate) fn relative(root: &Path, path: &Path) -> Option<String> {
    // The walker builds every path by joining names onto `root`, so slicing off its bytes
    // is enough; iterating components costs a visible share of a no-op run.
    let bytes = path.as_os_str().as_encoded_bytes();
    if let Some(rest) = bytes.strip_prefix(root.as_os_str().as_encoded_bytes()) {
        let rest = std::str::from_utf8(rest).ok()?;
        let rest = rest.trim_start_matches(std::path::is_separator);
        return Some(if std::path::MAIN_SEPARATOR == '/' {
            rest.to_owned()
        } else {
            rest.replace(std::path::MAIN_SEPARATOR, "/")
        });
    }
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut out = String::new();
    for c in rel.components() {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(c.as_os_str().to_str()?);
    }
    Some(out)
}

fn error_path(e: &ignore::Error) -> Option<&Path> {
    match e {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Partial(errs) => errs.iter().find_map(error_path),
        _ => None,
    }
}

fn is_read_failure(e: &ignore::Error) -> bool {
    match e {
        ignore::Error::Io(_) | ignore::Error::Loop { .. } => true,
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => is_read_failure(err),
        ignore::Error::Partial(errs) => errs.iter().any(is_read_failure),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_slash_separated_from_any_spelling_of_the_root() {
        for root in ["/p", "/p/", "./p", "p"] {
            let path = Path::new(root).join("a/b.rs");
            assert_eq!(relative(Path::new(root), &path).as_deref(), Some("a/b.rs"));
        }
        assert_eq!(
            relative(Path::new("."), Path::new("./a/b")).as_deref(),
            Some("a/b")
        );
    }
}
