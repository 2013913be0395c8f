//! Mutual TLS for the gRPC server: certificates from files (ESO's Secret layout),
//! checked at startup and on every change, and reloaded without a restart.

mod check;
pub mod issue;
mod material;
mod reload;

pub use check::{CertificateCheck, ExpectedNames, check_material};
pub use material::{CertPaths, TlsMaterial};
pub(crate) use reload::TlsReloader;

use std::sync::Arc;

/// Our one crypto provider: rustls on `ring`.
pub(crate) fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A name a certificate is valid for, from its subject alternative names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SubjectAltName {
    Dns(String),
    Ip(std::net::IpAddr),
}

impl std::fmt::Display for SubjectAltName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubjectAltName::Dns(name) => f.write_str(name),
            SubjectAltName::Ip(ip) => ip.fmt(f),
        }
    }
}

/// The DNS names and IP addresses among a certificate's subject alternative
/// names (the one SAN parser: the self-check and the client-identity check).
pub(crate) fn subject_alt_names(certificate: &x509_parser::certificate::X509Certificate<'_>) -> Vec<SubjectAltName> {
    use x509_parser::extensions::GeneralName;
    let Ok(Some(san)) = certificate.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(SubjectAltName::Dns(dns.to_string())),
            GeneralName::IPAddress(ip) => match ip.len() {
                4 => Some(SubjectAltName::Ip(
                    std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).into(),
                )),
                16 => {
                    let mut octets = [0u8; 16];
                    octets.copy_from_slice(ip);
                    Some(SubjectAltName::Ip(std::net::Ipv6Addr::from(octets).into()))
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// The subject CN and DNS SANs of a certificate (empty if it does not parse): the
/// names a client identity is matched against.
pub(crate) fn certificate_names(der: &[u8]) -> Vec<String> {
    let Ok((_, certificate)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let mut names: Vec<String> = certificate
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_string))
        .collect();
    names.extend(
        subject_alt_names(&certificate)
            .into_iter()
            .filter_map(|name| match name {
                SubjectAltName::Dns(dns) => Some(dns),
                SubjectAltName::Ip(_) => None,
            }),
    );
    names
}

/// The trust anchors in `ca.crt` (the one root-store builder: the server's client
/// verifier and the self-check).
pub(crate) fn trust_anchors(
    ca: impl IntoIterator<Item = rustls::pki_types::CertificateDer<'static>>,
) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in ca {
        roots.add(certificate).map_err(|error| {
            TlsError(format!(
                "ca.crt holds a certificate that cannot be a trust anchor: {error}"
            ))
        })?;
    }
    Ok(roots)
}

/// A TLS failure, with the file it concerns and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);
