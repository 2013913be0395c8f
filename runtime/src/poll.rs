//! Polling files for changes: the one loop behind certificate and manifest reloads.
//! Polling (rather than inotify) sees Kubernetes' `..data` symlink swap the same
//! way as a plain rewrite, and costs a few `stat` calls per interval (files are
//! read only when their metadata changed).
//!
//! Each check is blocking file I/O, so it runs on tokio's blocking pool, never on
//! an async worker thread: a slow filesystem delays the next reload, not a gRPC
//! call. Checks run one at a time (the next waits for the previous to finish), and
//! one that takes unusually long is logged.
//!
//! Shutdown: aborting the polling task stops it at its next await; a check already
//! running on the blocking pool runs to its end, and the tokio runtime waits for it
//! when it shuts down. That cannot keep the process alive after SIGTERM, because
//! every check is bounded: files are opened non-blocking and only if they are
//! regular files (a FIFO is refused, never waited on), each read stops at a size
//! limit (a device like `/dev/zero` is refused, a huge file cut short), and the
//! folder walk visits each folder once and stops at a number of entries and a
//! depth (see `crate::fs` and the sources). The one thing no flag bounds is a
//! filesystem that hangs in the kernel (a dead NFS server, a stuck FUSE daemon).

use std::sync::Arc;
use std::time::{Duration, Instant};

/// A check running longer than this is logged (at `warn`), while it runs and when
/// it ends: reading a folder of manifests or three certificates takes milliseconds.
pub(crate) const SLOW_CHECK: Duration = Duration::from_secs(5);

/// Calls `check` every `interval` (first after one interval), on the blocking
/// pool, one at a time, until the task is aborted. `check` returns `Ok(true)` when
/// something new was loaded.
pub(crate) fn spawn_polling<E: std::fmt::Display + Send + 'static>(
    interval: Duration,
    what: &'static str,
    check: impl Fn() -> Result<bool, E> + Send + Sync + 'static,
) -> tokio::task::JoinHandle<()> {
    let check = Arc::new(check);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        // After a slow check, wait a whole interval again rather than catching up.
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let started = Instant::now();
            let check = Arc::clone(&check);
            let mut running = tokio::task::spawn_blocking(move || check());
            let outcome = match tokio::time::timeout(SLOW_CHECK, &mut running).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::warn!(
                        seconds = SLOW_CHECK.as_secs(),
                        "{what} check still running; the next one waits for it"
                    );
                    running.await
                }
            };
            let took = started.elapsed();
            if took >= SLOW_CHECK {
                tracing::warn!(seconds = took.as_secs_f64(), "{what} check was slow");
            }
            match outcome {
                Ok(Ok(true)) => tracing::info!("{what} reloaded"),
                Ok(Ok(false)) => {}
                Ok(Err(error)) => tracing::error!(%error, "{what} not reloaded; the previous ones stay in use"),
                Err(error) => tracing::error!(%error, "{what} check failed; the previous ones stay in use"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// On a single-threaded runtime, a check that blocks for a while must not stop
    /// other tasks, and checks must never overlap.
    #[tokio::test(flavor = "current_thread")]
    async fn checks_run_off_the_runtime_one_at_a_time() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let checks = Arc::new(AtomicUsize::new(0));
        let (r, m, c) = (Arc::clone(&running), Arc::clone(&most), Arc::clone(&checks));
        let poller = spawn_polling(Duration::from_millis(10), "test", move || {
            let now = r.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(150));
            r.fetch_sub(1, Ordering::SeqCst);
            c.fetch_add(1, Ordering::SeqCst);
            Ok::<bool, String>(false)
        });
        // Ticks of 10 ms on the same (only) thread keep coming while checks block.
        let started = Instant::now();
        let mut ticks = 0;
        while started.elapsed() < Duration::from_millis(700) {
            tokio::time::sleep(Duration::from_millis(10)).await;
            ticks += 1;
        }
        poller.abort();
        assert!(
            checks.load(Ordering::SeqCst) >= 2,
            "checks ran: {}",
            checks.load(Ordering::SeqCst)
        );
        assert!(ticks >= 20, "the runtime was blocked: only {ticks} ticks in 700 ms");
        assert_eq!(most.load(Ordering::SeqCst), 1, "checks overlapped");
    }
}
