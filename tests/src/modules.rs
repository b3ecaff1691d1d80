//! The Terraform modules' READMEs (`modules/*/README.md`) list every input and output as
//! `variables.tf` and `outputs.tf` declare them: name, type, default and description.
//!
//! [`readme_tables`] reads the `variable` and `output` blocks of a module and renders the
//! two tables; [`sync_readme`] puts them under the README's `## Inputs` and `## Outputs`
//! headings. `cargo test -p forge-tests --test modules` fails on a README that differs;
//! `FORGE_UPDATE_GOLDEN=1` rewrites the tables in place.
//!
//! This reads hand-written, `terraform fmt`-formatted HCL: blocks open on their header line,
//! attributes sit one per line, multi-line values balance their brackets.

use std::fs;
use std::io;
use std::path::Path;

/// One `variable` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    pub description: Option<String>,
    /// The type expression as written, on one line.
    pub type_expr: Option<String>,
    /// The default expression as written, on one line; `None`: the input is required.
    pub default: Option<String>,
}

/// One `output` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub name: String,
    pub description: Option<String>,
}

/// The `variable` and `output` blocks of every `.tf` file directly in `dir`, files in
/// name order, blocks in file order.
pub fn read_module(dir: &Path) -> io::Result<(Vec<Variable>, Vec<Output>)> {
    let mut paths: Vec<_> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tf"))
        .collect();
    paths.sort();
    let (mut vars, mut outs) = (Vec::new(), Vec::new());
    for path in paths {
        let text = fs::read_to_string(&path)?;
        for block in blocks(&text) {
            let attr = |name: &str| {
                block
                    .attrs
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            };
            let description = attr("description").map(|d| unquote(&d));
            match block.kind.as_str() {
                "variable" => vars.push(Variable {
                    name: block.name.clone(),
                    description,
                    type_expr: attr("type"),
                    default: attr("default"),
                }),
                "output" => outs.push(Output {
                    name: block.name.clone(),
                    description,
                }),
                _ => {}
            }
        }
    }
    Ok((vars, outs))
}

struct Block {
    kind: String,
    name: String,
    /// Attributes directly in the block (not in nested blocks), values on one line.
    attrs: Vec<(String, String)>,
}

/// Top-level `variable "x" {` / `output "x" {` blocks and their direct attributes.
fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some((kind, name)) = header(line) else {
            continue;
        };
        let mut block = Block {
            kind,
            name,
            attrs: Vec::new(),
        };
        let mut depth = brackets(line);
        while depth > 0 {
            let Some(line) = lines.next() else { break };
            let trimmed = line.trim();
            if depth == 1
                && let Some((key, value)) = trimmed.split_once('=')
                && is_ident(key.trim())
                && !value.starts_with('=')
            {
                let mut value = value.trim().to_string();
                let mut open = brackets(&value);
                depth += brackets(line);
                while open > 0 {
                    let Some(more) = lines.next() else { break };
                    let delta = brackets(more);
                    open += delta;
                    depth += delta;
                    value.push(' ');
                    value.push_str(more.trim());
                }
                block.attrs.push((key.trim().to_string(), one_line(&value)));
                continue;
            }
            depth += brackets(line);
        }
        out.push(block);
    }
    out
}

/// `variable "name" {` → ("variable", "name").
fn header(line: &str) -> Option<(String, String)> {
    let (kind, rest) = line.split_once(' ')?;
    if kind != "variable" && kind != "output" {
        return None;
    }
    let rest = rest.trim().strip_prefix('"')?;
    let (name, rest) = rest.split_once('"')?;
    rest.trim()
        .starts_with('{')
        .then(|| (kind.into(), name.into()))
}

fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Net opening brackets of a line, outside strings and comments.
fn brackets(line: &str) -> i32 {
    let (mut n, mut in_string, mut escaped) = (0, false, false);
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            _ if in_string => {}
            b'#' => break,
            b'/' if bytes.get(i + 1) == Some(&b'/') => break,
            b'{' | b'(' | b'[' => n += 1,
            b'}' | b')' | b']' => n -= 1,
            _ => {}
        }
    }
    n
}

/// A multi-line value joined onto one line: `{ a = 1 }`, `object({ x = string })`.
fn one_line(value: &str) -> String {
    value
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(", ]", " ]")
        .replace(", }", " }")
        .replace(",]", "]")
}

/// The text of an HCL string literal.
fn unquote(literal: &str) -> String {
    let inner = literal
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(literal);
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push(' '),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A table cell: pipes escaped, `<` kept from reading as an HTML tag.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('<', "&lt;")
}

/// A code cell: `x`, with a backtick inside handled by a double fence.
fn code(s: &str) -> String {
    if s.contains('`') {
        format!("`` {} ``", s.replace('|', "\\|"))
    } else {
        format!("`{}`", s.replace('|', "\\|"))
    }
}

/// The `## Inputs` and `## Outputs` tables of a module.
pub fn readme_tables(vars: &[Variable], outs: &[Output]) -> (String, String) {
    let mut inputs = String::from("| Name | Type | Default | Description |\n|---|---|---|---|\n");
    for v in vars {
        inputs.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            code(&v.name),
            v.type_expr
                .as_deref()
                .map(code)
                .unwrap_or_else(|| "any".into()),
            v.default
                .as_deref()
                .map(code)
                .unwrap_or_else(|| "required".into()),
            cell(v.description.as_deref().unwrap_or(""))
        ));
    }
    let mut outputs = String::from("| Name | Description |\n|---|---|\n");
    for o in outs {
        outputs.push_str(&format!(
            "| {} | {} |\n",
            code(&o.name),
            cell(o.description.as_deref().unwrap_or(""))
        ));
    }
    (inputs, outputs)
}

