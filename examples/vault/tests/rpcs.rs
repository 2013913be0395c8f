//! Every RPC of the `Vault` store against a real OpenBao dev server, through the
//! runtime over real loopback mTLS, as ESO core calls them. Token auth.

mod common;

use common::*;
use eso_runtime::proto::provider::v1 as wire;
use eso_runtime::testing::{Expect, run_table};
use reqwest::Method;
use serde_json::{Value, json};
use tonic::Code;

/// A server with a few secrets, and the provider with one `Vault` object reading it
/// with the root token.
async fn setup() -> TestResult<(
    Bao,
    eso_runtime::testing::TestProvider,
    eso_runtime::client::ProviderClient,
)> {
    let bao = Bao::start().await?;
    bao.kv_put("db/creds", json!({"username": "app", "password": "old-pass"}))
        .await?;
    bao.kv_put(
        "db/creds",
        json!({"username": "app", "password": "s3cr3t", "port": 5432, "opts": {"ssl": true}}),
    )
    .await?;
    bao.kv_put("app/config", json!({"mode": "dev"})).await?;
    bao.kv_put("app/nested/deep", json!({"level": "three"})).await?;
    bao.kv_put("other", json!({"x": "y"})).await?;
    let manifests = [
        vault_object("default", "backend", &token_spec(&bao.address, "")),
        secret_object("default", "vault-token", &[("token", ROOT_TOKEN)]),
    ]
    .concat();
    let (running, client) = start(&manifests).await?;
    Ok((bao, running, client))
}

