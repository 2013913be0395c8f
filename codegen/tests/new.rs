//! `eso-gen new`: the projects it makes build, pass their own tests, pass `cargo deny check
//! licenses bans sources` under their own deny.toml and serve `--dev` over real mutual TLS,
//! with no edits; bad names and existing folders are refused.
//!
//! The scaffolded projects build in one target folder shared by both, beside this test's
//! (`<target>/scaffold`), so the second one compiles only itself. (The workspace's own
//! `<target>/debug` would not be reused: a workspace test build unifies more features of
//! shared dependencies, e.g. of tower and hyper-util under tonic, so everything above them
//! would be compiled anew anyway.)
#![cfg(unix)]

use anyhow::{Context, Result, bail, ensure};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `eso-gen args…` in `cwd`.
fn eso_gen(args: &[&str], cwd: &Path) -> Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_eso-gen"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .context("running eso-gen")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Both streams, for messages.
fn streams(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    )
}

/// The target folder the scaffolded projects share: `<target>/scaffold`, where this test
/// binary is `<target>/<profile>/deps/new-<hash>`.
fn scaffold_target_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding this test binary")?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .with_context(|| format!("no target folder above {}", exe.display()))?;
    Ok(target.join("scaffold"))
}

/// `cargo args…` in a scaffolded project, with the shared target folder and without debug
/// info (faster to build; the tests need none).
fn cargo(project: &Path, args: &[&str]) -> Result<Command> {
    let mut command = Command::new(env!("CARGO"));
    command
        .args(args)
        .current_dir(project)
        .env("CARGO_TARGET_DIR", scaffold_target_dir()?)
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .stdin(Stdio::null());
    Ok(command)
}

/// Scaffolds a project and runs its own `cargo test`; returns the project folder.
fn scaffold_and_test(parent: &Path, new_args: &[&str], name: &str, expected_tests: &[&str]) -> Result<PathBuf> {
    let started = Instant::now();
    let mut args = vec!["new"];
    args.extend_from_slice(new_args);
    args.extend_from_slice(&["--dir", parent.to_str().context("a non-UTF-8 temporary folder")?]);
    let output = eso_gen(&args, parent)?;
    ensure!(output.status.success(), "eso-gen new failed: {}", streams(&output));
    let project = parent.join(name);
    ensure!(
        text(&output.stdout).contains(&project.display().to_string()),
        "{}",
        streams(&output)
    );
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "Dockerfile",
        "README.md",
        "deny.toml",
        ".gitignore",
        "src/main.rs",
        "src/spec.rs",
    ] {
        ensure!(project.join(file).is_file(), "{name}: no {file}");
    }
    ensure!(project.join("manifests").join(format!("{name}.yaml")).is_file());

    let output = cargo(&project, &["test", "--offline"])?
        .output()
        .context("running cargo test")?;
    let report = streams(&output);
    ensure!(output.status.success(), "{name}: cargo test failed:\n{report}");
    for test in expected_tests {
        ensure!(
            report.contains(&format!("test {test} ... ok")),
            "{name}: test {test} did not pass:\n{report}"
        );
    }
    ensure!(
        !report.contains(&format!("warning: `{name}`")),
        "{name}: the project has warnings:\n{report}"
    );
    eprintln!("{name}: scaffolded, built and tested in {:.1?}", started.elapsed());
    Ok(project)
}

/// cargo-deny: `$ESO_CARGO_DENY` (exported by `.ci/cargo-deny.sh`, which `.ci/tools.sh`
/// sources), else this checkout's `.tools/bin/cargo-deny`. When there is neither, CI
/// (`CI=true`) fails; elsewhere the check is skipped, and says so.
fn cargo_deny() -> Result<Option<PathBuf>> {
    let candidate = match std::env::var_os("ESO_CARGO_DENY") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/bin/cargo-deny"),
    };
    if candidate.is_file() {
        return Ok(Some(candidate));
    }
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        bail!(
            "cargo-deny is not at {} and CI=true: run `. .ci/tools.sh` (it installs the pinned cargo-deny)",
            candidate.display()
        );
    }
    eprintln!(
        "SKIPPED: cargo deny check of the scaffolds: no cargo-deny at {} (`. .ci/tools.sh` installs it)",
        candidate.display()
    );
    Ok(None)
}

/// The scaffold's own deny.toml passes `cargo deny check licenses bans sources`, all three run.
fn check_deny(project: &Path) -> Result<()> {
    let Some(deny) = cargo_deny()? else {
        return Ok(());
    };
    let output = Command::new(deny)
        .args(["--color", "never", "--locked", "check", "licenses", "bans", "sources"])
        .current_dir(project)
        .env("CARGO", env!("CARGO"))
        .stdin(Stdio::null())
        .output()
        .context("running cargo-deny")?;
    let report = streams(&output);
    ensure!(
        output.status.success(),
        "cargo deny check in {}: {report}",
        project.display()
    );
    ensure!(
        report.contains("bans ok, licenses ok, sources ok"),
        "cargo deny check did not run all three checks: {report}"
    );
    ensure!(
        !report.contains("warning["),
        "cargo deny check warns in a fresh scaffold: {report}"
    );
    Ok(())
}

