//! Provider objects and Secrets from the Kubernetes API, through watch caches.
//!
//! - Each served kind is watched (kube-runtime watchers) in the configured
//!   [`WatchScope`]: every namespace, or a list of namespaces (one watch each), so
//!   the chart can grant least privilege. `/readyz` stays false until every kind's
//!   first list has arrived.
//! - Secrets are watched one by one, and only those the provider objects actually
//!   reference: the first [`Ctx::secret`](crate::Ctx::secret) of a Secret starts a
//!   watch on it (field selector `metadata.name`), waits for its first list, and
//!   from then on reads come from memory. A Secret's watch stops when nothing has
//!   read it for [`KubeSettings::secret_idle_ttl`] (a missing Secret's sooner), and
//!   at most [`KubeSettings::max_secret_watches`] run at once.
//! - Steady-state calls make no API request at all.
//! - When the API server is unreachable, cached objects keep serving and watches
//!   retry with backoff; an expired watch (410 Gone) relists without dropping
//!   calls; a 403 is reported naming the permission the ServiceAccount lacks.
//! - `Ready` conditions go to the objects' `status` by server-side apply
//!   ([`StatusPolicy`]).

mod backoff;
mod cache;
mod convert;
mod errors;
mod status;

pub use status::{FIELD_MANAGER, StatusPolicy};

use crate::lru::Lru;
use crate::source::ObjectKey;
use crate::source::{ReadyState, Source, StoredObject, StoredSecret};
use crate::{Error, Gvk, Result};
use backoff::ExponentialBackoff;
use cache::WatchCache;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};
use status::{StatusUpdate, StatusWriter};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which namespaces the provider watches for its own objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchScope {
    /// Every namespace (needs a ClusterRole).
    AllNamespaces,
    /// Only these (a Role in each is enough).
    Namespaces(Vec<String>),
}

impl WatchScope {
    /// From a list of namespaces: empty means every namespace.
    pub fn from_list(namespaces: &[String]) -> Self {
        let mut list: Vec<String> = namespaces
            .iter()
            .map(|ns| ns.trim().to_string())
            .filter(|ns| !ns.is_empty())
            .collect();
        list.sort();
        list.dedup();
        if list.is_empty() {
            WatchScope::AllNamespaces
        } else {
            WatchScope::Namespaces(list)
        }
    }
}

/// A kind the provider serves, as the Kubernetes API names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedKind {
    /// API group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Plural resource name.
    pub plural: String,
}

impl WatchedKind {
    fn resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.clone(),
            version: self.version.clone(),
            api_version: format!("{}/{}", self.group, self.version),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
    }
}

/// How the Kubernetes source behaves.
#[derive(Debug, Clone)]
pub struct KubeSettings {
    /// Where the provider's own objects are watched.
    pub watch: WatchScope,
    /// The longest delay between two attempts of a failing watch.
    pub watch_retry_max: Duration,
    /// A Secret nobody read for this long stops being watched (a Secret that does
    /// not exist: after a minute, or this, whichever is shorter).
    pub secret_idle_ttl: Duration,
    /// At most this many Secrets are watched at once; past it the least recently
    /// read one stops being watched.
    pub max_secret_watches: usize,
    /// How long the first read of a Secret waits for its first list.
    pub secret_load_timeout: Duration,
    /// Status writing.
    pub status: StatusPolicy,
}

impl Default for KubeSettings {
    fn default() -> Self {
        KubeSettings {
            watch: WatchScope::AllNamespaces,
            watch_retry_max: Duration::from_secs(30),
            secret_idle_ttl: Duration::from_secs(15 * 60),
            max_secret_watches: 1024,
            secret_load_timeout: Duration::from_secs(10),
            status: StatusPolicy::default(),
        }
    }
}

