//! The contract check: what a provider says of its service through gRPC
//! reflection, compared with the wire contract this suite was built from
//! (`eso_proto`'s `.proto`, the one ESO core is compiled from).
//!
//! ESO core and the provider agree on nothing but field numbers and types: a
//! provider compiled from an edited copy of the `.proto` — a field renumbered,
//! retyped or made repeated, a method with another message — still answers, and
//! the data is silently lost or misread. The check walks the target's service,
//! every method's request and response, and every message and enum they reach,
//! and reports each difference. What the provider adds (fields, methods,
//! messages) is not drift: a newer contract may add them.
//!
//! Reflection is asked over `grpc.reflection.v1` and, when that is not served,
//! `grpc.reflection.v1alpha` (older grpc-go and grpcio servers). A provider that
//! serves neither is skipped by the case, not failed.

use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FileDescriptorProto, FileDescriptorSet, ServiceDescriptorProto,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use tonic::transport::Channel;

/// How many reflection requests one check may make (the service, then each
/// message type the answers did not include).
const MAX_REFLECTION_REQUESTS: usize = 64;

/// Messages, enums and services by full name (`.provider.v1.GetSecretRequest`).
#[derive(Default)]
pub(crate) struct Schema {
    messages: BTreeMap<String, DescriptorProto>,
    enums: BTreeMap<String, EnumDescriptorProto>,
    services: BTreeMap<String, ServiceDescriptorProto>,
    files: BTreeSet<String>,
}

impl Schema {
    /// The wire contract: every file `eso_proto` was compiled from.
    pub(crate) fn contract() -> Result<Schema, String> {
        let set = FileDescriptorSet::decode(eso_proto::FILE_DESCRIPTOR_SET)
            .map_err(|error| format!("the suite's own descriptor set does not decode: {error}"))?;
        let mut schema = Schema::default();
        for file in set.file {
            schema.add(file);
        }
        Ok(schema)
    }

    /// Adds a file's messages (nested ones too), enums and services.
    pub(crate) fn add(&mut self, file: FileDescriptorProto) {
        let name = file.name().to_string();
        if !self.files.insert(name) {
            return;
        }
        let scope = match file.package() {
            "" => String::new(),
            package => format!(".{package}"),
        };
        for message in file.message_type {
            self.add_message(&scope, message);
        }
        for enumeration in file.enum_type {
            self.enums
                .insert(format!("{scope}.{}", enumeration.name()), enumeration);
        }
        for service in file.service {
            self.services.insert(format!("{scope}.{}", service.name()), service);
        }
    }

    fn add_message(&mut self, scope: &str, mut message: DescriptorProto) {
        let name = format!("{scope}.{}", message.name());
        for nested in std::mem::take(&mut message.nested_type) {
            self.add_message(&name, nested);
        }
        for enumeration in std::mem::take(&mut message.enum_type) {
            self.enums.insert(format!("{name}.{}", enumeration.name()), enumeration);
        }
        self.messages.insert(name, message);
    }

    fn knows(&self, full_name: &str) -> bool {
        self.messages.contains_key(full_name)
            || self.enums.contains_key(full_name)
            || self.services.contains_key(full_name)
    }
}

/// What the provider's reflection answered.
pub(crate) enum Served {
    /// Neither reflection service is served (`UNIMPLEMENTED`).
    NoReflection,
    /// The schema reflection described (symbols it does not know are simply
    /// absent from it, and reported as drift).
    Schema(Schema),
}

