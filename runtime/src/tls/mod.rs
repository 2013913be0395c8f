//! Mutual TLS for the gRPC server: certificates from files (ESO's Secret layout),
//! checked at startup and on every change, and reloaded without a restart.

mod check;
mod material;
mod reload;

pub use check::{CertificateCheck, ExpectedNames, check_material};
pub use material::{CertPaths, TlsMaterial};
pub use reload::TlsReloader;

use std::sync::Arc;

/// Our one crypto provider: rustls on `ring`.
pub(crate) fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS failure, with the file it concerns and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);
