//! A step's secrets: declared by reference, given to a `command` process as environment
//! variables, masked in everything forge writes, never stored, and fingerprinted by their
//! reference only. Through the real `command` executor, the real store and the real
//! reporters (terminal, `--json`, `--junit`).

use std::path::Path;

use crate::harness::Project;

/// A value no output of forge may contain.
const SECRET: &str = "s3cr3t-ZX81-value";

const KDL: &str = r#"version 1
project "sec" { region "us-east-1"; }
step "publish" {
    plugin "command"
    phase "build"
    secret "NPM_TOKEN" from="env:FORGE_TEST_NPM_TOKEN"
    config {
        run "sh" "-c" "echo \"token=$NPM_TOKEN\"; echo \"to stderr: $NPM_TOKEN\" >&2; env | grep NPM_TOKEN; mkdir -p out; echo published > out/receipt.txt"
        outputs { receipt "out/receipt.txt"; }
    }
    input "src/*"
}
"#;

fn project() -> Project {
    Project::with_kdl(KDL).file("src/app.txt", "app\n")
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// The lines steps logged, from a `--json` run.
fn step_log_lines(run: &crate::harness::Output) -> Vec<String> {
    run.json_lines()
        .iter()
        .filter(|l| l["type"] == "step-log")
        .filter_map(|l| l["line"].as_str().map(str::to_owned))
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every byte forge wrote holds none of `secrets`: the terminal and JSON output of `runs`,
/// the JUnit report, every file of the store (results, history, logs, fingerprints) and of
/// the project's `.forge`.
fn assert_in_nothing_forge_wrote(
    project: &Project,
    runs: &[&crate::harness::Output],
    junit: &Path,
    secrets: &[&str],
) {
    let mut written: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        written.push((
            format!("stdout of run {i}"),
            run.stdout.clone().into_bytes(),
        ));
        written.push((
            format!("stderr of run {i}"),
            run.stderr.clone().into_bytes(),
        ));
    }
    written.push((
        "the JUnit report".into(),
        std::fs::read(junit).expect("the JUnit report"),
    ));
    let store_files = files_under(project.cache_dir());
    assert!(store_files.len() > 5, "{store_files:?}");
    for path in store_files
        .into_iter()
        .chain(files_under(&project.root().join(".forge")))
    {
        let bytes = std::fs::read(&path).expect("a file forge wrote");
        written.push((path.display().to_string(), bytes));
    }
    assert!(written.len() > 9);
    for (what, bytes) in &written {
        for secret in secrets {
            assert!(!contains(bytes, secret), "a secret's value is in {what}");
        }
    }
}

#[test]
fn a_secret_reaches_the_command_and_none_of_forges_outputs() {
    let project = project();
    let junit = project.root().join("reports/build.xml");
    let json = project
        .forge("--json build --junit")
        .arg(junit.display().to_string())
        .env("FORGE_TEST_NPM_TOKEN", SECRET)
        .without_test_executor()
        .run();
    let text = project
        .forge("-v build --check")
        .env("FORGE_TEST_NPM_TOKEN", SECRET)
        .without_test_executor()
        .run();

    // The process got it, under the declared name: its lines say so, masked.
    let lines = step_log_lines(&json);
    assert!(lines.iter().any(|l| l == "token=****"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "to stderr: ****"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "NPM_TOKEN=****"), "{lines:?}");
    let terminal = format!("{}{}", text.stdout, text.stderr);
    assert!(terminal.contains("token=****"), "{terminal}");

    let report = std::fs::read(&junit).expect("the JUnit report");
    assert!(
        contains(&report, "token=****"),
        "the report has the masked log"
    );
    assert_in_nothing_forge_wrote(&project, &[&json, &text], &junit, &[SECRET]);

    // The reference feeds the fingerprint, the value does not: rotating the secret does
    // not rebuild; pointing it at another variable does, and explain says why.
    let rotated = project
        .forge("--json build")
        .env("FORGE_TEST_NPM_TOKEN", "another-value-entirely")
        .without_test_executor()
        .run()
        .json_lines();
    assert_eq!(rotated.last().expect("summary")["cached"], 1, "{rotated:?}");
    project.write(
        "project.kdl",
        &KDL.replace("env:FORGE_TEST_NPM_TOKEN", "env:FORGE_TEST_OTHER"),
    );
    let explain = project
        .forge("explain publish")
        .without_test_executor()
        .run();
    assert!(
        explain.stdout.contains(
            "secret NPM_TOKEN now comes from env:FORGE_TEST_OTHER (was env:FORGE_TEST_NPM_TOKEN)"
        ),
        "{}",
        explain.stdout
    );
}

#[test]
fn a_missing_secret_fails_the_step_naming_the_variable() {
    let out = project()
        .forge("build")
        .env_remove("FORGE_TEST_NPM_TOKEN")
        .without_test_executor()
        .code(1)
        .run();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("secret `NPM_TOKEN`: environment variable FORGE_TEST_NPM_TOKEN is not set"),
        "{all}"
    );
    assert!(all.contains("withCredentials"), "{all}");
}

