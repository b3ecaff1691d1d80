//! The `forge-toolchain` custom section that `forge plugin build` records and `forge plugin
//! inspect` shows: defined once in [`forge_contract::pin`], where the project model and the
//! host read it too.

pub use forge_contract::pin::{TOOLCHAIN_SECTION, append_toolchain, toolchain_of};

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
