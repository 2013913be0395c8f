//! An in-process harness: a provider on a loopback port with real mutual TLS and
//! fresh certificates, objects from manifests you give, and an ESO-core-like client;
//! wire requests as ESO core sends them ([`requests`]); checks that return a
//! [`TestResult`] instead of panicking ([`check!`], [`check_eq!`], [`expect_status`],
//! [`ok`], [`text_map`]); and calls as values for tables of cases ([`Request`],
//! [`call`], [`Expect`], [`run_table`], [`Rpc`]).
//!
//! ```no_run
//! # async fn example(provider: eso_runtime::Provider) -> eso_runtime::Result<()> {
//! use eso_runtime::testing::TestProvider;
//!
//! let running = TestProvider::start(provider, "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Fake\nmetadata: {name: backend, namespace: default}\nspec: {data: []}\n").await?;
//! let mut client = running.client().await?;
//! # Ok(()) }
//! ```

pub mod conformance;
mod expect;
pub mod files;
pub mod kube_api;
mod process;
pub mod requests;
mod rpc;

pub use expect::{
    TestError, TestResult, check, check_eq, code_name, expect_status, get, ok, pairs, structural_crds, text, text_map,
};
pub use process::KillOnDrop;
pub use rpc::{Expect, Reply, Request, Rpc, call, call_in_band, run_table};

use crate::client::{ClientTls, ProviderClient};
use crate::server::Limits;
use crate::server::RunningProvider;
use crate::server::{Settings, Transport};
use crate::source::files::FilesSource;
use crate::tls::issue::CertificateSet;
use crate::tls::{CertPaths, ExpectedNames};
use crate::{Error, Gvk, Provider, Result};
use eso_proto::generator::v1::GeneratorRef;
use eso_proto::provider::v1::ProviderReference;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How fast the harness notices changed files.
pub const TEST_RELOAD_INTERVAL: Duration = Duration::from_millis(100);

/// A running provider for tests. Stops when [`stop`](Self::stop) is called.
pub struct TestProvider {
    running: RunningProvider,
    certificates: CertificateSet,
    dir: tempfile::TempDir,
    /// The manifests folder's source and its reloader, when the harness made them.
    files: Option<(Arc<FilesSource>, tokio::task::JoinHandle<()>)>,
}

fn io(error: std::io::Error) -> Error {
    Error::internal(format!("test harness: {error}"))
}

impl TestProvider {
    /// Starts `provider` with `manifests` (YAML, several documents allowed).
    pub async fn start(provider: Provider, manifests: &str) -> Result<Self> {
        Self::start_with_grace(provider, manifests, Duration::from_secs(5)).await
    }

    /// [`start`](Self::start), and a connected client: how most tests begin.
    ///
    /// ```no_run
    /// # async fn example(provider: eso_runtime::Provider) -> eso_runtime::testing::TestResult {
    /// let (running, mut client) = eso_runtime::testing::TestProvider::start_connected(provider, "").await?;
    /// # Ok(()) }
    /// ```
    pub async fn start_connected(provider: Provider, manifests: &str) -> Result<(Self, ProviderClient)> {
        let running = Self::start(provider, manifests)
            .await
            .map_err(|e| e.context("starting the provider"))?;
        let client = running.client().await.map_err(|e| e.context("connecting the client"))?;
        Ok((running, client))
    }

    /// Starts with a given shutdown grace period.
    pub async fn start_with_grace(provider: Provider, manifests: &str, shutdown_grace: Duration) -> Result<Self> {
        Self::start_files(provider, manifests, shutdown_grace, Limits::default()).await
    }

    /// Starts with other server limits (streams, in-flight calls, request memory, timeouts).
    pub async fn start_with_limits(provider: Provider, manifests: &str, limits: Limits) -> Result<Self> {
        Self::start_files(provider, manifests, Duration::from_secs(5), limits).await
    }

    async fn start_files(
        provider: Provider,
        manifests: &str,
        shutdown_grace: Duration,
        limits: Limits,
    ) -> Result<Self> {
        let dir = tempfile::tempdir().map_err(io)?;
        let manifests_dir = dir.path().join("manifests");
        std::fs::create_dir_all(&manifests_dir).map_err(io)?;
        std::fs::write(manifests_dir.join("objects.yaml"), manifests).map_err(io)?;
        let source = Arc::new(FilesSource::load(&manifests_dir)?);
        let reloader = source.spawn_reloader(TEST_RELOAD_INTERVAL);
        let files = Some((Arc::clone(&source), reloader));
        Self::start_in(dir, provider, source, files, shutdown_grace, limits).await
    }

