//! The Kubernetes source end to end: a provider served over real mTLS, reading its
//! objects and Secrets from an in-process API server that speaks the real REST and
//! watch protocol (`eso_runtime::testing::kube_api`; no real API server can be
//! installed where these tests run). Covers the watch caches (zero steady-state
//! requests), updates, the scope table through the API, status written once per
//! change, RBAC refusals, an expired watch, and the API server going away.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{Echo, get_secret_request, http_get, provider, wait_for, wait_for_async};
use eso_runtime::Gvk;
use eso_runtime::client::ProviderClient;
use eso_runtime::proto::provider::v1 as wire;
use eso_runtime::server::ClientCachePolicy;
use eso_runtime::source::kube::{KubeSettings, KubeSource, StatusPolicy, WatchScope};
use eso_runtime::source::{Source, files::FilesSource};
use eso_runtime::testing::TestProvider;
use eso_runtime::testing::kube_api::FakeApiServer;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tonic_health::pb::health_check_response::ServingStatus;

const ECHO: Gvk = common::ECHO;
const API_VERSION: &str = "test.eso-gen.dev/v1";
const WAIT: Duration = Duration::from_secs(15);

fn fast_settings(watch: WatchScope) -> KubeSettings {
    KubeSettings {
        watch,
        watch_retry_max: Duration::from_millis(300),
        secret_idle_ttl: Duration::from_secs(600),
        max_secret_watches: 1024,
        secret_load_timeout: Duration::from_secs(5),
        status: StatusPolicy {
            min_interval: Duration::from_millis(1),
            retry_initial: Duration::from_millis(50),
            retry_max: Duration::from_millis(300),
            write_timeout: Duration::from_secs(5),
        },
    }
}

fn echo_object(namespace: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "Echo",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    })
}

fn annotated_echo(namespace: &str, name: &str, scope: &str, spec: Value) -> Value {
    let mut object = echo_object(namespace, name, spec);
    object["metadata"]["annotations"] = json!({"external-secrets.io/authentication-scope": scope});
    object
}

fn secret(namespace: &str, name: &str, key: &str, value: &str) -> Value {
    use base64::Engine;
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {key: base64::engine::general_purpose::STANDARD.encode(value)},
    })
}

struct World {
    api: FakeApiServer,
    source: Arc<KubeSource>,
    provider: TestProvider,
    client: ProviderClient,
}

async fn world_with(echo: Echo, settings: KubeSettings, setup: impl FnOnce(&FakeApiServer)) -> World {
    let api = FakeApiServer::start().await.unwrap();
    setup(&api);
    let provider_def = provider(echo);
    let kinds = provider_def.watched_kinds().unwrap();
    let source = KubeSource::start(api.client().unwrap(), &kinds, settings);
    let provider = TestProvider::start_with_source(provider_def, Arc::clone(&source) as Arc<dyn Source>)
        .await
        .unwrap();
    assert!(
        wait_for(WAIT, || source.is_ready()).await,
        "the watch caches never synced"
    );
    let client = provider.client().await.unwrap();
    World {
        api,
        source,
        provider,
        client,
    }
}

async fn world(echo: Echo, setup: impl FnOnce(&FakeApiServer)) -> World {
    world_with(echo, fast_settings(WatchScope::AllNamespaces), setup).await
}

fn request(
    store_ref_kind: &str,
    object_namespace: &str,
    name: &str,
    source_namespace: &str,
    key: &str,
) -> wire::GetSecretRequest {
    let mut request = get_secret_request(&ECHO, object_namespace, name, key);
    if let Some(reference) = request.provider_ref.as_mut() {
        reference.store_ref_kind = store_ref_kind.into();
    }
    request.source_namespace = source_namespace.into();
    request
}

/// A refused call: its code and message (a `tonic::Status` does not compare).
#[derive(Debug, PartialEq)]
struct Failure {
    code: tonic::Code,
    message: String,
}

/// [`eso_runtime::testing::get`], refusals as a [`Failure`] so whole answers compare.
async fn get(client: &mut ProviderClient, request: wire::GetSecretRequest) -> Result<String, Failure> {
    eso_runtime::testing::get(client, request)
        .await
        .map_err(|status| Failure {
            code: status.code(),
            message: status.message().to_string(),
        })
}

