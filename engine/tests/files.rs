//! Input files: the walk, selection with globs and `.dockerignore`, hashing through the
//! persistent stat cache.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use forge_engine::files::{FileIndex, FilesError, HashStats, hash_file};
use forge_engine::graph::InputSelection;

/// Writes `files` under `root` with an mtime an hour ago, so the racy-timestamp rule does
/// not (rightly) refuse to trust hashes of files written a moment ago.
fn tree(root: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        write_old(&root.join(path), content);
    }
}

fn write_old(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, content).expect("write");
    set_mtime(path, SystemTime::now() - Duration::from_secs(3600));
}

fn set_mtime(path: &Path, t: SystemTime) {
    fs::File::options()
        .write(true)
        .open(path)
        .expect("open")
        .set_modified(t)
        .expect("set mtime");
}

fn sel(base: &str, globs: &[&str], ignore: Option<&str>) -> InputSelection {
    InputSelection {
        base: base.into(),
        globs: globs.iter().map(|g| (*g).to_owned()).collect(),
        ignore_file: ignore.map(str::to_owned),
    }
}

fn sample(root: &Path) {
    tree(
        root,
        &[
            (".gitignore", "target/\n*.log\n"),
            ("project.kdl", "project"),
            (
                "app/.dockerignore",
                "# build junk\nnode_modules\n*.md\n!README.md\n/tmp\n",
            ),
            ("app/Dockerfile", "FROM scratch"),
            ("app/README.md", "readme"),
            ("app/NOTES.md", "notes"),
            ("app/src/main.rs", "fn main() {}"),
            ("app/src/lib.rs", "pub fn f() {}"),
            ("app/src/deep/mod.rs", "mod x;"),
            ("app/node_modules/pkg/index.js", "x"),
            ("app/tmp/scratch", "x"),
            ("app/src/tmp/keep", "x"),
            ("app/debug.log", "ignored by .gitignore"),
            ("target/debug/forge", "ignored by .gitignore"),
            (".git/HEAD", "never walked"),
            (".forge/state", "never walked"),
            ("other/file.rs", "other"),
        ],
    );
}

#[test]
fn walk_honours_gitignore_without_git_and_skips_git_and_forge_dirs() {
    let t = tempfile::tempdir().expect("tempdir");
    sample(t.path());
    let index = FileIndex::scan(t.path()).expect("scan");
    assert_eq!(
        index.paths(),
        [
            ".gitignore",
            "app/.dockerignore",
            "app/Dockerfile",
            "app/NOTES.md",
            "app/README.md",
            "app/node_modules/pkg/index.js",
            "app/src/deep/mod.rs",
            "app/src/lib.rs",
            "app/src/main.rs",
            "app/src/tmp/keep",
            "app/tmp/scratch",
            "other/file.rs",
            "project.kdl",
        ]
    );
    assert_eq!(index.meta("app/Dockerfile").map(|m| m.size), Some(12));

    // In a worktree or submodule `.git` is a file naming an absolute path: never an input.
    tree(
        t.path(),
        &[
            ("sub/.git", "gitdir: /elsewhere/.git/modules/sub"),
            ("sub/a", "a"),
        ],
    );
    let index = FileIndex::scan(t.path()).expect("scan");
    assert!(index.meta("sub/a").is_some());
    assert!(index.meta("sub/.git").is_none());
}

#[test]
fn gitignore_above_the_project_applies_only_inside_a_repository() {
    let t = tempfile::tempdir().expect("tempdir");
    // A dotfiles-style `.gitignore` that ignores everything, above a project with no git.
    tree(
        t.path(),
        &[
            (".gitignore", "*\n"),
            ("project/src/a.rs", "a"),
            ("project/.ignore", "src\n"),
        ],
    );
    let index = FileIndex::scan(&t.path().join("project")).expect("scan");
    assert_eq!(index.paths(), [".ignore", "src/a.rs"]);

    // The same tree as a repository: its `.gitignore` governs the subdirectory project.
    tree(
        t.path(),
        &[
            (".gitignore", "*.log\n"),
            ("project/x.log", "x"),
            (".git/HEAD", "ref: refs/heads/main\n"),
        ],
    );
    let index = FileIndex::scan(&t.path().join("project")).expect("scan");
    assert_eq!(index.paths(), [".ignore", "src/a.rs"]);
}

