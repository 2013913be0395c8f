//! Dispatch: from a request's `apiVersion` + `kind` to the registered store or
//! generator, with the author's types erased, and the per-object client cache.

use crate::context::SecretVersions;
use crate::error::without_quoted_values;
use crate::kind::parse_api_version;
use crate::scope::Scope;
use crate::source::{Source, StoredObject};
use crate::{
    Capabilities, Ctx, Error, FindQuery, Generator, Gvk, ProviderSpec, PushRemoteRef, PushRequest, RemoteRef, Result,
    SecretMap, SecretStore, SecretValue,
};
use arc_swap::ArcSwapOption;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A provider object found for a request, with the namespaces the request may touch.
pub(crate) struct Resolved {
    pub object: Arc<StoredObject>,
    pub scope: Scope,
    pub source: Arc<dyn Source>,
}

/// The outcome of Validate, reported in-band.
pub(crate) struct Validation {
    pub error: Option<String>,
    pub warnings: Vec<String>,
}

pub(crate) trait ErasedStore: Send + Sync {
    fn gvk(&self) -> Gvk;
    fn crd(&self) -> Option<Result<crate::crd::CustomResourceDefinition>>;
    fn capabilities(&self) -> Capabilities;
    fn validate<'a>(&'a self, call: &'a Resolved) -> BoxFuture<'a, Validation>;
    fn get_secret<'a>(&'a self, call: &'a Resolved, remote: &'a RemoteRef) -> BoxFuture<'a, Result<SecretValue>>;
    fn get_secret_map<'a>(&'a self, call: &'a Resolved, remote: &'a RemoteRef) -> BoxFuture<'a, Result<SecretMap>>;
    fn get_all_secrets<'a>(&'a self, call: &'a Resolved, find: &'a FindQuery) -> BoxFuture<'a, Result<SecretMap>>;
    fn push_secret<'a>(&'a self, call: &'a Resolved, push: &'a PushRequest) -> BoxFuture<'a, Result<()>>;
    fn delete_secret<'a>(&'a self, call: &'a Resolved, remote: &'a PushRemoteRef) -> BoxFuture<'a, Result<()>>;
    fn secret_exists<'a>(&'a self, call: &'a Resolved, remote: &'a PushRemoteRef) -> BoxFuture<'a, Result<bool>>;
}

pub(crate) trait ErasedGenerator: Send + Sync {
    fn gvk(&self) -> Gvk;
    fn crd(&self) -> Option<Result<crate::crd::CustomResourceDefinition>>;
    fn generate<'a>(&'a self, call: &'a Resolved) -> BoxFuture<'a, Result<(SecretMap, Vec<u8>)>>;
    /// `call.object.spec` is `Null` when the generator object is gone.
    fn cleanup<'a>(&'a self, call: &'a Resolved, exists: bool, state: &'a [u8]) -> BoxFuture<'a, Result<()>>;
}

fn parse_spec<S: ProviderSpec>(object: &StoredObject) -> Result<S> {
    serde_path_to_error::deserialize(&object.spec).map_err(|error| {
        let path = error.path().to_string();
        let cause = without_quoted_values(&error.inner().to_string());
        if path == "." {
            Error::invalid_config(format!("{object}: invalid spec: {cause}"))
        } else {
            Error::invalid_config(format!("{object}: invalid spec: field spec.{path}: {cause}"))
        }
    })
}

/// One connected client, valid while the object and the Secrets it read are unchanged.
struct Connected<S: SecretStore> {
    uid: String,
    resource_version: String,
    secrets: SecretVersions,
    client: S::Client,
}

impl<S: SecretStore> Connected<S> {
    fn is_current(&self, call: &Resolved) -> bool {
        self.uid == call.object.uid
            && self.resource_version == call.object.resource_version
            && self.secrets.iter().all(|(namespace, name, version)| {
                matches!(call.source.secret(namespace, name), Ok(Some(s)) if &s.resource_version == version)
            })
    }
}

/// Object namespace, object name, and the scope's credential key.
type ClientKey = (String, String, String);

#[derive(Default)]
struct Slot<S: SecretStore> {
    current: ArcSwapOption<Connected<S>>,
    building: tokio::sync::Mutex<()>,
}

pub(crate) struct StoreAdapter<S: SecretStore> {
    store: S,
    clients: Mutex<HashMap<ClientKey, Arc<Slot<S>>>>,
}

