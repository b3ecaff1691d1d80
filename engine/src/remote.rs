//! The shared remote cache: step results that agents share through an object store (S3),
//! served only when a trusted writer signed them and every byte matches its hash.
//!
//! # Layout under the cache's prefix
//! - `blobs/<blake3>`: a blob (a fingerprint, a manifest, an output file), named by the
//!   blake3 of its bytes. A reader re-hashes every blob it downloads and refuses one that
//!   does not match.
//! - `ac/<fingerprint hash>`: the entry of one step result ([`RemoteEntry`]): the blobs it
//!   names (fingerprint, manifest, output files with sizes), when and by whom it was
//!   written, and the writer's ed25519 signature over all of that.
//!
//! # Writing
//! A writer uploads the blobs first, each only if absent, then the entry, with a
//! conditional PUT (`If-None-Match: *`). Two agents racing on one fingerprint cannot leave
//! a mixed entry: an entry is one object, written once, naming only content-addressed
//! blobs that are complete before it exists; the loser's PUT fails and its result is not
//! published (the first one stands).
//!
//! # Reading
//! On a local miss the reader GETs the entry and serves it only if:
//! - the writer's public key is one the project trusts (`cache { trust "NAME" "ed25519:…" }`),
//! - the signature verifies,
//! - the fingerprint and manifest blobs match their hashes, and the fingerprint's own hash
//!   is the key asked for (an entry moved to another key is refused).
//!
//! Anything else is a miss, with a warning naming the step and why. Output files are
//! fetched only when a step that runs reads them ([`RemoteCache::fetch_files`]), so a
//! cached step whose outputs nobody downstream needs costs two small GETs. A blob that
//! fails its check then fails the step that needed it, and the entry is remembered as
//! refused so the next run builds it instead.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::executor::{OutputFile, StepOutput};
use crate::fingerprint::Fingerprint;
use crate::store::{Store, canonical_json, is_hash};

/// A boxed future, for the object store trait.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where the remote cache's objects live: an S3 bucket and prefix in forge, any object
/// store with a conditional create in tests or other embedders. Errors are messages for
/// people.
pub trait ObjectStore: Send + Sync {
    /// The object's bytes, `None` when there is none.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, String>>;
    /// Whether an object has the key.
    fn exists<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, String>>;
    /// Creates the object unless one has the key: `Ok(false)` when one did.
    fn put_if_absent<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<bool, String>>;
    /// How people know the store (`s3://bucket/prefix`).
    fn describe(&self) -> String;
}

/// The prefix of a public key as project.kdl writes it.
pub const PUBLIC_PREFIX: &str = "ed25519:";
/// The prefix of a signing key file's one line.
pub const SECRET_PREFIX: &str = "forge-cache-secret-ed25519:";

const SIGNED_CONTEXT: &str = "forge 2026-12 remote cache entry";
const ENTRY_VERSION: u32 = 1;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// A writer's public key, as `trust` in project.kdl names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses `ed25519:<base64 of 32 bytes>`.
    pub fn parse(text: &str) -> Result<PublicKey, String> {
        let Some(encoded) = text.trim().strip_prefix(PUBLIC_PREFIX) else {
            return Err(format!("a public key starts with `{PUBLIC_PREFIX}`"));
        };
        let bytes = b64()
            .decode(encoded)
            .map_err(|e| format!("not base64: {e}"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("{} bytes, an ed25519 key has 32", b.len()))?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|e| format!("not an ed25519 public key: {e}"))
    }

    /// `ed25519:<base64>`.
    pub fn encode(&self) -> String {
        format!("{PUBLIC_PREFIX}{}", b64().encode(self.0.as_bytes()))
    }
}

/// A writer's signing key (the secret half), read from a key file.
pub struct WriterKey(SigningKey);

impl std::fmt::Debug for WriterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WriterKey({})", self.public().encode())
    }
}

