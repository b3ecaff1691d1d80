//! Arbitrary bytes → `model::parse`: it must return a project or diagnostics that render,
//! never panic. Seeded from `corpus/parse_project/` (the reference project).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use miette::{GraphicalReportHandler, GraphicalTheme};

fuzz_target!(|data: &[u8]| {
    // The model reads text; invalid UTF-8 is the file reader's error, not the parser's.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match forge_engine::model::parse(Path::new("project.kdl"), text) {
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
