//! Runs the benchmark report at smoke size, so that CI notices when it breaks:
//! every response is checked, GetAllSecrets over the limit must be OUT_OF_RANGE,
//! the provider process must start and serve, and the attacks must run to their
//! end. The numbers of a debug build mean nothing and are not looked at beyond
//! being plausible.

#[path = "../benches/report/main.rs"]
#[allow(dead_code)]
mod report;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn benchmark_report_runs_every_section() -> Result<(), String> {
    let config = report::Config::smoke();
    let result = report::run(config).await?;
    let rows = result.latency.as_ref().ok_or("no GetSecret section")?;
    for row in rows {
        if row.p50.is_zero() || row.p99 < row.p50 || row.throughput.is_nan() || row.throughput <= 0.0 || row.calls == 0
        {
            return Err(format!("implausible numbers: {row:?}"));
        }
    }
    let bulk = result.bulk.as_ref().ok_or("no GetAllSecrets section")?;
    if !bulk.iter().any(|o| o.code == "OUT_OF_RANGE") || !bulk.iter().any(|o| o.code == "OK") {
        return Err(format!("GetAllSecrets outcomes: {bulk:?}"));
    }
    let process = result.process.as_ref().ok_or("no process section")?;
    if process.idle.rss_kib == 0 || process.startups.is_empty() {
        return Err(format!("implausible process figures: {process:?}"));
    }
    for attack in result.attacks.as_ref().ok_or("no attack section")? {
        if attack.opened == 0 || attack.serving_after.is_err() {
            return Err(format!("attack: {attack:?}"));
        }
    }
    let table = report::markdown::render(&result);
    for needle in [
        "| 1 | runtime (Fake, files) |",
        "| 4 | runtime (Fake, Kubernetes) |",
        "| 4 | bare tonic |",
        "OUT_OF_RANGE",
        "spawn → gRPC health `SERVING`",
        "peak RSS (`VmHWM`)",
    ] {
        if !table.contains(needle) {
            return Err(format!("the report lacks {needle:?}:\n{table}"));
        }
    }
    Ok(())
}

#[test]
fn the_book_has_the_report_markers() -> Result<(), String> {
    let book = std::fs::read_to_string(report::book_path()).map_err(|e| e.to_string())?;
    let begin = book.find(report::markdown::BEGIN).ok_or("no begin marker")?;
    let end = book.find(report::markdown::END).ok_or("no end marker")?;
    if end < begin {
        return Err("the markers are out of order".into());
    }
    Ok(())
}
