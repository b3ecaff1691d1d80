//! Fingerprints: everything that can change a step's result, hashed.
//!
//! # Overview
//!
//! A step's result is cached under [`Fingerprint::hash`]: a blake3 hash over a canonical
//! encoding of every input of the step. If two runs of a step have the same fingerprint hash,
//! the second one is served from the store. If they differ, [`Fingerprint::diff`] says which
//! inputs changed, and `forge explain` prints that list ([`Change`] implements `Display`).
//!
//! # Fingerprint fields
//!
//! | field      | fed by                                                  | why it is an input |
//! |------------|---------------------------------------------------------|--------------------|
//! | `schema`   | [`FINGERPRINT_SCHEMA_VERSION`]                          | a new encoding or meaning must never match an old entry |
//! | `step`     | the step's id (`docker-build:backend`)                  | the plugin is told which step it runs, so it may shape the result; two steps never share an entry |
//! | `plugin`   | the plugin's identity: built-in name + version hash, or a third-party component's pinned hash | a new plugin may produce a different result from the same inputs |
//! | `config`   | the step's normalized config, [`flatten_config`]ed      | build args, module inputs, rollout settings all change the result |
//! | `files`    | the step's input selections ([`crate::files::FileIndex::select`]), each file's blake3 | the content the step reads; paths are relative so the fingerprint is the same on every machine |
//! | `upstream` | the *output* hash of each step it needs                 | early cutoff: an upstream that reruns and yields the same output leaves this step cached |
//! | `env_vars` | declared process environment variables, values hashed with the store's key | steps may read them; values may be secret, so only a keyed hash is kept |
//! | `env`      | the forge env name, for env-scoped (deploy) steps       | the same render for `dev` and `prod` targets different infrastructure |
//! | `commit`   | the git commit SHA ([`crate::git::commit_sha`]), only for steps that declare it | images are tagged by SHA; most steps must *not* rerun on every commit |
//! | `tools`    | the version of each external tool the step is granted ([`Tool`]): `terraform` for a step with the `terraform` capability | a new Terraform may plan, and write the state, differently |
//!
//! Deliberately *not* inputs: absolute paths, timestamps, the machine, the user, the
//! upstream steps' fingerprints (see `upstream`), and anything the plugin is not given.
//!
//! # Hash encoding
//!
//! [`Fingerprint::hash`] is blake3 in key-derivation mode with the context
//! [`HASH_CONTEXT`] (domain separation: no other forge hash can collide with it), over the
//! fields in declaration order. Integers are little-endian; strings are a `u64` length then
//! their UTF-8 bytes; maps are a `u64` count then sorted key/value pairs; options are a
//! `0`/`1` tag then the value. Every field is preceded by a one-byte tag. The encoding is
//! pinned by a test: changing it without bumping [`FINGERPRINT_SCHEMA_VERSION`] fails CI.
//!
//! # Version log
//!
//! Bump [`FINGERPRINT_SCHEMA_VERSION`] when the meaning or encoding of any field changes:
//! - 1: first version.
//! - 2: `env_vars` values are hashed with the store's key ([`StoreKey`]), not plain
//!   blake3; `upstream` holds [`crate::executor::StepOutput::hash`] (manifest and files).
//! - 3: `tools`.

pub(crate) mod cache;
pub(crate) mod inputs;

pub use inputs::{BuiltinIdentities, ENGINE_VERSION, EnvVars, Tool, ToolVersions};

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::ConfigValue;
use crate::store::StoreKey;

/// Bump when the meaning or encoding of any field changes (see the module's version log).
pub const FINGERPRINT_SCHEMA_VERSION: u32 = 3;

/// blake3 key-derivation context of [`Fingerprint::hash`]. Never change it: bump the schema.
pub const HASH_CONTEXT: &str = "forge 2026-11 step fingerprint";

