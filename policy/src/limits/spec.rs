//! The limit syntax shared by the call-time limit (minutes) and the call-count limit
//! (F-6.10.8, F-6.10.11 to F-6.10.13).
//!
//! | text | meaning |
//! |---|---|
//! | `` (empty) | no limit |
//! | `100` | 100 in total, until reset (F-6.10.11) |
//! | `05:00-12:00,100\|12:00-23:00,200` | per daily time period; no limit outside every period (F-6.10.12) |
//! | `D5,1000` | per month, counted from 00:00 on day 5 (F-6.10.13) |
//!
//! Choices where the manual is silent (see `docs/limits.md`): periods are half-open
//! `[start, end)`, `end` may be `24:00`, a period may not cross midnight, periods may touch
//! but not overlap, a period's quota renews every day; the monthly day is `1..=31` and a
//! day past the month's end means the month's last day; only one form per field.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Minutes in a day: the exclusive upper bound of a minute-of-day and the value of `24:00`.
pub const MINUTES_PER_DAY: u16 = 24 * 60;

/// A parsed limit field: which form it takes and its numbers.
///
/// It serialises as its text form, so configuration files hold what the user typed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum LimitSpec {
    /// Empty field: no limit at all.
    #[default]
    None,
    /// `N`: N in total until the counter is reset by hand (F-6.10.11).
    Total(u32),
    /// `HH:MM-HH:MM,N|…`: a quota per daily time period; no limit outside them (F-6.10.12).
    Periods(Vec<Period>),
    /// `D<day>,N`: N per month, the month starting at 00:00 on `day` (F-6.10.13).
    Monthly {
        /// Day of the month the window starts on, `1..=31`; clamped to the month's length.
        day: u8,
        /// The quota per monthly window.
        limit: u32,
    },
}

/// One daily time period of [`LimitSpec::Periods`]: the quota applies from `start`
/// (inclusive) to `end` (exclusive) every day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// Minute of the day the period starts, `0..1440`.
    pub start: u16,
    /// Minute of the day the period ends (exclusive), `start+1..=1440` (`1440` is `24:00`).
    pub end: u16,
    /// The quota of the period, renewed each day.
    pub limit: u32,
}

impl Period {
    /// Whether a minute of the day falls inside the period (`start <= m < end`).
    pub fn contains(&self, minute_of_day: u16) -> bool {
        self.start <= minute_of_day && minute_of_day < self.end
    }
}

/// Why a limit text was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("limit, column {column}: {kind}")]
pub struct LimitParseError {
    /// 1-based character column of the offending text in the input.
    pub column: usize,
    /// What was wrong there.
    pub kind: LimitErrorKind,
}

/// The reasons a limit text can be refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LimitErrorKind {
    /// A number was expected (the limit, an hour, a minute or the monthly day).
    #[error("expected {0}")]
    Expected(&'static str),
    /// A number does not fit in 32 bits.
    #[error("number too large (maximum {})", u32::MAX)]
    TooLarge,
    /// Hour above 23 (or 24 with minutes other than 00).
    #[error("hour {0} out of range 00..23 (24:00 only as a period end)")]
    Hour(u32),
    /// Minute above 59.
    #[error("minute {0} out of range 00..59")]
    Minute(u32),
    /// A period whose end is not after its start.
    #[error("period end is not after its start; split a period crossing midnight in two (e.g. 22:00-24:00,N|00:00-06:00,N)")]
    EndNotAfterStart,
    /// Two periods share some minutes.
    #[error("period overlaps period {0}")]
    Overlap(usize),
    /// Monthly day outside `1..=31`.
    #[error("monthly day {0} out of range 1..31")]
    Day(u32),
    /// A monthly entry mixed with other entries.
    #[error("a monthly limit must be the only entry")]
    MixedForms,
    /// Text left over after a complete entry.
    #[error("unexpected {0:?}")]
    Unexpected(char),
}

