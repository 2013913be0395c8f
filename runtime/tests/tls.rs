//! Mutual TLS over real loopback connections: who is refused, hot reload under
//! load (plain files and Kubernetes' `..data` symlink swap), broken files, key
//! formats, and the startup self-check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use eso_runtime::client::{ClientTls, ProviderClient};
use eso_runtime::testing::TestProvider;
use eso_runtime::tls::issue::{CertificateAuthority, KeyedCertificate, Validity, write_file};
use eso_runtime::tls::{CertPaths, ExpectedNames, TlsMaterial, check_material};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

async fn start() -> TestProvider {
    TestProvider::start(provider(Echo::default()), &echo_object("default", "e", "{a: b}"))
        .await
        .expect("provider starts")
}

fn names() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into()]
}

fn one_day() -> Validity {
    Validity::starting_now(Duration::from_secs(24 * 3600))
}

/// A call with the given client identity; `Ok` only if it got through.
async fn call_with(running: &TestProvider, tls: &ClientTls) -> Result<(), String> {
    call_at(&running.address(), tls).await
}

/// A call to `address` with the given client identity; `Ok` only if it got through.
async fn call_at(address: &str, tls: &ClientTls) -> Result<(), String> {
    let mut client = ProviderClient::connect(address, Some(tls))
        .await
        .map_err(|e| e.to_string())?;
    client
        .store
        .get_secret(get_secret_request(&ECHO, "default", "e", "a"))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The certificate the server presents to a new connection.
async fn served_certificate(running: &TestProvider) -> Vec<u8> {
    let tls = running.client_tls().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&tls.ca_pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    use rustls::pki_types::pem::PemObject;
    let chain: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(&tls.cert_pem)
        .map(|c| c.unwrap())
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(&tls.key_pem).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(running.address()).await.unwrap();
    let stream = connector
        .connect(rustls::pki_types::ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    stream.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn clients_without_a_valid_certificate_are_refused() {
    let running = start().await;
    let good = running.client_tls().unwrap();
    call_with(&running, &good).await.expect("the right client gets through");

    // Another CA's client certificate.
    let other_ca = CertificateAuthority::generate("other CA", one_day()).unwrap();
    let stranger = other_ca.issue_client("external-secrets-controller", one_day()).unwrap();
    let tls = ClientTls {
        cert_pem: stranger.cert_pem.into(),
        key_pem: stranger.key_pem.into(),
        ..good.clone()
    };
    assert!(
        call_with(&running, &tls).await.is_err(),
        "a client from another CA got through"
    );

    // An expired certificate from the right CA.
    let now = time::OffsetDateTime::now_utc();
    let expired = running
        .certificates()
        .authority
        .issue_client(
            "external-secrets-controller",
            Validity {
                not_before: now - time::Duration::days(30),
                not_after: now - time::Duration::days(1),
            },
        )
        .unwrap();
    let tls = ClientTls {
        cert_pem: expired.cert_pem.into(),
        key_pem: expired.key_pem.into(),
        ..good.clone()
    };
    assert!(
        call_with(&running, &tls).await.is_err(),
        "an expired client certificate got through"
    );

    // No client certificate at all.
    let channel = tonic::transport::Endpoint::from_shared(format!("https://{}", running.address()))
        .unwrap()
        .tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(&good.ca_pem))
                .domain_name("localhost"),
        )
        .unwrap();
    let refused = match channel.connect().await {
        Err(_) => true,
        Ok(channel) => {
            eso_runtime::proto::provider::v1::secret_store_provider_client::SecretStoreProviderClient::new(channel)
                .get_secret(get_secret_request(&ECHO, "default", "e", "a"))
                .await
                .is_err()
        }
    };
    assert!(refused, "a client without a certificate got through");

    // Plaintext to the TLS port.
    assert!(
        ProviderClient::connect(&running.address(), None).await.is_err()
            || call_plain(&running.address()).await.is_err()
    );
    running.stop().await.unwrap();
}

async fn call_plain(address: &str) -> Result<(), tonic::Status> {
    let mut client = ProviderClient::connect(address, None)
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    client
        .store
        .get_secret(get_secret_request(&ECHO, "default", "e", "a"))
        .await
        .map(|_| ())
}

/// Loops GetSecret on a kept connection and on fresh connections until stopped;
/// returns (calls, failures).
fn call_loop(running: &TestProvider, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(usize, Vec<String>)> {
    let address = running.address();
    let tls = running.client_tls().unwrap();
    tokio::spawn(async move {
        let calls = Arc::new(AtomicUsize::new(0));
        let mut kept = ProviderClient::connect(&address, Some(&tls)).await.unwrap();
        let mut failures = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            if let Err(status) = kept
                .store
                .get_secret(get_secret_request(&ECHO, "default", "e", "a"))
                .await
            {
                failures.push(format!("kept connection: {status}"));
            }
            match ProviderClient::connect(&address, Some(&tls)).await {
                Ok(mut fresh) => {
                    if let Err(status) = fresh
                        .store
                        .get_secret(get_secret_request(&ECHO, "default", "e", "a"))
                        .await
                    {
                        failures.push(format!("fresh connection: {status}"));
                    }
                }
                Err(error) => failures.push(format!("fresh connection: {error}")),
            }
            calls.fetch_add(2, Ordering::SeqCst);
        }
        (calls.load(Ordering::SeqCst), failures)
    })
}

fn write_server_files(dir: &Path, ca_pem: &str, cert: &KeyedCertificate) {
    write_file(&dir.join("tls.key"), cert.key_pem.as_bytes(), true).unwrap();
    write_file(&dir.join("tls.crt"), cert.cert_pem.as_bytes(), false).unwrap();
    write_file(&dir.join("ca.crt"), ca_pem.as_bytes(), false).unwrap();
}

#[tokio::test]
async fn certificates_rotate_under_load_with_no_failed_call() {
    let running = start().await;
    let before = served_certificate(&running).await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = call_loop(&running, Arc::clone(&stop));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let authority = &running.certificates().authority;
    let rotated = authority.issue_server(&names(), one_day()).unwrap();
    write_server_files(&running.server_cert_dir(), authority.cert_pem(), &rotated);
    let metrics = Arc::clone(running.running().metrics());
    assert!(
        wait_for(Duration::from_secs(5), || metrics.certificate_reloads() >= 1).await,
        "no reload happened"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let (calls, failures) = load.await.unwrap();
    assert!(calls > 10, "the load loop made only {calls} calls");
    assert!(
        failures.is_empty(),
        "{} of {calls} calls failed: {failures:?}",
        failures.len()
    );
    assert_eq!(metrics.certificate_reload_failures(), 0);

    let after = served_certificate(&running).await;
    assert_ne!(before, after);
    assert_eq!(
        after,
        pem_to_der(&rotated.cert_pem),
        "the new certificate is not the one served"
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn kubernetes_data_symlink_swap_is_picked_up() {
    let running = start().await;
    let dir = running.server_cert_dir();
    let authority = &running.certificates().authority;
    // Lay the folder out as the kubelet does: ..<timestamp>/ files, ..data -> it, names -> ..data/name.
    let first = dir.join("..2026_11_24_10_00_00.1");
    std::fs::create_dir_all(&first).unwrap();
    for name in ["ca.crt", "tls.crt", "tls.key"] {
        std::fs::rename(dir.join(name), first.join(name)).unwrap();
    }
    std::os::unix::fs::symlink("..2026_11_24_10_00_00.1", dir.join("..data")).unwrap();
    for name in ["ca.crt", "tls.crt", "tls.key"] {
        std::os::unix::fs::symlink(format!("..data/{name}"), dir.join(name)).unwrap();
    }
    // Same contents: no reload counted.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let metrics = Arc::clone(running.running().metrics());
    assert_eq!(metrics.certificate_reloads(), 0);

    let stop = Arc::new(AtomicBool::new(false));
    let load = call_loop(&running, Arc::clone(&stop));
    let rotated = authority.issue_server(&names(), one_day()).unwrap();
    let second = dir.join("..2026_11_24_11_00_00.2");
    std::fs::create_dir_all(&second).unwrap();
    write_server_files(&second, authority.cert_pem(), &rotated);
    std::os::unix::fs::symlink("..2026_11_24_11_00_00.2", dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    std::fs::remove_dir_all(&first).unwrap();

    assert!(
        wait_for(Duration::from_secs(5), || metrics.certificate_reloads() == 1).await,
        "swap not picked up"
    );
    stop.store(true, Ordering::SeqCst);
    let (calls, failures) = load.await.unwrap();
    assert!(
        failures.is_empty(),
        "{} of {calls} calls failed: {failures:?}",
        failures.len()
    );
    assert_eq!(served_certificate(&running).await, pem_to_der(&rotated.cert_pem));
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_broken_new_certificate_keeps_the_old_one_and_counts_a_failure() {
    let running = start().await;
    let before = served_certificate(&running).await;
    let dir = running.server_cert_dir();
    let metrics = Arc::clone(running.running().metrics());

    write_file(
        &dir.join("tls.crt"),
        b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
        false,
    )
    .unwrap();
    assert!(wait_for(Duration::from_secs(5), || metrics.certificate_reload_failures() == 1).await);
    call_with(&running, &running.client_tls().unwrap())
        .await
        .expect("calls still work");
    assert_eq!(served_certificate(&running).await, before);

    // A certificate for the wrong names is refused too, and counted once.
    let authority = &running.certificates().authority;
    let wrong = authority
        .issue_server(&["elsewhere.example".to_string()], one_day())
        .unwrap();
    write_server_files(&dir, authority.cert_pem(), &wrong);
    assert!(wait_for(Duration::from_secs(5), || metrics.certificate_reload_failures() == 2).await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        metrics.certificate_reload_failures(),
        2,
        "the same broken set must be counted once"
    );
    assert_eq!(served_certificate(&running).await, before);

    // Fixed: reloaded.
    let good = authority.issue_server(&names(), one_day()).unwrap();
    write_server_files(&dir, authority.cert_pem(), &good);
    assert!(wait_for(Duration::from_secs(5), || metrics.certificate_reloads() == 1).await);
    assert_eq!(served_certificate(&running).await, pem_to_der(&good.cert_pem));
    running.stop().await.unwrap();
}

#[tokio::test]
async fn pkcs1_and_sec1_keys_are_served() {
    for (key_file, pkcs8_file) in [
        ("test-only-rsa-pkcs1.key", "test-only-rsa-pkcs8.key"),
        ("test-only-ec-sec1.key", "test-only-ec-pkcs8.key"),
    ] {
        let running = start().await;
        let key = std::fs::read_to_string(Path::new(FIXTURES).join(key_file)).unwrap();
        let pkcs8 = std::fs::read_to_string(Path::new(FIXTURES).join(pkcs8_file)).unwrap();
        let authority = &running.certificates().authority;
        let cert_pem = authority.issue_server_for_key(&names(), &pkcs8, one_day()).unwrap();
        write_server_files(
            &running.server_cert_dir(),
            authority.cert_pem(),
            &KeyedCertificate {
                cert_pem: cert_pem.clone(),
                key_pem: key,
            },
        );
        let metrics = Arc::clone(running.running().metrics());
        assert!(
            wait_for(Duration::from_secs(5), || metrics.certificate_reloads() == 1).await,
            "{key_file} was not loaded (failures: {})",
            metrics.certificate_reload_failures()
        );
        assert_eq!(served_certificate(&running).await, pem_to_der(&cert_pem), "{key_file}");
        call_with(&running, &running.client_tls().unwrap()).await.unwrap();
        running.stop().await.unwrap();
    }
}

fn material(ca: &str, cert: &KeyedCertificate) -> TlsMaterial {
    TlsMaterial::from_pem(
        ca.as_bytes(),
        cert.cert_pem.as_bytes(),
        cert.key_pem.as_bytes(),
        &CertPaths::in_dir("/certs"),
    )
    .unwrap()
}

#[test]
fn the_self_check_explains_each_problem() {
    let ca =
        CertificateAuthority::generate("ca", Validity::starting_now(Duration::from_secs(365 * 24 * 3600))).unwrap();
    let service = ExpectedNames::for_service("provider-fake", "eso", "cluster.local");
    let all_names = eso_runtime::tls::issue::service_names("provider-fake", "eso", "cluster.local");
    let good = ca
        .issue_server(&all_names, Validity::starting_now(Duration::from_secs(90 * 24 * 3600)))
        .unwrap();
    let report = check_material(&material(ca.cert_pem(), &good), &service, SystemTime::now()).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    // Signed by another CA.
    let other = CertificateAuthority::generate("other", one_day()).unwrap();
    let error = check_material(&material(other.cert_pem(), &good), &service, SystemTime::now()).unwrap_err();
    assert!(error.0.contains("not signed by the CA in ca.crt"), "{error}");
    assert!(error.0.contains("unknown authority"), "{error}");

    // Key from another issuance.
    let second = ca.issue_server(&all_names, one_day()).unwrap();
    let mixed = KeyedCertificate {
        cert_pem: good.cert_pem.clone(),
        key_pem: second.key_pem.clone(),
    };
    let error = check_material(&material(ca.cert_pem(), &mixed), &service, SystemTime::now()).unwrap_err();
    assert!(
        error.0.contains("tls.key does not belong to the certificate"),
        "{error}"
    );

    // Missing the name ESO core dials.
    let partial = ca.issue_server(&["provider-fake".to_string()], one_day()).unwrap();
    let error = check_material(&material(ca.cert_pem(), &partial), &service, SystemTime::now()).unwrap_err();
    assert!(error.0.contains("provider-fake.eso.svc"), "{error}");
    assert!(error.0.contains("valid for [provider-fake]"), "{error}");

    // Only the required name: warnings for the other forms.
    let minimal = ca
        .issue_server(
            &["provider-fake.eso.svc".to_string()],
            Validity::starting_now(Duration::from_secs(90 * 24 * 3600)),
        )
        .unwrap();
    let report = check_material(&material(ca.cert_pem(), &minimal), &service, SystemTime::now()).unwrap();
    assert_eq!(report.warnings.len(), 3, "{:?}", report.warnings);

    // Expired, and close to expiry.
    let now = time::OffsetDateTime::now_utc();
    let expired = ca
        .issue_server(
            &all_names,
            Validity {
                not_before: now - time::Duration::days(91),
                not_after: now - time::Duration::days(1),
            },
        )
        .unwrap();
    let error = check_material(&material(ca.cert_pem(), &expired), &service, SystemTime::now()).unwrap_err();
    assert!(error.0.contains("expired"), "{error}");
    let report = check_material(
        &material(ca.cert_pem(), &good),
        &service,
        SystemTime::now() + Duration::from_secs(80 * 24 * 3600),
    )
    .unwrap();
    assert!(
        report.warnings.iter().any(|w| w.contains("expires in")),
        "{:?}",
        report.warnings
    );
}

#[tokio::test]
async fn a_provider_with_unusable_certificates_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::generate("ca", one_day()).unwrap();
    let other = CertificateAuthority::generate("other", one_day()).unwrap();
    let cert = other.issue_server(&names(), one_day()).unwrap();
    eso_runtime::tls::issue::write_tls_dir(dir.path(), ca.cert_pem(), &cert).unwrap();
    let manifests = tempfile::tempdir().unwrap();
    let source = Arc::new(eso_runtime::source::files::FilesSource::load(manifests.path()).unwrap());
    let settings = eso_runtime::server::Settings {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        transport: eso_runtime::server::Transport::MutualTls {
            paths: CertPaths::in_dir(dir.path()),
            expected: ExpectedNames::default(),
            allowed_clients: Vec::new(),
        },
        reload_interval: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(1),
        shutdown_delay: Duration::ZERO,
        limits: Default::default(),
    };
    let error = provider(Echo::default())
        .start(settings, source)
        .await
        .err()
        .expect("start must fail");
    assert_eq!(error.kind(), eso_runtime::ErrorKind::InvalidConfig);
    assert!(error.message().contains("not signed by the CA in ca.crt"), "{error}");
}

#[tokio::test]
async fn allowed_client_names_pin_the_callers_identity() {
    let dir = tempfile::tempdir().unwrap();
    let set = eso_runtime::tls::issue::CertificateSet::generate(&names()).unwrap();
    set.write(dir.path()).unwrap();
    let manifests = tempfile::tempdir().unwrap();
    std::fs::write(manifests.path().join("o.yaml"), echo_object("default", "e", "{a: b}")).unwrap();
    let source = Arc::new(eso_runtime::source::files::FilesSource::load(manifests.path()).unwrap());
    let settings = eso_runtime::server::Settings {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        transport: eso_runtime::server::Transport::MutualTls {
            paths: CertPaths::in_dir(dir.path().join("server")),
            expected: ExpectedNames::default(),
            allowed_clients: vec![eso_runtime::tls::issue::ESO_CLIENT_COMMON_NAME.to_string()],
        },
        reload_interval: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(1),
        shutdown_delay: Duration::ZERO,
        limits: Default::default(),
    };
    let running = provider(Echo::default()).start(settings, source).await.unwrap();
    let address = format!("localhost:{}", running.grpc_addr().port());
    // ESO core's identity gets through.
    call_at(&address, &ClientTls::from_dir(dir.path().join("client")).unwrap())
        .await
        .unwrap();
    // Another client of the same CA does not.
    let intruder = set.authority.issue_client("intruder", one_day()).unwrap();
    let tls = ClientTls {
        cert_pem: intruder.cert_pem.into(),
        key_pem: intruder.key_pem.into(),
        ..ClientTls::from_dir(dir.path().join("client")).unwrap()
    };
    assert!(
        call_at(&address, &tls).await.is_err(),
        "a client outside the allowed names got through"
    );
    running.shutdown();
    running.wait().await.unwrap();
}
