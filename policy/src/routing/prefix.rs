//! Line prefixes: which line takes an outbound call, chosen by the prefix of the caller or
//! the callee number (F-6.3.13 to F-6.3.18, F-6.3.20, F-6.3.25, Appendix F).
//!
//! * [`PrefixList`] is one line's (or group's) field: `00,13,15,17,2` (F-6.3.15).
//! * [`LinePrefixes`] holds every line's list and decides with [`LinePrefixes::route`].
//!   The longest matching prefix wins across all lines; lines that tie on it share the
//!   call. In per-line and per-group modes prefixes must be unique (F-6.3.17).
//! * Lines without prefixes: when **no** line has a prefix, every line may take the call
//!   ([`PrefixRoute::Any`], single-server rotation as Appendix H describes). When at least
//!   one line has a prefix, lines without one never match, so a number that matches no
//!   prefix is rejected with 603 (F-6.3.18).
//! * [`auto_configure`] is the "add 1 per line" of F-6.3.19 and Appendix F.

use std::fmt;
use std::str::FromStr;

use cellgate_hal::LineId;
use serde::{Deserialize, Serialize};

use super::text::{first_blank_or_control, split_trimmed};

/// The longest prefix-list field the manual allows (F-6.3.15), in characters.
pub const MAX_PREFIX_LIST_LEN: usize = 140;

/// One line's gateway prefixes (F-6.3.15): comma-separated, any digits, letters and
/// symbols, at most 140 characters. Matching is literal and case-sensitive.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PrefixList {
    text: String,
    prefixes: Vec<String>,
}

/// Why a prefix-list field was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixListError {
    /// More than 140 characters (F-6.3.15).
    #[error("the prefix list is {len} characters long; at most {MAX_PREFIX_LIST_LEN} are allowed")]
    TooLong {
        /// Length of the text in characters.
        len: usize,
    },
    /// Two commas in a row, or a comma at the start or the end.
    #[error("prefix {entry} (column {column}) is empty")]
    EmptyEntry {
        /// 1-based position of the entry in the list.
        entry: usize,
        /// 1-based character column.
        column: usize,
    },
    /// A space or control character inside a prefix.
    #[error("prefix {entry} (column {column}) contains {ch:?}; prefixes cannot hold spaces or control characters")]
    BadChar {
        /// 1-based position of the entry in the list.
        entry: usize,
        /// 1-based character column of the character.
        column: usize,
        /// The character itself.
        ch: char,
    },
}

impl PrefixList {
    /// Parses a prefix field; an empty (or blank) text means "no prefix".
    pub fn parse(text: &str) -> Result<Self, PrefixListError> {
        let len = text.chars().count();
        if len > MAX_PREFIX_LIST_LEN {
            return Err(PrefixListError::TooLong { len });
        }
        if text.trim().is_empty() {
            return Ok(Self {
                text: text.to_owned(),
                prefixes: Vec::new(),
            });
        }
        let mut prefixes = Vec::new();
        for (i, piece) in split_trimmed(text, ',').into_iter().enumerate() {
            let entry = i + 1;
            if piece.text.is_empty() {
                return Err(PrefixListError::EmptyEntry {
                    entry,
                    column: piece.column,
                });
            }
            if let Some((j, ch)) = first_blank_or_control(piece.text) {
                return Err(PrefixListError::BadChar {
                    entry,
                    column: piece.column + j,
                    ch,
                });
            }
            prefixes.push(piece.text.to_owned());
        }
        Ok(Self {
            text: text.to_owned(),
            prefixes,
        })
    }

