//! The CI → CD hand-off end to end: `forge build --release-out` on one agent, `forge
//! deploy --release` on another with an empty store, both through the real CLI, host and
//! built-ins: `docker-build` on the local Docker Engine, `ecr-push` to the local registry
//! with ECR's API on moto, and the apply with `terraform` 1.11 and the S3 backend on moto
//! (the Terraform fixture's project, see `terraform.rs`). Each agent is its own store; the
//! CD agent has no Docker Engine at all, so a build there could not even start.
//!
//! Also `--junit`: the reports both agents write are parsed as XML and checked against the
//! elements and attributes Jenkins' junit plugin reads.

use forge_clients::testing::{Answer, EcsReplay};
use serde_json::{Value, json};

use crate::images::{docker_host, registry_digest, require_stack, sha};
use crate::lock::unique;
use crate::rollout::{CLUSTER, deployment, services, td};
use crate::terraform::{TfProject, events, ran};

/// The Terraform fixture project with one real image, `web`, pushed to the local registry
/// and rolled out by module `net` (ECS answered by the replay: settled on revision 42).
fn release_project() -> (TfProject, String, EcsReplay) {
    release_project_with("")
}

/// [`release_project`] with `more` appended to project.kdl (envs).
pub(crate) fn release_project_with(more: &str) -> (TfProject, String, EcsReplay) {
    require_stack();
    let tf = TfProject::new("a");
    let ecs = EcsReplay::start();
    for service in ["ECS", "ELASTIC_LOAD_BALANCING_V2"] {
        tf.env.borrow_mut().push((
            format!("AWS_ENDPOINT_URL_{service}"),
            ecs.endpoint().to_owned(),
        ));
    }
    let prefix = unique("forge-release");
    tf.project.write(
        "web/Dockerfile",
        "FROM scratch\nCOPY index.html /srv/index.html\n",
    );
    tf.project.write("web/index.html", "<h1>release</h1>\n");
    *tf.extra.borrow_mut() = format!(
        r#"registry "ecr" {{
    kind "ecr"
    url "127.0.0.1:5000"
    endpoint "http://127.0.0.1:4566"
    create-repositories #true
}}
service "web" {{
    build {{ context "web"; }}
    repository "{prefix}/web"
    port 8080
    deployed-by "net"
    rollout timeout="10s" poll="20ms"
}}
var "net__cluster_arn" "{CLUSTER}"
var "net__service_name" "web"
var "net__task_definition_arn" "{td}"
{more}
"#,
        td = td(42)
    );
    tf.set_var("a");
    (tf, prefix, ecs)
}

/// ECS runs `image` in revision 42, settled.
pub(crate) fn settled_on(ecs: &EcsReplay, image: &str) {
    ecs.script(
        "DescribeTaskDefinition",
        vec![Answer::Ok(json!({"taskDefinition": {
            "taskDefinitionArn": td(42),
            "containerDefinitions": [{"name": "web", "image": image, "essential": true}]
        }}))],
    );
    ecs.script(
        "DescribeServices",
        vec![services(
            vec![deployment("ecs-svc/1", "PRIMARY", 42, "COMPLETED", 2)],
            vec![],
        )],
    );
}

/// The CI agent: Docker, the project's own store.
fn ci<'a>(tf: &'a TfProject, args: &str, commit: &str) -> crate::harness::Forge<'a> {
    tf.forge(args)
        .env("DOCKER_HOST", &docker_host())
        .env("FORGE_COMMIT_SHA", commit)
        .env("SOURCE_DATE_EPOCH", "1700000000")
}

/// The CD agent: a store of its own and no Docker Engine.
fn cd<'a>(
    tf: &'a TfProject,
    store: &std::path::Path,
    args: &str,
    commit: &str,
) -> crate::harness::Forge<'a> {
    tf.forge(args)
        .env("FORGE_CACHE_DIR", &store.display().to_string())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("FORGE_COMMIT_SHA", commit)
}

