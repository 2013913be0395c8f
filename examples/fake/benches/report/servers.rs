//! The servers under test, in this process: the Fake provider on the full runtime
//! (mutual TLS, dispatch, scope, client cache, metrics) reading a manifests folder
//! or the in-process Kubernetes API through watch caches, and a bare tonic server
//! with tonic's own rustls mTLS that returns a fixed value of the same size. Each
//! is reached by `ProviderClient` over one loopback connection, as ESO core does.

use eso_runtime::client::{ClientTls, ProviderClient};
use eso_runtime::proto::provider::v1 as wire;
use eso_runtime::proto::provider::v1::secret_store_provider_server::{SecretStoreProvider, SecretStoreProviderServer};
use eso_runtime::source::kube::{KubeSettings, KubeSource};
use eso_runtime::testing::kube_api::FakeApiServer;
use eso_runtime::testing::{TestProvider, provider_ref};
use eso_runtime::tls::issue::CertificateSet;
use eso_runtime::{Gvk, ProviderSpec};
use std::time::{Duration, Instant};
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

/// The value every server returns: 32 bytes, about the size of a generated password or token.
pub const VALUE: &str = "b3nchm4rk-v4lue-0123456789abcdef";

/// The bare server: tonic, tonic's rustls mTLS, a fixed value, nothing else.
struct Bare;

#[tonic::async_trait]
impl SecretStoreProvider for Bare {
    async fn get_secret(
        &self,
        _request: Request<wire::GetSecretRequest>,
    ) -> Result<Response<wire::GetSecretResponse>, Status> {
        Ok(Response::new(wire::GetSecretResponse {
            value: VALUE.as_bytes().to_vec(),
        }))
    }
    async fn get_secret_map(
        &self,
        _request: Request<wire::GetSecretMapRequest>,
    ) -> Result<Response<wire::GetSecretMapResponse>, Status> {
        Err(Status::unimplemented("bare server"))
    }
    async fn push_secret(
        &self,
        _request: Request<wire::PushSecretRequest>,
    ) -> Result<Response<wire::PushSecretResponse>, Status> {
        Err(Status::unimplemented("bare server"))
    }
    async fn delete_secret(
        &self,
        _request: Request<wire::DeleteSecretRequest>,
    ) -> Result<Response<wire::DeleteSecretResponse>, Status> {
        Err(Status::unimplemented("bare server"))
    }
    async fn secret_exists(
        &self,
        _request: Request<wire::SecretExistsRequest>,
    ) -> Result<Response<wire::SecretExistsResponse>, Status> {
        Err(Status::unimplemented("bare server"))
    }
    async fn get_all_secrets(
        &self,
        _request: Request<wire::GetAllSecretsRequest>,
    ) -> Result<Response<wire::GetAllSecretsResponse>, Status> {
        Err(Status::unimplemented("bare server"))
    }
    async fn validate(
        &self,
        _request: Request<wire::ValidateRequest>,
    ) -> Result<Response<wire::ValidateResponse>, Status> {
        Err(Status::unimplemented("bare server"))
    }
    async fn capabilities(
        &self,
        _request: Request<wire::CapabilitiesRequest>,
    ) -> Result<Response<wire::CapabilitiesResponse>, Status> {
        Err(Status::unimplemented("bare server"))
    }
}

/// Starts the bare server on a loopback port; returns its address, its client
/// certificates and a sender that stops it.
async fn start_bare() -> Result<(String, ClientTls, tokio::sync::oneshot::Sender<()>), String> {
    let certificates = CertificateSet::generate(&["localhost".into()]).map_err(|e| format!("certificates: {e}"))?;
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(
            &certificates.server.cert_pem,
            &certificates.server.key_pem,
        ))
        .client_ca_root(Certificate::from_pem(certificates.authority.cert_pem()));
    let incoming = TcpIncoming::bind(([127, 0, 0, 1], 0).into())
        .map_err(|e| format!("bare server bind: {e}"))?
        .with_nodelay(Some(true));
    let port = incoming
        .local_addr()
        .map_err(|e| format!("bare server address: {e}"))?
        .port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = Server::builder()
        .tls_config(tls)
        .map_err(|e| format!("bare server TLS: {e}"))?
        .add_service(SecretStoreProviderServer::new(Bare));
    tokio::spawn(async move {
        if let Err(error) = router
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            })
            .await
        {
            eprintln!("bare server failed: {error}");
        }
    });
    let client_tls = ClientTls {
        ca_pem: certificates.authority.cert_pem().as_bytes().to_vec(),
        cert_pem: certificates.client.cert_pem.as_bytes().to_vec(),
        key_pem: certificates.client.key_pem.as_bytes().to_vec(),
    };
    Ok((format!("localhost:{port}"), client_tls, stop))
}

/// A `Fake` object `default/<name>` with the given `spec` lines (indented by two).
pub fn fake_object(name: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: provider.external-secrets.io/v2alpha1\nkind: Fake\nmetadata: {{name: {name}, namespace: default}}\nspec:\n{spec}\n"
    )
}

/// The object every GetSecret reads: `default/bench`, key `bench/value`.
pub fn bench_manifest() -> String {
    fake_object(
        "bench",
        &format!("  data:\n    - key: bench/value\n      value: {VALUE}"),
    )
}

/// A reference to the `Fake` object `default/<name>` through a `SecretStore`.
pub fn fake_ref(name: &str) -> wire::ProviderReference {
    let gvk: Gvk = eso_example_fake::FakeSpec::GVK;
    provider_ref(&gvk, "default", name)
}

