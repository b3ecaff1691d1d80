//! Plugin pins: a third-party plugin is referenced by path *and* the blake3 hash of its
//! file, written `blake3:<64 hex digits>` (what `b3sum` prints, with the prefix). One
//! definition serves the project model (checked at load), the host (checked on the bytes
//! it is about to compile) and the authoring tools (printed by `forge plugin build`).

/// The prefix of every plugin hash.
pub const HASH_PREFIX: &str = "blake3:";

/// The pin of `bytes`: `blake3:<lowercase hex>`.
pub fn hash_bytes(bytes: &[u8]) -> String {
    format_hash(&blake3::hash(bytes))
}

/// The pin of a hash computed elsewhere (a streaming hasher over a file).
pub fn format_hash(hash: &blake3::Hash) -> String {
    format!("{HASH_PREFIX}{}", hash.to_hex())
}

/// Whether `pin` is spelled as `project.kdl` requires: `blake3:` and 64 lowercase hex
/// digits.
pub fn well_formed(pin: &str) -> bool {
    pin.strip_prefix(HASH_PREFIX).is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Whether the pin `expected` (hex digits in either case, surrounding blanks ignored)
/// names the hash `actual` (as [`hash_bytes`] spells it).
pub fn matches(actual: &str, expected: &str) -> bool {
    actual.eq_ignore_ascii_case(expected.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_matches_its_bytes_in_either_case() {
        let pin = hash_bytes(b"component");
        assert!(well_formed(&pin));
        assert!(matches(
            &pin,
            &pin.to_ascii_uppercase().replace("BLAKE3", "blake3")
        ));
        assert!(matches(&pin, &format!(" {pin}\n")));
        assert!(!matches(&pin, &hash_bytes(b"another component")));
    }

    #[test]
    fn well_formed_pins() {
        // b3sum of the empty input.
        let empty = "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
        assert_eq!(hash_bytes(b""), empty);
        assert!(!well_formed(&empty.to_uppercase()));
        assert!(!well_formed(&empty[..empty.len() - 1]));
        assert!(!well_formed(empty.trim_start_matches(HASH_PREFIX)));
        assert!(!well_formed(&empty.replace("blake3:", "sha256:")));
    }
}
