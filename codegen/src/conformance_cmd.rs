//! `eso-gen conformance`: runs the conformance suite
//! ([`eso_runtime::testing::conformance`]) against a running provider by address,
//! the way ESO core reaches it (`host:port`, mutual TLS), and prints one line per
//! case, a summary, and optionally JUnit XML.
//!
//! Exit codes: 0 every case passed or was skipped; 1 a case failed; 2 the suite
//! could not run (bad arguments, unreadable files, provider unreachable).

use crate::call::{Failure, connect};
use crate::request::{DEFAULT_API_VERSION, DEFAULT_NAMESPACE, DEFAULT_STORE_KIND};
use anyhow::{Context, anyhow, bail};
use eso_runtime::client::ClientTls;
use eso_runtime::testing::conformance::{self, Fixtures, Options, Service, Target};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Which service the target object is served by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceArg {
    /// A secret store kind (`provider.v1.SecretStoreProvider`).
    Store,
    /// A generator kind (`generator.v1.GeneratorProvider`).
    Generator,
}

/// Arguments of `eso-gen conformance`.
#[derive(Debug, clap::Args)]
pub struct ConformanceArgs {
    /// The provider's `host:port` without a scheme, as ESO core dials it, e.g.
    /// `localhost:8080`. With TLS, the server certificate must carry the host.
    #[arg(required_unless_present = "list")]
    address: Option<String>,
    /// A folder with the client's `ca.crt`, `tls.crt` and `tls.key`, e.g.
    /// `certs/client` from `eso-gen certs`, or `<dev-dir>/client` from `--dev`.
    #[arg(long, value_name = "DIR")]
    certs: Option<PathBuf>,
    /// Connect without TLS: only for providers started with `--insecure-plaintext`.
    #[arg(long, conflicts_with = "certs")]
    plaintext: bool,
    /// The kind of the object to run against, e.g. `Fake`.
    #[arg(long, required_unless_present = "list")]
    kind: Option<String>,
    /// The object's apiVersion [default: provider.external-secrets.io/v2alpha1].
    #[arg(long, value_name = "GROUP/VERSION")]
    api_version: Option<String>,
    /// The object's name.
    #[arg(long, required_unless_present = "list")]
    name: Option<String>,
    /// The object's namespace; the calls come from it [default: default].
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,
    /// The ESO object the calls come through: SecretStore, ClusterSecretStore,
    /// Provider, ClusterProvider, … [default: SecretStore].
    #[arg(long, value_name = "KIND", visible_alias = "store-kind")]
    store_ref_kind: Option<String>,
    /// Whether the kind is a secret store or a generator.
    #[arg(long, value_enum, default_value = "store")]
    service: ServiceArg,
    /// A YAML file saying what the backend holds (see the book's conformance
    /// chapter): the read cases check it byte for byte.
    #[arg(long, value_name = "FILE")]
    fixtures: Option<PathBuf>,
    /// Also write the report as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Print every case's id, what it needs and its description, and exit.
    #[arg(long)]
    list: bool,
    /// How long one case may take before it fails.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = eso_runtime::util::parse_duration)]
    case_timeout: Duration,
    /// Retry connecting for up to this long while the provider starts.
    #[arg(long, value_name = "DURATION", value_parser = eso_runtime::util::parse_duration)]
    wait: Option<Duration>,
}

/// The first line of every run.
pub fn banner() -> String {
    format!(
        "eso-gen conformance {} ({})",
        env!("CARGO_PKG_VERSION"),
        conformance::SUITE_VERSION
    )
}

/// Runs `eso-gen conformance` and returns the exit code.
pub fn run(args: &ConformanceArgs) -> ExitCode {
    if args.list {
        println!("{}", banner());
        println!("{}", conformance::list());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(conform(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// The target the flags name.
fn target(args: &ConformanceArgs) -> anyhow::Result<Target> {
    let (Some(kind), Some(name)) = (&args.kind, &args.name) else {
        bail!("--kind and --name are required");
    };
    let api_version = args.api_version.as_deref().unwrap_or(DEFAULT_API_VERSION);
    if api_version.split('/').count() != 2 || api_version.split('/').any(str::is_empty) {
        bail!("--api-version {api_version:?} is not of the form group/version");
    }
    let service = match args.service {
        ServiceArg::Store => Service::Store,
        ServiceArg::Generator => Service::Generator,
    };
    let namespace = args.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    let target = Target::new(service, api_version, kind, namespace, name);
    Ok(match &args.store_ref_kind {
        Some(store_ref_kind) if service == Service::Generator => {
            bail!("--store-ref-kind {store_ref_kind} is for stores; generators have no store reference")
        }
        Some(store_ref_kind) => target.through(store_ref_kind),
        None => target.through(DEFAULT_STORE_KIND),
    })
}

/// Runs the suite; `Ok(true)` when no case failed.
async fn conform(args: &ConformanceArgs) -> anyhow::Result<bool> {
    let target = target(args)?;
    let fixtures = match &args.fixtures {
        Some(path) => Fixtures::from_file(path).map_err(|error| anyhow!("--fixtures: {}", error.message()))?,
        None => Fixtures::new(),
    };
    if args.case_timeout.is_zero() {
        bail!("--case-timeout must be longer than 0s");
    }
    let tls = match (&args.certs, args.plaintext) {
        (Some(dir), _) => {
            Some(ClientTls::from_dir(dir).map_err(|error| anyhow!("--certs {}: {error}", dir.display()))?)
        }
        (None, true) => None,
        (None, false) => bail!(
            "no --certs DIR given: pass the folder with the client's ca.crt, tls.crt and tls.key \
             (e.g. certs/client from eso-gen certs), or --plaintext for a provider started with --insecure-plaintext"
        ),
    };
    let address = args.address.as_deref().context("the provider's address is required")?;
    let client = connect(address, tls.as_ref(), args.wait)
        .await
        .map_err(|failure| match failure {
            Failure::Connect(message) => anyhow!(message),
            Failure::Usage(error) => error,
            Failure::Status(status) => anyhow!("{}", status.message()),
        })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", banner())?;
    writeln!(out, "target: {} at {address}", target.describe())?;
    out.flush()?;
    drop(out);
    let options = Options {
        case_timeout: args.case_timeout,
    };
    let report = conformance::run_with(client, &target, &fixtures, &options).await;
    let mut out = std::io::stdout().lock();
    for case in &report.cases {
        writeln!(out, "{}", case.line())?;
    }
    writeln!(out, "{}", report.summary())?;
    out.flush()?;
    if let Some(path) = &args.junit {
        std::fs::write(path, report.junit_xml()).with_context(|| format!("cannot write --junit {}", path.display()))?;
    }
    Ok(report.passed())
}
