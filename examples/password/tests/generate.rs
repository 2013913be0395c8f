//! The Password generator through the runtime, over real loopback mTLS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use eso_example_password::{DEFAULT_SYMBOLS, PasswordGenerator, PasswordSpec};
use eso_runtime::ProviderSpec;
use eso_runtime::proto::generator::v1 as wire;
use eso_runtime::testing::{TestProvider, generator_ref};
use tonic::Code;

const MANIFESTS: &str = "\
apiVersion: provider.external-secrets.io/v2alpha1
kind: Password
metadata: {name: defaults, namespace: default}
spec: {}
---
apiVersion: provider.external-secrets.io/v2alpha1
kind: Password
metadata: {name: custom, namespace: default}
spec: {length: 40, digits: 5, symbols: 5, symbolCharacters: '-_', noUpper: true, allowRepeat: true}
---
apiVersion: provider.external-secrets.io/v2alpha1
kind: Password
metadata: {name: too-many, namespace: default}
spec: {length: 8, digits: 5, symbols: 5}
---
apiVersion: provider.external-secrets.io/v2alpha1
kind: Password
metadata: {name: no-repeat, namespace: default}
spec: {length: 30, digits: 12, symbols: 0}
---
apiVersion: provider.external-secrets.io/v2alpha1
kind: Password
metadata: {name: huge, namespace: default}
spec: {length: 100000}
";

async fn start() -> TestProvider {
    let provider = eso_runtime::serve!().generator(PasswordGenerator);
    TestProvider::start(provider, MANIFESTS).await.unwrap()
}

async fn generate(running: &TestProvider, name: &str) -> Result<wire::GenerateResponse, tonic::Status> {
    let mut client = running.client().await.unwrap();
    client
        .generator
        .generate(wire::GenerateRequest {
            generator_ref: Some(generator_ref(&PasswordSpec::GVK, "default", name)),
            source_namespace: "default".into(),
        })
        .await
        .map(|r| r.into_inner())
}

fn password(response: &wire::GenerateResponse) -> String {
    String::from_utf8(response.secrets["password"].clone()).unwrap()
}

#[tokio::test]
async fn defaults_follow_esos_password_generator() {
    let running = start().await;
    let response = generate(&running, "defaults").await.unwrap();
    let text = password(&response);
    assert_eq!(text.chars().count(), 24);
    assert_eq!(text.chars().filter(|c| c.is_ascii_digit()).count(), 6);
    assert_eq!(text.chars().filter(|c| DEFAULT_SYMBOLS.contains(*c)).count(), 6);
    assert!(response.state.is_empty(), "nothing to clean up");
    let again = password(&generate(&running, "defaults").await.unwrap());
    assert_ne!(text, again);

    // Cleanup of a stateless generation succeeds.
    let mut client = running.client().await.unwrap();
    client
        .generator
        .cleanup(wire::CleanupRequest {
            generator_ref: Some(generator_ref(&PasswordSpec::GVK, "default", "defaults")),
            state: Vec::new(),
            source_namespace: "default".into(),
        })
        .await
        .unwrap();
    running.stop().await.unwrap();
}

#[tokio::test]
async fn every_field_is_honoured() {
    let running = start().await;
    let text = password(&generate(&running, "custom").await.unwrap());
    assert_eq!(text.len(), 40);
    assert_eq!(text.chars().filter(|c| c.is_ascii_digit()).count(), 5);
    assert_eq!(text.chars().filter(|c| *c == '-' || *c == '_').count(), 5);
    assert!(
        text.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'),
        "{text}"
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn impossible_combinations_are_clear_errors() {
    let running = start().await;
    for (name, expected) in [
        ("too-many", "spec.digits (5) + spec.symbols (5) exceed spec.length (8)"),
        (
            "no-repeat",
            "spec.digits asks for 12 characters without repeats, but there are only 10 digits",
        ),
        ("huge", "spec.length is 100000; it must be between 1 and 4096"),
    ] {
        let status = generate(&running, name).await.unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition, "{name}: {status:?}");
        assert!(status.message().contains(expected), "{name}: {}", status.message());
        assert!(
            status.message().contains(&format!("Password default/{name}")),
            "{}",
            status.message()
        );
    }
    running.stop().await.unwrap();
}

#[test]
fn the_crd_matches_the_snapshot_and_is_structural() {
    let provider = eso_runtime::serve!().generator(PasswordGenerator);
    let manifest = provider.manifest().unwrap();
    assert_eq!(manifest.generators[0].kind, "Password");
    let yaml = manifest.crds_yaml().unwrap();
    insta::assert_snapshot!("password_crd", yaml);
}
