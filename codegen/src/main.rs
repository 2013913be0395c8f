//! `eso-gen`: the command line toolchain for External Secrets Operator providers
//! that run out of process.
//!
//! - `eso-gen certs` writes a CA, a server certificate for a provider's Service, an
//!   ESO-core-like client certificate and the `external-secrets-provider-tls` Secret.
//! - `eso-gen crds` writes a provider project's CRDs from its binary's `manifest`.
//! - `eso-gen chart` writes a provider project's Helm chart from its binary's `manifest`
//!   (regenerating keeps the user's files; `--check` reports drift).
//! - `eso-gen call` calls any RPC of a running provider the way ESO core does:
//!   `host:port` without a scheme, mutual TLS, a 30 s deadline.
//! - `eso-gen conformance` runs the conformance suite against a running provider by
//!   address (one line per case, a summary, JUnit XML with `--junit`).
//! - `eso-gen sbom --bin NAME` writes a CycloneDX JSON SBOM of a provider binary: every
//!   crate compiled for it, with licenses, hashes and the dependency graph.
//! - `eso-gen new provider NAME` / `eso-gen new generator NAME` creates a provider project
//!   (spec, example in-memory backend, tests over mTLS, manifests, Dockerfile) that builds,
//!   passes its tests and runs `--dev` at once.

mod call;
mod certs_cmd;
mod chart_cmd;
mod codec;
mod conformance_cmd;
mod crds_cmd;
mod generated;
mod json;
mod methods;
mod names;
mod new_cmd;
mod provider_bin;
mod request;
mod sbom;
mod status;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The toolchain for External Secrets Operator out-of-process providers.
#[derive(Debug, Parser)]
#[command(name = "eso-gen", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Writes a CA, server and client certificates, and the provider's TLS Secret,
    /// in the layout ESO core uses.
    Certs(certs_cmd::CertsArgs),
    /// Calls one RPC of a running provider, as ESO core would, and prints the
    /// response as JSON.
    ///
    /// Exit codes: 0 success; 1 the provider answered with an error; 2 the call
    /// could not be made (bad arguments, unreadable files, provider unreachable).
    Call(Box<call::CallArgs>),
    /// Runs the conformance suite against a running provider, as ESO core reaches
    /// it, and prints one line per case and a summary.
    ///
    /// Exit codes: 0 no case failed; 1 a case failed; 2 the suite could not run
    /// (bad arguments, unreadable files, provider unreachable).
    Conformance(Box<conformance_cmd::ConformanceArgs>),
    /// Writes the provider's CRDs (one YAML file each) from its binary's `manifest`;
    /// with --check, reports drift and exits 1 instead of writing.
    Crds(crds_cmd::CrdsArgs),
    /// Writes the provider's Helm chart from its binary's `manifest`, keeping the user's
    /// files; with --check, reports drift and exits 1 instead of writing.
    Chart(chart_cmd::ChartArgs),
    /// Creates a provider project that builds, passes its tests and runs `--dev` at once.
    New(new_cmd::NewArgs),
    /// Writes a CycloneDX 1.6 JSON SBOM of a provider binary: every crate compiled for it
    /// (as `cargo build` resolves them for the target), licenses, hashes, the graph.
    Sbom(Box<sbom::SbomArgs>),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Certs(args) => match certs_cmd::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        },
        Command::Call(args) => call::run(*args),
        Command::Conformance(args) => conformance_cmd::run(&args),
        Command::Chart(args) => match chart_cmd::run(&args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        },
        Command::Crds(args) => match crds_cmd::run(&args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        },
        Command::Sbom(args) => match sbom::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        },
        Command::New(args) => match new_cmd::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}