/// Asks the provider's reflection for `service` and every type it reaches in
/// the contract.
pub(crate) async fn served(channel: &Channel, contract: &Schema, service: &str) -> Result<Served, String> {
    let mut v1 = Reflection::v1(channel);
    let (mut reflection, mut answer) = match v1.ask(service).await {
        Err(status) if status.code() == tonic::Code::Unimplemented => {
            let mut older = Reflection::v1alpha(channel);
            match older.ask(service).await {
                Err(status) if status.code() == tonic::Code::Unimplemented => return Ok(Served::NoReflection),
                first => (older, first),
            }
        }
        first => (v1, first),
    };
    let mut schema = Schema::default();
    let mut asked = 1;
    let mut wanted: VecDeque<String> = contract_types_of(contract, service).into();
    loop {
        match answer {
            Ok(Answer::Files(files)) => {
                for file in files {
                    schema.add(file);
                }
            }
            Ok(Answer::NotFound) => {}
            Err(status) => {
                return Err(format!(
                    "reflection failed: {} {}",
                    super::session::code_name(status.code()),
                    crate::display::bounded(status.message())
                ));
            }
        }
        let Some(next) = (loop {
            match wanted.pop_front() {
                Some(name) if schema.knows(&name) => continue,
                other => break other,
            }
        }) else {
            break;
        };
        if asked >= MAX_REFLECTION_REQUESTS {
            return Err(format!(
                "reflection did not describe the contract's types within {MAX_REFLECTION_REQUESTS} requests"
            ));
        }
        asked += 1;
        answer = reflection.ask(next.trim_start_matches('.')).await;
    }
    Ok(Served::Schema(schema))
}

/// Every message and enum `service`'s methods reach in the contract, by full name.
fn contract_types_of(contract: &Schema, service: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<String> = VecDeque::new();
    if let Some(described) = contract.services.get(&format!(".{service}")) {
        for method in &described.method {
            queue.push_back(method.input_type().to_string());
            queue.push_back(method.output_type().to_string());
        }
    }
    while let Some(name) = queue.pop_front() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(message) = contract.messages.get(&name) {
            for field in &message.field {
                if !field.type_name().is_empty() {
                    queue.push_back(field.type_name().to_string());
                }
            }
        }
    }
    seen.into_iter().collect()
}

/// Every difference between the contract's `service` and the served schema that
/// would break the wire, one line each.
pub(crate) fn drift(contract: &Schema, served: &Schema, service: &str) -> Vec<String> {
    let full_name = format!(".{service}");
    let mut drift = Vec::new();
    let (Some(ours), Some(theirs)) = (contract.services.get(&full_name), served.services.get(&full_name)) else {
        drift.push(format!("reflection does not describe the service {service}"));
        return drift;
    };
    for method in &ours.method {
        let Some(served_method) = theirs.method.iter().find(|m| m.name() == method.name()) else {
            drift.push(format!("method {service}/{} is missing", method.name()));
            continue;
        };
        let pairs = [
            ("takes", method.input_type(), served_method.input_type()),
            ("answers", method.output_type(), served_method.output_type()),
        ];
        for (role, expected, actual) in pairs {
            if expected != actual {
                drift.push(format!(
                    "method {service}/{} {role} {}, the contract says {}",
                    method.name(),
                    bounded_name(actual),
                    expected.trim_start_matches('.')
                ));
            }
        }
        if method.client_streaming() != served_method.client_streaming()
            || method.server_streaming() != served_method.server_streaming()
        {
            drift.push(format!(
                "method {service}/{} streams otherwise than the contract says",
                method.name()
            ));
        }
    }
    for name in contract_types_of(contract, service) {
        if let Some(message) = contract.messages.get(&name) {
            match served.messages.get(&name) {
                Some(served_message) => message_drift(&name, message, served_message, &mut drift),
                None => drift.push(format!("message {} is not described", name.trim_start_matches('.'))),
            }
        } else if let Some(enumeration) = contract.enums.get(&name) {
            match served.enums.get(&name) {
                Some(served_enum) => enum_drift(&name, enumeration, served_enum, &mut drift),
                None => drift.push(format!("enum {} is not described", name.trim_start_matches('.'))),
            }
        }
    }
    drift
}

