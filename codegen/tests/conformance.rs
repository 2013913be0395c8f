//! `eso-gen conformance` by address: the real `fake-provider` and
//! `password-generator` binaries started with `--dev` (their own CA, mTLS on a
//! loopback port), the real `eso-gen` binary run against them with a fixtures file
//! and `--junit`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::eso_gen;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MANIFESTS: &str = "\
apiVersion: provider.external-secrets.io/v2alpha1
kind: Fake
metadata: {name: backend, namespace: default}
spec:
  data:
    - key: greeting
      value: fake-greeting-by-address-31c7
      tags: {team: a}
    - key: db/credentials
      value: '{\"username\":\"app-user\",\"password\":\"pw-by-address-2d8e\"}'
    - key: db/credentials
      version: v1
      value: old-credentials-by-address-6a0b
---
apiVersion: provider.external-secrets.io/v2alpha1
kind: FakeGenerator
metadata: {name: gen, namespace: default}
spec:
  data: {token: generated-by-address-90fe}
";

const FIXTURES: &str = "\
secrets:
  - key: greeting
    value: fake-greeting-by-address-31c7
  - key: db/credentials
    property: password
    value: pw-by-address-2d8e
  - key: db/credentials
    version: v1
    value: old-credentials-by-address-6a0b
  - key: db/credentials
    map: {username: app-user, password: pw-by-address-2d8e}
finds:
  - {path: db/, keys: [db/credentials]}
  - {tags: {team: a}, keys: [greeting]}
";

/// How many cases the suite has.
fn total() -> usize {
    eso_runtime::testing::conformance::cases().len()
}

/// `fake-provider --dev` through `cargo run`; killed when dropped.
struct Fake {
    child: eso_runtime::testing::KillOnDrop,
    dir: tempfile::TempDir,
}

impl Fake {
    /// Starts the Fake's binary and waits until `--dev` has written the address.
    fn start() -> (Fake, String) {
        Fake::start_example("fake", "fake-provider", MANIFESTS)
    }

    /// Starts `example`'s binary `bin` with `manifests`, and waits until `--dev` has
    /// written the address.
    fn start_example(example: &str, bin: &str, manifests_text: &str) -> (Fake, String) {
        let dir = tempfile::tempdir().unwrap();
        let manifests = dir.path().join("manifests");
        std::fs::create_dir_all(&manifests).unwrap();
        std::fs::write(manifests.join("objects.yaml"), manifests_text).unwrap();
        let log = std::fs::File::create(dir.path().join("provider.log")).unwrap();
        let cargo_manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples")
            .join(example)
            .join("Cargo.toml");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let child = Command::new(cargo)
            .args(["run", "--quiet", "--manifest-path"])
            .arg(&cargo_manifest)
            .args(["--bin", bin, "--", "--dev", "--dev-dir"])
            .arg(dir.path().join("dev"))
            .args(["--grpc-port", "0", "--metrics-port", "0", "--manifests"])
            .arg(&manifests)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cargo run starts");
        let mut fake = Fake {
            child: eso_runtime::testing::KillOnDrop(child),
            dir,
        };
        let address_file = fake.client_dir().join("address");
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            if let Ok(address) = std::fs::read_to_string(&address_file)
                && !address.is_empty()
            {
                return (fake, address);
            }
            if let Some(status) = fake.child.try_wait().unwrap() {
                panic!("the provider exited ({status}):\n{}", fake.log());
            }
            assert!(Instant::now() < deadline, "no address within 600 s:\n{}", fake.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn client_dir(&self) -> PathBuf {
        self.dir.path().join("dev").join("client")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("provider.log")).unwrap_or_default()
    }
}

#[tokio::test]
async fn the_fake_binary_passes_by_address_and_a_wrong_fixture_fails_with_exit_1() {
    let (fake, address) = Fake::start();
    let certs = fake.client_dir();
    let certs = certs.to_str().unwrap();
    let fixtures = fake.dir.path().join("fixtures.yaml");
    std::fs::write(&fixtures, FIXTURES).unwrap();
    let junit = fake.dir.path().join("junit.xml");

    // The store kind: every applicable case passes.
    let started = Instant::now();
    let run = eso_gen(&[
        "conformance",
        &address,
        "--certs",
        certs,
        "--kind",
        "Fake",
        "--api-version",
        "provider.external-secrets.io/v2alpha1",
        "--name",
        "backend",
        "--namespace",
        "default",
        "--fixtures",
        fixtures.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ])
    .await;
    let elapsed = started.elapsed();
    run.assert_code(0);
    let stdout = run.stdout_text();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("eso-gen conformance 0.1.0 (suite v1)"),
        "{stdout}"
    );
    assert_eq!(
        lines.last().copied(),
        Some(format!("{} passed, 0 failed, 9 skipped", total() - 9).as_str()),
        "{stdout}"
    );
    assert!(lines.contains(&"PASS store.roundtrip.large-value"), "{stdout}");
    assert!(
        lines.contains(&"SKIP store.read-only.push-unimplemented: needs read-only; Capabilities says READ_WRITE"),
        "{stdout}"
    );
    assert!(elapsed < Duration::from_secs(60), "the suite took {elapsed:?}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with(&format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"eso-conformance\" tests=\"{}\" failures=\"0\" errors=\"0\" skipped=\"9\"", total())), "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), total(), "{xml}");
    assert!(xml.contains("name=\"store.get.fixtures\""), "{xml}");
    assert_eq!(xml.matches("<skipped message=").count(), 9, "{xml}");

    // The generator kind.
    let run = eso_gen(&[
        "conformance",
        &address,
        "--certs",
        certs,
        "--service",
        "generator",
        "--kind",
        "FakeGenerator",
        "--name",
        "gen",
    ])
    .await;
    run.assert_code(0);
    assert!(
        run.stdout_text()
            .ends_with(&format!("12 passed, 0 failed, {} skipped\n", total() - 12)),
        "{}",
        run.stdout_text()
    );

    // Fixtures the backend does not hold: those cases fail, the exit code is 1,
    // the JUnit file has the failures, and no fixture value is printed.
    let wrong = fake.dir.path().join("wrong.yaml");
    std::fs::write(
        &wrong,
        "secrets:\n  - {key: greeting, value: not-what-the-fake-holds-5b5b}\n  - {key: absent, value: never-stored-1e1e}\n",
    )
    .unwrap();
    let run = eso_gen(&[
        "conformance",
        &address,
        "--certs",
        certs,
        "--kind",
        "Fake",
        "--name",
        "backend",
        "--fixtures",
        wrong.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ])
    .await;
    run.assert_code(1);
    let stdout = run.stdout_text();
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert_eq!(failed.len(), 4, "{stdout}");
    assert!(
        failed[0].starts_with("FAIL store.get.fixtures: GetSecret of fixture greeting: the value differs: 29 bytes, expected 28; first difference at byte 0; GetSecret of fixture absent: NOT_FOUND: "),
        "{stdout}"
    );
    assert!(failed[1].starts_with("FAIL store.find.name-regexp: "), "{stdout}");
    assert!(
        failed[2].starts_with("FAIL scope.cluster-store.any-source-namespace: "),
        "{stdout}"
    );
    assert!(
        failed[3].starts_with(
            "FAIL protocol.concurrent-calls: 200 of 200 concurrent GetSecret of greeting calls went wrong"
        ),
        "{stdout}"
    );
    // Without version, property or map fixtures, those cases skip.
    assert!(
        stdout.ends_with(&format!("{} passed, 4 failed, 13 skipped\n", total() - 17)),
        "{stdout}"
    );
    for value in ["not-what-the-fake-holds", "never-stored", "fake-greeting-by-address"] {
        assert!(!stdout.contains(value), "a value is printed: {stdout}");
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<failure message=").count(), 4, "{xml}");
    drop(fake);
}

