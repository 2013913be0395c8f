//! Every RPC of both services against the Fake provider, over real loopback gRPC
//! with real mutual TLS, as ESO core calls them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use eso_runtime::proto::provider::v1 as wire;
use tonic::Code;

/// The main store: plain, versioned, JSON, nested, tagged and valueMap entries.
fn backend_spec() -> String {
    r#"  data:
    - key: hello
      value: world
    - key: db/credentials
      value: '{"username":"app","password":"s3cr3t"}'
      tags: {env: dev, team: payments}
    - key: db/credentials
      version: v1
      value: '{"username":"app","password":"old"}'
    - key: db/replica
      value: replica-value
      tags: {env: prod}
    - key: app/config
      value: config-value
      tags: {env: dev}
    - key: nested
      value: '{"a":{"b":"deep","c":{"d":"deeper"}},"n":42,"a.b":"literal-dotted"}'
    - key: nested-only
      value: '{"outer":{"inner":"in"},"list":[1,2]}'
    - key: mapped
      value: not-json
      valueMap: {user: admin, pass: hunter2}"#
        .to_string()
}

fn manifests() -> String {
    [
        fake_object("default", "backend", &backend_spec()),
        fake_object("default", "other", "  data:\n    - key: hello\n      value: from-other"),
        // Same name as `backend`, another namespace.
        fake_object("team-b", "backend", "  data:\n    - key: hello\n      value: team-b-world"),
        fake_object("default", "empty", "  data: []"),
        fake_object(
            "default",
            "empty-key",
            "  data:\n    - key: ok\n      value: v\n    - key: ''\n      value: v",
        ),
        fake_object(
            "default",
            "duplicate",
            "  data:\n    - key: a\n      version: v1\n      value: x\n    - key: b\n      value: y\n    - key: a\n      version: v1\n      value: z",
        ),
        generator_object("default", "gen", "  data:\n    token: generated-token\n    user: robot"),
    ]
    .concat()
}

#[tokio::test]
async fn get_secret_reads_values_versions_and_properties() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let mut read = async |key: &str, version: &str, property: &str| {
        get(&mut client, get_request("default", "backend", key, version, property)).await
    };
    check_eq!(
        read("hello", "", "").await.map_err(|s| s.to_string())?,
        "world",
        "plain"
    );
    check_eq!(
        read("db/credentials", "", "").await.map_err(|s| s.to_string())?,
        r#"{"username":"app","password":"s3cr3t"}"#,
        "unversioned JSON value"
    );
    check_eq!(
        read("db/credentials", "v1", "").await.map_err(|s| s.to_string())?,
        r#"{"username":"app","password":"old"}"#,
        "version v1"
    );
    check_eq!(
        read("db/credentials", "", "password")
            .await
            .map_err(|s| s.to_string())?,
        "s3cr3t",
        "property"
    );
    check_eq!(
        read("db/credentials", "v1", "password")
            .await
            .map_err(|s| s.to_string())?,
        "old",
        "property of a version"
    );
    check_eq!(
        read("nested-only", "", "outer.inner")
            .await
            .map_err(|s| s.to_string())?,
        "in",
        "nested property a.b"
    );
    check_eq!(
        read("nested", "", "a.c.d").await.map_err(|s| s.to_string())?,
        "deeper",
        "three levels"
    );
    // A key that contains a dot literally wins over walking into objects.
    check_eq!(
        read("nested", "", "a.b").await.map_err(|s| s.to_string())?,
        "literal-dotted",
        "literal dotted key"
    );
    // Non-string properties come back as JSON text.
    check_eq!(
        read("nested", "", "n").await.map_err(|s| s.to_string())?,
        "42",
        "number"
    );
    check_eq!(
        read("nested-only", "", "outer").await.map_err(|s| s.to_string())?,
        r#"{"inner":"in"}"#,
        "object property"
    );

    expect_status(
        "missing key",
        read("nope", "", "").await,
        Code::NotFound,
        &["secret nope not found"],
    )?;
    expect_status(
        "missing version",
        read("db/credentials", "v9", "").await,
        Code::NotFound,
        &["db/credentials (version v9)"],
    )?;
    expect_status(
        "missing property",
        read("db/credentials", "", "token").await,
        Code::NotFound,
        &["db/credentials property token"],
    )?;
    expect_status(
        "missing nested property",
        read("nested-only", "", "outer.nope").await,
        Code::NotFound,
        &["nested-only property outer.nope"],
    )?;
    // A property of a value that is not JSON is a bad request, not a missing secret.
    expect_status(
        "property of plain text",
        read("hello", "", "x").await,
        Code::InvalidArgument,
        &["hello is not a JSON object"],
    )?;
    Ok(())
}

