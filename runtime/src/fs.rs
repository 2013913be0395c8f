//! Reading files that someone else controls: the manifests folder and the
//! certificate files. Whoever can write there must not be able to hang the
//! provider or exhaust its memory, so every read here
//!
//! - opens **regular files only**: the path is checked with `stat` (following
//!   symlinks, so Kubernetes' `..data` links work) before it is opened, so a FIFO,
//!   a device (`/dev/zero`, `/dev/watchdog`…) or a socket is never even opened;
//! - opens with `O_NONBLOCK | O_NOCTTY`, so that a path swapped for a FIFO between
//!   the check and the open does not block in `open(2)` waiting for a writer (nor
//!   a terminal become our controlling terminal), and checks the opened handle
//!   again with `fstat`, refusing what is not a regular file;
//! - reads at most `limit` bytes: `take(limit + 1)`, so a file that grows while it
//!   is read is caught too, and no more than `limit + 1` bytes are ever allocated.
//!
//! Together these make every read finish in bounded time on a local filesystem:
//! nothing waits for a writer, nothing streams forever. That matters beyond the
//! read itself: reads run on tokio's blocking pool, and the runtime waits for
//! running blocking tasks when it shuts down, so an unbounded read would keep the
//! process alive after SIGTERM. (What no flag can bound is a regular file on a
//! hung network or FUSE filesystem, where the kernel itself blocks the read.)
//!
//! [`Stamp`] is the cheap change check from metadata, with git's "racy clean"
//! rule for files modified too recently for their timestamps to be trusted.

