//! KDL → model. (Skeleton: filled in by the model work.)

use std::path::Path;

use super::{ModelErrors, Project};

pub(crate) fn parse_project(_path: &Path, _text: &str) -> Result<Project, ModelErrors> {
    Err(ModelErrors { errors: Vec::new() })
}
