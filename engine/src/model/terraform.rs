//! Just enough HCL reading to check module inputs at load time: the `variable` blocks of a
//! module folder and whether each has a `default`.
//!
//! This is a line scanner, not an HCL parser: it tracks braces outside strings and comments,
//! which is what hand-written modules (`terraform fmt` style) look like. An unusual layout
//! can only make it miss a variable's default, which then reads as "required" — so the
//! scanner errs towards asking for an input, never towards accepting a wrong name.

use std::path::Path;

/// One `variable "NAME" { ... }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TfVariable {
    pub name: String,
    /// No `default`: Terraform refuses to plan without a value.
    pub required: bool,
}

/// The variables of the `.tf` files directly in `dir`; `None` if it holds no `.tf` file.
pub(crate) fn module_variables(dir: &Path) -> Option<Vec<TfVariable>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tf") && p.is_file())
        .collect();
    if paths.is_empty() {
        return None;
    }
    paths.sort();
    let mut vars = Vec::new();
    for path in paths {
        if let Ok(text) = std::fs::read_to_string(&path) {
            scan(&text, &mut vars);
        }
    }
    Some(vars)
}

/// Brace depth change of one line, ignoring strings and comments.
fn depth_delta(line: &str) -> i32 {
    let (mut delta, mut in_string, mut escaped) = (0, false, false);
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            b'#' if !in_string => break,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => break,
            b'{' if !in_string => delta += 1,
            b'}' if !in_string => delta -= 1,
            _ => {}
        }
    }
    delta
}

fn is_default_attr(s: &str) -> bool {
    s.strip_prefix("default")
        .is_some_and(|rest| rest.trim_start().starts_with('='))
}

pub(crate) fn scan(text: &str, out: &mut Vec<TfVariable>) {
    let mut current: Option<(TfVariable, i32)> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        match current.as_mut() {
            None => {
                let Some(rest) = trimmed.strip_prefix("variable") else {
                    continue;
                };
                let Some(rest) = rest.trim_start().strip_prefix('"') else {
                    continue;
                };
                let Some(end) = rest.find('"') else { continue };
                let name = rest[..end].to_string();
                let after = &rest[end + 1..];
                // One-line form: `variable "x" { default = 1 }`.
                let inline_default = after
                    .trim_start()
                    .strip_prefix('{')
                    .is_some_and(|body| is_default_attr(body.trim_start()));
                let depth = depth_delta(line);
                let var = TfVariable {
                    name,
                    required: !inline_default,
                };
                if depth > 0 {
                    current = Some((var, depth));
                } else {
                    out.push(var);
                }
            }
            Some((var, depth)) => {
                if *depth == 1 && is_default_attr(trimmed) {
                    var.required = false;
                }
                *depth += depth_delta(line);
                if *depth <= 0
                    && let Some((var, _)) = current.take()
                {
                    out.push(var);
                }
            }
        }
    }
    if let Some((var, _)) = current {
        out.push(var);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(text: &str) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        scan(text, &mut out);
        out.into_iter().map(|v| (v.name, v.required)).collect()
    }

    #[test]
    fn finds_variables_and_their_defaults() {
        let text = r#"
variable "name" {
  description = "Name prefix { with a brace in a string"
  type        = string
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "ports" {
  type = object({
    default = number   # an attribute of the type, not the variable's default
  })
}

variable "cidr" { default = "10.0.0.0/16" }
variable "id" {}
"#;
        assert_eq!(
            vars(text),
            [
                ("name".to_string(), true),
                ("tags".to_string(), false),
                ("ports".to_string(), true),
                ("cidr".to_string(), false),
                ("id".to_string(), true),
            ]
        );
    }
}
