//! Checks that need the whole env or the disk: references between nodes, paths that must stay
//! inside the project, build contexts and module folders that must exist, and module inputs
//! that must match the module's `variable` blocks.

use std::path::Path;

use miette::SourceSpan;

use super::read::Cx;
use super::schema::did_you_mean;
use super::{BUILTIN_PLUGINS, Config, ConfigValue, ModelError, Module, SERVICE_REF_ATTRS, Spanned};

/// Whether a `/`-separated relative path climbs out of the directory it is relative to.
pub(crate) fn escapes_root(path: &str) -> bool {
    if path.starts_with('/') || path.starts_with('\\') || Path::new(path).is_absolute() {
        return true;
    }
    let mut depth = 0usize;
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            },
            _ => depth += 1,
        }
    }
    false
}

/// Reports `path` if it escapes the project root; returns whether it is fine.
pub(crate) fn inside_root(cx: &mut Cx, path: &str, span: SourceSpan, what: &str) -> bool {
    if !escapes_root(path) {
        return true;
    }
    let err = ModelError::PathEscapesRoot {
        path: path.to_string(),
        src: cx.src(),
        span,
        help: format!(
            "{what} paths are relative to the folder that holds project.kdl and must stay inside \
             it (no leading `/`, no `..` above the root), so the project builds the same anywhere"
        ),
    };
    cx.errors.push(err);
    false
}

fn missing_path(
    cx: &mut Cx,
    what: &str,
    path: &str,
    problem: &str,
    span: SourceSpan,
    help: String,
) {
    let err = ModelError::MissingPath {
        what: what.to_string(),
        path: path.to_string(),
        problem: problem.to_string(),
        src: cx.src(),
        span,
        help,
    };
    cx.errors.push(err);
}

/// A third-party plugin's file exists and is the one its hash pins: a changed file is an
/// error here, never a different plugin run under the old pin.
pub(crate) fn plugin_file(cx: &mut Cx, path: &Spanned<String>, hash: &Spanned<String>) {
    if escapes_root(&path.value) {
        return; // reported by `inside_root`
    }
    let bytes = match std::fs::read(cx.root.join(&path.value)) {
        Ok(bytes) => bytes,
        Err(err) => {
            let help = format!(
                "{}build the plugin, or fix the path (it is relative to the project root)",
                sibling_hint(&cx.root, &path.value)
            );
            let problem = match err.kind() {
                std::io::ErrorKind::NotFound => "does not exist".to_string(),
                _ => format!("cannot be read: {err}"),
            };
            missing_path(cx, "plugin", &path.value, &problem, path.span, help);
            return;
        }
    };
    let actual = crate::pin::hash_bytes(&bytes);
    if !crate::pin::matches(&actual, &hash.value) {
        // Same sources built by another toolchain give other bytes: name the one that
        // built this file, so a teammate's rebuild that fails its pin says why.
        let built_by = match crate::pin::toolchain_of(&bytes) {
            Some(toolchain) => format!(
                "this file was built by {toolchain}; the same sources built with another \
                 rustc, or with std prebuilt instead of built from source, give another hash \
                 (`forge plugin inspect {}` shows it); ",
                path.value
            ),
            None => String::new(),
        };
        cx.invalid(
            hash.span,
            format!("`{}` does not match its pinned hash", path.value),
            &format!("the file hashes to {actual}"),
            format!(
                "{built_by}if you updated the plugin on purpose, pin the new file: \
                 hash=\"{actual}\"; otherwise restore the file this hash pins"
            ),
        );
    }
}

/// "did you mean" over the sibling entries of a path that does not exist.
fn sibling_hint(root: &Path, path: &str) -> String {
    let full = root.join(path);
    let (Some(parent), Some(name)) = (full.parent(), full.file_name()) else {
        return String::new();
    };
    let siblings: Vec<String> = std::fs::read_dir(parent)
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    match super::schema::suggest(&name.to_string_lossy(), siblings.iter().map(String::as_str)) {
        Some(s) => format!("did you mean `{s}`? "),
        None => String::new(),
    }
}

