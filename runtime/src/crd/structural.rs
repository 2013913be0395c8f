//! Kubernetes' structural schema rules, checked on a CRD before any API server sees
//! it. Each violation names the field path and the rule, so the author knows which
//! Rust field to change.
//!
//! The rules (from the apiextensions validation of `apiextensions.k8s.io/v1`):
//! 1. every node has a non-empty `type`, unless it sets `x-kubernetes-int-or-string`
//!    or `x-kubernetes-preserve-unknown-fields`;
//! 2. inside `allOf`/`anyOf`/`oneOf`/`not` no `type`, `description`, `default`,
//!    `nullable`, `additionalProperties` or `x-kubernetes-*` extension, and every
//!    property or `items` named there is also specified outside the junctor;
//! 3. `properties` and `additionalProperties` are not both set; no `$ref`;
//! 4. `x-kubernetes-int-or-string` has no `type`; `x-kubernetes-preserve-unknown-fields`
//!    and `x-kubernetes-embedded-resource` only on objects;
//! 5. `metadata` at the root may only restrict `name` and `generateName`;
//! 6. `x-kubernetes-list-type: map` lists have object items whose
//!    `x-kubernetes-list-map-keys` are scalar properties that are required or defaulted;
//!    list types are `atomic`, `set` or `map`; map types are `atomic` or `granular`.

use super::CustomResourceDefinition;
use serde_json::{Map, Value};
use std::fmt;

/// One broken rule, at one place in the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructuralViolation {
    /// Where: `Kind vVersion: .spec.field[*].other`.
    pub path: String,
    /// Which rule, in words.
    pub rule: String,
}

impl fmt::Display for StructuralViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.rule)
    }
}

const JUNCTORS: [&str; 4] = ["allOf", "anyOf", "oneOf", "not"];
const FORBIDDEN_IN_JUNCTORS: [&str; 5] = ["type", "description", "default", "nullable", "additionalProperties"];

struct Checker {
    violations: Vec<StructuralViolation>,
}

impl Checker {
    fn violation(&mut self, path: &str, rule: impl Into<String>) {
        self.violations.push(StructuralViolation {
            path: if path.is_empty() { ".".into() } else { path.to_string() },
            rule: rule.into(),
        });
    }

