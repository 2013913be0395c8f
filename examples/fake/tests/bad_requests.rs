//! Requests ESO core (or a broken core) could send that must be refused, each with
//! the exact gRPC status code and a message naming the object or field. NOT_FOUND
//! is reserved for a missing remote secret; nothing here may return it. No message
//! may echo a secret value from the manifests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use eso_runtime::client::ProviderClient;
use eso_runtime::proto::generator::v1 as gen_wire;
use eso_runtime::proto::provider::v1 as wire;
use tonic::{Code, Status};

fn manifests() -> String {
    [
        fake_object(
            "default",
            "backend",
            "  data:\n    - key: hello\n      value: world\n    - key: db\n      value: '{\"password\":\"pw-in-json\"}'",
        ),
        fake_object("team-a", "team-store", "  data:\n    - key: hello\n      value: team-a-world"),
        // A spec whose value cannot be parsed: the message must not echo it.
        fake_object("default", "leaky-string", "  data: s3cr3t-value"),
        // A secret value that is not a string (a YAML number).
        fake_object("default", "leaky-number", "  data:\n    - key: pin\n      value: 987654321"),
        fake_object(
            "default",
            "leaky-nested",
            "  data:\n    - key: k\n      value: v\n      valueMap: {user: [n0t-a-str1ng-secret]}",
        ),
        generator_object("default", "gen", "  data:\n    token: generated-token"),
        "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Fake\nmetadata:\n  name: bad-scope\n  namespace: default\n  annotations:\n    external-secrets.io/authentication-scope: Everywhere\nspec:\n  data:\n    - key: db\n      value: '{}'\n---\n".to_string(),
    ]
    .concat()
}

/// Every store RPC that reads the provider object.
#[derive(Debug, Clone, Copy)]
enum Rpc {
    GetSecret,
    GetSecretMap,
    GetAllSecrets,
    PushSecret,
    DeleteSecret,
    SecretExists,
    Validate,
    Capabilities,
}

const ALL: [Rpc; 8] = [
    Rpc::GetSecret,
    Rpc::GetSecretMap,
    Rpc::GetAllSecrets,
    Rpc::PushSecret,
    Rpc::DeleteSecret,
    Rpc::SecretExists,
    Rpc::Validate,
    Rpc::Capabilities,
];

/// Calls `rpc` with an otherwise valid request. Validate's in-band failure comes
/// back as `Err(Status::failed_precondition(error))` so callers can treat it alike;
/// `in_band` tells which it was.
async fn call(
    client: &mut ProviderClient,
    rpc: Rpc,
    provider_ref: Option<wire::ProviderReference>,
    source_namespace: &str,
) -> (Result<(), Status>, bool) {
    let source_namespace = source_namespace.to_string();
    let remote_ref = Some(remote("db", "", ""));
    let push_ref = push_remote("db", "");
    let result = match rpc {
        Rpc::GetSecret => client
            .store
            .get_secret(wire::GetSecretRequest {
                remote_ref,
                provider_ref,
                source_namespace,
            })
            .await
            .map(drop),
        Rpc::GetSecretMap => client
            .store
            .get_secret_map(wire::GetSecretMapRequest {
                remote_ref,
                provider_ref,
                source_namespace,
            })
            .await
            .map(drop),
        Rpc::GetAllSecrets => client
            .store
            .get_all_secrets(wire::GetAllSecretsRequest {
                provider_ref,
                find: Some(wire::ExternalSecretFind {
                    path: "h".into(),
                    ..Default::default()
                }),
                source_namespace,
            })
            .await
            .map(drop),
        Rpc::PushSecret => {
            let mut request = push_request("x", "x", &[("k", "v")], "k", "pushed", "", "");
            request.provider_ref = provider_ref;
            request.source_namespace = source_namespace;
            client.store.push_secret(request).await.map(drop)
        }
        Rpc::DeleteSecret => client
            .store
            .delete_secret(wire::DeleteSecretRequest {
                provider_ref,
                remote_ref: push_ref,
                source_namespace,
            })
            .await
            .map(drop),
        Rpc::SecretExists => client
            .store
            .secret_exists(wire::SecretExistsRequest {
                provider_ref,
                remote_ref: push_ref,
                source_namespace,
            })
            .await
            .map(drop),
        Rpc::Validate => {
            let response = client
                .store
                .validate(wire::ValidateRequest {
                    provider_ref,
                    source_namespace,
                })
                .await;
            return match response {
                Ok(response) => {
                    let response = response.into_inner();
                    if response.valid {
                        (Ok(()), false)
                    } else {
                        (Err(Status::failed_precondition(response.error)), true)
                    }
                }
                Err(status) => (Err(status), false),
            };
        }
        Rpc::Capabilities => client
            .store
            .capabilities(wire::CapabilitiesRequest {
                provider_ref,
                source_namespace,
            })
            .await
            .map(drop),
    };
    (result, false)
}