#[tokio::test]
async fn get_secret_map_reads_json_objects_and_value_maps() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let map = ok(
        "GetSecretMap JSON",
        client
            .store
            .get_secret_map(map_request("default", "backend", "db/credentials", "", ""))
            .await,
    )?;
    check_eq!(
        text_map(map.secrets)?,
        pairs(&[("username", "app"), ("password", "s3cr3t")]),
        "JSON object"
    );
    let map = ok(
        "GetSecretMap version",
        client
            .store
            .get_secret_map(map_request("default", "backend", "db/credentials", "v1", ""))
            .await,
    )?;
    check_eq!(
        text_map(map.secrets)?,
        pairs(&[("username", "app"), ("password", "old")]),
        "versioned JSON object"
    );
    let map = ok(
        "GetSecretMap valueMap",
        client
            .store
            .get_secret_map(map_request("default", "backend", "mapped", "", ""))
            .await,
    )?;
    check_eq!(
        text_map(map.secrets)?,
        pairs(&[("user", "admin"), ("pass", "hunter2")]),
        "valueMap"
    );
    let map = ok(
        "GetSecretMap property",
        client
            .store
            .get_secret_map(map_request("default", "backend", "nested-only", "", "outer"))
            .await,
    )?;
    check_eq!(text_map(map.secrets)?, pairs(&[("inner", "in")]), "object property");
    let map = ok(
        "GetSecretMap non-string values",
        client
            .store
            .get_secret_map(map_request("default", "backend", "nested-only", "", ""))
            .await,
    )?;
    check_eq!(
        text_map(map.secrets)?,
        pairs(&[("outer", r#"{"inner":"in"}"#), ("list", "[1,2]")]),
        "nested values as JSON text"
    );

    expect_status(
        "non-object value",
        client
            .store
            .get_secret_map(map_request("default", "backend", "hello", "", ""))
            .await,
        Code::InvalidArgument,
        &["secret hello is not a JSON object"],
    )?;
    expect_status(
        "non-object property",
        client
            .store
            .get_secret_map(map_request("default", "backend", "nested", "", "n"))
            .await,
        Code::InvalidArgument,
        &["property n of nested is not a JSON object"],
    )?;
    expect_status(
        "missing key",
        client
            .store
            .get_secret_map(map_request("default", "backend", "nope", "", ""))
            .await,
        Code::NotFound,
        &["secret nope not found"],
    )?;
    expect_status(
        "missing property",
        client
            .store
            .get_secret_map(map_request("default", "backend", "nested-only", "", "nope"))
            .await,
        Code::NotFound,
        &["nested-only property nope"],
    )?;
    Ok(())
}

#[tokio::test]
async fn get_all_secrets_finds_by_path_name_and_tags() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let mut find = async |path: &str, regexp: &str, tags: &[(&str, &str)]| {
        client
            .store
            .get_all_secrets(find_request("default", "backend", path, regexp, tags))
            .await
            .map(|r| r.into_inner().secrets)
    };
    let found = text_map(find("db/", "", &[]).await.map_err(|s| s.to_string())?)?;
    check_eq!(
        found,
        pairs(&[
            // The unversioned value, never an older version.
            ("db/credentials", r#"{"username":"app","password":"s3cr3t"}"#),
            ("db/replica", "replica-value"),
        ]),
        "by path"
    );
    let found = text_map(find("", "^(hello|mapped)$", &[]).await.map_err(|s| s.to_string())?)?;
    check_eq!(found, pairs(&[("hello", "world"), ("mapped", "not-json")]), "by name");
    let found = text_map(find("", "", &[("env", "dev")]).await.map_err(|s| s.to_string())?)?;
    check_eq!(
        found,
        pairs(&[
            ("app/config", "config-value"),
            ("db/credentials", r#"{"username":"app","password":"s3cr3t"}"#),
        ]),
        "by tag"
    );
    let found = text_map(
        find("", "", &[("env", "dev"), ("team", "payments")])
            .await
            .map_err(|s| s.to_string())?,
    )?;
    check_eq!(
        found.keys().collect::<Vec<_>>(),
        vec!["db/credentials"],
        "all tags must match"
    );
    let found = text_map(
        find("db/", "cred", &[("env", "dev")])
            .await
            .map_err(|s| s.to_string())?,
    )?;
    check_eq!(
        found.keys().collect::<Vec<_>>(),
        vec!["db/credentials"],
        "path, name and tags combined"
    );
    let found = text_map(
        find("db/", "cred", &[("env", "prod")])
            .await
            .map_err(|s| s.to_string())?,
    )?;
    check!(found.is_empty(), "combined filters that match nothing: {found:?}");

    // Pushed secrets are found too, with their tags.
    ok(
        "push",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &[("pw", "pushed-pw")],
                "pw",
                "db/pushed",
                "",
                r#"{"tags":{"env":"dev"}}"#,
            ))
            .await,
    )?;
    let found = text_map(
        client
            .store
            .get_all_secrets(find_request("default", "backend", "db/", "", &[]))
            .await
            .map(|r| r.into_inner().secrets)
            .map_err(|s| s.to_string())?,
    )?;
    check_eq!(
        found.keys().collect::<Vec<_>>(),
        vec!["db/credentials", "db/pushed", "db/replica"],
        "pushed secret found by path"
    );
    check_eq!(
        found.get("db/pushed").map(String::as_str),
        Some("pushed-pw"),
        "pushed value"
    );

    expect_status(
        "invalid regexp",
        client
            .store
            .get_all_secrets(find_request("default", "backend", "", "(unclosed", &[]))
            .await,
        Code::InvalidArgument,
        &["find.name.regexp is not a valid regular expression"],
    )?;
    expect_status(
        "empty find",
        client
            .store
            .get_all_secrets(find_request("default", "backend", "", "", &[]))
            .await,
        Code::InvalidArgument,
        &["find needs at least one of path, name.regexp or tags"],
    )?;
    let mut missing = find_request("default", "backend", "x", "", &[]);
    missing.find = None;
    expect_status(
        "no find",
        client.store.get_all_secrets(missing).await,
        Code::InvalidArgument,
        &["find is missing"],
    )?;
    Ok(())
}

#[tokio::test]
async fn push_secret_writes_keys_whole_secrets_properties_and_tags() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let data = [("username", "alice"), ("password", "p@ss")];

    // One key of the Secret.
    ok(
        "push one key",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &data,
                "password",
                "pushed/one",
                "",
                "",
            ))
            .await,
    )?;
    check_eq!(
        get(&mut client, get_request("default", "backend", "pushed/one", "", ""))
            .await
            .map_err(|s| s.to_string())?,
        "p@ss",
        "one key read back"
    );

    // The whole Secret: a JSON object of its data.
    ok(
        "push whole secret",
        client
            .store
            .push_secret(push_request("default", "backend", &data, "", "pushed/whole", "", ""))
            .await,
    )?;
    let whole = get(&mut client, get_request("default", "backend", "pushed/whole", "", ""))
        .await
        .map_err(|s| s.to_string())?;
    let parsed: serde_json::Value = serde_json::from_str(&whole).map_err(|e| format!("whole secret: {e}"))?;
    check_eq!(
        parsed,
        serde_json::json!({"username": "alice", "password": "p@ss"}),
        "whole secret as JSON"
    );
    check_eq!(
        get(
            &mut client,
            get_request("default", "backend", "pushed/whole", "", "username")
        )
        .await
        .map_err(|s| s.to_string())?,
        "alice",
        "a property of the whole secret"
    );

    // A property merged into an existing pushed secret.
    ok(
        "push property",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &[("token", "t0k3n")],
                "token",
                "pushed/whole",
                "api-token",
                "",
            ))
            .await,
    )?;
    let merged = get(&mut client, get_request("default", "backend", "pushed/whole", "", ""))
        .await
        .map_err(|s| s.to_string())?;
    let parsed: serde_json::Value = serde_json::from_str(&merged).map_err(|e| format!("merged: {e}"))?;
    check_eq!(
        parsed,
        serde_json::json!({"username": "alice", "password": "p@ss", "api-token": "t0k3n"}),
        "property merged"
    );

    // A property pushed to a secret that does not exist yet creates it.
    ok(
        "push property to new key",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &[("token", "t0k3n")],
                "token",
                "pushed/new",
                "only",
                "",
            ))
            .await,
    )?;
    check_eq!(
        get(&mut client, get_request("default", "backend", "pushed/new", "", ""))
            .await
            .map_err(|s| s.to_string())?,
        r#"{"only":"t0k3n"}"#,
        "new secret from one property"
    );

    // Pushing over a spec entry overrides its unversioned value; versions stay.
    ok(
        "push over spec entry",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &[("v", "replaced")],
                "v",
                "db/credentials",
                "",
                "",
            ))
            .await,
    )?;
    check_eq!(
        get(&mut client, get_request("default", "backend", "db/credentials", "", ""))
            .await
            .map_err(|s| s.to_string())?,
        "replaced",
        "pushed value wins"
    );
    check_eq!(
        get(
            &mut client,
            get_request("default", "backend", "db/credentials", "v1", "password")
        )
        .await
        .map_err(|s| s.to_string())?,
        "old",
        "versions are untouched"
    );

    // Metadata tags, found by GetAllSecrets.
    ok(
        "push with tags",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &data,
                "username",
                "tagged/user",
                "",
                r#"{"tags":{"owner":"pushsecret","env":"qa"}}"#,
            ))
            .await,
    )?;
    let found = ok(
        "find by pushed tags",
        client
            .store
            .get_all_secrets(find_request("default", "backend", "", "", &[("owner", "pushsecret")]))
            .await,
    )?;
    check_eq!(
        text_map(found.secrets)?,
        pairs(&[("tagged/user", "alice")]),
        "found by tags"
    );

    // Bad pushes.
    expect_status(
        "secret_key not in data",
        client
            .store
            .push_secret(push_request("default", "backend", &data, "nope", "x", "", ""))
            .await,
        Code::InvalidArgument,
        &["push_secret_data.secret_key nope is not in secret_data"],
    )?;
    expect_status(
        "tags not strings",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &data,
                "username",
                "x",
                "",
                r#"{"tags":["a"]}"#,
            ))
            .await,
        Code::InvalidArgument,
        &["metadata.tags must be an object of strings"],
    )?;
    expect_status(
        "metadata not JSON",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &data,
                "username",
                "x",
                "",
                "{not json",
            ))
            .await,
        Code::InvalidArgument,
        &["push_secret_data.metadata is not JSON"],
    )?;
    expect_status(
        "empty remote key",
        client
            .store
            .push_secret(push_request("default", "backend", &data, "username", "", "", ""))
            .await,
        Code::InvalidArgument,
        &["remote_ref.remote_key is empty"],
    )?;
    let mut no_data = push_request("default", "backend", &data, "username", "x", "", "");
    no_data.push_secret_data = None;
    expect_status(
        "no push_secret_data",
        client.store.push_secret(no_data).await,
        Code::InvalidArgument,
        &["push_secret_data is missing"],
    )?;
    // None of the refused pushes wrote anything.
    check_eq!(
        ok(
            "exists x",
            client
                .store
                .secret_exists(exists_request("default", "backend", "x", ""))
                .await
        )?
        .exists,
        false,
        "refused pushes write nothing"
    );
    Ok(())
}

