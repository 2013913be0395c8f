//! Logging in to Vault (AppRole), TLS to Vault with a CA from a Secret, the Vault
//! namespace header, and the runtime's authentication scopes deciding where the
//! credentials are read from.

mod common;

use common::*;
use eso_runtime::proto::provider::v1 as wire;
use reqwest::Method;
use serde_json::{Value, json};
use tonic::Code;

const READ_WRITE_POLICY: &str = r#"path "secret/data/app/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "secret/metadata/app/*" { capabilities = ["create", "read", "update", "delete", "list"] }"#;

/// How many tokens the server knows.
async fn token_count(bao: &Bao) -> TestResult<usize> {
    let listed = bao.ok(Method::GET, "auth/token/accessors?list=true", None).await?;
    Ok(listed
        .pointer("/data/keys")
        .and_then(Value::as_array)
        .map_or(0, Vec::len))
}

fn approle_spec(server: &str, path: Option<&str>, secret: &str) -> String {
    let path = path.map(|p| format!("      path: {p}\n")).unwrap_or_default();
    format!(
        "  server: {}\n  auth:\n    appRole:\n{path}      roleIdRef: {{name: {secret}, key: role-id}}\n      secretIdRef: {{name: {secret}, key: secret-id}}\n",
        quoted(server)
    )
}

/// Revokes every token but the root token (what an expired AppRole token looks like).
async fn revoke_all_but_root(bao: &Bao) -> TestResult<usize> {
    let root = bao.ok(Method::GET, "auth/token/lookup-self", None).await?;
    let root_accessor = root.pointer("/data/accessor").and_then(Value::as_str).unwrap_or("");
    let listed = bao.ok(Method::GET, "auth/token/accessors?list=true", None).await?;
    let accessors: Vec<String> = listed
        .pointer("/data/keys")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let mut revoked = 0;
    for accessor in accessors.iter().filter(|a| a.as_str() != root_accessor) {
        bao.ok(
            Method::POST,
            "auth/token/revoke-accessor",
            Some(json!({ "accessor": accessor })),
        )
        .await?;
        revoked += 1;
    }
    Ok(revoked)
}

#[tokio::test]
async fn approle_logs_in_reads_writes_and_logs_in_again() -> TestResult {
    let bao = Bao::start().await?;
    bao.policy("rw", READ_WRITE_POLICY).await?;
    let (role_id, secret_id) = bao.approle("approle", "eso", &["rw"]).await?;
    let (custom_role_id, custom_secret_id) = bao.approle("team-approle", "eso", &["rw"]).await?;
    bao.kv_put("app/db", json!({"password": "pw"})).await?;
    let manifests = [
        vault_object("default", "approle", &approle_spec(&bao.address, None, "approle-creds")),
        vault_object(
            "default",
            "custom-path",
            &approle_spec(&bao.address, Some("team-approle"), "custom-creds"),
        ),
        vault_object(
            "default",
            "wrong-secret-id",
            &approle_spec(&bao.address, None, "wrong-creds"),
        ),
        vault_object(
            "default",
            "no-such-mount",
            &approle_spec(&bao.address, Some("nowhere"), "approle-creds"),
        ),
        secret_object(
            "default",
            "approle-creds",
            &[("role-id", &role_id), ("secret-id", &secret_id)],
        ),
        secret_object(
            "default",
            "custom-creds",
            &[("role-id", &custom_role_id), ("secret-id", &custom_secret_id)],
        ),
        secret_object(
            "default",
            "wrong-creds",
            &[
                ("role-id", &role_id),
                ("secret-id", "00000000-0000-0000-0000-000000000000"),
            ],
        ),
    ]
    .concat();
    let (_running, mut client) = start(&manifests).await?;
    check_eq!(
        get(&mut client, vault("default", "approle").get("app/db", "", "password"))
            .await
            .map_err(|s| s.to_string())?,
        "pw",
        "read with AppRole"
    );
    ok(
        "push with AppRole",
        client
            .store
            .push_secret(vault("default", "approle").push(&[("k", "v")], "k", "app/pushed", "k", ""))
            .await,
    )?;
    check_eq!(
        bao.kv_get("app/pushed").await?,
        Some(json!({"k": "v"})),
        "pushed with AppRole"
    );
    let valid = ok(
        "Validate AppRole",
        client.store.validate(vault("default", "approle").validate()).await,
    )?;
    check!(valid.valid, "AppRole store validates: {valid:?}");
    // A policy refusal is not mistaken for an expired token: no new login, no new token.
    let tokens = token_count(&bao).await?;
    expect_status(
        "AppRole read outside the policy",
        get(&mut client, vault("default", "approle").get("other/x", "", "")).await,
        Code::PermissionDenied,
        &["reading secret/data/other/x", "permission denied"],
    )?;
    check_eq!(token_count(&bao).await?, tokens, "no new token after a policy refusal");
    check_eq!(
        get(
            &mut client,
            vault("default", "custom-path").get("app/db", "", "password")
        )
        .await
        .map_err(|s| s.to_string())?,
        "pw",
        "read with AppRole mounted at team-approle"
    );
    // The token AppRole gave us is revoked (as if it expired): the client logs in again.
    let revoked = revoke_all_but_root(&bao).await?;
    check!(revoked >= 2, "revoked {revoked} AppRole tokens");
    check_eq!(
        get(&mut client, vault("default", "approle").get("app/db", "", "password"))
            .await
            .map_err(|s| s.to_string())?,
        "pw",
        "read after the AppRole token was revoked"
    );
    let message = expect_status(
        "a wrong secret id",
        get(&mut client, vault("default", "wrong-secret-id").get("app/db", "", "")).await,
        Code::PermissionDenied,
        &[
            "Vault default/wrong-secret-id",
            "logging in with AppRole at auth/approle",
            "refused the role id or secret id",
        ],
    )?;
    check!(
        !message.contains(&role_id) && !message.contains("00000000-0000"),
        "a credential leaked: {message}"
    );
    // Vault answers a path with no auth method behind it with 403.
    expect_status(
        "an AppRole mount that does not exist",
        get(&mut client, vault("default", "no-such-mount").get("app/db", "", "")).await,
        Code::PermissionDenied,
        &[
            "logging in with AppRole at auth/nowhere",
            "is an AppRole auth method enabled at auth/nowhere?",
        ],
    )?;
    Ok(())
}

