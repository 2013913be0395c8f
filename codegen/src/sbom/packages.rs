//! What cargo knows of each package beyond the graph: its license, where it comes from
//! (`cargo metadata`) and the SHA-256 of its `.crate` file (the workspace's Cargo.lock);
//! and which package builds a given binary.

use super::CrateId;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The facts about one package that go into its SBOM component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    /// The `license` field, an SPDX expression (cargo's old `MIT/Apache-2.0` included).
    pub license: Option<String>,
    /// The `license-file` field, when there is no `license`.
    pub license_file: Option<String>,
    /// cargo's source id, e.g. `registry+https://…`; `None` for a local path.
    pub source: Option<String>,
    /// The SHA-256 of the `.crate` file, from Cargo.lock (registry packages only).
    pub checksum: Option<String>,
}

/// The packages of a workspace and its dependencies.
#[derive(Debug, Clone)]
pub(crate) struct Packages {
    /// Every package cargo resolved for the target.
    pub facts: BTreeMap<CrateId, Facts>,
    /// The workspace members that have a `bin` target, with those targets' names.
    pub bins: BTreeMap<CrateId, Vec<String>>,
}

/// The part of `cargo metadata --format-version 1` read here.
#[derive(Debug, Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
    workspace_root: PathBuf,
}

#[derive(Debug, Deserialize)]
struct Package {
    id: String,
    name: String,
    version: String,
    license: Option<String>,
    license_file: Option<String>,
    source: Option<String>,
    targets: Vec<Target>,
}

#[derive(Debug, Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

/// The part of Cargo.lock read here.
#[derive(Debug, Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockedPackage>,
}

#[derive(Debug, Deserialize)]
struct LockedPackage {
    name: String,
    version: String,
    checksum: Option<String>,
}

