//! The action cache: fingerprint hash → (fingerprint blob, manifest blob, output files).
//!
//! An entry's file name is the fingerprint hash, not a hash of its content, so the content
//! carries its own checksum: blake3 (derive-key mode, [`ENTRY_CONTEXT`]) over the key and
//! every field. An entry moved, truncated or edited fails the check and is a miss.
//!
//! An entry names every blob its step's result needs: the fingerprint (for `explain`),
//! the manifest and each output file. Whatever keeps an entry (gc) keeps those blobs, and
//! a lookup is a hit only while all of them are there: a step whose output file is gone
//! runs again and puts it back, instead of a cached result that fails downstream.

use std::collections::BTreeMap;
use std::fs;
use std::io;

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, atomic, io_err, is_hash};
use crate::executor::{OutputFile, StepOutput, output_hash};
use crate::fingerprint::Fingerprint;

const ENTRY_CONTEXT: &str = "forge 2026-12 action cache entry";
const ENTRY_VERSION: u32 = 2;

/// A cached step result.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionEntry {
    /// [`Fingerprint::hash`] of the inputs: the entry's key.
    pub key: String,
    /// Hash of the fingerprint blob (the full fingerprint as JSON, for `forge explain`).
    pub fingerprint: String,
    /// [`StepOutput::hash`]: what downstream fingerprints record as `upstream`.
    pub output: String,
    /// Hash of the manifest blob (the manifest's canonical JSON).
    pub manifest_blob: String,
    /// When the entry was written, milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// The result: manifest (read and verified) and output files (present in the store).
    pub result: StepOutput,
}

/// What [`Store::lookup`] found.
#[derive(Debug)]
pub enum Lookup {
    Hit(ActionEntry),
    Miss,
    /// The entry, its manifest or one of its output files is damaged or missing. Report it,
    /// then treat it as a miss: the step reruns and its new result replaces the entry.
    Corrupt(StoreError),
}

/// The on-disk form of an entry; what `gc` and `verify` read of it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct EntryFile {
    v: u32,
    key: String,
    pub(crate) fingerprint: String,
    /// Hash of the manifest blob (its canonical JSON).
    pub(crate) manifest: String,
    pub(crate) files: BTreeMap<String, OutputFile>,
    pub(crate) created_ms: u64,
    check: String,
}

impl EntryFile {
    fn checksum(&self) -> String {
        let mut h = blake3::Hasher::new_derive_key(ENTRY_CONTEXT);
        let mut field = |s: &str| {
            h.update(&(s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        field(&self.key);
        field(&self.fingerprint);
        field(&self.manifest);
        for (name, file) in &self.files {
            field(name);
            field(&file.hash);
            field(&file.size.to_string());
        }
        h.update(&self.v.to_le_bytes());
        h.update(&self.created_ms.to_le_bytes());
        h.finalize().to_hex().to_string()
    }

    /// Every blob the entry needs, fingerprint first.
    pub(crate) fn blobs(&self) -> impl Iterator<Item = &str> {
        [self.fingerprint.as_str(), self.manifest.as_str()]
            .into_iter()
            .chain(self.files.values().map(|f| f.hash.as_str()))
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
    /// entry that ties them and the output files to the fingerprint hash (written last, so
    /// a reader that sees it finds every blob). Taking a [`StepOutput`] means a failure
    /// cannot be recorded: only an executor's success produces one. The output files'
    /// blobs must already be stored (the executor puts them); one that is not is refused
    /// rather than recorded as an entry that could never be served.
    pub fn record(&self, fp: &Fingerprint, output: &StepOutput) -> Result<ActionEntry, StoreError> {
        for (name, file) in &output.files {
            self.check_blob_size(name, file)?;
        }
        let fp_json = serde_json::to_vec(fp).map_err(|e| StoreError::Decode {
            path: self.path("cas"),
            message: e.to_string(),
        })?;
        let fingerprint = self.put_blob(&fp_json)?;
        let manifest = self.put_blob(canonical_json(&output.manifest).as_bytes())?;
        let key = fp.hash();
        let mut file = EntryFile {
            v: ENTRY_VERSION,
            key: key.clone(),
            fingerprint: fingerprint.clone(),
            manifest: manifest.clone(),
            files: output.files.clone(),
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
            output: output_hash(&manifest, &output.files),
            manifest_blob: manifest,
            created_ms: file.created_ms,
            result: output.clone(),
        })
    }

    /// The cached result for a fingerprint hash: its manifest read and verified, and every
    /// output file's blob present with its recorded size. (Their contents are re-hashed
    /// when read, and by `forge cache verify`; hashing gigabytes of image layers on every
    /// cached step would cost the no-op path what caching saves.)
    pub fn lookup(&self, fingerprint_hash: &str) -> Lookup {
        let file = match self.read_entry(fingerprint_hash) {
            Ok(None) => return Lookup::Miss,
            Err(e) => return Lookup::Corrupt(e),
            Ok(Some(file)) => file,
        };
        let manifest = match self.manifest(&file.manifest) {
            Ok(Some(manifest)) => manifest,
            Ok(None) => {
                return Lookup::Corrupt(StoreError::Corrupt {
                    path: self.blob_path(&file.manifest).unwrap_or_default(),
                    expected: format!("output manifest {}", file.manifest),
                    actual: "no such blob".into(),
                });
            }
            Err(e) => return Lookup::Corrupt(e),
        };
        for (name, out) in &file.files {
            if let Err(e) = self.check_blob_size(name, out) {
                return Lookup::Corrupt(e);
            }
        }
        Lookup::Hit(ActionEntry {
            output: output_hash(&file.manifest, &file.files),
            manifest_blob: file.manifest,
            key: file.key,
            fingerprint: file.fingerprint,
            created_ms: file.created_ms,
            result: StepOutput {
                manifest,
                files: file.files,
            },
        })
    }

    /// Whether output file `name`'s blob is in the store with its recorded size.
    pub(crate) fn check_blob_size(&self, name: &str, file: &OutputFile) -> Result<(), StoreError> {
        let path = self.blob_path(&file.hash)?;
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.len() == file.size => Ok(()),
            Ok(meta) => Err(StoreError::Corrupt {
                path,
                expected: format!("output file `{name}` of {} bytes", file.size),
                actual: format!("{} bytes", meta.len()),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::Corrupt {
                path,
                expected: format!("output file `{name}`"),
                actual: "no such blob".into(),
            }),
            Err(source) => Err(StoreError::Io { path, source }),
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
        if !file.blobs().all(is_hash) {
            return Err(StoreError::Decode {
                path,
                message: "entry names a blob that is not a blake3 hash".into(),
            });
        }
        Ok(Some(file))
    }

    /// An action entry, its checksum verified: the blobs it names.
    pub(crate) fn entry_refs(&self, key: &str) -> Result<Option<EntryFile>, StoreError> {
        self.read_entry(key)
    }

    /// The fingerprint stored under a blob hash (as in [`ActionEntry::fingerprint`]).
    pub fn fingerprint(&self, blob: &str) -> Result<Option<Fingerprint>, StoreError> {
        self.json_blob(blob)
    }

    /// The output manifest stored under a blob hash.
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
