//! Every RPC of the `Vault` store against a real OpenBao dev server, through the
//! runtime over real loopback mTLS, as ESO core calls them. Token auth.

mod common;

use common::*;
use eso_runtime::proto::provider::v1 as wire;
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
    let mut read = async |key: &str, version: &str, property: &str| {
        get(&mut client, get_request("default", "backend", key, version, property)).await
    };
    // No property: the whole data, as JSON.
    let whole = read("db/creds", "", "").await.map_err(|s| s.to_string())?;
    check_eq!(
        json(whole.as_bytes())?,
        json!({"username": "app", "password": "s3cr3t", "port": 5432, "opts": {"ssl": true}}),
        "whole secret"
    );
    check_eq!(
        read("db/creds", "", "password").await.map_err(|s| s.to_string())?,
        "s3cr3t",
        "property"
    );
    check_eq!(
        read("db/creds", "1", "password").await.map_err(|s| s.to_string())?,
        "old-pass",
        "property of version 1"
    );
    check_eq!(
        json(read("db/creds", "1", "").await.map_err(|s| s.to_string())?.as_bytes())?,
        json!({"username": "app", "password": "old-pass"}),
        "version 1"
    );
    // Non-string properties come back as JSON text.
    check_eq!(
        read("db/creds", "", "port").await.map_err(|s| s.to_string())?,
        "5432",
        "number"
    );
    check_eq!(
        read("db/creds", "", "opts").await.map_err(|s| s.to_string())?,
        r#"{"ssl":true}"#,
        "object property"
    );
    // A property that is no top-level key walks into nested objects.
    check_eq!(
        read("db/creds", "", "opts.ssl").await.map_err(|s| s.to_string())?,
        "true",
        "nested property"
    );
    check_eq!(
        read("app/nested/deep", "", "level").await.map_err(|s| s.to_string())?,
        "three",
        "a key three folders deep"
    );
    Ok(())
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
    let fetch = |key: &str, property: &str| wire::ExternalSecretDataRemoteRef {
        metadata_policy: "Fetch".into(),
        ..remote(key, "", property)
    };
    let whole = get(
        &mut client,
        wire::GetSecretRequest {
            remote_ref: Some(fetch("db/creds", "")),
            ..get_request("default", "backend", "db/creds", "", "")
        },
    )
    .await
    .map_err(|s| s.to_string())?;
    check_eq!(
        json(whole.as_bytes())?,
        json!({"owner": "team-a", "env": "prod"}),
        "all custom metadata"
    );
    let owner = get(
        &mut client,
        wire::GetSecretRequest {
            remote_ref: Some(fetch("db/creds", "owner")),
            ..get_request("default", "backend", "db/creds", "", "")
        },
    )
    .await
    .map_err(|s| s.to_string())?;
    check_eq!(owner, "team-a", "one custom metadata key");
    let map = ok(
        "GetSecretMap Fetch",
        client
            .store
            .get_secret_map(wire::GetSecretMapRequest {
                remote_ref: Some(fetch("db/creds", "")),
                ..map_request("default", "backend", "db/creds", "", "")
            })
            .await,
    )?;
    check_eq!(
        text_map(map.secrets)?,
        pairs(&[("owner", "team-a"), ("env", "prod")]),
        "custom metadata as a map"
    );
    expect_status(
        "Fetch of a missing secret",
        get(
            &mut client,
            wire::GetSecretRequest {
                remote_ref: Some(fetch("db/none", "")),
                ..get_request("default", "backend", "db/none", "", "")
            },
        )
        .await,
        Code::NotFound,
        &["secret db/none not found"],
    )?;
    expect_status(
        "Fetch of a missing metadata key",
        get(
            &mut client,
            wire::GetSecretRequest {
                remote_ref: Some(fetch("db/creds", "nope")),
                ..get_request("default", "backend", "db/creds", "", "")
            },
        )
        .await,
        Code::NotFound,
        &["db/creds property nope"],
    )?;
    Ok(())
}

