//! `forge graph`: the step graph of one env as text, DOT or JSON. It reads only the
//! project file: no store, no hashing.
//!
//! With the global `--json`, the graph is one line, `{"type":"graph","env":..,"steps":[..]}`,
//! like every other JSON line forge prints; `--format json` alone is the same document,
//! pretty-printed for people.

use std::io::Write;

use forge_engine::graph::StepGraph;
use serde::Serialize;

use crate::cli::{GraphArgs, GraphFormat};
use crate::context::Context;
use crate::exit::{CliError, Outcome};
use crate::report::json;

pub fn graph(ctx: &Context<'_>, args: &GraphArgs) -> Result<Outcome, CliError> {
    let graph = ctx.load_graph()?;
    if ctx.mode.json {
        let graph: serde_json::Value =
            serde_json::from_str(&graph.to_json()).unwrap_or(serde_json::Value::Null);
        json::line(&GraphLine {
            kind: "graph",
            graph,
        })?;
        return Ok(Outcome::Ok);
    }
    let text = render(&graph, args.format);
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    Ok(Outcome::Ok)
}

#[derive(Serialize)]
struct GraphLine {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    graph: serde_json::Value,
}

fn render(graph: &StepGraph, format: GraphFormat) -> String {
    match format {
        GraphFormat::Text => graph.to_text(),
        GraphFormat::Dot => graph.to_dot(),
        GraphFormat::Json => graph.to_json(),
    }
}
