//! Embeds the SDK and contract sources that `forge plugin new` vendors into a new plugin
//! (`scaffold::vendored_files`): every file of `plugin-sdk/src`, `plugin-sdk/wit` and
//! `contract/src`, listed here rather than by hand, so a module added to either crate is
//! never missing from a vendored copy.

use std::fmt::Write as _;
use std::path::PathBuf;

const DIRS: &[&str] = &["plugin-sdk/src", "plugin-sdk/wit", "contract/src"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let repo = manifest_dir.join("..");
    let mut files = Vec::new();
    for dir in DIRS {
        let path = repo.join(dir);
        // A new or removed file changes the directory, which reruns this script.
        println!("cargo:rerun-if-changed={}", path.display());
        for entry in std::fs::read_dir(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        {
            let entry = entry.expect("a directory entry");
            if entry.file_type().expect("a file type").is_file() {
                files.push(format!("{dir}/{}", entry.file_name().to_string_lossy()));
            }
        }
    }
    files.sort();
    let mut table = String::from(
        "/// (path in forge's repository, contents) of every vendored source file.\n\
         const EMBEDDED_SOURCES: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        let absolute = repo.join(file).canonicalize().expect("the file exists");
        writeln!(
            table,
            "    ({file:?}, include_str!({:?})),",
            absolute.display().to_string()
        )
        .expect("writing to a String");
    }
    table.push_str("];\n");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("embedded_sources.rs");
    std::fs::write(out, table).expect("OUT_DIR is writable");
}
