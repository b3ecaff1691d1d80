//! The shared remote cache end to end, on moto's S3: agents are project checkouts with
//! stores of their own, running the real CLI and host. Agent A (CI) holds a signing key
//! the project trusts and publishes what it builds; agent B (a fresh checkout, an empty
//! store, no key) gets it. Entries altered, signed by an untrusted key, or raced on are
//! each checked here; the object store is read and written directly to tamper with it.

use std::path::Path;

use forge_clients::aws::{Aws, Target};
use serde_json::Value;

use crate::harness::{Output, Project};
use crate::lock::{require_moto, unique};

const BUCKET: &str = "two-tier-terraform-state-123456789012";
const COMMIT: &str = "7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c";

/// `gen` writes a file, which the image of service `web` takes as an artifact (read
/// through forge, from the store); `note` stands alone; the image is pushed to the local
/// registry.
fn steps_kdl(prefix: &str) -> String {
    format!(
        r#"step "gen" {{
    plugin "command"
    phase "build"
    config {{
        run "sh" "-c" "mkdir -p out && tr a-z A-Z < src/in.txt > out/gen.txt"
        outputs {{ gen "out/gen.txt"; }}
    }}
    input "src/in.txt"
}}
step "note" {{
    plugin "command"
    phase "build"
    config {{
        run "sh" "-c" "mkdir -p out && echo noted > out/note.txt"
        outputs {{ note "out/note.txt"; }}
    }}
}}
registry "r" {{
    kind "ecr"
    url "127.0.0.1:5000"
    endpoint "http://127.0.0.1:4566"
    create-repositories #true
    immutable-tags #false
}}
service "web" {{
    build {{
        context "web"
        artifact "gen.txt" (ref)"step.gen.gen"
    }}
    repository "{prefix}web"
    port 8080
}}
"#
    )
}

/// A checkout of the project whose cache block trusts `trusted` (name, public key).
fn checkout(prefix: &str, trusted: &[(&str, &str)], steps: &str) -> Project {
    crate::images::require_stack();
    let trust: String = trusted
        .iter()
        .map(|(name, key)| format!("    trust \"{name}\" \"{key}\"\n"))
        .collect();
    Project::with_kdl(&format!(
        r#"version 1
project "shared" {{ region "us-east-1"; }}
cache {{
    s3 bucket="{BUCKET}" prefix="{prefix}" endpoint="http://127.0.0.1:4566"
{trust}}}
{steps}"#
    ))
    .file("src/in.txt", "hello\n")
    .file(
        "web/Dockerfile",
        "FROM scratch\nCOPY gen.txt /srv/gen.txt\nCOPY page.txt /srv/page.txt\n",
    )
    .file("web/page.txt", "page\n")
}

/// `forge ARGS` on moto, as an agent: with `key` it publishes.
fn forge(project: &Project, args: &str, key: Option<&Path>, code: i32) -> Output {
    let mut f = crate::lock::on_moto(project, args)
        .env("FORGE_COMMIT_SHA", COMMIT)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("DOCKER_HOST", &crate::images::docker_host());
    f = match key {
        Some(key) => f.env("FORGE_CACHE_KEY", &key.display().to_string()),
        None => f.env_remove("FORGE_CACHE_KEY"),
    };
    f.env_remove("FORGE_REMOTE_CACHE").code(code).run()
}

/// A signing key made by `forge cache keygen`: its file and public key.
fn keygen(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let project = Project::with_kdl("version 1\n");
    let path = dir.join(format!("{name}.key"));
    let out = project
        .forge(&format!("--json cache keygen --name {name} --out"))
        .arg(path.display().to_string())
        .run();
    let line: Value = serde_json::from_str(out.stdout.trim()).expect("keygen --json");
    assert_eq!(
        line["trust"],
        format!(
            "trust \"{name}\" \"{}\"",
            line["public_key"].as_str().unwrap_or("?")
        )
        .as_str()
    );
    let mode = std::fs::metadata(&path).expect("key file").permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600,
        "the secret key is readable by its owner only"
    );
    (
        path,
        line["public_key"]
            .as_str()
            .expect("a public key")
            .to_owned(),
    )
}

fn finished<'a>(lines: &'a [Value], step: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["type"] == "step-finished" && l["step"] == step)
        .unwrap_or_else(|| panic!("{step} did not finish: {lines:#?}"))
}

