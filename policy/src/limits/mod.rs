//! Per-line SIM limits (§6.10, F-6.13.8): how many minutes, calls and SMS a SIM may still
//! use, what a finished call costs, how long a call may last, and what stays registered
//! when a limit is used up.
//!
//! [`SimLimits`] is the line's configuration; [`SimUsage`] is the line's state, which the
//! engine persists (see [`crate::store`]). Every operation takes the network's local time
//! as `Option<PrimitiveDateTime>` (`None` = no network time yet), so the F-6.10.9 and
//! F-6.10.14 rules are applied here and not by the caller.
//!
//! Windows: a total limit has one window that lasts until reset; a period limit has one
//! window per period per day (the quota renews daily); a monthly limit has one window per
//! month starting at 00:00 on the configured day. Usage belongs to the window that was
//! current when it was charged; when the current window differs, usage starts from zero.
//! Only outbound (VoIP → GSM) calls are passed to [`SimUsage::call_ended`].

pub mod spec;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::{Date, PrimitiveDateTime};

pub use spec::{LimitErrorKind, LimitParseError, LimitSpec, Period, MINUTES_PER_DAY};

/// F-6.10.20: where and how the remaining talk time is reported by SMS.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BalanceReport {
    /// Phone number the report SMS is sent to.
    pub number: String,
    /// Text identifying the line or SIM at the start of the report.
    pub identifier: String,
    /// Report when the remaining talk time is at most this many minutes.
    pub threshold_min: u32,
}

/// The SIM page's limit settings of one line (§6.10, F-6.13.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimLimits {
    /// Call-time limit in minutes (F-6.10.11 to F-6.10.13).
    pub minutes: LimitSpec,
    /// Call-count limit (F-6.10.8).
    pub calls: LimitSpec,
    /// Whether calls that were not answered count against the call-count limit (F-6.10.10).
    pub count_unanswered: bool,
    /// Operator's billing unit in seconds (F-6.10.19); `0` is read as `1`. Default 60.
    pub billing_unit_s: u32,
    /// Seconds added to each answered call's measured duration (F-6.10.17). Default 0.
    pub correction_s: u32,
    /// Longest single call in minutes (F-6.10.18); `None` or `Some(0)` = no maximum.
    pub per_call_max_min: Option<u32>,
    /// SMS send limit (F-6.13.8); `None` = no limit, `Some(0)` = no SMS at all.
    pub sms: Option<u32>,
    /// Keep the module registered on GSM when a limit is used up (F-6.10.2). Default true.
    pub keep_module_registered: bool,
    /// Keep the line's SIP registration when a limit is used up (F-6.10.3). Default false.
    pub keep_sip_registered: bool,
    /// Cut a call in progress when the call time is used up (F-6.10.16). Default false.
    pub hang_up_when_used_up: bool,
    /// Balance report by SMS (F-6.10.20); `None` = off.
    pub balance_report: Option<BalanceReport>,
}

impl Default for SimLimits {
    fn default() -> Self {
        Self {
            minutes: LimitSpec::None,
            calls: LimitSpec::None,
            count_unanswered: false,
            billing_unit_s: 60,
            correction_s: 0,
            per_call_max_min: None,
            sms: None,
            keep_module_registered: true,
            keep_sip_registered: false,
            hang_up_when_used_up: false,
            balance_report: None,
        }
    }
}

impl SimLimits {
    /// Seconds an answered call of `talk` costs against the minute limit (F-6.10.17,
    /// F-6.10.19): talk rounded to the nearest second, plus the correction, rounded up to
    /// whole billing units, and at least one unit. 68 s with a 60 s unit costs 120 s.
    pub fn billed_seconds(&self, talk: Duration) -> u64 {
        let talk_s = (talk.as_millis().saturating_add(500) / 1000) as u64;
        let unit = u64::from(self.billing_unit_s.max(1));
        let total = talk_s.saturating_add(u64::from(self.correction_s));
        total.div_ceil(unit).max(1).saturating_mul(unit)
    }
}

/// Which limit stops an outbound call (F-6.10.15, F-5.2.2.22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Exhausted {
    /// The call-time limit is used up, or it needs network time that the device lacks.
    #[error("call-time limit used up")]
    Minutes,
    /// The call-count limit is used up.
    #[error("call-count limit used up")]
    Calls,
}

/// What should stay registered on this line right now (F-6.10.2, F-6.10.3, F-6.10.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registrations {
    /// Keep (or restore) the line's SIP registration.
    pub sip: bool,
    /// Keep (or restore) the module's GSM registration.
    pub module: bool,
}

