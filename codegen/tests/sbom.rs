//! `eso-gen sbom`: the Fake provider's SBOM passes CycloneDX's own schema validator
//! (PyPI `cyclonedx-python-lib`, through `$ESO_PYTHON`: run `. .ci/tools.sh` first), lists
//! what is compiled into the binary and nothing the tests alone use, and is the same
//! byte for byte on every run; and the example providers' crate counts are the ones
//! `examples/dependencies.toml` states, so a dependency cannot grow unnoticed.

use anyhow::{Context, Result, bail, ensure};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn streams(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `eso-gen sbom --manifest-path <workspace> --locked --offline args…`, with the given
/// environment changes.
fn eso_gen_sbom(args: &[&str], env: &[(&str, Option<&str>)]) -> Result<Output> {
    let manifest = workspace().join("Cargo.toml");
    let mut command = Command::new(env!("CARGO_BIN_EXE_eso-gen"));
    command
        .arg("sbom")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["--locked", "--offline"])
        .args(args)
        .env("CARGO", env!("CARGO"))
        .stdin(Stdio::null());
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command.output().context("running eso-gen sbom")
}

/// The SBOM of `bin`, as JSON and as the bytes written.
fn sbom(bin: &str, extra: &[&str]) -> Result<(Value, Vec<u8>)> {
    let mut args = vec!["--bin", bin];
    args.extend_from_slice(extra);
    let output = eso_gen_sbom(&args, &[("SOURCE_DATE_EPOCH", None)])?;
    ensure!(
        output.status.success(),
        "eso-gen sbom --bin {bin}: {}",
        streams(&output)
    );
    let json = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("the SBOM is not JSON: {}", streams(&output)))?;
    Ok((json, output.stdout))
}

fn components(sbom: &Value) -> Result<&Vec<Value>> {
    sbom["components"].as_array().context("no components array")
}

/// A component's `eso-gen:role` property.
fn role(component: &Value) -> Option<&str> {
    component["properties"]
        .as_array()?
        .iter()
        .find(|property| property["name"] == "eso-gen:role")?["value"]
        .as_str()
}

fn find<'a>(sbom: &'a Value, name: &str) -> Result<Vec<&'a Value>> {
    Ok(components(sbom)?.iter().filter(|c| c["name"] == name).collect())
}

/// The Python with cyclonedx-python-lib; a clear failure (never a skip) without it.
fn python() -> Result<PathBuf> {
    let Some(python) = std::env::var_os("ESO_PYTHON") else {
        bail!("ESO_PYTHON is not set: run `. .ci/tools.sh` (installs cyclonedx-python-lib) first");
    };
    Ok(PathBuf::from(python))
}

/// Runs CycloneDX's strict JSON schema validator on `path`: `Ok(None)` when valid, else its report.
fn validate(path: &Path) -> Result<Option<String>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cyclonedx/validate.py");
    let output = Command::new(python()?)
        .arg(script)
        .arg("1.6")
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .context("running the CycloneDX validator")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.success() && stdout.starts_with("valid ") {
        return Ok(None);
    }
    ensure!(
        stdout.starts_with("invalid "),
        "the validator did not run (`. .ci/tools.sh` installs it): {}",
        streams(&output)
    );
    Ok(Some(stdout.into_owned()))
}

