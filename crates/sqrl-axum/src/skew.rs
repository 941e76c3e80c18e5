//! Clock skew between instances. A login code carries its issue time on the clock of the
//! instance that made it, and every instance accepts a code issued up to
//! [`CLOCK_SKEW`] (60 s) ahead of its own clock; past that, every login whose code came from
//! the instance that is ahead fails as "expired". So each time a page shows this instance a
//! code's issue time (its flow cookie, when it watches or redeems), the layer measures how
//! far ahead of its own clock that time is, logs it (at most once a minute, a warning from
//! [`NOTICE_FROM`] on, an error past [`CLOCK_SKEW`]) and exposes the last measurement as the
//! metric `sqrl_clock_skew_seconds`.

use std::time::Duration;

use sqrl_server::{LogGate, CLOCK_SKEW};

use crate::SqrlHttp;

/// Skew worth a warning (seconds): a code's issue time is whole seconds, so one second ahead
/// is rounding and a few are a network's delay, but this much is a clock that drifts.
pub(crate) const NOTICE_FROM: u64 = 5;

/// At most one log line about skew a minute.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// The skew log's gate.
#[derive(Debug)]
pub(crate) struct SkewLog {
    gate: LogGate,
}

impl SkewLog {
    pub(crate) fn new() -> Self {
        Self {
            gate: LogGate::new(LOG_EVERY),
        }
    }
}

impl SqrlHttp {
    /// Measures a code's issue time (seconds, on the clock of the instance that issued it)
    /// against this instance's clock: logs a skew that matters and records the measurement.
    pub(crate) fn observe_issue_time(&self, issued_at: u64) {
        let now = self.now();
        let ahead = issued_at.saturating_sub(now.as_secs());
        self.inner.metrics.clock_skew(ahead);
        if ahead < NOTICE_FROM {
            return;
        }
        let Some(skipped) = self.inner.skew_log.gate.open(now) else {
            return;
        };
        if ahead > CLOCK_SKEW {
            tracing::error!(
                skew_s = ahead,
                tolerated_s = CLOCK_SKEW,
                measured_since_last_line = skipped,
                "clock skew: a login code was issued this far ahead of this instance's clock, \
                 more than is tolerated, so its login fails as expired; synchronise the \
                 instances' clocks (NTP)"
            );
        } else {
            tracing::warn!(
                skew_s = ahead,
                tolerated_s = CLOCK_SKEW,
                measured_since_last_line = skipped,
                "clock skew: a login code was issued this far ahead of this instance's clock; \
                 logins fail past the tolerated skew"
            );
        }
    }
}
