//! Someone who controls the manifests folder or the certificate folder: FIFOs,
//! devices, symlink loops and huge files must be refused (promptly, naming the file
//! and the cause) or walked past, never hang a load or a reload or exhaust memory;
//! unchanged files are not read again, and edits are still seen.
#![allow(clippy::expect_used)]

use eso_runtime::certs::{CertificateSet, write_tls_dir};
use eso_runtime::metrics::Metrics;
use eso_runtime::source::Source;
use eso_runtime::source::files::FilesSource;
use eso_runtime::tls::{CertPaths, ExpectedNames, TlsReloader};
use eso_runtime::{Gvk, Result};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

/// How long a load or reload may take before the test calls it hung. Generous:
/// each takes milliseconds, a hang takes forever.
const HUNG: Duration = Duration::from_secs(20);

const FAKE: Gvk = Gvk {
    group: "provider.external-secrets.io",
    version: "v2alpha1",
    kind: "Fake",
};

/// Runs `work` on a thread of its own and returns its result, or fails the test
/// when it has not finished within [`HUNG`] (the thread is left blocked; the test
/// process exits anyway).
fn within<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(work());
    });
    match receiver.recv_timeout(HUNG) {
        Ok(value) => value,
        Err(_) => panic!("{what} did not finish within {HUNG:?}: it hangs"),
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("creating a temporary folder")
}

fn object(name: &str) -> String {
    format!(
        "apiVersion: provider.external-secrets.io/v2alpha1\nkind: Fake\nmetadata: {{name: {name}}}\nspec: {{data: []}}\n"
    )
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap_or_else(|error| panic!("running mkfifo: {error}"));
    assert!(status.success(), "mkfifo {} failed: {status}", path.display());
}

fn symlink(target: impl AsRef<Path>, link: &Path) {
    std::os::unix::fs::symlink(target.as_ref(), link)
        .unwrap_or_else(|error| panic!("symlink {}: {error}", link.display()));
}

/// A sparse file of `bytes` zeros: no disk cost.
fn sparse(path: &Path, bytes: u64) {
    let file = std::fs::File::create(path).unwrap_or_else(|error| panic!("creating {}: {error}", path.display()));
    file.set_len(bytes)
        .unwrap_or_else(|error| panic!("sizing {}: {error}", path.display()));
}

/// Sets a file's modification time an hour back, as for a file written long ago.
fn age(path: &Path) {
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap_or_else(|error| panic!("opening {}: {error}", path.display()));
    file.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap_or_else(|error| panic!("setting the mtime of {}: {error}", path.display()));
}

fn load(dir: &Path) -> Result<FilesSource> {
    let dir = dir.to_path_buf();
    within("FilesSource::load", move || FilesSource::load(dir))
}

fn load_error(dir: &Path) -> String {
    match load(dir) {
        Ok(_) => panic!("loading {} succeeded; expected an error", dir.display()),
        Err(error) => error.to_string(),
    }
}

fn has(source: &FilesSource, name: &str) -> bool {
    matches!(source.object(&FAKE, "default", name), Ok(Some(_)))
}

fn reload(source: &Arc<FilesSource>) -> Result<bool> {
    let source = Arc::clone(source);
    within("FilesSource::reload", move || source.reload())
}

// ---- manifests --------------------------------------------------------------

#[test]
fn a_fifo_named_like_a_manifest_is_refused_at_load_and_on_reload() {
    let dir = tempdir();
    write(&dir.path().join("a.yaml"), &object("one"));
    mkfifo(&dir.path().join("x.yaml"));
    let error = load_error(dir.path());
    assert!(
        error.contains("x.yaml is a FIFO (named pipe), not a regular file"),
        "{error}"
    );

    // Appearing while running: the reload refuses it, the last good set stays, and
    // the same refusal is reported once.
    let dir = tempdir();
    write(&dir.path().join("a.yaml"), &object("one"));
    let source = Arc::new(load(dir.path()).expect("the good folder loads"));
    mkfifo(&dir.path().join("x.yaml"));
    let error = reload(&source).expect_err("a FIFO must not be accepted");
    assert!(error.message().contains("x.yaml is a FIFO"), "{error}");
    assert!(has(&source, "one"), "the last good set stays in force");
    assert!(!reload(&source).expect("the same set is not reported again"));
}