impl WriterKey {
    /// A new random key.
    pub fn generate() -> Result<WriterKey, String> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| format!("no randomness: {e}"))?;
        Ok(WriterKey(SigningKey::from_bytes(&seed)))
    }

    /// Parses a key file's content: one line, `forge-cache-secret-ed25519:<base64 seed>`.
    pub fn parse(text: &str) -> Result<WriterKey, String> {
        let Some(encoded) = text.trim().strip_prefix(SECRET_PREFIX) else {
            return Err(format!(
                "a forge cache signing key is one line starting with `{SECRET_PREFIX}` (`forge cache keygen` writes one)"
            ));
        };
        let bytes = b64()
            .decode(encoded)
            .map_err(|e| format!("not base64: {e}"))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("{} bytes, an ed25519 secret key has 32", b.len()))?;
        Ok(WriterKey(SigningKey::from_bytes(&seed)))
    }

    /// The key file's content.
    pub fn encode(&self) -> String {
        format!("{SECRET_PREFIX}{}\n", b64().encode(self.0.to_bytes()))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }
}

/// One step result as the remote cache holds it (`ac/<key>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteEntry {
    pub v: u32,
    /// The fingerprint hash: the object's name.
    pub key: String,
    /// Blob of the fingerprint (its JSON).
    pub fingerprint: String,
    /// Blob of the manifest (its canonical JSON).
    pub manifest: String,
    /// Output file name → its blob and size.
    pub files: BTreeMap<String, OutputFile>,
    /// When it was written, milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// The writer's public key (`ed25519:…`).
    pub writer: String,
    /// base64 ed25519 signature of [`RemoteEntry::signed_bytes`].
    pub signature: String,
}

impl RemoteEntry {
    /// What the signature covers: every field but the signature, length-prefixed.
    fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut field = |s: &str| {
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        };
        field(SIGNED_CONTEXT);
        field(&self.v.to_string());
        field(&self.key);
        field(&self.fingerprint);
        field(&self.manifest);
        for (name, file) in &self.files {
            field(name);
            field(&file.hash);
            field(&file.size.to_string());
        }
        field(&self.created_ms.to_string());
        field(&self.writer);
        out
    }
}

/// What a remote lookup found.
#[derive(Debug)]
pub enum RemoteLookup {
    Hit(Box<RemoteHit>),
    Miss,
    /// There is an entry, but it is not served: why, for a warning.
    Refused(String),
    /// The remote could not be asked: why.
    Unreachable(String),
}

/// A served remote result.
#[derive(Debug, Clone)]
pub struct RemoteHit {
    pub fingerprint: Fingerprint,
    pub output: StepOutput,
    /// The trusted name of the writer (`trust "NAME" …`).
    pub writer: String,
    pub created_ms: u64,
}

impl RemoteHit {
    /// `remote hit from jenkins-ci at 2026-12-03T18:47:43Z`.
    pub fn describe(&self) -> String {
        describe_origin(&self.writer, self.created_ms)
    }
}

/// `remote hit from WRITER at TIME`.
pub fn describe_origin(writer: &str, created_ms: u64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(created_ms);
    format!(
        "remote hit from {writer} at {}",
        humantime::format_rfc3339_seconds(at)
    )
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// This writer's entry is the remote's now.
    Written,
    /// An entry was there already (another agent's, or an earlier run's): left as is.
    AlreadyThere,
}

/// The remote cache of one project: its object store, the writers it trusts, and this
/// machine's signing key when it may write.
pub struct RemoteCache {
    objects: Arc<dyn ObjectStore>,
    /// Trusted writer name → key.
    trusted: BTreeMap<String, PublicKey>,
    writer: Option<WriterKey>,
    /// Keys refused during this process (a corrupt blob found late): not asked again.
    refused: Mutex<BTreeMap<String, String>>,
}

impl std::fmt::Debug for RemoteCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteCache")
            .field("objects", &self.objects.describe())
            .field("trusted", &self.trusted.keys().collect::<Vec<_>>())
            .field("writes", &self.writer.is_some())
            .finish()
    }
}

impl RemoteCache {
    pub fn new(
        objects: Arc<dyn ObjectStore>,
        trusted: BTreeMap<String, PublicKey>,
        writer: Option<WriterKey>,
    ) -> RemoteCache {
        RemoteCache {
            objects,
            trusted,
            writer,
            refused: Mutex::new(BTreeMap::new()),
        }
    }

    /// `s3://bucket/prefix`.
    pub fn describe(&self) -> String {
        self.objects.describe()
    }

    /// Whether this machine publishes what it builds: it has a signing key.
    pub fn writes(&self) -> bool {
        self.writer.is_some()
    }

