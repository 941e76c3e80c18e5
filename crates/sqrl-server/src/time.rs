//! [`UnixTime`]: a point in time as the core takes it, in milliseconds since the Unix epoch.

use std::time::Duration;

/// A point in time: milliseconds since the Unix epoch (1970-01-01 00:00:00 UTC).
///
/// The core never reads the clock: every `now` is an input of this type, so flows, limits and
/// log gates count the same unit. Stored and wire data (nuts, records, cookies) keep their own
/// representation, seconds since the Unix epoch as `u64`, converted with [`UnixTime::as_secs`]
/// and [`UnixTime::from_secs`]. The HTTP layer (`sqrl-axum`) reads the system clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime(u64);

impl UnixTime {
    /// The epoch itself.
    pub const EPOCH: UnixTime = UnixTime(0);

    /// `secs` seconds after the epoch (saturating at the largest time).
    #[must_use]
    pub const fn from_secs(secs: u64) -> Self {
        UnixTime(secs.saturating_mul(1000))
    }

    /// `millis` milliseconds after the epoch.
    #[must_use]
    pub const fn from_millis(millis: u64) -> Self {
        UnixTime(millis)
    }

    /// Whole seconds since the epoch (rounded down).
    #[must_use]
    pub const fn as_secs(self) -> u64 {
        self.0 / 1000
    }

    /// Milliseconds since the epoch.
    #[must_use]
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + by`, saturating at the largest time.
    #[must_use]
    pub fn saturating_add(self, by: Duration) -> Self {
        UnixTime(self.0.saturating_add(duration_millis(by)))
    }

    /// `self - by`, saturating at the epoch.
    #[must_use]
    pub fn saturating_sub(self, by: Duration) -> Self {
        UnixTime(self.0.saturating_sub(duration_millis(by)))
    }

    /// How long after `earlier` this is (zero when it is not after it).
    #[must_use]
    pub fn saturating_duration_since(self, earlier: UnixTime) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// Whole milliseconds in `d`, saturating.
fn duration_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_milliseconds_agree() {
        let t = UnixTime::from_secs(1_700_000_000);
        assert_eq!(t.as_secs(), 1_700_000_000);
        assert_eq!(t.as_millis(), 1_700_000_000_000);
        assert_eq!(UnixTime::from_millis(1_999).as_secs(), 1);
        assert_eq!(UnixTime::from_secs(u64::MAX).as_millis(), u64::MAX);
    }

    #[test]
    fn arithmetic_saturates() {
        let t = UnixTime::from_secs(10);
        assert_eq!(
            t.saturating_add(Duration::from_millis(1_500)).as_millis(),
            11_500
        );
        assert_eq!(t.saturating_sub(Duration::from_secs(20)), UnixTime::EPOCH);
        assert_eq!(
            UnixTime::from_millis(u64::MAX).saturating_add(Duration::from_secs(1)),
            UnixTime::from_millis(u64::MAX)
        );
        assert_eq!(
            t.saturating_duration_since(UnixTime::from_secs(4)),
            Duration::from_secs(6)
        );
        assert_eq!(UnixTime::EPOCH.saturating_duration_since(t), Duration::ZERO);
    }
}