/// Aborts a task when dropped.
struct Task(tokio::task::JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

enum KindCaches {
    All(Arc<WatchCache<StoredObject>>),
    Namespaces(HashMap<String, Arc<WatchCache<StoredObject>>>),
}

struct Kind {
    resource: ApiResource,
    caches: KindCaches,
}

struct SecretWatch {
    cache: Arc<WatchCache<StoredSecret>>,
    _task: Task,
}

/// The Kubernetes [`Source`]. Build it with [`KubeSource::start`] inside a Tokio runtime.
pub struct KubeSource {
    client: kube::Client,
    settings: KubeSettings,
    epoch: Instant,
    /// The watched kinds (a few: found by a scan, without a key per call).
    kinds: Vec<Kind>,
    /// The Secrets read, watched one by one; bounded, least recently read dropped.
    secrets: Lru<ObjectKey, Arc<SecretWatch>>,
    status: StatusWriter,
    _tasks: Vec<Task>,
}

impl KubeSource {
    /// Starts watching `kinds` with `client`; returns at once (see
    /// [`is_ready`](Source::is_ready) for when the caches are loaded).
    pub fn start(client: kube::Client, kinds: &[WatchedKind], settings: KubeSettings) -> Arc<Self> {
        let epoch = Instant::now();
        let mut tasks = Vec::new();
        let mut watched = Vec::new();
        for kind in kinds {
            let resource = kind.resource();
            let watch = |namespace: Option<&str>| {
                let (api, place) = match namespace {
                    Some(ns) => (
                        Api::<DynamicObject>::namespaced_with(client.clone(), ns, &resource),
                        format!("in namespace {ns}"),
                    ),
                    None => (
                        Api::<DynamicObject>::all_with(client.clone(), &resource),
                        "in all namespaces".into(),
                    ),
                };
                let what = format!(
                    "{} objects ({}, resource {}) {place}",
                    kind.kind, resource.api_version, kind.plural
                );
                let cache = WatchCache::new(what, epoch);
                let events = watcher(api, watcher::Config::default()).backoff(watch_backoff(&settings));
                let convert_resource = resource.clone();
                let task = tokio::spawn(cache::run(Arc::clone(&cache), events, move |object| {
                    convert::stored_object(&convert_resource, object)
                }));
                (cache, Task(task))
            };
            let caches = match &settings.watch {
                WatchScope::AllNamespaces => {
                    let (cache, task) = watch(None);
                    tasks.push(task);
                    KindCaches::All(cache)
                }
                WatchScope::Namespaces(namespaces) => KindCaches::Namespaces(
                    namespaces
                        .iter()
                        .map(|ns| {
                            let (cache, task) = watch(Some(ns));
                            tasks.push(task);
                            (ns.clone(), cache)
                        })
                        .collect(),
                ),
            };
            watched.push(Kind { resource, caches });
        }
        let (status, status_task) = StatusWriter::spawn(client.clone(), settings.status.clone());
        tasks.push(Task(status_task));
        let source = Arc::new(KubeSource {
            client,
            settings,
            epoch,
            kinds: watched,
            secrets: Lru::new("Secret cache"),
            status,
            _tasks: tasks,
        });
        source.spawn_secret_sweeper();
        source
    }

    /// How many Secrets are watched now.
    pub fn watched_secrets(&self) -> usize {
        self.secrets.len()
    }

    /// Stops watching Secrets nobody read for `secret_idle_ttl`, until the source is dropped.
    fn spawn_secret_sweeper(self: &Arc<Self>) {
        let source = Arc::downgrade(self);
        let period = (self.settings.secret_idle_ttl / 2).clamp(Duration::from_millis(10), Duration::from_secs(60));
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(period);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let Some(source) = source.upgrade() else { return };
                source.evict_idle_secrets();
            }
        });
    }

    fn evict_idle_secrets(&self) {
        let ttl = self.settings.secret_idle_ttl;
        let missing_ttl = ttl.min(MISSING_SECRET_TTL);
        let swept = self.secrets.retain(|secret, watch| {
            let idle = watch.cache.idle_for();
            let keep = idle < ttl && !(watch.cache.is_empty_and_synced() && idle >= missing_ttl);
            if !keep {
                tracing::debug!(%secret, "Secret unused; no longer watched");
            }
            keep
        });
        if let Err(error) = swept {
            tracing::warn!(%error, "sweeping unused Secret watches");
        }
    }

    /// The watch of one Secret, started on first use; past
    /// [`KubeSettings::max_secret_watches`] the least recently read one stops.
    fn secret_watch(&self, namespace: &str, name: &str) -> Result<Arc<SecretWatch>> {
        self.secrets.get_or_insert_with(
            (namespace, name),
            |key| key.is(namespace, name),
            self.settings.max_secret_watches,
            || (ObjectKey::new(namespace, name), self.watch_secret(namespace, name)),
        )
    }

    /// Starts watching the Secret `namespace/name`.
    fn watch_secret(&self, namespace: &str, name: &str) -> Arc<SecretWatch> {
        let cache = WatchCache::new(format!("Secret {namespace}/{name}"), self.epoch);
        cache.touch();
        let api = Api::<Secret>::namespaced(self.client.clone(), namespace);
        let config = watcher::Config::default().fields(&format!("metadata.name={}", escape_field_selector_value(name)));
        let events = watcher(api, config).backoff(watch_backoff(&self.settings));
        let task = tokio::spawn(cache::run(Arc::clone(&cache), events, convert::stored_secret));
        tracing::debug!(secret = %ObjectKey::new(namespace, name), "watching Secret");
        Arc::new(SecretWatch {
            cache,
            _task: Task(task),
        })
    }

    fn kind(&self, gvk: &Gvk) -> Result<&Kind> {
        // A few kinds: found in place, without formatting a key per call.
        self.kinds
            .iter()
            .find(|kind| gvk.matches(&kind.resource.api_version, &kind.resource.kind))
            .ok_or_else(|| Error::internal(format!("kind {gvk} is not watched")))
    }
}

/// How long a watch on a Secret that does not exist is kept unused.
const MISSING_SECRET_TTL: Duration = Duration::from_secs(60);

fn watch_backoff(settings: &KubeSettings) -> ExponentialBackoff {
    ExponentialBackoff::new(Duration::from_millis(200), settings.watch_retry_max)
}

