//! `eso-gen certs`: a CA, a server certificate carrying a Service's DNS names, a
//! client certificate with ESO core's CN, and the provider's TLS Secret, in the
//! layout ESO core writes. Certificate generation is the runtime's
//! ([`eso_runtime::certs`]); this module only chooses names and writes files.

use crate::names;
use anyhow::{Context, Result, bail};
use base64::Engine;
use eso_runtime::tls::issue::{CertificateSet, ESO_CLIENT_COMMON_NAME, TLS_SECRET_NAME, service_names, write_file};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Arguments of `eso-gen certs`.
#[derive(Debug, clap::Args)]
pub struct CertsArgs {
    /// The provider's Service name, e.g. `provider-vault`. The server certificate
    /// carries `NAME`, `NAME.NS`, `NAME.NS.svc` and `NAME.NS.svc.<cluster domain>`.
    #[arg(long, value_name = "NAME")]
    service: String,
    /// The namespace the provider runs in; also the namespace of `secret.yaml`.
    #[arg(long, value_name = "NS")]
    namespace: String,
    /// The cluster's DNS domain.
    #[arg(long, value_name = "DOMAIN", default_value = "cluster.local")]
    cluster_domain: String,
    /// An extra name for the server certificate: a DNS name or an IP address.
    /// Repeatable.
    #[arg(long = "dns", value_name = "NAME")]
    dns: Vec<String>,
    /// The folder to write to. It must not exist or be empty, unless `--force`.
    #[arg(long, value_name = "DIR", default_value = "certs")]
    out: PathBuf,
    /// Overwrite the files in an existing, non-empty `--out` folder.
    #[arg(long)]
    force: bool,
}

/// Runs `eso-gen certs`.
pub fn run(args: &CertsArgs) -> Result<()> {
    names::check_label("--service", &args.service)?;
    names::check_label("--namespace", &args.namespace)?;
    names::check_subdomain("--cluster-domain", &args.cluster_domain)?;
    for extra in &args.dns {
        names::check_certificate_name("--dns", extra)?;
    }
    check_out_dir(&args.out, args.force)?;

    let server_names = server_names(args);
    let set = CertificateSet::generate(&server_names).context("generating certificates")?;
    write_all(&args.out, &args.namespace, &set)?;
    print_summary(args, &server_names);
    Ok(())
}

/// The Service's four forms, then the extra names, without duplicates.
fn server_names(args: &CertsArgs) -> Vec<String> {
    let mut names = service_names(&args.service, &args.namespace, &args.cluster_domain);
    for extra in &args.dns {
        if !names.contains(extra) {
            names.push(extra.clone());
        }
    }
    names
}

/// Refuses to write into an existing non-empty folder (or onto a file) unless forced.
fn check_out_dir(out: &Path, force: bool) -> Result<()> {
    let metadata = match std::fs::metadata(out) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error).with_context(|| format!("cannot inspect {}", out.display())),
    };
    if !metadata.is_dir() {
        bail!("{} exists and is not a folder; choose another --out", out.display());
    }
    let mut entries = std::fs::read_dir(out).with_context(|| format!("cannot read {}", out.display()))?;
    if entries.next().is_some() && !force {
        bail!(
            "{} already exists and is not empty; pass --force to overwrite the certificates in it, or choose another --out",
            out.display()
        );
    }
    Ok(())
}

/// Writes `ca.crt`, `ca.key` (0600), `server/`, `client/` and `secret.yaml` (0600).
fn write_all(out: &Path, namespace: &str, set: &CertificateSet) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let write = |name: &str, contents: &[u8], private: bool| {
        let path = out.join(name);
        write_file(&path, contents, private).with_context(|| format!("cannot write {}", path.display()))
    };
    write("ca.crt", set.authority.cert_pem().as_bytes(), false)?;
    write("ca.key", set.authority.key_pem().as_bytes(), true)?;
    set.write(out).context("writing the server and client certificates")?;
    write("secret.yaml", secret_yaml(namespace, set)?.as_bytes(), true)?;
    Ok(())
}

/// A Kubernetes v1 Secret, as much of it as we write.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Secret<'a> {
    api_version: &'a str,
    kind: &'a str,
    metadata: Metadata<'a>,
    #[serde(rename = "type")]
    secret_type: &'a str,
    data: BTreeMap<&'a str, String>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    name: &'a str,
    namespace: &'a str,
    labels: BTreeMap<&'a str, &'a str>,
}

/// The `external-secrets-provider-tls` Secret with the server side only: `ca.crt`,
/// `tls.crt`, `tls.key`. Never the CA key, never the client key.
fn secret_yaml(namespace: &str, set: &CertificateSet) -> Result<String> {
    let base64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let secret = Secret {
        api_version: "v1",
        kind: "Secret",
        metadata: Metadata {
            name: TLS_SECRET_NAME,
            namespace,
            labels: [("app.kubernetes.io/managed-by", "eso-gen")].into(),
        },
        secret_type: "kubernetes.io/tls",
        data: [
            ("ca.crt", base64(set.authority.cert_pem())),
            ("tls.crt", base64(&set.server.cert_pem)),
            ("tls.key", base64(&set.server.key_pem)),
        ]
        .into(),
    };
    let yaml = serde_yaml::to_string(&secret).context("encoding secret.yaml")?;
    Ok(format!(
        "# The provider's server certificate and key, written by eso-gen certs.\n\
         # It holds a private key: do not commit it. Apply with kubectl apply -f secret.yaml\n{yaml}"
    ))
}

fn print_summary(args: &CertsArgs, server_names: &[String]) {
    let out = args.out.display();
    println!(
        "wrote certificates for Service {} in namespace {} to {out}:",
        args.service, args.namespace
    );
    println!("  ca.crt, ca.key    the CA (ca.key stays here: it is in no Secret)");
    println!("  server/           the provider's ca.crt, tls.crt, tls.key");
    println!("  client/           a client certificate with CN {ESO_CLIENT_COMMON_NAME}, for eso-gen call --certs");
    println!("  secret.yaml       Secret {TLS_SECRET_NAME} (server side), for kubectl apply -f");
    println!("server certificate names: {}", server_names.join(", "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_names_follow_the_service_forms_without_duplicates() {
        let args = CertsArgs {
            service: "p".into(),
            namespace: "ns".into(),
            cluster_domain: "cluster.local".into(),
            dns: vec!["p.ns.svc".into(), "10.0.0.1".into()],
            out: PathBuf::from("unused"),
            force: false,
        };
        assert_eq!(
            server_names(&args),
            ["p", "p.ns", "p.ns.svc", "p.ns.svc.cluster.local", "10.0.0.1"]
        );
    }
}
