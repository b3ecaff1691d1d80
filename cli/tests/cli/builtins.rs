//! Built-in plugins run from the components embedded in the binary: no wasm toolchain and
//! no plugin file on disk, through the real host, cached like any other step.

use crate::harness::Project;

pub const RENDER_KDL: &str = r#"
version 1
project "shop" { region "eu-west-1"; }
step "render" {
    plugin "terraform-render"
    phase "build"
    config {
        project "shop"
        region "eu-west-1"
        modules {
            net {
                source "modules/net"
                inputs { cidr "10.0.0.0/16"; }
            }
        }
    }
}
"#;

#[test]
fn the_embedded_terraform_render_runs_and_caches() {
    let project = Project::with_kdl(RENDER_KDL);
    let first = project
        .forge("--json build")
        .without_test_executor()
        .run()
        .json_lines();
    let finished = first
        .iter()
        .find(|l| l["type"] == "step-finished" && l["step"] == "render")
        .expect("the render step finished");
    assert_eq!(finished["status"], "ran", "{first:?}");
    let summary = first.last().expect("a summary line");
    assert_eq!(
        (summary["ran"].as_u64(), summary["failed"].as_u64()),
        (Some(1), Some(0))
    );

    // The second build runs nothing: the host is not even started.
    let second = project
        .forge("--json build")
        .without_test_executor()
        .run()
        .json_lines();
    let summary = second.last().expect("a summary line");
    assert_eq!(
        (summary["ran"].as_u64(), summary["cached"].as_u64()),
        (Some(0), Some(1)),
        "{second:?}"
    );

    // A config change reruns it, and `explain` says which value changed.
    std::fs::write(
        project.root().join("project.kdl"),
        RENDER_KDL.replace("10.0.0.0/16", "10.1.0.0/16"),
    )
    .expect("rewrite project.kdl");
    let why = project
        .forge("explain render")
        .without_test_executor()
        .run();
    assert!(
        why.stdout.contains("modules.net.inputs.cidr"),
        "{}",
        why.stdout
    );
    let third = project
        .forge("--json build")
        .without_test_executor()
        .run()
        .json_lines();
    assert_eq!(third.last().expect("summary")["ran"].as_u64(), Some(1));
}

#[test]
fn a_builtin_step_with_a_bad_config_fails_with_the_plugins_message() {
    let project = Project::with_kdl(&RENDER_KDL.replace("inputs {", "inputz {"));
    let out = project.forge("build").without_test_executor().code(1).run();
    assert!(out.stdout.contains("inputz"), "{}", out.stdout);
}
