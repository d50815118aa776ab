//! Inbound forward number (F-6.8.10, F-6.8.11): where an incoming GSM call goes on the
//! VoIP side.
//!
//! * empty → two-stage dialling (F-6.8.2);
//! * `101` or `101@192.168.2.2:6060` → always that target (F-6.8.10);
//! * `010>101|021>1002` → by caller prefix (F-6.8.11): the longest matching caller prefix
//!   wins. An entry with an **empty** prefix (`>100`) is the default for every other
//!   caller, including a hidden one; **without a default an unmatched caller is
//!   rejected** (our choice; the manual does not say, Ambiguity 4). The manual's example
//!   is taken as written: `021` goes to `1002`.
//!
//! A target is a user part of letters, digits and `*#+-._`, optionally followed by
//! `@host` or `@host:port` (host: a name, an IPv4 address or a bracketed IPv6 address).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::text::split_trimmed;

/// Why a forward-number field was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundForwardError {
    /// Two `|` in a row, or one at the start or the end.
    #[error("column {column}: empty entry in the caller map")]
    EmptyEntry {
        /// 1-based character column.
        column: usize,
    },
    /// A caller-map entry without `>`.
    #[error(
        "column {column}: caller-map entry {entry:?} has no '>' between caller prefix and target"
    )]
    MissingArrow {
        /// 1-based character column of the entry.
        column: usize,
        /// The entry.
        entry: String,
    },
    /// A caller prefix character other than digits, `+`, `*` and `#`.
    #[error("column {column}: {ch:?} cannot appear in a caller prefix (digits, '+', '*', '#')")]
    BadPrefix {
        /// 1-based character column of the character.
        column: usize,
        /// The character.
        ch: char,
    },
    /// The same caller prefix twice (which one wins would be unclear).
    #[error("column {column}: caller prefix {prefix:?} appears twice")]
    DuplicatePrefix {
        /// 1-based character column of the second one.
        column: usize,
        /// The prefix.
        prefix: String,
    },
    /// A target that is not an extension or `user@host[:port]`.
    #[error("column {column}: bad forward target {target:?}: {reason}")]
    BadTarget {
        /// 1-based character column of the target.
        column: usize,
        /// The target as written.
        target: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// The parsed forward-number field of a line (F-6.8.10, F-6.8.11).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum InboundForward {
    /// Empty field: answer and collect a second-stage number (F-6.8.2).
    #[default]
    TwoStage,
    /// One target for every caller: `101` or `101@192.168.2.2:6060` (F-6.8.10).
    Fixed(String),
    /// A target chosen by caller prefix (F-6.8.11).
    ByCaller(CallerMap),
}

/// What the engine does with one incoming call, from [`InboundForward::decide`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboundRoute<'a> {
    /// Answer and run two-stage dialling.
    TwoStage,
    /// Call this VoIP target.
    Forward(&'a str),
    /// The caller map has no entry for this caller and no default: reject the call.
    Reject,
}

impl InboundForward {
    /// Parses the field: empty → two-stage, with `>` or `|` → caller map, else a target.
    pub fn parse(text: &str) -> Result<Self, InboundForwardError> {
        if text.trim().is_empty() {
            return Ok(Self::TwoStage);
        }
        if text.contains('>') || text.contains('|') {
            return CallerMap::parse(text).map(Self::ByCaller);
        }
        let column = text.chars().take_while(|c| c.is_whitespace()).count() + 1;
        let target = text.trim();
        validate_target(target, column)?;
        Ok(Self::Fixed(target.to_owned()))
    }

    /// Where a call from `caller` (`None` when the caller ID is hidden) goes.
    pub fn decide(&self, caller: Option<&str>) -> InboundRoute<'_> {
        match self {
            Self::TwoStage => InboundRoute::TwoStage,
            Self::Fixed(target) => InboundRoute::Forward(target),
            Self::ByCaller(map) => map
                .target_for(caller)
                .map_or(InboundRoute::Reject, InboundRoute::Forward),
        }
    }
}

impl fmt::Display for InboundForward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TwoStage => Ok(()),
            Self::Fixed(target) => f.write_str(target),
            Self::ByCaller(map) => f.write_str(map.as_str()),
        }
    }
}

