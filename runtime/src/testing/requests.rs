//! Wire requests built the way ESO core sends them, for tests: one
//! [`StoreCall`] or [`GeneratorCall`] per provider object, one method per RPC.
//!
//! ```
//! use eso_runtime::Gvk;
//! use eso_runtime::testing::requests::StoreCall;
//!
//! const FAKE: Gvk = Gvk { group: "provider.external-secrets.io", version: "v2alpha1", kind: "Fake" };
//! let call = StoreCall::new(&FAKE, "team-a", "backend");
//! let request = call.get("db/password", "", "");
//! assert_eq!(request.source_namespace, "team-a");
//! assert_eq!(request.provider_ref.map(|r| r.store_ref_kind), Some("SecretStore".to_string()));
//! let cluster = call.through("ClusterSecretStore").from_namespace("team-b");
//! assert_eq!(cluster.validate().source_namespace, "team-b");
//! ```

use crate::Gvk;
use eso_proto::generator::v1 as gen_wire;
use eso_proto::provider::v1 as wire;

/// Requests about one provider object, as ESO core sends them.
#[derive(Debug, Clone)]
pub struct StoreCall {
    provider_ref: wire::ProviderReference,
    source_namespace: String,
}

impl StoreCall {
    /// Calls through a `SecretStore` in the object's namespace, from an
    /// ExternalSecret in that namespace.
    pub fn new(gvk: &Gvk, namespace: &str, name: &str) -> Self {
        StoreCall {
            provider_ref: super::provider_ref(gvk, namespace, name),
            source_namespace: namespace.to_string(),
        }
    }

    /// Calls about any reference (one built at run time, e.g. from a command
    /// line), from an ExternalSecret in `source_namespace`.
    pub fn from_ref(provider_ref: wire::ProviderReference, source_namespace: &str) -> Self {
        StoreCall {
            provider_ref,
            source_namespace: source_namespace.to_string(),
        }
    }

    /// The same object reached through another ESO object
    /// (`ClusterSecretStore`, `Provider`, `ClusterProvider`, …).
    pub fn through(mut self, store_ref_kind: &str) -> Self {
        self.provider_ref.store_ref_kind = store_ref_kind.to_string();
        self
    }

    /// Asked for by an ExternalSecret in `namespace` (`""`: no source namespace,
    /// as on a cluster store's validation).
    pub fn from_namespace(mut self, namespace: &str) -> Self {
        self.source_namespace = namespace.to_string();
        self
    }

    /// The `ProviderReference` sent.
    pub fn provider_ref(&self) -> wire::ProviderReference {
        self.provider_ref.clone()
    }

    /// GetSecret of `key` (`version` and `property` may be empty).
    pub fn get(&self, key: &str, version: &str, property: &str) -> wire::GetSecretRequest {
        wire::GetSecretRequest {
            remote_ref: Some(remote(key, version, property)),
            provider_ref: Some(self.provider_ref()),
            source_namespace: self.source_namespace.clone(),
        }
    }

    /// GetSecretMap of `key`.
    pub fn get_map(&self, key: &str, version: &str, property: &str) -> wire::GetSecretMapRequest {
        wire::GetSecretMapRequest {
            remote_ref: Some(remote(key, version, property)),
            provider_ref: Some(self.provider_ref()),
            source_namespace: self.source_namespace.clone(),
        }
    }

    /// GetAllSecrets under `path`, names matching `regexp` (empty: any), with `tags`.
    pub fn find(&self, path: &str, regexp: &str, tags: &[(&str, &str)]) -> wire::GetAllSecretsRequest {
        wire::GetAllSecretsRequest {
            provider_ref: Some(self.provider_ref()),
            find: Some(wire::ExternalSecretFind {
                path: path.into(),
                name: (!regexp.is_empty()).then(|| wire::FindName { regexp: regexp.into() }),
                tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                ..Default::default()
            }),
            source_namespace: self.source_namespace.clone(),
        }
    }

