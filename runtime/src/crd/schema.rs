//! Schema generation for CRDs: schemars with kube-rs's structural rewrites, plus
//! the normalisations kube-rs users otherwise hit as API-server rejections or
//! panics:
//! - properties that several enum variants declare differently (the tag of an
//!   internally or adjacently tagged enum, or a content field whose type differs
//!   per variant) are merged: string enums into one enum of all values, anything
//!   else into `x-kubernetes-preserve-unknown-fields`;
//! - free-form values (`serde_json::Value`, schema `true` or `{}`) become
//!   `x-kubernetes-preserve-unknown-fields: true`.

use super::{CustomResourceDefinition, ProviderStatus, check_structural};
use crate::{Error, Result};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{CustomResourceValidation, JSONSchemaProps};
use kube_core::CustomResourceExt;
use schemars::JsonSchema;
use schemars::transform::{Transform, transform_subschemas};
use serde_json::{Map, Value, json};

/// Makes properties declared differently by several `oneOf`/`anyOf` branches
/// identical, so that kube-rs can hoist them.
#[derive(Debug, Clone, Default)]
pub struct MergeUnionProperties;

fn merged_property(schemas: &[&Value]) -> Value {
    let strings: Option<Vec<Value>> = schemas
        .iter()
        .map(|s| {
            let object = s.as_object()?;
            let is_string = object.get("type").and_then(Value::as_str) == Some("string");
            let values = object.get("enum").and_then(Value::as_array)?;
            (is_string || object.get("type").is_none()).then(|| values.clone())
        })
        .collect::<Option<Vec<_>>>()
        .map(|lists| lists.into_iter().flatten().collect());
    match strings {
        Some(mut values) => {
            values.dedup();
            json!({"type": "string", "enum": values})
        }
        None => json!({"x-kubernetes-preserve-unknown-fields": true}),
    }
}

/// The JSON type a union branch stands for; `None` for the `null` branch of an `Option`.
fn branch_type(branch: &Value) -> Option<String> {
    let object = branch.as_object()?;
    if object.get("enum") == Some(&json!([null])) {
        return None;
    }
    if let Some(kind) = object.get("type").and_then(Value::as_str) {
        return Some(kind.to_string());
    }
    if object.contains_key("properties") || object.contains_key("required") {
        return Some("object".into());
    }
    Some("any".into())
}

impl Transform for MergeUnionProperties {
    fn transform(&mut self, schema: &mut schemars::Schema) {
        transform_subschemas(self, schema);
        let Some(object) = schema.as_object_mut() else { return };
        // A union of different JSON types (e.g. an enum mixing unit and data
        // variants) cannot have one structural type: accept any value there.
        for junctor in ["oneOf", "anyOf"] {
            let Some(Value::Array(branches)) = object.get(junctor) else {
                continue;
            };
            let mut types: Vec<String> = branches.iter().filter_map(branch_type).collect();
            types.sort();
            types.dedup();
            let nullable = branches.iter().any(|b| branch_type(b).is_none());
            if types.len() > 1 || types.iter().any(|t| t == "any") && branches.len() > 1 {
                let description = object.get("description").cloned();
                object.clear();
                object.insert("x-kubernetes-preserve-unknown-fields".into(), Value::Bool(true));
                if nullable {
                    object.insert("nullable".into(), Value::Bool(true));
                }
                if let Some(description) = description {
                    object.insert("description".into(), description);
                }
                return;
            }
        }
        for junctor in ["oneOf", "anyOf"] {
            let Some(Value::Array(branches)) = object.get_mut(junctor) else {
                continue;
            };
            let mut seen: Map<String, Value> = Map::new();
            let mut conflicting: Vec<String> = Vec::new();
            for branch in branches.iter() {
                let Some(properties) = branch.get("properties").and_then(Value::as_object) else {
                    continue;
                };
                for (name, property) in properties {
                    match seen.get(name) {
                        Some(existing) if existing != property => {
                            if !conflicting.contains(name) {
                                conflicting.push(name.clone());
                            }
                        }
                        Some(_) => {}
                        None => {
                            seen.insert(name.clone(), property.clone());
                        }
                    }
                }
            }
            for name in conflicting {
                let all: Vec<Value> = branches
                    .iter()
                    .filter_map(|b| b.get("properties").and_then(|p| p.get(&name)).cloned())
                    .collect();
                let merged = merged_property(&all.iter().collect::<Vec<_>>());
                for branch in branches.iter_mut() {
                    if let Some(property) = branch.get_mut("properties").and_then(|p| p.get_mut(&name)) {
                        *property = merged.clone();
                    }
                }
            }
        }
    }
}

/// Turns schemas that accept anything into `x-kubernetes-preserve-unknown-fields`.
#[derive(Debug, Clone, Default)]
pub struct PreserveFreeForm;

