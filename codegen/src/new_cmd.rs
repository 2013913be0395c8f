//! `eso-gen new provider NAME` and `eso-gen new generator NAME`: a provider project,
//! rendered from the handlebars templates in `templates/new/` (crate `eso-templates`,
//! embedded in this binary at build time), that builds, passes its own tests and runs `--dev` with no edits.
//!
//! Template sets: `base/` goes into every project, `store/` into a provider's (a secret
//! store kind), `generator/` into a generator's and into a provider's `--with-generator`.
//! A template's path is the file's path in the project without `.hbs`; `gitignore` and
//! `dockerignore` become dotfiles and `manifests/objects.yaml` is named after the project.

use crate::names;
use anyhow::{Context, Result, bail};
use eso_runtime::Gvk;
use eso_runtime::manifest::DEFAULT_PORTS;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `eso-gen new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    #[command(subcommand)]
    what: NewCommand,
}

#[derive(Debug, clap::Subcommand)]
enum NewCommand {
    /// A provider project serving a secret store kind (and, with --with-generator, a
    /// generator kind too).
    Provider(ProviderArgs),
    /// A provider project serving a generator kind.
    Generator(ProjectArgs),
}

#[derive(Debug, clap::Args)]
struct ProviderArgs {
    #[command(flatten)]
    project: ProjectArgs,
    /// Also serve a generator kind, <KIND>Generator, from the same binary.
    #[arg(long)]
    with_generator: bool,
}

/// What every project takes.
#[derive(Debug, clap::Args)]
struct ProjectArgs {
    /// The project's name: its folder, crate, binary and example object. A DNS-1123 label
    /// (lowercase letters, digits and '-', at most 63) starting with a letter, e.g. acme-vault.
    name: String,
    /// The kind of the custom resource, UpperCamelCase (default: NAME in UpperCamelCase).
    #[arg(long)]
    kind: Option<String>,
    /// The API group of the kinds.
    #[arg(long, default_value = Gvk::DEFAULT_GROUP)]
    group: String,
    /// The folder to create the project in (as <DIR>/<NAME>; never overwritten).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Depend on eso-runtime from this local folder. Default: the runtime/ of the eso-gen
    /// checkout this binary was built from; for an eso-gen installed from a registry, the
    /// eso-runtime release of its own version.
    #[arg(long, value_name = "DIR", conflicts_with = "runtime_version")]
    runtime_path: Option<PathBuf>,
    /// Depend on eso-runtime from the registry (crates.io, or the one cargo is configured
    /// to use) at this version requirement, e.g. 0.1.
    #[arg(long, value_name = "VERSION")]
    runtime_version: Option<String>,
}

/// Where the project gets eso-runtime from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// A local folder (absolute), with the Cargo.lock of its workspace when there is one.
    Path {
        /// The runtime crate's folder.
        dir: PathBuf,
        /// Its workspace's lock file, copied into the project so versions match.
        lock: Option<PathBuf>,
    },
    /// A crates.io version requirement.
    Version(String),
}

/// A project to render.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project's name (a checked DNS-1123 label).
    pub name: String,
    /// The secret store kind, for a provider project.
    pub store_kind: Option<String>,
    /// The generator kind, when the project serves one.
    pub generator_kind: Option<String>,
    /// The API group.
    pub group: String,
    /// Where eso-runtime comes from.
    pub runtime: Runtime,
}

/// One embedded template (`eso_templates::NEW`): its path under `templates/new/` and its text.
type Template = eso_templates::Template;

/// The API version of the kinds (the macros' default, `Gvk::DEFAULT_VERSION`).
const VERSION: &str = Gvk::DEFAULT_VERSION;

/// Names the generated code uses from eso-runtime, std and its other dependencies: a
/// kind must not produce a type with one of these names.
const NAMES_IN_USE: &[&str] = &[
    "Alphanumeric",
    "Arc",
    "AtomicU64",
    "BTreeMap",
    "BTreeSet",
    "Box",
    "Code",
    "Ctx",
    "Deserialize",
    "Error",
    "Expect",
    "FindQuery",
    "Generated",
    "Generator",
    "GeneratorCall",
    "HashMap",
    "Mutex",
    "MutexGuard",
    "Option",
    "Ordering",
    "Provider",
    "ProviderClient",
    "ProviderSpec",
    "PushRemoteRef",
    "PushRequest",
    "RemoteRef",
    "Result",
    "Rng",
    "SecretKeySelector",
    "SecretMap",
    "SecretStore",
    "SecretValue",
    "Secrets",
    "Self",
    "Serialize",
    "StoreCall",
    "String",
    "TestProvider",
    "TestResult",
    "Vec",
];

/// `acme-vault` → `AcmeVault`.
pub fn upper_camel(name: &str) -> String {
    name.split('-')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

impl Project {
    /// Checks every name and that the types the kinds produce are distinct and free.
    pub fn check(&self) -> Result<()> {
        names::check_project_name(&self.name)?;
        names::check_group(&self.group)?;
        let mut types: Vec<(String, &str)> = Vec::new();
        if let Some(kind) = &self.store_kind {
            names::check_kind(kind)?;
            for suffix in ["Spec", "Resource", "Store", "Client"] {
                types.push((format!("{kind}{suffix}"), kind));
            }
        }
        if let Some(kind) = &self.generator_kind {
            names::check_kind(kind)
                .with_context(|| format!("the generator kind {kind:?} (made from the kind with \"Generator\")"))?;
            for suffix in ["", "Spec", "Resource", "State"] {
                types.push((format!("{kind}{suffix}"), kind));
            }
        }
        for (index, (name, kind)) in types.iter().enumerate() {
            if NAMES_IN_USE.contains(&name.as_str()) {
                bail!(
                    "kind {kind:?} would make a type {name}, which clashes with a name the generated code uses; choose another --kind"
                );
            }
            if types[..index].iter().any(|(other, _)| other == name) {
                bail!("kind {kind:?} would make the type {name} twice; choose another --kind");
            }
        }
        if let Runtime::Version(version) = &self.runtime {
            check_version(version)?;
        }
        Ok(())
    }

    /// What the project serves, e.g. "the Acme secret store and the AcmeGenerator
    /// generator", each kind written by `kind`.
    fn serves(&self, kind: impl Fn(&str) -> String) -> Option<String> {
        let store = self
            .store_kind
            .as_deref()
            .map(|store| format!("the {} secret store", kind(store)));
        let generator = self
            .generator_kind
            .as_deref()
            .map(|generator| format!("the {} generator", kind(generator)));
        match (store, generator) {
            (Some(store), Some(generator)) => Some(format!("{store} and {generator}")),
            (one, other) => one.or(other),
        }
    }

    /// The modules of `src/lib.rs` and what each re-exports, in order.
    fn lib_modules(&self) -> Vec<Value> {
        let mut modules = Vec::new();
        let mut spec_exports = Vec::new();
        if let Some(generator) = &self.generator_kind {
            modules.push(json!({"name": "generator", "exports": format!("{generator}, {generator}State")}));
            spec_exports.push(format!("{generator}Resource, {generator}Spec"));
        }
        if let Some(store) = &self.store_kind {
            spec_exports.push(format!("{store}Resource, {store}Spec"));
        }
        modules.push(json!({"name": "spec", "exports": spec_exports.join(", ")}));
        if let Some(store) = &self.store_kind {
            modules.push(json!({"name": "store", "exports": format!("{store}Client, {store}Store")}));
        }
        modules
    }

    /// The handlebars data.
    fn data(&self) -> Value {
        let both = self.store_kind.is_some() && self.generator_kind.is_some();
        let description = match self.serves(str::to_string) {
            Some(serves) => format!("An External Secrets Operator provider: {serves}."),
            None => "An External Secrets Operator provider.".to_string(),
        };
        let lib_summary = match self.serves(|kind| format!("`{kind}`")) {
            Some(serves) => format!("An External Secrets Operator provider: {serves}."),
            None => "An External Secrets Operator provider.".to_string(),
        };
        let backend_files: Vec<&str> = [
            self.store_kind.as_ref().map(|_| "`store.rs`"),
            self.generator_kind.as_ref().map(|_| "`generator.rs`"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let generator_name = if self.store_kind.is_some() {
            format!("{}-generator", self.name)
        } else {
            self.name.clone()
        };
        // `source` is what locates the crate (`path = "…"` or `version = "…"`); the
        // tests also enable the runtime's `testing` feature, which the binary lacks.
        let (runtime_source, runtime_path, runtime_workspace) = match &self.runtime {
            Runtime::Path { dir, .. } => {
                let workspace = dir.parent().unwrap_or(dir);
                (
                    format!("path = {}", toml_string(&dir.display().to_string())),
                    Value::from(dir.display().to_string()),
                    Value::from(workspace.display().to_string()),
                )
            }
            Runtime::Version(version) => (format!("version = {}", toml_string(version)), Value::Null, Value::Null),
        };
        let runtime_dependency = format!("{{ {runtime_source} }}");
        let runtime_test_dependency = format!("{{ {runtime_source}, features = [\"testing\"] }}");
        json!({
            "name": self.name,
            "crate_name": self.name.replace('-', "_"),
            "description": description,
            "lib_summary": lib_summary,
            "lib_modules": self.lib_modules(),
            "backend_files": backend_files.join(" and "),
            "kind": self.store_kind,
            "generator_kind": self.generator_kind,
            "generator_name": generator_name,
            "store": self.store_kind.is_some(),
            "generator": self.generator_kind.is_some(),
            "both": both,
            "group": self.group,
            "api_version": format!("{}/{VERSION}", self.group),
            "runtime_dependency": runtime_dependency,
            "runtime_test_dependency": runtime_test_dependency,
            "runtime_path": runtime_path,
            "runtime_workspace": runtime_workspace,
            "eso_gen_version": env!("CARGO_PKG_VERSION"),
            "grpc_port": DEFAULT_PORTS.grpc,
            "metrics_port": DEFAULT_PORTS.metrics,
        })
    }

    /// The templates this project takes.
    fn templates(&self) -> impl Iterator<Item = &'static Template> {
        let store = self.store_kind.is_some();
        let generator = self.generator_kind.is_some();
        eso_templates::NEW.iter().filter(move |Template { path, .. }| {
            path.starts_with("base/")
                || (store && path.starts_with("store/"))
                || (generator && path.starts_with("generator/"))
        })
    }

    /// Every file of the project: its path in the project and its contents.
    pub fn render(&self) -> Result<Vec<(PathBuf, String)>> {
        self.check()?;
        let mut handlebars = handlebars::Handlebars::new();
        handlebars.register_escape_fn(handlebars::no_escape);
        handlebars.set_strict_mode(true);
        let data = self.data();
        let mut files = Vec::new();
        for Template { path, text } in self.templates() {
            let contents = handlebars
                .render_template(text, &data)
                .with_context(|| format!("rendering template {path}"))?;
            files.push((self.output_path(path), contents));
        }
        Ok(files)
    }

    /// `base/src/main.rs.hbs` → `src/main.rs`.
    fn output_path(&self, template: &str) -> PathBuf {
        let path = template.strip_suffix(".hbs").unwrap_or(template);
        let path = path.split_once('/').map_or(path, |(_, rest)| rest);
        match path {
            "gitignore" => PathBuf::from(".gitignore"),
            "dockerignore" => PathBuf::from(".dockerignore"),
            "manifests/objects.yaml" => PathBuf::from(format!("manifests/{}.yaml", self.name)),
            other => PathBuf::from(other),
        }
    }
}

/// Checks a crates.io version requirement enough to write it into Cargo.toml; cargo
/// checks the rest.
fn check_version(version: &str) -> Result<()> {
    let ok = !version.is_empty()
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "^~=<>*.,-+ ".contains(c))
        && version.chars().any(|c| c.is_ascii_digit());
    if !ok {
        bail!("--runtime-version {version:?} is not a version requirement like 0.1 or =0.1.0");
    }
    Ok(())
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The runtime/ folder of the eso-gen checkout this binary was built from, or `None` when it
/// was built from a registry (`codegen/build.rs` tells which).
fn checkout_runtime_dir() -> Option<PathBuf> {
    Some(env!("ESO_GEN_CHECKOUT_RUNTIME"))
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
}

/// The eso-runtime release an eso-gen installed from a registry scaffolds against: the one it
/// was released with (a caret requirement: its semver-compatible successors too).
pub const RELEASED_RUNTIME: &str = env!("CARGO_PKG_VERSION");

/// Resolves `--runtime-path` / `--runtime-version`. The default is the checkout's runtime/ for
/// an eso-gen built in a checkout, else [`RELEASED_RUNTIME`] from the registry.
fn runtime(path: Option<&Path>, version: Option<&str>) -> Result<Runtime> {
    runtime_from(path, version, checkout_runtime_dir())
}

/// [`runtime`] with the checkout given.
fn runtime_from(path: Option<&Path>, version: Option<&str>, checkout: Option<PathBuf>) -> Result<Runtime> {
    if let Some(version) = version {
        return Ok(Runtime::Version(version.to_string()));
    }
    let (dir, given) = match (path, checkout) {
        (Some(path), _) => (path.to_path_buf(), true),
        (None, Some(checkout)) => (checkout, false),
        (None, None) => return Ok(Runtime::Version(RELEASED_RUNTIME.to_string())),
    };
    let hint = if given {
        "--runtime-path must be the runtime/ folder of an eso-gen checkout".to_string()
    } else {
        format!(
            "this eso-gen was built from a checkout that is no longer there; pass --runtime-path DIR (an eso-gen checkout's runtime/) or --runtime-version {RELEASED_RUNTIME} (the registry's eso-runtime)"
        )
    };
    let dir = dir
        .canonicalize()
        .with_context(|| format!("eso-runtime not found at {}: {hint}", dir.display()))?;
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))
        .with_context(|| format!("eso-runtime not found at {}: {hint}", dir.display()))?;
    if !manifest.lines().any(|line| line.trim() == "name = \"eso-runtime\"") {
        bail!(
            "{} is not the eso-runtime crate (its Cargo.toml has no name = \"eso-runtime\"): {hint}",
            dir.display()
        );
    }
    let lock = dir
        .ancestors()
        .map(|dir| dir.join("Cargo.lock"))
        .find(|lock| lock.is_file());
    Ok(Runtime::Path { dir, lock })
}

/// Writes the files into `dir`, which must not exist yet; on a failure, removes what it wrote.
pub fn write_project(dir: &Path, files: &[(PathBuf, String)]) -> Result<()> {
    if std::fs::symlink_metadata(dir).is_ok() {
        bail!(
            "{} already exists; eso-gen new never overwrites anything: choose another NAME or --dir",
            dir.display()
        );
    }
    if let Some(parent) = dir.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!(
                "{} already exists; eso-gen new never overwrites anything: choose another NAME or --dir",
                dir.display()
            );
        }
        Err(error) => return Err(error).with_context(|| format!("creating {}", dir.display())),
    }
    let written = files.iter().try_for_each(|(path, contents)| {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        file.write_all(contents.as_bytes())
            .with_context(|| format!("writing {}", path.display()))
    });
    if let Err(error) = written {
        // Only what this call created: the folder did not exist before.
        let _ = std::fs::remove_dir_all(dir);
        return Err(error);
    }
    Ok(())
}

/// Formats the project's Rust files with rustfmt when it is installed (the templates are
/// formatted for short kinds; long ones wrap differently). Best effort: a note on failure.
fn format_rust(dir: &Path, files: &[(PathBuf, String)]) {
    let rust: Vec<PathBuf> = files
        .iter()
        .filter(|(path, _)| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|(path, _)| dir.join(path))
        .collect();
    match std::process::Command::new("rustfmt")
        .args(["--edition", "2024"])
        .args(&rust)
        .output()
    {
        Ok(output) if output.status.success() => {}
        Ok(output) => eprintln!(
            "note: rustfmt failed on the new project ({}); the files are as rendered:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(_) => eprintln!("note: rustfmt is not installed; the Rust files are as rendered"),
    }
}

/// Runs `eso-gen new`.
pub fn run(args: &NewArgs) -> Result<()> {
    let (project_args, with_generator, is_store) = match &args.what {
        NewCommand::Provider(provider) => (&provider.project, provider.with_generator, true),
        NewCommand::Generator(project) => (project, false, false),
    };
    names::check_project_name(&project_args.name)?;
    let kind = match &project_args.kind {
        Some(kind) => kind.clone(),
        None => upper_camel(&project_args.name),
    };
    let project = Project {
        name: project_args.name.clone(),
        store_kind: is_store.then(|| kind.clone()),
        generator_kind: if is_store {
            with_generator.then(|| format!("{kind}Generator"))
        } else {
            Some(kind.clone())
        },
        group: project_args.group.clone(),
        runtime: runtime(
            project_args.runtime_path.as_deref(),
            project_args.runtime_version.as_deref(),
        )?,
    };
    let mut files = project.render()?;
    if let Runtime::Path { lock: Some(lock), .. } = &project.runtime {
        // The workspace's versions, so the project builds what eso-runtime was tested with;
        // cargo adds the project's own package and drops what it does not use.
        let text = std::fs::read_to_string(lock).with_context(|| format!("reading {}", lock.display()))?;
        files.push((PathBuf::from("Cargo.lock"), text));
    }
    let dir = project_args.dir.join(&project.name);
    write_project(&dir, &files)?;
    format_rust(&dir, &files);

    let kinds: Vec<&str> = [project.store_kind.as_deref(), project.generator_kind.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let source = match &project.runtime {
        Runtime::Path { dir, .. } => format!("eso-runtime from {}", dir.display()),
        Runtime::Version(version) => format!("eso-runtime {version} from the registry"),
    };
    println!(
        "created {} (kinds {}, group {}; {source})",
        dir.display(),
        kinds.join(", "),
        project.group
    );
    println!(
        "next:\n  cd {}\n  cargo test\n  cargo run -- --dev --manifests manifests",
        dir.display()
    );
    println!("then replace the example in-memory backend: grep -rn REPLACE src");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(store: Option<&str>, generator: Option<&str>) -> Project {
        Project {
            name: "acme-vault".into(),
            store_kind: store.map(String::from),
            generator_kind: generator.map(String::from),
            group: Gvk::DEFAULT_GROUP.into(),
            runtime: Runtime::Version("0.1".into()),
        }
    }

    fn error<T: std::fmt::Debug>(result: Result<T>) -> String {
        match result {
            Ok(value) => panic!("expected an error, got {value:?}"),
            Err(error) => format!("{error:#}"),
        }
    }

    /// `src/lib.rs` declares and re-exports exactly the modules of the project's shape.
    #[test]
    fn lib_rs_declares_and_exports_the_modules_of_the_shape() -> Result<()> {
        let lib = |store: Option<&str>, generator: Option<&str>| -> Result<String> {
            let files = project(store, generator).render()?;
            let text = files
                .into_iter()
                .find(|(path, _)| path == Path::new("src/lib.rs"))
                .context("src/lib.rs")?
                .1;
            Ok(text
                .split("/// Every kind this binary serves")
                .next()
                .unwrap_or_default()
                .to_string())
        };
        assert_eq!(
            lib(Some("Acme"), Some("AcmeGenerator"))?,
            "//! An External Secrets Operator provider: the `Acme` secret store and the `AcmeGenerator` generator.
//!
//! - Kind `Acme` (`provider.external-secrets.io/v2alpha1`): a secret store ([`AcmeStore`]).
//! - Kind `AcmeGenerator` (`provider.external-secrets.io/v2alpha1`): a generator ([`AcmeGenerator`]).
//!
//! The specs are in `spec.rs`; the backend calls in `store.rs` and `generator.rs`.

mod generator;
mod spec;
mod store;

pub use generator::{AcmeGenerator, AcmeGeneratorState};
pub use spec::{AcmeGeneratorResource, AcmeGeneratorSpec, AcmeResource, AcmeSpec};
pub use store::{AcmeClient, AcmeStore};

"
        );
        let store = lib(Some("Acme"), None)?;
        assert!(
            store.starts_with("//! An External Secrets Operator provider: the `Acme` secret store.\n"),
            "{store}"
        );
        assert!(store.contains("the backend calls in `store.rs`.\n\nmod spec;\nmod store;\n\npub use spec::{AcmeResource, AcmeSpec};\npub use store::{AcmeClient, AcmeStore};\n"), "{store}");
        let generator = lib(None, Some("Acme"))?;
        assert!(
            generator.starts_with("//! An External Secrets Operator provider: the `Acme` generator.\n"),
            "{generator}"
        );
        assert!(generator.contains("the backend calls in `generator.rs`.\n\nmod generator;\nmod spec;\n\npub use generator::{Acme, AcmeState};\npub use spec::{AcmeResource, AcmeSpec};\n"), "{generator}");
        Ok(())
    }

    #[test]
    fn default_kinds_come_from_the_name() {
        assert_eq!(upper_camel("acme"), "Acme");
        assert_eq!(upper_camel("acme-vault"), "AcmeVault");
        assert_eq!(upper_camel("s3-bucket-2"), "S3Bucket2");
        assert!(names::check_kind(&upper_camel("x-1")).is_ok());
    }

    #[test]
    fn kinds_that_clash_with_generated_code_are_refused() {
        let message = error(project(Some("Secret"), None).check());
        assert!(
            message.contains("SecretStore") && message.contains("another --kind"),
            "{message}"
        );
        let message = error(project(None, Some("Generator")).check());
        assert!(message.contains("type Generator"), "{message}");
        assert!(project(Some("Acme"), Some("AcmeGenerator")).check().is_ok());
    }

    #[test]
    fn renders_every_shape_with_every_variable_defined() -> Result<()> {
        // Strict mode: a variable the data lacks is an error, so a typo cannot slip through.
        for (store, generator) in [
            (Some("AcmeVault"), None),
            (Some("AcmeVault"), Some("AcmeVaultGenerator")),
            (None, Some("AcmeVault")),
        ] {
            let files = project(store, generator).render()?;
            let paths: Vec<String> = files.iter().map(|(path, _)| path.display().to_string()).collect();
            for expected in [
                "Cargo.toml",
                "Dockerfile",
                "README.md",
                ".gitignore",
                ".dockerignore",
                "manifests/acme-vault.yaml",
                "src/lib.rs",
                "src/main.rs",
                "src/spec.rs",
                "tests/conformance.rs",
            ] {
                assert!(paths.iter().any(|p| p == expected), "{expected} in {paths:?}");
            }
            assert_eq!(paths.iter().any(|p| p == "src/store.rs"), store.is_some(), "{paths:?}");
            assert_eq!(
                paths.iter().any(|p| p == "tests/store.rs"),
                store.is_some(),
                "{paths:?}"
            );
            assert_eq!(
                paths.iter().any(|p| p == "conformance.yaml"),
                store.is_some(),
                "{paths:?}"
            );
            assert_eq!(
                paths.iter().any(|p| p == "src/generator.rs"),
                generator.is_some(),
                "{paths:?}"
            );
            for (path, contents) in &files {
                assert!(!contents.contains("{{"), "{} has an unrendered tag", path.display());
            }
            let find = |name: &str| {
                files
                    .iter()
                    .find(|(path, _)| path == Path::new(name))
                    .map(|(_, text)| text.clone())
                    .unwrap_or_default()
            };
            // The conformance test runs the suite against each kind the project serves.
            let conformance = find("tests/conformance.rs");
            assert_eq!(
                conformance.contains("Target::store(&AcmeVaultSpec::GVK"),
                store.is_some(),
                "{conformance}"
            );
            assert_eq!(
                conformance.contains("Target::generator(&"),
                generator.is_some(),
                "{conformance}"
            );
            let cargo = find("Cargo.toml");
            assert!(cargo.contains("name = \"acme-vault\""), "{cargo}");
            assert!(cargo.contains("eso-runtime = { version = \"0.1\" }"), "{cargo}");
            assert!(
                cargo.contains("eso-runtime = { version = \"0.1\", features = [\"testing\"] }"),
                "the tests use the harness: {cargo}"
            );
            assert!(cargo.contains("\n[workspace]\n"), "{cargo}");
            let dockerfile = find("Dockerfile");
            assert!(dockerfile.contains("FROM gcr.io/distroless/static-debian12:nonroot"));
            assert!(dockerfile.contains("USER 65532:65532"));
            assert!(dockerfile.contains("\nEXPOSE 8080 8081\n"), "{dockerfile}");
            assert!(find("README.md").contains("eso-gen call localhost:8080 "));
            assert!(
                !dockerfile.contains("--from=eso-gen"),
                "crates.io mode copies no checkout"
            );
            assert_eq!(find(".gitignore"), "/target\n.eso-dev/\n");
        }
        Ok(())
    }

    #[test]
    fn the_dependency_follows_the_mode() -> Result<()> {
        let mut with_path = project(Some("Acme"), None);
        with_path.runtime = Runtime::Path {
            dir: PathBuf::from("/src/eso \"gen\"/runtime"),
            lock: None,
        };
        let files = with_path.render()?;
        let cargo = &files
            .iter()
            .find(|(path, _)| path == Path::new("Cargo.toml"))
            .context("Cargo.toml")?
            .1;
        assert!(
            cargo.contains(r#"eso-runtime = { path = "/src/eso \"gen\"/runtime" }"#),
            "{cargo}"
        );
        assert!(
            cargo.contains(r#"eso-runtime = { path = "/src/eso \"gen\"/runtime", features = ["testing"] }"#),
            "{cargo}"
        );
        let dockerfile = &files
            .iter()
            .find(|(path, _)| path == Path::new("Dockerfile"))
            .context("Dockerfile")?
            .1;
        assert!(
            dockerfile.contains("--build-context eso-gen=/src/eso \"gen\""),
            "{dockerfile}"
        );

        let mut bad_version = project(Some("Acme"), None);
        bad_version.runtime = Runtime::Version("1\"\n[evil]".into());
        assert!(error(bad_version.render()).contains("--runtime-version"));
        Ok(())
    }

    #[test]
    fn the_default_runtime_is_this_checkout() -> Result<()> {
        // These tests are built in the checkout, so build.rs found its runtime/.
        let checkout = checkout_runtime_dir();
        assert!(checkout.is_some(), "codegen/build.rs did not find ../runtime");
        match runtime(None, None)? {
            Runtime::Path { dir, lock } => {
                assert!(dir.is_absolute() && dir.ends_with("runtime"), "{}", dir.display());
                assert_eq!(lock, dir.parent().map(|root| root.join("Cargo.lock")));
            }
            other => panic!("expected a path, got {other:?}"),
        }
        assert_eq!(runtime(None, Some("0.1"))?, Runtime::Version("0.1".into()));
        let message = error(runtime(Some(Path::new("/nonexistent/runtime")), None));
        assert!(
            message.contains("/nonexistent/runtime") && message.contains("--runtime-path"),
            "{message}"
        );
        let message = error(runtime(Some(Path::new(env!("CARGO_MANIFEST_DIR"))), None));
        assert!(message.contains("is not the eso-runtime crate"), "{message}");
        Ok(())
    }

    /// Installed from a registry (no checkout), the default is the runtime release of this
    /// eso-gen's version; `codegen/tests/package.rs` runs that build for real.
    #[test]
    fn the_default_runtime_outside_a_checkout_is_the_release() -> Result<()> {
        assert_eq!(
            runtime_from(None, None, None)?,
            Runtime::Version(env!("CARGO_PKG_VERSION").into())
        );
        assert_eq!(
            runtime_from(None, Some("=0.1.0"), None)?,
            Runtime::Version("=0.1.0".into())
        );
        // A checkout that moved away: the message names both ways out.
        let message = error(runtime_from(
            None,
            None,
            Some(PathBuf::from("/nonexistent/eso-gen/runtime")),
        ));
        for expected in [
            "/nonexistent/eso-gen/runtime",
            "--runtime-path",
            "--runtime-version",
            RELEASED_RUNTIME,
        ] {
            assert!(message.contains(expected), "{expected} in {message}");
        }
        Ok(())
    }

    #[test]
    fn an_existing_folder_is_never_overwritten() -> Result<()> {
        let parent = tempfile::tempdir()?;
        let dir = parent.path().join("acme");
        std::fs::create_dir(&dir)?;
        std::fs::write(dir.join("keep.txt"), "mine")?;
        let files = vec![(PathBuf::from("keep.txt"), "theirs".to_string())];
        let message = error(write_project(&dir, &files));
        assert!(
            message.contains(&dir.display().to_string()) && message.contains("already exists"),
            "{message}"
        );
        assert_eq!(std::fs::read_to_string(dir.join("keep.txt"))?, "mine");

        // A dangling symlink counts as existing too.
        #[cfg(unix)]
        {
            let link = parent.path().join("link");
            std::os::unix::fs::symlink(parent.path().join("nowhere"), &link)?;
            assert!(error(write_project(&link, &files)).contains("already exists"));
            assert!(!parent.path().join("nowhere").exists());
        }

        // A fresh folder (and missing parents) is created.
        let fresh = parent.path().join("deeper/acme");
        write_project(&fresh, &files)?;
        assert_eq!(std::fs::read_to_string(fresh.join("keep.txt"))?, "theirs");
        Ok(())
    }
}
