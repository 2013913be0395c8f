//! The real `fake-provider` binary the way it runs in a cluster: no `--manifests`,
//! objects from the Kubernetes API (found through `KUBECONFIG`, here pointing at
//! the runtime's in-process API server, which speaks the real REST and watch
//! protocol), certificates from `--tls-cert-dir`, a real mTLS call, its `Ready`
//! status written back, and SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestResult;
use eso_runtime::client::{ClientTls, ProviderClient};
use eso_runtime::testing::kube_api::FakeApiServer;
use eso_runtime::tls::issue::CertificateSet;
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_fake-provider");
const PATIENCE: Duration = Duration::from_secs(30);

fn kubeconfig(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {server}\nusers:\n- name: fake\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\ncurrent-context: fake\n"
    )
}

/// The gRPC address from the `serving grpc=…` log line.
fn grpc_address(log: &str) -> Option<String> {
    let line = log.lines().find(|l| l.contains("serving"))?;
    let start = line.find("grpc=")? + "grpc=".len();
    let address = line[start..].split_whitespace().next()?;
    let port = address.rsplit(':').next()?;
    Some(format!("localhost:{port}"))
}

#[tokio::test]
async fn serves_objects_from_the_kubernetes_api_and_writes_their_status() -> TestResult {
    let api = FakeApiServer::start().await.map_err(|e| e.to_string())?;
    api.apply(
        "fakes",
        json!({
            "apiVersion": "provider.external-secrets.io/v2alpha1",
            "kind": "Fake",
            "metadata": {"name": "fake", "namespace": "team-a"},
            "spec": {"data": [{"key": "hello", "value": "from-the-api"}]},
        }),
    )
    .map_err(|e| e.to_string())?;

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let certificates =
        CertificateSet::generate(&["localhost".to_string(), "127.0.0.1".to_string()]).map_err(|e| e.to_string())?;
    certificates.write(dir.path()).map_err(|e| e.to_string())?;
    let config = dir.path().join("kubeconfig");
    std::fs::write(&config, kubeconfig(&format!("http://{}", api.addr()))).map_err(|e| e.to_string())?;
    let log_path = dir.path().join("stderr.log");
    let log_file = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let mut child = eso_runtime::testing::KillOnDrop(
        Command::new(BINARY)
            .args(["--grpc-port", "0", "--metrics-port", "0", "--bind-address", "127.0.0.1"])
            .arg("--tls-cert-dir")
            .arg(dir.path().join("server"))
            .env("KUBECONFIG", &config)
            .env("WATCH_NAMESPACES", "team-a")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("MANIFESTS_DIR")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .spawn()
            .map_err(|e| format!("spawning {BINARY}: {e}"))?,
    );
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let deadline = Instant::now() + PATIENCE;
    let address = loop {
        if let Some(address) = grpc_address(&log()) {
            break address;
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            return Err(format!("the provider exited with {status}:\n{}", log()).into());
        }
        if Instant::now() > deadline {
            return Err(format!("the provider did not start:\n{}", log()).into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let tls = ClientTls::from_dir(dir.path().join("client")).map_err(|e| e.to_string())?;
    let mut client = ProviderClient::connect(&address, Some(&tls))
        .await
        .map_err(|e| e.to_string())?;
    let team_a = common::fake("team-a", "fake");

    // Served from the watch cache once it has synced.
    let mut value = None;
    while Instant::now() < deadline {
        let response = client.store.get_secret(team_a.get("hello", "", "")).await;
        if let Ok(response) = response {
            value = Some(response.into_inner().value);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(value.as_deref(), Some(&b"from-the-api"[..]), "log:\n{}", log());

    // Validate writes Ready=True on the object's status.
    let validation = client
        .store
        .validate(team_a.validate())
        .await
        .map_err(|e| e.to_string())?
        .into_inner();
    assert!(validation.valid, "{}", validation.error);
    let mut ready = None;
    while Instant::now() < deadline && ready.is_none() {
        let object = api
            .get("provider.external-secrets.io/v2alpha1", "fakes", "team-a", "fake")
            .map_err(|e| e.to_string())?;
        ready = object.and_then(|o| o["status"]["conditions"].get(0).cloned());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ready = ready.ok_or_else(|| format!("no status written; log:\n{}", log()))?;
    assert_eq!(ready["type"], "Ready");
    assert_eq!(ready["status"], "True");
    // Only team-a was watched (WATCH_NAMESPACES).
    assert!(
        api.requests()
            .iter()
            .filter(|r| r.path.ends_with("/fakes"))
            .all(|r| r.path.contains("/namespaces/team-a/")),
        "{:?}",
        api.requests()
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .map_err(|e| e.to_string())?;
    assert!(status.success());
    let exit = loop {
        if let Ok(Some(exit)) = child.0.try_wait() {
            break exit;
        }
        if Instant::now() > deadline + PATIENCE {
            return Err(format!("the provider did not stop:\n{}", log()).into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "exit {exit}; log:\n{}", log());
    Ok(())
}
