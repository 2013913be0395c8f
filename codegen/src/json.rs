//! Prints a response as proto3 JSON for people: every field, including defaults
//! (`"valid": false` says more than nothing), fields in `.proto` order, map keys
//! sorted, and `bytes` shown as UTF-8 text when they are text, or as
//! `{"base64": "…"}` when they are not.

use anyhow::{Context, Result};
use base64::Engine;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, SerializeOptions};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

/// The response as a JSON value (object keys sorted).
#[cfg(test)]
pub fn render(message: &DynamicMessage) -> Result<Value> {
    serde_json::to_value(readable(message)?).context("encoding the response as JSON")
}

/// The response as pretty JSON text, fields in `.proto` order.
pub fn render_pretty(message: &DynamicMessage) -> Result<String> {
    serde_json::to_string_pretty(&readable(message)?).context("encoding the response as JSON")
}

/// JSON whose objects keep the order they are built in.
#[derive(Debug)]
enum Ordered {
    Plain(Value),
    Object(Vec<(String, Ordered)>),
    Array(Vec<Ordered>),
}

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Ordered::Plain(value) => value.serialize(serializer),
            Ordered::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            Ordered::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

/// The proto3 JSON of `message` (with defaults), rewritten for people.
fn readable(message: &DynamicMessage) -> Result<Ordered> {
    let options = SerializeOptions::new().skip_default_fields(false);
    let value = message
        .serialize_with_options(serde_json::value::Serializer, &options)
        .context("encoding the response as JSON")?;
    Ok(readable_message(&message.descriptor(), value))
}

/// One message's JSON object: its fields in declaration order, bytes readable.
fn readable_message(descriptor: &MessageDescriptor, value: Value) -> Ordered {
    // Well-known types have their own JSON forms, not objects of their fields.
    if descriptor.full_name().starts_with("google.protobuf.") {
        return Ordered::Plain(value);
    }
    let Value::Object(mut object) = value else {
        return Ordered::Plain(value);
    };
    let mut entries = Vec::with_capacity(object.len());
    for field in descriptor.fields() {
        if let Some(item) = object.remove(field.json_name()) {
            entries.push((field.json_name().to_string(), readable_field(&field, item)));
        }
    }
    // Nothing should be left; keep whatever is rather than drop it.
    entries.extend(object.into_iter().map(|(key, value)| (key, Ordered::Plain(value))));
    Ordered::Object(entries)
}

/// A field's value: a map (keys sorted), a list, or a single value.
fn readable_field(field: &FieldDescriptor, item: Value) -> Ordered {
    match (field.kind(), item) {
        (Kind::Message(entry), Value::Object(map)) if field.is_map() => {
            let value_kind = entry.map_entry_value_field().kind();
            let mut entries: Vec<(String, Ordered)> = map
                .into_iter()
                .map(|(key, value)| (key, readable_single(&value_kind, value)))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Ordered::Object(entries)
        }
        (kind, Value::Array(items)) if field.is_list() => {
            Ordered::Array(items.into_iter().map(|item| readable_single(&kind, item)).collect())
        }
        (kind, item) => readable_single(&kind, item),
    }
}

/// One value of `kind`.
fn readable_single(kind: &Kind, value: Value) -> Ordered {
    match (kind, value) {
        (Kind::Bytes, Value::String(encoded)) => {
            match base64::engine::general_purpose::STANDARD.decode(encoded.as_bytes()) {
                Ok(bytes) => Ordered::Plain(readable_bytes(bytes)),
                Err(_) => Ordered::Plain(Value::String(encoded)),
            }
        }
        (Kind::Message(descriptor), value) => readable_message(descriptor, value),
        (_, value) => Ordered::Plain(value),
    }
}

/// Text when the bytes are UTF-8; `{"base64": "…"}` otherwise.
pub fn readable_bytes(bytes: Vec<u8>) -> Value {
    match String::from_utf8(bytes) {
        Ok(text) => Value::String(text),
        Err(error) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(error.into_bytes());
            Value::Object(Map::from_iter([("base64".to_string(), Value::String(encoded))]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::Catalog;
    use prost_reflect::{MapKey, Value as ProtoValue};

    fn response(method: &str) -> Result<DynamicMessage> {
        let catalog = Catalog::load()?;
        Ok(DynamicMessage::new(catalog.find(method)?.output()))
    }

    #[test]
    fn bytes_are_text_or_marked_base64() -> Result<()> {
        let mut message = response("GetSecretMap")?;
        let mut map = std::collections::HashMap::new();
        map.insert(MapKey::String("b".into()), ProtoValue::Bytes(b"text".to_vec().into()));
        map.insert(MapKey::String("a".into()), ProtoValue::Bytes(vec![0xff, 0x00].into()));
        message.set_field_by_name("secrets", ProtoValue::Map(map));
        let json = render(&message)?;
        assert_eq!(
            json,
            serde_json::json!({"secrets": {"a": {"base64": "/wA="}, "b": "text"}})
        );
        let text = render_pretty(&message)?;
        assert!(text.find("\"a\"") < text.find("\"b\""), "{text}");
        Ok(())
    }

    #[test]
    fn defaults_and_enums_are_printed() -> Result<()> {
        let validate = render(&response("Validate")?)?;
        assert_eq!(
            validate,
            serde_json::json!({"valid": false, "error": "", "warnings": []})
        );
        let text = render_pretty(&response("Validate")?)?;
        assert!(text.find("valid") < text.find("error"), "{text}");
        let capabilities = render(&response("Capabilities")?)?;
        assert_eq!(capabilities, serde_json::json!({"capabilities": "READ_ONLY"}));
        let mut generate = response("Generate")?;
        generate.set_field_by_name("state", ProtoValue::Bytes(br#"{"id":"x"}"#.to_vec().into()));
        assert_eq!(render(&generate)?["state"], r#"{"id":"x"}"#);
        Ok(())
    }
}
