//! Secret values forge holds for one step run (read by the host where the project declares
//! them), and their masking in every text forge shows or keeps. One owner for both users:
//! a `command` step's process (environment variables, its output masked) and a BuildKit
//! build (mounted by id, its log masked).

use std::borrow::Cow;
use std::collections::BTreeMap;

/// What a secret's value becomes wherever forge shows or keeps text a tool printed.
pub const SECRET_MASK: &str = "****";

/// Secret values by name (a `command`'s variable, a build's `--mount=type=secret,id=NAME`).
/// Its `Debug` shows the names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretValues {
    values: BTreeMap<String, String>,
    /// The values, longest first: a value containing another is masked whole.
    by_length: Vec<String>,
}

impl std::fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.values.keys()).finish()
    }
}

impl SecretValues {
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), value.into());
        self.by_length = self
            .values
            .values()
            .filter(|v| !v.is_empty())
            .cloned()
            .collect();
        self.by_length
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Name and value of each, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// `text` with every value replaced by [`SECRET_MASK`].
    pub fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for value in &self.by_length {
            if out.contains(value.as_str()) {
                out = Cow::Owned(out.replace(value.as_str(), SECRET_MASK));
            }
        }
        out
    }

    /// The name of a secret whose value occurs in `bytes` (the longest such value's).
    pub fn found_in(&self, bytes: &[u8]) -> Option<&str> {
        let value = self.by_length.iter().find(|value| {
            bytes
                .windows(value.len())
                .any(|window| window == value.as_bytes())
        })?;
        self.values
            .iter()
            .find(|(_, v)| *v == value)
            .map(|(name, _)| name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_hides_every_value_and_the_longest_first() {
        let mut secrets = SecretValues::default();
        secrets.insert("A", "token-123");
        secrets.insert("B", "token-123-and-more");
        assert_eq!(
            secrets.mask("a token-123-and-more b token-123 c"),
            "a **** b **** c"
        );
        assert!(matches!(secrets.mask("nothing here"), Cow::Borrowed(_)));
        assert_eq!(format!("{secrets:?}"), r#"["A", "B"]"#);
        assert_eq!(secrets.found_in(b"x token-123-and-more y"), Some("B"));
        assert_eq!(secrets.found_in(b"x token-123 y"), Some("A"));
        assert_eq!(secrets.found_in(b"token"), None);
    }
}
