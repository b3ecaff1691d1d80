//! A tiny HCL writer whose output is already in `terraform fmt` form.
//!
//! The renderer builds a [`Body`] of attributes, blocks, comments and blank lines; [`Body::render`]
//! turns it into text the way `terraform fmt` would leave it, so `fmt -check` passes without
//! running terraform:
//!
//! - two-space indent per open bracket or block;
//! - `=` aligned across a run of consecutive single-line attributes (or object entries): the
//!   run is broken by a blank line, a comment, a block, or an attribute whose value spans
//!   lines (`key = {` has no alignment column in fmt's eyes; its own `=` gets one space);
//! - objects always multi-line (`{}` when empty), keys bare when they are identifiers and
//!   quoted (non-ASCII escaped, so a key's width is its byte length) otherwise;
//! - lists inline (`["a", "b"]`) when every item is a scalar and the line stays short,
//!   otherwise one item per line with a trailing comma;
//! - strings escaped per HCL: `\\`, `\"`, `\n`, `\r`, `\t`, other control characters as
//!   `\uXXXX`, and template openers `${` / `%{` doubled to `$${` / `%%{`.
//!
//! Nothing here sorts: callers pass entries in the order they want (the renderer sorts).

use std::fmt::Write as _;

/// Lists longer than this (as inline text) go one item per line.
const MAX_INLINE_LIST: usize = 80;

/// An HCL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A string literal (escaped when rendered).
    Str(String),
    /// A number literal, already in HCL syntax (JSON numbers are).
    Num(String),
    Bool(bool),
    Null,
    /// A traversal such as `module.vpc.vpc_id`, validated by whoever built it.
    Traversal(String),
    List(Vec<Expr>),
    /// Entries in output order.
    Object(Vec<(String, Expr)>),
}

/// One item of a block body.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Attr(String, Expr),
    Block(Block),
    /// A `#` comment line (the text after `# `).
    Comment(String),
    Blank,
}

/// `kind "label" ... { body }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub kind: String,
    pub labels: Vec<String>,
    pub body: Body,
}

/// The items of a file or block, in output order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Body(pub Vec<Item>);

/// A line before alignment: `lead` (indent excluded) and, for a single-line attribute,
/// the `= value` part that fmt aligns.
struct Line {
    indent: usize,
    lead: String,
    assign: Option<String>,
}

impl Body {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn attr(&mut self, name: impl Into<String>, value: Expr) -> &mut Self {
        self.0.push(Item::Attr(name.into(), value));
        self
    }

    pub fn block(&mut self, block: Block) -> &mut Self {
        self.0.push(Item::Block(block));
        self
    }

    pub fn comment(&mut self, text: impl Into<String>) -> &mut Self {
        self.0.push(Item::Comment(text.into()));
        self
    }

    pub fn blank(&mut self) -> &mut Self {
        self.0.push(Item::Blank);
        self
    }

    /// The file text: `terraform fmt`-clean, ending in exactly one newline.
    pub fn render(&self) -> String {
        let mut lines = Vec::new();
        emit_body(&mut lines, 0, self);
        let mut out = String::new();
        let mut i = 0;
        while i < lines.len() {
            // A run of lines with an alignment column: pad every lead to the widest.
            let mut end = i;
            while end < lines.len() && lines[end].assign.is_some() {
                end += 1;
            }
            let width = lines[i..end]
                .iter()
                .map(|l| l.lead.len())
                .max()
                .unwrap_or(0);
            for line in &lines[i..end.max(i + 1)] {
                if !line.lead.is_empty() || line.assign.is_some() {
                    out.push_str(&"  ".repeat(line.indent));
                }
                out.push_str(&line.lead);
                if let Some(assign) = &line.assign {
                    out.push_str(&" ".repeat(width - line.lead.len() + 1));
                    out.push_str(assign);
                }
                out.push('\n');
            }
            i = end.max(i + 1);
        }
        out
    }
}

impl Block {
    pub fn new(kind: impl Into<String>, labels: &[&str], body: Body) -> Self {
        Self {
            kind: kind.into(),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            body,
        }
    }
}

