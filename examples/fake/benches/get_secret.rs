//! GetSecret latency and throughput: the Fake provider on the full runtime (mutual
//! TLS, dispatch, scope, client cache, metrics) — once reading its object from a
//! manifests folder, once from the (in-process) Kubernetes API through watch
//! caches — against a bare tonic server with tonic's own rustls mTLS that returns
//! a fixed value of the same size. All are called by the same client,
//! `ProviderClient`, over one loopback connection each. The run fails if the
//! Kubernetes source makes a single API request while it is measured.
//!
//! ```text
//! cargo bench -p eso-example-fake --bench get_secret
//! BENCH_CALLS=20000 BENCH_CONCURRENCY=64 cargo bench -p eso-example-fake --bench get_secret
//! BENCH_SMOKE=1 cargo bench -p eso-example-fake --bench get_secret   # 50 calls, a quick check
//! ```
//!
//! Measured, not asserted: it prints a table. Every response is checked, though, so
//! a wrong value or a failed call fails the run.

use eso_runtime::certs::CertificateSet;
use eso_runtime::client::{ClientTls, ProviderClient};
use eso_runtime::proto::provider::v1 as wire;
use eso_runtime::proto::provider::v1::secret_store_provider_server::{SecretStoreProvider, SecretStoreProviderServer};
use eso_runtime::source::kube::{KubeSettings, KubeSource};
use eso_runtime::testing::kube_api::FakeApiServer;
use eso_runtime::testing::{TestProvider, provider_ref};
use eso_runtime::{Gvk, ProviderSpec};
use std::time::{Duration, Instant};
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

/// The value both servers return: 64 bytes, about the size of a generated password or token.
pub const VALUE: &str = "b3nchm4rk-v4lue-0123456789abcdef-0123456789abcdef-0123456789abcd";

/// How much to measure.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Sequential calls measured one by one (env `BENCH_CALLS`, default 5000).
    pub calls: usize,
    /// Concurrent callers for the throughput run (env `BENCH_CONCURRENCY`, default 32).
    pub concurrency: usize,
    /// Calls in the throughput run, spread over the callers (4 × `calls`).
    pub throughput_calls: usize,
    /// Unmeasured calls first, sequential and concurrent.
    pub warmup: usize,
    /// The measurements alternate between the servers in this many rounds (env `BENCH_ROUNDS`, default 10).
    pub rounds: usize,
}

impl Config {
    /// From the environment; `BENCH_SMOKE=1` makes it tiny.
    pub fn from_env() -> Result<Self, String> {
        if std::env::var("BENCH_SMOKE").is_ok_and(|v| v == "1") {
            return Ok(Self::smoke());
        }
        let number = |name: &str, default: usize| -> Result<usize, String> {
            match std::env::var(name) {
                Ok(text) => text
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{name}={text:?} is not a positive number")),
                Err(_) => Ok(default),
            }
        };
        let calls = number("BENCH_CALLS", 5000)?;
        Ok(Config {
            calls,
            concurrency: number("BENCH_CONCURRENCY", 32)?,
            throughput_calls: calls * 4,
            warmup: (calls / 5).clamp(50, 1000),
            rounds: number("BENCH_ROUNDS", 10)?,
        })
    }

    /// A few calls, to check that everything runs (tests, CI).
    pub fn smoke() -> Self {
        Config {
            calls: 50,
            concurrency: 4,
            throughput_calls: 100,
            warmup: 10,
            rounds: 2,
        }
    }
}

/// One server's numbers.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Which server.
    pub name: &'static str,
    /// Sequential latency, median.
    pub p50: Duration,
    /// Sequential latency, 99th percentile.
    pub p99: Duration,
    /// Sequential latency, mean.
    pub mean: Duration,
    /// Calls per second with `concurrency` callers.
    pub throughput: f64,
}

/// A server the client can call, and how to reach it.
struct Target {
    name: &'static str,
    client: ProviderClient,
    request: wire::GetSecretRequest,
}

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
/// certificates and a handle that stops it when dropped.
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

fn fake_manifests() -> String {
    format!(
        "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Fake\nmetadata: {{name: bench, namespace: default}}\nspec:\n  data:\n    - key: bench/value\n      value: {VALUE}\n"
    )
}

