//! A deterministic fuzz smoke test: thousands of mutations of the reference `project.kdl`
//! (truncations, byte flips, inserted braces, quotes and annotations, cut and duplicated
//! ranges) must parse or fail with diagnostics that render — never panic.
//!
//! The coverage-guided fuzzer is `fuzz/` (`cargo +nightly fuzz run parse_project`); this test
//! keeps the same property under plain `cargo test`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use forge_engine::model;
use miette::{GraphicalReportHandler, GraphicalTheme};

/// xorshift64*: no dependency, same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INSERTS: &[&str] = &[
    "{",
    "}",
    "\"",
    ";",
    "(ref)",
    "#",
    "#true",
    "/*",
    "*/",
    "//",
    "\\",
    "\n",
    "-",
    "=",
    "r#\"",
    "\"#",
    "0x",
    "1e999",
    "..",
    "/-",
    "env \"x\" {",
    "service \"",
    "\u{feff}",
    "é",
    "\u{0}",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(6) {
            0 => bytes.truncate(at),
            1 => {
                if at < bytes.len() {
                    bytes[at] ^= 1 << rng.below(8);
                }
            }
            2 | 3 => {
                let insert = INSERTS[rng.below(INSERTS.len())].as_bytes();
                bytes.splice(at..at, insert.iter().copied());
            }
            4 => {
                let end = (at + rng.below(64)).min(bytes.len());
                bytes.drain(at..end);
            }
            _ => {
                let end = (at + rng.below(128)).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                let to = rng.below(bytes.len() + 1);
                bytes.splice(to..to, copy);
            }
        }
    }
    bytes
}

#[test]
fn mutated_reference_projects_never_panic() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../project.kdl");
    let seed = std::fs::read(&path).expect("the reference project.kdl");
    let handler =
        GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
    let mut rng = Rng(0x5EED_F0A6_E001);
    let (mut ok, mut failed) = (0, 0);
    for case in 0..2000 {
        let bytes = mutate(&mut rng, &seed);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            match model::parse(Path::new(&path), &text) {
                Ok(project) => {
                    for env in project.envs.keys() {
                        project
                            .resolve(Some(env))
                            .expect("every listed env resolves");
                    }
                    true
                }
                Err(errors) => {
                    assert!(!errors.errors.is_empty(), "an error without diagnostics");
                    // Rendering checks every span against the text; it is the slow part.
                    if case % 7 == 0 {
                        let mut out = String::new();
                        handler.render_report(&mut out, &errors).expect("render");
                    }
                    false
                }
            }
        }));
        match outcome {
            Ok(true) => ok += 1,
            Ok(false) => failed += 1,
            Err(_) => panic!("case {case} panicked on input:\n{text}"),
        }
    }
    // Both outcomes must occur, or the mutations are not exercising the parser.
    assert!(ok > 0 && failed > 0, "ok={ok} failed={failed}");
}

#[test]
fn deeply_nested_blocks_are_an_error_not_a_stack_overflow() {
    for depth in [65, 1_000, 100_000] {
        let text = format!("version 1\n{}{}", "a {".repeat(depth), "}".repeat(depth));
        let errors = model::parse(Path::new("project.kdl"), &text).expect_err("too deep");
        assert_eq!(errors.errors.len(), 1);
        assert!(
            errors.errors[0]
                .to_string()
                .contains("nested more than 64 levels")
        );
    }
    // The deepest accepted nesting goes through the parser and the model without trouble.
    let text = format!(
        "version 1\nvar \"x\" {}{}",
        "a {".repeat(64),
        "}".repeat(64)
    );
    let errors = model::parse(Path::new("project.kdl"), &text).expect_err("no project node");
    assert!(!errors.errors[0].to_string().contains("nested"));
    // Parentheses and strings do not count as nesting.
    let text = format!("version 1\nx \"{}\"\n", "{".repeat(1_000));
    let errors = model::parse(Path::new("project.kdl"), &text).expect_err("no project node");
    assert!(!errors.errors[0].to_string().contains("nested"));
}
