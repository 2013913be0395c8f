//! Builds the request of `eso-gen call`: proto3 JSON from `--json` or `--json-file`,
//! then the convenience flags on top (flags win).
//!
//! Flags are not tied to methods: each names the request fields it may fill, and
//! fills the first one the method's request type has. `--key` is `remote_ref.key`
//! on GetSecret, `remote_ref.remote_key` on DeleteSecret and
//! `push_secret_data.remote_key` on PushSecret; a flag no field takes is an error.

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value};

/// `provider_ref.api_version` / `generator_ref.api_version` when neither the flag nor the JSON sets it.
pub const DEFAULT_API_VERSION: &str = "provider.external-secrets.io/v2alpha1";
/// The reference's namespace when neither the flag nor the JSON sets it.
pub const DEFAULT_NAMESPACE: &str = "default";
/// `provider_ref.store_ref_kind` when neither the flag nor the JSON sets it.
pub const DEFAULT_STORE_KIND: &str = "SecretStore";

const API_VERSION: &[&str] = &["provider_ref.api_version", "generator_ref.api_version"];
const KIND: &[&str] = &["provider_ref.kind", "generator_ref.kind"];
const NAME: &[&str] = &["provider_ref.name", "generator_ref.name"];
const NAMESPACE: &[&str] = &["provider_ref.namespace", "generator_ref.namespace"];
const STORE_KIND: &[&str] = &["provider_ref.store_ref_kind"];
const SOURCE_NAMESPACE: &[&str] = &["source_namespace"];
const KEY: &[&str] = &["remote_ref.key", "remote_ref.remote_key", "push_secret_data.remote_key"];
const VERSION: &[&str] = &["remote_ref.version"];
const PROPERTY: &[&str] = &["remote_ref.property", "push_secret_data.property"];
const SECRET_KEY: &[&str] = &["push_secret_data.secret_key"];
const DATA: &[&str] = &["secret_data"];
const FIND_PATH: &[&str] = &["find.path"];
const REGEXP: &[&str] = &["find.name.regexp"];
const TAGS: &[&str] = &["find.tags"];
const STATE: &[&str] = &["state"];

/// Flags that fill request fields, so common calls need no JSON.
#[derive(Debug, Default, Clone, clap::Args)]
#[command(next_help_heading = "Request fields (merged over --json; flags win)")]
pub struct FieldFlags {
    /// The reference's apiVersion [default: provider.external-secrets.io/v2alpha1].
    #[arg(long, value_name = "GROUP/VERSION")]
    api_version: Option<String>,
    /// The provider (or generator) kind, e.g. `Vault`.
    #[arg(long)]
    kind: Option<String>,
    /// The provider (or generator) object's name.
    #[arg(long)]
    name: Option<String>,
    /// The provider (or generator) object's namespace [default: default].
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,
    /// `provider_ref.store_ref_kind`: SecretStore, ClusterSecretStore, ProviderStore,
    /// ClusterProviderStore, Provider or ClusterProvider [default: SecretStore].
    #[arg(long, value_name = "KIND")]
    store_kind: Option<String>,
    /// `source_namespace` [default: the reference's namespace]; give "" for a
    /// cluster-scoped store's Validate or Capabilities.
    #[arg(long, value_name = "NS")]
    source_namespace: Option<String>,
    /// The remote key: `remote_ref.key` (GetSecret, GetSecretMap), `remote_ref.remote_key`
    /// (DeleteSecret, SecretExists) or `push_secret_data.remote_key` (PushSecret).
    #[arg(long)]
    key: Option<String>,
    /// `remote_ref.version` (GetSecret, GetSecretMap).
    #[arg(long)]
    version: Option<String>,
    /// The property inside the remote secret.
    #[arg(long)]
    property: Option<String>,
    /// `push_secret_data.secret_key`: which key of `--data` to push (PushSecret).
    #[arg(long, value_name = "K")]
    secret_key: Option<String>,
    /// An entry of `secret_data` as text (PushSecret); repeatable. Values on a
    /// command line are visible to local users: prefer --json-file for real secrets.
    #[arg(long = "data", value_name = "K=V")]
    data: Vec<String>,
    /// `find.path` (GetAllSecrets).
    #[arg(long)]
    path: Option<String>,
    /// `find.name.regexp` (GetAllSecrets).
    #[arg(long)]
    regexp: Option<String>,
    /// An entry of `find.tags` (GetAllSecrets); repeatable.
    #[arg(long = "tag", value_name = "K=V")]
    tags: Vec<String>,
    /// The state Generate returned, for Cleanup: its JSON text, or base64 of its bytes.
    #[arg(long)]
    state: Option<String>,
}

