//! Pins the wire contract with ESO core: every message's fields (name, number, type,
//! cardinality), every enum value, every service method and the retired numbers.
//! Any drift from WIRE.md fails here.

use prost_reflect::{Cardinality, DescriptorPool, Kind, MessageDescriptor};
use std::collections::BTreeSet;

fn pool() -> DescriptorPool {
    match DescriptorPool::decode(eso_proto::FILE_DESCRIPTOR_SET) {
        Ok(pool) => pool,
        Err(error) => panic!("descriptor set does not decode: {error}"),
    }
}

fn type_name(kind: &Kind) -> String {
    match kind {
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
        Kind::Bool => "bool".into(),
        Kind::Int64 => "int64".into(),
        Kind::Message(m) if m.is_map_entry() => format!(
            "map<{}, {}>",
            type_name(&m.map_entry_key_field().kind()),
            type_name(&m.map_entry_value_field().kind())
        ),
        Kind::Message(m) => m.full_name().to_string(),
        Kind::Enum(e) => e.full_name().to_string(),
        other => format!("{other:?}"),
    }
}

fn describe(message: &MessageDescriptor) -> BTreeSet<String> {
    message
        .fields()
        .map(|field| {
            let repeated = if field.cardinality() == Cardinality::Repeated && !field.is_map() {
                "repeated "
            } else {
                ""
            };
            format!(
                "{}.{}={}:{}{}",
                message.name(),
                field.name(),
                field.number(),
                repeated,
                type_name(&field.kind())
            )
        })
        .collect()
}

fn assert_package(package: &str, expected: &[&str]) {
    let pool = pool();
    let actual: BTreeSet<String> = pool
        .all_messages()
        .filter(|m| m.package_name() == package && !m.is_map_entry())
        .flat_map(|m| {
            let mut fields = describe(&m);
            // Empty messages still have to exist.
            fields.insert(m.name().to_string());
            fields
        })
        .collect();
    let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    let missing: Vec<_> = expected.difference(&actual).collect();
    let unexpected: Vec<_> = actual.difference(&expected).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "wire drift in {package}: missing {missing:#?}, unexpected {unexpected:#?}"
    );
}

#[test]
fn provider_v1_messages_match_wire_md() {
    assert_package(
        "provider.v1",
        &[
            "ProviderReference",
            "ProviderReference.api_version=1:string",
            "ProviderReference.kind=2:string",
            "ProviderReference.name=3:string",
            "ProviderReference.namespace=4:string",
            "ProviderReference.store_ref_kind=5:string",
            "ExternalSecretDataRemoteRef",
            "ExternalSecretDataRemoteRef.key=1:string",
            "ExternalSecretDataRemoteRef.version=2:string",
            "ExternalSecretDataRemoteRef.property=3:string",
            "ExternalSecretDataRemoteRef.decoding_strategy=4:string",
            "ExternalSecretDataRemoteRef.metadata_policy=5:string",
            "GetSecretRequest",
            "GetSecretRequest.remote_ref=1:provider.v1.ExternalSecretDataRemoteRef",
            "GetSecretRequest.provider_ref=2:provider.v1.ProviderReference",
            "GetSecretRequest.source_namespace=3:string",
            "GetSecretResponse",
            "GetSecretResponse.value=1:bytes",
            "GetSecretMapRequest",
            "GetSecretMapRequest.remote_ref=1:provider.v1.ExternalSecretDataRemoteRef",
            "GetSecretMapRequest.provider_ref=2:provider.v1.ProviderReference",
            "GetSecretMapRequest.source_namespace=3:string",
            "GetSecretMapResponse",
            "GetSecretMapResponse.secrets=1:map<string, bytes>",
            "ValidateRequest",
            "ValidateRequest.provider_ref=1:provider.v1.ProviderReference",
            "ValidateRequest.source_namespace=2:string",
            "ValidateResponse",
            "ValidateResponse.valid=1:bool",
            "ValidateResponse.error=2:string",
            "ValidateResponse.warnings=3:repeated string",
            "Error",
            "Error.code=1:string",
            "Error.message=2:string",
            "Error.retryable=3:bool",
            "Error.details=4:map<string, string>",
            "PushSecretRequest",
            "PushSecretRequest.provider_ref=1:provider.v1.ProviderReference",
            "PushSecretRequest.secret_data=2:map<string, bytes>",
            "PushSecretRequest.push_secret_data=3:provider.v1.PushSecretData",
            "PushSecretRequest.source_namespace=4:string",
            "PushSecretRequest.secret_type=5:string",
            "PushSecretRequest.secret_labels=6:map<string, string>",
            "PushSecretRequest.secret_annotations=7:map<string, string>",
            "PushSecretResponse",
            "PushSecretData",
            "PushSecretData.metadata=1:bytes",
            "PushSecretData.secret_key=2:string",
            "PushSecretData.remote_key=3:string",
            "PushSecretData.property=4:string",
            "DeleteSecretRequest",
            "DeleteSecretRequest.provider_ref=1:provider.v1.ProviderReference",
            "DeleteSecretRequest.remote_ref=2:provider.v1.PushSecretRemoteRef",
            "DeleteSecretRequest.source_namespace=3:string",
            "DeleteSecretResponse",
            "PushSecretRemoteRef",
            "PushSecretRemoteRef.remote_key=1:string",
            "PushSecretRemoteRef.property=2:string",
            "SecretExistsRequest",
            "SecretExistsRequest.provider_ref=1:provider.v1.ProviderReference",
            "SecretExistsRequest.remote_ref=2:provider.v1.PushSecretRemoteRef",
            "SecretExistsRequest.source_namespace=3:string",
            "SecretExistsResponse",
            "SecretExistsResponse.exists=1:bool",
            "GetAllSecretsRequest",
            "GetAllSecretsRequest.provider_ref=1:provider.v1.ProviderReference",
            "GetAllSecretsRequest.find=2:provider.v1.ExternalSecretFind",
            "GetAllSecretsRequest.source_namespace=3:string",
            "GetAllSecretsResponse",
            "GetAllSecretsResponse.secrets=1:map<string, bytes>",
            "ExternalSecretFind",
            "ExternalSecretFind.path=1:string",
            "ExternalSecretFind.name=2:provider.v1.FindName",
            "ExternalSecretFind.tags=3:map<string, string>",
            "ExternalSecretFind.conversion_strategy=4:string",
            "ExternalSecretFind.decoding_strategy=5:string",
            "FindName",
            "FindName.regexp=1:string",
            "CapabilitiesRequest",
            "CapabilitiesRequest.provider_ref=1:provider.v1.ProviderReference",
            "CapabilitiesRequest.source_namespace=2:string",
            "CapabilitiesResponse",
            "CapabilitiesResponse.capabilities=1:provider.v1.SecretStoreCapabilities",
        ],
    );
}

