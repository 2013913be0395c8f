//! The real `fake-provider` binary against someone who controls its manifests
//! folder: a FIFO, a `/dev/zero` symlink, a huge file and symlink loops added while
//! it runs must not stop gRPC calls, `/healthz` or SIGTERM; started on a folder
//! with a symlink loop it serves; started on a folder with a FIFO it refuses to
//! start, promptly, naming the file.
#![allow(clippy::expect_used)]

mod common;

use common::process::Process;
use common::*;
use eso_runtime::client::{ProviderClient, with_deadline};
use eso_runtime::testing::files::{mkfifo, symlink};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long the process may take to exit after SIGTERM (nothing is in flight).
const EXIT_PATIENCE: Duration = Duration::from_secs(10);

/// How long one call or health check may take before it counts as hung.
const CALL_PATIENCE: Duration = Duration::from_secs(5);

fn manifests() -> String {
    fake_object("default", "fake", "  data:\n    - key: hello\n      value: world")
}

/// Symlink loops: the folder itself, and a subfolder's parent.
fn add_loops(manifests: &Path) -> TestResult {
    symlink(".", &manifests.join("loop"))?;
    std::fs::create_dir_all(manifests.join("sub")).map_err(|e| format!("creating sub: {e}"))?;
    symlink("..", &manifests.join("sub/up"))?;
    symlink("../sub", &manifests.join("sub/again"))
}

/// Starts `fake-provider --dev` on a manifests folder holding `fake.yaml`, after
/// `prepare` has added what it wants to that folder.
fn start(prepare: impl FnOnce(&Path) -> TestResult) -> TestResult<Process> {
    Process::spawn_prepared(
        &[
            "--dev",
            "--dev-dir",
            "{dev}",
            "--grpc-port",
            "0",
            "--metrics-port",
            "0",
            "--reload-interval",
            "100ms",
            "--manifests",
            "{manifests}",
        ],
        &manifests(),
        "info,eso_runtime=debug",
        prepare,
    )
}

/// SIGTERM, then exit status 0 within `EXIT_PATIENCE`.
async fn stops_on_sigterm(process: &mut Process) -> TestResult {
    process.sigterm()?;
    let status = process.exit_status_within(EXIT_PATIENCE).await?;
    check_eq!(
        status.code(),
        Some(0),
        "exit code after SIGTERM; log:\n{}",
        process.log()
    );
    Ok(())
}

/// One GetSecret over mTLS that must answer `world`, within `CALL_PATIENCE`.
async fn get_world(client: &mut ProviderClient) -> TestResult {
    let request = with_deadline(fake("default", "fake").get("hello", "", ""), CALL_PATIENCE);
    let call = tokio::time::timeout(CALL_PATIENCE, client.store.get_secret(request))
        .await
        .map_err(|_| format!("GetSecret did not answer within {CALL_PATIENCE:?}"))?;
    let response = call.map_err(|s| format!("GetSecret: {:?}: {}", s.code(), s.message()))?;
    check_eq!(text(&response.into_inner().value)?, "world", "GetSecret");
    Ok(())
}

/// `GET /healthz` must answer 200 within `CALL_PATIENCE`.
async fn healthz(http: &str) -> TestResult {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(http)
            .await
            .map_err(|e| format!("connecting to {http}: {e}"))?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .map_err(|e| format!("sending to {http}: {e}"))?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .await
            .map_err(|e| format!("reading from {http}: {e}"))?;
        Ok::<String, String>(String::from_utf8_lossy(&response).into_owned())
    };
    let response = tokio::time::timeout(CALL_PATIENCE, exchange)
        .await
        .map_err(|_| format!("/healthz did not answer within {CALL_PATIENCE:?}"))??;
    check!(response.starts_with("HTTP/1.1 200"), "/healthz: {response}");
    Ok(())
}

/// Calls and health checks for `duration` (many reload intervals of 100 ms).
async fn keeps_serving(client: &mut ProviderClient, http: &str, duration: Duration) -> TestResult {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        get_world(client).await?;
        healthz(http).await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test]
async fn hostile_files_added_while_running_do_not_stop_calls_health_or_sigterm() -> TestResult {
    let mut process = start(|_| Ok(()))?;
    let mut client = process.connect().await?;
    let http = process.http_addr().await?;
    get_world(&mut client).await?;
    healthz(&http).await?;
    let manifests = process.manifests_dir();

    // Each addition is left for several reload intervals (100 ms) of calls.
    mkfifo(&manifests.join("x.yaml"))?;
    keeps_serving(&mut client, &http, Duration::from_millis(600)).await?;
    symlink("/dev/zero", &manifests.join("z.yaml"))?;
    keeps_serving(&mut client, &http, Duration::from_millis(600)).await?;
    let huge = std::fs::File::create(manifests.join("huge.yaml")).map_err(|e| format!("huge.yaml: {e}"))?;
    huge.set_len(500 << 20).map_err(|e| format!("sizing huge.yaml: {e}"))?;
    add_loops(&manifests)?;
    keeps_serving(&mut client, &http, Duration::from_millis(600)).await?;

    // The reloader kept looking: it reported the FIFO, then (once the set changed)
    // the first refusal in path order, huge.yaml; with those two gone, z.yaml.
    process
        .wait_for("the FIFO to be reported", |p| {
            p.log().contains("x.yaml is a FIFO (named pipe)").then_some(())
        })
        .await?;
    process
        .wait_for("the huge file to be reported", |p| {
            p.log()
                .contains("huge.yaml is larger than the 16 MiB limit")
                .then_some(())
        })
        .await?;
    for name in ["huge.yaml", "x.yaml"] {
        std::fs::remove_file(manifests.join(name)).map_err(|e| format!("removing {name}: {e}"))?;
    }
    process
        .wait_for("the /dev/zero symlink to be reported", |p| {
            p.log().contains("z.yaml is a character device").then_some(())
        })
        .await?;
    keeps_serving(&mut client, &http, Duration::from_millis(300)).await?;

    stops_on_sigterm(&mut process).await
}

#[tokio::test]
async fn started_on_a_folder_with_symlink_loops_it_listens_and_serves() -> TestResult {
    let mut process = start(add_loops)?;
    let mut client = process.connect().await?;
    let http = process.http_addr().await?;
    keeps_serving(&mut client, &http, Duration::from_millis(500)).await?;
    stops_on_sigterm(&mut process).await
}

#[tokio::test]
async fn started_on_a_folder_with_a_fifo_it_refuses_to_start_naming_it() -> TestResult {
    let mut process = start(|manifests| mkfifo(&manifests.join("x.yaml")))?;
    let status = process.exit_status().await?;
    check!(!status.success(), "must not start with a FIFO in the folder: {status}");
    let log = process.log();
    check!(
        log.contains("x.yaml is a FIFO (named pipe), not a regular file"),
        "the error must name the FIFO:\n{log}"
    );
    Ok(())
}
