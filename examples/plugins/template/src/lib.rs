//! `template`: a forge step plugin that renders config files from templates.
//!
//! The step's config maps each output file to a template (a declared input) and gives the
//! values the templates use:
//!
//! ```kdl
//! step "render-config" {
//!     plugin "template"
//!     input "config/*.tmpl"
//!     config {
//!         templates { "app.conf" "config/app.conf.tmpl"; }
//!         values { port 8080; db { host "db.internal"; }; }
//!     }
//! }
//! ```
//!
//! In a template, `{{ port }}` and `{{ db.host }}` come from `values`, `{{ env }}` is the
//! forge env, `{{ commit }}` the git commit (only for a step with `commit-sha #true`), and
//! `{{ upstream.STEP.KEY }}` a field of an upstream step's output (`STEP` must be in
//! `needs`). A placeholder with no value fails the step, naming the template's file, line
//! and column. The rendered files go to forge's store; the step's output lists each one
//! with its template and blake3 hash.
//!
//! Everything here is a function of the config and the template files, as forge's cache
//! requires: maps are `BTreeMap`s, and nothing reads a clock or the environment.

mod render;

use std::collections::BTreeMap;

use forge_plugin_sdk::{Context, Error, Info, Plugin, capability, ensure, export_plugin};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use render::{Miss, render};

/// The step's `config { ... }` block in project.kdl.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Output file name → template path. Each template must be a declared input.
    pub templates: BTreeMap<String, String>,
    /// What `{{ NAME }}` placeholders are filled with: strings, numbers, booleans, or maps
    /// of them (reached with dotted names).
    #[serde(default)]
    pub values: BTreeMap<String, Value>,
}

/// The step's output manifest: one entry per rendered file.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Output {
    pub files: BTreeMap<String, Rendered>,
}

/// One rendered file.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Rendered {
    /// The template it was rendered from.
    pub template: String,
    /// `blake3:<hex>` of the rendered bytes, as stored by forge.
    pub hash: String,
    pub bytes: usize,
}

/// Placeholder names forge fills in itself; a value may not shadow them.
const RESERVED: [&str; 3] = ["env", "commit", "upstream"];

pub struct Template;

impl Plugin for Template {
    type Config = Config;
    type Output = Output;

    fn info() -> Info {
        Info::new("template", "renders config files from templates and values")
            .config_schema(CONFIG_SCHEMA)
            .capability(capability::FILES_READ)
    }

    fn run(ctx: &mut Context, config: Config) -> Result<Output, Error> {
        ensure!(
            !config.templates.is_empty(),
            "`templates` is empty: there is nothing to render"
        );
        if let Some(name) = RESERVED.iter().find(|n| config.values.contains_key(**n)) {
            return Err(Error::new(format!(
                "`values` defines `{name}`, which forge fills in itself"
            ))
            .with_help(format!(
                "rename the value; `{{{{ {name} }}}}` in a template is forge's own"
            )));
        }
        let total = config.templates.len() as u64;
        let mut files = BTreeMap::new();
        for (done, (output, template)) in config.templates.iter().enumerate() {
            if !ctx.inputs().iter().any(|input| input == template) {
                return Err(Error::new(format!(
                    "the template of `{output}`, `{template}`, is not one of the step's declared inputs"
                ))
                .with_help(format!(
                    "add `input \"{template}\"` (or a glob that matches it) to the step in project.kdl"
                )));
            }
            let text = ctx.read_to_string(template)?;
            let rendered = render(template, &text, |path| lookup(ctx, &config.values, path))?;
            let hash = ctx.write_output(output, &rendered)?;
            files.insert(
                output.clone(),
                Rendered {
                    template: template.clone(),
                    hash: format!("blake3:{hash}"),
                    bytes: rendered.len(),
                },
            );
            ctx.progress(done as u64 + 1, total);
        }
        ctx.info(format!("rendered {} file(s)", files.len()));
        Ok(Output { files })
    }
}

export_plugin!(Template);

/// What a placeholder path means: forge's own names first, then `values`.
fn lookup(ctx: &Context, values: &BTreeMap<String, Value>, path: &str) -> Result<String, Miss> {
    let mut parts = path.split('.');
    let head = parts.next().unwrap_or_default();
    match head {
        "env" if path == "env" => Ok(ctx.env().to_owned()),
        "commit" if path == "commit" => ctx.commit().map(str::to_owned).ok_or_else(|| {
            Miss::new(
                "this step is not given the commit",
                "add `commit-sha #true` to the step in project.kdl",
            )
        }),
        "upstream" => {
            let (Some(step), Some(_)) = (parts.next(), parts.clone().next()) else {
                return Err(Miss::new(
                    "`upstream` needs a step and a key",
                    "write `{{ upstream.STEP.KEY }}`, e.g. `{{ upstream.build.digest }}`",
                ));
            };
            let manifest: Value = ctx
                .upstream(step)
                .map_err(|e| Miss::new(e.message(), e.help().unwrap_or_default()))?;
            scalar(walk(&manifest, parts, &format!("upstream.{step}"))?, path)
        }
        _ => {
            let Some(root) = values.get(head) else {
                let defined: Vec<&str> = values.keys().map(String::as_str).collect();
                return Err(Miss::new(
                    format!("`{head}` is not defined in `values`"),
                    format!(
                        "add `{head}` to the step's `config {{ values {{ ... }} }}` in project.kdl (defined: {})",
                        if defined.is_empty() {
                            "none".to_owned()
                        } else {
                            defined.join(", ")
                        }
                    ),
                ));
            };
            scalar(walk(root, parts, &format!("values.{head}"))?, path)
        }
    }
}

/// Follows the rest of a dotted path into maps; `shown` names the value in errors.
fn walk<'a, 'p>(
    mut value: &'a Value,
    parts: impl Iterator<Item = &'p str>,
    shown: &str,
) -> Result<&'a Value, Miss> {
    let mut shown = shown.to_owned();
    for part in parts {
        value = match value {
            Value::Object(map) => map.get(part).ok_or_else(|| {
                let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                Miss::new(
                    format!("`{shown}` has no key `{part}`"),
                    format!("its keys are: {}", keys.join(", ")),
                )
            })?,
            _ => {
                return Err(Miss::new(
                    format!("`{shown}` is not a map, so it has no key `{part}`"),
                    "remove the `.KEY` after it, or make the value a map in project.kdl",
                ));
            }
        };
        shown = format!("{shown}.{part}");
    }
    Ok(value)
}

/// The text of a single value; maps, lists and null are not text.
fn scalar(value: &Value, path: &str) -> Result<String, Miss> {
    let kind = match value {
        Value::String(s) => return Ok(s.clone()),
        Value::Number(n) => return Ok(n.to_string()),
        Value::Bool(b) => return Ok(b.to_string()),
        Value::Null => "null",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    };
    Err(Miss::new(
        format!("`{path}` is {kind}, not a single value"),
        "point the placeholder at a string, number or boolean (a dotted name reaches into a map)",
    ))
}

const CONFIG_SCHEMA: &str = r#"{
  "type": "object",
  "required": ["templates"],
  "additionalProperties": false,
  "properties": {
    "templates": {
      "description": "output file name -> template path (a declared input)",
      "type": "object",
      "additionalProperties": { "type": "string" }
    },
    "values": {
      "description": "what {{ NAME }} placeholders are filled with",
      "type": "object"
    }
  }
}"#;

#[cfg(test)]
mod tests;