/// GetSecret of `bench/value` from `default/bench`.
pub fn get_request() -> wire::GetSecretRequest {
    wire::GetSecretRequest {
        remote_ref: Some(wire::ExternalSecretDataRemoteRef {
            key: "bench/value".into(),
            ..Default::default()
        }),
        provider_ref: Some(fake_ref("bench")),
        source_namespace: "default".into(),
    }
}

/// One GetSecret; a failure or a wrong value is an error.
pub async fn call(client: &mut ProviderClient, request: &wire::GetSecretRequest, name: &str) -> Result<(), String> {
    let response = client
        .store
        .get_secret(request.clone())
        .await
        .map_err(|s| format!("{name}: GetSecret failed: {:?}: {}", s.code(), s.message()))?;
    if response.into_inner().value != VALUE.as_bytes() {
        return Err(format!("{name}: GetSecret returned a different value"));
    }
    Ok(())
}

/// The Fake provider, as its binary builds it.
pub fn fake_provider() -> eso_runtime::Provider {
    eso_example_fake::provider(eso_runtime::ProviderInfo {
        name: "fake",
        version: "bench",
    })
}

/// The `default/bench` object as the Kubernetes API serves it.
fn bench_object_json() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "provider.external-secrets.io/v2alpha1",
        "kind": "Fake",
        "metadata": {"name": "bench", "namespace": "default"},
        "spec": {"data": [{"key": "bench/value", "value": VALUE}]},
    })
}

/// A server the client can call.
pub struct Target {
    /// Which server, as the report names it.
    pub name: &'static str,
    /// Its connection.
    pub client: ProviderClient,
    /// The request every call sends.
    pub request: wire::GetSecretRequest,
}

/// Which servers to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The runtime on a manifests folder.
    Files,
    /// The runtime on the in-process Kubernetes API server.
    Kube,
    /// Bare tonic.
    Bare,
}

impl Which {
    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Which::Files => "runtime (Fake, files)",
            Which::Kube => "runtime (Fake, Kubernetes)",
            Which::Bare => "bare tonic",
        }
    }
}

/// The servers started, to stop at the end.
pub struct Servers {
    providers: Vec<TestProvider>,
    api: Option<FakeApiServer>,
    api_requests: usize,
    stop_bare: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Starts the servers asked for, connects one client to each and warms each up
/// with a call (waiting for the Kubernetes source to sync). Targets come in the
/// order asked.
pub async fn start(which: &[Which]) -> Result<(Servers, Vec<Target>), String> {
    let mut servers = Servers {
        providers: Vec::new(),
        api: None,
        api_requests: 0,
        stop_bare: None,
    };
    let mut targets = Vec::new();
    for &server in which {
        let client = match server {
            Which::Files => {
                let running = TestProvider::start(fake_provider(), &bench_manifest())
                    .await
                    .map_err(|e| format!("starting the Fake provider: {e}"))?;
                let client = running.client().await.map_err(|e| format!("connecting: {e}"))?;
                servers.providers.push(running);
                client
            }
            Which::Kube => {
                let api = FakeApiServer::start()
                    .await
                    .map_err(|e| format!("starting the Kubernetes API server: {e}"))?;
                api.apply("fakes", bench_object_json())
                    .map_err(|e| format!("creating the Fake object: {e}"))?;
                let provider = fake_provider();
                let kinds = provider.watched_kinds().map_err(|e| format!("kinds: {e}"))?;
                let kube = api.client().map_err(|e| format!("Kubernetes client: {e}"))?;
                let source = KubeSource::start(kube, &kinds, KubeSettings::default());
                let running = TestProvider::start_with_source(provider, source)
                    .await
                    .map_err(|e| format!("starting the Fake provider on the Kubernetes source: {e}"))?;
                let client = running.client().await.map_err(|e| format!("connecting: {e}"))?;
                servers.providers.push(running);
                servers.api = Some(api);
                client
            }
            Which::Bare => {
                let (address, tls, stop) = start_bare().await?;
                servers.stop_bare = Some(stop);
                ProviderClient::connect(&address, Some(&tls))
                    .await
                    .map_err(|e| format!("connecting to the bare server: {e}"))?
            }
        };
        let mut target = Target {
            name: server.name(),
            client,
            request: get_request(),
        };
        // The Kubernetes source answers once its cache has synced.
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Err(error) = call(&mut target.client, &target.request, target.name).await {
            if Instant::now() > deadline {
                return Err(format!("{} never served the Fake object: {error}", target.name));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        targets.push(target);
    }
    if let Some(api) = &servers.api {
        servers.api_requests = api.request_count();
    }
    Ok((servers, targets))
}

impl Servers {
    /// Stops everything; fails if the Kubernetes source made an API request since
    /// it synced (the measured calls must be answered from memory).
    pub async fn stop(self) -> Result<(), String> {
        if let Some(api) = &self.api
            && api.request_count() != self.api_requests
        {
            return Err(format!(
                "the Kubernetes source made {} API requests while measured",
                api.request_count() - self.api_requests
            ));
        }
        if let Some(stop) = self.stop_bare {
            let _ = stop.send(());
        }
        for running in self.providers {
            running
                .stop()
                .await
                .map_err(|e| format!("stopping the Fake provider: {e}"))?;
        }
        Ok(())
    }
}

pub use eso_runtime::testing::code_name;
