//! IMEI values and the automatic IMEI change (manual §6.12).
//!
//! An [`Imei`] is always valid: 15 digits whose last one is the Luhn check digit of
//! 3GPP TS 23.003. [`Imei::randomised`] keeps the 8-digit TAC and draws a new serial number
//! (F-6.12.4). [`ImeiPolicy`] says when the IMEI changes and [`ImeiSchedule`] times the
//! periodic change, waiting for a call in progress to end (F-6.12.2).

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Why a text is not a valid IMEI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImeiError {
    /// The IMEI must have 15 digits (14 for [`Imei::from_14`]).
    #[error("IMEI `{input}`: {len} characters, expected {expected} digits")]
    WrongLength {
        /// The text as given.
        input: String,
        /// Its length in characters.
        len: usize,
        /// The length wanted.
        expected: usize,
    },
    /// Only ASCII digits are allowed.
    #[error("IMEI `{input}`: `{found}` at position {position} is not a digit")]
    NotDigit {
        /// The text as given.
        input: String,
        /// 1-based position of the character.
        position: usize,
        /// The character found.
        found: char,
    },
    /// The 15th digit does not match the first 14 (F-6.12.4).
    #[error("IMEI `{input}`: check digit is {found}, the first 14 digits need {expected}")]
    BadCheckDigit {
        /// The text as given.
        input: String,
        /// The check digit the first 14 digits give.
        expected: u8,
        /// The check digit written.
        found: u8,
    },
}

/// The Luhn check digit of an IMEI body (3GPP TS 23.003 annex B), so the gateway can
/// build valid IMEIs (F-6.12.4).
///
/// `body` is the 14 first digits as ASCII (`b"49015420323751"`); returns the check digit
/// as a number 0 to 9. Bytes other than ASCII digits count as 0: callers check the text
/// first, as [`Imei::parse`] and [`Imei::from_14`] do.
pub fn luhn_check_digit(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = if b.is_ascii_digit() {
                u32::from(b - b'0')
            } else {
                0
            };
            // From the right, the first body digit (next to the check digit) is doubled.
            if i % 2 == 0 {
                let dd = d * 2;
                dd / 10 + dd % 10
            } else {
                d
            }
        })
        .sum();
    // sum % 10 < 10, so the result fits a u8.
    ((10 - sum % 10) % 10) as u8
}

/// A valid IMEI: 15 ASCII digits with a correct check digit (F-6.12.1, F-6.12.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Imei([u8; 15]);

fn check_digits(input: &str, expected: usize) -> Result<(), ImeiError> {
    if let Some((i, c)) = input.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(ImeiError::NotDigit {
            input: input.to_string(),
            position: i + 1,
            found: c,
        });
    }
    if input.len() != expected {
        return Err(ImeiError::WrongLength {
            input: input.to_string(),
            len: input.chars().count(),
            expected,
        });
    }
    Ok(())
}

impl Imei {
    /// Reads a 15-digit IMEI, refusing a wrong length, a non-digit or a wrong check digit
    /// (the error names the digit the first 14 need). A typed IMEI is validated, never
    /// corrected silently (Ambiguities, item 12).
    pub fn parse(input: &str) -> Result<Self, ImeiError> {
        let text = input.trim();
        check_digits(text, 15)?;
        let mut digits = [0u8; 15];
        digits.copy_from_slice(text.as_bytes());
        let expected = luhn_check_digit(&digits[..14]);
        let found = digits[14] - b'0';
        if expected != found {
            return Err(ImeiError::BadCheckDigit {
                input: input.to_string(),
                expected,
                found,
            });
        }
        Ok(Self(digits))
    }

    /// Builds an IMEI from its first 14 digits (TAC + SNR), computing the check digit.
    pub fn from_14(input: &str) -> Result<Self, ImeiError> {
        let text = input.trim();
        check_digits(text, 14)?;
        let mut digits = [0u8; 15];
        digits[..14].copy_from_slice(text.as_bytes());
        digits[14] = b'0' + luhn_check_digit(&digits[..14]);
        Ok(Self(digits))
    }

