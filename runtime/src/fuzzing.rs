//! Entry points for the cargo-fuzz targets in `runtime/fuzz` (book: Fuzzing).
//! Each takes the fuzzer's bytes, drives the crate's real internals, and panics
//! when an invariant breaks, so a fuzz target is one call. Compiled only under
//! `cfg(fuzzing)`, which cargo-fuzz sets; not a public API.
//!
//! The internals each target reaches are called from one place each, so a
//! change of their signatures is adapted here only:
//! [`parse_manifests`] (the files source's parser), [`compile_find`] and
//! [`find_matches`] (GetAllSecrets' query), and the gRPC handlers in
//! [`Harness::call`].

use crate::server::Metrics;
use crate::server::registry::Registry;
use crate::server::service::{GeneratorService, Services, StoreService};
use crate::server::{GeneratorAdapter, StoreAdapter};
use crate::source::files::FilesSource;
use crate::tls::{CertPaths, ExpectedNames, TlsMaterial, TlsReloader, check_material};
use crate::{
    Ctx, Error, ErrorKind, FindQuery, Generated, Generator, Gvk, ProviderSpec, PushRemoteRef, PushRequest, RemoteRef,
    Result, SecretKeySelector, SecretMap, SecretStore, SecretValue,
};
use eso_proto::generator::v1::generator_provider_server::GeneratorProvider;
use eso_proto::provider::v1 as wire;
use eso_proto::provider::v1::secret_store_provider_server::SecretStoreProvider;
use prost::Message;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// The longest message (bytes) an error may carry: 2,048 characters of text
/// and the "…(N bytes)" that says it was cut.
pub const MAX_MESSAGE_BYTES: usize = 2048 + 64;

/// Panics unless `message` is bounded and free of control characters.
fn check_message(what: &str, message: &str) {
    assert!(
        message.len() <= MAX_MESSAGE_BYTES,
        "{what}: a message of {} bytes (at most {MAX_MESSAGE_BYTES}): {:?}…",
        message.len(),
        message.chars().take(200).collect::<String>()
    );
    assert!(
        !message.chars().any(crate::display::needs_escape),
        "{what}: a control character in {message:?}"
    );
}

// ---------------------------------------------------------------------------
// dispatch: wire request → gRPC handler → dispatch, scope, source, store.

/// The secret store kind the dispatch harness serves.
pub const STORE: Gvk = Gvk {
    group: "fuzz.external-secrets.io",
    version: "v1",
    kind: "FuzzStore",
};

/// The generator kind the dispatch harness serves.
pub const GENERATOR: Gvk = Gvk {
    group: "fuzz.external-secrets.io",
    version: "v1",
    kind: "FuzzGenerator",
};

/// The token in the `creds` Secrets that the store accepts.
const TOKEN: &str = "tok-9f2c1b7e4a-SECRET";
/// A token the store refuses (Secret `team-a/wrong`).
const WRONG_TOKEN: &str = "wrong-4d1a77c0-SECRET";
/// The backend's secrets: key, value.
const BACKEND: [(&str, &str); 4] = [
    ("db/password", "pw-0c3e8a51-SECRET"),
    ("db/json", r#"{"user":"admin","password":"js-77ab9d2e-SECRET"}"#),
    ("app/api-key", "ak-5e19f0c3-SECRET"),
    ("app/tls/key", "tk-a0b1c2d3-SECRET"),
];

/// Every seeded secret value: none may appear in an error message.
fn seeded_values() -> impl Iterator<Item = &'static str> {
    [TOKEN, WRONG_TOKEN, "js-77ab9d2e-SECRET", "bad-spec-31c4-SECRET"]
        .into_iter()
        .chain(BACKEND.iter().map(|(_, value)| *value))
}

/// Set when the store answered "not found" for a key (or version, or
/// property) it does not hold: the only case that may reach the caller as NOT_FOUND.
static STORE_SAID_NOT_FOUND: AtomicBool = AtomicBool::new(false);

