//! Paths a step names: declared inputs, output file names, `command` paths. One rule, so
//! the host, the engine and the SDK's `MockHost` accept and refuse the same names with the
//! same words.

/// Checks that `path` is a plain project-relative `/`-separated path: what declared inputs,
/// output file names and `command` paths must be, so none can name something outside the
/// project or the step's own outputs. `Err` says what is wrong with it, in words a plugin
/// author or a `project.kdl` writer can act on.
pub fn check_relative_path(path: &str) -> Result<(), String> {
    let problem = if path.is_empty() {
        "is empty"
    } else if path.contains('\0') {
        "contains a NUL byte"
    } else if path.chars().any(char::is_control) {
        "contains a control character"
    } else if path.starts_with('/') {
        "is absolute (starts with `/`)"
    } else if path.contains('\\') {
        "contains a backslash; separate segments with `/`"
    } else if path.contains(':') {
        "contains `:`, which names a drive or stream on some systems"
    } else if path.split('/').any(|seg| seg.is_empty()) {
        "has an empty segment (`//` or a trailing `/`)"
    } else if path.split('/').any(|seg| seg == "." || seg == "..") {
        "has a `.` or `..` segment"
    } else if path.len() > MAX_PATH_LEN {
        "is longer than 1024 bytes"
    } else {
        return Ok(());
    };
    Err(format!(
        "`{}` {problem}: it must be a relative `/`-separated path",
        path.escape_debug()
    ))
}

const MAX_PATH_LEN: usize = 1024;

#[cfg(test)]
mod tests {
    use super::check_relative_path;

    #[test]
    fn plain_relative_paths_pass_and_each_problem_is_named() {
        for ok in [
            "a",
            "src/main.rs",
            "a/b/c.txt",
            ".dockerignore",
            "blobs/sha256/ab",
        ] {
            assert_eq!(check_relative_path(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "is empty"),
            ("a\0b", "NUL"),
            ("a\nb", "control character"),
            ("/etc/passwd", "absolute"),
            ("a\\b", "backslash"),
            ("C:/x", "`:`"),
            ("a//b", "empty segment"),
            ("a/", "empty segment"),
            ("../x", "`..`"),
            ("a/./b", "`..`"),
        ] {
            let err = check_relative_path(bad).expect_err(bad);
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        assert!(check_relative_path(&"a".repeat(1025)).is_err());
    }
}
