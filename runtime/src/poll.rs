//! Polling files for changes: the one loop behind certificate and manifest reloads.
//! Polling (rather than inotify) sees Kubernetes' `..data` symlink swap the same
//! way as a plain rewrite, and costs a few small reads per interval.

use std::time::Duration;

/// Calls `check` every `interval` (first after one interval) until the task is
/// aborted. `check` returns `Ok(true)` when something new was loaded.
pub(crate) fn spawn_polling<E: std::fmt::Display + Send + 'static>(
    interval: Duration,
    what: &'static str,
    mut check: impl FnMut() -> Result<bool, E> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            match check() {
                Ok(true) => tracing::info!("{what} reloaded"),
                Ok(false) => {}
                Err(error) => tracing::error!(%error, "{what} not reloaded; the previous ones stay in use"),
            }
        }
    })
}