/// The summary line of the suite against a scaffolded store: every case passes but the
/// 14 that do not apply (seed, versions, properties, maps, finds, read-only, generators).
fn store_summary() -> String {
    let total = eso_runtime::testing::conformance::cases().len();
    format!("{} passed, 0 failed, 14 skipped", total - 14)
}

/// The same against a scaffolded generator: the 12 generator and protocol cases pass.
fn generator_summary() -> String {
    let total = eso_runtime::testing::conformance::cases().len();
    format!("12 passed, 0 failed, {} skipped", total - 12)
}

/// A provider started with `cargo run -- --dev`; killed if the test ends early.
struct Dev {
    child: eso_runtime::testing::KillOnDrop,
    log: PathBuf,
    dev_dir: PathBuf,
}

impl Dev {
    /// Runs the README's `cargo run -- --dev --manifests manifests`, on ports the OS picks,
    /// and waits until it has written its address.
    fn start(project: &Path) -> Result<(Dev, String)> {
        let dev_dir = project.join(".eso-dev");
        let log = project.join("dev.log");
        let log_file = std::fs::File::create(&log)?;
        let child = cargo(
            project,
            &[
                "run",
                "--offline",
                "--quiet",
                "--",
                "--dev",
                "--manifests",
                "manifests",
                "--grpc-port",
                "0",
                "--metrics-port",
                "0",
            ],
        )?
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .context("starting cargo run")?;
        let mut dev = Dev {
            child: eso_runtime::testing::KillOnDrop(child),
            log,
            dev_dir,
        };
        let address_file = dev.dev_dir.join("client").join("address");
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Ok(address) = std::fs::read_to_string(&address_file)
                && !address.is_empty()
            {
                return Ok((dev, address));
            }
            if let Some(status) = dev.child.try_wait()? {
                bail!("the provider exited early ({status}):\n{}", dev.log_text());
            }
            if Instant::now() > deadline {
                bail!("the provider wrote no address within 180 s:\n{}", dev.log_text());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `eso-gen call ADDRESS METHOD --certs <dev>/client args…`.
    fn call(&self, address: &str, method: &str, args: &[&str]) -> Result<Output> {
        let certs = self.dev_dir.join("client");
        let mut all = vec![
            "call",
            address,
            method,
            "--certs",
            certs.to_str().context("a non-UTF-8 folder")?,
            "--timeout",
            "10s",
        ];
        all.extend_from_slice(args);
        eso_gen(&all, &self.dev_dir)
    }

    /// `eso-gen conformance ADDRESS --certs <dev>/client --api-version … args… --junit …` in
    /// the project, as its README says: exit 0, the summary `summary`, and a JUnit file
    /// with one test case per case and no failure.
    fn conformance(&self, address: &str, args: &[&str], summary: &str) -> Result<()> {
        let certs = self.dev_dir.join("client");
        let junit = self.dev_dir.join("conformance-junit.xml");
        let mut all = vec![
            "conformance",
            address,
            "--certs",
            certs.to_str().context("a non-UTF-8 folder")?,
            "--api-version",
            "provider.external-secrets.io/v2alpha1",
            "--junit",
            junit.to_str().context("a non-UTF-8 folder")?,
        ];
        all.extend_from_slice(args);
        let project = self.dev_dir.parent().context("the project folder")?;
        let output = eso_gen(&all, project)?;
        ensure!(
            output.status.code() == Some(0),
            "eso-gen conformance {args:?}: {}",
            streams(&output)
        );
        let stdout = text(&output.stdout);
        ensure!(
            stdout.starts_with("eso-gen conformance ") && stdout.ends_with(&format!("\n{summary}\n")),
            "eso-gen conformance {args:?}: {}",
            streams(&output)
        );
        ensure!(!stdout.contains("FAIL "), "{}", streams(&output));
        let xml = std::fs::read_to_string(&junit).context("reading the JUnit file")?;
        ensure!(
            xml.matches("<testcase ").count() == eso_runtime::testing::conformance::cases().len(),
            "{xml}"
        );
        ensure!(!xml.contains("<failure"), "{xml}");
        Ok(())
    }

    /// SIGTERM, then the provider must drain and exit 0.
    fn stop(mut self) -> Result<()> {
        // The shell's kill: the same signal Kubernetes sends, without a libc binding.
        let status = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", self.child.id())])
            .status()
            .context("running kill")?;
        ensure!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                ensure!(status.success(), "exit after SIGTERM: {status}\n{}", self.log_text());
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the provider did not exit within 30 s of SIGTERM:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Generate through `eso-gen call`: the value under `password` has the example's 24 characters.
fn check_generate(dev: &Dev, address: &str, kind: &str, name: &str) -> Result<()> {
    let output = dev.call(
        address,
        "Generate",
        &[
            "--api-version",
            "provider.external-secrets.io/v2alpha1",
            "--kind",
            kind,
            "--name",
            name,
        ],
    )?;
    ensure!(output.status.success(), "Generate: {}", streams(&output));
    let response: serde_json::Value = serde_json::from_slice(&output.stdout).context("Generate's output")?;
    let password = response["secrets"]["password"]
        .as_str()
        .with_context(|| format!("no secrets.password in {response}"))?;
    ensure!(password.len() == 24, "{response}");
    ensure!(password.chars().all(|c| c.is_ascii_alphanumeric()), "{response}");
    Ok(())
}

#[test]
fn scaffolded_projects_build_pass_their_tests_and_serve_dev_over_mtls() -> Result<()> {
    let started = Instant::now();
    let parent = tempfile::tempdir()?;

    // A provider with a generator: every store test and generator test passes.
    let provider = scaffold_and_test(
        parent.path(),
        &["provider", "acme-vault", "--with-generator"],
        "acme-vault",
        &[
            "get_secret_reads_a_value",
            "a_missing_secret_is_not_found",
            "push_secret_writes_and_delete_secret_removes",
            "validate_answers_in_band",
            "capabilities_are_inferred_from_the_methods",
            "generate_returns_a_new_value_and_a_state",
            "cleanup_is_idempotent",
            "an_impossible_spec_is_failed_precondition",
            "spec::__eso_acme_vault_crd_check::acme_vault_crd_is_structural",
            "the_store_passes_the_conformance_suite",
            "the_generator_passes_the_conformance_suite",
        ],
    )?;
    check_deny(&provider)?;
    let (dev, address) = Dev::start(&provider)?;
    let store = ["--kind", "AcmeVault", "--name", "acme-vault"];
    let output = dev.call(
        &address,
        "GetSecret",
        &[&store[..], &["--key", "hello", "--raw-value"]].concat(),
    )?;
    ensure!(output.status.success(), "GetSecret: {}", streams(&output));
    ensure!(output.stdout == b"world", "GetSecret: {}", streams(&output));
    let output = dev.call(&address, "Validate", &store)?;
    ensure!(output.status.success(), "Validate: {}", streams(&output));
    let response: serde_json::Value = serde_json::from_slice(&output.stdout).context("Validate's output")?;
    ensure!(response["valid"] == true, "Validate: {response}");
    let output = dev.call(&address, "GetSecret", &[&store[..], &["--key", "missing"]].concat())?;
    ensure!(
        output.status.code() == Some(1),
        "GetSecret missing: {}",
        streams(&output)
    );
    ensure!(text(&output.stderr).contains("NotFound"), "{}", streams(&output));
    check_generate(&dev, &address, "AcmeVaultGenerator", "acme-vault-generator")?;
    // The README's `eso-gen conformance` runs, by address: every case that applies passes.
    dev.conformance(
        &address,
        &[&store[..], &["--fixtures", "conformance.yaml"]].concat(),
        &store_summary(),
    )?;
    dev.conformance(
        &address,
        &[
            "--service",
            "generator",
            "--kind",
            "AcmeVaultGenerator",
            "--name",
            "acme-vault-generator",
        ],
        &generator_summary(),
    )?;
    dev.stop()?;

    // A generator: it reuses the dependencies the provider built.
    let generator = scaffold_and_test(
        parent.path(),
        &["generator", "token-issuer"],
        "token-issuer",
        &[
            "generate_returns_a_new_value_and_a_state",
            "cleanup_is_idempotent",
            "an_impossible_spec_is_failed_precondition",
            "the_generator_passes_the_conformance_suite",
        ],
    )?;
    ensure!(!generator.join("src/store.rs").exists());
    ensure!(!generator.join("conformance.yaml").exists());
    check_deny(&generator)?;
    let (dev, address) = Dev::start(&generator)?;
    check_generate(&dev, &address, "TokenIssuer", "token-issuer")?;
    dev.conformance(
        &address,
        &[
            "--service",
            "generator",
            "--kind",
            "TokenIssuer",
            "--name",
            "token-issuer",
        ],
        &generator_summary(),
    )?;
    dev.stop()?;
    eprintln!("both projects in {:.1?}", started.elapsed());
    Ok(())
}

#[test]
fn bad_names_kinds_and_existing_folders_are_refused() -> Result<()> {
    let parent = tempfile::tempdir()?;
    let dir = parent.path().to_str().context("a non-UTF-8 temporary folder")?;
    let empty = |path: &Path| -> Result<bool> { Ok(std::fs::read_dir(path)?.next().is_none()) };

    for (args, needles) in [
        (vec!["provider", "Acme_Vault"], vec!["\"Acme_Vault\"", "DNS-1123"]),
        (vec!["generator", "9lives"], vec!["\"9lives\"", "start with a letter"]),
        (vec!["provider", &"a".repeat(64)], vec!["64 characters", "at most 63"]),
        (
            vec!["provider", "acme", "--kind", "acme"],
            vec!["\"acme\"", "UpperCamelCase"],
        ),
        (
            vec!["provider", "acme", "--group", "acme"],
            vec!["\"acme\"", "DNS name"],
        ),
        (vec!["provider", "secret"], vec!["SecretStore", "--kind"]),
        (
            vec!["provider", "acme", "--runtime-path", "/nonexistent/runtime"],
            vec!["/nonexistent/runtime", "--runtime-path"],
        ),
    ] {
        let mut all = vec!["new"];
        all.extend_from_slice(&args);
        all.extend_from_slice(&["--dir", dir]);
        let output = eso_gen(&all, parent.path())?;
        ensure!(output.status.code() == Some(1), "{args:?}: {}", streams(&output));
        let stderr = text(&output.stderr);
        for needle in needles {
            ensure!(stderr.contains(needle), "{args:?}: no {needle:?} in {stderr}");
        }
        ensure!(empty(parent.path())?, "{args:?} created something");
    }

    // An existing folder is never overwritten, not even partly.
    let taken = parent.path().join("taken");
    std::fs::create_dir(&taken)?;
    std::fs::write(taken.join("Cargo.toml"), "mine")?;
    let output = eso_gen(&["new", "provider", "taken", "--dir", dir], parent.path())?;
    ensure!(output.status.code() == Some(1), "{}", streams(&output));
    let stderr = text(&output.stderr);
    ensure!(
        stderr.contains(&taken.display().to_string()) && stderr.contains("already exists"),
        "{stderr}"
    );
    ensure!(std::fs::read_to_string(taken.join("Cargo.toml"))? == "mine");
    ensure!(std::fs::read_dir(&taken)?.count() == 1);

    // --runtime-version: a crates.io dependency and no lock file of this workspace.
    let output = eso_gen(
        &["new", "generator", "released", "--runtime-version", "0.1", "--dir", dir],
        parent.path(),
    )?;
    ensure!(output.status.success(), "{}", streams(&output));
    let manifest = std::fs::read_to_string(parent.path().join("released/Cargo.toml"))?;
    ensure!(
        manifest.contains("\neso-runtime = { version = \"0.1\" }\n"),
        "{manifest}"
    );
    ensure!(!parent.path().join("released/Cargo.lock").exists());
    let dockerfile = std::fs::read_to_string(parent.path().join("released/Dockerfile"))?;
    ensure!(!dockerfile.contains("--from=eso-gen"), "{dockerfile}");
    let released_deny = std::fs::read_to_string(parent.path().join("released/deny.toml"))?;

    // The default: a path to this checkout's runtime, and its lock file.
    let output = eso_gen(
        &["new", "provider", "local", "--kind", "Local", "--dir", dir],
        parent.path(),
    )?;
    ensure!(output.status.success(), "{}", streams(&output));
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../runtime")
        .canonicalize()?;
    let manifest = std::fs::read_to_string(parent.path().join("local/Cargo.toml"))?;
    ensure!(
        manifest.contains(&format!("eso-runtime = {{ path = \"{}\" }}", runtime.display())),
        "{manifest}"
    );
    let lock = std::fs::read_to_string(parent.path().join("local/Cargo.lock"))?;
    ensure!(lock.contains("name = \"eso-runtime\""));
    let spec = std::fs::read_to_string(parent.path().join("local/src/spec.rs"))?;
    ensure!(spec.contains("kind = \"Local\""), "{spec}");

    // deny.toml is the same policy whichever way eso-runtime comes (the scaffolds built
    // above run it with a path; a crates.io runtime has no path to allow): only the comment
    // on path dependencies differs.
    let local_deny = std::fs::read_to_string(parent.path().join("local/deny.toml"))?;
    let path_note = "# eso-runtime comes from a local path without a version: allowed in an unpublished crate.\n";
    ensure!(local_deny.contains(path_note), "{local_deny}");
    ensure!(!released_deny.contains(path_note), "{released_deny}");
    ensure!(
        local_deny.replace(path_note, "") == released_deny,
        "{local_deny}\n---\n{released_deny}"
    );
    ensure!(released_deny.contains("multiple-versions = \"deny\"") && released_deny.contains("unknown-git = \"deny\""));
    Ok(())
}