impl Packages {
    /// Runs `cargo metadata` for the manifest and the target and reads the workspace's
    /// Cargo.lock (a workspace without one gets no hashes).
    pub fn load(manifest_path: &Path, target: &str, locked: bool, offline: bool) -> Result<Self> {
        let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        command
            .args([
                "metadata",
                "--format-version",
                "1",
                "--color",
                "never",
                "--manifest-path",
            ])
            .arg(manifest_path)
            .args(["--filter-platform", target]);
        if locked {
            command.arg("--locked");
        }
        if offline {
            command.arg("--offline");
        }
        let output = command.output().context("running cargo metadata")?;
        if !output.status.success() {
            bail!(
                "cargo metadata failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let metadata: Metadata =
            serde_json::from_slice(&output.stdout).context("reading the output of cargo metadata")?;
        let lock_path = metadata.workspace_root.join("Cargo.lock");
        let checksums = match std::fs::read_to_string(&lock_path) {
            Ok(text) => checksums(&text).with_context(|| format!("reading {}", lock_path.display()))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(error) => return Err(error).with_context(|| format!("reading {}", lock_path.display())),
        };
        Ok(Self::from_metadata(metadata, &checksums))
    }

    fn from_metadata(metadata: Metadata, checksums: &BTreeMap<CrateId, String>) -> Self {
        let mut facts = BTreeMap::new();
        let mut bins = BTreeMap::new();
        for package in metadata.packages {
            let id = CrateId {
                name: package.name,
                version: package.version,
            };
            if metadata.workspace_members.contains(&package.id) {
                let names: Vec<String> = package
                    .targets
                    .into_iter()
                    .filter(|target| target.kind.iter().any(|kind| kind == "bin"))
                    .map(|target| target.name)
                    .collect();
                if !names.is_empty() {
                    bins.insert(id.clone(), names);
                }
            }
            let checksum = checksums.get(&id).cloned();
            facts.insert(
                id,
                Facts {
                    license: package.license,
                    license_file: package.license_file,
                    source: package.source,
                    checksum,
                },
            );
        }
        Self { facts, bins }
    }

    /// The workspace member whose `bin` target is named `bin`.
    pub fn package_of_bin(&self, bin: &str) -> Result<CrateId> {
        let owners: Vec<&CrateId> = self
            .bins
            .iter()
            .filter(|(_, names)| names.iter().any(|name| name == bin))
            .map(|(id, _)| id)
            .collect();
        match owners.as_slice() {
            [one] => Ok((*one).clone()),
            [] => {
                let all: Vec<&str> = self.bins.values().flatten().map(String::as_str).collect();
                bail!(
                    "no package of the workspace has a binary {bin:?} (binaries: {})",
                    if all.is_empty() {
                        "none".to_string()
                    } else {
                        all.join(", ")
                    }
                )
            }
            several => bail!(
                "several packages have a binary {bin:?}: {}",
                several.iter().map(|id| id.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// Each locked registry package's `.crate` SHA-256.
fn checksums(lock: &str) -> Result<BTreeMap<CrateId, String>> {
    let lock: Lock = toml::from_str(lock)?;
    Ok(lock
        .package
        .into_iter()
        .filter_map(|package| {
            let checksum = package.checksum?;
            Some((
                CrateId {
                    name: package.name,
                    version: package.version,
                },
                checksum,
            ))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str, version: &str) -> CrateId {
        CrateId {
            name: name.into(),
            version: version.into(),
        }
    }

    #[test]
    fn checksums_come_from_the_lock_file() -> Result<()> {
        let lock = r#"
version = 4

[[package]]
name = "acme"
version = "0.1.0"
dependencies = ["serde"]

[[package]]
name = "serde"
version = "1.0.228"
source = "registry+https://example.invalid/index"
checksum = "9a8e94ea7f378bd32cbbd37198a4a91436180c5bb472411e48b5ec2e2124ae9e"
"#;
        let sums = checksums(lock)?;
        assert_eq!(sums.len(), 1);
        assert_eq!(
            sums[&id("serde", "1.0.228")],
            "9a8e94ea7f378bd32cbbd37198a4a91436180c5bb472411e48b5ec2e2124ae9e"
        );
        assert!(checksums("package = 3").is_err());
        Ok(())
    }

    #[test]
    fn a_bin_is_found_in_exactly_one_member() -> Result<()> {
        let metadata: Metadata = serde_json::from_value(serde_json::json!({
            "workspace_root": "/src",
            "workspace_members": ["path+file:///src/a#a@0.1.0", "path+file:///src/b#b@0.2.0"],
            "packages": [
                {"id": "path+file:///src/a#a@0.1.0", "name": "a", "version": "0.1.0", "license": "MIT",
                 "license_file": null, "source": null,
                 "targets": [{"name": "a", "kind": ["lib"]}, {"name": "a-server", "kind": ["bin"]}, {"name": "tool", "kind": ["bin"]}]},
                {"id": "path+file:///src/b#b@0.2.0", "name": "b", "version": "0.2.0", "license": null,
                 "license_file": "LICENSE", "source": null,
                 "targets": [{"name": "tool", "kind": ["bin"]}]},
                {"id": "registry+x#dep@1.0.0", "name": "dep", "version": "1.0.0", "license": "MIT/Apache-2.0",
                 "license_file": null, "source": "registry+x", "targets": [{"name": "dep-bin", "kind": ["bin"]}]}
            ]
        }))?;
        let checksums = BTreeMap::from([(id("dep", "1.0.0"), "00ff".to_string())]);
        let packages = Packages::from_metadata(metadata, &checksums);
        assert_eq!(packages.package_of_bin("a-server")?, id("a", "0.1.0"));
        let several = format!("{:#}", packages.package_of_bin("tool").err().context("tool is in two")?);
        assert!(
            several.contains("several packages") && several.contains("a, b"),
            "{several}"
        );
        let none = format!(
            "{:#}",
            packages.package_of_bin("dep-bin").err().context("not a member")?
        );
        assert!(none.contains("a-server, tool, tool"), "{none}");
        let dep = &packages.facts[&id("dep", "1.0.0")];
        assert_eq!(dep.checksum.as_deref(), Some("00ff"));
        assert_eq!(dep.source.as_deref(), Some("registry+x"));
        assert_eq!(
            packages.facts[&id("b", "0.2.0")].license_file.as_deref(),
            Some("LICENSE")
        );
        Ok(())
    }
}