fn not_found(what: &str) -> Error {
    STORE_SAID_NOT_FOUND.store(true, Ordering::SeqCst);
    Error::secret_not_found(what)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StoreSpec {
    #[serde(default)]
    auth: Option<SecretKeySelector>,
    #[serde(default)]
    prefix: String,
}

impl ProviderSpec for StoreSpec {
    const GVK: Gvk = STORE;
}

/// A small store over [`BACKEND`] that authenticates with a Secret read through
/// the scope, like a real one.
struct FuzzStore;

struct FuzzClient {
    prefix: String,
}

fn lookup(prefix: &str, key: &str) -> Option<&'static str> {
    let key = key.strip_prefix(prefix)?;
    BACKEND.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

impl SecretStore for FuzzStore {
    type Spec = StoreSpec;
    type Client = FuzzClient;

    async fn connect(&self, ctx: &Ctx, spec: &StoreSpec) -> Result<FuzzClient> {
        if let Some(selector) = &spec.auth {
            let token = ctx.secret(selector).await?;
            if token.expose() != TOKEN.as_bytes() {
                return Err(Error::unauthenticated(format!(
                    "{}: the backend refused the token",
                    ctx.describe()
                )));
            }
        }
        Ok(FuzzClient {
            prefix: spec.prefix.clone(),
        })
    }

    fn capabilities(&self) -> crate::Capabilities {
        crate::Capabilities::ReadWrite
    }

    fn validate_spec(&self, spec: &StoreSpec) -> Result<Vec<String>> {
        if spec.prefix.contains("..") {
            return Err(Error::invalid_config("spec.prefix may not contain .."));
        }
        Ok(if spec.auth.is_none() {
            vec!["spec.auth is not set: the backend is open".into()]
        } else {
            Vec::new()
        })
    }

    async fn get_secret(&self, client: &FuzzClient, remote: &RemoteRef) -> Result<SecretValue> {
        let Some(value) = lookup(&client.prefix, &remote.key) else {
            return Err(not_found(&remote.key));
        };
        if remote.version.as_deref().is_some_and(|v| v != "1") {
            return Err(not_found(&format!("{} (that version)", remote.key)));
        }
        match &remote.property {
            None => Ok(SecretValue::from(value)),
            Some(property) => {
                let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(value)
                    .map_err(|_| Error::invalid_request(format!("secret {} has no properties", remote.key)))?;
                match object.get(property) {
                    Some(serde_json::Value::String(text)) => Ok(SecretValue::from(text.as_str())),
                    Some(_) => Err(Error::invalid_request(format!(
                        "property {} of secret {} is not a string",
                        crate::display::bounded(property),
                        remote.key
                    ))),
                    None => Err(not_found(&format!("{} property {}", remote.key, property))),
                }
            }
        }
    }

    async fn get_secret_map(&self, client: &FuzzClient, remote: &RemoteRef) -> Result<SecretMap> {
        let Some(value) = lookup(&client.prefix, &remote.key) else {
            return Err(not_found(&remote.key));
        };
        let object: BTreeMap<String, String> = serde_json::from_str(value)
            .map_err(|_| Error::invalid_request(format!("secret {} is not a JSON object of strings", remote.key)))?;
        Ok(object.into_iter().map(|(k, v)| (k, SecretValue::from(v))).collect())
    }

    async fn get_all_secrets(&self, client: &FuzzClient, find: &FindQuery) -> Result<SecretMap> {
        let tags: BTreeMap<String, String> = [("env".to_string(), "prod".to_string())].into();
        let mut found = SecretMap::new();
        for (key, value) in BACKEND {
            let key = format!("{}{key}", client.prefix);
            if find_matches(find, &key, &tags) {
                found.insert(key, SecretValue::from(value));
            }
        }
        Ok(found)
    }

    async fn push_secret(&self, client: &FuzzClient, push: &PushRequest) -> Result<()> {
        let value = push.value()?;
        if value.len() > 4096 {
            return Err(Error::invalid_request("the value is larger than the backend's 4 KiB"));
        }
        if push.remote.property.is_none() && lookup(&client.prefix, &push.remote.remote_key).is_some() {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("secret {} exists and is not managed by us", push.remote.remote_key),
            ));
        }
        Ok(())
    }

    async fn delete_secret(&self, _client: &FuzzClient, _remote: &PushRemoteRef) -> Result<()> {
        // Deleting what is gone is success.
        Ok(())
    }

    async fn secret_exists(&self, client: &FuzzClient, remote: &PushRemoteRef) -> Result<bool> {
        Ok(lookup(&client.prefix, &remote.remote_key).is_some())
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GeneratorSpec {
    length: usize,
    #[serde(default)]
    seed: Option<SecretKeySelector>,
}

impl ProviderSpec for GeneratorSpec {
    const GVK: Gvk = GENERATOR;
}

#[derive(serde::Serialize, serde::Deserialize)]
struct GeneratorState {
    id: String,
}

struct FuzzGenerator;

impl Generator for FuzzGenerator {
    type Spec = GeneratorSpec;
    type State = GeneratorState;

    async fn generate(&self, ctx: &Ctx, spec: &GeneratorSpec) -> Result<Generated<GeneratorState>> {
        if spec.length == 0 || spec.length > 64 {
            return Err(Error::invalid_config(format!(
                "{}: spec.length must be 1 to 64",
                ctx.describe()
            )));
        }
        let seed = match &spec.seed {
            Some(selector) => ctx.secret(selector).await?.len(),
            None => 0,
        };
        let value = "x".repeat(spec.length) + &seed.to_string();
        Ok(Generated {
            secrets: [("password".to_string(), SecretValue::from(value))].into(),
            state: Some(GeneratorState {
                id: format!("{}-1", ctx.name()),
            }),
        })
    }

    async fn cleanup(&self, ctx: &Ctx, _spec: Option<&GeneratorSpec>, state: GeneratorState) -> Result<()> {
        if state.id.is_empty() {
            return Err(Error::invalid_request(format!(
                "{}: the state has no id",
                ctx.describe()
            )));
        }
        Ok(())
    }
}

/// The objects and Secrets the dispatch harness serves, in three namespaces.
const OBJECTS: &str = r#"
apiVersion: fuzz.external-secrets.io/v1
kind: FuzzStore
metadata: {name: backend, namespace: team-a}
spec: {auth: {name: creds, key: token}}
---
apiVersion: fuzz.external-secrets.io/v1
kind: FuzzStore
metadata: {name: open, namespace: team-a}
spec: {prefix: ""}
---
apiVersion: fuzz.external-secrets.io/v1
kind: FuzzStore
metadata: {name: prefixed, namespace: team-a}
spec: {prefix: "team-a/"}
---
apiVersion: fuzz.external-secrets.io/v1
kind: FuzzStore
metadata: {name: dotted, namespace: team-a}
spec: {prefix: "../"}
---
apiVersion: fuzz.external-secrets.io/v1
kind: FuzzStore
metadata: {name: broken, namespace: team-a}
spec: {auth: "bad-spec-31c4-SECRET"}
---
apiVersion: fuzz.external-secrets.io/v1
kind: FuzzStore
metadata: {name: wrong-token, namespace: team-a}
spec: {auth: {name: wrong, key: token}}
---
apiVersion: fuzz.external-secrets.io/v1
kind: FuzzStore
metadata: {name: missing-key, namespace: team-a}
spec: {auth: {name: creds, key: nope}}
---
apiVersion: fuzz.external-secrets.io/v1
kind: FuzzStore
metadata: {name: missing-secret, namespace: team-a}
spec: {auth: {name: gone, key: token}}
---
apiVersion: fuzz.external-secrets.io/v1
kind: FuzzStore
metadata: {name: backend, namespace: team-b}
spec: {auth: {name: creds, key: token}}
---
apiVersion: fuzz.external-secrets.io/v1
kind: FuzzStore
metadata: {name: cluster, namespace: providers}
spec: {auth: {name: creds, key: token, namespace: team-b}}
---
apiVersion: fuzz.external-secrets.io/v1
kind: FuzzStore
metadata:
  name: per-team
  namespace: providers
  annotations: {external-secrets.io/authentication-scope: ManifestNamespace}
spec: {auth: {name: creds, key: token}}
---
apiVersion: fuzz.external-secrets.io/v1
kind: FuzzStore
metadata:
  name: bad-scope
  namespace: providers
  annotations: {external-secrets.io/authentication-scope: Everywhere}
spec: {}
---
apiVersion: fuzz.external-secrets.io/v1
kind: FuzzGenerator
metadata: {name: gen, namespace: team-a}
spec: {length: 16}
---
apiVersion: fuzz.external-secrets.io/v1
kind: FuzzGenerator
metadata: {name: seeded, namespace: team-a}
spec: {length: 8, seed: {name: creds, key: token}}
---
apiVersion: fuzz.external-secrets.io/v1
kind: FuzzGenerator
metadata: {name: too-long, namespace: team-b}
spec: {length: 1000}
---
apiVersion: fuzz.external-secrets.io/v1
kind: FuzzGenerator
metadata: {name: broken, namespace: team-b}
spec: {length: "bad-spec-31c4-SECRET"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: team-a}
stringData: {token: tok-9f2c1b7e4a-SECRET}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: team-b}
stringData: {token: tok-9f2c1b7e4a-SECRET}
---
apiVersion: v1
kind: Secret
metadata: {name: wrong, namespace: team-a}
stringData: {token: wrong-4d1a77c0-SECRET}
"#;

