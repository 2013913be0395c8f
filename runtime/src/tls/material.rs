//! Reading the CA, certificate chain and key (PKCS#1, PKCS#8 or SEC1) from PEM files.
//! Only regular files are read (symlinks followed), each at most
//! [`TlsMaterial::MAX_FILE_BYTES`]: a FIFO, a device or a huge file in the
//! certificate folder is an error naming it, never a hang.

use super::TlsError;
use crate::fs::{FileError, Stamp, shown};
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
    /// The three paths with what each file is, in the order ca, cert, key.
    pub(super) fn all(&self) -> [(&Path, &'static str); 3] {
        [
            (self.ca.as_path(), ROLES[0]),
            (self.cert.as_path(), ROLES[1]),
            (self.key.as_path(), ROLES[2]),
        ]
    }

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

/// Reads one of the three files safely (see [`crate::fs::read_regular`]), with the
/// stamp of the version read.
pub(super) fn read(path: &Path, what: &'static str) -> Result<(Vec<u8>, Stamp), FileError> {
    crate::fs::read_regular(path, what, TlsMaterial::MAX_FILE_BYTES)
}

/// What each file is, in errors.
pub(super) const ROLES: [&str; 3] = ["CA certificate", "certificate", "private key"];

fn certificates(bytes: &[u8], path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<_, _>>()
        .map_err(|error| TlsError(format!("{what} {} is not valid PEM: {error}", shown(path))))?;
    if certs.is_empty() {
        return Err(TlsError(format!(
            "{what} {} contains no CERTIFICATE block",
            shown(path)
        )));
    }
    Ok(certs)
}

impl TlsMaterial {
    /// The largest certificate or key file read: 1 MiB (a PEM chain is a few KiB).
    pub const MAX_FILE_BYTES: u64 = 1 << 20;

    /// Reads and parses the three files. Keys may be PKCS#1 (`RSA PRIVATE KEY`),
    /// PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`). A file that is not a
    /// regular file, or is larger than [`MAX_FILE_BYTES`](Self::MAX_FILE_BYTES),
    /// is an error naming it; the read never blocks on it.
    pub fn load(paths: &CertPaths) -> Result<Self, TlsError> {
        let [ca, chain, key] = paths.all().map(|(path, what)| read(path, what).map(|(bytes, _)| bytes));
        let tls = |error: FileError| TlsError(error.to_string());
        Self::from_pem(&ca.map_err(tls)?, &chain.map_err(tls)?, &key.map_err(tls)?, paths)
    }

    /// Parses PEM bytes; `paths` name the origin in errors.
    pub fn from_pem(ca: &[u8], chain: &[u8], key: &[u8], paths: &CertPaths) -> Result<Self, TlsError> {
        let ca = certificates(ca, &paths.ca, "CA certificate")?;
        let chain = certificates(chain, &paths.cert, "certificate")?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|error| {
            TlsError(format!(
                "private key {} holds no PKCS#1, PKCS#8 or SEC1 key: {error}",
                shown(&paths.key)
            ))
        })?;
        Ok(TlsMaterial { ca, chain, key })
    }
}
