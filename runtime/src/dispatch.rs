//! Dispatch: from a request's `apiVersion` + `kind` to the registered store or
//! generator, with the author's types erased, and the per-object client cache.

use crate::bounded;
use crate::context::SecretVersions;
use crate::error::without_quoted_values;
use crate::kind::parse_api_version;
use crate::scope::{Credential, Scope};
use crate::source::{ReadyState, Source, StoredObject};
use crate::{
    Capabilities, Ctx, Error, FindQuery, Generator, Gvk, ProviderSpec, PushRemoteRef, PushRequest, RemoteRef, Result,
    SecretMap, SecretStore, SecretValue,
};
use arc_swap::ArcSwapOption;
use futures::future::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A provider object found for a request, with the namespaces the request may touch.
pub(crate) struct Resolved {
    pub object: Arc<StoredObject>,
    pub scope: Scope,
    pub source: Arc<dyn Source>,
}

/// The `Ready=False` state for an error. The reason depends on the error's kind
/// only, so Validate and data calls that fail the same way record the same state
/// (and nothing is written again when they alternate).
fn not_ready(error: &Error) -> ReadyState {
    use crate::ErrorKind;
    let reason = match error.kind() {
        ErrorKind::InvalidConfig | ErrorKind::InvalidRequest => "InvalidConfiguration",
        ErrorKind::PermissionDenied | ErrorKind::Unauthenticated => "AccessDenied",
        ErrorKind::Unavailable | ErrorKind::DeadlineExceeded => "BackendUnavailable",
        _ => "Error",
    };
    ReadyState::NotReady {
        reason,
        message: error.to_string(),
    }
}

impl Resolved {
    /// Records whether the provider can use the object, on the object's status,
    /// where the scope allows it ([`Scope::reports_object_status`]).
    fn report(&self, state: ReadyState) {
        if self.scope.reports_object_status() {
            self.source.report(&self.object, state);
        }
    }
}

/// How many backend clients a store keeps, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCachePolicy {
    /// A client not used for this long is dropped (and rebuilt on the next call).
    pub idle_ttl: Duration,
    /// At most this many clients per kind; the least recently used goes first.
    pub max_entries: usize,
}

impl Default for ClientCachePolicy {
    fn default() -> Self {
        ClientCachePolicy {
            idle_ttl: Duration::from_secs(15 * 60),
            max_entries: 1024,
        }
    }
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
    secrets: SecretVersions,
    client: S::Client,
}

impl<S: SecretStore> Connected<S> {
    fn is_current(&self, call: &Resolved) -> bool {
        self.object.same_configuration(&call.object)
            && self.secrets.iter().all(|(namespace, name, version)| {
                matches!(call.source.secret(namespace, name), Ok(Some(s)) if &s.resource_version == version)
            })
    }
}

/// Which credentials a cached client was connected with ([`Credential`], owned).
#[derive(Debug, Clone, PartialEq, Eq)]
enum CredentialKey {
    Namespaced,
    Cluster,
    ClusterManifest(String),
}

/// Object namespace, object name, and the credentials the scope reaches.
struct ClientKey {
    namespace: String,
    name: String,
    credential: CredentialKey,
}

impl ClientKey {
    fn new(namespace: &str, name: &str, credential: Credential<'_>) -> Self {
        ClientKey {
            namespace: namespace.to_string(),
            name: name.to_string(),
            credential: match credential {
                Credential::Namespaced => CredentialKey::Namespaced,
                Credential::Cluster => CredentialKey::Cluster,
                Credential::ClusterManifest(source) => CredentialKey::ClusterManifest(source.to_string()),
            },
        }
    }

    /// Compared with borrowed parts: a call's lookup allocates nothing.
    fn is(&self, namespace: &str, name: &str, credential: Credential<'_>) -> bool {
        self.namespace == namespace
            && self.name == name
            && match (&self.credential, credential) {
                (CredentialKey::Namespaced, Credential::Namespaced) | (CredentialKey::Cluster, Credential::Cluster) => {
                    true
                }
                (CredentialKey::ClusterManifest(mine), Credential::ClusterManifest(theirs)) => mine == theirs,
                _ => false,
            }
    }
}

struct Slot<S: SecretStore> {
    current: ArcSwapOption<Connected<S>>,
    building: tokio::sync::Mutex<()>,
    /// Milliseconds since the cache's epoch of the last use (for idle eviction).
    last_used: AtomicU64,
    /// The cache's use counter at the last use (exact recency, for LRU eviction).
    recency: AtomicU64,
}

