//! Waiting for a condition with a deadline: the one place in the tests that sleeps (the
//! workspace's `clippy.toml` refuses `std::thread::sleep` elsewhere).

use std::time::{Duration, Instant};

/// How long [`wait_until`] pauses between two checks of its condition.
const POLL: Duration = Duration::from_millis(20);

/// Checks `condition` until it holds or `limit` has passed, pausing 20 ms between checks;
/// whether it held. The condition is checked at least once, and once more at the deadline.
#[allow(clippy::disallowed_methods)] // Pausing between checks is what this function is for.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if condition() {
            return true;
        }
        let left = limit.saturating_sub(start.elapsed());
        if left.is_zero() {
            return false;
        }
        std::thread::sleep(POLL.min(left));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_at_once_or_times_out() {
        assert!(wait_until(Duration::ZERO, || true));
        assert!(!wait_until(Duration::from_millis(50), || false));
        let mut calls = 0;
        assert!(wait_until(Duration::from_secs(5), || {
            calls += 1;
            calls == 3
        }));
    }
}
