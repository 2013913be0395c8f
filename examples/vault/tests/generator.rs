//! The `VaultToken` generator against a real OpenBao dev server: Generate creates a
//! token (an orphan by default) with the spec's policies and TTL, Cleanup revokes it by
//! accessor, Cleanup is idempotent, and an AppRole login leaves no token behind.

mod common;

use common::*;
use eso_example_vault::VaultTokenState;
use reqwest::Method;
use serde_json::{Value, json};
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
        client
            .generator
            .generate(vault_token("default", "tokens").generate())
            .await,
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
        client
            .generator
            .generate(vault_token("default", "tokens").generate())
            .await,
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
            .cleanup(vault_token("default", "tokens").cleanup(generated.state.clone()))
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
            .cleanup(vault_token("default", "tokens").cleanup(generated.state.clone()))
            .await,
    )?;
    // A state that is not ours is refused, not ignored.
    expect_status(
        "Cleanup with a foreign state",
        client
            .generator
            .cleanup(vault_token("default", "tokens").cleanup(b"{\"nope\":1}".to_vec()))
            .await,
        Code::InvalidArgument,
        &[],
    )?;
    // Without credentials there is nothing to generate with.
    expect_status(
        "Generate without the token Secret",
        client
            .generator
            .generate(vault_token("default", "no-credentials").generate())
            .await,
        Code::FailedPrecondition,
        &["Secret default/missing not found"],
    )?;
    // The generator object is gone: the token cannot be revoked, and Cleanup says so,
    // naming it by when it was generated, not by its accessor.
    let message = expect_status(
        "Cleanup after the object is gone",
        client
            .generator
            .cleanup(vault_token("default", "deleted-generator").cleanup(second.state.clone()))
            .await,
        Code::FailedPrecondition,
        &["cannot be revoked", "the token generated at ", "it expires at "],
    )?;
    let accessor = second_state_accessor(&second.state)?;
    check!(
        !message.contains(&accessor) && !message.contains(&second_token),
        "the message names the token's accessor or the token: {message}"
    );
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
        client
            .generator
            .generate(vault_token("default", "weak").generate())
            .await,
        Code::PermissionDenied,
        &["VaultToken default/weak", "creating a token"],
    )?;
    check!(!message.contains(&weak), "the token leaked: {message}");
    Ok(())
}

/// What a generator's own token needs (the README's policy): create orphan tokens (no
/// `sudo`) or child tokens, and revoke them by accessor on Cleanup. `revoke-self` (the
/// AppRole login token) is in Vault's `default` policy.
const GENERATOR_POLICY: &str = r#"path "auth/token/create-orphan" { capabilities = ["update"] }
path "auth/token/create" { capabilities = ["update"] }
path "auth/token/revoke-accessor" { capabilities = ["update"] }"#;

/// Every accessor the server knows (needs the root token).
async fn accessors(bao: &Bao) -> TestResult<Vec<String>> {
    let listed = bao.ok(Method::GET, "auth/token/accessors?list=true", None).await?;
    let mut keys: Vec<String> = listed
        .pointer("/data/keys")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    keys.sort();
    Ok(keys)
}

async fn token_lives(bao: &Bao, token: &str) -> TestResult<bool> {
    let (status, _) = bao.api_with(token, Method::GET, "auth/token/lookup-self", None).await?;
    Ok(status == 200)
}

