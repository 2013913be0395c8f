//! An in-process Kubernetes API server for tests: it speaks the real REST and
//! watch protocol (lists with `resourceVersion`, newline-delimited watch event
//! streams, `Status` objects for 403/404/409/410, server-side apply on `status`)
//! over plain HTTP on loopback, and records every request so tests can prove
//! that steady-state calls make none.
//!
//! No real API server can be installed where this project is tested; this one
//! implements the parts a provider uses, with the response shapes of the real one.
//!
//! ```no_run
//! # async fn example() -> eso_runtime::Result<()> {
//! use eso_runtime::testing::kube_api::FakeApiServer;
//!
//! let api = FakeApiServer::start().await?;
//! api.apply("secrets", serde_json::json!({
//!     "apiVersion": "v1", "kind": "Secret",
//!     "metadata": {"name": "creds", "namespace": "team-a"},
//!     "data": {"token": "aHVudGVyMg=="},
//! }))?;
//! let client = api.client()?; // a kube::Client for it
//! # Ok(()) }
//! ```

use crate::{Error, Result};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// A resource type: `secrets` in the core group `v1`, or `fakes` in
/// `provider.external-secrets.io/v2alpha1`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Resource {
    /// Empty for the core group.
    group: String,
    version: String,
    plural: String,
}

/// Where an object is stored: its resource type, namespace (empty for
/// cluster-scoped objects) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ObjectKey {
    resource: Resource,
    namespace: String,
    name: String,
}

impl ObjectKey {
    fn new(resource: Resource, namespace: &str, name: &str) -> Self {
        ObjectKey {
            resource,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

/// What [`FakeApiServer::forbid`] refused: a resource (or `resource/status`) in
/// a namespace (empty: cluster-wide requests).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Forbidden {
    resource: String,
    namespace: String,
}

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, e.g. `/api/v1/namespaces/team-a/secrets`.
    pub path: String,
    /// Whether it was a watch (`?watch=true`).
    pub watch: bool,
}

#[derive(Clone)]
struct Event {
    resource: Resource,
    namespace: String,
    name: String,
    kind: &'static str,
    object: Value,
    resource_version: u64,
}

/// Sent to every open watch.
#[derive(Clone)]
enum Broadcast {
    Event(Event),
    /// Every open watch answers 410 Gone and ends.
    Expire,
}

#[derive(Default)]
struct Store {
    resource_version: u64,
    next_uid: u64,
    objects: BTreeMap<ObjectKey, Value>,
    kinds: BTreeMap<Resource, String>,
    history: Vec<Event>,
    /// Watches from at or below this version get 410 Gone.
    compacted: u64,
    forbidden: HashSet<Forbidden>,
}

struct Shared {
    store: Mutex<Store>,
    events: broadcast::Sender<Broadcast>,
    requests: Mutex<Vec<RecordedRequest>>,
    /// Cancelled when the server stops: open watches end with it.
    stopping: Mutex<CancellationToken>,
}

impl Shared {
    fn store(&self) -> Result<MutexGuard<'_, Store>> {
        self.store
            .lock()
            .map_err(|_| Error::internal("fake API server: store lock poisoned"))
    }
}

/// The fake API server. Dropping it stops it.
pub struct FakeApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    serving: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn io(error: std::io::Error) -> Error {
    Error::internal(format!("fake API server: {error}"))
}