/// Every input of one step run. One field per input; `forge explain` diffs two of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// [`FINGERPRINT_SCHEMA_VERSION`] when this was computed.
    pub schema: u32,
    /// The step's id. Plugins receive it, so it is an input like any other; it also keeps
    /// two steps with equal inputs from sharing (and racing for) one cache entry.
    pub step: String,
    /// The plugin that runs the step and its identity: `builtin:docker-build@<hash>` or the
    /// `blake3:` hash of a third-party component.
    pub plugin: String,
    /// The step's config, flattened: path (`build.args.PROFILE`, `tags[0]`,
    /// `templates["app.conf"]`) → canonical JSON of the leaf value.
    pub config: BTreeMap<String, String>,
    /// Declared input files: path relative to the project root (`/`-separated) → blake3 hex.
    pub files: BTreeMap<String, String>,
    /// Upstream steps: step id → hash of its output manifest (not its fingerprint: an
    /// upstream that reruns and produces the same output does not rerun this step).
    pub upstream: BTreeMap<String, String>,
    /// Declared process environment variables: name → blake3 hex of the value (`None`: unset).
    /// Values are hashed because they may be secret.
    pub env_vars: BTreeMap<String, Option<String>>,
    /// The forge env (`dev`, `prod`) for steps whose result depends on it.
    pub env: Option<String>,
    /// The git commit SHA, only for steps that declare it.
    pub commit: Option<String>,
    /// External tools the step runs: name (`terraform`) → version (`1.11.4`).
    #[serde(default)]
    pub tools: BTreeMap<String, String>,
    /// The step's declared secrets: name → reference (`env:CI_NPM_TOKEN`, `ssm:/path`, an
    /// ARN). The reference, never the value: rotating a secret does not rerun the step, and
    /// no value can be recovered from a fingerprint.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
}

/// One difference between two fingerprints, as `forge explain` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "kebab-case")]
pub enum Change {
    Schema {
        old: u32,
        new: u32,
    },
    Step {
        old: String,
        new: String,
    },
    Plugin {
        old: String,
        new: String,
    },
    Config {
        key: String,
        old: Option<String>,
        new: Option<String>,
    },
    FileAdded {
        path: String,
    },
    FileRemoved {
        path: String,
    },
    FileChanged {
        path: String,
    },
    Upstream {
        step: String,
        old: Option<String>,
        new: Option<String>,
    },
    EnvVar {
        name: String,
    },
    Env {
        old: Option<String>,
        new: Option<String>,
    },
    Commit {
        old: Option<String>,
        new: Option<String>,
    },
    Tool {
        name: String,
        old: Option<String>,
        new: Option<String>,
    },
    Secret {
        name: String,
        old: Option<String>,
        new: Option<String>,
    },
}

impl Fingerprint {
    /// A fingerprint of the current schema with every input empty.
    pub fn new(plugin: impl Into<String>) -> Fingerprint {
        Fingerprint {
            schema: FINGERPRINT_SCHEMA_VERSION,
            step: String::new(),
            plugin: plugin.into(),
            config: BTreeMap::new(),
            files: BTreeMap::new(),
            upstream: BTreeMap::new(),
            env_vars: BTreeMap::new(),
            env: None,
            commit: None,
            tools: BTreeMap::new(),
            secrets: BTreeMap::new(),
        }
    }

    /// The cache key: blake3 hex over the canonical encoding described in the module docs.
    pub fn hash(&self) -> String {
        // Encoded into one buffer, then hashed in one call: thousands of tiny `update`s
        // (one per length prefix) cost more than the hashing itself, and one long input
        // lets blake3 compress several chunks at once. The bytes, and so the hash, are
        // the same.
        let mut h = Vec::with_capacity(256 + self.files.len() * 128);
        h.extend_from_slice(b"s");
        h.extend_from_slice(&self.schema.to_le_bytes());
        h.extend_from_slice(b"i");
        put_str(&mut h, &self.step);
        h.extend_from_slice(b"p");
        put_str(&mut h, &self.plugin);
        h.extend_from_slice(b"c");
        put_map(&mut h, &self.config);
        h.extend_from_slice(b"f");
        put_map(&mut h, &self.files);
        h.extend_from_slice(b"u");
        put_map(&mut h, &self.upstream);
        h.extend_from_slice(b"v");
        h.extend_from_slice(&(self.env_vars.len() as u64).to_le_bytes());
        for (k, v) in &self.env_vars {
            put_str(&mut h, k);
            put_opt(&mut h, v.as_deref());
        }
        h.extend_from_slice(b"e");
        put_opt(&mut h, self.env.as_deref());
        h.extend_from_slice(b"g");
        put_opt(&mut h, self.commit.as_deref());
        h.extend_from_slice(b"t");
        put_map(&mut h, &self.tools);
        // Only when there are any: a step without secrets keeps the hash it had before
        // secrets could be declared.
        if !self.secrets.is_empty() {
            h.extend_from_slice(b"x");
            put_map(&mut h, &self.secrets);
        }
        let mut hasher = blake3::Hasher::new_derive_key(HASH_CONTEXT);
        hasher.update(&h);
        hasher.finalize().to_hex().to_string()
    }

