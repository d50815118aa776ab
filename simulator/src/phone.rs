//! Phones outside the gateway. In the minimal simulator a phone is just a number that can
//! call a gateway SIM and hang up; this module holds how such a caller behaves.

use std::time::Duration;

/// How an outside phone behaves while its call to a gateway SIM is ringing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallerBehaviour {
    /// Time between two `RING` indications on the modem.
    pub ring_interval: Duration,
    /// How long the caller lets it ring before giving up (modem sees `NO CARRIER`).
    pub give_up_after: Duration,
}

impl Default for CallerBehaviour {
    /// Rings every 3 s, gives up after 30 s (10 rings), like a typical network.
    fn default() -> Self {
        Self {
            ring_interval: Duration::from_secs(3),
            give_up_after: Duration::from_secs(30),
        }
    }
}

/// Normalises a phone number for comparisons: digits, `*`, `#` and a leading `+` kept,
/// everything else dropped.
pub fn normalise(number: &str) -> String {
    number
        .char_indices()
        .filter(|&(i, c)| c.is_ascii_digit() || c == '*' || c == '#' || (c == '+' && i == 0))
        .map(|(_, c)| c)
        .collect()
}

/// Whether two numbers designate the same phone (ignoring a leading `+` and separators).
pub fn same_number(a: &str, b: &str) -> bool {
    let a = normalise(a);
    let b = normalise(b);
    a.trim_start_matches('+') == b.trim_start_matches('+')
}

/// The `<type>` of a number in `+CLCC`/`+CLIP`: 145 international, 129 otherwise.
pub fn type_of_number(number: &str) -> u8 {
    if number.starts_with('+') {
        145
    } else {
        129
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_loosely() {
        assert!(same_number("+86 138-0000", "861380000"));
        assert!(!same_number("123", "124"));
        assert_eq!(type_of_number("+1"), 145);
        assert_eq!(type_of_number("1"), 129);
    }
}
