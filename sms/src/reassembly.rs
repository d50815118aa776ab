//! Joining the parts of concatenated messages. Parts are keyed by (sender, reference,
//! total, reference width), may arrive in any order and more than once; groups that stay
//! incomplete are handed back by [`Reassembler::expire`] with what is known.
//!
//! No clock is read: callers pass `now` in seconds on whatever monotonic scale they use.

use std::collections::HashMap;
use std::time::Duration;

use crate::address::Address;
use crate::deliver::Deliver;
use crate::udh::{Concat, ConcatRef, Udh};
use crate::user_data::UserData;

/// One received part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// Who sent it (the originator of a DELIVER; for SUBMITs seen by a network, the
    /// submitting subscriber).
    pub sender: Address,
    /// Its place in a concatenated message, or `None` for a single message.
    pub concat: Option<Concat>,
    /// Its content.
    pub content: UserData,
}

impl Fragment {
    /// The fragment a DELIVER carries.
    pub fn from_deliver(d: &Deliver) -> Self {
        Self {
            sender: d.originator.clone(),
            concat: d.udh.as_ref().and_then(Udh::concat_info),
            content: d.user_data.clone(),
        }
    }
}

/// A message whose parts have all arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompleteMessage {
    /// The sender.
    pub sender: Address,
    /// The concatenation reference, or `None` for a single-part message.
    pub reference: Option<ConcatRef>,
    /// Number of parts joined.
    pub parts: u8,
    /// The joined content.
    pub content: UserData,
}

/// A message given up on: what arrived, joined in order, and what did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncompleteMessage {
    /// The sender.
    pub sender: Address,
    /// The concatenation reference.
    pub reference: ConcatRef,
    /// Number of parts announced.
    pub total: u8,
    /// Part numbers received, ascending.
    pub received: Vec<u8>,
    /// Part numbers missing, ascending.
    pub missing: Vec<u8>,
    /// The received parts joined in order (gaps simply skipped).
    pub content: UserData,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    sender: Address,
    reference: ConcatRef,
    total: u8,
}

#[derive(Debug)]
struct Group {
    first_seen: u64,
    order: u64,
    parts: Vec<Option<UserData>>,
    received: usize,
}

/// Collects parts until messages are complete. Memory is bounded by the timeout and by
/// a limit on open groups (the oldest is given up when the limit is hit).
#[derive(Debug)]
pub struct Reassembler {
    timeout: u64,
    max_groups: usize,
    groups: HashMap<Key, Group>,
    evicted: Vec<IncompleteMessage>,
    counter: u64,
}

/// Default limit on messages being reassembled at once.
pub const DEFAULT_MAX_GROUPS: usize = 4096;