    /// What changed from `previous` to `self`, field by field, in the order of the fields.
    /// Empty when the two are equal.
    pub fn diff(&self, previous: &Fingerprint) -> Vec<Change> {
        let mut out = Vec::new();
        if self.schema != previous.schema {
            out.push(Change::Schema {
                old: previous.schema,
                new: self.schema,
            });
        }
        if self.step != previous.step {
            out.push(Change::Step {
                old: previous.step.clone(),
                new: self.step.clone(),
            });
        }
        if self.plugin != previous.plugin {
            out.push(Change::Plugin {
                old: previous.plugin.clone(),
                new: self.plugin.clone(),
            });
        }
        diff_maps(&previous.config, &self.config, |key, old, new| {
            out.push(Change::Config {
                key: key.to_owned(),
                old: old.cloned(),
                new: new.cloned(),
            })
        });
        diff_maps(&previous.files, &self.files, |path, old, new| {
            let path = path.to_owned();
            out.push(match (old, new) {
                (None, _) => Change::FileAdded { path },
                (_, None) => Change::FileRemoved { path },
                _ => Change::FileChanged { path },
            })
        });
        diff_maps(&previous.upstream, &self.upstream, |step, old, new| {
            out.push(Change::Upstream {
                step: step.to_owned(),
                old: old.cloned(),
                new: new.cloned(),
            })
        });
        diff_maps(&previous.env_vars, &self.env_vars, |name, _, _| {
            out.push(Change::EnvVar {
                name: name.to_owned(),
            })
        });
        if self.env != previous.env {
            out.push(Change::Env {
                old: previous.env.clone(),
                new: self.env.clone(),
            });
        }
        if self.commit != previous.commit {
            out.push(Change::Commit {
                old: previous.commit.clone(),
                new: self.commit.clone(),
            });
        }
        diff_maps(&previous.tools, &self.tools, |name, old, new| {
            out.push(Change::Tool {
                name: name.to_owned(),
                old: old.cloned(),
                new: new.cloned(),
            })
        });
        diff_maps(&previous.secrets, &self.secrets, |name, old, new| {
            out.push(Change::Secret {
                name: name.to_owned(),
                old: old.cloned(),
                new: new.cloned(),
            })
        });
        out
    }
}

/// Calls `f(key, old, new)` for every key whose value differs between `old` and `new`, in
/// key order. Both maps are sorted, so this is one merge pass.
fn diff_maps<V: PartialEq>(
    old: &BTreeMap<String, V>,
    new: &BTreeMap<String, V>,
    mut f: impl FnMut(&str, Option<&V>, Option<&V>),
) {
    let mut a = old.iter().peekable();
    let mut b = new.iter().peekable();
    loop {
        match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some((ka, va)), Some((kb, vb))) if ka == kb => {
                if va != vb {
                    f(ka, Some(va), Some(vb));
                }
                a.next();
                b.next();
            }
            (Some((ka, va)), Some((kb, _))) if ka < kb => {
                f(ka, Some(va), None);
                a.next();
            }
            (Some((ka, va)), None) => {
                f(ka, Some(va), None);
                a.next();
            }
            (_, Some((kb, vb))) => {
                f(kb, None, Some(vb));
                b.next();
            }
        }
    }
}

fn put_str(h: &mut Vec<u8>, s: &str) {
    h.extend_from_slice(&(s.len() as u64).to_le_bytes());
    h.extend_from_slice(s.as_bytes());
}

