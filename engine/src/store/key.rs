//! The store's secret key: 32 random bytes in `<dir>/v2/key`, made on first use, readable
//! only by its owner, never copied anywhere else (not into fingerprints, history, logs or
//! other machines' stores).
//!
//! Fingerprints keep a hash of each declared env var's value, never the value. A plain
//! hash of a short secret (a token, a password) can be guessed offline by whoever reads the
//! store; a hash keyed by a secret only this machine has cannot. The price: the same value
//! hashes differently in two stores, so steps that declare env vars are cached per store.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Store, StoreError, io_err};

/// blake3 key-derivation context for env var values: the store key is never used raw.
const ENV_VALUE_CONTEXT: &str = "forge 2026-12 env var value";

/// A store's secret key.
#[derive(Clone)]
pub struct StoreKey([u8; 32]);

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

impl StoreKey {
    /// A key from fixed bytes (tests, embedders with a key of their own).
    pub fn from_bytes(bytes: [u8; 32]) -> StoreKey {
        StoreKey(bytes)
    }

    /// The hash a fingerprint keeps of an env var's value.
    pub fn env_value_hash(&self, value: &str) -> String {
        let key = blake3::derive_key(ENV_VALUE_CONTEXT, &self.0);
        blake3::keyed_hash(&key, value.as_bytes())
            .to_hex()
            .to_string()
    }
}

impl Store {
    /// This store's key, made (from the OS's random source) the first time it is asked for.
    /// Two processes making it at once agree: the file is created exclusively, and the
    /// loser reads the winner's.
    pub fn key(&self) -> Result<StoreKey, StoreError> {
        let path = self.path("key");
        if let Some(key) = read_key(&path)? {
            return Ok(key);
        }
        let mut bytes = [0u8; 32];
        fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .map_err(io_err(Path::new("/dev/urandom")))?;
        // Written whole to a temp file, then linked into place: a reader never sees a
        // partial key, and `hard_link` fails if another process got there first.
        static MADE: AtomicU64 = AtomicU64::new(0);
        let tmp = self.tmp_dir().join(format!(
            "key-{}-{}",
            std::process::id(),
            MADE.fetch_add(1, Ordering::Relaxed)
        ));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options
            .open(&tmp)
            .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()));
        written.map_err(io_err(&tmp))?;
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(StoreKey(bytes)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                read_key(&path)?.ok_or_else(|| StoreError::Decode {
                    path,
                    message: "the store key vanished while it was being made".into(),
                })
            }
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }
}

fn read_key(path: &Path) -> Result<Option<StoreKey>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => <[u8; 32]>::try_from(bytes.as_slice())
            .map(|b| Some(StoreKey(b)))
            .map_err(|_| StoreError::Decode {
                path: path.to_path_buf(),
                message: format!(
                    "the store key must be 32 bytes, found {}; delete it to make a new one (steps that declare env vars then run again)",
                    bytes.len()
                ),
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_kept_private_and_keyed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let a = store.key().expect("key");
        let b = Store::open(dir.path()).expect("open").key().expect("key");
        assert_eq!(a.0, b.0, "the key is made once");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(store.path("key"))
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the key is readable by its owner only");
        }
        let other = Store::open(tempfile::tempdir().expect("tempdir").path())
            .expect("open")
            .key()
            .expect("key");
        let secret = "hunter2";
        assert_ne!(a.env_value_hash(secret), other.env_value_hash(secret));
        assert_ne!(
            a.env_value_hash(secret),
            blake3::hash(secret.as_bytes()).to_hex().to_string()
        );
        assert_eq!(a.env_value_hash(secret), b.env_value_hash(secret));
    }
}
