//! The `Fake` secret store.

use crate::spec::{FakeEntry, FakeSpec};
use eso_runtime::util::bounded;
use eso_runtime::{
    Ctx, Error, ErrorKind, FindQuery, PushRemoteRef, PushRequest, RemoteRef, Result, SecretMap, SecretStore,
    SecretValue,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A pushed secret.
#[derive(Debug, Clone)]
struct Pushed {
    value: SecretValue,
    tags: BTreeMap<String, String>,
}

type PushedSecrets = Arc<Mutex<BTreeMap<String, Pushed>>>;

/// The `Fake` store. Pushed secrets live here, one map per provider object (by UID).
#[derive(Default)]
pub struct FakeStore {
    pushed: Mutex<HashMap<String, PushedSecrets>>,
}

/// A connected `Fake` object: its spec's entries and its pushed secrets.
pub struct FakeClient {
    entries: Vec<FakeEntry>,
    pushed: PushedSecrets,
    latency: Duration,
}

fn poisoned() -> Error {
    Error::internal("fake store lock poisoned")
}

impl FakeClient {
    async fn simulate_latency(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }

    fn pushed(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, Pushed>>> {
        self.pushed.lock().map_err(|_| poisoned())
    }

    /// The current value of `key` at `version`: pushed values win for the unversioned read.
    fn lookup(&self, key: &str, version: Option<&str>) -> Result<Option<(SecretValue, Option<&FakeEntry>)>> {
        if version.is_none()
            && let Some(pushed) = self.pushed()?.get(key)
        {
            return Ok(Some((pushed.value.clone(), None)));
        }
        let version = version.unwrap_or("");
        Ok(self
            .entries
            .iter()
            .find(|e| e.key == key && e.version == version)
            .map(|e| (SecretValue::from(e.value.as_str()), Some(e))))
    }
}

fn json_object(value: &SecretValue, key: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_slice::<serde_json::Value>(value.expose()) {
        Ok(serde_json::Value::Object(object)) => Ok(object),
        _ => Err(Error::invalid_request(format!("secret {key} is not a JSON object"))),
    }
}

fn json_to_value(value: &serde_json::Value) -> SecretValue {
    match value {
        serde_json::Value::String(text) => SecretValue::from(text.as_str()),
        other => SecretValue::from(other.to_string()),
    }
}

/// A property, `a.b.c` walking into nested objects.
fn property(object: &serde_json::Map<String, serde_json::Value>, path: &str) -> Option<serde_json::Value> {
    if let Some(value) = object.get(path) {
        return Some(value.clone());
    }
    let mut parts = path.split('.');
    let mut current = object.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current.clone())
}

fn version_label(remote: &RemoteRef) -> String {
    match &remote.version {
        Some(version) => format!("{} (version {version})", remote.key),
        None => remote.key.clone(),
    }
}

#[eso_runtime::secret_store] // reads and writes: READ_WRITE
impl SecretStore for FakeStore {
    type Spec = FakeSpec;
    type Client = FakeClient;

    async fn connect(&self, ctx: &Ctx, spec: &FakeSpec) -> Result<FakeClient> {
        let pushed = {
            let mut all = self.pushed.lock().map_err(|_| poisoned())?;
            Arc::clone(all.entry(ctx.uid().to_string()).or_default())
        };
        Ok(FakeClient {
            entries: spec.data.clone(),
            pushed,
            latency: spec.latency()?,
        })
    }

    fn validate_spec(&self, spec: &FakeSpec) -> Result<Vec<String>> {
        spec.check()?;
        Ok(if spec.data.is_empty() {
            vec!["spec.data is empty: this store serves only what is pushed to it".into()]
        } else {
            Vec::new()
        })
    }

    async fn validate(&self, client: &FakeClient) -> Result<Vec<String>> {
        client.simulate_latency().await;
        Ok(Vec::new())
    }

    async fn get_secret(&self, client: &FakeClient, remote: &RemoteRef) -> Result<SecretValue> {
        client.simulate_latency().await;
        let (value, _) = client
            .lookup(&remote.key, remote.version.as_deref())?
            .ok_or_else(|| Error::secret_not_found(version_label(remote)))?;
        match &remote.property {
            None => Ok(value),
            Some(name) => {
                let object = json_object(&value, &remote.key)?;
                property(&object, name)
                    .map(|v| json_to_value(&v))
                    .ok_or_else(|| Error::secret_not_found(format!("{} property {name}", version_label(remote))))
            }
        }
    }

    async fn get_secret_map(&self, client: &FakeClient, remote: &RemoteRef) -> Result<SecretMap> {
        client.simulate_latency().await;
        let (value, entry) = client
            .lookup(&remote.key, remote.version.as_deref())?
            .ok_or_else(|| Error::secret_not_found(version_label(remote)))?;
        if let Some(map) = entry.and_then(|e| e.value_map.as_ref()) {
            return Ok(map
                .iter()
                .map(|(k, v)| (k.clone(), SecretValue::from(v.as_str())))
                .collect());
        }
        let mut object = json_object(&value, &remote.key)?;
        if let Some(name) = &remote.property {
            object = match property(&object, name) {
                Some(serde_json::Value::Object(inner)) => inner,
                Some(_) => {
                    return Err(Error::invalid_request(format!(
                        "property {name} of {} is not a JSON object",
                        remote.key
                    )));
                }
                None => {
                    return Err(Error::secret_not_found(format!(
                        "{} property {name}",
                        version_label(remote)
                    )));
                }
            };
        }
        Ok(object.iter().map(|(k, v)| (k.clone(), json_to_value(v))).collect())
    }

    async fn get_all_secrets(&self, client: &FakeClient, find: &FindQuery) -> Result<SecretMap> {
        client.simulate_latency().await;
        // Spec entries: the unversioned value, else the last version listed; a
        // pushed secret replaces the entry of the same key.
        let mut latest: BTreeMap<&str, &FakeEntry> = BTreeMap::new();
        for entry in &client.entries {
            let replace = latest
                .get(entry.key.as_str())
                .is_none_or(|current| !current.version.is_empty());
            if replace {
                latest.insert(&entry.key, entry);
            }
        }
        let mut candidates: BTreeMap<String, (SecretValue, BTreeMap<String, String>)> = latest
            .into_iter()
            .map(|(key, entry)| {
                (
                    key.to_string(),
                    (SecretValue::from(entry.value.as_str()), entry.tags.clone()),
                )
            })
            .collect();
        for (key, pushed) in client.pushed()?.iter() {
            candidates.insert(key.clone(), (pushed.value.clone(), pushed.tags.clone()));
        }
        // Matched off the async workers, up to the caller's deadline.
        let found = find
            .select(candidates.into_iter().collect(), |find, (key, (_, tags))| {
                find.matches(key, tags)
            })
            .await?;
        Ok(found.into_iter().map(|(key, (value, _))| (key, value)).collect())
    }

    async fn push_secret(&self, client: &FakeClient, push: &PushRequest) -> Result<()> {
        client.simulate_latency().await;
        let value = push.value()?;
        let tags: BTreeMap<String, String> = match push.metadata.as_ref().and_then(|m| m.get("tags")) {
            None => BTreeMap::new(),
            Some(tags) => serde_json::from_value(tags.clone())
                .map_err(|_| Error::invalid_request("push_secret_data.metadata.tags must be an object of strings"))?,
        };
        let key = &push.remote.remote_key;
        // As upstream's Fake: a key its spec defines is not overwritten.
        if client.entries.iter().any(|entry| &entry.key == key) {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("key {} already exists in the spec; push to another key", bounded(key)),
            ));
        }
        // As upstream's Fake, `property` is ignored: the value is stored as it is,
        // and a read of the key alone gives it back.
        client.pushed()?.insert(key.clone(), Pushed { value, tags });
        Ok(())
    }

    async fn delete_secret(&self, client: &FakeClient, remote: &PushRemoteRef) -> Result<()> {
        client.simulate_latency().await;
        // The pushed key, whatever the property (which a push ignored); what is not
        // there is deleted already.
        client.pushed()?.remove(&remote.remote_key);
        Ok(())
    }

    async fn secret_exists(&self, client: &FakeClient, remote: &PushRemoteRef) -> Result<bool> {
        client.simulate_latency().await;
        // The key, in the spec or pushed; the property is ignored, as by a push.
        Ok(client.lookup(&remote.remote_key, None)?.is_some())
    }
}
