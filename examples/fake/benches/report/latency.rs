//! GetSecret latency and throughput at several concurrencies: for each, the
//! servers take turns in timed rounds (who goes first rotates), so that all see
//! the same machine; every call is timed.

use super::servers::{Target, call};
use std::time::{Duration, Instant};

/// How the GetSecret section measures.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Concurrent callers, one measurement each.
    pub concurrencies: Vec<usize>,
    /// Rounds per server and concurrency.
    pub rounds: usize,
    /// Length of one round.
    pub round: Duration,
    /// Unmeasured calls per server before each concurrency.
    pub warmup: Duration,
}

/// One server at one concurrency.
#[derive(Debug, Clone)]
pub struct Row {
    /// Concurrent callers.
    pub concurrency: usize,
    /// Which server.
    pub name: &'static str,
    /// Latency, median.
    pub p50: Duration,
    /// Latency, 99th percentile.
    pub p99: Duration,
    /// Calls per second.
    pub throughput: f64,
    /// Calls measured.
    pub calls: usize,
    /// Calls per second in each round (same order for every server).
    pub round_throughputs: Vec<f64>,
}

impl Row {
    /// The lowest and highest per-round ratio of this row's throughput to `baseline`'s:
    /// how much the machine moved the figure during the run.
    pub fn round_ratio_range(&self, baseline: &Row) -> Option<(f64, f64)> {
        let ratios: Vec<f64> = self
            .round_throughputs
            .iter()
            .zip(&baseline.round_throughputs)
            .filter(|(_, b)| **b > 0.0)
            .map(|(r, b)| r / b)
            .collect();
        let low = ratios.iter().copied().reduce(f64::min)?;
        let high = ratios.iter().copied().reduce(f64::max)?;
        Some((low, high))
    }
}

/// What `concurrency` callers sharing the target's connection did until `until`.
pub async fn burst(target: &Target, concurrency: usize, until: Instant) -> Result<(Vec<Duration>, Duration), String> {
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let mut client = target.client.clone();
            let request = target.request.clone();
            let name = target.name;
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < until {
                    let begun = Instant::now();
                    call(&mut client, &request, name).await?;
                    latencies.push(begun.elapsed());
                }
                Ok::<_, String>(latencies)
            })
        })
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.map_err(|e| format!("a caller panicked: {e}"))??);
    }
    Ok((all, started.elapsed()))
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// Measures every target at every concurrency; rows in the order concurrency, then target.
pub async fn run(targets: &[Target], settings: &Settings) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    let count = targets.len();
    for &concurrency in &settings.concurrencies {
        for target in targets {
            burst(target, concurrency, Instant::now() + settings.warmup).await?;
        }
        let mut latencies: Vec<Vec<Duration>> = vec![Vec::new(); count];
        let mut elapsed = vec![Duration::ZERO; count];
        let mut rounds: Vec<Vec<f64>> = vec![Vec::new(); count];
        for round in 0..settings.rounds.max(1) {
            for index in (0..count).map(|i| (i + round) % count) {
                let (samples, time) = burst(&targets[index], concurrency, Instant::now() + settings.round).await?;
                rounds[index].push(samples.len() as f64 / time.as_secs_f64().max(1e-9));
                latencies[index].extend(samples);
                elapsed[index] += time;
            }
        }
        for (((target, mut samples), time), round_throughputs) in targets.iter().zip(latencies).zip(elapsed).zip(rounds)
        {
            samples.sort_unstable();
            rows.push(Row {
                concurrency,
                name: target.name,
                p50: percentile(&samples, 50),
                p99: percentile(&samples, 99),
                throughput: samples.len() as f64 / time.as_secs_f64().max(1e-9),
                calls: samples.len(),
                round_throughputs,
            });
        }
    }
    Ok(rows)
}