fn fail(what: &str, error: &dyn std::fmt::Display) -> ! {
    panic!("fuzz harness: {what}: {error}")
}

/// The dispatch harness: one current-thread runtime and the two real gRPC
/// services over a registry and a files source, built once.
struct Harness {
    runtime: tokio::runtime::Runtime,
    store: StoreService,
    generator: GeneratorService,
    _dir: tempfile::TempDir,
}

// The RPCs, in the order the first input byte picks them: the services' method
// list (the committed corpus's first bytes depend on its order).
use crate::server::METHODS;

/// What a call gave back: an error status, or the in-band texts of a response
/// (Validate's error and warnings).
enum Outcome {
    Status(tonic::Status),
    Texts(Vec<String>),
}

fn outcome<T>(
    result: std::result::Result<tonic::Response<T>, tonic::Status>,
    texts: impl FnOnce(T) -> Vec<String>,
) -> Outcome {
    match result {
        Ok(response) => Outcome::Texts(texts(response.into_inner())),
        Err(status) => Outcome::Status(status),
    }
}

fn none<T>(_: T) -> Vec<String> {
    Vec::new()
}

fn decode<T: Message + Default>(bytes: &[u8]) -> Option<tonic::Request<T>> {
    T::decode(bytes).ok().map(tonic::Request::new)
}

