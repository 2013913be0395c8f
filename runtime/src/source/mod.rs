//! Where provider objects and Secrets come from. The runtime asks a [`Source`]:
//! in a cluster the Kubernetes API through watch caches ([`kube::KubeSource`]);
//! on a laptop or out of cluster a folder of YAML manifests ([`files::FilesSource`]).
//! Steady-state lookups are in memory: a call never waits on I/O here, except the
//! first read of a Secret the Kubernetes source has not cached yet.

pub mod files;
pub mod kube;
mod status;

pub use status::ReadyState;

use crate::crd::ProviderStatus;
use crate::{Gvk, Result, SecretValue};
use futures::future::BoxFuture;
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
    /// `status` as last seen (conditions the runtime wrote before).
    pub status: ProviderStatus,
}

impl StoredObject {
    /// Whether `other` is the same configuration of the same object: same UID
    /// and `metadata.generation` where the source has one (status writes do not
    /// change it), else the same resource version.
    pub fn same_configuration(&self, other: &StoredObject) -> bool {
        self.uid == other.uid
            && match (self.generation, other.generation) {
                (Some(mine), Some(theirs)) => mine == theirs,
                _ => self.resource_version == other.resource_version,
            }
    }
}

impl StoredObject {
    /// Stands for an object that is gone (a generator's, at Cleanup): its kind,
    /// namespace and name, no UID, spec `null`.
    pub(crate) fn absent(gvk: &Gvk, namespace: &str, name: &str) -> Self {
        StoredObject {
            api_version: gvk.api_version(),
            kind: gvk.kind.to_string(),
            name: name.to_string(),
            namespace: namespace.to_string(),
            uid: String::new(),
            resource_version: String::new(),
            generation: None,
            annotations: BTreeMap::new(),
            spec: serde_json::Value::Null,
            status: ProviderStatus::default(),
        }
    }
}

/// Where a namespaced object is: namespace and name (the key of every cache of
/// objects and Secrets).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub(crate) fn new(namespace: &str, name: &str) -> Self {
        ObjectKey {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// Compared with borrowed parts, allocating nothing.
    pub(crate) fn is(&self, namespace: &str, name: &str) -> bool {
        self.namespace == namespace && self.name == name
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}",
            crate::display::bounded(&self.namespace),
            crate::display::bounded(&self.name)
        )
    }
}

impl fmt::Display for StoredObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::display::object_name(&self.kind, &self.namespace, &self.name).fmt(f)
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
    /// The Secret `namespace/name` as cached now, if it exists (never does I/O).
    fn secret(&self, namespace: &str, name: &str) -> Result<Option<Arc<StoredSecret>>>;
    /// The Secret `namespace/name`, if it exists, loading it first when the source
    /// caches Secrets on demand. Defaults to [`secret`](Self::secret).
    fn fetch_secret<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<StoredSecret>>>> {
        Box::pin(async move { self.secret(namespace, name) })
    }
    /// Whether the source has loaded and can answer.
    fn is_ready(&self) -> bool;
    /// Records whether the provider can use `object` (its `Ready` condition).
    /// Sources that cannot write status ignore it (the default).
    fn report(&self, object: &StoredObject, state: ReadyState) {
        let _ = (object, state);
    }
}
