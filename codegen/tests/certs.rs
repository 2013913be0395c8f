//! `eso-gen certs`: the files, their modes, the server certificate's names, the
//! Secret, and the runtime's own certificate check on the result.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use base64::Engine;
use common::eso_gen;
use eso_runtime::tls::{CertPaths, ExpectedNames, TlsMaterial, check_material};
use std::path::Path;

/// The DNS names and IP addresses in a PEM certificate's SAN extension.
fn subject_alt_names(pem: &[u8]) -> Vec<String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).expect("PEM");
    let cert = pem.parse_x509().expect("X.509");
    let san = cert
        .subject_alternative_name()
        .expect("valid SAN extension")
        .expect("a SAN extension");
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            x509_parser::extensions::GeneralName::DNSName(dns) => Some(dns.to_string()),
            x509_parser::extensions::GeneralName::IPAddress(ip) if ip.len() == 4 => {
                Some(std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string())
            }
            _ => None,
        })
        .collect()
}

fn common_name(pem: &[u8]) -> String {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).expect("PEM");
    let cert = pem.parse_x509().expect("X.509");
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn certs(out: &Path, extra: &[&str]) -> common::Run {
    let mut args = vec![
        "certs",
        "--service",
        "provider-test",
        "--namespace",
        "eso",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    eso_gen(&args).await
}

#[tokio::test]
async fn writes_the_eso_layout() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs");
    let run = certs(&out, &["--dns", "10.0.0.7", "--dns", "provider.example.com"]).await;
    run.assert_code(0);
    assert!(
        run.stdout_text().contains("provider-test.eso.svc"),
        "{}",
        run.stdout_text()
    );

    for file in [
        "ca.crt",
        "ca.key",
        "server/ca.crt",
        "server/tls.crt",
        "server/tls.key",
        "client/ca.crt",
        "client/tls.crt",
        "client/tls.key",
        "secret.yaml",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    #[cfg(unix)]
    for private in ["ca.key", "server/tls.key", "client/tls.key", "secret.yaml"] {
        assert_eq!(mode(&out.join(private)), 0o600, "{private}");
    }

    let server_cert = std::fs::read(out.join("server/tls.crt")).unwrap();
    let names = subject_alt_names(&server_cert);
    for name in [
        "provider-test",
        "provider-test.eso",
        "provider-test.eso.svc",
        "provider-test.eso.svc.cluster.local",
        "10.0.0.7",
        "provider.example.com",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    }
    let client_cert = std::fs::read(out.join("client/tls.crt")).unwrap();
    assert_eq!(common_name(&client_cert), "external-secrets-controller");
    assert_eq!(
        std::fs::read(out.join("ca.crt")).unwrap(),
        std::fs::read(out.join("server/ca.crt")).unwrap()
    );
}

#[tokio::test]
async fn the_secret_holds_the_server_side_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs");
    certs(&out, &[]).await.assert_code(0);

    let text = std::fs::read_to_string(out.join("secret.yaml")).unwrap();
    let secret: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(secret["apiVersion"], "v1");
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(secret["type"], "kubernetes.io/tls");
    assert_eq!(secret["metadata"]["name"], "external-secrets-provider-tls");
    assert_eq!(secret["metadata"]["namespace"], "eso");
    let data = secret["data"].as_mapping().unwrap();
    let mut keys: Vec<&str> = data.keys().map(|k| k.as_str().unwrap()).collect();
    keys.sort();
    assert_eq!(keys, ["ca.crt", "tls.crt", "tls.key"]);

    let decode = |key: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(secret["data"][key].as_str().unwrap())
            .unwrap()
    };
    assert_eq!(decode("ca.crt"), std::fs::read(out.join("ca.crt")).unwrap());
    assert_eq!(decode("tls.crt"), std::fs::read(out.join("server/tls.crt")).unwrap());
    assert_eq!(decode("tls.key"), std::fs::read(out.join("server/tls.key")).unwrap());

    // Neither the CA key nor the client key, in any form.
    for private in ["ca.key", "client/tls.key"] {
        let key = std::fs::read(out.join(private)).unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&key);
        assert!(!text.contains(&encoded), "{private} is in secret.yaml");
        assert!(!decode("tls.key").eq(&key), "{private} is in secret.yaml");
        let body = String::from_utf8(key).unwrap();
        let line = body.lines().nth(1).unwrap();
        assert!(!text.contains(line), "{private} is in secret.yaml");
    }
}

#[tokio::test]
async fn the_server_side_passes_the_runtime_check() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs");
    certs(&out, &["--cluster-domain", "corp.example"]).await.assert_code(0);
    let material = TlsMaterial::load(&CertPaths::in_dir(out.join("server"))).unwrap();
    let check = check_material(
        &material,
        &ExpectedNames::for_service("provider-test", "eso", "corp.example"),
        std::time::SystemTime::now(),
    )
    .unwrap();
    assert!(check.warnings.is_empty(), "{:?}", check.warnings);
}

#[tokio::test]
async fn refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs");
    certs(&out, &[]).await.assert_code(0);
    let before = std::fs::read(out.join("ca.crt")).unwrap();

    let run = certs(&out, &[]).await;
    run.assert_code(1);
    assert!(run.stderr.contains("already exists and is not empty"), "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read(out.join("ca.crt")).unwrap(), before);

    certs(&out, &["--force"]).await.assert_code(0);
    assert_ne!(std::fs::read(out.join("ca.crt")).unwrap(), before);

    // An existing empty folder is fine.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    certs(&empty, &[]).await.assert_code(0);
}

#[tokio::test]
async fn rejects_invalid_names() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs");
    let run = eso_gen(&[
        "certs",
        "--service",
        "Provider_Test",
        "--namespace",
        "eso",
        "--out",
        out.to_str().unwrap(),
    ])
    .await;
    run.assert_code(1);
    assert!(run.stderr.contains("--service \"Provider_Test\""), "{}", run.stderr);
    assert!(run.stderr.contains("DNS-1123"), "{}", run.stderr);

    let run = eso_gen(&[
        "certs",
        "--service",
        "p",
        "--namespace=-eso",
        "--out",
        out.to_str().unwrap(),
    ])
    .await;
    run.assert_code(1);
    assert!(run.stderr.contains("--namespace"), "{}", run.stderr);
    assert!(!out.exists(), "nothing is written for invalid input");
}
