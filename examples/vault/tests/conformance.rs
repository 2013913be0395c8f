//! The `Vault` store and the `VaultToken` generator against the conformance suite, with a
//! real OpenBao dev server behind them: in process (the harness, real mTLS on loopback)
//! and by address (the real `vault-provider` binary started with `--dev`, reached over
//! mTLS with `ProviderClient`, as ESO core connects).
//!
//! The fixtures are written into OpenBao first, through its HTTP API: a secret read whole
//! (its data as JSON), a property, a property of KV v2 version 1, and maps. A KV v2
//! secret is a JSON object, so the fixtures say `pushProperty: value` (the suite pushes
//! and reads back its values under that property, as ESO core does with
//! `remoteRef.property`) and `textValues: true` (JSON strings: the binary round trip is
//! skipped); a missing version is a number (`999999999`). Every case that applies
//! passes; [`vault_shaped_equivalents`] adds what only Vault shows.

mod common;

use common::*;
use eso_runtime::client::{ClientTls, ProviderClient};
use eso_runtime::testing::conformance::{self, Fixture, Fixtures, Needs, Outcome, Report, Target};
use eso_runtime::testing::{Expect, run_table};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tonic::Code;

const GREETING: &str = "vault-greeting-7d3a";
const PASSWORD: &str = "pw-vault-current-5c21";
const OLD_PASSWORD: &str = "pw-vault-version-one-9e04";

/// OpenBao with the fixtures written through its HTTP API: `greeting` (one version) and
/// `db/credentials` (two versions).
async fn seeded_bao() -> TestResult<Bao> {
    let bao = Bao::start().await?;
    bao.kv_put("greeting", json!({ "text": GREETING })).await?;
    let first = bao
        .kv_put(
            "db/credentials",
            json!({"username": "app-user", "password": OLD_PASSWORD}),
        )
        .await?;
    let second = bao
        .kv_put("db/credentials", json!({"username": "app-user", "password": PASSWORD}))
        .await?;
    check_eq!((first, second), (1, 2), "the versions of db/credentials");
    Ok(bao)
}

