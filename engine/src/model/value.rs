//! Values of step config, module inputs and env vars.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A config value. Maps are `BTreeMap`s so the canonical JSON encoding (and therefore every
/// fingerprint) does not depend on the order things were written in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    /// A reference to another value: `(ref)"module.vpc.vpc_id"`, `(ref)"service.backend.image"`,
    /// `(ref)"step.render.manifest"`, `(ref)"var.cidr"`. Serialized as `{"$ref": "..."}`.
    Ref(RefValue),
    List(Vec<ConfigValue>),
    Map(BTreeMap<String, ConfigValue>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefValue {
    #[serde(rename = "$ref")]
    pub target: String,
}

impl ConfigValue {
    /// Canonical JSON: sorted keys, no whitespace. Feeds fingerprints.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("null"))
    }

    /// Every reference inside this value, depth first.
    pub fn refs(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_refs(&mut out);
        out
    }

    fn collect_refs<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            ConfigValue::Ref(r) => out.push(&r.target),
            ConfigValue::List(items) => items.iter().for_each(|v| v.collect_refs(out)),
            ConfigValue::Map(map) => map.values().for_each(|v| v.collect_refs(out)),
            _ => {}
        }
    }
}
