//! `forge completions` and `forge man`: generated from the clap definitions, no project
//! needed.

use crate::harness::Project;

#[test]
fn completions_for_each_shell_name_every_subcommand() {
    let project = Project::empty();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = project.forge("completions").arg(shell).run();
        for sub in ["build", "deploy", "plan", "explain", "graph", "cache"] {
            assert!(
                out.stdout.contains(sub),
                "{shell} completions do not mention `{sub}`"
            );
        }
    }
}

#[test]
fn bash_completions_complete_graph_formats() {
    let out = Project::empty().forge("completions bash").run();
    assert!(out.stdout.contains("text dot json"), "{}", out.stdout);
}

#[test]
fn man_prints_the_main_page() {
    let out = Project::empty().forge("man").run();
    assert!(
        out.stdout.starts_with(".ie"),
        "not roff: {}",
        &out.stdout[..80]
    );
    assert!(out.stdout.contains(".TH forge 1"));
    assert!(out.stdout.contains("\\-\\-detailed\\-exitcode") || out.stdout.contains("plan"));
}

#[test]
fn man_out_writes_one_page_per_subcommand() {
    let project = Project::empty();
    project.forge("man --out man/man1").run();
    let dir = project.root().join("man/man1");
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .expect("man dir written")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            "forge-build.1",
            "forge-cache-gc.1",
            "forge-cache-keygen.1",
            "forge-cache-pull.1",
            "forge-cache-push.1",
            "forge-cache-stats.1",
            "forge-cache-verify.1",
            "forge-cache.1",
            "forge-completions.1",
            "forge-deploy.1",
            "forge-explain.1",
            "forge-graph.1",
            "forge-history.1",
            "forge-lock-force-unlock.1",
            "forge-lock-status.1",
            "forge-lock.1",
            "forge-man.1",
            "forge-plan.1",
            "forge-plugin-build.1",
            "forge-plugin-inspect.1",
            "forge-plugin-new.1",
            "forge-plugin-test.1",
            "forge-plugin.1",
            "forge-rollback.1",
            "forge-show.1",
            "forge.1",
        ]
    );
    let plan = std::fs::read_to_string(dir.join("forge-plan.1")).expect("plan page");
    assert!(plan.contains(".TH forge-plan 1"), "{plan}");
    assert!(plan.contains("\\-\\-env"), "global flags missing: {plan}");
    assert!(plan.contains("detailed\\-exitcode"), "{plan}");
}
