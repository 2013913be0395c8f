//! The bounded pool for CPU-heavy request work (regexp matching over many keys,
//! compiling a caller's regexp): never on the async workers, at most a few at once,
//! and stopped at the caller's deadline or when the caller goes away.
//!
//! A task runs on tokio's blocking threads while it holds one of
//! [`max_parallel`] permits; it gets a [`Checkpoint`] to call between chunks of its
//! work, which fails once the deadline has passed or the call was dropped (the
//! caller cancelled, or tonic cut it off at its `grpc-timeout`). A call that waits
//! for a permit past its deadline fails with `DEADLINE_EXCEEDED` without starting.

use crate::{Error, ErrorKind, Result};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How long request work may run when the caller sent no deadline.
pub(crate) const DEFAULT_WORK_LIMIT: Duration = Duration::from_secs(30);

/// How many CPU-heavy tasks run at once: the number of cores, at least 2.
pub(crate) fn max_parallel() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).max(2)
}

fn permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| Semaphore::new(max_parallel()))
}

/// Handed to blocking work: call [`check`](Self::check) between chunks.
pub(crate) struct Checkpoint {
    deadline: Instant,
    dropped: Arc<AtomicBool>,
    what: &'static str,
}

impl Checkpoint {
    /// Fails once the caller is gone or the deadline has passed.
    pub(crate) fn check(&self) -> Result<()> {
        if self.dropped.load(Ordering::Relaxed) {
            return Err(Error::new(
                ErrorKind::DeadlineExceeded,
                format!("{} stopped: the call was cancelled", self.what),
            ));
        }
        if Instant::now() >= self.deadline {
            return Err(deadline_passed(self.what));
        }
        Ok(())
    }
}

fn deadline_passed(what: &str) -> Error {
    Error::new(
        ErrorKind::DeadlineExceeded,
        format!("{what} did not finish before the call's deadline"),
    )
}

/// Sets the flag when the awaiting future is dropped, so the blocking work stops.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs `work` on the blocking pool under a permit, until `deadline` (or
/// [`DEFAULT_WORK_LIMIT`] from now when `None`). `what` names the work in errors.
pub(crate) async fn run<T, F>(what: &'static str, deadline: Option<Instant>, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Checkpoint) -> Result<T> + Send + 'static,
{
    let deadline = deadline.unwrap_or_else(|| Instant::now() + DEFAULT_WORK_LIMIT);
    let permit = tokio::time::timeout_at(deadline.into(), permits().acquire())
        .await
        .map_err(|_| deadline_passed(what))?
        .map_err(|_| Error::internal("the blocking pool is closed"))?;
    let dropped = Arc::new(AtomicBool::new(false));
    let _flag = DropFlag(Arc::clone(&dropped));
    let checkpoint = Checkpoint {
        deadline,
        dropped,
        what,
    };
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        checkpoint.check()?;
        work(&checkpoint)
    });
    task.await
        .map_err(|error| Error::internal(format!("{what} failed: {error}")))?
}

/// The deadline a `grpc-timeout` header value sets, counted from `now`: digits
/// (at most 8) and a unit, `H`, `M`, `S`, `m` (ms), `u` (µs) or `n` (ns).
pub(crate) fn grpc_deadline(header: &str, now: Instant) -> Option<Instant> {
    let (digits, unit) = header.split_at(header.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    let timeout = match unit {
        "H" => Duration::from_secs(amount.checked_mul(3600)?),
        "M" => Duration::from_secs(amount.checked_mul(60)?),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    };
    now.checked_add(timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_headers() {
        let now = Instant::now();
        assert_eq!(grpc_deadline("30S", now), Some(now + Duration::from_secs(30)));
        assert_eq!(grpc_deadline("100m", now), Some(now + Duration::from_millis(100)));
        assert_eq!(grpc_deadline("2M", now), Some(now + Duration::from_secs(120)));
        assert_eq!(grpc_deadline("1H", now), Some(now + Duration::from_secs(3600)));
        assert_eq!(grpc_deadline("5u", now), Some(now + Duration::from_micros(5)));
        assert_eq!(grpc_deadline("7n", now), Some(now + Duration::from_nanos(7)));
        for bad in ["", "S", "30", "30s", "123456789S", "-1S", "1.5S", "٣S"] {
            assert_eq!(grpc_deadline(bad, now), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn work_stops_at_the_deadline() {
        let deadline = Instant::now() + Duration::from_millis(50);
        let result = run("spinning", Some(deadline), |checkpoint| {
            loop {
                checkpoint.check()?;
                std::thread::sleep(Duration::from_millis(1));
            }
        })
        .await;
        let error: Result<(), Error> = result;
        assert!(
            matches!(&error, Err(e) if e.kind() == ErrorKind::DeadlineExceeded),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn work_stops_when_the_caller_goes_away() {
        let stopped = Arc::new(AtomicBool::new(false));
        let seen = Arc::clone(&stopped);
        let call = run("spinning", None, move |checkpoint| {
            loop {
                if checkpoint.check().is_err() {
                    seen.store(true, Ordering::SeqCst);
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        // The caller gives up after 20 ms: the future is dropped mid-way.
        let _ = tokio::time::timeout(Duration::from_millis(20), call).await;
        let waited = Instant::now();
        while !stopped.load(Ordering::SeqCst) && waited.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            stopped.load(Ordering::SeqCst),
            "the work kept running after its caller left"
        );
    }

    #[tokio::test]
    async fn work_returns_its_result() {
        let result = run("adding", None, |_| Ok(2 + 2)).await;
        assert_eq!(result, Ok(4));
    }
}