#[tokio::test]
async fn get_secret_map_reads_objects() -> TestResult {
    let (_bao, _running, mut client) = setup().await?;
    let map = ok(
        "GetSecretMap",
        client
            .store
            .get_secret_map(map_request("default", "backend", "db/creds", "", ""))
            .await,
    )?;
    check_eq!(
        text_map(map.secrets)?,
        pairs(&[
            ("username", "app"),
            ("password", "s3cr3t"),
            ("port", "5432"),
            ("opts", r#"{"ssl":true}"#)
        ]),
        "map of the current version"
    );
    let map = ok(
        "GetSecretMap version",
        client
            .store
            .get_secret_map(map_request("default", "backend", "db/creds", "1", ""))
            .await,
    )?;
    check_eq!(
        text_map(map.secrets)?,
        pairs(&[("username", "app"), ("password", "old-pass")]),
        "map of version 1"
    );
    let map = ok(
        "GetSecretMap property",
        client
            .store
            .get_secret_map(map_request("default", "backend", "db/creds", "", "opts"))
            .await,
    )?;
    check_eq!(
        text_map(map.secrets)?,
        pairs(&[("ssl", "true")]),
        "map of an object property"
    );
    expect_status(
        "map of a string property",
        client
            .store
            .get_secret_map(map_request("default", "backend", "db/creds", "", "username"))
            .await,
        Code::InvalidArgument,
        &["property username of db/creds is not a JSON object"],
    )?;
    expect_status(
        "map of a missing property",
        client
            .store
            .get_secret_map(map_request("default", "backend", "db/creds", "", "nope"))
            .await,
        Code::NotFound,
        &["db/creds property nope"],
    )?;
    expect_status(
        "map of a missing secret",
        client
            .store
            .get_secret_map(map_request("default", "backend", "db/none", "", ""))
            .await,
        Code::NotFound,
        &["secret db/none not found"],
    )?;
    Ok(())
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
    let mut find = async |path: &str, regexp: &str, tags: &[(&str, &str)]| -> TestResult<Vec<String>> {
        let found = ok(
            "GetAllSecrets",
            client
                .store
                .get_all_secrets(find_request("default", "backend", path, regexp, tags))
                .await,
        )?;
        let mut keys: Vec<String> = found.secrets.keys().cloned().collect();
        keys.sort();
        Ok(keys)
    };
    check_eq!(
        find("app/", "", &[]).await?,
        vec!["app/config".to_string(), "app/nested/deep".to_string()],
        "recursive under app/"
    );
    check_eq!(
        find("app/ne", "", &[]).await?,
        vec!["app/nested/deep".to_string()],
        "a path that is not a folder is a key prefix"
    );
    check_eq!(
        find("", "^(db|other)", &[]).await?,
        vec!["db/creds".to_string(), "other".to_string()],
        "regexp over the whole mount"
    );
    check_eq!(
        find("", "", &[("env", "dev")]).await?,
        vec!["app/config".to_string()],
        "one tag"
    );
    check_eq!(
        find("", "", &[("env", "dev"), ("team", "nope")]).await?,
        Vec::<String>::new(),
        "every tag must match"
    );
    check_eq!(
        find("db/", "creds", &[("env", "prod")]).await?,
        vec!["db/creds".to_string()],
        "path, name and tags together"
    );
    check_eq!(
        find("nothing/", "", &[]).await?,
        Vec::<String>::new(),
        "an empty folder"
    );
    // A secret whose current version is deleted is not listed.
    bao.ok(Method::DELETE, "secret/data/other", None).await?;
    check_eq!(
        find("", "^other$", &[]).await?,
        Vec::<String>::new(),
        "soft-deleted secret"
    );
    // Values are the whole data as JSON.
    let found = ok(
        "GetAllSecrets values",
        client
            .store
            .get_all_secrets(find_request("default", "backend", "app/", "config", &[]))
            .await,
    )?;
    let value = found.secrets.get("app/config").ok_or("app/config missing")?;
    check_eq!(json(value)?, json!({"mode": "dev"}), "value of app/config");
    Ok(())
}

#[tokio::test]
async fn push_secret_writes_whole_secrets_properties_and_metadata() -> TestResult {
    let (bao, _running, mut client) = setup().await?;
    // The whole Secret.
    ok(
        "push whole",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &[("user", "u1"), ("pass", "p1")],
                "",
                "pushed/whole",
                "",
                "",
            ))
            .await,
    )?;
    check_eq!(
        bao.kv_get("pushed/whole").await?,
        Some(json!({"user": "u1", "pass": "p1"})),
        "whole Secret stored"
    );
    // The whole Secret into a property: an object under that property.
    ok(
        "push whole into a property",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &[("user", "u2"), ("pass", "p2")],
                "",
                "pushed/whole-property",
                "login",
                "",
            ))
            .await,
    )?;
    check_eq!(
        bao.kv_get("pushed/whole-property").await?,
        Some(json!({"login": {"user": "u2", "pass": "p2"}})),
        "whole Secret under a property"
    );
    // One key into a property: merged with what is there.
    ok(
        "push property",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &[("token", "t1"), ("ignored", "x")],
                "token",
                "pushed/whole",
                "api-token",
                "",
            ))
            .await,
    )?;
    check_eq!(
        bao.kv_get("pushed/whole").await?,
        Some(json!({"user": "u1", "pass": "p1", "api-token": "t1"})),
        "property merged"
    );
    // A property of a secret that does not exist yet creates it.
    ok(
        "push new property",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &[("token", "t2")],
                "token",
                "pushed/new",
                "only",
                "",
            ))
            .await,
    )?;
    check_eq!(
        bao.kv_get("pushed/new").await?,
        Some(json!({"only": "t2"})),
        "new secret"
    );
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
            .push_secret(push_request(
                "default",
                "backend",
                &[("token", "t2")],
                "token",
                "pushed/new",
                "only",
                "",
            ))
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
            .push_secret(push_request(
                "default",
                "backend",
                &[("config", r#"{"a":"1","b":"2"}"#)],
                "config",
                "pushed/json",
                "",
                "",
            ))
            .await,
    )?;
    check_eq!(
        bao.kv_get("pushed/json").await?,
        Some(json!({"a": "1", "b": "2"})),
        "JSON key"
    );
    expect_status(
        "push plain key without property",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &[("plain", "not-json-value")],
                "plain",
                "pushed/plain",
                "",
                "",
            ))
            .await,
        Code::InvalidArgument,
        &["pushed/plain is not a JSON object", "remoteRef.property"],
    )
    .and_then(|message| {
        check!(!message.contains("not-json-value"), "the value leaked: {message}");
        Ok(())
    })?;
    // Metadata: ESO's PushSecretMetadata shape, and a flat object; both into custom_metadata.
    ok(
        "push with metadata",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &[("k", "v")],
                "k",
                "pushed/tagged",
                "k",
                r#"{"apiVersion":"kubernetes.external-secrets.io/v1alpha1","kind":"PushSecretMetadata","spec":{"customMetadata":{"owner":"team-a","env":"dev"}}}"#,
            ))
            .await,
    )?;
    let metadata = bao.ok(Method::GET, "secret/metadata/pushed/tagged", None).await?;
    check_eq!(
        metadata.pointer("/data/custom_metadata").cloned(),
        Some(json!({"owner": "team-a", "env": "dev"})),
        "custom_metadata from PushSecretMetadata"
    );
    ok(
        "push with flat metadata",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &[("k", "v")],
                "k",
                "pushed/flat",
                "k",
                r#"{"owner":"team-b"}"#,
            ))
            .await,
    )?;
    let metadata = bao.ok(Method::GET, "secret/metadata/pushed/flat", None).await?;
    check_eq!(
        metadata.pointer("/data/custom_metadata").cloned(),
        Some(json!({"owner": "team-b"})),
        "custom_metadata from a flat object"
    );
    // Tags written by push are found by GetAllSecrets.
    let found = ok(
        "find pushed tags",
        client
            .store
            .get_all_secrets(find_request(
                "default",
                "backend",
                "pushed/",
                "",
                &[("owner", "team-a")],
            ))
            .await,
    )?;
    check_eq!(
        found.secrets.keys().cloned().collect::<Vec<_>>(),
        vec!["pushed/tagged".to_string()],
        "found by pushed tag"
    );
    expect_status(
        "metadata with a non-string value",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &[("k", "v")],
                "k",
                "pushed/flat",
                "k",
                r#"{"owner":1}"#,
            ))
            .await,
        Code::InvalidArgument,
        &["custom metadata owner must be a string"],
    )?;
    Ok(())
}