fn with_api_version(api_version: &str) -> wire::ProviderReference {
    let mut reference = fake_ref("default", "backend");
    reference.api_version = api_version.into();
    reference
}

#[tokio::test]
async fn missing_provider_ref_is_invalid_argument() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    for rpc in ALL {
        let (result, in_band) = call(&mut client, rpc, None, "default").await;
        check!(
            !in_band,
            "{rpc:?}: a missing provider_ref is a bad request, not in-band"
        );
        expect_status(
            &format!("{rpc:?} without provider_ref"),
            result,
            Code::InvalidArgument,
            &["provider_ref is missing"],
        )?;
    }
    Ok(())
}

#[tokio::test]
async fn malformed_api_version_is_invalid_argument() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    for api_version in ["v1", "a/b/c", "", "/v2alpha1", "provider.external-secrets.io/"] {
        for rpc in ALL {
            let (result, in_band) = call(&mut client, rpc, Some(with_api_version(api_version)), "default").await;
            check!(!in_band, "{rpc:?} {api_version:?}: not in-band");
            expect_status(
                &format!("{rpc:?} with apiVersion {api_version:?}"),
                result,
                Code::InvalidArgument,
                &[&format!(
                    "provider_ref.api_version {api_version:?} is not of the form group/version"
                )],
            )?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn unknown_kind_is_unimplemented_and_lists_the_served_kinds() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    for kind in ["Vault", "FakeGenerator", "fake"] {
        for rpc in ALL {
            let mut reference = fake_ref("default", "backend");
            reference.kind = kind.into();
            let (result, _) = call(&mut client, rpc, Some(reference), "default").await;
            expect_status(
                &format!("{rpc:?} of kind {kind}"),
                result,
                Code::Unimplemented,
                &[
                    &format!("kind {kind} (provider.external-secrets.io/v2alpha1) is not served by this provider"),
                    "it serves: Fake (provider.external-secrets.io/v2alpha1)",
                ],
            )?;
        }
    }
    // The right kind in another group or version is not served either.
    for rpc in ALL {
        let (result, _) = call(
            &mut client,
            rpc,
            Some(with_api_version("provider.external-secrets.io/v1")),
            "default",
        )
        .await;
        expect_status(
            &format!("{rpc:?} of Fake in v1"),
            result,
            Code::Unimplemented,
            &["kind Fake (provider.external-secrets.io/v1)", "it serves: Fake"],
        )?;
    }
    let mut empty_kind = fake_ref("default", "backend");
    empty_kind.kind = String::new();
    expect_status(
        "empty kind",
        call(&mut client, Rpc::GetSecret, Some(empty_kind), "default").await.0,
        Code::InvalidArgument,
        &["provider_ref.kind is empty"],
    )?;
    Ok(())
}

#[tokio::test]
async fn missing_provider_object_is_failed_precondition_never_not_found() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    for rpc in ALL {
        let (result, in_band) = call(&mut client, rpc, Some(fake_ref("default", "nope")), "default").await;
        if let Err(status) = &result {
            check!(
                status.code() != Code::NotFound,
                "{rpc:?}: a missing provider object must never be NOT_FOUND"
            );
        }
        match rpc {
            // Capabilities is a property of the kind, not of one object.
            Rpc::Capabilities => check!(result.is_ok(), "Capabilities: {result:?}"),
            _ => {
                check_eq!(
                    in_band,
                    matches!(rpc, Rpc::Validate),
                    "{rpc:?}: in-band only for Validate"
                );
                expect_status(
                    &format!("{rpc:?} of a missing object"),
                    result,
                    Code::FailedPrecondition,
                    &["Fake default/nope not found"],
                )?;
            }
        }
    }
    // The object namespace falls back to source_namespace and is named as such.
    let (result, _) = call(&mut client, Rpc::GetSecret, Some(fake_ref("", "nope")), "team-a").await;
    expect_status(
        "missing object via source namespace",
        result,
        Code::FailedPrecondition,
        &["Fake team-a/nope not found"],
    )?;
    // An object of the same name in another namespace does not count.
    let (result, _) = call(
        &mut client,
        Rpc::GetSecret,
        Some(fake_ref("team-a", "backend")),
        "team-a",
    )
    .await;
    expect_status(
        "object only in another namespace",
        result,
        Code::FailedPrecondition,
        &["Fake team-a/backend not found"],
    )?;
    let (result, _) = call(&mut client, Rpc::GetSecret, Some(fake_ref("default", "")), "default").await;
    expect_status(
        "empty name",
        result,
        Code::InvalidArgument,
        &["the reference's name is empty"],
    )?;
    Ok(())
}