    /// PushSecret of `data` (a Kubernetes Secret's data): `secret_key` of it (empty:
    /// the whole Secret) to `remote_key`, optionally one `property`, with provider
    /// `metadata` JSON (empty: none).
    pub fn push(
        &self,
        data: &[(&str, &str)],
        secret_key: &str,
        remote_key: &str,
        property: &str,
        metadata: &str,
    ) -> wire::PushSecretRequest {
        wire::PushSecretRequest {
            provider_ref: Some(self.provider_ref()),
            secret_data: data
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
            push_secret_data: Some(wire::PushSecretData {
                metadata: metadata.as_bytes().to_vec(),
                secret_key: secret_key.into(),
                remote_key: remote_key.into(),
                property: property.into(),
            }),
            source_namespace: self.source_namespace.clone(),
            secret_type: "Opaque".into(),
            ..Default::default()
        }
    }

    /// DeleteSecret of `remote_key` (or one `property` of it).
    pub fn delete(&self, remote_key: &str, property: &str) -> wire::DeleteSecretRequest {
        wire::DeleteSecretRequest {
            provider_ref: Some(self.provider_ref()),
            remote_ref: Some(push_remote(remote_key, property)),
            source_namespace: self.source_namespace.clone(),
        }
    }

    /// SecretExists of `remote_key` (or one `property` of it).
    pub fn exists(&self, remote_key: &str, property: &str) -> wire::SecretExistsRequest {
        wire::SecretExistsRequest {
            provider_ref: Some(self.provider_ref()),
            remote_ref: Some(push_remote(remote_key, property)),
            source_namespace: self.source_namespace.clone(),
        }
    }

    /// Validate.
    pub fn validate(&self) -> wire::ValidateRequest {
        wire::ValidateRequest {
            provider_ref: Some(self.provider_ref()),
            source_namespace: self.source_namespace.clone(),
        }
    }

    /// Capabilities.
    pub fn capabilities(&self) -> wire::CapabilitiesRequest {
        wire::CapabilitiesRequest {
            provider_ref: Some(self.provider_ref()),
            source_namespace: self.source_namespace.clone(),
        }
    }
}

/// Requests about one generator object, as ESO core sends them.
#[derive(Debug, Clone)]
pub struct GeneratorCall {
    generator_ref: gen_wire::GeneratorRef,
    source_namespace: String,
}

impl GeneratorCall {
    /// From an ExternalSecret in the generator object's namespace.
    pub fn new(gvk: &Gvk, namespace: &str, name: &str) -> Self {
        GeneratorCall {
            generator_ref: super::generator_ref(gvk, namespace, name),
            source_namespace: namespace.to_string(),
        }
    }

    /// Calls about any reference (one built at run time), from an ExternalSecret
    /// in `source_namespace`.
    pub fn from_ref(generator_ref: gen_wire::GeneratorRef, source_namespace: &str) -> Self {
        GeneratorCall {
            generator_ref,
            source_namespace: source_namespace.to_string(),
        }
    }

    /// Asked for by an ExternalSecret in `namespace`.
    pub fn from_namespace(mut self, namespace: &str) -> Self {
        self.source_namespace = namespace.to_string();
        self
    }

    /// The `GeneratorRef` sent.
    pub fn generator_ref(&self) -> gen_wire::GeneratorRef {
        self.generator_ref.clone()
    }

    /// Generate.
    pub fn generate(&self) -> gen_wire::GenerateRequest {
        gen_wire::GenerateRequest {
            generator_ref: Some(self.generator_ref.clone()),
            source_namespace: self.source_namespace.clone(),
        }
    }

    /// Cleanup with the `state` a Generate returned.
    pub fn cleanup(&self, state: Vec<u8>) -> gen_wire::CleanupRequest {
        gen_wire::CleanupRequest {
            generator_ref: Some(self.generator_ref.clone()),
            state,
            source_namespace: self.source_namespace.clone(),
        }
    }
}

/// The remote reference of a Get/GetMap request.
pub fn remote(key: &str, version: &str, property: &str) -> wire::ExternalSecretDataRemoteRef {
    wire::ExternalSecretDataRemoteRef {
        key: key.into(),
        version: version.into(),
        property: property.into(),
        ..Default::default()
    }
}

/// The remote reference of a Delete/Exists request.
pub fn push_remote(remote_key: &str, property: &str) -> wire::PushSecretRemoteRef {
    wire::PushSecretRemoteRef {
        remote_key: remote_key.into(),
        property: property.into(),
    }
}
