//! From what the API server sends to what the runtime looks up: done once per
//! watch event, so calls never parse.

use crate::SecretValue;
use crate::source::ObjectKey;
use crate::source::{StoredObject, StoredSecret};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ApiResource, DynamicObject};
use std::collections::BTreeMap;

/// A provider or generator object of the watched `resource`.
pub(crate) fn stored_object(
    resource: &ApiResource,
    object: DynamicObject,
) -> Result<(ObjectKey, StoredObject), String> {
    let metadata = object.metadata;
    let name = metadata.name.ok_or("an object without metadata.name")?;
    let namespace = metadata.namespace.ok_or_else(|| {
        format!(
            "{} {name} has no namespace; provider kinds are namespaced",
            resource.kind
        )
    })?;
    let mut data = object.data;
    let spec = data.get_mut("spec").map(serde_json::Value::take).unwrap_or_default();
    let status = data
        .get_mut("status")
        .map(serde_json::Value::take)
        .and_then(|status| serde_json::from_value(status).ok())
        .unwrap_or_default();
    let stored = StoredObject {
        api_version: resource.api_version.clone(),
        kind: resource.kind.clone(),
        name: name.clone(),
        namespace: namespace.clone(),
        uid: metadata.uid.unwrap_or_default(),
        resource_version: metadata.resource_version.unwrap_or_default(),
        generation: metadata.generation,
        annotations: metadata.annotations.unwrap_or_default(),
        spec,
        status,
    };
    Ok((ObjectKey { namespace, name }, stored))
}

/// A Secret, its `data` merged with `stringData` (which the API server normally folds in).
pub(crate) fn stored_secret(secret: Secret) -> Result<(ObjectKey, StoredSecret), String> {
    let metadata = secret.metadata;
    let name = metadata.name.ok_or("a Secret without metadata.name")?;
    let namespace = metadata
        .namespace
        .ok_or_else(|| format!("Secret {name} has no namespace"))?;
    let mut data: BTreeMap<String, SecretValue> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(key, bytes)| (key, SecretValue::new(bytes.0)))
        .collect();
    for (key, text) in secret.string_data.unwrap_or_default() {
        data.insert(key, SecretValue::from(text));
    }
    let stored = StoredSecret {
        name: name.clone(),
        namespace: namespace.clone(),
        resource_version: metadata.resource_version.unwrap_or_default(),
        data,
    };
    Ok((ObjectKey { namespace, name }, stored))
}
