//! Input files: one walk of the project tree per run, glob selection per step, and hashing
//! through a persistent stat cache.
//!
//! A run does, in order:
//! 1. [`FileIndex::open`]: walks the project root once (in parallel, honouring `.gitignore`
//!    in or out of a git checkout but not global excludes, `.git/info/exclude` or `.ignore`
//!    files; skipping `.git` and `.forge`), recording each file's
//!    metadata, and loads the stat cache for this root from the store
//!    (`<store>/v1/stat/<root key>.bin`, see [`FileIndex::cache_path`]).
//! 2. [`FileIndex::select`] per input selection: files under its base matching its globs,
//!    minus what its ignore file (`.dockerignore`) excludes, with Docker's semantics.
//! 3. [`FileIndex::hash_files`]: blake3 per file; a file whose size, mtime, ctime and inode
//!    match the cache (and is not racily clean, see `statcache`) is not read at all; the
//!    others are hashed in parallel.
//! 4. [`FileIndex::save`]: writes the cache back, atomically, only if it changed.
//!
//! Content hashes are plain blake3 of the bytes (the same as `b3sum`). A symlink hashes its
//! target path and, when it ends at a file inside the root, that file's content: every
//! reader of an input (the plugin host, `docker-build`'s context, a `command`) reads through
//! it. A link that ends outside the root is never an input: a selection that would take it
//! fails with [`FilesError::LinkOutsideRoot`] (see `links`).

mod dockerignore;
mod links;
mod statcache;
mod walk;

pub use dockerignore::{DockerIgnore, PatternError};
pub use walk::FileMeta;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use rayon::prelude::*;

use crate::graph::InputSelection;

/// Problems reading input files.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum FilesError {
    #[error("cannot read {path}: {source}")]
    #[diagnostic(
        code(forge::files::io),
        help("check that the file exists and that you can read it")
    )]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read `{path}` while looking for input files: {message}")]
    #[diagnostic(
        code(forge::files::walk),
        help(
            "fix its permissions (or rename it, if its name is not valid UTF-8), or exclude it with .gitignore if no step needs it"
        )
    )]
    Walk { path: String, message: String },
    #[error("invalid glob `{glob}` in the inputs of a step: {message}")]
    #[diagnostic(
        code(forge::files::glob),
        help("globs use `*` within a directory, `**` across directories, `?`, `[abc]`, `{{a,b}}`")
    )]
    Glob { glob: String, message: String },
    #[error("invalid pattern `{pattern}` at {path}:{line}: {message}")]
    #[diagnostic(
        code(forge::files::ignore_file),
        help("fix or remove the line; patterns follow .dockerignore syntax")
    )]
    IgnoreFile {
        path: PathBuf,
        line: usize,
        pattern: String,
        message: String,
    },
    #[error("`{path}` is not an input file of this project")]
    #[diagnostic(
        code(forge::files::not_indexed),
        help(
            "the file is missing, outside the project root, or excluded by .gitignore; inputs must be files forge walks"
        )
    )]
    NotIndexed { path: String },
    #[error("`{link}` is a symbolic link to {}, outside the project root", target.display())]
    #[diagnostic(
        code(forge::files::link_outside_root),
        help(
            "a step reads only files inside the project root ({}), and so does its fingerprint: copy the file into the project, or remove the link (or keep it out of the step's inputs, e.g. with .dockerignore)",
            root.display()
        )
    )]
    LinkOutsideRoot {
        /// The link, relative to the root.
        link: String,
        /// Where its chain of links ends.
        target: PathBuf,
        root: PathBuf,
    },
}

/// How [`FileIndex::hash_files`] got its answers, for benchmarks and `--verbose` output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HashStats {
    /// Hashes taken from the stat cache without reading the file.
    pub cached: usize,
    /// Files read and hashed.
    pub hashed: usize,
}

