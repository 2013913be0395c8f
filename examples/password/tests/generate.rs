//! The Password generator through the runtime, over real loopback mTLS.

use eso_example_password::{DEFAULT_SYMBOLS, PasswordSpec};
use eso_runtime::ProviderSpec;
use eso_runtime::client::ProviderClient;
use eso_runtime::proto::generator::v1 as wire;
use eso_runtime::testing::requests::GeneratorCall;
use eso_runtime::testing::{TestProvider, TestResult, check, check_eq, expect_status, ok, text};
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

async fn start() -> TestResult<(TestProvider, ProviderClient)> {
    Ok(TestProvider::start_connected(eso_example_password::provider(), MANIFESTS).await?)
}

/// Requests about the Password object `default/<name>`, as ESO core sends them.
fn password_object(name: &str) -> GeneratorCall {
    GeneratorCall::new(&PasswordSpec::GVK, "default", name)
}

async fn generate(client: &mut ProviderClient, name: &str) -> Result<wire::GenerateResponse, tonic::Status> {
    client
        .generator
        .generate(password_object(name).generate())
        .await
        .map(tonic::Response::into_inner)
}

fn password(response: &wire::GenerateResponse) -> TestResult<String> {
    text(response.secrets.get("password").ok_or("no key password")?)
}

#[tokio::test]
async fn defaults_follow_esos_password_generator() -> TestResult {
    let (running, mut client) = start().await?;
    let response = generate(&mut client, "defaults").await?;
    let text = password(&response)?;
    check_eq!(text.chars().count(), 24, "length");
    check_eq!(text.chars().filter(|c| c.is_ascii_digit()).count(), 6, "digits");
    check_eq!(
        text.chars().filter(|c| DEFAULT_SYMBOLS.contains(*c)).count(),
        6,
        "symbols"
    );
    check!(response.state.is_empty(), "nothing to clean up");
    let again = password(&generate(&mut client, "defaults").await?)?;
    check!(text != again, "two passwords differ: {text}");

    // Cleanup of a stateless generation succeeds.
    ok(
        "Cleanup",
        client
            .generator
            .cleanup(password_object("defaults").cleanup(Vec::new()))
            .await,
    )?;
    running.stop().await?;
    Ok(())
}

#[tokio::test]
async fn every_field_is_honoured() -> TestResult {
    let (running, mut client) = start().await?;
    let text = password(&generate(&mut client, "custom").await?)?;
    check_eq!(text.len(), 40, "length");
    check_eq!(text.chars().filter(|c| c.is_ascii_digit()).count(), 5, "digits");
    check_eq!(text.chars().filter(|c| *c == '-' || *c == '_').count(), 5, "symbols");
    check!(
        text.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'),
        "{text}"
    );
    running.stop().await?;
    Ok(())
}

#[tokio::test]
async fn impossible_combinations_are_clear_errors() -> TestResult {
    let (running, mut client) = start().await?;
    for (name, expected) in [
        ("too-many", "spec.digits (5) + spec.symbols (5) exceed spec.length (8)"),
        (
            "no-repeat",
            "spec.digits asks for 12 characters without repeats, but there are only 10 digits",
        ),
        ("huge", "spec.length is 100000; it must be between 1 and 4096"),
    ] {
        expect_status(
            name,
            generate(&mut client, name).await,
            Code::FailedPrecondition,
            &[expected, &format!("Password default/{name}")],
        )?;
    }
    running.stop().await?;
    Ok(())
}

#[test]
fn the_crd_matches_the_snapshot_and_is_structural() -> TestResult {
    let manifest = eso_example_password::provider().manifest()?;
    check_eq!(manifest.generators[0].kind, "Password", "the generator kind");
    let yaml = manifest.crds_yaml()?;
    insta::assert_snapshot!("password_crd", yaml);
    Ok(())
}
