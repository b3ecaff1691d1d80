//! `.dockerignore` with Docker's semantics (moby `patternmatcher` + `ignorefile`), so forge
//! fingerprints exactly the files `docker build` would send:
//!
//! - one pattern per line; `#` starts a comment line; surrounding whitespace is trimmed;
//! - patterns are cleaned like Go's `filepath.Clean` and anchored at the context root (a
//!   leading `/` means nothing more); `*` and `?` never cross `/`, `**` crosses any number
//!   of directories;
//! - a pattern that matches a directory excludes everything below it;
//! - `!pattern` re-includes; the last matching pattern wins.

use globset::{GlobBuilder, GlobMatcher};

/// A parsed ignore file.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    matcher: GlobMatcher,
    exception: bool,
}

/// A line that is not a valid pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// 1-based line number.
    pub line: usize,
    pub pattern: String,
    pub message: String,
}

impl DockerIgnore {
    pub fn parse(text: &str) -> Result<DockerIgnore, PatternError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            if raw.starts_with('#') {
                continue;
            }
            let mut line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let exception = line.starts_with('!');
            if exception {
                line = line[1..].trim();
            }
            let cleaned = clean(line);
            if cleaned.is_empty() {
                // `.` or `/`: the context root itself, which names no file.
                continue;
            }
            let matcher = GlobBuilder::new(&cleaned)
                .literal_separator(true)
                .build()
                .map_err(|e| PatternError {
                    line: i + 1,
                    pattern: raw.to_owned(),
                    message: e.kind().to_string(),
                })?
                .compile_matcher();
            patterns.push(Pattern { matcher, exception });
        }
        Ok(DockerIgnore { patterns })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `path` (relative to the context root, `/`-separated) is excluded.
    pub fn is_excluded(&self, path: &str) -> bool {
        // Last match wins, so scan from the end and stop at the first pattern that matches
        // the path or one of its parent directories.
        for p in self.patterns.iter().rev() {
            if p.matcher.is_match(path) || parents(path).any(|dir| p.matcher.is_match(dir)) {
                return !p.exception;
            }
        }
        false
    }
}

/// `a/b/c` → `a`, `a/b`.
fn parents(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// Go's `filepath.Clean` on a `/`-separated pattern, minus the leading `/`: drops empty and
/// `.` components and resolves `..` (never above the root).
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text).expect("valid patterns")
    }

    #[test]
    fn patterns_are_anchored_at_the_root() {
        let di = ignore("target\n/dist\n");
        assert!(di.is_excluded("target"));
        assert!(di.is_excluded("target/debug/app"));
        assert!(di.is_excluded("dist/index.html"));
        assert!(!di.is_excluded("src/target"));
        assert!(!di.is_excluded("src/dist/x"));
    }

    #[test]
    fn star_stays_in_one_directory_and_double_star_crosses() {
        let di = ignore("*.md\n**/*.log\ndocs/*/draft\n");
        assert!(di.is_excluded("README.md"));
        assert!(!di.is_excluded("docs/guide.md"));
        assert!(di.is_excluded("a.log"));
        assert!(di.is_excluded("x/y/z.log"));
        assert!(di.is_excluded("docs/v1/draft"));
        assert!(!di.is_excluded("docs/v1/v2/draft"));
    }

    #[test]
    fn exceptions_and_last_match_wins() {
        let di = ignore("*.md\n!README.md\n");
        assert!(di.is_excluded("CHANGELOG.md"));
        assert!(!di.is_excluded("README.md"));
        let di = ignore("!README.md\n*.md\n");
        assert!(di.is_excluded("README.md"));
        let di = ignore("assets\n!assets/keep.txt\n");
        assert!(di.is_excluded("assets/a.png"));
        assert!(!di.is_excluded("assets/keep.txt"));
    }

    #[test]
    fn comments_whitespace_and_cleaning() {
        let di = ignore("# comment\n\n  ./build//out/  \n! keep \nkeep\n");
        assert!(di.is_excluded("build/out/x"));
        assert!(!di.is_excluded("build/x"));
        assert!(di.is_excluded("keep"));
        assert!(!di.is_excluded("# comment"));
        assert!(ignore("a/../b\n").is_excluded("b/c"));
        assert!(ignore(".\n/\n").is_empty());
    }

    #[test]
    fn invalid_pattern_reports_its_line() {
        let err = DockerIgnore::parse("ok\n[unclosed\n").expect_err("invalid");
        assert_eq!(err.line, 2);
        assert_eq!(err.pattern, "[unclosed");
    }
}