/// Which counting window some usage belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Window {
    /// A total limit: one window until reset.
    Total,
    /// One period on one day (`day` is the Julian day number of the date).
    Period { day: i32, start: u16, end: u16 },
    /// One month, starting at 00:00 on the Julian day `start_day`.
    Month { start_day: i32 },
}

/// How a limit applies at a given moment.
enum Resolved {
    /// No limit now (no limit configured, or outside every period).
    Unlimited,
    /// The limit of this window applies.
    Window(Window, u32),
    /// A period or monthly limit, and no network time.
    NoClock,
}

/// Start date of the monthly window holding `date`: day `day` of this month (clamped to
/// the month's length) if already reached, otherwise that day of the previous month.
fn month_window_start(date: Date, day: u8) -> Date {
    let anchor = |year: i32, month: time::Month| {
        let d = day.clamp(1, month.length(year));
        // d is within the month's length, so the date exists; fall back to `date` anyway.
        Date::from_calendar_date(year, month, d).unwrap_or(date)
    };
    let this = anchor(date.year(), date.month());
    if date >= this {
        this
    } else if date.month() == time::Month::January {
        anchor(date.year() - 1, time::Month::December)
    } else {
        anchor(date.year(), date.month().previous())
    }
}

fn resolve(spec: &LimitSpec, local: Option<PrimitiveDateTime>) -> Resolved {
    match (spec, local) {
        (LimitSpec::None, _) => Resolved::Unlimited,
        (LimitSpec::Total(limit), _) => Resolved::Window(Window::Total, *limit),
        (LimitSpec::Periods(_) | LimitSpec::Monthly { .. }, None) => Resolved::NoClock,
        (LimitSpec::Periods(periods), Some(now)) => {
            let minute = u16::from(now.hour()) * 60 + u16::from(now.minute());
            match periods.iter().find(|p| p.contains(minute)) {
                Some(p) => Resolved::Window(
                    Window::Period {
                        day: now.date().to_julian_day(),
                        start: p.start,
                        end: p.end,
                    },
                    p.limit,
                ),
                None => Resolved::Unlimited,
            }
        }
        (LimitSpec::Monthly { day, limit }, Some(now)) => Resolved::Window(
            Window::Month {
                start_day: month_window_start(now.date(), *day).to_julian_day(),
            },
            *limit,
        ),
    }
}

/// The limit a stored window had under the current configuration, if it still exists.
fn limit_of(spec: &LimitSpec, window: Window) -> Option<u32> {
    match (spec, window) {
        (LimitSpec::Total(l), Window::Total) => Some(*l),
        (LimitSpec::Monthly { limit, .. }, Window::Month { .. }) => Some(*limit),
        (LimitSpec::Periods(ps), Window::Period { start, end, .. }) => ps
            .iter()
            .find(|p| p.start == start && p.end == end)
            .map(|p| p.limit),
        _ => None,
    }
}

/// The remaining value as last computed with network time (for F-6.10.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Known {
    /// Never computed with network time.
    #[default]
    Unknown,
    /// No limit applied.
    Unlimited,
    /// This much was left.
    Remaining(u64),
}

/// Usage of one limit (minutes in seconds, or calls) in its current window.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
struct Counter {
    /// The window `used` belongs to.
    window: Option<Window>,
    /// Usage charged in `window`.
    used: u64,
    /// Usage charged without network time; added to the next window that becomes known.
    unplaced: u64,
    /// Remaining value as last known (F-6.10.9).
    last_known: Known,
}

impl Counter {
    /// Usage counted against `window` once the pending usage is placed.
    fn used_in(&self, window: Window) -> u64 {
        let own = if self.window == Some(window) {
            self.used
        } else {
            0
        };
        own.saturating_add(self.unplaced)
    }

    /// Moves to the current window (starting fresh in a new one), places pending usage and
    /// records the remaining value as last known. Does nothing without network time.
    fn roll(&mut self, spec: &LimitSpec, local: Option<PrimitiveDateTime>, scale: u64) {
        match resolve(spec, local) {
            Resolved::NoClock => {}
            Resolved::Unlimited => {
                self.unplaced = 0;
                self.last_known = Known::Unlimited;
            }
            Resolved::Window(w, limit) => {
                if self.window != Some(w) {
                    self.window = Some(w);
                    self.used = 0;
                }
                self.used = self.used.saturating_add(self.unplaced);
                self.unplaced = 0;
                self.last_known =
                    Known::Remaining((u64::from(limit) * scale).saturating_sub(self.used));
            }
        }
    }

