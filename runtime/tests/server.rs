//! The server over real loopback gRPC and real mTLS: dispatch across kinds, the
//! client cache, scopes end to end, deadlines and cancellation, graceful shutdown,
//! health, reflection, metrics and keepalive.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use eso_runtime::client::{ProviderClient, with_deadline};
use eso_runtime::proto::provider::v1 as wire;
use eso_runtime::testing::{TestProvider, get};
use std::time::Duration;
use tonic::Code;

const SECRETS: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: team-a}\nstringData: {token: team-a-token}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: providers}\nstringData: {token: providers-token}\n---\n";

async fn start(echo: Echo, manifests: &str) -> TestProvider {
    TestProvider::start(provider(echo), manifests)
        .await
        .expect("provider starts")
}

#[tokio::test]
async fn dispatches_to_each_registered_kind_and_names_them_for_unknown_kinds() {
    let manifests = format!(
        "{}apiVersion: test.eso-gen.dev/v1\nkind: Other\nmetadata: {{name: o, namespace: default}}\nspec: {{}}\n",
        echo_object("default", "e", "{a: from-echo}")
    );
    let running = start(Echo::default(), &manifests).await;
    let mut client = running.client().await.unwrap();
    assert_eq!(
        get(&mut client, get_secret_request(&ECHO, "default", "e", "a"))
            .await
            .unwrap(),
        "from-echo"
    );
    assert_eq!(
        get(&mut client, get_secret_request(&OTHER, "default", "o", "a"))
            .await
            .unwrap(),
        "other:a"
    );

    let mut unknown = get_secret_request(&ECHO, "default", "e", "a");
    if let Some(r) = unknown.provider_ref.as_mut() {
        r.kind = "Vault".into();
    }
    let status = get(&mut client, unknown).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(
        status.message().contains("Echo (test.eso-gen.dev/v1)"),
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("Other (test.eso-gen.dev/v1)"),
        "{}",
        status.message()
    );
    assert!(status.message().contains("Vault"), "{}", status.message());

    // A method the store does not implement.
    let status = client
        .store
        .get_secret_map(wire::GetSecretMapRequest {
            remote_ref: Some(wire::ExternalSecretDataRemoteRef {
                key: "a".into(),
                ..Default::default()
            }),
            provider_ref: Some(eso_runtime::testing::provider_ref(&ECHO, "default", "e")),
            source_namespace: "default".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(status.message().contains("GetSecretMap"), "{}", status.message());
    // Echo implements only reads: read-only is the default.
    let capabilities = client
        .store
        .capabilities(wire::CapabilitiesRequest {
            provider_ref: Some(eso_runtime::testing::provider_ref(&ECHO, "default", "e")),
            source_namespace: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        capabilities.capabilities,
        wire::SecretStoreCapabilities::ReadOnly as i32
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn the_backend_client_is_built_once_and_rebuilt_when_the_object_or_its_secret_changes() {
    let echo = Echo::default();
    let manifests = format!(
        "{SECRETS}apiVersion: test.eso-gen.dev/v1\nkind: Echo\nmetadata: {{name: e, namespace: team-a}}\nspec: {{values: {{a: one}}, credentials: {{name: creds, key: token}}}}\n"
    );
    let running = start(echo.clone(), &manifests).await;
    let client = running.client().await.unwrap();

    // Concurrent first calls connect once.
    let calls = (0..16).map(|_| {
        let mut client = client.clone();
        async move { get(&mut client, get_secret_request(&ECHO, "team-a", "e", "a")).await }
    });
    for result in futures::future::join_all(calls).await {
        assert_eq!(result.unwrap(), "one");
    }
    assert_eq!(Counters::get(&echo.counters.connects), 1);
    for _ in 0..50 {
        get(&mut client.clone(), get_secret_request(&ECHO, "team-a", "e", "a"))
            .await
            .unwrap();
    }
    assert_eq!(
        Counters::get(&echo.counters.connects),
        1,
        "steady-state calls reuse the client"
    );

    // The object changes: rebuilt.
    running
        .replace_manifests(&manifests.replace("a: one", "a: two"))
        .unwrap();
    assert_eq!(
        get(&mut client.clone(), get_secret_request(&ECHO, "team-a", "e", "a"))
            .await
            .unwrap(),
        "two"
    );
    assert_eq!(Counters::get(&echo.counters.connects), 2);

    // A Secret it read changes: rebuilt.
    let changed = manifests
        .replace("a: one", "a: two")
        .replace("team-a-token", "rotated-token");
    running.replace_manifests(&changed).unwrap();
    assert_eq!(
        get(
            &mut client.clone(),
            get_secret_request(&ECHO, "team-a", "e", "credential")
        )
        .await
        .unwrap(),
        "rotated-token"
    );
    assert_eq!(Counters::get(&echo.counters.connects), 3);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn credentials_are_read_only_where_the_scope_allows() {
    let object = |namespace: &str, name: &str, selector: &str, annotations: &str| {
        format!(
            "apiVersion: test.eso-gen.dev/v1\nkind: Echo\nmetadata: {{name: {name}, namespace: {namespace}, annotations: {{{annotations}}}}}\nspec: {{credentials: {selector}}}\n---\n"
        )
    };
    let manifests = [
        SECRETS.to_string(),
        object("team-a", "own", "{name: creds, key: token}", ""),
        object(
            "team-a",
            "elsewhere",
            "{name: creds, key: token, namespace: providers}",
            "",
        ),
        object("providers", "cluster", "{name: creds, key: token}", ""),
        object(
            "providers",
            "cluster-explicit",
            "{name: creds, key: token, namespace: team-a}",
            "",
        ),
        object(
            "providers",
            "manifest",
            "{name: creds, key: token}",
            "external-secrets.io/authentication-scope: ManifestNamespace",
        ),
    ]
    .concat();
    let running = start(Echo::default(), &manifests).await;
    let mut client = running.client().await.unwrap();
    let call = |store_kind: &str, namespace: &str, name: &str, source: &str| {
        let mut request = get_secret_request(&ECHO, namespace, name, "credential");
        request.source_namespace = source.into();
        if let Some(r) = request.provider_ref.as_mut() {
            r.store_ref_kind = store_kind.into();
        }
        request
    };
    // Namespaced store: own namespace only.
    assert_eq!(
        get(&mut client, call("SecretStore", "team-a", "own", "team-a"))
            .await
            .unwrap(),
        "team-a-token"
    );
    let status = get(&mut client, call("SecretStore", "team-a", "elsewhere", "team-a"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("providers"), "{}", status.message());
    // A namespaced store may not reach a provider object in another namespace.
    let status = get(&mut client, call("SecretStore", "providers", "cluster", "team-a"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    // Cluster store, ProviderNamespace (default): the object's namespace, or the selector's.
    assert_eq!(
        get(
            &mut client,
            call("ClusterSecretStore", "providers", "cluster", "team-a")
        )
        .await
        .unwrap(),
        "providers-token"
    );
    assert_eq!(
        get(
            &mut client,
            call("ClusterSecretStore", "providers", "cluster-explicit", "team-b")
        )
        .await
        .unwrap(),
        "team-a-token"
    );
    // Cluster store, ManifestNamespace: the ExternalSecret's namespace.
    assert_eq!(
        get(
            &mut client,
            call("ClusterSecretStore", "providers", "manifest", "team-a")
        )
        .await
        .unwrap(),
        "team-a-token"
    );
    // …and a namespace without that Secret gets a config error, never NOT_FOUND.
    let status = get(
        &mut client,
        call("ClusterSecretStore", "providers", "manifest", "team-b"),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().contains("Secret team-b/creds not found"),
        "{}",
        status.message()
    );
    // Validate of a ManifestNamespace cluster store without source namespace: in-band.
    let validation = client
        .store
        .validate(wire::ValidateRequest {
            provider_ref: Some(wire::ProviderReference {
                store_ref_kind: "ClusterSecretStore".into(),
                ..eso_runtime::testing::provider_ref(&ECHO, "providers", "manifest")
            }),
            source_namespace: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!validation.valid);
    assert!(validation.error.contains("ManifestNamespace"), "{}", validation.error);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn the_callers_deadline_cancels_the_providers_work() {
    let echo = Echo::default();
    let running = start(echo.clone(), "apiVersion: test.eso-gen.dev/v1\nkind: Echo\nmetadata: {name: slow, namespace: default}\nspec: {values: {a: x}, delayMs: 5000}\n").await;
    let mut client = running.client().await.unwrap();
    let started = std::time::Instant::now();
    let status = client
        .store
        .get_secret(with_deadline(
            get_secret_request(&ECHO, "default", "slow", "a"),
            Duration::from_millis(300),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the call waited for the provider"
    );
    assert!(
        wait_for(Duration::from_secs(3), || Counters::get(&echo.counters.dropped) == 1).await,
        "the provider's future was not dropped"
    );
    assert_eq!(Counters::get(&echo.counters.finished), 0);
    let (_, metrics) = http_get(running.http_addr(), "/metrics").await;
    assert!(
        metrics.contains(
            "grpc_server_requests_total{method=\"/provider.v1.SecretStoreProvider/GetSecret\",status=\"error\",code=\"Cancelled\"} 1"
        ),
        "{metrics}"
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_caller_that_goes_away_stops_the_providers_work() {
    let echo = Echo::default();
    let running = start(echo.clone(), "apiVersion: test.eso-gen.dev/v1\nkind: Echo\nmetadata: {name: slow, namespace: default}\nspec: {values: {a: x}, delayMs: 5000}\n").await;
    let client = running.client().await.unwrap();
    let call = tokio::spawn(async move {
        let mut client = client;
        let _ = get(&mut client, get_secret_request(&ECHO, "default", "slow", "a")).await;
    });
    assert!(wait_for(Duration::from_secs(3), || Counters::get(&echo.counters.started) == 1).await);
    call.abort();
    assert!(
        wait_for(Duration::from_secs(3), || Counters::get(&echo.counters.dropped) == 1).await,
        "the provider kept working for a caller that left"
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_lets_in_flight_calls_finish_and_refuses_new_ones() {
    let echo = Echo::default();
    let running = start(echo.clone(), "apiVersion: test.eso-gen.dev/v1\nkind: Echo\nmetadata: {name: slow, namespace: default}\nspec: {values: {a: done}, delayMs: 700}\n").await;
    let client = running.client().await.unwrap();
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let mut client = client.clone();
            tokio::spawn(async move { get(&mut client, get_secret_request(&ECHO, "default", "slow", "a")).await })
        })
        .collect();
    assert!(wait_for(Duration::from_secs(3), || Counters::get(&echo.counters.started) == 4).await);
    let http = running.http_addr();
    running.running().shutdown();
    // While draining: not ready, and health says NOT_SERVING to anyone still connected.
    assert!(
        wait_for_async(Duration::from_secs(2), || async move {
            http_get(http, "/readyz").await.0 == 503
        })
        .await,
        "/readyz did not turn 503 during the drain"
    );
    let mut health = tonic_health::pb::health_client::HealthClient::new(client.channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
        .await
        .map(|r| r.into_inner().status);
    assert!(
        status.as_ref().map_or(true, |s| *s
            == tonic_health::pb::health_check_response::ServingStatus::NotServing as i32),
        "{status:?}"
    );
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), "done");
    }
    assert_eq!(Counters::get(&echo.counters.dropped), 0);
    running.stop().await.unwrap();
    assert!(
        tokio::net::TcpStream::connect(http).await.is_err(),
        "HTTP port still open after shutdown"
    );
}

#[tokio::test]
async fn health_reflection_metrics_and_probes() {
    let running = start(Echo::default(), &echo_object("default", "e", "{a: b}")).await;
    let client = running.client().await.unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(client.channel.clone());
    for service in ["", eso_runtime::proto::SECRET_STORE_SERVICE] {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service:?}"
        );
    }

    // No generator kinds registered: the generator service reports nothing.
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: eso_runtime::proto::GENERATOR_SERVICE.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    let mut reflection =
        tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(client.channel.clone());
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            tonic_reflection::pb::v1::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut responses = reflection
        .server_reflection_info(futures::stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().expect("a reflection response");
    let Some(tonic_reflection::pb::v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("unexpected reflection response");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        eso_runtime::proto::SECRET_STORE_SERVICE,
        eso_runtime::proto::GENERATOR_SERVICE,
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} not in {names:?}");
    }

    let mut store = client.clone();
    get(&mut store, get_secret_request(&ECHO, "default", "e", "a"))
        .await
        .unwrap();
    get(&mut store, get_secret_request(&ECHO, "default", "e", "a"))
        .await
        .unwrap();
    get(&mut store, get_secret_request(&ECHO, "default", "e", "missing"))
        .await
        .unwrap_err();
    let (status, metrics) = http_get(running.http_addr(), "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains(
            "grpc_server_requests_total{method=\"/provider.v1.SecretStoreProvider/GetSecret\",status=\"success\",code=\"OK\"} 2"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "grpc_server_requests_total{method=\"/provider.v1.SecretStoreProvider/GetSecret\",status=\"error\",code=\"NotFound\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "grpc_server_request_duration_seconds_count{method=\"/provider.v1.SecretStoreProvider/GetSecret\",status=\"success\",code=\"OK\"} 2"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("provider_certificate_hot_reload_total 0"), "{metrics}");
    assert!(
        metrics.contains("provider_certificate_hot_reload_failures_total 0"),
        "{metrics}"
    );
    assert_eq!(http_get(running.http_addr(), "/healthz").await.0, 200);
    assert_eq!(http_get(running.http_addr(), "/readyz").await.0, 200);
    assert_eq!(http_get(running.http_addr(), "/nope").await.0, 404);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn frequent_client_keepalive_pings_are_accepted() {
    let running = start(Echo::default(), &echo_object("default", "e", "{a: b}")).await;
    let tls = running.client_tls().unwrap();
    // Ping every 200 ms (ESO core pings every 10 s): far more often than any
    // sensible server policy allows; the connection must survive idle periods.
    let channel = tonic::transport::Endpoint::from_shared(format!("https://{}", running.address()))
        .unwrap()
        .http2_keep_alive_interval(Duration::from_millis(200))
        .keep_alive_timeout(Duration::from_secs(1))
        .keep_alive_while_idle(true)
        .tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(&tls.ca_pem))
                .identity(tonic::transport::Identity::from_pem(&tls.cert_pem, &tls.key_pem))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client =
        eso_runtime::proto::provider::v1::secret_store_provider_client::SecretStoreProviderClient::new(channel);
    for _ in 0..3 {
        client
            .get_secret(get_secret_request(&ECHO, "default", "e", "a"))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    client
        .get_secret(get_secret_request(&ECHO, "default", "e", "a"))
        .await
        .unwrap();
    running.stop().await.unwrap();
}

/// One object held in memory: the manifests folder refuses files over 4 MiB, and
/// a value larger than that is what this test needs.
struct OneObject(std::sync::Arc<eso_runtime::source::StoredObject>);

impl eso_runtime::source::Source for OneObject {
    fn object(
        &self,
        gvk: &eso_runtime::Gvk,
        namespace: &str,
        name: &str,
    ) -> eso_runtime::Result<Option<std::sync::Arc<eso_runtime::source::StoredObject>>> {
        let object = &self.0;
        Ok((gvk.api_version() == object.api_version
            && gvk.kind == object.kind
            && namespace == object.namespace
            && name == object.name)
            .then(|| std::sync::Arc::clone(object)))
    }

    fn secret(
        &self,
        _namespace: &str,
        _name: &str,
    ) -> eso_runtime::Result<Option<std::sync::Arc<eso_runtime::source::StoredSecret>>> {
        Ok(None)
    }

    fn is_ready(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn responses_larger_than_esos_4_mib_limit_fail_clearly() {
    let big = "x".repeat(eso_runtime::server::MAX_RESPONSE_BYTES + 1);
    let object = eso_runtime::source::StoredObject {
        api_version: ECHO.api_version(),
        kind: ECHO.kind.to_string(),
        name: "e".into(),
        namespace: "default".into(),
        uid: "e".into(),
        resource_version: "1".into(),
        generation: None,
        annotations: Default::default(),
        spec: serde_json::json!({"values": {"big": big, "small": "ok"}}),
        status: Default::default(),
    };
    let source = std::sync::Arc::new(OneObject(std::sync::Arc::new(object)));
    let running = TestProvider::start_with_source(provider(Echo::default()), source)
        .await
        .expect("provider starts");
    let mut client = running.client().await.unwrap();
    let status = get(&mut client, get_secret_request(&ECHO, "default", "e", "big"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(status.message().contains("too large"), "{}", status.message());
    assert!(!status.message().contains("xxxx"));
    assert_eq!(
        get(&mut client, get_secret_request(&ECHO, "default", "e", "small"))
            .await
            .unwrap(),
        "ok"
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn plaintext_serves_only_when_asked_for() {
    let manifests = tempfile::tempdir().unwrap();
    std::fs::write(
        manifests.path().join("o.yaml"),
        echo_object("default", "e", "{a: plain}"),
    )
    .unwrap();
    let source = std::sync::Arc::new(eso_runtime::source::files::FilesSource::load(manifests.path()).unwrap());
    let settings = eso_runtime::server::Settings {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        transport: eso_runtime::server::Transport::InsecurePlaintext,
        reload_interval: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(1),
        shutdown_delay: Duration::ZERO,
        limits: Default::default(),
    };
    let running = provider(Echo::default()).start(settings, source).await.unwrap();
    let address = format!("127.0.0.1:{}", running.grpc_addr().port());
    let mut client = ProviderClient::connect(&address, None).await.unwrap();
    assert_eq!(
        get(&mut client, get_secret_request(&ECHO, "default", "e", "a"))
            .await
            .unwrap(),
        "plain"
    );
    running.shutdown();
    running.wait().await.unwrap();
}