#[test]
fn the_fake_providers_sbom_is_valid_cyclonedx_and_lists_what_is_compiled_in() -> Result<()> {
    let (sbom, bytes) = sbom("fake-provider", &[])?;
    let scratch = tempfile::tempdir()?;
    let file = scratch.path().join("fake-provider.cdx.json");
    std::fs::write(&file, &bytes)?;
    if let Some(report) = validate(&file)? {
        bail!("the SBOM is not valid CycloneDX 1.6: {report}");
    }
    // The validator can fail: a broken serial number and an unknown field are refused.
    let mut broken = sbom.clone();
    broken["serialNumber"] = "42".into();
    broken["components"][0]["colour"] = "blue".into();
    let broken_file = scratch.path().join("broken.cdx.json");
    std::fs::write(&broken_file, serde_json::to_vec(&broken)?)?;
    let report = validate(&broken_file)?.context("a broken SBOM passed the validator")?;
    ensure!(report.contains("serialNumber") || report.contains("colour"), "{report}");

    assert_eq!(sbom["bomFormat"], "CycloneDX");
    assert_eq!(sbom["specVersion"], "1.6");
    let root = &sbom["metadata"]["component"];
    assert_eq!(root["type"], "application");
    assert_eq!(root["name"], "fake-provider");
    assert_eq!(root["purl"], "pkg:cargo/eso-example-fake@0.1.0");
    assert_eq!(root["licenses"][0]["expression"], "Apache-2.0");
    assert!(
        sbom["metadata"].get("timestamp").is_none(),
        "no SOURCE_DATE_EPOCH, no timestamp"
    );

    // What is linked: the runtime, tokio, rustls and ring, each with its license and, from
    // crates.io, the SHA-256 that Cargo.lock records.
    for name in ["eso-runtime", "tokio", "rustls", "ring", "tonic", "kube-client"] {
        let found = find(&sbom, name)?;
        ensure!(found.len() == 1, "{name}: {found:?}");
        let component = found[0];
        ensure!(
            component["scope"] == "required" && role(component) == Some("linked"),
            "{component}"
        );
        ensure!(component["licenses"][0]["expression"].is_string(), "{component}");
        let purl = format!("pkg:cargo/{name}@{}", component["version"].as_str().unwrap_or_default());
        ensure!(
            component["purl"] == purl.as_str() && component["bom-ref"] == purl.as_str(),
            "{component}"
        );
    }
    let tokio = find(&sbom, "tokio")?[0];
    let hash = tokio["hashes"][0]["content"].as_str().unwrap_or_default();
    ensure!(tokio["hashes"][0]["alg"] == "SHA-256", "{tokio}");
    ensure!(
        hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{tokio}"
    );
    let lock = std::fs::read_to_string(workspace().join("Cargo.lock"))?;
    ensure!(
        lock.contains(&format!("checksum = \"{hash}\"")),
        "tokio's hash is not Cargo.lock's"
    );
    let runtime = find(&sbom, "eso-runtime")?[0];
    ensure!(
        runtime.get("hashes").is_none(),
        "a path crate has no .crate file: {runtime}"
    );
    // Proc macros generate code of the binary without being linked into it.
    for name in ["tokio-macros", "serde_derive", "eso-macros"] {
        let component = *find(&sbom, name)?.first().with_context(|| format!("no {name}"))?;
        ensure!(
            component["scope"] == "excluded" && role(component) == Some("proc-macro"),
            "{component}"
        );
    }
    // Nothing that only the tests (dev-dependencies, eso-runtime's `testing` feature) or
    // only build scripts use.
    for name in [
        "tempfile",
        "insta",
        "trybuild",
        "h2-support",
        "protox",
        "tonic-prost-build",
        "prost-build",
    ] {
        ensure!(
            find(&sbom, name)?.is_empty(),
            "{name} is not compiled into the provider"
        );
    }
    // No crate's source names this checkout's folder: the SBOM is the same wherever it is built.
    let checkout = workspace().canonicalize()?;
    let text = String::from_utf8(bytes.clone())?;
    ensure!(
        !text.contains(&checkout.display().to_string()),
        "the SBOM names {}",
        checkout.display()
    );

    // The graph: one entry per crate and the provider, every reference known.
    let refs: BTreeSet<&str> = components(&sbom)?
        .iter()
        .chain([root])
        .filter_map(|c| c["bom-ref"].as_str())
        .collect();
    let dependencies = sbom["dependencies"].as_array().context("no dependencies")?;
    ensure!(
        dependencies.len() == refs.len(),
        "{} entries for {} refs",
        dependencies.len(),
        refs.len()
    );
    for entry in dependencies {
        let from = entry["ref"].as_str().context("a ref")?;
        ensure!(refs.contains(from), "unknown ref {from}");
        for to in entry["dependsOn"].as_array().context("dependsOn")? {
            ensure!(
                refs.contains(to.as_str().unwrap_or_default()),
                "{from} depends on unknown {to}"
            );
        }
    }
    let of_root = dependencies
        .iter()
        .find(|entry| entry["ref"] == root["bom-ref"])
        .context("the provider's entry")?;
    ensure!(
        of_root["dependsOn"]
            .as_array()
            .is_some_and(|deps| deps.iter().any(|d| d == "pkg:cargo/eso-runtime@0.1.0")),
        "{of_root}"
    );

    // Reproducible: the same bytes again, to a file with --out too; SOURCE_DATE_EPOCH
    // gives the timestamp (and another serial number).
    let (_, again) = self::sbom("fake-provider", &[])?;
    ensure!(again == bytes, "a second run wrote another SBOM");
    let out = scratch.path().join("out.json");
    let output = eso_gen_sbom(
        &["--bin", "fake-provider", "--out", out.to_str().context("UTF-8")?],
        &[("SOURCE_DATE_EPOCH", None)],
    )?;
    ensure!(
        output.status.success() && output.stdout.is_empty(),
        "{}",
        streams(&output)
    );
    ensure!(std::fs::read(&out)? == bytes, "--out wrote another SBOM than stdout");
    let output = eso_gen_sbom(
        &["--bin", "fake-provider"],
        &[("SOURCE_DATE_EPOCH", Some("1700000000"))],
    )?;
    ensure!(output.status.success(), "{}", streams(&output));
    let dated: Value = serde_json::from_slice(&output.stdout)?;
    ensure!(
        dated["metadata"]["timestamp"] == "2023-11-14T22:13:20Z",
        "{}",
        dated["metadata"]
    );
    ensure!(dated["serialNumber"] != sbom["serialNumber"]);
    Ok(())
}