/// The answer from a cache that may not have loaded yet.
fn from_cache<T>(cache: &WatchCache<T>, namespace: &str, name: &str) -> Result<Option<Arc<T>>> {
    if !cache.is_synced() {
        return Err(cache
            .last_error()
            .unwrap_or_else(|| Error::unavailable(format!("{} not loaded yet from the Kubernetes API", cache.what))));
    }
    Ok(cache.get(namespace, name))
}

impl Source for KubeSource {
    fn object(&self, gvk: &Gvk, namespace: &str, name: &str) -> Result<Option<Arc<StoredObject>>> {
        let kind = self.kind(gvk)?;
        let cache = match &kind.caches {
            KindCaches::All(cache) => cache,
            KindCaches::Namespaces(caches) => caches.get(namespace).ok_or_else(|| {
                let mut watched: Vec<&str> = caches.keys().map(String::as_str).collect();
                watched.sort();
                Error::invalid_config(format!(
                    "{} objects in namespace {namespace} are not watched by this provider; it watches {} (WATCH_NAMESPACES)",
                    gvk.kind,
                    watched.join(", ")
                ))
            })?,
        };
        from_cache(cache, namespace, name)
    }

    fn secret(&self, namespace: &str, name: &str) -> Result<Option<Arc<StoredSecret>>> {
        match self.secrets.get((namespace, name), |key| key.is(namespace, name))? {
            Some(watch) => from_cache(&watch.cache, namespace, name),
            None => Ok(None),
        }
    }

    fn fetch_secret<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<StoredSecret>>>> {
        Box::pin(async move {
            // A name no Secret can have is never sent to the API server (it would
            // also change the watch's field selector).
            check_secret_name(namespace, name)?;
            let watch = self.secret_watch(namespace, name)?;
            if !watch.cache.is_synced() {
                let timeout = self.settings.secret_load_timeout;
                if tokio::time::timeout(timeout, watch.cache.wait_synced_or_error())
                    .await
                    .is_err()
                {
                    return Err(Error::unavailable(format!(
                        "the Kubernetes API did not list Secret {namespace}/{name} within {timeout:?}"
                    )));
                }
            }
            from_cache(&watch.cache, namespace, name)
        })
    }

    fn is_ready(&self) -> bool {
        self.kinds.iter().all(|kind| match &kind.caches {
            KindCaches::All(cache) => cache.is_synced(),
            KindCaches::Namespaces(caches) => caches.values().all(|c| c.is_synced()),
        })
    }

    fn report(&self, object: &StoredObject, state: ReadyState) {
        if state.is_recorded_in(&object.status, object.generation) {
            return;
        }
        let Some(kind) = self
            .kinds
            .iter()
            .find(|kind| kind.resource.api_version == object.api_version && kind.resource.kind == object.kind)
        else {
            return;
        };
        self.status.send(StatusUpdate {
            resource: kind.resource.clone(),
            namespace: object.namespace.clone(),
            name: object.name.clone(),
            uid: object.uid.clone(),
            generation: object.generation,
            state,
            previous: object.status.clone(),
        });
    }
}

/// Refuses a Secret namespace or name no Kubernetes object can have: a namespace
/// is a DNS-1123 label, a Secret's name a DNS-1123 subdomain.
fn check_secret_name(namespace: &str, name: &str) -> Result<()> {
    fn label_chars(text: &str) -> bool {
        text.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !text.starts_with('-')
            && !text.ends_with('-')
    }
    let namespace_ok = !namespace.is_empty() && namespace.len() <= 63 && label_chars(namespace);
    let name_ok =
        !name.is_empty() && name.len() <= 253 && name.split('.').all(|part| !part.is_empty() && label_chars(part));
    if namespace_ok && name_ok {
        return Ok(());
    }
    Err(Error::invalid_config(format!(
        "Secret {}/{} cannot exist: a namespace is a DNS-1123 label and a Secret's name a DNS-1123 subdomain (lower-case letters, digits, '-' and '.')",
        crate::display::bounded(namespace),
        crate::display::bounded(name)
    )))
}

/// Escapes a value for a Kubernetes field selector (`\`, `,` and `=` are special),
/// as apimachinery's `fields.EscapeValue` does.
fn escape_field_selector_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn secret_names_are_checked_before_any_request() {
        assert!(check_secret_name("team-a", "db-creds").is_ok());
        assert!(check_secret_name("team-a", "tls.example.com").is_ok());
        for (namespace, name) in [
            ("team-a", "a,metadata.namespace=kube-system"),
            ("team-a", "UPPER"),
            ("team-a", ""),
            ("team-a", "a..b"),
            ("team-a", "-a"),
            ("Team", "a"),
            ("", "a"),
            ("team-a", "a\nb"),
        ] {
            assert!(check_secret_name(namespace, name).is_err(), "{namespace}/{name}");
        }
        let long = "a".repeat(254);
        assert!(check_secret_name("team-a", &long).is_err());
    }

    #[test]
    fn field_selector_values_are_escaped() {
        assert_eq!(escape_field_selector_value("plain"), "plain");
        assert_eq!(escape_field_selector_value("a,b=c\\d"), "a\\,b\\=c\\\\d");
    }
}
