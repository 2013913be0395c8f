//! `eso-gen new provider NAME` and `eso-gen new generator NAME`: a provider project,
//! rendered from the handlebars templates in `templates/new/` (embedded in this binary at
//! build time), that builds, passes its own tests and runs `--dev` with no edits.
//!
//! Template sets: `base/` goes into every project, `store/` into a provider's (a secret
//! store kind), `generator/` into a generator's and into a provider's `--with-generator`.
//! A template's path is the file's path in the project without `.hbs`; `gitignore` and
//! `dockerignore` become dotfiles and `manifests/objects.yaml` is named after the project.

use anyhow::{Context, Result, bail};
use eso_runtime::Gvk;
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
    /// Depend on eso-runtime from this local folder (default: the runtime/ of the eso-gen
    /// checkout this binary was built from).
    #[arg(long, value_name = "DIR", conflicts_with = "runtime_version")]
    runtime_path: Option<PathBuf>,
    /// Depend on eso-runtime from crates.io at this version requirement, e.g. 0.1.
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

/// One embedded template: its path under `templates/new/` and its text.
type Template = (&'static str, &'static str);

macro_rules! template {
    ($path:literal) => {
        (
            $path,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../templates/new/", $path)),
        )
    };
}

/// Every template, embedded at build time.
const TEMPLATES: &[Template] = &[
    template!("base/Cargo.toml.hbs"),
    template!("base/Dockerfile.hbs"),
    template!("base/README.md.hbs"),
    template!("base/dockerignore.hbs"),
    template!("base/gitignore.hbs"),
    template!("base/manifests/objects.yaml.hbs"),
    template!("base/src/lib.rs.hbs"),
    template!("base/src/main.rs.hbs"),
    template!("base/src/spec.rs.hbs"),
    template!("store/src/store.rs.hbs"),
    template!("store/tests/store.rs.hbs"),
    template!("generator/src/generator.rs.hbs"),
    template!("generator/tests/generator.rs.hbs"),
];

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

/// Crate names the project cannot take: Rust keywords, the standard crates, and the
/// project's own dependencies (as crate names, `-` read as `_`).
const RESERVED_CRATE_NAMES: &[&str] = &[
    "abstract",
    "alloc",
    "as",
    "async",
    "await",
    "become",
    "box",
    "break",
    "const",
    "continue",
    "core",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "eso_runtime",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "proc_macro",
    "pub",
    "rand",
    "ref",
    "return",
    "self",
    "serde",
    "serde_json",
    "static",
    "std",
    "struct",
    "super",
    "test",
    "tokio",
    "tonic",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
];

/// Checks a project name: a DNS-1123 label (it names Kubernetes objects), starting with a
/// letter (it names a Cargo package), and not a name Rust or the dependencies take.
pub fn check_name(name: &str) -> Result<()> {
    let rule = "a project name must be a DNS-1123 label: lowercase letters, digits and '-', \
                starting and ending with a letter or digit, at most 63 characters";
    if name.is_empty() {
        bail!("the project name is empty; {rule}, e.g. acme-vault");
    }
    if name.len() > 63 {
        bail!("project name {name:?} is {} characters long; {rule}", name.len());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        bail!("project name {name:?} contains {bad:?}; {rule}, e.g. acme-vault");
    }
    if name.ends_with('-') || name.starts_with('-') {
        bail!("project name {name:?} starts or ends with '-'; {rule}");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        bail!("project name {name:?} starts with a digit; it must start with a letter, since it names a Cargo package");
    }
    let crate_name = name.replace('-', "_");
    if RESERVED_CRATE_NAMES.contains(&crate_name.as_str()) {
        bail!(
            "project name {name:?} is taken: the crate {crate_name} would clash with a Rust keyword, a standard crate or a dependency of the project"
        );
    }
    Ok(())
}

