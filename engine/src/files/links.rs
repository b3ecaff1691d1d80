//! Symbolic links and the project root.
//!
//! Every reader of an input follows links: the plugin host's `files.read` opens the path,
//! `docker-build` puts what it read into the build context, a `command` runs in the tree.
//! So a link is only as safe as where it ends up, and the walk resolves every link it meets
//! (following chains) to decide:
//!
//! - it ends at a regular file inside the root: the input is that file, read through the
//!   link; its content feeds the hash (with the link's text) and its metadata feeds the stat
//!   cache, so an edit of the file it points to reruns the step;
//! - it ends inside the root at anything else (a directory, nothing, a loop): it stays a
//!   link, hashed by its text; the walk does not descend into a linked directory;
//! - it ends outside the root: it is no input at all, and a selection that would take it (or
//!   reach below it, for a directory) fails, naming the link and where it points.
//!
//! Only entries the walk already knows to be links (from the directory listing's type, no
//! extra `stat`) get here, so a tree without links pays nothing.

use std::fs::Metadata;
use std::io;
use std::path::{Component, Path, PathBuf};

use globset::GlobBuilder;

use super::walk::FileMeta;

/// Links followed before a chain counts as a loop (Linux's own limit for path lookup).
const MAX_HOPS: usize = 40;

/// A link whose destination is outside the project root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outside {
    /// Relative to the root, `/`-separated.
    pub path: String,
    /// Where the chain ends: canonical, or spelled out as far as it exists.
    pub target: PathBuf,
    /// Not a regular file (a directory, or nothing yet): globs may reach below it.
    pub dir: bool,
}

/// What the walk records for one link.
pub(crate) enum Link {
    /// Inside the root: the metadata the stat cache compares.
    Inside(FileMeta),
    Outside(Outside),
}

/// Classifies the link at `root/rel` (`lstat` is its own metadata, `root` is canonical).
pub(crate) fn classify(root: &Path, rel: &str, lstat: &Metadata) -> Link {
    // The walk never follows links, so every directory on `rel` is a real one: joined onto
    // the canonical root it is an absolute path with no link but the last component.
    let link = root.join(rel);
    let own = FileMeta::from_metadata(lstat);
    let target = destination(&link);
    if !target.starts_with(root) {
        let dir = !std::fs::metadata(&target).is_ok_and(|m| m.is_file());
        return Link::Outside(Outside {
            path: rel.to_owned(),
            target,
            dir,
        });
    }
    match std::fs::metadata(&link) {
        Ok(dest) if dest.is_file() => Link::Inside(followed(own, FileMeta::from_metadata(&dest))),
        _ => Link::Inside(own),
    }
}

/// The stat-cache metadata of a link read through to a file: the file's size and times (an
/// edit of the file must invalidate the link's hash), with the link's own ctime and inode
/// mixed in (retargeting the link to another spelling of the same file changes its text,
/// and so its hash).
fn followed(link: FileMeta, file: FileMeta) -> FileMeta {
    FileMeta {
        size: file.size,
        mtime_ns: file.mtime_ns,
        ctime_ns: file.ctime_ns.max(link.ctime_ns),
        ino: file.ino ^ link.ino.rotate_left(32),
        symlink: true,
    }
}

/// Where the link at the absolute path `link` ends, following chains: its canonical path,
/// or for a dangling link (or a loop) the last hop spelled out, canonical as far as it
/// exists, so a dangling link into `/tmp` still counts as pointing outside.
pub(crate) fn destination(link: &Path) -> PathBuf {
    if let Ok(canonical) = std::fs::canonicalize(link) {
        return canonical;
    }
    let mut current = link.to_path_buf();
    for _ in 0..MAX_HOPS {
        let Ok(target) = std::fs::read_link(&current) else {
            break;
        };
        let parent = current.parent().unwrap_or(Path::new("/"));
        current = resolve_existing(&parent.join(target));
        let is_link = current
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink());
        if !is_link {
            break;
        }
    }
    current
}