impl FakeApiServer {
    /// Starts on a free loopback port.
    pub async fn start() -> Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.map_err(io)?;
        let addr = listener.local_addr().map_err(io)?;
        let (events, _) = broadcast::channel(1024);
        let server = FakeApiServer {
            shared: Arc::new(Shared {
                store: Mutex::new(Store::default()),
                events,
                requests: Mutex::new(Vec::new()),
                stopping: Mutex::new(CancellationToken::new()),
            }),
            addr,
            serving: Mutex::new(None),
        };
        server.serve(listener)?;
        Ok(server)
    }

    fn serve(&self, listener: tokio::net::TcpListener) -> Result<()> {
        let token = CancellationToken::new();
        *self
            .shared
            .stopping
            .lock()
            .map_err(|_| Error::internal("fake API server: lock poisoned"))? = token.clone();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&self.shared));
        let task = tokio::spawn(async move {
            let shutdown = token.clone();
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await
            {
                tracing::warn!(%error, "fake API server stopped");
            }
        });
        *self
            .serving
            .lock()
            .map_err(|_| Error::internal("fake API server: lock poisoned"))? = Some(task);
        Ok(())
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A `kube::Client` for this server.
    pub fn client(&self) -> Result<kube::Client> {
        let url = format!("http://{}", self.addr)
            .parse()
            .map_err(|error| Error::internal(format!("fake API server URL: {error}")))?;
        kube::Client::try_from(kube::Config::new(url))
            .map_err(|error| Error::internal(format!("fake API server client: {error}")))
    }

    /// Stops answering: the port is closed and open watches end, as when an API
    /// server goes away. Objects are kept for [`resume`](Self::resume).
    pub async fn stop(&self) -> Result<()> {
        if let Ok(token) = self.shared.stopping.lock() {
            token.cancel();
        }
        let task = self
            .serving
            .lock()
            .map_err(|_| Error::internal("fake API server: lock poisoned"))?
            .take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        Ok(())
    }

    /// Serves again on the same address after [`stop`](Self::stop).
    pub async fn resume(&self) -> Result<()> {
        let listener = tokio::net::TcpListener::bind(self.addr).await.map_err(io)?;
        self.serve(listener)
    }

    /// Creates or updates an object of resource `plural` (its `apiVersion`,
    /// `kind`, `metadata.name` and, for namespaced kinds, `metadata.namespace`
    /// are read from it). Sets `uid`, `resourceVersion` and `generation` like the
    /// API server: generation moves only when `spec` (or a Secret's data) changes.
    /// Returns the stored object.
    pub fn apply(&self, plural: &str, mut object: Value) -> Result<Value> {
        let api_version = object["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        let name = object["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default().to_string();
        if api_version.is_empty() || kind.is_empty() || name.is_empty() {
            return Err(Error::invalid_request(
                "fake API server: an object needs apiVersion, kind and metadata.name",
            ));
        }
        let resource = resource_of(&api_version, plural);
        let mut store = self.shared.store()?;
        store.kinds.insert(resource.clone(), kind);
        let key = ObjectKey::new(resource, &namespace, &name);
        let previous = store.objects.get(&key).cloned();
        let (uid, generation) = match &previous {
            Some(previous) => {
                let changed = previous.get("spec") != object.get("spec")
                    || previous.get("data") != object.get("data")
                    || previous.get("stringData") != object.get("stringData");
                let generation = previous["metadata"]["generation"].as_i64().unwrap_or(1);
                (
                    previous["metadata"]["uid"].clone(),
                    if changed { generation + 1 } else { generation },
                )
            }
            None => {
                store.next_uid += 1;
                (json!(format!("00000000-0000-4000-8000-{:012}", store.next_uid)), 1)
            }
        };
        if object.get("status").is_none()
            && let Some(status) = previous.as_ref().and_then(|p| p.get("status"))
        {
            object["status"] = status.clone();
        }
        object["metadata"]["uid"] = uid;
        object["metadata"]["generation"] = json!(generation);
        let event_kind = if previous.is_some() { "MODIFIED" } else { "ADDED" };
        Ok(store.commit(&self.shared.events, key, object, event_kind))
    }

    /// Deletes an object; returns whether it existed.
    pub fn delete(&self, api_version: &str, plural: &str, namespace: &str, name: &str) -> Result<bool> {
        let resource = resource_of(api_version, plural);
        let key = ObjectKey::new(resource, namespace, name);
        let mut store = self.shared.store()?;
        let Some(object) = store.objects.remove(&key) else {
            return Ok(false);
        };
        store.resource_version += 1;
        let version = store.resource_version;
        let mut object = object;
        object["metadata"]["resourceVersion"] = json!(version.to_string());
        let event = Event {
            resource: key.resource,
            namespace: key.namespace,
            name: key.name,
            kind: "DELETED",
            object,
            resource_version: version,
        };
        store.history.push(event.clone());
        let _ = self.shared.events.send(Broadcast::Event(event));
        Ok(true)
    }

    /// The stored object, if any.
    pub fn get(&self, api_version: &str, plural: &str, namespace: &str, name: &str) -> Result<Option<Value>> {
        let key = ObjectKey::new(resource_of(api_version, plural), namespace, name);
        Ok(self.shared.store()?.objects.get(&key).cloned())
    }

    /// Answers 403 to every request for `plural` (or a subresource: `echos/status`)
    /// in `namespace` (`""`: cluster-wide requests).
    pub fn forbid(&self, plural: &str, namespace: &str) -> Result<()> {
        self.shared.store()?.forbidden.insert(Forbidden {
            resource: plural.to_string(),
            namespace: namespace.to_string(),
        });
        Ok(())
    }

    /// Lifts a [`forbid`](Self::forbid).
    pub fn allow(&self, plural: &str, namespace: &str) -> Result<()> {
        self.shared.store()?.forbidden.remove(&Forbidden {
            resource: plural.to_string(),
            namespace: namespace.to_string(),
        });
        Ok(())
    }

    /// Expires every open watch: each gets a 410 Gone `ERROR` event and ends, and
    /// watching again from an old resourceVersion is refused, as after etcd compaction.
    pub fn expire_watches(&self) -> Result<()> {
        let mut store = self.shared.store()?;
        store.compacted = store.resource_version;
        store.history.clear();
        let _ = self.shared.events.send(Broadcast::Expire);
        Ok(())
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// How many requests so far.
    pub fn request_count(&self) -> usize {
        self.shared.requests.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// The requests with `method` whose path ends with `suffix`.
    pub fn requests_matching(&self, method: &str, suffix: &str) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .collect()
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        if let Ok(token) = self.shared.stopping.lock() {
            token.cancel();
        }
        if let Ok(mut serving) = self.serving.lock()
            && let Some(task) = serving.take()
        {
            task.abort();
        }
    }
}

impl Store {
    /// Stores `object` at a new resourceVersion and tells the watches.
    fn commit(
        &mut self,
        events: &broadcast::Sender<Broadcast>,
        key: ObjectKey,
        mut object: Value,
        kind: &'static str,
    ) -> Value {
        self.resource_version += 1;
        let version = self.resource_version;
        object["metadata"]["resourceVersion"] = json!(version.to_string());
        self.objects.insert(key.clone(), object.clone());
        let event = Event {
            resource: key.resource,
            namespace: key.namespace,
            name: key.name,
            kind,
            object: object.clone(),
            resource_version: version,
        };
        self.history.push(event.clone());
        let _ = events.send(Broadcast::Event(event));
        object
    }
}

fn resource_of(api_version: &str, plural: &str) -> Resource {
    match api_version.split_once('/') {
        Some((group, version)) => Resource {
            group: group.to_string(),
            version: version.to_string(),
            plural: plural.to_string(),
        },
        None => Resource {
            group: String::new(),
            version: api_version.to_string(),
            plural: plural.to_string(),
        },
    }
}

/// What a request path names.
struct Target {
    resource: Resource,
    /// Empty for cluster-wide requests.
    namespace: String,
    name: Option<String>,
    status: bool,
}

fn parse_path(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => (String::new(), version.to_string(), rest),
        ["apis", group, version, rest @ ..] => (group.to_string(), version.to_string(), rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", namespace, rest @ ..] if !rest.is_empty() => (namespace.to_string(), rest),
        rest => (String::new(), rest),
    };
    let (plural, name, status) = match rest {
        [plural] => (plural, None, false),
        [plural, name] => (plural, Some(name.to_string()), false),
        [plural, name, "status"] => (plural, Some(name.to_string()), true),
        _ => return None,
    };
    Some(Target {
        resource: Resource {
            group,
            version,
            plural: plural.to_string(),
        },
        namespace,
        name,
        status,
    })
}

fn status_response(code: StatusCode, reason: &str, message: String) -> Response {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code.as_u16(),
    });
    (code, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn json_response(body: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn api_version_of(resource: &Resource) -> String {
    if resource.group.is_empty() {
        resource.version.clone()
    } else {
        format!("{}/{}", resource.group, resource.version)
    }
}

/// `metadata.name=x` and `metadata.namespace=y` field selectors.
fn field_matches(selector: Option<&str>, namespace: &str, name: &str) -> bool {
    selector.is_none_or(|selector| {
        selector
            .split(',')
            .filter(|s| !s.is_empty())
            .all(|term| match term.split_once('=') {
                Some(("metadata.name", value)) => value == name,
                Some(("metadata.namespace", value)) => value == namespace,
                _ => false,
            })
    })
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query: BTreeMap<String, String> = request
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let watch = query.get("watch").is_some_and(|w| w == "true" || w == "1");
    if let Ok(mut requests) = shared.requests.lock() {
        requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            watch,
        });
    }
    let Some(target) = parse_path(&path) else {
        return status_response(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        );
    };
    let verb = match (&method, &target.name, watch) {
        (&Method::GET, None, true) => "watch",
        (&Method::GET, None, false) => "list",
        (&Method::GET, Some(_), _) => "get",
        (&Method::PATCH, Some(_), _) => "patch",
        _ => {
            return status_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!("the fake API server does not implement {method} {path}"),
            );
        }
    };
    let plural = &target.resource.plural;
    let subresource = if target.status { "/status" } else { "" };
    let forbidden = shared
        .store
        .lock()
        .map(|s| {
            s.forbidden.contains(&Forbidden {
                resource: format!("{plural}{subresource}"),
                namespace: target.namespace.clone(),
            })
        })
        .unwrap_or(false);
    if forbidden {
        let place = if target.namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace \"{}\"", target.namespace)
        };
        return status_response(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!(
                "{plural}{subresource} is forbidden: User \"system:serviceaccount:providers:provider\" cannot {verb} resource \"{plural}{subresource}\" in API group \"{}\" {place}",
                target.resource.group
            ),
        );
    }
    match verb {
        "list" => list(&shared, &target, query.get("fieldSelector").map(String::as_str)),
        "watch" => watch_stream(&shared, target, &query),
        "get" => get(&shared, &target),
        _ => {
            let body = match axum::body::to_bytes(request.into_body(), 1 << 20).await {
                Ok(body) => body,
                Err(error) => return status_response(StatusCode::BAD_REQUEST, "BadRequest", error.to_string()),
            };
            patch_status(&shared, &target, &body, query.get("fieldManager").map(String::as_str))
        }
    }
}

