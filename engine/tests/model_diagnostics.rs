//! Rendered diagnostics for invalid project files, as the user sees them (snapshots).
//!
//! Each case is one small file with one kind of mistake. The fixture folder holds `app/`
//! and `web/` (with Dockerfiles), `modules/net` (a module with variables `cidr_block`, `name`,
//! `subnets`, `tags`) and `modules/empty` (no `.tf` files), so on-disk checks are stable.

use std::path::Path;

use forge_engine::model;
use miette::{GraphicalReportHandler, GraphicalTheme};

const FIXTURE: &str = "tests/fixtures/model/project.kdl";

/// A valid prefix most cases build on.
const HEAD: &str = r#"version 1
project "shop" { region "us-east-1" }
registry "ecr" { url "123456789012.dkr.ecr.us-east-1.amazonaws.com" }
"#;

const API: &str = r#"service "api" {
    build { context "app" }
    repository "shop/api"
    port 8080
}
"#;

fn render(diagnostic: &dyn miette::Diagnostic) -> String {
    let mut out = String::new();
    GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, diagnostic)
        .expect("rendering into a String cannot fail");
    out
}

/// Parses `text` (which must be invalid) and renders every diagnostic.
fn diagnose(text: &str) -> String {
    match model::parse(Path::new(FIXTURE), text) {
        Ok(_) => panic!("expected diagnostics for:\n{text}"),
        Err(errors) => {
            assert!(!errors.errors.is_empty(), "an error with no diagnostics");
            render(&errors)
        }
    }
}

macro_rules! case {
    ($name:ident, $text:expr) => {
        #[test]
        fn $name() {
            let text: String = $text;
            insta::assert_snapshot!(stringify!($name), diagnose(&text), &text);
        }
    };
}