    /// The trusted name of this machine's key, when the project trusts it.
    pub fn writer_name(&self) -> Option<&str> {
        let public = self.writer.as_ref()?.public();
        self.trusted
            .iter()
            .find(|(_, k)| **k == public)
            .map(|(name, _)| name.as_str())
    }

    fn blob_key(hash: &str) -> String {
        format!("blobs/{hash}")
    }

    fn entry_key(key: &str) -> String {
        format!("ac/{key}")
    }

    /// A blob, downloaded and checked against its name.
    async fn blob(&self, hash: &str) -> Result<Vec<u8>, Fetch> {
        if !is_hash(hash) {
            return Err(Fetch::Bad(format!("names `{hash}`, not a blob hash")));
        }
        let bytes = match self.objects.get(&Self::blob_key(hash)).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                return Err(Fetch::Bad(format!(
                    "its blob {hash} is missing from the remote"
                )));
            }
            Err(e) => return Err(Fetch::Unreachable(e)),
        };
        let actual = blake3::hash(&bytes).to_hex().to_string();
        if actual != hash {
            return Err(Fetch::Bad(format!(
                "its blob {} does not match its hash (it hashes to {}): corrupt or tampered with",
                crate::text::short_hash(hash),
                crate::text::short_hash(&actual)
            )));
        }
        Ok(bytes)
    }

    /// The result stored under fingerprint hash `key`, checked as the module docs say;
    /// its fingerprint and manifest blobs are put into `store`.
    pub async fn lookup(&self, key: &str, store: &Store) -> RemoteLookup {
        if let Some(why) = self.refused_reason(key) {
            return RemoteLookup::Refused(why);
        }
        let bytes = match self.objects.get(&Self::entry_key(key)).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return RemoteLookup::Miss,
            Err(e) => return RemoteLookup::Unreachable(e),
        };
        let entry: RemoteEntry = match serde_json::from_slice(&bytes) {
            Ok(entry) => entry,
            Err(e) => return RemoteLookup::Refused(format!("its entry is not readable: {e}")),
        };
        let writer = match self.verify(key, &entry) {
            Ok(writer) => writer,
            Err(why) => return RemoteLookup::Refused(why),
        };
        let fetched = async {
            let fp_bytes = self.blob(&entry.fingerprint).await?;
            let manifest_bytes = self.blob(&entry.manifest).await?;
            let fingerprint: Fingerprint = serde_json::from_slice(&fp_bytes)
                .map_err(|e| Fetch::Bad(format!("its fingerprint is not readable: {e}")))?;
            if fingerprint.hash() != key {
                return Err(Fetch::Bad(
                    "its fingerprint is not the one it is filed under".into(),
                ));
            }
            let manifest: serde_json::Value = serde_json::from_slice(&manifest_bytes)
                .map_err(|e| Fetch::Bad(format!("its manifest is not JSON: {e}")))?;
            if canonical_json(&manifest).as_bytes() != manifest_bytes.as_slice() {
                return Err(Fetch::Bad("its manifest is not in canonical form".into()));
            }
            for bytes in [&fp_bytes, &manifest_bytes] {
                store
                    .put_blob(bytes)
                    .map_err(|e| Fetch::Unreachable(format!("the local store: {e}")))?;
            }
            Ok((fingerprint, manifest))
        };
        match fetched.await {
            Ok((fingerprint, manifest)) => RemoteLookup::Hit(Box::new(RemoteHit {
                fingerprint,
                output: StepOutput {
                    manifest,
                    files: entry.files,
                },
                writer,
                created_ms: entry.created_ms,
            })),
            Err(Fetch::Unreachable(e)) => RemoteLookup::Unreachable(e),
            Err(Fetch::Bad(why)) => RemoteLookup::Refused(why),
        }
    }

    /// The entry's writer, when it is trusted and its signature verifies.
    fn verify(&self, key: &str, entry: &RemoteEntry) -> Result<String, String> {
        if entry.v != ENTRY_VERSION {
            return Err(format!(
                "its entry has format {}, this forge reads {ENTRY_VERSION}",
                entry.v
            ));
        }
        if entry.key != key {
            return Err("its entry is filed under another key".into());
        }
        let public = PublicKey::parse(&entry.writer)
            .map_err(|e| format!("its writer key is not readable: {e}"))?;
        let Some((name, _)) = self.trusted.iter().find(|(_, k)| **k == public) else {
            return Err(format!(
                "it is signed by {}, which project.kdl does not trust",
                entry.writer
            ));
        };
        let signature = b64()
            .decode(&entry.signature)
            .ok()
            .and_then(|s| Signature::from_slice(&s).ok())
            .ok_or("its signature is not readable")?;
        public
            .0
            .verify(&entry.signed_bytes(), &signature)
            .map_err(|_| {
                format!("its signature by `{name}` does not verify: the entry was altered after it was signed")
            })?;
        if !std::iter::once(&entry.fingerprint)
            .chain(std::iter::once(&entry.manifest))
            .chain(entry.files.values().map(|f| &f.hash))
            .all(|h| is_hash(h))
        {
            return Err("its entry names a blob that is not a hash".into());
        }
        Ok(name.clone())
    }

    /// Downloads the output files of `output` the local store lacks, checking each
    /// against its hash and size. `step` names the step they belong to in errors.
    pub async fn fetch_files(
        &self,
        key: &str,
        output: &StepOutput,
        store: &Store,
    ) -> Result<u64, String> {
        let mut fetched = 0;
        for (name, file) in &output.files {
            if store.check_blob_size(name, file).is_ok() {
                continue;
            }
            let bytes = match self.blob(&file.hash).await {
                Ok(bytes) => bytes,
                Err(Fetch::Unreachable(e)) => return Err(format!("the remote cache: {e}")),
                Err(Fetch::Bad(why)) => {
                    let why = format!("output file `{name}`: {why}");
                    self.refuse(key, &why);
                    return Err(why);
                }
            };
            if bytes.len() as u64 != file.size {
                let why = format!(
                    "output file `{name}` is {} bytes, its entry says {}",
                    bytes.len(),
                    file.size
                );
                self.refuse(key, &why);
                return Err(why);
            }
            store
                .put_blob(&bytes)
                .map_err(|e| format!("the local store: {e}"))?;
            fetched += bytes.len() as u64;
        }
        Ok(fetched)
    }

    /// Remembers that the entry of `key` must not be served again in this process, and
    /// (through the caller) in later runs.
    fn refuse(&self, key: &str, why: &str) {
        self.refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_owned(), why.to_owned());
    }

    fn refused_reason(&self, key: &str) -> Option<String> {
        self.refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// Uploads a result recorded in `store` under `fingerprint`: its blobs, each only if
    /// absent, then its signed entry, only if there is none. Needs a signing key.
    pub async fn publish(
        &self,
        fingerprint: &Fingerprint,
        output: &StepOutput,
        store: &Store,
    ) -> Result<Published, String> {
        let Some(writer) = &self.writer else {
            return Err("no signing key: this machine only reads the remote cache".into());
        };
        let key = fingerprint.hash();
        if self
            .objects
            .exists(&Self::entry_key(&key))
            .await
            .map_err(|e| format!("the remote cache: {e}"))?
        {
            return Ok(Published::AlreadyThere);
        }
        let fp_bytes = serde_json::to_vec(fingerprint).map_err(|e| e.to_string())?;
        let manifest_bytes = canonical_json(&output.manifest).into_bytes();
        let fp_hash = blake3::hash(&fp_bytes).to_hex().to_string();
        let manifest_hash = blake3::hash(&manifest_bytes).to_hex().to_string();
        self.upload_blob(&fp_hash, fp_bytes).await?;
        self.upload_blob(&manifest_hash, manifest_bytes).await?;
        for (name, file) in &output.files {
            let key = Self::blob_key(&file.hash);
            if self
                .objects
                .exists(&key)
                .await
                .map_err(|e| format!("the remote cache: {e}"))?
            {
                continue;
            }
            let bytes = store
                .get_blob(&file.hash)
                .map_err(|e| format!("output file `{name}`: {e}"))?
                .ok_or_else(|| format!("output file `{name}` is not in the local store"))?;
            self.upload_blob(&file.hash, bytes).await?;
        }
        let mut entry = RemoteEntry {
            v: ENTRY_VERSION,
            key: key.clone(),
            fingerprint: fp_hash,
            manifest: manifest_hash,
            files: output.files.clone(),
            created_ms: crate::store::now_ms(),
            writer: writer.public().encode(),
            signature: String::new(),
        };
        entry.signature = b64().encode(writer.0.sign(&entry.signed_bytes()).to_bytes());
        let body = serde_json::to_vec_pretty(&entry).map_err(|e| e.to_string())?;
        match self
            .objects
            .put_if_absent(&Self::entry_key(&key), body)
            .await
        {
            Ok(true) => Ok(Published::Written),
            Ok(false) => Ok(Published::AlreadyThere),
            Err(e) => Err(format!("the remote cache: {e}")),
        }
    }

    async fn upload_blob(&self, hash: &str, bytes: Vec<u8>) -> Result<(), String> {
        self.objects
            .put_if_absent(&Self::blob_key(hash), bytes)
            .await
            .map(drop)
            .map_err(|e| format!("the remote cache: {e}"))
    }
}