#[test]
fn a_symlink_to_dev_zero_is_refused_without_reading_it() {
    let dir = tempdir();
    write(&dir.path().join("a.yaml"), &object("one"));
    symlink("/dev/zero", &dir.path().join("z.yaml"));
    let error = load_error(dir.path());
    assert!(
        error.contains("z.yaml is a character device, not a regular file"),
        "{error}"
    );

    let dir = tempdir();
    write(&dir.path().join("a.yaml"), &object("one"));
    let source = Arc::new(load(dir.path()).expect("the good folder loads"));
    symlink("/dev/zero", &dir.path().join("z.yaml"));
    let error = reload(&source).expect_err("/dev/zero must not be accepted");
    assert!(error.message().contains("z.yaml is a character device"), "{error}");
    assert!(has(&source, "one"));
}

#[test]
fn symlink_loops_end_and_each_document_is_found_once() {
    let dir = tempdir();
    let root = dir.path();
    std::fs::create_dir_all(root.join("sub/deeper")).expect("creating subfolders");
    write(&root.join("a.yaml"), &object("one"));
    write(&root.join("sub/b.yaml"), &object("two"));
    write(&root.join("sub/deeper/c.yml"), &object("three"));
    symlink(".", &root.join("self"));
    symlink(".", &root.join("sub/also-self"));
    symlink("..", &root.join("sub/up"));
    symlink("../..", &root.join("sub/deeper/top"));
    symlink("../sub", &root.join("sub/deeper/sideways"));
    // A symlink to a folder that is not a loop still works.
    let elsewhere = tempdir();
    write(&elsewhere.path().join("d.json"), &object("four"));
    symlink(elsewhere.path(), &root.join("linked"));

    let source = Arc::new(load(root).expect("a folder with symlink loops loads, each document once"));
    for name in ["one", "two", "three", "four"] {
        assert!(has(&source, name), "{name} is loaded");
    }
    assert!(!reload(&source).expect("reloading the same folder"));
}

#[test]
fn a_huge_manifest_is_refused_naming_the_limit() {
    let dir = tempdir();
    write(&dir.path().join("a.yaml"), &object("one"));
    sparse(&dir.path().join("big.yaml"), 500 << 20);
    let error = load_error(dir.path());
    assert!(
        error.contains("big.yaml is larger than the 16 MiB limit for one file"),
        "{error}"
    );
}

#[test]
fn the_folder_as_a_whole_is_bounded() {
    let dir = tempdir();
    // Five files at the per-file limit: 80 MiB in all.
    for index in 0..5 {
        sparse(&dir.path().join(format!("f{index}.yaml")), 16 << 20);
    }
    let error = load_error(dir.path());
    assert!(
        error.contains("holds more than the 64 MiB limit of manifests in all"),
        "{error}"
    );
}

#[test]
fn unchanged_files_are_not_read_again_and_edits_are_still_seen() {
    let dir = tempdir();
    let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
    write(&a, &object("one"));
    write(&b, &object("two"));
    // Written long ago: their metadata can be trusted (a file modified within two
    // seconds of a check is read again, as its timestamp may not show a rewrite).
    age(&a);
    age(&b);
    let source = Arc::new(load(dir.path()).expect("loads"));
    assert_eq!(source.files_read(), 2);
    // The counter is incremented on every attempt to open and read a file, so an
    // unchanged count proves the checks stopped at `stat`.
    for _ in 0..3 {
        assert!(!reload(&source).expect("reload"));
    }
    assert_eq!(source.files_read(), 2, "unchanged files were read again");

    // An edit is seen, and only the edited file is read.
    write(&b, &object("two-edited"));
    assert!(reload(&source).expect("reload after an edit"));
    assert!(has(&source, "two-edited") && !has(&source, "two") && has(&source, "one"));
    assert_eq!(source.files_read(), 3);
    // Just modified: read again at the next check (racy clean), unchanged, so no reload.
    assert!(!reload(&source).expect("reload"));
    assert_eq!(source.files_read(), 4);
    // A rewrite with the same size and an old mtime still changes the ctime.
    write(&b, &object("two-EDITED"));
    age(&b);
    assert!(reload(&source).expect("reload after a same-size rewrite"));
    assert!(has(&source, "two-EDITED"));
}