/// The request for a method with input type `input`: `json` (proto3 JSON) if given,
/// then `flags` over it. `method` names the method in errors.
pub fn build(
    input: &MessageDescriptor,
    method: &str,
    json: Option<&str>,
    flags: &FieldFlags,
) -> Result<DynamicMessage> {
    let mut message = match json {
        Some(text) => parse_json(input, text)?,
        None => DynamicMessage::new(input.clone()),
    };
    let mut target = Target {
        message: &mut message,
        method,
    };
    flags.apply(&mut target)?;
    Ok(message)
}

/// Parses proto3 JSON (field names in lowerCamelCase or as in the .proto).
/// Errors never quote the input's values.
fn parse_json(input: &MessageDescriptor, text: &str) -> Result<DynamicMessage> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let message = DynamicMessage::deserialize(input.clone(), &mut deserializer)
        .and_then(|message| deserializer.end().map(|()| message))
        .map_err(|error| {
            anyhow!(
                "the JSON is not a valid {}: {}",
                input.full_name(),
                describe_json_error(&error)
            )
        })?;
    Ok(message)
}

/// A JSON error without the values it may quote (they may be secrets).
fn describe_json_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let what = if text.contains("invalid base64") {
        "a bytes field is not valid base64 (proto3 JSON writes bytes as base64; for PushSecret, --data K=V takes text)"
            .to_string()
    } else {
        let (message, _) = text.rsplit_once(" at line ").unwrap_or((&text, ""));
        eso_runtime::util::without_quoted_values(message)
    };
    format!("{what} at line {} column {}", error.line(), error.column())
}

/// Splits `K=V`; the error never repeats the text (it may be a secret).
fn split_pair<'a>(flag: &str, text: &'a str) -> Result<(&'a str, &'a str)> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key, value)),
        _ => bail!("{flag} takes KEY=VALUE with a non-empty key"),
    }
}

/// The bytes of `--state`: JSON text as given, else base64-decoded, else the text.
fn state_bytes(text: &str) -> Vec<u8> {
    let trimmed = text.trim();
    match serde_json::from_str::<serde_json::Value>(trimmed) {
        Ok(value) if !value.is_number() => trimmed.as_bytes().to_vec(),
        _ => base64::engine::general_purpose::STANDARD
            .decode(trimmed)
            .unwrap_or_else(|_| trimmed.as_bytes().to_vec()),
    }
}

impl FieldFlags {
    fn apply(&self, target: &mut Target<'_>) -> Result<()> {
        target.text_or_default(
            "--api-version",
            API_VERSION,
            self.api_version.as_deref(),
            DEFAULT_API_VERSION,
        )?;
        target.text("--kind", KIND, self.kind.as_deref())?;
        target.text("--name", NAME, self.name.as_deref())?;
        target.text_or_default("--namespace", NAMESPACE, self.namespace.as_deref(), DEFAULT_NAMESPACE)?;
        target.text_or_default(
            "--store-kind",
            STORE_KIND,
            self.store_kind.as_deref(),
            DEFAULT_STORE_KIND,
        )?;
        match &self.source_namespace {
            Some(namespace) => target.set("--source-namespace", SOURCE_NAMESPACE, namespace.as_bytes())?,
            None => {
                if let Some(namespace) = target.get_text(NAMESPACE).filter(|ns| !ns.is_empty()) {
                    target.fill("--source-namespace", SOURCE_NAMESPACE, namespace.as_bytes())?;
                }
            }
        }
        target.text("--key", KEY, self.key.as_deref())?;
        target.text("--version", VERSION, self.version.as_deref())?;
        target.text("--property", PROPERTY, self.property.as_deref())?;
        target.text("--secret-key", SECRET_KEY, self.secret_key.as_deref())?;
        for pair in &self.data {
            let (key, value) = split_pair("--data", pair)?;
            target.insert("--data", DATA, key, value.as_bytes())?;
        }
        target.text("--path", FIND_PATH, self.path.as_deref())?;
        target.text("--regexp", REGEXP, self.regexp.as_deref())?;
        for pair in &self.tags {
            let (key, value) = split_pair("--tag", pair)?;
            target.insert("--tag", TAGS, key, value.as_bytes())?;
        }
        if let Some(state) = &self.state {
            target.set("--state", STATE, &state_bytes(state))?;
        }
        Ok(())
    }
}