#[test]
fn a_failing_command_and_an_output_holding_the_secret_never_show_it() {
    let failing = Project::with_kdl(&KDL.replace(
        "mkdir -p out; echo published > out/receipt.txt",
        "echo \\\"login failed for $NPM_TOKEN\\\" >&2; exit 4",
    ))
    .file("src/app.txt", "app\n");
    let out = failing
        .forge("build")
        .env("FORGE_TEST_NPM_TOKEN", SECRET)
        .without_test_executor()
        .code(1)
        .run();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("login failed for ****"), "{all}");
    assert!(!all.contains(SECRET), "{all}");

    let leaking = Project::with_kdl(&KDL.replace(
        "echo published > out/receipt.txt",
        "echo \\\"$NPM_TOKEN\\\" > out/receipt.txt",
    ))
    .file("src/app.txt", "app\n");
    let out = leaking
        .forge("build")
        .env("FORGE_TEST_NPM_TOKEN", SECRET)
        .without_test_executor()
        .code(1)
        .run();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("output `receipt` (out/receipt.txt) contains the value of secret `NPM_TOKEN`"),
        "{all}"
    );
    for path in files_under(leaking.cache_dir()) {
        let bytes = std::fs::read(&path).expect("a store file");
        assert!(
            !contains(&bytes, SECRET),
            "the secret is in {}",
            path.display()
        );
    }
}

#[test]
fn secrets_are_declared_by_reference_and_a_service_cannot_read_forges_environment() {
    for (from, problem, help) in [
        (
            "arn:aws:secretsmanager:us-east-1:npm",
            "is not a Secrets Manager secret ARN",
            "describe-secret",
        ),
        ("vault:npm/token", "is not a secret reference", "ssm:/path"),
        ("ssm:npm-token", "is not a secret reference", "env:VARIABLE"),
    ] {
        let bad_step = Project::with_kdl(&KDL.replace("env:FORGE_TEST_NPM_TOKEN", from));
        let out = bad_step.forge("graph").code(2).run();
        assert!(out.stderr.contains(problem), "{from}: {}", out.stderr);
        assert!(out.stderr.contains(help), "{from}: {}", out.stderr);
    }

    let service = Project::service();
    let kdl = std::fs::read_to_string(service.root().join("project.kdl")).expect("kdl");
    let with_env = kdl.replacen(
        "service \"web\" {",
        "service \"web\" {\n    secret \"TOKEN\" from=\"env:CI_TOKEN\"",
        1,
    );
    assert_ne!(
        with_env, kdl,
        "the service fixture has a `service \"web\"` block"
    );
    service.write("project.kdl", &with_env);
    let out = service.forge("graph").code(2).run();
    assert!(
        out.stderr
            .contains("a service's secret cannot come from `env:CI_TOKEN`"),
        "{}",
        out.stderr
    );
}