#[test]
fn select_by_base_globs_and_dockerignore() {
    let t = tempfile::tempdir().expect("tempdir");
    sample(t.path());
    let index = FileIndex::scan(t.path()).expect("scan");
    assert_eq!(
        index
            .select(&sel("app", &[], Some(".dockerignore")))
            .expect("select"),
        [
            "app/.dockerignore",
            "app/Dockerfile",
            "app/README.md",
            "app/src/deep/mod.rs",
            "app/src/lib.rs",
            "app/src/main.rs",
            "app/src/tmp/keep",
        ]
    );
    assert_eq!(
        index
            .select(&sel("app/", &["src/*.rs"], None))
            .expect("select"),
        ["app/src/lib.rs", "app/src/main.rs"]
    );
    assert_eq!(
        index
            .select(&sel("app", &["src/**/*.rs", "Dockerfile"], None))
            .expect("select"),
        [
            "app/Dockerfile",
            "app/src/deep/mod.rs",
            "app/src/lib.rs",
            "app/src/main.rs"
        ]
    );
    // `app` must not select `application/...`, and a missing ignore file excludes nothing.
    tree(t.path(), &[("application/x", "x")]);
    let index = FileIndex::scan(t.path()).expect("scan");
    let all = index
        .select(&sel("app", &[], Some(".nope")))
        .expect("select");
    assert_eq!(all.len(), 10);
    assert!(all.iter().all(|p| p.starts_with("app/")));
    assert_eq!(
        index.select(&sel("", &["*.kdl"], None)).expect("select"),
        ["project.kdl"]
    );
    assert!(
        index
            .select(&sel("missing", &[], None))
            .expect("select")
            .is_empty()
    );
}

#[test]
fn bad_globs_and_ignore_patterns_are_errors() {
    let t = tempfile::tempdir().expect("tempdir");
    sample(t.path());
    tree(t.path(), &[("bad/.dockerignore", "ok\n[oops\n")]);
    let index = FileIndex::scan(t.path()).expect("scan");
    let err = index
        .select(&sel("app", &["src/[x"], None))
        .expect_err("invalid glob");
    assert!(matches!(err, FilesError::Glob { .. }));
    let help = miette::Diagnostic::help(&err).map(|h| h.to_string());
    assert!(help.is_some_and(|h| h.contains("`{a,b}`")));
    match index.select(&sel("bad", &[], Some(".dockerignore"))) {
        Err(FilesError::IgnoreFile { line, pattern, .. }) => {
            assert_eq!((line, pattern.as_str()), (2, "[oops"));
        }
        other => panic!("expected an ignore-file error, got {other:?}"),
    }
}

#[test]
fn hashes_are_blake3_of_the_content_and_symlinks_hash_their_target() {
    let t = tempfile::tempdir().expect("tempdir");
    sample(t.path());
    #[cfg(unix)]
    std::os::unix::fs::symlink("src/main.rs", t.path().join("app/link")).expect("symlink");
    let mut index = FileIndex::scan(t.path()).expect("scan");
    let hashes = index
        .hash_files(["app/src/main.rs", "project.kdl"])
        .expect("hash");
    assert_eq!(
        hashes["app/src/main.rs"],
        blake3::hash(b"fn main() {}").to_hex().to_string()
    );
    assert_eq!(
        hashes["project.kdl"],
        blake3::hash(b"project").to_hex().to_string()
    );
    assert!(matches!(
        index.hash_files(["target/debug/forge"]),
        Err(FilesError::NotIndexed { .. })
    ));
    #[cfg(unix)]
    {
        let link = index.hash_files(["app/link"]).expect("hash")["app/link"].clone();
        assert_ne!(link, hashes["app/src/main.rs"]);
        // Retargeting the link changes its hash even though the content pointed at is equal.
        tree(t.path(), &[("app/src/copy.rs", "fn main() {}")]);
        fs::remove_file(t.path().join("app/link")).expect("rm");
        std::os::unix::fs::symlink("src/copy.rs", t.path().join("app/link")).expect("symlink");
        let mut index = FileIndex::scan(t.path()).expect("scan");
        assert_ne!(
            index.hash_files(["app/link"]).expect("hash")["app/link"],
            link
        );
    }
}