#[tokio::test]
async fn remote_ref_problems_are_invalid_argument() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let reference = Some(fake_ref("default", "backend"));
    expect_status(
        "GetSecret with empty key",
        client
            .store
            .get_secret(wire::GetSecretRequest {
                remote_ref: Some(remote("", "", "")),
                provider_ref: reference.clone(),
                source_namespace: "default".into(),
            })
            .await,
        Code::InvalidArgument,
        &["remote_ref.key is empty"],
    )?;
    expect_status(
        "GetSecret without remote_ref",
        client
            .store
            .get_secret(wire::GetSecretRequest {
                remote_ref: None,
                provider_ref: reference.clone(),
                source_namespace: "default".into(),
            })
            .await,
        Code::InvalidArgument,
        &["remote_ref is missing"],
    )?;
    expect_status(
        "GetSecretMap with empty key",
        client
            .store
            .get_secret_map(wire::GetSecretMapRequest {
                remote_ref: Some(remote("", "v1", "p")),
                provider_ref: reference.clone(),
                source_namespace: "default".into(),
            })
            .await,
        Code::InvalidArgument,
        &["remote_ref.key is empty"],
    )?;
    expect_status(
        "GetSecretMap without remote_ref",
        client
            .store
            .get_secret_map(wire::GetSecretMapRequest {
                remote_ref: None,
                provider_ref: reference.clone(),
                source_namespace: "default".into(),
            })
            .await,
        Code::InvalidArgument,
        &["remote_ref is missing"],
    )?;
    for (remote_ref, message) in [
        (None, "remote_ref is missing"),
        (push_remote("", "p"), "remote_ref.remote_key is empty"),
    ] {
        expect_status(
            "DeleteSecret",
            client
                .store
                .delete_secret(wire::DeleteSecretRequest {
                    provider_ref: reference.clone(),
                    remote_ref: remote_ref.clone(),
                    source_namespace: "default".into(),
                })
                .await,
            Code::InvalidArgument,
            &[message],
        )?;
        expect_status(
            "SecretExists",
            client
                .store
                .secret_exists(wire::SecretExistsRequest {
                    provider_ref: reference.clone(),
                    remote_ref,
                    source_namespace: "default".into(),
                })
                .await,
            Code::InvalidArgument,
            &[message],
        )?;
    }
    Ok(())
}

