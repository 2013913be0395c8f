//! The real `fake-provider` binary: `--dev` certificates, the address file, mTLS
//! calls, draining in-flight calls on SIGTERM, deadlines, and refusing to start
//! without a source of provider objects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::process::*;
use common::*;
use eso_runtime::client::{ClientTls, ProviderClient, with_deadline};
use std::path::Path;
use std::time::{Duration, Instant};
use tonic::Code;

fn dev_files_exist(dir: &Path) -> bool {
    ["ca.crt", "tls.crt", "tls.key"].iter().all(|f| dir.join(f).is_file())
}

#[tokio::test]
async fn serves_get_secret_over_mtls_in_dev_mode() -> TestResult {
    let mut process = Process::dev(&manifests())?;
    let mut client = process.connect().await?;
    check!(dev_files_exist(&process.client_dir()), "client certificates written");
    check_eq!(
        get(&mut client, fake("default", "fake").get("hello", "", ""))
            .await
            .map_err(|s| s.to_string())?,
        "world",
        "GetSecret"
    );
    expect_status(
        "missing key",
        get(&mut client, fake("default", "fake").get("nope", "", "")).await,
        Code::NotFound,
        &["secret nope not found"],
    )?;
    // The manifests folder is watched: a change is served after the reload interval.
    let manifests_dir = process.dir.path().join("manifests");
    std::fs::write(
        manifests_dir.join("fake.yaml"),
        manifests().replace("value: world", "value: reloaded"),
    )
    .map_err(|e| format!("rewriting manifests: {e}"))?;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let value = get(&mut client, fake("default", "fake").get("hello", "", "")).await;
        if matches!(value.as_deref(), Ok("reloaded")) {
            break;
        }
        check!(
            matches!(value.as_deref(), Ok("world")),
            "while reloading, the old or the new value: {value:?}"
        );
        check!(
            Instant::now() < deadline,
            "the change was not picked up within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test]
async fn sigterm_drains_in_flight_calls_and_exits_zero() -> TestResult {
    let mut process = Process::dev(&manifests())?;
    let client = process.connect().await?;
    let started = Instant::now();
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let mut client = client.clone();
            tokio::spawn(async move { get(&mut client, fake("default", "slow").get("hello", "", "")).await })
        })
        .collect();
    // In flight: the server has reached the backend (it connects the `slow` client
    // on the first call); all five went out together on one connection.
    process
        .wait_for("the calls to reach the backend", |p| {
            p.log()
                .lines()
                .any(|l| l.contains("backend client connected") && l.contains("default/slow"))
                .then_some(())
        })
        .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    check!(
        started.elapsed() < Duration::from_millis(900),
        "the calls must still be running when SIGTERM is sent ({:?} elapsed); the machine is too slow for this test",
        started.elapsed()
    );
    process.sigterm()?;
    process
        .wait_for("the drain to begin", |p| {
            p.log().contains("shutting down").then_some(())
        })
        .await?;

    // A new connection is refused while the old calls drain.
    let tls = ClientTls::from_dir(process.client_dir()).map_err(|e| format!("client certificates: {e}"))?;
    let address = std::fs::read_to_string(process.client_dir().join("address")).map_err(|e| e.to_string())?;
    let refused_by = Instant::now() + Duration::from_millis(500);
    while ProviderClient::connect(address.trim(), Some(&tls)).await.is_ok() {
        check!(
            Instant::now() < refused_by,
            "new connections are still accepted 500ms after the drain began"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    for (index, call) in calls.into_iter().enumerate() {
        let result = call.await.map_err(|e| format!("call {index} panicked: {e}"))?;
        check_eq!(
            result.map_err(|s| format!("call {index}: {:?}: {}", s.code(), s.message()))?,
            "slow-world",
            "call {index}"
        );
    }
    check!(
        started.elapsed() >= Duration::from_secs(1),
        "the calls took the simulated latency: {:?}",
        started.elapsed()
    );
    let status = process.exit_status().await?;
    check!(
        status.success(),
        "exit status after draining: {status}; log:\n{}",
        process.log()
    );
    check_eq!(status.code(), Some(0), "exit code");
    Ok(())
}

#[tokio::test]
async fn a_deadline_shorter_than_the_backend_cuts_the_call_short() -> TestResult {
    let mut process = Process::dev(&manifests())?;
    let mut client = process.connect().await?;
    let started = Instant::now();
    let result = client
        .store
        .get_secret(with_deadline(
            fake("default", "slower").get("hello", "", ""),
            Duration::from_millis(200),
        ))
        .await;
    let elapsed = started.elapsed();
    match result {
        Ok(value) => return Err(format!("expected a deadline error, got {:?}", value.into_inner()).into()),
        Err(status) => check!(
            matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
            "expected DEADLINE_EXCEEDED or CANCELLED, got {:?}: {}",
            status.code(),
            status.message()
        ),
    }
    check!(
        elapsed < Duration::from_millis(1500),
        "the call returned after {elapsed:?}, not soon after its 200ms deadline (backend latency 2s)"
    );
    // The server is still fine afterwards.
    check_eq!(
        get(&mut client, fake("default", "fake").get("hello", "", ""))
            .await
            .map_err(|s| s.to_string())?,
        "world",
        "after the deadline"
    );
    Ok(())
}

#[tokio::test]
async fn refuses_to_start_without_manifests() -> TestResult {
    let mut process = Process::spawn(
        &["--dev", "--dev-dir", "{dev}", "--grpc-port", "0", "--metrics-port", "0"],
        "",
    )?;
    let status = process.exit_status().await?;
    check!(!status.success(), "must fail without --manifests: {status}");
    let log = process.log();
    check!(
        log.contains("--manifests"),
        "the error must mention --manifests:\n{log}"
    );
    Ok(())
}

#[tokio::test]
async fn refuses_to_start_with_a_missing_manifests_folder() -> TestResult {
    let mut process = Process::spawn(
        &[
            "--dev",
            "--dev-dir",
            "{dev}",
            "--grpc-port",
            "0",
            "--metrics-port",
            "0",
            "--manifests",
            "{manifests}/does-not-exist",
        ],
        "",
    )?;
    let status = process.exit_status().await?;
    check!(!status.success(), "must fail with a missing folder: {status}");
    let log = process.log();
    check!(log.contains("does-not-exist"), "the error must name the folder:\n{log}");
    Ok(())
}
