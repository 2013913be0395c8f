//! The backend clients a store kind keeps: one per provider object and the
//! credentials its scope reaches, bounded in count ([`Lru`]), idle ones dropped.

use crate::Result;
use crate::lru::Lru;
use crate::scope::Credential;
use crate::source::ObjectKey;
use arc_swap::ArcSwapOption;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many backend clients a store keeps, and for how long.
///
/// Set with [`Provider::client_cache`](crate::Provider::client_cache).
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

/// Which credentials a cached client was connected with ([`Credential`], owned).
#[derive(Debug, Clone, PartialEq, Eq)]
enum CredentialKey {
    Namespaced,
    Cluster,
    ClusterManifest(String),
}

/// The provider object and the credentials the scope reaches.
struct ClientKey {
    object: ObjectKey,
    credential: CredentialKey,
}

impl ClientKey {
    fn new(namespace: &str, name: &str, credential: Credential<'_>) -> Self {
        ClientKey {
            object: ObjectKey::new(namespace, name),
            credential: match credential {
                Credential::Namespaced => CredentialKey::Namespaced,
                Credential::Cluster => CredentialKey::Cluster,
                Credential::ClusterManifest(source) => CredentialKey::ClusterManifest(source.to_string()),
            },
        }
    }

    /// Compared with borrowed parts: a call's lookup allocates nothing.
    fn is(&self, namespace: &str, name: &str, credential: Credential<'_>) -> bool {
        self.object.is(namespace, name)
            && match (&self.credential, credential) {
                (CredentialKey::Namespaced, Credential::Namespaced) | (CredentialKey::Cluster, Credential::Cluster) => {
                    true
                }
                (CredentialKey::ClusterManifest(mine), Credential::ClusterManifest(theirs)) => mine == theirs,
                _ => false,
            }
    }
}

/// Where one object's client lives: the current one (if any), and the lock that
/// makes many calls arriving together build it once.
pub(crate) struct Slot<C> {
    pub current: ArcSwapOption<C>,
    pub building: tokio::sync::Mutex<()>,
    /// Milliseconds since the cache's epoch of the last use (for idle eviction).
    last_used: AtomicU64,
}

/// The clients of one kind, by object and credentials.
pub(crate) struct ClientCache<C> {
    slots: Lru<ClientKey, Arc<Slot<C>>>,
    policy: Mutex<ClientCachePolicy>,
    epoch: Instant,
    last_sweep: AtomicU64,
}

impl<C> ClientCache<C> {
    pub(crate) fn new() -> Self {
        ClientCache {
            slots: Lru::new("client cache"),
            policy: Mutex::new(ClientCachePolicy::default()),
            epoch: Instant::now(),
            last_sweep: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn policy(&self) -> ClientCachePolicy {
        self.policy.lock().map(|p| *p).unwrap_or_default()
    }

    pub(crate) fn set_policy(&self, policy: ClientCachePolicy) {
        if let Ok(mut current) = self.policy.lock() {
            *current = policy;
        }
    }

    /// The slot for this object and credentials, made if new; drops idle slots now
    /// and then, and the least recently used one when the cache is full.
    pub(crate) fn slot(&self, namespace: &str, name: &str, credential: Credential<'_>) -> Result<Arc<Slot<C>>> {
        let policy = self.policy();
        let now = self.now_ms();
        let idle_ms = policy.idle_ttl.as_millis() as u64;
        let sweep_every = (idle_ms / 4).clamp(10, 30_000);
        if now.saturating_sub(self.last_sweep.load(Ordering::Relaxed)) >= sweep_every {
            self.last_sweep.store(now, Ordering::Relaxed);
            self.slots
                .retain(|_, slot| now.saturating_sub(slot.last_used.load(Ordering::Relaxed)) < idle_ms)?;
        }
        let slot = self.slots.get_or_insert_with(
            (namespace, name, credential),
            |key| key.is(namespace, name, credential),
            policy.max_entries,
            || {
                let slot = Arc::new(Slot {
                    current: ArcSwapOption::empty(),
                    building: tokio::sync::Mutex::new(()),
                    last_used: AtomicU64::new(now),
                });
                (ClientKey::new(namespace, name, credential), slot)
            },
        )?;
        slot.last_used.store(now, Ordering::Relaxed);
        Ok(slot)
    }
}