#[test]
fn big_files_hash_like_small_ones() {
    let t = tempfile::tempdir().expect("tempdir");
    let data: Vec<u8> = (0..(20u32 << 20)).map(|i| (i % 251) as u8).collect();
    let path = t.path().join("big.bin");
    fs::write(&path, &data).expect("write");
    assert_eq!(
        hash_file(&path).expect("hash"),
        *blake3::hash(&data).as_bytes()
    );
}

#[test]
fn stat_cache_skips_unchanged_files_and_rehashes_changed_ones() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = t.path().join("store");
    let root = t.path().join("project");
    sample(&root);
    let all = |i: &FileIndex| i.paths().to_vec();

    let mut cold = FileIndex::open(&root, &store).expect("open");
    let first = cold.hash_files(all(&cold)).expect("hash");
    assert_eq!(
        cold.stats(),
        HashStats {
            cached: 0,
            hashed: 13
        }
    );
    assert!(cold.save().expect("save"), "a new cache is written");
    assert!(!cold.save().expect("save"), "saving twice writes once");
    assert!(
        FileIndex::cache_path(&root, &store)
            .starts_with(store.join(forge_engine::store::LAYOUT_DIR).join("stat"))
    );

    let mut warm = FileIndex::open(&root, &store).expect("open");
    assert_eq!(warm.hash_files(all(&warm)).expect("hash"), first);
    assert_eq!(
        warm.stats(),
        HashStats {
            cached: 13,
            hashed: 0
        }
    );
    assert!(
        !warm.save().expect("save"),
        "nothing changed, nothing written"
    );

    // New content with a recent (but not racy) mtime.
    write_old(&root.join("app/src/main.rs"), "fn main() {1}");
    set_mtime(
        &root.join("app/src/main.rs"),
        SystemTime::now() - Duration::from_secs(60),
    );
    let mut changed = FileIndex::open(&root, &store).expect("open");
    let hashes = changed.hash_files(all(&changed)).expect("hash");
    assert_eq!(
        changed.stats(),
        HashStats {
            cached: 12,
            hashed: 1
        }
    );
    assert_ne!(hashes["app/src/main.rs"], first["app/src/main.rs"]);
    assert!(changed.save().expect("save"));
}

#[test]
fn racily_clean_entries_are_rehashed_not_trusted() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = t.path().join("store");
    let root = t.path().join("project");
    tree(&root, &[("old.txt", "old"), ("new.txt", "v1")]);
    // A file modified "now" (here: stamped in the future, to be independent of timing) may
    // change again within the same timestamp tick after being hashed: never trust it.
    let future = SystemTime::now() + Duration::from_secs(30);
    set_mtime(&root.join("new.txt"), future);

    let mut first = FileIndex::open(&root, &store).expect("open");
    first.hash_files(["old.txt", "new.txt"]).expect("hash");
    first.save().expect("save");

    // Unchanged metadata, yet the entry is not trusted: it is racily clean.
    let mut second = FileIndex::open(&root, &store).expect("open");
    second.hash_files(["old.txt", "new.txt"]).expect("hash");
    assert_eq!(
        second.stats(),
        HashStats {
            cached: 1,
            hashed: 1
        }
    );

    // Once its mtime is safely older than a cache write, it is trusted again.
    set_mtime(
        &root.join("new.txt"),
        SystemTime::now() - Duration::from_secs(60),
    );
    let mut third = FileIndex::open(&root, &store).expect("open");
    third.hash_files(["old.txt", "new.txt"]).expect("hash");
    third.save().expect("save");
    let mut fourth = FileIndex::open(&root, &store).expect("open");
    let hashes = fourth.hash_files(["old.txt", "new.txt"]).expect("hash");
    assert_eq!(
        fourth.stats(),
        HashStats {
            cached: 2,
            hashed: 0
        }
    );
    assert_eq!(hashes["new.txt"], blake3::hash(b"v1").to_hex().to_string());
}