fn get_request() -> wire::GetSecretRequest {
    let gvk: Gvk = eso_example_fake::FakeSpec::GVK;
    wire::GetSecretRequest {
        remote_ref: Some(wire::ExternalSecretDataRemoteRef {
            key: "bench/value".into(),
            ..Default::default()
        }),
        provider_ref: Some(provider_ref(&gvk, "default", "bench")),
        source_namespace: "default".into(),
    }
}

/// One call; a failure or a wrong value ends the run.
async fn call(client: &mut ProviderClient, request: &wire::GetSecretRequest, name: &str) -> Result<(), String> {
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

/// `calls` calls from `concurrency` tasks sharing the client's connection; returns the wall time.
async fn concurrent(target: &Target, calls: usize, concurrency: usize) -> Result<Duration, String> {
    let concurrency = concurrency.max(1);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|worker| {
            let mut client = target.client.clone();
            let request = target.request.clone();
            let name = target.name;
            // Spread the remainder over the first workers.
            let share = calls / concurrency + usize::from(worker < calls % concurrency);
            tokio::spawn(async move {
                for _ in 0..share {
                    call(&mut client, &request, name).await?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|e| format!("a caller panicked: {e}"))??;
    }
    Ok(started.elapsed())
}

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    // Nearest rank.
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

async fn warm_up(target: &mut Target, config: &Config) -> Result<(), String> {
    for _ in 0..config.warmup {
        call(&mut target.client, &target.request, target.name).await?;
    }
    concurrent(target, config.warmup * 2, config.concurrency).await?;
    Ok(())
}

/// What one server collected over all rounds.
#[derive(Default)]
struct Samples {
    latencies: Vec<Duration>,
    concurrent_calls: usize,
    concurrent_time: Duration,
}

impl Samples {
    fn summary(mut self, name: &'static str) -> Measurement {
        self.latencies.sort_unstable();
        let total: Duration = self.latencies.iter().sum();
        Measurement {
            name,
            p50: percentile(&self.latencies, 50),
            p99: percentile(&self.latencies, 99),
            mean: total / u32::try_from(self.latencies.len().max(1)).unwrap_or(u32::MAX),
            throughput: self.concurrent_calls as f64 / self.concurrent_time.as_secs_f64(),
        }
    }
}

/// The `round`-th of `rounds` nearly equal shares of `total`.
fn share(total: usize, round: usize, rounds: usize) -> usize {
    total * (round + 1) / rounds - total * round / rounds
}

/// The Fake object as the Kubernetes API serves it.
fn fake_object() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "provider.external-secrets.io/v2alpha1",
        "kind": "Fake",
        "metadata": {"name": "bench", "namespace": "default"},
        "spec": {"data": [{"key": "bench/value", "value": VALUE}]},
    })
}

fn fake_provider() -> eso_runtime::Provider {
    eso_example_fake::provider(eso_runtime::ProviderInfo {
        name: "fake",
        version: "bench",
    })
}

