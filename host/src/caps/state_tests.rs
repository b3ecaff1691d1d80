//! The imports as a plugin reaches them: the parts and views of a [`HostState`] (its log,
//! outputs, upstream files and stop conditions) the linker projects to, called directly
//! (a wasm plugin adds nothing these tests need).
//!
//! `with_components` needs the local components of `scripts/local-stack up` and fails
//! when they are absent, like `clients/tests/components`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use forge_clients::Clients;
use forge_engine::events::{Event, EventSink};
use forge_engine::store::Store;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

use crate::bindings::forge::plugin::{files, registry as wit_registry};
use crate::host::Upstream;
use crate::limits::Limits;
use crate::state::{HostState, Reach};
use crate::stop::Interrupt;

struct Run {
    state: HostState,
    clients: Arc<Clients>,
    events: UnboundedReceiver<Event>,
    cancel: CancellationToken,
    _dir: Option<tempfile::TempDir>,
}

fn run(
    limits: Limits,
    upstream: &[(&str, Upstream)],
    store: Option<(Store, tempfile::TempDir)>,
    clients: Clients,
) -> Run {
    let (sink, events) = EventSink::channel();
    let cancel = CancellationToken::new();
    let clients = Arc::new(clients);
    let (store, dir) = match store {
        Some((s, d)) => (Some(s), Some(d)),
        None => (None, None),
    };
    let state = HostState::new(
        "push".into(),
        limits,
        BTreeMap::new(),
        BTreeMap::new(),
        sink,
        Reach {
            clients: Arc::clone(&clients),
            upstream: upstream
                .iter()
                .map(|(step, up)| ((*step).to_owned(), up.clone()))
                .collect(),
            store,
            cancel: cancel.clone(),
            terraform: None,
            rebuild: false,
        },
    );
    Run {
        state,
        clients,
        events,
        cancel,
        _dir: dir,
    }
}

async fn read(st: &mut HostState, step: &str, name: &str) -> Result<Vec<u8>, files::FileError> {
    files::Host::read_upstream(&mut st.files, step.to_owned(), name.to_owned()).await
}

fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    (Store::open(dir.path()).expect("store"), dir)
}

#[tokio::test]
async fn upstream_outputs_are_read_through_the_store_within_the_cap() {
    let (store, dir) = store();
    store.put_blob(b"layer bytes").expect("put");
    let other = store.put_blob(b"another step's secret").expect("put");
    // The manifest claims a file it did not write, under the key outputs once hid in.
    let manifest = serde_json::json!({ "image": "x", "$outputs": { "blobs/sha256/bb": other } });
    let upstream = Upstream {
        manifest: manifest.to_string(),
        files: BTreeMap::from([(
            "blobs/sha256/aa".to_owned(),
            forge_engine::executor::OutputFile::of(b"layer bytes"),
        )]),
    };
    let limits = Limits {
        read: 5,
        ..Limits::default()
    };
    let mut r = run(
        limits,
        &[("build", upstream)],
        Some((store, dir)),
        Clients::default(),
    );
    let st = &mut r.state;
    assert!(matches!(
        read(st, "build", "blobs/sha256/aa").await,
        Err(files::FileError::TooLarge(m)) if m.contains("cap 5 B")
    ));
    assert!(
        matches!(
            read(st, "build", "blobs/sha256/bb").await,
            Err(files::FileError::NotDeclared(m)) if m.contains("wrote no output file")
        ),
        "a file a manifest claims is not an output"
    );
    assert!(matches!(
        read(st, "other", "blobs/sha256/aa").await,
        Err(files::FileError::NotDeclared(m)) if m.contains("add it to the step's `needs`")
    ));
    assert!(
        matches!(
            read(st, "build", "image").await,
            Err(files::FileError::NotDeclared(_))
        ),
        "manifest keys that are not outputs are not files"
    );
    let bytes = st
        .files
        .upstream
        .read("build", "blobs/sha256/aa", None)
        .await;
    assert_eq!(bytes.expect("uncapped"), b"layer bytes");
}

/// A server that accepts connections and never answers.
fn silent_server() -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let thread = std::thread::spawn(move || {
        let mut held = Vec::new();
        // One connection is enough for a test; keep it open until the test ends.
        if let Ok((stream, _)) = listener.accept() {
            held.push(stream);
            std::thread::sleep(Duration::from_secs(3));
        }
    });
    (addr, thread)
}