fn summary(lines: &[Value]) -> (u64, u64, u64) {
    let s = lines.last().expect("summary");
    (
        s["ran"].as_u64().unwrap_or(99),
        s["cached"].as_u64().unwrap_or(99),
        s["failed"].as_u64().unwrap_or(99),
    )
}

fn warnings(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["type"] == "warning")
        .filter_map(|l| l["message"].as_str().map(str::to_owned))
        .collect()
}

/// moto's S3, to read and tamper with the remote directly.
struct Bucket {
    aws: Aws,
    target: Target,
    runtime: tokio::runtime::Runtime,
}

impl Bucket {
    fn new() -> Bucket {
        Bucket {
            aws: Aws::with_credentials("testing", "testing"),
            target: Target {
                region: Some("us-east-1".into()),
                endpoint: Some("http://127.0.0.1:4566".into()),
            },
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
        }
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.runtime
            .block_on(self.aws.s3_get_object(&self.target, BUCKET, key))
            .expect("S3 GET")
            .map(|o| o.body)
    }

    fn put(&self, key: &str, body: Vec<u8>) {
        self.runtime
            .block_on(
                self.aws
                    .s3_put_object(&self.target, BUCKET, key, body, false),
            )
            .expect("S3 PUT");
    }
}

/// The fingerprint hash `step` ran with (from `forge explain --json`).
fn fingerprint(project: &Project, step: &str) -> String {
    let out = forge(project, &format!("--json explain {step}"), None, 0);
    let v: Value = serde_json::from_str(out.stdout.trim()).expect("explain --json");
    v["fingerprint"].as_str().expect("a fingerprint").to_owned()
}

#[test]
fn a_fresh_agent_gets_every_build_step_from_what_ci_published() {
    require_moto();
    let keys = tempfile::tempdir().expect("keys");
    let (key, public) = keygen(keys.path(), "ci");
    let prefix = format!("{}/", unique("forge-remote"));
    let steps = steps_kdl(&prefix);
    let ci = checkout(&prefix, &[("ci", &public)], &steps);
    let built = forge(&ci, "--json build", Some(&key), 0).json_lines();
    assert_eq!(summary(&built), (4, 0, 0));
    assert!(warnings(&built).is_empty(), "{:?}", warnings(&built));

    // Agent B: its own checkout and store, no key.
    let agent = checkout(&prefix, &[("ci", &public)], &steps);
    let got = forge(&agent, "--json build", None, 0).json_lines();
    assert_eq!(summary(&got), (0, 4, 0), "{got:#?}");
    for step in ["gen", "note", "docker-build:web", "ecr-push:web"] {
        let reason = finished(&got, step)["reason"].as_str().unwrap_or_default();
        assert!(
            reason.starts_with("remote hit from ci at "),
            "{step}: {reason}"
        );
    }
    // Lazily: no step ran, so no output file was downloaded (not gen's, not the image's
    // layers), only entries and manifests.
    let bucket = Bucket::new();
    let entry = |step: &str| -> Value {
        serde_json::from_slice(
            &bucket
                .get(&format!("{prefix}ac/{}", fingerprint(&ci, step)))
                .expect("an entry"),
        )
        .expect("JSON")
    };
    let local = |hash: &str| {
        agent
            .cache_dir()
            .join("v2/cas")
            .join(&hash[..2])
            .join(hash)
            .exists()
    };
    let gen_blob = entry("gen")["files"]["gen"]["hash"]
        .as_str()
        .expect("a blob")
        .to_owned();
    let image = entry("docker-build:web");
    let layers: Vec<String> = image["files"]
        .as_object()
        .expect("the image's files")
        .values()
        .filter_map(|f| f["hash"].as_str().map(str::to_owned))
        .collect();
    assert!(!layers.is_empty());
    assert!(
        !local(&gen_blob),
        "gen's output was downloaded though nothing read it"
    );
    assert!(
        !layers.iter().any(|h| local(h)),
        "image blobs were downloaded"
    );

    // Stats and explain say where the results came from.
    let stats = forge(&agent, "cache stats", None, 0).stdout;
    assert!(
        stats.contains("0 ran, 0 local hits, 4 remote hits"),
        "{stats}"
    );
    let explained = forge(&agent, "explain note", None, 0).stdout;
    assert!(explained.contains("(remote hit from ci at "), "{explained}");

    // The page changes: the image is built here, so gen's output is fetched (checked
    // against its hash) for it; gen itself stays a hit.
    agent.write("web/page.txt", "another page\n");
    let again = forge(&agent, "--json build", None, 0).json_lines();
    assert_eq!(finished(&again, "docker-build:web")["status"], "ran");
    assert_eq!(finished(&again, "gen")["status"], "cached");
    assert!(local(&gen_blob), "gen's output was fetched for the image");
    // What was fetched is this store's own now: a plain local hit.
    let third = forge(&agent, "--json build", None, 0).json_lines();
    assert_eq!(summary(&third), (0, 4, 0));
    assert_eq!(finished(&third, "gen")["reason"], Value::Null);

    // `forge cache pull` on a third agent: everything, files included, nothing built.
    let pulled_agent = checkout(&prefix, &[("ci", &public)], &steps);
    let pulled = forge(&pulled_agent, "--json cache pull", None, 0).json_lines();
    assert_eq!(summary(&pulled), (0, 4, 0), "{pulled:#?}");
    let has = |hash: &str| {
        pulled_agent
            .cache_dir()
            .join("v2/cas")
            .join(&hash[..2])
            .join(hash)
            .exists()
    };
    assert!(
        has(&gen_blob) && layers.iter().all(|h| has(h)),
        "pull fetched the files"
    );
    let after = forge(&pulled_agent, "--json build", None, 0).json_lines();
    assert_eq!(summary(&after), (0, 4, 0));
    assert_eq!(
        finished(&after, "docker-build:web")["reason"],
        Value::Null,
        "a local hit"
    );
}

