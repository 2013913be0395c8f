//! The table of tricky spec types: what schema each produces once normalised, and
//! that the resulting CRD is accepted by the structural rules. Built the way
//! `#[provider_spec]` builds it (kube-derive with `schema = "disabled"`, then
//! `eso_runtime::crd::build`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, dead_code)]

use eso_runtime::__private::CustomResource;
use eso_runtime::__private::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug)]
pub enum External {
    A(String),
    B { x: i32 },
    C,
}
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug)]
#[serde(tag = "type")]
pub enum Internal {
    A { a: String },
    B { b: i32 },
}
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug)]
#[serde(tag = "t", content = "c")]
pub enum Adjacent {
    A(String),
    B(i32),
}
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug)]
#[serde(untagged)]
pub enum Untagged {
    A { a: String },
    B { b: i32 },
}
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug)]
pub enum Unit {
    One,
    Two,
}
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug)]
pub struct Nested {
    x: String,
}
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug)]
pub struct Keyed {
    name: String,
    value: Option<String>,
}

/// A spec with one field of each tricky shape.
#[derive(CustomResource, Serialize, Deserialize, JsonSchema, Clone, Debug)]
#[kube(
    group = "t.eso-gen.dev",
    version = "v1",
    kind = "Tricky",
    namespaced,
    status = "eso_runtime::crd::ProviderStatus",
    schema = "disabled",
    crates(
        kube_core = "::eso_runtime::__private::kube_core",
        k8s_openapi = "::eso_runtime::__private::k8s_openapi",
        schemars = "::eso_runtime::__private::schemars",
        serde = "::eso_runtime::__private::serde",
        serde_json = "::eso_runtime::__private::serde_json"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct TrickySpec {
    external: External,
    internal: Internal,
    adjacent: Adjacent,
    untagged: Untagged,
    unit: Unit,
    opt_unit: Option<Unit>,
    opt_external: Option<External>,
    map: BTreeMap<String, String>,
    map_nested: BTreeMap<String, Nested>,
    opt_nested: Option<Nested>,
    value: Value,
    opt_value: Option<Value>,
    int_or_string: IntOrString,
    opt_int_or_string: Option<IntOrString>,
    selector: eso_runtime::SecretKeySelector,
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    keyed: Vec<Keyed>,
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self.size() <= 10", "message": "at most 10"}]))]
    #[schemars(length(max = 10), regex(pattern = "^[a-z]+$"))]
    validated: String,
    #[schemars(range(min = 1, max = 65535))]
    port: u16,
}

fn spec_schema() -> Value {
    let crd = eso_runtime::crd::build::<Tricky, TrickySpec>().expect("the tricky spec becomes a structural CRD");
    let schema = crd.spec.versions[0].schema.clone().unwrap().open_api_v3_schema.unwrap();
    serde_json::to_value(schema).unwrap()["properties"]["spec"].clone()
}

fn field(name: &str) -> Value {
    spec_schema()["properties"][name].clone()
}

#[test]
fn the_table_of_tricky_types() {
    // (field, what the API server gets)
    let table: Vec<(&str, Value)> = vec![
        // Externally tagged enums mixing unit and data variants have no single JSON type.
        ("external", json!({"x-kubernetes-preserve-unknown-fields": true})),
        (
            "optExternal",
            json!({"x-kubernetes-preserve-unknown-fields": true, "nullable": true}),
        ),
        (
            "internal",
            json!({"type": "object",
                   "oneOf": [{"required": ["a", "type"]}, {"required": ["b", "type"]}],
                   "properties": {"a": {"type": "string"}, "b": {"type": "integer", "format": "int32"},
                                  "type": {"type": "string", "enum": ["A", "B"]}}}),
        ),
        (
            "adjacent",
            json!({"type": "object",
                   "oneOf": [{"required": ["c", "t"]}, {"required": ["c", "t"]}],
                   "properties": {"c": {"x-kubernetes-preserve-unknown-fields": true},
                                  "t": {"type": "string", "enum": ["A", "B"]}}}),
        ),
        (
            "untagged",
            json!({"type": "object", "anyOf": [{"required": ["a"]}, {"required": ["b"]}],
                   "properties": {"a": {"type": "string"}, "b": {"type": "integer", "format": "int32"}}}),
        ),
        ("unit", json!({"type": "string", "enum": ["One", "Two"]})),
        (
            "optUnit",
            json!({"type": "string", "enum": ["One", "Two", null], "nullable": true}),
        ),
        (
            "map",
            json!({"type": "object", "additionalProperties": {"type": "string"}}),
        ),
        (
            "mapNested",
            json!({"type": "object", "additionalProperties": {"type": "object", "required": ["x"],
                   "properties": {"x": {"type": "string"}}}}),
        ),
        (
            "optNested",
            json!({"type": "object", "nullable": true, "required": ["x"], "properties": {"x": {"type": "string"}}}),
        ),
        ("value", json!({"x-kubernetes-preserve-unknown-fields": true})),
        ("optValue", json!({"x-kubernetes-preserve-unknown-fields": true})),
        (
            "port",
            json!({"type": "integer", "format": "uint16", "minimum": 1.0, "maximum": 65535.0}),
        ),
    ];
    let spec = spec_schema();
    let mut mismatches = Vec::new();
    for (name, expected) in table {
        let actual = &spec["properties"][name];
        if actual != &expected {
            mismatches.push(format!("{name}:\n  expected {expected}\n  actual   {actual}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn int_or_string_keeps_its_marker_and_nothing_else() {
    for name in ["intOrString", "optIntOrString"] {
        let schema = field(name);
        assert_eq!(schema["x-kubernetes-int-or-string"], json!(true), "{name}: {schema}");
        assert!(schema.get("type").is_none(), "{name}: {schema}");
        assert!(schema.get("anyOf").is_none(), "{name}: {schema}");
    }
    assert_eq!(field("optIntOrString")["nullable"], json!(true));
}

#[test]
fn schema_attributes_authors_ask_for_reach_the_crd() {
    let keyed = field("keyed");
    assert_eq!(keyed["x-kubernetes-list-type"], json!("map"));
    assert_eq!(keyed["x-kubernetes-list-map-keys"], json!(["name"]));
    let validated = field("validated");
    assert_eq!(validated["maxLength"], json!(10));
    assert_eq!(validated["pattern"], json!("^[a-z]+$"));
    assert_eq!(
        validated["x-kubernetes-validations"][0]["rule"],
        json!("self.size() <= 10")
    );
    let selector = field("selector");
    assert_eq!(selector["required"], json!(["key", "name"]));
}

#[test]
fn the_root_holds_spec_and_a_status_with_conditions() {
    let crd = eso_runtime::crd::build::<Tricky, TrickySpec>().unwrap();
    let root = serde_json::to_value(crd.spec.versions[0].schema.clone().unwrap().open_api_v3_schema.unwrap()).unwrap();
    assert_eq!(root["required"], json!(["spec"]));
    assert_eq!(
        root["description"],
        json!("A spec with one field of each tricky shape.")
    );
    let conditions = &root["properties"]["status"]["properties"]["conditions"];
    assert_eq!(conditions["x-kubernetes-list-type"], json!("map"));
    assert_eq!(conditions["items"]["required"], json!(["status", "type"]));
    assert!(root["properties"]["status"]["properties"]["observedGeneration"].is_object());
}

/// A spec whose list-map key is optional: the structural check names the field and the rule.
#[derive(CustomResource, Serialize, Deserialize, JsonSchema, Clone, Debug)]
#[kube(
    group = "t.eso-gen.dev",
    version = "v1",
    kind = "Broken",
    namespaced,
    schema = "disabled",
    crates(
        kube_core = "::eso_runtime::__private::kube_core",
        k8s_openapi = "::eso_runtime::__private::k8s_openapi",
        schemars = "::eso_runtime::__private::schemars",
        serde = "::eso_runtime::__private::serde",
        serde_json = "::eso_runtime::__private::serde_json"
    )
)]
pub struct BrokenSpec {
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["value"]))]
    keyed: Vec<Keyed>,
}

#[test]
fn a_non_structural_schema_is_refused_with_the_field_and_rule() {
    let error = eso_runtime::crd::build::<Broken, BrokenSpec>().unwrap_err();
    assert_eq!(error.kind(), eso_runtime::ErrorKind::InvalidConfig);
    assert!(error.message().contains("Broken v1: .spec.keyed"), "{error}");
    assert!(
        error
            .message()
            .contains("list map key value must be required or have a default"),
        "{error}"
    );
}
