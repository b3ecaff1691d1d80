//! Module input values: JSON from the step config → HCL expressions, resolving references.
//!
//! A value is a JSON literal or a reference object `{"$ref": "TARGET"}` (exactly that one
//! key). The engine has already replaced what it knows statically (`var.*`,
//! `service.NAME.port|cpu|memory|desired-count|repository`); what reaches the plugin is:
//!
//! | target | becomes |
//! |---|---|
//! | `module.NAME.OUTPUT...` (with `[N]` indexes anywhere after `NAME`) | the HCL traversal itself, e.g. `module.alb[0].arn`; `NAME` must be a module of this render |
//! | `service.NAME.image` / `.digest` / `.repository` | the literal at that key of upstream step `ecr-push:NAME`'s manifest (`image` must be pinned `...@sha256:<64 hex>`, `digest` must be `sha256:<64 hex>`) |
//! | `step.NAME.KEY[.KEY...]` | the literal at that key path of upstream step `NAME`'s manifest |
//!
//! Anything else (a leftover `var.*`, an unknown service attribute, a malformed path) is a
//! step error naming the module input it appears in. Values read from upstream manifests
//! are data: a `$ref` inside them is not followed.

use std::collections::BTreeSet;

use forge_plugin_sdk::{Context, Error};
use serde_json::Value;

use crate::hcl::{Expr, is_identifier};

/// Where a value sits, for error messages: `module "vpc" input "tags"`.
pub struct Site<'a> {
    pub module: &'a str,
    pub input: &'a str,
}

impl Site<'_> {
    fn err(&self, message: impl std::fmt::Display, help: impl Into<String>) -> Error {
        Error::new(format!(
            "module `{}` input `{}`: {message}",
            self.module, self.input
        ))
        .with_help(help)
    }
}

/// Converts a config value, resolving references.
pub fn input_expr(
    ctx: &Context,
    modules: &BTreeSet<&str>,
    site: &Site<'_>,
    value: &Value,
) -> Result<Expr, Error> {
    Ok(match value {
        Value::Array(items) => Expr::List(
            items
                .iter()
                .map(|v| input_expr(ctx, modules, site, v))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) if map.contains_key("$ref") => {
            let Some(Value::String(target)) = map.get("$ref").filter(|_| map.len() == 1) else {
                return Err(site.err(
                    "a `$ref` object must be exactly `{\"$ref\": \"TARGET\"}`",
                    "write the reference as (ref)\"module.NAME.OUTPUT\" in project.kdl",
                ));
            };
            resolve(ctx, modules, site, target)?
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Expr::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| Ok((k.clone(), input_expr(ctx, modules, site, v)?)))
                    .collect::<Result<_, Error>>()?,
            )
        }
        literal => literal_expr(literal),
    })
}

/// A JSON value as an HCL literal, with no reference resolution.
pub fn literal_expr(value: &Value) -> Expr {
    match value {
        Value::Null => Expr::Null,
        Value::Bool(b) => Expr::Bool(*b),
        Value::Number(n) => Expr::Num(n.to_string()),
        Value::String(s) => Expr::Str(s.clone()),
        Value::Array(items) => Expr::List(items.iter().map(literal_expr).collect()),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Expr::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), literal_expr(v)))
                    .collect(),
            )
        }
    }
}

fn resolve(
    ctx: &Context,
    modules: &BTreeSet<&str>,
    site: &Site<'_>,
    target: &str,
) -> Result<Expr, Error> {
    let mut parts = target.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("module"), Some(_), _) => module_ref(modules, site, target),
        (Some("service"), Some(name), Some(attr @ ("image" | "digest" | "repository"))) => {
            let step = format!("ecr-push:{name}");
            let value = upstream_value(ctx, site, target, &step, attr)?;
            check_pinned(site, target, &step, attr, &value)?;
            Ok(literal_expr(&value))
        }
        (Some("step"), Some(name), Some(path)) if !name.is_empty() && !path.is_empty() => {
            Ok(literal_expr(&upstream_value(ctx, site, target, name, path)?))
        }
        _ => Err(site.err(
            format!("cannot resolve reference `{target}`"),
            "a module input may reference `module.NAME.OUTPUT`, `service.NAME.image|digest|repository|port|cpu|memory|desired-count`, `step.NAME.KEY` or a defined `var.NAME`",
        )),
    }
}