fn put_opt(h: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => {
            h.push(0);
        }
        Some(s) => {
            h.push(1);
            put_str(h, s);
        }
    }
}

fn put_map(h: &mut Vec<u8>, map: &BTreeMap<String, String>) {
    h.extend_from_slice(&(map.len() as u64).to_le_bytes());
    for (k, v) in map {
        put_str(h, k);
        put_str(h, v);
    }
}

/// A hash or SHA as forge shows every hash ([`crate::text::short_hash`]).
fn short(s: &str) -> &str {
    crate::text::short_hash(s)
}

fn or_none(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("none")
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Schema { old, new } => {
                write!(f, "fingerprint schema changed ({old} → {new})")
            }
            Change::Step { old, new } => write!(f, "step id changed ({old} → {new})"),
            Change::Plugin { old, new } => write!(f, "plugin changed ({old} → {new})"),
            Change::Config { key, old, new } => match (old, new) {
                (Some(old), Some(new)) => write!(f, "config key {key}: {old} → {new}"),
                (None, Some(new)) => write!(f, "config key {key} added: {new}"),
                (Some(old), None) => write!(f, "config key {key} removed (was {old})"),
                (None, None) => write!(f, "config key {key} changed"),
            },
            Change::FileAdded { path } => write!(f, "file {path} added"),
            Change::FileRemoved { path } => write!(f, "file {path} removed"),
            Change::FileChanged { path } => write!(f, "file {path} changed"),
            Change::Upstream { step, old, new } => match (old, new) {
                (Some(_), Some(_)) => write!(f, "upstream {step} output changed"),
                (None, _) => write!(f, "now needs upstream {step}"),
                (_, None) => write!(f, "no longer needs upstream {step}"),
            },
            Change::EnvVar { name } => write!(f, "environment variable {name} changed"),
            Change::Env { old, new } => {
                write!(f, "env changed ({} → {})", or_none(old), or_none(new))
            }
            Change::Commit { old, new } => match (old, new) {
                (Some(old), Some(new)) => {
                    write!(f, "commit SHA changed ({} → {})", short(old), short(new))
                }
                (None, Some(new)) => write!(f, "commit SHA now an input ({})", short(new)),
                (Some(old), None) => {
                    write!(f, "commit SHA no longer an input (was {})", short(old))
                }
                (None, None) => write!(f, "commit SHA changed"),
            },
            Change::Tool { name, old, new } => match (old, new) {
                (Some(old), Some(new)) => write!(f, "{name} changed ({old} → {new})"),
                (None, Some(new)) => write!(f, "now runs {name} {new}"),
                (Some(old), None) => write!(f, "no longer runs {name} (was {old})"),
                (None, None) => write!(f, "{name} changed"),
            },
            Change::Secret { name, old, new } => match (old, new) {
                (Some(old), Some(new)) => {
                    write!(f, "secret {name} now comes from {new} (was {old})")
                }
                (None, Some(new)) => write!(f, "secret {name} declared ({new})"),
                (Some(old), None) => write!(f, "secret {name} no longer declared (was {old})"),
                (None, None) => write!(f, "secret {name} changed"),
            },
        }
    }
}

/// The `env_vars` field for the variables a step declares: name → the store key's hash of
/// the value ([`StoreKey::env_value_hash`]), or `None` if unset. `lookup` is usually
/// `|n| std::env::var(n).ok()`.
pub fn env_var_inputs<'a>(
    names: impl IntoIterator<Item = &'a str>,
    lookup: impl Fn(&str) -> Option<String>,
    key: &StoreKey,
) -> BTreeMap<String, Option<String>> {
    names
        .into_iter()
        .map(|name| {
            (
                name.to_owned(),
                lookup(name).map(|v| key.env_value_hash(&v)),
            )
        })
        .collect()
}

/// Flattens a config value into dotted paths → canonical JSON of each leaf. Map keys are
/// joined with `.`, list items by index (`args.0`); empty maps and lists are kept as leaves
/// (`{}`, `[]`) so that adding one still changes the fingerprint. A non-container root is
/// the single key `""`.
pub fn flatten_config(value: &ConfigValue) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    flatten_into(value, &mut String::new(), &mut out);
    out
}