impl Harness {
    fn get() -> &'static Harness {
        static HARNESS: OnceLock<Harness> = OnceLock::new();
        HARNESS.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap_or_else(|e| fail("temp dir", &e));
            std::fs::write(dir.path().join("objects.yaml"), OBJECTS).unwrap_or_else(|e| fail("manifest", &e));
            let source = FilesSource::load(dir.path()).unwrap_or_else(|e| fail("loading the manifests", &e));
            let mut registry = Registry::default();
            registry
                .add_store(std::sync::Arc::new(StoreAdapter::new(FuzzStore)))
                .unwrap_or_else(|e| fail("store", &e));
            registry
                .add_generator(std::sync::Arc::new(GeneratorAdapter(FuzzGenerator)))
                .unwrap_or_else(|e| fail("generator", &e));
            let services = Services {
                registry: std::sync::Arc::new(registry),
                source: std::sync::Arc::new(source),
                metrics: std::sync::Arc::new(Metrics::new()),
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap_or_else(|e| fail("runtime", &e));
            Harness {
                runtime,
                store: StoreService(services.clone()),
                generator: GeneratorService(services),
                _dir: dir,
            }
        })
    }

    /// Decodes `bytes` as the request of `METHODS[method]` and calls the real
    /// handler; `None` when the bytes are not such a request.
    async fn call(&self, method: usize, bytes: &[u8]) -> Option<Outcome> {
        let (store, generator) = (&self.store, &self.generator);
        Some(match method {
            0 => outcome(store.get_secret(decode(bytes)?).await, none),
            1 => outcome(store.get_secret_map(decode(bytes)?).await, none),
            2 => outcome(store.push_secret(decode(bytes)?).await, none),
            3 => outcome(store.delete_secret(decode(bytes)?).await, none),
            4 => outcome(store.secret_exists(decode(bytes)?).await, none),
            5 => outcome(store.get_all_secrets(decode(bytes)?).await, none),
            6 => outcome(store.validate(decode(bytes)?).await, |r: wire::ValidateResponse| {
                let mut texts = r.warnings;
                texts.push(r.error);
                texts
            }),
            7 => outcome(store.capabilities(decode(bytes)?).await, none),
            8 => outcome(generator.generate(decode(bytes)?).await, none),
            _ => outcome(generator.cleanup(decode(bytes)?).await, none),
        })
    }
}