impl FromStr for InboundForward {
    type Err = InboundForwardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for InboundForward {
    type Error = InboundForwardError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<InboundForward> for String {
    fn from(forward: InboundForward) -> Self {
        forward.to_string()
    }
}

/// A caller-prefix map `010>101|021>1002` (F-6.8.11).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallerMap {
    text: String,
    /// (caller prefix, target), in the order written.
    entries: Vec<(String, String)>,
}

impl CallerMap {
    /// Parses `prefix>target` entries separated by `|`; spaces around them are ignored.
    pub fn parse(text: &str) -> Result<Self, InboundForwardError> {
        let mut entries: Vec<(String, String)> = Vec::new();
        for piece in split_trimmed(text, '|') {
            if piece.text.is_empty() {
                return Err(InboundForwardError::EmptyEntry {
                    column: piece.column,
                });
            }
            let Some((prefix_raw, target_raw)) = piece.text.split_once('>') else {
                return Err(InboundForwardError::MissingArrow {
                    column: piece.column,
                    entry: piece.text.to_owned(),
                });
            };
            let prefix = prefix_raw.trim_end();
            if let Some((i, ch)) = prefix
                .chars()
                .enumerate()
                .find(|(_, c)| !(c.is_ascii_digit() || matches!(c, '+' | '*' | '#')))
            {
                return Err(InboundForwardError::BadPrefix {
                    column: piece.column + i,
                    ch,
                });
            }
            if entries.iter().any(|(p, _)| p == prefix) {
                return Err(InboundForwardError::DuplicatePrefix {
                    column: piece.column,
                    prefix: prefix.to_owned(),
                });
            }
            let target_column = piece.column
                + prefix_raw.chars().count()
                + 1
                + target_raw.chars().take_while(|c| c.is_whitespace()).count();
            let target = target_raw.trim();
            validate_target(target, target_column)?;
            entries.push((prefix.to_owned(), target.to_owned()));
        }
        Ok(Self {
            text: text.to_owned(),
            entries,
        })
    }

    /// The target for `caller`: the entry with the longest prefix the caller starts with,
    /// else the default (empty-prefix) entry, else `None` (reject). A hidden caller
    /// (`None`) only gets the default.
    pub fn target_for(&self, caller: Option<&str>) -> Option<&str> {
        let caller = caller.unwrap_or("");
        self.entries
            .iter()
            .filter(|(prefix, _)| caller.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, target)| target.as_str())
    }

    /// The default target (entry with an empty prefix), if any.
    pub fn default_target(&self) -> Option<&str> {
        self.entries
            .iter()
            .find(|(prefix, _)| prefix.is_empty())
            .map(|(_, target)| target.as_str())
    }

    /// The (caller prefix, target) pairs in the order written.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(p, t)| (p.as_str(), t.as_str()))
    }

    /// The text the map was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Checks `user[@host[:port]]`.
