//! `forge:plugin/secrets` on [`SecretsView`]: handles to the secrets a step is given, kept
//! in the run's resource table (which `registry` credentials share).

use std::collections::BTreeMap;

use forge_engine::model::SecretRef;

use wasmtime::component::{HasData, Resource, ResourceTable};

use crate::bindings::forge::plugin::secrets;

/// A secret handle's payload: only the name. Values never enter the host state, let alone
/// plugin memory; later capabilities resolve them by name when they use them.
#[derive(Debug)]
pub struct SecretHandle {
    name: String,
}

impl SecretHandle {
    /// The name the step declared the secret under.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

/// What `secrets` acts on, borrowed from [`crate::HostState`] for one call.
pub(crate) struct SecretsView<'a> {
    /// The secrets the step may ask handles for.
    pub(crate) declared: &'a BTreeMap<String, SecretRef>,
    pub(crate) table: &'a mut ResourceTable,
}

/// Links `secrets` to a [`SecretsView`].
pub(crate) struct Secrets;

impl HasData for Secrets {
    type Data<'a> = SecretsView<'a>;
}

impl secrets::HostSecret for SecretsView<'_> {
    async fn name(&mut self, handle: Resource<SecretHandle>) -> String {
        self.table
            .get(&handle)
            .map_or_else(|_| String::new(), |s| s.name.clone())
    }

    async fn drop(&mut self, handle: Resource<SecretHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

impl secrets::Host for SecretsView<'_> {
    async fn get(&mut self, name: String) -> Result<Resource<SecretHandle>, String> {
        if !self.declared.contains_key(&name) {
            return Err(format!("secret `{name}` is not given to this step"));
        }
        self.table
            .push(SecretHandle { name })
            .map_err(|e| format!("too many secret handles: {e}"))
    }
}