/// The project's files, found by one walk, with their hashes as far as they are known.
#[derive(Debug)]
pub struct FileIndex {
    root: PathBuf,
    /// `root` canonicalized: links must end below it.
    canonical_root: PathBuf,
    cache_file: Option<PathBuf>,
    /// Sorted relative `/`-separated paths, with `metas` and `hashes` at the same index.
    paths: Vec<String>,
    metas: Vec<FileMeta>,
    /// Known-good hashes: trusted from the cache, or computed this run.
    hashes: Vec<Option<[u8; 32]>>,
    walk_errors: Vec<(String, String)>,
    /// Links that end outside the root, sorted by path: not in `paths`, reported by any
    /// selection that would take them.
    outside: Vec<links::Outside>,
    /// Entries the cache file held, and how many of them are still trusted: if these differ,
    /// or anything was hashed, the file on disk is out of date.
    loaded: usize,
    trusted: usize,
    /// Where this run's hashes can be trusted from (see `statcache`).
    trust_before_ns: i64,
    stats: HashStats,
    saved: AtomicBool,
    /// Compiled globs and parsed ignore files: 200 steps commonly share a handful of
    /// patterns, and compiling a glob costs more than matching a directory with it.
    globs: Mutex<HashMap<Vec<String>, Option<Arc<GlobSet>>>>,
    ignores: Mutex<HashMap<String, Arc<DockerIgnore>>>,
    /// Each selection's files, matched once per run: a run selects every step's inputs to
    /// hash them in one batch, then again per step for its fingerprint.
    selections: Mutex<HashMap<InputSelection, Arc<[usize]>>>,
}

impl FileIndex {
    /// Walks `root` and loads its stat cache from the store at `store_dir`.
    pub fn open(root: &Path, store_dir: &Path) -> Result<FileIndex, FilesError> {
        let cache = FileIndex::cache_path(root, store_dir);
        FileIndex::open_with_cache_file(root, Some(cache))
    }

    /// Walks `root` with no persistent cache: every hash is computed (cold path, tests).
    pub fn scan(root: &Path) -> Result<FileIndex, FilesError> {
        FileIndex::open_with_cache_file(root, None)
    }

