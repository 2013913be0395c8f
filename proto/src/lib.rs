//! The wire contract between External Secrets Operator (ESO) core and out-of-process
//! providers, as Rust types and tonic services.
//!
//! Two packages, field for field as ESO core sends them:
//! - [`provider::v1`]: the `SecretStoreProvider` service (GetSecret, PushSecret, …);
//! - [`generator::v1`]: the `GeneratorProvider` service (Generate, Cleanup).
//!
//! [`FILE_DESCRIPTOR_SET`] holds the encoded descriptors for gRPC server reflection.
//!
//! ```
//! use eso_proto::provider::v1::{GetSecretRequest, ProviderReference};
//!
//! let request = GetSecretRequest {
//!     provider_ref: Some(ProviderReference {
//!         api_version: "provider.external-secrets.io/v2alpha1".into(),
//!         kind: "Fake".into(),
//!         name: "backend".into(),
//!         namespace: "default".into(),
//!         store_ref_kind: "SecretStore".into(),
//!     }),
//!     ..Default::default()
//! };
//! assert_eq!(request.provider_ref.unwrap().kind, "Fake");
//! ```

/// Package `provider.v1`.
pub mod provider {
    /// Version 1 of the secret store provider protocol.
    #[allow(missing_docs, clippy::all)]
    pub mod v1 {
        tonic::include_proto!("provider.v1");
    }
}

/// Package `generator.v1`.
pub mod generator {
    /// Version 1 of the generator protocol.
    #[allow(missing_docs, clippy::all)]
    pub mod v1 {
        tonic::include_proto!("generator.v1");
    }
}

/// The encoded `FileDescriptorSet` of both packages, for gRPC server reflection
/// and for clients that build requests dynamically.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/eso_descriptor.bin"));

/// Fully qualified name of the secret store service.
pub const SECRET_STORE_SERVICE: &str = "provider.v1.SecretStoreProvider";
/// Fully qualified name of the generator service.
pub const GENERATOR_SERVICE: &str = "generator.v1.GeneratorProvider";