#[tokio::test]
async fn namespaces_are_checked() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    // Through a namespaced store, the provider object must be in the caller's namespace.
    for store_ref_kind in ["SecretStore", "Provider", ""] {
        for rpc in ALL {
            if matches!(rpc, Rpc::Capabilities) {
                continue;
            }
            let mut reference = fake_ref("default", "backend");
            reference.store_ref_kind = store_ref_kind.into();
            let (result, in_band) = call(&mut client, rpc, Some(reference), "team-a").await;
            check!(!in_band, "{rpc:?}: a namespace violation is refused, not in-band");
            let shown = if store_ref_kind.is_empty() {
                "SecretStore"
            } else {
                store_ref_kind
            };
            expect_status(
                &format!("{rpc:?} through {shown} across namespaces"),
                result,
                Code::PermissionDenied,
                &[&format!(
                    "a namespaced store ({shown}) in namespace team-a may not use a provider object in namespace default"
                )],
            )?;
        }
    }
    // Neither namespace given.
    for rpc in [Rpc::GetSecret, Rpc::PushSecret, Rpc::GetAllSecrets] {
        let (result, _) = call(&mut client, rpc, Some(fake_ref("", "backend")), "").await;
        expect_status(
            &format!("{rpc:?} without any namespace"),
            result,
            Code::FailedPrecondition,
            &["provider_ref.namespace and source_namespace are both empty"],
        )?;
    }
    let (result, in_band) = call(&mut client, Rpc::Validate, Some(fake_ref("", "backend")), "").await;
    check!(
        in_band,
        "Validate without any namespace is reported in-band: {result:?}"
    );

    // Through a cluster store, a provider object in another namespace is fine.
    for store_ref_kind in ["ClusterSecretStore", "ClusterProvider"] {
        let mut reference = fake_ref("default", "backend");
        reference.store_ref_kind = store_ref_kind.into();
        let value = get(
            &mut client,
            wire::GetSecretRequest {
                remote_ref: Some(remote("hello", "", "")),
                provider_ref: Some(reference.clone()),
                source_namespace: "team-a".into(),
            },
        )
        .await
        .map_err(|s| format!("{store_ref_kind}: {s}"))?;
        check_eq!(value, "world", "{store_ref_kind} reads default/backend from team-a");
        for rpc in ALL {
            let (result, _) = call(&mut client, rpc, Some(reference.clone()), "team-a").await;
            check!(result.is_ok(), "{rpc:?} through {store_ref_kind}: {result:?}");
        }
        // Cluster store validation comes without a source namespace.
        let (result, _) = call(&mut client, Rpc::Validate, Some(reference), "").await;
        check!(
            result.is_ok(),
            "Validate through {store_ref_kind} without source: {result:?}"
        );
    }
    // A namespaced store with an empty provider namespace reads from the caller's namespace.
    let value = get(
        &mut client,
        wire::GetSecretRequest {
            remote_ref: Some(remote("hello", "", "")),
            provider_ref: Some(fake_ref("", "team-store")),
            source_namespace: "team-a".into(),
        },
    )
    .await
    .map_err(|s| s.to_string())?;
    check_eq!(value, "team-a-world", "object namespace from source_namespace");
    Ok(())
}

