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
use eso_runtime::testing::{Expect, Request, Rpc, call, call_in_band, run_table};
use tonic::Code;

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

/// `default/backend` through a SecretStore, with another `apiVersion`.
fn with_api_version(api_version: &str) -> wire::ProviderReference {
    let mut reference = fake("default", "backend").provider_ref();
    reference.api_version = api_version.into();
    reference
}

/// `default/backend` through a SecretStore, of another kind.
fn with_kind(kind: &str) -> wire::ProviderReference {
    let mut reference = fake("default", "backend").provider_ref();
    reference.kind = kind.into();
    reference
}

/// `namespace/name` reached through `store_ref_kind`.
fn through(store_ref_kind: &str, namespace: &str, name: &str) -> wire::ProviderReference {
    let mut reference = fake(namespace, name).provider_ref();
    reference.store_ref_kind = store_ref_kind.into();
    reference
}

#[tokio::test]
async fn missing_provider_ref_is_invalid_argument() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    for rpc in Rpc::ALL {
        let (result, in_band) = call_in_band(&mut client, rpc.request(None, "default")).await;
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
        for rpc in Rpc::ALL {
            let request = rpc.request(Some(with_api_version(api_version)), "default");
            let (result, in_band) = call_in_band(&mut client, request).await;
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
    let served = "it serves: Fake (provider.external-secrets.io/v2alpha1)";
    for (case, reference, needles) in [
        (
            "of kind Vault",
            with_kind("Vault"),
            [
                "kind Vault (provider.external-secrets.io/v2alpha1) is not served by this provider",
                served,
            ],
        ),
        (
            "of kind FakeGenerator",
            with_kind("FakeGenerator"),
            [
                "kind FakeGenerator (provider.external-secrets.io/v2alpha1) is not served by this provider",
                served,
            ],
        ),
        (
            "of kind fake",
            with_kind("fake"),
            [
                "kind fake (provider.external-secrets.io/v2alpha1) is not served by this provider",
                served,
            ],
        ),
        // The right kind in another group or version is not served either.
        (
            "of Fake in v1",
            with_api_version("provider.external-secrets.io/v1"),
            ["kind Fake (provider.external-secrets.io/v1)", "it serves: Fake"],
        ),
    ] {
        for rpc in Rpc::ALL {
            let (result, _) = call_in_band(&mut client, rpc.request(Some(reference.clone()), "default")).await;
            expect_status(&format!("{rpc:?} {case}"), result, Code::Unimplemented, &needles)?;
        }
    }
    expect_status(
        "empty kind",
        call_in_band(&mut client, Rpc::GetSecret.request(Some(with_kind("")), "default"))
            .await
            .0,
        Code::InvalidArgument,
        &["provider_ref.kind is empty"],
    )?;
    Ok(())
}

#[tokio::test]
async fn missing_provider_object_is_failed_precondition_never_not_found() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    for rpc in Rpc::ALL {
        let request = rpc.request(Some(fake("default", "nope").provider_ref()), "default");
        let (result, in_band) = call_in_band(&mut client, request).await;
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
    for (case, namespace, name, source_namespace, code, needle) in [
        // The object namespace falls back to source_namespace and is named as such.
        (
            "missing object via source namespace",
            "",
            "nope",
            "team-a",
            Code::FailedPrecondition,
            "Fake team-a/nope not found",
        ),
        // An object of the same name in another namespace does not count.
        (
            "object only in another namespace",
            "team-a",
            "backend",
            "team-a",
            Code::FailedPrecondition,
            "Fake team-a/backend not found",
        ),
        (
            "empty name",
            "default",
            "",
            "default",
            Code::InvalidArgument,
            "the reference's name is empty",
        ),
    ] {
        let request = Rpc::GetSecret.request(Some(fake(namespace, name).provider_ref()), source_namespace);
        expect_status(case, call(&mut client, request).await, code, &[needle])?;
    }
    Ok(())
}

#[tokio::test]
async fn remote_ref_problems_are_invalid_argument() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let backend = fake("default", "backend");
    let refused = Code::InvalidArgument;
    run_table(
        &mut client,
        [
            (
                "GetSecret with empty key",
                backend.get("", "", "").into(),
                Expect::Status(refused, &["remote_ref.key is empty"]),
            ),
            (
                "GetSecret without remote_ref",
                wire::GetSecretRequest {
                    remote_ref: None,
                    ..backend.get("db", "", "")
                }
                .into(),
                Expect::Status(refused, &["remote_ref is missing"]),
            ),
            (
                "GetSecretMap with empty key",
                backend.get_map("", "v1", "p").into(),
                Expect::Status(refused, &["remote_ref.key is empty"]),
            ),
            (
                "GetSecretMap without remote_ref",
                wire::GetSecretMapRequest {
                    remote_ref: None,
                    ..backend.get_map("db", "", "")
                }
                .into(),
                Expect::Status(refused, &["remote_ref is missing"]),
            ),
            (
                "DeleteSecret without remote_ref",
                wire::DeleteSecretRequest {
                    remote_ref: None,
                    ..backend.delete("db", "")
                }
                .into(),
                Expect::Status(refused, &["remote_ref is missing"]),
            ),
            (
                "SecretExists without remote_ref",
                wire::SecretExistsRequest {
                    remote_ref: None,
                    ..backend.exists("db", "")
                }
                .into(),
                Expect::Status(refused, &["remote_ref is missing"]),
            ),
            (
                "DeleteSecret with empty remote_key",
                backend.delete("", "p").into(),
                Expect::Status(refused, &["remote_ref.remote_key is empty"]),
            ),
            (
                "SecretExists with empty remote_key",
                backend.exists("", "p").into(),
                Expect::Status(refused, &["remote_ref.remote_key is empty"]),
            ),
        ],
    )
    .await
}