/// A cursor over the input that remembers columns for the error messages.
struct Cursor<'a> {
    chars: std::iter::Peekable<std::iter::Enumerate<std::str::Chars<'a>>>,
    len: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Self {
            chars: s.chars().enumerate().peekable(),
            len: s.chars().count(),
        }
    }

    /// 1-based column of the next character (one past the end at the end).
    fn column(&mut self) -> usize {
        self.chars.peek().map_or(self.len, |&(i, _)| i) + 1
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().map(|&(_, c)| c)
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.chars.next();
        }
    }

    fn err(&mut self, kind: LimitErrorKind) -> LimitParseError {
        LimitParseError {
            column: self.column(),
            kind,
        }
    }

    /// Consumes `c` or fails naming what was expected.
    fn expect(&mut self, c: char, what: &'static str) -> Result<(), LimitParseError> {
        if self.peek() == Some(c) {
            self.chars.next();
            Ok(())
        } else {
            Err(self.err(LimitErrorKind::Expected(what)))
        }
    }

    /// Reads decimal digits (at most `max_digits` when given) as a `u32`.
    fn number(
        &mut self,
        what: &'static str,
        max_digits: Option<usize>,
    ) -> Result<(u32, usize), LimitParseError> {
        let column = self.column();
        let mut value: u32 = 0;
        let mut digits = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            if max_digits.is_some_and(|m| digits == m) {
                break;
            }
            self.chars.next();
            digits += 1;
            value =
                value
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(d))
                    .ok_or(LimitParseError {
                        column,
                        kind: LimitErrorKind::TooLarge,
                    })?;
        }
        if digits == 0 {
            return Err(self.err(LimitErrorKind::Expected(what)));
        }
        Ok((value, column))
    }

    /// Reads `H:MM` or `HH:MM`; `24:00` only when `allow_24`. Returns minute of day.
    fn time(&mut self, allow_24: bool) -> Result<u16, LimitParseError> {
        let (hour, hour_col) = self.number("an hour (HH:MM)", Some(2))?;
        self.expect(':', "':' between hour and minute (HH:MM)")?;
        let minute_col = self.column();
        let (minute, _) = self.number("two-digit minutes (HH:MM)", Some(2))?;
        if self.column() - minute_col != 2 {
            return Err(LimitParseError {
                column: minute_col,
                kind: LimitErrorKind::Expected("two-digit minutes (HH:MM)"),
            });
        }
        if minute > 59 {
            return Err(LimitParseError {
                column: minute_col,
                kind: LimitErrorKind::Minute(minute),
            });
        }
        if hour > 23 && !(allow_24 && hour == 24 && minute == 0) {
            return Err(LimitParseError {
                column: hour_col,
                kind: LimitErrorKind::Hour(hour),
            });
        }
        // hour ≤ 24 and minute ≤ 59 here, so this fits in u16.
        Ok((hour * 60 + minute) as u16)
    }
}

impl LimitSpec {
    /// Parses a limit field as typed on the SIM page. Surrounding spaces and spaces around
    /// `-`, `,` and `|` are allowed; `d5` is accepted for `D5`.
    pub fn parse(s: &str) -> Result<Self, LimitParseError> {
        let mut cur = Cursor::new(s);
        cur.skip_spaces();
        let Some(first) = cur.peek() else {
            return Ok(LimitSpec::None);
        };
        if first == 'D' || first == 'd' {
            return Self::parse_monthly(&mut cur);
        }
        // A total is a lone number; a period starts with a number followed by ':'.
        let is_period = s.contains(':');
        if !is_period {
            let (n, _) = cur.number("a number, HH:MM-HH:MM,N or D<day>,N", None)?;
            cur.skip_spaces();
            return match cur.peek() {
                None => Ok(LimitSpec::Total(n)),
                Some(c) => Err(cur.err(LimitErrorKind::Unexpected(c))),
            };
        }
        let mut periods: Vec<Period> = Vec::new();
        loop {
            cur.skip_spaces();
            if matches!(cur.peek(), Some('D' | 'd')) {
                return Err(cur.err(LimitErrorKind::MixedForms));
            }
            let start_col = cur.column();
            let start = cur.time(false)?;
            cur.skip_spaces();
            cur.expect('-', "'-' between start and end (HH:MM-HH:MM)")?;
            cur.skip_spaces();
            let end_col = cur.column();
            let end = cur.time(true)?;
            if end <= start {
                return Err(LimitParseError {
                    column: end_col,
                    kind: LimitErrorKind::EndNotAfterStart,
                });
            }
            cur.skip_spaces();
            cur.expect(',', "',' then the limit after the period")?;
            cur.skip_spaces();
            let (limit, _) = cur.number("the period's limit", None)?;
            let period = Period { start, end, limit };
            if let Some(i) = periods
                .iter()
                .position(|p| p.start < period.end && period.start < p.end)
            {
                return Err(LimitParseError {
                    column: start_col,
                    kind: LimitErrorKind::Overlap(i + 1),
                });
            }
            periods.push(period);
            cur.skip_spaces();
            match cur.peek() {
                None => return Ok(LimitSpec::Periods(periods)),
                Some('|') => {
                    cur.chars.next();
                }
                Some(c) => return Err(cur.err(LimitErrorKind::Unexpected(c))),
            }
        }
    }