    /// A new IMEI for the same model (F-6.12.4): the first 8 digits (TAC) kept, a random
    /// 6-digit serial number, a computed check digit. Never returns `self`.
    pub fn randomised<R: Rng + ?Sized>(&self, rng: &mut R) -> Imei {
        let current = self.snr_value();
        // Uniform over the 999 999 other serial numbers.
        let mut snr = rng.gen_range(0..999_999u32);
        if snr >= current {
            snr += 1;
        }
        let mut digits = self.0;
        for i in (8..14).rev() {
            // snr % 10 < 10, so it fits a u8.
            digits[i] = b'0' + (snr % 10) as u8;
            snr /= 10;
        }
        digits[14] = b'0' + luhn_check_digit(&digits[..14]);
        Imei(digits)
    }

    fn snr_value(&self) -> u32 {
        self.0[8..14]
            .iter()
            .fold(0, |n, b| n * 10 + u32::from(b - b'0'))
    }

    /// The 15 digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Type allocation code: the first 8 digits, naming the model (F-6.12.5).
    pub fn tac(&self) -> &str {
        &self.as_str()[..8]
    }

    /// Serial number: digits 9 to 14 (F-6.12.5).
    pub fn snr(&self) -> &str {
        &self.as_str()[8..14]
    }

    /// The check digit, 0 to 9.
    pub fn check_digit(&self) -> u8 {
        self.0[14] - b'0'
    }
}

impl fmt::Display for Imei {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Imei {
    type Err = ImeiError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Imei::parse(s)
    }
}

impl TryFrom<String> for Imei {
    type Error = ImeiError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Imei::parse(&value)
    }
}

impl From<Imei> for String {
    fn from(value: Imei) -> Self {
        value.to_string()
    }
}

/// A syntax error in an IMEI policy string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImeiPolicyError {
    /// The text is none of the accepted forms.
    #[error(
        "IMEI policy `{0}`: expected `keep`, `random_at_power_up`, `every <N>(m|h|d)` or a 15-digit IMEI"
    )]
    Syntax(String),
    /// A fixed IMEI that is not valid.
    #[error(transparent)]
    Imei(#[from] ImeiError),
    /// The change interval is malformed or below one minute.
    #[error("IMEI policy `{input}`: {problem}")]
    Interval {
        /// The text as given.
        input: String,
        /// What is wrong.
        problem: String,
    },
}

/// When a line's IMEI changes (§6.12).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ImeiPolicy {
    /// Leave the module's IMEI alone (the default).
    #[default]
    Keep,
    /// Write this IMEI at module start when the module has another (F-6.12.1).
    Fixed(Imei),
    /// Draw a new IMEI at this interval, waiting for a call in progress (F-6.12.2).
    ChangeEvery(Duration),
    /// Draw a new IMEI each time the module powers up (F-6.12.3).
    RandomAtPowerUp,
}

/// Shortest accepted [`ImeiPolicy::ChangeEvery`] interval: each change restarts the module.
pub const MIN_CHANGE_INTERVAL: Duration = Duration::from_secs(60);

impl ImeiPolicy {
    /// The IMEI to write when the module powers up, or `None` to leave it.
    ///
    /// The restart that makes a newly written IMEI take effect is not a power-up for this
    /// rule: the engine must not call this again for it, or `RandomAtPowerUp` would loop.
    pub fn at_power_up<R: Rng + ?Sized>(&self, current: &Imei, rng: &mut R) -> Option<Imei> {
        match self {
            ImeiPolicy::Fixed(imei) if imei != current => Some(*imei),
            ImeiPolicy::RandomAtPowerUp => Some(current.randomised(rng)),
            _ => None,
        }
    }
}

impl FromStr for ImeiPolicy {
    type Err = ImeiPolicyError;