#[tokio::test]
async fn tls_to_vault_with_a_ca_from_a_secret() -> TestResult {
    let bao = Bao::start_tls().await?;
    let ca = bao.ca_pem.clone().ok_or("the TLS server has no CA")?;
    bao.kv_put("tls/secret", json!({"v": "over-tls"})).await?;
    let manifests = [
        vault_object(
            "default",
            "with-ca",
            &token_spec(&bao.address, "  caBundle: {name: vault-ca, key: ca.crt}\n"),
        ),
        vault_object("default", "without-ca", &token_spec(&bao.address, "")),
        vault_object(
            "default",
            "bad-ca",
            &token_spec(&bao.address, "  caBundle: {name: not-a-ca, key: ca.crt}\n"),
        ),
        secret_object("default", "vault-token", &[("token", ROOT_TOKEN)]),
        secret_object("default", "vault-ca", &[("ca.crt", &ca)]),
        secret_object("default", "not-a-ca", &[("ca.crt", "hello")]),
    ]
    .concat();
    let (_running, mut client) = start(&manifests).await?;
    check_eq!(
        get(&mut client, vault("default", "with-ca").get("tls/secret", "", "v"))
            .await
            .map_err(|s| s.to_string())?,
        "over-tls",
        "read over TLS"
    );
    let valid = ok(
        "Validate over TLS",
        client.store.validate(vault("default", "with-ca").validate()).await,
    )?;
    check!(valid.valid && valid.warnings.is_empty(), "TLS store: {valid:?}");
    // Without the CA the server's certificate is not trusted.
    expect_status(
        "no CA",
        get(&mut client, vault("default", "without-ca").get("tls/secret", "", "v")).await,
        Code::Unavailable,
        &["Vault default/without-ca", "certificate"],
    )?;
    expect_status(
        "a CA bundle that is not PEM",
        get(&mut client, vault("default", "bad-ca").get("tls/secret", "", "v")).await,
        Code::FailedPrecondition,
        &["spec.caBundle holds no PEM certificate"],
    )?;
    Ok(())
}

#[tokio::test]
async fn the_vault_namespace_header_is_sent() -> TestResult {
    let bao = Bao::start().await?;
    // OpenBao namespaces: a namespace with its own KV v2 mount and secret.
    bao.ok(Method::POST, "sys/namespaces/team1", Some(json!({}))).await?;
    bao.ok(
        Method::POST,
        "team1/sys/mounts/secret",
        Some(json!({"type": "kv", "options": {"version": "2"}})),
    )
    .await?;
    bao.ok(
        Method::POST,
        "team1/secret/data/ns-only",
        Some(json!({"data": {"where": "team1"}})),
    )
    .await?;
    let manifests = [
        vault_object(
            "default",
            "in-namespace",
            &token_spec(&bao.address, "  namespace: team1\n"),
        ),
        vault_object("default", "root-namespace", &token_spec(&bao.address, "")),
        secret_object("default", "vault-token", &[("token", ROOT_TOKEN)]),
    ]
    .concat();
    let (_running, mut client) = start(&manifests).await?;
    check_eq!(
        get(
            &mut client,
            vault("default", "in-namespace").get("ns-only", "", "where")
        )
        .await
        .map_err(|s| s.to_string())?,
        "team1",
        "read inside namespace team1"
    );
    expect_status(
        "the same key outside the namespace",
        get(
            &mut client,
            vault("default", "root-namespace").get("ns-only", "", "where"),
        )
        .await,
        Code::NotFound,
        &["secret ns-only not found"],
    )?;
    Ok(())
}