fn list(shared: &Shared, target: &Target, field_selector: Option<&str>) -> Response {
    let Ok(store) = shared.store.lock() else {
        return status_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "lock poisoned".into(),
        );
    };
    let items: Vec<Value> = store
        .objects
        .iter()
        .filter(
            |(
                ObjectKey {
                    resource,
                    namespace,
                    name,
                },
                _,
            )| {
                resource == &target.resource
                    && (target.namespace.is_empty() || namespace == &target.namespace)
                    && field_matches(field_selector, namespace, name)
            },
        )
        .map(|(_, object)| object.clone())
        .collect();
    let kind = store.kinds.get(&target.resource).cloned().unwrap_or_default();
    json_response(&json!({
        "kind": format!("{kind}List"),
        "apiVersion": api_version_of(&target.resource),
        "metadata": { "resourceVersion": store.resource_version.to_string() },
        "items": items,
    }))
}

fn get(shared: &Shared, target: &Target) -> Response {
    let Some(name) = &target.name else {
        return status_response(StatusCode::BAD_REQUEST, "BadRequest", "no name".into());
    };
    let key = ObjectKey::new(target.resource.clone(), &target.namespace, name);
    match shared.store.lock().ok().and_then(|s| s.objects.get(&key).cloned()) {
        Some(object) => json_response(&object),
        None => status_response(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} \"{name}\" not found", target.resource.plural),
        ),
    }
}

