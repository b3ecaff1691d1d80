//! The load pipeline: KDL syntax → `version` check → base layer → one merged layer per env →
//! typed [`Config`] per env → cross-checks → every problem sorted by position.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kdl::{KdlDocument, KdlNode, KdlValue};
use miette::SourceSpan;

use super::read::{Cx, positional};
use super::schema::Ctx;
use super::{Config, ModelError, ModelErrors, Project, SCHEMA_VERSION, SourceFile, Spanned, merge};

/// The env a file without `env` blocks gets.
pub const IMPLICIT_ENV: &str = "default";

pub(crate) fn parse_project(path: &Path, text: &str) -> Result<Project, ModelErrors> {
    let source = SourceFile {
        path: path.to_path_buf(),
        text: Arc::from(text),
    };
    let root = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut cx = Cx::new(source, root);
    if let Some(at) = too_deep(text) {
        let err = ModelError::Syntax {
            message: format!("blocks nested more than {MAX_DEPTH} levels deep"),
            src: cx.src(),
            span: SourceSpan::new(at.into(), 1),
            label: "too deep".into(),
            help: "a project file needs a handful of levels; look for unclosed or repeated `{`"
                .into(),
        };
        return Err(ModelErrors { errors: vec![err] });
    }
    let doc = match KdlDocument::parse_v2(text) {
        Ok(doc) => doc,
        Err(err) => {
            for diag in err.diagnostics {
                let span = cx.tight(diag.span);
                // An empty span would underline nothing; point at the character instead.
                let span = if span.is_empty() && span.offset() < text.len() {
                    SourceSpan::new(span.offset().into(), 1)
                } else {
                    span
                };
                let message = diag.message.unwrap_or_else(|| "invalid KDL".into());
                let written = text
                    .get(span.offset()..span.offset() + span.len())
                    .unwrap_or("");
                // KDL v1 habits are the most common syntax error in a v2 file.
                let v1_keyword = match written {
                    "true" | "false" | "null" => {
                        Some(format!("KDL v2 writes `{written}` as `#{written}`"))
                    }
                    _ => None,
                };
                let err = ModelError::Syntax {
                    message: format!("KDL syntax error: {message}"),
                    src: cx.src(),
                    span,
                    label: diag.label.unwrap_or_else(|| "here".into()),
                    help: v1_keyword.or(diag.help).unwrap_or_else(|| {
                        "project.kdl uses KDL v2: strings in double quotes, `#true`/`#false`, \
                         `;` or a newline between nodes (https://kdl.dev)"
                            .into()
                    }),
                };
                cx.errors.push(err);
            }
            flag_comments_after_braces(text, &mut cx);
            return Err(finish(cx.errors));
        }
    };
    check_version(doc.nodes(), &mut cx);

    let (env_nodes, base_nodes): (Vec<&KdlNode>, Vec<&KdlNode>) =
        doc.nodes().iter().partition(|n| n.name().value() == "env");
    let base_nodes: Vec<KdlNode> = base_nodes.into_iter().cloned().collect();
    let mut base = Vec::new();
    merge::merge_nodes(&mut base, &base_nodes, Ctx::Top, &mut cx);

    let mut envs: BTreeMap<String, (SourceSpan, Option<&KdlNode>)> = BTreeMap::new();
    for node in &env_nodes {
        cx.shape(node, 1, &[], Ctx::Env);
        let Some(name) = cx.name(node, "env") else {
            continue;
        };
        match envs.get(&name.value) {
            Some((first, _)) => {
                let first = *first;
                let here = cx.head_span(node);
                cx.duplicate(node, first, here);
            }
            None => {
                envs.insert(name.value, (cx.head_span(node), Some(node)));
            }
        }
    }
    if env_nodes.is_empty() {
        envs.insert(IMPLICIT_ENV.to_string(), (SourceSpan::from(0..0), None));
    }

    let mut configs: BTreeMap<String, Config> = BTreeMap::new();
    let mut default_env = None;
    for (name, (_, node)) in &envs {
        cx.env = name.clone();
        let mut merged = base.clone();
        if let Some(children) = node.and_then(|n| n.children()) {
            merge::merge_nodes(&mut merged, children.nodes(), Ctx::Env, &mut cx);
        }
        let (config, header) = super::convert::read_config(&merged, name, &mut cx);
        super::validate::check_config(&config, &mut cx);
        default_env = default_env.or(header.default_env);
        configs.insert(name.clone(), config);
    }

    let default_env = match default_env {
        Some(d) => {
            if !configs.contains_key(&d.value) {
                let err = ModelError::unknown_env_at(
                    &d.value,
                    configs.keys().map(String::as_str),
                    &cx.source,
                    Some(d.span),
                );
                cx.errors.push(err);
            }
            d
        }
        None if configs.len() == 1 => {
            let only = configs.keys().next().cloned().unwrap_or_default();
            Spanned::new(only, SourceSpan::from(0..0))
        }
        None => {
            let names: Vec<&str> = configs.keys().map(String::as_str).collect();
            // Without a `project` node that is already reported.
            if let Some(project) = base.iter().find(|n| n.name().value() == "project") {
                cx.missing(
                    project,
                    "a `default-env`",
                    format!("several envs exist ({}); name the one used without `--env`: `default-env \"{}\"`", names.join(", "), names.first().copied().unwrap_or("dev")),
                );
            }
            Spanned::new(String::new(), SourceSpan::from(0..0))
        }
    };

    if !cx.errors.is_empty() {
        return Err(finish(cx.errors));
    }
    Ok(Project {
        root: cx.root,
        source: cx.source,
        envs: configs,
        default_env,
    })
}