    /// Starts `provider` with any source, e.g. a [`KubeSource`](crate::source::kube::KubeSource)
    /// on a [`kube_api::FakeApiServer`].
    pub async fn start_with_source(provider: Provider, source: Arc<dyn crate::source::Source>) -> Result<Self> {
        let dir = tempfile::tempdir().map_err(io)?;
        Self::start_in(dir, provider, source, None, Duration::from_secs(5), Limits::default()).await
    }

    async fn start_in(
        dir: tempfile::TempDir,
        provider: Provider,
        source: Arc<dyn crate::source::Source>,
        files: Option<(Arc<FilesSource>, tokio::task::JoinHandle<()>)>,
        shutdown_grace: Duration,
        limits: Limits,
    ) -> Result<Self> {
        let certificates = CertificateSet::generate(&["localhost".to_string(), "127.0.0.1".to_string()])?;
        certificates.write(dir.path())?;
        let settings = Settings {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            transport: Transport::MutualTls {
                paths: CertPaths::in_dir(dir.path().join("server")),
                expected: ExpectedNames {
                    required: vec!["localhost".into()],
                    recommended: Vec::new(),
                },
                allowed_clients: Vec::new(),
            },
            reload_interval: TEST_RELOAD_INTERVAL,
            shutdown_grace,
            shutdown_delay: Duration::ZERO,
            limits,
        };
        let running = provider.start(settings, source).await?;
        Ok(TestProvider {
            running,
            certificates,
            dir,
            files,
        })
    }

    /// `localhost:<port>`, as ESO core would dial it.
    pub fn address(&self) -> String {
        format!("localhost:{}", self.running.grpc_addr().port())
    }

    /// The HTTP (metrics, health) address.
    pub fn http_addr(&self) -> SocketAddr {
        self.running.http_addr()
    }

    /// The certificates in use (CA, server, client).
    pub fn certificates(&self) -> &CertificateSet {
        &self.certificates
    }

    /// The folder holding the server's `ca.crt`, `tls.crt`, `tls.key`.
    pub fn server_cert_dir(&self) -> PathBuf {
        self.dir.path().join("server")
    }

    /// The folder holding the client's `ca.crt`, `tls.crt`, `tls.key`.
    pub fn client_cert_dir(&self) -> PathBuf {
        self.dir.path().join("client")
    }

    /// The client side of mutual TLS.
    pub fn client_tls(&self) -> Result<ClientTls> {
        ClientTls::from_dir(self.client_cert_dir())
    }

    /// A connected ESO-core-like client.
    pub async fn client(&self) -> Result<ProviderClient> {
        ProviderClient::connect(&self.address(), Some(&self.client_tls()?)).await
    }

    /// Replaces the manifests and waits until the provider has loaded them.
    pub fn replace_manifests(&self, manifests: &str) -> Result<()> {
        // Atomically (temporary file, then rename), so the background reloader never
        // reads a half-written file.
        let Some((source, _)) = &self.files else {
            return Err(Error::invalid_request(
                "test harness: this provider was started with another source than manifests",
            ));
        };
        crate::tls::issue::write_file(&self.manifests_dir().join("objects.yaml"), manifests.as_bytes(), false)
            .map_err(io)?;
        source.reload()?;
        Ok(())
    }

    /// The manifests folder.
    pub fn manifests_dir(&self) -> PathBuf {
        self.dir.path().join("manifests")
    }

    /// The running server (metrics, shutdown).
    pub fn running(&self) -> &RunningProvider {
        &self.running
    }

    /// A scratch folder that lives as long as the provider.
    pub fn scratch_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Shuts down gracefully and waits.
    pub async fn stop(self) -> Result<()> {
        if let Some((_, reloader)) = &self.files {
            reloader.abort();
        }
        self.running.shutdown();
        self.running.wait().await
    }
}

/// A `ProviderReference` to `namespace/name` of kind `gvk` through a `SecretStore`.
pub fn provider_ref(gvk: &Gvk, namespace: &str, name: &str) -> ProviderReference {
    ProviderReference {
        api_version: gvk.api_version(),
        kind: gvk.kind.to_string(),
        name: name.to_string(),
        namespace: namespace.to_string(),
        store_ref_kind: "SecretStore".to_string(),
    }
}

/// A `GeneratorRef` to `namespace/name` of kind `gvk`.
pub fn generator_ref(gvk: &Gvk, namespace: &str, name: &str) -> GeneratorRef {
    GeneratorRef {
        api_version: gvk.api_version(),
        kind: gvk.kind.to_string(),
        name: name.to_string(),
        namespace: namespace.to_string(),
    }
}

/// Installs the log subscriber a provider binary installs (text lines on stderr,
/// `RUST_LOG` or the binary's default filter); for benchmarks and tests that
/// should log as a deployed provider does. Does nothing if one is installed.
pub fn install_provider_logging(crate_name: &str) {
    crate::server::logging::init(crate::server::logging::LogFormat::Text, crate_name);
}
