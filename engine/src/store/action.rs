//! The action cache: fingerprint hash → (fingerprint blob, output manifest blob).
//!
//! An entry's file name is the fingerprint hash, not a hash of its content, so the content
//! carries its own checksum: blake3 (derive-key mode, [`ENTRY_CONTEXT`]) over the key and
//! every field. An entry moved, truncated or edited fails the check and is a miss.

use std::fs;
use std::io;

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, atomic, io_err, is_hash};
use crate::executor::StepOutput;
use crate::fingerprint::Fingerprint;

const ENTRY_CONTEXT: &str = "forge 2026-11 action cache entry";
const ENTRY_VERSION: u32 = 1;

/// A cached step result.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionEntry {
    /// [`Fingerprint::hash`] of the inputs: the entry's key.
    pub key: String,
    /// Hash of the fingerprint blob (the full fingerprint as JSON, for `forge explain`).
    pub fingerprint: String,
    /// Hash of the output manifest blob: what downstream fingerprints record as `upstream`.
    pub output: String,
    /// When the entry was written, milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// The output manifest, read and verified.
    pub manifest: serde_json::Value,
}

/// What [`Store::lookup`] found.
#[derive(Debug)]
pub enum Lookup {
    Hit(ActionEntry),
    Miss,
    /// The entry (or the manifest it names) is damaged or missing. Report it, then treat it
    /// as a miss: the step reruns and its new result replaces the entry.
    Corrupt(StoreError),
}

/// The on-disk form of an entry.
#[derive(Debug, Serialize, Deserialize)]
struct EntryFile {
    v: u32,
    key: String,
    fingerprint: String,
    output: String,
    created_ms: u64,
    check: String,
}

impl EntryFile {
    fn checksum(&self) -> String {
        let mut h = blake3::Hasher::new_derive_key(ENTRY_CONTEXT);
        h.update(&self.v.to_le_bytes());
        for s in [&self.key, &self.fingerprint, &self.output] {
            h.update(&(s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
        h.update(&self.created_ms.to_le_bytes());
        h.finalize().to_hex().to_string()
    }
}

/// Serializes a JSON value canonically: object keys sorted, no whitespace. The output hash
/// of a step is the blake3 of this, so it must not depend on how the plugin built its map.
pub fn canonical_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        leaf => out.push_str(&leaf.to_string()),
    }
}

impl Store {
    /// Records a successful step: the fingerprint and manifest as blobs, then the action
    /// entry that ties them to the fingerprint hash (written last, so a reader that sees it
    /// finds both blobs). Taking a [`StepOutput`] means a failure cannot be recorded: only
    /// an executor's success produces one.
    pub fn record(&self, fp: &Fingerprint, output: &StepOutput) -> Result<ActionEntry, StoreError> {
        let fp_json = serde_json::to_vec(fp).map_err(|e| StoreError::Decode {
            path: self.path("cas"),
            message: e.to_string(),
        })?;
        let fingerprint = self.put_blob(&fp_json)?;
        let output_hash = self.put_blob(canonical_json(&output.manifest).as_bytes())?;
        let key = fp.hash();
        let mut file = EntryFile {
            v: ENTRY_VERSION,
            key: key.clone(),
            fingerprint: fingerprint.clone(),
            output: output_hash.clone(),
            created_ms: super::now_ms(),
            check: String::new(),
        };
        file.check = file.checksum();
        let path = self.entry_path(&key)?;
        let bytes = serde_json::to_vec(&file).map_err(|e| StoreError::Decode {
            path: path.clone(),
            message: e.to_string(),
        })?;
        atomic::write_atomic(&self.tmp_dir(), &path, &bytes).map_err(io_err(&path))?;
        Ok(ActionEntry {
            key,
            fingerprint,
            output: output_hash,
            created_ms: file.created_ms,
            manifest: output.manifest.clone(),
        })
    }

    /// The cached result for a fingerprint hash, with its manifest read and verified.
    pub fn lookup(&self, fingerprint_hash: &str) -> Lookup {
        match self.read_entry(fingerprint_hash) {
            Ok(None) => Lookup::Miss,
            Err(e) => Lookup::Corrupt(e),
            Ok(Some(file)) => match self.manifest(&file.output) {
                Ok(Some(manifest)) => Lookup::Hit(ActionEntry {
                    key: file.key,
                    fingerprint: file.fingerprint,
                    output: file.output,
                    created_ms: file.created_ms,
                    manifest,
                }),
                Ok(None) => Lookup::Corrupt(StoreError::Corrupt {
                    path: self.blob_path(&file.output).unwrap_or_default(),
                    expected: format!("output manifest {}", file.output),
                    actual: "no such blob".into(),
                }),
                Err(e) => Lookup::Corrupt(e),
            },
        }
    }

    /// Reads and checks an action entry; `None` if there is none.
    fn read_entry(&self, key: &str) -> Result<Option<EntryFile>, StoreError> {
        let path = self.entry_path(key)?;
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StoreError::Io { path, source }),
        };
        let file: EntryFile = serde_json::from_slice(&bytes).map_err(|e| StoreError::Decode {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let actual = file.checksum();
        if file.v != ENTRY_VERSION || file.check != actual || file.key != key {
            return Err(StoreError::Corrupt {
                path,
                expected: file.check,
                actual,
            });
        }
        if !is_hash(&file.fingerprint) || !is_hash(&file.output) {
            return Err(StoreError::Decode {
                path,
                message: "entry names a blob that is not a blake3 hash".into(),
            });
        }
        Ok(Some(file))
    }

    /// The blob hashes an action entry names, verified: `(fingerprint blob, output blob)`.
    pub(crate) fn entry_refs(&self, key: &str) -> Result<Option<(String, String)>, StoreError> {
        Ok(self.read_entry(key)?.map(|f| (f.fingerprint, f.output)))
    }

    /// The fingerprint stored under a blob hash (as in [`ActionEntry::fingerprint`]).
    pub fn fingerprint(&self, blob: &str) -> Result<Option<Fingerprint>, StoreError> {
        self.json_blob(blob)
    }

    /// The output manifest stored under a blob hash (as in [`ActionEntry::output`]).
    pub fn manifest(&self, blob: &str) -> Result<Option<serde_json::Value>, StoreError> {
        self.json_blob(blob)
    }

    fn json_blob<T: serde::de::DeserializeOwned>(
        &self,
        blob: &str,
    ) -> Result<Option<T>, StoreError> {
        let Some(bytes) = self.get_blob(blob)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Decode {
                path: self.blob_path(blob).unwrap_or_default(),
                message: e.to_string(),
            })
    }

    /// The fingerprint recorded under a fingerprint *hash* (for `forge explain`): follows
    /// the action entry to its fingerprint blob.
    pub fn fingerprint_by_key(&self, key: &str) -> Result<Option<Fingerprint>, StoreError> {
        match self.read_entry(key)? {
            Some(file) => self.fingerprint(&file.fingerprint),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = serde_json::json!({"b": 1, "a": {"z": [1, {"y": 2, "x": "é\n"}], "c": null}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":null,"z":[1,{"x":"é\n","y":2}]},"b":1}"#
        );
    }
}