/// `path` (absolute) with its longest existing prefix canonicalized and the rest applied
/// lexically (`..` pops: nothing below a missing directory can be a link).
fn resolve_existing(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    let mut exists = true;
    for part in path.components() {
        match part {
            Component::Prefix(_) | Component::RootDir => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                out.push(name);
                if exists {
                    match out.canonicalize() {
                        Ok(canonical) => out = canonical,
                        // A dangling last hop: keep its name for the caller to follow.
                        Err(_) => exists = false,
                    }
                }
            }
        }
    }
    out
}

/// Whether the read of a link at hashing time still ends inside `root`: the walk checked,
/// but the tree may have changed since (a `command` step ran). Never read outside content,
/// even just to hash it.
pub(crate) fn still_inside(root: &Path, link: &Path) -> io::Result<bool> {
    let target = destination(&std::path::absolute(link)?);
    Ok(target.starts_with(root))
}

/// Whether any of `globs` (relative to the same base as `dir`) could match a path below the
/// directory `dir`: component by component, `**` matching any depth. Errs on the side of
/// yes (a component that does not compile on its own, `a**`), so a link outside the root is
/// reported rather than silently skipped.
pub(crate) fn may_reach_below(globs: &[String], dir: &str) -> bool {
    let dir: Vec<&str> = dir.split('/').collect();
    globs.iter().any(|glob| {
        let parts: Vec<&str> = glob.trim_start_matches("./").split('/').collect();
        reaches(&parts, &dir)
    })
}

fn reaches(glob: &[&str], dir: &[&str]) -> bool {
    match (glob.first(), dir.first()) {
        (Some(g), _) if g.contains("**") => true,
        // The directory is consumed: the glob reaches below it if it has parts left.
        (_, None) => !glob.is_empty(),
        (None, Some(_)) => false,
        (Some(g), Some(d)) => component_matches(g, d) && reaches(&glob[1..], &dir[1..]),
    }
}

fn component_matches(glob: &str, name: &str) -> bool {
    GlobBuilder::new(glob)
        .literal_separator(true)
        .build()
        .map_or(true, |g| g.compile_matcher().is_match(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globs(g: &[&str]) -> Vec<String> {
        g.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn globs_that_reach_below_a_directory() {
        assert!(may_reach_below(&globs(&["ext/*.txt"]), "ext"));
        assert!(may_reach_below(&globs(&["**/*.txt"]), "a/ext"));
        assert!(may_reach_below(&globs(&["*/x"]), "ext"));
        assert!(may_reach_below(&globs(&["a/**"]), "a/ext"));
        assert!(!may_reach_below(&globs(&["*.txt"]), "ext"));
        assert!(!may_reach_below(&globs(&["other/*.txt"]), "ext"));
        assert!(
            !may_reach_below(&globs(&["ext"]), "ext"),
            "names the link itself"
        );
        assert!(!may_reach_below(&globs(&["a/b/*"]), "a/ext"));
    }

    #[cfg(unix)]
    #[test]
    fn destinations_follow_chains_and_dangling_links() {
        use std::os::unix::fs::symlink;
        let t = tempfile::tempdir().expect("tempdir");
        let root = t.path().canonicalize().expect("canonical");
        std::fs::create_dir_all(root.join("in")).expect("mkdir");
        std::fs::write(root.join("in/file"), "x").expect("write");
        symlink("file", root.join("in/a")).expect("link");
        symlink("a", root.join("in/b")).expect("link");
        assert_eq!(destination(&root.join("in/b")), root.join("in/file"));
        // Dangling: the chain is followed as far as it goes, `..` applied to what exists.
        symlink("../../nowhere/x", root.join("in/d")).expect("link");
        symlink("d", root.join("in/e")).expect("link");
        let parent = root.parent().expect("parent").to_path_buf();
        assert_eq!(destination(&root.join("in/e")), parent.join("nowhere/x"));
        // A loop ends somewhere, without hanging.
        symlink("l2", root.join("in/l1")).expect("link");
        symlink("l1", root.join("in/l2")).expect("link");
        assert!(destination(&root.join("in/l1")).starts_with(&root));
    }
}
