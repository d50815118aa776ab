//! RFC 3261 timer values, configurable because the manual exposes T1, T2 and the
//! transaction timeouts (F-6.4.19 to F-6.4.22).

use std::time::Duration;

/// Base timers of the transaction layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipTimers {
    /// Round-trip estimate (default 500 ms, F-6.4.21).
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses
    /// (default 4 s, F-6.4.22).
    pub t2: Duration,
    /// How long the network may hold a message (default 5 s).
    pub t4: Duration,
    /// F-6.4.19: lifetime of a non-INVITE client transaction (Timer F, default 64·T1).
    pub nict_timeout: Duration,
    /// F-6.4.20: lifetime of an INVITE client transaction (Timer B, default 64·T1).
    pub ict_timeout: Duration,
}

impl Default for SipTimers {
    fn default() -> Self {
        Self::from_t1_t2(Duration::from_millis(500), Duration::from_secs(4))
    }
}

impl SipTimers {
    /// Timers for the given T1 and T2 with the RFC 3261 defaults for the rest (64·T1).
    pub fn from_t1_t2(t1: Duration, t2: Duration) -> Self {
        Self {
            t1,
            t2,
            t4: Duration::from_secs(5),
            nict_timeout: t1 * 64,
            ict_timeout: t1 * 64,
        }
    }

    /// Timer H/J (server side): 64·T1, the transaction give-up time.
    pub fn transaction_timeout(&self) -> Duration {
        self.t1 * 64
    }

    /// The next retransmission interval after `current`: doubled, capped at T2.
    pub fn next_interval(&self, current: Duration) -> Duration {
        (current * 2).min(self.t2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_rfc3261_and_timeouts_scale_with_t1() {
        let t = SipTimers::default();
        assert_eq!(t.nict_timeout, Duration::from_secs(32));
        assert_eq!(t.ict_timeout, Duration::from_secs(32));
        let fast = SipTimers::from_t1_t2(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(fast.nict_timeout, Duration::from_millis(6400));
        assert_eq!(
            fast.next_interval(Duration::from_millis(800)),
            Duration::from_secs(1)
        );
    }
}
