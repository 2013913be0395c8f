//! `eso-gen call` against an in-process provider over real loopback gRPC with
//! real mutual TLS: a tiny `Memory` store and a `Sequence` generator.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{Run, eso_gen};
use eso_runtime::testing::TestProvider;
use eso_runtime::{
    Capabilities, Ctx, Error, FindQuery, Generated, Generator, Gvk, ProviderSpec, PushRemoteRef, PushRequest,
    RemoteRef, Result, SecretMap, SecretStore, SecretValue,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Deserialize)]
struct MemorySpec {
    #[serde(default)]
    values: BTreeMap<String, String>,
}

impl ProviderSpec for MemorySpec {
    const GVK: Gvk = Gvk {
        group: Gvk::DEFAULT_GROUP,
        version: Gvk::DEFAULT_VERSION,
        kind: "Memory",
    };
}

/// Serves its spec's values, a non-UTF-8 `binary` key, a `slow` key that takes
/// 10 s, and whatever was pushed.
#[derive(Clone, Default)]
struct Memory {
    pushed: Arc<Mutex<BTreeMap<String, SecretValue>>>,
}

struct MemoryClient {
    values: BTreeMap<String, SecretValue>,
    pushed: Arc<Mutex<BTreeMap<String, SecretValue>>>,
}

impl MemoryClient {
    fn lookup(&self, key: &str) -> Option<SecretValue> {
        if let Some(value) = self.pushed.lock().unwrap().get(key) {
            return Some(value.clone());
        }
        self.values.get(key).cloned()
    }
}

impl SecretStore for Memory {
    type Spec = MemorySpec;
    type Client = MemoryClient;

    async fn connect(&self, _ctx: &Ctx, spec: &MemorySpec) -> Result<MemoryClient> {
        let mut values: BTreeMap<String, SecretValue> = spec
            .values
            .iter()
            .map(|(k, v)| (k.clone(), SecretValue::from(v.as_str())))
            .collect();
        values.insert("binary".into(), SecretValue::new(vec![0xff, 0xfe, 0x00]));
        Ok(MemoryClient {
            values,
            pushed: Arc::clone(&self.pushed),
        })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ReadWrite
    }

    fn validate_spec(&self, spec: &MemorySpec) -> Result<Vec<String>> {
        if spec.values.is_empty() {
            Ok(vec!["spec.values is empty".into()])
        } else {
            Ok(Vec::new())
        }
    }