/// The `dispatch` target: the first byte picks the RPC, the rest is its
/// protobuf request. Never panics; NOT_FOUND only when the store said a key it
/// does not hold is missing; every message bounded, without control
/// characters and without a seeded secret value (unless the input carried it).
pub fn dispatch(data: &[u8]) {
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    let method = usize::from(first) % METHODS.len();
    let harness = Harness::get();
    STORE_SAID_NOT_FOUND.store(false, Ordering::SeqCst);
    let outcome = harness
        .runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(5), harness.call(method, bytes)).await });
    let name = METHODS[method];
    let texts = match outcome {
        Err(_) => panic!("{name}: no answer within 5 s"),
        Ok(None) => return,
        Ok(Some(Outcome::Texts(texts))) => texts,
        Ok(Some(Outcome::Status(status))) => {
            if status.code() == tonic::Code::NotFound {
                assert!(
                    STORE_SAID_NOT_FOUND.load(Ordering::SeqCst),
                    "{name}: NOT_FOUND without the store saying a key is missing: {:?}",
                    status.message()
                );
            }
            vec![status.message().to_string()]
        }
    };
    for text in &texts {
        check_message(name, text);
        for value in seeded_values() {
            let echoed = data.windows(value.len()).any(|w| w == value.as_bytes());
            assert!(
                echoed || !text.contains(value),
                "{name}: a seeded secret value in {text:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// manifests: the files source's parser.

/// The one call into the files source's parser: the files' paths and texts in,
/// an error naming the file (and document) out.
fn parse_manifests(files: &[(PathBuf, String)]) -> Result<()> {
    crate::source::files::parse_files(files).map(|_| ())
}

/// What marks a secret value in `manifests` inputs (the seeds carry it).
const CANARY: &str = "s3cr3t";

/// How many times [`CANARY`] occurs in the string values of `data:` and
/// `stringData:` maps anywhere in the documents that parse.
fn canaries_in_values(text: &str) -> usize {
    use serde::Deserialize;
    fn walk(value: &serde_yaml::Value, in_data: bool) -> usize {
        match value {
            serde_yaml::Value::String(s) if in_data => s.matches(CANARY).count(),
            serde_yaml::Value::Mapping(map) => map
                .iter()
                .map(|(key, value)| {
                    let data = matches!(key.as_str(), Some("data" | "stringData"));
                    // Only a data map's own values are secret; its nested maps are not data.
                    match value {
                        serde_yaml::Value::Mapping(inner) if data => inner
                            .iter()
                            .map(|(_, v)| match v {
                                serde_yaml::Value::String(s) => s.matches(CANARY).count(),
                                other => walk(other, false),
                            })
                            .sum(),
                        other => walk(other, false),
                    }
                })
                .sum(),
            serde_yaml::Value::Sequence(items) => items.iter().map(|v| walk(v, false)).sum(),
            serde_yaml::Value::Tagged(tagged) => walk(&tagged.value, in_data),
            _ => 0,
        }
    }
    serde_yaml::Deserializer::from_str(text)
        .map_while(|document| serde_yaml::Value::deserialize(document).ok())
        .map(|value| walk(&value, false))
        .sum()
}

/// The `manifests` target: the input is the text of up to eight manifest files,
/// separated by NUL bytes. Never panics; an error names one of the files, is
/// bounded and has no control character; a marked `data:`/`stringData:` value
/// never appears in it.
pub fn manifests(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let files: Vec<(PathBuf, String)> = text
        .split('\0')
        .take(8)
        .enumerate()
        .map(|(index, text)| (PathBuf::from(format!("manifests/file{index}.yaml")), text.to_string()))
        .collect();
    let Err(error) = parse_manifests(&files) else {
        return;
    };
    let message = error.message();
    check_message("manifests", message);
    assert!(
        files
            .iter()
            .any(|(path, _)| message.contains(&path.display().to_string())),
        "the error names no file: {message:?}"
    );
    // Only when every canary in the input sits in a data value is it a secret.
    let in_text: usize = files.iter().map(|(_, text)| text.matches(CANARY).count()).sum();
    let in_values: usize = files.iter().map(|(_, text)| canaries_in_values(text)).sum();
    if in_text > 0 && in_text == in_values {
        assert!(!message.contains(CANARY), "a data value in the error: {message:?}");
    }
}

// ---------------------------------------------------------------------------
// certs: PEM in, material, self-check and server config.

/// The time the certificate check runs at: inside the seeds' validity
/// (2026-01-01 to 2036-01-01).
fn certs_now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_893_456_000) // 2030-01-01
}

/// The names the certificate check expects.
fn certs_expected() -> ExpectedNames {
    ExpectedNames {
        required: vec!["localhost".into()],
        recommended: vec!["provider.eso.svc".into(), "127.0.0.1".into()],
    }
}

/// The `certs` target: `ca.crt`, `tls.crt` and `tls.key` separated by NUL bytes.
/// Never panics through parsing, the self-check, or building the server config.
pub fn certs(data: &[u8]) {
    let mut parts = data.splitn(3, |b| *b == 0);
    let (ca, cert, key) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let paths = CertPaths::in_dir("fuzz-certs");
    let Ok(material) = TlsMaterial::from_pem(ca, cert, key, &paths) else {
        return;
    };
    if check_material(&material, &certs_expected(), certs_now()).is_err() {
        return;
    }
    // A set that passes the check: the reloader builds the rustls server config
    // from the files, as the server does.
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap_or_else(|e| panic!("fuzz harness: temp dir: {e}")));
    let paths = CertPaths::in_dir(dir.path());
    for (path, bytes) in [(&paths.ca, ca), (&paths.cert, cert), (&paths.key, key)] {
        std::fs::write(path, bytes).unwrap_or_else(|e| panic!("fuzz harness: writing {}: {e}", path.display()));
    }
    let _ = TlsReloader::load(paths, certs_expected(), std::sync::Arc::new(Metrics::new()));
}