#[tokio::test]
async fn namespaces_are_checked() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    // Through a namespaced store, the provider object must be in the caller's namespace.
    for store_ref_kind in ["SecretStore", "ProviderStore", "Provider", ""] {
        for rpc in Rpc::ALL {
            if matches!(rpc, Rpc::Capabilities) {
                continue;
            }
            let request = rpc.request(Some(through(store_ref_kind, "default", "backend")), "team-a");
            let (result, in_band) = call_in_band(&mut client, request).await;
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
        let request = rpc.request(Some(fake("", "backend").provider_ref()), "");
        expect_status(
            &format!("{rpc:?} without any namespace"),
            call_in_band(&mut client, request).await.0,
            Code::FailedPrecondition,
            &["provider_ref.namespace and source_namespace are both empty"],
        )?;
    }
    let request = Rpc::Validate.request(Some(fake("", "backend").provider_ref()), "");
    let (result, in_band) = call_in_band(&mut client, request).await;
    check!(
        in_band,
        "Validate without any namespace is reported in-band: {result:?}"
    );

    // Through a cluster store, a provider object in another namespace is fine.
    for store_ref_kind in ["ClusterSecretStore", "ClusterProviderStore", "ClusterProvider"] {
        let cluster = fake("default", "backend")
            .through(store_ref_kind)
            .from_namespace("team-a");
        let value = get(&mut client, cluster.get("hello", "", ""))
            .await
            .map_err(|s| format!("{store_ref_kind}: {s}"))?;
        check_eq!(value, "world", "{store_ref_kind} reads default/backend from team-a");
        for rpc in Rpc::ALL {
            let (result, _) = call_in_band(&mut client, rpc.request(Some(cluster.provider_ref()), "team-a")).await;
            check!(result.is_ok(), "{rpc:?} through {store_ref_kind}: {result:?}");
        }
        // Cluster store validation comes without a source namespace.
        let (result, _) = call_in_band(&mut client, cluster.from_namespace("").validate()).await;
        check!(
            result.is_ok(),
            "Validate through {store_ref_kind} without source: {result:?}"
        );
    }
    // A namespaced store with an empty provider namespace reads from the caller's namespace.
    let value = get(
        &mut client,
        fake("", "team-store").from_namespace("team-a").get("hello", "", ""),
    )
    .await
    .map_err(|s| s.to_string())?;
    check_eq!(value, "team-a-world", "object namespace from source_namespace");
    Ok(())
}

/// Generate of `namespace/name`, its reference changed by `change`.
fn generate_with(namespace: &str, name: &str, change: impl FnOnce(&mut gen_wire::GeneratorRef)) -> Request {
    let mut request = fake_generator(namespace, name).generate();
    if let Some(reference) = request.generator_ref.as_mut() {
        change(reference);
    }
    request.into()
}

#[tokio::test]
async fn generator_requests_are_checked() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    run_table(
        &mut client,
        [
            (
                "Generate without generator_ref",
                gen_wire::GenerateRequest {
                    generator_ref: None,
                    source_namespace: "default".into(),
                }
                .into(),
                Expect::Status(Code::InvalidArgument, &["generator_ref is missing"]),
            ),
            (
                "Cleanup without generator_ref",
                gen_wire::CleanupRequest {
                    generator_ref: None,
                    state: Vec::new(),
                    source_namespace: "default".into(),
                }
                .into(),
                Expect::Status(Code::InvalidArgument, &["generator_ref is missing"]),
            ),
            (
                "Generate of a store kind",
                generate_with("default", "gen", |r| r.kind = "Fake".into()),
                Expect::Status(
                    Code::Unimplemented,
                    &[
                        "kind Fake",
                        "it serves: FakeGenerator (provider.external-secrets.io/v2alpha1)",
                    ],
                ),
            ),
            (
                "Generate with malformed apiVersion",
                generate_with("default", "gen", |r| r.api_version = "v1".into()),
                Expect::Status(
                    Code::InvalidArgument,
                    &["generator_ref.api_version \"v1\" is not of the form group/version"],
                ),
            ),
            (
                "Generate of a missing generator",
                fake_generator("default", "nope").generate().into(),
                Expect::Status(Code::FailedPrecondition, &["FakeGenerator default/nope not found"]),
            ),
            (
                "Generate across namespaces",
                gen_wire::GenerateRequest {
                    generator_ref: fake_generator("default", "gen").generate().generator_ref,
                    source_namespace: "team-a".into(),
                }
                .into(),
                Expect::Status(
                    Code::PermissionDenied,
                    &["in namespace team-a may not use a provider object in namespace default"],
                ),
            ),
            (
                "Generate without any namespace",
                fake_generator("", "gen").generate().into(),
                Expect::Status(Code::FailedPrecondition, &["both empty"]),
            ),
        ],
    )
    .await
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

