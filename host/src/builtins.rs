//! Built-in plugins: components embedded in the forge binary, by name.
//!
//! [`Builtins::embedded`] is the set compiled into this build (filled from `plugins/dist/`
//! by the forge binary; empty until then). Hashes are computed on first use, so building
//! the registry costs nothing on the no-op path where no plugin runs.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use crate::host::PluginCode;

/// Components this build embeds: (plugin name, component bytes).
const EMBEDDED: &[(&str, &[u8])] = &[];

#[derive(Debug)]
struct Entry {
    bytes: Cow<'static, [u8]>,
    code: OnceLock<PluginCode>,
}

/// Name → component registry of built-in plugins.
#[derive(Debug, Default, Clone)]
pub struct Builtins {
    entries: Arc<BTreeMap<String, Entry>>,
}

impl Builtins {
    /// The built-ins embedded in this forge binary.
    pub fn embedded() -> Builtins {
        Builtins::from_static(EMBEDDED)
    }

    /// A registry over `'static` component bytes (what `include_bytes!` gives).
    pub fn from_static(entries: &[(&str, &'static [u8])]) -> Builtins {
        Builtins::build(
            entries
                .iter()
                .map(|(name, bytes)| ((*name).to_owned(), Cow::Borrowed(*bytes))),
        )
    }

    /// A registry over owned bytes (tests, or components loaded at runtime).
    pub fn from_map(map: BTreeMap<String, Vec<u8>>) -> Builtins {
        Builtins::build(map.into_iter().map(|(n, b)| (n, Cow::Owned(b))))
    }

    fn build(entries: impl Iterator<Item = (String, Cow<'static, [u8]>)>) -> Builtins {
        Builtins {
            entries: Arc::new(
                entries
                    .map(|(name, bytes)| {
                        (
                            name,
                            Entry {
                                bytes,
                                code: OnceLock::new(),
                            },
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// Names of the built-ins, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The component of built-in `name`, with its hash.
    pub fn get(&self, name: &str) -> Option<PluginCode> {
        let entry = self.entries.get(name)?;
        Some(
            entry
                .code
                .get_or_init(|| PluginCode::new(name, entry.bytes.as_ref()))
                .clone(),
        )
    }

    /// `blake3:<hex>` of built-in `name`: its identity in fingerprints.
    pub fn hash(&self, name: &str) -> Option<String> {
        self.get(name).map(|c| format!("blake3:{}", c.hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_hashes_lazily_and_by_content() {
        assert_eq!(Builtins::embedded().names().count(), 0);
        let b = Builtins::from_map(BTreeMap::from([("x".to_owned(), b"abc".to_vec())]));
        assert_eq!(
            b.hash("x").as_deref(),
            Some(format!("blake3:{}", blake3::hash(b"abc").to_hex()).as_str())
        );
        assert!(b.get("y").is_none());
        let s = Builtins::from_static(&[("y", b"abc")]);
        assert_eq!(s.get("y").map(|c| c.hash), b.get("x").map(|c| c.hash));
    }
}