/// Checks a kind: an UpperCamelCase identifier (letters and digits, starting with an
/// upper-case letter) whose plural fits in a DNS label.
pub fn check_kind(kind: &str) -> Result<()> {
    let rule =
        "a kind must be UpperCamelCase: ASCII letters and digits, starting with an upper-case letter, e.g. AcmeVault";
    if kind.is_empty() {
        bail!("the kind is empty; {rule}");
    }
    if !kind.starts_with(|c: char| c.is_ascii_uppercase()) || !kind.chars().all(|c| c.is_ascii_alphanumeric()) {
        bail!("kind {kind:?} is not UpperCamelCase; {rule}");
    }
    // kube-derive's plural is the lower-cased kind plus "s"; the API server wants a DNS label.
    if kind.len() > 62 {
        bail!(
            "kind {kind:?} is {} characters long; its plural must fit in 63 characters, so at most 62",
            kind.len()
        );
    }
    Ok(())
}

/// Checks an API group: a lowercase DNS subdomain with at least one dot.
pub fn check_group(group: &str) -> Result<()> {
    let ok = group.len() <= 253
        && group.contains('.')
        && group.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.starts_with(|c: char| c.is_ascii_alphanumeric())
                && label.ends_with(|c: char| c.is_ascii_alphanumeric())
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        });
    if !ok {
        bail!(
            "group {group:?} must be a lowercase DNS name with at least one dot, e.g. {}",
            Gvk::DEFAULT_GROUP
        );
    }
    Ok(())
}

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
        check_name(&self.name)?;
        check_group(&self.group)?;
        let mut types: Vec<(String, &str)> = Vec::new();
        if let Some(kind) = &self.store_kind {
            check_kind(kind)?;
            for suffix in ["Spec", "Resource", "Store", "Client"] {
                types.push((format!("{kind}{suffix}"), kind));
            }
        }
        if let Some(kind) = &self.generator_kind {
            check_kind(kind)
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

    /// The handlebars data.
    fn data(&self) -> Value {
        let both = self.store_kind.is_some() && self.generator_kind.is_some();
        let description = match (&self.store_kind, &self.generator_kind) {
            (Some(store), Some(generator)) => format!(
                "An External Secrets Operator provider: the {store} secret store and the {generator} generator."
            ),
            (Some(store), None) => format!("An External Secrets Operator provider: the {store} secret store."),
            (None, Some(generator)) => format!("An External Secrets Operator provider: the {generator} generator."),
            (None, None) => "An External Secrets Operator provider.".to_string(),
        };
        let generator_name = if self.store_kind.is_some() {
            format!("{}-generator", self.name)
        } else {
            self.name.clone()
        };
        let (runtime_dependency, runtime_path, runtime_workspace) = match &self.runtime {
            Runtime::Path { dir, .. } => {
                let workspace = dir.parent().unwrap_or(dir);
                (
                    format!("{{ path = {} }}", toml_string(&dir.display().to_string())),
                    Value::from(dir.display().to_string()),
                    Value::from(workspace.display().to_string()),
                )
            }
            Runtime::Version(version) => (toml_string(version), Value::Null, Value::Null),
        };
        json!({
            "name": self.name,
            "crate_name": self.name.replace('-', "_"),
            "description": description,
            "kind": self.store_kind,
            "generator_kind": self.generator_kind,
            "generator_name": generator_name,
            "store": self.store_kind.is_some(),
            "generator": self.generator_kind.is_some(),
            "both": both,
            "group": self.group,
            "api_version": format!("{}/{VERSION}", self.group),
            "runtime_dependency": runtime_dependency,
            "runtime_path": runtime_path,
            "runtime_workspace": runtime_workspace,
            "eso_gen_version": env!("CARGO_PKG_VERSION"),
        })
    }

    /// The templates this project takes.
    fn templates(&self) -> impl Iterator<Item = &'static Template> {
        let store = self.store_kind.is_some();
        let generator = self.generator_kind.is_some();
        TEMPLATES.iter().filter(move |(path, _)| {
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
        for (path, text) in self.templates() {
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

/// The runtime/ folder of the checkout this binary was built from.
fn default_runtime_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("runtime")
}

/// Resolves `--runtime-path` / `--runtime-version` (default: this checkout's runtime/).
fn runtime(path: Option<&Path>, version: Option<&str>) -> Result<Runtime> {
    if let Some(version) = version {
        return Ok(Runtime::Version(version.to_string()));
    }
    let (dir, given) = match path {
        Some(path) => (path.to_path_buf(), true),
        None => (default_runtime_dir(), false),
    };
    let hint = if given {
        "--runtime-path must be the runtime/ folder of an eso-gen checkout"
    } else {
        "this eso-gen was built from a checkout that is no longer there; pass --runtime-path DIR (an eso-gen checkout's runtime/) or --runtime-version VERSION (crates.io)"
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
    check_name(&project_args.name)?;
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
        Runtime::Version(version) => format!("eso-runtime {version} from crates.io"),
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

    #[test]
    fn names_are_dns_labels_starting_with_a_letter() {
        for ok in ["acme", "acme-vault", "a", "a1", "vault-2", &"a".repeat(63)] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for (bad, needle) in [
            ("", "empty"),
            ("Acme", "contains 'A'"),
            ("acme_vault", "contains '_'"),
            ("acme.vault", "contains '.'"),
            ("-acme", "starts or ends with '-'"),
            ("acme-", "starts or ends with '-'"),
            ("1acme", "starts with a digit"),
            ("fn", "taken"),
            ("tokio", "taken"),
            ("serde-json", "taken"),
        ] {
            let message = error(check_name(bad));
            assert!(message.contains(needle), "{bad:?}: {message}");
            assert!(
                message.contains(&format!("{bad:?}")) || bad.is_empty(),
                "names the value: {message}"
            );
        }
        let long = "a".repeat(64);
        let message = error(check_name(&long));
        assert!(
            message.contains("64 characters") && message.contains("DNS-1123"),
            "{message}"
        );
        // The rule is in the message.
        assert!(error(check_name("a b")).contains("lowercase letters, digits and '-'"));
    }

    #[test]
    fn kinds_are_upper_camel_case() {
        for ok in ["Acme", "AcmeVault", "V2", "S3Bucket"] {
            assert!(check_kind(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "acme",
            "Acme-Vault",
            "Acme_Vault",
            "Ac me",
            "Äcme",
            "1Acme",
            &"A".repeat(63),
        ] {
            let message = error(check_kind(bad));
            assert!(message.contains("kind"), "{bad:?}: {message}");
        }
        assert!(error(check_kind("acme")).contains("UpperCamelCase"));
    }

    #[test]
    fn default_kinds_come_from_the_name() {
        assert_eq!(upper_camel("acme"), "Acme");
        assert_eq!(upper_camel("acme-vault"), "AcmeVault");
        assert_eq!(upper_camel("s3-bucket-2"), "S3Bucket2");
        assert!(check_kind(&upper_camel("x-1")).is_ok());
    }

    #[test]
    fn groups_are_dns_names() {
        assert!(check_group("provider.external-secrets.io").is_ok());
        assert!(check_group("acme.example.com").is_ok());
        for bad in ["acme", "Acme.io", "acme..io", "-acme.io", "acme_x.io"] {
            assert!(error(check_group(bad)).contains("lowercase DNS name"), "{bad}");
        }
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
    fn every_template_file_is_embedded() -> Result<()> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates/new");
        let mut on_disk = Vec::new();
        let mut folders = vec![root.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder)? {
                let path = entry?.path();
                if path.is_dir() {
                    folders.push(path);
                } else {
                    let relative = path.strip_prefix(&root)?.to_string_lossy().replace('\\', "/");
                    on_disk.push(relative);
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = TEMPLATES.iter().map(|(path, _)| path.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
        Ok(())
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
            let cargo = find("Cargo.toml");
            assert!(cargo.contains("name = \"acme-vault\""), "{cargo}");
            assert!(cargo.contains("eso-runtime = \"0.1\""), "{cargo}");
            assert!(cargo.contains("\n[workspace]\n"), "{cargo}");
            let dockerfile = find("Dockerfile");
            assert!(dockerfile.contains("FROM gcr.io/distroless/static-debian12:nonroot"));
            assert!(dockerfile.contains("USER 65532:65532"));
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
