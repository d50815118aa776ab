//! Schedules of the user options page: the scheduled reboot (F-6.1.10, `HH:MM` daily or
//! `M` every M minutes) and the daily CDR reset (F-6.1.11, `HH:MM`), with triggers that the
//! engine ticks to learn when to act.
//!
//! Choices (see `docs/limits.md`): `HH:MM` means every day at that network local time;
//! a daily time fires only when the device has network time both before and after the
//! moment (so never at a boot that happens after it, never without network time), once
//! per occurrence even if the clock steps back; `M` minutes count from when the trigger
//! starts (boot), on the monotonic clock, whatever the network time does.

use std::fmt;
use std::time::{Duration, Instant};

use thiserror::Error;
use time::{PrimitiveDateTime, Time};

/// A time of day, to the minute, at which something happens every day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DailyTime {
    hour: u8,
    minute: u8,
}

/// A parsed schedule field (F-6.1.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// `HH:MM`: every day at that local time.
    Daily(DailyTime),
    /// `M`: every M minutes (M > 0) since the trigger started.
    Every(Duration),
}

/// Why a schedule text was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("schedule, column {column}: {kind}")]
pub struct ScheduleParseError {
    /// 1-based character column of the offending text.
    pub column: usize,
    /// What was wrong there.
    pub kind: ScheduleErrorKind,
}

/// The reasons a schedule text can be refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScheduleErrorKind {
    /// Nothing but spaces; the configuration layer treats an empty field as "off".
    #[error("empty; expected HH:MM or a number of minutes")]
    Empty,
    /// Something else was expected here.
    #[error("expected {0}")]
    Expected(&'static str),
    /// Hour above 23.
    #[error("hour {0} out of range 00..23")]
    Hour(u32),
    /// Minute above 59.
    #[error("minute {0} out of range 00..59")]
    Minute(u32),
    /// `0` minutes.
    #[error("the interval must be more than 0 minutes")]
    ZeroInterval,
    /// A number that does not fit in 32 bits.
    #[error("number too large (maximum {})", u32::MAX)]
    TooLarge,
    /// Text after a complete value.
    #[error("unexpected {0:?}")]
    Unexpected(char),
}

/// Reads the digits at char index `i`, returning (value, digit count).
fn digits(chars: &[char], i: usize, column0: usize) -> Result<(u32, usize), ScheduleParseError> {
    let mut value: u32 = 0;
    let mut n = 0;
    while let Some(d) = chars.get(i + n).and_then(|c| c.to_digit(10)) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(d))
            .ok_or(ScheduleParseError {
                column: column0 + i + 1,
                kind: ScheduleErrorKind::TooLarge,
            })?;
        n += 1;
    }
    Ok((value, n))
}

/// Parses `HH:MM` (or `H:MM`) starting at char index `i` of `chars`; `column0` is the
/// number of chars before `chars` in the original text. Returns the time and the index after.
fn parse_hhmm(chars: &[char], column0: usize) -> Result<(DailyTime, usize), ScheduleParseError> {
    let at = |i: usize, kind| ScheduleParseError {
        column: column0 + i + 1,
        kind,
    };
    let (hour, hn) = digits(chars, 0, column0)?;
    if hn == 0 || hn > 2 {
        return Err(at(0, ScheduleErrorKind::Expected("HH:MM")));
    }
    if chars.get(hn) != Some(&':') {
        return Err(at(
            hn,
            ScheduleErrorKind::Expected("':' between hour and minute"),
        ));
    }
    let (minute, mn) = digits(chars, hn + 1, column0)?;
    if mn != 2 {
        return Err(at(hn + 1, ScheduleErrorKind::Expected("two-digit minutes")));
    }
    if hour > 23 {
        return Err(at(0, ScheduleErrorKind::Hour(hour)));
    }
    if minute > 59 {
        return Err(at(hn + 1, ScheduleErrorKind::Minute(minute)));
    }
    // Both checked above, so they fit in u8.
    Ok((
        DailyTime {
            hour: hour as u8,
            minute: minute as u8,
        },
        hn + 1 + mn,
    ))
}

/// Splits off surrounding spaces: (chars of the trimmed text, chars before it).
fn trimmed(s: &str) -> (Vec<char>, usize) {
    let lead = s.chars().take_while(|c| c.is_ascii_whitespace()).count();
    (
        s.trim_matches(|c: char| c.is_ascii_whitespace())
            .chars()
            .collect(),
        lead,
    )
}

impl DailyTime {
    /// A time of day; `None` unless `hour < 24` and `minute < 60`.
    pub fn new(hour: u8, minute: u8) -> Option<Self> {
        (hour < 24 && minute < 60).then_some(Self { hour, minute })
    }