fn cluster_get(object_namespace: &str, name: &str, source_namespace: &str, key: &str) -> wire::GetSecretRequest {
    vault(object_namespace, name)
        .through("ClusterSecretStore")
        .from_namespace(source_namespace)
        .get(key, "", "v")
}

#[tokio::test]
async fn credentials_are_read_under_the_authentication_scope() -> TestResult {
    let bao = Bao::start().await?;
    bao.kv_put("scoped", json!({"v": "value"})).await?;
    let manifests = [
        // Namespaced SecretStore objects.
        vault_object("team-a", "own", &token_spec(&bao.address, "")),
        vault_object(
            "team-a",
            "reaches-out",
            &format!(
                "  server: {}\n  auth:\n    tokenSecretRef: {{name: vault-token, key: token, namespace: team-b}}\n",
                quoted(&bao.address)
            ),
        ),
        // Cluster stores, living in eso-system.
        vault_object_annotated(
            "eso-system",
            "per-team",
            &[("external-secrets.io/authentication-scope", "ManifestNamespace")],
            &token_spec(&bao.address, ""),
        ),
        vault_object_annotated(
            "eso-system",
            "per-team-pinned",
            &[("external-secrets.io/authentication-scope", "ManifestNamespace")],
            &format!(
                "  server: {}\n  auth:\n    tokenSecretRef: {{name: vault-token, key: token, namespace: team-a}}\n",
                quoted(&bao.address)
            ),
        ),
        vault_object("eso-system", "central", &token_spec(&bao.address, "")),
        vault_object(
            "eso-system",
            "central-explicit",
            &format!(
                "  server: {}\n  auth:\n    tokenSecretRef: {{name: vault-token, key: token, namespace: team-a}}\n",
                quoted(&bao.address)
            ),
        ),
        // team-a and eso-system hold the real token; team-b a token Vault refuses.
        secret_object("team-a", "vault-token", &[("token", ROOT_TOKEN)]),
        secret_object("team-b", "vault-token", &[("token", "team-b-unknown-token")]),
        secret_object("eso-system", "vault-token", &[("token", ROOT_TOKEN)]),
    ]
    .concat();
    let (_running, mut client) = start(&manifests).await?;

    // SecretStore: credentials from the object's own namespace.
    check_eq!(
        get(&mut client, vault("team-a", "own").get("scoped", "", "v"))
            .await
            .map_err(|s| s.to_string())?,
        "value",
        "SecretStore reads team-a's token"
    );
    expect_status(
        "SecretStore selector naming another namespace",
        get(&mut client, vault("team-a", "reaches-out").get("scoped", "", "v")).await,
        Code::PermissionDenied,
        &["team-b"],
    )?;
    expect_status(
        "SecretStore object in another namespace than the ExternalSecret",
        get(
            &mut client,
            vault("team-a", "own").from_namespace("team-b").get("scoped", "", "v"),
        )
        .await,
        Code::PermissionDenied,
        &[],
    )?;

    // ClusterSecretStore, ManifestNamespace: the ExternalSecret's namespace's token.
    check_eq!(
        get(&mut client, cluster_get("eso-system", "per-team", "team-a", "scoped"))
            .await
            .map_err(|s| s.to_string())?,
        "value",
        "ManifestNamespace from team-a uses team-a's token"
    );
    expect_status(
        "ManifestNamespace from team-b uses team-b's token, which Vault refuses",
        get(&mut client, cluster_get("eso-system", "per-team", "team-b", "scoped")).await,
        Code::PermissionDenied,
        &["Vault eso-system/per-team", "permission denied"],
    )?;
    expect_status(
        "ManifestNamespace from a namespace without the Secret",
        get(&mut client, cluster_get("eso-system", "per-team", "team-c", "scoped")).await,
        Code::FailedPrecondition,
        &["Secret team-c/vault-token not found"],
    )?;
    expect_status(
        "ManifestNamespace with a selector naming a namespace",
        get(
            &mut client,
            cluster_get("eso-system", "per-team-pinned", "team-a", "scoped"),
        )
        .await,
        Code::PermissionDenied,
        &["ManifestNamespace"],
    )?;
    // team-a's cached client does not serve team-b afterwards, nor the other way round.
    check_eq!(
        get(&mut client, cluster_get("eso-system", "per-team", "team-a", "scoped"))
            .await
            .map_err(|s| s.to_string())?,
        "value",
        "team-a again"
    );

    // ClusterSecretStore, ProviderNamespace (default): the object's namespace, or the
    // selector's explicit one.
    check_eq!(
        get(&mut client, cluster_get("eso-system", "central", "team-b", "scoped"))
            .await
            .map_err(|s| s.to_string())?,
        "value",
        "ProviderNamespace uses eso-system's token even when called from team-b"
    );
    check_eq!(
        get(
            &mut client,
            cluster_get("eso-system", "central-explicit", "team-b", "scoped")
        )
        .await
        .map_err(|s| s.to_string())?,
        "value",
        "ProviderNamespace honours the selector's namespace"
    );
    Ok(())
}
