//! The benchmark report: the Fake provider on the full runtime against a bare
//! tonic + rustls server, and the provider binary as its own process.
//!
//! - GetSecret latency (p50, p99) and throughput at 1, 16, 64 and 256 callers on
//!   one mTLS connection, for the runtime (files and Kubernetes sources) and bare
//!   tonic, in alternating timed rounds, with the runtime/bare ratios;
//! - GetAllSecrets of 10,000 secrets just under and over the 4 MiB message limit
//!   (OUT_OF_RANGE asserted);
//! - the `fake-provider` process: binary size, time to SERVING, memory idle and
//!   under load;
//! - memory under attack: many never-finished 4 MiB request bodies on one
//!   connection, and 20,000 concurrent calls on one connection.
//!
//! ```text
//! cargo bench -p eso-example-fake --bench report        # everything; rewrites book/src/benchmarks.md
//! BENCH_SECTIONS=getsecret cargo bench -p eso-example-fake --bench report   # one section, printed only
//! BENCH_SMOKE=1 cargo bench -p eso-example-fake --bench report              # tiny sizes: does it run?
//! BENCH_MODE=callgrind BENCH_TARGET=runtime BENCH_CALLS=2000 …/report --bench # see examples/fake/callgrind.sh
//! ```
//!
//! Run without `--bench` (as `cargo test --all-targets` does), it makes the smoke
//! run and writes nothing. Every response is checked, so a wrong value or a failed
//! call fails the run; speed is measured, not asserted.

#[path = "attack.rs"]
pub mod attack;
#[path = "bulk.rs"]
pub mod bulk;
#[path = "callgrind.rs"]
pub mod callgrind;
#[path = "latency.rs"]
pub mod latency;
#[path = "markdown.rs"]
pub mod markdown;
#[path = "process.rs"]
pub mod process;
#[path = "servers.rs"]
pub mod servers;

use servers::Which;
use std::path::Path;
use std::time::Duration;

/// Everything the report measures, and how much.
#[derive(Debug, Clone)]
pub struct Config {
    /// Tiny sizes, for tests.
    pub smoke: bool,
    /// Sections to run (`getsecret`, `getall`, `process`, `attack`).
    pub sections: Vec<String>,
    /// Whether the Kubernetes source is measured too.
    pub kube: bool,
    /// Whether the provider binary's log subscriber is installed (`BENCH_LOG`).
    pub log: bool,
    /// GetSecret section.
    pub latency: latency::Settings,
    /// GetAllSecrets section.
    pub bulk: Vec<bulk::Case>,
    /// Process section.
    pub process: process::Settings,
    /// Attack section.
    pub attack: attack::Settings,
}

/// The sections, in order.
pub const SECTIONS: [&str; 4] = ["getsecret", "getall", "process", "attack"];

fn number(name: &str, default: usize) -> Result<usize, String> {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{name}={text:?} is not a positive number")),
        Err(_) => Ok(default),
    }
}

fn seconds(name: &str, default: f64) -> Result<Duration, String> {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| *s > 0.0)
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or_else(|| format!("{name}={text:?} is not a positive number of seconds")),
        Err(_) => Ok(Duration::from_secs_f64(default)),
    }
}