    /// Parses `HH:MM` (24-hour, `00:00` to `23:59`; one-digit hours accepted), as in the
    /// daily CDR reset field (F-6.1.11).
    pub fn parse(s: &str) -> Result<Self, ScheduleParseError> {
        let (chars, lead) = trimmed(s);
        if chars.is_empty() {
            return Err(ScheduleParseError {
                column: 1,
                kind: ScheduleErrorKind::Empty,
            });
        }
        let (t, end) = parse_hhmm(&chars, lead)?;
        match chars.get(end) {
            None => Ok(t),
            Some(&c) => Err(ScheduleParseError {
                column: lead + end + 1,
                kind: ScheduleErrorKind::Unexpected(c),
            }),
        }
    }

    /// The hour, `0..24`.
    pub fn hour(self) -> u8 {
        self.hour
    }

    /// The minute, `0..60`.
    pub fn minute(self) -> u8 {
        self.minute
    }

    fn time(self) -> Time {
        Time::from_hms(self.hour, self.minute, 0).unwrap_or(Time::MIDNIGHT)
    }

    /// The first moment at this time of day strictly after `local`.
    pub fn next_after(self, local: PrimitiveDateTime) -> PrimitiveDateTime {
        let today = local.replace_time(self.time());
        if today > local {
            today
        } else {
            today.saturating_add(time::Duration::DAY)
        }
    }

    /// The last moment at this time of day at or before `local`.
    pub fn last_at_or_before(self, local: PrimitiveDateTime) -> PrimitiveDateTime {
        let today = local.replace_time(self.time());
        if today <= local {
            today
        } else {
            today.saturating_sub(time::Duration::DAY)
        }
    }
}

impl fmt::Display for DailyTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl Schedule {
    /// Parses the scheduled-reboot field (F-6.1.10): `HH:MM` daily, or a whole number of
    /// minutes `M > 0`. Surrounding spaces are ignored.
    pub fn parse(s: &str) -> Result<Self, ScheduleParseError> {
        let (chars, lead) = trimmed(s);
        if chars.is_empty() {
            return Err(ScheduleParseError {
                column: 1,
                kind: ScheduleErrorKind::Empty,
            });
        }
        if chars.contains(&':') {
            return DailyTime::parse(s).map(Schedule::Daily);
        }
        let (minutes, n) = digits(&chars, 0, lead)?;
        let err = |i: usize, kind| ScheduleParseError {
            column: lead + i + 1,
            kind,
        };
        if n == 0 {
            return Err(err(
                0,
                ScheduleErrorKind::Expected("HH:MM or a number of minutes"),
            ));
        }
        if let Some(&c) = chars.get(n) {
            return Err(err(n, ScheduleErrorKind::Unexpected(c)));
        }
        if minutes == 0 {
            return Err(err(0, ScheduleErrorKind::ZeroInterval));
        }
        Ok(Schedule::Every(Duration::from_secs(
            u64::from(minutes) * 60,
        )))
    }

    /// For a daily schedule, the next time strictly after `local`; `None` for an interval,
    /// which runs on the monotonic clock (see [`IntervalTrigger`]).
    pub fn next_daily(&self, local: PrimitiveDateTime) -> Option<PrimitiveDateTime> {
        match self {
            Schedule::Daily(t) => Some(t.next_after(local)),
            Schedule::Every(_) => None,
        }
    }
}

/// The field's text: `HH:MM` or the number of minutes.
impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Daily(t) => write!(f, "{t}"),
            Schedule::Every(d) => write!(f, "{}", d.as_secs() / 60),
        }
    }
}

/// Says when a daily time has been passed, exactly once per day, from ticks that carry the
/// monotonic time and the network local time (F-6.1.10, F-6.1.11).
#[derive(Debug, Clone)]
pub struct DailyTrigger {
    at: DailyTime,
    /// The last tick that had network time.
    last: Option<(Instant, PrimitiveDateTime)>,
    /// The occurrence that last fired, against double firing when the clock steps back.
    last_fired: Option<PrimitiveDateTime>,
}

impl DailyTrigger {
    /// A trigger for `at`, which has seen no tick yet.
    pub fn new(at: DailyTime) -> Self {
        Self {
            at,
            last: None,
            last_fired: None,
        }
    }

    /// The configured time of day.
    pub fn at(&self) -> DailyTime {
        self.at
    }

    /// Feeds one tick; `true` when the daily time was crossed since the previous tick with
    /// network time. Never fires on the first tick with network time (the device may have
    /// booted after the time), without network time, when the clock went back, or twice for
    /// the same day's occurrence. After a long gap it fires once, not once per day missed.
    pub fn tick(&mut self, now: Instant, local: Option<PrimitiveDateTime>) -> bool {
        let Some(local) = local else {
            return false;
        };
        let fire = match self.last {
            Some((_, prev)) if local > prev => {
                let occurrence = self.at.last_at_or_before(local);
                let crossed = occurrence > prev;
                let fresh = self.last_fired.is_none_or(|f| occurrence > f);
                if crossed && fresh {
                    self.last_fired = Some(occurrence);
                    true
                } else {
                    false
                }
            }
            _ => false,
        };
        self.last = Some((now, local));
        fire
    }

