//! One watch cache: a kube-runtime watcher feeding an in-memory map of converted
//! objects. A relist (first start, an expired watch's 410 Gone, a reconnect)
//! builds a new map beside the old one and swaps it in when complete, so lookups
//! keep answering from the last full view while the API server is away.

use super::errors::describe_watch_error;
use crate::Error;
use crate::source::ObjectKey;
use futures::{Stream, StreamExt};
use kube::runtime::watcher;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tokio::sync::Notify;

/// The objects one watcher has seen, converted once per event.
pub(crate) struct WatchCache<T> {
    /// What is watched, for messages (e.g. `Secret team-a/creds`).
    pub what: String,
    /// By namespace, then name: looked up with borrowed `&str`s, so a call's lookup
    /// allocates nothing. No namespace is left empty.
    objects: RwLock<HashMap<String, HashMap<String, Arc<T>>>>,
    synced: AtomicBool,
    last_error: Mutex<Option<Error>>,
    changed: Notify,
    /// Milliseconds since `epoch` of the last lookup (for idle eviction).
    last_used: AtomicU64,
    epoch: Instant,
}

impl<T> WatchCache<T> {
    pub(crate) fn new(what: String, epoch: Instant) -> Arc<Self> {
        Arc::new(WatchCache {
            what,
            objects: RwLock::new(HashMap::new()),
            synced: AtomicBool::new(false),
            last_error: Mutex::new(None),
            changed: Notify::new(),
            last_used: AtomicU64::new(0),
            epoch,
        })
    }

    /// The cached object, if any.
    pub(crate) fn get(&self, namespace: &str, name: &str) -> Option<Arc<T>> {
        self.touch();
        let objects = self.objects.read().ok()?;
        objects.get(namespace).and_then(|names| names.get(name)).cloned()
    }

    /// Whether the first full list has arrived.
    pub(crate) fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// The last watch error, while it is unresolved.
    pub(crate) fn last_error(&self) -> Option<Error> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// Waits until the cache is synced or has an error to report.
    pub(crate) async fn wait_synced_or_error(&self) {
        loop {
            let changed = self.changed.notified();
            if self.is_synced() || self.last_error().is_some() {
                return;
            }
            changed.await;
        }
    }

    /// How long ago the cache was last read.
    pub(crate) fn idle_for(&self) -> std::time::Duration {
        let now = self.epoch.elapsed().as_millis() as u64;
        std::time::Duration::from_millis(now.saturating_sub(self.last_used.load(Ordering::Relaxed)))
    }

    /// Whether the cache has loaded and holds nothing (e.g. a Secret that does not exist).
    pub(crate) fn is_empty_and_synced(&self) -> bool {
        self.is_synced() && self.objects.read().map(|o| o.is_empty()).unwrap_or(false)
    }

    pub(crate) fn touch(&self) {
        self.last_used
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn set_error(&self, error: Option<Error>) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = error;
        }
        self.changed.notify_waiters();
    }

    fn replace(&self, objects: HashMap<ObjectKey, Arc<T>>) {
        let mut nested: HashMap<String, HashMap<String, Arc<T>>> = HashMap::new();
        for (ObjectKey { namespace, name }, object) in objects {
            nested.entry(namespace).or_default().insert(name, object);
        }
        if let Ok(mut current) = self.objects.write() {
            *current = nested;
        }
        self.synced.store(true, Ordering::Release);
        self.set_error(None);
    }

    fn insert(&self, ObjectKey { namespace, name }: ObjectKey, object: Arc<T>) {
        if let Ok(mut current) = self.objects.write() {
            current.entry(namespace).or_default().insert(name, object);
        }
    }

    fn remove(&self, ObjectKey { namespace, name }: &ObjectKey) {
        if let Ok(mut current) = self.objects.write()
            && let Some(names) = current.get_mut(namespace)
        {
            names.remove(name);
            if names.is_empty() {
                current.remove(namespace);
            }
        }
    }
}

/// Feeds `cache` from `events` until the stream ends (it does not: the caller
/// aborts the task). `convert` turns one object into its key and cached form;
/// objects it cannot convert are logged and left out.
pub(crate) async fn run<K, T>(
    cache: Arc<WatchCache<T>>,
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
    convert: impl Fn(K) -> Result<(ObjectKey, T), String>,
) {
    let mut events = std::pin::pin!(events);
    let mut buffer: Option<HashMap<ObjectKey, Arc<T>>> = None;
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Init) => buffer = Some(HashMap::new()),
            Ok(watcher::Event::InitApply(object)) => match convert(object) {
                Ok((key, value)) => {
                    buffer.get_or_insert_with(HashMap::new).insert(key, Arc::new(value));
                }
                Err(error) => tracing::warn!(cache = %cache.what, %error, "object left out of the cache"),
            },
            Ok(watcher::Event::InitDone) => {
                let objects = buffer.take().unwrap_or_default();
                tracing::debug!(cache = %cache.what, objects = objects.len(), "cache synced");
                cache.replace(objects);
            }
            Ok(watcher::Event::Apply(object)) => match convert(object) {
                Ok((key, value)) => {
                    cache.insert(key, Arc::new(value));
                    cache.set_error(None);
                }
                Err(error) => tracing::warn!(cache = %cache.what, %error, "object left out of the cache"),
            },
            Ok(watcher::Event::Delete(object)) => {
                if let Ok((key, _)) = convert(object) {
                    cache.remove(&key);
                }
            }
            Err(error) => {
                let error = describe_watch_error(&cache.what, &error);
                if cache.last_error().as_ref() != Some(&error) {
                    tracing::warn!(cache = %cache.what, %error, "watch failed; retrying with backoff, cached objects keep serving");
                }
                cache.set_error(Some(error));
            }
        }
    }
}