/// The module folder exists, holds `.tf` files, and declares every input as a variable.
pub(crate) fn module_files(module: &Module, keys: &[Spanned<String>], cx: &mut Cx) {
    let source = module.source.value.to_string_lossy().into_owned();
    let span = module.source.span;
    if !inside_root(cx, &source, span, "module source") {
        return;
    }
    let dir = cx.root.join(&source);
    if !dir.is_dir() {
        let help = format!(
            "{}create the folder with the module's `.tf` files, or fix the path (it is relative to the project root)",
            sibling_hint(&cx.root, &source)
        );
        missing_path(cx, "module source", &source, "does not exist", span, help);
        return;
    }
    let vars = cx
        .tf_vars
        .entry(dir.clone())
        .or_insert_with(|| super::terraform::module_variables(&dir))
        .clone();
    let Some(vars) = vars else {
        let help = "a Terraform module is a folder of `.tf` files; add them or point `source` at the right folder".into();
        missing_path(
            cx,
            "module source",
            &source,
            "has no `.tf` files",
            span,
            help,
        );
        return;
    };
    for key in keys {
        if vars.iter().any(|v| v.name == key.value) {
            continue;
        }
        let help = format!(
            "{} (inputs are the module's `variable` blocks, in {source})",
            did_you_mean(&key.value, vars.iter().map(|v| v.name.as_str()), "variable")
        );
        let err = ModelError::UnknownModuleInput {
            module: module.name.value.clone(),
            name: key.value.clone(),
            src: cx.src(),
            span: key.span,
            help,
        };
        cx.errors.push(err);
    }
    // Terraform only says so at plan time, after images were built and pushed.
    for var in vars
        .iter()
        .filter(|v| v.required && !module.inputs.contains_key(&v.name))
    {
        let env = &cx.env;
        let err = ModelError::MissingValue {
            node: format!("module \"{}\"", module.name.value),
            what: format!("input `{}`", var.name),
            src: cx.src(),
            span: module.span,
            help: format!(
                "`variable \"{}\"` in {source} has no default: add `input \"{}\" VALUE` \
                 (in the base, or in env `{env}`)",
                var.name, var.name
            ),
        };
        cx.errors.push(err);
    }
}

fn undefined<'a>(
    cx: &mut Cx,
    kind: &str,
    name: &str,
    span: SourceSpan,
    known: impl IntoIterator<Item = &'a str> + Clone,
    extra: &str,
) {
    let help = format!("{}{extra}", did_you_mean(name, known, kind));
    let help = help.replace("?.", "?");
    let err = ModelError::UndefinedReference {
        kind: kind.to_string(),
        name: name.to_string(),
        src: cx.src(),
        span,
        help,
    };
    cx.errors.push(err);
}

fn bad_ref(cx: &mut Cx, target: &str, span: SourceSpan, label: &str, help: &str) {
    let err = ModelError::BadReference {
        target: target.to_string(),
        src: cx.src(),
        span,
        label: label.to_string(),
        help: help.to_string(),
    };
    cx.errors.push(err);
}

/// Checks one `(ref)` target against what this env defines.
fn check_ref(config: &Config, target: &str, span: SourceSpan, cx: &mut Cx) {
    let parts: Vec<&str> = target.split('.').collect();
    let forms = "references look like `module.NAME.OUTPUT`, `service.NAME.ATTR`, `var.NAME` or `step.NAME.OUTPUT`";
    match parts.as_slice() {
        ["var", name] => {
            if !config.vars.contains_key(*name) {
                undefined(
                    cx,
                    "var",
                    name,
                    span,
                    config.vars.keys().map(String::as_str),
                    "",
                );
            }
        }
        ["module", name, output, ..] if !output.is_empty() => {
            if !config.modules.contains_key(*name) {
                undefined(
                    cx,
                    "module",
                    name,
                    span,
                    config.modules.keys().map(String::as_str),
                    "",
                );
            }
        }
        ["service", name, attr] => {
            if !config.services.contains_key(*name) {
                undefined(
                    cx,
                    "service",
                    name,
                    span,
                    config.services.keys().map(String::as_str),
                    "",
                );
            } else if !SERVICE_REF_ATTRS.contains(attr) {
                let help = did_you_mean(attr, SERVICE_REF_ATTRS.iter().copied(), "attribute");
                bad_ref(
                    cx,
                    target,
                    span,
                    "unknown service attribute",
                    &format!(
                        "{help} (a service exposes {})",
                        SERVICE_REF_ATTRS.join(", ")
                    ),
                );
            }
        }
        ["step", name, output, ..] if !output.is_empty() => {
            if !config.steps.contains_key(*name) {
                undefined(
                    cx,
                    "step",
                    name,
                    span,
                    config.steps.keys().map(String::as_str),
                    "",
                );
            }
        }
        [kind, ..] if !["var", "module", "service", "step"].contains(kind) => {
            let hint = did_you_mean(kind, ["module", "service", "var", "step"], "kind");
            bad_ref(
                cx,
                target,
                span,
                "unknown reference kind",
                &format!("{hint} ({forms})"),
            );
        }
        _ => bad_ref(cx, target, span, "incomplete reference", forms),
    }
}

fn check_refs(config: &Config, value: &Spanned<ConfigValue>, cx: &mut Cx) {
    for target in value.value.refs() {
        check_ref(config, target, value.span, cx);
    }
}