    /// Reads `keep`, `random_at_power_up` (or `random`), `every 24h` (units `m`, `h`,
    /// `d`; the unit is required because the manual does not give one), or a 15-digit IMEI.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim().to_ascii_lowercase().replace('-', "_");
        match text.as_str() {
            "keep" => return Ok(ImeiPolicy::Keep),
            "random" | "random_at_power_up" => return Ok(ImeiPolicy::RandomAtPowerUp),
            _ => {}
        }
        if let Some(rest) = text.strip_prefix("every") {
            let interval = |problem: &str| ImeiPolicyError::Interval {
                input: input.to_string(),
                problem: problem.to_string(),
            };
            let rest = rest.trim();
            let split = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let (digits, unit) = rest.split_at(split);
            let n: u64 = digits
                .parse()
                .map_err(|_| interval("expected a whole number after `every`"))?;
            let unit_secs = match unit.trim() {
                "m" | "min" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => {
                    return Err(interval(
                        "expected a unit `m`, `h` or `d`, e.g. `every 24h`",
                    ))
                }
            };
            let secs = n
                .checked_mul(unit_secs)
                .ok_or_else(|| interval("interval too large"))?;
            let d = Duration::from_secs(secs);
            if d < MIN_CHANGE_INTERVAL {
                return Err(interval("the interval must be at least 1 minute"));
            }
            return Ok(ImeiPolicy::ChangeEvery(d));
        }
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(ImeiPolicy::Fixed(Imei::parse(&text)?));
        }
        Err(ImeiPolicyError::Syntax(input.to_string()))
    }
}

impl fmt::Display for ImeiPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImeiPolicy::Keep => f.write_str("keep"),
            ImeiPolicy::Fixed(imei) => write!(f, "{imei}"),
            ImeiPolicy::RandomAtPowerUp => f.write_str("random_at_power_up"),
            ImeiPolicy::ChangeEvery(d) => {
                let s = d.as_secs();
                if s.is_multiple_of(86_400) {
                    write!(f, "every {}d", s / 86_400)
                } else if s.is_multiple_of(3600) {
                    write!(f, "every {}h", s / 3600)
                } else {
                    write!(f, "every {}m", s / 60)
                }
            }
        }
    }
}

impl TryFrom<String> for ImeiPolicy {
    type Error = ImeiPolicyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<ImeiPolicy> for String {
    fn from(value: ImeiPolicy) -> Self {
        value.to_string()
    }
}

/// Timer of the periodic IMEI change (F-6.12.2) for one line.
///
/// Use: when [`ImeiSchedule::poll_timeout`] passes, ask [`ImeiSchedule::change_now`]; if
/// the line is busy, call [`ImeiSchedule::defer`] and ask again when the call ends. After
/// writing the new IMEI (which restarts the module), call [`ImeiSchedule::on_changed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImeiSchedule {
    interval: Option<Duration>,
    next: Option<Instant>,
    deferred: bool,
}

impl ImeiSchedule {
    /// A schedule for `policy`: armed one interval after `now` for
    /// [`ImeiPolicy::ChangeEvery`], never due for the other policies.
    pub fn new(policy: &ImeiPolicy, now: Instant) -> Self {
        let interval = match policy {
            ImeiPolicy::ChangeEvery(d) => Some(*d),
            _ => None,
        };
        Self {
            interval,
            next: interval.and_then(|d| now.checked_add(d)),
            deferred: false,
        }
    }

    /// Whether a change is due at `now` (busy line or not).
    pub fn due(&self, now: Instant) -> bool {
        self.next.is_some_and(|t| t <= now)
    }

    /// Whether to change the IMEI now: due and no call in progress (F-6.12.2).
    pub fn change_now(&self, now: Instant, line_busy: bool) -> bool {
        self.due(now) && !line_busy
    }

