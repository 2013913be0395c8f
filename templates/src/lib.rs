//! The handlebars templates of [eso-gen](https://github.com/eso-gen/eso-gen), embedded as
//! strings so the `eso-gen` binary needs no files at run time.
//!
//! - [`NEW`]: a provider project, for `eso-gen new provider|generator` (paths under `new/`).
//! - [`CHART`]: a Helm chart, for `eso-gen chart` (paths under `chart/`).
//!
//! The folders' layout and the variables each template reads are described in this crate's
//! README. A template's text is exactly its file's:
//!
//! ```
//! let cargo = eso_templates::find(eso_templates::NEW, "base/Cargo.toml.hbs").map(|t| t.text);
//! assert!(cargo.is_some_and(|text| text.contains("[package]")));
//! ```

/// One embedded template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    /// Its path under its folder (`new/` or `chart/`), with `/` separators.
    pub path: &'static str,
    /// Its text.
    pub text: &'static str,
}

macro_rules! embed {
    ($folder:literal, $path:literal) => {
        Template {
            path: $path,
            text: include_str!(concat!("../", $folder, "/", $path)),
        }
    };
}

/// The templates of a new project (`templates/new/`): `base/` goes into every project,
/// `store/` into providers, `generator/` into generators.
pub const NEW: &[Template] = &[
    embed!("new", "base/Cargo.toml.hbs"),
    embed!("new", "base/Dockerfile.hbs"),
    embed!("new", "base/README.md.hbs"),
    embed!("new", "base/deny.toml.hbs"),
    embed!("new", "base/dockerignore.hbs"),
    embed!("new", "base/gitignore.hbs"),
    embed!("new", "base/manifests/objects.yaml.hbs"),
    embed!("new", "base/src/lib.rs.hbs"),
    embed!("new", "base/src/main.rs.hbs"),
    embed!("new", "base/src/spec.rs.hbs"),
    embed!("new", "base/tests/conformance.rs.hbs"),
    embed!("new", "generator/src/generator.rs.hbs"),
    embed!("new", "generator/tests/generator.rs.hbs"),
    embed!("new", "store/conformance.yaml.hbs"),
    embed!("new", "store/src/store.rs.hbs"),
    embed!("new", "store/tests/store.rs.hbs"),
];

/// The templates of a provider's Helm chart (`templates/chart/`): `*.hbs` are rendered, the
/// files under `templates/` are Helm templates copied verbatim.
pub const CHART: &[Template] = &[
    embed!("chart", "Chart.yaml.hbs"),
    embed!("chart", "README.md.hbs"),
    embed!("chart", "helmignore.hbs"),
    embed!("chart", "templates/NOTES.txt"),
    embed!("chart", "templates/_helpers.tpl"),
    embed!("chart", "templates/certificate.yaml"),
    embed!("chart", "templates/crds.yaml"),
    embed!("chart", "templates/deployment.yaml"),
    embed!("chart", "templates/horizontalpodautoscaler.yaml"),
    embed!("chart", "templates/networkpolicy.yaml"),
    embed!("chart", "templates/poddisruptionbudget.yaml"),
    embed!("chart", "templates/providerclass.yaml"),
    embed!("chart", "templates/rbac.yaml"),
    embed!("chart", "templates/service.yaml"),
    embed!("chart", "templates/serviceaccount.yaml"),
    embed!("chart", "templates/servicemonitor.yaml"),
    embed!("chart", "values.schema.json.hbs"),
    embed!("chart", "values.yaml.hbs"),
];

/// The template at `path` in `templates`, if there is one.
pub fn find(templates: &'static [Template], path: &str) -> Option<&'static Template> {
    templates.iter().find(|template| template.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every file under `folder`, relative to it, sorted.
    fn on_disk(folder: &str) -> std::io::Result<Vec<String>> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
        let mut found = Vec::new();
        let mut folders = vec![root.clone()];
        while let Some(current) = folders.pop() {
            for entry in std::fs::read_dir(&current)? {
                let path = entry?.path();
                if path.is_dir() {
                    folders.push(path);
                } else if let Ok(relative) = path.strip_prefix(&root) {
                    found.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        found.sort();
        Ok(found)
    }

    fn listed(templates: &[Template]) -> Vec<String> {
        let mut paths: Vec<String> = templates.iter().map(|t| t.path.to_string()).collect();
        paths.sort();
        paths
    }

    #[test]
    fn every_file_of_new_is_listed() -> std::io::Result<()> {
        assert_eq!(on_disk("new")?, listed(NEW));
        Ok(())
    }

    #[test]
    fn every_file_of_chart_is_listed() -> std::io::Result<()> {
        assert_eq!(on_disk("chart")?, listed(CHART));
        Ok(())
    }

    #[test]
    fn find_returns_the_file_and_nothing_else() {
        let helpers = find(CHART, "templates/_helpers.tpl");
        assert!(helpers.is_some_and(|t| t.text.contains("define")));
        assert_eq!(find(CHART, "templates/missing.yaml"), None);
        assert_eq!(find(NEW, "Cargo.toml.hbs"), None);
    }
}
