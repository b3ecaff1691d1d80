//! `docker-build` and `ecr-push` end to end, through the `forge` binary and its embedded
//! built-ins, against the real local components `scripts/local-stack up` starts: dockerd,
//! the Docker registry on 127.0.0.1:5000 and moto (ECR's API) on 127.0.0.1:4566. A test
//! whose component is down fails, saying so; none is skipped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use crate::harness::{Output, Project, copy_tree};

const REGISTRY: &str = "127.0.0.1:5000";
const MOTO: &str = "127.0.0.1:4566";

/// Where the local stack's dockerd listens (`scripts/local-stack env`).
pub(crate) fn docker_host() -> String {
    std::env::var("DOCKER_HOST")
        .unwrap_or_else(|_| "unix:///tmp/forge-local-stack/docker.sock".to_owned())
}

/// One HTTP/1.0 request over `stream`; the whole answer as text.
pub(crate) fn http(mut stream: impl Read + Write, request: &str) -> String {
    stream.write_all(request.as_bytes()).expect("send request");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read answer");
    String::from_utf8_lossy(&answer).into_owned()
}

pub(crate) fn tcp(addr: &str) -> Option<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    Some(stream)
}

/// Fails the test unless every local component answers.
pub(crate) fn require_stack() {
    let socket = docker_host();
    let socket = socket.strip_prefix("unix://").unwrap_or(&socket).to_owned();
    let docker = std::os::unix::net::UnixStream::connect(&socket)
        .map(|s| http(s, "GET /_ping HTTP/1.0\r\n\r\n").contains("200 OK"))
        .unwrap_or(false);
    let registry = tcp(REGISTRY)
        .map(|s| http(s, "GET /v2/ HTTP/1.0\r\n\r\n").contains(" 200 "))
        .unwrap_or(false);
    let moto = tcp(MOTO).is_some();
    assert!(
        docker && registry && moto,
        "the local stack is not running (dockerd at {socket}: {docker}, registry at {REGISTRY}: \
         {registry}, moto at {MOTO}: {moto}); start it with `scripts/local-stack up`"
    );
}

/// The digest the registry has for `repo:tag`.
pub(crate) fn registry_digest(repo: &str, tag: &str) -> Option<String> {
    let answer = http(
        tcp(REGISTRY).expect("registry reachable"),
        &format!(
            "HEAD /v2/{repo}/manifests/{tag} HTTP/1.0\r\nAccept: application/vnd.oci.image.manifest.v1+json\r\n\r\n"
        ),
    );
    if !answer.starts_with("HTTP/1.0 200") && !answer.starts_with("HTTP/1.1 200") {
        return None;
    }
    answer
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("docker-content-digest:")
                .map(str::to_owned)
        })
        .map(|d| d.trim().to_owned())
}

/// A name no other test (or earlier run) uses: repositories and tags outlive a test.
pub(crate) fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}

pub(crate) fn sha(n: u8) -> String {
    format!("{n:02x}").repeat(20)
}

fn project_kdl(prefix: &str, endpoint: &str, immutable: bool) -> String {
    format!(
        r#"version 1
project "images" {{ region "us-east-1"; }}
registry "ecr" {{
    kind "ecr"
    url "{REGISTRY}"
    endpoint "{endpoint}"
    create-repositories #true
    immutable-tags {immutable}
}}
service "api" {{
    build {{ context "api"; }}
    repository "{prefix}/api"
    port 8080
}}
service "web" {{
    build {{ context "web"; }}
    repository "{prefix}/web"
    port 8080
}}
"#,
        immutable = if immutable { "#true" } else { "#false" }
    )
}

/// Two services, each a FROM scratch image of a text file; `api` ignores `notes.md`.
fn images_project(prefix: &str) -> Project {
    Project::with_kdl(&project_kdl(prefix, &format!("http://{MOTO}"), true))
        .file(
            "api/Dockerfile",
            "FROM scratch\nCOPY hello.txt /srv/hello.txt\nLABEL service=api\nENV GREETING=hello\n",
        )
        .file("api/hello.txt", "hello from api\n")
        .file("api/notes.md", "not part of the image\n")
        .file("api/.dockerignore", "notes.md\n")
        .file(
            "web/Dockerfile",
            "FROM scratch\nCOPY index.html /srv/index.html\n",
        )
        .file("web/index.html", "<h1>web</h1>\n")
}

