//! The dependency graph of one package as cargo builds it, from `cargo tree`.
//!
//! `cargo tree` resolves features the way `cargo build -p PACKAGE` does: without the
//! dev-dependencies of the workspace. `cargo metadata` cannot be used for the graph: its
//! `resolve` unifies the features of every workspace member and of their dev-dependencies,
//! so a crate that only the tests enable (e.g. eso-runtime's `testing` and its `tempfile`)
//! would show up as compiled into the provider.

use super::CrateId;
use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// The dependency graph `cargo tree` printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tree {
    /// The package the tree starts at.
    pub root: CrateId,
    /// Every crate, the root included: whether it is a proc macro, and where it comes
    /// from as cargo shows it (`None` for crates.io, else e.g. a local path).
    pub nodes: BTreeMap<CrateId, Node>,
    /// Each crate's direct dependencies (of the kinds asked for).
    pub edges: BTreeMap<CrateId, BTreeSet<CrateId>>,
}

/// One crate of a [`Tree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    /// A `proc-macro` crate.
    pub proc_macro: bool,
    /// Where it comes from, as `cargo tree` shows it; `None` for crates.io.
    pub source: Option<String>,
}

/// What `cargo tree` is asked.
#[derive(Debug, Clone)]
pub(crate) struct TreeQuery<'a> {
    /// The workspace's (or package's) Cargo.toml.
    pub manifest_path: &'a Path,
    /// The package, as `name@version`.
    pub package: &'a str,
    /// The target triple.
    pub target: &'a str,
    /// Features of the package to activate.
    pub features: &'a [String],
    /// Leave the package's default features off.
    pub no_default_features: bool,
    /// `--locked`.
    pub locked: bool,
    /// `--offline`.
    pub offline: bool,
}

impl TreeQuery<'_> {
    /// Runs `cargo tree` with these dependency kinds (`-e`, e.g. `normal` or
    /// `normal,no-proc-macro`) and reads its output.
    pub fn run(&self, edges: &str) -> Result<Tree> {
        let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        command
            .args(["tree", "--quiet", "--color", "never", "--manifest-path"])
            .arg(self.manifest_path)
            .args(["--package", self.package, "--edges", edges, "--target", self.target])
            .args(["--prefix", "depth", "--format", "{p}", "--charset", "ascii"]);
        if !self.features.is_empty() {
            command.args(["--features", &self.features.join(",")]);
        }
        if self.no_default_features {
            command.arg("--no-default-features");
        }
        if self.locked {
            command.arg("--locked");
        }
        if self.offline {
            command.arg("--offline");
        }
        let output = command.output().context("running cargo tree")?;
        if !output.status.success() {
            bail!(
                "cargo tree -e {edges} failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let text = String::from_utf8(output.stdout).context("cargo tree printed something that is not UTF-8")?;
        parse(&text).with_context(|| format!("reading the output of cargo tree -e {edges}"))
    }
}

/// Reads `cargo tree --prefix depth --format {p}` output: one crate a line, its depth
/// first, e.g. `2serde_derive v1.0.228 (proc-macro)` or `0acme v0.1.0 (/src/acme)`.
pub(crate) fn parse(text: &str) -> Result<Tree> {
    let mut nodes: BTreeMap<CrateId, Node> = BTreeMap::new();
    let mut edges: BTreeMap<CrateId, BTreeSet<CrateId>> = BTreeMap::new();
    let mut path: Vec<CrateId> = Vec::new();
    let mut root = None;
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let digits = line.bytes().take_while(u8::is_ascii_digit).count();
        let depth: usize = line[..digits]
            .parse()
            .with_context(|| format!("line {}: no depth in {line:?}", number + 1))?;
        let (id, node) = parse_package(&line[digits..]).with_context(|| format!("line {}: {line:?}", number + 1))?;
        if depth > path.len() || (depth == 0) != root.is_none() {
            bail!("line {}: depth {depth} does not follow the lines before", number + 1);
        }
        path.truncate(depth);
        if let Some(parent) = path.last() {
            edges.entry(parent.clone()).or_default().insert(id.clone());
        }
        match nodes.get(&id) {
            Some(seen) if seen != &node => bail!(
                "{} {} comes from two places ({:?} and {:?}); an SBOM could not tell them apart",
                id.name,
                id.version,
                seen.source,
                node.source
            ),
            Some(_) => {}
            None => {
                nodes.insert(id.clone(), node);
            }
        }
        edges.entry(id.clone()).or_default();
        if depth == 0 {
            root = Some(id.clone());
        }
        path.push(id);
    }
    let root = root.context("cargo tree printed no package")?;
    Ok(Tree { root, nodes, edges })
}

