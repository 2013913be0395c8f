//! Which provider binary a command describes, and its `manifest`: the one place
//! `eso-gen crds` and `eso-gen chart` learn what a provider serves, from the
//! binary itself, so generated files always match it.

use anyhow::{Context, Result, bail};
use eso_runtime::manifest::Manifest;
use std::path::PathBuf;
use std::process::Command;

/// The provider binary to ask: a project built and run with `cargo run`, or an
/// already-built binary.
#[derive(Debug, Clone, clap::Args)]
pub struct ProviderBinary {
    /// The provider project's Cargo.toml (the binary is built and run with `cargo run`).
    #[arg(long, default_value = "Cargo.toml", conflicts_with = "provider_bin")]
    pub manifest_path: PathBuf,
    /// The binary target to run, when the project has several.
    #[arg(long)]
    pub bin: Option<String>,
    /// Run this already-built provider binary instead of `cargo run`.
    #[arg(long)]
    pub provider_bin: Option<PathBuf>,
}

impl ProviderBinary {
    /// The binary's `manifest` subcommand output, read into the runtime's own manifest types.
    pub fn manifest(&self) -> Result<Manifest> {
        let mut command = match &self.provider_bin {
            Some(binary) => Command::new(binary),
            None => {
                let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
                cargo
                    .args(["run", "--quiet", "--manifest-path"])
                    .arg(&self.manifest_path);
                if let Some(bin) = &self.bin {
                    cargo.args(["--bin", bin]);
                }
                cargo.arg("--");
                cargo
            }
        };
        let output = command
            .arg("manifest")
            .output()
            .context("running the provider binary's `manifest` subcommand")?;
        if !output.status.success() {
            bail!(
                "the provider's `manifest` subcommand failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Manifest::from_json(&output.stdout).context("reading the output of the provider's `manifest` subcommand")
    }
}