    /// Walks `root`, using (and later saving) the stat cache at `cache_file`.
    pub fn open_with_cache_file(
        root: &Path,
        cache_file: Option<PathBuf>,
    ) -> Result<FileIndex, FilesError> {
        // Read before anything is looked at: a change after this moment must not be trusted.
        let run_start = statcache::now_ns() - statcache::CLOCK_MARGIN_NS;
        let canonical_root = root.canonicalize().map_err(|source| FilesError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        let walked = walk::walk(root, &canonical_root);
        let (paths, metas): (Vec<String>, Vec<FileMeta>) = walked.files.into_iter().unzip();
        let mut index = FileIndex {
            root: root.to_path_buf(),
            canonical_root,
            hashes: vec![None; paths.len()],
            paths,
            metas,
            walk_errors: walked.errors,
            outside: walked.outside,
            loaded: 0,
            trusted: 0,
            trust_before_ns: run_start,
            stats: HashStats::default(),
            saved: AtomicBool::new(false),
            globs: Mutex::default(),
            ignores: Mutex::default(),
            selections: Mutex::default(),
            cache_file,
        };
        if let Some((bytes, written_ns)) = index.cache_file.as_deref().and_then(statcache::read)
            && let Some(decoded) = statcache::decode(&bytes)
        {
            index.merge_cache(decoded, written_ns);
        }
        Ok(index)
    }

    /// Takes each cached hash whose file is unchanged and not racily clean. Both lists are
    /// sorted by path, so this is one merge pass.
    fn merge_cache(&mut self, decoded: statcache::Decoded<'_>, written_ns: i64) {
        self.loaded = decoded.entries.len();
        let limit = decoded.trust_before_ns.min(written_ns);
        let mut i = 0;
        for entry in decoded.entries {
            while i < self.paths.len() && self.paths[i].as_str() < entry.path {
                i += 1;
            }
            if i < self.paths.len()
                && self.paths[i] == entry.path
                && self.metas[i] == entry.meta
                && !statcache::is_racy(entry.meta.mtime_ns, limit)
            {
                self.hashes[i] = Some(entry.hash);
                self.trusted += 1;
            }
        }
    }

    /// Where the stat cache of project `root` lives in the store at `store_dir`.
    pub fn cache_path(root: &Path, store_dir: &Path) -> PathBuf {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let key = blake3::hash(root.as_os_str().as_encoded_bytes()).to_hex();
        store_dir
            .join(crate::store::LAYOUT_DIR)
            .join("stat")
            .join(format!("{}.bin", &key[..32]))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every file found, sorted, relative to the root and `/`-separated.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The metadata recorded by the walk for `path`.
    pub fn meta(&self, path: &str) -> Option<FileMeta> {
        self.position(path).map(|i| self.metas[i])
    }

    pub fn stats(&self) -> HashStats {
        self.stats
    }

    fn position(&self, path: &str) -> Option<usize> {
        self.paths.binary_search_by(|p| p.as_str().cmp(path)).ok()
    }

    /// The files one input selection names, sorted: under `sel.base`, matching `sel.globs`
    /// (relative to the base; all files when empty), minus those `sel.ignore_file` in the
    /// base excludes. A missing ignore file excludes nothing.
    pub fn select(&self, sel: &InputSelection) -> Result<Vec<String>, FilesError> {
        Ok(self
            .select_indices(sel)?
            .iter()
            .map(|&i| self.paths[i].clone())
            .collect())
    }

    /// [`FileIndex::select`] as positions in [`FileIndex::paths`] (sorted, no duplicates),
    /// matched once per selection and remembered: no path is copied.
    pub fn select_indices(&self, sel: &InputSelection) -> Result<Arc<[usize]>, FilesError> {
        if let Some(found) = self
            .selections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(sel)
        {
            return Ok(found.clone());
        }
        let found: Arc<[usize]> = self.match_selection(sel)?.into();
        self.selections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(sel.clone(), found.clone());
        Ok(found)
    }

    fn match_selection(&self, sel: &InputSelection) -> Result<Vec<usize>, FilesError> {
        let base = sel.base.trim_matches('/');
        let base = if base == "." { "" } else { base };
        let prefix = if base.is_empty() {
            String::new()
        } else {
            format!("{base}/")
        };
        if let Some((path, message)) = self
            .walk_errors
            .iter()
            .find(|(p, _)| walk_error_affects(p, base))
        {
            return Err(FilesError::Walk {
                path: path.clone(),
                message: message.clone(),
            });
        }
        let globs = self.globs_for(&sel.globs)?;
        let ignore = match &sel.ignore_file {
            Some(name) => Some(self.ignore_file(&prefix, name)?),
            None => None,
        };
        if !self.outside.is_empty() {
            self.check_links_outside(base, &prefix, sel, globs.as_deref(), ignore.as_deref())?;
        }
        let start = self.paths.partition_point(|p| p.as_str() < prefix.as_str());
        let mut out = Vec::new();
        for (i, path) in self.paths.iter().enumerate().skip(start) {
            let Some(rel) = path.strip_prefix(prefix.as_str()) else {
                break;
            };
            if globs.as_ref().is_none_or(|g| g.is_match(rel))
                && !ignore.as_ref().is_some_and(|i| i.is_excluded(rel))
            {
                out.push(i);
            }
        }
        Ok(out)
    }

    /// Fails if the selection would take a link that ends outside the root: the link
    /// itself, files below it (a linked directory the walk did not enter, which a glob
    /// reaches into), or the base, reached through it. Only runs for projects that have
    /// such links.
    fn check_links_outside(
        &self,
        base: &str,
        prefix: &str,
        sel: &InputSelection,
        globs: Option<&GlobSet>,
        ignore: Option<&DockerIgnore>,
    ) -> Result<(), FilesError> {
        let taken = |link: &links::Outside| {
            let through_base = !base.is_empty()
                && (link.path == base
                    || base
                        .strip_prefix(link.path.as_str())
                        .is_some_and(|rest| rest.starts_with('/')));
            if through_base {
                return true;
            }
            let Some(rel) = link.path.strip_prefix(prefix) else {
                return false;
            };
            if ignore.is_some_and(|i| i.is_excluded(rel)) {
                return false;
            }
            globs.is_none_or(|g| g.is_match(rel))
                || (link.dir && links::may_reach_below(&sel.globs, rel))
        };
        match self.outside.iter().find(|link| taken(link)) {
            Some(link) => Err(FilesError::LinkOutsideRoot {
                link: link.path.clone(),
                target: link.target.clone(),
                root: self.canonical_root.clone(),
            }),
            None => Ok(()),
        }
    }

    fn globs_for(&self, globs: &[String]) -> Result<Option<Arc<GlobSet>>, FilesError> {
        let mut cache = self.globs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = cache.get(globs) {
            return Ok(set.clone());
        }
        let set = build_globs(globs)?.map(Arc::new);
        cache.insert(globs.to_vec(), set.clone());
        Ok(set)
    }

    /// The ignore file `<prefix><name>`, parsed once per run. Only files the walk found are
    /// read: a missing one (or one excluded by `.gitignore`) excludes nothing.
    fn ignore_file(&self, prefix: &str, name: &str) -> Result<Arc<DockerIgnore>, FilesError> {
        let rel = format!("{prefix}{name}");
        let mut cache = self.ignores.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ignore) = cache.get(&rel) {
            return Ok(ignore.clone());
        }
        let parsed = if self.position(&rel).is_some() {
            let path = self.root.join(&rel);
            let text = std::fs::read_to_string(&path).map_err(|source| FilesError::Io {
                path: path.clone(),
                source,
            })?;
            DockerIgnore::parse(&text).map_err(|e| FilesError::IgnoreFile {
                path,
                line: e.line,
                pattern: e.pattern,
                message: e.message,
            })?
        } else {
            DockerIgnore::default()
        };
        let parsed = Arc::new(parsed);
        cache.insert(rel, parsed.clone());
        Ok(parsed)
    }

    /// blake3 hex of each path (relative, as [`FileIndex::select`] returns them). Hashes
    /// known from the stat cache are not recomputed; the rest are read in parallel.
    pub fn hash_files<I, S>(&mut self, paths: I) -> Result<BTreeMap<String, String>, FilesError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut wanted = Vec::new();
        for p in paths {
            let p = p.as_ref();
            let i = self
                .position(p)
                .ok_or_else(|| FilesError::NotIndexed { path: p.to_owned() })?;
            wanted.push(i);
        }
        wanted.sort_unstable();
        wanted.dedup();
        self.hash_indices(&wanted)?;
        Ok(self.hex_hashes(&wanted))
    }