/// `name vVERSION[ (proc-macro)][ (SOURCE)][ (*)]`.
fn parse_package(text: &str) -> Result<(CrateId, Node)> {
    let text = text.strip_suffix(" (*)").unwrap_or(text);
    let (name, rest) = text.split_once(' ').context("no version")?;
    let (version, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let version = version.strip_prefix('v').context("the version does not start with v")?;
    if name.is_empty() || version.is_empty() {
        bail!("no name or no version");
    }
    let (proc_macro, rest) = match rest.strip_prefix("(proc-macro)") {
        Some(rest) => (true, rest.trim_start()),
        None => (false, rest),
    };
    let source = match rest {
        "" => None,
        other => Some(
            other
                .strip_prefix('(')
                .and_then(|inner| inner.strip_suffix(')'))
                .with_context(|| format!("unexpected {other:?} after the version"))?
                .to_string(),
        ),
    };
    Ok((
        CrateId {
            name: name.to_string(),
            version: version.to_string(),
        },
        Node { proc_macro, source },
    ))
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
    fn reads_depths_into_edges_sources_and_proc_macros() -> Result<()> {
        let tree = parse(
            "0acme v0.1.0 (/src/my (odd) dir)\n\
             1eso-runtime v0.1.0 (/src/eso/runtime)\n\
             2serde v1.0.228\n\
             3serde_derive v1.0.228 (proc-macro)\n\
             4syn v2.0.1\n\
             2syn v2.0.1 (*)\n\
             1serde v1.0.228 (*)\n\
             1serde_yaml v0.9.34+deprecated\n\
             1git-dep v0.3.0 (https://example.invalid/x.git#0123abcd)\n",
        )?;
        assert_eq!(tree.root, id("acme", "0.1.0"));
        assert_eq!(tree.nodes.len(), 7);
        assert_eq!(
            tree.nodes[&id("acme", "0.1.0")].source.as_deref(),
            Some("/src/my (odd) dir")
        );
        assert!(tree.nodes[&id("serde_derive", "1.0.228")].proc_macro);
        assert!(!tree.nodes[&id("serde", "1.0.228")].proc_macro);
        assert_eq!(tree.nodes[&id("serde", "1.0.228")].source, None);
        assert_eq!(
            tree.nodes[&id("git-dep", "0.3.0")].source.as_deref(),
            Some("https://example.invalid/x.git#0123abcd")
        );
        assert!(tree.nodes.contains_key(&id("serde_yaml", "0.9.34+deprecated")));
        let deps = |name: &str, version: &str| -> Vec<String> {
            tree.edges[&id(name, version)].iter().map(|d| d.name.clone()).collect()
        };
        assert_eq!(deps("acme", "0.1.0"), ["eso-runtime", "git-dep", "serde", "serde_yaml"]);
        assert_eq!(deps("eso-runtime", "0.1.0"), ["serde", "syn"]);
        assert_eq!(deps("serde", "1.0.228"), ["serde_derive"]);
        assert_eq!(deps("serde_derive", "1.0.228"), ["syn"]);
        assert!(deps("syn", "2.0.1").is_empty());
        Ok(())
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for (text, needle) in [
            ("", "no package"),
            ("acme v0.1.0\n", "no depth"),
            ("0acme v0.1.0\n2serde v1.0.0\n", "does not follow"),
            ("0acme v0.1.0\n0other v0.1.0\n", "does not follow"),
            ("0acme 0.1.0\n", "start with v"),
            ("0acme v0.1.0 [odd]\n", "unexpected"),
            ("0acme v0.1.0\n1dup v1.0.0\n1dup v1.0.0 (/elsewhere)\n", "two places"),
        ] {
            match parse(text) {
                Ok(tree) => panic!("{text:?} was read as {tree:?}"),
                Err(error) => {
                    let message = format!("{error:#}");
                    assert!(message.contains(needle), "{text:?}: {message}");
                }
            }
        }
    }
}
