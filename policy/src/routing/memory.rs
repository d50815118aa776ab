//! Call memory (F-6.6.2): the line that last called a number is preferred when the same
//! number is called again within 10 minutes, so a called-back party sees the same SIM.
//!
//! The key is the callee **as received from the VoIP side**, before the per-line dial
//! rules: those depend on the line, and the line is what we are choosing. A remembered
//! call also bypasses the rest rule (F-6.6.10, see [`super::rest`]).
//!
//! Memory is bounded ([`DEFAULT_CALL_MEMORY_CAPACITY`] entries); when full, the entry
//! remembered longest ago is dropped. An entry is valid while its age is at most the TTL.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use cellgate_hal::LineId;

/// How long a number → line pairing is kept (F-6.6.2: 10 minutes).
pub const DEFAULT_CALL_MEMORY_TTL: Duration = Duration::from_secs(10 * 60);

/// How many numbers are remembered at most.
pub const DEFAULT_CALL_MEMORY_CAPACITY: usize = 10_000;

#[derive(Clone, Debug)]
struct Remembered {
    line: LineId,
    at: Instant,
    seq: u64,
}

/// The callee → line memory of F-6.6.2, shared by all lines of the device.
#[derive(Clone, Debug)]
pub struct CallMemory {
    ttl: Duration,
    capacity: usize,
    by_number: HashMap<String, Remembered>,
    /// Insertion order: sequence number → callee. The first entry is the oldest.
    order: BTreeMap<u64, String>,
    next_seq: u64,
}

impl Default for CallMemory {
    fn default() -> Self {
        Self::new(DEFAULT_CALL_MEMORY_TTL)
    }
}

impl CallMemory {
    /// A memory that keeps pairings for `ttl`, with the default capacity.
    pub fn new(ttl: Duration) -> Self {
        Self::with_capacity(ttl, DEFAULT_CALL_MEMORY_CAPACITY)
    }