#[tokio::test]
async fn generator_requests_are_checked() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    expect_status(
        "Generate without generator_ref",
        client
            .generator
            .generate(gen_wire::GenerateRequest {
                generator_ref: None,
                source_namespace: "default".into(),
            })
            .await,
        Code::InvalidArgument,
        &["generator_ref is missing"],
    )?;
    expect_status(
        "Cleanup without generator_ref",
        client
            .generator
            .cleanup(gen_wire::CleanupRequest {
                generator_ref: None,
                state: Vec::new(),
                source_namespace: "default".into(),
            })
            .await,
        Code::InvalidArgument,
        &["generator_ref is missing"],
    )?;
    let mut request = generate_request("default", "gen");
    if let Some(reference) = request.generator_ref.as_mut() {
        reference.kind = "Fake".into();
    }
    expect_status(
        "Generate of a store kind",
        client.generator.generate(request).await,
        Code::Unimplemented,
        &[
            "kind Fake",
            "it serves: FakeGenerator (provider.external-secrets.io/v2alpha1)",
        ],
    )?;
    let mut request = generate_request("default", "gen");
    if let Some(reference) = request.generator_ref.as_mut() {
        reference.api_version = "v1".into();
    }
    expect_status(
        "Generate with malformed apiVersion",
        client.generator.generate(request).await,
        Code::InvalidArgument,
        &["generator_ref.api_version \"v1\" is not of the form group/version"],
    )?;
    expect_status(
        "Generate of a missing generator",
        client.generator.generate(generate_request("default", "nope")).await,
        Code::FailedPrecondition,
        &["FakeGenerator default/nope not found"],
    )?;
    expect_status(
        "Generate across namespaces",
        client
            .generator
            .generate(gen_wire::GenerateRequest {
                generator_ref: generate_request("default", "gen").generator_ref,
                source_namespace: "team-a".into(),
            })
            .await,
        Code::PermissionDenied,
        &["in namespace team-a may not use a provider object in namespace default"],
    )?;
    expect_status(
        "Generate without any namespace",
        client.generator.generate(generate_request("", "gen")).await,
        Code::FailedPrecondition,
        &["both empty"],
    )?;
    Ok(())
}

/// The secret values in the manifests above; no error message may contain one.
const SECRET_VALUES: [&str; 4] = ["s3cr3t-value", "987654321", "n0t-a-str1ng-secret", "pw-in-json"];

fn check_no_secret(what: &str, message: &str) -> TestResult {
    for secret in SECRET_VALUES {
        check!(
            !message.contains(secret),
            "{what}: the message echoes a secret value: {message}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn unparsable_string_spec_is_reported_without_its_value() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let response = ok(
        "Validate",
        client.store.validate(validate_request("default", "leaky-string")).await,
    )?;
    check!(!response.valid, "a string spec.data is invalid");
    check!(
        response
            .error
            .contains("Fake default/leaky-string: invalid spec: field spec.data"),
        "the error names the object and field: {}",
        response.error
    );
    check_no_secret("Validate", &response.error)?;
    let status = get(&mut client, get_request("default", "leaky-string", "hello", "", "")).await;
    expect_status(
        "GetSecret from an unparsable spec",
        status.clone(),
        Code::FailedPrecondition,
        &["Fake default/leaky-string: invalid spec: field spec.data"],
    )?;
    check_no_secret(
        "GetSecret",
        status.err().map(|s| s.message().to_string()).as_deref().unwrap_or(""),
    )?;
    Ok(())
}

/// Validate and GetSecret on a spec that fails to parse at `field`: the error names
/// the object and the field, and echoes no secret value.
async fn check_unparsable(client: &mut ProviderClient, name: &str, field: &str) -> TestResult {
    let response = ok(
        "Validate",
        client.store.validate(validate_request("default", name)).await,
    )?;
    check!(!response.valid, "{name} is invalid");
    check!(
        response
            .error
            .contains(&format!("Fake default/{name}: invalid spec: field {field}")),
        "{name}: the error names the field: {}",
        response.error
    );
    check_no_secret(&format!("Validate {name}"), &response.error)?;
    let result = get(client, get_request("default", name, "pin", "", "")).await;
    let message = result
        .as_ref()
        .err()
        .map(|s| s.message().to_string())
        .unwrap_or_default();
    expect_status(
        &format!("GetSecret {name}"),
        result,
        Code::FailedPrecondition,
        &[&format!("Fake default/{name}: invalid spec: field {field}")],
    )?;
    check_no_secret(&format!("GetSecret {name}"), &message)
}

#[tokio::test]
async fn unparsable_nested_value_is_reported_without_the_value() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    check_unparsable(&mut client, "leaky-nested", "spec.data[0].valueMap.user").await
}