#[tokio::test]
async fn a_waiting_call_traps_when_the_run_is_cancelled() {
    let (addr, _server) = silent_server();
    let mut r = run(Limits::default(), &[], None, Clients::default());
    let cancel = r.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    });
    let started = Instant::now();
    let trap =
        wit_registry::Host::resolve(&mut r.state.caps(), addr, "x/y".into(), "t".into(), None)
            .await
            .expect_err("a trap");
    assert_eq!(
        trap.downcast_ref::<Interrupt>(),
        Some(&Interrupt::Cancelled)
    );
    assert_eq!(r.state.interrupt, Some(Interrupt::Cancelled));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_waiting_call_traps_at_the_deadline() {
    let (addr, _server) = silent_server();
    let limits = Limits {
        timeout: Duration::from_millis(150),
        ..Limits::default()
    };
    let mut r = run(limits, &[], None, Clients::default());
    let trap = wit_registry::Host::has_blob(
        &mut r.state.caps(),
        addr,
        "x/y".into(),
        "sha256:00".into(),
        None,
    )
    .await
    .expect_err("a trap");
    assert_eq!(trap.downcast_ref::<Interrupt>(), Some(&Interrupt::Deadline));
}

mod with_components {
    use super::*;
    use crate::bindings::forge::plugin::{aws as wit_aws, docker as wit_docker};
    use forge_clients::{aws, docker, oci};

    const HINT: &str = "start them with `scripts/local-stack up`";

