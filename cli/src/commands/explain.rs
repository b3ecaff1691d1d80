//! `forge explain STEP`: why a step would run, field by field against its last recorded
//! run in the env: which file, which config value, which upstream output changed. "Never
//! run" and "cached" are said plainly.

use std::io::Write;

use forge_engine::session::Explanation;
use serde::Serialize;

use crate::cli::ExplainArgs;
use crate::context::Context;
use crate::executor::with_rechecker;
use crate::exit::{CliError, Outcome};
use crate::report::json;

#[derive(Serialize)]
struct ExplainLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    explanation: &'a Explanation,
}

pub fn explain(ctx: &Context<'_>, args: &ExplainArgs) -> Result<Outcome, CliError> {
    let session = ctx.open_session()?;
    let explanation = with_rechecker(session.store_dir.clone(), |recheck| {
        Ok(session.explain(&args.step, recheck)?)
    })?;
    if ctx.mode.json {
        json::line(&ExplainLine {
            kind: "explain",
            explanation: &explanation,
        })?;
    } else {
        write!(std::io::stdout().lock(), "{explanation}")?;
    }
    Ok(Outcome::Ok)
}