    /// A memory with an explicit bound on the number of entries (at least 1).
    pub fn with_capacity(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            by_number: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Records that `line` placed a call to `callee` at `now` (replacing any older
    /// pairing for that number). Expired entries are pruned on the way.
    pub fn remember(&mut self, callee: &str, line: LineId, now: Instant) {
        self.prune(now);
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(old) = self
            .by_number
            .insert(callee.to_owned(), Remembered { line, at: now, seq })
        {
            self.order.remove(&old.seq);
        }
        self.order.insert(seq, callee.to_owned());
        while self.by_number.len() > self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.by_number.remove(&oldest);
        }
    }

    /// The line that called `callee` within the TTL before `now`, if any.
    pub fn recall(&self, callee: &str, now: Instant) -> Option<LineId> {
        self.by_number
            .get(callee)
            .filter(|r| now.saturating_duration_since(r.at) <= self.ttl)
            .map(|r| r.line)
    }

    /// Forgets the pairing for `callee` (for example after the call failed).
    pub fn forget(&mut self, callee: &str) {
        if let Some(old) = self.by_number.remove(callee) {
            self.order.remove(&old.seq);
        }
    }

    /// Forgets every pairing with `line` (the line went down or was disabled).
    pub fn forget_line(&mut self, line: LineId) {
        let order = &mut self.order;
        self.by_number.retain(|_, r| {
            let keep = r.line != line;
            if !keep {
                order.remove(&r.seq);
            }
            keep
        });
    }

    /// Drops every entry older than the TTL at `now`.
    pub fn prune(&mut self, now: Instant) {
        while let Some((&seq, number)) = self.order.first_key_value() {
            let expired = self
                .by_number
                .get(number)
                .is_none_or(|r| now.saturating_duration_since(r.at) > self.ttl);
            if !expired {
                break;
            }
            if let Some((_, number)) = self.order.remove_entry(&seq) {
                if self.by_number.get(&number).is_some_and(|r| r.seq == seq) {
                    self.by_number.remove(&number);
                }
            }
        }
    }

    /// How many pairings are stored (expired ones included until pruned).
    pub fn len(&self) -> usize {
        self.by_number.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.by_number.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn f_6_6_2_same_line_within_10_minutes() {
        let t0 = Instant::now();
        let mut m = CallMemory::default();
        m.remember("13800138000", LineId(3), t0);
        assert_eq!(m.recall("13800138000", t0 + 5 * MIN), Some(LineId(3)));
        assert_eq!(m.recall("13800138000", t0 + 10 * MIN), Some(LineId(3)));
        assert_eq!(
            m.recall("13800138000", t0 + 10 * MIN + Duration::from_millis(1)),
            None
        );
        assert_eq!(m.recall("13900139000", t0), None);
    }

    #[test]
    fn f_6_6_2_a_new_call_refreshes_and_replaces() {
        let t0 = Instant::now();
        let mut m = CallMemory::default();
        m.remember("1", LineId(1), t0);
        m.remember("1", LineId(2), t0 + 8 * MIN);
        assert_eq!(m.len(), 1);
        assert_eq!(m.recall("1", t0 + 15 * MIN), Some(LineId(2)));
    }

    #[test]
    fn expired_entries_are_pruned() {
        let t0 = Instant::now();
        let mut m = CallMemory::new(MIN);
        m.remember("1", LineId(1), t0);
        m.remember("2", LineId(1), t0 + Duration::from_secs(30));
        m.prune(t0 + Duration::from_secs(61));
        assert_eq!(m.len(), 1);
        assert_eq!(m.recall("2", t0 + Duration::from_secs(61)), Some(LineId(1)));
        m.remember("3", LineId(2), t0 + 5 * MIN);
        assert_eq!(m.len(), 1, "remember prunes too");
        assert!(!m.is_empty());
    }

    #[test]
    fn capacity_drops_the_oldest() {
        let t0 = Instant::now();
        let mut m = CallMemory::with_capacity(DEFAULT_CALL_MEMORY_TTL, 3);
        m.remember("1", LineId(1), t0);
        m.remember("2", LineId(1), t0);
        m.remember("3", LineId(1), t0);
        m.remember("1", LineId(2), t0); // refreshed: "2" is now the oldest
        m.remember("4", LineId(1), t0);
        assert_eq!(m.len(), 3);
        assert_eq!(m.recall("2", t0), None);
        assert_eq!(m.recall("1", t0), Some(LineId(2)));
        assert_eq!(m.recall("3", t0), Some(LineId(1)));
        assert_eq!(m.recall("4", t0), Some(LineId(1)));
    }

    #[test]
    fn default_capacity_is_bounded() {
        let t0 = Instant::now();
        let mut m = CallMemory::default();
        for i in 0..(DEFAULT_CALL_MEMORY_CAPACITY + 50) {
            m.remember(&i.to_string(), LineId(1), t0);
        }
        assert_eq!(m.len(), DEFAULT_CALL_MEMORY_CAPACITY);
        assert_eq!(m.recall("0", t0), None);
        assert_eq!(m.recall("49", t0), None);
        assert_eq!(m.recall("50", t0), Some(LineId(1)));
    }

    #[test]
    fn forget_and_forget_line() {
        let t0 = Instant::now();
        let mut m = CallMemory::default();
        m.remember("1", LineId(1), t0);
        m.remember("2", LineId(2), t0);
        m.remember("3", LineId(1), t0);
        m.forget("2");
        assert_eq!(m.recall("2", t0), None);
        m.forget_line(LineId(1));
        assert!(m.is_empty());
        // The order index is consistent afterwards: refilling past capacity works.
        let mut m = CallMemory::with_capacity(MIN, 2);
        m.remember("1", LineId(1), t0);
        m.forget_line(LineId(1));
        m.remember("2", LineId(2), t0);
        m.remember("3", LineId(2), t0);
        m.remember("4", LineId(2), t0);
        assert_eq!(m.len(), 2);
        assert_eq!(m.recall("2", t0), None);
    }

    #[test]
    fn a_clock_running_backwards_does_not_panic() {
        let t0 = Instant::now() + MIN;
        let mut m = CallMemory::default();
        m.remember("1", LineId(1), t0);
        assert_eq!(m.recall("1", t0 - MIN), Some(LineId(1)));
        m.prune(t0 - MIN);
        assert_eq!(m.len(), 1);
    }
}