fn message_drift(name: &str, ours: &DescriptorProto, theirs: &DescriptorProto, drift: &mut Vec<String>) {
    let name = name.trim_start_matches('.');
    for field in &ours.field {
        let Some(served) = theirs.field.iter().find(|f| f.name() == field.name()) else {
            match theirs.field.iter().find(|f| f.number() == field.number()) {
                Some(other) => drift.push(format!(
                    "field {name}.{} (number {}) is renamed {}",
                    field.name(),
                    field.number(),
                    bounded_name(other.name())
                )),
                None => drift.push(format!(
                    "field {name}.{} (number {}) is missing",
                    field.name(),
                    field.number()
                )),
            }
            continue;
        };
        if served.number() != field.number() {
            drift.push(format!(
                "field {name}.{} is number {}, the contract says {} (renumbered)",
                field.name(),
                served.number(),
                field.number()
            ));
        }
        if served.r#type() != field.r#type() || served.type_name() != field.type_name() {
            drift.push(format!(
                "field {name}.{} is {}, the contract says {}",
                field.name(),
                type_text(served.r#type(), served.type_name()),
                type_text(field.r#type(), field.type_name())
            ));
        }
        if (served.label() == Label::Repeated) != (field.label() == Label::Repeated) {
            drift.push(format!(
                "field {name}.{} is {}, the contract says {}",
                field.name(),
                repeated_text(served.label()),
                repeated_text(field.label())
            ));
        }
    }
}

fn enum_drift(name: &str, ours: &EnumDescriptorProto, theirs: &EnumDescriptorProto, drift: &mut Vec<String>) {
    let name = name.trim_start_matches('.');
    for value in &ours.value {
        match theirs.value.iter().find(|v| v.name() == value.name()) {
            Some(served) if served.number() == value.number() => {}
            Some(served) => drift.push(format!(
                "enum value {name}.{} is {}, the contract says {}",
                value.name(),
                served.number(),
                value.number()
            )),
            None => drift.push(format!(
                "enum value {name}.{} ({}) is missing",
                value.name(),
                value.number()
            )),
        }
    }
}

fn type_text(kind: Type, type_name: &str) -> String {
    match kind {
        Type::Message | Type::Enum => bounded_name(type_name),
        other => other.as_str_name().trim_start_matches("TYPE_").to_ascii_lowercase(),
    }
}

fn repeated_text(label: Label) -> &'static str {
    if label == Label::Repeated {
        "repeated"
    } else {
        "singular"
    }
}

/// A name the provider sent, shortened and escaped for a report.
fn bounded_name(name: &str) -> String {
    crate::display::bounded(name.trim_start_matches('.')).to_string()
}

/// One reflection answer.
enum Answer {
    Files(Vec<FileDescriptorProto>),
    /// The server does not know the symbol.
    NotFound,
}

/// A reflection client of either version.
enum Reflection {
    V1(tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient<Channel>),
    V1Alpha(tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient<Channel>),
}

impl Reflection {
    fn v1(channel: &Channel) -> Self {
        Reflection::V1(tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(channel.clone()))
    }

    fn v1alpha(channel: &Channel) -> Self {
        Reflection::V1Alpha(
            tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient::new(channel.clone()),
        )
    }

    /// `file_containing_symbol(symbol)` on a stream of its own.
    async fn ask(&mut self, symbol: &str) -> Result<Answer, tonic::Status> {
        match self {
            Reflection::V1(client) => ask_with!(tonic_reflection::pb::v1, client, symbol),
            Reflection::V1Alpha(client) => ask_with!(tonic_reflection::pb::v1alpha, client, symbol),
        }
    }
}

/// One `file_containing_symbol` over `client` of the reflection version `$pb`
/// (v1 and v1alpha have the same messages in two packages).
macro_rules! ask_with {
    ($pb:path, $client:expr, $symbol:expr) => {{
        use $pb::{
            ServerReflectionRequest, server_reflection_request::MessageRequest,
            server_reflection_response::MessageResponse,
        };
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol($symbol.to_string())),
        };
        let mut answers = $client
            .server_reflection_info(futures::stream::iter([request]))
            .await?
            .into_inner();
        match answers.message().await?.and_then(|a| a.message_response) {
            Some(MessageResponse::FileDescriptorResponse(files)) => decode(files.file_descriptor_proto),
            Some(MessageResponse::ErrorResponse(error)) => error_answer(error.error_code, &error.error_message),
            _ => Err(tonic::Status::internal("reflection answered something else than files")),
        }
    }};
}
use ask_with;

fn decode(files: Vec<Vec<u8>>) -> Result<Answer, tonic::Status> {
    files
        .iter()
        .map(|bytes| FileDescriptorProto::decode(bytes.as_slice()))
        .collect::<Result<Vec<_>, _>>()
        .map(Answer::Files)
        .map_err(|error| {
            tonic::Status::internal(format!(
                "reflection sent a file descriptor that does not decode: {error}"
            ))
        })
}