#[tokio::test]
async fn an_orphan_token_outlives_the_token_that_created_it() -> TestResult {
    let bao = Bao::start().await?;
    bao.policy("generator", GENERATOR_POLICY).await?;
    bao.policy("reader", r#"path "secret/data/*" { capabilities = ["read"] }"#)
        .await?;
    // A non-root creator: what a real generator token looks like.
    let (creator, _) = bao.token(&["generator", "reader"]).await?;
    let manifests = [
        token_generator_object(
            "default",
            "orphans",
            &generator_spec(&bao.address, "  policies: [reader]\n  ttl: 30m\n"),
        ),
        token_generator_object(
            "default",
            "children",
            &generator_spec(&bao.address, "  policies: [reader]\n  ttl: 30m\n  orphan: false\n"),
        ),
        secret_object("default", "vault-token", &[("token", &creator)]),
    ]
    .concat();
    let (_running, mut client) = start(&manifests).await?;
    let orphan = ok(
        "Generate an orphan",
        client
            .generator
            .generate(vault_token("default", "orphans").generate())
            .await,
    )?;
    let orphan = text(orphan.secrets.get("token").ok_or("no token")?)?;
    let child = ok(
        "Generate a child",
        client
            .generator
            .generate(vault_token("default", "children").generate())
            .await,
    )?;
    let child = text(child.secrets.get("token").ok_or("no token")?)?;
    let (status, looked_up) = bao
        .api_with(&orphan, Method::GET, "auth/token/lookup-self", None)
        .await?;
    check_eq!(status, 200, "the orphan works: {looked_up}");
    check_eq!(
        looked_up.pointer("/data/orphan").and_then(Value::as_bool),
        Some(true),
        "an orphan token"
    );
    // The creating token is revoked (or expires): the orphan lives on, the child goes.
    bao.ok(Method::POST, "auth/token/revoke", Some(json!({ "token": creator })))
        .await?;
    check!(!token_lives(&bao, &creator).await?, "the creator is revoked");
    check!(
        token_lives(&bao, &orphan).await?,
        "the orphan token died with the token that created it"
    );
    check!(
        !token_lives(&bao, &child).await?,
        "with orphan: false the token is a child and goes with its parent"
    );
    Ok(())
}

#[tokio::test]
async fn an_approle_generate_leaves_no_login_token_behind() -> TestResult {
    let bao = Bao::start().await?;
    bao.policy("generator", GENERATOR_POLICY).await?;
    bao.policy("reader", r#"path "secret/data/*" { capabilities = ["read"] }"#)
        .await?;
    let (role_id, secret_id) = bao.approle("approle", "generator", &["generator", "reader"]).await?;
    let manifests = [
        token_generator_object(
            "default",
            "approle-tokens",
            &format!(
                "  server: {}\n  auth:\n    appRole:\n      roleIdRef: {{name: approle, key: role-id}}\n      secretIdRef: {{name: approle, key: secret-id}}\n  policies: [reader]\n  ttl: 30m\n",
                quoted(&bao.address)
            ),
        ),
        secret_object("default", "approle", &[("role-id", &role_id), ("secret-id", &secret_id)]),
    ]
    .concat();
    let (_running, mut client) = start(&manifests).await?;
    let before = accessors(&bao).await?;
    let generated = ok(
        "Generate with AppRole",
        client
            .generator
            .generate(vault_token("default", "approle-tokens").generate())
            .await,
    )?;
    let token = text(generated.secrets.get("token").ok_or("no token")?)?;
    let state: VaultTokenState = serde_json::from_slice(&generated.state).map_err(|e| e.to_string())?;
    let after: Vec<String> = accessors(&bao)
        .await?
        .into_iter()
        .filter(|a| !before.contains(a))
        .collect();
    // Only the generated token is new: the login token was revoked.
    check_eq!(after, vec![state.accessor.clone()], "new tokens after one Generate");
    check!(
        token_lives(&bao, &token).await?,
        "the generated token outlives the revoked login token"
    );
    // Cleanup logs in too, and leaves nothing behind either.
    ok(
        "Cleanup with AppRole",
        client
            .generator
            .cleanup(vault_token("default", "approle-tokens").cleanup(generated.state.clone()))
            .await,
    )?;
    check_eq!(accessors(&bao).await?, before, "no token left after Cleanup");
    check!(!token_lives(&bao, &token).await?, "Cleanup revoked the token");
    Ok(())
}
