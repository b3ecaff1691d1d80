//! Why a project's steps do not form a valid graph. Each variant points at the `needs` (or
//! `depends-on`) that caused it in `project.kdl` and says how to fix it.

use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceSpan};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum GraphError {
    /// `needs` names a step that does not exist in this env.
    #[error("step `{step}` needs `{name}`, which is not a step in env `{env}`")]
    #[diagnostic(code(forge::graph::unknown_need))]
    UnknownNeed {
        step: String,
        name: String,
        env: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("no step with this id")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    /// A build-phase step cannot wait for a deploy-phase step: `forge build` would never
    /// run the latter.
    #[error("build step `{step}` needs deploy step `{need}`")]
    #[diagnostic(
        code(forge::graph::phase_order),
        help(
            "`forge build` runs only build-phase steps; give `{step}` `phase \"deploy\"` or drop this `needs`"
        )
    )]
    PhaseOrder {
        step: String,
        need: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("`{need}` only runs in `forge deploy`")]
        span: SourceSpan,
    },

    /// Two steps with the same id (a `step` block named like a generated step).
    #[error("two steps are named `{id}`")]
    #[diagnostic(
        code(forge::graph::duplicate_step),
        help(
            "ids such as `docker-build:<service>` and `terraform-render` are generated from services and modules; rename the `step` block"
        )
    )]
    DuplicateStep {
        id: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("this step's id is already taken")]
        span: SourceSpan,
    },

    /// Steps that (transitively) need themselves.
    #[error("dependency cycle: {cycle}")]
    #[diagnostic(
        code(forge::graph::cycle),
        help("remove one of the underlined `needs` (or `depends-on`) to break the cycle")
    )]
    Cycle {
        /// `a → b → c → a`.
        cycle: String,
        /// The step ids on the cycle, first one repeated at the end.
        steps: Vec<String>,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label(collection)]
        labels: Vec<LabeledSpan>,
    },
}

/// Suggestions: the model's one rule ("close enough to be a typo") and wording.
pub(crate) use crate::model::schema::{did_you_mean, suggest as closest};