/// `forge --json build` with the local stack's environment, at commit `commit`.
fn build(project: &Project, commit: &str, code: i32) -> (Vec<serde_json::Value>, Output) {
    let output = project
        .forge("--json build")
        .without_test_executor()
        .env("DOCKER_HOST", &docker_host())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("FORGE_COMMIT_SHA", commit)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .code(code)
        .run();
    (output.json_lines(), output)
}

/// Ids of the steps that ran, sorted.
/// The steps that ran, sorted. Why each ran goes to stderr, so a failing assertion's
/// output says.
pub(crate) fn ran(lines: &[serde_json::Value]) -> Vec<String> {
    let mut ids: Vec<String> = lines
        .iter()
        .filter(|l| l["type"] == "step-finished" && l["status"] == "ran")
        .map(|l| {
            eprintln!("ran {}: {}", l["step"], l["reason"]);
            l["step"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    ids.sort();
    ids
}

pub(crate) fn logs(lines: &[serde_json::Value], step: &str) -> String {
    lines
        .iter()
        .filter(|l| l["type"] == "step-log" && l["step"] == step)
        .map(|l| l["line"].as_str().unwrap_or_default().to_owned() + "\n")
        .collect()
}

pub(crate) fn failure(lines: &[serde_json::Value], step: &str) -> String {
    lines
        .iter()
        .find(|l| l["type"] == "step-finished" && l["step"] == step && l["status"] == "failed")
        .and_then(|l| l["reason"].as_str())
        .unwrap_or_else(|| panic!("step {step} did not fail: {lines:?}"))
        .to_owned()
}

#[test]
fn build_push_cache_rebuild_and_retag() {
    require_stack();
    let prefix = unique("forge-test");
    let project = images_project(&prefix);

    // First build: both images built and pushed.
    let (first, _) = build(&project, &sha(1), 0);
    assert_eq!(
        ran(&first),
        [
            "docker-build:api",
            "docker-build:web",
            "ecr-push:api",
            "ecr-push:web"
        ]
    );
    let api = registry_digest(&format!("{prefix}/api"), &sha(1)).expect("api pushed");
    assert!(api.starts_with("sha256:"), "{api}");
    assert!(
        logs(&first, "ecr-push:api").contains("2 of 2 blobs uploaded"),
        "{}",
        logs(&first, "ecr-push:api")
    );
    // The engine's build output streamed to the step's log.
    assert!(logs(&first, "docker-build:api").contains("COPY hello.txt"));

    // Fully cached: nothing runs, and the Docker Engine is not asked anything (a dead
    // DOCKER_HOST would fail any step that called it).
    let cached = project
        .forge("--json build")
        .without_test_executor()
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("FORGE_COMMIT_SHA", &sha(1))
        .run()
        .json_lines();
    assert!(ran(&cached).is_empty(), "{cached:?}");

    // A file .dockerignore excludes is not an input.
    project.write("api/notes.md", "edited notes\n");
    let (ignored, _) = build(&project, &sha(1), 0);
    assert!(ran(&ignored).is_empty(), "{ignored:?}");

    // A context edit (committed: with immutable tags, one commit names one image) rebuilds
    // that image only.
    project.write("api/hello.txt", "hello again\n");
    let (edited, _) = build(&project, &sha(2), 0);
    assert_eq!(
        ran(&edited),
        ["docker-build:api", "ecr-push:api", "ecr-push:web"],
        "web's image is reused; its push only adds the new tag"
    );
    let api2 = registry_digest(&format!("{prefix}/api"), &sha(2)).expect("api pushed");
    assert_ne!(api2, api);
    let web1 = registry_digest(&format!("{prefix}/web"), &sha(1)).expect("web tag 1");
    let web2 = registry_digest(&format!("{prefix}/web"), &sha(2)).expect("web tag 2");
    assert_eq!(web1, web2, "the new tag names the same image");
    assert!(
        logs(&edited, "ecr-push:web").contains("0 of 2 blobs uploaded"),
        "{}",
        logs(&edited, "ecr-push:web")
    );
}

#[test]
fn a_failing_dockerfile_line_is_reported_with_the_engines_message() {
    require_stack();
    let prefix = unique("forge-test");
    let project = images_project(&prefix).file("web/Dockerfile", "FORM scratch\n");
    let (lines, _) = build(&project, &sha(3), 1);
    let reason = failure(&lines, "docker-build:web");
    assert!(reason.contains("unknown instruction: FORM"), "{reason}");

    project.write("web/Dockerfile", "FROM scratch\nCOPY missing.txt /\n");
    let (lines, _) = build(&project, &sha(3), 1);
    let reason = failure(&lines, "docker-build:web");
    assert!(reason.contains("missing.txt"), "{reason}");
}

#[test]
fn the_same_commit_builds_to_the_same_digest_from_clean() {
    require_stack();
    let prefix = unique("forge-test");
    let project = images_project(&prefix);
    let (first, _) = build(&project, &sha(4), 0);
    assert!(ran(&first).contains(&"docker-build:api".to_owned()));
    let digest = registry_digest(&format!("{prefix}/api"), &sha(4)).expect("pushed");

    // From clean: no store, no images in the engine.
    std::fs::remove_dir_all(project.cache_dir()).expect("wipe the store");
    std::fs::create_dir_all(project.cache_dir()).expect("new store");
    for svc in ["api", "web"] {
        let status = std::process::Command::new("docker")
            .args(["-H", &docker_host(), "rmi", "-f"])
            .arg(format!("{prefix}/{svc}:{}", sha(4)))
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run the docker CLI");
        assert!(status.success(), "docker rmi {svc}");
    }
    let (second, _) = build(&project, &sha(4), 0);
    assert!(ran(&second).contains(&"docker-build:api".to_owned()));
    // The tags are immutable: a different digest would have failed the push.
    assert!(
        logs(&second, "ecr-push:api").contains("nothing to push"),
        "{}",
        logs(&second, "ecr-push:api")
    );
    assert_eq!(
        registry_digest(&format!("{prefix}/api"), &sha(4)).as_deref(),
        Some(digest.as_str())
    );
}

#[test]
fn an_immutable_tag_is_never_moved() {
    require_stack();
    let prefix = unique("forge-test");
    let project = images_project(&prefix);
    build(&project, &sha(5), 0);
    let before = registry_digest(&format!("{prefix}/api"), &sha(5)).expect("pushed");
    // A different image for the same commit (an uncommitted edit, say).
    project.write("api/hello.txt", "changed without a commit\n");
    let (lines, _) = build(&project, &sha(5), 1);
    let reason = failure(&lines, "ecr-push:api");
    assert!(reason.contains("already names"), "{reason}");
    assert!(reason.contains(&before), "{reason}");
    assert_eq!(
        registry_digest(&format!("{prefix}/api"), &sha(5)).as_deref(),
        Some(before.as_str())
    );
}

#[test]
fn an_unreachable_aws_endpoint_is_a_clear_error() {
    require_stack();
    let prefix = unique("forge-test");
    let project = images_project(&prefix);
    project.write(
        "project.kdl",
        &project_kdl(&prefix, "http://127.0.0.1:1", true),
    );
    let (lines, _) = build(&project, &sha(6), 1);
    let reason = failure(&lines, "ecr-push:api");
    assert!(reason.contains("cannot reach"), "{reason}");
    assert!(reason.contains("127.0.0.1:1"), "{reason}");
}

#[test]
fn credentials_aws_refuses_are_a_clear_error() {
    require_stack();
    // A moto of its own that checks credentials (the shared one accepts any).
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        listener.local_addr().expect("addr").port()
    };
    let mut moto = std::process::Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 with moto[server] (scripts/local-stack up installs it)");
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(&mut moto);
    let addr = format!("127.0.0.1:{port}");
    let up = (0..300).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        tcp(&addr).is_some()
    });
    assert!(up, "moto server with auth did not start on {addr}");

    let prefix = unique("forge-test");
    let project = images_project(&prefix);
    project.write(
        "project.kdl",
        &project_kdl(&prefix, &format!("http://{addr}"), true),
    );
    let (lines, _) = build(&project, &sha(7), 1);
    let reason = failure(&lines, "ecr-push:api");
    assert!(reason.to_lowercase().contains("credentials"), "{reason}");
    assert!(
        !reason.contains("testing"),
        "no secret in the error: {reason}"
    );
}

