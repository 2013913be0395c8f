//! A HashiCorp Vault / OpenBao provider for External Secrets Operator, built on
//! eso-runtime:
//!
//! - Kind `Vault` (`provider.external-secrets.io/v2alpha1`): a read-write secret store
//!   on a KV v2 mount: versions, properties, recursive find by path, name and tags
//!   (`custom_metadata`), push (whole secret or one property), delete, exists, and a
//!   Validate that looks up the token and checks the mount.
//! - Kind `VaultToken`: a generator that creates tokens (orphans by default) and
//!   revokes them (by accessor) on Cleanup.
//!
//! Authentication is a token or AppRole, each credential read from a Kubernetes Secret
//! under the store's authentication scope; TLS to Vault uses rustls with the ring
//! provider, trusting a CA bundle from a Secret or the system roots.
//!
//! Keys and paths that become part of a URL follow the rules in [`key`]; every URL is
//! built by [`api_url`].

mod client;
mod generator;
pub mod key;
mod spec;
mod store;

pub use client::{ApiPath, CONNECT_TIMEOUT, REQUEST_TIMEOUT, VaultClient, api_path, api_url, kv_path};
pub use generator::{TOKEN_KEY, VaultTokenGenerator, VaultTokenState};
pub use key::{
    KeyProblem, MAX_KEY_BYTES, check_key, check_key_prefix, check_spec_path, key_problem, path_is_clean, segment_is_dot,
};
pub use spec::{
    AppRole, Connection, DEFAULT_APPROLE_PATH, DEFAULT_MOUNT, VaultAuth, VaultResource, VaultSpec, VaultTokenResource,
    VaultTokenSpec,
};
pub use store::{MAX_LISTED_KEYS, VaultKv, VaultStore};

/// A provider serving both kinds; `main` runs it.
pub fn provider(info: eso_runtime::ProviderInfo) -> eso_runtime::Provider {
    eso_runtime::Provider::new(info)
        .secret_store(VaultStore)
        .generator(VaultTokenGenerator)
}
