//! The plugin against the SDK's `MockHost`: the same code the component runs, natively.

use forge_plugin_sdk::MockHost;
use serde_json::json;

use super::*;

const APP: &str = "# {{ name }} ({{ env }})\nlisten = {{ port }}\ndb = {{ db.host }}:{{ db.port }}\ndebug = {{ debug }}\n";

fn host() -> MockHost {
    MockHost::new()
        .env("prod")
        .file("config/app.conf.tmpl", APP)
        .file("config/motd.tmpl", "built from {{ commit }}\n")
        .commit("0123abc")
        .config(json!({
            "templates": { "app.conf": "config/app.conf.tmpl", "etc/motd": "config/motd.tmpl" },
            "values": {
                "name": "shop",
                "port": 8080,
                "debug": false,
                "db": { "host": "db.internal", "port": 5432 },
            },
        }))
}

#[test]
fn renders_every_template_and_lists_it_with_its_hash() {
    let mut host = host();
    let out = host.run::<Template>().expect("the step succeeds");
    let outputs = host.outputs();
    let app = "# shop (prod)\nlisten = 8080\ndb = db.internal:5432\ndebug = false\n";
    assert_eq!(outputs["app.conf"], app.as_bytes());
    assert_eq!(outputs["etc/motd"], b"built from 0123abc\n");
    assert_eq!(outputs.len(), 2);

    let app_entry = &out.files["app.conf"];
    assert_eq!(app_entry.template, "config/app.conf.tmpl");
    assert_eq!(app_entry.bytes, app.len());
    assert_eq!(
        app_entry.hash,
        format!("blake3:{}", blake3::hash(app.as_bytes()).to_hex())
    );
    assert_eq!(host.progress(), [(1, 2), (2, 2)]);

    // The manifest downstream steps see, exactly.
    let manifest: Value = serde_json::from_str(host.manifest().expect("a manifest")).expect("json");
    assert_eq!(
        manifest["files"]["etc/motd"]["hash"],
        format!("blake3:{}", blake3::hash(b"built from 0123abc\n").to_hex())
    );
    assert_eq!(
        manifest["files"]["etc/motd"]["template"],
        "config/motd.tmpl"
    );
}

#[test]
fn the_same_step_renders_the_same_bytes() {
    let (mut a, mut b) = (host(), host());
    assert_eq!(a.run::<Template>(), b.run::<Template>());
    assert_eq!(a.manifest(), b.manifest());
}

#[test]
fn an_undefined_placeholder_names_file_line_and_placeholder() {
    let err = host()
        .file("config/app.conf.tmpl", "a = 1\nlisten = {{ prot }}\n")
        .run::<Template>()
        .expect_err("`prot` is undefined");
    assert_eq!(
        err.message(),
        "config/app.conf.tmpl:2:10: cannot fill `{{ prot }}`: `prot` is not defined in `values`"
    );
    assert_eq!(
        err.help(),
        Some(
            "add `prot` to the step's `config { values { ... } }` in project.kdl (defined: db, debug, name, port)"
        )
    );
}

#[test]
fn a_missing_key_in_a_map_names_the_keys_there_are() {
    let err = host()
        .file("config/app.conf.tmpl", "{{ db.user }}")
        .run::<Template>()
        .expect_err("no db.user");
    assert!(
        err.message().ends_with("`values.db` has no key `user`"),
        "{}",
        err.message()
    );
    assert_eq!(err.help(), Some("its keys are: host, port"));
}

#[test]
fn a_map_is_not_text() {
    let err = host()
        .file("config/app.conf.tmpl", "{{ db }}")
        .run::<Template>()
        .expect_err("a map");
    assert!(
        err.message().ends_with("`db` is a map, not a single value"),
        "{}",
        err.message()
    );
}

#[test]
fn commit_needs_commit_sha() {
    let mut host = MockHost::new()
        .file("t.tmpl", "{{ commit }}")
        .config(json!({ "templates": { "out": "t.tmpl" } }));
    let err = host.run::<Template>().expect_err("no commit given");
    assert!(
        err.message()
            .starts_with("t.tmpl:1:1: cannot fill `{{ commit }}`"),
        "{}",
        err.message()
    );
    assert_eq!(
        err.help(),
        Some("add `commit-sha #true` to the step in project.kdl")
    );
}

#[test]
fn upstream_fields_are_filled_from_the_upstream_output() {
    let mut host = MockHost::new()
        .file("t.tmpl", "image = {{ upstream.ecr-push:web.image }}\n")
        .upstream("ecr-push:web", json!({ "image": "registry/web@sha256:ab" }))
        .config(json!({ "templates": { "task.env": "t.tmpl" } }));
    host.run::<Template>().expect("renders");
    assert_eq!(
        host.outputs()["task.env"],
        b"image = registry/web@sha256:ab\n"
    );

    let err = MockHost::new()
        .file("t.tmpl", "{{ upstream.build.digest }}")
        .config(json!({ "templates": { "out": "t.tmpl" } }))
        .run::<Template>()
        .expect_err("`build` is not upstream");
    assert!(
        err.message().contains("`build` is not an upstream step"),
        "{}",
        err.message()
    );
    assert_eq!(
        err.help(),
        Some("add `build` to the step's `needs` in project.kdl")
    );
}

#[test]
fn a_template_that_is_not_a_declared_input_is_refused_before_reading() {
    let err = MockHost::new()
        .file("config/a.tmpl", "a")
        .config(json!({ "templates": { "a": "config/b.tmpl" } }))
        .run::<Template>()
        .expect_err("b is not declared");
    assert_eq!(
        err.message(),
        "the template of `a`, `config/b.tmpl`, is not one of the step's declared inputs"
    );
    assert!(
        err.help()
            .is_some_and(|h| h.contains("input \"config/b.tmpl\""))
    );
}

#[test]
fn values_may_not_shadow_forge_names() {
    let err = host()
        .config(json!({ "templates": { "a": "config/motd.tmpl" }, "values": { "env": "x" } }))
        .run::<Template>()
        .expect_err("env is reserved");
    assert_eq!(
        err.message(),
        "`values` defines `env`, which forge fills in itself"
    );
}

#[test]
fn config_mistakes_fail_the_step() {
    let err = MockHost::new()
        .config(json!({ "template": {} }))
        .run::<Template>()
        .expect_err("typo");
    assert!(
        err.message().contains("unknown field `template`"),
        "{}",
        err.message()
    );

    let err = MockHost::new()
        .config(json!({ "templates": {} }))
        .run::<Template>()
        .expect_err("empty");
    assert!(
        err.message().contains("nothing to render"),
        "{}",
        err.message()
    );
}

#[test]
fn without_files_read_granted_it_does_not_start() {
    let err = host()
        .grants(Vec::<String>::new())
        .run::<Template>()
        .expect_err("needs files.read");
    assert!(err.message().contains("files.read"), "{}", err.message());
}