/// Copies the parts of this repository the reference project needs into `dest`.
fn git(root: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .current_dir(root)
        .args(["-c", "user.name=forge", "-c", "user.email=forge@localhost"])
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?}");
}

/// The reference project (project.kdl, its modules and the sample app) in a temp git
/// repository of its own, committed.
fn reference_project() -> Project {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let project = Project::with_kdl("");
    std::fs::copy(repo.join("project.kdl"), project.root().join("project.kdl")).expect("kdl");
    copy_tree(&repo.join("modules"), &project.root().join("modules"));
    copy_tree(
        &repo.join("examples/app"),
        &project.root().join("examples/app"),
    );
    git(project.root(), &["init", "-q"]);
    git(project.root(), &["add", "-A"]);
    git(project.root(), &["commit", "-q", "-m", "reference project"]);
    project
}

/// `forge ARGS` with real executors against the local stack.
fn on_the_stack(project: &Project, args: &str, code: i32) -> Output {
    project
        .forge(args)
        .without_test_executor()
        .env("DOCKER_HOST", &docker_host())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        // The commit is the temp repository's HEAD, whatever the CI job says.
        .env_remove("FORGE_COMMIT_SHA")
        .env_remove("GIT_COMMIT")
        .env_remove("SOURCE_DATE_EPOCH")
        .code(code)
        .run()
}

