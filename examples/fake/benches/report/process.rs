//! The provider as its own process: the `fake-provider` binary Cargo built for
//! this target (release under `cargo bench`), started with `--dev --manifests` on
//! a temporary folder; its memory read from `/proc/<pid>/status`, the time from
//! spawn to gRPC health `SERVING`, the binary's size. This process is the load.

use eso_runtime::client::{ClientTls, ProviderClient};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_fake-provider");

/// How long the process may take to start.
const PATIENCE: Duration = Duration::from_secs(30);

/// Resident memory of a process, KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the most ever resident (the peak).
    pub hwm_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` of `pid`.
pub fn memory(pid: u32) -> Result<Memory, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let field = |name: &str| -> Result<u64, String> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| format!("/proc/{pid}/status has no {name}"))
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// A running `fake-provider`; killed when dropped.
pub struct Provider {
    child: Child,
    dir: tempfile::TempDir,
    /// `localhost:<port>`.
    pub address: String,
    /// From spawn to health `SERVING` (includes one mTLS connection).
    pub started_in: Duration,
}

impl Drop for Provider {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Provider {
    /// Starts the binary on a folder holding `manifests` and waits until gRPC
    /// health says `SERVING`.
    pub async fn start(manifests: &str) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        let manifests_dir = dir.path().join("manifests");
        std::fs::create_dir_all(&manifests_dir).map_err(|e| format!("manifests dir: {e}"))?;
        std::fs::write(manifests_dir.join("objects.yaml"), manifests).map_err(|e| format!("manifests: {e}"))?;
        let log = std::fs::File::create(dir.path().join("stderr.log")).map_err(|e| format!("log file: {e}"))?;
        let dev = dir.path().join("dev");
        let started = Instant::now();
        let child = Command::new(BINARY)
            .arg("--dev")
            .arg("--dev-dir")
            .arg(&dev)
            .args(["--grpc-port", "0", "--metrics-port", "0", "--manifests"])
            .arg(&manifests_dir)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("spawning {BINARY}: {e}"))?;
        let mut provider = Provider {
            child,
            dir,
            address: String::new(),
            started_in: Duration::ZERO,
        };
        let address_file = dev.join("client").join("address");
        loop {
            if started.elapsed() > PATIENCE {
                return Err(format!("{BINARY} did not become SERVING:\n{}", provider.log()));
            }
            if let Ok(Some(status)) = provider.child.try_wait() {
                return Err(format!("{BINARY} exited with {status}:\n{}", provider.log()));
            }
            if let Ok(address) = std::fs::read_to_string(&address_file) {
                provider.address = address.trim().to_string();
                if provider.serving().await {
                    provider.started_in = started.elapsed();
                    return Ok(provider);
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    async fn serving(&self) -> bool {
        let Ok(client) = self.client().await else {
            return false;
        };
        let mut health = HealthClient::new(client.channel);
        matches!(
            health.check(HealthCheckRequest { service: String::new() }).await,
            Ok(response) if response.get_ref().status == ServingStatus::Serving as i32
        )
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its memory now.
    pub fn memory(&self) -> Result<Memory, String> {
        memory(self.pid())
    }

    /// The client side of the dev certificates (CN external-secrets-controller).
    pub fn tls(&self) -> Result<ClientTls, String> {
        ClientTls::from_dir(self.dir.path().join("dev").join("client")).map_err(|e| format!("client certificates: {e}"))
    }

    /// A new ESO-core-like connection.
    pub async fn client(&self) -> Result<ProviderClient, String> {
        ProviderClient::connect(&self.address, Some(&self.tls()?))
            .await
            .map_err(|e| format!("connecting to {}: {e}", self.address))
    }

    /// Whether it still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

/// The binary's size in bytes, and stripped (`strip`, when installed).
pub fn binary_size() -> Result<(u64, Option<u64>), String> {
    let path = Path::new(BINARY);
    let size = std::fs::metadata(path).map_err(|e| format!("{BINARY}: {e}"))?.len();
    let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let stripped: PathBuf = dir.path().join("fake-provider");
    let status = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let stripped = match status {
        Ok(status) if status.success() => std::fs::metadata(&stripped).ok().map(|m| m.len()),
        _ => None,
    };
    Ok((size, stripped))
}

/// Whether `BINARY` was built with optimizations (the `target/release` folder).
pub fn is_release() -> bool {
    Path::new(BINARY)
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|name| name == "release")
}

/// How the process section measures.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Starts timed (each a fresh process).
    pub starts: usize,
    /// How long each load runs.
    pub load: Duration,
    /// GetSecret callers, on one connection.
    pub load_concurrency: usize,
    /// The GetAllSecrets case loaded (its object in a process of its own).
    pub bulk: super::bulk::Case,
    /// GetAllSecrets callers, on one connection.
    pub bulk_concurrency: usize,
    /// How long the process is left alone before its memory is read.
    pub settle: Duration,
}

/// What the process section measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// The binary measured.
    pub binary: &'static str,
    /// Built with optimizations.
    pub release: bool,
    /// Its size.
    pub binary_bytes: u64,
    /// Its size stripped, when `strip` is installed.
    pub stripped_bytes: Option<u64>,
    /// Spawn to SERVING, sorted.
    pub startups: Vec<Duration>,
    /// Started, one call made, settled.
    pub idle: Memory,
    /// After the GetSecret load (the peak is `hwm_kib`).
    pub loaded: Memory,
    /// GetSecret calls in the load.
    pub load_calls: usize,
    /// A second after the load.
    pub after_load: Memory,
    /// Idle with the bulk object loaded.
    pub bulk_idle: Memory,
    /// After the GetAllSecrets load.
    pub bulk_loaded: Memory,
    /// GetAllSecrets calls in the load.
    pub bulk_calls: usize,
}

/// `concurrency` callers of GetAllSecrets on one connection until `until`; returns the calls made.
async fn bulk_load(
    client: &ProviderClient,
    request: &eso_runtime::proto::provider::v1::GetAllSecretsRequest,
    concurrency: usize,
    until: Instant,
) -> Result<usize, String> {
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let mut client = client.clone();
            let request = request.clone();
            tokio::spawn(async move {
                let mut calls = 0;
                while Instant::now() < until {
                    client
                        .store
                        .get_all_secrets(request.clone())
                        .await
                        .map_err(|s| format!("GetAllSecrets failed: {:?}: {}", s.code(), s.message()))?;
                    calls += 1;
                }
                Ok::<_, String>(calls)
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.await.map_err(|e| format!("a caller panicked: {e}"))??;
    }
    Ok(total)
}

/// Runs the process section.
pub async fn run(settings: &Settings) -> Result<Report, String> {
    let (binary_bytes, stripped_bytes) = binary_size()?;
    let manifests = super::servers::bench_manifest();
    let mut startups = Vec::new();
    for _ in 0..settings.starts.saturating_sub(1) {
        startups.push(Provider::start(&manifests).await?.started_in);
    }
    // The last start is the one loaded.
    let mut provider = Provider::start(&manifests).await?;
    startups.push(provider.started_in);
    startups.sort_unstable();
    let mut target = super::servers::Target {
        name: "fake-provider",
        client: provider.client().await?,
        request: super::servers::get_request(),
    };
    super::servers::call(&mut target.client, &target.request, target.name).await?;
    tokio::time::sleep(settings.settle).await;
    let idle = provider.memory()?;
    let (samples, _) =
        super::latency::burst(&target, settings.load_concurrency, Instant::now() + settings.load).await?;
    let loaded = provider.memory()?;
    tokio::time::sleep(settings.settle * 2).await;
    let after_load = provider.memory()?;
    if !provider.alive() {
        return Err(format!("the provider died under load:\n{}", provider.log()));
    }
    drop(target);
    drop(provider);

    let bulk = Provider::start(&super::bulk::manifest(&settings.bulk)).await?;
    let client = bulk.client().await?;
    let request = super::bulk::request(&settings.bulk);
    client
        .clone()
        .store
        .get_all_secrets(request.clone())
        .await
        .map_err(|s| format!("GetAllSecrets failed: {:?}: {}", s.code(), s.message()))?;
    tokio::time::sleep(settings.settle).await;
    let bulk_idle = bulk.memory()?;
    let bulk_calls = bulk_load(
        &client,
        &request,
        settings.bulk_concurrency,
        Instant::now() + settings.load,
    )
    .await?;
    let bulk_loaded = bulk.memory()?;
    Ok(Report {
        binary: BINARY,
        release: is_release(),
        binary_bytes,
        stripped_bytes,
        startups,
        idle,
        loaded,
        load_calls: samples.len(),
        after_load,
        bulk_idle,
        bulk_loaded,
        bulk_calls,
    })
}