async fn validate(client: &mut ProviderClient, namespace: &str, name: &str) -> wire::ValidateResponse {
    client
        .store
        .validate(wire::ValidateRequest {
            provider_ref: Some(eso_runtime::testing::provider_ref(&ECHO, namespace, name)),
            source_namespace: namespace.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

fn ready_condition(api: &FakeApiServer, namespace: &str, name: &str) -> Option<Value> {
    let object = api.get(API_VERSION, "echos", namespace, name).unwrap()?;
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .cloned()
}

/// The overall gRPC health status.
async fn grpc_health(client: &ProviderClient) -> i32 {
    let mut health = tonic_health::pb::health_client::HealthClient::new(client.channel.clone());
    health
        .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
        .await
        .map(|r| r.into_inner().status)
        .unwrap_or(-1)
}

fn status_patches(api: &FakeApiServer) -> usize {
    api.requests_matching("PATCH", "/status").len()
}

#[tokio::test]
async fn steady_state_calls_make_no_api_requests() {
    let echo = Echo::default();
    let connects = echo.counters.connects.clone();
    let mut w = world(echo, |api| {
        api.apply(
            "echos",
            echo_object(
                "team-a",
                "backend",
                json!({"values": {"hello": "world"}, "credentials": {"name": "creds", "key": "token"}}),
            ),
        )
        .unwrap();
        api.apply("secrets", secret("team-a", "creds", "token", "s3cr3t"))
            .unwrap();
        api.apply("secrets", secret("team-a", "unrelated", "token", "never-read"))
            .unwrap();
    })
    .await;

    assert_eq!(
        get(
            &mut w.client,
            request("SecretStore", "team-a", "backend", "team-a", "credential")
        )
        .await,
        Ok("s3cr3t".into())
    );
    // Only the referenced Secret is watched, by name.
    let secret_requests: Vec<_> = w
        .api
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/secrets"))
        .collect();
    assert!(!secret_requests.is_empty());
    assert!(
        secret_requests
            .iter()
            .all(|r| r.path == "/api/v1/namespaces/team-a/secrets"),
        "{secret_requests:?}"
    );
    assert_eq!(w.source.watched_secrets(), 1);
    // The Secret's watcher sends its WATCH right after its first list: let it.
    assert!(
        wait_for(WAIT, || w
            .api
            .requests()
            .iter()
            .any(|r| r.watch && r.path.ends_with("/secrets")))
        .await,
        "the Secret is never watched"
    );

    let before = w.api.request_count();
    for _ in 0..50 {
        assert_eq!(
            get(
                &mut w.client,
                request("SecretStore", "team-a", "backend", "team-a", "hello")
            )
            .await,
            Ok("world".into())
        );
        assert_eq!(
            get(
                &mut w.client,
                request("SecretStore", "team-a", "backend", "team-a", "credential")
            )
            .await,
            Ok("s3cr3t".into())
        );
    }
    assert_eq!(
        w.api.request_count(),
        before,
        "steady-state calls reached the API server"
    );
    assert_eq!(connects.load(Ordering::SeqCst), 1);
    w.provider.stop().await.unwrap();
}

#[tokio::test]
async fn object_and_secret_updates_are_picked_up_and_deletions_refused() {
    let echo = Echo::default();
    let connects = echo.counters.connects.clone();
    let mut w = world(echo, |api| {
        api.apply(
            "echos",
            echo_object(
                "team-a",
                "backend",
                json!({"values": {"hello": "world"}, "credentials": {"name": "creds", "key": "token"}}),
            ),
        )
        .unwrap();
        api.apply("secrets", secret("team-a", "creds", "token", "v1")).unwrap();
    })
    .await;
    let hello = || request("SecretStore", "team-a", "backend", "team-a", "hello");
    let credential = || request("SecretStore", "team-a", "backend", "team-a", "credential");
    assert_eq!(get(&mut w.client, hello()).await, Ok("world".into()));

    // A spec change (new generation) rebuilds the client.
    w.api
        .apply(
            "echos",
            echo_object(
                "team-a",
                "backend",
                json!({"values": {"hello": "there"}, "credentials": {"name": "creds", "key": "token"}}),
            ),
        )
        .unwrap();
    let mut client = w.client.clone();
    assert!(
        wait_for_async(WAIT, || {
            let mut client = client.clone();
            async move { get(&mut client, hello()).await == Ok("there".into()) }
        })
        .await
    );
    // A rotated credential rebuilds it too.
    w.api
        .apply("secrets", secret("team-a", "creds", "token", "v2"))
        .unwrap();
    assert!(
        wait_for_async(WAIT, || {
            let mut client = client.clone();
            async move { get(&mut client, credential()).await == Ok("v2".into()) }
        })
        .await
    );
    assert_eq!(connects.load(Ordering::SeqCst), 3);

    // A deleted object is a configuration problem, never NOT_FOUND.
    assert!(w.api.delete(API_VERSION, "echos", "team-a", "backend").unwrap());
    assert!(
        wait_for_async(WAIT, || {
            let mut client = client.clone();
            async move {
                matches!(get(&mut client, hello()).await, Err(s) if s.code == tonic::Code::FailedPrecondition)
            }
        })
        .await
    );
    let error = get(&mut client, hello()).await.unwrap_err();
    assert!(error.message.contains("backend"), "{}", error.message);
    w.provider.stop().await.unwrap();
}

/// Every row of the scope table, through the API: what may be read is read from
/// the right namespace, and every attempt to reach another namespace is refused
/// before any request for it reaches the API server.
#[tokio::test]
async fn the_scope_table_holds_through_the_api() {
    let mut w = world(Echo::default(), |api| {
        // Namespaced store in team-a, with a selector that tries kube-system.
        api.apply(
            "echos",
            echo_object(
                "team-a",
                "own",
                json!({"credentials": {"name": "creds", "key": "token"}}),
            ),
        )
        .unwrap();
        api.apply(
            "echos",
            echo_object(
                "team-a",
                "escape",
                json!({"credentials": {"name": "creds", "key": "token", "namespace": "kube-system"}}),
            ),
        )
        .unwrap();
        // Cluster stores in the providers namespace.
        api.apply(
            "echos",
            echo_object(
                "providers",
                "cluster",
                json!({"credentials": {"name": "creds", "key": "token"}}),
            ),
        )
        .unwrap();
        api.apply(
            "echos",
            echo_object(
                "providers",
                "cluster-explicit",
                json!({"credentials": {"name": "creds", "key": "token", "namespace": "vault-creds"}}),
            ),
        )
        .unwrap();
        api.apply(
            "echos",
            annotated_echo(
                "providers",
                "per-team",
                "ManifestNamespace",
                json!({"credentials": {"name": "creds", "key": "token"}}),
            ),
        )
        .unwrap();
        api.apply(
            "echos",
            annotated_echo(
                "providers",
                "per-team-explicit",
                "ManifestNamespace",
                json!({"credentials": {"name": "creds", "key": "token", "namespace": "providers"}}),
            ),
        )
        .unwrap();
        for (namespace, value) in [
            ("team-a", "team-a-token"),
            ("team-b", "team-b-token"),
            ("providers", "providers-token"),
            ("vault-creds", "vault-creds-token"),
            ("kube-system", "kube-system-token"),
        ] {
            api.apply("secrets", secret(namespace, "creds", "token", value))
                .unwrap();
        }
    })
    .await;
    let c = &mut w.client;
    let code = |r: Result<String, Failure>| r.map_err(|s| s.code);

    // Namespaced: own namespace only.
    assert_eq!(
        get(c, request("SecretStore", "team-a", "own", "team-a", "credential")).await,
        Ok("team-a-token".into())
    );
    assert_eq!(
        code(get(c, request("SecretStore", "team-a", "escape", "team-a", "credential")).await),
        Err(tonic::Code::PermissionDenied)
    );
    // A namespaced store may not use a provider object in another namespace.
    assert_eq!(
        code(get(c, request("SecretStore", "team-a", "own", "team-b", "credential")).await),
        Err(tonic::Code::PermissionDenied)
    );
    assert_eq!(
        code(get(c, request("Provider", "providers", "cluster", "team-b", "credential")).await),
        Err(tonic::Code::PermissionDenied)
    );
    // Cluster, ProviderNamespace: the object's namespace, or the selector's.
    assert_eq!(
        get(
            c,
            request("ClusterSecretStore", "providers", "cluster", "team-b", "credential")
        )
        .await,
        Ok("providers-token".into())
    );
    assert_eq!(
        get(
            c,
            request(
                "ClusterProvider",
                "providers",
                "cluster-explicit",
                "team-b",
                "credential"
            )
        )
        .await,
        Ok("vault-creds-token".into())
    );
    // Cluster, ManifestNamespace: the ExternalSecret's namespace, per caller.
    assert_eq!(
        get(
            c,
            request("ClusterSecretStore", "providers", "per-team", "team-a", "credential")
        )
        .await,
        Ok("team-a-token".into())
    );
    assert_eq!(
        get(
            c,
            request("ClusterSecretStore", "providers", "per-team", "team-b", "credential")
        )
        .await,
        Ok("team-b-token".into())
    );
    assert_eq!(
        code(
            get(
                c,
                request(
                    "ClusterSecretStore",
                    "providers",
                    "per-team-explicit",
                    "team-a",
                    "credential"
                )
            )
            .await
        ),
        Err(tonic::Code::PermissionDenied)
    );
    // Validation of a cluster store (no source namespace) cannot resolve ManifestNamespace credentials.
    let validation = c
        .store
        .validate(wire::ValidateRequest {
            provider_ref: Some(wire::ProviderReference {
                store_ref_kind: "ClusterSecretStore".into(),
                ..eso_runtime::testing::provider_ref(&ECHO, "providers", "per-team")
            }),
            source_namespace: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!validation.valid);
    assert!(validation.error.contains("source_namespace"), "{}", validation.error);

    // No refused attempt reached the API server for kube-system's Secrets.
    assert!(
        w.api
            .requests()
            .iter()
            .all(|r| !r.path.contains("/namespaces/kube-system/")),
        "a refused read reached the API server"
    );
    w.provider.stop().await.unwrap();
}

#[tokio::test]
async fn status_is_written_once_per_change() {
    let mut w = world(Echo::default(), |api| {
        api.apply(
            "echos",
            echo_object(
                "team-a",
                "backend",
                json!({"credentials": {"name": "creds", "key": "token"}}),
            ),
        )
        .unwrap();
        api.apply("secrets", secret("team-a", "creds", "token", "t")).unwrap();
    })
    .await;

    let response = validate(&mut w.client, "team-a", "backend").await;
    assert!(response.valid, "{}", response.error);
    assert!(wait_for(WAIT, || ready_condition(&w.api, "team-a", "backend").is_some()).await);
    let ready = ready_condition(&w.api, "team-a", "backend").unwrap();
    assert_eq!(ready["status"], "True");
    assert_eq!(ready["reason"], "Ready");
    assert_eq!(ready["observedGeneration"], 1);
    assert!(ready["lastTransitionTime"].as_str().is_some_and(|t| t.ends_with('Z')));
    let object = w.api.get(API_VERSION, "echos", "team-a", "backend").unwrap().unwrap();
    assert_eq!(object["status"]["observedGeneration"], 1);
    assert_eq!(status_patches(&w.api), 1);
    // The status write changed the resourceVersion but not the generation: the
    // client is not rebuilt, and nothing is written again.
    for _ in 0..10 {
        assert!(validate(&mut w.client, "team-a", "backend").await.valid);
    }
    assert_eq!(status_patches(&w.api), 1);

    // Break it: the Secret loses its key. Validate reports in-band and in status, once.
    w.api
        .apply("secrets", secret("team-a", "creds", "other", "t0k-value-9"))
        .unwrap();
    let mut client = w.client.clone();
    assert!(
        wait_for_async(WAIT, || {
            let mut client = client.clone();
            async move { !validate(&mut client, "team-a", "backend").await.valid }
        })
        .await
    );
    assert!(
        wait_for(WAIT, || ready_condition(&w.api, "team-a", "backend")
            .is_some_and(|c| c["status"] == "False"))
        .await
    );
    let failed = ready_condition(&w.api, "team-a", "backend").unwrap();
    assert_eq!(failed["reason"], "InvalidConfiguration");
    assert!(
        failed["message"].as_str().unwrap().contains("has no key token"),
        "{failed}"
    );
    assert!(!failed.to_string().contains("t0k-value-9"), "{failed}");
    for _ in 0..5 {
        assert!(!validate(&mut client, "team-a", "backend").await.valid);
    }
    assert_eq!(status_patches(&w.api), 2);

    // A data call whose connect fails the same way records the same state: no write.
    let error = get(
        &mut client,
        request("SecretStore", "team-a", "backend", "team-a", "credential"),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code, tonic::Code::FailedPrecondition);
    assert!(error.message.contains("has no key token"), "{}", error.message);
    assert!(!error.message.contains("t0k-value-9"), "{}", error.message);
    assert!(!validate(&mut client, "team-a", "backend").await.valid);
    assert_eq!(
        status_patches(&w.api),
        2,
        "Validate and a data call failing alike rewrote the status"
    );

    // Fixed again: True, with a new lastTransitionTime.
    w.api.apply("secrets", secret("team-a", "creds", "token", "t")).unwrap();
    assert!(
        wait_for_async(WAIT, || {
            let mut client = client.clone();
            async move { validate(&mut client, "team-a", "backend").await.valid }
        })
        .await
    );
    assert!(
        wait_for(WAIT, || ready_condition(&w.api, "team-a", "backend")
            .is_some_and(|c| c["status"] == "True"))
        .await
    );
    assert_eq!(status_patches(&w.api), 3);
    w.provider.stop().await.unwrap();
}

#[tokio::test]
async fn a_refused_status_write_is_retried_until_allowed() {
    let mut w = world(Echo::default(), |api| {
        api.apply("echos", echo_object("team-a", "backend", json!({"values": {"k": "v"}})))
            .unwrap();
        api.forbid("echos/status", "team-a").unwrap();
    })
    .await;
    assert!(validate(&mut w.client, "team-a", "backend").await.valid);
    // Refused (403) and retried with backoff: several attempts, nothing written.
    assert!(
        wait_for(WAIT, || status_patches(&w.api) >= 3).await,
        "the write was not retried"
    );
    assert!(ready_condition(&w.api, "team-a", "backend").is_none());
    w.api.allow("echos/status", "team-a").unwrap();
    assert!(
        wait_for(WAIT, || ready_condition(&w.api, "team-a", "backend")
            .is_some_and(|c| c["status"] == "True"))
        .await
    );
    // Written: the retries stop.
    let settled = status_patches(&w.api);
    assert!(validate(&mut w.client, "team-a", "backend").await.valid);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status_patches(&w.api), settled);
    w.provider.stop().await.unwrap();
}

#[tokio::test]
async fn rbac_refusals_name_the_missing_permission_and_readiness_waits_for_the_caches() {
    let api = FakeApiServer::start().await.unwrap();
    api.forbid("echos", "").unwrap();
    api.apply(
        "echos",
        echo_object(
            "team-a",
            "backend",
            json!({"credentials": {"name": "creds", "key": "token"}}),
        ),
    )
    .unwrap();
    api.apply("secrets", secret("team-a", "creds", "token", "hunter2"))
        .unwrap();
    let provider_def = provider(Echo::default());
    let kinds = provider_def.watched_kinds().unwrap();
    let source = KubeSource::start(api.client().unwrap(), &kinds, fast_settings(WatchScope::AllNamespaces));
    let running = TestProvider::start_with_source(provider_def, Arc::clone(&source) as Arc<dyn Source>)
        .await
        .unwrap();
    let mut client = running.client().await.unwrap();

    // The kind cannot be listed: not ready (HTTP and gRPC health), and calls say why.
    let (status, _) = http_get(running.http_addr(), "/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(grpc_health(&client).await, ServingStatus::NotServing as i32);
    let call = || request("SecretStore", "team-a", "backend", "team-a", "credential");
    let mut probe = client.clone();
    assert!(
        wait_for_async(WAIT, || {
            let mut probe = probe.clone();
            async move { matches!(get(&mut probe, call()).await, Err(s) if s.code == tonic::Code::PermissionDenied) }
        })
        .await
    );
    let error = get(&mut probe, call()).await.unwrap_err();
    assert!(error.message.contains("RBAC"), "{}", error.message);
    assert!(error.message.contains("list and watch"), "{}", error.message);
    assert!(error.message.contains("echos"), "{}", error.message);

    // Granted: ready, and served.
    api.allow("echos", "").unwrap();
    assert!(wait_for(WAIT, || source.is_ready()).await);
    let (status, _) = http_get(running.http_addr(), "/readyz").await;
    assert_eq!(status, 200);
    let health = client.clone();
    assert!(
        wait_for_async(WAIT, || {
            let health = health.clone();
            async move { grpc_health(&health).await == ServingStatus::Serving as i32 }
        })
        .await,
        "gRPC health never turned SERVING"
    );
    assert_eq!(get(&mut client, call()).await, Ok("hunter2".into()));

    // Secrets of another namespace forbidden: a clear error, no value in it.
    api.apply(
        "echos",
        echo_object(
            "team-b",
            "backend",
            json!({"credentials": {"name": "creds", "key": "token"}}),
        ),
    )
    .unwrap();
    api.apply("secrets", secret("team-b", "creds", "token", "hunter3"))
        .unwrap();
    api.forbid("secrets", "team-b").unwrap();
    let team_b = || request("SecretStore", "team-b", "backend", "team-b", "credential");
    assert!(
        wait_for_async(WAIT, || {
            let mut probe = probe.clone();
            async move { matches!(get(&mut probe, team_b()).await, Err(s) if s.code == tonic::Code::PermissionDenied) }
        })
        .await
    );
    let error = get(&mut client, team_b()).await.unwrap_err();
    assert!(error.message.contains("Secret team-b/creds"), "{}", error.message);
    assert!(error.message.contains("RBAC"), "{}", error.message);
    assert!(!error.message.contains("hunter"), "{}", error.message);
    // Granted later: the same watch recovers, no restart needed.
    api.allow("secrets", "team-b").unwrap();
    assert!(
        wait_for_async(WAIT, || {
            let mut probe = probe.clone();
            async move { get(&mut probe, team_b()).await == Ok("hunter3".into()) }
        })
        .await
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn an_expired_watch_relists_without_dropping_calls() {
    let mut w = world(Echo::default(), |api| {
        api.apply(
            "echos",
            echo_object("team-a", "backend", json!({"values": {"hello": "world"}})),
        )
        .unwrap();
    })
    .await;
    let hello = || request("SecretStore", "team-a", "backend", "team-a", "hello");
    assert_eq!(get(&mut w.client, hello()).await, Ok("world".into()));
    let lists_before = w
        .api
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/echos") && !r.watch)
        .count();

    let caller = {
        let client = w.client.clone();
        tokio::spawn(async move {
            let mut failures = 0;
            for _ in 0..200 {
                let mut client = client.clone();
                if get(&mut client, hello()).await != Ok("world".into()) {
                    failures += 1;
                }
            }
            failures
        })
    };
    w.api.expire_watches().unwrap();
    assert_eq!(caller.await.unwrap(), 0, "calls failed while the watch relisted");
    assert!(
        wait_for(WAIT, || {
            w.api
                .requests()
                .iter()
                .filter(|r| r.path.ends_with("/echos") && !r.watch)
                .count()
                > lists_before
        })
        .await,
        "the watcher did not relist after 410 Gone"
    );
    // Updates flow again after the relist.
    w.api
        .apply(
            "echos",
            echo_object("team-a", "backend", json!({"values": {"hello": "again"}})),
        )
        .unwrap();
    let client = w.client.clone();
    assert!(
        wait_for_async(WAIT, || {
            let mut client = client.clone();
            async move { get(&mut client, hello()).await == Ok("again".into()) }
        })
        .await
    );
    w.provider.stop().await.unwrap();
}

#[tokio::test]
async fn the_api_server_going_away_keeps_cached_objects_serving_and_status_waits() {
    let mut w = world(Echo::default(), |api| {
        api.apply(
            "echos",
            echo_object(
                "team-a",
                "backend",
                json!({"values": {"hello": "world"}, "credentials": {"name": "creds", "key": "token"}}),
            ),
        )
        .unwrap();
        api.apply("secrets", secret("team-a", "creds", "token", "t")).unwrap();
    })
    .await;
    let hello = || request("SecretStore", "team-a", "backend", "team-a", "hello");
    assert_eq!(get(&mut w.client, hello()).await, Ok("world".into()));

    w.api.stop().await.unwrap();
    // Served from the caches while the API server is away; Validate still answers,
    // and its status write waits.
    for _ in 0..20 {
        assert_eq!(get(&mut w.client, hello()).await, Ok("world".into()));
    }
    assert!(validate(&mut w.client, "team-a", "backend").await.valid);
    assert!(ready_condition(&w.api, "team-a", "backend").is_none());
    let (status, _) = http_get(w.provider.http_addr(), "/readyz").await;
    assert_eq!(status, 200, "a synced cache stays ready while the API server is away");

    w.api.resume().await.unwrap();
    assert!(
        wait_for(WAIT, || ready_condition(&w.api, "team-a", "backend")
            .is_some_and(|c| c["status"] == "True"))
        .await,
        "the status write was not retried after the API server came back"
    );
    w.api
        .apply(
            "echos",
            echo_object(
                "team-a",
                "backend",
                json!({"values": {"hello": "back"}, "credentials": {"name": "creds", "key": "token"}}),
            ),
        )
        .unwrap();
    let client = w.client.clone();
    assert!(
        wait_for_async(WAIT, || {
            let mut client = client.clone();
            async move { get(&mut client, hello()).await == Ok("back".into()) }
        })
        .await,
        "updates not picked up after the API server came back"
    );
    w.provider.stop().await.unwrap();
}

#[tokio::test]
async fn a_namespace_list_watches_only_those_namespaces() {
    let mut w = world_with(
        Echo::default(),
        fast_settings(WatchScope::from_list(&["team-a".into(), " ".into()])),
        |api| {
            api.apply("echos", echo_object("team-a", "backend", json!({"values": {"k": "a"}})))
                .unwrap();
            api.apply("echos", echo_object("team-b", "backend", json!({"values": {"k": "b"}})))
                .unwrap();
        },
    )
    .await;
    assert_eq!(
        get(
            &mut w.client,
            request("SecretStore", "team-a", "backend", "team-a", "k")
        )
        .await,
        Ok("a".into())
    );
    let error = get(
        &mut w.client,
        request("SecretStore", "team-b", "backend", "team-b", "k"),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code, tonic::Code::FailedPrecondition);
    assert!(error.message.contains("not watched"), "{}", error.message);
    assert!(error.message.contains("team-a"), "{}", error.message);
    let echo_paths: Vec<String> = w
        .api
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/echos"))
        .map(|r| r.path)
        .collect();
    assert!(!echo_paths.is_empty());
    assert!(
        echo_paths
            .iter()
            .all(|p| p == "/apis/test.eso-gen.dev/v1/namespaces/team-a/echos"),
        "{echo_paths:?}"
    );
    w.provider.stop().await.unwrap();
}

#[tokio::test]
async fn the_number_of_watched_secrets_is_bounded() {
    let settings = KubeSettings {
        max_secret_watches: 2,
        ..fast_settings(WatchScope::AllNamespaces)
    };
    let mut w = world_with(Echo::default(), settings, |api| {
        for i in 0..4 {
            api.apply(
                "echos",
                echo_object(
                    "team-a",
                    &format!("backend-{i}"),
                    json!({"credentials": {"name": format!("creds-{i}"), "key": "token"}}),
                ),
            )
            .unwrap();
            api.apply(
                "secrets",
                secret("team-a", &format!("creds-{i}"), "token", &format!("t{i}")),
            )
            .unwrap();
        }
    })
    .await;
    for round in 0..2 {
        for i in 0..4 {
            assert_eq!(
                get(
                    &mut w.client,
                    request("SecretStore", "team-a", &format!("backend-{i}"), "team-a", "credential")
                )
                .await,
                Ok(format!("t{i}")),
                "round {round}"
            );
            assert!(
                w.source.watched_secrets() <= 2,
                "{} watched",
                w.source.watched_secrets()
            );
        }
    }
    w.provider.stop().await.unwrap();
}

#[tokio::test]
async fn unused_secrets_stop_being_watched() {
    let settings = KubeSettings {
        secret_idle_ttl: Duration::from_secs(1),
        ..fast_settings(WatchScope::AllNamespaces)
    };
    let echo = Echo::default();
    let connects = echo.counters.connects.clone();
    let provider_def = provider(echo);
    let api = FakeApiServer::start().await.unwrap();
    api.apply(
        "echos",
        echo_object(
            "team-a",
            "backend",
            json!({"credentials": {"name": "creds", "key": "token"}}),
        ),
    )
    .unwrap();
    api.apply("secrets", secret("team-a", "creds", "token", "t")).unwrap();
    let kinds = provider_def.watched_kinds().unwrap();
    let source = KubeSource::start(api.client().unwrap(), &kinds, settings);
    let running = TestProvider::start_with_source(provider_def, Arc::clone(&source) as Arc<dyn Source>)
        .await
        .unwrap();
    assert!(wait_for(WAIT, || source.is_ready()).await);
    let mut client = running.client().await.unwrap();
    let call = || request("SecretStore", "team-a", "backend", "team-a", "credential");
    assert_eq!(get(&mut client, call()).await, Ok("t".into()));
    assert_eq!(source.watched_secrets(), 1);
    assert!(
        wait_for(WAIT, || source.watched_secrets() == 0).await,
        "the idle Secret is still watched"
    );
    // Used again: watched again, and the client rebuilt (the Secret it read was
    // no longer known to be current).
    assert_eq!(get(&mut client, call()).await, Ok("t".into()));
    assert_eq!(source.watched_secrets(), 1);
    assert_eq!(connects.load(Ordering::SeqCst), 2);
    running.stop().await.unwrap();
}

/// The client cache is bounded and drops idle clients (files source: the cache
/// does not depend on where objects come from).
#[tokio::test]
async fn the_client_cache_is_bounded_and_drops_idle_clients() {
    let mut manifests = String::new();
    for i in 0..6 {
        manifests.push_str(&common::echo_object("team-a", &format!("backend-{i}"), "{k: v}"));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("objects.yaml"), &manifests).unwrap();
    let call = |i: usize| request("SecretStore", "team-a", &format!("backend-{i}"), "team-a", "k");
    // `policy_first`: `.client_cache(…)` before the kinds are registered, which must
    // apply as well as after.
    let start = |policy: ClientCachePolicy, policy_first: bool| {
        let echo = Echo::default();
        let connects = echo.counters.connects.clone();
        let source = Arc::new(FilesSource::load(dir.path()).unwrap());
        let provider_def = if policy_first {
            eso_runtime::Provider::new(eso_runtime::ProviderInfo {
                name: "runtime-tests",
                version: "0",
            })
            .client_cache(policy)
            .secret_store(echo)
            .secret_store(common::Other)
        } else {
            provider(echo).client_cache(policy)
        };
        async move {
            let running = TestProvider::start_with_source(provider_def, source).await.unwrap();
            let client = running.client().await.unwrap();
            (running, client, connects)
        }
    };

    // Bounded: at most 3 clients, the least recently used goes first; whether the
    // policy was set before or after the kinds.
    for policy_first in [false, true] {
        let (running, mut client, connects) = start(
            ClientCachePolicy {
                idle_ttl: Duration::from_secs(600),
                max_entries: 3,
            },
            policy_first,
        )
        .await;
        for i in 0..3 {
            assert_eq!(get(&mut client, call(i)).await, Ok("v".into()));
        }
        for i in 0..3 {
            get(&mut client, call(i)).await.unwrap();
        }
        assert_eq!(connects.load(Ordering::SeqCst), 3, "all three are cached");
        get(&mut client, call(3)).await.unwrap();
        assert_eq!(connects.load(Ordering::SeqCst), 4);
        get(&mut client, call(2)).await.unwrap();
        assert_eq!(
            connects.load(Ordering::SeqCst),
            4,
            "backend-2 was evicted instead of backend-0"
        );
        get(&mut client, call(0)).await.unwrap();
        assert_eq!(
            connects.load(Ordering::SeqCst),
            5,
            "backend-0 was not evicted (policy first: {policy_first})"
        );
        running.stop().await.unwrap();
    }

    // Idle: a client unused for longer than the TTL is dropped and rebuilt.
    let (running, mut client, connects) = start(
        ClientCachePolicy {
            idle_ttl: Duration::from_millis(200),
            max_entries: 16,
        },
        true,
    )
    .await;
    get(&mut client, call(0)).await.unwrap();
    assert_eq!(connects.load(Ordering::SeqCst), 1);
    // The passing of time is the condition under test here.
    tokio::time::sleep(Duration::from_millis(600)).await;
    get(&mut client, call(0)).await.unwrap();
    assert_eq!(connects.load(Ordering::SeqCst), 2, "an idle client was kept");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_secret_name_no_object_can_have_never_reaches_the_api_server() {
    let mut w = world(Echo::default(), |api| {
        api.apply(
            "echos",
            echo_object(
                "team-a",
                "backend",
                json!({"credentials": {"name": "creds,metadata.namespace=kube-system", "key": "token"}}),
            ),
        )
        .unwrap();
    })
    .await;
    let failure = get(
        &mut w.client,
        request("SecretStore", "team-a", "backend", "team-a", "credential"),
    )
    .await
    .unwrap_err();
    assert_eq!(failure.code, tonic::Code::FailedPrecondition, "{}", failure.message);
    assert!(failure.message.contains("cannot exist"), "{}", failure.message);
    assert!(
        w.api.requests().iter().all(|r| !r.path.ends_with("/secrets")),
        "{:?}",
        w.api.requests()
    );
    assert_eq!(w.source.watched_secrets(), 0);
    w.provider.stop().await.unwrap();
}