/// Puts SSM parameters (`SecureString`) and Secrets Manager secrets into the local stack's
/// moto, in us-east-1, with boto3 (which moto installs); returns the secrets' ARNs.
fn seed_aws(parameters: &[(&str, &str)], secrets: &[(&str, &str)]) -> Vec<String> {
    const SEED: &str = r#"
import json, sys, boto3
spec = json.loads(sys.argv[1])
kw = dict(endpoint_url="http://127.0.0.1:4566", region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
ssm = boto3.client("ssm", **kw)
for name, value in spec["parameters"]:
    ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
sm = boto3.client("secretsmanager", **kw)
print(json.dumps([sm.create_secret(Name=n, SecretString=v)["ARN"] for n, v in spec["secrets"]]))
"#;
    let spec = serde_json::json!({ "parameters": parameters, "secrets": secrets });
    let out = std::process::Command::new("python3")
        .args(["-c", SEED, &spec.to_string()])
        .output()
        .expect("python3 with boto3 (scripts/local-stack up installs moto, which brings it)");
    assert!(
        out.status.success(),
        "seeding moto failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the secrets' ARNs")
}

/// A step's secrets from SSM Parameter Store and Secrets Manager: read by the host when
/// the step runs, from the real local stack (moto), in the project's region whatever
/// `AWS_REGION` says, and in nothing forge writes.
#[test]
fn secrets_from_ssm_and_secrets_manager_reach_the_command_and_none_of_forges_outputs() {
    crate::images::require_stack();
    let prefix = crate::images::unique("forge-test");
    let api_key = format!("ssm-value-{prefix}");
    let db_password = format!("sm-value-{prefix}");
    let arns = seed_aws(
        &[(&format!("/{prefix}/api-key"), &api_key)],
        &[(&format!("{prefix}/db-password"), &db_password)],
    );
    let kdl = KDL
        .replace(
            r#"secret "NPM_TOKEN" from="env:FORGE_TEST_NPM_TOKEN""#,
            &format!(
                "secret \"API_KEY\" from=\"ssm:/{prefix}/api-key\"\n    secret \"DB_PASSWORD\" from=\"{}\"",
                arns[0]
            ),
        )
        .replace(
            r#"echo \"token=$NPM_TOKEN\"; echo \"to stderr: $NPM_TOKEN\" >&2; env | grep NPM_TOKEN;"#,
            r#"echo \"key=$API_KEY\"; echo \"db=$DB_PASSWORD\" >&2;"#,
        );
    assert!(
        kdl.contains("ssm:/") && kdl.contains("key=$API_KEY"),
        "{kdl}"
    );
    let project = Project::with_kdl(&kdl).file("src/app.txt", "app\n");
    fn aws(forge: crate::harness::Forge<'_>) -> crate::harness::Forge<'_> {
        forge
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            // Another region than the project's: moto keeps regions apart, so the values
            // are found only if forge reads them where the project says.
            .env("AWS_REGION", "eu-west-3")
            .without_test_executor()
    }
    let junit = project.root().join("reports/build.xml");
    let json = aws(project
        .forge("--json build --junit")
        .arg(junit.display().to_string()))
    .run();
    let lines = step_log_lines(&json);
    assert!(lines.iter().any(|l| l == "key=****"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "db=****"), "{lines:?}");
    let check = aws(project.forge("-v build --check")).run();
    assert!(check.stdout.contains("key=****"), "{}", check.stdout);
    assert_in_nothing_forge_wrote(
        &project,
        &[&json, &check],
        &junit,
        &[&api_key, &db_password],
    );

    // A cached result reads nothing: with AWS unreachable the build is still a hit.
    let cached = aws(project.forge("--json build"))
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        .run()
        .json_lines();
    assert_eq!(cached.last().expect("summary")["cached"], 1, "{cached:?}");

    // A reference to nothing fails the step, naming the secret and what to do.
    project.write(
        "project.kdl",
        &kdl.replace(&format!("/{prefix}/api-key"), &format!("/{prefix}/missing")),
    );
    let missing = aws(project.forge("build")).code(1).run();
    let all = format!("{}{}", missing.stdout, missing.stderr);
    assert!(
        all.contains(&format!(
            "secret `API_KEY`: could not read ssm:/{prefix}/missing in us-east-1: ParameterNotFound"
        )),
        "{all}"
    );
    assert!(all.contains("create the parameter"), "{all}");
}

/// The local stack's registry that requires a login, and its test account
/// (`scripts/local-stack`).
const AUTH_REGISTRY: &str = "127.0.0.1:5001";
const AUTH_PASSWORD: &str = "forge-local-registry";
/// `Basic base64("forge:forge-local-registry")`.
const AUTH_HEADER: &str = "Authorization: Basic Zm9yZ2U6Zm9yZ2UtbG9jYWwtcmVnaXN0cnk=";

/// A project whose one service pushes to the registry that requires a login, as `forge`
/// with the password in FORGE_TEST_REGISTRY_PASSWORD.
fn private_registry_project(prefix: &str) -> Project {
    Project::with_kdl(&format!(
        r#"version 1
project "private" {{ region "us-east-1"; }}
registry "private" {{
    kind "oci"
    url "{AUTH_REGISTRY}"
    username "forge"
    password from="env:FORGE_TEST_REGISTRY_PASSWORD"
}}
service "api" {{
    build {{ context "api"; }}
    repository "{prefix}/api"
    port 8080
}}
"#
    ))
    .file(
        "api/Dockerfile",
        "FROM scratch\nCOPY hello.txt /srv/hello.txt\n",
    )
    .file("api/hello.txt", "hello from a private registry\n")
}

/// `forge --json build --junit JUNIT` on the local stack, at commit `sha(n)`, with the
/// secret's value in forge's environment variable `var`.
fn build_on_stack(
    project: &Project,
    junit: &Path,
    commit: u8,
    (var, value): (&str, &str),
    code: i32,
) -> crate::harness::Output {
    project
        .forge("--json build --junit")
        .arg(junit.display().to_string())
        .without_test_executor()
        .env("DOCKER_HOST", &crate::images::docker_host())
        .env("FORGE_COMMIT_SHA", &crate::images::sha(commit))
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env(var, value)
        .code(code)
        .run()
}

fn push(project: &Project, password: &str, junit: &Path, code: i32) -> crate::harness::Output {
    build_on_stack(
        project,
        junit,
        7,
        ("FORGE_TEST_REGISTRY_PASSWORD", password),
        code,
    )
}

/// A secret consumed by a capability: `ecr-push` (a wasm plugin) holds only a handle to
/// the registry's password; the host reads the value, logs in to a real registry that
/// requires it, and pushes. The value is in nothing forge wrote; a wrong one is refused
/// by the registry, before any upload, and named as such.
#[test]
fn a_registry_password_is_read_by_the_host_and_the_push_logs_in_with_it() {
    crate::images::require_stack();
    let reachable = crate::images::tcp(AUTH_REGISTRY)
        .map(|s| crate::images::http(s, "GET /v2/ HTTP/1.0\r\n\r\n"))
        .unwrap_or_default();
    assert!(
        reachable.contains(" 401 "),
        "the local stack's registry with a login is not on {AUTH_REGISTRY} (start it with `scripts/local-stack up`): {reachable}"
    );
    let prefix = crate::images::unique("forge-test");
    let project = private_registry_project(&prefix);
    let junit = project.root().join("reports/build.xml");
    let out = push(&project, AUTH_PASSWORD, &junit, 0);
    let lines = out.json_lines();
    assert_eq!(
        crate::images::ran(&lines),
        ["docker-build:api", "ecr-push:api"]
    );
    assert!(
        crate::images::logs(&lines, "ecr-push:api")
            .contains(&format!("logging in to {AUTH_REGISTRY} as forge")),
        "{lines:?}"
    );
    // The registry has the image under the commit's tag, and serves it only to the account.
    let manifest = |auth: &str| {
        crate::images::http(
            crate::images::tcp(AUTH_REGISTRY).expect("registry reachable"),
            &format!(
                "HEAD /v2/{prefix}/api/manifests/{} HTTP/1.0\r\n{auth}Accept: application/vnd.oci.image.manifest.v1+json\r\n\r\n",
                crate::images::sha(7)
            ),
        )
    };
    let with_login = manifest(&format!("{AUTH_HEADER}\r\n"));
    assert!(with_login.contains(" 200 "), "{with_login}");
    assert!(
        manifest("").contains(" 401 "),
        "the registry must require the login"
    );
    assert_in_nothing_forge_wrote(&project, &[&out], &junit, &[AUTH_PASSWORD]);

    // A wrong password: the login fails, naming the registry and the user; nothing is
    // uploaded and the wrong value is not shown either.
    let wrong = "not-the-password-42";
    let other = private_registry_project(&crate::images::unique("forge-test"));
    let junit = other.root().join("reports/build.xml");
    let refused = push(&other, wrong, &junit, 1);
    let reason = crate::images::failure(&refused.json_lines(), "ecr-push:api");
    assert!(reason.contains("refused the credentials"), "{reason}");
    assert!(reason.contains("logging in as forge"), "{reason}");
    assert!(reason.contains(AUTH_REGISTRY), "{reason}");
    assert_in_nothing_forge_wrote(&other, &[&refused], &junit, &[wrong]);
}

/// A base image with a program to `RUN` (`/bin/cat`), imported into the local stack's
/// engine: no image can be pulled here (`forge_clients::test_images`).
fn static_cat_image() -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let docker = forge_clients::docker::connect(Some(&crate::images::docker_host()))
            .await
            .expect("the local stack's Docker engine");
        forge_clients::test_images::static_cat(&docker).await
    })
}