/// Cross-node and on-disk checks for one resolved env.
pub(crate) fn check_config(config: &Config, cx: &mut Cx) {
    let registries: Vec<&str> = config.registries.keys().map(String::as_str).collect();
    let services: Vec<&str> = config.services.keys().map(String::as_str).collect();
    for service in config.services.values() {
        match &service.registry {
            Some(r) if !config.registries.contains_key(&r.value) => {
                undefined(
                    cx,
                    "registry",
                    &r.value,
                    r.span,
                    registries.iter().copied(),
                    "",
                );
            }
            Some(_) => {}
            None if registries.len() == 1 => {}
            None => {
                let help = if registries.is_empty() {
                    "declare one: `registry \"ecr\" { kind \"ecr\"; url \"ACCOUNT.dkr.ecr.REGION.amazonaws.com\" }`".to_string()
                } else {
                    format!(
                        "several registries are declared; pick one with `registry \"NAME\"` ({})",
                        registries.join(", ")
                    )
                };
                let err = ModelError::MissingValue {
                    node: "service".into(),
                    what: "a registry".into(),
                    src: cx.src(),
                    span: service.span,
                    help,
                };
                cx.errors.push(err);
            }
        }
        for dep in &service.depends_on {
            if !config.services.contains_key(&dep.value) {
                undefined(
                    cx,
                    "service",
                    &dep.value,
                    dep.span,
                    services.iter().copied(),
                    "",
                );
            }
        }
        if let Some(module) = &service.deployed_by
            && !config.modules.contains_key(&module.value)
        {
            undefined(
                cx,
                "module",
                &module.value,
                module.span,
                config.modules.keys().map(String::as_str),
                "",
            );
        }
        let build = &service.build;
        for artifact in build.artifacts.values() {
            check_refs(config, artifact, cx);
        }
        let context = build.context.value.to_string_lossy().into_owned();
        // An empty context is the placeholder for a missing one, already reported.
        if !context.is_empty() && inside_root(cx, &context, build.context.span, "build context") {
            let dir = cx.root.join(&context);
            if !dir.is_dir() {
                let help = format!(
                    "{}the build context is a directory relative to the project root",
                    sibling_hint(&cx.root, &context)
                );
                missing_path(
                    cx,
                    "build context",
                    &context,
                    "does not exist",
                    build.context.span,
                    help,
                );
            } else {
                let dockerfile = build.dockerfile.value.to_string_lossy().into_owned();
                let joined = format!("{context}/{dockerfile}");
                if inside_root(cx, &joined, build.dockerfile.span, "dockerfile")
                    && !dir.join(&dockerfile).is_file()
                {
                    let help =
                        format!("the dockerfile is relative to the build context `{context}`");
                    missing_path(
                        cx,
                        "dockerfile",
                        &dockerfile,
                        "does not exist",
                        build.dockerfile.span,
                        help,
                    );
                }
            }
        }
        for input in &build.inputs {
            inside_root(cx, &input.value, input.span, "input");
        }
    }
    for module in config.modules.values() {
        for value in module.inputs.values() {
            check_refs(config, value, cx);
        }
    }
    for value in config.vars.values() {
        check_refs(config, value, cx);
    }
    for step in config.steps.values() {
        let name = &step.plugin.value;
        if !name.is_empty()
            && !config.plugins.contains_key(name)
            && !BUILTIN_PLUGINS.contains(&name.as_str())
        {
            if name == forge_contract::lock::PLUGIN {
                let err = ModelError::UndefinedReference {
                    kind: "step plugin".into(),
                    name: name.clone(),
                    src: cx.src(),
                    span: step.plugin.span,
                    help: "`state-lock` is not a step: forge holds the env's state lock around the steps that change infrastructure (terraform-apply, the rollouts) when the project has a `state` block; `forge lock status` shows it".into(),
                };
                cx.errors.push(err);
                continue;
            }
            let known = config
                .plugins
                .keys()
                .map(String::as_str)
                .chain(BUILTIN_PLUGINS.iter().copied());
            undefined(
                cx,
                "plugin",
                name,
                step.plugin.span,
                known,
                " (third-party plugins are declared with `plugin \"NAME\" path=... hash=...`)",
            );
        }
        for input in &step.inputs {
            inside_root(cx, &input.value, input.span, "input");
        }
        check_refs(config, &step.config, cx);
    }
}

#[cfg(test)]
mod tests {
    use super::escapes_root;

    #[test]
    fn paths_that_climb_out_are_caught() {
        assert!(escapes_root("../x"));
        assert!(escapes_root("a/../../x"));
        assert!(escapes_root("/etc"));
        assert!(!escapes_root("a/../b"));
        assert!(!escapes_root("examples/app/backend"));
        assert!(!escapes_root("**/*.rs"));
    }
}
