//! The committed built-in components are built from the sources in this checkout.

use forge_tests::builtins::{repo_root, stale};

#[test]
fn committed_builtins_match_their_sources() {
    let problems = stale(&repo_root()).expect("built-in sources and dist are readable");
    assert!(
        problems.is_empty(),
        "{}\nhelp: run scripts/build-builtins and commit plugins/dist/",
        problems.join("\n")
    );
}