#[tokio::test]
async fn delete_secret_and_secret_exists() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let exists = async |client: &mut eso_runtime::client::ProviderClient, key: &str, property: &str| {
        ok(
            "SecretExists",
            client
                .store
                .secret_exists(exists_request("default", "backend", key, property))
                .await,
        )
        .map(|r| r.exists)
    };
    check_eq!(exists(&mut client, "to-delete", "").await?, false, "before push");
    // Spec entries exist too, and their JSON properties.
    check_eq!(exists(&mut client, "hello", "").await?, true, "spec entry");
    check_eq!(
        exists(&mut client, "db/credentials", "password").await?,
        true,
        "spec property"
    );
    check_eq!(
        exists(&mut client, "db/credentials", "token").await?,
        false,
        "missing spec property"
    );
    check_eq!(
        exists(&mut client, "hello", "x").await?,
        false,
        "property of plain text"
    );

    ok(
        "push",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &[("a", "1"), ("b", "2")],
                "",
                "to-delete",
                "",
                "",
            ))
            .await,
    )?;
    check_eq!(exists(&mut client, "to-delete", "").await?, true, "after push");
    check_eq!(
        exists(&mut client, "to-delete", "a").await?,
        true,
        "property a after push"
    );

    // Delete one property: the rest stays.
    ok(
        "delete property",
        client
            .store
            .delete_secret(delete_request("default", "backend", "to-delete", "a"))
            .await,
    )?;
    check_eq!(exists(&mut client, "to-delete", "a").await?, false, "deleted property");
    check_eq!(exists(&mut client, "to-delete", "b").await?, true, "other property");
    check_eq!(
        get(&mut client, get_request("default", "backend", "to-delete", "", ""))
            .await
            .map_err(|s| s.to_string())?,
        r#"{"b":"2"}"#,
        "value after deleting a property"
    );

    // Delete the whole secret.
    ok(
        "delete whole",
        client
            .store
            .delete_secret(delete_request("default", "backend", "to-delete", ""))
            .await,
    )?;
    check_eq!(exists(&mut client, "to-delete", "").await?, false, "after delete");
    expect_status(
        "read after delete",
        get(&mut client, get_request("default", "backend", "to-delete", "", "")).await,
        Code::NotFound,
        &["secret to-delete not found"],
    )?;

    // Deleting the last property removes the secret.
    ok(
        "push single property",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &[("k", "v")],
                "k",
                "single",
                "p",
                "",
            ))
            .await,
    )?;
    ok(
        "delete the only property",
        client
            .store
            .delete_secret(delete_request("default", "backend", "single", "p"))
            .await,
    )?;
    check_eq!(exists(&mut client, "single", "").await?, false, "empty secret removed");

    // Deleting what is not there succeeds (idempotent), twice, whole or a property.
    for (key, property) in [("never-pushed", ""), ("never-pushed", "p"), ("to-delete", "")] {
        ok(
            "delete missing",
            client
                .store
                .delete_secret(delete_request("default", "backend", key, property))
                .await,
        )?;
    }
    Ok(())
}