fn emit_body(lines: &mut Vec<Line>, indent: usize, body: &Body) {
    for item in &body.0 {
        match item {
            Item::Attr(name, value) => emit_entry(lines, indent, name.clone(), value),
            Item::Block(block) => {
                let mut head = block.kind.clone();
                for label in &block.labels {
                    head.push(' ');
                    head.push_str(&quote(label));
                }
                if block.body.0.is_empty() {
                    push(lines, indent, format!("{head} {{}}"));
                } else {
                    push(lines, indent, format!("{head} {{"));
                    emit_body(lines, indent + 1, &block.body);
                    push(lines, indent, "}".to_owned());
                }
            }
            Item::Comment(text) => push(lines, indent, format!("# {text}")),
            Item::Blank => push(lines, 0, String::new()),
        }
    }
}

fn push(lines: &mut Vec<Line>, indent: usize, lead: String) {
    lines.push(Line {
        indent,
        lead,
        assign: None,
    });
}

/// `key = value` for an attribute or an object entry (`key` already rendered).
fn emit_entry(lines: &mut Vec<Line>, indent: usize, key: String, value: &Expr) {
    if let Some(inline) = inline(value) {
        lines.push(Line {
            indent,
            lead: key,
            assign: Some(format!("= {inline}")),
        });
    } else {
        emit_multiline(lines, indent, format!("{key} = "), value, "");
    }
}

/// A value that spans lines: `prefix{` / `prefix[`, its items one level deeper, then the
/// closing bracket followed by `suffix` (`,` inside a list).
fn emit_multiline(
    lines: &mut Vec<Line>,
    indent: usize,
    prefix: String,
    value: &Expr,
    suffix: &str,
) {
    match value {
        Expr::Object(entries) => {
            push(lines, indent, format!("{prefix}{{"));
            for (key, v) in entries {
                emit_entry(lines, indent + 1, object_key(key), v);
            }
            push(lines, indent, format!("}}{suffix}"));
        }
        Expr::List(items) => {
            push(lines, indent, format!("{prefix}["));
            for item in items {
                match inline(item) {
                    Some(text) => push(lines, indent + 1, format!("{text},")),
                    None => emit_multiline(lines, indent + 1, String::new(), item, ","),
                }
            }
            push(lines, indent, format!("]{suffix}"));
        }
        scalar => {
            // Unreachable by construction (scalars are always inline); render it anyway.
            let text = inline(scalar).unwrap_or_default();
            push(lines, indent, format!("{prefix}{text}{suffix}"));
        }
    }
}

/// The single-line form of `value`, if it has one.
fn inline(value: &Expr) -> Option<String> {
    match value {
        Expr::Str(s) => Some(quote(s)),
        Expr::Num(n) => Some(n.clone()),
        Expr::Bool(b) => Some(b.to_string()),
        Expr::Null => Some("null".to_owned()),
        Expr::Traversal(t) => Some(t.clone()),
        Expr::Object(entries) if entries.is_empty() => Some("{}".to_owned()),
        Expr::Object(_) => None,
        Expr::List(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                if matches!(item, Expr::List(_) | Expr::Object(_)) {
                    return None;
                }
                parts.push(inline(item)?);
            }
            let text = format!("[{}]", parts.join(", "));
            (text.len() <= MAX_INLINE_LIST).then_some(text)
        }
    }
}

/// Whether `s` is an ASCII HCL identifier (`[A-Za-z_][A-Za-z0-9_-]*`).
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// An object key: bare when HCL reads it back as that string, quoted otherwise. Keywords are
/// quoted because `{ for = 1 }` starts a `for` expression and `null` is not a string.
fn object_key(key: &str) -> String {
    const KEYWORDS: [&str; 6] = ["true", "false", "null", "for", "in", "if"];
    if is_identifier(key) && !KEYWORDS.contains(&key) {
        key.to_owned()
    } else {
        // Non-ASCII escaped too: fmt aligns by columns, and an ASCII key's columns are its bytes.
        let mut out = String::with_capacity(key.len() + 2);
        out.push('"');
        escape_into(&mut out, key, true);
        out.push('"');
        out
    }
}