use crate::display::bounded;
use std::fmt;
use std::fs::{FileType, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// How many characters of a path are echoed into an error: enough for the file
/// name at the end of a kubelet volume path.
const MAX_PATH_ECHO: usize = 1024;

/// A modification this close to a read (or after it) cannot be told apart from
/// the version read by its timestamp alone: the file is read again. Two seconds
/// covers the coarsest timestamps in use (FAT); most filesystems have nanoseconds.
pub(crate) const RACY_WINDOW: Duration = Duration::from_secs(2);

/// A path as shown in errors and logs: escaped and bounded.
pub(crate) fn shown(path: &Path) -> String {
    bounded(&path.to_string_lossy()).at_most(MAX_PATH_ECHO).to_string()
}

/// `bytes` as "4 MiB", "512 KiB" or "100 bytes".
pub(crate) fn human_bytes(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// A file's identity and version as its metadata tells them: device and inode
/// (a new file, or a symlink now pointing elsewhere), size, and modification and
/// change times to the nanosecond. Equal stamps mean "unchanged", provided the
/// file was not [racy](Stamp::is_racy) when it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    mode: u32,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

fn nanos_since_epoch(seconds: i64, nanos: i64) -> i128 {
    i128::from(seconds) * 1_000_000_000 + i128::from(nanos)
}

impl Stamp {
    /// The stamp of `metadata` (from `stat` or `fstat`).
    pub(crate) fn of(metadata: &Metadata) -> Self {
        Stamp {
            dev: metadata.dev(),
            ino: metadata.ino(),
            mode: metadata.mode(),
            size: metadata.size(),
            mtime: (metadata.mtime(), metadata.mtime_nsec()),
            ctime: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }

    /// The size in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The stamp of what `path` names now (following symlinks); `None` when it
    /// cannot be stat'ed.
    pub(crate) fn of_path(path: &Path) -> Option<Self> {
        std::fs::metadata(path).ok().map(|metadata| Stamp::of(&metadata))
    }

    /// Whether a file with this stamp, read starting at `read_at`, may have been
    /// rewritten after the read without the stamp changing (git's "racy clean"):
    /// its modification time is within [`RACY_WINDOW`] of the read, or after it.
    /// Such a file is read again at the next check instead of being trusted.
    pub(crate) fn is_racy(&self, read_at: SystemTime) -> bool {
        let read_at = match read_at.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(since) => since.as_nanos() as i128,
            // A clock before 1970: trust nothing.
            Err(_) => return true,
        };
        let modified = nanos_since_epoch(self.mtime.0, self.mtime.1);
        modified + RACY_WINDOW.as_nanos() as i128 > read_at
    }
}

/// What was wrong with a file.
#[derive(Debug)]
pub(crate) enum Problem {
    /// Not a regular file: a FIFO, a device, a socket, a folder; says which.
    NotRegular(&'static str),
    /// Larger than the limit (in bytes).
    TooLarge(u64),
    /// Missing, not permitted, or failing to read.
    Unreadable(std::io::Error),
}

/// A file that was not read, naming the file and why. Never holds file contents.
#[derive(Debug)]
pub(crate) struct FileError {
    what: &'static str,
    path: String,
    /// Why.
    pub(crate) problem: Problem,
}

impl FileError {
    fn new(what: &'static str, path: &Path, problem: Problem) -> Self {
        FileError {
            what,
            path: shown(path),
            problem,
        }
    }

    /// Whether the file was refused for what it is (not a regular file, too large)
    /// rather than failing to read: retrying will not help until it changes.
    pub(crate) fn is_refusal(&self) -> bool {
        !matches!(self.problem, Problem::Unreadable(_))
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let FileError { what, path, problem } = self;
        match problem {
            Problem::NotRegular(kind) => {
                write!(
                    f,
                    "{what} {path} is {kind}, not a regular file; only regular files are read"
                )
            }
            Problem::TooLarge(limit) => write!(
                f,
                "{what} {path} is larger than the {} limit for one file",
                human_bytes(*limit)
            ),
            Problem::Unreadable(error) => write!(f, "cannot read {what} {path}: {error}"),
        }
    }
}

impl std::error::Error for FileError {}

/// What a file that is not a regular file is, for errors.
fn kind_of(file_type: FileType) -> Option<&'static str> {
    if file_type.is_file() {
        None
    } else if file_type.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else if file_type.is_socket() {
        Some("a socket")
    } else if file_type.is_dir() {
        Some("a folder")
    } else {
        Some("not a regular file")
    }
}

fn check(metadata: &Metadata, limit: u64, what: &'static str, path: &Path) -> Result<(), FileError> {
    if let Some(kind) = kind_of(metadata.file_type()) {
        return Err(FileError::new(what, path, Problem::NotRegular(kind)));
    }
    if metadata.len() > limit {
        return Err(FileError::new(what, path, Problem::TooLarge(limit)));
    }
    Ok(())
}

/// Reads the regular file at `path` (symlinks followed), at most `limit` bytes of
/// it, without ever blocking on a FIFO or streaming a device (see the module
/// docs). `what` names the file's role in errors ("manifest", "CA certificate").
/// Returns the contents and the stamp of the file actually read.
pub(crate) fn read_regular(path: &Path, what: &'static str, limit: u64) -> Result<(Vec<u8>, Stamp), FileError> {
    let unreadable = |error| FileError::new(what, path, Problem::Unreadable(error));
    // First by path, so a FIFO or a device is never opened at all (opening some
    // devices has effects of its own).
    let before = std::fs::metadata(path).map_err(unreadable)?;
    check(&before, limit, what, path)?;
    // Then the handle: the path may have been swapped in between. O_NONBLOCK
    // makes opening a FIFO return at once; on a regular file it changes nothing.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(unreadable)?;
    let opened = file.metadata().map_err(unreadable)?;
    check(&opened, limit, what, path)?;
    // Sized from the handle, which is at most `limit`.
    let expected = usize::try_from(opened.len()).unwrap_or(0).saturating_add(1);
    let mut bytes = Vec::with_capacity(expected);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::new(what, path, Problem::TooLarge(limit)));
    }
    Ok((bytes, Stamp::of(&opened)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir() -> tempfile::TempDir {
        match tempfile::tempdir() {
            Ok(dir) => dir,
            Err(error) => panic!("tempdir: {error}"),
        }
    }

    fn expect_error(result: Result<(Vec<u8>, Stamp), FileError>) -> FileError {
        match result {
            Ok((bytes, _)) => panic!("read {} bytes, expected an error", bytes.len()),
            Err(error) => error,
        }
    }

    #[test]
    fn reads_a_regular_file_through_a_symlink() {
        let dir = tempdir();
        let path = dir.path().join("a.yaml");
        if let Err(error) = std::fs::write(&path, "hello") {
            panic!("write: {error}");
        }
        let link = dir.path().join("link.yaml");
        if let Err(error) = std::os::unix::fs::symlink(&path, &link) {
            panic!("symlink: {error}");
        }
        match read_regular(&link, "manifest", 5) {
            Ok((bytes, stamp)) => {
                assert_eq!(bytes, b"hello");
                assert_eq!(Some(stamp), Stamp::of_path(&path));
            }
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn refuses_devices_folders_and_files_over_the_limit() {
        let error = expect_error(read_regular(Path::new("/dev/zero"), "manifest", 10));
        assert_eq!(
            error.to_string(),
            "manifest /dev/zero is a character device, not a regular file; only regular files are read"
        );
        assert!(error.is_refusal());
        let dir = tempdir();
        let error = expect_error(read_regular(dir.path(), "manifest", 10));
        assert!(error.to_string().contains("is a folder"), "{error}");

        let path = dir.path().join("big");
        if let Err(error) = std::fs::write(&path, "12345678901") {
            panic!("write: {error}");
        }
        let error = expect_error(read_regular(&path, "private key", 10));
        assert!(
            error
                .to_string()
                .ends_with("big is larger than the 10 bytes limit for one file"),
            "{error}"
        );
        let error = expect_error(read_regular(&dir.path().join("missing"), "manifest", 10));
        assert!(!error.is_refusal());
        assert!(error.to_string().starts_with("cannot read manifest "), "{error}");
    }

    #[test]
    fn control_characters_in_names_are_escaped() {
        let error = FileError::new("manifest", Path::new("/m/a\nb.yaml"), Problem::TooLarge(4 << 20));
        assert_eq!(
            error.to_string(),
            "manifest /m/a\\nb.yaml is larger than the 4 MiB limit for one file"
        );
    }

    #[test]
    fn recently_modified_files_are_racy() {
        let stamp_at = |seconds: i64, nanos: i64| Stamp {
            dev: 1,
            ino: 2,
            mode: 0o100644,
            size: 3,
            mtime: (seconds, nanos),
            ctime: (seconds, nanos),
        };
        let read_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert!(!stamp_at(997, 999_999_999).is_racy(read_at));
        assert!(
            !stamp_at(998, 0).is_racy(read_at),
            "exactly two seconds before is old enough"
        );
        assert!(stamp_at(998, 1).is_racy(read_at));
        assert!(stamp_at(1_000, 0).is_racy(read_at));
        assert!(stamp_at(5_000, 0).is_racy(read_at), "modified in the future");
        assert!(!stamp_at(-5, 0).is_racy(read_at));
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(4 << 20), "4 MiB");
        assert_eq!(human_bytes(32 << 20), "32 MiB");
        assert_eq!(human_bytes(1 << 20), "1 MiB");
        assert_eq!(human_bytes(512 << 10), "512 KiB");
        assert_eq!(human_bytes(1000), "1000 bytes");
    }
}