    /// Charges `amount` to the current window, or holds it until network time returns.
    fn charge(
        &mut self,
        spec: &LimitSpec,
        local: Option<PrimitiveDateTime>,
        scale: u64,
        amount: u64,
    ) {
        self.roll(spec, local, scale);
        match resolve(spec, local) {
            Resolved::Unlimited => return,
            Resolved::Window(..) => self.used = self.used.saturating_add(amount),
            Resolved::NoClock => self.unplaced = self.unplaced.saturating_add(amount),
        }
        if let Known::Remaining(n) = self.last_known {
            self.last_known = Known::Remaining(n.saturating_sub(amount));
        }
    }

    /// Back to the configured initial value (F-5.2.1.20) in the current window.
    fn reset(&mut self, spec: &LimitSpec, local: Option<PrimitiveDateTime>, scale: u64) {
        self.used = 0;
        self.unplaced = 0;
        if local.is_some() || !spec.needs_clock() {
            self.roll(spec, local, scale);
        } else if let Some(limit) = self.window.and_then(|w| limit_of(spec, w)) {
            // No network time: the last window seen is the best guess of the current one.
            self.last_known = Known::Remaining(u64::from(limit) * scale);
        }
    }
}

/// The state of one line's limits: what has been used in the current windows. It is
/// serialised so that it survives restarts (see [`crate::store`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SimUsage {
    /// Billed seconds against the minute limit.
    minutes: Counter,
    /// Calls against the call-count limit.
    calls: Counter,
    /// SMS sent since the last SMS reset.
    sms_sent: u64,
    /// The minute window the balance report was last sent for (F-6.10.20).
    balance_reported: Option<Window>,
}

impl SimUsage {
    /// Fresh usage: nothing used.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rolls the counters into the current windows (a new day's period, a new month) and
    /// records the remaining values for the no-network-time rule F-6.10.9. The engine calls
    /// it on each status tick and before persisting; the other `&mut` methods call it too.
    pub fn refresh(&mut self, cfg: &SimLimits, local: Option<PrimitiveDateTime>) {
        self.minutes.roll(&cfg.minutes, local, 60);
        self.calls.roll(&cfg.calls, local, 1);
    }

    /// Remaining talk seconds (F-5.2.1.18); `None` = no call-time limit applies now.
    /// F-6.10.14: a period or monthly limit without network time gives `Some(0)`.
    pub fn remaining_seconds(
        &self,
        cfg: &SimLimits,
        local: Option<PrimitiveDateTime>,
    ) -> Option<u64> {
        match resolve(&cfg.minutes, local) {
            Resolved::Unlimited => None,
            Resolved::NoClock => Some(0),
            Resolved::Window(w, limit) => {
                Some((u64::from(limit) * 60).saturating_sub(self.minutes.used_in(w)))
            }
        }
    }

    /// Remaining talk time in whole minutes for the status page, rounded up so that the
    /// line shows 0 exactly when it is locked.
    pub fn remaining_minutes(
        &self,
        cfg: &SimLimits,
        local: Option<PrimitiveDateTime>,
    ) -> Option<u64> {
        self.remaining_seconds(cfg, local).map(|s| s.div_ceil(60))
    }

    /// Remaining outbound calls (F-6.10.8); `None` = no call-count limit applies now.
    /// F-6.10.9: without network time a period or monthly limit stays at its last known
    /// value (lowered by calls made meanwhile); never known gives `Some(0)`.
    pub fn remaining_calls(
        &self,
        cfg: &SimLimits,
        local: Option<PrimitiveDateTime>,
    ) -> Option<u64> {
        match resolve(&cfg.calls, local) {
            Resolved::Unlimited => None,
            Resolved::Window(w, limit) => {
                Some(u64::from(limit).saturating_sub(self.calls.used_in(w)))
            }
            Resolved::NoClock => match self.calls.last_known {
                Known::Unknown => Some(0),
                Known::Unlimited => None,
                Known::Remaining(n) => Some(n),
            },
        }
    }

    /// Whether the line may place an outbound call now (F-6.10.15, F-5.2.2.22).
    pub fn outbound_allowed(
        &self,
        cfg: &SimLimits,
        local: Option<PrimitiveDateTime>,
    ) -> Result<(), Exhausted> {
        if self.remaining_seconds(cfg, local) == Some(0) {
            return Err(Exhausted::Minutes);
        }
        if self.remaining_calls(cfg, local) == Some(0) {
            return Err(Exhausted::Calls);
        }
        Ok(())
    }

    /// Charges a finished outbound call: [`SimLimits::billed_seconds`] against the minutes
    /// when answered, and one call when answered or when unanswered calls count
    /// (F-6.10.10). Charged to the window current when the call ends.
    pub fn call_ended(
        &mut self,
        cfg: &SimLimits,
        answered: bool,
        talk: Duration,
        local: Option<PrimitiveDateTime>,
    ) {
        self.refresh(cfg, local);
        if answered {
            self.minutes
                .charge(&cfg.minutes, local, 60, cfg.billed_seconds(talk));
        }
        if answered || cfg.count_unanswered {
            self.calls.charge(&cfg.calls, local, 1, 1);
        }
    }

