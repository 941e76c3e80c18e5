//! Logging a kind of event at most once per interval, so that an attack cannot flood the log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::time::UnixTime;

/// Lets one log line of a kind through per interval and counts the ones it held back.
///
/// Time is an input (a [`UnixTime`] on any clock that does not go back), so a gate works on
/// the HTTP layer's injected clock as well as on a monotonic one. Each owner keeps its own
/// gates: two servers (or two HTTP layers) in one process do not silence each other.
#[derive(Debug)]
pub struct LogGate {
    every_ms: u64,
    /// `now.as_millis() + 1` of the last line let through (0: never).
    last: AtomicU64,
    skipped: AtomicU64,
}

impl LogGate {
    /// A gate that lets a line through at most once per `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            every_ms: u64::try_from(every.as_millis()).unwrap_or(u64::MAX),
            last: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
        }
    }

    /// At `now`: `Some(lines held back since the last one)` when a line may be written
    /// now, else `None` (and the line is counted as held back).
    pub fn open(&self, now: UnixTime) -> Option<u64> {
        let now = now.as_millis().saturating_add(1);
        let last = self.last.load(Ordering::Relaxed);
        if (last == 0 || now.saturating_sub(last) >= self.every_ms)
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.skipped.swap(0, Ordering::Relaxed));
        }
        self.skipped.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Lines held back since the last one let through.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_gate_writes_once_per_interval_and_counts_the_rest() {
        let gate = LogGate::new(Duration::from_secs(10));
        assert_eq!(gate.open(UnixTime::from_millis(0)), Some(0));
        assert_eq!(gate.open(UnixTime::from_millis(1)), None);
        assert_eq!(gate.open(UnixTime::from_millis(9_999)), None);
        assert_eq!(gate.skipped(), 2);
        assert_eq!(gate.open(UnixTime::from_millis(10_000)), Some(2));
        assert_eq!(gate.skipped(), 0);
    }

    /// Before, the stream-cap log kept its time in a process-wide static: one instance's line
    /// silenced every other's.
    #[test]
    fn each_gate_keeps_its_own_time() {
        let a = LogGate::new(Duration::from_secs(1));
        let b = LogGate::new(Duration::from_secs(1));
        assert_eq!(a.open(UnixTime::from_millis(5_000)), Some(0));
        assert_eq!(b.open(UnixTime::from_millis(5_000)), Some(0));
    }
}