/// The request being filled, and the method it is for (for errors).
struct Target<'a> {
    message: &'a mut DynamicMessage,
    method: &'a str,
}

impl Target<'_> {
    /// The fields along the first of `candidates` (dotted paths) the request type has.
    fn resolve(&self, candidates: &[&str]) -> Option<Vec<FieldDescriptor>> {
        let descriptor = self.message.descriptor();
        candidates.iter().find_map(|path| resolve_path(&descriptor, path))
    }

    fn resolve_or_refuse(&self, flag: &str, candidates: &[&str]) -> Result<Vec<FieldDescriptor>> {
        self.resolve(candidates).ok_or_else(|| {
            anyhow!(
                "{flag} does not apply to {} (its request, {}, has none of the fields {})",
                self.method,
                self.message.descriptor().full_name(),
                candidates.join(", ")
            )
        })
    }

    /// Sets the field for `flag` when the flag was given.
    fn text(&mut self, flag: &str, candidates: &[&str], value: Option<&str>) -> Result<()> {
        match value {
            Some(value) => self.set(flag, candidates, value.as_bytes()),
            None => Ok(()),
        }
    }

    /// Sets the field when the flag was given; otherwise fills it with `default`
    /// when the method has it and the JSON left it empty.
    fn text_or_default(&mut self, flag: &str, candidates: &[&str], value: Option<&str>, default: &str) -> Result<()> {
        match value {
            Some(value) => self.set(flag, candidates, value.as_bytes()),
            None => self.fill(flag, candidates, default.as_bytes()),
        }
    }

    /// Sets a singular string or bytes field; an error if the method has none.
    fn set(&mut self, flag: &str, candidates: &[&str], value: &[u8]) -> Result<()> {
        let path = self.resolve_or_refuse(flag, candidates)?;
        let value = scalar(flag, last(&path)?, value)?;
        *slot(self.message, &path)? = value;
        Ok(())
    }

    /// Sets the field only if the method has it and it is empty.
    fn fill(&mut self, flag: &str, candidates: &[&str], value: &[u8]) -> Result<()> {
        match self.resolve(candidates) {
            Some(path) if !is_set(self.message, &path) => {
                let value = scalar(flag, last(&path)?, value)?;
                *slot(self.message, &path)? = value;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Adds an entry to a `map<string, string|bytes>` field.
    fn insert(&mut self, flag: &str, candidates: &[&str], key: &str, value: &[u8]) -> Result<()> {
        let path = self.resolve_or_refuse(flag, candidates)?;
        let leaf = last(&path)?;
        let entry = match leaf.kind() {
            Kind::Message(entry) if leaf.is_map() => entry,
            _ => bail!("{flag}: {} is not a map", leaf.full_name()),
        };
        if !matches!(entry.map_entry_key_field().kind(), Kind::String) {
            bail!("{flag}: {} does not have string keys", leaf.full_name());
        }
        let value = scalar(flag, &entry.map_entry_value_field(), value)?;
        match slot(self.message, &path)? {
            Value::Map(map) => {
                map.insert(MapKey::String(key.to_string()), value);
                Ok(())
            }
            _ => bail!("{flag}: {} does not hold a map", leaf.full_name()),
        }
    }

    /// The text of the first of `candidates` the request has, if set.
    fn get_text(&self, candidates: &[&str]) -> Option<String> {
        let path = self.resolve(candidates)?;
        get_text(self.message, &path)
    }
}

/// Walks a dotted path of singular message fields to its last field.
fn resolve_path(descriptor: &MessageDescriptor, path: &str) -> Option<Vec<FieldDescriptor>> {
    let mut fields = Vec::new();
    let mut current = descriptor.clone();
    let mut segments = path.split('.').peekable();
    while let Some(segment) = segments.next() {
        let field = current.get_field_by_name(segment)?;
        if segments.peek().is_some() {
            match field.kind() {
                Kind::Message(inner) if !field.is_list() && !field.is_map() => current = inner,
                _ => return None,
            }
        }
        fields.push(field);
    }
    Some(fields)
}

fn last(path: &[FieldDescriptor]) -> Result<&FieldDescriptor> {
    path.last().context("empty field path (a bug in eso-gen)")
}

/// The value, mutable, at `path`; absent messages on the way are created.
fn slot<'m>(message: &'m mut DynamicMessage, path: &[FieldDescriptor]) -> Result<&'m mut Value> {
    match path {
        [leaf] => Ok(message.get_field_mut(leaf)),
        [head, rest @ ..] => match message.get_field_mut(head) {
            Value::Message(inner) => slot(inner, rest),
            _ => bail!("{} is not a message (a bug in eso-gen)", head.full_name()),
        },
        [] => bail!("empty field path (a bug in eso-gen)"),
    }
}