    async fn get_secret(&self, client: &MemoryClient, remote: &RemoteRef) -> Result<SecretValue> {
        if remote.key == "slow" {
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        client
            .lookup(&remote.key)
            .ok_or_else(|| Error::secret_not_found(&remote.key))
    }

    async fn get_secret_map(&self, client: &MemoryClient, _remote: &RemoteRef) -> Result<SecretMap> {
        Ok(client.values.clone())
    }

    async fn get_all_secrets(&self, client: &MemoryClient, find: &FindQuery) -> Result<SecretMap> {
        Ok(client
            .values
            .iter()
            .filter(|(key, _)| find.matches(key, &BTreeMap::new()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn push_secret(&self, _client: &MemoryClient, push: &PushRequest) -> Result<()> {
        let value = push.value()?;
        self.pushed
            .lock()
            .unwrap()
            .insert(push.remote.remote_key.clone(), value);
        Ok(())
    }

    async fn secret_exists(&self, client: &MemoryClient, remote: &PushRemoteRef) -> Result<bool> {
        Ok(client.lookup(&remote.remote_key).is_some())
    }
}

#[derive(Debug, Deserialize)]
struct SequenceSpec {
    prefix: String,
}

impl ProviderSpec for SequenceSpec {
    const GVK: Gvk = Gvk {
        group: Gvk::DEFAULT_GROUP,
        version: Gvk::DEFAULT_VERSION,
        kind: "Sequence",
    };
}

#[derive(Debug, Serialize, Deserialize)]
struct SequenceState {
    id: String,
}

/// Generates `<prefix>-<n>`; remembers which generations were cleaned up.
#[derive(Default)]
struct Sequence {
    counter: AtomicU64,
    cleaned: Arc<Mutex<Vec<String>>>,
}

impl Generator for Sequence {
    type Spec = SequenceSpec;
    type State = SequenceState;

    async fn generate(&self, _ctx: &Ctx, spec: &SequenceSpec) -> Result<Generated<SequenceState>> {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        Ok(Generated {
            secrets: [(
                "password".to_string(),
                SecretValue::from(format!("{}-{n}", spec.prefix)),
            )]
            .into(),
            state: Some(SequenceState { id: format!("gen-{n}") }),
        })
    }

    async fn cleanup(&self, _ctx: &Ctx, _spec: Option<&SequenceSpec>, state: SequenceState) -> Result<()> {
        self.cleaned.lock().unwrap().push(state.id);
        Ok(())
    }
}

const MANIFESTS: &str = "\
apiVersion: provider.external-secrets.io/v2alpha1
kind: Memory
metadata: {name: backend, namespace: default}
spec:
  values: {db/password: hunter2, db/user: admin, api-token: t0ken}
---
apiVersion: provider.external-secrets.io/v2alpha1
kind: Memory
metadata: {name: empty, namespace: default}
spec: {}
---
apiVersion: provider.external-secrets.io/v2alpha1
kind: Sequence
metadata: {name: seq, namespace: default}
spec: {prefix: pw}
";

struct Harness {
    running: TestProvider,
    cleaned: Arc<Mutex<Vec<String>>>,
}

impl Harness {
    async fn start() -> Harness {
        let sequence = Sequence::default();
        let cleaned = Arc::clone(&sequence.cleaned);
        let provider = eso_runtime::serve!()
            .secret_store(Memory::default())
            .generator(sequence);
        let running = TestProvider::start(provider, MANIFESTS).await.expect("provider starts");
        Harness { running, cleaned }
    }

    /// `eso-gen call <address> <method> --certs <client dir> <extra…>`.
    async fn call(&self, method: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "call".to_string(),
            self.running.address(),
            method.to_string(),
            "--certs".to_string(),
            self.running.client_cert_dir().display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        eso_gen(&args).await
    }

    /// A call to the `backend` Memory object.
    async fn store_call(&self, method: &str, extra: &[&str]) -> Run {
        let mut args = vec!["--kind", "Memory", "--name", "backend"];
        args.extend_from_slice(extra);
        self.call(method, &args).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn get_secret_prints_the_value() {
    let harness = Harness::start().await;
    let run = harness.store_call("GetSecret", &["--key", "db/password"]).await;
    run.assert_code(0);
    assert_eq!(run.json(), serde_json::json!({"value": "hunter2"}));

    // Non-UTF-8 bytes are shown as base64, marked.
    let run = harness.store_call("GetSecret", &["--key", "binary"]).await;
    run.assert_code(0);
    assert_eq!(run.json(), serde_json::json!({"value": {"base64": "//4A"}}));
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_value_prints_only_the_bytes() {
    let harness = Harness::start().await;
    let run = harness
        .store_call("GetSecret", &["--key", "db/password", "--raw-value"])
        .await;
    run.assert_code(0);
    assert_eq!(run.stdout, b"hunter2");

    let run = harness
        .store_call("GetSecret", &["--key", "binary", "--raw-value"])
        .await;
    run.assert_code(0);
    assert_eq!(run.stdout, [0xff, 0xfe, 0x00]);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_key_is_not_found_with_exit_code_1() {
    let harness = Harness::start().await;
    let run = harness.store_call("GetSecret", &["--key", "nope"]).await;
    run.assert_code(1);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.starts_with("error: NotFound (5): "), "{}", run.stderr);
    assert!(run.stderr.contains("nope"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn full_method_name_and_json_request() {
    let harness = Harness::start().await;
    let json = r#"{"providerRef": {"kind": "Memory", "name": "backend"}, "remote_ref": {"key": "api-token"}}"#;
    let run = harness
        .call("provider.v1.SecretStoreProvider/GetSecret", &["--json", json])
        .await;
    run.assert_code(0);
    assert_eq!(run.json(), serde_json::json!({"value": "t0ken"}));

    // Flags win over the JSON.
    let run = harness.call("GetSecret", &["--json", json, "--key", "db/user"]).await;
    run.assert_code(0);
    assert_eq!(run.json(), serde_json::json!({"value": "admin"}));

    // From a file.
    let file = harness.running.scratch_dir().join("request.json");
    std::fs::write(&file, json).unwrap();
    let run = harness
        .call("GetSecret", &["--json-file", file.to_str().unwrap()])
        .await;
    run.assert_code(0);
    assert_eq!(run.json(), serde_json::json!({"value": "t0ken"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_and_capabilities_print_json() {
    let harness = Harness::start().await;
    let run = harness.store_call("Validate", &[]).await;
    run.assert_code(0);
    assert_eq!(
        run.json(),
        serde_json::json!({"valid": true, "error": "", "warnings": []})
    );

    let run = harness.call("Validate", &["--kind", "Memory", "--name", "empty"]).await;
    run.assert_code(0);
    assert_eq!(run.json()["warnings"], serde_json::json!(["spec.values is empty"]));

    let run = harness.store_call("Capabilities", &[]).await;
    run.assert_code(0);
    assert_eq!(run.json(), serde_json::json!({"capabilities": "READ_WRITE"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn maps_push_and_exists() {
    let harness = Harness::start().await;
    let run = harness.store_call("GetSecretMap", &["--key", "anything"]).await;
    run.assert_code(0);
    assert_eq!(run.json()["secrets"]["db/password"], "hunter2");
    assert_eq!(run.json()["secrets"]["binary"], serde_json::json!({"base64": "//4A"}));

    let run = harness.store_call("GetAllSecrets", &["--path", "db/"]).await;
    run.assert_code(0);
    assert_eq!(
        run.json(),
        serde_json::json!({"secrets": {"db/password": "hunter2", "db/user": "admin"}})
    );

    let run = harness
        .store_call(
            "PushSecret",
            &["--key", "app/pushed", "--secret-key", "pw", "--data", "pw=pushed-value"],
        )
        .await;
    run.assert_code(0);
    assert_eq!(run.json(), serde_json::json!({}));

    let run = harness.store_call("SecretExists", &["--key", "app/pushed"]).await;
    run.assert_code(0);
    assert_eq!(run.json(), serde_json::json!({"exists": true}));
    let run = harness.store_call("SecretExists", &["--key", "app/other"]).await;
    run.assert_code(0);
    assert_eq!(run.json(), serde_json::json!({"exists": false}));

    let run = harness
        .store_call("GetSecret", &["--key", "app/pushed", "--raw-value"])
        .await;
    run.assert_code(0);
    assert_eq!(run.stdout, b"pushed-value");
}

#[tokio::test(flavor = "multi_thread")]
async fn generate_prints_values_and_state_and_cleanup_takes_it_back() {
    let harness = Harness::start().await;
    let run = harness.call("Generate", &["--kind", "Sequence", "--name", "seq"]).await;
    run.assert_code(0);
    let json = run.json();
    assert_eq!(json["secrets"], serde_json::json!({"password": "pw-0"}));
    let state = json["state"].as_str().expect("state is text");
    assert_eq!(serde_json::from_str::<serde_json::Value>(state).unwrap()["id"], "gen-0");

    let run = harness
        .call("Cleanup", &["--kind", "Sequence", "--name", "seq", "--state", state])
        .await;
    run.assert_code(0);
    assert_eq!(run.json(), serde_json::json!({}));
    assert_eq!(*harness.cleaned.lock().unwrap(), vec!["gen-0".to_string()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_client_certificates_the_call_fails_cleanly() {
    let harness = Harness::start().await;
    let address = harness.running.address();

    let run = eso_gen(&["call", &address, "Validate", "--kind", "Memory", "--name", "backend"]).await;
    run.assert_code(2);
    assert!(run.stderr.contains("no --certs DIR given"), "{}", run.stderr);

    let run = eso_gen(&["call", &address, "Validate", "--plaintext"]).await;
    run.assert_code(2);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(run.stderr.contains(&address), "{}", run.stderr);
    assert!(run.stderr.contains("--certs"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_method_lists_the_methods() {
    let harness = Harness::start().await;
    let run = harness.call("GetSecrets", &[]).await;
    run.assert_code(2);
    assert!(run.stderr.contains("unknown method \"GetSecrets\""), "{}", run.stderr);
    for method in [
        "GetSecret",
        "GetSecretMap",
        "GetAllSecrets",
        "PushSecret",
        "DeleteSecret",
        "SecretExists",
        "Validate",
        "Capabilities",
        "Generate",
        "Cleanup",
    ] {
        assert!(run.stderr.contains(method), "{method} missing: {}", run.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_is_the_deadline() {
    let harness = Harness::start().await;
    let started = Instant::now();
    let run = harness
        .store_call("GetSecret", &["--key", "slow", "--timeout", "300ms"])
        .await;
    run.assert_code(1);
    assert!(
        run.stderr.starts_with("error: DeadlineExceeded (4): "),
        "{}",
        run.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_retries_connecting() {
    // Nothing listens on this port (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let run = eso_gen(&["call", &address, "Capabilities", "--plaintext", "--wait", "600ms"]).await;
    run.assert_code(2);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "gave up after {:?}",
        started.elapsed()
    );
    assert!(run.stderr.contains("cannot connect"), "{}", run.stderr);

    // A provider that is up answers at once.
    let harness = Harness::start().await;
    let run = harness.store_call("Capabilities", &["--wait", "10s"]).await;
    run.assert_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_finds_a_provider_that_starts_later() {
    // The provider runs already, but eso-gen dials a port where nothing listens
    // yet; 700 ms later a forwarder to the provider opens there.
    let harness = Harness::start().await;
    let provider_addr = format!("127.0.0.1:{}", harness.running.running().grpc_addr().port());
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved);

    let started = Instant::now();
    let waiting = tokio::spawn({
        let address = format!("localhost:{port}");
        let certs = harness.running.client_cert_dir().display().to_string();
        async move {
            eso_gen(&[
                "call",
                &address,
                "Capabilities",
                "--kind",
                "Memory",
                "--name",
                "backend",
                "--certs",
                &certs,
                "--wait",
                "20s",
            ])
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let forwarder = tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let provider_addr = provider_addr.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&provider_addr).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });

    let run = waiting.await.unwrap();
    forwarder.abort();
    run.assert_code(0);
    assert_eq!(run.json(), serde_json::json!({"capabilities": "READ_WRITE"}));
    assert!(started.elapsed() >= Duration::from_millis(700));
}