impl Reassembler {
    /// A reassembler that gives up on a message `timeout` after its first part arrived.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout: timeout.as_secs(),
            max_groups: DEFAULT_MAX_GROUPS,
            groups: HashMap::new(),
            evicted: Vec::new(),
            counter: 0,
        }
    }

    /// Changes the limit on open groups (at least 1).
    pub fn with_max_groups(mut self, max_groups: usize) -> Self {
        self.max_groups = max_groups.max(1);
        self
    }

    /// Number of messages waiting for parts.
    pub fn pending(&self) -> usize {
        self.groups.len()
    }

    /// When the oldest open message times out, for the caller's timer.
    pub fn next_deadline(&self) -> Option<u64> {
        self.groups
            .values()
            .map(|g| g.first_seen.saturating_add(self.timeout))
            .min()
    }

    /// Adds the part a DELIVER carries.
    pub fn push_deliver(&mut self, d: &Deliver, now: u64) -> Option<CompleteMessage> {
        self.push(Fragment::from_deliver(d), now)
    }

    /// Adds a part; returns the message when this part completes it. A part without
    /// (valid) concatenation information is a complete message by itself. A duplicate part
    /// is ignored (the first copy wins).
    pub fn push(&mut self, fragment: Fragment, now: u64) -> Option<CompleteMessage> {
        // 23.040: an element with total or sequence 0, or sequence > total, is ignored, so
        // such a part is a message by itself (as is a "1 of 1").
        let usable = |c: &Concat| c.total > 1 && c.sequence >= 1 && c.sequence <= c.total;
        let Some(c) = fragment.concat.filter(usable) else {
            return Some(CompleteMessage {
                sender: fragment.sender,
                reference: fragment.concat.map(|c| c.reference),
                parts: 1,
                content: fragment.content,
            });
        };
        let index = usize::from(c.sequence).checked_sub(1)?;
        let key = Key {
            sender: fragment.sender,
            reference: c.reference,
            total: c.total,
        };
        if !self.groups.contains_key(&key) && self.groups.len() >= self.max_groups {
            self.evict_oldest();
        }
        self.counter += 1;
        let order = self.counter;
        let group = self.groups.entry(key.clone()).or_insert_with(|| Group {
            first_seen: now,
            order,
            parts: vec![None; usize::from(c.total)],
            received: 0,
        });
        let slot = group.parts.get_mut(index)?;
        if slot.is_some() {
            return None;
        }
        *slot = Some(fragment.content);
        group.received += 1;
        if group.received < group.parts.len() {
            return None;
        }
        let group = self.groups.remove(&key)?;
        Some(CompleteMessage {
            sender: key.sender,
            reference: Some(key.reference),
            parts: key.total,
            content: join(group.parts.into_iter().flatten()),
        })
    }

    /// Gives up on every message whose first part arrived `timeout` or more before `now`
    /// (and any evicted by the group limit), oldest first.
    pub fn expire(&mut self, now: u64) -> Vec<IncompleteMessage> {
        let timeout = self.timeout;
        let mut due: Vec<(Key, Group)> = Vec::new();
        let keys: Vec<Key> = self
            .groups
            .iter()
            .filter(|(_, g)| now >= g.first_seen.saturating_add(timeout))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            if let Some(g) = self.groups.remove(&k) {
                due.push((k, g));
            }
        }
        due.sort_by_key(|(_, g)| g.order);
        let mut out = std::mem::take(&mut self.evicted);
        out.extend(due.into_iter().map(|(k, g)| incomplete(k, g)));
        out
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .groups
            .iter()
            .min_by_key(|(_, g)| g.order)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            if let Some(g) = self.groups.remove(&k) {
                self.evicted.push(incomplete(k, g));
            }
        }
    }
}

fn incomplete(key: Key, group: Group) -> IncompleteMessage {
    let mut received = Vec::new();
    let mut missing = Vec::new();
    for (i, p) in group.parts.iter().enumerate() {
        let n = u8::try_from(i + 1).unwrap_or(u8::MAX);
        if p.is_some() {
            received.push(n);
        } else {
            missing.push(n);
        }
    }
    IncompleteMessage {
        sender: key.sender,
        reference: key.reference,
        total: key.total,
        received,
        missing,
        content: join(group.parts.into_iter().flatten()),
    }
}

/// Joins contents: all text gives text, all binary gives binary; a mix gives text with
/// the binary parts read as (lossy) UTF-8.
fn join(parts: impl Iterator<Item = UserData>) -> UserData {
    let parts: Vec<UserData> = parts.collect();
    if !parts.is_empty() && parts.iter().all(|p| matches!(p, UserData::Binary(_))) {
        let mut v = Vec::new();
        for p in parts {
            if let UserData::Binary(b) = p {
                v.extend_from_slice(&b);
            }
        }
        return UserData::Binary(v);
    }
    let mut s = String::new();
    for p in parts {
        match p {
            UserData::Text(t) => s.push_str(&t),
            UserData::Binary(b) => s.push_str(&String::from_utf8_lossy(&b)),
        }
    }
    UserData::Text(s)
}
