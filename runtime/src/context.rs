//! What a provider's `connect` and a generator's methods get to know about the call:
//! the object, and a way to read credentials that the scope allows.

use crate::display::bounded;
use crate::scope::Scope;
use crate::source::{ObjectKey, Source, StoredObject};
use crate::{Error, Result, SecretValue};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// A reference to one key of a Kubernetes Secret, read under the store's
/// authentication scope. A namespace is honoured only for cluster-scoped stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    /// The Secret's name.
    pub name: String,
    /// The key in the Secret's data.
    pub key: String,
    /// The Secret's namespace; only for cluster-scoped stores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A Secret a `connect` read, and the version it read, so the runtime knows when
/// to rebuild the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecretVersion {
    pub secret: ObjectKey,
    pub resource_version: String,
}

/// The call's context: the provider object and its scope.
pub struct Ctx {
    object: Arc<StoredObject>,
    scope: Scope,
    source: Arc<dyn Source>,
    secrets_read: Mutex<Vec<SecretVersion>>,
}

impl Ctx {
    pub(crate) fn new(object: Arc<StoredObject>, scope: Scope, source: Arc<dyn Source>) -> Self {
        Ctx {
            object,
            scope,
            source,
            secrets_read: Mutex::new(Vec::new()),
        }
    }

    /// The provider (or generator) object's name.
    pub fn name(&self) -> &str {
        &self.object.name
    }

    /// The provider (or generator) object's namespace.
    pub fn namespace(&self) -> &str {
        &self.object.namespace
    }

    /// The provider (or generator) object's UID.
    pub fn uid(&self) -> &str {
        &self.object.uid
    }

    /// `Kind namespace/name`, for messages.
    pub fn describe(&self) -> String {
        self.object.to_string()
    }

    /// The namespaces this call may touch.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Reads one key of a Secret, from the namespace the scope allows. Errors name
    /// the Secret and key, never the value.
    pub async fn secret(&self, selector: &SecretKeySelector) -> Result<SecretValue> {
        let namespace = self
            .scope
            .credential_namespace(selector.namespace.as_deref())
            .map_err(|e| {
                e.context(format!(
                    "{} reading Secret {}",
                    self.describe(),
                    bounded(&selector.name)
                ))
            })?;
        let secret = self
            .source
            .fetch_secret(&namespace, &selector.name)
            .await
            .map_err(|e| e.context(self.describe()))?
            .ok_or_else(|| {
                Error::invalid_config(format!(
                    "{}: Secret {}/{} not found",
                    self.describe(),
                    bounded(&namespace),
                    bounded(&selector.name)
                ))
            })?;
        if let Ok(mut read) = self.secrets_read.lock() {
            read.push(SecretVersion {
                secret: ObjectKey::new(&namespace, &secret.name),
                resource_version: secret.resource_version.clone(),
            });
        }
        secret.data.get(&selector.key).cloned().ok_or_else(|| {
            Error::invalid_config(format!(
                "{}: Secret {}/{} has no key {}",
                self.describe(),
                bounded(&namespace),
                bounded(&selector.name),
                bounded(&selector.key)
            ))
        })
    }

    pub(crate) fn take_secret_versions(&self) -> Vec<SecretVersion> {
        self.secrets_read
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}