/// The expression of a root output that carries `target` (`module.NAME.OUTPUT…`) to the
/// steps after `terraform-apply`.
pub fn output_expr(modules: &BTreeSet<&str>, target: &str) -> Result<Expr, Error> {
    let site = Site {
        module: target.split('.').nth(1).unwrap_or(target),
        input: "(an output a later step reads)",
    };
    module_ref(modules, &site, target)
}

/// Validates `module.NAME(.ATTR|[N])+` and returns it verbatim as a traversal.
fn module_ref(modules: &BTreeSet<&str>, site: &Site<'_>, target: &str) -> Result<Expr, Error> {
    let malformed = || {
        site.err(
            format!("malformed module reference `{target}`"),
            "write it as module.NAME.OUTPUT, optionally with [N] indexes, e.g. module.subnets.public_subnet_ids[0]",
        )
    };
    let rest = target.strip_prefix("module.").ok_or_else(malformed)?;
    // Split into `.name` segments, each optionally followed by `[digits]` indexes.
    let mut names = Vec::new();
    for segment in rest.split('.') {
        let (name, mut indexes) = segment.split_at(segment.find('[').unwrap_or(segment.len()));
        if !is_identifier(name) {
            return Err(malformed());
        }
        while !indexes.is_empty() {
            let close = indexes.find(']').ok_or_else(malformed)?;
            let digits = &indexes[1..close];
            if !indexes.starts_with('[')
                || digits.is_empty()
                || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(malformed());
            }
            indexes = &indexes[close + 1..];
        }
        names.push(name);
    }
    if names.len() < 2 {
        return Err(malformed());
    }
    if !modules.contains(names[0]) {
        return Err(site.err(
            format!(
                "`{target}` refers to module `{}`, which this project does not declare",
                names[0]
            ),
            format!(
                "declare `module \"{}\"` in project.kdl, or fix the name (modules: {})",
                names[0],
                modules.iter().copied().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(Expr::Traversal(target.to_owned()))
}

/// The value at `path` (dot-separated keys) of upstream step `step`'s manifest.
fn upstream_value(
    ctx: &Context,
    site: &Site<'_>,
    target: &str,
    step: &str,
    path: &str,
) -> Result<Value, Error> {
    if !ctx.upstream_steps().any(|s| s == step) {
        return Err(site.err(
            format!("`{target}` needs the output of step `{step}`, which is not upstream of this step"),
            format!("make sure step `{step}` exists (for `service.*` refs: the service is declared and pushed to a registry) and is needed by terraform-render"),
        ));
    }
    let manifest: Value = ctx.upstream(step)?;
    let mut value = &manifest;
    for key in path.split('.') {
        value = value.get(key).ok_or_else(|| {
            let keys = value
                .as_object()
                .map(|m| m.keys().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            site.err(
                format!("`{target}`: the output of step `{step}` has no key `{path}`"),
                format!(
                    "its output has: {}",
                    if keys.is_empty() { "no keys" } else { &keys }
                ),
            )
        })?;
    }
    Ok(value.clone())
}

/// Images go out pinned by digest, never by tag: refuse anything else from `ecr-push`.
fn check_pinned(
    site: &Site<'_>,
    target: &str,
    step: &str,
    attr: &str,
    value: &Value,
) -> Result<(), Error> {
    let is_digest = |d: &str| {
        d.strip_prefix("sha256:").is_some_and(|hex| {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    };
    let ok = match (attr, value) {
        ("digest", Value::String(d)) => is_digest(d),
        ("image", Value::String(i)) => i
            .rsplit_once('@')
            .is_some_and(|(repo, d)| !repo.is_empty() && is_digest(d)),
        ("repository", Value::String(r)) => !r.is_empty(),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(site.err(
            format!("`{target}`: step `{step}` returned {value} for `{attr}`, which is not a pinned image reference"),
            "ecr-push must output `image` = \"<repository>@sha256:<hex>\", `digest` = \"sha256:<hex>\", `repository` = \"<uri>\"",
        ))
    }
}