/// The JUnit report at `path`: well-formed XML with the structure Jenkins reads
/// (`testsuites` > `testsuite` > `testcase` with `name`, `classname`, `time`; counts that
/// add up). Returns each testcase as (name, outcome element or "passed", its text).
pub(crate) fn junit_cases(path: &std::path::Path) -> Vec<(String, String, String)> {
    let xml = std::fs::read_to_string(path).expect("the JUnit report was written");
    let doc = roxmltree::Document::parse(&xml).expect("the JUnit report is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    assert_eq!(suites.len(), 1, "one testsuite per run: {xml}");
    let suite = suites[0];
    assert_eq!(suite.tag_name().name(), "testsuite");
    for attr in [
        "name",
        "tests",
        "failures",
        "errors",
        "skipped",
        "time",
        "timestamp",
    ] {
        assert!(suite.attribute(attr).is_some(), "testsuite has no {attr}");
    }
    let number = |a: &str| -> usize {
        suite
            .attribute(a)
            .expect("checked above")
            .parse()
            .expect("a count")
    };
    let mut cases = Vec::new();
    for node in suite.children().filter(|n| n.is_element()) {
        match node.tag_name().name() {
            "properties" | "system-out" | "system-err" => continue,
            "testcase" => {}
            other => panic!("unexpected element <{other}> in a testsuite"),
        }
        let name = node.attribute("name").expect("testcase name").to_owned();
        assert!(
            node.attribute("classname")
                .is_some_and(|c| c.starts_with("forge."))
        );
        let time: f64 = node
            .attribute("time")
            .expect("time")
            .parse()
            .expect("seconds");
        assert!(time >= 0.0);
        let outcome = node
            .children()
            .find(|c| matches!(c.tag_name().name(), "failure" | "error" | "skipped"));
        match outcome {
            Some(o) => {
                if o.tag_name().name() != "skipped" {
                    assert!(o.attribute("message").is_some(), "{} without message", name);
                }
                cases.push((
                    name,
                    o.tag_name().name().to_owned(),
                    o.text().unwrap_or_default().to_owned(),
                ));
            }
            None => {
                let out = node
                    .children()
                    .find(|c| c.tag_name().name() == "system-out")
                    .and_then(|c| c.text())
                    .unwrap_or_default()
                    .to_owned();
                cases.push((name, "passed".into(), out));
            }
        }
    }
    let count = |kind: &str| cases.iter().filter(|c| c.1 == kind).count();
    assert_eq!(number("tests"), cases.len(), "{xml}");
    assert_eq!(number("failures"), count("failure"), "{xml}");
    assert_eq!(number("errors"), count("error"), "{xml}");
    assert_eq!(number("skipped"), count("skipped"), "{xml}");
    cases
}

/// A miette report as one line: its wrapping and frame taken out.
fn flat(report: &str) -> String {
    report
        .split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_release_built_by_ci_is_deployed_by_cd_exactly_and_without_building() {
    let (tf, prefix, ecs) = release_project();
    let out = tf.project.root().join("out");
    let commit = sha(0x61);

    // CI: build and push, write the release and the report.
    let built = events(
        &ci(
            &tf,
            "--json build --release-out out/release.json --junit out/build.xml",
            &commit,
        )
        .run(),
    );
    assert_eq!(ran(&built), ["docker-build:web", "ecr-push:web"]);
    let release: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("release.json")).expect("release.json written"),
    )
    .expect("release.json is JSON");
    let digest = registry_digest(&format!("{prefix}/web"), &commit).expect("pushed by CI");
    let web = &release["images"]["web"];
    assert_eq!(release["format"], "forge-release/1");
    assert_eq!(release["commit"], commit.as_str());
    assert_eq!(release["project"], "tf");
    assert_eq!(web["digest"], digest.as_str());
    assert_eq!(web["tag"], commit.as_str());
    assert_eq!(
        web["image"],
        format!("127.0.0.1:5000/{prefix}/web@{digest}").as_str()
    );
    assert_eq!(
        web["repository"],
        format!("127.0.0.1:5000/{prefix}/web").as_str()
    );
    for step in ["docker-build:web", "ecr-push:web"] {
        assert_eq!(
            release["steps"][step].as_str().map(str::len),
            Some(64),
            "{step}'s fingerprint: {release:#}"
        );
    }
    let cases = junit_cases(&out.join("build.xml"));
    assert!(
        cases.iter().all(|c| c.1 == "passed") && cases.len() == 2,
        "{cases:?}"
    );

    // A second build of the same commit: all cached, the same release (bar its run and time).
    ci(&tf, "--json build --release-out out/again.json", &commit).run();
    let again: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("again.json")).expect("again.json"))
            .expect("JSON");
    assert_eq!(again["images"], release["images"]);
    assert_eq!(again["steps"], release["steps"]);

    // CD: another store, no Docker; deploys the release, and the rollout finds the
    // task definition running exactly the released image.
    settled_on(&ecs, web["image"].as_str().expect("the image"));
    let cd_store = tempfile::tempdir().expect("CD store");
    let deployed = events(
        &cd(
            &tf,
            cd_store.path(),
            "--json deploy --release out/release.json --junit out/deploy.xml",
            &commit,
        )
        .run(),
    );
    assert!(
        !deployed.iter().any(|e| e["step"] == "docker-build:web"),
        "nothing is built: {deployed:#?}"
    );
    let push = deployed
        .iter()
        .find(|e| e["type"] == "step-finished" && e["step"] == "ecr-push:web")
        .expect("the push is served from the release");
    assert_eq!(push["status"], "cached");
    assert!(
        push["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("the result of release.json (commit 616161616161")),
        "{push}"
    );
    assert!(ran(&deployed).contains(&"terraform-apply".to_owned()));
    let cases = junit_cases(&out.join("deploy.xml"));
    assert!(
        cases
            .iter()
            .any(|c| c.0 == "terraform-apply" && c.1 == "passed")
    );
    assert!(
        cases
            .iter()
            .any(|c| c.0 == "ecr-push:web" && c.2.starts_with("cached")),
        "{cases:?}"
    );

    // The CD agent's history knows what it deployed: the digest CI pushed.
    let history = cd(&tf, cd_store.path(), "--json history", &commit).run();
    let deploys = history.json_lines();
    assert_eq!(deploys[0]["images"]["web"], digest.as_str(), "{deploys:?}");
    assert_eq!(deploys[0]["commit"], commit.as_str());
}

#[test]
fn a_release_that_does_not_match_is_refused_before_anything_runs() {
    let (tf, prefix, _ecs) = release_project();
    let commit = sha(0x62);
    ci(&tf, "--json build --release-out release.json", &commit).run();
    let cd_store = tempfile::tempdir().expect("CD store");
    let deploy = |commit: &str, code: i32| {
        cd(
            &tf,
            cd_store.path(),
            "deploy --release release.json --junit deploy.xml",
            commit,
        )
        .code(code)
        .run()
    };

    // Another commit checked out: said, with both commits, and nothing ran.
    let other = deploy(&sha(0x63), 2);
    assert!(
        flat(&other.stderr).contains(
            "release.json was built from commit 626262626262, but this checkout is at 636363636363"
        ),
        "{}",
        other.stderr
    );
    assert!(
        flat(&other.stderr).contains("commit 626262626262 is not in this clone"),
        "{}",
        other.stderr
    );
    assert!(!other.stdout.contains("ran "), "{}", other.stdout);
    let cases = junit_cases(&tf.project.root().join("deploy.xml"));
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!(cases[0].1, "error");
    assert!(cases[0].2.contains("forge::release::mismatch"), "{cases:?}");

    // An edited manifest: refused as such.
    let path = tf.project.root().join("release.json");
    let original = std::fs::read_to_string(&path).expect("release.json");
    let mut release: Value = serde_json::from_str(&original).expect("JSON");
    let digest = release["images"]["web"]["digest"]
        .as_str()
        .expect("a digest")
        .to_owned();
    let missing = format!("sha256:{}", "0".repeat(64));
    release["images"]["web"]["digest"] = missing.clone().into();
    std::fs::write(&path, release.to_string()).expect("write");
    let edited = deploy(&commit, 2);
    assert!(
        flat(&edited.stderr).contains("the image of `web` does not match the push result"),
        "{}",
        edited.stderr
    );

    // A consistent manifest naming an image the registry does not have (deleted by a
    // lifecycle policy, say): the registry is asked, and the deploy stops.
    let image = format!("127.0.0.1:5000/{prefix}/web@{missing}");
    release["images"]["web"]["image"] = image.clone().into();
    release["images"]["web"]["push"]["output"]["digest"] = missing.clone().into();
    release["images"]["web"]["push"]["output"]["image"] = image.into();
    std::fs::write(&path, release.to_string()).expect("write");
    let gone = deploy(&commit, 1);
    assert!(
        flat(&gone.stderr).contains(&format!("/web has no image {missing}")),
        "{}",
        gone.stderr
    );
    assert!(!flat(&gone.stderr).contains(&digest));

    // Not a release at all.
    std::fs::write(&path, "{}").expect("write");
    let junk = deploy(&commit, 2);
    assert!(
        flat(&junk.stderr).contains("forge::release::invalid"),
        "{}",
        junk.stderr
    );
}

#[test]
fn a_build_that_did_not_push_every_image_writes_no_release() {
    let (tf, _, _ecs) = release_project();
    let commit = sha(0x64);
    let out = ci(
        &tf,
        "build docker-build:web --release-out release.json",
        &commit,
    )
    .code(1)
    .run();
    assert!(
        flat(&out.stderr).contains("`ecr-push:web` did not succeed in this build"),
        "{}",
        out.stderr
    );
    assert!(!tf.project.root().join("release.json").exists());
}