#[test]
fn corrupt_or_foreign_cache_files_are_discarded() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = t.path().join("store");
    let root = t.path().join("project");
    sample(&root);
    let mut index = FileIndex::open(&root, &store).expect("open");
    let paths = index.paths().to_vec();
    let good = index.hash_files(&paths).expect("hash");
    index.save().expect("save");
    let cache = FileIndex::cache_path(&root, &store);

    let mut bytes = fs::read(&cache).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&cache, &bytes).expect("write");
    let mut reopened = FileIndex::open(&root, &store).expect("open");
    assert_eq!(reopened.hash_files(&paths).expect("hash"), good);
    assert_eq!(reopened.stats().cached, 0, "a corrupt cache was trusted");
    assert!(
        reopened.save().expect("save"),
        "the corrupt cache is replaced"
    );

    fs::write(&cache, b"not a cache").expect("write");
    let mut reopened = FileIndex::open(&root, &store).expect("open");
    assert_eq!(reopened.hash_files(&paths).expect("hash"), good);
    assert_eq!(reopened.stats().cached, 0);
}

#[cfg(unix)]
#[test]
fn unreadable_paths_fail_the_selections_they_could_hide_files_from() {
    use std::os::unix::ffi::OsStrExt;
    let t = tempfile::tempdir().expect("tempdir");
    sample(t.path());
    let bad = t
        .path()
        .join("app/src")
        .join(std::ffi::OsStr::from_bytes(b"bad\xff.rs"));
    fs::write(bad, "x").expect("write");
    let index = FileIndex::scan(t.path()).expect("scan");
    for base in ["app", "app/src", ""] {
        match index.select(&sel(base, &[], None)) {
            Err(FilesError::Walk { path, .. }) => assert!(path.starts_with("app/src/bad")),
            other => panic!("selection {base:?} silently missed a file: {other:?}"),
        }
    }
    assert_eq!(
        index.select(&sel("other", &[], None)).expect("select"),
        ["other/file.rs"]
    );
}

#[test]
fn missing_root_is_an_error() {
    let t = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        FileIndex::scan(&t.path().join("nope")),
        Err(FilesError::Io { .. })
    ));
}

/// A project with links that leave it, next to a directory outside it with a secret:
/// `data/link.txt` → the secret, `data/chain.txt` → `hop` → the secret (a chain),
/// `data/ext` → the outside directory, `data/gone.txt` → a missing file outside,
/// `data/ok.txt` → `data/a.txt` (inside: fine).
#[cfg(unix)]
fn linked_out(t: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::symlink;
    let root = t.join("project");
    let outside = t.join("outside");
    tree(
        t,
        &[
            ("outside/secret.txt", "the secret"),
            ("outside/more.txt", "more"),
            ("project/data/a.txt", "a"),
            (
                "project/data/.dockerignore",
                "link.txt\nchain.txt\ngone.txt\next\n",
            ),
        ],
    );
    let secret = outside.join("secret.txt");
    symlink(&secret, root.join("data/link.txt")).expect("symlink");
    symlink(&secret, root.join("hop")).expect("symlink");
    symlink("../hop", root.join("data/chain.txt")).expect("symlink");
    symlink("../../outside", root.join("data/ext")).expect("symlink");
    symlink(outside.join("nope.txt"), root.join("data/gone.txt")).expect("symlink");
    symlink("a.txt", root.join("data/ok.txt")).expect("symlink");
    (root, outside.canonicalize().expect("canonical"))
}

