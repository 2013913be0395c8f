//! What `eso-gen crds` and `eso-gen chart` share: the CRDs of a manifest, generated YAML
//! files, and writing a generated file or, with `--check`, only comparing it.

use anyhow::{Context, Result};
use eso_runtime::crd::CustomResourceDefinition;
use eso_runtime::manifest::Manifest;
use serde::Serialize;
use std::path::Path;

/// Every CRD of a manifest (secret store kinds first, then generators) with its name,
/// which names its file. A kind without a CRD gets a note on stderr.
pub fn crds(manifest: &Manifest) -> Result<Vec<(&str, &CustomResourceDefinition)>> {
    let mut crds = Vec::new();
    for kind in manifest.kinds.iter().chain(&manifest.generators) {
        let Some(crd) = &kind.crd else {
            eprintln!(
                "note: kind {} has no CRD (its spec does not use #[provider_spec] / #[generator_spec])",
                kind.kind
            );
            continue;
        };
        let name = crd
            .metadata
            .name
            .as_deref()
            .with_context(|| format!("the CRD of kind {} in the manifest has no metadata.name", kind.kind))?;
        crds.push((name, crd));
    }
    Ok(crds)
}

/// A generated YAML file: the `header` line(s), then `value` as YAML with the keys of every
/// object sorted, so the text does not depend on the order of a type's fields.
pub fn yaml_file(header: &str, value: &impl Serialize) -> Result<String> {
    // serde_json's map is ordered by key: the detour sorts them.
    let sorted = serde_json::to_value(value).context("to JSON")?;
    Ok(format!(
        "{header}\n{}",
        serde_yaml::to_string(&sorted).context("to YAML")?
    ))
}

/// Whether a generated file already held what it should, or had to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// The file on disk is exactly the generated text.
    Unchanged,
    /// It was missing or different: written, or with `--check` reported `out of date`.
    Changed,
}

/// Writes a generated file (and its folder) unless it already holds exactly `contents`;
/// with `check`, writes nothing and reports it `out of date` instead.
pub fn write_or_check(path: &Path, contents: &str, check: bool) -> Result<Sync> {
    if std::fs::read_to_string(path).is_ok_and(|existing| existing == contents) {
        return Ok(Sync::Unchanged);
    }
    if check {
        println!("out of date {}", path.display());
    } else {
        write(path, contents)?;
        println!("wrote {}", path.display());
    }
    Ok(Sync::Changed)
}

/// Writes a file, creating its folder first.
pub fn write(path: &Path, contents: &str) -> Result<()> {
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    eso_runtime::tls::issue::write_file(path, contents.as_bytes(), false)
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_files_have_sorted_keys_after_the_header() -> Result<()> {
        #[derive(Serialize)]
        struct Unsorted {
            zebra: u8,
            apple: Inner,
        }
        #[derive(Serialize)]
        struct Inner {
            y: bool,
            b: bool,
        }
        let text = yaml_file(
            "# header",
            &Unsorted {
                zebra: 1,
                apple: Inner { y: true, b: false },
            },
        )?;
        assert_eq!(text, "# header\napple:\n  b: false\n  y: true\nzebra: 1\n");
        Ok(())
    }

    #[test]
    fn write_or_check_writes_only_what_changed_and_check_writes_nothing() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("deeper/file.yaml");
        assert_eq!(write_or_check(&path, "a\n", true)?, Sync::Changed);
        assert!(!path.exists(), "--check writes nothing");
        assert_eq!(write_or_check(&path, "a\n", false)?, Sync::Changed);
        assert_eq!(std::fs::read_to_string(&path)?, "a\n");
        assert_eq!(write_or_check(&path, "a\n", true)?, Sync::Unchanged);
        assert_eq!(write_or_check(&path, "a\n", false)?, Sync::Unchanged);
        std::fs::write(&path, "edited")?;
        assert_eq!(write_or_check(&path, "a\n", true)?, Sync::Changed);
        assert_eq!(std::fs::read_to_string(&path)?, "edited");
        assert_eq!(write_or_check(&path, "a\n", false)?, Sync::Changed);
        assert_eq!(std::fs::read_to_string(&path)?, "a\n");
        Ok(())
    }
}
