//! Reading the CA, certificate chain and key (PKCS#1, PKCS#8 or SEC1) from PEM files.

use super::TlsError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};

/// Where the three PEM files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPaths {
    /// The CA that signs clients (and, in ESO's layout, this server): `ca.crt`.
    pub ca: PathBuf,
    /// This server's certificate chain: `tls.crt`.
    pub cert: PathBuf,
    /// This server's private key: `tls.key`.
    pub key: PathBuf,
}

impl CertPaths {
    /// `ca.crt`, `tls.crt` and `tls.key` in `dir`.
    pub fn in_dir(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        CertPaths {
            ca: dir.join("ca.crt"),
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
        }
    }
}

/// The parsed contents of the three files.
#[derive(Debug)]
pub struct TlsMaterial {
    /// CA certificates (trust anchors for client certificates).
    pub ca: Vec<CertificateDer<'static>>,
    /// The server's chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The server's key.
    pub key: PrivateKeyDer<'static>,
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError(format!("cannot read {what} {}: {error}", path.display())))
}

fn certificates(bytes: &[u8], path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<_, _>>()
        .map_err(|error| TlsError(format!("{what} {} is not valid PEM: {error}", path.display())))?;
    if certs.is_empty() {
        return Err(TlsError(format!(
            "{what} {} contains no CERTIFICATE block",
            path.display()
        )));
    }
    Ok(certs)
}

impl TlsMaterial {
    /// Reads and parses the three files. Keys may be PKCS#1 (`RSA PRIVATE KEY`),
    /// PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`).
    pub fn load(paths: &CertPaths) -> Result<Self, TlsError> {
        let ca = read(&paths.ca, "CA certificate")?;
        let chain = read(&paths.cert, "certificate")?;
        let key = read(&paths.key, "private key")?;
        Self::from_pem(&ca, &chain, &key, paths)
    }

    /// Parses PEM bytes; `paths` name the origin in errors.
    pub fn from_pem(ca: &[u8], chain: &[u8], key: &[u8], paths: &CertPaths) -> Result<Self, TlsError> {
        let ca = certificates(ca, &paths.ca, "CA certificate")?;
        let chain = certificates(chain, &paths.cert, "certificate")?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|error| {
            TlsError(format!(
                "private key {} holds no PKCS#1, PKCS#8 or SEC1 key: {error}",
                paths.key.display()
            ))
        })?;
        Ok(TlsMaterial { ca, chain, key })
    }
}
