//! RFC 3261 timer values, configurable because the manual exposes T1, T2 and the
//! transaction timeouts (F-6.4.19 to F-6.4.22).

use std::time::Duration;

/// Base timers of the transaction layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipTimers {
    /// Round-trip estimate (default 500 ms).
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses (default 4 s).
    pub t2: Duration,
    /// How long the network may hold a message (default 5 s).
    pub t4: Duration,
}

impl Default for SipTimers {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl SipTimers {
    /// Timer B/F/H/J: 64·T1, the transaction give-up time.
    pub fn transaction_timeout(&self) -> Duration {
        self.t1 * 64
    }

    /// The next retransmission interval after `current`: doubled, capped at T2.
    pub fn next_interval(&self, current: Duration) -> Duration {
        (current * 2).min(self.t2)
    }
}