    /// The change is due but the line is busy: stop reporting the timer (which has passed)
    /// until the change is done; the caller asks [`ImeiSchedule::change_now`] at call end.
    pub fn defer(&mut self) {
        self.deferred = self.next.is_some();
    }

    /// Whether a due change waits for the end of a call.
    pub fn is_deferred(&self) -> bool {
        self.deferred
    }

    /// The IMEI was changed at `now`: the next change is one interval later.
    pub fn on_changed(&mut self, now: Instant) {
        self.deferred = false;
        self.next = self.interval.and_then(|d| now.checked_add(d));
    }

    /// When to look at the schedule next: `None` when there is no periodic change or a
    /// due change is deferred to the end of a call.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.deferred {
            None
        } else {
            self.next
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn f_6_12_4_luhn_known_vectors() {
        // 3GPP TS 23.003 annex B example and a widely published IMEI.
        assert_eq!(luhn_check_digit(b"35209900176148"), 1);
        assert_eq!(luhn_check_digit(b"49015420323751"), 8);
        assert_eq!(luhn_check_digit(b"00000000000000"), 0);
    }

    #[test]
    fn f_6_12_5_parse_validates_length_digits_and_check_digit() {
        let imei = Imei::parse("490154203237518").unwrap();
        assert_eq!(imei.tac(), "49015420");
        assert_eq!(imei.snr(), "323751");
        assert_eq!(imei.check_digit(), 8);
        assert_eq!(imei.to_string(), "490154203237518");
        assert_eq!(
            Imei::parse("49015420323751"),
            Err(ImeiError::WrongLength {
                input: "49015420323751".into(),
                len: 14,
                expected: 15
            })
        );
        let e = Imei::parse("4901542032x7518").unwrap_err();
        assert_eq!(
            e,
            ImeiError::NotDigit {
                input: "4901542032x7518".into(),
                position: 11,
                found: 'x'
            }
        );
        let e = Imei::parse("490154203237519").unwrap_err();
        assert_eq!(
            e,
            ImeiError::BadCheckDigit {
                input: "490154203237519".into(),
                expected: 8,
                found: 9
            }
        );
        assert!(e.to_string().contains("need 8"), "{e}");
        assert!(Imei::parse("").is_err());
        assert!(Imei::parse("4901542032375١8").is_err(), "non-ASCII digit");
    }

    #[test]
    fn f_6_12_4_from_14_computes_the_check_digit() {
        assert_eq!(
            Imei::from_14("35209900176148").unwrap().as_str(),
            "352099001761481"
        );
        assert!(matches!(
            Imei::from_14("352099001761481"),
            Err(ImeiError::WrongLength { expected: 14, .. })
        ));
    }

    #[test]
    fn f_6_12_4_randomised_keeps_tac_and_changes() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let imei = Imei::parse("490154203237518").unwrap();
        let other = imei.randomised(&mut rng);
        assert_ne!(other, imei);
        assert_eq!(other.tac(), "49015420");
        assert_eq!(Imei::parse(other.as_str()), Ok(other));
    }

    #[test]
    fn f_6_12_1_policy_parse() {
        assert_eq!("keep".parse(), Ok(ImeiPolicy::Keep));
        assert_eq!(
            "Random-At-Power-Up".parse(),
            Ok(ImeiPolicy::RandomAtPowerUp)
        );
        assert_eq!(
            "every 24h".parse(),
            Ok(ImeiPolicy::ChangeEvery(Duration::from_secs(86_400)))
        );
        assert_eq!(
            "every 90m".parse::<ImeiPolicy>().map(|p| p.to_string()),
            Ok("every 90m".to_string())
        );
        assert_eq!(
            "490154203237518".parse(),
            Ok(ImeiPolicy::Fixed(Imei::parse("490154203237518").unwrap()))
        );
        assert!(matches!(
            "490154203237519".parse::<ImeiPolicy>(),
            Err(ImeiPolicyError::Imei(ImeiError::BadCheckDigit { .. }))
        ));
        let e = "every 24".parse::<ImeiPolicy>().unwrap_err();
        assert!(e.to_string().contains("unit"), "{e}");
        let e = "every 0m".parse::<ImeiPolicy>().unwrap_err();
        assert!(e.to_string().contains("at least 1 minute"), "{e}");
        let e = "sometimes".parse::<ImeiPolicy>().unwrap_err();
        assert!(e.to_string().contains("expected `keep`"), "{e}");
    }

    #[test]
    fn f_6_12_3_power_up_imei() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let cur = Imei::parse("490154203237518").unwrap();
        let fixed = Imei::from_14("35209900176148").unwrap();
        assert_eq!(ImeiPolicy::Keep.at_power_up(&cur, &mut rng), None);
        assert_eq!(
            ImeiPolicy::Fixed(fixed).at_power_up(&cur, &mut rng),
            Some(fixed)
        );
        assert_eq!(
            ImeiPolicy::Fixed(fixed).at_power_up(&fixed, &mut rng),
            None,
            "already set: no write, no restart"
        );
        let new = ImeiPolicy::RandomAtPowerUp.at_power_up(&cur, &mut rng);
        assert!(new.is_some_and(|n| n != cur && n.tac() == cur.tac()));
        assert_eq!(
            ImeiPolicy::ChangeEvery(Duration::from_secs(3600)).at_power_up(&cur, &mut rng),
            None
        );
    }

    #[test]
    fn f_6_12_2_schedule_waits_for_the_call_to_end() {
        let t0 = Instant::now();
        let hour = Duration::from_secs(3600);
        let mut s = ImeiSchedule::new(&ImeiPolicy::ChangeEvery(hour), t0);
        assert_eq!(s.poll_timeout(), Some(t0 + hour));
        assert!(!s.due(t0 + hour - Duration::from_secs(1)));
        assert!(s.due(t0 + hour));
        // Busy at the due time: wait, and stop reporting the passed timer.
        assert!(!s.change_now(t0 + hour, true));
        s.defer();
        assert!(s.is_deferred());
        assert_eq!(s.poll_timeout(), None);
        // The call ends 5 minutes later: change now, next one an hour after that.
        let end = t0 + hour + Duration::from_secs(300);
        assert!(s.change_now(end, false));
        s.on_changed(end);
        assert!(!s.is_deferred());
        assert_eq!(s.poll_timeout(), Some(end + hour));
        assert!(!s.due(end));
    }

    #[test]
    fn f_6_12_schedule_never_due_without_periodic_change() {
        let t0 = Instant::now();
        let far = t0 + Duration::from_secs(10 * 365 * 86_400);
        for p in [ImeiPolicy::Keep, ImeiPolicy::RandomAtPowerUp] {
            let mut s = ImeiSchedule::new(&p, t0);
            assert_eq!(s.poll_timeout(), None);
            assert!(!s.change_now(far, false));
            s.defer();
            assert!(!s.is_deferred());
        }
    }

    proptest! {
        #[test]
        fn f_6_12_4_randomised_always_valid_keeps_tac(body in "[0-9]{14}", seed: u64) {
            let imei = Imei::from_14(&body).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let new = imei.randomised(&mut rng);
            prop_assert_eq!(Imei::parse(new.as_str()), Ok(new));
            prop_assert_eq!(new.tac(), imei.tac());
            prop_assert_ne!(new, imei);
        }

        #[test]
        fn f_6_12_5_single_digit_error_is_caught(body in "[0-9]{14}", pos in 0usize..15, delta in 1u8..10) {
            let imei = Imei::from_14(&body).unwrap();
            let mut bytes = imei.as_str().as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let text = String::from_utf8(bytes).unwrap();
            prop_assert!(Imei::parse(&text).is_err());
        }

        #[test]
        fn f_6_12_parse_never_panics(s in "\\PC{0,20}") {
            let _ = Imei::parse(&s);
            let _ = s.parse::<ImeiPolicy>();
        }
    }
}