enum Fetch {
    Unreachable(String),
    Bad(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::MemoryObjects as Memory;

    #[test]
    fn keys_round_trip_and_bad_ones_say_why() {
        let key = WriterKey::generate().expect("a key");
        let again = WriterKey::parse(&key.encode()).expect("parses");
        assert_eq!(again.public(), key.public());
        assert_eq!(
            PublicKey::parse(&key.public().encode()).expect("parses"),
            key.public()
        );
        assert!(
            PublicKey::parse("rsa:AAAA")
                .expect_err("refused")
                .contains("starts with `ed25519:`")
        );
        assert!(
            PublicKey::parse("ed25519:AAAA")
                .expect_err("refused")
                .contains("3 bytes, an ed25519 key has 32")
        );
        assert!(
            WriterKey::parse("secret")
                .expect_err("refused")
                .contains("keygen")
        );
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    }

    #[test]
    fn a_signed_entry_is_served_and_an_altered_or_untrusted_one_is_not() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        let objects = Arc::new(Memory::default());
        let key = WriterKey::generate().expect("key");
        let trusted = BTreeMap::from([("ci".to_owned(), key.public())]);
        let writer = RemoteCache::new(objects.clone(), trusted.clone(), Some(key));
        let fp = Fingerprint::new("s");
        let bytes = b"an output file".to_vec();
        let file = OutputFile::of(&bytes);
        store.put_blob(&bytes).expect("blob");
        let output = StepOutput {
            manifest: serde_json::json!({"b": 1, "a": [true]}),
            files: BTreeMap::from([("out".to_owned(), file.clone())]),
        };
        let rt = runtime();
        assert_eq!(
            rt.block_on(writer.publish(&fp, &output, &store)),
            Ok(Published::Written)
        );
        // Published once: the second writer finds it.
        assert_eq!(
            rt.block_on(writer.publish(&fp, &output, &store)),
            Ok(Published::AlreadyThere)
        );

        let reader_dir = tempfile::tempdir().expect("dir");
        let reader_store = Store::open(reader_dir.path()).expect("store");
        let reader = RemoteCache::new(objects.clone(), trusted, None);
        let RemoteLookup::Hit(hit) = rt.block_on(reader.lookup(&fp.hash(), &reader_store)) else {
            panic!("not a hit")
        };
        assert_eq!(hit.writer, "ci");
        assert_eq!(hit.output, output);
        assert_eq!(
            rt.block_on(reader.fetch_files(&fp.hash(), &hit.output, &reader_store)),
            Ok(bytes.len() as u64)
        );
        assert_eq!(
            reader_store.get_blob(&file.hash).expect("read"),
            Some(bytes)
        );

        // Another writer's key: refused, naming it.
        let stranger = WriterKey::generate().expect("key");
        let untrusting = RemoteCache::new(
            objects.clone(),
            BTreeMap::from([("other".to_owned(), stranger.public())]),
            None,
        );
        let RemoteLookup::Refused(why) = rt.block_on(untrusting.lookup(&fp.hash(), &reader_store))
        else {
            panic!("served an untrusted entry")
        };
        assert!(why.contains("which project.kdl does not trust"), "{why}");

        // An entry altered after signing (its creation time, say): refused.
        let entry_key = format!("ac/{}", fp.hash());
        let mut entry: RemoteEntry =
            serde_json::from_slice(&objects.object(&entry_key).expect("the entry")).expect("entry");
        entry.created_ms += 1;
        objects.replace(&entry_key, serde_json::to_vec(&entry).expect("json"));
        let RemoteLookup::Refused(why) = rt.block_on(reader.lookup(&fp.hash(), &reader_store))
        else {
            panic!("served an altered entry")
        };
        assert!(why.contains("does not verify"), "{why}");
    }
}