#[tokio::test]
async fn validate_reports_configuration_in_band() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let good = ok(
        "validate good",
        client.store.validate(validate_request("default", "backend")).await,
    )?;
    check_eq!(
        (good.valid, good.error.as_str(), good.warnings.len()),
        (true, "", 0),
        "good spec"
    );

    let empty_key = ok(
        "validate empty key",
        client.store.validate(validate_request("default", "empty-key")).await,
    )?;
    check!(!empty_key.valid, "empty key must be invalid");
    check_eq!(
        empty_key.error,
        "Fake default/empty-key: spec.data[1].key is empty",
        "empty key error"
    );

    let duplicate = ok(
        "validate duplicate",
        client.store.validate(validate_request("default", "duplicate")).await,
    )?;
    check!(!duplicate.valid, "duplicate must be invalid");
    check!(
        duplicate.error.contains("spec.data[2]") && duplicate.error.contains("key a version \"v1\" is listed twice"),
        "duplicate error names the field: {}",
        duplicate.error
    );

    let missing = ok(
        "validate missing object",
        client.store.validate(validate_request("default", "nope")).await,
    )?;
    check!(!missing.valid, "missing object must be invalid");
    check_eq!(missing.error, "Fake default/nope not found", "missing object error");

    let empty = ok(
        "validate empty",
        client.store.validate(validate_request("default", "empty")).await,
    )?;
    check_eq!((empty.valid, empty.error.as_str()), (true, ""), "empty data is valid");
    check_eq!(
        empty.warnings,
        vec!["spec.data is empty: this store serves only what is pushed to it".to_string()],
        "empty data warns"
    );

    // The same invalid spec makes data calls fail with FAILED_PRECONDITION.
    expect_status(
        "read from an invalid spec",
        get(&mut client, get_request("default", "empty-key", "ok", "", "")).await,
        Code::FailedPrecondition,
        &["Fake default/empty-key: spec.data[1].key is empty"],
    )?;
    Ok(())
}

