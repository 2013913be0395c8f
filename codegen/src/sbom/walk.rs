//! The crates one binary is built from, each with its role: linked into the binary, a
//! proc macro (or what only proc macros use), or used by build scripts only.

use super::tree::{Tree, TreeQuery};
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet};

/// A crate: name and version (one package each in a graph `cargo tree` prints).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CrateId {
    /// The package name.
    pub name: String,
    /// The exact version.
    pub version: String,
}

/// What a crate is to the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Compiled for the target and linked into the binary.
    Linked,
    /// A proc macro, or a crate only proc macros use: runs in the compiler, generates
    /// code of the binary, is not linked into it.
    ProcMacro,
    /// Used by build scripts only (`[build-dependencies]`, and what they use).
    Build,
}

impl Role {
    /// The name the SBOM and the dependency counts use.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Linked => "linked",
            Role::ProcMacro => "proc-macro",
            Role::Build => "build",
        }
    }
}

/// The crates of one binary and how they depend on each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    /// The binary's name.
    pub bin: String,
    /// The package that builds it.
    pub root: CrateId,
    /// The target triple the graph was resolved for.
    pub target: String,
    /// Every crate but the root, with its role.
    pub crates: BTreeMap<CrateId, Role>,
    /// Each crate's direct dependencies (the root's included).
    pub edges: BTreeMap<CrateId, BTreeSet<CrateId>>,
}

impl Walk {
    /// Walks the package's graph: `cargo tree` without proc macros gives what is linked,
    /// with them the proc-macro side, and with build-dependencies (when `build` is set)
    /// what only build scripts use.
    pub(crate) fn run(query: &TreeQuery<'_>, bin: &str, build: bool) -> Result<Walk> {
        let linked = query.run("normal,no-proc-macro")?;
        let normal = query.run("normal")?;
        let full = if build {
            query.run("normal,build")?
        } else {
            normal.clone()
        };
        Ok(Walk::from_trees(bin, query.target, &linked, &normal, full))
    }

    fn from_trees(bin: &str, target: &str, linked: &Tree, normal: &Tree, full: Tree) -> Walk {
        let crates = full
            .nodes
            .keys()
            .filter(|id| **id != full.root)
            .map(|id| {
                let role = if linked.nodes.contains_key(id) {
                    Role::Linked
                } else if normal.nodes.contains_key(id) {
                    Role::ProcMacro
                } else {
                    Role::Build
                };
                (id.clone(), role)
            })
            .collect();
        Walk {
            bin: bin.to_string(),
            root: full.root,
            target: target.to_string(),
            crates,
            edges: full.edges,
        }
    }

    /// How many crates have one of these roles, the root (the provider's own crate)
    /// counted as linked.
    pub fn count(&self, roles: &[Role]) -> usize {
        let own = usize::from(roles.contains(&Role::Linked));
        own + self.crates.values().filter(|role| roles.contains(role)).count()
    }

    /// The names that come in more than one version among the crates of these roles.
    pub fn duplicates(&self, roles: &[Role]) -> Vec<String> {
        let mut versions: BTreeMap<&str, usize> = BTreeMap::new();
        for (id, role) in &self.crates {
            if roles.contains(role) {
                *versions.entry(id.name.as_str()).or_default() += 1;
            }
        }
        versions
            .into_iter()
            .filter(|(_, count)| *count > 1)
            .map(|(name, _)| name.to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tree::parse;
    use super::*;

    #[test]
    fn roles_come_from_the_three_trees() -> Result<()> {
        let linked = parse("0acme v0.1.0 (/src)\n1tokio v1.0.0\n1syn v3.0.0\n")?;
        let normal =
            parse("0acme v0.1.0 (/src)\n1tokio v1.0.0\n2tokio-macros v2.0.0 (proc-macro)\n3syn v2.0.0\n1syn v3.0.0\n")?;
        let full = parse(
            "0acme v0.1.0 (/src)\n1tokio v1.0.0\n2tokio-macros v2.0.0 (proc-macro)\n3syn v2.0.0\n1syn v3.0.0\n1cc v1.0.0\n",
        )?;
        let walk = Walk::from_trees("acme-server", "x86_64-unknown-linux-gnu", &linked, &normal, full);
        let role = |name: &str, version: &str| {
            walk.crates.get(&CrateId {
                name: name.into(),
                version: version.into(),
            })
        };
        assert_eq!(role("tokio", "1.0.0"), Some(&Role::Linked));
        assert_eq!(role("syn", "3.0.0"), Some(&Role::Linked));
        assert_eq!(role("tokio-macros", "2.0.0"), Some(&Role::ProcMacro));
        assert_eq!(role("syn", "2.0.0"), Some(&Role::ProcMacro));
        assert_eq!(role("cc", "1.0.0"), Some(&Role::Build));
        assert_eq!(role("acme", "0.1.0"), None, "the root is not among the crates");
        assert_eq!(walk.count(&[Role::Linked]), 3);
        assert_eq!(walk.count(&[Role::Linked, Role::ProcMacro]), 5);
        assert_eq!(walk.count(&[Role::Build]), 1);
        assert_eq!(walk.duplicates(&[Role::Linked, Role::ProcMacro]), ["syn"]);
        assert!(walk.duplicates(&[Role::Linked]).is_empty());
        assert_eq!(walk.edges[&walk.root].len(), 3);
        Ok(())
    }
}
