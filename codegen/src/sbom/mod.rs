//! `eso-gen sbom`: a CycloneDX 1.6 JSON software bill of materials for one provider
//! binary: every crate compiled for it, as cargo builds it for the target.
//!
//! - [`tree`]: the graph, from `cargo tree` (features as `cargo build` resolves them).
//! - [`packages`]: licenses and sources (`cargo metadata`), hashes (Cargo.lock).
//! - [`walk`]: the crates with their roles (linked, proc macro, build script only).
//! - [`cyclonedx`]: the JSON document, deterministic.
//!
//! [`sbom`] is the whole of it for a [`Request`], for other commands to call (`eso-gen image`,
//! for the image of each provider it builds). The same [`Walk`] counts the example providers' crates
//! (`examples/dependencies.toml`, checked by `codegen/tests/sbom.rs`).

mod cyclonedx;
mod packages;
mod tree;
mod walk;

pub use walk::{CrateId, Role, Walk};

use anyhow::{Context, Result};
use serde_json::Value;
use std::path::PathBuf;

/// The target an SBOM describes unless told otherwise: the Linux containers providers ship in.
pub const DEFAULT_TARGET: &str = "x86_64-unknown-linux-gnu";

/// Arguments of `eso-gen sbom`.
#[derive(Debug, clap::Args)]
pub struct SbomArgs {
    /// The Cargo.toml of the provider's project (or of its workspace).
    #[arg(long, default_value = "Cargo.toml")]
    manifest_path: PathBuf,
    /// The provider binary: a `[[bin]]` of a package of that workspace.
    #[arg(long)]
    bin: String,
    /// The target triple the binary is built for.
    #[arg(long, default_value = DEFAULT_TARGET)]
    target: String,
    /// Features of the binary's package to activate (comma-separated), as for cargo build.
    #[arg(long, value_delimiter = ',')]
    features: Vec<String>,
    /// Leave the package's default features off, as for cargo build.
    #[arg(long)]
    no_default_features: bool,
    /// Also list the crates only build scripts use (scope `excluded`, role `build`).
    #[arg(long)]
    build_deps: bool,
    /// Refuse to update Cargo.lock (cargo's --locked).
    #[arg(long)]
    locked: bool,
    /// Do not use the network (cargo's --offline).
    #[arg(long)]
    offline: bool,
    /// Write the SBOM to this file instead of standard output.
    #[arg(long, value_name = "FILE", conflicts_with = "summary")]
    out: Option<PathBuf>,
    /// Print how many crates the binary is built from, by role, and its duplicates,
    /// instead of the SBOM (the numbers of `examples/dependencies.toml`).
    #[arg(long)]
    summary: bool,
}

/// What to describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The Cargo.toml of the project or workspace.
    pub manifest_path: PathBuf,
    /// The binary's name.
    pub bin: String,
    /// The target triple.
    pub target: String,
    /// Features of the binary's package.
    pub features: Vec<String>,
    /// Leave the package's default features off.
    pub no_default_features: bool,
    /// List the crates only build scripts use too.
    pub build_deps: bool,
    /// cargo's `--locked`.
    pub locked: bool,
    /// cargo's `--offline`.
    pub offline: bool,
}

impl Request {
    /// The SBOM of `bin` in the workspace of `manifest_path`, for [`DEFAULT_TARGET`], with the
    /// package's default features, build scripts' crates left out.
    pub fn new(manifest_path: impl Into<PathBuf>, bin: impl Into<String>) -> Self {
        Request {
            manifest_path: manifest_path.into(),
            bin: bin.into(),
            target: DEFAULT_TARGET.to_string(),
            features: Vec::new(),
            no_default_features: false,
            build_deps: false,
            locked: false,
            offline: false,
        }
    }

    fn packages(&self) -> Result<packages::Packages> {
        packages::Packages::load(&self.manifest_path, &self.target, self.locked, self.offline)
    }

    fn walk_with(&self, packages: &packages::Packages) -> Result<Walk> {
        let package = packages.package_of_bin(&self.bin)?;
        let spec = format!("{}@{}", package.name, package.version);
        let query = tree::TreeQuery {
            manifest_path: &self.manifest_path,
            package: &spec,
            target: &self.target,
            features: &self.features,
            no_default_features: self.no_default_features,
            locked: self.locked,
            offline: self.offline,
        };
        Walk::run(&query, &self.bin, self.build_deps)
    }
}

/// The crates the binary is built from, with their roles.
pub fn walk(request: &Request) -> Result<Walk> {
    request.walk_with(&request.packages()?)
}

/// The CycloneDX 1.6 JSON SBOM of the binary. The timestamp is `SOURCE_DATE_EPOCH`'s, or
/// there is none.
pub fn sbom(request: &Request) -> Result<Value> {
    let packages = request.packages()?;
    let walk = request.walk_with(&packages)?;
    let epoch = std::env::var("SOURCE_DATE_EPOCH").ok();
    let timestamp = cyclonedx::timestamp(epoch.as_deref())?;
    Ok(cyclonedx::document(&walk, &packages.facts, timestamp.as_deref()))
}

/// `--summary`: the counts by role and the duplicates.
fn summary(walk: &Walk) -> String {
    let compiled = [Role::Linked, Role::ProcMacro];
    let mut text = format!(
        "{} ({} {}, {}): {} crates compiled for it, its own included: {} linked, {} proc macros and what only they use\n",
        walk.bin,
        walk.root.name,
        walk.root.version,
        walk.target,
        walk.count(&compiled),
        walk.count(&[Role::Linked]),
        walk.count(&[Role::ProcMacro]),
    );
    if walk.crates.values().any(|role| *role == Role::Build) {
        text.push_str(&format!("build scripts only: {} crates\n", walk.count(&[Role::Build])));
    }
    let duplicates = walk.duplicates(&compiled);
    text.push_str(&format!(
        "more than one version: {}\n",
        if duplicates.is_empty() {
            "none".to_string()
        } else {
            duplicates.join(", ")
        }
    ));
    text
}

/// Runs `eso-gen sbom`.
pub fn run(args: &SbomArgs) -> Result<()> {
    let request = Request {
        target: args.target.clone(),
        features: args.features.clone(),
        no_default_features: args.no_default_features,
        build_deps: args.build_deps,
        locked: args.locked,
        offline: args.offline,
        ..Request::new(&args.manifest_path, &args.bin)
    };
    if args.summary {
        print!("{}", summary(&walk(&request)?));
        return Ok(());
    }
    let document = sbom(&request)?;
    let mut text = serde_json::to_string_pretty(&document).context("writing the SBOM as JSON")?;
    text.push('\n');
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            let count = document["components"].as_array().map_or(0, Vec::len);
            eprintln!("wrote {} ({} components)", path.display(), count);
        }
        None => print!("{text}"),
    }
    Ok(())
}