/// A secret declared on a service's `build`: the docker-build component holds handles only;
/// the host reads the value from forge's environment and serves it to the engine's BuildKit,
/// which mounts it for the `RUN` that asks, here one that prints it (the worst case). The
/// step's log shows it masked, the image is pushed, and the value is in nothing forge
/// wrote. The reference feeds the fingerprint: a rotated value rebuilds nothing.
#[test]
fn a_build_secret_is_mounted_by_buildkit_and_in_none_of_forges_outputs() {
    crate::images::require_stack();
    let base = static_cat_image();
    let prefix = crate::images::unique("forge-test");
    let kdl = format!(
        r#"version 1
project "build-secrets" {{ region "us-east-1"; }}
registry "local" {{
    kind "oci"
    url "127.0.0.1:5000"
}}
service "api" {{
    build {{
        context "api"
        secret "NPM_TOKEN" from="env:FORGE_TEST_BUILD_TOKEN"
    }}
    repository "{prefix}/api"
    port 8080
    secret "DB_PASSWORD" from="arn:aws:secretsmanager:us-east-1:123456789012:secret:db"
}}
"#
    );
    let project = Project::with_kdl(&kdl)
        .file(
            "api/Dockerfile",
            &format!(
                // The ENV makes the RUN new to BuildKit's cache, so it runs in this test.
                "FROM {base}\nENV FORGE_TEST_RUN={prefix}\nRUN --mount=type=secret,id=NPM_TOKEN [\"/bin/cat\", \"/run/secrets/NPM_TOKEN\"]\nCOPY hello.txt /srv/hello.txt\n"
            ),
        )
        .file("api/hello.txt", "hello from a build with a secret\n");
    let value = format!("npm-{}", crate::images::unique("token"));
    let build = |token: &str, junit: &Path| {
        build_on_stack(&project, junit, 9, ("FORGE_TEST_BUILD_TOKEN", token), 0)
    };
    let junit = project.root().join("reports/build.xml");
    let out = build(&value, &junit);
    let lines = out.json_lines();
    assert_eq!(
        crate::images::ran(&lines),
        ["docker-build:api", "ecr-push:api"]
    );
    let log = crate::images::logs(&lines, "docker-build:api");
    assert!(log.contains("mounting secrets NPM_TOKEN"), "{log}");
    assert!(
        log.contains("RUN --mount=type=secret,id=NPM_TOKEN"),
        "BuildKit ran the step: {log}"
    );
    assert!(
        log.lines().any(|l| l.ends_with(" ****")),
        "the RUN printed the secret and the log has it masked: {log}"
    );
    assert!(
        crate::images::registry_digest(&format!("{prefix}/api"), &crate::images::sha(9)).is_some(),
        "the image built with the secret is pushed"
    );
    assert_in_nothing_forge_wrote(&project, &[&out], &junit, &[&value]);

    // Rotating the value rebuilds nothing; the service's own secret never reaches a build.
    let rotated = build(
        "another-token-value",
        &project.root().join("reports/again.xml"),
    );
    assert!(crate::images::ran(&rotated.json_lines()).is_empty());
    let graph = project.forge("graph --json").without_test_executor().run();
    let graph: serde_json::Value = serde_json::from_str(&graph.stdout).expect("graph json");
    let steps = graph["steps"].as_array().expect("steps");
    let build_step = steps
        .iter()
        .find(|s| s["id"] == "docker-build:api")
        .expect("the build step");
    assert_eq!(
        build_step["config"]["secrets"],
        serde_json::json!(["NPM_TOKEN"])
    );
}