#[test]
fn a_tampered_blob_is_never_served() {
    require_moto();
    let keys = tempfile::tempdir().expect("keys");
    let (key, public) = keygen(keys.path(), "ci");
    let prefix = format!("{}/", unique("forge-remote"));
    let steps = steps_kdl(&prefix);
    let ci = checkout(&prefix, &[("ci", &public)], &steps);
    forge(&ci, "--json build", Some(&key), 0);
    let bucket = Bucket::new();
    let entry_of = |step: &str| -> Value {
        serde_json::from_slice(
            &bucket
                .get(&format!("{prefix}ac/{}", fingerprint(&ci, step)))
                .expect("an entry"),
        )
        .expect("JSON")
    };

    // One byte of the push's manifest blob: found when it is read; the push runs (and
    // reads the image's layers, which are fetched and checked for it).
    let manifest = entry_of("ecr-push:web")["manifest"]
        .as_str()
        .expect("blob")
        .to_owned();
    let mut bytes = bucket
        .get(&format!("{prefix}blobs/{manifest}"))
        .expect("blob");
    bytes[1] ^= 1;
    bucket.put(&format!("{prefix}blobs/{manifest}"), bytes);
    let reader = checkout(&prefix, &[("ci", &public)], &steps);
    let got = forge(&reader, "--json build", None, 0).json_lines();
    assert_eq!(finished(&got, "ecr-push:web")["status"], "ran");
    assert_eq!(finished(&got, "docker-build:web")["status"], "cached");
    assert!(
        warnings(&got)
            .iter()
            .any(|w| w.contains("step `ecr-push:web`") && w.contains("does not match its hash")),
        "{:?}",
        warnings(&got)
    );

    // One byte of `gen`'s output file: found when the image build reads it.
    let output = entry_of("gen")["files"]["gen"]["hash"]
        .as_str()
        .expect("blob")
        .to_owned();
    let mut bytes = bucket
        .get(&format!("{prefix}blobs/{output}"))
        .expect("blob");
    bytes[0] ^= 0x20;
    bucket.put(&format!("{prefix}blobs/{output}"), bytes);
    let agent = checkout(&prefix, &[("ci", &public)], &steps).file("web/page.txt", "mine\n");
    let first = forge(&agent, "--json build", None, 1).json_lines();
    assert_eq!(finished(&first, "gen")["status"], "cached");
    let image = finished(&first, "docker-build:web");
    assert_eq!(image["status"], "failed");
    let reason = image["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("the remote cache's result of `gen` cannot be used: output file `gen`")
            && reason.contains("does not match its hash"),
        "{reason}"
    );
    // The next run does not trust that entry: gen is built here, then the image from it.
    let second = forge(&agent, "--json build", None, 0).json_lines();
    assert_eq!(finished(&second, "gen")["status"], "ran");
    assert_eq!(finished(&second, "docker-build:web")["status"], "ran");
}

