//! The `VaultToken` generator against a real OpenBao dev server: Generate creates a
//! child token with the spec's policies and TTL, Cleanup revokes it by accessor, and
//! Cleanup is idempotent.

mod common;

use common::*;
use eso_example_vault::VaultTokenState;
use reqwest::Method;
use serde_json::Value;
use tonic::Code;

fn generator_spec(server: &str, extra: &str) -> String {
    format!(
        "  server: {}\n  auth:\n    tokenSecretRef: {{name: vault-token, key: token}}\n{extra}",
        quoted(server)
    )
}

#[tokio::test]
async fn generate_creates_a_token_and_cleanup_revokes_it() -> TestResult {
    let bao = Bao::start().await?;
    bao.policy("reader", r#"path "secret/data/*" { capabilities = ["read"] }"#)
        .await?;
    let manifests = [
        token_generator_object(
            "default",
            "tokens",
            &generator_spec(
                &bao.address,
                "  policies: [reader]\n  ttl: 30m\n  displayName: eso-test\n  renewable: false\n",
            ),
        ),
        token_generator_object(
            "default",
            "no-credentials",
            &format!(
                "  server: {}\n  auth:\n    tokenSecretRef: {{name: missing, key: token}}\n",
                quoted(&bao.address)
            ),
        ),
        secret_object("default", "vault-token", &[("token", ROOT_TOKEN)]),
    ]
    .concat();
    let (_running, mut client) = start(&manifests).await?;

    let generated = ok(
        "Generate",
        client.generator.generate(generate_request("default", "tokens")).await,
    )?;
    let token = text(generated.secrets.get("token").ok_or("no token in the secrets")?)?;
    check_eq!(generated.secrets.len(), 1, "only the token is returned");
    let state: VaultTokenState =
        serde_json::from_slice(&generated.state).map_err(|e| format!("the state is not a VaultToken state: {e}"))?;
    check!(!state.accessor.is_empty(), "the state holds the accessor");
    check!(
        !String::from_utf8_lossy(&generated.state).contains(&token),
        "the state must not hold the token"
    );
    check!(
        state.expires_at.is_some(),
        "a token with a TTL has an expiry: {state:?}"
    );

    // The token works and carries the spec's policies, TTL and name.
    let (status, looked_up) = bao
        .api_with(&token, Method::GET, "auth/token/lookup-self", None)
        .await?;
    check_eq!(status, 200, "lookup-self with the generated token: {looked_up}");
    let policies: Vec<&str> = looked_up
        .pointer("/data/policies")
        .and_then(Value::as_array)
        .map(|p| p.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    check!(policies.contains(&"reader"), "policies: {policies:?}");
    let ttl = looked_up.pointer("/data/ttl").and_then(Value::as_u64).unwrap_or(0);
    check!(ttl > 1700 && ttl <= 1800, "ttl {ttl} is about 30m");
    check_eq!(
        looked_up.pointer("/data/accessor").and_then(Value::as_str),
        Some(state.accessor.as_str()),
        "the state's accessor is the token's"
    );
    check_eq!(
        looked_up.pointer("/data/display_name").and_then(Value::as_str),
        Some("token-eso-test"),
        "display name"
    );
    // A second Generate makes a different token.
    let second = ok(
        "Generate again",
        client.generator.generate(generate_request("default", "tokens")).await,
    )?;
    check!(
        second.secrets.get("token") != generated.secrets.get("token"),
        "a new token per Generate"
    );

    // Cleanup revokes it: the token no longer works.
    ok(
        "Cleanup",
        client
            .generator
            .cleanup(cleanup_request("default", "tokens", generated.state.clone()))
            .await,
    )?;
    let (status, body) = bao
        .api_with(&token, Method::GET, "auth/token/lookup-self", None)
        .await?;
    check_eq!(status, 403, "the revoked token is refused: {body}");
    // The other generation is untouched.
    let second_token = text(second.secrets.get("token").ok_or("no second token")?)?;
    let (status, _) = bao
        .api_with(&second_token, Method::GET, "auth/token/lookup-self", None)
        .await?;
    check_eq!(status, 200, "the second token still works");

    // Cleanup again: already gone is success.
    ok(
        "Cleanup twice",
        client
            .generator
            .cleanup(cleanup_request("default", "tokens", generated.state.clone()))
            .await,
    )?;
    // A state that is not ours is refused, not ignored.
    expect_status(
        "Cleanup with a foreign state",
        client
            .generator
            .cleanup(cleanup_request("default", "tokens", b"{\"nope\":1}".to_vec()))
            .await,
        Code::InvalidArgument,
        &[],
    )?;
    // Without credentials there is nothing to generate with.
    expect_status(
        "Generate without the token Secret",
        client
            .generator
            .generate(generate_request("default", "no-credentials"))
            .await,
        Code::FailedPrecondition,
        &["Secret default/missing not found"],
    )?;
    // The generator object is gone: the token cannot be revoked, and Cleanup says so.
    expect_status(
        "Cleanup after the object is gone",
        client
            .generator
            .cleanup(cleanup_request("default", "deleted-generator", second.state.clone()))
            .await,
        Code::FailedPrecondition,
        &["cannot be revoked", &second_state_accessor(&second.state)?],
    )?;
    Ok(())
}

fn second_state_accessor(state: &[u8]) -> TestResult<String> {
    let state: VaultTokenState = serde_json::from_slice(state).map_err(|e| e.to_string())?;
    Ok(state.accessor)
}

#[tokio::test]
async fn generate_is_refused_by_a_policy_that_denies() -> TestResult {
    let bao = Bao::start().await?;
    bao.policy("no-create", r#"path "secret/*" { capabilities = ["read"] }"#)
        .await?;
    let (weak, _) = bao.token(&["no-create"]).await?;
    let manifests = [
        token_generator_object(
            "default",
            "weak",
            &generator_spec(&bao.address, "  policies: [default]\n"),
        ),
        secret_object("default", "vault-token", &[("token", &weak)]),
    ]
    .concat();
    let (_running, mut client) = start(&manifests).await?;
    // The token's policies do not grant auth/token/create.
    let message = expect_status(
        "Generate with a token that may not create tokens",
        client.generator.generate(generate_request("default", "weak")).await,
        Code::PermissionDenied,
        &["VaultToken default/weak", "creating a token"],
    )?;
    check!(!message.contains(&weak), "the token leaked: {message}");
    Ok(())
}
