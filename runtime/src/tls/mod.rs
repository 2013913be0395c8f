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

/// The subject CN and DNS SANs of a certificate (empty if it does not parse).
pub fn certificate_names(der: &[u8]) -> Vec<String> {
    let Ok((_, certificate)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let mut names: Vec<String> = certificate
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_string))
        .collect();
    if let Ok(Some(san)) = certificate.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(dns) = name {
                names.push(dns.to_string());
            }
        }
    }
    names
}

/// A TLS failure, with the file it concerns and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);