#[test]
fn an_entry_signed_by_a_key_the_project_does_not_trust_is_refused() {
    require_moto();
    let keys = tempfile::tempdir().expect("keys");
    let (_ours, ours_public) = keygen(keys.path(), "ci");
    let (theirs, theirs_public) = keygen(keys.path(), "stranger");
    let prefix = format!("{}/", unique("forge-remote"));
    // A writer whose checkout trusts its own key publishes...
    let steps = steps_kdl(&prefix);
    let stranger = checkout(&prefix, &[("stranger", &theirs_public)], &steps);
    forge(&stranger, "--json build", Some(&theirs), 0);
    // ...and an agent of the project, which trusts only `ci`, refuses all of it.
    let agent = checkout(&prefix, &[("ci", &ours_public)], &steps);
    let got = forge(&agent, "--json build", None, 0).json_lines();
    assert_eq!(summary(&got), (4, 0, 0));
    let refused = warnings(&got);
    assert!(
        refused.iter().any(|w| w.contains("step `gen`")
            && w.contains(&format!(
                "signed by {theirs_public}, which project.kdl does not trust"
            ))),
        "{refused:?}"
    );
    // A key the project does not trust does not publish either, and says so.
    let out = forge(&agent, "--json build", Some(&theirs), 0);
    assert!(
        out.stderr
            .contains("is not trusted by project.kdl, so this machine only reads"),
        "{}",
        out.stderr
    );
}

#[test]
fn two_agents_racing_on_one_fingerprint_leave_one_complete_entry() {
    require_moto();
    let keys = tempfile::tempdir().expect("keys");
    let (k1, p1) = keygen(keys.path(), "ci-1");
    let (k2, p2) = keygen(keys.path(), "ci-2");
    let prefix = format!("{}/", unique("forge-remote"));
    // A step whose output differs every time it runs: each agent's result is its own.
    let racy = r#"step "stamp" {
    plugin "command"
    phase "build"
    config {
        run "sh" "-c" "mkdir -p out && date +%s%N > out/stamp.txt && head -c 200000 /dev/urandom > out/noise.bin"
        outputs { stamp "out/stamp.txt"; noise "out/noise.bin"; }
    }
}
"#;
    let trusted = [("ci-1", p1.as_str()), ("ci-2", p2.as_str())];
    let a1 = checkout(&prefix, &trusted, racy);
    let a2 = checkout(&prefix, &trusted, racy);
    let spawn = |p: &Project, key: &Path| {
        crate::lock::on_moto(p, "--json build")
            .env("FORGE_COMMIT_SHA", COMMIT)
            .env("FORGE_CACHE_KEY", &key.display().to_string())
            .spawn()
    };
    let (c1, c2) = (spawn(&a1, &k1), spawn(&a2, &k2));
    for child in [c1, c2] {
        let out = child.wait_with_output().expect("forge ran");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // One entry, by one of them, whose every blob is there and whole: an agent gets
    // exactly that agent's output, never a mix.
    let agent = checkout(&prefix, &trusted, racy);
    let got = forge(&agent, "--json build stamp", None, 0).json_lines();
    let reason = finished(&got, "stamp")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let winner = if reason.starts_with("remote hit from ci-1 ") {
        &a1
    } else {
        assert!(reason.starts_with("remote hit from ci-2 "), "{reason}");
        &a2
    };
    // Every blob the entry names is in the bucket, whole, and is the winner's file.
    let entry: Value = serde_json::from_slice(
        &Bucket::new()
            .get(&format!("{prefix}ac/{}", fingerprint(&agent, "stamp")))
            .expect("the entry"),
    )
    .expect("JSON");
    let bucket = Bucket::new();
    for (name, path) in [("stamp", "out/stamp.txt"), ("noise", "out/noise.bin")] {
        let hash = entry["files"][name]["hash"].as_str().expect("a blob");
        let blob = bucket
            .get(&format!("{prefix}blobs/{hash}"))
            .expect("the blob");
        assert_eq!(blake3_hex(&blob), hash, "blob {name} is whole");
        let theirs = std::fs::read(winner.root().join(path)).expect("the winner's file");
        assert!(blob == theirs, "{name} is not the winner's own");
    }
}

/// blake3 of `bytes` as hex, as blob names are.
fn blake3_hex(bytes: &[u8]) -> String {
    forge_engine::executor::OutputFile::of(bytes).hash
}