/// A secret written as a YAML number (`value: 987654321`, e.g. a PIN) where a
/// string belongs. serde reports it as ``invalid type: integer `987654321` ``, in
/// backticks rather than double quotes; that must be stripped too.
#[tokio::test]
async fn a_number_where_a_string_belongs_is_not_echoed() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    check_unparsable(&mut client, "leaky-number", "spec.data[0].value").await
}

#[tokio::test]
async fn data_errors_do_not_echo_values() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    // Reading a property or a map of a value that is not what was expected names
    // the key, not the value.
    let result = client
        .store
        .get_secret_map(map_request("default", "backend", "db", "", "password"))
        .await;
    let message = result
        .as_ref()
        .err()
        .map(|s| s.message().to_string())
        .unwrap_or_default();
    expect_status(
        "map of a string property",
        result,
        Code::InvalidArgument,
        &["property password of db is not a JSON object"],
    )?;
    check_no_secret("map of a string property", &message)?;
    // Metadata that is not JSON: the parse error must not quote the metadata.
    let mut request = push_request(
        "default",
        "backend",
        &[("k", "v")],
        "k",
        "x",
        "",
        r#"{"tags": s3cr3t-value}"#,
    );
    request.secret_type = "Opaque".into();
    let result = client.store.push_secret(request).await;
    let message = result
        .as_ref()
        .err()
        .map(|s| s.message().to_string())
        .unwrap_or_default();
    expect_status(
        "bad metadata",
        result,
        Code::InvalidArgument,
        &["push_secret_data.metadata is not JSON"],
    )?;
    check_no_secret("bad metadata", &message)?;
    // Garbage generator state is not echoed either.
    let result = client
        .generator
        .cleanup(cleanup_request(
            "default",
            "gen",
            br#"{"generationId": "s3cr3t-value", "keys": "pw-in-json"}"#.to_vec(),
        ))
        .await;
    let message = result
        .as_ref()
        .err()
        .map(|s| s.message().to_string())
        .unwrap_or_default();
    expect_status(
        "bad state",
        result,
        Code::InvalidArgument,
        &["state is not a FakeGenerator state"],
    )?;
    check_no_secret("bad state", &message)?;
    Ok(())
}

#[tokio::test]
async fn a_bad_authentication_scope_annotation_is_a_configuration_problem() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let mut cluster = fake_ref("default", "bad-scope");
    cluster.store_ref_kind = "ClusterSecretStore".into();
    let (result, in_band) = call(&mut client, Rpc::Validate, Some(cluster.clone()), "").await;
    check!(in_band, "Validate reports a bad annotation in-band: {result:?}");
    expect_status(
        "Validate with a bad annotation",
        result,
        Code::FailedPrecondition,
        &[
            "Fake default/bad-scope",
            "external-secrets.io/authentication-scope",
            "ProviderNamespace or ManifestNamespace",
        ],
    )?;
    for rpc in [Rpc::GetSecret, Rpc::GetAllSecrets, Rpc::PushSecret] {
        let (result, _) = call(&mut client, rpc, Some(cluster.clone()), "team-a").await;
        expect_status(
            &format!("{rpc:?} with a bad annotation"),
            result,
            Code::FailedPrecondition,
            &["Fake default/bad-scope", "external-secrets.io/authentication-scope"],
        )?;
    }
    // A namespaced store never leaves its namespace, so it ignores the annotation.
    let (result, _) = call(
        &mut client,
        Rpc::GetSecret,
        Some(fake_ref("default", "bad-scope")),
        "default",
    )
    .await;
    check!(result.is_ok(), "a namespaced store ignores the annotation: {result:?}");
    Ok(())
}