// ---------------------------------------------------------------------------
// find_regexp: GetAllSecrets' query.

/// The one call that builds a query from the wire.
fn compile_find(find: wire::ExternalSecretFind) -> Result<FindQuery> {
    // Compiled on the runtime's blocking pool, as a GetAllSecrets call does.
    Harness::get().runtime.block_on(FindQuery::from_wire(Some(find), None))
}

/// The one call that matches a key against a query.
fn find_matches(query: &FindQuery, key: &str, tags: &BTreeMap<String, String>) -> bool {
    query.matches(key, tags)
}

/// The `find_regexp` target: regexp, path and keys separated by NUL bytes.
/// Never panics; an invalid (or too large) regexp is INVALID_ARGUMENT with a
/// bounded message; a valid one matches exactly as the regex crate says.
pub fn find_regexp(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let regexp = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let keys: Vec<&str> = parts.collect();
    let tags: BTreeMap<String, String> = [("env".to_string(), "prod".to_string())].into();
    let find = wire::ExternalSecretFind {
        path: path.clone(),
        name: Some(wire::FindName { regexp: regexp.clone() }),
        tags: if keys.len() % 2 == 0 {
            Default::default()
        } else {
            tags.clone().into_iter().collect()
        },
        ..Default::default()
    };
    let reference = (!regexp.is_empty()).then(|| regex::Regex::new(&regexp));
    match compile_find(find) {
        Err(error) => {
            assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{error}");
            check_message("find", error.message());
            let invalid = matches!(reference, Some(Err(_)));
            let empty = reference.is_none() && path.is_empty() && keys.len() % 2 == 0;
            // The runtime's limits (REGEXP_SIZE_LIMIT, MAX_REGEXP_BYTES) are stricter
            // than the regex crate's defaults: those refusals name the limit.
            let limited = error.message().contains("compiles to more than the limit")
                || error.message().contains("bytes long; at most");
            assert!(invalid || empty || limited, "a valid query was refused: {error}");
        }
        Ok(query) => {
            assert!(
                !matches!(reference, Some(Err(_))),
                "an invalid regexp was accepted: {regexp:?}"
            );
            assert_eq!(query.name.is_some(), !regexp.is_empty());
            for key in keys {
                let expected = key.starts_with(&path)
                    && reference
                        .as_ref()
                        .is_none_or(|r| r.as_ref().is_ok_and(|r| r.is_match(key)));
                assert_eq!(find_matches(&query, key, &tags), expected, "key {key:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Seeds.

/// One seed input: the target, a file name and the bytes.
pub struct Seed {
    /// The fuzz target it is for.
    pub target: &'static str,
    /// Its file name in the target's corpus.
    pub name: String,
    /// The input.
    pub bytes: Vec<u8>,
}

fn seed(target: &'static str, name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Seed {
    Seed {
        target,
        name: name.into(),
        bytes: bytes.into(),
    }
}

fn dispatch_seeds() -> Vec<Seed> {
    use crate::testing::requests::{GeneratorCall, StoreCall};
    let mut seeds = Vec::new();
    let mut add = |name: &str, method: usize, request: &dyn Fn() -> Vec<u8>| {
        let mut bytes = vec![method as u8];
        bytes.extend(request());
        seeds.push(seed("dispatch", format!("seed-{}-{name}", METHODS[method]), bytes));
    };
    let a = StoreCall::new(&STORE, "team-a", "backend");
    let open = StoreCall::new(&STORE, "team-a", "open");
    let cluster = StoreCall::new(&STORE, "providers", "cluster")
        .through("ClusterSecretStore")
        .from_namespace("team-a");
    let per_team = StoreCall::new(&STORE, "providers", "per-team")
        .through("ClusterSecretStore")
        .from_namespace("team-b");
    add("backend", 0, &|| a.get("db/password", "", "").encode_to_vec());
    add("missing", 0, &|| a.get("db/nope", "", "").encode_to_vec());
    add("property", 0, &|| a.get("db/json", "1", "password").encode_to_vec());
    add("cluster", 0, &|| cluster.get("app/api-key", "", "").encode_to_vec());
    add("per-team", 0, &|| per_team.get("db/password", "", "").encode_to_vec());
    add("cross-namespace", 0, &|| {
        StoreCall::new(&STORE, "team-b", "backend")
            .from_namespace("team-a")
            .get("db/password", "", "")
            .encode_to_vec()
    });
    add("unknown-object", 0, &|| {
        StoreCall::new(&STORE, "team-a", "nobody")
            .get("db/password", "", "")
            .encode_to_vec()
    });
    add("broken", 0, &|| {
        StoreCall::new(&STORE, "team-a", "broken")
            .get("db/password", "", "")
            .encode_to_vec()
    });
    add("wrong-token", 0, &|| {
        StoreCall::new(&STORE, "team-a", "wrong-token")
            .get("db/password", "", "")
            .encode_to_vec()
    });
    add("json", 1, &|| a.get_map("db/json", "", "").encode_to_vec());
    add("push", 2, &|| {
        open.push(
            &[("password", "hunter2")],
            "password",
            "new/key",
            "",
            r#"{"tags":{"a":"b"}}"#,
        )
        .encode_to_vec()
    });
    add("whole", 2, &|| {
        open.push(&[("a", "1"), ("b", "2")], "", "db/password", "", "")
            .encode_to_vec()
    });
    add("delete", 3, &|| a.delete("db/password", "").encode_to_vec());
    add("exists", 4, &|| cluster.exists("db/json", "user").encode_to_vec());
    add("find", 5, &|| {
        a.find("db/", "pass.*", &[("env", "prod")]).encode_to_vec()
    });
    add("find-regexp", 5, &|| {
        open.find("", "^(app|db)/[a-z-]+$", &[]).encode_to_vec()
    });
    add("backend", 6, &|| a.validate().encode_to_vec());
    add("missing-key", 6, &|| {
        StoreCall::new(&STORE, "team-a", "missing-key")
            .validate()
            .encode_to_vec()
    });
    add("bad-scope", 6, &|| {
        StoreCall::new(&STORE, "providers", "bad-scope")
            .through("ClusterSecretStore")
            .from_namespace("")
            .validate()
            .encode_to_vec()
    });
    add("open", 7, &|| open.capabilities().encode_to_vec());
    let generator = GeneratorCall::new(&GENERATOR, "team-a", "gen");
    add("gen", 8, &|| generator.generate().encode_to_vec());
    add("seeded", 8, &|| {
        GeneratorCall::new(&GENERATOR, "team-a", "seeded")
            .generate()
            .encode_to_vec()
    });
    add("broken", 8, &|| {
        GeneratorCall::new(&GENERATOR, "team-b", "broken")
            .generate()
            .encode_to_vec()
    });
    add("gen", 9, &|| {
        generator.cleanup(br#"{"id":"gen-1"}"#.to_vec()).encode_to_vec()
    });
    add("gone", 9, &|| {
        GeneratorCall::new(&GENERATOR, "team-a", "gone")
            .cleanup(br#"{"id":""}"#.to_vec())
            .encode_to_vec()
    });
    seeds
}

fn manifest_seeds() -> Vec<Seed> {
    let store = "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Fake\nmetadata: {name: one, namespace: team-a}\nspec: {data: [{key: a, value: b}]}\n";
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: team-a}\ndata: {token: czNjcjN0LXRva2Vu}\nstringData: {user: s3cr3t-user}\n";
    [
        ("store", store.to_string()),
        ("secret", secret.to_string()),
        ("two-documents", format!("{store}---\n{secret}")),
        ("two-files", format!("{store}\0{secret}")),
        (
            "bad-base64",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: \"not base64 s3cr3t!\"}\n".into(),
        ),
        (
            "wrong-type",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: [s3cr3t]}\n".into(),
        ),
        (
            "list",
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: a, namespace: x}\n  stringData: {k: s3cr3t-a}\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: a, namespace: x}\n  stringData: {k: s3cr3t-b}\n".into(),
        ),
        (
            "annotations",
            "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Fake\nmetadata:\n  name: scoped\n  annotations: {external-secrets.io/authentication-scope: ManifestNamespace}\n  resourceVersion: \"7\"\n  uid: u-1\nspec: {}\nstatus: {conditions: [{type: Ready, status: \"True\"}]}\n".into(),
        ),
        ("anchors", "a: &x {b: *x}\n".into()),
        ("no-kind", "metadata: {name: x}\n".into()),
        ("json", "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"j\"}, \"data\": {\"k\": \"czNjcjN0\"}}".into()),
        ("block-scalar", "apiVersion: v1\nkind: Secret\nmetadata: {name: b}\nstringData:\n  cert: |\n    -----BEGIN s3cr3t-----\n    abc\n".into()),
        ("tagged", "apiVersion: v1\nkind: Secret\nmetadata: {name: t}\nstringData: {k: !!binary czNjcjN0}\n".into()),
    ]
    .into_iter()
    .map(|(name, text)| seed("manifests", format!("seed-{name}"), text))
    .collect()
}

fn cert_seeds() -> Result<Vec<Seed>> {
    use crate::tls::issue::{CertificateAuthority, Validity};
    use time::OffsetDateTime;
    let at = |unix: i64| OffsetDateTime::from_unix_timestamp(unix).map_err(|e| Error::internal(e.to_string()));
    let valid = Validity {
        not_before: at(1_767_225_600)?, // 2026-01-01
        not_after: at(2_082_758_400)?,  // 2036-01-01
    };
    let expired = Validity {
        not_before: at(1_767_225_600)?,
        not_after: at(1_800_000_000)?, // 2027-01-15
    };
    let names = vec![
        "localhost".to_string(),
        "provider.eso.svc".to_string(),
        "127.0.0.1".to_string(),
    ];
    let ca = CertificateAuthority::generate("fuzz CA", valid)?;
    let other_ca = CertificateAuthority::generate("other CA", valid)?;
    let server = ca.issue_server(&names, valid)?;
    let other = ca.issue_server(&names, valid)?;
    let stale = ca.issue_server(&names, expired)?;
    let nameless = ca.issue_server(&[], valid)?;
    let wrong_name = ca.issue_server(&["elsewhere.example".to_string()], valid)?;
    let set = |ca: &str, cert: &str, key: &str| format!("{ca}\0{cert}\0{key}").into_bytes();
    let both_cas = format!("{}{}", ca.cert_pem(), other_ca.cert_pem());
    let chain = format!("{}{}", server.cert_pem, ca.cert_pem());
    Ok(vec![
        seed(
            "certs",
            "seed-valid",
            set(ca.cert_pem(), &server.cert_pem, &server.key_pem),
        ),
        seed(
            "certs",
            "seed-two-cas",
            set(&both_cas, &server.cert_pem, &server.key_pem),
        ),
        seed("certs", "seed-chain", set(ca.cert_pem(), &chain, &server.key_pem)),
        seed(
            "certs",
            "seed-key-mismatch",
            set(ca.cert_pem(), &server.cert_pem, &other.key_pem),
        ),
        seed(
            "certs",
            "seed-other-ca",
            set(other_ca.cert_pem(), &server.cert_pem, &server.key_pem),
        ),
        seed(
            "certs",
            "seed-expired",
            set(ca.cert_pem(), &stale.cert_pem, &stale.key_pem),
        ),
        seed(
            "certs",
            "seed-no-names",
            set(ca.cert_pem(), &nameless.cert_pem, &nameless.key_pem),
        ),
        seed(
            "certs",
            "seed-wrong-name",
            set(ca.cert_pem(), &wrong_name.cert_pem, &wrong_name.key_pem),
        ),
        seed(
            "certs",
            "seed-ca-as-leaf",
            set(ca.cert_pem(), ca.cert_pem(), ca.key_pem()),
        ),
        seed("certs", "seed-empty-ca", set("", &server.cert_pem, &server.key_pem)),
    ])
}

fn find_seeds() -> Vec<Seed> {
    [
        ("prefix", "db-.*\0app/\0app/db-main\0app/cache\0other/db-x"),
        ("anchored", "^(app|db)/[a-z-]+$\0\0db/password\0app/api-key"),
        ("classes", r"\w+\d{2,4}\s*\p{Greek}\0\0abc123 α\0"),
        ("unicode", "(?i)ключ|秘密\0\0КЛЮЧ\0秘密\0x"),
        ("bad", "(\0\0a"),
        ("repetition", r"(a{100}){100}\0\0aaaa"),
        ("big", r"\w{1000}\0\0a"),
        ("flags", r"(?x) a \# b (?-x: c)\0\0a#bc"),
        ("empty", "\0prefix/\0prefix/one\0none"),
        ("lookaround", r"a(?=b)\0\0ab"),
    ]
    .into_iter()
    .map(|(name, text)| seed("find_regexp", format!("seed-{name}"), text))
    .collect()
}

/// Every target's seed inputs, as committed under `runtime/fuzz/corpus/<target>/`.
pub fn seeds() -> Result<Vec<Seed>> {
    let mut seeds = dispatch_seeds();
    seeds.extend(manifest_seeds());
    seeds.extend(cert_seeds()?);
    seeds.extend(find_seeds());
    Ok(seeds)
}
