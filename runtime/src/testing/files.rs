//! Hostile files for tests of everything that reads files (manifests,
//! certificates): FIFOs, symlinks to devices, huge sparse files, old timestamps,
//! and a guard that fails a test whose file read hangs. Each helper returns a
//! [`TestResult`] naming what failed.

use super::TestResult;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

/// How long a load or reload may take before [`within`] calls it hung. Generous:
/// each takes milliseconds, a hang takes forever.
pub const HUNG: Duration = Duration::from_secs(20);

/// Runs `work` on a thread of its own and returns its result, or an error when
/// it has not finished within [`HUNG`] (the thread is left blocked; the test
/// process exits anyway).
pub fn within<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> TestResult<T> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(work());
    });
    match receiver.recv_timeout(HUNG) {
        Ok(value) => Ok(value),
        Err(_) => Err(format!("{what} did not finish within {HUNG:?}: it hangs").into()),
    }
}

/// A temporary folder, removed when dropped.
pub fn tempdir() -> TestResult<tempfile::TempDir> {
    Ok(tempfile::tempdir().map_err(|error| format!("creating a temporary folder: {error}"))?)
}

/// Writes `text` to `path`.
pub fn write(path: &Path, text: &str) -> TestResult {
    std::fs::write(path, text).map_err(|error| format!("writing {}: {error}", path.display()))?;
    Ok(())
}

/// Makes a FIFO (named pipe) at `path`: opening it for reading blocks until a writer comes.
pub fn mkfifo(path: &Path) -> TestResult {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .map_err(|error| format!("running mkfifo: {error}"))?;
    crate::__testing_check!(status.success(), "mkfifo {} failed: {status}", path.display());
    Ok(())
}

/// Makes `link` a symbolic link to `target`.
pub fn symlink(target: impl AsRef<Path>, link: &Path) -> TestResult {
    std::os::unix::fs::symlink(target.as_ref(), link)
        .map_err(|error| format!("symlink {}: {error}", link.display()))?;
    Ok(())
}

/// A sparse file of `bytes` zeros: no disk cost.
pub fn sparse(path: &Path, bytes: u64) -> TestResult {
    let file = std::fs::File::create(path).map_err(|error| format!("creating {}: {error}", path.display()))?;
    file.set_len(bytes)
        .map_err(|error| format!("sizing {}: {error}", path.display()))?;
    Ok(())
}

/// Sets a file's modification time an hour back, as for a file written long ago.
pub fn age(path: &Path) -> TestResult {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(SystemTime::now() - Duration::from_secs(3600)))
        .map_err(|error| format!("setting the mtime of {}: {error}", path.display()))?;
    Ok(())
}