#[tokio::test]
async fn get_secret_reads_whole_secrets_versions_and_properties() -> TestResult {
    let (_bao, _running, mut client) = setup().await?;
    let backend = vault("default", "backend");
    let read = |key, version, property| backend.get(key, version, property).into();
    run_table(
        &mut client,
        [
            // No property: the whole data, as JSON.
            (
                "whole secret",
                read("db/creds", "", ""),
                Expect::Json(json!({"username": "app", "password": "s3cr3t", "port": 5432, "opts": {"ssl": true}})),
            ),
            ("property", read("db/creds", "", "password"), Expect::Value("s3cr3t")),
            (
                "property of version 1",
                read("db/creds", "1", "password"),
                Expect::Value("old-pass"),
            ),
            (
                "version 1",
                read("db/creds", "1", ""),
                Expect::Json(json!({"username": "app", "password": "old-pass"})),
            ),
            // Non-string properties come back as JSON text.
            ("number", read("db/creds", "", "port"), Expect::Value("5432")),
            (
                "object property",
                read("db/creds", "", "opts"),
                Expect::Value(r#"{"ssl":true}"#),
            ),
            // A property that is no top-level key walks into nested objects.
            (
                "nested property",
                read("db/creds", "", "opts.ssl"),
                Expect::Value("true"),
            ),
            (
                "a key three folders deep",
                read("app/nested/deep", "", "level"),
                Expect::Value("three"),
            ),
        ],
    )
    .await
}

#[tokio::test]
async fn metadata_policy_fetch_reads_custom_metadata() -> TestResult {
    let (bao, _running, mut client) = setup().await?;
    bao.ok(
        Method::POST,
        "secret/metadata/db/creds",
        Some(json!({"custom_metadata": {"owner": "team-a", "env": "prod"}})),
    )
    .await?;
    let backend = vault("default", "backend");
    let fetch = |key: &str, property: &str| wire::ExternalSecretDataRemoteRef {
        metadata_policy: "Fetch".into(),
        ..remote(key, "", property)
    };
    let read = |key, property| {
        wire::GetSecretRequest {
            remote_ref: Some(fetch(key, property)),
            ..backend.get(key, "", "")
        }
        .into()
    };
    run_table(
        &mut client,
        [
            (
                "all custom metadata",
                read("db/creds", ""),
                Expect::Json(json!({"owner": "team-a", "env": "prod"})),
            ),
            (
                "one custom metadata key",
                read("db/creds", "owner"),
                Expect::Value("team-a"),
            ),
            (
                "custom metadata as a map",
                wire::GetSecretMapRequest {
                    remote_ref: Some(fetch("db/creds", "")),
                    ..backend.get_map("db/creds", "", "")
                }
                .into(),
                Expect::Secrets(&[("owner", "team-a"), ("env", "prod")]),
            ),
            (
                "Fetch of a missing secret",
                read("db/none", ""),
                Expect::Status(Code::NotFound, &["secret db/none not found"]),
            ),
            (
                "Fetch of a missing metadata key",
                read("db/creds", "nope"),
                Expect::Status(Code::NotFound, &["db/creds property nope"]),
            ),
        ],
    )
    .await
}

#[tokio::test]
async fn get_secret_map_reads_objects() -> TestResult {
    let (_bao, _running, mut client) = setup().await?;
    let backend = vault("default", "backend");
    let map = |key, version, property| backend.get_map(key, version, property).into();
    run_table(
        &mut client,
        [
            (
                "map of the current version",
                map("db/creds", "", ""),
                Expect::Secrets(&[
                    ("username", "app"),
                    ("password", "s3cr3t"),
                    ("port", "5432"),
                    ("opts", r#"{"ssl":true}"#),
                ]),
            ),
            (
                "map of version 1",
                map("db/creds", "1", ""),
                Expect::Secrets(&[("username", "app"), ("password", "old-pass")]),
            ),
            (
                "map of an object property",
                map("db/creds", "", "opts"),
                Expect::Secrets(&[("ssl", "true")]),
            ),
            (
                "map of a string property",
                map("db/creds", "", "username"),
                Expect::Status(
                    Code::InvalidArgument,
                    &["property username of db/creds is not a JSON object"],
                ),
            ),
            (
                "map of a missing property",
                map("db/creds", "", "nope"),
                Expect::Status(Code::NotFound, &["db/creds property nope"]),
            ),
            (
                "map of a missing secret",
                map("db/none", "", ""),
                Expect::Status(Code::NotFound, &["secret db/none not found"]),
            ),
        ],
    )
    .await
}

#[tokio::test]
async fn get_all_secrets_lists_recursively_by_path_name_and_tags() -> TestResult {
    let (bao, _running, mut client) = setup().await?;
    // Tags live in custom_metadata.
    bao.ok(
        Method::POST,
        "secret/metadata/app/config",
        Some(json!({"custom_metadata": {"env": "dev", "team": "payments"}})),
    )
    .await?;
    bao.ok(
        Method::POST,
        "secret/metadata/db/creds",
        Some(json!({"custom_metadata": {"env": "prod"}})),
    )
    .await?;
    let backend = vault("default", "backend");
    let find = |path, regexp, tags| backend.find(path, regexp, tags).into();
    run_table(
        &mut client,
        [
            (
                "recursive under app/",
                find("app/", "", &[]),
                Expect::Keys(&["app/config", "app/nested/deep"]),
            ),
            (
                "a path that is not a folder is a key prefix",
                find("app/ne", "", &[]),
                Expect::Keys(&["app/nested/deep"]),
            ),
            (
                "regexp over the whole mount",
                find("", "^(db|other)", &[]),
                Expect::Keys(&["db/creds", "other"]),
            ),
            (
                "one tag",
                find("", "", &[("env", "dev")]),
                Expect::Keys(&["app/config"]),
            ),
            (
                "every tag must match",
                find("", "", &[("env", "dev"), ("team", "nope")]),
                Expect::Keys(&[]),
            ),
            (
                "path, name and tags together",
                find("db/", "creds", &[("env", "prod")]),
                Expect::Keys(&["db/creds"]),
            ),
            ("an empty folder", find("nothing/", "", &[]), Expect::Keys(&[])),
        ],
    )
    .await?;
    // A secret whose current version is deleted is not listed.
    bao.ok(Method::DELETE, "secret/data/other", None).await?;
    run_table(
        &mut client,
        [("soft-deleted secret", find("", "^other$", &[]), Expect::Keys(&[]))],
    )
    .await?;
    // Values are the whole data as JSON.
    let found = ok(
        "GetAllSecrets values",
        client.store.get_all_secrets(backend.find("app/", "config", &[])).await,
    )?;
    let value = found.secrets.get("app/config").ok_or("app/config missing")?;
    check_eq!(json(value)?, json!({"mode": "dev"}), "value of app/config");
    Ok(())
}

#[tokio::test]
async fn push_secret_writes_whole_secrets_properties_and_metadata() -> TestResult {
    let (bao, _running, mut client) = setup().await?;
    let backend = vault("default", "backend");
    // Each push, then what OpenBao holds at its key.
    for (case, push, key, stored) in [
        (
            "whole Secret stored",
            backend.push(&[("user", "u1"), ("pass", "p1")], "", "pushed/whole", "", ""),
            "pushed/whole",
            json!({"user": "u1", "pass": "p1"}),
        ),
        // The whole Secret into a property: an object under that property.
        (
            "whole Secret under a property",
            backend.push(
                &[("user", "u2"), ("pass", "p2")],
                "",
                "pushed/whole-property",
                "login",
                "",
            ),
            "pushed/whole-property",
            json!({"login": {"user": "u2", "pass": "p2"}}),
        ),
        // One key into a property: merged with what is there.
        (
            "property merged",
            backend.push(
                &[("token", "t1"), ("ignored", "x")],
                "token",
                "pushed/whole",
                "api-token",
                "",
            ),
            "pushed/whole",
            json!({"user": "u1", "pass": "p1", "api-token": "t1"}),
        ),
        // A property of a secret that does not exist yet creates it.
        (
            "new secret",
            backend.push(&[("token", "t2")], "token", "pushed/new", "only", ""),
            "pushed/new",
            json!({"only": "t2"}),
        ),
    ] {
        ok(case, client.store.push_secret(push).await)?;
        check_eq!(bao.kv_get(key).await?, Some(stored), "{case}");
    }
    // Pushing the same value again writes no new version.
    let versions = |body: serde_json::Value| {
        body.pointer("/data/current_version")
            .and_then(serde_json::Value::as_u64)
    };
    let before = versions(bao.ok(Method::GET, "secret/metadata/pushed/new", None).await?);
    ok(
        "push same value",
        client
            .store
            .push_secret(backend.push(&[("token", "t2")], "token", "pushed/new", "only", ""))
            .await,
    )?;
    let after = versions(bao.ok(Method::GET, "secret/metadata/pushed/new", None).await?);
    check_eq!(before, after, "unchanged data writes no new version");
    check_eq!(after, Some(1), "one version");
    // One key without a property: its value must be a JSON object.
    ok(
        "push JSON key",
        client
            .store
            .push_secret(backend.push(&[("config", r#"{"a":"1","b":"2"}"#)], "config", "pushed/json", "", ""))
            .await,
    )?;
    check_eq!(
        bao.kv_get("pushed/json").await?,
        Some(json!({"a": "1", "b": "2"})),
        "JSON key"
    );
    let message = expect_status(
        "push plain key without property",
        client
            .store
            .push_secret(backend.push(&[("plain", "not-json-value")], "plain", "pushed/plain", "", ""))
            .await,
        Code::InvalidArgument,
        &["pushed/plain is not a JSON object", "remoteRef.property"],
    )?;
    check!(!message.contains("not-json-value"), "the value leaked: {message}");
    // Metadata: ESO's PushSecretMetadata shape, and a flat object; both into custom_metadata.
    for (case, key, metadata, custom_metadata) in [
        (
            "custom_metadata from PushSecretMetadata",
            "pushed/tagged",
            r#"{"apiVersion":"kubernetes.external-secrets.io/v1alpha1","kind":"PushSecretMetadata","spec":{"customMetadata":{"owner":"team-a","env":"dev"}}}"#,
            json!({"owner": "team-a", "env": "dev"}),
        ),
        (
            "custom_metadata from a flat object",
            "pushed/flat",
            r#"{"owner":"team-b"}"#,
            json!({"owner": "team-b"}),
        ),
    ] {
        ok(
            case,
            client
                .store
                .push_secret(backend.push(&[("k", "v")], "k", key, "k", metadata))
                .await,
        )?;
        let stored = bao.ok(Method::GET, &format!("secret/metadata/{key}"), None).await?;
        check_eq!(
            stored.pointer("/data/custom_metadata").cloned(),
            Some(custom_metadata),
            "{case}"
        );
    }
    run_table(
        &mut client,
        [
            // Tags written by push are found by GetAllSecrets.
            (
                "found by pushed tag",
                backend.find("pushed/", "", &[("owner", "team-a")]).into(),
                Expect::Keys(&["pushed/tagged"]),
            ),
            (
                "metadata with a non-string value",
                backend
                    .push(&[("k", "v")], "k", "pushed/flat", "k", r#"{"owner":1}"#)
                    .into(),
                Expect::Status(Code::InvalidArgument, &["custom metadata owner must be a string"]),
            ),
        ],
    )
    .await
}

#[tokio::test]
async fn delete_secret_and_secret_exists() -> TestResult {
    let (bao, _running, mut client) = setup().await?;
    bao.kv_put("del/two", json!({"a": "1", "b": "2"})).await?;
    bao.kv_put("del/whole", json!({"a": "1"})).await?;
    let backend = vault("default", "backend");
    let exists = |key, property| backend.exists(key, property).into();
    let delete = |key, property| backend.delete(key, property).into();
    run_table(
        &mut client,
        [
            ("del/two exists", exists("del/two", ""), Expect::Exists(true)),
            (
                "del/two property a exists",
                exists("del/two", "a"),
                Expect::Exists(true),
            ),
            (
                "del/two property c does not exist",
                exists("del/two", "c"),
                Expect::Exists(false),
            ),
            ("del/none does not exist", exists("del/none", ""), Expect::Exists(false)),
            (
                "a property of a missing secret does not exist",
                exists("del/none", "a"),
                Expect::Exists(false),
            ),
        ],
    )
    .await?;
    // Each delete, then what OpenBao holds at its key.
    for (case, key, property, stored) in [
        // One property of two: the other stays.
        ("property a removed", "del/two", "a", Some(json!({"b": "2"}))),
        // The last property: the whole secret goes (its metadata is checked below).
        ("last property removes the secret", "del/two", "b", None),
        // No property: the whole secret.
        ("whole secret removed", "del/whole", "", None),
    ] {
        ok(case, client.store.delete_secret(backend.delete(key, property)).await)?;
        check_eq!(bao.kv_get(key).await?, stored, "{case}");
    }
    let (status, _) = bao.api(Method::GET, "secret/metadata/del/two", None).await?;
    check_eq!(status, 404, "metadata removed with the last property");
    run_table(
        &mut client,
        [
            // Deleting what is gone is success.
            ("delete the deleted again", delete("del/whole", ""), Expect::Ok),
            ("delete a property of the deleted", delete("del/whole", "a"), Expect::Ok),
            ("delete what never was", delete("del/never", "x"), Expect::Ok),
            ("del/whole gone", exists("del/whole", ""), Expect::Exists(false)),
        ],
    )
    .await
}

#[tokio::test]
async fn validate_and_capabilities() -> TestResult {
    let bao = Bao::start().await?;
    let manifests = [
        vault_object("default", "good", &token_spec(&bao.address, "")),
        vault_object("default", "no-mount", &token_spec(&bao.address, "  mount: nothing-here\n")),
        vault_object("default", "kv1", &token_spec(&bao.address, "  mount: sys\n")),
        vault_object(
            "default",
            "bad-token",
            &format!(
                "  server: {}\n  auth:\n    tokenSecretRef: {{name: wrong-token, key: token}}\n",
                quoted(&bao.address)
            ),
        ),
        vault_object(
            "default",
            "two-auths",
            &format!(
                "  server: {}\n  auth:\n    tokenSecretRef: {{name: vault-token, key: token}}\n    appRole: {{roleIdRef: {{name: a, key: b}}, secretIdRef: {{name: a, key: c}}}}\n",
                quoted(&bao.address)
            ),
        ),
        vault_object(
            "default",
            "bad-server",
            "  server: ftp://vault.example\n  auth:\n    tokenSecretRef: {name: vault-token, key: token}\n",
        ),
        secret_object("default", "vault-token", &[("token", ROOT_TOKEN)]),
        secret_object("default", "wrong-token", &[("token", "not-a-real-token")]),
    ]
    .concat();
    let (_running, mut client) = start(&manifests).await?;
    let mut validate = async |name: &str| {
        ok(
            "Validate",
            client.store.validate(vault("default", name).validate()).await,
        )
    };
    let good = validate("good").await?;
    check!(good.valid, "good store: {good:?}");
    check!(
        good.warnings.iter().any(|w| w.contains("plain http")),
        "plain http is warned about: {good:?}"
    );
    for (case, name, needles) in [
        (
            "missing mount",
            "no-mount",
            &["no secrets engine is mounted at nothing-here"][..],
        ),
        ("wrong engine", "kv1", &["not a KV v2"]),
        ("bad token", "bad-token", &["looking up the token", "permission denied"]),
        ("two auths", "two-auths", &["both tokenSecretRef and appRole"]),
        ("bad server", "bad-server", &["http:// or https://"]),
    ] {
        let response = validate(name).await?;
        check!(
            !response.valid && needles.iter().all(|needle| response.error.contains(needle)),
            "{case}: {response:?}"
        );
        check!(
            !response.error.contains("not-a-real-token"),
            "{case}: token leaked: {response:?}"
        );
    }
    let capabilities = ok(
        "Capabilities",
        client.store.capabilities(vault("default", "good").capabilities()).await,
    )?;
    check_eq!(
        capabilities.capabilities,
        wire::SecretStoreCapabilities::ReadWrite as i32,
        "capabilities"
    );
    Ok(())
}

#[tokio::test]
async fn concurrent_property_pushes_all_land() -> TestResult {
    let (bao, _running, client) = setup().await?;
    // Writers racing on one secret: check-and-set makes each merge see the others.
    let writers = (0..6).map(|i| {
        let mut client = client.clone();
        async move {
            let value = format!("v{i}");
            let property = format!("p{i}");
            client
                .store
                .push_secret(vault("default", "backend").push(&[("k", &value)], "k", "race/one", &property, ""))
                .await
                .map_err(|s| format!("writer {i}: {:?}: {}", s.code(), s.message()))
        }
    });
    for result in futures::future::join_all(writers).await {
        result?;
    }
    check_eq!(
        bao.kv_get("race/one").await?,
        Some(json!({"p0": "v0", "p1": "v1", "p2": "v2", "p3": "v3", "p4": "v4", "p5": "v5"})),
        "every property pushed concurrently is there"
    );
    Ok(())
}

#[tokio::test]
async fn push_secret_writes_over_a_soft_deleted_current_version() -> TestResult {
    let (bao, _running, mut client) = setup().await?;
    let push = |data: &[(&str, &str)], secret_key: &str, key: &str, property: &str| {
        vault("default", "backend").push(data, secret_key, key, property, "")
    };
    // Pushed, then soft-deleted (`bao kv delete`: DELETE secret/data/<key>): the current
    // version is there, without data. Check-and-set must name it, not 0.
    ok(
        "first push",
        client
            .store
            .push_secret(push(&[("user", "u1"), ("pass", "p1")], "", "soft/whole", ""))
            .await,
    )?;
    bao.ok(Method::DELETE, "secret/data/soft/whole", None).await?;
    check_eq!(bao.kv_get("soft/whole").await?, None, "soft-deleted");
    ok(
        "push over the soft-deleted version",
        client
            .store
            .push_secret(push(&[("user", "u2"), ("pass", "p2")], "", "soft/whole", ""))
            .await,
    )?;
    check_eq!(
        json(
            &ok(
                "GetSecret after the push",
                client
                    .store
                    .get_secret(vault("default", "backend").get("soft/whole", "", ""))
                    .await
            )?
            .value
        )?,
        json!({"user": "u2", "pass": "p2"}),
        "the new value is read back"
    );
    let metadata = bao.ok(Method::GET, "secret/metadata/soft/whole", None).await?;
    check_eq!(
        metadata.pointer("/data/current_version").and_then(Value::as_u64),
        Some(2),
        "a new version on top of the deleted one"
    );
    // A property into a soft-deleted secret: the deleted data is not merged back.
    bao.kv_put("soft/property", json!({"old": "gone"})).await?;
    bao.ok(Method::DELETE, "secret/data/soft/property", None).await?;
    ok(
        "push a property over the soft-deleted version",
        client
            .store
            .push_secret(push(&[("k", "v")], "k", "soft/property", "p"))
            .await,
    )?;
    check_eq!(
        bao.kv_get("soft/property").await?,
        Some(json!({"p": "v"})),
        "only the pushed property"
    );
    // Every version soft-deleted after several writes: still the current one.
    bao.kv_put("soft/many", json!({"a": "1"})).await?;
    bao.kv_put("soft/many", json!({"a": "2"})).await?;
    bao.ok(Method::DELETE, "secret/data/soft/many", None).await?;
    ok(
        "push over version 2 soft-deleted",
        client.store.push_secret(push(&[("a", "3")], "", "soft/many", "")).await,
    )?;
    check_eq!(
        bao.kv_get("soft/many").await?,
        Some(json!({"a": "3"})),
        "written over version 2"
    );
    Ok(())
}