#[test]
fn the_reference_project_builds_both_images_and_rebuilds_only_what_changed() {
    require_stack();
    let project = reference_project();

    let forge = |code: i32| on_the_stack(&project, "--json build", code).json_lines();
    let first = forge(0);
    assert_eq!(
        ran(&first),
        [
            "backend-bin",
            "docker-build:backend",
            "docker-build:frontend",
            "ecr-push:backend",
            "ecr-push:frontend",
            "frontend-bin"
        ]
    );
    assert!(ran(&forge(0)).is_empty(), "a second build runs nothing");

    // A comment: the binary is rebuilt, comes out byte-identical, and nothing after it
    // runs (early cutoff); a new SHA tag is still pushed for both images.
    let main_rs = project.root().join("examples/app/backend/src/main.rs");
    let text = std::fs::read_to_string(&main_rs).expect("read main.rs");
    std::fs::write(&main_rs, format!("{text}\n// a comment\n")).expect("edit main.rs");
    git(project.root(), &["commit", "-q", "-am", "backend comment"]);
    assert_eq!(
        ran(&forge(0)),
        ["backend-bin", "ecr-push:backend", "ecr-push:frontend"]
    );

    // One backend source file changes what the binary does: its binary, image and push;
    // the frontend's binary and image are untouched.
    let text = std::fs::read_to_string(&main_rs).expect("read main.rs");
    assert!(
        text.contains("\"Anvil\""),
        "the sample backend sells an Anvil"
    );
    std::fs::write(&main_rs, text.replacen("\"Anvil\"", "\"Anvil (heavy)\"", 1))
        .expect("edit main.rs");
    git(project.root(), &["commit", "-q", "-am", "backend edit"]);
    assert_eq!(
        ran(&forge(0)),
        [
            "backend-bin",
            "docker-build:backend",
            "ecr-push:backend",
            "ecr-push:frontend"
        ],
        "the frontend's image is reused; only its new SHA tag is pushed"
    );

    // A commit that touches no image input: no binary, no image is rebuilt.
    std::fs::write(project.root().join("NOTES.md"), "notes\n").expect("notes");
    git(project.root(), &["add", "NOTES.md"]);
    git(project.root(), &["commit", "-q", "-m", "notes"]);
    assert_eq!(ran(&forge(0)), ["ecr-push:backend", "ecr-push:frontend"]);

    // `--check`: both binaries and both images rebuild (the images without the Docker
    // Engine's layer cache) to the same bytes; the pushes are not redone.
    let check = on_the_stack(&project, "--json build --check", 0).json_lines();
    assert_eq!(
        ran(&check),
        [
            "backend-bin",
            "docker-build:backend",
            "docker-build:frontend",
            "frontend-bin"
        ]
    );
    for step in ["docker-build:backend", "docker-build:frontend"] {
        let done = check
            .iter()
            .find(|e| e["type"] == "step-finished" && e["step"] == step)
            .expect("checked");
        assert_eq!(
            done["reason"],
            "reproducible: rebuilt twice to the same outputs"
        );
    }
    assert!(
        check
            .iter()
            .filter(|e| e["type"] == "step-finished"
                && e["step"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("ecr-push:")))
            .all(|e| e["status"] == "cached"),
        "{check:#?}"
    );

    // The deploy: images cached; the render, then the state lock (DynamoDB in moto), then
    // `terraform init`, which cannot install the AWS provider here: it says so, and the
    // lock is given back.
    let deploy = on_the_stack(&project, "--json deploy --env local", 1).json_lines();
    assert_eq!(ran(&deploy), ["terraform-render"]);
    let apply = deploy
        .iter()
        .find(|e| e["type"] == "step-finished" && e["step"] == "terraform-apply")
        .expect("terraform-apply finished");
    assert_eq!(apply["status"], "failed");
    let reason = apply["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("could not install a provider"), "{reason}");
    assert!(reason.contains("mirror"), "{reason}");
    let changes: Vec<&str> = deploy
        .iter()
        .filter(|e| e["type"] == "state-lock")
        .filter_map(|e| e["change"].as_str())
        .collect();
    assert_eq!(changes, ["acquired", "released"]);
    let status = on_the_stack(&project, "--json lock status --env local", 0);
    assert!(
        status.stdout.contains(r#""held":false"#),
        "{}",
        status.stdout
    );

    // `forge show`: the env's rendered root module, read back from the store...
    let shown = on_the_stack(&project, "show terraform-render --env local", 0).stdout;
    for file in ["main.tf", "outputs.tf", "providers.tf", "versions.tf"] {
        assert!(shown.contains(file), "{shown}");
    }
    let main_tf = on_the_stack(
        &project,
        "show terraform-render --env local --output main.tf",
        0,
    );
    assert!(
        main_tf.stdout.contains("module \"vpc\""),
        "{}",
        main_tf.stdout
    );
    assert!(
        main_tf.stdout.contains("module \"backend-service\""),
        "{}",
        main_tf.stdout
    );
    // The backend's secrets reach its task definition by reference (ECS reads the values
    // when a task starts; forge never does), and its execution role may read exactly those.
    for reference in [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:two-tier/db-password",
        "/two-tier/api-key",
    ] {
        assert!(main_tf.stdout.contains(reference), "{}", main_tf.stdout);
    }
    // ...and an image's layers, whose bytes are the digests its manifest names.
    let image = on_the_stack(&project, "--json show docker-build:backend", 0).json_lines();
    let digest = image[0]["manifest"]["digest"].as_str().expect("digest");
    assert!(
        main_tf
            .stdout
            .contains(&format!("image_digest         = \"{digest}\"")),
        "the rendered module runs the image built: {}",
        main_tf.stdout
    );
    let layers = image[0]["manifest"]["layers"].as_array().expect("layers");
    assert!(!layers.is_empty());
    let out = project.root().join("backend-image");
    on_the_stack(
        &project,
        &format!("show docker-build:backend --out {}", out.display()),
        0,
    );
    for layer in layers {
        let name = layer["output"].as_str().expect("output name");
        let bytes = std::fs::read(out.join(name)).expect("layer copied");
        assert_eq!(layer["size"], bytes.len());
        let digest = layer["digest"].as_str().expect("digest");
        assert_eq!(digest, sha256_digest(&bytes), "{name}");
    }
}

fn sha256_digest(bytes: &[u8]) -> String {
    forge_clients::oci::sha256_digest(bytes)
}

/// The store keeps what it serves: `gc` once deleted the blobs behind kept results (the
/// binaries, the image layers), `verify` called that consistent, and the next build failed
/// for good reading an artifact that was gone. Through the real host: the `command`
/// built-in and docker-build, on the reference project.
#[test]
fn gc_keeps_the_output_files_a_kept_run_needs() {
    require_stack();
    let project = reference_project();
    let forge = |args: &str, code: i32| on_the_stack(&project, args, code);

    assert_eq!(ran(&forge("--json build", 0).json_lines()).len(), 6);
    let gc = forge("cache gc --keep-runs 1", 0);
    assert!(gc.stdout.contains("kept 1 run"), "{}", gc.stdout);
    assert!(
        gc.stdout.contains("removed 0 runs, 0 entries and 0 blobs"),
        "the only run needs everything: {}",
        gc.stdout
    );
    let verify = forge("cache verify", 0);
    assert!(
        verify.stdout.contains("store is consistent"),
        "{}",
        verify.stdout
    );

    let dockerfile = project.root().join("examples/app/backend/Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).expect("read Dockerfile");
    std::fs::write(&dockerfile, format!("{text}LABEL x=y\n")).expect("edit Dockerfile");
    let rebuilt = forge("--json build", 0).json_lines();
    assert_eq!(
        ran(&rebuilt),
        ["docker-build:backend", "ecr-push:backend"],
        "the image rebuilds from the stored binary"
    );
    assert!(ran(&forge("--json build", 0).json_lines()).is_empty());
}
