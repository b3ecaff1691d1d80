//! Pinning: a third-party plugin is referenced by path *and* the blake3 hash of the file,
//! so a rebuilt or swapped `.wasm` is an error, never a silent reload.
//!
//! The hash is written `blake3:<64 lowercase hex digits>`, the same as `b3sum` prints
//! (without the prefix), and is what `project.kdl`'s `hash=` holds.

use std::io::Read;
use std::path::{Path, PathBuf};

use miette::Diagnostic;
use thiserror::Error;

pub use forge_contract::pin::{HASH_PREFIX, hash_bytes};

#[derive(Debug, Error, Diagnostic)]
pub enum PinError {
    #[error(
        "plugin {} does not match its pin\n  pinned: {expected}\n  actual: {actual}",
        path.display()
    )]
    #[diagnostic(
        code(forge::plugin::pin_mismatch),
        help(
            "if you rebuilt the plugin on purpose, update hash= to \"{actual}\" in project.kdl; \
             otherwise the file was changed or replaced: rebuild it from the source you trust \
             (`forge plugin build`) and compare"
        )
    )]
    Mismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    #[error("cannot read plugin {}", path.display())]
    #[diagnostic(
        code(forge::plugin::pin_read),
        help("check the plugin's path= in project.kdl (relative to project.kdl)")
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `blake3:<hex>` of the file at `path`, read in chunks (plugins can be megabytes).
pub fn hash_file(path: &Path) -> Result<String, PinError> {
    let read_err = |source| PinError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(read_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(forge_contract::pin::format_hash(&hasher.finalize()))
}

/// Checks that the file at `path` hashes to `expected` (`blake3:<hex>`; the hex digits
/// are compared case-insensitively, the way `project.kdl` validation accepts them).
pub fn verify_pin(path: &Path, expected: &str) -> Result<(), PinError> {
    let actual = hash_file(path)?;
    verify_bytes_hash(path, &actual, expected)
}

/// [`verify_pin`] for bytes already in memory (the host reads the file once, hashes it and
/// compiles the same bytes, so nothing can change between check and use).
pub fn verify_pin_bytes(path: &Path, bytes: &[u8], expected: &str) -> Result<(), PinError> {
    verify_bytes_hash(path, &hash_bytes(bytes), expected)
}

fn verify_bytes_hash(path: &Path, actual: &str, expected: &str) -> Result<(), PinError> {
    if forge_contract::pin::matches(actual, expected) {
        return Ok(());
    }
    Err(PinError::Mismatch {
        path: path.to_path_buf(),
        expected: expected.to_owned(),
        actual: actual.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_b3sum_with_a_prefix() {
        // b3sum of the empty input.
        assert_eq!(
            hash_bytes(b""),
            "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn file_and_bytes_hash_agree_and_pins_verify() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.wasm");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).expect("write");
        let hash = hash_file(&path).expect("hash");
        assert_eq!(hash, hash_bytes(&bytes));
        verify_pin(&path, &hash).expect("own hash verifies");
        verify_pin(&path, &hash.to_uppercase().replace("BLAKE3:", "blake3:"))
            .expect("hex case does not matter");
        verify_pin_bytes(&path, &bytes, &hash).expect("bytes verify");
    }

    #[test]
    fn mismatch_shows_both_hashes_and_the_fix() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.wasm");
        std::fs::write(&path, b"rebuilt").expect("write");
        let pinned = hash_bytes(b"original");
        let err = verify_pin(&path, &pinned).expect_err("different bytes");
        let actual = hash_bytes(b"rebuilt");
        let message = err.to_string();
        assert!(
            message.contains(&pinned) && message.contains(&actual),
            "{message}"
        );
        let help = miette::Diagnostic::help(&err).map(|h| h.to_string());
        assert!(
            help.is_some_and(|h| h.contains(&format!("update hash= to \"{actual}\""))),
            "help names the new hash"
        );
    }

    #[test]
    fn a_missing_file_is_a_read_error() {
        let err = verify_pin(Path::new("/nonexistent/p.wasm"), "blake3:00").expect_err("no file");
        assert!(matches!(err, PinError::Read { .. }));
    }
}