/// `readme` with the table under `heading` replaced by `table` (or inserted after the
/// heading's prose when the section has none); `None` if the heading is missing.
fn replace_table(readme: &str, heading: &str, table: &str) -> Option<String> {
    let lines: Vec<&str> = readme.lines().collect();
    let start = lines.iter().position(|l| l.trim_end() == heading)?;
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with("## "))
        .map_or(lines.len(), |i| start + 1 + i);
    let table_lines: Vec<&str> = table.lines().collect();
    let mut out: Vec<&str> = lines[..=start].to_vec();
    let section = &lines[start + 1..end];
    match section.iter().position(|l| l.starts_with('|')) {
        Some(first) => {
            let len = section[first..]
                .iter()
                .take_while(|l| l.starts_with('|'))
                .count();
            out.extend(&section[..first]);
            out.extend(&table_lines);
            out.extend(&section[first + len..]);
        }
        None => {
            let prose_end = section
                .iter()
                .rposition(|l| !l.trim().is_empty())
                .map_or(0, |i| i + 1);
            out.extend(&section[..prose_end]);
            out.push("");
            out.extend(&table_lines);
            out.push("");
        }
    }
    out.extend(&lines[end..]);
    let mut text = out.join("\n");
    text.push('\n');
    Some(text)
}

/// The README of module `dir` as it should be: its own text with both tables up to date.
/// Errors name what is missing (the README, a heading, a description).
pub fn sync_readme(dir: &Path) -> Result<(String, String), String> {
    let readme_path = dir.join("README.md");
    let readme =
        fs::read_to_string(&readme_path).map_err(|e| format!("{}: {e}", readme_path.display()))?;
    let (vars, outs) = read_module(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let undocumented: Vec<String> = vars
        .iter()
        .filter(|v| v.description.as_deref().is_none_or(str::is_empty) || v.type_expr.is_none())
        .map(|v| format!("variable \"{}\"", v.name))
        .chain(
            outs.iter()
                .filter(|o| o.description.as_deref().is_none_or(str::is_empty))
                .map(|o| format!("output \"{}\"", o.name)),
        )
        .collect();
    if !undocumented.is_empty() {
        return Err(format!(
            "{}: {} need a description (and variables a type)",
            dir.display(),
            undocumented.join(", ")
        ));
    }
    let (inputs, outputs) = readme_tables(&vars, &outs);
    let missing = |h: &str| format!("{}: no `{h}` heading", readme_path.display());
    let text = replace_table(&readme, "## Inputs", &inputs).ok_or_else(|| missing("## Inputs"))?;
    let text = replace_table(&text, "## Outputs", &outputs).ok_or_else(|| missing("## Outputs"))?;
    Ok((readme, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TF: &str = r#"
variable "name" {
  description = "Name with a \"quote\" and a | pipe."
  type        = string

  validation {
    condition     = length(var.name) > 0
    error_message = "name must not be empty."
  }
}

variable "ports" {
  description = "Ports."
  type = object({
    http = number
  })
  default = {
    http = 80
  }
}

output "url" {
  description = "Base URL."
  value       = try("http://${aws_lb.this.dns_name}", null)
}
"#;

    #[test]
    fn reads_variables_and_outputs_with_multi_line_values() {
        let dir = std::env::temp_dir().join(format!("forge-modules-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        fs::write(dir.join("main.tf"), TF).expect("write main.tf");
        let (vars, outs) = read_module(&dir).expect("read module");
        fs::remove_dir_all(&dir).expect("remove temp dir");
        assert_eq!(vars.len(), 2);
        assert_eq!(
            vars[0].description.as_deref(),
            Some("Name with a \"quote\" and a | pipe.")
        );
        assert_eq!(vars[0].default, None);
        assert_eq!(
            vars[1].type_expr.as_deref(),
            Some("object({ http = number })")
        );
        assert_eq!(vars[1].default.as_deref(), Some("{ http = 80 }"));
        assert_eq!(outs[0].name, "url");
        let (inputs, outputs) = readme_tables(&vars, &outs);
        assert!(
            inputs.contains(
                "| `name` | `string` | required | Name with a \"quote\" and a \\| pipe. |"
            ),
            "{inputs}"
        );
        assert!(outputs.contains("| `url` | Base URL. |"), "{outputs}");
    }

    #[test]
    fn replaces_the_table_and_keeps_the_prose() {
        let readme =
            "# m\n\n## Inputs\n\nSome prose.\n\n| old |\n|---|\n\n## Outputs\n\n## Usage\n\nx\n";
        let text = replace_table(readme, "## Inputs", "| new |\n|---|\n").expect("Inputs heading");
        let text = replace_table(&text, "## Outputs", "| out |\n|---|\n").expect("Outputs heading");
        assert_eq!(
            text,
            "# m\n\n## Inputs\n\nSome prose.\n\n| new |\n|---|\n\n## Outputs\n\n| out |\n|---|\n\n## Usage\n\nx\n"
        );
        assert!(replace_table(readme, "## Missing", "").is_none());
    }
}
