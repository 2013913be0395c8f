//! Certificates for mutual TLS in ESO's layout: a CA, a server certificate whose
//! SANs are the Service's names, and a client certificate with the CN ESO core uses.
//! Used by `--dev`, `eso-gen certs` and the test harness.

use super::CertPaths;
use crate::{Error, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::path::Path;
use std::time::Duration;
use time::OffsetDateTime;

/// The CN of ESO core's client certificate.
pub const ESO_CLIENT_COMMON_NAME: &str = "external-secrets-controller";
/// The Secret ESO core writes into a provider's namespace.
pub const TLS_SECRET_NAME: &str = "external-secrets-provider-tls";
/// Server and client validity ESO core uses.
pub const LEAF_VALIDITY: Duration = Duration::from_secs(90 * 24 * 3600);
/// CA validity ESO core uses.
pub const CA_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

/// The four forms of a Service's DNS name: `svc`, `svc.ns`, `svc.ns.svc`,
/// `svc.ns.svc.<cluster domain>`.
pub fn service_names(service: &str, namespace: &str, cluster_domain: &str) -> Vec<String> {
    vec![
        service.to_string(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.{cluster_domain}"),
    ]
}

/// A certificate and its private key, as PEM.
#[derive(Clone)]
pub struct KeyedCertificate {
    /// The certificate.
    pub cert_pem: String,
    /// The private key (PKCS#8).
    pub key_pem: String,
}

impl std::fmt::Debug for KeyedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedCertificate")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

fn rcgen_error(what: &str) -> impl FnOnce(rcgen::Error) -> Error + '_ {
    move |error| Error::internal(format!("{what}: {error}"))
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    /// Not before.
    pub not_before: OffsetDateTime,
    /// Not after.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// From a minute ago (clock skew) for `duration`.
    pub fn starting_now(duration: Duration) -> Self {
        let now = OffsetDateTime::now_utc();
        Validity {
            not_before: now - time::Duration::minutes(1),
            not_after: now + duration,
        }
    }
}

/// A certificate authority that issues server and client certificates.
pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    key_pem: String,
}

impl CertificateAuthority {
    /// A new self-signed CA (ECDSA P-256).
    pub fn generate(common_name: &str, validity: Validity) -> Result<Self> {
        let key = KeyPair::generate().map_err(rcgen_error("generating CA key"))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        let cert = params
            .self_signed(&key)
            .map_err(rcgen_error("signing CA certificate"))?;
        let key_pem = key.serialize_pem();
        Ok(CertificateAuthority {
            cert_pem: cert.pem(),
            key_pem,
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate, PEM (`ca.crt`).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key, PEM. Never put it into the provider's Secret.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn issue_server(&self, names: &[String], validity: Validity) -> Result<KeyedCertificate> {
        let common_name = names.first().cloned().unwrap_or_else(|| "provider".into());
        self.issue(
            names.to_vec(),
            &common_name,
            ExtendedKeyUsagePurpose::ServerAuth,
            validity,
        )
    }

    /// A client certificate with `common_name` (ESO core uses [`ESO_CLIENT_COMMON_NAME`]).
    pub fn issue_client(&self, common_name: &str, validity: Validity) -> Result<KeyedCertificate> {
        self.issue(Vec::new(), common_name, ExtendedKeyUsagePurpose::ClientAuth, validity)
    }

    /// A server certificate for an existing key (PKCS#8 PEM), e.g. one kept in a
    /// key management system. Returns the certificate PEM.
    pub fn issue_server_for_key(&self, names: &[String], pkcs8_key_pem: &str, validity: Validity) -> Result<String> {
        let key = KeyPair::from_pem(pkcs8_key_pem).map_err(rcgen_error("reading the key (PKCS#8 PEM expected)"))?;
        let mut params = CertificateParams::new(names.to_vec()).map_err(rcgen_error("certificate names"))?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_else(|| "provider".into()),
        );
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(rcgen_error("signing certificate"))?;
        Ok(cert.pem())
    }

    fn issue(
        &self,
        names: Vec<String>,
        common_name: &str,
        usage: ExtendedKeyUsagePurpose,
        validity: Validity,
    ) -> Result<KeyedCertificate> {
        let key = KeyPair::generate().map_err(rcgen_error("generating key"))?;
        let mut params = CertificateParams::new(names).map_err(rcgen_error("certificate names"))?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![usage];
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(rcgen_error("signing certificate"))?;
        Ok(KeyedCertificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Writes `ca.crt`, `tls.crt` and `tls.key` (mode 0600) into `dir`, creating it.
pub fn write_tls_dir(dir: &Path, ca_pem: &str, cert: &KeyedCertificate) -> Result<()> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |error: std::io::Error| Error::internal(format!("writing {path}: {error}"))
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let paths = CertPaths::in_dir(dir);
    write_file(&paths.ca, ca_pem.as_bytes(), false).map_err(io(&paths.ca))?;
    write_file(&paths.cert, cert.cert_pem.as_bytes(), false).map_err(io(&paths.cert))?;
    write_file(&paths.key, cert.key_pem.as_bytes(), true).map_err(io(&paths.key))?;
    Ok(())
}

/// Writes a file atomically (temporary file, then rename); `private` makes it 0600.
pub fn write_file(path: &Path, contents: &[u8], private: bool) -> std::io::Result<()> {
    use std::io::Write;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// A complete set for one provider: CA, server and ESO-core client certificates.
pub struct CertificateSet {
    /// The CA.
    pub authority: CertificateAuthority,
    /// The server certificate.
    pub server: KeyedCertificate,
    /// The client certificate (CN `external-secrets-controller`).
    pub client: KeyedCertificate,
}

impl CertificateSet {
    /// A CA valid for a year, server and client certificates for 90 days.
    pub fn generate(server_names: &[String]) -> Result<Self> {
        let authority = CertificateAuthority::generate("eso-gen provider CA", Validity::starting_now(CA_VALIDITY))?;
        let server = authority.issue_server(server_names, Validity::starting_now(LEAF_VALIDITY))?;
        let client = authority.issue_client(ESO_CLIENT_COMMON_NAME, Validity::starting_now(LEAF_VALIDITY))?;
        Ok(CertificateSet {
            authority,
            server,
            client,
        })
    }

    /// Writes the server side to `dir/server` and the client side to `dir/client`,
    /// each as `ca.crt`, `tls.crt`, `tls.key`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        write_tls_dir(&dir.join("server"), self.authority.cert_pem(), &self.server)?;
        write_tls_dir(&dir.join("client"), self.authority.cert_pem(), &self.client)
    }
}