    fn node(&mut self, node: &Value, path: &str, root: bool) {
        let Some(object) = node.as_object() else {
            self.violation(path, "a schema must be an object, not a boolean");
            return;
        };
        let flag = |key: &str| object.get(key).and_then(Value::as_bool).unwrap_or(false);
        let int_or_string = flag("x-kubernetes-int-or-string");
        let preserve = flag("x-kubernetes-preserve-unknown-fields");
        let kind = object.get("type").and_then(Value::as_str).unwrap_or("");

        if object.contains_key("$ref") {
            self.violation(
                path,
                "$ref is not allowed in a CRD schema; the referenced type must be inlined",
            );
        }
        if int_or_string && !kind.is_empty() {
            self.violation(path, "x-kubernetes-int-or-string must not also set a type");
        }
        if kind.is_empty() && !int_or_string && !preserve {
            self.violation(
                path,
                "has no type: every field needs one (use a concrete Rust type, or x-kubernetes-preserve-unknown-fields for free-form JSON)",
            );
        }
        if preserve && !kind.is_empty() && kind != "object" {
            self.violation(
                path,
                format!("x-kubernetes-preserve-unknown-fields is only allowed on objects, not {kind}"),
            );
        }
        if flag("x-kubernetes-embedded-resource") && kind != "object" {
            self.violation(path, "x-kubernetes-embedded-resource needs type object");
        }
        if object.contains_key("properties") && object.contains_key("additionalProperties") {
            self.violation(path, "properties and additionalProperties are mutually exclusive");
        }
        if let Some(list_type) = object.get("x-kubernetes-list-type").and_then(Value::as_str) {
            self.list_type(object, list_type, kind, path);
        }
        if let Some(map_type) = object.get("x-kubernetes-map-type").and_then(Value::as_str)
            && !matches!(map_type, "atomic" | "granular")
        {
            self.violation(
                path,
                format!("x-kubernetes-map-type {map_type:?} is not atomic or granular"),
            );
        }

        for junctor in JUNCTORS {
            if let Some(branches) = object.get(junctor) {
                let branches: Vec<&Value> = match branches {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                for (index, branch) in branches.into_iter().enumerate() {
                    self.junctor_branch(branch, object, &format!("{path}({junctor}[{index}])"));
                }
            }
        }

        if let Some(properties) = object.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                let child = format!("{path}.{name}");
                if root && name == "metadata" {
                    self.metadata(property, &child);
                    continue;
                }
                self.node(property, &child, false);
            }
        }
        match object.get("additionalProperties") {
            Some(Value::Object(_)) => {
                if let Some(schema) = object.get("additionalProperties") {
                    self.node(schema, &format!("{path}[*]"), false);
                }
            }
            Some(Value::Bool(false)) => {
                self.violation(path, "additionalProperties: false is not allowed in a CRD schema");
            }
            _ => {}
        }
        if let Some(items) = object.get("items") {
            self.node(items, &format!("{path}[*]"), false);
        }
    }

    /// Rule 2: junctor branches may only restrict what is specified outside them.
    fn junctor_branch(&mut self, branch: &Value, outer: &Map<String, Value>, path: &str) {
        let Some(branch) = branch.as_object() else { return };
        for key in branch.keys() {
            if FORBIDDEN_IN_JUNCTORS.contains(&key.as_str()) || key.starts_with("x-kubernetes-") {
                self.violation(path, format!("{key} is not allowed inside allOf/anyOf/oneOf/not"));
            }
        }
        if let Some(properties) = branch.get("properties").and_then(Value::as_object) {
            let outer_properties = outer.get("properties").and_then(Value::as_object);
            for (name, inner) in properties {
                match outer_properties.and_then(|p| p.get(name)) {
                    None => self.violation(
                        path,
                        format!("property {name} is specified inside the junctor but not outside it"),
                    ),
                    Some(_) => self.junctor_branch(inner, &Map::new(), &format!("{path}.{name}")),
                }
            }
        }
        if let Some(items) = branch.get("items") {
            if !outer.contains_key("items") {
                self.violation(path, "items are specified inside the junctor but not outside it");
            }
            self.junctor_branch(items, &Map::new(), &format!("{path}[*]"));
        }
        for junctor in JUNCTORS {
            if let Some(Value::Array(nested)) = branch.get(junctor) {
                for (index, inner) in nested.iter().enumerate() {
                    self.junctor_branch(inner, outer, &format!("{path}({junctor}[{index}])"));
                }
            }
        }
    }

    fn metadata(&mut self, node: &Value, path: &str) {
        let Some(object) = node.as_object() else { return };
        for key in object.keys() {
            if !matches!(key.as_str(), "type" | "properties" | "description") {
                self.violation(
                    path,
                    format!("metadata may only restrict name and generateName, not set {key}"),
                );
            }
        }
        if let Some(properties) = object.get("properties").and_then(Value::as_object) {
            for name in properties.keys() {
                if name != "name" && name != "generateName" {
                    self.violation(
                        path,
                        format!("metadata may only restrict name and generateName, not {name}"),
                    );
                }
            }
        }
    }

    fn list_type(&mut self, object: &Map<String, Value>, list_type: &str, kind: &str, path: &str) {
        if kind != "array" {
            self.violation(path, "x-kubernetes-list-type is only allowed on arrays");
        }
        match list_type {
            "atomic" | "set" => {}
            "map" => {
                let items = object.get("items").and_then(Value::as_object);
                let item_type = items.and_then(|i| i.get("type")).and_then(Value::as_str);
                if item_type != Some("object") {
                    self.violation(path, "x-kubernetes-list-type map needs items of type object");
                    return;
                }
                let keys: Vec<&str> = object
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| keys.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if keys.is_empty() {
                    self.violation(path, "x-kubernetes-list-type map needs x-kubernetes-list-map-keys");
                }
                let properties = items.and_then(|i| i.get("properties")).and_then(Value::as_object);
                let required: Vec<&str> = items
                    .and_then(|i| i.get("required"))
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for key in keys {
                    match properties.and_then(|p| p.get(key)) {
                        None => self.violation(path, format!("list map key {key} is not a property of the items")),
                        Some(property) => {
                            let scalar = matches!(
                                property.get("type").and_then(Value::as_str),
                                Some("string" | "integer" | "number" | "boolean")
                            );
                            if !scalar {
                                self.violation(path, format!("list map key {key} must be a scalar"));
                            }
                            if !required.contains(&key) && property.get("default").is_none() {
                                self.violation(path, format!("list map key {key} must be required or have a default"));
                            }
                        }
                    }
                }
            }
            other => self.violation(
                path,
                format!("x-kubernetes-list-type {other:?} is not atomic, set or map"),
            ),
        }
    }
}

