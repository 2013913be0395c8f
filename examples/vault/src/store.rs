//! The `Vault` secret store: KV v2 reads, listing, writes and deletes.
//!
//! Every key a request names (`remote_ref.key`, `remote_ref.remote_key`, `find.path`)
//! is checked by [`check_key`] before anything is sent, and so is every key Vault lists
//! for GetAllSecrets before it is read: see [`crate::key`]. Keys, properties and
//! versions are echoed into messages through [`bounded`].

use crate::client::{Answer, ApiPath, VaultClient, api_path, kv_path, route_error};
use crate::key::{check_key, check_key_prefix, key_problem};
use crate::spec::VaultSpec;
use eso_runtime::util::bounded;
use eso_runtime::{
    Ctx, Error, FindQuery, PushRemoteRef, PushRequest, RemoteRef, Result, SecretMap, SecretStore, SecretValue,
};
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// How many times a property write retries when another writer changed the secret
/// between our read and our check-and-set write.
const CAS_ATTEMPTS: usize = 10;
/// How many secrets GetAllSecrets reads at once.
const READ_CONCURRENCY: usize = 8;
/// GetAllSecrets stops listing after this many keys.
pub const MAX_LISTED_KEYS: usize = 10_000;

/// The `Vault` store (serving kind `Vault`).
pub struct VaultStore;

/// A connected `Vault` object: a logged-in client and the KV v2 mount.
pub struct VaultKv {
    client: VaultClient,
    mount: String,
    /// What the mount check found, once it found something: `Some(problem)` when the
    /// mount is not a KV v2 secrets engine, `None` when it is or the token may not ask.
    mount_problem: tokio::sync::OnceCell<Option<String>>,
}

/// One version of a KV v2 secret as read.
struct Stored {
    data: Map<String, Value>,
    version: u64,
}

/// A read of a KV v2 secret: its data (`None` when the secret, the version or its data
/// is not there) and, when Vault says, the version read, even a deleted one (what
/// check-and-set must name to write over a soft-deleted current version).
struct Read {
    stored: Option<Stored>,
    version: Option<u64>,
}

fn value_bytes(value: &Value) -> SecretValue {
    match value {
        Value::String(text) => SecretValue::from(text.as_str()),
        other => SecretValue::from(other.to_string()),
    }
}

fn json_bytes(object: &Map<String, Value>) -> Result<SecretValue> {
    serde_json::to_vec(object)
        .map(SecretValue::new)
        .map_err(|error| Error::internal(format!("encoding JSON: {error}")))
}

/// A property: a top-level key, else (when there is none) a `.`-separated path into
/// nested objects.
fn property<'a>(data: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(value) = data.get(name) {
        return Some(value);
    }
    let mut parts = name.split('.');
    let mut current = data.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// How many characters of a key, property or version a message echoes.
const ECHO_CHARS: usize = 120;

/// A request-controlled string for a message: bounded and escaped.
fn shown(text: &str) -> eso_runtime::util::Bounded<'_> {
    bounded(text).at_most(ECHO_CHARS)
}

fn label(remote: &RemoteRef) -> String {
    match &remote.version {
        Some(version) => format!("{} (version {})", shown(&remote.key), shown(version)),
        None => shown(&remote.key).to_string(),
    }
}

impl VaultKv {
    fn data_path(&self, key: &str) -> Vec<String> {
        kv_path(&self.mount, "data", key)
    }

    fn metadata_path(&self, key: &str) -> Vec<String> {
        kv_path(&self.mount, "metadata", key)
    }