#[cfg(unix)]
#[test]
fn links_that_leave_the_root_are_not_inputs_and_fail_the_selections_that_take_them() {
    let t = tempfile::tempdir().expect("tempdir");
    let (root, outside) = linked_out(t.path());
    let mut index = FileIndex::scan(&root).expect("scan");
    // Only what stays inside is indexed (`hop` too leaves the root).
    assert_eq!(
        index.paths(),
        ["data/.dockerignore", "data/a.txt", "data/ok.txt"]
    );
    assert!(matches!(
        index.hash_files(["data/link.txt"]),
        Err(FilesError::NotIndexed { .. })
    ));

    let refused = |sel: InputSelection| match index.select(&sel) {
        Err(err @ FilesError::LinkOutsideRoot { .. }) => err,
        other => panic!("{sel:?} took a link out of the root: {other:?}"),
    };
    let err = refused(sel("data", &["*.txt"], None));
    match &err {
        FilesError::LinkOutsideRoot { link, target, .. } => {
            // The first in path order: a chain is followed to its end.
            assert_eq!(link, "data/chain.txt");
            assert_eq!(target, &outside.join("secret.txt"));
        }
        _ => unreachable!(),
    }
    let text = err.to_string();
    assert!(text.contains("`data/chain.txt`") && text.contains("outside the project root"));
    assert_eq!(
        miette::Diagnostic::code(&err).map(|c| c.to_string()),
        Some("forge::files::link_outside_root".to_owned())
    );
    let help = miette::Diagnostic::help(&err).map(|h| h.to_string());
    assert!(help.is_some_and(|h| h.contains("copy the file into the project")));

    // The link itself by name, a dangling one, and every file of the directory.
    for (glob, link) in [("link.txt", "data/link.txt"), ("gone.txt", "data/gone.txt")] {
        match refused(sel("data", &[glob], None)) {
            FilesError::LinkOutsideRoot { link: l, .. } => assert_eq!(l, link),
            _ => unreachable!(),
        }
    }
    assert!(matches!(
        refused(sel("", &[], None)),
        FilesError::LinkOutsideRoot { .. }
    ));
    // A linked directory the walk did not enter: a glob reaching into it, or a base
    // reached through it, is refused rather than silently matching nothing.
    for selection in [
        sel("data", &["ext/*.txt"], None),
        sel("data", &["**/more.txt"], None),
        sel("data/ext", &["*.txt"], None),
    ] {
        match refused(selection) {
            FilesError::LinkOutsideRoot { link, .. } => assert_eq!(link, "data/ext"),
            _ => unreachable!(),
        }
    }

    // Selections that leave the links out are fine: by glob, or by `.dockerignore`.
    assert_eq!(
        index
            .select(&sel("data", &["a.txt", "ok.txt"], None))
            .expect("select"),
        ["data/a.txt", "data/ok.txt"]
    );
    assert_eq!(
        index
            .select(&sel("data", &[], Some(".dockerignore")))
            .expect("select"),
        ["data/.dockerignore", "data/a.txt", "data/ok.txt"]
    );
}

#[cfg(unix)]
#[test]
fn a_link_to_a_file_inside_the_root_is_read_through_its_edits_included() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = t.path().join("store");
    let (root, _) = linked_out(t.path());
    let ok = |index: &mut FileIndex| {
        index.hash_files(["data/ok.txt"]).expect("hash")["data/ok.txt"].clone()
    };

    let mut cold = FileIndex::open(&root, &store).expect("open");
    let before = ok(&mut cold);
    assert_ne!(
        before,
        blake3::hash(b"a").to_hex().to_string(),
        "the link's text counts too"
    );
    cold.save().expect("save");
    let mut warm = FileIndex::open(&root, &store).expect("open");
    assert_eq!(ok(&mut warm), before);
    assert_eq!(
        warm.stats(),
        HashStats {
            cached: 1,
            hashed: 0
        }
    );

    // The link is untouched; the file it points to changes: the stat cache must notice.
    write_old(&root.join("data/a.txt"), "b");
    let mut edited = FileIndex::open(&root, &store).expect("open");
    assert_ne!(ok(&mut edited), before);
    assert_eq!(
        edited.stats(),
        HashStats {
            cached: 0,
            hashed: 1
        }
    );
}
