//! Hot reload: the server config used for new connections is swapped when the files
//! change (including Kubernetes' `..data` symlink swap in a mounted Secret). A new
//! set that fails the self-check keeps the old one in force and counts a failure.
//!
//! A check first compares each file's metadata with the version last read (see
//! `crate::fs::Stamp`) and reads nothing when none changed; files modified within
//! two seconds of their read are read again, as their timestamps cannot be
//! trusted yet. Files that are not regular files, or are too large, are refused
//! without blocking (see [`TlsMaterial::MAX_FILE_BYTES`]); such a set counts as one
//! failed reload, like a set that does not parse.

use super::material::read;
use super::{CertPaths, ExpectedNames, TlsError, TlsMaterial, check_material, crypto_provider, trust_anchors};
use crate::fs::{FileError, Stamp};
use crate::server::Metrics;
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
    last_seen: Mutex<Seen>,
    metrics: Arc<Metrics>,
}

/// The last set of files seen.
struct Seen {
    /// Each file's version as read; `None` for a file that was not read.
    stamps: [Option<Stamp>; 3],
    /// When that read began.
    read_at: SystemTime,
    /// A hash of the contents, or of why the set was refused.
    fingerprint: u64,
}

impl Seen {
    /// Whether every file is, by its metadata, the version last read.
    fn unchanged(&self, now: &[Option<Stamp>; 3]) -> bool {
        self.stamps
            .iter()
            .zip(now)
            .all(|(seen, now)| seen.is_some_and(|seen| Some(seen) == *now && !seen.is_racy(self.read_at)))
    }
}

fn hash_of(value: &impl Hash) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// The stamps of the files read, and their contents or the first file that failed.
type SetRead = ([Option<Stamp>; 3], Result<[Vec<u8>; 3], FileError>);

/// Reads the three files (see [`read`]).
fn read_set(paths: &CertPaths) -> SetRead {
    let mut stamps = [None; 3];
    let mut files: [Vec<u8>; 3] = Default::default();
    for (index, (path, what)) in paths.all().into_iter().enumerate() {
        match read(path, what) {
            Ok((bytes, stamp)) => {
                stamps[index] = Some(stamp);
                files[index] = bytes;
            }
            Err(error) => return (stamps, Err(error)),
        }
    }
    (stamps, Ok(files))
}