    fn env_or(name: &str, default: &str) -> String {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_owned())
    }

    async fn clients() -> Clients {
        let host = env_or("DOCKER_HOST", "unix:///tmp/forge-local-stack/docker.sock");
        let engine = docker::connect(Some(&host))
            .await
            .unwrap_or_else(|e| panic!("no Docker engine ({e}); {HINT}"));
        Clients::default()
            .with_docker(engine)
            .with_aws(aws::Aws::with_credentials(
                &env_or("AWS_ACCESS_KEY_ID", "testing"),
                &env_or("AWS_SECRET_ACCESS_KEY", "testing"),
            ))
    }

    fn unique() -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{}-{nanos:x}", std::process::id())
    }

    fn context(tag: &str) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let hello = format!("hello from {tag}\n");
        let files: [(&str, &[u8]); 2] = [
            ("Dockerfile", b"FROM scratch\nCOPY hello.txt /hello.txt\n"),
            ("hello.txt", hello.as_bytes()),
        ];
        for (name, bytes) in files {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_size(bytes.len() as u64);
            b.append_data(&mut h, name, bytes).expect("entry");
        }
        b.into_inner().expect("tar")
    }

    fn request(tag: &str) -> wit_docker::BuildRequest {
        wit_docker::BuildRequest {
            context: context(tag),
            dockerfile: "Dockerfile".into(),
            build_args: vec![],
            target: None,
            labels: vec![],
            source_date_epoch: 1_700_000_000,
            tags: vec![tag.to_owned()],
        }
    }

    #[tokio::test]
    async fn a_build_writes_its_blobs_as_outputs_and_logs_the_builder() {
        let tag = format!("forge-test/state-{}:t", unique());
        let mut r = run(Limits::default(), &[], None, clients().await);
        let image = wit_docker::Host::build(&mut r.state.caps(), request(&tag))
            .await
            .expect("no trap")
            .expect("built");
        assert_eq!(image.id, image.config.digest);
        for blob in std::iter::once(&image.config).chain(&image.layers) {
            let out = r
                .state
                .outputs
                .files
                .get(&blob.output)
                .expect("written as an output");
            assert_eq!(oci::sha256_digest(&out.bytes), blob.digest);
        }
        let mut lines = Vec::new();
        while let Ok(Event::StepLog { line, .. }) = r.events.try_recv() {
            lines.push(line);
        }
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("Step 2/") && l.contains(": COPY hello.txt")),
            "{lines:?}"
        );
    }

    #[tokio::test]
    async fn a_build_past_the_image_cap_is_an_error_and_ignores_the_plugins_cap() {
        // The plugin's own output cap does not apply to the blobs the host writes.
        let tag = format!("forge-test/state-{}:t", unique());
        let limits = Limits {
            output_files: 100,
            ..Limits::default()
        };
        let mut r = run(limits, &[], None, clients().await);
        let built = wit_docker::Host::build(&mut r.state.caps(), request(&tag)).await;
        assert!(matches!(built, Ok(Ok(_))), "{built:?}");
        remove(&r.clients, &tag).await;

        let tag = format!("forge-test/state-{}:t", unique());
        let limits = Limits {
            image_blobs: 100,
            ..Limits::default()
        };
        let mut r = run(limits, &[], None, clients().await);
        let built = wit_docker::Host::build(&mut r.state.caps(), request(&tag)).await;
        match built {
            Ok(Err(wit_docker::DockerError::Other(m))) => {
                assert!(m.contains("past forge's cap of 100 B"), "{m}")
            }
            other => panic!("expected an error value, got {other:?}"),
        }
        assert!(r.state.outputs.overflow.is_none(), "not a trap");
        remove(&r.clients, &tag).await;
    }

    async fn remove(clients: &Clients, tag: &str) {
        let engine = clients.docker().await.expect("engine");
        let options = bollard::query_parameters::RemoveImageOptions {
            force: true,
            ..Default::default()
        };
        engine
            .remove_image(tag, Some(options), None)
            .await
            .expect("remove the test image");
    }

    #[tokio::test]
    async fn login_credentials_push_an_upstream_blob() {
        let (store, dir) = store();
        let blob = format!("a blob of {}", unique()).into_bytes();
        let digest = oci::sha256_digest(&blob);
        let name = oci::blob_output_name(&digest);
        store.put_blob(&blob).expect("put");
        let upstream = Upstream {
            manifest: "{}".into(),
            files: BTreeMap::from([(name.clone(), forge_engine::executor::OutputFile::of(&blob))]),
        };
        let mut r = run(
            Limits::default(),
            &[("build", upstream)],
            Some((store, dir)),
            clients().await,
        );
        let target = wit_aws::Target {
            region: Some(env_or("AWS_REGION", "us-east-1")),
            endpoint: Some(env_or("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")),
        };
        let registry = env_or("FORGE_LOCAL_REGISTRY", "127.0.0.1:5000");
        let credentials =
            wit_aws::Host::ecr_login(&mut r.state.caps(), target, Some(registry.clone()))
                .await
                .expect("no trap")
                .unwrap_or_else(|e| panic!("ecr-login: {e:?}; {HINT}"));
        let shown = wit_registry::HostCredentials::registry(
            &mut r.state.caps(),
            wasmtime::component::Resource::new_borrow(credentials.rep()),
        )
        .await;
        assert_eq!(shown, registry);
        let borrowed = || Some(wasmtime::component::Resource::new_borrow(credentials.rep()));
        let repo = format!("forge-test/state-{}", unique());
        let upstream = |digest: &str| wit_registry::UpstreamBlob {
            step: "build".into(),
            output: name.clone(),
            digest: digest.to_owned(),
        };
        let sent = wit_registry::Host::push_blob(
            &mut r.state.caps(),
            registry.clone(),
            repo.clone(),
            upstream(&digest),
            borrowed(),
        )
        .await
        .expect("no trap")
        .unwrap_or_else(|e| panic!("push-blob: {e:?}; {HINT}"));
        assert_eq!(sent, blob.len() as u64);
        let has = wit_registry::Host::has_blob(
            &mut r.state.caps(),
            registry.clone(),
            repo.clone(),
            digest.clone(),
            borrowed(),
        )
        .await
        .expect("no trap");
        assert!(matches!(has, Ok(true)), "{has:?}");
        let wrong = oci::sha256_digest(b"something else");
        let refused = wit_registry::Host::push_blob(
            &mut r.state.caps(),
            registry.clone(),
            repo.clone(),
            upstream(&wrong),
            borrowed(),
        )
        .await
        .expect("no trap");
        assert!(
            matches!(refused, Err(wit_registry::RegistryError::Other(m)) if m.contains("refusing"))
        );
        wit_registry::HostCredentials::drop(&mut r.state.caps(), credentials)
            .await
            .expect("drop");
    }
}