    fn parse_monthly(cur: &mut Cursor<'_>) -> Result<Self, LimitParseError> {
        cur.chars.next(); // 'D'
        let (day, day_col) = cur.number("the monthly start day after 'D'", None)?;
        if !(1..=31).contains(&day) {
            return Err(LimitParseError {
                column: day_col,
                kind: LimitErrorKind::Day(day),
            });
        }
        cur.skip_spaces();
        cur.expect(',', "',' then the limit after D<day>")?;
        cur.skip_spaces();
        let (limit, _) = cur.number("the monthly limit", None)?;
        cur.skip_spaces();
        match cur.peek() {
            None => Ok(LimitSpec::Monthly {
                day: day as u8,
                limit,
            }),
            Some('|') => Err(cur.err(LimitErrorKind::MixedForms)),
            Some(c) => Err(cur.err(LimitErrorKind::Unexpected(c))),
        }
    }

    /// Whether the limit needs the network's local time to be counted (periods, monthly).
    pub fn needs_clock(&self) -> bool {
        matches!(self, LimitSpec::Periods(_) | LimitSpec::Monthly { .. })
    }
}

impl std::str::FromStr for LimitSpec {
    type Err = LimitParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for LimitSpec {
    type Error = LimitParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<LimitSpec> for String {
    fn from(spec: LimitSpec) -> Self {
        spec.to_string()
    }
}

/// Writes a minute of the day as `HH:MM` (`1440` as `24:00`).
fn write_hhmm(f: &mut fmt::Formatter<'_>, minute_of_day: u16) -> fmt::Result {
    write!(f, "{:02}:{:02}", minute_of_day / 60, minute_of_day % 60)
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hhmm(f, self.start)?;
        f.write_str("-")?;
        write_hhmm(f, self.end)?;
        write!(f, ",{}", self.limit)
    }
}

/// The canonical text form; [`LimitSpec::parse`] reads it back to the same value.
impl fmt::Display for LimitSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitSpec::None => Ok(()),
            LimitSpec::Total(n) => write!(f, "{n}"),
            LimitSpec::Periods(periods) => {
                for (i, p) in periods.iter().enumerate() {
                    if i > 0 {
                        f.write_str("|")?;
                    }
                    write!(f, "{p}")?;
                }
                Ok(())
            }
            LimitSpec::Monthly { day, limit } => write!(f, "D{day},{limit}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(s: &str) -> LimitParseError {
        match LimitSpec::parse(s) {
            Err(e) => e,
            Ok(v) => panic!("{s:?} parsed as {v:?}"),
        }
    }

    #[test]
    fn empty_is_no_limit() {
        assert_eq!(LimitSpec::parse(""), Ok(LimitSpec::None));
        assert_eq!(LimitSpec::parse("   "), Ok(LimitSpec::None));
    }

    /// F-6.10.11: a lone number is a total.
    #[test]
    fn total() {
        assert_eq!(LimitSpec::parse("100"), Ok(LimitSpec::Total(100)));
        assert_eq!(LimitSpec::parse(" 0 "), Ok(LimitSpec::Total(0)));
        assert_eq!(err("10x").column, 3);
        assert_eq!(err("99999999999").kind, LimitErrorKind::TooLarge);
    }

    /// F-6.10.12 manual example.
    #[test]
    fn manual_period_example() {
        let spec = LimitSpec::parse("05:00-12:00,100|12:00-23:00,200");
        assert_eq!(
            spec,
            Ok(LimitSpec::Periods(vec![
                Period {
                    start: 300,
                    end: 720,
                    limit: 100
                },
                Period {
                    start: 720,
                    end: 1380,
                    limit: 200
                },
            ]))
        );
    }

    #[test]
    fn periods_with_spaces_single_digit_hour_and_24() {
        let spec = LimitSpec::parse(" 5:00 - 12:00 , 100 | 22:00-24:00,5 ");
        assert_eq!(
            spec.map(|s| s.to_string()),
            Ok("05:00-12:00,100|22:00-24:00,5".to_string())
        );
    }