    /// Longest the call starting now may last: the per-call maximum (F-6.10.18) and, with
    /// hang-up-when-used-up (F-6.10.16), the remaining seconds less the per-call correction.
    /// Since billing rounds up, a call may run exactly as long as the remaining seconds
    /// (which are whole units) without costing more than what is left. `None` = no maximum.
    pub fn max_call_duration(
        &self,
        cfg: &SimLimits,
        local: Option<PrimitiveDateTime>,
    ) -> Option<Duration> {
        let per_call = cfg
            .per_call_max_min
            .filter(|&m| m > 0)
            .map(|m| u64::from(m) * 60);
        let remaining = if cfg.hang_up_when_used_up {
            self.remaining_seconds(cfg, local)
                .map(|r| r.saturating_sub(u64::from(cfg.correction_s)))
        } else {
            None
        };
        let secs = match (per_call, remaining) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        secs.map(Duration::from_secs)
    }

    /// What stays registered (F-6.10.2, F-6.10.3, F-6.10.15): everything while the line
    /// may call out; once a limit is used up, what the two keep-registered settings say.
    pub fn registration_policy(
        &self,
        cfg: &SimLimits,
        local: Option<PrimitiveDateTime>,
    ) -> Registrations {
        if self.outbound_allowed(cfg, local).is_ok() {
            Registrations {
                sip: true,
                module: true,
            }
        } else {
            Registrations {
                sip: cfg.keep_sip_registered,
                module: cfg.keep_module_registered,
            }
        }
    }

    /// Remaining SMS quota (F-5.2.1.19); `None` = no SMS limit.
    pub fn remaining_sms(&self, cfg: &SimLimits) -> Option<u32> {
        cfg.sms
            .map(|limit| u64::from(limit).saturating_sub(self.sms_sent) as u32)
    }

    /// Whether the line may send an SMS (F-6.13.8).
    pub fn sms_allowed(&self, cfg: &SimLimits) -> bool {
        self.remaining_sms(cfg) != Some(0)
    }

    /// Counts sent SMS; each part of a concatenated SMS counts as one.
    pub fn sms_sent(&mut self, parts: u32) {
        self.sms_sent = self.sms_sent.saturating_add(u64::from(parts));
    }

    /// Reset icon 1 (F-5.2.1.20): remaining time back to the configured value in the current
    /// window; also re-arms the balance report and unlocks the line (F-5.2.2.22).
    pub fn reset_minutes(&mut self, cfg: &SimLimits, local: Option<PrimitiveDateTime>) {
        self.minutes.reset(&cfg.minutes, local, 60);
        self.balance_reported = None;
    }

    /// Resets the call-count limit to its configured value in the current window. Without
    /// network time the last window seen is assumed (F-6.10.9).
    pub fn reset_calls(&mut self, cfg: &SimLimits, local: Option<PrimitiveDateTime>) {
        self.calls.reset(&cfg.calls, local, 1);
    }

    /// Reset icon 2 (F-5.2.1.20): remaining SMS back to the configured maximum.
    pub fn reset_sms(&mut self) {
        self.sms_sent = 0;
    }

    /// F-6.10.20: the text of the balance-report SMS to send to
    /// `cfg.balance_report.number`, once each time the remaining minutes fall to the
    /// threshold or below; again only after a reset or in a new window (next day's period,
    /// next month). The text is `"<identifier>: <N> min left"` (`"<N> min left"` with an
    /// empty identifier), N rounded up as on the status page. Never sent without network
    /// time for a period or monthly limit, whose 0 then is not a real balance.
    pub fn balance_report_due(
        &mut self,
        cfg: &SimLimits,
        local: Option<PrimitiveDateTime>,
    ) -> Option<String> {
        let report = cfg.balance_report.as_ref()?;
        self.refresh(cfg, local);
        let Resolved::Window(window, _) = resolve(&cfg.minutes, local) else {
            return None;
        };
        let remaining = self.remaining_seconds(cfg, local)?;
        if remaining > u64::from(report.threshold_min) * 60 || self.balance_reported == Some(window)
        {
            return None;
        }
        self.balance_reported = Some(window);
        let minutes = remaining.div_ceil(60);
        Some(if report.identifier.is_empty() {
            format!("{minutes} min left")
        } else {
            format!("{}: {minutes} min left", report.identifier)
        })
    }
}

#[cfg(test)]
mod tests;