fn flatten_into(value: &ConfigValue, prefix: &mut String, out: &mut BTreeMap<String, String>) {
    match value {
        ConfigValue::Map(map) if !map.is_empty() => {
            for (key, child) in map {
                let len = prefix.len();
                push_key(prefix, key);
                flatten_into(child, prefix, out);
                prefix.truncate(len);
            }
        }
        ConfigValue::List(items) if !items.is_empty() => {
            for (i, child) in items.iter().enumerate() {
                let len = prefix.len();
                prefix.push_str(&format!("[{i}]"));
                flatten_into(child, prefix, out);
                prefix.truncate(len);
            }
        }
        leaf => {
            out.insert(prefix.clone(), leaf.canonical_json());
        }
    }
}

/// Appends a map key to a config path: `.name` for plain names, `["app.conf"]` (JSON
/// quoted) for anything else, so no two different configs flatten to the same paths
/// (`{"app.conf": 1}` vs `{"app": {"conf": 1}}`, `{"0": 1}` vs `[1]`).
fn push_key(prefix: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        if !prefix.is_empty() {
            prefix.push('.');
        }
        prefix.push_str(key);
    } else {
        prefix.push('[');
        prefix.push_str(&serde_json::to_string(key).unwrap_or_default());
        prefix.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Fingerprint {
        let mut fp = Fingerprint::new("builtin:docker-build@1");
        fp.step = "docker-build:backend".into();
        fp.config.insert("args.PROFILE".into(), "\"debug\"".into());
        fp.files.insert("app/main.rs".into(), "aa".repeat(32));
        fp.upstream
            .insert("docker-build:backend".into(), "bb".repeat(32));
        fp.env_vars
            .insert("AWS_PROFILE".into(), Some("cc".repeat(32)));
        fp.env_vars.insert("UNSET".into(), None);
        fp.env = Some("prod".into());
        fp.commit = Some("0123456789abcdef0123456789abcdef01234567".into());
        fp.tools.insert("terraform".into(), "1.11.4".into());
        fp
    }

    /// Pins the encoding: if this fails, either the change was a mistake or
    /// FINGERPRINT_SCHEMA_VERSION must be bumped (and this constant updated).
    #[test]
    fn hash_is_pinned() {
        assert_eq!(
            sample().hash(),
            "34931f0f9caec2197928014c308d268f9d1a2ef5b083d8fec73c9b303dec0cda",
            "fingerprint encoding changed: bump FINGERPRINT_SCHEMA_VERSION"
        );
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = sample();
        let mut variants = Vec::new();
        let mut v = base.clone();
        v.schema += 1;
        variants.push(v);
        let mut v = base.clone();
        v.step.push('x');
        variants.push(v);
        let mut v = base.clone();
        v.plugin.push('x');
        variants.push(v);
        let mut v = base.clone();
        v.config.insert("args.PROFILE".into(), "\"release\"".into());
        variants.push(v);
        let mut v = base.clone();
        v.files.insert("app/main.rs".into(), "ab".repeat(32));
        variants.push(v);
        let mut v = base.clone();
        v.upstream.clear();
        variants.push(v);
        let mut v = base.clone();
        v.env_vars.insert("UNSET".into(), Some(String::new()));
        variants.push(v);
        let mut v = base.clone();
        v.env = None;
        variants.push(v);
        let mut v = base.clone();
        v.commit = None;
        variants.push(v);
        let mut v = base.clone();
        v.tools.insert("terraform".into(), "1.11.5".into());
        variants.push(v);
        let mut hashes: Vec<String> = variants.iter().map(Fingerprint::hash).collect();
        hashes.push(base.hash());
        let n = hashes.len();
        hashes.sort();
        hashes.dedup();
        assert_eq!(hashes.len(), n, "two different fingerprints share a hash");
    }

    #[test]
    fn length_prefixes_prevent_ambiguity() {
        let mut a = Fingerprint::new("p");
        a.config.insert("ab".into(), "c".into());
        let mut b = Fingerprint::new("p");
        b.config.insert("a".into(), "bc".into());
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn diff_lists_each_change_in_field_order() {
        let old = sample();
        let mut new = sample();
        new.plugin = "builtin:docker-build@2".into();
        new.config
            .insert("args.PROFILE".into(), "\"release\"".into());
        new.config.insert("args.NEW".into(), "1".into());
        new.files.insert("app/main.rs".into(), "dd".repeat(32));
        new.files.insert("app/lib.rs".into(), "ee".repeat(32));
        new.upstream
            .insert("docker-build:backend".into(), "ff".repeat(32));
        new.env_vars.remove("UNSET");
        new.commit = Some("fedcba9876543210fedcba9876543210fedcba98".into());
        let lines: Vec<String> = new.diff(&old).iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "plugin changed (builtin:docker-build@1 → builtin:docker-build@2)",
                "config key args.NEW added: 1",
                "config key args.PROFILE: \"debug\" → \"release\"",
                "file app/lib.rs added",
                "file app/main.rs changed",
                "upstream docker-build:backend output changed",
                "environment variable UNSET changed",
                "commit SHA changed (0123456789ab → fedcba987654)",
            ]
        );
        assert!(sample().diff(&sample()).is_empty());
        let removed = old.diff(&new);
        assert!(removed.contains(&Change::FileRemoved {
            path: "app/lib.rs".into()
        }));
    }

    #[test]
    fn flatten_uses_dotted_paths_and_list_indexes() {
        let value: ConfigValue = serde_json::from_str(
            r#"{"build":{"args":{"PROFILE":"debug"},"tags":["a","b"],"empty":{}},"port":8080}"#,
        )
        .expect("valid json");
        let flat = flatten_config(&value);
        let expected: BTreeMap<String, String> = [
            ("build.args.PROFILE", "\"debug\""),
            ("build.empty", "{}"),
            ("build.tags[0]", "\"a\""),
            ("build.tags[1]", "\"b\""),
            ("port", "8080"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(flat, expected);
    }

    /// Keys are not split on dots: a file name as a key must not collide with nested maps,
    /// and a map keyed "0" must not collide with a list.
    #[test]
    fn flattening_is_unambiguous() {
        let flat = |json: &str| {
            flatten_config(&serde_json::from_str::<ConfigValue>(json).expect("valid json"))
        };
        let dotted = flat(r#"{"templates":{"app.conf":"x"}}"#);
        let nested = flat(r#"{"templates":{"app":{"conf":"x"}}}"#);
        assert_ne!(dotted, nested);
        assert!(
            dotted.contains_key(r#"templates["app.conf"]"#),
            "{dotted:?}"
        );
        assert_ne!(flat(r#"{"a":{"0":1}}"#), flat(r#"{"a":[1]}"#));
        assert_ne!(flat(r#"{"a":{"":1}}"#), flat(r#"{"a":1}"#));
    }

    #[test]
    fn env_var_values_are_hashed_never_kept() {
        let env = |n: &str| (n == "TOKEN").then(|| "s3cret".to_owned());
        let key = StoreKey::from_bytes([7; 32]);
        let vars = env_var_inputs(["TOKEN", "UNSET"], env, &key);
        assert_eq!(vars["UNSET"], None);
        let token = vars["TOKEN"].as_deref().expect("set");
        assert_eq!(token.len(), 64);
        assert!(!token.contains("s3cret"));
        assert_ne!(token, blake3::hash(b"s3cret").to_hex().as_str());
        let other = env_var_inputs(["TOKEN"], |_| Some("other".to_owned()), &key);
        let elsewhere = env_var_inputs(["TOKEN"], env, &StoreKey::from_bytes([8; 32]));
        assert_ne!(elsewhere["TOKEN"], vars["TOKEN"], "keyed per store");
        assert_ne!(other["TOKEN"], vars["TOKEN"]);
    }

    #[test]
    fn change_round_trips_through_json() {
        let c = Change::Upstream {
            step: "a".into(),
            old: None,
            new: Some("x".into()),
        };
        let json = serde_json::to_string(&c).expect("serializes");
        assert_eq!(serde_json::from_str::<Change>(&json).expect("parses"), c);
    }
}
