//! Plugin pins: a third-party plugin is referenced by path *and* the blake3 hash of its
//! file, written `blake3:<64 hex digits>` (what `b3sum` prints, with the prefix). One
//! definition serves the project model (checked at load), the host (checked on the bytes
//! it is about to compile) and the authoring tools (printed by `forge plugin build`).

/// The prefix of every plugin hash.
pub const HASH_PREFIX: &str = "blake3:";

/// The pin of `bytes`: `blake3:<lowercase hex>`.
pub fn hash_bytes(bytes: &[u8]) -> String {
    format!("{HASH_PREFIX}{}", blake3::hash(bytes).to_hex())
}

/// Whether the pin `expected` (as written in `project.kdl`: hex digits in either case,
/// surrounding blanks ignored) names the hash `actual` (as [`hash_bytes`] spells it).
pub fn matches(actual: &str, expected: &str) -> bool {
    actual.eq_ignore_ascii_case(expected.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_matches_its_bytes_in_either_case() {
        let pin = hash_bytes(b"component");
        assert!(pin.starts_with(HASH_PREFIX) && pin.len() == HASH_PREFIX.len() + 64);
        assert!(matches(
            &pin,
            &pin.to_ascii_uppercase().replace("BLAKE3", "blake3")
        ));
        assert!(matches(&pin, &format!(" {pin}\n")));
        assert!(!matches(&pin, &hash_bytes(b"another component")));
    }
}