#[tokio::test]
async fn capabilities_are_read_write() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let response = ok(
        "Capabilities",
        client
            .store
            .capabilities(wire::CapabilitiesRequest {
                provider_ref: Some(fake_ref("default", "backend")),
                source_namespace: "default".into(),
            })
            .await,
    )?;
    check_eq!(
        response.capabilities,
        wire::SecretStoreCapabilities::ReadWrite as i32,
        "capabilities"
    );
    check_eq!(response.capabilities, 2, "READ_WRITE on the wire");
    Ok(())
}

#[tokio::test]
async fn pushed_secrets_belong_to_one_provider_object() -> TestResult {
    let (running, mut client) = start(&manifests()).await?;
    ok(
        "push to default/backend",
        client
            .store
            .push_secret(push_request(
                "default",
                "backend",
                &[("k", "in-a")],
                "k",
                "shared/key",
                "",
                "",
            ))
            .await,
    )?;
    check_eq!(
        get(&mut client, get_request("default", "backend", "shared/key", "", ""))
            .await
            .map_err(|s| s.to_string())?,
        "in-a",
        "object A sees its push"
    );
    // Another object in the same namespace.
    expect_status(
        "object B, same namespace",
        get(&mut client, get_request("default", "other", "shared/key", "", "")).await,
        Code::NotFound,
        &["secret shared/key not found"],
    )?;
    check_eq!(
        ok(
            "exists in B",
            client
                .store
                .secret_exists(exists_request("default", "other", "shared/key", ""))
                .await
        )?
        .exists,
        false,
        "B does not have it"
    );
    // The same name in another namespace.
    expect_status(
        "same name, namespace team-b",
        get(&mut client, get_request("team-b", "backend", "shared/key", "", "")).await,
        Code::NotFound,
        &["secret shared/key not found"],
    )?;
    let found = ok(
        "find in team-b",
        client
            .store
            .get_all_secrets(find_request("team-b", "backend", "shared/", "", &[]))
            .await,
    )?;
    check!(
        found.secrets.is_empty(),
        "team-b finds nothing: {:?}",
        found.secrets.keys()
    );

    // A push to team-b/backend stays there, and each keeps its own value.
    ok(
        "push to team-b/backend",
        client
            .store
            .push_secret(push_request(
                "team-b",
                "backend",
                &[("k", "in-b")],
                "k",
                "shared/key",
                "",
                "",
            ))
            .await,
    )?;
    check_eq!(
        get(&mut client, get_request("team-b", "backend", "shared/key", "", ""))
            .await
            .map_err(|s| s.to_string())?,
        "in-b",
        "team-b value"
    );
    check_eq!(
        get(&mut client, get_request("default", "backend", "shared/key", "", ""))
            .await
            .map_err(|s| s.to_string())?,
        "in-a",
        "default value unchanged"
    );
    // Deleting in one leaves the other.
    ok(
        "delete in team-b",
        client
            .store
            .delete_secret(delete_request("team-b", "backend", "shared/key", ""))
            .await,
    )?;
    check_eq!(
        get(&mut client, get_request("default", "backend", "shared/key", "", ""))
            .await
            .map_err(|s| s.to_string())?,
        "in-a",
        "default value survives a delete in team-b"
    );

    // Pushed secrets survive a change to the object's spec (a new backend client).
    let changed = manifests().replace("value: world", "value: world-2");
    running
        .replace_manifests(&changed)
        .map_err(|e| format!("replace manifests: {e}"))?;
    check_eq!(
        get(&mut client, get_request("default", "backend", "hello", "", ""))
            .await
            .map_err(|s| s.to_string())?,
        "world-2",
        "spec change seen"
    );
    check_eq!(
        get(&mut client, get_request("default", "backend", "shared/key", "", ""))
            .await
            .map_err(|s| s.to_string())?,
        "in-a",
        "pushed value survives the spec change"
    );
    Ok(())
}

