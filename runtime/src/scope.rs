//! Authentication scopes: the one place that decides which namespace a provider
//! object is read from and which namespaces its credentials may come from.
//! Provider authors never write namespace logic.
//!
//! "object ns" is `provider_ref.namespace`, falling back to `source_namespace` (the
//! ExternalSecret's namespace). A cluster store's authentication scope comes from
//! the provider object's annotation `external-secrets.io/authentication-scope`
//! (`ProviderNamespace`, the default, or `ManifestNamespace`).
//!
//! | `store_ref_kind` | provider object from | credentials from | refused (`PERMISSION_DENIED`) |
//! | --- | --- | --- | --- |
//! | `SecretStore`, `ProviderStore`, `Provider`, empty or unknown (strictest) | object ns | object ns | `provider_ref.namespace` ≠ `source_namespace` when both are set; a selector naming another namespace |
//! | `ClusterSecretStore`, `ClusterProviderStore`, `ClusterProvider`, `ProviderNamespace` | object ns | object ns, or the selector's explicit namespace | — |
//! | same, `ManifestNamespace` | object ns | `source_namespace` | a selector naming any namespace |
//!
//! The kinds are every upstream core generation's ([`STORE_REF_KINDS`]): the newest
//! sends `SecretStore`/`ClusterSecretStore`, the April 2026 branches
//! `ProviderStore`/`ClusterProviderStore`, the earliest `Provider`/`ClusterProvider`.
//!
//! Both namespaces empty is `FAILED_PRECONDITION`; so is a `ManifestNamespace` store
//! asked for credentials on a call without `source_namespace` (cluster store
//! validation), which Validate reports in-band.

use crate::display::bounded;
use crate::{Error, Result};
use std::collections::BTreeMap;

/// The annotation on a provider object that sets a cluster store's authentication scope.
pub const AUTHENTICATION_SCOPE_ANNOTATION: &str = "external-secrets.io/authentication-scope";

/// Whether the ESO object a request came through is namespaced or cluster-wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// `SecretStore`, `ProviderStore`, `Provider`, or anything unknown (treated as
    /// the strictest).
    Namespaced,
    /// `ClusterSecretStore`, `ClusterProviderStore` or `ClusterProvider`.
    Cluster,
}

/// Every `store_ref_kind` an upstream core generation sends, and its scope.
pub const STORE_REF_KINDS: [(&str, StoreKind); 6] = [
    ("SecretStore", StoreKind::Namespaced),
    ("ClusterSecretStore", StoreKind::Cluster),
    ("ProviderStore", StoreKind::Namespaced),
    ("ClusterProviderStore", StoreKind::Cluster),
    ("Provider", StoreKind::Namespaced),
    ("ClusterProvider", StoreKind::Cluster),
];

impl StoreKind {
    /// Classifies `store_ref_kind` ([`STORE_REF_KINDS`]); empty and unknown values
    /// are namespaced.
    pub fn from_store_ref_kind(store_ref_kind: &str) -> Self {
        STORE_REF_KINDS
            .iter()
            .find(|(kind, _)| *kind == store_ref_kind)
            .map_or(StoreKind::Namespaced, |(_, scope)| *scope)
    }
}

/// Where a cluster store reads credentials from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthenticationScope {
    /// From the provider object's namespace (or a selector's explicit namespace).
    ProviderNamespace,
    /// From the namespace of the ExternalSecret that asked (`source_namespace`).
    ManifestNamespace,
}

/// Which credentials a scope reaches, borrowed (see [`Scope::credential_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Credential<'a> {
    /// A namespaced store: its own namespace.
    Namespaced,
    /// A cluster store reading from the provider's namespace.
    Cluster,
    /// A cluster store reading from the caller's namespace.
    ClusterManifest(&'a str),
}

/// The namespaces one request may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    store: StoreKind,
    object_namespace: String,
    source_namespace: Option<String>,
    authentication: AuthenticationScope,
}

impl Scope {
    /// Decides from the request where the provider object lives, refusing
    /// namespaced requests whose namespaces disagree.
    pub fn from_request(store_ref_kind: &str, provider_namespace: &str, source_namespace: &str) -> Result<Self> {
        let store = StoreKind::from_store_ref_kind(store_ref_kind);
        let source_namespace = (!source_namespace.is_empty()).then(|| source_namespace.to_string());
        let object_namespace = match (provider_namespace.is_empty(), &source_namespace) {
            (false, _) => provider_namespace.to_string(),
            (true, Some(source)) => source.clone(),
            (true, None) => {
                return Err(Error::invalid_config(
                    "the request names no namespace: provider_ref.namespace and source_namespace are both empty",
                ));
            }
        };
        if store == StoreKind::Namespaced
            && let Some(source) = &source_namespace
            && source != &object_namespace
        {
            let store_name = if store_ref_kind.is_empty() {
                "SecretStore"
            } else {
                store_ref_kind
            };
            return Err(Error::permission_denied(format!(
                "a namespaced store ({}) in namespace {} may not use a provider object in namespace {}",
                bounded(store_name),
                bounded(source),
                bounded(&object_namespace)
            )));
        }
        Ok(Scope {
            store,
            object_namespace,
            source_namespace,
            authentication: AuthenticationScope::ProviderNamespace,
        })
    }

