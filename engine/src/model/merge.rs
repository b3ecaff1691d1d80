//! Env overlays, applied at the KDL level before anything is typed.
//!
//! `env "prod" { service "backend" { cpu 512 } }` is merged into the base document node by
//! node, following the identities in [`super::schema`]: a keyed node (`service "backend"`)
//! merges into the base node with the same key, a single node (`cpu`) replaces the base
//! value, properties override one by one, lists (`depends-on`) are replaced as a whole and
//! anything new is appended. Because the merged nodes keep their own spans, every later
//! diagnostic points at the line that set the value — base or overlay.
//!
//! The base itself is "merged" into an empty document, so duplicates (`port` twice,
//! `service "backend"` twice) are found by the same code in the base and in every env.

use std::collections::{BTreeMap, BTreeSet};

use kdl::{KdlDocument, KdlNode, KdlValue};

use super::read::Cx;
use super::schema::{self, Ctx, Identity};

/// What tells two nodes of a block apart.
fn key(node: &KdlNode, identity: Identity) -> Option<String> {
    let name = node.name().value();
    match identity {
        Identity::Single => Some(name.to_string()),
        Identity::Keyed => match positional(node).next().map(|e| e.value()) {
            Some(KdlValue::String(s)) => Some(format!("{name}\u{0}{s}")),
            // A keyed node without a usable key is reported when it is read; keep it as is.
            _ => None,
        },
        Identity::Repeated => None,
    }
}

fn positional(node: &KdlNode) -> impl Iterator<Item = &kdl::KdlEntry> {
    node.entries().iter().filter(|e| e.name().is_none())
}

/// Merges `overlay` (the nodes of one block, read in `ctx`) into `base`.
pub(crate) fn merge_nodes(base: &mut Vec<KdlNode>, overlay: &[KdlNode], ctx: Ctx, cx: &mut Cx) {
    let mut seen: BTreeMap<String, miette::SourceSpan> = BTreeMap::new();
    let mut replaced_lists: BTreeSet<&str> = BTreeSet::new();
    for node in overlay {
        let name = node.name().value();
        if ctx == Ctx::Env {
            match name {
                "env" | "version" => {
                    cx.unknown_node(
                        node,
                        ctx,
                        format!("`{name}` is only allowed at the top level"),
                    );
                    continue;
                }
                // `region` in an env is shorthand for `project { region ... }`.
                "region" => {
                    let at = match base.iter().position(|n| n.name().value() == "project") {
                        Some(at) => at,
                        None => {
                            base.push(KdlNode::new("project"));
                            base.len() - 1
                        }
                    };
                    let children = base[at].ensure_children().nodes_mut();
                    merge_nodes(children, std::slice::from_ref(node), Ctx::Project, cx);
                    continue;
                }
                _ => {}
            }
        }
        let Some(spec) = schema::spec(ctx, name) else {
            // Unknown here: keep it so the reader reports it with a suggestion.
            base.push(node.clone());
            continue;
        };
        match spec.identity {
            Identity::Repeated => {
                if replaced_lists.insert(spec.name) {
                    base.retain(|n| n.name().value() != name);
                }
                base.push(node.clone());
            }
            Identity::Single | Identity::Keyed => {
                let Some(k) = key(node, spec.identity) else {
                    base.push(node.clone());
                    continue;
                };
                let here = cx.head_span(node);
                if let Some(first) = seen.get(&k) {
                    cx.duplicate(node, *first, here);
                    continue;
                }
                seen.insert(k.clone(), here);
                match base
                    .iter_mut()
                    .find(|n| key(n, spec.identity).as_deref() == Some(&k))
                {
                    Some(existing) if !spec.replace => {
                        merge_node(existing, node, spec.identity, spec.children, cx)
                    }
                    Some(existing) => *existing = fresh_copy(node, spec.children, cx),
                    None => base.push(fresh_copy(node, spec.children, cx)),
                }
            }
        }
    }
}

/// A copy of `node` whose children went through [`merge_nodes`] (so duplicates among them
/// are reported).
fn fresh_copy(node: &KdlNode, children: Ctx, cx: &mut Cx) -> KdlNode {
    let mut copy = node.clone();
    if let Some(doc) = node.children() {
        let mut merged = KdlDocument::new();
        merge_nodes(merged.nodes_mut(), doc.nodes(), children, cx);
        copy.set_children(merged);
    }
    copy
}

/// Overrides `base` with what `overlay` sets: positional values if it has any beyond the
/// key, each property by name, and children recursively.
fn merge_node(
    base: &mut KdlNode,
    overlay: &KdlNode,
    identity: Identity,
    children: Ctx,
    cx: &mut Cx,
) {
    let skip = usize::from(identity == Identity::Keyed);
    let overlay_args: Vec<_> = positional(overlay).cloned().collect();
    if overlay_args.len() > skip {
        let props: Vec<_> = base
            .entries()
            .iter()
            .filter(|e| e.name().is_some())
            .cloned()
            .collect();
        let entries = base.entries_mut();
        entries.clear();
        entries.extend(overlay_args);
        entries.extend(props);
    }
    for prop in overlay.entries().iter().filter(|e| e.name().is_some()) {
        let entries = base.entries_mut();
        entries.retain(|e| e.name().map(|n| n.value()) != prop.name().map(|n| n.value()));
        entries.push(prop.clone());
    }
    if let Some(overlay_children) = overlay.children() {
        match base.children_mut() {
            Some(doc) => merge_nodes(doc.nodes_mut(), overlay_children.nodes(), children, cx),
            None => {
                let mut doc = KdlDocument::new();
                merge_nodes(doc.nodes_mut(), overlay_children.nodes(), children, cx);
                base.set_children(doc);
            }
        }
    }
}