#[test]
fn generator_v1_messages_match_wire_md() {
    assert_package(
        "generator.v1",
        &[
            "GeneratorRef",
            "GeneratorRef.api_version=1:string",
            "GeneratorRef.kind=2:string",
            "GeneratorRef.name=3:string",
            "GeneratorRef.namespace=4:string",
            "GenerateRequest",
            "GenerateRequest.generator_ref=1:generator.v1.GeneratorRef",
            "GenerateRequest.source_namespace=2:string",
            "GenerateResponse",
            "GenerateResponse.secrets=1:map<string, bytes>",
            "GenerateResponse.state=2:bytes",
            "CleanupRequest",
            "CleanupRequest.generator_ref=1:generator.v1.GeneratorRef",
            "CleanupRequest.state=2:bytes",
            "CleanupRequest.source_namespace=3:string",
            "CleanupResponse",
        ],
    );
}

#[test]
fn capabilities_enum_values_match_wire_md() {
    let pool = pool();
    let Some(capabilities) = pool.get_enum_by_name("provider.v1.SecretStoreCapabilities") else {
        panic!("enum provider.v1.SecretStoreCapabilities missing");
    };
    let values: Vec<(String, i32)> = capabilities
        .values()
        .map(|v| (v.name().to_string(), v.number()))
        .collect();
    assert_eq!(
        values,
        vec![
            ("READ_ONLY".to_string(), 0),
            ("WRITE_ONLY".to_string(), 1),
            ("READ_WRITE".to_string(), 2)
        ]
    );
}

fn methods(service: &str) -> Vec<(String, String, String)> {
    let pool = pool();
    let Some(service) = pool.get_service_by_name(service) else {
        panic!("service {service} missing");
    };
    service
        .methods()
        .map(|m| {
            assert!(
                !m.is_client_streaming() && !m.is_server_streaming(),
                "{} must be unary",
                m.name()
            );
            (
                m.name().to_string(),
                m.input().full_name().to_string(),
                m.output().full_name().to_string(),
            )
        })
        .collect()
}

#[test]
fn services_and_methods_match_wire_md() {
    let expected: Vec<(String, String, String)> = [
        "GetSecret",
        "GetSecretMap",
        "PushSecret",
        "DeleteSecret",
        "SecretExists",
        "GetAllSecrets",
        "Validate",
        "Capabilities",
    ]
    .iter()
    .map(|m| {
        (
            m.to_string(),
            format!("provider.v1.{m}Request"),
            format!("provider.v1.{m}Response"),
        )
    })
    .collect();
    assert_eq!(methods(eso_proto::SECRET_STORE_SERVICE), expected);
    let expected: Vec<(String, String, String)> = ["Generate", "Cleanup"]
        .iter()
        .map(|m| {
            (
                m.to_string(),
                format!("generator.v1.{m}Request"),
                format!("generator.v1.{m}Response"),
            )
        })
        .collect();
    assert_eq!(methods(eso_proto::GENERATOR_SERVICE), expected);
}

#[test]
fn retired_compatibility_store_numbers_are_reserved() {
    let pool = pool();
    let expectations = [
        ("provider.v1.GetSecretRequest", 4),
        ("provider.v1.GetSecretMapRequest", 4),
        ("provider.v1.DeleteSecretRequest", 4),
        ("provider.v1.SecretExistsRequest", 4),
        ("provider.v1.GetAllSecretsRequest", 4),
        ("provider.v1.ValidateRequest", 3),
        ("provider.v1.PushSecretRequest", 8),
    ];
    for (message, number) in expectations {
        let Some(descriptor) = pool.get_message_by_name(message) else {
            panic!("{message} missing");
        };
        let reserved = descriptor
            .descriptor_proto()
            .reserved_range
            .iter()
            .any(|r| r.start() <= number && number < r.end());
        assert!(
            reserved,
            "{message} must reserve field {number} (retired compatibility_store)"
        );
    }
}
