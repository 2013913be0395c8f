//! Runs the GetSecret benchmark with a handful of calls, so that CI notices when it
//! breaks (every response is checked against the expected value). The numbers of a
//! debug build mean nothing and are not looked at beyond being measured.

#[path = "../benches/get_secret.rs"]
#[allow(dead_code)]
mod get_secret;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn benchmark_runs_against_every_server() -> Result<(), String> {
    let config = get_secret::Config::smoke();
    let measurements = get_secret::run(config).await?;
    if measurements.len() != 3 {
        return Err(format!("expected three servers: {measurements:?}"));
    }
    for measurement in &measurements {
        if measurement.p50.is_zero()
            || measurement.p99 < measurement.p50
            || measurement.throughput.is_nan()
            || measurement.throughput <= 0.0
        {
            return Err(format!("implausible numbers: {measurement:?}"));
        }
    }
    let table = get_secret::table(&config, &measurements);
    for needle in [
        "runtime (Fake, files)",
        "runtime (Fake, Kubernetes)",
        "bare tonic",
        "(Fake, Kubernetes) / bare",
        "latency p50 (µs)",
        "throughput (calls/s)",
    ] {
        if !table.contains(needle) {
            return Err(format!("the table lacks {needle:?}:\n{table}"));
        }
    }
    Ok(())
}
