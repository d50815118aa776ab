//! Automatic blacklist of repeated callers (F-6.8.18): keeps one number from tying up a
//! line with call after call. One [`RepeatCallers`] per line.
//!
//! Our reading of what the manual leaves open:
//! * **Consecutive** means no other caller reached the line in between, **and** each gap
//!   between two of the calls is at most `window` (default 10 minutes).
//! * **Reaches**: the call that brings the run to `limit` is itself refused, and the
//!   number is then blocked for `block_for` (default 24 hours). With `limit` 3, calls 1
//!   and 2 go through and call 3 is the first one refused.
//! * Refused calls from a blocked number neither extend its block nor break another
//!   caller's run; a call without caller ID cannot be blocked but does break a run.
//! * The list lives in memory, per line; [`RepeatCallers::unblock`] lifts an entry early.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The default gap allowed between two consecutive calls of a run.
pub const DEFAULT_REPEAT_WINDOW: Duration = Duration::from_secs(10 * 60);

/// The default time a repeated caller stays blocked.
pub const DEFAULT_BLOCK_FOR: Duration = Duration::from_secs(24 * 60 * 60);

/// Why a repeated-caller setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepeatConfigError {
    /// A limit of 1 would block every caller on the first call.
    #[error("the repeated-call limit must be 0 (off) or at least 2")]
    LimitTooLow,
}

/// The setting of F-6.8.18 for one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RepeatConfig {
    limit: u32,
    window: Duration,
    block_for: Duration,
}

impl RepeatConfig {
    /// The feature switched off.
    pub const OFF: RepeatConfig = RepeatConfig {
        limit: 0,
        window: DEFAULT_REPEAT_WINDOW,
        block_for: DEFAULT_BLOCK_FOR,
    };

    /// `limit` consecutive calls (0 = off, else ≥ 2) with the default window and block
    /// time.
    pub fn new(limit: u32) -> Result<Self, RepeatConfigError> {
        Self::with_times(limit, DEFAULT_REPEAT_WINDOW, DEFAULT_BLOCK_FOR)
    }

    /// Same as [`RepeatConfig::new`] with an explicit window and block time.
    pub fn with_times(
        limit: u32,
        window: Duration,
        block_for: Duration,
    ) -> Result<Self, RepeatConfigError> {
        if limit == 1 {
            return Err(RepeatConfigError::LimitTooLow);
        }
        Ok(Self {
            limit,
            window,
            block_for,
        })
    }

    /// The number of consecutive calls that triggers the block (0 = off).
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The largest gap between two calls of a run.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// How long a number stays blocked.
    pub fn block_for(&self) -> Duration {
        self.block_for
    }
}

impl Default for RepeatConfig {
    fn default() -> Self {
        Self::OFF
    }
}

/// What to do with one incoming call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepeatVerdict {
    /// Let the call through (other checks permitting).
    Allow,
    /// The caller is blocked: reject the call.
    Blocked,
}

/// One line's run tracking and automatic blacklist.
#[derive(Clone, Debug, Default)]
pub struct RepeatCallers {
    config: RepeatConfig,
    last_caller: Option<String>,
    last_at: Option<Instant>,
    run: u32,
    blocked: HashMap<String, Instant>,
}

