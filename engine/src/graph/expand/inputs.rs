//! Which files a step reads: `input` globs and build contexts as [`InputSelection`]s.

use std::collections::BTreeMap;
use std::path::Path;

use crate::model::BuildSpec;

use super::InputSelection;

/// A build's context as Docker sees it: the context directory minus what its
/// `.dockerignore` excludes, and the Dockerfile and `.dockerignore` themselves, which Docker
/// reads whatever `.dockerignore` says (a common `*` + `!dist/app` file excludes both).
pub(super) fn context_inputs(build: &BuildSpec) -> [InputSelection; 2] {
    let context = rel_path(&build.context);
    [
        InputSelection {
            base: context.clone(),
            globs: Vec::new(),
            ignore_file: Some(".dockerignore".to_string()),
        },
        InputSelection {
            base: context,
            globs: vec![
                globset::escape(&rel_path(&build.dockerfile)),
                ".dockerignore".to_string(),
            ],
            ignore_file: None,
        },
    ]
}

/// Root-relative globs as selections, each glob's leading literal directories moved into
/// the selection's base (`src/**/*.rs` → base `src`, glob `**/*.rs`). Same files, but
/// selecting them scans only that directory's slice of the sorted file index instead of
/// matching every file of the project against every glob of every step.
pub(super) fn glob_selections<'a>(globs: impl Iterator<Item = &'a String>) -> Vec<InputSelection> {
    let mut by_base: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for glob in globs {
        let glob = glob.trim_start_matches("./");
        let parts: Vec<&str> = glob.split('/').collect();
        let literal = parts
            .iter()
            .take(parts.len().saturating_sub(1))
            .take_while(|p| !p.is_empty() && !p.contains(['*', '?', '[', ']', '{', '}', '\\', '!']))
            .count();
        let base = parts[..literal].join("/");
        let rest = parts[literal..].join("/");
        by_base.entry(base).or_default().push(rest);
    }
    by_base
        .into_iter()
        .map(|(base, globs)| InputSelection {
            base,
            globs,
            ignore_file: None,
        })
        .collect()
}

/// A project-relative path as forge spells it everywhere: `/`-separated, no `./`, `""` for
/// the root.
pub(super) fn rel_path(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let trimmed = text.trim_start_matches("./").trim_end_matches('/');
    if trimmed == "." {
        String::new()
    } else {
        trimmed.to_string()
    }
}
