//! The kinds one binary serves, and the lookup from a request's `apiVersion` and
//! `kind` to the store or generator that serves it.

use super::adapters::{ErasedGenerator, ErasedStore};
use crate::display::bounded;
use crate::kind::parse_api_version;
use crate::{Error, Gvk, Result};
use std::sync::Arc;

/// The kinds one binary serves.
#[derive(Default, Clone)]
pub(crate) struct Registry {
    stores: Vec<Arc<dyn ErasedStore>>,
    generators: Vec<Arc<dyn ErasedGenerator>>,
}

fn kind_list(gvks: impl Iterator<Item = Gvk>) -> String {
    let names: Vec<String> = gvks.map(|g| format!("{} ({})", g.kind, g.api_version())).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn check_reference(what: &str, api_version: &str, kind: &str) -> Result<()> {
    if parse_api_version(api_version).is_none() {
        return Err(Error::invalid_request(format!(
            "{what}.api_version \"{}\" is not of the form group/version",
            bounded(api_version)
        )));
    }
    if kind.is_empty() {
        return Err(Error::invalid_request(format!("{what}.kind is empty")));
    }
    Ok(())
}

impl Registry {
    pub(crate) fn add_store(&mut self, store: Arc<dyn ErasedStore>) -> Result<()> {
        let gvk = store.gvk();
        if self.stores.iter().any(|s| s.gvk() == gvk) {
            return Err(Error::internal(format!("kind {gvk} is registered twice")));
        }
        self.stores.push(store);
        Ok(())
    }

    pub(crate) fn add_generator(&mut self, generator: Arc<dyn ErasedGenerator>) -> Result<()> {
        let gvk = generator.gvk();
        if self.generators.iter().any(|g| g.gvk() == gvk) {
            return Err(Error::internal(format!("generator kind {gvk} is registered twice")));
        }
        self.generators.push(generator);
        Ok(())
    }

    pub(crate) fn stores(&self) -> &[Arc<dyn ErasedStore>] {
        &self.stores
    }

    pub(crate) fn generators(&self) -> &[Arc<dyn ErasedGenerator>] {
        &self.generators
    }

    pub(crate) fn store_kinds(&self) -> Vec<Gvk> {
        self.stores.iter().map(|s| s.gvk()).collect()
    }

    pub(crate) fn generator_kinds(&self) -> Vec<Gvk> {
        self.generators.iter().map(|g| g.gvk()).collect()
    }

    pub(crate) fn store(&self, api_version: &str, kind: &str) -> Result<Arc<dyn ErasedStore>> {
        // A reference that names a registered kind is well formed; its form is
        // checked only to explain a miss.
        if let Some(store) = self.stores.iter().find(|s| s.gvk().matches(api_version, kind)) {
            return Ok(Arc::clone(store));
        }
        check_reference("provider_ref", api_version, kind)?;
        Err(Error::unimplemented_kind(
            kind,
            api_version,
            &kind_list(self.stores.iter().map(|s| s.gvk())),
        ))
    }

    pub(crate) fn generator(&self, api_version: &str, kind: &str) -> Result<Arc<dyn ErasedGenerator>> {
        check_reference("generator_ref", api_version, kind)?;
        self.generators
            .iter()
            .find(|g| g.gvk().matches(api_version, kind))
            .cloned()
            .ok_or_else(|| {
                Error::unimplemented_kind(kind, api_version, &kind_list(self.generators.iter().map(|g| g.gvk())))
            })
    }
}

impl Error {
    fn unimplemented_kind(kind: &str, api_version: &str, served: &str) -> Self {
        Error::new(
            crate::ErrorKind::Unimplemented,
            format!(
                "kind {} ({}) is not served by this provider; it serves: {served}",
                bounded(kind),
                bounded(api_version)
            ),
        )
    }
}