#[test]
fn kubernetes_data_symlink_swap_is_seen() {
    let dir = tempdir();
    let root = dir.path();
    // The kubelet's layout: ..<timestamp>/ files, ..data -> it, names -> ..data/name.
    let first = root.join("..2026_01_01_00_00_00.1");
    std::fs::create_dir_all(&first).expect("creating the first version");
    write(&first.join("objects.yaml"), &object("one"));
    age(&first.join("objects.yaml"));
    symlink("..2026_01_01_00_00_00.1", &root.join("..data"));
    symlink("..data/objects.yaml", &root.join("objects.yaml"));
    let source = Arc::new(load(root).expect("loads"));
    assert!(has(&source, "one"));
    assert!(!reload(&source).expect("reload"));

    let second = root.join("..2026_01_01_00_01_00.2");
    std::fs::create_dir_all(&second).expect("creating the second version");
    write(&second.join("objects.yaml"), &object("uno"));
    age(&second.join("objects.yaml"));
    symlink("..2026_01_01_00_01_00.2", &root.join("..data_tmp"));
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).expect("swapping ..data");
    std::fs::remove_dir_all(&first).expect("removing the first version");
    assert!(reload(&source).expect("reload after the swap"));
    assert!(has(&source, "uno") && !has(&source, "one"));
}

// ---- certificates -----------------------------------------------------------

/// A certificate folder with a good set, and the reloader's inputs.
struct Certs {
    dir: tempfile::TempDir,
    set: CertificateSet,
}

impl Certs {
    fn new() -> Self {
        let dir = tempdir();
        let set = CertificateSet::generate(&["localhost".to_string()]).expect("generating certificates");
        write_tls_dir(dir.path(), set.authority.cert_pem(), &set.server).expect("writing certificates");
        Certs { dir, set }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Replaces `name` with whatever `make` creates at its path.
    fn replace(&self, name: &str, make: impl FnOnce(&Path)) {
        let path = self.path(name);
        std::fs::remove_file(&path).unwrap_or_else(|error| panic!("removing {name}: {error}"));
        make(&path);
    }

    fn load(&self, metrics: &Arc<Metrics>) -> std::result::Result<TlsReloader, String> {
        let paths = CertPaths::in_dir(self.dir.path());
        let metrics = Arc::clone(metrics);
        within("TlsReloader::load", move || {
            TlsReloader::load(paths, ExpectedNames::default(), metrics)
                .map(|(reloader, _)| reloader)
                .map_err(|error| error.to_string())
        })
    }
}

fn reload_certs(reloader: &Arc<TlsReloader>) -> std::result::Result<bool, String> {
    let reloader = Arc::clone(reloader);
    within("TlsReloader::reload_if_changed", move || {
        reloader.reload_if_changed().map_err(|error| error.to_string())
    })
}

/// Which file, what to put at its path, and what the error must say.
type Hostile = (&'static str, fn(&Path), &'static str);

#[test]
fn hostile_certificate_files_are_refused_at_load() {
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
        let certs = Certs::new();
        certs.replace(name, make);
        match certs.load(&Arc::new(Metrics::new())) {
            Ok(_) => panic!("loading with a hostile {name} succeeded"),
            Err(error) => assert!(error.contains(expected), "{error}"),
        }
    }
}

#[test]
fn hostile_certificate_files_on_reload_are_counted_once_and_the_old_set_stays() {
    let certs = Certs::new();
    let metrics = Arc::new(Metrics::new());
    let reloader = Arc::new(certs.load(&metrics).expect("the good set loads"));
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
        certs.replace(name, make);
        match reload_certs(&reloader) {
            Ok(reloaded) => panic!("a hostile {name} was accepted (reloaded: {reloaded})"),
            Err(error) => assert!(error.contains(expected), "{error}"),
        }
        assert_eq!(metrics.certificate_reload_failures(), count, "{expected}: counted once");
        assert_eq!(reload_certs(&reloader), Ok(false), "{expected}: the same set again");
        assert_eq!(
            metrics.certificate_reload_failures(),
            count,
            "{expected}: not counted twice"
        );
        assert!(
            Arc::ptr_eq(&before, &reloader.current()),
            "the old certificate stays in use"
        );
        // Restore that file for the next step.
        certs.replace(name, |path| {
            let pem = match name {
                "ca.crt" => certs.set.authority.cert_pem().to_string(),
                _ => certs.set.server.cert_pem.clone(),
            };
            write(path, &pem);
        });
    }
    // A good new set is loaded.
    let rotated = certs
        .set
        .authority
        .issue_server(
            &["localhost".to_string()],
            eso_runtime::certs::Validity::starting_now(Duration::from_secs(3600)),
        )
        .expect("issuing a new certificate");
    write_tls_dir(certs.dir.path(), certs.set.authority.cert_pem(), &rotated).expect("rotating");
    assert_eq!(reload_certs(&reloader), Ok(true));
    assert_eq!(metrics.certificate_reloads(), 1);
    assert!(!Arc::ptr_eq(&before, &reloader.current()));
}
