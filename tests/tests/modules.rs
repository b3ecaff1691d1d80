//! Every module's README lists its inputs and outputs exactly as `variables.tf` and
//! `outputs.tf` declare them. `FORGE_UPDATE_GOLDEN=1` rewrites the tables.

use forge_tests::builtins::repo_root;
use forge_tests::modules::sync_readme;

#[test]
fn module_readmes_list_every_input_and_output() {
    let modules = repo_root().join("modules");
    let update = std::env::var_os("FORGE_UPDATE_GOLDEN").is_some();
    let mut dirs: Vec<_> = std::fs::read_dir(&modules)
        .expect("modules/")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("variables.tf").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 13, "modules found: {dirs:?}");
    let mut problems = Vec::new();
    for dir in dirs {
        match sync_readme(&dir) {
            Ok((current, expected)) if current != expected => {
                if update {
                    std::fs::write(dir.join("README.md"), expected).expect("write README");
                } else {
                    problems.push(format!(
                        "{}/README.md: the Inputs or Outputs table differs from variables.tf/outputs.tf",
                        dir.display()
                    ));
                }
            }
            Ok(_) => {}
            Err(e) => problems.push(e),
        }
    }
    assert!(
        problems.is_empty(),
        "{}\nhelp: FORGE_UPDATE_GOLDEN=1 cargo test -p forge-tests --test modules, then review the diff",
        problems.join("\n")
    );
}