fn is_free_form(object: &Map<String, Value>) -> bool {
    const SHAPE: [&str; 12] = [
        "type",
        "properties",
        "additionalProperties",
        "items",
        "enum",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "$ref",
        "x-kubernetes-int-or-string",
        "x-kubernetes-preserve-unknown-fields",
    ];
    !SHAPE.iter().any(|key| object.contains_key(*key))
}

/// Junctor branches may not carry extensions (they only restrict what is declared
/// outside them), so the marks added below are taken out of their subtrees again.
fn unmark_junctor_subtrees(value: &mut Value, inside: bool) {
    let Some(object) = value.as_object_mut() else { return };
    if inside {
        object.remove("x-kubernetes-preserve-unknown-fields");
    }
    for (key, child) in object.iter_mut() {
        match key.as_str() {
            "oneOf" | "anyOf" | "allOf" => {
                if let Value::Array(branches) = child {
                    for branch in branches {
                        unmark_junctor_subtrees(branch, true);
                    }
                }
            }
            "not" => unmark_junctor_subtrees(child, true),
            "properties" => {
                if let Value::Object(properties) = child {
                    for property in properties.values_mut() {
                        unmark_junctor_subtrees(property, inside);
                    }
                }
            }
            "items" | "additionalProperties" => unmark_junctor_subtrees(child, inside),
            _ => {}
        }
    }
}

impl Transform for PreserveFreeForm {
    fn transform(&mut self, schema: &mut schemars::Schema) {
        transform_subschemas(self, schema);
        if let Some(object) = schema.as_object_mut() {
            for junctor in ["oneOf", "anyOf", "allOf", "not"] {
                match object.get_mut(junctor) {
                    Some(Value::Array(branches)) => branches.iter_mut().for_each(|b| unmark_junctor_subtrees(b, true)),
                    Some(branch) => unmark_junctor_subtrees(branch, true),
                    None => {}
                }
            }
        }
        if schema.as_bool() == Some(true) {
            *schema = schemars::json_schema!({"x-kubernetes-preserve-unknown-fields": true});
            return;
        }
        if let Some(object) = schema.as_object_mut()
            && is_free_form(object)
            && !object.contains_key("required")
        {
            object.insert("x-kubernetes-preserve-unknown-fields".into(), Value::Bool(true));
        }
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown cause".into())
}

/// The schema of `T` as a CRD accepts it.
pub fn schema_for<T: JsonSchema>() -> Result<Value> {
    let generate = || {
        let generator = schemars::generate::SchemaSettings::openapi3()
            .with(|s| {
                s.inline_subschemas = true;
                s.meta_schema = None;
            })
            .with_transform(schemars::transform::AddNullable::default())
            .with_transform(MergeUnionProperties)
            .with_transform(kube_core::schema::StructuralSchemaRewriter)
            .with_transform(kube_core::schema::OptionalEnum)
            .with_transform(kube_core::schema::OptionalIntOrString)
            .with_transform(PreserveFreeForm)
            .into_generator();
        generator.into_root_schema_for::<T>()
    };
    let schema = std::panic::catch_unwind(generate).map_err(|payload| {
        Error::invalid_config(format!(
            "the schema of {} cannot be made structural: {}",
            T::schema_name(),
            panic_text(payload)
        ))
    })?;
    let mut value = schema.to_value();
    if let Some(object) = value.as_object_mut() {
        object.remove("title");
        object.remove("$schema");
    }
    Ok(value)
}

/// Completes a CRD generated by kube-derive with `schema = "disabled"`: the root
/// schema holds `spec` (from `S`) and `status` ([`ProviderStatus`]); the result is
/// checked against the structural rules.
pub fn build<K: CustomResourceExt, S: JsonSchema>() -> Result<CustomResourceDefinition> {
    let mut crd = K::crd();
    let kind = crd.spec.names.kind.clone();
    let mut spec = schema_for::<S>()?;
    let mut status = schema_for::<ProviderStatus>()?;
    if let Some(status) = status.as_object_mut() {
        status.insert("nullable".into(), Value::Bool(true));
        status.insert(
            "description".into(),
            Value::String("Written by the provider: conditions and observed generation.".into()),
        );
    }
    let description = spec
        .as_object_mut()
        .and_then(|s| s.get("description").cloned())
        .unwrap_or_else(|| Value::String(format!("Configuration of a {kind}.")));
    let root = json!({
        "type": "object",
        "description": description,
        "properties": {"spec": spec, "status": status},
        "required": ["spec"],
    });
    let props: JSONSchemaProps = serde_json::from_value(root)
        .map_err(|error| Error::internal(format!("{kind}: schema is not valid JSONSchemaProps: {error}")))?;
    for version in &mut crd.spec.versions {
        version.schema = Some(CustomResourceValidation {
            open_api_v3_schema: Some(props.clone()),
        });
    }
    check_structural(&crd).map_err(|violations| {
        let lines: Vec<String> = violations.iter().map(|v| format!("  {v}")).collect();
        Error::invalid_config(format!(
            "the CRD for {kind} is not structural; the API server would reject it:\n{}",
            lines.join("\n")
        ))
    })?;
    Ok(crd)
}
