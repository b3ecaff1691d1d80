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

// The `forge-toolchain` custom section: which toolchain built a component, written by
// `forge plugin build` and read wherever a pin is checked, so that a hash that no longer
// matches its pin can say which toolchain made the file. A different rustc, or std
// prebuilt instead of built from source, gives different bytes for the same sources. The
// text names versions and how std was built, never a path, so two machines with the same
// toolchain write the same section and the build stays reproducible.

/// The custom section's name.
pub const TOOLCHAIN_SECTION: &str = "forge-toolchain";

/// `bytes` (a component) with a `forge-toolchain` custom section holding `text` appended.
pub fn append_toolchain(mut bytes: Vec<u8>, text: &str) -> Vec<u8> {
    let mut payload = Vec::new();
    leb128(&mut payload, TOOLCHAIN_SECTION.len() as u64);
    payload.extend_from_slice(TOOLCHAIN_SECTION.as_bytes());
    payload.extend_from_slice(text.as_bytes());
    bytes.push(0); // custom section
    leb128(&mut bytes, payload.len() as u64);
    bytes.extend_from_slice(&payload);
    bytes
}

/// The text of the component's `forge-toolchain` section, if it has one (the last one, if
/// several). Reads only the top-level section frames.
pub fn toolchain_of(bytes: &[u8]) -> Option<String> {
    let mut at = 8; // magic and version/layer
    let mut found = None;
    while at < bytes.len() {
        let id = bytes[at];
        at += 1;
        let (size, used) = read_leb128(bytes.get(at..)?)?;
        at += used;
        let end = at.checked_add(usize::try_from(size).ok()?)?;
        let section = bytes.get(at..end)?;
        if id == 0 {
            let (len, used) = read_leb128(section)?;
            let name_end = used.checked_add(usize::try_from(len).ok()?)?;
            if section.get(used..name_end)? == TOOLCHAIN_SECTION.as_bytes() {
                found = Some(String::from_utf8_lossy(&section[name_end..]).into_owned());
            }
        }
        at = end;
    }
    found
}

fn leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn read_leb128(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
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
