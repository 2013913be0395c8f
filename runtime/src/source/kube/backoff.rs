//! Exponential backoff with a cap, for watches and status writes.

use std::time::Duration;

/// Doubles from `initial` up to `max`; [`reset`](kube::runtime::utils::Backoff::reset) starts over.
#[derive(Debug, Clone)]
pub(crate) struct ExponentialBackoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl ExponentialBackoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        ExponentialBackoff {
            initial,
            max,
            next: initial.min(max),
        }
    }

    /// The delay to wait now; the one after is twice as long, up to the cap.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }
}

impl Iterator for ExponentialBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(self.next_delay())
    }
}

impl kube::runtime::utils::Backoff for ExponentialBackoff {
    fn reset(&mut self) {
        self.next = self.initial.min(self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        use kube::runtime::utils::Backoff;
        let mut backoff = ExponentialBackoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let delays: Vec<u64> = (0..4).map(|_| backoff.next_delay().as_millis() as u64).collect();
        assert_eq!(delays, [100, 200, 350, 350]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(100));
    }
}
