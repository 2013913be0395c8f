//! The certificate self-check, run at startup and on every reload. Each failure says
//! what is wrong and what to do, instead of a client later seeing "certificate
//! signed by unknown authority" or "certificate is valid for …".

use super::{TlsError, TlsMaterial, crypto_provider, subject_alt_names, trust_anchors};
use rustls::CertificateError;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Below this much validity left, the check warns: ESO core rotates server
/// certificates 35 days before they expire, so less means rotation is stuck.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);

/// The names ESO core will dial, which the server certificate must carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedNames {
    /// Names that must be present (e.g. `provider-vault.eso.svc`).
    pub required: Vec<String>,
    /// Names that should be present; missing ones are warnings.
    pub recommended: Vec<String>,
}

impl ExpectedNames {
    /// The Service forms for `service` in `namespace`: `svc.ns.svc` (what ESO core
    /// dials) is required; `svc`, `svc.ns` and `svc.ns.svc.<domain>` are recommended.
    pub fn for_service(service: &str, namespace: &str, cluster_domain: &str) -> Self {
        ExpectedNames {
            required: vec![format!("{service}.{namespace}.svc")],
            recommended: vec![
                service.to_string(),
                format!("{service}.{namespace}"),
                format!("{service}.{namespace}.svc.{cluster_domain}"),
            ],
        }
    }
}

/// What the self-check found that is not fatal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateCheck {
    /// Warnings to log.
    pub warnings: Vec<String>,
}

struct Leaf {
    not_before: i64,
    not_after: i64,
    names: Vec<String>,
    subject: String,
}

fn describe_leaf(der: &[u8], what: &str) -> Result<Leaf, TlsError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|error| TlsError(format!("{what} is not a valid X.509 certificate: {error}")))?;
    let names = subject_alt_names(&cert).iter().map(ToString::to_string).collect();
    Ok(Leaf {
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        names,
        subject: cert.subject().to_string(),
    })
}

fn unix_now(now: SystemTime) -> i64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Checks that the key matches the certificate, the chain verifies against the CA,
/// the certificates are valid now (warning when close to expiry), and the SANs
/// cover `expected`.
pub fn check_material(
    material: &TlsMaterial,
    expected: &ExpectedNames,
    now: SystemTime,
) -> Result<CertificateCheck, TlsError> {
    let provider = crypto_provider();
    let mut report = CertificateCheck::default();
    let Some(leaf_der) = material.chain.first() else {
        return Err(TlsError("tls.crt holds no certificate".into()));
    };
    CertifiedKey::from_der(material.chain.clone(), material.key.clone_key(), &provider).map_err(|error| {
        TlsError(format!(
            "tls.key does not belong to the certificate in tls.crt ({error}); the files come from different issuances — reissue both together"
        ))
    })?;

    let now_secs = unix_now(now);
    for (index, ca) in material.ca.iter().enumerate() {
        let ca = describe_leaf(ca, "ca.crt")?;
        if ca.not_after < now_secs {
            return Err(TlsError(format!(
                "CA certificate {} in ca.crt (#{}) expired at unix time {}; ESO core must issue a new CA",
                ca.subject,
                index + 1,
                ca.not_after
            )));
        }
    }
    let leaf = describe_leaf(leaf_der, "tls.crt")?;
    if leaf.not_after < now_secs {
        return Err(TlsError(format!(
            "tls.crt ({}) expired at unix time {}; rotation did not happen — check that ESO core (or cert-manager) renews the Secret",
            leaf.subject, leaf.not_after
        )));
    }
    if leaf.not_before > now_secs {
        return Err(TlsError(format!(
            "tls.crt ({}) is not valid until unix time {}; check this machine's clock",
            leaf.subject, leaf.not_before
        )));
    }
    let left = Duration::from_secs((leaf.not_after - now_secs).max(0) as u64);
    if left < EXPIRY_WARNING {
        report.warnings.push(format!(
            "tls.crt ({}) expires in {} hours; ESO core rotates 35 days before expiry, so rotation may be stuck",
            leaf.subject,
            left.as_secs() / 3600
        ));
    }

    let roots = trust_anchors(material.ca.iter().cloned())?;
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|error| TlsError(format!("ca.crt cannot verify certificates: {error}")))?;
    let verify = |name: &str| -> Result<(), rustls::Error> {
        let server_name = ServerName::try_from(name.to_string())
            .map_err(|_| rustls::Error::General(format!("{name} is not a valid DNS name or IP address")))?;
        verifier
            .verify_server_cert(
                leaf_der,
                &material.chain[1..],
                &server_name,
                &[],
                UnixTime::since_unix_epoch(Duration::from_secs(now_secs.max(0) as u64)),
            )
            .map(|_| ())
    };
    // The chain itself, with a name the certificate carries.
    let probe = leaf.names.first().cloned().unwrap_or_else(|| "localhost".into());
    match verify(&probe) {
        Ok(()) => {}
        Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer | CertificateError::BadSignature)) => {
            return Err(TlsError(format!(
                "tls.crt ({}) is not signed by the CA in ca.crt — clients would see \"certificate signed by unknown authority\"; use the ca.crt from the same Secret as tls.crt",
                leaf.subject
            )));
        }
        Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) if leaf.names.is_empty() => {
            return Err(TlsError(format!(
                "tls.crt ({}) has no subject alternative names; clients verify the name they dial against SANs, so add the Service's DNS names",
                leaf.subject
            )));
        }
        Err(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) => {}
        Err(error) => {
            return Err(TlsError(format!(
                "tls.crt ({}) does not verify against ca.crt: {error}",
                leaf.subject
            )));
        }
    }
    let missing: Vec<&String> = expected.required.iter().filter(|name| verify(name).is_err()).collect();
    if !missing.is_empty() {
        return Err(TlsError(format!(
            "tls.crt is valid for [{}] but not for [{}], which ESO core dials — clients would see \"certificate is valid for …, not …\"; reissue it with these names, or set --service-name/--namespace to the Service it is for",
            leaf.names.join(", "),
            missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    for name in &expected.recommended {
        if verify(name).is_err() {
            report
                .warnings
                .push(format!("tls.crt does not carry the Service name {name}"));
        }
    }
    Ok(report)
}