    #[test]
    fn period_errors_name_the_column() {
        // Hour 25 at column 1.
        assert_eq!(
            err("25:00-26:00,1"),
            LimitParseError {
                column: 1,
                kind: LimitErrorKind::Hour(25)
            }
        );
        // Minute 60 at column 10.
        assert_eq!(err("05:00-12:60,1").kind, LimitErrorKind::Minute(60));
        assert_eq!(err("05:00-12:60,1").column, 10);
        // 24:00 is only an end.
        assert_eq!(err("24:00-24:00,1").kind, LimitErrorKind::Hour(24));
        assert_eq!(err("05:00-24:01,1").kind, LimitErrorKind::Hour(24));
        // Crossing midnight.
        let e = err("22:00-06:00,5");
        assert_eq!((e.column, e.kind), (7, LimitErrorKind::EndNotAfterStart));
        // Overlap with the first period, reported at the second's start.
        let e = err("05:00-12:00,100|11:00-13:00,5");
        assert_eq!((e.column, e.kind), (17, LimitErrorKind::Overlap(1)));
        // Missing limit.
        assert_eq!(err("05:00-12:00").column, 12);
        assert_eq!(err("05:00-12:00,").column, 13);
        // One-digit minutes.
        assert_eq!(err("05:0-12:00,1").column, 4);
        // Trailing separator.
        assert_eq!(err("05:00-12:00,1|").column, 15);
        // Monthly mixed in.
        assert_eq!(err("05:00-12:00,1|D5,3").kind, LimitErrorKind::MixedForms);
        // Garbage after a period.
        assert_eq!(err("05:00-12:00,1 x").kind, LimitErrorKind::Unexpected('x'));
        // Messages say where and why.
        assert_eq!(
            err("05:00-12:60,1").to_string(),
            "limit, column 10: minute 60 out of range 00..59"
        );
    }

    /// F-6.10.13 manual example.
    #[test]
    fn monthly() {
        assert_eq!(
            LimitSpec::parse("D5,1000"),
            Ok(LimitSpec::Monthly {
                day: 5,
                limit: 1000
            })
        );
        assert_eq!(
            LimitSpec::parse("d31, 10"),
            Ok(LimitSpec::Monthly { day: 31, limit: 10 })
        );
        assert_eq!(
            err("D0,5"),
            LimitParseError {
                column: 2,
                kind: LimitErrorKind::Day(0)
            }
        );
        assert_eq!(err("D32,5").kind, LimitErrorKind::Day(32));
        assert_eq!(err("D5").column, 3);
        assert_eq!(err("D5,1|D6,2").kind, LimitErrorKind::MixedForms);
        assert_eq!(err("Dx,1").column, 2);
    }

    #[test]
    fn serde_as_text() {
        let spec = LimitSpec::parse("D5,1000").unwrap();
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(json, "\"D5,1000\"");
        assert_eq!(serde_json::from_str::<LimitSpec>(&json).unwrap(), spec);
        assert!(serde_json::from_str::<LimitSpec>("\"D40,1\"").is_err());
    }

    fn arb_spec() -> impl Strategy<Value = LimitSpec> {
        let periods = proptest::collection::btree_set(0u16..=MINUTES_PER_DAY, 2..10)
            .prop_flat_map(|cuts| {
                let cuts: Vec<u16> = cuts.into_iter().collect();
                let n = cuts.len() / 2;
                (Just(cuts), proptest::collection::vec(any::<u32>(), n))
            })
            .prop_map(|(cuts, limits)| {
                let mut out = Vec::new();
                for (pair, limit) in cuts.chunks_exact(2).zip(limits) {
                    out.push(Period {
                        start: pair[0],
                        end: pair[1],
                        limit,
                    });
                }
                out.reverse(); // order of entries is kept as written, not sorted
                LimitSpec::Periods(out)
            });
        prop_oneof![
            Just(LimitSpec::None),
            any::<u32>().prop_map(LimitSpec::Total),
            (1u8..=31, any::<u32>()).prop_map(|(day, limit)| LimitSpec::Monthly { day, limit }),
            periods,
        ]
    }

    proptest! {
        /// Display then parse gives the same value back.
        #[test]
        fn display_round_trip(spec in arb_spec()) {
            prop_assert_eq!(LimitSpec::parse(&spec.to_string()), Ok(spec));
        }

        /// The parser never panics, whatever the text.
        #[test]
        fn parse_never_panics(s in "[0-9:D|, -]{0,30}") {
            let _ = LimitSpec::parse(&s);
        }
    }
}
