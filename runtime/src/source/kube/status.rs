//! Writes provider objects' `Ready` condition by server-side apply on the
//! `status` subresource: only when something changed, at a bounded rate, and
//! retried with backoff while the API server is away (each attempt bounded by a
//! timeout). One task; the newest wanted state of an object replaces any older
//! one still waiting, so what waits is bounded by the number of objects.

use super::backoff::ExponentialBackoff;
use crate::crd::ProviderStatus;
use crate::source::ObjectKey;
use crate::source::ReadyState;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The field manager the runtime applies status as.
pub const FIELD_MANAGER: &str = "eso-provider-runtime";

/// The `Ready` state wanted for one object.
pub(crate) struct StatusUpdate {
    pub resource: ApiResource,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub generation: Option<i64>,
    pub state: ReadyState,
    /// The object's status as last seen, for `lastTransitionTime`.
    pub previous: ProviderStatus,
}

impl StatusUpdate {
    fn key(&self) -> Key {
        Key {
            plural: self.resource.plural.clone(),
            object: ObjectKey::new(&self.namespace, &self.name),
        }
    }

    fn same_as(&self, other: &StatusUpdate) -> bool {
        self.uid == other.uid && self.generation == other.generation && self.state == other.state
    }

    fn describe(&self) -> String {
        crate::display::object_name(&self.resource.kind, &self.namespace, &self.name).to_string()
    }
}

/// How often and how hard status writes are tried.
#[derive(Debug, Clone)]
pub struct StatusPolicy {
    /// At least this long between two writes (all objects together).
    pub min_interval: Duration,
    /// The first retry delay after a failed write; doubles up to `retry_max`.
    pub retry_initial: Duration,
    /// The longest delay between retries.
    pub retry_max: Duration,
    /// How long one write may take before it counts as failed (and is retried).
    pub write_timeout: Duration,
}

impl Default for StatusPolicy {
    fn default() -> Self {
        StatusPolicy {
            min_interval: Duration::from_millis(50),
            retry_initial: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// The newest wanted state per object, waiting for the writer task. Bounded by
/// the number of objects, however many calls report.
#[derive(Default)]
struct Wanted {
    updates: Mutex<HashMap<Key, StatusUpdate>>,
    changed: Notify,
}

/// One object's place in the queues: its resource (plural) and namespace/name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    plural: String,
    object: ObjectKey,
}

/// Hands wanted states to the writer task.
pub(crate) struct StatusWriter {
    wanted: Arc<Wanted>,
}

impl StatusWriter {
    /// Starts the writer task; the caller aborts it when done.
    pub(crate) fn spawn(client: kube::Client, policy: StatusPolicy) -> (Self, tokio::task::JoinHandle<()>) {
        let wanted = Arc::new(Wanted::default());
        let task = tokio::spawn(write_loop(client, policy, Arc::clone(&wanted)));
        (StatusWriter { wanted }, task)
    }

    pub(crate) fn send(&self, update: StatusUpdate) {
        if let Ok(mut updates) = self.wanted.updates.lock() {
            let key = update.key();
            if updates.get(&key).is_some_and(|u| u.same_as(&update)) {
                return;
            }
            updates.insert(key, update);
        }
        self.wanted.changed.notify_one();
    }
}

struct Pending {
    update: StatusUpdate,
    due: Instant,
    backoff: ExponentialBackoff,
}

async fn write_loop(client: kube::Client, policy: StatusPolicy, wanted: Arc<Wanted>) {
    let mut pending: HashMap<Key, Pending> = HashMap::new();
    let mut written: HashMap<Key, StatusUpdate> = HashMap::new();
    let mut last_write = Instant::now() - policy.min_interval;
    loop {
        let arrived = wanted
            .updates
            .lock()
            .map(|mut updates| std::mem::take(&mut *updates))
            .unwrap_or_default();
        for (key, update) in arrived {
            if written.get(&key).is_some_and(|w| w.same_as(&update)) {
                pending.remove(&key);
                continue;
            }
            // Already waiting (perhaps for a retry): keep its schedule, so a
            // stream of identical reports never outruns the backoff.
            if pending.get(&key).is_some_and(|p| p.update.same_as(&update)) {
                continue;
            }
            let backoff = ExponentialBackoff::new(policy.retry_initial, policy.retry_max);
            pending.insert(
                key,
                Pending {
                    update,
                    due: Instant::now(),
                    backoff,
                },
            );
        }
        let now = Instant::now();
        let Some(key) = pending.iter().find(|(_, p)| p.due <= now).map(|(k, _)| k.clone()) else {
            match pending.values().map(|p| p.due).min() {
                Some(due) => {
                    tokio::select! {
                        _ = wanted.changed.notified() => {}
                        _ = tokio::time::sleep_until(due) => {}
                    }
                }
                None => wanted.changed.notified().await,
            }
            continue;
        };
        tokio::time::sleep_until(last_write + policy.min_interval).await;
        last_write = Instant::now();
        let Some(mut entry) = pending.remove(&key) else {
            continue;
        };
        let outcome = match tokio::time::timeout(policy.write_timeout, apply(&client, &entry.update)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Outcome::Retry(crate::Error::unavailable(format!(
                "the Kubernetes API did not answer within {:?}",
                policy.write_timeout
            )))),
        };
        match outcome {
            Ok(()) => {
                tracing::info!(object = %entry.update.describe(), state = ?entry.update.state, "status written");
                written.insert(key, entry.update);
            }
            Err(Outcome::Gone) => {
                tracing::debug!(object = %entry.update.describe(), "object gone; status not written");
                written.remove(&key);
            }
            Err(Outcome::Retry(error)) => {
                let delay = entry.backoff.next_delay();
                tracing::warn!(object = %entry.update.describe(), %error, retry_in_ms = delay.as_millis() as u64, "status not written");
                entry.due = Instant::now() + delay;
                pending.insert(key, entry);
            }
        }
    }
}

enum Outcome {
    /// The object was deleted or replaced (another UID): nothing to write.
    Gone,
    Retry(crate::Error),
}

async fn apply(client: &kube::Client, update: &StatusUpdate) -> Result<(), Outcome> {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default();
    let condition = update.state.condition(update.generation, &update.previous, &now);
    let body = serde_json::json!({
        "apiVersion": update.resource.api_version,
        "kind": update.resource.kind,
        "metadata": { "name": update.name, "namespace": update.namespace, "uid": update.uid },
        "status": { "conditions": [condition], "observedGeneration": update.generation },
    });
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &update.namespace, &update.resource);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    match api.patch_status(&update.name, &params, &Patch::Apply(&body)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Err(Outcome::Gone),
        Err(error) => Err(Outcome::Retry(super::errors::describe_api_error(
            &format!("{}/status", update.describe()),
            "patch",
            &error,
        ))),
    }
}
