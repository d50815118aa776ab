//! "Every N calls rest a–b seconds" (F-6.6.10): limits how often a line calls out, so the
//! SIM looks less like a machine to the operator.
//!
//! After every N-th counted call the line rests for a whole number of seconds drawn
//! uniformly from `[a, b]`. Calls that hit call memory (F-6.6.2) bypass the rule: the
//! engine does not call [`RestState::on_call_placed`] for them and may use the line even
//! while it rests.

use std::time::{Duration, Instant};

use rand::Rng;

/// Why a rest setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestRuleError {
    /// N is set but the seconds field is empty.
    #[error("a rest time in seconds ('30-60' or '45') is needed when N is set")]
    MissingRange,
    /// The seconds field is not `a-b` or `a` with whole numbers.
    #[error("rest time {text:?} is not 'a-b' or 'a' in whole seconds")]
    BadRange {
        /// The text as given.
        text: String,
    },
    /// `a` is greater than `b`.
    #[error("rest time {min}-{max} runs backwards")]
    Backwards {
        /// The lower bound as written.
        min: u32,
        /// The upper bound as written.
        max: u32,
    },
}

/// The rest rule of one line; `every == 0` switches it off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestRule {
    every: u32,
    min_secs: u32,
    max_secs: u32,
}

impl RestRule {
    /// The rule that never rests.
    pub const OFF: RestRule = RestRule {
        every: 0,
        min_secs: 0,
        max_secs: 0,
    };

    /// Builds the rule from the page's fields: `every` = N (0 = off) and `range` =
    /// `"30-60"` or `"45"` seconds. With N = 0 the range may be empty.
    pub fn parse(every: u32, range: &str) -> Result<Self, RestRuleError> {
        let range = range.trim();
        if range.is_empty() {
            return if every == 0 {
                Ok(Self::OFF)
            } else {
                Err(RestRuleError::MissingRange)
            };
        }
        let number = |s: &str| {
            let s = s.trim();
            if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            s.parse::<u32>().ok()
        };
        let bad = || RestRuleError::BadRange {
            text: range.to_owned(),
        };
        let (min, max) = match range.split_once('-') {
            Some((a, b)) => (number(a).ok_or_else(bad)?, number(b).ok_or_else(bad)?),
            None => {
                let a = number(range).ok_or_else(bad)?;
                (a, a)
            }
        };
        if min > max {
            return Err(RestRuleError::Backwards { min, max });
        }
        Ok(Self {
            every,
            min_secs: min,
            max_secs: max,
        })
    }

    /// Whether the rule ever rests.
    pub fn is_active(&self) -> bool {
        self.every > 0
    }

    /// N: calls between rests.
    pub fn every(&self) -> u32 {
        self.every
    }

    /// The rest range in seconds, `(a, b)`.
    pub fn range_secs(&self) -> (u32, u32) {
        (self.min_secs, self.max_secs)
    }
}

/// One line's progress through its rest rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestState {
    calls: u32,
    until: Option<Instant>,
}

impl RestState {
    /// A line that has placed no call yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts a call placed at `now` (not a call-memory hit). On every N-th call the line
    /// starts a rest; the end of that rest is returned.
    pub fn on_call_placed<R: Rng + ?Sized>(
        &mut self,
        rule: &RestRule,
        now: Instant,
        rng: &mut R,
    ) -> Option<Instant> {
        if !rule.is_active() {
            return None;
        }
        self.calls = self.calls.saturating_add(1);
        if self.calls < rule.every {
            return None;
        }
        self.calls = 0;
        let secs = rng.gen_range(rule.min_secs..=rule.max_secs);
        let end = now + Duration::from_secs(u64::from(secs));
        // A rest never shortens one already running.
        let end = self.until.map_or(end, |u| u.max(end));
        self.until = Some(end);
        Some(end)
    }

    /// Whether the line is resting at `now`.
    pub fn resting(&self, now: Instant) -> bool {
        self.until.is_some_and(|u| now < u)
    }