/// Deeper than any real project file, and far below what overflows the parsers' stacks.
const MAX_DEPTH: usize = 64;

/// The offset of the first `{` nested deeper than [`MAX_DEPTH`] (outside strings and
/// comments), checked before parsing because the KDL parser recurses per level.
fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0);
    let (mut in_string, mut line_comment, mut block_comment) = (false, false, 0usize);
    while i < bytes.len() {
        let (b, next) = (bytes[i], bytes.get(i + 1).copied());
        if line_comment {
            line_comment = b != b'\n';
        } else if block_comment > 0 {
            match (b, next) {
                (b'*', Some(b'/')) => (block_comment, i) = (block_comment - 1, i + 1),
                (b'/', Some(b'*')) => (block_comment, i) = (block_comment + 1, i + 1),
                _ => {}
            }
        } else if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match (b, next) {
                (b'"', _) => in_string = true,
                (b'/', Some(b'/')) => line_comment = true,
                (b'/', Some(b'*')) => (block_comment, i) = (1, i + 1),
                (b'{', _) => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Some(i);
                    }
                }
                (b'}', _) => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// kdl-rs 6.5 rejects `node { ... } // comment` followed by more nodes, though KDL v2 allows
/// it, and its own message ("Expected end of document") points elsewhere. Point at the
/// comment so the user can move it.
fn flag_comments_after_braces(text: &str, cx: &mut Cx) {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let mut in_string = false;
        let mut escaped = false;
        let mut after_brace = false;
        for (i, c) in line.char_indices() {
            let rest = &line[i..];
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => {
                    in_string = !in_string;
                    after_brace = false;
                }
                '}' if !in_string => after_brace = true,
                '/' if !in_string && (rest.starts_with("//") || rest.starts_with("/*")) => {
                    if after_brace {
                        let err = ModelError::Syntax {
                            message:
                                "a comment after a closing `}` on the same line is not supported"
                                    .into(),
                            src: cx.src(),
                            span: SourceSpan::new((offset + i).into(), rest.trim_end().len()),
                            label: "move this comment to its own line".into(),
                            help:
                                "forge's KDL parser rejects a comment after `}` on the same line \
                                   (and then reports a confusing error further on); put the \
                                   comment on the line above"
                                    .into(),
                        };
                        cx.errors.push(err);
                    }
                    break;
                }
                c if !c.is_whitespace() => after_brace = false,
                _ => {}
            }
        }
        offset += line.len();
    }
}

fn check_version(nodes: &[KdlNode], cx: &mut Cx) {
    let Some(node) = nodes.iter().find(|n| n.name().value() == "version") else {
        let span = nodes
            .first()
            .map(|n| cx.tight(n.name().span()))
            .unwrap_or(SourceSpan::from(0..0));
        let err = ModelError::MissingVersion {
            src: cx.src(),
            span,
            help: format!(
                "start the file with `version {SCHEMA_VERSION}`: the schema version this file is written for"
            ),
        };
        cx.errors.push(err);
        return;
    };
    cx.shape(node, 1, &[], Ctx::Leaf);
    let help = format!("write `version {SCHEMA_VERSION}`");
    let Some(entry) = positional(node).next() else {
        cx.missing(node, "a version number", help);
        return;
    };
    match entry.value() {
        KdlValue::Integer(v) if *v == i128::from(SCHEMA_VERSION) => {}
        KdlValue::Integer(v) => {
            let err = ModelError::UnsupportedVersion {
                found: v.to_string(),
                src: cx.src(),
                span: cx.entry_span(entry),
                help: format!(
                    "this forge reads version {SCHEMA_VERSION}; upgrade forge, or rewrite the file for version {SCHEMA_VERSION} (see docs/project-kdl.md)"
                ),
            };
            cx.errors.push(err);
        }
        _ => cx.wrong_type(node, entry, "an integer", help),
    }
}

/// Sorted by position, each problem once (a base-layer problem shows up in every env).
fn finish(mut errors: Vec<ModelError>) -> ModelErrors {
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| {
        let span = e.span().map(|s| (s.offset(), s.len()));
        seen.insert((e.to_string(), span))
    });
    errors.sort_by_key(|e| e.span().map(|s| s.offset()));
    ModelErrors { errors }
}
