//! Hot reload: the server config used for new connections is swapped when the files
//! change (including Kubernetes' `..data` symlink swap in a mounted Secret). A new
//! set that fails the self-check keeps the old one in force and counts a failure.

use super::{CertPaths, ExpectedNames, TlsError, TlsMaterial, check_material, crypto_provider};
use crate::metrics::Metrics;
use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The current server TLS config, reloaded from files.
pub struct TlsReloader {
    paths: CertPaths,
    expected: ExpectedNames,
    current: ArcSwap<ServerConfig>,
    last_seen: Mutex<u64>,
    metrics: Arc<Metrics>,
}

fn fingerprint(paths: &CertPaths) -> Result<(u64, [Vec<u8>; 3]), TlsError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|error| TlsError(format!("cannot read {}: {error}", path.display())))
    };
    let files = [read(&paths.ca)?, read(&paths.cert)?, read(&paths.key)?];
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    files.hash(&mut hasher);
    Ok((hasher.finish(), files))
}

fn server_config(material: TlsMaterial) -> Result<ServerConfig, TlsError> {
    let provider = crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    for ca in material.ca {
        roots.add(ca).map_err(|error| TlsError(format!("ca.crt: {error}")))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
        .build()
        .map_err(|error| TlsError(format!("ca.crt cannot verify client certificates: {error}")))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError(format!("TLS versions: {error}")))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(material.chain, material.key)
        .map_err(|error| TlsError(format!("tls.crt/tls.key: {error}")))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

impl TlsReloader {
    /// Loads and checks the files; fails when they are unusable. Returns the
    /// reloader and the check's warnings.
    pub fn load(
        paths: CertPaths,
        expected: ExpectedNames,
        metrics: Arc<Metrics>,
    ) -> Result<(Self, Vec<String>), TlsError> {
        let (seen, files) = fingerprint(&paths)?;
        let (config, warnings) = Self::build(&paths, &expected, &files)?;
        Ok((
            TlsReloader {
                paths,
                expected,
                current: ArcSwap::from_pointee(config),
                last_seen: Mutex::new(seen),
                metrics,
            },
            warnings,
        ))
    }

    fn build(
        paths: &CertPaths,
        expected: &ExpectedNames,
        files: &[Vec<u8>; 3],
    ) -> Result<(ServerConfig, Vec<String>), TlsError> {
        let material = TlsMaterial::from_pem(&files[0], &files[1], &files[2], paths)?;
        let check = check_material(&material, expected, SystemTime::now())?;
        Ok((server_config(material)?, check.warnings))
    }

    /// The config for the next handshake.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current.load_full()
    }

    /// Reloads when the files differ from the last ones seen. `Ok(true)` when a new
    /// config is in force; an error leaves the old one in force.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let (seen, files) = fingerprint(&self.paths)?;
        {
            let mut last = self
                .last_seen
                .lock()
                .map_err(|_| TlsError("certificate reload lock poisoned".into()))?;
            if *last == seen {
                return Ok(false);
            }
            // Count each new set of files once, whether it works or not.
            *last = seen;
        }
        match Self::build(&self.paths, &self.expected, &files) {
            Ok((config, warnings)) => {
                self.current.store(Arc::new(config));
                self.metrics.certificate_reloaded();
                for warning in warnings {
                    tracing::warn!(%warning, "certificate check");
                }
                Ok(true)
            }
            Err(error) => {
                self.metrics.certificate_reload_failed();
                Err(error)
            }
        }
    }

    /// Checks the files every `interval` until the task is aborted.
    pub fn spawn(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let reloader = Arc::clone(self);
        crate::poll::spawn_polling(interval, "certificates", move || reloader.reload_if_changed())
    }
}
