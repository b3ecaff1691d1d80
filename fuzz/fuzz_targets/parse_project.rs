//! Arbitrary bytes → `model::parse_bytes`: it must return a project or diagnostics that render,
//! never panic. Seeded from `corpus/parse_project/` (the reference project).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use miette::{GraphicalReportHandler, GraphicalTheme};

fuzz_target!(|data: &[u8]| {
    // Bytes, not text: invalid UTF-8 is a diagnostic with a span too.
    match forge_engine::model::parse_bytes(Path::new("project.kdl"), data) {
        Ok(project) => {
            for env in project.envs.keys() {
                assert!(project.resolve(Some(env)).is_ok());
            }
        }
        Err(errors) => {
            assert!(!errors.errors.is_empty());
            // Rendering checks every label span against the text.
            let mut out = String::new();
            let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor());
            let _ = handler.render_report(&mut out, &errors);
        }
    }
});
