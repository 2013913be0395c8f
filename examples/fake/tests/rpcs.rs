//! Every RPC of both services against the Fake provider, over real loopback gRPC
//! with real mutual TLS, as ESO core calls them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use eso_runtime::proto::provider::v1 as wire;
use eso_runtime::testing::{Expect, run_table};
use serde_json::json;
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
    let backend = fake("default", "backend");
    let read = |key, version, property| backend.get(key, version, property).into();
    run_table(
        &mut client,
        [
            ("plain", read("hello", "", ""), Expect::Value("world")),
            (
                "unversioned JSON value",
                read("db/credentials", "", ""),
                Expect::Value(r#"{"username":"app","password":"s3cr3t"}"#),
            ),
            (
                "version v1",
                read("db/credentials", "v1", ""),
                Expect::Value(r#"{"username":"app","password":"old"}"#),
            ),
            (
                "property",
                read("db/credentials", "", "password"),
                Expect::Value("s3cr3t"),
            ),
            (
                "property of a version",
                read("db/credentials", "v1", "password"),
                Expect::Value("old"),
            ),
            (
                "nested property a.b",
                read("nested-only", "", "outer.inner"),
                Expect::Value("in"),
            ),
            ("three levels", read("nested", "", "a.c.d"), Expect::Value("deeper")),
            // A key that contains a dot literally wins over walking into objects.
            (
                "literal dotted key",
                read("nested", "", "a.b"),
                Expect::Value("literal-dotted"),
            ),
            // Non-string properties come back as JSON text.
            ("number", read("nested", "", "n"), Expect::Value("42")),
            (
                "object property",
                read("nested-only", "", "outer"),
                Expect::Value(r#"{"inner":"in"}"#),
            ),
            (
                "missing key",
                read("nope", "", ""),
                Expect::Status(Code::NotFound, &["secret nope not found"]),
            ),
            (
                "missing version",
                read("db/credentials", "v9", ""),
                Expect::Status(Code::NotFound, &["db/credentials (version v9)"]),
            ),
            (
                "missing property",
                read("db/credentials", "", "token"),
                Expect::Status(Code::NotFound, &["db/credentials property token"]),
            ),
            (
                "missing nested property",
                read("nested-only", "", "outer.nope"),
                Expect::Status(Code::NotFound, &["nested-only property outer.nope"]),
            ),
            // A property of a value that is not JSON is a bad request, not a missing secret.
            (
                "property of plain text",
                read("hello", "", "x"),
                Expect::Status(Code::InvalidArgument, &["hello is not a JSON object"]),
            ),
        ],
    )
    .await
}

#[tokio::test]
async fn get_secret_map_reads_json_objects_and_value_maps() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let backend = fake("default", "backend");
    let map = |key, version, property| backend.get_map(key, version, property).into();
    run_table(
        &mut client,
        [
            (
                "JSON object",
                map("db/credentials", "", ""),
                Expect::Secrets(&[("username", "app"), ("password", "s3cr3t")]),
            ),
            (
                "versioned JSON object",
                map("db/credentials", "v1", ""),
                Expect::Secrets(&[("username", "app"), ("password", "old")]),
            ),
            (
                "valueMap",
                map("mapped", "", ""),
                Expect::Secrets(&[("user", "admin"), ("pass", "hunter2")]),
            ),
            (
                "object property",
                map("nested-only", "", "outer"),
                Expect::Secrets(&[("inner", "in")]),
            ),
            (
                "nested values as JSON text",
                map("nested-only", "", ""),
                Expect::Secrets(&[("outer", r#"{"inner":"in"}"#), ("list", "[1,2]")]),
            ),
            (
                "non-object value",
                map("hello", "", ""),
                Expect::Status(Code::InvalidArgument, &["secret hello is not a JSON object"]),
            ),
            (
                "non-object property",
                map("nested", "", "n"),
                Expect::Status(Code::InvalidArgument, &["property n of nested is not a JSON object"]),
            ),
            (
                "missing key",
                map("nope", "", ""),
                Expect::Status(Code::NotFound, &["secret nope not found"]),
            ),
            (
                "missing property",
                map("nested-only", "", "nope"),
                Expect::Status(Code::NotFound, &["nested-only property nope"]),
            ),
        ],
    )
    .await
}

#[tokio::test]
async fn get_all_secrets_finds_by_path_name_and_tags() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let backend = fake("default", "backend");
    let find = |path, regexp, tags| backend.find(path, regexp, tags).into();
    let credentials = r#"{"username":"app","password":"s3cr3t"}"#;
    run_table(
        &mut client,
        [
            (
                "by path",
                find("db/", "", &[]),
                // The unversioned value, never an older version.
                Expect::Secrets(&[("db/credentials", credentials), ("db/replica", "replica-value")]),
            ),
            (
                "by name",
                find("", "^(hello|mapped)$", &[]),
                Expect::Secrets(&[("hello", "world"), ("mapped", "not-json")]),
            ),
            (
                "by tag",
                find("", "", &[("env", "dev")]),
                Expect::Secrets(&[("app/config", "config-value"), ("db/credentials", credentials)]),
            ),
            (
                "all tags must match",
                find("", "", &[("env", "dev"), ("team", "payments")]),
                Expect::Keys(&["db/credentials"]),
            ),
            (
                "path, name and tags combined",
                find("db/", "cred", &[("env", "dev")]),
                Expect::Keys(&["db/credentials"]),
            ),
            (
                "combined filters that match nothing",
                find("db/", "cred", &[("env", "prod")]),
                Expect::Secrets(&[]),
            ),
            // Pushed secrets are found too, with their tags.
            (
                "push",
                backend
                    .push(
                        &[("pw", "pushed-pw")],
                        "pw",
                        "db/pushed",
                        "",
                        r#"{"tags":{"env":"dev"}}"#,
                    )
                    .into(),
                Expect::Ok,
            ),
            (
                "pushed secret found by path, with its value",
                find("db/", "", &[]),
                Expect::Secrets(&[
                    ("db/credentials", credentials),
                    ("db/pushed", "pushed-pw"),
                    ("db/replica", "replica-value"),
                ]),
            ),
            (
                "invalid regexp",
                find("", "(unclosed", &[]),
                Expect::Status(
                    Code::InvalidArgument,
                    &["find.name.regexp is not a valid regular expression"],
                ),
            ),
            (
                "empty find",
                find("", "", &[]),
                Expect::Status(
                    Code::InvalidArgument,
                    &["find needs at least one of path, name.regexp or tags"],
                ),
            ),
            (
                "no find",
                wire::GetAllSecretsRequest {
                    find: None,
                    ..backend.find("x", "", &[])
                }
                .into(),
                Expect::Status(Code::InvalidArgument, &["find is missing"]),
            ),
        ],
    )
    .await
}

#[tokio::test]
async fn push_secret_writes_keys_whole_secrets_and_tags_as_upstreams_fake() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let backend = fake("default", "backend");
    let data = [("username", "alice"), ("password", "p@ss")];
    let push = |data, secret_key, remote_key, property, metadata| {
        backend.push(data, secret_key, remote_key, property, metadata).into()
    };
    let read = |key, version, property| backend.get(key, version, property).into();
    let refused = Code::InvalidArgument;
    run_table(
        &mut client,
        [
            // One key of the Secret.
            (
                "push one key",
                push(&data, "password", "pushed/one", "", ""),
                Expect::Ok,
            ),
            ("one key read back", read("pushed/one", "", ""), Expect::Value("p@ss")),
            // The whole Secret: a JSON object of its data.
            ("push whole secret", push(&data, "", "pushed/whole", "", ""), Expect::Ok),
            (
                "whole secret as JSON",
                read("pushed/whole", "", ""),
                Expect::Json(json!({"username": "alice", "password": "p@ss"})),
            ),
            (
                "a property of the whole secret",
                read("pushed/whole", "", "username"),
                Expect::Value("alice"),
            ),
            // As upstream's Fake (and upstream's e2e expects): `property` is ignored, the
            // value is stored as pushed and read back with the key alone.
            (
                "push with a property",
                push(&[("token", "t0k3n")], "token", "pushed/prop", "api-token", ""),
                Expect::Ok,
            ),
            (
                "the raw value read back",
                read("pushed/prop", "", ""),
                Expect::Value("t0k3n"),
            ),
            // A later push replaces the pushed value, property or not.
            (
                "push again with another property",
                push(&[("token", "n3w")], "token", "pushed/prop", "other", ""),
                Expect::Ok,
            ),
            (
                "replaced, not merged",
                read("pushed/prop", "", ""),
                Expect::Value("n3w"),
            ),
            // A key the spec defines is not overwritten (upstream: "key already exists").
            (
                "push over spec entry",
                push(&[("v", "replaced")], "v", "db/credentials", "", ""),
                Expect::Status(Code::AlreadyExists, &["key db/credentials already exists in the spec"]),
            ),
            (
                "the spec value stays",
                read("db/credentials", "", "password"),
                Expect::Value("s3cr3t"),
            ),
            // Metadata tags, found by GetAllSecrets.
            (
                "push with tags",
                push(
                    &data,
                    "username",
                    "tagged/user",
                    "",
                    r#"{"tags":{"owner":"pushsecret","env":"qa"}}"#,
                ),
                Expect::Ok,
            ),
            (
                "found by tags",
                backend.find("", "", &[("owner", "pushsecret")]).into(),
                Expect::Secrets(&[("tagged/user", "alice")]),
            ),
            // Bad pushes.
            (
                "secret_key not in data",
                push(&data, "nope", "x", "", ""),
                Expect::Status(refused, &["push_secret_data.secret_key nope is not in secret_data"]),
            ),
            (
                "tags not strings",
                push(&data, "username", "x", "", r#"{"tags":["a"]}"#),
                Expect::Status(refused, &["metadata.tags must be an object of strings"]),
            ),
            (
                "metadata not JSON",
                push(&data, "username", "x", "", "{not json"),
                Expect::Status(refused, &["push_secret_data.metadata is not JSON"]),
            ),
            (
                "empty remote key",
                push(&data, "username", "", "", ""),
                Expect::Status(refused, &["remote_ref.remote_key is empty"]),
            ),
            (
                "no push_secret_data",
                wire::PushSecretRequest {
                    push_secret_data: None,
                    ..backend.push(&data, "username", "x", "", "")
                }
                .into(),
                Expect::Status(refused, &["push_secret_data is missing"]),
            ),
            // None of the refused pushes wrote anything.
            (
                "refused pushes write nothing",
                backend.exists("x", "").into(),
                Expect::Exists(false),
            ),
        ],
    )
    .await
}

#[tokio::test]
async fn delete_secret_and_secret_exists() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let backend = fake("default", "backend");
    let exists = |key, property| backend.exists(key, property).into();
    let delete = |key, property| backend.delete(key, property).into();
    run_table(
        &mut client,
        [
            ("before push", exists("to-delete", ""), Expect::Exists(false)),
            // Spec entries exist too; the property is ignored, as by a push.
            ("spec entry", exists("hello", ""), Expect::Exists(true)),
            (
                "spec entry, any property",
                exists("db/credentials", "token"),
                Expect::Exists(true),
            ),
            (
                "push",
                backend.push(&[("a", "1"), ("b", "2")], "", "to-delete", "", "").into(),
                Expect::Ok,
            ),
            ("after push", exists("to-delete", ""), Expect::Exists(true)),
            (
                "after push, any property",
                exists("to-delete", "a"),
                Expect::Exists(true),
            ),
            // A delete removes the pushed key, whatever the property.
            ("delete with a property", delete("to-delete", "a"), Expect::Ok),
            ("after delete", exists("to-delete", ""), Expect::Exists(false)),
            (
                "read after delete",
                backend.get("to-delete", "", "").into(),
                Expect::Status(Code::NotFound, &["secret to-delete not found"]),
            ),
            // The spec's keys are not deleted (they were never pushed).
            ("delete a spec key", delete("hello", ""), Expect::Ok),
            ("the spec key stays", exists("hello", ""), Expect::Exists(true)),
            // Deleting what is not there succeeds (idempotent): ESO core's finalizer
            // waits on a DeleteSecret that fails.
            ("delete missing", delete("never-pushed", ""), Expect::Ok),
            ("delete a missing property", delete("never-pushed", "p"), Expect::Ok),
            ("delete the deleted again", delete("to-delete", ""), Expect::Ok),
        ],
    )
    .await
}

#[tokio::test]
async fn validate_reports_configuration_in_band() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let mut validate = async |name: &str| {
        ok(
            &format!("validate {name}"),
            client.store.validate(fake("default", name).validate()).await,
        )
    };
    let good = validate("backend").await?;
    check_eq!(
        (good.valid, good.error.as_str(), good.warnings.len()),
        (true, "", 0),
        "good spec"
    );

    let empty_key = validate("empty-key").await?;
    check!(!empty_key.valid, "empty key must be invalid");
    check_eq!(
        empty_key.error,
        "Fake default/empty-key: spec.data[1].key is empty",
        "empty key error"
    );

    let duplicate = validate("duplicate").await?;
    check!(!duplicate.valid, "duplicate must be invalid");
    check!(
        duplicate.error.contains("spec.data[2]") && duplicate.error.contains("key a version \"v1\" is listed twice"),
        "duplicate error names the field: {}",
        duplicate.error
    );

    let missing = validate("nope").await?;
    check!(!missing.valid, "missing object must be invalid");
    check_eq!(missing.error, "Fake default/nope not found", "missing object error");

    let empty = validate("empty").await?;
    check_eq!((empty.valid, empty.error.as_str()), (true, ""), "empty data is valid");
    check_eq!(
        empty.warnings,
        vec!["spec.data is empty: this store serves only what is pushed to it".to_string()],
        "empty data warns"
    );

    // The same invalid spec makes data calls fail with FAILED_PRECONDITION.
    expect_status(
        "read from an invalid spec",
        get(&mut client, fake("default", "empty-key").get("ok", "", "")).await,
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
            .capabilities(fake("default", "backend").capabilities())
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
    let (backend, other, team_b) = (
        fake("default", "backend"),
        fake("default", "other"),
        fake("team-b", "backend"),
    );
    let not_found = Expect::Status(Code::NotFound, &["secret shared/key not found"]);
    run_table(
        &mut client,
        [
            (
                "push to default/backend",
                backend.push(&[("k", "in-a")], "k", "shared/key", "", "").into(),
                Expect::Ok,
            ),
            (
                "object A sees its push",
                backend.get("shared/key", "", "").into(),
                Expect::Value("in-a"),
            ),
            // Another object in the same namespace.
            (
                "object B, same namespace",
                other.get("shared/key", "", "").into(),
                not_found.clone(),
            ),
            (
                "B does not have it",
                other.exists("shared/key", "").into(),
                Expect::Exists(false),
            ),
            // The same name in another namespace.
            (
                "same name, namespace team-b",
                team_b.get("shared/key", "", "").into(),
                not_found,
            ),
            (
                "team-b finds nothing",
                team_b.find("shared/", "", &[]).into(),
                Expect::Secrets(&[]),
            ),
            // A push to team-b/backend stays there, and each keeps its own value.
            (
                "push to team-b/backend",
                team_b.push(&[("k", "in-b")], "k", "shared/key", "", "").into(),
                Expect::Ok,
            ),
            (
                "team-b value",
                team_b.get("shared/key", "", "").into(),
                Expect::Value("in-b"),
            ),
            (
                "default value unchanged",
                backend.get("shared/key", "", "").into(),
                Expect::Value("in-a"),
            ),
            // Deleting in one leaves the other.
            ("delete in team-b", team_b.delete("shared/key", "").into(), Expect::Ok),
            (
                "default value survives a delete in team-b",
                backend.get("shared/key", "", "").into(),
                Expect::Value("in-a"),
            ),
        ],
    )
    .await?;

    // Pushed secrets survive a change to the object's spec (a new backend client).
    let changed = manifests().replace("value: world", "value: world-2");
    running
        .replace_manifests(&changed)
        .map_err(|e| format!("replace manifests: {e}"))?;
    run_table(
        &mut client,
        [
            (
                "spec change seen",
                backend.get("hello", "", "").into(),
                Expect::Value("world-2"),
            ),
            (
                "pushed value survives the spec change",
                backend.get("shared/key", "", "").into(),
                Expect::Value("in-a"),
            ),
        ],
    )
    .await
}

#[tokio::test]
async fn generate_and_cleanup() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let (generator, gone) = (fake_generator("default", "gen"), fake_generator("default", "gone"));
    let generated = ok("Generate", client.generator.generate(generator.generate()).await)?;
    check_eq!(
        text_map(generated.secrets)?,
        pairs(&[("token", "generated-token"), ("user", "robot")]),
        "generated secrets"
    );
    let state: serde_json::Value =
        serde_json::from_slice(&generated.state).map_err(|e| format!("state is not JSON: {e}"))?;
    check_eq!(state["keys"], json!(["token", "user"]), "state keys");
    check!(
        state["generationId"].as_str().is_some_and(|id| !id.is_empty()),
        "state has a generation id: {state}"
    );

    // Two generations differ.
    let second = ok("Generate again", client.generator.generate(generator.generate()).await)?;
    check!(second.state != generated.state, "each generation has its own state");

    let refused = Code::InvalidArgument;
    run_table(
        &mut client,
        [
            // Cleanup with that state, twice: idempotent.
            (
                "Cleanup #1",
                generator.cleanup(generated.state.clone()).into(),
                Expect::Ok,
            ),
            (
                "Cleanup #2",
                generator.cleanup(generated.state.clone()).into(),
                Expect::Ok,
            ),
            // Empty state: nothing to clean up.
            ("Cleanup empty state", generator.cleanup(Vec::new()).into(), Expect::Ok),
            // Cleanup after the generator object is gone still succeeds.
            (
                "Cleanup of a removed generator",
                gone.cleanup(second.state.clone()).into(),
                Expect::Ok,
            ),
            (
                "Cleanup garbage state",
                generator.cleanup(b"not json at all".to_vec()).into(),
                Expect::Status(
                    refused,
                    &["FakeGenerator default/gen", "state is not a FakeGenerator state"],
                ),
            ),
            (
                "Cleanup state of the wrong shape",
                generator.cleanup(br#"{"keys":"x"}"#.to_vec()).into(),
                Expect::Status(refused, &["state is not a FakeGenerator state"]),
            ),
            (
                "Generate of a missing generator",
                fake_generator("default", "nope").generate().into(),
                Expect::Status(Code::FailedPrecondition, &["FakeGenerator default/nope not found"]),
            ),
        ],
    )
    .await
}

#[tokio::test]
async fn reloaded_manifests_are_served_at_once() -> TestResult {
    let (running, mut client) = start(&manifests()).await?;
    let hello = || fake("default", "backend").get("hello", "", "").into();
    run_table(&mut client, [("before", hello(), Expect::Value("world"))]).await?;
    // The connected client is cached now; a changed object must replace it.
    running
        .replace_manifests(&manifests().replace("value: world", "value: new-world"))
        .map_err(|e| format!("replace manifests: {e}"))?;
    run_table(&mut client, [("after reload", hello(), Expect::Value("new-world"))]).await?;
    // An object that disappears is a configuration problem, never NOT_FOUND.
    running
        .replace_manifests(&fake_object("default", "other", "  data: []"))
        .map_err(|e| format!("replace manifests: {e}"))?;
    run_table(
        &mut client,
        [(
            "object removed",
            hello(),
            Expect::Status(Code::FailedPrecondition, &["Fake default/backend not found"]),
        )],
    )
    .await?;
    // And it comes back.
    running
        .replace_manifests(&manifests())
        .map_err(|e| format!("replace manifests: {e}"))?;
    run_table(&mut client, [("restored", hello(), Expect::Value("world"))]).await
}