impl RepeatCallers {
    /// A line with this setting and an empty blacklist.
    pub fn new(config: RepeatConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// The setting in use.
    pub fn config(&self) -> RepeatConfig {
        self.config
    }

    /// Changes the setting; blocks already made stay until they expire.
    pub fn set_config(&mut self, config: RepeatConfig) {
        self.config = config;
        self.last_caller = None;
        self.last_at = None;
        self.run = 0;
    }

    /// Records an incoming call from `caller` at `now` (empty = no caller ID) and says
    /// whether to reject it.
    pub fn record(&mut self, caller: &str, now: Instant) -> RepeatVerdict {
        self.blocked.retain(|_, until| now < *until);
        if self.blocked.contains_key(caller) {
            return RepeatVerdict::Blocked;
        }
        if caller.is_empty() || self.config.limit == 0 {
            self.last_caller = None;
            self.last_at = None;
            self.run = 0;
            return RepeatVerdict::Allow;
        }
        let continues = self.last_caller.as_deref() == Some(caller)
            && self
                .last_at
                .is_some_and(|at| now.saturating_duration_since(at) <= self.config.window);
        self.run = if continues {
            self.run.saturating_add(1)
        } else {
            1
        };
        self.last_at = Some(now);
        if self.run >= self.config.limit {
            self.blocked
                .insert(caller.to_owned(), now + self.config.block_for);
            self.last_caller = None;
            self.last_at = None;
            self.run = 0;
            return RepeatVerdict::Blocked;
        }
        self.last_caller = Some(caller.to_owned());
        RepeatVerdict::Allow
    }

    /// Whether `caller` is on the automatic blacklist at `now`.
    pub fn is_blocked(&self, caller: &str, now: Instant) -> bool {
        self.blocked.get(caller).is_some_and(|until| now < *until)
    }

    /// Lifts the block on `caller`; returns whether it was blocked.
    pub fn unblock(&mut self, caller: &str) -> bool {
        self.blocked.remove(caller).is_some()
    }

    /// The numbers blocked at `now` and when each block ends, for the status page.
    pub fn blocked(&self, now: Instant) -> impl Iterator<Item = (&str, Instant)> {
        self.blocked
            .iter()
            .filter(move |(_, until)| now < **until)
            .map(|(caller, until)| (caller.as_str(), *until))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn line(limit: u32) -> RepeatCallers {
        match RepeatConfig::new(limit) {
            Ok(c) => RepeatCallers::new(c),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn f_6_8_18_the_call_reaching_the_limit_is_refused() {
        let t0 = Instant::now();
        let mut l = line(3);
        assert_eq!(l.record("138", t0), RepeatVerdict::Allow);
        assert_eq!(l.record("138", t0 + MIN), RepeatVerdict::Allow);
        assert_eq!(l.record("138", t0 + 2 * MIN), RepeatVerdict::Blocked);
        assert!(l.is_blocked("138", t0 + 2 * MIN));
        assert_eq!(l.record("138", t0 + 3 * MIN), RepeatVerdict::Blocked);
        // Others are unaffected.
        assert_eq!(l.record("139", t0 + 3 * MIN), RepeatVerdict::Allow);
    }

    #[test]
    fn f_6_8_18_block_lasts_24_hours_by_default() {
        let t0 = Instant::now();
        let mut l = line(2);
        l.record("1", t0);
        assert_eq!(l.record("1", t0), RepeatVerdict::Blocked);
        let end = t0 + DEFAULT_BLOCK_FOR;
        assert!(l.is_blocked("1", end - Duration::from_secs(1)));
        assert!(!l.is_blocked("1", end));
        // Refused calls do not extend the block.
        assert_eq!(l.record("1", end - MIN), RepeatVerdict::Blocked);
        assert!(!l.is_blocked("1", end));
        assert_eq!(l.record("1", end), RepeatVerdict::Allow);
        assert_eq!(l.blocked(end).count(), 0);
    }

    #[test]
    fn f_6_8_18_another_caller_in_between_breaks_the_run() {
        let t0 = Instant::now();
        let mut l = line(3);
        l.record("1", t0);
        l.record("1", t0);
        l.record("2", t0);
        assert_eq!(l.record("1", t0), RepeatVerdict::Allow);
        assert_eq!(l.record("1", t0), RepeatVerdict::Allow);
        assert_eq!(l.record("1", t0), RepeatVerdict::Blocked);
    }

    #[test]
    fn f_6_8_18_a_hidden_caller_breaks_the_run_and_is_never_blocked() {
        let t0 = Instant::now();
        let mut l = line(2);
        l.record("1", t0);
        assert_eq!(l.record("", t0), RepeatVerdict::Allow);
        assert_eq!(l.record("", t0), RepeatVerdict::Allow);
        assert_eq!(l.record("1", t0), RepeatVerdict::Allow);
    }

    #[test]
    fn f_6_8_18_a_blocked_callers_refused_call_does_not_break_a_run() {
        let t0 = Instant::now();
        let mut l = line(2);
        l.record("9", t0);
        l.record("9", t0); // 9 blocked
        assert_eq!(l.record("1", t0), RepeatVerdict::Allow);
        assert_eq!(l.record("9", t0), RepeatVerdict::Blocked);
        assert_eq!(l.record("1", t0), RepeatVerdict::Blocked);
    }

    #[test]
    fn f_6_8_18_gaps_longer_than_the_window_restart_the_run() {
        let t0 = Instant::now();
        let mut l = line(2);
        l.record("1", t0);
        assert_eq!(
            l.record("1", t0 + 10 * MIN + Duration::from_secs(1)),
            RepeatVerdict::Allow
        );
        // The window is measured from the previous call, not the first one.
        assert_eq!(l.record("1", t0 + 20 * MIN), RepeatVerdict::Blocked);

        let cfg = RepeatConfig::with_times(3, MIN, 2 * MIN);
        let mut l = RepeatCallers::new(cfg.unwrap_or(RepeatConfig::OFF));
        assert_eq!(l.config().limit(), 3);
        l.record("1", t0);
        l.record("1", t0 + MIN);
        assert_eq!(l.record("1", t0 + 2 * MIN), RepeatVerdict::Blocked);
        assert!(l.is_blocked("1", t0 + 3 * MIN));
        assert!(!l.is_blocked("1", t0 + 4 * MIN));
    }

    #[test]
    fn unblock_lifts_the_block_and_the_run_starts_over() {
        let t0 = Instant::now();
        let mut l = line(2);
        l.record("1", t0);
        l.record("1", t0);
        assert_eq!(
            l.blocked(t0).collect::<Vec<_>>(),
            [("1", t0 + DEFAULT_BLOCK_FOR)]
        );
        assert!(l.unblock("1"));
        assert!(!l.unblock("1"));
        assert_eq!(l.record("1", t0), RepeatVerdict::Allow);
        assert_eq!(l.record("1", t0), RepeatVerdict::Blocked);
    }

    #[test]
    fn off_and_config_errors() {
        let t0 = Instant::now();
        let mut l = RepeatCallers::default();
        for _ in 0..100 {
            assert_eq!(l.record("1", t0), RepeatVerdict::Allow);
        }
        assert_eq!(RepeatConfig::new(1), Err(RepeatConfigError::LimitTooLow));
        assert!(RepeatConfig::new(0).is_ok());
        let mut l = line(3);
        l.record("1", t0);
        l.record("1", t0);
        l.set_config(RepeatConfig::new(3).unwrap_or_default());
        assert_eq!(
            l.record("1", t0),
            RepeatVerdict::Allow,
            "new setting, new run"
        );
    }
}