/// What the backend holds, as the store reads it: a secret without property is its data
/// as JSON, a property is one value, a version is a KV v2 version number, and
/// GetSecretMap is the data.
fn fixtures() -> Fixtures {
    Fixtures::of([
        Fixture::value("greeting", format!(r#"{{"text":"{GREETING}"}}"#)),
        Fixture::value("db/credentials", PASSWORD).of_property("password"),
        Fixture::value("db/credentials", OLD_PASSWORD)
            .at_version("1")
            .of_property("password"),
        Fixture::map("db/credentials", &[("username", "app-user"), ("password", PASSWORD)]),
        Fixture::map(
            "db/credentials",
            &[("username", "app-user"), ("password", OLD_PASSWORD)],
        )
        .at_version("1"),
    ])
    .pushing_under("value")
    .with_text_values()
}

/// A `Vault` object `default/backend` and a `VaultToken` generator `default/tokens`, both
/// with the dev server's root token.
fn manifests(bao: &Bao) -> String {
    [
        vault_object("default", "backend", &token_spec(&bao.address, "")),
        token_generator_object(
            "default",
            "tokens",
            &token_spec(&bao.address, "  policies: [default]\n  ttl: 10m\n"),
        ),
        secret_object("default", "vault-token", &[("token", ROOT_TOKEN)]),
    ]
    .concat()
}

fn provider() -> eso_runtime::Provider {
    eso_example_vault::provider(eso_runtime::ProviderInfo {
        name: "vault",
        version: "0",
    })
}

fn store_target() -> Target {
    Target::store(&VAULT, "default", "backend")
}

fn generator_target() -> Target {
    Target::generator(&VAULT_TOKEN, "default", "tokens")
}

/// The store's report: every case passes but the ones that do not apply to a READ_WRITE
/// store of text values, each skipped for exactly its reason.
fn check_store_report(report: &Report) -> TestResult {
    eprintln!("{report}");
    let generator = "needs a generator target (the target is a store; see --service generator)";
    let read_only = "needs read-only; Capabilities says READ_WRITE";
    let mut skipped = Vec::new();
    for case in conformance::cases() {
        let outcome = &report.case(case.id).ok_or("a case is missing")?.outcome;
        let expected_skip = match case.id {
            "fixtures.seed.push" => Some("the fixtures do not ask for seeding (seed: true)"),
            "store.find.fixtures" => {
                Some("the fixtures declare no finds (finds: path, regexp, tags and the keys each answers)")
            }
            "store.roundtrip.binary-value" => Some("the fixtures say the backend stores text only (textValues: true)"),
            "store.read-only.push-unimplemented" | "store.read-only.delete-unimplemented" => Some(read_only),
            id if id.starts_with("generator.") => Some(generator),
            _ => None,
        };
        match (expected_skip, outcome) {
            (None, Outcome::Passed) => {}
            (Some(reason), Outcome::Skipped(why)) => {
                check_eq!(why.as_str(), reason, "{}", case.id);
                skipped.push(case.id);
            }
            (_, outcome) => check!(false, "{}: {outcome:?}", case.id),
        }
    }
    check_eq!(report.skipped_ids(), skipped, "skipped cases");
    check_eq!(report.failed_ids(), Vec::<&str>::new(), "failed cases");
    Ok(())
}

/// The generator's report: every generator case, the protocol cases and the leak check
/// pass; every case for stores is skipped, saying why.
fn check_generator_report(report: &Report) -> TestResult {
    eprintln!("{report}");
    report.assert_passed()?;
    for case in conformance::cases() {
        let outcome = &report.case(case.id).ok_or("a case is missing")?.outcome;
        let applies = matches!(case.needs, Needs::Generator | Needs::Any);
        match outcome {
            Outcome::Passed => check!(applies, "{} passed for a generator", case.id),
            Outcome::Skipped(why) => {
                check!(!applies, "{} skipped: {why}", case.id);
                check_eq!(
                    why.as_str(),
                    "needs a secret store target (the target is a generator)",
                    "{}",
                    case.id
                );
            }
            Outcome::Failed(why) => check!(false, "{} failed: {why}", case.id),
        }
    }
    check_eq!(
        report.counts(),
        (12, 0, conformance::cases().len() - 12),
        "passed, failed, skipped"
    );
    Ok(())
}

#[tokio::test]
async fn the_vault_store_passes_in_process() -> TestResult {
    let bao = seeded_bao().await?;
    let report = conformance::run_in_process(provider(), &manifests(&bao), &store_target(), &fixtures()).await?;
    check_store_report(&report)?;
    // The suite deleted what it wrote (here: nothing got written), and left the fixtures.
    let (status, body) = bao
        .api(reqwest::Method::GET, "secret/metadata/?list=true", None)
        .await?;
    check_eq!(status, 200, "listing the mount: {body}");
    check_eq!(
        body.pointer("/data/keys").cloned(),
        Some(json!(["db/", "greeting"])),
        "the keys on the mount"
    );
    Ok(())
}

#[tokio::test]
async fn the_vault_token_generator_passes_in_process() -> TestResult {
    let bao = seeded_bao().await?;
    let report =
        conformance::run_in_process(provider(), &manifests(&bao), &generator_target(), &Fixtures::new()).await?;
    check_generator_report(&report)
}

/// The write cases the Vault way, by hand (a pushed value lives under a property): byte-exact round trips of an empty, a ~3.9 MiB and a non-ASCII
/// value under a non-ASCII key, push → exists → delete → gone → delete again, and a
/// version number that does not exist is `NOT_FOUND`.
#[tokio::test]
async fn vault_shaped_equivalents() -> TestResult {
    let bao = seeded_bao().await?;
    let (running, mut client) = start(&manifests(&bao)).await?;
    let store = vault("default", "backend");
    let large: String = (0..4_089_446u32)
        .map(|i| char::from(b'!' + (i.wrapping_mul(2_654_435_761) >> 24) as u8 % 94))
        .collect();
    let key = "eso-conformance-unicode-ключ-🔑-キー";
    for (what, value) in [("empty", ""), ("large", large.as_str()), ("unicode", "значение-🔑-値")] {
        run_table(
            &mut client,
            [
                (
                    "push under a property",
                    store.push(&[("value", value)], "value", key, "value", "").into(),
                    Expect::Ok,
                ),
                (
                    "read the property",
                    store.get(key, "", "value").into(),
                    Expect::Value(value),
                ),
                ("exists", store.exists(key, "").into(), Expect::Exists(true)),
            ],
        )
        .await
        .map_err(|e| format!("{what}: {}", e.message()))?;
    }
    run_table(
        &mut client,
        [
            ("delete", store.delete(key, "").into(), Expect::Ok),
            ("gone", store.exists(key, "").into(), Expect::Exists(false)),
            ("delete again", store.delete(key, "").into(), Expect::Ok),
            (
                "read after the delete",
                store.get(key, "", "value").into(),
                Expect::Status(Code::NotFound, &[]),
            ),
            (
                "a version number that does not exist",
                store.get("db/credentials", "99", "password").into(),
                Expect::Status(Code::NotFound, &["db/credentials", "99"]),
            ),
        ],
    )
    .await?;
    running.stop().await?;
    Ok(())
}

/// The real `vault-provider` binary, started with `--dev` (its own CA, mTLS on a loopback
/// port the OS picks) and the objects in a manifests folder; killed when dropped.
struct VaultProvider {
    child: eso_runtime::testing::KillOnDrop,
    dir: tempfile::TempDir,
}

impl VaultProvider {
    /// Starts the binary and waits until `--dev` has written its address.
    async fn start(manifests: &str) -> TestResult<(VaultProvider, String)> {
        let dir = tempfile::tempdir()?;
        let folder = dir.path().join("manifests");
        std::fs::create_dir_all(&folder)?;
        std::fs::write(folder.join("vault.yaml"), manifests)?;
        let log = std::fs::File::create(dir.path().join("provider.log"))?;
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_vault-provider"))
            .arg("--dev")
            .arg("--dev-dir")
            .arg(dir.path().join("dev"))
            .args(["--grpc-port", "0", "--metrics-port", "0", "--manifests"])
            .arg(&folder)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting vault-provider: {e}"))?;
        let mut provider = VaultProvider {
            child: eso_runtime::testing::KillOnDrop(child),
            dir,
        };
        let address_file = provider.certs().join("address");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(address) = std::fs::read_to_string(&address_file)
                && !address.is_empty()
            {
                return Ok((provider, address));
            }
            if let Some(status) = provider.child.try_wait()? {
                return Err(format!("vault-provider exited ({status}):\n{}", provider.log()).into());
            }
            check!(
                Instant::now() < deadline,
                "vault-provider wrote no address within 60 s:\n{}",
                provider.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The client's certificates (and the address) that `--dev` wrote.
    fn certs(&self) -> PathBuf {
        self.dir.path().join("dev").join("client")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("provider.log")).unwrap_or_default()
    }

    /// A client connected by address over mutual TLS, as ESO core connects.
    async fn connect(&self, address: &str) -> TestResult<ProviderClient> {
        let tls = ClientTls::from_dir(self.certs())?;
        Ok(ProviderClient::connect(address, Some(&tls)).await?)
    }
}

#[tokio::test]
async fn the_vault_binary_passes_by_address() -> TestResult {
    let bao = seeded_bao().await?;
    let (provider, address) = VaultProvider::start(&manifests(&bao)).await?;
    let report = conformance::run(provider.connect(&address).await?, &store_target(), &fixtures()).await;
    check_store_report(&report)?;
    let report = conformance::run(provider.connect(&address).await?, &generator_target(), &Fixtures::new()).await;
    check_generator_report(&report)?;
    drop(provider);
    Ok(())
}