/// Whether the field at `path` holds a non-default value.
fn is_set(message: &DynamicMessage, path: &[FieldDescriptor]) -> bool {
    match path {
        [leaf] => message.has_field(leaf),
        [head, rest @ ..] => {
            message.has_field(head)
                && match message.get_field(head).as_ref() {
                    Value::Message(inner) => is_set(inner, rest),
                    _ => false,
                }
        }
        [] => false,
    }
}

/// The string at `path`, if the message has one there.
fn get_text(message: &DynamicMessage, path: &[FieldDescriptor]) -> Option<String> {
    match path {
        [leaf] => message.get_field(leaf).as_str().map(str::to_string),
        [head, rest @ ..] => match message.get_field(head).as_ref() {
            Value::Message(inner) => get_text(inner, rest),
            _ => None,
        },
        [] => None,
    }
}

/// A singular string or bytes value for `field`.
fn scalar(flag: &str, field: &FieldDescriptor, value: &[u8]) -> Result<Value> {
    if field.is_list() || field.is_map() {
        bail!("{flag}: {} is a repeated field (a bug in eso-gen)", field.full_name());
    }
    match field.kind() {
        Kind::String => String::from_utf8(value.to_vec())
            .map(Value::String)
            .map_err(|_| anyhow!("{flag} is not UTF-8 text, but {} is a string", field.full_name())),
        Kind::Bytes => Ok(Value::Bytes(bytes::Bytes::copy_from_slice(value))),
        _ => bail!("{flag}: {} is neither a string nor bytes", field.full_name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::Catalog;

    fn request(method: &str, json: Option<&str>, flags: FieldFlags) -> Result<serde_json::Value> {
        let catalog = Catalog::load()?;
        let method = catalog.find(method)?;
        let message = build(&method.input(), method.name(), json, &flags)?;
        Ok(serde_json::to_value(&message)?)
    }

    #[test]
    fn get_secret_from_flags_only() -> Result<()> {
        let flags = FieldFlags {
            kind: Some("Fake".into()),
            name: Some("backend".into()),
            key: Some("db/password".into()),
            version: Some("3".into()),
            ..Default::default()
        };
        let json = request("GetSecret", None, flags)?;
        assert_eq!(
            json,
            serde_json::json!({
                "remoteRef": {"key": "db/password", "version": "3"},
                "providerRef": {
                    "apiVersion": DEFAULT_API_VERSION,
                    "kind": "Fake",
                    "name": "backend",
                    "namespace": "default",
                    "storeRefKind": "SecretStore"
                },
                "sourceNamespace": "default"
            })
        );
        Ok(())
    }

    #[test]
    fn flags_win_over_json_and_defaults_do_not() -> Result<()> {
        let flags = FieldFlags {
            name: Some("from-flag".into()),
            ..Default::default()
        };
        let json = request(
            "GetSecret",
            Some(
                r#"{"provider_ref": {"name": "from-json", "namespace": "team-a", "storeRefKind": "ClusterSecretStore"}, "remote_ref": {"key": "k"}}"#,
            ),
            flags,
        )?;
        assert_eq!(json["providerRef"]["name"], "from-flag");
        assert_eq!(json["providerRef"]["namespace"], "team-a");
        assert_eq!(json["providerRef"]["storeRefKind"], "ClusterSecretStore");
        assert_eq!(json["sourceNamespace"], "team-a");
        Ok(())
    }

    #[test]
    fn key_and_property_follow_the_method() -> Result<()> {
        let flags = || FieldFlags {
            key: Some("app/db".into()),
            property: Some("password".into()),
            ..Default::default()
        };
        let delete = request("DeleteSecret", None, flags())?;
        assert_eq!(
            delete["remoteRef"],
            serde_json::json!({"remoteKey": "app/db", "property": "password"})
        );
        let push = request(
            "PushSecret",
            None,
            FieldFlags {
                secret_key: Some("pw".into()),
                data: vec!["pw=s3cr3t=x".into()],
                ..flags()
            },
        )?;
        assert_eq!(push["pushSecretData"]["remoteKey"], "app/db");
        assert_eq!(push["pushSecretData"]["secretKey"], "pw");
        // proto3 JSON: bytes are base64.
        assert_eq!(push["secretData"]["pw"], "czNjcjN0PXg=");
        Ok(())
    }

    #[test]
    fn find_flags_and_generator_references() -> Result<()> {
        let find = request(
            "GetAllSecrets",
            None,
            FieldFlags {
                path: Some("app/".into()),
                regexp: Some("db-.*".into()),
                tags: vec!["env=prod".into()],
                ..Default::default()
            },
        )?;
        assert_eq!(
            find["find"],
            serde_json::json!({"path": "app/", "name": {"regexp": "db-.*"}, "tags": {"env": "prod"}})
        );
        let cleanup = request(
            "Cleanup",
            None,
            FieldFlags {
                kind: Some("Password".into()),
                state: Some(r#"{"id": "x"}"#.into()),
                ..Default::default()
            },
        )?;
        assert_eq!(cleanup["generatorRef"]["kind"], "Password");
        assert!(cleanup["generatorRef"].get("storeRefKind").is_none());
        let state = cleanup["state"].as_str().unwrap_or_default();
        assert_eq!(
            base64::engine::general_purpose::STANDARD.decode(state)?,
            br#"{"id": "x"}"#
        );
        Ok(())
    }

    #[test]
    fn inapplicable_flags_are_refused() -> Result<()> {
        let error = request(
            "Validate",
            None,
            FieldFlags {
                key: Some("k".into()),
                ..Default::default()
            },
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(error.contains("--key does not apply to Validate"), "{error}");
        let error = request(
            "Generate",
            None,
            FieldFlags {
                store_kind: Some("SecretStore".into()),
                ..Default::default()
            },
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(error.contains("--store-kind does not apply to Generate"), "{error}");
        Ok(())
    }

    #[test]
    fn errors_do_not_repeat_values() {
        let json_error = request(
            "GetSecret",
            Some(r#"{"remote_ref": {"key": 42, "version": "hunter2"#),
            FieldFlags::default(),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(json_error.contains("line 1"), "{json_error}");
        assert!(!json_error.contains("hunter2"), "{json_error}");
        let base64_error = request(
            "PushSecret",
            Some(r#"{"secret_data": {"pw": "not base64 hunter2!"}}"#),
            FieldFlags::default(),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(base64_error.contains("base64"), "{base64_error}");
        assert!(!base64_error.contains("hunter2"), "{base64_error}");
        let pair_error = request(
            "PushSecret",
            None,
            FieldFlags {
                data: vec!["hunter2".into()],
                ..Default::default()
            },
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            pair_error.contains("KEY=VALUE") && !pair_error.contains("hunter2"),
            "{pair_error}"
        );
    }

    #[test]
    fn state_is_json_text_or_base64() {
        assert_eq!(state_bytes(r#"{"a":1}"#), br#"{"a":1}"#);
        assert_eq!(state_bytes("aGVsbG8="), b"hello");
        assert_eq!(state_bytes("not base64!"), b"not base64!");
    }
}