fn validate_target(target: &str, column: usize) -> Result<(), InboundForwardError> {
    let bad = |reason: &'static str| InboundForwardError::BadTarget {
        column,
        target: target.to_owned(),
        reason,
    };
    let (user, host) = match target.split_once('@') {
        Some((user, host)) => (user, Some(host)),
        None => (target, None),
    };
    if user.is_empty() {
        return Err(bad("the extension (user part) is empty"));
    }
    if !user
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '*' | '#' | '+' | '-' | '.' | '_'))
    {
        return Err(bad(
            "the extension may only hold letters, digits and * # + - . _",
        ));
    }
    let Some(host) = host else {
        return Ok(());
    };
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let Some((addr, after)) = rest.split_once(']') else {
            return Err(bad("an IPv6 address needs a closing ']'"));
        };
        if addr.is_empty()
            || !addr
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(bad("bad IPv6 address"));
        }
        match after {
            "" => (addr, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (addr, Some(port)),
                None => return Err(bad("only ':port' may follow an IPv6 address")),
            },
        }
    } else {
        match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    if name.is_empty() {
        return Err(bad("the host after '@' is empty"));
    }
    if !host.starts_with('[')
        && !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(bad("the host may only hold letters, digits, '.' and '-'"));
    }
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.chars().all(|c| c.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        if !valid {
            return Err(bad("the port must be a number from 1 to 65535"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn forward(text: &str) -> InboundForward {
        match InboundForward::parse(text) {
            Ok(f) => f,
            Err(e) => panic!("{text:?} should parse: {e}"),
        }
    }

    #[test]
    fn f_6_8_2_empty_means_two_stage() {
        assert_eq!(forward(""), InboundForward::TwoStage);
        assert_eq!(forward("  "), InboundForward::TwoStage);
        assert_eq!(forward("").decide(Some("1")), InboundRoute::TwoStage);
    }

    #[test]
    fn f_6_8_10_fixed_extension_and_sip_uri() {
        assert_eq!(forward("101"), InboundForward::Fixed("101".into()));
        let f = forward(" 101@192.168.2.2:6060 ");
        assert_eq!(f, InboundForward::Fixed("101@192.168.2.2:6060".into()));
        assert_eq!(
            f.decide(None),
            InboundRoute::Forward("101@192.168.2.2:6060")
        );
        assert_eq!(
            f.decide(Some("0101")),
            InboundRoute::Forward("101@192.168.2.2:6060")
        );
        for ok in [
            "alice",
            "*99#",
            "101@pbx.example.org",
            "101@[2001:db8::1]:5060",
            "a.b_c-d+1@h",
        ] {
            assert!(InboundForward::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn f_6_8_10_bad_targets() {
        for bad in [
            "10 1",
            "@host",
            "101@",
            "101@host:",
            "101@host:0",
            "101@host:65536",
            "101@ho st",
            "101@[2001:db8::1",
            "101@[zz]",
            "101@[::1]x",
            "sip:101@host",
            "1é1",
        ] {
            let r = InboundForward::parse(bad);
            assert!(
                matches!(r, Err(InboundForwardError::BadTarget { .. })),
                "{bad}: {r:?}"
            );
        }
        let r = InboundForward::parse("  1 1");
        assert!(
            matches!(r, Err(InboundForwardError::BadTarget { column: 3, .. })),
            "{r:?}"
        );
    }

    #[test]
    fn f_6_8_11_manual_example() {
        let f = forward("010>101|021>1002");
        assert_eq!(f.decide(Some("01012345678")), InboundRoute::Forward("101"));
        // Ambiguity 4: the example (1002) wins over the prose (102).
        assert_eq!(f.decide(Some("02112345678")), InboundRoute::Forward("1002"));
        // No default: an unmatched or hidden caller is rejected.
        assert_eq!(f.decide(Some("13812345678")), InboundRoute::Reject);
        assert_eq!(f.decide(None), InboundRoute::Reject);
        assert_eq!(f.to_string(), "010>101|021>1002");
    }

    #[test]
    fn f_6_8_11_longest_prefix_and_default() {
        let map = match CallerMap::parse(" 01>1 | 010 > 2@pbx:5062 |>100") {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(map.target_for(Some("0101")), Some("2@pbx:5062"));
        assert_eq!(map.target_for(Some("0111")), Some("1"));
        assert_eq!(map.target_for(Some("999")), Some("100"));
        assert_eq!(map.target_for(Some("")), Some("100"));
        assert_eq!(map.target_for(None), Some("100"));
        assert_eq!(map.default_target(), Some("100"));
        assert_eq!(
            map.entries().collect::<Vec<_>>(),
            [("01", "1"), ("010", "2@pbx:5062"), ("", "100")]
        );
    }

    #[test]
    fn f_6_8_11_map_errors() {
        assert_eq!(
            InboundForward::parse("010>101||021>1002"),
            Err(InboundForwardError::EmptyEntry { column: 9 })
        );
        assert_eq!(
            InboundForward::parse("010>101|021"),
            Err(InboundForwardError::MissingArrow {
                column: 9,
                entry: "021".into()
            })
        );
        assert_eq!(
            InboundForward::parse("010>101|0a1>1"),
            Err(InboundForwardError::BadPrefix {
                column: 10,
                ch: 'a'
            })
        );
        assert_eq!(
            InboundForward::parse("010>101|010>102"),
            Err(InboundForwardError::DuplicatePrefix {
                column: 9,
                prefix: "010".into()
            })
        );
        let r = InboundForward::parse("010>101|021> ");
        assert!(
            matches!(r, Err(InboundForwardError::BadTarget { column: 13, .. })),
            "{r:?}"
        );
        let r = InboundForward::parse("010>1 01");
        assert!(
            matches!(r, Err(InboundForwardError::BadTarget { column: 5, .. })),
            "{r:?}"
        );
        let r = InboundForward::parse("010>>101");
        assert!(
            matches!(r, Err(InboundForwardError::BadTarget { column: 5, .. })),
            "{r:?}"
        );
        let msg = InboundForward::parse("010>101|021")
            .err()
            .map(|e| e.to_string());
        assert!(msg.is_some_and(|m| m.starts_with("column 9: ")));
    }

    #[test]
    fn serde_round_trip() {
        for text in ["", "101", "010>101|>1"] {
            let f = forward(text);
            let json = serde_json::to_string(&f).unwrap_or_default();
            let back: Result<InboundForward, _> = serde_json::from_str(&json);
            assert_eq!(back.ok(), Some(f), "{text}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in ".{0,80}") {
            let _ = InboundForward::parse(&text);
        }

        #[test]
        fn decide_never_panics(
            text in "([0-9+]{0,3}>[0-9a-z]{1,4}(@[a-z0-9.]{1,5}(:[0-9]{1,5})?)?\\|?){0,4}",
            caller in proptest::option::of("[0-9+]{0,6}"),
        ) {
            if let Ok(f) = InboundForward::parse(&text) {
                let _ = f.decide(caller.as_deref());
            }
        }
    }
}