case!(
    syntax_unclosed_block,
    format!("{HEAD}service \"api\" {{\n    port 8080\n")
);
case!(
    syntax_bad_number,
    format!("{HEAD}service \"api\" {{ port 80.; }}\n")
);
case!(
    syntax_v1_boolean,
    format!("{HEAD}registry \"local\" {{ url \"x\"; create-repositories true }}\n")
);
case!(
    missing_version,
    format!("project \"shop\" {{ region \"us-east-1\" }}\n")
);
case!(unsupported_version, HEAD.replace("version 1", "version 2"));
case!(
    unknown_top_level_node,
    format!("{HEAD}{API}servce \"web\" {{ port 80 }}\n")
);
case!(
    unknown_service_field,
    format!("{HEAD}{}", API.replace("port 8080", "prot 8080"))
);
case!(
    unknown_property,
    format!(
        "{HEAD}{}",
        API.replace("port 8080", "port 8080\n    health-check pth=\"/healthz\"")
    )
);
case!(
    wrong_type_port,
    format!("{HEAD}{}", API.replace("8080", "\"abc\""))
);
case!(
    port_out_of_range,
    format!("{HEAD}{}", API.replace("8080", "70000"))
);
case!(
    fargate_memory_mismatch,
    format!(
        "{HEAD}{}",
        API.replace("port 8080", "port 8080\n    cpu 256\n    memory 4096")
    )
);
case!(
    missing_required_values,
    format!("{HEAD}service \"api\" {{\n    cpu 512\n}}\n")
);
case!(
    missing_project,
    "version 1\nregistry \"ecr\" { url \"x\" }\n".to_string()
);
case!(duplicate_service, format!("{HEAD}{API}{API}"));
case!(
    duplicate_field,
    format!(
        "{HEAD}{}",
        API.replace("port 8080", "port 8080\n    port 9090")
    )
);
case!(
    unknown_default_env,
    format!(
        "{}env \"dev\" {{}}\nenv \"prod\" {{}}\n",
        HEAD.replace(
            "region \"us-east-1\"",
            "region \"us-east-1\"; default-env \"prd\""
        )
    )
);
case!(
    missing_default_env,
    format!("{HEAD}env \"dev\" {{}}\nenv \"prod\" {{}}\n")
);
case!(
    nested_env,
    format!(
        "{}env \"dev\" {{ env \"x\" {{}} }}\n",
        HEAD.replace(
            "region \"us-east-1\"",
            "region \"us-east-1\"; default-env \"dev\""
        )
    )
);
case!(
    undefined_module_reference,
    format!(
        "{HEAD}module \"net\" {{\n    source \"modules/net\"\n    input \"name\" (ref)\"module.nte.vpc_id\"\n}}\n"
    )
);
case!(
    bad_reference_kind,
    format!("{HEAD}var \"x\" (ref)\"modul.net.vpc_id\"\n")
);
case!(
    unknown_service_attribute,
    format!("{HEAD}{API}var \"img\" (ref)\"service.api.imgae\"\n")
);
case!(
    undefined_depends_on,
    format!(
        "{HEAD}{}",
        API.replace("port 8080", "port 8080\n    depends-on \"backnd\"")
    )
);
case!(
    undefined_registry,
    format!(
        "{HEAD}{}",
        API.replace("port 8080", "port 8080\n    registry \"ecs\"")
    )
);
case!(
    undefined_step_plugin,
    format!("{HEAD}step \"lint\" {{ plugin \"docker-buld\" }}\n")
);
case!(
    unknown_builtin_plugin,
    format!("{HEAD}plugin \"manifest\"\n")
);
case!(
    unknown_grant_gets_a_suggestion,
    format!("{HEAD}plugin \"docker-build\" {{\n    grant \"file.read\" \"docker\"\n}}\n")
);
case!(
    bad_plugin_hash,
    format!("{HEAD}plugin \"manifest\" path=\"plugins/manifest.wasm\" hash=\"sha256:1234\"\n")
);
case!(
    path_escapes_root,
    format!(
        "{HEAD}{}",
        API.replace("context \"app\"", "context \"../../outside\"")
    )
);
case!(
    bad_artifacts,
    format!(
        "{HEAD}{}",
        API.replace(
            "build { context \"app\" }",
            "build {\n        context \"app\"\n        artifact \"dist/api\" (ref)\"step.bin.api\"\n        artifact \"dist/x\" \"not-a-ref\"\n        artifact \"../up\" (ref)\"module.vpc.id\"\n    }"
        )
    )
);
case!(
    missing_build_context,
    format!("{HEAD}{}", API.replace("context \"app\"", "context \"ap\""))
);
case!(
    module_without_tf_files,
    format!("{HEAD}module \"empty\" {{ source \"modules/empty\" }}\n")
);
case!(
    unknown_module_input,
    format!(
        "{HEAD}module \"net\" {{\n    source \"modules/net\"\n    input \"cidr\" \"10.0.0.0/16\"\n}}\n"
    )
);
case!(
    bad_secret_reference,
    format!(
        "{HEAD}{}",
        API.replace(
            "port 8080",
            "port 8080\n    secret \"DB\" from=\"db-password\""
        )
    )
);
case!(
    unknown_type_annotation,
    format!("{HEAD}var \"x\" (reff)\"var.y\"\n")
);
case!(
    bad_lock_kind,
    format!("{HEAD}state {{\n    s3 bucket=\"b\"\n    lock \"dynamo\" table=\"t\"\n}}\n")
);
case!(
    invalid_name,
    format!(
        "{HEAD}{}",
        API.replace("service \"api\"", "service \"api.v2\"")
    )
);
case!(
    several_problems_at_once,
    format!(
        "{HEAD}{}module \"net\" {{ input \"cidr_block\" \"x\" }}\nstep \"s\" {{ plugin \"p\"; phase \"buidl\" }}\n",
        API.replace("port 8080", "port 0\n    load-balancer \"pubic\"")
    )
);

#[test]
fn unknown_env_on_the_command_line() {
    let text = format!(
        "{}env \"dev\" {{}}\nenv \"prod\" {{}}\n",
        HEAD.replace(
            "region \"us-east-1\"",
            "region \"us-east-1\"; default-env \"dev\""
        )
    );
    let project = model::parse(Path::new(FIXTURE), &text).expect("valid");
    let err = project.resolve(Some("staging")).expect_err("unknown env");
    insta::assert_snapshot!(render(&err));
}