/// Checks every version's schema; returns every violation found.
pub fn check_structural(crd: &CustomResourceDefinition) -> Result<(), Vec<StructuralViolation>> {
    let mut checker = Checker { violations: Vec::new() };
    let kind = &crd.spec.names.kind;
    for version in &crd.spec.versions {
        let at = format!("{kind} {}", version.name);
        let schema = version
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .map(serde_json::to_value);
        match schema {
            None => checker.violation(&at, "has no openAPIV3Schema; the API server requires one"),
            Some(Err(error)) => checker.violation(&at, format!("schema does not serialize: {error}")),
            Some(Ok(schema)) => {
                let before = checker.violations.len();
                checker.node(&schema, "", true);
                for violation in &mut checker.violations[before..] {
                    violation.path = format!("{at}: {}", violation.path);
                }
            }
        }
    }
    if checker.violations.is_empty() {
        Ok(())
    } else {
        Err(checker.violations)
    }
}

/// Panics with every violation, one per line; for tests.
pub fn assert_structural(crd: &CustomResourceDefinition) {
    if let Err(violations) = check_structural(crd) {
        let lines: Vec<String> = violations.iter().map(|v| format!("  {v}")).collect();
        panic!(
            "the CRD {} is not structural, so the API server would reject it:\n{}",
            crd.metadata.name.as_deref().unwrap_or("?"),
            lines.join("\n")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn violations(schema: Value) -> Vec<String> {
        let mut checker = Checker { violations: Vec::new() };
        checker.node(&schema, "", true);
        checker.violations.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn a_typed_tree_is_structural() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "a": {"type": "string"},
                "n": {"x-kubernetes-int-or-string": true},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "m": {"type": "object", "additionalProperties": {"type": "string"}},
                "l": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                      "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}},
                "e": {"type": "object", "properties": {"x": {"type": "string"}, "y": {"type": "string"}},
                      "oneOf": [{"required": ["x"]}, {"required": ["y"]}]}
            }}
        }});
        assert_eq!(violations(schema), Vec::<String>::new());
    }

    #[test]
    fn each_rule_names_the_path() {
        let schema = json!({"type": "object", "properties": {
            "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
            "spec": {"type": "object", "properties": {
                "untyped": {"description": "no type"},
                "both": {"type": "string", "x-kubernetes-int-or-string": true},
                "e": {"type": "object", "properties": {"x": {"type": "string"}},
                      "anyOf": [{"type": "object", "properties": {"y": {"type": "string"}}}]},
                "l": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"],
                      "items": {"type": "object", "properties": {"id": {"type": "string"}}}},
                "r": {"$ref": "#/definitions/X"},
                "closed": {"type": "object", "additionalProperties": false}
            }}
        }});
        let found = violations(schema);
        let expect = [
            ".metadata: metadata may only restrict name and generateName, not labels",
            ".spec.untyped: has no type",
            ".spec.both: x-kubernetes-int-or-string must not also set a type",
            ".spec.e(anyOf[0]): type is not allowed inside allOf/anyOf/oneOf/not",
            ".spec.e(anyOf[0]): property y is specified inside the junctor but not outside it",
            ".spec.l: list map key id must be required or have a default",
            ".spec.r: $ref is not allowed",
            ".spec.closed: additionalProperties: false is not allowed",
        ];
        for expected in expect {
            assert!(
                found.iter().any(|f| f.starts_with(expected)),
                "missing {expected:?} in {found:#?}"
            );
        }
        assert_eq!(found.len(), expect.len() + 1, "{found:#?}"); // .spec.r also has no type
    }
}
