//! Where provider objects and Secrets come from. The runtime asks a [`Source`];
//! today that is a folder of YAML manifests ([`files::FilesSource`], the dev and
//! out-of-cluster mode). Lookups are in-memory: a call never waits on I/O here.

pub mod files;

use crate::{Gvk, Result, SecretValue};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A provider or generator object as stored: identity plus its raw `spec`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    /// `group/version`.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.resourceVersion` (or a content hash where there is none).
    pub resource_version: String,
    /// `metadata.generation`, when known.
    pub generation: Option<i64>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `spec`, not yet typed.
    pub spec: serde_json::Value,
}

impl fmt::Display for StoredObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// A Kubernetes Secret as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSecret {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.resourceVersion` (or a content hash where there is none).
    pub resource_version: String,
    /// `data`, decoded, merged with `stringData`.
    pub data: BTreeMap<String, SecretValue>,
}

/// Provider objects and Secrets, looked up by namespace and name.
pub trait Source: Send + Sync + 'static {
    /// The object of kind `gvk` named `namespace/name`, if it exists.
    fn object(&self, gvk: &Gvk, namespace: &str, name: &str) -> Result<Option<Arc<StoredObject>>>;
    /// The Secret `namespace/name`, if it exists.
    fn secret(&self, namespace: &str, name: &str) -> Result<Option<Arc<StoredSecret>>>;
    /// Whether the source has loaded and can answer.
    fn is_ready(&self) -> bool;
}
