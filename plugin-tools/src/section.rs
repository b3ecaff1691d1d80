//! The `forge-toolchain` custom section: which toolchain built a component, recorded by
//! `forge plugin build` and shown by `forge plugin inspect`. A different rustc, or std
//! prebuilt instead of built from source, gives different bytes for the same sources; the
//! section lets a hash that no longer matches its pin say why.
//!
//! The text names versions and how std was built, never a path, so two machines with the
//! same toolchain write the same section and the build stays reproducible.

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
    fn a_recorded_toolchain_reads_back_and_the_component_stays_valid() {
        let component = crate::testing::step_component(crate::CONTRACT_VERSION, &["log"], "");
        assert_eq!(toolchain_of(&component), None);
        let text =
            "rustc 1.96.0 (ac68faa20 2026-05-25); std built from source (-Zbuild-std), wasm-ld-22";
        let recorded = append_toolchain(component.clone(), text);
        assert_eq!(toolchain_of(&recorded).as_deref(), Some(text));
        // Still a component forge accepts, with the same imports.
        let before = crate::inspect::inspect_bytes("a.wasm".as_ref(), &component).expect("before");
        let after = crate::inspect::inspect_bytes("a.wasm".as_ref(), &recorded).expect("after");
        assert_eq!(before.imports, after.imports);
        assert_eq!(after.toolchain.as_deref(), Some(text));
        // A long text needs a multi-byte size.
        let long = "x".repeat(300);
        assert_eq!(
            toolchain_of(&append_toolchain(component, &long)).as_deref(),
            Some(long.as_str())
        );
    }

    #[test]
    fn truncated_bytes_are_no_section_not_a_panic() {
        let component = crate::testing::step_component(crate::CONTRACT_VERSION, &["log"], "");
        let recorded = append_toolchain(component, "rustc 1.95.0");
        for cut in [9, recorded.len() / 2, recorded.len() - 3] {
            let _ = toolchain_of(&recorded[..cut]);
        }
    }
}