impl Config {
    /// The full report, with `BENCH_*` overrides.
    pub fn from_env() -> Result<Self, String> {
        if std::env::var("BENCH_SMOKE").is_ok_and(|v| v == "1") {
            return Ok(Self::smoke());
        }
        let concurrencies = match std::env::var("BENCH_CONCURRENCY") {
            Ok(list) => list
                .split(',')
                .map(|n| n.trim().parse::<usize>().ok().filter(|n| *n > 0))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("BENCH_CONCURRENCY={list:?} is not a list like 1,16,64,256"))?,
            Err(_) => vec![1, 16, 64, 256],
        };
        let sections = match std::env::var("BENCH_SECTIONS") {
            Ok(list) => {
                let sections: Vec<String> = list.split(',').map(|s| s.trim().to_string()).collect();
                if let Some(unknown) = sections.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
                    return Err(format!(
                        "BENCH_SECTIONS: unknown section {unknown:?}; known: {SECTIONS:?}"
                    ));
                }
                sections
            }
            Err(_) => SECTIONS.iter().map(|s| s.to_string()).collect(),
        };
        let load = seconds("BENCH_LOAD_SECS", 3.0)?;
        Ok(Config {
            smoke: false,
            sections,
            kube: std::env::var("BENCH_KUBE").map_or(true, |v| v != "0"),
            log: log_enabled(),
            latency: latency::Settings {
                concurrencies,
                // Short rounds, many of them: a neighbour's build that starts mid-run
                // lands on every server alike.
                rounds: number("BENCH_ROUNDS", 9)?,
                round: seconds("BENCH_ROUND_SECS", 1.0)?,
                warmup: seconds("BENCH_WARMUP_SECS", 0.5)?,
            },
            bulk: vec![
                bulk::Case {
                    count: 10_000,
                    size: 300,
                    calls: 10,
                    fits: true,
                },
                bulk::Case {
                    count: 10_000,
                    size: 1024,
                    calls: 3,
                    fits: false,
                },
            ],
            process: process::Settings {
                starts: number("BENCH_STARTS", 5)?,
                load,
                load_concurrency: 256,
                bulk: bulk::Case {
                    count: 10_000,
                    size: 300,
                    calls: 0,
                    fits: true,
                },
                bulk_concurrency: 8,
                settle: Duration::from_millis(500),
            },
            attack: attack::Settings {
                streams: number("BENCH_ATTACK_STREAMS", 400)?,
                body_bytes: 4 << 20,
                calls: number("BENCH_ATTACK_CALLS", 20_000)?,
                latency: "5s",
                limit: seconds("BENCH_ATTACK_SECS", 20.0)?,
                rss_cap_kib: number("BENCH_ATTACK_RSS_CAP_MIB", 6144)? as u64 * 1024,
                settle: Duration::from_secs(1),
            },
        })
    }

    /// A few calls and small sizes, to check that everything runs (tests, CI).
    pub fn smoke() -> Self {
        Config {
            smoke: true,
            sections: SECTIONS.iter().map(|s| s.to_string()).collect(),
            kube: true,
            log: log_enabled(),
            latency: latency::Settings {
                concurrencies: vec![1, 4],
                rounds: 1,
                round: Duration::from_millis(60),
                warmup: Duration::from_millis(10),
            },
            bulk: vec![
                bulk::Case {
                    count: 100,
                    size: 300,
                    calls: 2,
                    fits: true,
                },
                // Few, large values: over the limit without a slow parse in a debug build.
                bulk::Case {
                    count: 5,
                    size: 1 << 20,
                    calls: 1,
                    fits: false,
                },
            ],
            process: process::Settings {
                starts: 1,
                load: Duration::from_millis(100),
                load_concurrency: 4,
                bulk: bulk::Case {
                    count: 100,
                    size: 300,
                    calls: 0,
                    fits: true,
                },
                bulk_concurrency: 2,
                settle: Duration::from_millis(20),
            },
            attack: attack::Settings {
                streams: 4,
                body_bytes: 128 << 10,
                calls: 50,
                latency: "100ms",
                limit: Duration::from_secs(10),
                rss_cap_kib: 2 << 20,
                settle: Duration::from_millis(20),
            },
        }
    }

    fn runs(&self, section: &str) -> bool {
        self.sections.iter().any(|s| s == section)
    }

    /// Whether every section runs at full size (only then is the book rewritten).
    pub fn is_full(&self) -> bool {
        !self.smoke && SECTIONS.iter().all(|s| self.runs(s))
    }
}