    /// The mount, for messages.
    fn mount(&self) -> eso_runtime::util::Bounded<'_> {
        shown(&self.mount)
    }

    /// Checks a key from a request (see [`crate::key`]); the error names the object.
    fn check_key(&self, field: &str, key: &str) -> Result<()> {
        check_key(field, key).map_err(|e| e.context(self.client.object()))
    }

    /// Checks, once per client, that the mount is a KV v2 secrets engine
    /// (`sys/internal/ui/mounts/<mount>`): a KV v1 mount answers a missing key with a
    /// plain 404 too, which must not pass for a missing secret. When the token may not
    /// ask, or nothing is mounted there, the data calls themselves tell.
    async fn check_mount(&self) -> Result<()> {
        let found = self
            .mount_problem
            .get_or_try_init(|| async {
                let what = format!("checking mount {}", self.mount());
                let path = api_path(&["sys/internal/ui/mounts", &self.mount]);
                match self.client.call(Method::GET, &path, &[], None, &what).await {
                    Ok(Answer::Found(mount)) => {
                        let kind = mount.pointer("/data/type").and_then(Value::as_str).unwrap_or("");
                        let version = mount
                            .pointer("/data/options/version")
                            .and_then(Value::as_str)
                            .unwrap_or("1");
                        Ok((kind != "kv" || version != "2").then(|| {
                            format!(
                                "{}: mount {} is {:?} version {:?}, not a KV v2 secrets engine; check spec.mount",
                                self.client.object(),
                                self.mount(),
                                shown(kind),
                                shown(version)
                            )
                        }))
                    }
                    Ok(Answer::Missing(_)) => Ok(None),
                    Err(error) if error.kind() == eso_runtime::ErrorKind::PermissionDenied => Ok(None),
                    Err(error) => Err(error),
                }
            })
            .await;
        match found {
            Ok(Some(problem)) => Err(Error::invalid_config(problem.clone())),
            // An outage is not remembered: the data call reports it, and the next call checks again.
            Ok(None) | Err(_) => Ok(()),
        }
    }

    /// Calls Vault on a path of the mount. A 404 that names an error (no handler for
    /// the route: nothing mounted there) is a configuration problem naming the mount,
    /// never a missing secret.
    async fn call(
        &self,
        method: Method,
        path: &ApiPath,
        query: &[(&str, &str)],
        body: Option<&Value>,
        what: &str,
    ) -> Result<Answer> {
        self.check_mount().await?;
        let answer = self.client.call(method, path, query, body, what).await?;
        if let Answer::Missing(body) = &answer
            && let Some(detail) = route_error(body)
        {
            return Err(Error::invalid_config(format!(
                "{}: {what}: {detail} (HTTP 404): no KV v2 secrets engine is mounted at {}; check spec.mount",
                self.client.object(),
                self.mount()
            )));
        }
        Ok(answer)
    }

    /// Reads `key` (at `version`, or the current one). `None` when the secret, the
    /// version, or its data (deleted or destroyed) is not there.
    async fn read(&self, key: &str, version: Option<&str>) -> Result<Option<Stored>> {
        Ok(self.read_version(key, version).await?.stored)
    }

    /// Reads `key` (at `version`, or the current one), with the version Vault names
    /// even when its data is deleted. The caller has checked `key`.
    async fn read_version(&self, key: &str, version: Option<&str>) -> Result<Read> {
        let version = match version {
            Some(version) => match version.parse::<u64>() {
                Ok(number) if number > 0 => Some(number.to_string()),
                _ => {
                    return Err(Error::invalid_request(format!(
                        "{}: version \"{}\" of {} is not a KV v2 version (a positive integer)",
                        self.client.object(),
                        shown(version),
                        shown(key)
                    )));
                }
            },
            None => None,
        };
        let query: Vec<(&str, &str)> = version.iter().map(|v| ("version", v.as_str())).collect();
        let what = format!("reading {}/data/{}", self.mount(), shown(key));
        let version_of = |body: &Value| body.pointer("/data/metadata/version").and_then(Value::as_u64);
        let body = match self
            .call(Method::GET, &self.data_path(key), &query, None, &what)
            .await?
        {
            Answer::Found(body) => body,
            // A secret whose current version is deleted answers 404 with its metadata.
            Answer::Missing(body) => {
                return Ok(Read {
                    stored: None,
                    version: version_of(&body),
                });
            }
        };
        let Some(data) = body.pointer("/data/data") else {
            return Err(Error::invalid_config(format!(
                "{}: {what}: Vault's answer has no data.data; is {} a KV v2 mount?",
                self.client.object(),
                self.mount()
            )));
        };
        let data = match data {
            Value::Object(object) => object.clone(),
            // A deleted or destroyed version reads as null data.
            Value::Null => {
                return Ok(Read {
                    stored: None,
                    version: version_of(&body),
                });
            }
            _ => {
                return Err(Error::internal(format!(
                    "{}: {what}: data.data is not a JSON object",
                    self.client.object()
                )));
            }
        };
        let version = version_of(&body);
        Ok(Read {
            stored: Some(Stored {
                data,
                version: version.unwrap_or(0),
            }),
            version,
        })
    }

    /// The secret's `current_version` from its metadata; 0 when the secret does not exist.
    async fn current_version(&self, key: &str) -> Result<u64> {
        let what = format!("reading {}/metadata/{}", self.mount(), shown(key));
        Ok(
            match self
                .call(Method::GET, &self.metadata_path(key), &[], None, &what)
                .await?
            {
                Answer::Found(body) => body
                    .pointer("/data/current_version")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
                Answer::Missing(_) => 0,
            },
        )
    }

    /// Writes `data` as a new version of `key`; with `cas`, only if the current
    /// version is still `cas` (0: the secret must not exist). `Ok(false)` when the
    /// check-and-set lost to another writer.
    async fn write(&self, key: &str, data: &Map<String, Value>, cas: Option<u64>) -> Result<bool> {
        let mut body = serde_json::json!({ "data": data });
        if let Some(cas) = cas {
            body["options"] = serde_json::json!({ "cas": cas });
        }
        let what = format!("writing {}/data/{}", self.mount(), shown(key));
        match self
            .call(Method::POST, &self.data_path(key), &[], Some(&body), &what)
            .await
        {
            Ok(Answer::Found(_)) => Ok(true),
            Ok(Answer::Missing(_)) => Err(Error::invalid_config(format!(
                "{}: {what}: no KV v2 mount at {}",
                self.client.object(),
                self.mount()
            ))),
            Err(error) if cas.is_some() && error.message().contains("check-and-set") => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Sets the secret's `custom_metadata`.
    async fn write_custom_metadata(&self, key: &str, custom: &BTreeMap<String, String>) -> Result<()> {
        let body = serde_json::json!({ "custom_metadata": custom });
        let what = format!("writing {}/metadata/{}", self.mount(), shown(key));
        self.call(Method::POST, &self.metadata_path(key), &[], Some(&body), &what)
            .await?;
        Ok(())
    }

    /// The secret's `custom_metadata`; `None` when the secret does not exist. The
    /// caller has checked `key`.
    async fn custom_metadata(&self, key: &str) -> Result<Option<Map<String, Value>>> {
        let what = format!("reading {}/metadata/{}", self.mount(), shown(key));
        let Answer::Found(body) = self
            .call(Method::GET, &self.metadata_path(key), &[], None, &what)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(
            body.pointer("/data/custom_metadata")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        ))
    }

    /// What GetSecret and GetSecretMap read: the data of the version asked for, or,
    /// with metadata policy `Fetch`, the secret's `custom_metadata`.
    async fn read_remote(&self, remote: &RemoteRef) -> Result<Map<String, Value>> {
        self.check_key("remote_ref.key", &remote.key)?;
        let found = if remote.metadata_policy.as_deref() == Some("Fetch") {
            self.custom_metadata(&remote.key).await?
        } else {
            self.read(&remote.key, remote.version.as_deref())
                .await?
                .map(|stored| stored.data)
        };
        found.ok_or_else(|| Error::secret_not_found(label(remote)).context(self.client.object()))
    }

    /// Deletes every version and the metadata of `key`. Already gone is success.
    async fn delete_all(&self, key: &str) -> Result<()> {
        let what = format!("deleting {}/metadata/{}", self.mount(), shown(key));
        self.call(Method::DELETE, &self.metadata_path(key), &[], None, &what)
            .await?;
        Ok(())
    }

    /// The keys directly under `folder` ("" for the mount's root); folders end in `/`.
    async fn list(&self, folder: &str) -> Result<Vec<String>> {
        let what = format!("listing {}/metadata/{}", self.mount(), shown(folder));
        // A folder with nothing under it answers 404 with no error text.
        let Answer::Found(body) = self
            .call(
                Method::GET,
                &self.metadata_path(folder),
                &[("list", "true")],
                None,
                &what,
            )
            .await?
        else {
            return Ok(Vec::new());
        };
        Ok(body
            .pointer("/data/keys")
            .and_then(Value::as_array)
            .map(|keys| keys.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default())
    }

    /// Every secret key under `folder` ("" or a checked key ending in `/`),
    /// recursively. A key Vault lists that the key rules refuse (Vault stores keys
    /// with a tab or a backslash, and a broken or hostile server could list `../`) is
    /// never read: the call fails, naming it.
    async fn list_recursive(&self, folder: &str) -> Result<Vec<String>> {
        let mut found = Vec::new();
        let mut pending = vec![folder.to_string()];
        while let Some(folder) = pending.pop() {
            for entry in self.list(&folder).await? {
                let full = format!("{folder}{entry}");
                if let Some(problem) = key_problem(full.strip_suffix('/').unwrap_or(&full)) {
                    return Err(Error::invalid_config(format!(
                        "{}: Vault lists the key \"{}\" under {}/metadata/{}, which this provider does not read: {problem}; rename it in Vault, or narrow find.path to leave it out",
                        self.client.object(),
                        shown(&full),
                        self.mount(),
                        shown(&folder)
                    )));
                }
                if full.ends_with('/') {
                    pending.push(full);
                } else {
                    found.push(full);
                }
                if found.len() + pending.len() > MAX_LISTED_KEYS {
                    return Err(Error::invalid_request(format!(
                        "{}: more than {MAX_LISTED_KEYS} keys under {}/{}; narrow find.path",
                        self.client.object(),
                        self.mount(),
                        shown(&folder)
                    )));
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// Reads, changes and writes back with check-and-set, retrying when another
    /// writer got in between. `change` returns `None` to delete the whole secret, or the
    /// new data; nothing is written when the data is unchanged.
    async fn update(
        &self,
        key: &str,
        change: impl Fn(Option<&Map<String, Value>>) -> Result<Option<Map<String, Value>>>,
    ) -> Result<()> {
        // Set when a write over "no data" lost: ask the metadata for the current version.
        let mut ask_metadata = false;
        for _ in 0..CAS_ATTEMPTS {
            let read = self.read_version(key, None).await?;
            let current = read.stored;
            let next = change(current.as_ref().map(|c| &c.data))?;
            match next {
                None => return self.delete_all(key).await,
                Some(next) if current.as_ref().is_some_and(|c| c.data == next) => return Ok(()),
                Some(next) => {
                    // Check-and-set names the current version, even a deleted one (a
                    // soft-deleted secret answers 404 with its metadata); 0 only when
                    // the secret does not exist at all.
                    let cas = match (&current, read.version) {
                        (Some(current), _) => current.version,
                        (None, Some(version)) => version,
                        (None, None) if ask_metadata => self.current_version(key).await?,
                        (None, None) => 0,
                    };
                    if self.write(key, &next, Some(cas)).await? {
                        return Ok(());
                    }
                    ask_metadata = current.is_none();
                }
            }
        }
        Err(Error::unavailable(format!(
            "{}: {} kept changing while it was being written ({CAS_ATTEMPTS} attempts); try again",
            self.client.object(),
            shown(key)
        )))
    }
}

/// The tags PushSecretData.metadata carries into `custom_metadata`: either ESO's
/// `{"apiVersion": …, "kind": "PushSecretMetadata", "spec": {"customMetadata": {…}}}`, or
/// `{"customMetadata": {…}}`, or a flat object of strings.
fn push_custom_metadata(metadata: &Value) -> Result<BTreeMap<String, String>> {
    let object = metadata
        .pointer("/spec/customMetadata")
        .or_else(|| metadata.get("customMetadata"))
        .unwrap_or(metadata);
    let Value::Object(object) = object else {
        return Err(Error::invalid_request(
            "push_secret_data.metadata must be a JSON object (of custom metadata strings, or with spec.customMetadata)",
        ));
    };
    object
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "apiVersion" | "kind"))
        .map(|(key, value)| match value {
            Value::String(text) => Ok((key.clone(), text.clone())),
            _ => Err(Error::invalid_request(format!(
                "push_secret_data.metadata: custom metadata {} must be a string",
                shown(key)
            ))),
        })
        .collect()
}

#[eso_runtime::secret_store] // reads and writes: READ_WRITE
impl SecretStore for VaultStore {
    type Spec = VaultSpec;
    type Client = VaultKv;

    async fn connect(&self, ctx: &Ctx, spec: &VaultSpec) -> Result<VaultKv> {
        let client = VaultClient::connect(ctx, &spec.connection()).await?;
        Ok(VaultKv {
            client,
            mount: spec.mount.trim_matches('/').to_string(),
            mount_problem: tokio::sync::OnceCell::new(),
        })
    }

    fn validate_spec(&self, spec: &VaultSpec) -> Result<Vec<String>> {
        spec.check()?;
        let mut warnings = Vec::new();
        if spec.server.starts_with("http://") {
            warnings.push("spec.server uses plain http: the token travels unencrypted".to_string());
        }
        Ok(warnings)
    }

    async fn validate(&self, kv: &VaultKv) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        let object = kv.client.object();
        let token = kv
            .client
            .request(
                Method::GET,
                &api_path(&["auth/token/lookup-self"]),
                &[],
                None,
                "looking up the token",
            )
            .await?
            .ok_or_else(|| Error::invalid_config(format!("{object}: looking up the token: no token auth method")))?;
        let ttl = token.pointer("/data/ttl").and_then(Value::as_i64).unwrap_or(0);
        let renewable = token
            .pointer("/data/renewable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if ttl > 0 && ttl < 3600 && !renewable {
            warnings.push(format!(
                "the Vault token expires in {ttl}s and is not renewable; calls fail after that"
            ));
        }
        let mount = kv
            .client
            .request(
                Method::GET,
                &api_path(&["sys/internal/ui/mounts", &kv.mount]),
                &[],
                None,
                &format!("checking mount {}", kv.mount()),
            )
            .await;
        match mount {
            Ok(Some(mount)) => {
                let kind = mount.pointer("/data/type").and_then(Value::as_str).unwrap_or("");
                let version = mount
                    .pointer("/data/options/version")
                    .and_then(Value::as_str)
                    .unwrap_or("1");
                if kind != "kv" || version != "2" {
                    return Err(Error::invalid_config(format!(
                        "{object}: mount {} is {:?} version {:?}, not a KV v2 secrets engine",
                        kv.mount(),
                        shown(kind),
                        shown(version)
                    )));
                }
            }
            // Vault answers 403 for a mount that does not exist, as for one the token may not use.
            Ok(None) => {
                return Err(Error::invalid_config(format!(
                    "{object}: no secrets engine is mounted at {}, or the token may not use it",
                    kv.mount()
                )));
            }
            Err(error) if error.kind() == eso_runtime::ErrorKind::PermissionDenied => {
                return Err(Error::invalid_config(format!(
                    "{object}: no secrets engine is mounted at {}, or the token may not use it (permission denied)",
                    kv.mount()
                )));
            }
            Err(error) => return Err(error),
        }
        Ok(warnings)
    }

    async fn get_secret(&self, kv: &VaultKv, remote: &RemoteRef) -> Result<SecretValue> {
        let data = kv.read_remote(remote).await?;
        match &remote.property {
            None => json_bytes(&data),
            Some(name) => property(&data, name).map(value_bytes).ok_or_else(|| {
                Error::secret_not_found(format!("{} property {}", label(remote), shown(name)))
                    .context(kv.client.object())
            }),
        }
    }

    async fn get_secret_map(&self, kv: &VaultKv, remote: &RemoteRef) -> Result<SecretMap> {
        let data = kv.read_remote(remote).await?;
        let object = match &remote.property {
            None => data,
            Some(name) => {
                let not_an_object = || {
                    Error::invalid_request(format!(
                        "{}: property {} of {} is not a JSON object",
                        kv.client.object(),
                        shown(name),
                        shown(&remote.key)
                    ))
                };
                match property(&data, name) {
                    Some(Value::Object(inner)) => inner.clone(),
                    Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
                        Ok(Value::Object(inner)) => inner,
                        _ => return Err(not_an_object()),
                    },
                    Some(_) => return Err(not_an_object()),
                    None => {
                        return Err(
                            Error::secret_not_found(format!("{} property {}", label(remote), shown(name)))
                                .context(kv.client.object()),
                        );
                    }
                }
            }
        };
        Ok(object.iter().map(|(k, v)| (k.clone(), value_bytes(v))).collect())
    }

    async fn get_all_secrets(&self, kv: &VaultKv, find: &FindQuery) -> Result<SecretMap> {
        // List from the folder that holds find.path; find.matches filters the rest.
        // find.path follows the key rules, and may end with '/' (a folder).
        let folder = match &find.path {
            Some(path) => {
                check_key_prefix("find.path", path).map_err(|e| e.context(kv.client.object()))?;
                match path.rfind('/') {
                    Some(end) => path[..=end].to_string(),
                    None => String::new(),
                }
            }
            None => String::new(),
        };
        // Path and name are checked before anything is read; tags need the metadata.
        // Matched off the async workers, up to the caller's deadline.
        let listed = kv.list_recursive(&folder).await?;
        let candidates: Vec<String> = find
            .without_tags()
            .select(listed, |path_and_name, key| {
                path_and_name.matches(key, &BTreeMap::new())
            })
            .await?;
        // Read the candidates a few at a time: tags first when asked for, then the data.
        let reads = futures::stream::iter(candidates).map(|key| async move {
            if !find.tags.is_empty() {
                let Some(custom) = kv.custom_metadata(&key).await? else {
                    return Ok(None);
                };
                let tags: BTreeMap<String, String> = custom
                    .iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect();
                if !find.matches(&key, &tags) {
                    return Ok(None);
                }
            }
            // A secret whose current version is deleted has no value: skip it.
            match kv.read(&key, None).await? {
                Some(stored) => Ok(Some((key, json_bytes(&stored.data)?))),
                None => Ok(None),
            }
        });
        let results: Vec<Result<Option<(String, SecretValue)>>> = reads.buffered(READ_CONCURRENCY).collect().await;
        let mut found = SecretMap::new();
        for result in results {
            if let Some((key, value)) = result? {
                found.insert(key, value);
            }
        }
        Ok(found)
    }

    async fn push_secret(&self, kv: &VaultKv, push: &PushRequest) -> Result<()> {
        let key = &push.remote.remote_key;
        kv.check_key("remote_ref.remote_key", key)?;
        let value = push.value()?;
        let object = kv.client.object();
        let new_value: Value = match (&push.secret_key, &push.remote.property) {
            // The whole Secret: its data is a JSON object of strings.
            (None, _) => serde_json::from_slice(value.expose())
                .map_err(|_| Error::internal(format!("{object}: the pushed Secret's data is not JSON")))?,
            (Some(secret_key), _) => Value::String(
                value
                    .expose_str()
                    .ok_or_else(|| {
                        Error::invalid_request(format!(
                            "{object}: the value of {} pushed to {} is not UTF-8; Vault stores JSON strings",
                            shown(secret_key),
                            shown(key)
                        ))
                    })?
                    .to_string(),
            ),
        };
        let property = push.remote.property.clone();
        let secret_key = push.secret_key.clone();
        kv.update(key, |current| match &property {
            Some(name) => {
                let mut data = current.cloned().unwrap_or_default();
                data.insert(name.clone(), new_value.clone());
                Ok(Some(data))
            }
            None => match &new_value {
                Value::Object(data) => Ok(Some(data.clone())),
                // One key's value without a property: a JSON object becomes the
                // secret's data; anything else needs a property to live under.
                Value::String(text) => match serde_json::from_str::<Value>(text) {
                    Ok(Value::Object(data)) => Ok(Some(data)),
                    _ => Err(Error::invalid_request(format!(
                        "{object}: the value of {} pushed to {} is not a JSON object; set remoteRef.property to store it under one key",
                        shown(secret_key.as_deref().unwrap_or("the Secret")),
                        shown(key)
                    ))),
                },
                _ => Err(Error::invalid_request(format!(
                    "{object}: the value pushed to {} is not a JSON object",
                    shown(key)
                ))),
            },
        })
        .await?;
        if let Some(metadata) = &push.metadata {
            let custom = push_custom_metadata(metadata).map_err(|e| e.context(object))?;
            kv.write_custom_metadata(key, &custom).await?;
        }
        Ok(())
    }

    async fn delete_secret(&self, kv: &VaultKv, remote: &PushRemoteRef) -> Result<()> {
        let key = &remote.remote_key;
        kv.check_key("remote_ref.remote_key", key)?;
        let Some(name) = &remote.property else {
            return kv.delete_all(key).await;
        };
        // Nothing to do when the secret or the property is gone already.
        let Some(current) = kv.read(key, None).await? else {
            return Ok(());
        };
        if !current.data.contains_key(name) {
            return Ok(());
        }
        kv.update(key, |current| {
            let Some(current) = current else {
                return Ok(None);
            };
            let mut data = current.clone();
            data.remove(name);
            Ok(if data.is_empty() { None } else { Some(data) })
        })
        .await
    }

    async fn secret_exists(&self, kv: &VaultKv, remote: &PushRemoteRef) -> Result<bool> {
        kv.check_key("remote_ref.remote_key", &remote.remote_key)?;
        let Some(current) = kv.read(&remote.remote_key, None).await? else {
            return Ok(false);
        };
        Ok(match &remote.property {
            None => true,
            Some(name) => current.data.contains_key(name),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(object) => object,
            _ => Map::new(),
        }
    }

    #[test]
    fn properties_are_top_level_keys_then_nested_paths() {
        let data = object(json!({"a": {"b": {"c": 1}}, "a.b": "literal", "s": "text"}));
        assert_eq!(property(&data, "s"), Some(&json!("text")));
        assert_eq!(property(&data, "a.b"), Some(&json!("literal")));
        assert_eq!(property(&data, "a.b.c"), Some(&json!(1)));
        assert_eq!(property(&data, "a.x"), None);
        assert_eq!(property(&data, "s.x"), None);
        assert_eq!(value_bytes(&json!("text")).expose(), b"text");
        assert_eq!(value_bytes(&json!({"k": 1})).expose(), br#"{"k":1}"#);
    }

    #[test]
    fn push_metadata_shapes() {
        let eso = json!({"apiVersion": "kubernetes.external-secrets.io/v1alpha1", "kind": "PushSecretMetadata",
            "spec": {"customMetadata": {"owner": "a"}}});
        let expected: BTreeMap<String, String> = [("owner".to_string(), "a".to_string())].into();
        assert_eq!(push_custom_metadata(&eso), Ok(expected.clone()));
        assert_eq!(
            push_custom_metadata(&json!({"customMetadata": {"owner": "a"}})),
            Ok(expected.clone())
        );
        assert_eq!(push_custom_metadata(&json!({"owner": "a"})), Ok(expected));
        let error = push_custom_metadata(&json!({"owner": 1})).err().map(|e| e.kind());
        assert_eq!(error, Some(eso_runtime::ErrorKind::InvalidRequest));
        let error = push_custom_metadata(&json!(["x"])).err().map(|e| e.kind());
        assert_eq!(error, Some(eso_runtime::ErrorKind::InvalidRequest));
    }
}