    /// True when the field holds no prefix.
    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }

    /// The prefixes, trimmed, in the order written.
    pub fn prefixes(&self) -> &[String] {
        &self.prefixes
    }

    /// The longest prefix `number` starts with, if any.
    pub fn matches(&self, number: &str) -> Option<&str> {
        self.prefixes
            .iter()
            .filter(|p| number.starts_with(p.as_str()))
            .max_by_key(|p| p.len())
            .map(String::as_str)
    }

    /// The text the list was parsed from, to show the configuration back.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for PrefixList {
    type Err = PrefixListError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for PrefixList {
    type Error = PrefixListError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PrefixList> for String {
    fn from(list: PrefixList) -> Self {
        list.text
    }
}

impl fmt::Display for PrefixList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Which number of an outbound request the prefixes are matched against (F-6.3.13).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchOn {
    /// The SIP caller (Appendix F scheme 1: bind lines to extensions).
    Caller,
    /// The SIP callee (the usual choice; allows stripping, F-6.3.14).
    #[default]
    Callee,
}

/// The outcome of prefix routing for one outbound request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrefixRoute {
    /// No line has a prefix: every line may take the call; the callee is dialled as is.
    Any,
    /// The lines whose prefix matches best, and the number to dial on them.
    Lines {
        /// Every line whose longest matching prefix is the longest match overall, in
        /// ascending line order.
        lines: Vec<LineId>,
        /// The callee to dial: without the matched prefix when stripping applies
        /// (F-6.3.14). It may be empty when the callee was only the prefix.
        number: String,
    },
    /// Prefixes are configured but none matches: reject with SIP 603 (F-6.3.18).
    NoMatch,
}

/// Why a set of line prefixes cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinePrefixError {
    /// Per-line / per-group mode and a line has no prefix (F-6.3.17).
    #[error("{line} has no gateway prefix; in per-line and per-group modes every line needs one (F-6.3.17)")]
    MissingPrefix {
        /// The line (for a group: its first line).
        line: LineId,
    },
    /// Per-line / per-group mode and two lines have the same prefix (F-6.3.17).
    #[error("prefix {prefix:?} is set on both {first} and {second}; each line's prefixes must differ (F-6.3.17)")]
    SamePrefix {
        /// The repeated prefix.
        prefix: String,
        /// One line (for a group: its first line).
        first: LineId,
        /// The other line.
        second: LineId,
    },
    /// Per-line / per-group mode and one line's prefix starts another line's.
    #[error("prefix {shorter:?} on {shorter_line} is the start of prefix {longer:?} on {longer_line}; routing would be ambiguous (F-6.3.17)")]
    Overlapping {
        /// The shorter prefix.
        shorter: String,
        /// The line it is on.
        shorter_line: LineId,
        /// The longer prefix that starts with it.
        longer: String,
        /// The line it is on.
        longer_line: LineId,
    },
    /// A line is listed twice (in two entries or two groups).
    #[error("{line} is listed more than once")]
    DuplicateLine {
        /// The line.
        line: LineId,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    lines: Vec<LineId>,
    prefixes: PrefixList,
}

/// All lines' prefixes and the matching options: the outbound line selector of
/// F-6.3.13 to F-6.3.18 (and F-6.3.20 for groups, F-6.3.25 for trunk mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinePrefixes {
    entries: Vec<Entry>,
    match_on: MatchOn,
    strip: bool,
    unique: bool,
}

impl LinePrefixes {
    /// One prefix list per line (single-server, trunk and per-line modes).
    ///
    /// `strip` removes the matched prefix from the callee and only applies with
    /// [`MatchOn::Callee`] (F-6.3.14); it is ignored with [`MatchOn::Caller`].
    /// `unique` is for per-line and per-group modes: every line then needs a prefix and no
    /// prefix may equal, or be the start of, another line's (F-6.3.17).
    pub fn new(
        lines: Vec<(LineId, PrefixList)>,
        match_on: MatchOn,
        strip: bool,
        unique: bool,
    ) -> Result<Self, LinePrefixError> {
        Self::grouped(
            lines
                .into_iter()
                .map(|(line, prefixes)| (vec![line], prefixes))
                .collect(),
            match_on,
            strip,
            unique,
        )
    }