case!(
    comment_after_closing_brace,
    format!("{HEAD}env \"dev\" {{}} // the default\nenv \"prod\" {{}}\n")
);
case!(
    missing_module_input,
    format!("{HEAD}module \"net\" {{\n    source \"modules/net\"\n}}\n")
);
case!(
    mistakes_inside_an_env_overlay,
    format!(
        "{}{API}env \"dev\" {{}}\nenv \"prod\" {{\n    service \"api\" {{\n        cpuu 512\n        desired-count \"three\"\n    }}\n}}\n",
        HEAD.replace(
            "region \"us-east-1\"",
            "region \"us-east-1\"; default-env \"dev\""
        )
    )
);
case!(
    short_name_typo_gets_a_suggestion,
    format!(
        "{}env \"dev\" {{}}\nenv \"prod\" {{}}\n",
        HEAD.replace(
            "region \"us-east-1\"",
            "region \"us-east-1\"; default-env \"dve\""
        )
    )
);
case!(
    name_too_long,
    format!(
        "{HEAD}{}",
        API.replace(
            "service \"api\"",
            &format!("service \"{}\"", "a".repeat(65))
        )
    )
);

#[test]
fn not_utf8_points_at_the_first_bad_byte() {
    let mut bytes = format!("{HEAD}service \"caf").into_bytes();
    bytes.extend_from_slice(b"\xe9\" {}\n");
    match model::parse_bytes(Path::new(FIXTURE), &bytes) {
        Ok(_) => panic!("Latin-1 text must not parse"),
        Err(errors) => insta::assert_snapshot!(render(&errors)),
    }
}
case!(
    property_out_of_range_names_the_property,
    format!(
        "{HEAD}{}",
        API.replace(
            "port 8080\n",
            "port 8080\n    health-check interval=-5 timeout=\"5s\"\n"
        )
    )
);
case!(
    plugin_file_missing,
    format!(
        "{HEAD}plugin \"lint\" path=\"plugins/lint.wasm\" hash=\"blake3:{}\"\n",
        "0f".repeat(32)
    )
);
case!(
    plugin_file_does_not_match_its_pin,
    format!(
        "{HEAD}plugin \"manifest\" path=\"plugins/manifest.wasm\" hash=\"blake3:{}\"\n",
        "0f".repeat(32)
    )
);

/// A pin that no longer matches a file `forge plugin build` made names the toolchain that
/// built the file: the usual cause when a teammate's rebuild of the same sources differs.
#[test]
fn a_pin_mismatch_names_the_toolchain_that_built_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    // An empty component (magic, version, layer): the model reads section frames only.
    let component = b"\0asm\x0d\x00\x01\x00".to_vec();
    let toolchain = "rustc 1.95.0 (59807616e 2026-10-30); std prebuilt (rustup target)";
    std::fs::create_dir(dir.path().join("plugins")).expect("mkdir");
    std::fs::write(
        dir.path().join("plugins/manifest.wasm"),
        forge_engine::pin::append_toolchain(component, toolchain),
    )
    .expect("write plugin");
    let text = format!(
        "{HEAD}plugin \"manifest\" path=\"plugins/manifest.wasm\" hash=\"blake3:{}\"\n",
        "0f".repeat(32)
    );
    let errors = match model::parse(&dir.path().join("project.kdl"), &text) {
        Ok(_) => panic!("a pin that does not match loads"),
        Err(errors) => errors,
    };
    let rendered = render(&errors)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        rendered.contains("does not match its pinned hash"),
        "{rendered}"
    );
    assert!(
        rendered.contains(&format!("this file was built by {toolchain}")),
        "{rendered}"
    );
    assert!(
        rendered.contains("forge plugin inspect plugins/manifest.wasm"),
        "{rendered}"
    );
}
case!(
    registry_login_half_given_or_on_ecr,
    format!(
        "{}{API}",
        HEAD.replace(
            "registry \"ecr\" { url \"123456789012.dkr.ecr.us-east-1.amazonaws.com\" }",
            "registry \"ecr\" {\n    url \"123456789012.dkr.ecr.us-east-1.amazonaws.com\"\n    username \"AWS\"\n    password from=\"env:ECR_PASSWORD\"\n}\nregistry \"harbor\" {\n    kind \"oci\"\n    url \"harbor.example.com\"\n    username \"robot\"\n}"
        )
    )
);