/// A quoted HCL string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    escape_into(&mut out, s, false);
    out.push('"');
    out
}

fn escape_into(out: &mut String, s: &str, ascii_only: bool) {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() || (ascii_only && !c.is_ascii()) => {
                let code = u32::from(c);
                // Writing to a String cannot fail.
                let _ = if code > 0xFFFF {
                    write!(out, "\\U{code:08X}")
                } else {
                    write!(out, "\\u{code:04X}")
                };
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Expr {
        Expr::Str(v.to_owned())
    }

    #[test]
    fn escapes_quotes_backslashes_templates_and_controls() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote("${x} %{if} $ % {}"), r#""$${x} %%{if} $ % {}""#);
        assert_eq!(quote("$${"), r#""$$${""#);
        assert_eq!(
            quote("l1\nl2\r\t\u{1}\u{7f}"),
            r#""l1\nl2\r\t\u0001\u007F""#
        );
        assert_eq!(quote("héllo ✓"), "\"héllo ✓\"");
    }

    #[test]
    fn object_keys_quoted_only_when_needed() {
        assert_eq!(object_key("Project"), "Project");
        assert_eq!(object_key("a-b_c9"), "a-b_c9");
        assert_eq!(object_key("9lives"), "\"9lives\"");
        assert_eq!(object_key("a.b"), "\"a.b\"");
        assert_eq!(object_key("for"), "\"for\"");
        assert_eq!(object_key("null"), "\"null\"");
        assert_eq!(object_key(""), "\"\"");
        assert_eq!(object_key("é"), "\"\\u00E9\"");
    }

    #[test]
    fn aligns_runs_and_breaks_them_on_multiline_values_blanks_and_blocks() {
        let mut inner = Body::new();
        inner.attr("x", Expr::Num("1".into()));
        let mut body = Body::new();
        body.attr("a", s("1"))
            .attr("long_name", Expr::Bool(true))
            .attr(
                "tags",
                Expr::Object(vec![
                    ("Env".into(), s("dev")),
                    ("ManagedBy".into(), s("forge")),
                    ("my key".into(), Expr::Null),
                ]),
            )
            .attr("b", Expr::Traversal("module.vpc.vpc_id".into()))
            .attr("cc", Expr::List(vec![s("x"), Expr::Num("2".into())]))
            .blank()
            .attr("dd", Expr::Object(vec![]))
            .block(Block::new("nested", &["l"], inner))
            .attr("e", Expr::List(vec![]));
        let mut file = Body::new();
        file.comment("header")
            .block(Block::new("module", &["m"], body));
        assert_eq!(
            file.render(),
            r#"# header
module "m" {
  a         = "1"
  long_name = true
  tags = {
    Env       = "dev"
    ManagedBy = "forge"
    "my key"  = null
  }
  b  = module.vpc.vpc_id
  cc = ["x", 2]

  dd = {}
  nested "l" {
    x = 1
  }
  e = []
}
"#
        );
    }

    #[test]
    fn lists_go_multiline_when_long_or_nested() {
        let long: Vec<Expr> = (0..8).map(|i| s(&format!("subnet-{i:012}"))).collect();
        let mut body = Body::new();
        body.attr("long", Expr::List(long.clone()))
            .attr(
                "nested",
                Expr::List(vec![
                    Expr::Object(vec![
                        ("k".into(), s("v")),
                        ("kk".into(), Expr::Num("1".into())),
                    ]),
                    Expr::List(vec![s("a")]),
                    Expr::List(vec![Expr::List(vec![])]),
                ]),
            )
            .attr("empty_in_list", Expr::List(vec![Expr::Object(vec![])]));
        let expected = r#"long = [
  "subnet-000000000000",
  "subnet-000000000001",
  "subnet-000000000002",
  "subnet-000000000003",
  "subnet-000000000004",
  "subnet-000000000005",
  "subnet-000000000006",
  "subnet-000000000007",
]
nested = [
  {
    k  = "v"
    kk = 1
  },
  ["a"],
  [
    [],
  ],
]
empty_in_list = [
  {},
]
"#;
        assert_eq!(body.render(), expected);
    }
}