    /// When the next occurrence is due on the monotonic clock, extrapolated from the last
    /// tick with network time; `None` before any. Tick at (or soon after) this instant.
    pub fn deadline(&self) -> Option<Instant> {
        let (instant, local) = self.last?;
        let wait = (self.at.next_after(local) - local).unsigned_abs();
        instant.checked_add(wait)
    }

    /// How long to wait from `now` before the next tick is worth making; `None` before any
    /// tick with network time (poll at the engine's usual interval then).
    pub fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        self.deadline().map(|d| d.saturating_duration_since(now))
    }
}

/// Says when each interval of an every-M-minutes schedule has passed (F-6.1.10), on the
/// monotonic clock from the first tick.
#[derive(Debug, Clone)]
pub struct IntervalTrigger {
    every: Duration,
    next: Option<Instant>,
}

impl IntervalTrigger {
    /// A trigger every `every`; a zero interval never fires.
    pub fn new(every: Duration) -> Self {
        Self { every, next: None }
    }

    /// Feeds one tick; `true` once when the interval has passed. The first tick starts the
    /// count. Missed intervals fire once, and the next one keeps the original cadence.
    pub fn tick(&mut self, now: Instant) -> bool {
        if self.every.is_zero() {
            return false;
        }
        let Some(mut next) = self.next else {
            self.next = now.checked_add(self.every);
            return false;
        };
        if now < next {
            return false;
        }
        while next <= now {
            match next.checked_add(self.every) {
                Some(n) => next = n,
                None => break,
            }
        }
        self.next = Some(next);
        true
    }

    /// When the next interval ends; `None` before the first tick.
    pub fn deadline(&self) -> Option<Instant> {
        self.next
    }

    /// How long to wait from `now` until the next interval ends.
    pub fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        self.next.map(|d| d.saturating_duration_since(now))
    }
}

/// A trigger for either form of [`Schedule`], for the scheduled reboot (F-6.1.10).
#[derive(Debug, Clone)]
pub enum ScheduleTrigger {
    /// `HH:MM`.
    Daily(DailyTrigger),
    /// `M` minutes.
    Every(IntervalTrigger),
}

impl ScheduleTrigger {
    /// The trigger that fits the schedule.
    pub fn new(schedule: Schedule) -> Self {
        match schedule {
            Schedule::Daily(t) => ScheduleTrigger::Daily(DailyTrigger::new(t)),
            Schedule::Every(d) => ScheduleTrigger::Every(IntervalTrigger::new(d)),
        }
    }

    /// Feeds one tick; `true` when the scheduled action is due now.
    pub fn tick(&mut self, now: Instant, local: Option<PrimitiveDateTime>) -> bool {
        match self {
            ScheduleTrigger::Daily(t) => t.tick(now, local),
            ScheduleTrigger::Every(t) => t.tick(now),
        }
    }