fn server_config(material: TlsMaterial) -> Result<ServerConfig, TlsError> {
    let provider = crypto_provider();
    let roots = trust_anchors(material.ca)?;
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
        let read_at = SystemTime::now();
        let (stamps, files) = read_set(&paths);
        let files = files.map_err(|error| TlsError(error.to_string()))?;
        let (config, warnings) = Self::build(&paths, &expected, &files)?;
        let seen = Seen {
            stamps,
            read_at,
            fingerprint: hash_of(&(0u8, &files)),
        };
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
    /// config is in force; an error leaves the old one in force. A file that cannot
    /// be read (missing, not permitted) is an error tried again at the next check;
    /// a set that is refused (a file that is not a regular file, or too large) or
    /// fails the self-check is counted as a failure once. Blocking file I/O:
    /// [`spawn`](Self::spawn) runs it off the async runtime.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let mut seen = self
            .last_seen
            .lock()
            .map_err(|_| TlsError("certificate reload lock poisoned".into()))?;
        if seen.unchanged(&self.paths.all().map(|(path, _)| Stamp::of_path(path))) {
            return Ok(false);
        }
        let read_at = SystemTime::now();
        let (stamps, files) = read_set(&self.paths);
        let (fingerprint, files) = match files {
            Ok(files) => (hash_of(&(0u8, &files)), Ok(files)),
            Err(error) if error.is_refusal() => {
                let error = TlsError(error.to_string());
                (hash_of(&(1u8, &error.0)), Err(error))
            }
            Err(error) => return Err(TlsError(error.to_string())),
        };
        seen.stamps = stamps;
        seen.read_at = read_at;
        if seen.fingerprint == fingerprint {
            return Ok(false);
        }
        // Count each new set of files once, whether it works or not.
        // The lock stays held while the set is built, so an older set never lands after a newer one.
        seen.fingerprint = fingerprint;
        match files.and_then(|files| Self::build(&self.paths, &self.expected, &files)) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::files::{mkfifo, sparse, symlink, tempdir, within, write};
    use crate::testing::{TestResult, check, check_eq};
    use crate::tls::issue::{CertificateSet, write_tls_dir};
    use std::path::Path;

    fn age(path: &std::path::Path) {
        let aged = std::fs::File::options()
            .write(true)
            .open(path)
            .and_then(|file| file.set_modified(SystemTime::now() - Duration::from_secs(3600)));
        if let Err(error) = aged {
            panic!("ageing {}: {error}", path.display());
        }
    }

    fn unchanged(reloader: &TlsReloader) -> bool {
        match reloader.last_seen.lock() {
            Ok(seen) => seen.unchanged(&reloader.paths.all().map(|(path, _)| Stamp::of_path(path))),
            Err(_) => panic!("lock poisoned"),
        }
    }

    /// A check whose stamps all match reads nothing; a just-written file is read
    /// again (racy), and a rewrite changes the stamps.
    #[test]
    fn unchanged_files_are_not_read_again() -> Result<(), crate::Error> {
        let dir = tempfile::tempdir().map_err(|e| crate::Error::internal(e.to_string()))?;
        let set = CertificateSet::generate(&["localhost".to_string()])?;
        write_tls_dir(dir.path(), set.authority.cert_pem(), &set.server)?;
        let paths = CertPaths::in_dir(dir.path());
        let load = |paths: CertPaths| {
            TlsReloader::load(paths, ExpectedNames::default(), Arc::new(Metrics::new()))
                .map(|(reloader, _)| reloader)
                .map_err(|e| crate::Error::internal(e.0))
        };

        let reloader = load(paths.clone())?;
        assert!(
            !unchanged(&reloader),
            "just written: the timestamps cannot be trusted yet"
        );

        for (path, _) in paths.all() {
            age(path);
        }
        let reloader = load(paths.clone())?;
        assert!(unchanged(&reloader), "old files, same stamps: nothing to read");
        assert_eq!(reloader.reload_if_changed(), Ok(false));

        std::fs::write(&paths.cert, set.server.cert_pem.as_bytes())
            .map_err(|e| crate::Error::internal(e.to_string()))?;
        age(&paths.cert);
        assert!(!unchanged(&reloader), "a rewrite changes the change time");
        assert_eq!(reloader.reload_if_changed(), Ok(false), "same contents: no reload");
        assert!(unchanged(&reloader));
        Ok(())
    }

    // ---- hostile certificate folders (someone who controls the folder) ----------

    /// A certificate folder with a good set, and the reloader's inputs.
    struct Certs {
        dir: tempfile::TempDir,
        set: CertificateSet,
    }

    impl Certs {
        fn new() -> TestResult<Self> {
            let dir = tempdir()?;
            let set = CertificateSet::generate(&["localhost".to_string()])?;
            write_tls_dir(dir.path(), set.authority.cert_pem(), &set.server)?;
            Ok(Certs { dir, set })
        }

        fn path(&self, name: &str) -> std::path::PathBuf {
            self.dir.path().join(name)
        }

        /// Replaces `name` with whatever `make` creates at its path.
        fn replace(&self, name: &str, make: impl FnOnce(&Path) -> TestResult) -> TestResult {
            let path = self.path(name);
            std::fs::remove_file(&path).map_err(|error| format!("removing {name}: {error}"))?;
            make(&path)
        }

        /// Loads the folder on a thread of its own: an error if it hangs, else the load's result.
        fn load(&self, metrics: &Arc<Metrics>) -> TestResult<Result<TlsReloader, String>> {
            let paths = CertPaths::in_dir(self.dir.path());
            let metrics = Arc::clone(metrics);
            within("TlsReloader::load", move || {
                TlsReloader::load(paths, ExpectedNames::default(), metrics)
                    .map(|(reloader, _)| reloader)
                    .map_err(|error| error.to_string())
            })
        }
    }

    fn reload_certs(reloader: &Arc<TlsReloader>) -> TestResult<Result<bool, String>> {
        let reloader = Arc::clone(reloader);
        within("TlsReloader::reload_if_changed", move || {
            reloader.reload_if_changed().map_err(|error| error.to_string())
        })
    }

    /// Which file, what to put at its path, and what the error must say.
    type Hostile = (&'static str, fn(&Path) -> TestResult, &'static str);

    #[test]
    fn hostile_certificate_files_are_refused_at_load() -> TestResult {
        let cases: [Hostile; 3] = [
            ("tls.crt", mkfifo, "tls.crt is a FIFO (named pipe), not a regular file"),
            (
                "ca.crt",
                |path| symlink("/dev/zero", path),
                "ca.crt is a character device, not a regular file",
            ),
            (
                "tls.key",
                |path| sparse(path, 500 << 20),
                "tls.key is larger than the 1 MiB limit for one file",
            ),
        ];
        for (name, make, expected) in cases {
            let certs = Certs::new()?;
            certs.replace(name, make)?;
            match certs.load(&Arc::new(Metrics::new()))? {
                Ok(_) => return Err(format!("loading with a hostile {name} succeeded").into()),
                Err(error) => check!(error.contains(expected), "{error}"),
            }
        }
        Ok(())
    }

    #[test]
    fn hostile_certificate_files_on_reload_are_counted_once_and_the_old_set_stays() -> TestResult {
        let certs = Certs::new()?;
        let metrics = Arc::new(Metrics::new());
        let reloader = Arc::new(certs.load(&metrics)??);
        let before = reloader.current();

        let steps: [Hostile; 3] = [
            ("tls.crt", mkfifo, "tls.crt is a FIFO"),
            (
                "tls.crt",
                |path| symlink("/dev/zero", path),
                "tls.crt is a character device",
            ),
            (
                "ca.crt",
                |path| sparse(path, 500 << 20),
                "ca.crt is larger than the 1 MiB limit",
            ),
        ];
        for (count, (name, make, expected)) in (1..).zip(steps) {
            certs.replace(name, make)?;
            match reload_certs(&reloader)? {
                Ok(reloaded) => return Err(format!("a hostile {name} was accepted (reloaded: {reloaded})").into()),
                Err(error) => check!(error.contains(expected), "{error}"),
            }
            check_eq!(metrics.certificate_reload_failures(), count, "{expected}: counted once");
            check_eq!(reload_certs(&reloader)?, Ok(false), "{expected}: the same set again");
            check_eq!(
                metrics.certificate_reload_failures(),
                count,
                "{expected}: not counted twice"
            );
            check!(
                Arc::ptr_eq(&before, &reloader.current()),
                "the old certificate stays in use"
            );
            // Restore that file for the next step.
            certs.replace(name, |path| {
                let pem = match name {
                    "ca.crt" => certs.set.authority.cert_pem().to_string(),
                    _ => certs.set.server.cert_pem.clone(),
                };
                write(path, &pem)
            })?;
        }
        // A good new set is loaded.
        let rotated = certs.set.authority.issue_server(
            &["localhost".to_string()],
            crate::tls::issue::Validity::starting_now(Duration::from_secs(3600)),
        )?;
        write_tls_dir(certs.dir.path(), certs.set.authority.cert_pem(), &rotated)?;
        check_eq!(reload_certs(&reloader)?, Ok(true), "a good new set");
        check_eq!(metrics.certificate_reloads(), 1, "reloads counted");
        check!(!Arc::ptr_eq(&before, &reloader.current()), "the new set is in use");
        Ok(())
    }
}
