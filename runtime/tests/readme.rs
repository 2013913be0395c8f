//! The README's opening example compiles and serves. `readme/example.rs` is that
//! example byte for byte (a test below compares it with README.md's first Rust
//! block), compiled here beside a stand-in `AcmeClient`, the one name the README
//! leaves to the reader; then served over real mTLS and called like ESO core.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use eso_runtime::testing::{TestProvider, TestResult, check_eq, expect_status, get, requests::StoreCall};
use eso_runtime::{Provider, ProviderInfo, ProviderSpec};

#[allow(dead_code)] // the example's `main` is not called: the test serves `Acme` itself
mod example {
    include!("readme/example.rs");

    /// The backend client the README leaves out: answers `key@server` to the one
    /// token it accepts.
    pub struct AcmeClient {
        server: String,
    }

    impl AcmeClient {
        pub fn new(server: &str, token: SecretValue) -> Result<Self> {
            if token.expose() != b"s3cret" {
                return Err(eso_runtime::Error::unauthenticated("wrong token"));
            }
            Ok(Self {
                server: server.to_owned(),
            })
        }

        pub async fn read(&self, key: &str) -> Result<SecretValue> {
            Ok(format!("{key}@{}", self.server).into())
        }
    }
}

#[test]
fn the_example_is_the_readmes_first_rust_block() {
    let readme = include_str!("../../README.md");
    let start = readme.find("```rust\n").expect("README has a Rust block") + "```rust\n".len();
    let end = start + readme[start..].find("\n```\n").expect("the block ends") + 1;
    assert_eq!(
        &readme[start..end],
        include_str!("readme/example.rs"),
        "runtime/tests/readme/example.rs must be README.md's first Rust block, byte for byte: copy it over"
    );
}

const MANIFESTS: &str = "\
apiVersion: v1
kind: Secret
metadata: {name: acme, namespace: team-a}
stringData: {token: s3cret}
---
apiVersion: provider.external-secrets.io/v2alpha1
kind: Acme
metadata: {name: prod, namespace: team-a}
spec: {server: 'https://acme.example:8200', token: {name: acme, key: token}}
---
apiVersion: provider.external-secrets.io/v2alpha1
kind: Acme
metadata: {name: wrong, namespace: team-a}
spec: {server: 'https://acme.example:8200', token: {name: acme, key: missing}}
";

#[tokio::test]
async fn the_example_serves_get_secret() -> TestResult {
    let provider = Provider::new(ProviderInfo {
        name: "readme",
        version: "0",
    })
    .secret_store(example::Acme);
    let (running, mut client) = TestProvider::start_connected(provider, MANIFESTS).await?;
    let gvk = <example::AcmeSpec as ProviderSpec>::GVK;

    let value = get(
        &mut client,
        StoreCall::new(&gvk, "team-a", "prod").get("db/password", "", ""),
    )
    .await;
    check_eq!(
        value.ok(),
        Some("db/password@https://acme.example:8200".to_owned()),
        "GetSecret"
    );

    // The token is read from the Secret the spec names: a missing key is not served.
    let refused = get(
        &mut client,
        StoreCall::new(&gvk, "team-a", "wrong").get("db/password", "", ""),
    )
    .await;
    expect_status(
        "GetSecret with a missing token key",
        refused,
        tonic::Code::FailedPrecondition,
        &["missing"],
    )?;

    running.stop().await?;
    Ok(())
}
