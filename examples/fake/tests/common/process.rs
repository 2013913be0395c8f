//! The real `fake-provider` binary as a child process: started with `--dev` (or any
//! arguments) on a fresh temporary folder, connected over mTLS, stopped by SIGTERM,
//! killed when dropped.

use super::{TestResult, check, fake_object};
use eso_runtime::client::{ClientTls, ProviderClient};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BINARY: &str = env!("CARGO_BIN_EXE_fake-provider");

/// How long the process may take to start, or to stop; generous for a loaded CI box.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub fn manifests() -> String {
    [
        fake_object("default", "fake", "  data:\n    - key: hello\n      value: world"),
        fake_object(
            "default",
            "slow",
            "  latency: 1s\n  data:\n    - key: hello\n      value: slow-world",
        ),
        fake_object(
            "default",
            "slower",
            "  latency: 2s\n  data:\n    - key: hello\n      value: slower-world",
        ),
    ]
    .concat()
}

/// A running `fake-provider`; killed when dropped, whatever the test did.
pub struct Process {
    pub child: eso_runtime::testing::KillOnDrop,
    pub dir: tempfile::TempDir,
}

impl Process {
    /// Starts the binary with `args`; `{dev}` and `{manifests}` are replaced by
    /// folders in a fresh temporary directory (the manifests folder holds `manifests`).
    pub fn spawn(args: &[&str], manifests: &str) -> TestResult<Self> {
        Self::spawn_logging(args, manifests, "info,eso_runtime=debug")
    }

    /// As [`spawn`](Self::spawn), with `RUST_LOG` set to `rust_log`.
    pub fn spawn_logging(args: &[&str], manifests: &str, rust_log: &str) -> TestResult<Self> {
        Self::spawn_prepared(args, manifests, rust_log, |_| Ok(()))
    }

    /// As [`spawn_logging`](Self::spawn_logging), after `prepare` has added what it
    /// wants to the manifests folder.
    pub fn spawn_prepared(
        args: &[&str],
        manifests: &str,
        rust_log: &str,
        prepare: impl FnOnce(&Path) -> TestResult,
    ) -> TestResult<Self> {
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        let manifests_dir = dir.path().join("manifests");
        std::fs::create_dir_all(&manifests_dir).map_err(|e| format!("manifests dir: {e}"))?;
        std::fs::write(manifests_dir.join("fake.yaml"), manifests).map_err(|e| format!("manifests: {e}"))?;
        prepare(&manifests_dir)?;
        let log = std::fs::File::create(dir.path().join("stderr.log")).map_err(|e| format!("log file: {e}"))?;
        let dev = dir.path().join("dev");
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                a.replace("{dev}", &dev.display().to_string())
                    .replace("{manifests}", &manifests_dir.display().to_string())
            })
            .collect();
        let child = Command::new(BINARY)
            .args(&args)
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("spawning {BINARY}: {e}"))?;
        Ok(Process {
            child: eso_runtime::testing::KillOnDrop(child),
            dir,
        })
    }

    /// The usual dev-mode command line.
    pub fn dev(manifests: &str) -> TestResult<Self> {
        Self::dev_logging(manifests, "info,eso_runtime=debug")
    }

    /// The usual dev-mode command line, with `RUST_LOG` set to `rust_log`.
    pub fn dev_logging(manifests: &str, rust_log: &str) -> TestResult<Self> {
        Self::spawn_logging(
            &[
                "--dev",
                "--dev-dir",
                "{dev}",
                "--grpc-port",
                "0",
                "--metrics-port",
                "0",
                "--manifests",
                "{manifests}",
                "--reload-interval",
                "200ms",
                "--shutdown-grace-period",
                "10s",
            ],
            manifests,
            rust_log,
        )
    }

    pub fn manifests_dir(&self) -> PathBuf {
        self.dir.path().join("manifests")
    }

    pub fn client_dir(&self) -> PathBuf {
        self.dir.path().join("dev").join("client")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Waits until `ready` returns something, the process exits, or `PATIENCE` passes.
    pub async fn wait_for<T>(&mut self, what: &str, mut ready: impl FnMut(&Self) -> Option<T>) -> TestResult<T> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(value) = ready(self) {
                return Ok(value);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "waiting for {what}: the provider exited with {status}; log:\n{}",
                    self.log()
                )
                .into());
            }
            if Instant::now() > deadline {
                return Err(format!("waiting for {what}: gave up after {PATIENCE:?}; log:\n{}", self.log()).into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for `<dev>/client/address` (written once the server listens) and connects.
    pub async fn connect(&mut self) -> TestResult<ProviderClient> {
        let address_file = self.client_dir().join("address");
        let address = self
            .wait_for("the address file", |_| {
                std::fs::read_to_string(&address_file)
                    .ok()
                    .filter(|a| !a.trim().is_empty())
            })
            .await?;
        check!(
            address.starts_with("localhost:"),
            "dev mode listens on localhost: {address}"
        );
        let tls = ClientTls::from_dir(self.client_dir()).map_err(|e| format!("client certificates: {e}"))?;
        let client = ProviderClient::connect(address.trim(), Some(&tls))
            .await
            .map_err(|e| format!("connecting to {address}: {e}; log:\n{}", self.log()))?;
        Ok(client)
    }

    /// The HTTP address from the `serving` log line.
    pub async fn http_addr(&mut self) -> TestResult<String> {
        self.wait_for("the serving log line", |p| {
            p.log().lines().find(|l| l.contains("serving")).and_then(|line| {
                let start = line.find("http=")? + "http=".len();
                line[start..].split_whitespace().next().map(str::to_string)
            })
        })
        .await
    }

    /// Waits for the process to exit on its own.
    pub async fn exit_status(&mut self) -> TestResult<ExitStatus> {
        self.exit_status_within(PATIENCE).await
    }

    /// Waits at most `patience` for the process to exit on its own.
    pub async fn exit_status_within(&mut self, patience: Duration) -> TestResult<ExitStatus> {
        let deadline = Instant::now() + patience;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() > deadline => {
                    return Err(format!("the provider did not exit within {patience:?}; log:\n{}", self.log()).into());
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => return Err(format!("waiting for the provider: {e}").into()),
            }
        }
    }

    pub fn sigterm(&self) -> TestResult {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid()])
            .status()
            .map_err(|e| format!("running kill: {e}"))?;
        check!(status.success(), "kill -TERM {} failed: {status}", self.pid());
        Ok(())
    }
}
