//! The author's stores and generators behind object-safe traits: a wire call
//! reaches `ErasedStore`/`ErasedGenerator`, the adapter parses the object's spec,
//! connects (and caches) the backend client and calls the author's method.

use super::call::Resolved;
use super::client_cache::{ClientCache, ClientCachePolicy};
use super::readiness::not_ready;
use crate::context::SecretVersion;
use crate::error::without_quoted_values;
use crate::source::{ReadyState, StoredObject};
use crate::{
    Capabilities, Ctx, Error, FindQuery, Generator, Gvk, ProviderSpec, PushRemoteRef, PushRequest, RemoteRef, Result,
    SecretMap, SecretStore, SecretValue,
};
use futures::future::BoxFuture;
use std::sync::Arc;

/// The outcome of Validate, reported in-band.
pub(crate) struct Validation {
    pub error: Option<String>,
    pub warnings: Vec<String>,
}

pub(crate) trait ErasedStore: Send + Sync {
    fn gvk(&self) -> Gvk;
    fn crd(&self) -> Option<Result<crate::crd::CustomResourceDefinition>>;
    fn capabilities(&self) -> Capabilities;
    fn set_client_cache_policy(&self, policy: ClientCachePolicy);
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

/// One connected client, valid while the object's configuration (UID and
/// generation) and the Secrets it read are unchanged.
struct Connected<S: SecretStore> {
    /// The object as it was when connected (shared, not copied).
    object: Arc<StoredObject>,
    secrets: Vec<SecretVersion>,
    client: S::Client,
}

impl<S: SecretStore> Connected<S> {
    fn is_current(&self, call: &Resolved) -> bool {
        self.object.same_configuration(&call.object)
            && self.secrets.iter().all(|read| {
                matches!(
                    call.source.secret(&read.secret.namespace, &read.secret.name),
                    Ok(Some(s)) if s.resource_version == read.resource_version
                )
            })
    }
}

pub(crate) struct StoreAdapter<S: SecretStore> {
    store: S,
    clients: ClientCache<Connected<S>>,
}

impl<S: SecretStore> StoreAdapter<S> {
    pub(crate) fn new(store: S) -> Self {
        StoreAdapter {
            store,
            clients: ClientCache::new(),
        }
    }

    /// The client for a data call; a failure to build it is recorded on the
    /// object's status.
    async fn client(&self, call: &Resolved) -> Result<Arc<Connected<S>>> {
        self.connected(call)
            .await
            .inspect_err(|error| call.report(not_ready(error)))
    }

    /// The client for this object: cached while current, otherwise built once even
    /// when many calls arrive together.
    async fn connected(&self, call: &Resolved) -> Result<Arc<Connected<S>>> {
        self.connected_with(call, None).await
    }

    /// [`connected`](Self::connected), given the spec when the caller has parsed it
    /// and run `validate_spec` on it already (Validate, which reports its warnings),
    /// so that a new client does not check it a second time.
    async fn connected_with(&self, call: &Resolved, checked: Option<S::Spec>) -> Result<Arc<Connected<S>>> {
        // Keyed by the credentials the scope reaches too: a client connected with one
        // namespace's credentials never serves a call from another.
        let slot = self
            .clients
            .slot(&call.object.namespace, &call.object.name, call.scope.credential())?;
        if let Some(connected) = slot.current.load_full().filter(|c| c.is_current(call)) {
            return Ok(connected);
        }
        let _building = slot.building.lock().await;
        if let Some(connected) = slot.current.load_full().filter(|c| c.is_current(call)) {
            return Ok(connected);
        }
        let spec = match checked {
            Some(spec) => spec,
            None => {
                let spec: S::Spec = parse_spec(&call.object)?;
                self.store
                    .validate_spec(&spec)
                    .map_err(|e| e.context(call.object.as_ref()))?;
                spec
            }
        };
        let ctx = Ctx::new(Arc::clone(&call.object), call.scope.clone(), Arc::clone(&call.source));
        let client = self.store.connect(&ctx, &spec).await?;
        let connected = Arc::new(Connected {
            object: Arc::clone(&call.object),
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

    fn set_client_cache_policy(&self, policy: ClientCachePolicy) {
        self.clients.set_policy(policy);
    }

    fn validate<'a>(&'a self, call: &'a Resolved) -> BoxFuture<'a, Validation> {
        Box::pin(async move {
            let result = async {
                let spec: S::Spec = parse_spec(&call.object)?;
                let mut warnings = self
                    .store
                    .validate_spec(&spec)
                    .map_err(|e| e.context(call.object.as_ref()))?;
                let connected = self.connected_with(call, Some(spec)).await?;
                warnings.extend(self.store.validate(&connected.client).await?);
                Ok::<_, Error>(warnings)
            }
            .await;
            match result {
                Ok(warnings) => {
                    call.report(ReadyState::Ready);
                    Validation { error: None, warnings }
                }
                Err(error) => {
                    call.report(not_ready(&error));
                    Validation {
                        error: Some(error.to_string()),
                        warnings: Vec::new(),
                    }
                }
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