fn error_answer(code: i32, message: &str) -> Result<Answer, tonic::Status> {
    if code == tonic::Code::NotFound as i32 {
        Ok(Answer::NotFound)
    } else {
        Err(tonic::Status::new(tonic::Code::from(code), message.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORE: &str = eso_proto::SECRET_STORE_SERVICE;

    fn contract() -> Schema {
        match Schema::contract() {
            Ok(schema) => schema,
            Err(error) => panic!("{error}"),
        }
    }

    /// The contract's files with `edit` applied to each message.
    fn edited(edit: impl Fn(&str, &mut DescriptorProto)) -> Schema {
        let mut set = match FileDescriptorSet::decode(eso_proto::FILE_DESCRIPTOR_SET) {
            Ok(set) => set,
            Err(error) => panic!("{error}"),
        };
        for file in &mut set.file {
            for message in &mut file.message_type {
                let name = message.name().to_string();
                edit(&name, message);
            }
        }
        let mut schema = Schema::default();
        for file in set.file {
            schema.add(file);
        }
        schema
    }

    #[test]
    fn the_contract_matches_itself_and_reaches_every_request_and_response() {
        let contract = contract();
        assert_eq!(drift(&contract, &contract, STORE), Vec::<String>::new());
        assert_eq!(
            drift(&contract, &contract, eso_proto::GENERATOR_SERVICE),
            Vec::<String>::new()
        );
        let reached = contract_types_of(&contract, STORE);
        assert!(
            reached.contains(&".provider.v1.GetSecretRequest".to_string()),
            "{reached:?}"
        );
        assert!(
            reached.contains(&".provider.v1.ProviderReference".to_string()),
            "{reached:?}"
        );
    }

    #[test]
    fn renumbered_retyped_renamed_and_missing_fields_are_each_named() {
        let contract = contract();
        let served = edited(|name, message| {
            if name == "GetSecretRequest" {
                for field in &mut message.field {
                    if field.name() == "source_namespace" {
                        field.number = Some(field.number() + 100);
                    }
                }
            }
            if name == "GetSecretResponse" {
                for field in &mut message.field {
                    if field.name() == "value" {
                        field.r#type = Some(Type::String as i32);
                    }
                }
            }
            if name == "ProviderReference" {
                for field in &mut message.field {
                    if field.name() == "kind" {
                        field.name = Some("type".into());
                    }
                }
                message.field.retain(|f| f.name() != "namespace");
            }
        });
        let found = drift(&contract, &served, STORE);
        let has = |needle: &str| found.iter().any(|line| line.contains(needle));
        assert!(
            has("field provider.v1.GetSecretRequest.source_namespace is number"),
            "{found:?}"
        );
        assert!(has("(renumbered)"), "{found:?}");
        assert!(
            has("field provider.v1.GetSecretResponse.value is string, the contract says bytes"),
            "{found:?}"
        );
        assert!(has("field provider.v1.ProviderReference.kind (number"), "{found:?}");
        assert!(has("is renamed type"), "{found:?}");
        assert!(
            has("field provider.v1.ProviderReference.namespace (number"),
            "{found:?}"
        );
        assert!(has("is missing"), "{found:?}");
    }

    #[test]
    fn additions_are_not_drift() {
        let contract = contract();
        let served = edited(|name, message| {
            if name == "GetSecretRequest" {
                message.field.push(prost_types::FieldDescriptorProto {
                    name: Some("added_later".into()),
                    number: Some(99),
                    r#type: Some(Type::String as i32),
                    label: Some(Label::Optional as i32),
                    ..Default::default()
                });
            }
        });
        assert_eq!(drift(&contract, &served, STORE), Vec::<String>::new());
    }

    #[test]
    fn a_missing_service_or_method_is_named() {
        let contract = contract();
        assert_eq!(
            drift(&contract, &Schema::default(), STORE),
            vec![format!("reflection does not describe the service {STORE}")]
        );
        let mut set = match FileDescriptorSet::decode(eso_proto::FILE_DESCRIPTOR_SET) {
            Ok(set) => set,
            Err(error) => panic!("{error}"),
        };
        for file in &mut set.file {
            for service in &mut file.service {
                service.method.retain(|m| m.name() != "SecretExists");
            }
        }
        let mut served = Schema::default();
        for file in set.file {
            served.add(file);
        }
        assert_eq!(
            drift(&contract, &served, STORE),
            vec![format!("method {STORE}/SecretExists is missing")]
        );
    }
}