/// What the report measured; `None` for sections not run.
#[derive(Debug, Clone)]
pub struct Report {
    /// How it was measured.
    pub config: Config,
    /// `/proc/loadavg` at the start.
    pub load_average: Option<String>,
    /// GetSecret rows.
    pub latency: Option<Vec<latency::Row>>,
    /// GetAllSecrets outcomes.
    pub bulk: Option<Vec<bulk::Outcome>>,
    /// The provider process.
    pub process: Option<process::Report>,
    /// The attacks.
    pub attacks: Option<Vec<attack::Report>>,
}

/// Runs the sections `config` asks for.
pub async fn run(config: Config) -> Result<Report, String> {
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    let mut report = Report {
        config: config.clone(),
        load_average,
        latency: None,
        bulk: None,
        process: None,
        attacks: None,
    };
    if config.runs("getsecret") {
        eprintln!("GetSecret: {:?} callers", config.latency.concurrencies);
        let which: &[Which] = if config.kube {
            &[Which::Files, Which::Kube, Which::Bare]
        } else {
            &[Which::Files, Which::Bare]
        };
        let (servers, targets) = servers::start(which).await?;
        let rows = latency::run(&targets, &config.latency).await?;
        drop(targets);
        servers.stop().await?;
        report.latency = Some(rows);
    }
    if config.runs("getall") {
        eprintln!("GetAllSecrets");
        report.bulk = Some(bulk::run(&config.bulk).await?);
    }
    if config.runs("process") {
        eprintln!("the provider process ({})", process::BINARY);
        report.process = Some(process::run(&config.process).await?);
    }
    if config.runs("attack") {
        eprintln!("attack (a)");
        let slow_bodies = attack::slow_bodies(&config.attack).await?;
        eprintln!("attack (b)");
        let many_calls = attack::many_calls(&config.attack).await?;
        report.attacks = Some(vec![slow_bodies, many_calls]);
    }
    Ok(report)
}

/// The book chapter the report is written into.
pub fn book_path() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../book/src/benchmarks.md"))
}

/// `BENCH_LOG` is not `0`.
pub fn log_enabled() -> bool {
    std::env::var("BENCH_LOG").map_or(true, |v| v != "0")
}

/// The provider binary's log subscriber (its default filter, or `RUST_LOG`), as a
/// deployed provider runs; `BENCH_LOG=0`: none (then `tracing` falls back to
/// `log` checks at every callsite, which costs the bare server more than the
/// subscriber does).
fn install_log_subscriber() {
    if log_enabled() {
        eso_runtime::testing::install_provider_logging("eso-example-fake");
    }
}

fn callgrind_mode() -> Result<(), String> {
    install_log_subscriber();
    let which = match std::env::var("BENCH_TARGET").as_deref() {
        Ok("runtime") | Ok("files") => Which::Files,
        Ok("kube") => Which::Kube,
        Ok("bare") => Which::Bare,
        other => return Err(format!("BENCH_TARGET={other:?}: expected runtime, kube or bare")),
    };
    callgrind::run(which, number("BENCH_CALLS", 2000)?, number("BENCH_WARMUP", 200)?)
}

fn report_mode() -> Result<(), String> {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs benches without it.
    let benching = std::env::args().any(|a| a == "--bench");
    let config = if benching { Config::from_env()? } else { Config::smoke() };
    install_log_subscriber();
    let full = config.is_full();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let report = runtime.block_on(run(config))?;
    let text = markdown::render(&report);
    print!("{text}");
    if full && std::env::var("BENCH_WRITE").map_or(true, |v| v != "0") {
        markdown::write_book(book_path(), &text)?;
        eprintln!("written to {}", book_path().display());
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let result = match std::env::var("BENCH_MODE").as_deref() {
        Ok("callgrind") => callgrind_mode(),
        Ok("report") | Err(_) => report_mode(),
        Ok(other) => Err(format!("BENCH_MODE={other:?}: expected report or callgrind")),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