    /// When the current rest ends, so the engine can wake up; `None` when not resting.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.until
    }

    /// Clears a rest that has ended by `now`; call it when the timeout fires.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.until.is_some_and(|u| now >= u) {
            self.until = None;
        }
    }

    /// Calls counted since the last rest.
    pub fn calls_since_rest(&self) -> u32 {
        self.calls
    }

    /// Forgets the count and any rest (e.g. after the rule changed).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rule(every: u32, range: &str) -> RestRule {
        match RestRule::parse(every, range) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn f_6_6_10_parse() {
        assert_eq!(rule(5, "30-60").range_secs(), (30, 60));
        assert_eq!(rule(5, " 45 ").range_secs(), (45, 45));
        assert_eq!(rule(5, "30 - 60").range_secs(), (30, 60));
        assert_eq!(rule(0, ""), RestRule::OFF);
        assert!(!rule(0, "30-60").is_active());
        assert_eq!(RestRule::parse(5, ""), Err(RestRuleError::MissingRange));
        assert_eq!(
            RestRule::parse(5, "60-30"),
            Err(RestRuleError::Backwards { min: 60, max: 30 })
        );
        for bad in ["a", "30-", "-30", "30-60-90", "+5", "1.5", "99999999999"] {
            assert!(
                matches!(RestRule::parse(5, bad), Err(RestRuleError::BadRange { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn f_6_6_10_rests_after_every_nth_call() {
        let r = rule(3, "30-60");
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut s = RestState::new();
        let t0 = Instant::now();
        assert_eq!(s.on_call_placed(&r, t0, &mut rng), None);
        assert_eq!(s.on_call_placed(&r, t0, &mut rng), None);
        assert!(!s.resting(t0));
        assert_eq!(s.poll_timeout(), None);
        let end = s.on_call_placed(&r, t0, &mut rng);
        let Some(end) = end else {
            panic!("third call should start a rest")
        };
        let secs = end.duration_since(t0).as_secs();
        assert!((30..=60).contains(&secs), "{secs}");
        assert_eq!(end.duration_since(t0).subsec_nanos(), 0, "whole seconds");
        assert!(s.resting(t0));
        assert!(s.resting(end - Duration::from_millis(1)));
        assert!(!s.resting(end));
        assert_eq!(s.poll_timeout(), Some(end));
        s.handle_timeout(end - Duration::from_secs(1));
        assert_eq!(s.poll_timeout(), Some(end));
        s.handle_timeout(end);
        assert_eq!(s.poll_timeout(), None);
        // The count starts again: three more calls for the next rest.
        assert_eq!(s.calls_since_rest(), 0);
        assert_eq!(s.on_call_placed(&r, end, &mut rng), None);
        assert_eq!(s.on_call_placed(&r, end, &mut rng), None);
        assert!(s.on_call_placed(&r, end, &mut rng).is_some());
    }

    #[test]
    fn f_6_6_10_rest_is_uniform_over_the_whole_range() {
        let r = rule(1, "2-5");
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let mut seen = [0u32; 6];
        let t0 = Instant::now();
        for _ in 0..4000 {
            let mut s = RestState::new();
            if let Some(end) = s.on_call_placed(&r, t0, &mut rng) {
                let secs = end.duration_since(t0).as_secs() as usize;
                seen[secs.min(5)] += 1;
            }
        }
        assert_eq!(seen[0] + seen[1], 0);
        for (secs, &n) in seen.iter().enumerate().skip(2) {
            assert!((850..=1150).contains(&n), "{secs}s seen {n} times");
        }
    }

    #[test]
    fn fixed_rest_and_off_rule() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let t0 = Instant::now();
        let mut s = RestState::new();
        let end = s.on_call_placed(&rule(1, "45"), t0, &mut rng);
        assert_eq!(end, Some(t0 + Duration::from_secs(45)));
        let mut s = RestState::new();
        for _ in 0..10 {
            assert_eq!(s.on_call_placed(&RestRule::OFF, t0, &mut rng), None);
        }
        assert!(!s.resting(t0));
        assert_eq!(s.calls_since_rest(), 0);
    }

    #[test]
    fn a_new_rest_never_shortens_a_running_one() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let t0 = Instant::now();
        let mut s = RestState::new();
        let long = s.on_call_placed(&rule(1, "100"), t0, &mut rng);
        let again = s.on_call_placed(&rule(1, "10"), t0, &mut rng);
        assert_eq!(long, again);
        s.reset();
        assert!(!s.resting(t0));
    }
}
