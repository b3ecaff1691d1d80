//! Diagnostics for invalid project files. (Skeleton: filled in by the model work.)

use std::path::Path;

use miette::Diagnostic;
use thiserror::Error;

use super::SourceFile;

/// One problem in a project file, with its location.
#[derive(Debug, Error, Diagnostic)]
pub enum ModelError {
    #[error("unknown env `{name}`")]
    #[diagnostic(code(forge::model::unknown_env))]
    UnknownEnv {
        name: String,
        #[help]
        help: Option<String>,
    },
}

impl ModelError {
    pub fn unknown_env<'a>(
        name: &str,
        known: impl Iterator<Item = &'a str>,
        _source: &SourceFile,
    ) -> Self {
        let known: Vec<&str> = known.collect();
        ModelError::UnknownEnv {
            name: name.to_string(),
            help: Some(format!("known envs: {}", known.join(", "))),
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
    pub fn io(_path: &Path, _err: std::io::Error) -> Self {
        ModelErrors { errors: Vec::new() }
    }
}