fn patch_status(shared: &Shared, target: &Target, body: &Bytes, field_manager: Option<&str>) -> Response {
    let Some(name) = &target.name else {
        return status_response(StatusCode::BAD_REQUEST, "BadRequest", "no name".into());
    };
    if !target.status {
        return status_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the fake API server patches only the status subresource".into(),
        );
    }
    if field_manager.is_none_or(str::is_empty) {
        return status_response(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
                .into(),
        );
    }
    // Apply patches are YAML; JSON is YAML.
    let patch: Value = match serde_yaml::from_slice(body) {
        Ok(patch) => patch,
        Err(error) => {
            return status_response(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("invalid apply patch: {error}"),
            );
        }
    };
    let Ok(mut store) = shared.store.lock() else {
        return status_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "lock poisoned".into(),
        );
    };
    let key = ObjectKey::new(target.resource.clone(), &target.namespace, name);
    let Some(mut object) = store.objects.get(&key).cloned() else {
        return status_response(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} \"{name}\" not found", target.resource.plural),
        );
    };
    if let Some(uid) = patch["metadata"]["uid"].as_str()
        && Some(uid) != object["metadata"]["uid"].as_str()
    {
        return status_response(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the UID in the precondition ({uid}) does not match the UID in record",
                target.resource.plural
            ),
        );
    }
    // Conditions are a list map keyed by type: merge by type; other fields replace.
    let mut status = object.get("status").cloned().unwrap_or_else(|| json!({}));
    if let Some(patch_status) = patch.get("status").and_then(Value::as_object) {
        for (field, value) in patch_status {
            if field == "conditions" {
                let mut conditions: Vec<Value> = status["conditions"].as_array().cloned().unwrap_or_default();
                for condition in value.as_array().cloned().unwrap_or_default() {
                    match conditions.iter_mut().find(|c| c["type"] == condition["type"]) {
                        Some(existing) => *existing = condition,
                        None => conditions.push(condition),
                    }
                }
                status["conditions"] = json!(conditions);
            } else {
                status[field] = value.clone();
            }
        }
    }
    object["status"] = status;
    let stored = store.commit(&shared.events, key, object, "MODIFIED");
    json_response(&stored)
}