/// Validate and GetSecret of `key` on a spec that fails to parse at `field`: the
/// error names the object and the field, and echoes no secret value.
async fn check_unparsable(client: &mut ProviderClient, name: &str, key: &str, field: &str) -> TestResult {
    let object = fake("default", name);
    let response = ok("Validate", client.store.validate(object.validate()).await)?;
    check!(!response.valid, "{name} is invalid");
    check!(
        response
            .error
            .contains(&format!("Fake default/{name}: invalid spec: field {field}")),
        "{name}: the error names the field: {}",
        response.error
    );
    check_no_secret(&format!("Validate {name}"), &response.error)?;
    let message = expect_status(
        &format!("GetSecret {name}"),
        get(client, object.get(key, "", "")).await,
        Code::FailedPrecondition,
        &[&format!("Fake default/{name}: invalid spec: field {field}")],
    )?;
    check_no_secret(&format!("GetSecret {name}"), &message)
}

#[tokio::test]
async fn unparsable_string_spec_is_reported_without_its_value() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    check_unparsable(&mut client, "leaky-string", "hello", "spec.data").await
}

#[tokio::test]
async fn unparsable_nested_value_is_reported_without_the_value() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    check_unparsable(&mut client, "leaky-nested", "pin", "spec.data[0].valueMap.user").await
}

/// A secret written as a YAML number (`value: 987654321`, e.g. a PIN) where a
/// string belongs. serde reports it as ``invalid type: integer `987654321` ``, in
/// backticks rather than double quotes; that must be stripped too.
#[tokio::test]
async fn a_number_where_a_string_belongs_is_not_echoed() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    check_unparsable(&mut client, "leaky-number", "pin", "spec.data[0].value").await
}

#[tokio::test]
async fn data_errors_do_not_echo_values() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let backend = fake("default", "backend");
    for (case, request, needle) in [
        // Reading a property or a map of a value that is not what was expected names
        // the key, not the value.
        (
            "map of a string property",
            Request::from(backend.get_map("db", "", "password")),
            "property password of db is not a JSON object",
        ),
        // Metadata that is not JSON: the parse error must not quote the metadata.
        (
            "bad metadata",
            backend
                .push(&[("k", "v")], "k", "x", "", r#"{"tags": s3cr3t-value}"#)
                .into(),
            "push_secret_data.metadata is not JSON",
        ),
        // Garbage generator state is not echoed either.
        (
            "bad state",
            fake_generator("default", "gen")
                .cleanup(br#"{"generationId": "s3cr3t-value", "keys": "pw-in-json"}"#.to_vec())
                .into(),
            "state is not a FakeGenerator state",
        ),
    ] {
        let message = expect_status(case, call(&mut client, request).await, Code::InvalidArgument, &[needle])?;
        check_no_secret(case, &message)?;
    }
    Ok(())
}

#[tokio::test]
async fn a_bad_authentication_scope_annotation_is_a_configuration_problem() -> TestResult {
    let (_running, mut client) = start(&manifests()).await?;
    let cluster = through("ClusterSecretStore", "default", "bad-scope");
    let (result, in_band) = call_in_band(&mut client, Rpc::Validate.request(Some(cluster.clone()), "")).await;
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
        let (result, _) = call_in_band(&mut client, rpc.request(Some(cluster.clone()), "team-a")).await;
        expect_status(
            &format!("{rpc:?} with a bad annotation"),
            result,
            Code::FailedPrecondition,
            &["Fake default/bad-scope", "external-secrets.io/authentication-scope"],
        )?;
    }
    // A namespaced store never leaves its namespace, so it ignores the annotation.
    let request = Rpc::GetSecret.request(Some(fake("default", "bad-scope").provider_ref()), "default");
    let (result, _) = call_in_band(&mut client, request).await;
    check!(result.is_ok(), "a namespaced store ignores the annotation: {result:?}");
    Ok(())
}
