//! Diagnostics for invalid project files.
//!
//! Every [`ModelError`] that comes from the file's text carries the source (`#[source_code]`),
//! a label on the exact offending span and a `help` line, so miette renders it as
//! `project.kdl:LINE:COL` with the text underlined. Validation collects every problem into
//! [`ModelErrors`] rather than stopping at the first.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

use super::SourceFile;

type Src = NamedSource<Arc<str>>;

/// One problem in a project file, with its location.
#[derive(Debug, Error, Diagnostic)]
pub enum ModelError {
    #[error("cannot read project file {}", path.display())]
    #[diagnostic(code(forge::model::io))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
        #[help]
        help: String,
    },

    #[error("{message}")]
    #[diagnostic(code(forge::model::syntax))]
    Syntax {
        message: String,
        #[source_code]
        src: Src,
        #[label("{label}")]
        span: SourceSpan,
        label: String,
        #[help]
        help: String,
    },

    #[error("the project file has no `version` node")]
    #[diagnostic(code(forge::model::missing_version))]
    MissingVersion {
        #[source_code]
        src: Src,
        #[label("expected `version 1` before this")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("unsupported project file version {found}")]
    #[diagnostic(code(forge::model::unsupported_version))]
    UnsupportedVersion {
        found: String,
        #[source_code]
        src: Src,
        #[label("this forge understands version {}", super::SCHEMA_VERSION)]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("unknown node `{name}` in {context}")]
    #[diagnostic(code(forge::model::unknown_node))]
    UnknownNode {
        name: String,
        context: String,
        #[source_code]
        src: Src,
        #[label("unknown node")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("unknown property `{name}` on `{node}`")]
    #[diagnostic(code(forge::model::unknown_property))]
    UnknownProperty {
        name: String,
        node: String,
        #[source_code]
        src: Src,
        #[label("unknown property")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("unexpected argument to `{node}`")]
    #[diagnostic(code(forge::model::unexpected_argument))]
    UnexpectedArgument {
        node: String,
        #[source_code]
        src: Src,
        #[label("not expected here")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("`{node}` expects {expected}, found {found}")]
    #[diagnostic(code(forge::model::wrong_type))]
    WrongType {
        node: String,
        expected: String,
        found: String,
        #[source_code]
        src: Src,
        #[label("expected {expected}")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("{message}")]
    #[diagnostic(code(forge::model::invalid_value))]
    InvalidValue {
        message: String,
        #[source_code]
        src: Src,
        #[label("{label}")]
        span: SourceSpan,
        label: String,
        #[help]
        help: String,
    },

    #[error("`{node}` is missing {what}")]
    #[diagnostic(code(forge::model::missing_value))]
    MissingValue {
        node: String,
        what: String,
        #[source_code]
        src: Src,
        #[label("{what} required here")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("{kind} `{name}` is defined more than once")]
    #[diagnostic(code(forge::model::duplicate))]
    Duplicate {
        kind: String,
        name: String,
        #[source_code]
        src: Src,
        #[label("defined again here")]
        span: SourceSpan,
        #[label("first defined here")]
        first: SourceSpan,
        #[help]
        help: String,
    },

    #[error("unknown env `{name}`")]
    #[diagnostic(code(forge::model::unknown_env))]
    UnknownEnv {
        name: String,
        #[source_code]
        src: Option<Src>,
        #[label("no env named `{name}`")]
        span: Option<SourceSpan>,
        #[help]
        help: String,
    },

    #[error("{kind} `{name}` is not defined")]
    #[diagnostic(code(forge::model::undefined_reference))]
    UndefinedReference {
        kind: String,
        name: String,
        #[source_code]
        src: Src,
        #[label("no {kind} named `{name}`")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("malformed reference `{target}`")]
    #[diagnostic(code(forge::model::bad_reference))]
    BadReference {
        target: String,
        #[source_code]
        src: Src,
        #[label("{label}")]
        span: SourceSpan,
        label: String,
        #[help]
        help: String,
    },

    #[error("invalid plugin hash `{hash}`")]
    #[diagnostic(code(forge::model::bad_hash))]
    BadHash {
        hash: String,
        #[source_code]
        src: Src,
        #[label("expected `blake3:` followed by 64 lowercase hex digits")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("path `{path}` escapes the project root")]
    #[diagnostic(code(forge::model::path_escapes_root))]
    PathEscapesRoot {
        path: String,
        #[source_code]
        src: Src,
        #[label("outside the project")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("{what} `{path}` {problem}")]
    #[diagnostic(code(forge::model::missing_path))]
    MissingPath {
        what: String,
        path: String,
        problem: String,
        #[source_code]
        src: Src,
        #[label("{problem}")]
        span: SourceSpan,
        #[help]
        help: String,
    },

    #[error("module `{module}` has no input variable `{name}`")]
    #[diagnostic(code(forge::model::unknown_module_input))]
    UnknownModuleInput {
        module: String,
        name: String,
        #[source_code]
        src: Src,
        #[label("no `variable \"{name}\"` in the module")]
        span: SourceSpan,
        #[help]
        help: String,
    },
}

impl ModelError {
    /// An unknown `--env` (no span: it came from the command line) or `default-env` value.
    pub fn unknown_env<'a>(
        name: &str,
        known: impl Iterator<Item = &'a str>,
        source: &SourceFile,
    ) -> Self {
        Self::unknown_env_at(name, known, source, None)
    }

    pub(crate) fn unknown_env_at<'a>(
        name: &str,
        known: impl Iterator<Item = &'a str>,
        source: &SourceFile,
        span: Option<SourceSpan>,
    ) -> Self {
        let known: Vec<&str> = known.collect();
        let help = match super::schema::suggest(name, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? known envs: {}", known.join(", ")),
            None if known.is_empty() => "declare it with `env \"NAME\" { ... }`".to_string(),
            None => format!(
                "known envs: {}; declare new ones with `env \"NAME\" {{ ... }}`",
                known.join(", ")
            ),
        };
        ModelError::UnknownEnv {
            name: name.to_string(),
            src: span.map(|_| source.named()),
            span,
            help,
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        let help = match source.kind() {
            std::io::ErrorKind::NotFound => format!(
                "create {} (see docs/project-kdl.md), or run forge from a directory that has one",
                path.display()
            ),
            std::io::ErrorKind::InvalidData => "the project file must be UTF-8 text".to_string(),
            std::io::ErrorKind::IsADirectory => format!(
                "{} is a directory; forge needs a file there (see docs/project-kdl.md)",
                path.display()
            ),
            _ => "check that the file exists and is readable".to_string(),
        };
        ModelError::Io {
            path: path.to_path_buf(),
            source,
            help,
        }
    }

    /// The primary span, for ordering and de-duplicating diagnostics.
    pub fn span(&self) -> Option<SourceSpan> {
        use ModelError::*;
        match self {
            Io { .. } => None,
            UnknownEnv { span, .. } => *span,
            Syntax { span, .. }
            | MissingVersion { span, .. }
            | UnsupportedVersion { span, .. }
            | UnknownNode { span, .. }
            | UnknownProperty { span, .. }
            | UnexpectedArgument { span, .. }
            | WrongType { span, .. }
            | InvalidValue { span, .. }
            | MissingValue { span, .. }
            | Duplicate { span, .. }
            | UndefinedReference { span, .. }
            | BadReference { span, .. }
            | BadHash { span, .. }
            | PathEscapesRoot { span, .. }
            | MissingPath { span, .. }
            | UnknownModuleInput { span, .. } => Some(*span),
        }
    }
}

/// Every problem found in one file (validation reports them all, not just the first).
#[derive(Debug, Error, Diagnostic)]
#[error("{} in project file", if .errors.len() == 1 { "1 problem".to_string() } else { format!("{} problems", .errors.len()) })]
#[diagnostic(code(forge::model::invalid))]
pub struct ModelErrors {
    #[related]
    pub errors: Vec<ModelError>,
}

impl ModelErrors {
    /// The project file could not be read.
    pub fn io(path: &Path, err: std::io::Error) -> Self {
        ModelErrors {
            errors: vec![ModelError::io(path, err)],
        }
    }
}

impl From<ModelError> for ModelErrors {
    fn from(error: ModelError) -> Self {
        ModelErrors {
            errors: vec![error],
        }
    }
}