    /// Reads a cluster store's authentication scope from the provider object's
    /// annotations. Namespaced stores ignore the annotation: they never leave
    /// their namespace.
    pub fn with_object_annotations(mut self, annotations: &BTreeMap<String, String>) -> Result<Self> {
        if self.store == StoreKind::Cluster {
            self.authentication = match annotations.get(AUTHENTICATION_SCOPE_ANNOTATION).map(String::as_str) {
                None | Some("ProviderNamespace") => AuthenticationScope::ProviderNamespace,
                Some("ManifestNamespace") => AuthenticationScope::ManifestNamespace,
                Some(other) => {
                    return Err(Error::invalid_config(format!(
                        "annotation {AUTHENTICATION_SCOPE_ANNOTATION} is \"{}\"; expected ProviderNamespace or ManifestNamespace",
                        bounded(other)
                    )));
                }
            };
        }
        Ok(self)
    }

    /// The namespace the provider object is read from.
    pub fn object_namespace(&self) -> &str {
        &self.object_namespace
    }

    /// The ExternalSecret's namespace, when the call has one.
    pub fn source_namespace(&self) -> Option<&str> {
        self.source_namespace.as_deref()
    }

    /// Whether the request came through a namespaced or a cluster store.
    pub fn store_kind(&self) -> StoreKind {
        self.store
    }

    /// The authentication scope in force (always `ProviderNamespace` for namespaced stores).
    pub fn authentication(&self) -> AuthenticationScope {
        self.authentication
    }

    /// Whether a call in this scope may record the object's readiness on its status.
    /// Not for `ManifestNamespace`: each ExternalSecret's namespace brings its own
    /// credentials, so whether the object works depends on who calls.
    pub(crate) fn reports_object_status(&self) -> bool {
        self.authentication != AuthenticationScope::ManifestNamespace
    }

    /// Identifies which credentials this scope can reach, for caching: two calls
    /// with the same object and the same key may share a backend client; calls with
    /// different keys (e.g. ManifestNamespace stores called from two namespaces)
    /// must not.
    pub fn credential_key(&self) -> String {
        match (self.store, self.authentication) {
            (StoreKind::Namespaced, _) => "namespaced".into(),
            (StoreKind::Cluster, AuthenticationScope::ProviderNamespace) => "cluster".into(),
            (StoreKind::Cluster, AuthenticationScope::ManifestNamespace) => {
                format!("cluster-manifest:{}", self.source_namespace.as_deref().unwrap_or(""))
            }
        }
    }

