//! Vault's answers mapped to the codes ESO core reads: NOT_FOUND only for a missing
//! remote secret, version or property; PERMISSION_DENIED when a policy refuses;
//! UNAVAILABLE when the server is sealed or gone; configuration problems as
//! FAILED_PRECONDITION or INVALID_ARGUMENT. No message carries a token or a value.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;
use tonic::Code;

const VALUE: &str = "do-not-leak-this-value";

#[tokio::test]
async fn not_found_only_for_missing_secrets_versions_and_properties() -> TestResult {
    let bao = Bao::start().await?;
    bao.kv_put("k", json!({"a": VALUE})).await?;
    bao.kv_put("k", json!({"a": VALUE, "b": "2"})).await?;
    bao.kv_put("k", json!({"a": VALUE, "b": "3"})).await?;
    // Version 1 soft-deleted, version 2 destroyed.
    bao.ok(Method::POST, "secret/delete/k", Some(json!({"versions": [1]})))
        .await?;
    bao.ok(Method::PUT, "secret/destroy/k", Some(json!({"versions": [2]})))
        .await?;
    bao.kv_put("gone", json!({"a": "1"})).await?;
    bao.ok(Method::DELETE, "secret/data/gone", None).await?;
    let manifests = [
        vault_object("default", "backend", &token_spec(&bao.address, "")),
        vault_object(
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
    let mut read = async |name: &str, key: &str, version: &str, property: &str| {
        get(&mut client, vault("default", name).get(key, version, property)).await
    };
    let mut messages = Vec::new();
    for (what, key, version, property, needle) in [
        ("missing secret", "nope", "", "", "secret nope not found"),
        (
            "missing folder",
            "no/such/thing",
            "",
            "",
            "secret no/such/thing not found",
        ),
        ("missing version", "k", "99", "", "secret k (version 99) not found"),
        ("soft-deleted version", "k", "1", "", "secret k (version 1) not found"),
        ("destroyed version", "k", "2", "", "secret k (version 2) not found"),
        ("deleted current version", "gone", "", "", "secret gone not found"),
        ("missing property", "k", "", "zzz", "secret k property zzz not found"),
        (
            "missing property of a version",
            "k",
            "3",
            "zzz",
            "secret k (version 3) property zzz not found",
        ),
    ] {
        messages.push(expect_status(
            what,
            read("backend", key, version, property).await,
            Code::NotFound,
            &["Vault default/backend", needle],
        )?);
    }
    // Bad requests and bad configuration are never NOT_FOUND.
    messages.push(expect_status(
        "a version that is not a number",
        read("backend", "k", "latest", "").await,
        Code::InvalidArgument,
        &["version \"latest\" of k is not a KV v2 version"],
    )?);
    messages.push(expect_status(
        "a key climbing out of the mount",
        read("backend", "../../sys/mounts", "", "").await,
        Code::InvalidArgument,
        &["remote_ref.key \"../../sys/mounts\" is refused"],
    )?);
    messages.push(expect_status(
        "the token's Secret is missing",
        read("no-credentials", "k", "", "").await,
        Code::FailedPrecondition,
        &["Secret default/missing not found"],
    )?);
    messages.push(expect_status(
        "the Vault object is missing",
        read("no-such-object", "k", "", "").await,
        Code::FailedPrecondition,
        &["Vault default/no-such-object not found"],
    )?);
    for message in messages {
        check!(
            !message.contains(VALUE) && !message.contains(ROOT_TOKEN),
            "a message leaked a value or the token: {message}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_policy_that_denies_is_permission_denied() -> TestResult {
    let bao = Bao::start().await?;
    bao.policy(
        "read-allowed",
        r#"path "secret/data/allowed/*" { capabilities = ["read"] }
path "secret/metadata/allowed/*" { capabilities = ["list", "read"] }"#,
    )
    .await?;
    let (token, _) = bao.token(&["read-allowed"]).await?;
    bao.kv_put("allowed/one", json!({"a": "1"})).await?;
    bao.kv_put("denied/one", json!({"a": VALUE})).await?;
    let manifests = [
        vault_object("default", "backend", &token_spec(&bao.address, "")),
        vault_object(
            "default",
            "garbage-token",
            &format!(
                "  server: {}\n  auth:\n    tokenSecretRef: {{name: garbage, key: token}}\n",
                quoted(&bao.address)
            ),
        ),
        secret_object("default", "vault-token", &[("token", &token)]),
        secret_object("default", "garbage", &[("token", "s.garbage-token-value")]),
    ]
    .concat();
    let (_running, mut client) = start(&manifests).await?;
    check_eq!(
        get(&mut client, vault("default", "backend").get("allowed/one", "", "a"))
            .await
            .map_err(|s| s.to_string())?,
        "1",
        "the policy allows allowed/*"
    );
    let messages = [
        expect_status(
            "read outside the policy",
            get(&mut client, vault("default", "backend").get("denied/one", "", "")).await,
            Code::PermissionDenied,
            &[
                "Vault default/backend",
                "reading secret/data/denied/one",
                "permission denied",
            ],
        )?,
        // A path the policy does not cover is refused even when nothing is there.
        expect_status(
            "read of a missing secret outside the policy",
            get(&mut client, vault("default", "backend").get("denied/none", "", "")).await,
            Code::PermissionDenied,
            &["permission denied"],
        )?,
        expect_status(
            "push with a read-only policy",
            client
                .store
                .push_secret(vault("default", "backend").push(&[("a", VALUE)], "a", "allowed/one", "b", ""))
                .await,
            Code::PermissionDenied,
            &["writing secret/data/allowed/one", "permission denied"],
        )?,
        expect_status(
            "list outside the policy",
            client
                .store
                .get_all_secrets(vault("default", "backend").find("denied/", "", &[]))
                .await,
            Code::PermissionDenied,
            &["listing secret/metadata/denied/", "permission denied"],
        )?,
        expect_status(
            "delete with a read-only policy",
            client
                .store
                .delete_secret(vault("default", "backend").delete("allowed/one", ""))
                .await,
            Code::PermissionDenied,
            &["deleting secret/metadata/allowed/one"],
        )?,
        expect_status(
            "a token Vault does not know",
            get(
                &mut client,
                vault("default", "garbage-token").get("allowed/one", "", ""),
            )
            .await,
            Code::PermissionDenied,
            &["Vault default/garbage-token", "permission denied"],
        )?,
    ];
    for message in messages {
        check!(
            !message.contains(VALUE) && !message.contains(&token) && !message.contains("garbage-token-value"),
            "a message leaked a value or a token: {message}"
        );
    }
    // What was refused is untouched.
    check_eq!(
        bao.kv_get("allowed/one").await?,
        Some(json!({"a": "1"})),
        "allowed/one unchanged"
    );
    Ok(())
}

#[tokio::test]
async fn a_sealed_or_stopped_server_is_unavailable() -> TestResult {
    let mut bao = Bao::start().await?;
    bao.kv_put("k", json!({"a": "1"})).await?;
    let manifests = [
        vault_object("default", "backend", &token_spec(&bao.address, "")),
        secret_object("default", "vault-token", &[("token", ROOT_TOKEN)]),
    ]
    .concat();
    let (_running, mut client) = start(&manifests).await?;
    check_eq!(
        get(&mut client, vault("default", "backend").get("k", "", "a"))
            .await
            .map_err(|s| s.to_string())?,
        "1",
        "before sealing"
    );
    bao.seal().await?;
    expect_status(
        "sealed: GetSecret",
        get(&mut client, vault("default", "backend").get("k", "", "a")).await,
        Code::Unavailable,
        &["Vault default/backend", "reading secret/data/k", "sealed", "HTTP 503"],
    )?;
    expect_status(
        "sealed: SecretExists",
        client
            .store
            .secret_exists(vault("default", "backend").exists("k", ""))
            .await,
        Code::Unavailable,
        &["sealed"],
    )?;
    let sealed = ok(
        "sealed: Validate",
        client.store.validate(vault("default", "backend").validate()).await,
    )?;
    check!(
        !sealed.valid && sealed.error.contains("sealed"),
        "Validate when sealed: {sealed:?}"
    );
    bao.stop()?;
    expect_status(
        "stopped: GetSecret",
        get(&mut client, vault("default", "backend").get("k", "", "a")).await,
        Code::Unavailable,
        &["Vault default/backend", "unreachable"],
    )?;
    expect_status(
        "stopped: GetAllSecrets",
        client
            .store
            .get_all_secrets(vault("default", "backend").find("", "k", &[]))
            .await,
        Code::Unavailable,
        &["unreachable"],
    )?;
    expect_status(
        "stopped: PushSecret",
        client
            .store
            .push_secret(vault("default", "backend").push(&[("a", "2")], "a", "k", "a", ""))
            .await,
        Code::Unavailable,
        &["unreachable"],
    )?;
    Ok(())
}

#[tokio::test]
async fn a_missing_or_kv_v1_mount_is_a_configuration_problem_not_a_missing_secret() -> TestResult {
    let bao = Bao::start().await?;
    bao.kv_put("k", json!({"a": VALUE})).await?;
    // A KV v1 mount answers a missing key with a plain 404 too.
    bao.ok(
        Method::POST,
        "sys/mounts/kv1",
        Some(json!({"type": "kv", "options": {"version": "1"}})),
    )
    .await?;
    bao.ok(Method::POST, "kv1/k", Some(json!({"a": VALUE}))).await?;
    let manifests = [
        vault_object("default", "backend", &token_spec(&bao.address, "")),
        vault_object(
            "default",
            "no-mount",
            &token_spec(&bao.address, "  mount: nosuchmount\n"),
        ),
        vault_object("default", "kv-v1", &token_spec(&bao.address, "  mount: kv1\n")),
        secret_object("default", "vault-token", &[("token", ROOT_TOKEN)]),
    ]
    .concat();
    let (_running, mut client) = start(&manifests).await?;
    let mut messages = Vec::new();
    for (name, needles) in [
        ("no-mount", ["Vault default/no-mount", "nosuchmount", "spec.mount"]),
        ("kv-v1", ["Vault default/kv-v1", "kv1", "not a KV v2 secrets engine"]),
    ] {
        // The root token passes every ACL: Vault answers 404 "no handler for route"
        // for a mount that is not there; never NOT_FOUND, which could delete a Secret.
        messages.push(expect_status(
            &format!("{name}: GetSecret"),
            get(&mut client, vault("default", name).get("k", "", "")).await,
            Code::FailedPrecondition,
            &needles,
        )?);
        messages.push(expect_status(
            &format!("{name}: GetSecret of a version"),
            get(&mut client, vault("default", name).get("k", "1", "a")).await,
            Code::FailedPrecondition,
            &needles,
        )?);
        messages.push(expect_status(
            &format!("{name}: GetSecretMap"),
            client
                .store
                .get_secret_map(vault("default", name).get_map("k", "", ""))
                .await,
            Code::FailedPrecondition,
            &needles,
        )?);
        // GetAllSecrets reports it too, instead of an empty map.
        messages.push(expect_status(
            &format!("{name}: GetAllSecrets"),
            client
                .store
                .get_all_secrets(vault("default", name).find("", ".*", &[]))
                .await,
            Code::FailedPrecondition,
            &needles,
        )?);
        messages.push(expect_status(
            &format!("{name}: GetAllSecrets under a path"),
            client
                .store
                .get_all_secrets(vault("default", name).find("app/", ".*", &[]))
                .await,
            Code::FailedPrecondition,
            &needles,
        )?);
        messages.push(expect_status(
            &format!("{name}: SecretExists"),
            client.store.secret_exists(vault("default", name).exists("k", "")).await,
            Code::FailedPrecondition,
            &needles,
        )?);
        messages.push(expect_status(
            &format!("{name}: PushSecret"),
            client
                .store
                .push_secret(vault("default", name).push(&[("a", VALUE)], "a", "k", "a", ""))
                .await,
            Code::FailedPrecondition,
            &needles,
        )?);
        messages.push(expect_status(
            &format!("{name}: DeleteSecret"),
            client.store.delete_secret(vault("default", name).delete("k", "")).await,
            Code::FailedPrecondition,
            &needles,
        )?);
    }
    // The KV v1 mount was not written to.
    let v1 = bao.ok(Method::GET, "kv1/k", None).await?;
    check_eq!(v1.pointer("/data/a"), Some(&json!(VALUE)), "kv1/k untouched");
    let (status, _) = bao.api(Method::GET, "kv1/data/k", None).await?;
    check_eq!(status, 404, "nothing written at kv1/data/k");
    // On the real KV v2 mount a missing secret is still NOT_FOUND, an empty find empty.
    expect_status(
        "backend: missing secret",
        get(&mut client, vault("default", "backend").get("nope", "", "")).await,
        Code::NotFound,
        &["secret nope not found"],
    )?;
    let found = ok(
        "backend: find under a missing folder",
        client
            .store
            .get_all_secrets(vault("default", "backend").find("no/such/", ".*", &[]))
            .await,
    )?;
    check!(
        found.secrets.is_empty(),
        "nothing under no/such/: {:?}",
        found.secrets.keys()
    );
    for message in messages {
        check!(
            !message.contains(VALUE) && !message.contains(ROOT_TOKEN),
            "a message leaked a value or the token: {message}"
        );
    }
    Ok(())
}