    /// One prefix list per group of lines (per-group mode, F-6.3.20): a match selects all
    /// lines of the group, and uniqueness is checked between groups. Groups without
    /// lines are dropped. Errors name a group by its first line.
    pub fn grouped(
        groups: Vec<(Vec<LineId>, PrefixList)>,
        match_on: MatchOn,
        strip: bool,
        unique: bool,
    ) -> Result<Self, LinePrefixError> {
        let entries: Vec<Entry> = groups
            .into_iter()
            .filter(|(lines, _)| !lines.is_empty())
            .map(|(lines, prefixes)| Entry { lines, prefixes })
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        for line in entries.iter().flat_map(|e| e.lines.iter()) {
            if !seen.insert(*line) {
                return Err(LinePrefixError::DuplicateLine { line: *line });
            }
        }
        if unique {
            check_unique(&entries)?;
        }
        Ok(Self {
            entries,
            match_on,
            strip: strip && match_on == MatchOn::Callee,
            unique,
        })
    }

    /// The prefix list of `line` (its group's in per-group mode), for status pages
    /// (F-5.2.2.18).
    pub fn list_of(&self, line: LineId) -> Option<&PrefixList> {
        self.entries
            .iter()
            .find(|e| e.lines.contains(&line))
            .map(|e| &e.prefixes)
    }

    /// Which number the prefixes are matched against.
    pub fn match_on(&self) -> MatchOn {
        self.match_on
    }

    /// Whether the matched prefix is removed before dialling (only ever with callee
    /// matching).
    pub fn strip(&self) -> bool {
        self.strip
    }

    /// Whether prefixes were required to be unique (per-line / per-group modes).
    pub fn unique(&self) -> bool {
        self.unique
    }

    /// Chooses the lines for an outbound request from `caller` to `callee`.
    ///
    /// The number picked by [`MatchOn`] is matched against every line's prefixes; the
    /// longest match wins, and all lines whose own longest match has that length are
    /// returned. An anonymous caller (empty) matches no prefix.
    pub fn route(&self, caller: &str, callee: &str) -> PrefixRoute {
        if !self.unique && self.entries.iter().all(|e| e.prefixes.is_empty()) {
            return PrefixRoute::Any;
        }
        let key = match self.match_on {
            MatchOn::Caller => caller,
            MatchOn::Callee => callee,
        };
        let matches: Vec<(&Entry, usize)> = self
            .entries
            .iter()
            .filter_map(|e| e.prefixes.matches(key).map(|p| (e, p.len())))
            .collect();
        let Some(best) = matches.iter().map(|(_, len)| *len).max() else {
            return PrefixRoute::NoMatch;
        };
        let mut lines: Vec<LineId> = matches
            .iter()
            .filter(|(_, len)| *len == best)
            .flat_map(|(e, _)| e.lines.iter().copied())
            .collect();
        lines.sort_unstable();
        // Every winning prefix is `key[..best]`, so slicing there is on a char boundary.
        let number = if self.strip {
            callee.get(best..).unwrap_or_default().to_owned()
        } else {
            callee.to_owned()
        };
        PrefixRoute::Lines { lines, number }
    }
}