    /// [`credential_key`](Self::credential_key) without allocating: what the
    /// client cache compares on every call.
    pub(crate) fn credential(&self) -> Credential<'_> {
        match (self.store, self.authentication) {
            (StoreKind::Namespaced, _) => Credential::Namespaced,
            (StoreKind::Cluster, AuthenticationScope::ProviderNamespace) => Credential::Cluster,
            (StoreKind::Cluster, AuthenticationScope::ManifestNamespace) => {
                Credential::ClusterManifest(self.source_namespace.as_deref().unwrap_or(""))
            }
        }
    }

    /// The namespace a credential may be read from, given the namespace a
    /// selector names explicitly (if any); refuses what crosses a boundary.
    pub fn credential_namespace(&self, requested: Option<&str>) -> Result<String> {
        let requested = requested.filter(|ns| !ns.is_empty());
        match (self.store, self.authentication) {
            (StoreKind::Namespaced, _) => match requested {
                Some(ns) if ns != self.object_namespace => Err(Error::permission_denied(format!(
                    "a namespaced store may only read credentials from its own namespace {}, not {}",
                    bounded(&self.object_namespace),
                    bounded(ns)
                ))),
                _ => Ok(self.object_namespace.clone()),
            },
            (StoreKind::Cluster, AuthenticationScope::ProviderNamespace) => {
                Ok(requested.unwrap_or(&self.object_namespace).to_string())
            }
            (StoreKind::Cluster, AuthenticationScope::ManifestNamespace) => {
                if let Some(ns) = requested {
                    return Err(Error::permission_denied(format!(
                        "authentication scope ManifestNamespace reads credentials from the ExternalSecret's namespace; a selector may not name namespace {}",
                        bounded(ns)
                    )));
                }
                self.source_namespace.clone().ok_or_else(|| {
                    Error::invalid_config(
                        "authentication scope ManifestNamespace needs the ExternalSecret's namespace, and this call has none (source_namespace is empty)",
                    )
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn kind(result: Result<impl std::fmt::Debug>) -> Option<ErrorKind> {
        result.err().map(|e| e.kind())
    }

    fn annotated(scope: &str) -> BTreeMap<String, String> {
        [(AUTHENTICATION_SCOPE_ANNOTATION.to_string(), scope.to_string())].into()
    }

    #[test]
    fn object_namespace_falls_back_to_source_namespace() {
        let scope = Scope::from_request("SecretStore", "", "team-a");
        assert_eq!(scope.map(|s| s.object_namespace().to_string()), Ok("team-a".into()));
        let scope = Scope::from_request("ClusterSecretStore", "providers", "team-a");
        assert_eq!(scope.map(|s| s.object_namespace().to_string()), Ok("providers".into()));
    }

    #[test]
    fn every_upstream_store_kind_has_its_scope() {
        let cluster = ["ClusterSecretStore", "ClusterProviderStore", "ClusterProvider"];
        let namespaced = [
            "SecretStore",
            "ProviderStore",
            "Provider",
            "",
            "SomethingNew",
            "clustersecretstore",
        ];
        for kind in cluster {
            assert_eq!(StoreKind::from_store_ref_kind(kind), StoreKind::Cluster, "{kind}");
            // A cluster store may use a provider object in another namespace.
            assert!(Scope::from_request(kind, "providers", "team-a").is_ok(), "{kind}");
        }
        for kind in namespaced {
            assert_eq!(StoreKind::from_store_ref_kind(kind), StoreKind::Namespaced, "{kind:?}");
        }
        assert_eq!(STORE_REF_KINDS.len(), cluster.len() + 3);
    }

    #[test]
    fn no_namespace_at_all_is_failed_precondition() {
        for store in ["SecretStore", "ClusterSecretStore", ""] {
            assert_eq!(kind(Scope::from_request(store, "", "")), Some(ErrorKind::InvalidConfig));
        }
    }

    #[test]
    fn namespaced_stores_refuse_disagreeing_namespaces() {
        for store in ["SecretStore", "ProviderStore", "Provider", "", "SomethingNew"] {
            assert_eq!(
                kind(Scope::from_request(store, "team-b", "team-a")),
                Some(ErrorKind::PermissionDenied),
                "{store}"
            );
            assert!(Scope::from_request(store, "team-a", "team-a").is_ok());
            // Validate of a namespaced store may come without source_namespace.
            assert!(Scope::from_request(store, "team-a", "").is_ok());
        }
    }

    #[test]
    fn namespaced_credentials_stay_in_the_object_namespace() -> Result<()> {
        let scope = Scope::from_request("SecretStore", "team-a", "team-a")?
            .with_object_annotations(&annotated("ManifestNamespace"))?;
        assert_eq!(scope.authentication(), AuthenticationScope::ProviderNamespace);
        assert!(scope.reports_object_status());
        assert_eq!(scope.credential_namespace(None)?, "team-a");
        assert_eq!(scope.credential_namespace(Some("team-a"))?, "team-a");
        assert_eq!(
            kind(scope.credential_namespace(Some("kube-system"))),
            Some(ErrorKind::PermissionDenied)
        );
        Ok(())
    }

    #[test]
    fn cluster_provider_namespace_scope() -> Result<()> {
        for annotations in [BTreeMap::new(), annotated("ProviderNamespace")] {
            let scope = Scope::from_request("ClusterSecretStore", "providers", "team-a")?
                .with_object_annotations(&annotations)?;
            assert_eq!(scope.credential_namespace(None)?, "providers");
            assert_eq!(scope.credential_namespace(Some("vault-creds"))?, "vault-creds");
            assert!(scope.reports_object_status());
        }
        // Cluster store validation: no source namespace, still fine.
        let scope = Scope::from_request("ClusterProvider", "providers", "")?;
        assert_eq!(scope.credential_namespace(None)?, "providers");
        Ok(())
    }

    #[test]
    fn cluster_manifest_namespace_scope() -> Result<()> {
        let scope = Scope::from_request("ClusterSecretStore", "providers", "team-a")?
            .with_object_annotations(&annotated("ManifestNamespace"))?;
        assert_eq!(scope.credential_namespace(None)?, "team-a");
        // Readiness depends on the caller's namespace: not written on the object.
        assert!(!scope.reports_object_status());
        assert_eq!(
            kind(scope.credential_namespace(Some("team-a"))),
            Some(ErrorKind::PermissionDenied)
        );
        assert_eq!(
            kind(scope.credential_namespace(Some("providers"))),
            Some(ErrorKind::PermissionDenied)
        );
        let validation = Scope::from_request("ClusterSecretStore", "providers", "")?
            .with_object_annotations(&annotated("ManifestNamespace"))?;
        assert_eq!(
            kind(validation.credential_namespace(None)),
            Some(ErrorKind::InvalidConfig)
        );
        Ok(())
    }

    #[test]
    fn unknown_scope_annotation_is_a_config_error() -> Result<()> {
        let scope = Scope::from_request("ClusterSecretStore", "providers", "team-a")?;
        assert_eq!(
            kind(scope.with_object_annotations(&annotated("Everywhere"))),
            Some(ErrorKind::InvalidConfig)
        );
        Ok(())
    }
}
