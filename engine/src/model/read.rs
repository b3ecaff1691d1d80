//! Reading typed values out of KDL nodes, reporting every problem into one list.
//!
//! [`Cx`] owns the source text and the error list. Its readers return `Option`: `None` means
//! "already reported", and callers substitute a placeholder so reading can go on and find the
//! next problem instead of stopping at the first.

use std::sync::Arc;

use kdl::{KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use super::schema::{self, Ctx};
use super::value::RefValue;
use super::{ConfigValue, ModelError, SourceFile, Spanned};

/// What a value is called in a message: the node (`port`), or for a property the property
/// and its node (`interval` of `health-check`).
fn value_name(node: &KdlNode, entry: &KdlEntry) -> String {
    match entry.name() {
        Some(prop) => format!("{}` of `{}", prop.value(), node.name().value()),
        None => node.name().value().to_string(),
    }
}

/// The longest name (of a project, service, env, ...) a project file may use.
pub const MAX_NAME_LEN: usize = 64;

pub(crate) struct Cx {
    pub source: SourceFile,
    pub errors: Vec<ModelError>,
    /// The project root: relative paths in the file are checked against it.
    pub root: std::path::PathBuf,
    /// `variable` names per module folder (`None`: not readable), read once per load.
    pub tf_vars:
        std::collections::HashMap<std::path::PathBuf, Option<Vec<super::terraform::TfVariable>>>,
    /// The env being resolved, for help lines of env-specific problems.
    pub env: String,
}

/// What a value is, in words, for "expected X, found Y".
pub(crate) fn kind_of(value: &KdlValue) -> &'static str {
    match value {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a float",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}

impl Cx {
    pub fn new(source: SourceFile, root: std::path::PathBuf) -> Self {
        Cx {
            source,
            errors: Vec::new(),
            root,
            tf_vars: Default::default(),
            env: String::new(),
        }
    }

    pub fn src(&self) -> miette::NamedSource<Arc<str>> {
        self.source.named()
    }

    fn text(&self) -> &str {
        &self.source.text
    }

    /// `span` clamped to the text and trimmed of surrounding whitespace, so the underline
    /// covers what the user wrote and not the padding the parser folded into it.
    pub fn tight(&self, span: SourceSpan) -> SourceSpan {
        let text = self.text();
        let mut start = span.offset().min(text.len());
        let mut end = (span.offset() + span.len()).min(text.len());
        while start < end && !text.is_char_boundary(start) {
            start += 1;
        }
        while end > start && !text.is_char_boundary(end) {
            end -= 1;
        }
        let slice = &text[start..end];
        let trimmed = slice.trim_start();
        start += slice.len() - trimmed.len();
        end = start + trimmed.trim_end().len();
        SourceSpan::new(start.into(), end - start)
    }

    /// The span of an entry's `key=value` or value, without padding or trailing comments.
    pub fn entry_span(&self, entry: &KdlEntry) -> SourceSpan {
        let span = self.tight(entry.span());
        let repr = entry.format().map(|f| f.value_repr.as_str()).unwrap_or("");
        let start = span.offset();
        let end = start + span.len();
        match self.text().get(start..end).and_then(|s| s.find(repr)) {
            Some(at) if !repr.is_empty() => SourceSpan::new(start.into(), at + repr.len()),
            _ => span,
        }
    }

    /// The node's name and its first argument (`service "backend"`): what a label on "this
    /// block" should underline.
    pub fn head_span(&self, node: &KdlNode) -> SourceSpan {
        let name = self.tight(node.name().span());
        match node.entries().first().filter(|e| e.name().is_none()) {
            Some(first) => {
                let arg = self.entry_span(first);
                let end = arg.offset() + arg.len();
                if end > name.offset() {
                    SourceSpan::new(name.offset().into(), end - name.offset())
                } else {
                    name
                }
            }
            None => name,
        }
    }

    pub fn unknown_node(&mut self, node: &KdlNode, ctx: Ctx, help: String) {
        let err = ModelError::UnknownNode {
            name: node.name().value().to_string(),
            context: schema::describe(ctx).to_string(),
            src: self.src(),
            span: self.tight(node.name().span()),
            help,
        };
        self.errors.push(err);
    }

    /// Reports a node not allowed in `ctx`, with the closest allowed name.
    pub fn unknown_node_in(&mut self, node: &KdlNode, ctx: Ctx) {
        let name = node.name().value();
        let allowed = schema::specs(ctx).iter().map(|s| s.name);
        let help = if ctx == Ctx::Leaf {
            "this node takes values only; remove the `{ ... }` block".to_string()
        } else if ctx == Ctx::Top && name == "region" {
            "the region belongs in `project \"NAME\" { region \"...\" }`".to_string()
        } else {
            schema::did_you_mean(name, allowed, "node")
        };
        self.unknown_node(node, ctx, help);
    }

    pub fn duplicate(&mut self, node: &KdlNode, first: SourceSpan, here: SourceSpan) {
        let name = node.name().value();
        let label = positional(node)
            .next()
            .and_then(|e| e.value().as_string())
            .unwrap_or(name);
        let err = ModelError::Duplicate {
            kind: if label == name {
                "node".into()
            } else {
                name.to_string()
            },
            name: label.to_string(),
            src: self.src(),
            span: here,
            first,
            help: "remove one of them (an `env` block overrides base values; within one block \
                   each name appears once)"
                .into(),
        };
        self.errors.push(err);
    }

    pub fn invalid(&mut self, span: SourceSpan, message: String, label: &str, help: String) {
        let err = ModelError::InvalidValue {
            message,
            src: self.src(),
            span,
            label: label.to_string(),
            help,
        };
        self.errors.push(err);
    }

    pub fn missing(&mut self, node: &KdlNode, what: &str, help: String) {
        // `prot 8080` in a service is one mistake: the unknown-node error already says
        // "did you mean `port`?", so a second error for the missing `port` is noise.
        let field = what.split('`').nth(1).filter(|f| !f.ends_with('='));
        if let (Some(field), Some(children)) = (field, node.children()) {
            let misspelled = children.nodes().iter().any(|child| {
                let name = child.name().value();
                name != field && schema::suggest(name, [field]).is_some()
            });
            if misspelled {
                return;
            }
        }
        let err = ModelError::MissingValue {
            node: node.name().value().to_string(),
            what: what.to_string(),
            src: self.src(),
            span: self.head_span(node),
            help,
        };
        self.errors.push(err);
    }

    pub fn wrong_type(&mut self, node: &KdlNode, entry: &KdlEntry, expected: &str, help: String) {
        let err = ModelError::WrongType {
            node: value_name(node, entry),
            expected: expected.to_string(),
            found: kind_of(entry.value()).to_string(),
            src: self.src(),
            span: self.entry_span(entry),
            help,
        };
        self.errors.push(err);
    }

    /// Checks positional count, property names and (for value nodes) the absence of children.
    pub fn shape(&mut self, node: &KdlNode, max_args: usize, props: &[&str], children: Ctx) {
        let name = node.name().value();
        for extra in positional(node).skip(max_args) {
            let help = match max_args {
                0 => format!("`{name}` takes no positional values"),
                1 => format!("`{name}` takes one value"),
                n => format!("`{name}` takes at most {n} values"),
            };
            let err = ModelError::UnexpectedArgument {
                node: name.to_string(),
                src: self.src(),
                span: self.entry_span(extra),
                help,
            };
            self.errors.push(err);
        }
        for entry in node.entries() {
            let Some(key) = entry.name() else { continue };
            if props.contains(&key.value()) {
                continue;
            }
            let help = if props.is_empty() {
                format!("`{name}` takes no properties")
            } else {
                schema::did_you_mean(key.value(), props.iter().copied(), "property")
            };
            let err = ModelError::UnknownProperty {
                name: key.value().to_string(),
                node: name.to_string(),
                src: self.src(),
                span: self.tight(key.span()),
                help,
            };
            self.errors.push(err);
        }
        if children == Ctx::Leaf {
            for child in node.iter_children() {
                self.unknown_node_in(child, Ctx::Leaf);
            }
        }
    }

    pub fn arg<'n>(&self, node: &'n KdlNode, index: usize) -> Option<&'n KdlEntry> {
        positional(node).nth(index)
    }

    pub fn prop<'n>(&self, node: &'n KdlNode, key: &str) -> Option<&'n KdlEntry> {
        node.entries()
            .iter()
            .rev()
            .find(|e| e.name().map(|n| n.value()) == Some(key))
    }

    fn no_annotation(&mut self, node: &KdlNode, entry: &KdlEntry) -> bool {
        match entry.ty() {
            None => true,
            Some(ty) => {
                let span = self.entry_span(entry);
                self.invalid(
                    span,
                    format!(
                        "type annotation `({})` is not allowed on `{}`",
                        ty.value(),
                        node.name().value()
                    ),
                    "not allowed here",
                    "`(ref)` is only accepted in module inputs, vars and step config".into(),
                );
                false
            }
        }
    }

    /// A string entry.
    pub fn string(
        &mut self,
        node: &KdlNode,
        entry: &KdlEntry,
        help: &str,
    ) -> Option<Spanned<String>> {
        if !self.no_annotation(node, entry) {
            return None;
        }
        match entry.value() {
            KdlValue::String(s) => Some(Spanned::new(s.clone(), self.entry_span(entry))),
            _ => {
                self.wrong_type(node, entry, "a string", help.to_string());
                None
            }
        }
    }

    /// An integer entry within `min..=max`.
    pub fn int(
        &mut self,
        node: &KdlNode,
        entry: &KdlEntry,
        min: i128,
        max: i128,
        help: &str,
    ) -> Option<Spanned<i128>> {
        if !self.no_annotation(node, entry) {
            return None;
        }
        match entry.value() {
            KdlValue::Integer(i) if (min..=max).contains(i) => {
                Some(Spanned::new(*i, self.entry_span(entry)))
            }
            KdlValue::Integer(i) => {
                let span = self.entry_span(entry);
                self.invalid(
                    span,
                    format!("`{}` is out of range: {i}", value_name(node, entry)),
                    &format!("must be between {min} and {max}"),
                    help.to_string(),
                );
                None
            }
            _ => {
                self.wrong_type(node, entry, "an integer", help.to_string());
                None
            }
        }
    }

    pub fn boolean(&mut self, node: &KdlNode, entry: &KdlEntry) -> Option<Spanned<bool>> {
        if !self.no_annotation(node, entry) {
            return None;
        }
        match entry.value() {
            KdlValue::Bool(b) => Some(Spanned::new(*b, self.entry_span(entry))),
            _ => {
                self.wrong_type(node, entry, "a boolean", "write `#true` or `#false`".into());
                None
            }
        }
    }

    /// The single string value of a value node (`repository "two-tier/backend"`).
    pub fn leaf_string(&mut self, node: &KdlNode, help: &str) -> Option<Spanned<String>> {
        self.shape(node, 1, &[], Ctx::Leaf);
        match self.arg(node, 0) {
            Some(entry) => self.string(node, entry, help),
            None => {
                self.missing(node, "a value", help.to_string());
                None
            }
        }
    }

    pub fn leaf_int(
        &mut self,
        node: &KdlNode,
        min: i128,
        max: i128,
        help: &str,
    ) -> Option<Spanned<i128>> {
        self.shape(node, 1, &[], Ctx::Leaf);
        match self.arg(node, 0) {
            Some(entry) => self.int(node, entry, min, max, help),
            None => {
                self.missing(node, "a value", help.to_string());
                None
            }
        }
    }

    pub fn leaf_bool(&mut self, node: &KdlNode) -> Option<Spanned<bool>> {
        self.shape(node, 1, &[], Ctx::Leaf);
        match self.arg(node, 0) {
            Some(entry) => self.boolean(node, entry),
            // A bare flag (`commit-sha`) reads as "on".
            None => Some(Spanned::new(true, self.head_span(node))),
        }
    }

    /// Every positional string of a list node (`depends-on "a" "b"`).
    pub fn strings(&mut self, node: &KdlNode, help: &str) -> Vec<Spanned<String>> {
        self.shape(node, usize::MAX, &[], Ctx::Leaf);
        let entries: Vec<&KdlEntry> = positional(node).collect();
        if entries.is_empty() {
            self.missing(node, "a value", help.to_string());
        }
        entries
            .into_iter()
            .filter_map(|e| self.string(node, e, help))
            .collect()
    }

    /// The name of a keyed node (`service "backend"`): a string of letters, digits, `-`, `_`.
    pub fn name(&mut self, node: &KdlNode, what: &str) -> Option<Spanned<String>> {
        let help = format!("name it: `{} \"NAME\" ...`", node.name().value());
        let Some(entry) = self.arg(node, 0) else {
            self.missing(node, &format!("a {what} name"), help);
            return None;
        };
        let name = self.string(node, entry, &help)?;
        let valid = !name.value.is_empty()
            && name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            self.invalid(
                name.span,
                format!("invalid {what} name `{}`", name.value),
                "use ASCII letters, digits, `-` and `_`",
                "names appear in step ids and references (`service.NAME.image`), so they may \
                 not contain dots, colons, slashes, spaces or non-ASCII letters"
                    .into(),
            );
        } else if name.value.len() > MAX_NAME_LEN {
            // Names become file names (run history), AWS resource names and step ids, all of
            // which have length limits; a bound here turns their failures into this one.
            self.invalid(
                name.span,
                format!("{what} name is {} characters long", name.value.len()),
                &format!("at most {MAX_NAME_LEN} characters"),
                format!("shorten the {what} name to {MAX_NAME_LEN} characters or fewer"),
            );
        }
        Some(name)
    }

    /// A config value: a scalar, `(ref)"..."`, or `#null`.
    pub fn config_entry(&mut self, entry: &KdlEntry) -> Option<Spanned<ConfigValue>> {
        let span = self.entry_span(entry);
        let value = match (entry.ty().map(|t| t.value()), entry.value()) {
            (Some("ref"), KdlValue::String(s)) => ConfigValue::Ref(RefValue { target: s.clone() }),
            (Some("ref"), other) => {
                let found = kind_of(other);
                self.invalid(
                    span,
                    format!("a `(ref)` must be a string, found {found}"),
                    "not a string",
                    "write references as `(ref)\"module.NAME.OUTPUT\"`".into(),
                );
                return None;
            }
            (Some(other), _) => {
                self.invalid(
                    span,
                    format!("unknown type annotation `({other})`"),
                    "unknown annotation",
                    "the only annotation forge understands is `(ref)`".into(),
                );
                return None;
            }
            (None, KdlValue::String(s)) => ConfigValue::String(s.clone()),
            (None, KdlValue::Integer(i)) => match i64::try_from(*i) {
                Ok(i) => ConfigValue::Int(i),
                Err(_) => {
                    self.invalid(
                        span,
                        "integer out of range".into(),
                        "does not fit in 64 bits",
                        "use a smaller number, or a string".into(),
                    );
                    return None;
                }
            },
            (None, KdlValue::Float(f)) => ConfigValue::Float(*f),
            (None, KdlValue::Bool(b)) => ConfigValue::Bool(*b),
            (None, KdlValue::Null) => ConfigValue::Null,
        };
        Some(Spanned::new(value, span))
    }

    /// The value of a node after its first `skip` positional entries: one value is a scalar,
    /// several a list, `-` children a list, other children a map.
    pub fn node_value(
        &mut self,
        node: &KdlNode,
        skip: usize,
        help: &str,
    ) -> Option<Spanned<ConfigValue>> {
        self.shape(node, usize::MAX, &[], Ctx::Free);
        let entries: Vec<&KdlEntry> = positional(node).skip(skip).collect();
        if let Some(children) = node.children() {
            if let Some(first) = entries.first() {
                let span = self.entry_span(first);
                self.invalid(
                    span,
                    format!(
                        "`{}` has both values and a `{{ ... }}` block",
                        node.name().value()
                    ),
                    "value here",
                    "give either values (a scalar or a list) or a block (a map), not both".into(),
                );
                return None;
            }
            // KDL's list idiom: children all named `-` (`{ - "a"; - "b" }`), so a list can
            // have one element or hold maps.
            if !children.nodes().is_empty()
                && children.nodes().iter().all(|c| c.name().value() == "-")
            {
                let mut items = Vec::new();
                for child in children.nodes() {
                    items.push(self.node_value(child, 0, help)?.value);
                }
                return Some(Spanned::new(ConfigValue::List(items), self.head_span(node)));
            }
            let mut map = std::collections::BTreeMap::new();
            for child in children.nodes() {
                let value = self.node_value(child, 0, help)?;
                map.insert(child.name().value().to_string(), value.value);
            }
            return Some(Spanned::new(ConfigValue::Map(map), self.head_span(node)));
        }
        match entries.as_slice() {
            [] => {
                self.missing(node, "a value", help.to_string());
                None
            }
            [one] => self.config_entry(one),
            many => {
                let first = self.entry_span(many[0]);
                let last = self.entry_span(many[many.len() - 1]);
                let values: Option<Vec<ConfigValue>> = many
                    .iter()
                    .map(|e| self.config_entry(e).map(|v| v.value))
                    .collect();
                let span = SourceSpan::new(
                    first.offset().into(),
                    (last.offset() + last.len()).saturating_sub(first.offset()),
                );
                Some(Spanned::new(ConfigValue::List(values?), span))
            }
        }
    }
}

pub(crate) fn positional(node: &KdlNode) -> impl Iterator<Item = &KdlEntry> {
    node.entries().iter().filter(|e| e.name().is_none())
}