/// The slots whose keys share a hash.
type Bucket<S> = Vec<(ClientKey, Arc<Slot<S>>)>;

/// The backend clients of one kind, by object and credential context; bounded in
/// count, idle ones dropped.
struct ClientCache<S: SecretStore> {
    /// By the hash of the key's parts (hashed borrowed, so a hit allocates
    /// nothing); each bucket holds the keys with that hash.
    slots: Mutex<foldhash::HashMap<u64, Bucket<S>>>,
    /// foldhash, seeded per process: the keys name objects the source holds, and a
    /// lookup is on every call (SipHash cost a few hundred instructions there).
    hasher: foldhash::fast::RandomState,
    policy: Mutex<ClientCachePolicy>,
    epoch: Instant,
    last_sweep: AtomicU64,
    /// Counts uses; orders slots by recency even within one millisecond.
    uses: AtomicU64,
}

impl<S: SecretStore> ClientCache<S> {
    fn new() -> Self {
        ClientCache {
            slots: Mutex::new(foldhash::HashMap::default()),
            hasher: foldhash::fast::RandomState::default(),
            policy: Mutex::new(ClientCachePolicy::default()),
            epoch: Instant::now(),
            last_sweep: AtomicU64::new(0),
            uses: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn policy(&self) -> ClientCachePolicy {
        self.policy.lock().map(|p| *p).unwrap_or_default()
    }

    /// The slot for this object and credential context, made if new; drops idle
    /// slots now and then, and the least recently used one when the cache is full.
    fn slot(&self, namespace: &str, name: &str, credential: Credential<'_>) -> Result<Arc<Slot<S>>> {
        use std::hash::BuildHasher;
        let policy = self.policy();
        let now = self.now_ms();
        let idle_ms = policy.idle_ttl.as_millis() as u64;
        let hash = self.hasher.hash_one((namespace, name, credential));
        let mut slots = self
            .slots
            .lock()
            .map_err(|_| Error::internal("client cache lock poisoned"))?;
        let sweep_every = (idle_ms / 4).clamp(10, 30_000);
        if now.saturating_sub(self.last_sweep.load(Ordering::Relaxed)) >= sweep_every {
            self.last_sweep.store(now, Ordering::Relaxed);
            slots.retain(|_, bucket| {
                bucket.retain(|(_, slot)| now.saturating_sub(slot.last_used.load(Ordering::Relaxed)) < idle_ms);
                !bucket.is_empty()
            });
        }
        let use_number = self.uses.fetch_add(1, Ordering::Relaxed);
        let found = slots
            .get(&hash)
            .and_then(|bucket| bucket.iter().find(|(key, _)| key.is(namespace, name, credential)));
        if let Some((_, slot)) = found {
            slot.last_used.store(now, Ordering::Relaxed);
            slot.recency.store(use_number, Ordering::Relaxed);
            return Ok(Arc::clone(slot));
        }
        while slots.values().map(Vec::len).sum::<usize>() >= policy.max_entries.max(1) {
            let oldest = slots
                .iter()
                .flat_map(|(hash, bucket)| {
                    bucket
                        .iter()
                        .enumerate()
                        .map(move |(index, (_, slot))| (*hash, index, slot.recency.load(Ordering::Relaxed)))
                })
                .min_by_key(|(_, _, recency)| *recency);
            let Some((oldest_hash, index, _)) = oldest else {
                break;
            };
            if let Some(bucket) = slots.get_mut(&oldest_hash) {
                bucket.swap_remove(index);
                if bucket.is_empty() {
                    slots.remove(&oldest_hash);
                }
            }
        }
        let slot = Arc::new(Slot {
            current: ArcSwapOption::empty(),
            building: tokio::sync::Mutex::new(()),
            last_used: AtomicU64::new(now),
            recency: AtomicU64::new(use_number),
        });
        slots
            .entry(hash)
            .or_default()
            .push((ClientKey::new(namespace, name, credential), Arc::clone(&slot)));
        Ok(slot)
    }
}

pub(crate) struct StoreAdapter<S: SecretStore> {
    store: S,
    clients: ClientCache<S>,
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
        if let Ok(mut current) = self.clients.policy.lock() {
            *current = policy;
        }
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