#[tokio::test]
async fn generate_and_cleanup() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let generated = ok(
        "Generate",
        client.generator.generate(generate_request("default", "gen")).await,
    )?;
    check_eq!(
        text_map(generated.secrets)?,
        pairs(&[("token", "generated-token"), ("user", "robot")]),
        "generated secrets"
    );
    let state: serde_json::Value =
        serde_json::from_slice(&generated.state).map_err(|e| format!("state is not JSON: {e}"))?;
    check_eq!(state["keys"], serde_json::json!(["token", "user"]), "state keys");
    check!(
        state["generationId"].as_str().is_some_and(|id| !id.is_empty()),
        "state has a generation id: {state}"
    );

    // Two generations differ.
    let second = ok(
        "Generate again",
        client.generator.generate(generate_request("default", "gen")).await,
    )?;
    check!(second.state != generated.state, "each generation has its own state");

    // Cleanup with that state, twice: idempotent.
    for attempt in 1..=2 {
        ok(
            &format!("Cleanup #{attempt}"),
            client
                .generator
                .cleanup(cleanup_request("default", "gen", generated.state.clone()))
                .await,
        )?;
    }
    // Empty state: nothing to clean up.
    ok(
        "Cleanup empty state",
        client
            .generator
            .cleanup(cleanup_request("default", "gen", Vec::new()))
            .await,
    )?;
    // Cleanup after the generator object is gone still succeeds.
    ok(
        "Cleanup of a removed generator",
        client
            .generator
            .cleanup(cleanup_request("default", "gone", second.state.clone()))
            .await,
    )?;
    expect_status(
        "Cleanup garbage state",
        client
            .generator
            .cleanup(cleanup_request("default", "gen", b"not json at all".to_vec()))
            .await,
        Code::InvalidArgument,
        &["FakeGenerator default/gen", "state is not a FakeGenerator state"],
    )?;
    expect_status(
        "Cleanup state of the wrong shape",
        client
            .generator
            .cleanup(cleanup_request("default", "gen", br#"{"keys":"x"}"#.to_vec()))
            .await,
        Code::InvalidArgument,
        &["state is not a FakeGenerator state"],
    )?;
    expect_status(
        "Generate of a missing generator",
        client.generator.generate(generate_request("default", "nope")).await,
        Code::FailedPrecondition,
        &["FakeGenerator default/nope not found"],
    )?;
    Ok(())
}

#[tokio::test]
async fn reloaded_manifests_are_served_at_once() -> TestResult {
    let (running, mut client) = start(&manifests()).await?;
    check_eq!(
        get(&mut client, get_request("default", "backend", "hello", "", ""))
            .await
            .map_err(|s| s.to_string())?,
        "world",
        "before"
    );
    // The connected client is cached now; a changed object must replace it.
    running
        .replace_manifests(&manifests().replace("value: world", "value: new-world"))
        .map_err(|e| format!("replace manifests: {e}"))?;
    check_eq!(
        get(&mut client, get_request("default", "backend", "hello", "", ""))
            .await
            .map_err(|s| s.to_string())?,
        "new-world",
        "after reload"
    );
    // An object that disappears is a configuration problem, never NOT_FOUND.
    running
        .replace_manifests(&fake_object("default", "other", "  data: []"))
        .map_err(|e| format!("replace manifests: {e}"))?;
    expect_status(
        "object removed",
        get(&mut client, get_request("default", "backend", "hello", "", "")).await,
        Code::FailedPrecondition,
        &["Fake default/backend not found"],
    )?;
    // And it comes back.
    running
        .replace_manifests(&manifests())
        .map_err(|e| format!("replace manifests: {e}"))?;
    check_eq!(
        get(&mut client, get_request("default", "backend", "hello", "", ""))
            .await
            .map_err(|s| s.to_string())?,
        "world",
        "restored"
    );
    Ok(())
}
