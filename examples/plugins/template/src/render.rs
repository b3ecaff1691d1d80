//! The template language, kept apart from forge so it can be read (and tested) on its own.
//!
//! A template is text with placeholders `{{ NAME }}`: a dotted path (`port`, `db.host`,
//! `upstream.build.digest`) or a quoted literal (`{{ "{{" }}` writes `{{`). What a path
//! means is the caller's business ([`render`] asks a lookup function), so this module
//! knows nothing about values, envs or upstream steps. A placeholder must open and close
//! on one line: an unclosed `{{` is an error, never silently copied, because a typo in a
//! config file should fail the build rather than ship.

use forge_plugin_sdk::Error;

/// Why a placeholder has no value, as the lookup function reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    /// What is wrong, e.g. "`port` is not defined in `values`".
    pub reason: String,
    /// How to fix it in project.kdl.
    pub help: String,
}

impl Miss {
    pub fn new(reason: impl Into<String>, help: impl Into<String>) -> Miss {
        Miss {
            reason: reason.into(),
            help: help.into(),
        }
    }
}

/// Renders `text` (the contents of template `file`), replacing each placeholder with
/// `lookup(path)`. Errors name `file:line:column` and the placeholder as written.
pub fn render(
    file: &str,
    text: &str,
    mut lookup: impl FnMut(&str) -> Result<String, Miss>,
) -> Result<String, Error> {
    let mut out = String::with_capacity(text.len());
    // `split_inclusive` keeps each line's own ending, so CRLF files stay CRLF.
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let number = index + 1;
        let mut rest = line;
        let mut column = 1;
        while let Some(open) = rest.find("{{") {
            out.push_str(&rest[..open]);
            column += rest[..open].chars().count();
            let after = &rest[open + 2..];
            // A quoted literal may itself contain `}}`: look for the end after its quote.
            let skip = after
                .trim_start()
                .strip_prefix('"')
                .and_then(|quoted| quoted.find('"'))
                .map_or(0, |end| {
                    after.len() - after.trim_start().len() + 1 + end + 1
                });
            let Some(close) = after[skip..].find("}}").map(|c| c + skip) else {
                return Err(Error::new(format!(
                    "{file}:{number}:{column}: `{{{{` is never closed on this line"
                ))
                .with_help("close the placeholder with `}}` on the same line, or write a literal `{{` as `{{ \"{{\" }}`"));
            };
            let written = &rest[open..open + 2 + close + 2];
            let expr = after[..close].trim();
            let value = expand(expr).map_or_else(
                || {
                    Err(Miss::new(
                        "it is neither a dotted name nor a quoted string",
                        "write a name such as `{{ port }}` or `{{ upstream.STEP.KEY }}`, or a literal such as `{{ \"{{\" }}`",
                    ))
                },
                |expr| match expr {
                    Expr::Literal(s) => Ok(s.to_owned()),
                    Expr::Path(path) => lookup(path),
                },
            );
            match value {
                Ok(value) => out.push_str(&value),
                Err(miss) => {
                    return Err(Error::new(format!(
                        "{file}:{number}:{column}: cannot fill `{written}`: {}",
                        miss.reason
                    ))
                    .with_help(miss.help));
                }
            }
            column += written.chars().count();
            rest = &after[close + 2..];
        }
        out.push_str(rest);
    }
    Ok(out)
}

enum Expr<'a> {
    Literal(&'a str),
    Path(&'a str),
}

/// `"..."` is a literal (no escapes: it exists to write `{{`); anything else must be a
/// dotted path of names that forge allows for steps and values (`:` for step ids such as
/// `docker-build:web`).
fn expand(expr: &str) -> Option<Expr<'_>> {
    if let Some(literal) = expr
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .filter(|s| !s.contains('"'))
    {
        return Some(Expr::Literal(literal));
    }
    let name_ok = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':'))
    };
    expr.split('.').all(name_ok).then_some(Expr::Path(expr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(path: &str) -> Result<String, Miss> {
        match path {
            "port" => Ok("8080".into()),
            "db.host" => Ok("db.internal".into()),
            _ => Err(Miss::new(format!("`{path}` is unknown"), "define it")),
        }
    }

    #[test]
    fn fills_placeholders_with_or_without_spaces() {
        let out = render(
            "t",
            "listen {{port}}\nhost = {{ db.host }}:{{ port }}\n",
            lookup,
        )
        .expect("renders");
        assert_eq!(out, "listen 8080\nhost = db.internal:8080\n");
    }

    #[test]
    fn text_without_placeholders_is_unchanged_including_crlf_and_no_final_newline() {
        let text = "a }} b\r\nc { d\r\nlast";
        assert_eq!(render("t", text, lookup).expect("renders"), text);
    }

    #[test]
    fn a_quoted_literal_writes_braces() {
        let out = render("t", r#"{{ "{{" }} port {{ "}}" }}"#, lookup).expect("renders");
        assert_eq!(out, "{{ port }}");
    }

    #[test]
    fn an_undefined_name_names_file_line_column_and_placeholder() {
        let err = render("config/a.tmpl", "ok\nx = {{ nope }}\n", lookup).expect_err("undefined");
        assert_eq!(
            err.message(),
            "config/a.tmpl:2:5: cannot fill `{{ nope }}`: `nope` is unknown"
        );
        assert_eq!(err.help(), Some("define it"));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let err = render("t", "é {{ nope }}", lookup).expect_err("undefined");
        assert!(err.message().starts_with("t:1:3:"), "{}", err.message());
    }

    #[test]
    fn an_unclosed_placeholder_is_an_error() {
        let err = render("t", "a\nb {{ port\n}}\n", lookup).expect_err("unclosed");
        assert!(
            err.message().starts_with("t:2:3: `{{` is never closed"),
            "{}",
            err.message()
        );
        assert!(err.help().is_some_and(|h| h.contains("same line")));
    }

    #[test]
    fn a_malformed_placeholder_is_an_error() {
        for bad in ["{{ }}", "{{ a b }}", "{{ a..b }}", "{{ $x }}"] {
            let err = render("t", bad, lookup).expect_err(bad);
            assert!(
                err.message()
                    .contains("neither a dotted name nor a quoted string"),
                "{bad}: {}",
                err.message()
            );
        }
    }
}