impl<S: SecretStore> StoreAdapter<S> {
    pub(crate) fn new(store: S) -> Self {
        StoreAdapter {
            store,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client for this object: cached while current, otherwise built once even
    /// when many calls arrive together.
    async fn client(&self, call: &Resolved) -> Result<Arc<Connected<S>>> {
        // Keyed by the credentials the scope reaches too: a client connected with one
        // namespace's credentials never serves a call from another.
        let key = (
            call.object.namespace.clone(),
            call.object.name.clone(),
            call.scope.credential_key(),
        );
        let slot = {
            let mut clients = self
                .clients
                .lock()
                .map_err(|_| Error::internal("client cache lock poisoned"))?;
            Arc::clone(clients.entry(key).or_insert_with(|| {
                Arc::new(Slot {
                    current: ArcSwapOption::empty(),
                    building: tokio::sync::Mutex::new(()),
                })
            }))
        };
        if let Some(connected) = slot.current.load_full().filter(|c| c.is_current(call)) {
            return Ok(connected);
        }
        let _building = slot.building.lock().await;
        if let Some(connected) = slot.current.load_full().filter(|c| c.is_current(call)) {
            return Ok(connected);
        }
        let spec: S::Spec = parse_spec(&call.object)?;
        self.store
            .validate_spec(&spec)
            .map_err(|e| e.context(call.object.as_ref()))?;
        let ctx = Ctx::new(Arc::clone(&call.object), call.scope.clone(), Arc::clone(&call.source));
        let client = self.store.connect(&ctx, &spec).await?;
        let connected = Arc::new(Connected {
            uid: call.object.uid.clone(),
            resource_version: call.object.resource_version.clone(),
            secrets: ctx.take_secret_versions(),
            client,
        });
        slot.current.store(Some(Arc::clone(&connected)));
        tracing::debug!(object = %call.object, "backend client connected");
        Ok(connected)
    }
}

impl<S: SecretStore> ErasedStore for StoreAdapter<S> {
    fn gvk(&self) -> Gvk {
        S::Spec::GVK
    }

    fn crd(&self) -> Option<Result<crate::crd::CustomResourceDefinition>> {
        S::Spec::crd()
    }

    fn capabilities(&self) -> Capabilities {
        self.store.capabilities()
    }

    fn validate<'a>(&'a self, call: &'a Resolved) -> BoxFuture<'a, Validation> {
        Box::pin(async move {
            let result = async {
                let spec: S::Spec = parse_spec(&call.object)?;
                let mut warnings = self
                    .store
                    .validate_spec(&spec)
                    .map_err(|e| e.context(call.object.as_ref()))?;
                let connected = self.client(call).await?;
                warnings.extend(self.store.validate(&connected.client).await?);
                Ok::<_, Error>(warnings)
            }
            .await;
            match result {
                Ok(warnings) => Validation { error: None, warnings },
                Err(error) => Validation {
                    error: Some(error.to_string()),
                    warnings: Vec::new(),
                },
            }
        })
    }

    fn get_secret<'a>(&'a self, call: &'a Resolved, remote: &'a RemoteRef) -> BoxFuture<'a, Result<SecretValue>> {
        Box::pin(async move { self.store.get_secret(&self.client(call).await?.client, remote).await })
    }

    fn get_secret_map<'a>(&'a self, call: &'a Resolved, remote: &'a RemoteRef) -> BoxFuture<'a, Result<SecretMap>> {
        Box::pin(async move {
            self.store
                .get_secret_map(&self.client(call).await?.client, remote)
                .await
        })
    }

    fn get_all_secrets<'a>(&'a self, call: &'a Resolved, find: &'a FindQuery) -> BoxFuture<'a, Result<SecretMap>> {
        Box::pin(async move { self.store.get_all_secrets(&self.client(call).await?.client, find).await })
    }

    fn push_secret<'a>(&'a self, call: &'a Resolved, push: &'a PushRequest) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { self.store.push_secret(&self.client(call).await?.client, push).await })
    }

    fn delete_secret<'a>(&'a self, call: &'a Resolved, remote: &'a PushRemoteRef) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { self.store.delete_secret(&self.client(call).await?.client, remote).await })
    }

    fn secret_exists<'a>(&'a self, call: &'a Resolved, remote: &'a PushRemoteRef) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move { self.store.secret_exists(&self.client(call).await?.client, remote).await })
    }
}

pub(crate) struct GeneratorAdapter<G: Generator>(pub G);

impl<G: Generator> ErasedGenerator for GeneratorAdapter<G> {
    fn gvk(&self) -> Gvk {
        G::Spec::GVK
    }

    fn crd(&self) -> Option<Result<crate::crd::CustomResourceDefinition>> {
        G::Spec::crd()
    }

    fn generate<'a>(&'a self, call: &'a Resolved) -> BoxFuture<'a, Result<(SecretMap, Vec<u8>)>> {
        Box::pin(async move {
            let spec: G::Spec = parse_spec(&call.object)?;
            let ctx = Ctx::new(Arc::clone(&call.object), call.scope.clone(), Arc::clone(&call.source));
            let generated = self.0.generate(&ctx, &spec).await?;
            let state = match generated.state {
                Some(state) => serde_json::to_vec(&state)
                    .map_err(|error| Error::internal(format!("{}: encoding generator state: {error}", call.object)))?,
                None => Vec::new(),
            };
            Ok((generated.secrets, state))
        })
    }

    fn cleanup<'a>(&'a self, call: &'a Resolved, exists: bool, state: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if state.is_empty() {
                return Ok(());
            }
            let state: G::State = serde_json::from_slice(state).map_err(|error| {
                Error::invalid_request(format!(
                    "{}: state is not a {} state: {}",
                    call.object,
                    G::Spec::GVK.kind,
                    without_quoted_values(&error.to_string())
                ))
            })?;
            let spec: Option<G::Spec> = if exists { Some(parse_spec(&call.object)?) } else { None };
            let ctx = Ctx::new(Arc::clone(&call.object), call.scope.clone(), Arc::clone(&call.source));
            self.0.cleanup(&ctx, spec.as_ref(), state).await
        })
    }
}

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
            "{what}.api_version {api_version:?} is not of the form group/version"
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
        check_reference("provider_ref", api_version, kind)?;
        self.stores
            .iter()
            .find(|s| s.gvk().matches(api_version, kind))
            .cloned()
            .ok_or_else(|| {
                Error::unimplemented_kind(kind, api_version, &kind_list(self.stores.iter().map(|s| s.gvk())))
            })
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
            format!("kind {kind} ({api_version}) is not served by this provider; it serves: {served}"),
        )
    }
}