/// Starts the three servers — the Fake provider reading a manifests folder, the
/// Fake provider reading the in-process Kubernetes API server through watch
/// caches, and the bare tonic server — and warms them up; then measures them in
/// alternating rounds (who goes first rotates too), so that all see the same
/// machine: sequential calls first, then the concurrent ones. Returns the
/// measurements in that order; the last is the baseline.
pub async fn run(config: Config) -> Result<Vec<Measurement>, String> {
    let files = TestProvider::start(fake_provider(), &fake_manifests())
        .await
        .map_err(|e| format!("starting the Fake provider: {e}"))?;
    let api = FakeApiServer::start()
        .await
        .map_err(|e| format!("starting the Kubernetes API server: {e}"))?;
    api.apply("fakes", fake_object())
        .map_err(|e| format!("creating the Fake object: {e}"))?;
    let provider = fake_provider();
    let kinds = provider.watched_kinds().map_err(|e| format!("kinds: {e}"))?;
    let client = api.client().map_err(|e| format!("Kubernetes client: {e}"))?;
    let source = KubeSource::start(client, &kinds, KubeSettings::default());
    let kube = TestProvider::start_with_source(provider, source)
        .await
        .map_err(|e| format!("starting the Fake provider on the Kubernetes source: {e}"))?;
    let (address, tls, stop_bare) = start_bare().await?;
    let mut targets = Vec::new();
    for (name, running) in [("runtime (Fake, files)", &files), ("runtime (Fake, Kubernetes)", &kube)] {
        targets.push(Target {
            name,
            client: running
                .client()
                .await
                .map_err(|e| format!("connecting to {name}: {e}"))?,
            request: get_request(),
        });
    }
    targets.push(Target {
        name: "bare tonic",
        client: ProviderClient::connect(&address, Some(&tls))
            .await
            .map_err(|e| format!("connecting to the bare server: {e}"))?,
        request: get_request(),
    });
    // The Kubernetes source answers once its cache has synced.
    let deadline = Instant::now() + Duration::from_secs(30);
    let synced = &mut targets[1];
    while call(&mut synced.client, &synced.request, synced.name).await.is_err() {
        if Instant::now() > deadline {
            return Err("the Kubernetes source never served the Fake object".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for target in &mut targets {
        warm_up(target, &config).await?;
    }
    let api_requests = api.request_count();
    let mut samples: Vec<Samples> = targets.iter().map(|_| Samples::default()).collect();
    let rounds = config.rounds.max(1);
    let count = targets.len();
    let order = move |round: usize| (0..count).map(move |i| (i + round) % count);
    for round in 0..rounds {
        for index in order(round) {
            let target = &mut targets[index];
            for _ in 0..share(config.calls, round, rounds) {
                let started = Instant::now();
                call(&mut target.client, &target.request, target.name).await?;
                samples[index].latencies.push(started.elapsed());
            }
        }
    }
    for round in 0..rounds {
        for index in order(round) {
            let calls = share(config.throughput_calls, round, rounds);
            let elapsed = concurrent(&targets[index], calls, config.concurrency).await?;
            samples[index].concurrent_calls += calls;
            samples[index].concurrent_time += elapsed;
        }
    }
    // Steady state: the measured calls reached the API server not once.
    if api.request_count() != api_requests {
        return Err(format!(
            "the Kubernetes source made {} API requests during the measurement",
            api.request_count() - api_requests
        ));
    }
    let _ = stop_bare.send(());
    for running in [files, kube] {
        running
            .stop()
            .await
            .map_err(|e| format!("stopping the Fake provider: {e}"))?;
    }
    Ok(samples
        .into_iter()
        .zip(&targets)
        .map(|(samples, target)| samples.summary(target.name))
        .collect())
}

/// The table, as printed: one column per server, then each runtime's ratio to
/// the baseline (the last measurement).
pub fn table(config: &Config, measurements: &[Measurement]) -> String {
    let Some((baseline, runtimes)) = measurements.split_last() else {
        return String::new();
    };
    let mut out = format!(
        "GetSecret, {VALUE_LEN}-byte value, mTLS over loopback, one connection per server; {} sequential calls; {} calls from {} concurrent callers; {} alternating rounds\n\n",
        config.calls,
        config.throughput_calls,
        config.concurrency,
        config.rounds,
        VALUE_LEN = VALUE.len(),
    );
    let mut header = format!("| {:<22} |", "");
    let mut rule = format!("|{:-<24}|", "");
    for m in measurements {
        header.push_str(&format!(" {:>26} |", m.name));
        rule.push_str(&format!("{:->28}|", ":"));
    }
    for m in runtimes {
        header.push_str(&format!(
            " {:>26} |",
            format!("{} / bare", m.name.trim_start_matches("runtime "))
        ));
        rule.push_str(&format!("{:->28}|", ":"));
    }
    out.push_str(&header);
    out.push('\n');
    out.push_str(&rule);
    out.push('\n');
    type Row = (&'static str, fn(&Measurement) -> f64);
    let rows: [Row; 4] = [
        ("latency p50 (µs)", |m| m.p50.as_secs_f64() * 1e6),
        ("latency p99 (µs)", |m| m.p99.as_secs_f64() * 1e6),
        ("latency mean (µs)", |m| m.mean.as_secs_f64() * 1e6),
        ("throughput (calls/s)", |m| m.throughput),
    ];
    for (label, value) in rows {
        let mut line = format!("| {label:<22} |");
        for m in measurements {
            line.push_str(&format!(" {:>26.1} |", value(m)));
        }
        for m in runtimes {
            line.push_str(&format!(" {:>26.2} |", value(m) / value(baseline)));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn main() -> std::process::ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: tokio runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    eprintln!(
        "measuring: {} sequential calls and {} calls from {} callers per server ({} worker threads)",
        config.calls,
        config.throughput_calls,
        config.concurrency,
        std::thread::available_parallelism().map(usize::from).unwrap_or(1)
    );
    match runtime.block_on(run(config)) {
        Ok(measurements) => {
            print!("{}", table(&config, &measurements));
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