#[tokio::test]
async fn the_password_generator_binary_passes_by_address() {
    let manifests = "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Password\nmetadata: {name: defaults, namespace: default}\nspec: {}\n";
    let (password, address) = Fake::start_example("password", "password-generator", manifests);
    let certs = password.client_dir();
    let run = eso_gen(&[
        "conformance",
        &address,
        "--certs",
        certs.to_str().unwrap(),
        "--service",
        "generator",
        "--kind",
        "Password",
        "--name",
        "defaults",
    ])
    .await;
    run.assert_code(0);
    let stdout = run.stdout_text();
    // The contract check, the generator and protocol cases and the leak check pass.
    assert!(
        stdout.ends_with(&format!("12 passed, 0 failed, {} skipped\n", total() - 12)),
        "{stdout}"
    );
    for id in [
        "contract.reflection",
        "generator.cleanup.idempotent",
        "protocol.keepalive-pings",
    ] {
        assert!(stdout.lines().any(|l| l == format!("PASS {id}")), "{id}: {stdout}");
    }
    drop(password);
}

#[tokio::test]
async fn list_prints_every_case_and_bad_arguments_exit_2() {
    let run = eso_gen(&["conformance", "--list"]).await;
    run.assert_code(0);
    let stdout = run.stdout_text();
    assert_eq!(stdout.lines().next(), Some("eso-gen conformance 0.1.0 (suite v1)"));
    assert_eq!(stdout.lines().count(), total() + 1, "{stdout}");
    for id in [
        "store.roundtrip.binary-value",
        "errors.missing-object",
        "scope.namespaced-store.cross-namespace",
        "generator.cleanup.idempotent",
        "protocol.concurrent-calls",
        "errors.no-value-in-messages",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(&format!("{id} "))),
            "{id}:\n{stdout}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "secrets:\n  - {key: a, vaule: s3cr3t-typo}\n").unwrap();
    for (args, needle) in [
        (
            vec![
                "conformance",
                "localhost:1",
                "--kind",
                "Fake",
                "--name",
                "x",
                "--certs",
                "/nonexistent",
            ],
            "--certs /nonexistent: cannot read",
        ),
        (
            vec![
                "conformance",
                "localhost:1",
                "--kind",
                "Fake",
                "--name",
                "x",
                "--plaintext",
                "--fixtures",
                bad.to_str().unwrap(),
            ],
            "unknown field",
        ),
        (
            vec![
                "conformance",
                "localhost:1",
                "--kind",
                "Fake",
                "--name",
                "x",
                "--plaintext",
                "--api-version",
                "v1",
            ],
            "--api-version \"v1\" is not of the form group/version",
        ),
        (
            vec!["conformance", "localhost:1", "--kind", "Fake", "--name", "x"],
            "no --certs DIR given",
        ),
        (
            vec![
                "conformance",
                "localhost:1",
                "--kind",
                "Fake",
                "--name",
                "x",
                "--plaintext",
            ],
            "cannot connect to localhost:1",
        ),
    ] {
        let run = eso_gen(&args).await;
        run.assert_code(2);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("s3cr3t"), "{args:?}: {}", run.stderr);
    }
}