    /// How long to wait from `now` before the next useful tick, if known.
    pub fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        match self {
            ScheduleTrigger::Daily(t) => t.poll_timeout(now),
            ScheduleTrigger::Every(t) => t.poll_timeout(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn daily(h: u8, m: u8) -> DailyTime {
        DailyTime::new(h, m).unwrap()
    }

    fn err(s: &str) -> ScheduleParseError {
        match Schedule::parse(s) {
            Err(e) => e,
            Ok(v) => panic!("{s:?} parsed as {v:?}"),
        }
    }

    /// F-6.1.10: both formats, with the manual's examples `03:00` and `23:59`.
    #[test]
    fn f_6_1_10_parse() {
        assert_eq!(Schedule::parse("03:00"), Ok(Schedule::Daily(daily(3, 0))));
        assert_eq!(
            Schedule::parse(" 23:59 "),
            Ok(Schedule::Daily(daily(23, 59)))
        );
        assert_eq!(Schedule::parse("7:05"), Ok(Schedule::Daily(daily(7, 5))));
        assert_eq!(
            Schedule::parse("90"),
            Ok(Schedule::Every(Duration::from_secs(5400)))
        );
        assert_eq!(Schedule::parse("90").unwrap().to_string(), "90");
        assert_eq!(Schedule::parse("7:05").unwrap().to_string(), "07:05");
    }

    #[test]
    fn f_6_1_10_parse_errors() {
        assert_eq!(err("").kind, ScheduleErrorKind::Empty);
        assert_eq!(
            err("0"),
            ScheduleParseError {
                column: 1,
                kind: ScheduleErrorKind::ZeroInterval
            }
        );
        assert_eq!(err("24:00").kind, ScheduleErrorKind::Hour(24));
        let e = err("12:60");
        assert_eq!((e.column, e.kind), (4, ScheduleErrorKind::Minute(60)));
        assert_eq!(err("3:5").column, 3);
        assert_eq!(err("123:00").column, 1);
        assert_eq!(err(" 12:00x").kind, ScheduleErrorKind::Unexpected('x'));
        assert_eq!(err(" 12:00x").column, 7);
        assert_eq!(
            err("-5").kind,
            ScheduleErrorKind::Expected("HH:MM or a number of minutes")
        );
        assert_eq!(err("10m").kind, ScheduleErrorKind::Unexpected('m'));
        assert_eq!(err("99999999999").kind, ScheduleErrorKind::TooLarge);
        assert_eq!(
            err("25:00").to_string(),
            "schedule, column 1: hour 25 out of range 00..23"
        );
        // F-6.1.11: the CDR reset field is HH:MM only.
        assert_eq!(DailyTime::parse("00:30"), Ok(daily(0, 30)));
        assert_eq!(DailyTime::parse("30").unwrap_err().column, 3);
    }

    #[test]
    fn next_daily_is_strictly_after() {
        let s = Schedule::Daily(daily(3, 0));
        assert_eq!(
            s.next_daily(datetime!(2024-03-01 02:59:59)),
            Some(datetime!(2024-03-01 03:00))
        );
        assert_eq!(
            s.next_daily(datetime!(2024-03-01 03:00)),
            Some(datetime!(2024-03-02 03:00))
        );
        let late = Schedule::Daily(daily(23, 59));
        assert_eq!(
            late.next_daily(datetime!(2024-12-31 23:59:30)),
            Some(datetime!(2025-01-01 23:59))
        );
        assert_eq!(
            Schedule::Every(Duration::from_secs(60)).next_daily(datetime!(2024-01-01 0:00)),
            None
        );
    }

    /// F-6.1.11: the daily CDR reset fires once when 03:00 is crossed, not on the first tick,
    /// not without network time, and not twice when the clock steps back.
    #[test]
    fn f_6_1_11_daily_trigger_fires_once() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut tr = DailyTrigger::new(daily(3, 0));
        // First tick at 03:00:30 (booted after the time): no firing.
        assert!(!tr.tick(at(0), Some(datetime!(2024-03-01 03:00:30))));
        assert_eq!(
            tr.poll_timeout(at(0)),
            Some(Duration::from_secs(86_400 - 30))
        );
        assert!(!tr.tick(at(10), Some(datetime!(2024-03-02 02:59:55))));
        assert_eq!(tr.poll_timeout(at(10)), Some(Duration::from_secs(5)));
        // No network time: nothing.
        assert!(!tr.tick(at(12), None));
        assert!(tr.tick(at(15), Some(datetime!(2024-03-02 03:00))));
        assert!(!tr.tick(at(20), Some(datetime!(2024-03-02 03:00:05))));
        // Clock correction steps back across 03:00, then forward again: no second firing.
        assert!(!tr.tick(at(25), Some(datetime!(2024-03-02 02:59:50))));
        assert!(!tr.tick(at(30), Some(datetime!(2024-03-02 03:00:10))));
        // Network time lost across the next day's 03:00, then back: fires once on return.
        assert!(!tr.tick(at(40), Some(datetime!(2024-03-03 02:50))));
        assert!(!tr.tick(at(50), None));
        assert!(tr.tick(at(60), Some(datetime!(2024-03-03 03:20))));
        // A gap of several days fires once.
        assert!(tr.tick(at(70), Some(datetime!(2024-03-07 12:00))));
        assert!(!tr.tick(at(80), Some(datetime!(2024-03-07 12:01))));
    }

    /// F-6.1.10 `M`: every M minutes from the first tick; late ticks fire once and keep the cadence.
    #[test]
    fn f_6_1_10_interval_trigger() {
        let t0 = Instant::now();
        let m = |min: u64| t0 + Duration::from_secs(min * 60);
        let mut tr = ScheduleTrigger::new(Schedule::parse("10").unwrap());
        assert!(!tr.tick(m(0), None));
        assert_eq!(tr.poll_timeout(m(4)), Some(Duration::from_secs(360)));
        assert!(!tr.tick(m(9), None));
        assert!(tr.tick(m(10), None));
        assert!(!tr.tick(m(11), None));
        assert!(tr.tick(m(35), None)); // 20 and 30 missed: once
        assert_eq!(tr.poll_timeout(m(35)), Some(Duration::from_secs(300)));
        assert!(!tr.tick(m(39), None));
        assert!(tr.tick(m(40), None));
        let mut zero = IntervalTrigger::new(Duration::ZERO);
        assert!(!zero.tick(t0));
        assert!(!zero.tick(m(1)));
    }
}