#[tokio::test]
async fn delete_secret_and_secret_exists() -> TestResult {
    let (bao, _running, mut client) = setup().await?;
    bao.kv_put("del/two", json!({"a": "1", "b": "2"})).await?;
    bao.kv_put("del/whole", json!({"a": "1"})).await?;
    let mut exists = async |key: &str, property: &str| -> TestResult<bool> {
        Ok(ok(
            "SecretExists",
            client
                .store
                .secret_exists(exists_request("default", "backend", key, property))
                .await,
        )?
        .exists)
    };
    check!(exists("del/two", "").await?, "del/two exists");
    check!(exists("del/two", "a").await?, "del/two property a exists");
    check!(!exists("del/two", "c").await?, "del/two property c does not exist");
    check!(!exists("del/none", "").await?, "del/none does not exist");
    check!(
        !exists("del/none", "a").await?,
        "a property of a missing secret does not exist"
    );

    let mut delete = async |key: &str, property: &str| {
        ok(
            "DeleteSecret",
            client
                .store
                .delete_secret(delete_request("default", "backend", key, property))
                .await,
        )
    };
    // One property of two: the other stays.
    delete("del/two", "a").await?;
    check_eq!(
        bao.kv_get("del/two").await?,
        Some(json!({"b": "2"})),
        "property a removed"
    );
    // The last property: the whole secret goes, metadata and all.
    delete("del/two", "b").await?;
    check_eq!(bao.kv_get("del/two").await?, None, "last property removes the secret");
    let (status, _) = bao.api(Method::GET, "secret/metadata/del/two", None).await?;
    check_eq!(status, 404, "metadata removed with the last property");
    // No property: the whole secret.
    delete("del/whole", "").await?;
    check_eq!(bao.kv_get("del/whole").await?, None, "whole secret removed");
    // Deleting what is gone is success.
    delete("del/whole", "").await?;
    delete("del/whole", "a").await?;
    delete("del/never", "x").await?;
    check!(
        !ok(
            "SecretExists after delete",
            client
                .store
                .secret_exists(exists_request("default", "backend", "del/whole", ""))
                .await
        )?
        .exists,
        "del/whole gone"
    );
    Ok(())
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
            client.store.validate(validate_request("default", name)).await,
        )
    };
    let good = validate("good").await?;
    check!(good.valid, "good store: {good:?}");
    check!(
        good.warnings.iter().any(|w| w.contains("plain http")),
        "plain http is warned about: {good:?}"
    );
    let no_mount = validate("no-mount").await?;
    check!(
        !no_mount.valid && no_mount.error.contains("no secrets engine is mounted at nothing-here"),
        "missing mount: {no_mount:?}"
    );
    let kv1 = validate("kv1").await?;
    check!(!kv1.valid && kv1.error.contains("not a KV v2"), "wrong engine: {kv1:?}");
    let bad_token = validate("bad-token").await?;
    check!(
        !bad_token.valid
            && bad_token.error.contains("looking up the token")
            && bad_token.error.contains("permission denied"),
        "bad token: {bad_token:?}"
    );
    check!(
        !bad_token.error.contains("not-a-real-token"),
        "token leaked: {bad_token:?}"
    );
    let two = validate("two-auths").await?;
    check!(
        !two.valid && two.error.contains("both tokenSecretRef and appRole"),
        "two auths: {two:?}"
    );
    let bad_server = validate("bad-server").await?;
    check!(
        !bad_server.valid && bad_server.error.contains("http:// or https://"),
        "bad server: {bad_server:?}"
    );
    let capabilities = ok(
        "Capabilities",
        client
            .store
            .capabilities(wire::CapabilitiesRequest {
                provider_ref: Some(vault_ref("default", "good")),
                source_namespace: "default".into(),
            })
            .await,
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
                .push_secret(push_request(
                    "default",
                    "backend",
                    &[("k", &value)],
                    "k",
                    "race/one",
                    &property,
                    "",
                ))
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
        push_request("default", "backend", data, secret_key, key, property, "")
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
                    .get_secret(get_request("default", "backend", "soft/whole", "", ""))
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