fn check_unique(entries: &[Entry]) -> Result<(), LinePrefixError> {
    for entry in entries {
        if entry.prefixes.is_empty() {
            return Err(LinePrefixError::MissingPrefix {
                line: first_line(entry),
            });
        }
    }
    for (i, a) in entries.iter().enumerate() {
        for b in &entries[i + 1..] {
            for pa in a.prefixes.prefixes() {
                for pb in b.prefixes.prefixes() {
                    if pa == pb {
                        return Err(LinePrefixError::SamePrefix {
                            prefix: pa.clone(),
                            first: first_line(a),
                            second: first_line(b),
                        });
                    }
                    let (shorter, shorter_e, longer, longer_e) = if pa.len() < pb.len() {
                        (pa, a, pb, b)
                    } else {
                        (pb, b, pa, a)
                    };
                    if longer.starts_with(shorter.as_str()) {
                        return Err(LinePrefixError::Overlapping {
                            shorter: shorter.clone(),
                            shorter_line: first_line(shorter_e),
                            longer: longer.clone(),
                            longer_line: first_line(longer_e),
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

fn first_line(entry: &Entry) -> LineId {
    entry.lines.first().copied().unwrap_or(LineId(0))
}

/// Why [`auto_configure`] could not fill the other lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AutoConfigError {
    /// The value (or one comma-separated entry of it) does not end in digits, so there is
    /// nothing to add 1 to.
    #[error("{value:?} does not end in a number, so it cannot be counted up per line")]
    NoTrailingNumber {
        /// The offending value or entry.
        value: String,
    },
}

/// "Auto-configure other lines" (F-6.3.19, Appendix F): the values for lines 1..=`lines`
/// from line 1's value, adding 1 per line to the number the value ends with.
///
/// Zero padding is kept (`001` → `002` … `010`); a carry widens the number (`99` → `100`).
/// A comma-separated value (a prefix list) is counted up entry by entry. With `lines`
/// ≤ 1 the value is returned as is, even without a number.
pub fn auto_configure(first: &str, lines: usize) -> Result<Vec<String>, AutoConfigError> {
    if lines <= 1 {
        return Ok(vec![first.to_owned()].into_iter().take(lines).collect());
    }
    let entries: Vec<&str> = first.split(',').map(str::trim).collect();
    for entry in &entries {
        if !entry.ends_with(|c: char| c.is_ascii_digit()) {
            return Err(AutoConfigError::NoTrailingNumber {
                value: (*entry).to_owned(),
            });
        }
    }
    let mut out = Vec::with_capacity(lines);
    out.push(first.to_owned());
    let mut current: Vec<String> = entries.iter().map(|e| (*e).to_owned()).collect();
    for _ in 1..lines {
        current = current.iter().map(|e| increment(e)).collect();
        out.push(current.join(","));
    }
    Ok(out)
}

/// Adds 1 to the decimal number at the end of `value`, digit by digit (no overflow).
fn increment(value: &str) -> String {
    let digits_start = value
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_digit())
        .last()
        .map_or(value.len(), |(i, _)| i);
    let (head, digits) = value.split_at(digits_start);
    let mut bytes = digits.as_bytes().to_vec();
    let mut carry = true;
    for b in bytes.iter_mut().rev() {
        if !carry {
            break;
        }
        if *b == b'9' {
            *b = b'0';
        } else {
            *b += 1;
            carry = false;
        }
    }
    let mut out = String::with_capacity(value.len() + 1);
    out.push_str(head);
    if carry {
        out.push('1');
    }
    out.extend(bytes.iter().map(|&b| char::from(b)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(text: &str) -> PrefixList {
        match PrefixList::parse(text) {
            Ok(l) => l,
            Err(e) => panic!("{text:?} should parse: {e}"),
        }
    }

    fn prefixes(
        lines: &[(u16, &str)],
        match_on: MatchOn,
        strip: bool,
        unique: bool,
    ) -> LinePrefixes {
        let lines = lines.iter().map(|(l, p)| (LineId(*l), list(p))).collect();
        match LinePrefixes::new(lines, match_on, strip, unique) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    fn lines_of(route: &PrefixRoute) -> Vec<u16> {
        match route {
            PrefixRoute::Lines { lines, .. } => lines.iter().map(|l| l.0).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn f_6_3_15_manual_example_parses() {
        let l = list("00,13,15,17,2");
        assert_eq!(l.prefixes(), ["00", "13", "15", "17", "2"]);
        assert_eq!(l.as_str(), "00,13,15,17,2");
        assert_eq!(l.matches("13012345678"), Some("13"));
        assert_eq!(l.matches("2"), Some("2"));
        assert_eq!(l.matches("0012"), Some("00"));
        assert_eq!(l.matches("14"), None);
        assert_eq!(l.matches(""), None);
    }

    #[test]
    fn f_6_3_15_letters_symbols_and_trimming() {
        let l = list(" +86 , A1,#9 ");
        assert_eq!(l.prefixes(), ["+86", "A1", "#9"]);
        assert_eq!(l.matches("+8613"), Some("+86"));
        assert_eq!(l.matches("a1"), None, "case-sensitive");
        assert!(list("").is_empty());
        assert!(list("   ").is_empty());
    }

    #[test]
    fn matches_returns_the_longest_prefix() {
        let l = list("1,135,13");
        assert_eq!(l.matches("13599"), Some("135"));
        assert_eq!(l.matches("13499"), Some("13"));
        assert_eq!(l.matches("199"), Some("1"));
    }

    #[test]
    fn f_6_3_15_parse_errors() {
        assert_eq!(
            PrefixList::parse("00,,13"),
            Err(PrefixListError::EmptyEntry {
                entry: 2,
                column: 4
            })
        );
        assert_eq!(
            PrefixList::parse(",13"),
            Err(PrefixListError::EmptyEntry {
                entry: 1,
                column: 1
            })
        );
        assert_eq!(
            PrefixList::parse("13,"),
            Err(PrefixListError::EmptyEntry {
                entry: 2,
                column: 4
            })
        );
        assert_eq!(
            PrefixList::parse("00, 1 3"),
            Err(PrefixListError::BadChar {
                entry: 2,
                column: 6,
                ch: ' '
            })
        );
        let long = "1".repeat(141);
        assert_eq!(
            PrefixList::parse(&long),
            Err(PrefixListError::TooLong { len: 141 })
        );
        assert!(PrefixList::parse(&"1".repeat(140)).is_ok());
        let msg = PrefixList::parse("00,,13").err().map(|e| e.to_string());
        assert_eq!(msg.as_deref(), Some("prefix 2 (column 4) is empty"));
    }

    #[test]
    fn f_6_3_13_callee_matching_picks_the_line() {
        let p = prefixes(
            &[(1, "13,15"), (2, "17"), (3, "2")],
            MatchOn::Callee,
            false,
            false,
        );
        let r = p.route("100", "15012345678");
        assert_eq!(
            r,
            PrefixRoute::Lines {
                lines: vec![LineId(1)],
                number: "15012345678".into()
            }
        );
        assert_eq!(lines_of(&p.route("100", "2000")), [3]);
        // The caller is not looked at.
        assert_eq!(p.route("13", "999"), PrefixRoute::NoMatch);
    }

    #[test]
    fn f_6_3_13_caller_matching_and_f_f_1_binding_by_caller() {
        let values = match auto_configure("101", 8) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        };
        let lines: Vec<(LineId, PrefixList)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (LineId(i as u16 + 1), list(v)))
            .collect();
        let p = match LinePrefixes::new(lines, MatchOn::Caller, true, true) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        // Strip is ignored with caller matching.
        assert!(!p.strip());
        assert_eq!(
            p.route("101", "13012345678"),
            PrefixRoute::Lines {
                lines: vec![LineId(1)],
                number: "13012345678".into()
            }
        );
        assert_eq!(lines_of(&p.route("108", "1")), [8]);
        assert_eq!(
            lines_of(&p.route("1015", "1")),
            [1],
            "callers starting with 101"
        );
        assert_eq!(p.route("109", "1"), PrefixRoute::NoMatch);
        assert_eq!(p.route("", "1"), PrefixRoute::NoMatch, "anonymous caller");
    }

    #[test]
    fn f_6_3_14_and_f_f_2_strip_the_callee_prefix() {
        let values = auto_configure("001", 3).unwrap_or_default();
        assert_eq!(values, ["001", "002", "003"]);
        let lines = values
            .iter()
            .enumerate()
            .map(|(i, v)| (LineId(i as u16 + 1), list(v)))
            .collect();
        let p = match LinePrefixes::new(lines, MatchOn::Callee, true, true) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            p.route("101", "00213012345678"),
            PrefixRoute::Lines {
                lines: vec![LineId(2)],
                number: "13012345678".into()
            }
        );
        assert_eq!(
            p.route("101", "003"),
            PrefixRoute::Lines {
                lines: vec![LineId(3)],
                number: String::new()
            }
        );
        assert_eq!(p.route("101", "00413012345678"), PrefixRoute::NoMatch);
    }

    #[test]
    fn strip_uses_the_longest_match() {
        let p = prefixes(&[(1, "9"), (2, "90")], MatchOn::Callee, true, false);
        assert_eq!(
            p.route("", "9012"),
            PrefixRoute::Lines {
                lines: vec![LineId(2)],
                number: "12".into()
            }
        );
        assert_eq!(
            p.route("", "9112"),
            PrefixRoute::Lines {
                lines: vec![LineId(1)],
                number: "112".into()
            }
        );
    }

    #[test]
    fn single_server_lines_sharing_a_prefix_share_the_call() {
        let p = prefixes(
            &[(3, "13"), (1, "13,2"), (2, "1")],
            MatchOn::Callee,
            false,
            false,
        );
        assert_eq!(lines_of(&p.route("", "139")), [1, 3]);
        assert_eq!(lines_of(&p.route("", "149")), [2]);
    }

    #[test]
    fn f_6_3_15_no_prefixes_anywhere_means_any_line() {
        let p = prefixes(&[(1, ""), (2, "")], MatchOn::Callee, true, false);
        assert_eq!(p.route("1", "2"), PrefixRoute::Any);
        let p = prefixes(&[], MatchOn::Callee, false, false);
        assert_eq!(p.route("1", "2"), PrefixRoute::Any);
    }

    #[test]
    fn f_6_3_18_lines_without_prefix_never_match_once_one_line_has_one() {
        let p = prefixes(&[(1, ""), (2, "13")], MatchOn::Callee, false, false);
        assert_eq!(lines_of(&p.route("", "139")), [2]);
        assert_eq!(p.route("", "149"), PrefixRoute::NoMatch);
    }

    #[test]
    fn f_6_3_18_unique_mode_rejects_unmatched_numbers() {
        let p = prefixes(&[(1, "1"), (2, "2")], MatchOn::Callee, false, true);
        assert_eq!(p.route("", "3"), PrefixRoute::NoMatch);
        // Unique mode with no lines at all: nothing can match.
        let p = prefixes(&[], MatchOn::Callee, false, true);
        assert_eq!(p.route("", "3"), PrefixRoute::NoMatch);
    }

    #[test]
    fn f_6_3_17_unique_mode_requires_a_prefix_on_every_line() {
        let r = LinePrefixes::new(
            vec![(LineId(1), list("1")), (LineId(2), list(""))],
            MatchOn::Callee,
            false,
            true,
        );
        assert_eq!(r, Err(LinePrefixError::MissingPrefix { line: LineId(2) }));
    }

    #[test]
    fn f_6_3_17_unique_mode_rejects_same_and_overlapping_prefixes() {
        let r = LinePrefixes::new(
            vec![(LineId(1), list("10,20")), (LineId(2), list("30,20"))],
            MatchOn::Callee,
            false,
            true,
        );
        assert_eq!(
            r,
            Err(LinePrefixError::SamePrefix {
                prefix: "20".into(),
                first: LineId(1),
                second: LineId(2)
            })
        );
        let r = LinePrefixes::new(
            vec![(LineId(1), list("135")), (LineId(2), list("13"))],
            MatchOn::Callee,
            false,
            true,
        );
        assert_eq!(
            r,
            Err(LinePrefixError::Overlapping {
                shorter: "13".into(),
                shorter_line: LineId(2),
                longer: "135".into(),
                longer_line: LineId(1)
            })
        );
        let msg = r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("line2") && msg.contains("line1"), "{msg}");
        // The same overlap within one line is fine.
        assert!(LinePrefixes::new(
            vec![(LineId(1), list("13,135")), (LineId(2), list("2"))],
            MatchOn::Callee,
            false,
            true
        )
        .is_ok());
        // And it is fine in single-server mode.
        assert!(LinePrefixes::new(
            vec![(LineId(1), list("135")), (LineId(2), list("13"))],
            MatchOn::Callee,
            false,
            false
        )
        .is_ok());
    }

    #[test]
    fn duplicate_lines_are_refused() {
        let r = LinePrefixes::new(
            vec![(LineId(1), list("1")), (LineId(1), list("2"))],
            MatchOn::Callee,
            false,
            false,
        );
        assert_eq!(r, Err(LinePrefixError::DuplicateLine { line: LineId(1) }));
    }

    #[test]
    fn f_6_3_20_groups_route_to_all_their_lines() {
        let groups = vec![
            (vec![LineId(1), LineId(2)], list("8")),
            (vec![LineId(3), LineId(4)], list("9")),
            (vec![], list("8")),
        ];
        let p = match LinePrefixes::grouped(groups, MatchOn::Callee, true, true) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            p.route("", "9123"),
            PrefixRoute::Lines {
                lines: vec![LineId(3), LineId(4)],
                number: "123".into()
            }
        );
        assert_eq!(p.route("", "7123"), PrefixRoute::NoMatch);
        let r = LinePrefixes::grouped(
            vec![
                (vec![LineId(1), LineId(2)], list("8")),
                (vec![LineId(3)], list("8")),
            ],
            MatchOn::Callee,
            false,
            true,
        );
        assert_eq!(
            r,
            Err(LinePrefixError::SamePrefix {
                prefix: "8".into(),
                first: LineId(1),
                second: LineId(3)
            })
        );
    }

    #[test]
    fn f_6_3_19_auto_configure_counts_up() {
        assert_eq!(
            auto_configure("101", 8).unwrap_or_default(),
            ["101", "102", "103", "104", "105", "106", "107", "108"]
        );
        assert_eq!(
            auto_configure("008", 4).unwrap_or_default(),
            ["008", "009", "010", "011"]
        );
        assert_eq!(
            auto_configure("98", 3).unwrap_or_default(),
            ["98", "99", "100"]
        );
        assert_eq!(
            auto_configure("gw9", 2).unwrap_or_default(),
            ["gw9", "gw10"]
        );
        assert_eq!(
            auto_configure("13, 201", 2).unwrap_or_default(),
            ["13, 201", "14,202"]
        );
        assert_eq!(auto_configure("abc", 1).unwrap_or_default(), ["abc"]);
        assert_eq!(auto_configure("abc", 0), Ok(Vec::new()));
        assert_eq!(
            auto_configure("10,x", 2),
            Err(AutoConfigError::NoTrailingNumber { value: "x".into() })
        );
        assert!(auto_configure("", 2).is_err());
    }

    #[test]
    fn serde_uses_the_text_form() {
        let l = list("00,13");
        let json = serde_json::to_string(&l).unwrap_or_default();
        assert_eq!(json, "\"00,13\"");
        let back: Result<PrefixList, _> = serde_json::from_str(&json);
        assert_eq!(back.ok(), Some(l));
        assert!(serde_json::from_str::<PrefixList>("\"1,,2\"").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in ".{0,160}") {
            let _ = PrefixList::parse(&text);
        }

        #[test]
        fn route_never_panics_and_strips_a_real_prefix(
            a in "[0-9é+]{0,4}(,[0-9é+]{1,4}){0,3}",
            b in "[0-9é+]{0,4}(,[0-9é+]{1,4}){0,3}",
            caller in "[0-9é+]{0,8}",
            callee in "[0-9é+]{0,8}",
            on_caller in any::<bool>(),
        ) {
            let (Ok(la), Ok(lb)) = (PrefixList::parse(&a), PrefixList::parse(&b)) else {
                return Ok(());
            };
            let match_on = if on_caller { MatchOn::Caller } else { MatchOn::Callee };
            if let Ok(p) = LinePrefixes::new(vec![(LineId(1), la), (LineId(2), lb)], match_on, true, false) {
                if let PrefixRoute::Lines { lines, number } = p.route(&caller, &callee) {
                    prop_assert!(!lines.is_empty());
                    prop_assert!(callee.ends_with(&number));
                }
            }
        }

        #[test]
        fn auto_configure_adds_one(n in 0u64..1_000_000, width in 1usize..8) {
            let first = format!("x{n:0width$}");
            let values = auto_configure(&first, 2).unwrap_or_default();
            let second = values.get(1).cloned().unwrap_or_default();
            let number: u64 = second.trim_start_matches('x').parse().unwrap_or(u64::MAX);
            prop_assert_eq!(number, n + 1);
            prop_assert!(second.len() >= first.len());
        }
    }
}