#[test]
fn a_binary_the_workspace_lacks_is_an_error() -> Result<()> {
    let output = eso_gen_sbom(&["--bin", "no-such-provider"], &[])?;
    ensure!(output.status.code() == Some(1), "{}", streams(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(
        stderr.contains("\"no-such-provider\"") && stderr.contains("fake-provider, password-generator, vault-provider"),
        "{stderr}"
    );
    let output = eso_gen_sbom(&["--bin", "fake-provider"], &[("SOURCE_DATE_EPOCH", Some("soon"))])?;
    ensure!(output.status.code() == Some(1), "{}", streams(&output));
    ensure!(
        String::from_utf8_lossy(&output.stderr).contains("SOURCE_DATE_EPOCH"),
        "{}",
        streams(&output)
    );
    Ok(())
}

/// The committed counts.
const DEPENDENCIES: &str = "examples/dependencies.toml";

/// `examples/dependencies.toml`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
struct Dependencies {
    /// Per provider binary.
    provider: BTreeMap<String, Counted>,
    /// The names in every provider's graph.
    common: Common,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
struct Common {
    crates: Vec<String>,
}

/// One provider's numbers and lists.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
struct Counted {
    package: String,
    crates: usize,
    linked: usize,
    build_only: usize,
    duplicates: Vec<String>,
    history: Vec<String>,
    only_here: Vec<String>,
}

/// What the SBOM walk (with build scripts' crates) finds for one binary.
#[derive(Debug)]
struct Found {
    package: String,
    crates: usize,
    linked: usize,
    build_only: usize,
    duplicates: Vec<String>,
    /// The names of `crates`, the provider's own included.
    names: BTreeSet<String>,
    /// The names of the build-only crates.
    build_names: BTreeSet<String>,
}

fn found(bin: &str) -> Result<Found> {
    let (sbom, _) = sbom(bin, &["--build-deps"])?;
    let package = sbom["metadata"]["component"]["purl"]
        .as_str()
        .and_then(|purl| purl.strip_prefix("pkg:cargo/"))
        .and_then(|rest| rest.split_once('@'))
        .map(|(name, _)| name.to_string())
        .context("the provider's purl")?;
    let mut names = BTreeSet::from([package.clone()]);
    let mut build_names = BTreeSet::new();
    let (mut crates, mut linked, mut build_only) = (1, 1, 0);
    let mut versions: BTreeMap<String, usize> = BTreeMap::new();
    for component in components(&sbom)? {
        let name = component["name"].as_str().context("a name")?.to_string();
        match role(component) {
            Some("linked") => linked += 1,
            Some("proc-macro") => {}
            Some("build") => {
                build_only += 1;
                build_names.insert(name);
                continue;
            }
            other => bail!("{name}: role {other:?}"),
        }
        crates += 1;
        *versions.entry(name.clone()).or_default() += 1;
        names.insert(name);
    }
    let duplicates = versions
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(name, _)| name)
        .collect();
    Ok(Found {
        package,
        crates,
        linked,
        build_only,
        duplicates,
        names,
        build_names,
    })
}

/// The file, rewritten for what was found, the histories kept.
fn render(committed: &Dependencies, found: &BTreeMap<String, Found>, common: &BTreeSet<String>) -> String {
    let list = |names: &mut dyn Iterator<Item = &String>, indent: &str| -> String {
        let items: Vec<String> = names.map(|name| format!("{indent}    {name:?},\n")).collect();
        if items.is_empty() {
            "[]".to_string()
        } else {
            format!("[\n{}{indent}]", items.concat())
        }
    };
    let header = std::fs::read_to_string(workspace().join(DEPENDENCIES))
        .unwrap_or_default()
        .lines()
        .take_while(|line| line.starts_with('#') || line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect::<String>();
    let mut text = header;
    for (bin, found) in found {
        let history = committed
            .provider
            .get(bin)
            .map(|counted| counted.history.clone())
            .unwrap_or_default();
        text.push_str(&format!(
            "[provider.{bin}]\npackage = {:?}\ncrates = {}\nlinked = {}\nbuild-only = {}\nduplicates = {:?}\nhistory = {}\nonly-here = {}\n\n",
            found.package,
            found.crates,
            found.linked,
            found.build_only,
            found.duplicates,
            list(&mut history.iter(), ""),
            list(&mut found.names.iter().filter(|name| !common.contains(*name)), ""),
        ));
    }
    text.push_str(&format!("[common]\ncrates = {}\n", list(&mut common.iter(), "")));
    text
}

#[test]
fn the_example_providers_crate_counts_are_the_committed_ones() -> Result<()> {
    let path = workspace().join(DEPENDENCIES);
    let committed: Dependencies =
        toml::from_str(&std::fs::read_to_string(&path).with_context(|| format!("reading {DEPENDENCIES}"))?)
            .with_context(|| format!("reading {DEPENDENCIES}"))?;
    let bins = ["fake-provider", "password-generator", "vault-provider"];
    ensure!(
        committed.provider.keys().map(String::as_str).eq(bins),
        "{DEPENDENCIES} must list exactly {bins:?}"
    );
    let mut all = BTreeMap::new();
    for bin in bins {
        all.insert(bin.to_string(), found(bin)?);
    }
    let mut common: BTreeSet<String> = all.values().next().map(|f| f.names.clone()).unwrap_or_default();
    for found in all.values() {
        common.retain(|name| found.names.contains(name));
    }
    if std::env::var("ESO_WRITE_DEPENDENCIES").is_ok_and(|value| value == "1") {
        std::fs::write(&path, render(&committed, &all, &common))?;
        eprintln!("rewrote {DEPENDENCIES}: add a history entry for each count that changed");
    }
    let committed: Dependencies = toml::from_str(&std::fs::read_to_string(&path)?)?;
    let committed_common: BTreeSet<String> = committed.common.crates.iter().cloned().collect();
    let mut problems = Vec::new();
    for (bin, found) in &all {
        let counted = &committed.provider[bin];
        let listed: BTreeSet<String> = committed_common.iter().chain(&counted.only_here).cloned().collect();
        let added: Vec<&String> = found.names.difference(&listed).collect();
        let removed: Vec<&String> = listed.difference(&found.names).collect();
        let numbers = (found.crates, found.linked, found.build_only);
        if numbers != (counted.crates, counted.linked, counted.build_only)
            || !added.is_empty()
            || !removed.is_empty()
            || found.duplicates != counted.duplicates
            || found.package != counted.package
        {
            problems.push(format!(
                "{bin} ({}): now {} crates ({} linked), {} build-only; {DEPENDENCIES} says {} ({}), {}\n  \
                 crates added: {added:?}\n  crates removed: {removed:?}\n  \
                 duplicates now: {:?} (file: {:?})\n  build-only now: {:?}",
                found.package,
                found.crates,
                found.linked,
                found.build_only,
                counted.crates,
                counted.linked,
                counted.build_only,
                found.duplicates,
                counted.duplicates,
                found.build_names,
            ));
        }
        let last = counted.history.last().map(String::as_str).unwrap_or_default();
        if !last.starts_with(&format!("{}:", counted.crates)) {
            problems.push(format!(
                "{bin}: the last history entry must start with the count, \"{}: <why>\" (it is {last:?})",
                counted.crates
            ));
        }
    }
    if committed_common != common {
        problems.push(format!(
            "[common] is not the crates every example has: added {:?}, removed {:?}",
            common.difference(&committed_common).collect::<Vec<_>>(),
            committed_common.difference(&common).collect::<Vec<_>>()
        ));
    }
    ensure!(
        problems.is_empty(),
        "the example providers' dependencies changed:\n{}\n\nupdate {DEPENDENCIES} with a reason: \
         `ESO_WRITE_DEPENDENCIES=1 cargo test -p eso-codegen --test sbom` rewrites its numbers and \
         lists (keeping each history), then add a history entry that starts with the new count and \
         says why it changed",
        problems.join("\n")
    );
    Ok(())
}