    /// Makes sure the files at `indices` (positions in [`FileIndex::paths`]) are hashed:
    /// those the stat cache does not vouch for are read, in parallel.
    pub fn hash_indices(&mut self, indices: &[usize]) -> Result<(), FilesError> {
        let mut misses: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&i| self.hashes.get(i).is_some_and(Option::is_none))
            .collect();
        misses.sort_unstable();
        misses.dedup();
        let computed: Vec<(usize, Result<[u8; 32], io::Error>)> = misses
            .par_iter()
            .map(|&i| {
                let path = self.root.join(&self.paths[i]);
                (i, hash_entry(&path, self.metas[i], &self.canonical_root))
            })
            .collect();
        for (i, result) in computed {
            let hash = result.map_err(|source| FilesError::Io {
                path: self.root.join(&self.paths[i]),
                source,
            })?;
            self.hashes[i] = Some(hash);
            self.stats.hashed += 1;
        }
        self.stats.cached += indices.len() - misses.len();
        if !misses.is_empty() {
            self.saved.store(false, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Path → blake3 hex of the files at `indices` that are hashed (see
    /// [`FileIndex::hash_indices`]).
    pub fn hex_hashes(&self, indices: &[usize]) -> BTreeMap<String, String> {
        // Sorted input (paths are sorted) lets `collect` build the map in one pass.
        indices
            .iter()
            .filter_map(|&i| Some((self.paths.get(i)?.clone(), to_hex(self.hashes[i].as_ref()?))))
            .collect()
    }

    /// Whether the stat cache on disk is out of date.
    fn changed(&self) -> bool {
        self.stats.hashed > 0 || self.trusted != self.loaded
    }

    /// Writes the stat cache back to the store, atomically, if it changed since it was
    /// loaded (or last saved). Returns whether it wrote. A no-op without a cache file.
    pub fn save(&self) -> Result<bool, FilesError> {
        let Some(cache_file) = &self.cache_file else {
            return Ok(false);
        };
        if !self.changed() || self.saved.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let entries: Vec<(&str, &FileMeta, &[u8; 32])> = (0..self.paths.len())
            .filter_map(|i| {
                let h = self.hashes[i].as_ref()?;
                Some((self.paths[i].as_str(), &self.metas[i], h))
            })
            .collect();
        let bytes = statcache::encode(self.trust_before_ns, entries.into_iter());
        let stat_dir = cache_file.parent().unwrap_or(Path::new("."));
        let tmp_dir = stat_dir.parent().unwrap_or(stat_dir).join("tmp");
        crate::store::atomic::write_atomic(&tmp_dir, cache_file, &bytes).map_err(|source| {
            FilesError::Io {
                path: cache_file.clone(),
                source,
            }
        })?;
        self.saved.store(true, Ordering::Relaxed);
        Ok(true)
    }
}

/// Whether a path the walk could not read may hide files under `base`: it is the base, lies
/// below it, or is one of its ancestors (an unreadable `app/` hides `app/src/`).
fn walk_error_affects(error_path: &str, base: &str) -> bool {
    let within = |inner: &str, outer: &str| {
        outer.is_empty()
            || inner == outer
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    within(error_path, base) || within(base, error_path)
}

fn build_globs(globs: &[String]) -> Result<Option<GlobSet>, FilesError> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut set = GlobSetBuilder::new();
    for g in globs {
        let glob = GlobBuilder::new(g.trim_start_matches("./"))
            .literal_separator(true)
            .build()
            .map_err(|e| FilesError::Glob {
                glob: g.clone(),
                message: e.kind().to_string(),
            })?;
        set.add(glob);
    }
    set.build().map(Some).map_err(|e| FilesError::Glob {
        glob: globs.join(", "),
        message: e.to_string(),
    })
}

/// Files at least this big are hashed with blake3's multithreaded mode, chunk by chunk.
const BIG_FILE: u64 = 1 << 20;
const BIG_CHUNK: usize = 8 << 20;

/// A file's hash; a link's is its target path and, when it ends at a file (inside `root`,
/// canonical), that file's hash: readers read through it.
fn hash_entry(path: &Path, meta: FileMeta, root: &Path) -> io::Result<[u8; 32]> {
    if !meta.symlink {
        return hash_file(path);
    }
    let target = std::fs::read_link(path)?;
    let target = target.as_os_str().as_encoded_bytes();
    let mut h = blake3::Hasher::new_derive_key("forge 2026-11 symlink target and content");
    h.update(&(target.len() as u64).to_le_bytes());
    h.update(target);
    if std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        // The walk checked where the link ends, but a `command` step may have changed the
        // tree since: outside content is never read, not even to hash it.
        if !links::still_inside(root, path)? {
            return Err(io::Error::other(
                "the link now ends outside the project root",
            ));
        }
        h.update(&hash_file(path)?);
    }
    Ok(*h.finalize().as_bytes())
}

/// blake3 of a file's bytes, as `b3sum` prints it (in raw form). Small files are read in
/// one go; big ones in chunks hashed across threads.
pub fn hash_file(path: &Path) -> io::Result<[u8; 32]> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len < BIG_FILE {
        let mut buf = Vec::with_capacity(len as usize + 1);
        file.read_to_end(&mut buf)?;
        return Ok(*blake3::hash(&buf).as_bytes());
    }
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; BIG_CHUNK];
    loop {
        let n = read_full(&mut file, &mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update_rayon(&buf[..n]);
    }
    Ok(*hasher.finalize().as_bytes())
}

fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

pub(crate) fn to_hex(h: &[u8; 32]) -> String {
    blake3::Hash::from_bytes(*h).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::walk_error_affects;

    #[test]
    fn walk_errors_affect_the_base_its_contents_and_its_ancestors() {
        assert!(walk_error_affects("app", "app"));
        assert!(walk_error_affects("app/src/x", "app"));
        assert!(walk_error_affects("app", "app/src"));
        assert!(walk_error_affects("", "app"));
        assert!(walk_error_affects("anything", ""));
        assert!(!walk_error_affects("application", "app"));
        assert!(!walk_error_affects("app", "application"));
        assert!(!walk_error_affects("other/x", "app"));
    }
}