fn watch_line(kind: &str, object: &Value) -> Bytes {
    let mut line = json!({ "type": kind, "object": object }).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn gone_line(version: u64, compacted: u64) -> Bytes {
    watch_line(
        "ERROR",
        &json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": format!("too old resource version: {version} ({compacted})"),
            "reason": "Expired",
            "code": 410,
        }),
    )
}

fn watch_stream(shared: &Arc<Shared>, target: Target, query: &BTreeMap<String, String>) -> Response {
    let from: u64 = query.get("resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
    let field_selector = query.get("fieldSelector").cloned();
    let Ok(store) = shared.store.lock() else {
        return status_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "lock poisoned".into(),
        );
    };
    // Subscribe under the store lock: no event falls between history and live.
    let mut live = shared.events.subscribe();
    let stopping = shared.stopping.lock().map(|t| t.clone()).unwrap_or_default();
    let matches = move |event: &Event| {
        event.resource == target.resource
            && (target.namespace.is_empty() || event.namespace == target.namespace)
            && field_matches(field_selector.as_deref(), &event.namespace, &event.name)
    };
    let (backlog, expired): (Vec<Bytes>, bool) = if from != 0 && from <= store.compacted {
        (vec![gone_line(from, store.compacted)], true)
    } else {
        (
            store
                .history
                .iter()
                .filter(|e| e.resource_version > from && matches(e))
                .map(|e| watch_line(e.kind, &e.object))
                .collect(),
            false,
        )
    };
    let compacted = store.compacted;
    drop(store);
    let stream = async_stream(backlog, expired, move |tx| async move {
        loop {
            tokio::select! {
                _ = stopping.cancelled() => return,
                received = live.recv() => match received {
                    Ok(Broadcast::Event(event)) => {
                        if matches(&event) && tx.send(watch_line(event.kind, &event.object)).await.is_err() {
                            return;
                        }
                    }
                    Ok(Broadcast::Expire) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = tx.send(gone_line(from, compacted.max(from))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A body stream: `backlog` first, then (unless `done`) what `produce` sends.
fn async_stream<F, Fut>(
    backlog: Vec<Bytes>,
    done: bool,
    produce: F,
) -> impl futures::Stream<Item = std::result::Result<Bytes, std::convert::Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Bytes>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    if !done {
        tokio::spawn(produce(tx));
    }
    futures::stream::iter(backlog)
        .chain(tokio_stream::wrappers::ReceiverStream::new(rx))
        .map(Ok)
}
