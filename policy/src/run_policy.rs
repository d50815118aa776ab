//! Run policy (manual §6.16): when a line's call results look bad, switch the line off.
//!
//! A [`RunPolicy`] is a list of [`Condition`]s, a way to [`Combine`] them and a list of
//! [`Action`]s. Each line keeps a [`PolicyState`] that is fed the end of every outbound
//! call ([`PolicyState::on_call_end`]) and its timer ([`PolicyState::on_timeout`]); both
//! return the actions to perform now. The choices the manual leaves open are listed in
//! `docs/run-policy.md`:
//!
//! - `every` conditions are independent triggers, whatever [`Combine`] says;
//! - after the policy fires, every counter of the line restarts (consecutive counters and
//!   the ACD/ASR window), so one bad run fires once;
//! - ACD and ASR are judged on the policy's own counts since device start (or since the
//!   policy last fired), not on the CDR page, which the user may reset (F-5.2.1.20);
//! - while a disabling action is in force the line is "red" (F-5.2.1.2) and nothing fires
//!   again until [`PolicyState::restore`].

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Calls needed before ACD or ASR is judged on current firmware (F-6.16.2, F-6.16.3).
pub const THRESHOLD_CALLS: u32 = 30;

/// Calls needed before ACD or ASR is judged on firmware older than GST1610-1.01-58-2.
pub const THRESHOLD_CALLS_OLD_FIRMWARE: u32 = 10;

/// The ACD/ASR threshold of a vendor firmware version (F-1.2), for configurations that
/// want to behave like a given firmware.
///
/// `GST1610` builds before `1.01-58-2` and the old `GS-` and `GST-` series give 10; every
/// other string (later builds, unknown series, unparsable text) gives 30.
pub fn threshold_for_firmware(firmware: &str) -> u32 {
    let mut parts = firmware.trim().split('-');
    let series = parts.next().unwrap_or_default().to_ascii_uppercase();
    match series.as_str() {
        "GS" | "GST" => return THRESHOLD_CALLS_OLD_FIRMWARE,
        "GST1610" => {}
        _ => return THRESHOLD_CALLS,
    }
    let mut version: Vec<u32> = Vec::new();
    for (i, part) in parts.enumerate() {
        let pieces: Vec<&str> = if i == 0 {
            part.split('.').collect()
        } else {
            vec![part]
        };
        for piece in pieces {
            match piece.parse::<u32>() {
                Ok(n) => version.push(n),
                Err(_) => return THRESHOLD_CALLS,
            }
        }
    }
    if version.is_empty() {
        return THRESHOLD_CALLS;
    }
    // 1.01-58-2 as numbers: [1, 1, 58, 2].
    if version < vec![1, 1, 58, 2] {
        THRESHOLD_CALLS_OLD_FIRMWARE
    } else {
        THRESHOLD_CALLS
    }
}

/// A syntax error in a run-policy string, naming what was parsed, the text and what was
/// expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} `{input}`: {problem}")]
pub struct ParseError {
    /// What was being parsed: "condition", "action" or "combine".
    pub what: &'static str,
    /// The text as given.
    pub input: String,
    /// What is wrong and what was expected.
    pub problem: String,
}

impl ParseError {
    fn new(what: &'static str, input: &str, problem: impl Into<String>) -> Self {
        Self {
            what,
            input: input.to_string(),
            problem: problem.into(),
        }
    }
}

/// A run policy that cannot work as configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Actions without any condition would never run.
    #[error("run policy has actions but no condition")]
    NoConditions,
    /// Conditions without actions do nothing.
    #[error("run policy has conditions but no action")]
    NoActions,
    /// A consecutive count of 0 would be true before any call.
    #[error("condition `{0}`: the count must be at least 1")]
    ZeroCount(Condition),
    /// `every 0m`, `short<0s`: a zero duration.
    #[error("condition `{0}`: the duration must be more than 0")]
    ZeroDuration(Condition),
    /// `acd<0` or `asr<0` can never be true.
    #[error("condition `{0}`: can never be true, the value must be at least 1")]
    NeverTrue(Condition),
    /// A percentage above 100.
    #[error("condition `{0}`: ASR is a percentage, at most 100")]
    AsrOver100(Condition),
    /// The same action listed twice.
    #[error("action `{0}` is listed twice")]
    DuplicateAction(Action),
    /// ACD/ASR judged from 0 calls: ACD is undefined before the first connected call.
    #[error("threshold_calls must be at least 1")]
    ZeroThreshold,
}

impl PolicyError {
    /// The message without the `condition `...`:` prefix, for parse errors that already
    /// name the text.
    fn problem(&self) -> String {
        let full = self.to_string();
        match self {
            PolicyError::ZeroCount(c)
            | PolicyError::ZeroDuration(c)
            | PolicyError::NeverTrue(c)
            | PolicyError::AsrOver100(c) => full
                .strip_prefix(&format!("condition `{c}`: "))
                .map(str::to_string)
                .unwrap_or(full),
            _ => full,
        }
    }
}

/// One condition of §6.16 (F-6.16.2 to F-6.16.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Condition {
    /// F-6.16.2: average call duration below this many seconds (`acd<20`).
    AcdBelow(u32),
    /// F-6.16.3: answer-seizure ratio below this percentage (`asr<30`).
    AsrBelow(u32),
    /// F-6.16.4: fires at this interval (`every 60m`), independent of calls.
    Every(Duration),
    /// F-6.16.5: this many consecutive outbound calls never rang (`no_ring>=3`).
    ConsecutiveNoRing(u32),
    /// F-6.16.6: this many consecutive outbound calls were not answered (`unanswered>=5`).
    ConsecutiveUnanswered(u32),
    /// F-6.16.7: this many consecutive connected calls were shorter than `below`
    /// (`short<10s>=3`).
    ConsecutiveShort {
        /// A connected call shorter than this is short.
        below: Duration,
        /// How many in a row.
        count: u32,
    },
}

const CONDITION_SYNTAX: &str =
    "expected `acd<S`, `asr<P`, `every Nm`, `no_ring>=N`, `unanswered>=N` or `short<Ns>=N`";

impl Condition {
    /// Checks the values, so a policy never holds a condition that is always or never true.
    pub fn validate(&self) -> Result<(), PolicyError> {
        match *self {
            Condition::AcdBelow(0) | Condition::AsrBelow(0) => Err(PolicyError::NeverTrue(*self)),
            Condition::AsrBelow(p) if p > 100 => Err(PolicyError::AsrOver100(*self)),
            Condition::Every(d) if d.is_zero() => Err(PolicyError::ZeroDuration(*self)),
            Condition::ConsecutiveNoRing(0) | Condition::ConsecutiveUnanswered(0) => {
                Err(PolicyError::ZeroCount(*self))
            }
            Condition::ConsecutiveShort { below, count } => {
                if below.is_zero() {
                    Err(PolicyError::ZeroDuration(*self))
                } else if count == 0 {
                    Err(PolicyError::ZeroCount(*self))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Whether this condition is judged at call end (all but `every`).
    pub fn is_call_based(&self) -> bool {
        !matches!(self, Condition::Every(_))
    }
}

/// Parses `<number><unit>` with unit `ms`, `s`, `m`/`min`, `h`, or `default` when absent.
fn parse_duration(text: &str, default: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(format!("`{text}` should start with a whole number"));
    }
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{digits}` is too large"))?;
    let unit = if unit.is_empty() { default } else { unit };
    let d = match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" | "min" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        other => {
            return Err(format!(
                "unknown unit `{other}`, expected `ms`, `s`, `m` or `h`"
            ))
        }
    };
    d.ok_or_else(|| format!("`{text}` is too large"))
}

fn fmt_duration(d: Duration, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if d.subsec_nanos() != 0 {
        write!(f, "{}ms", d.as_millis())
    } else {
        let s = d.as_secs();
        if s != 0 && s.is_multiple_of(3600) {
            write!(f, "{}h", s / 3600)
        } else if s != 0 && s.is_multiple_of(60) {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

fn parse_count(text: &str) -> Result<u32, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a whole number"));
    }
    text.parse().map_err(|_| format!("`{text}` is too large"))
}

impl FromStr for Condition {
    type Err = ParseError;

    /// Reads the short forms `acd<20`, `asr<30`, `every 60m`, `no_ring>=3`,
    /// `unanswered>=5` and `short<10s>=3`. Case and spaces do not matter; `-` may stand
    /// for `_` and `≥` for `>=`. `acd` may end in `s`, `asr` in `%`; `every` defaults to
    /// minutes and `short` to seconds.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |problem: String| ParseError::new("condition", input, problem);
        let text: String = input
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase()
            .replace('≥', ">=")
            .replace('-', "_");
        let condition = if let Some(rest) = text.strip_prefix("every") {
            Condition::Every(parse_duration(rest, "m").map_err(err)?)
        } else if let Some(rest) = text.strip_prefix("acd<") {
            let rest = rest.strip_suffix('s').unwrap_or(rest);
            Condition::AcdBelow(parse_count(rest).map_err(err)?)
        } else if let Some(rest) = text.strip_prefix("asr<") {
            let rest = rest.strip_suffix('%').unwrap_or(rest);
            Condition::AsrBelow(parse_count(rest).map_err(err)?)
        } else if let Some(rest) = text.strip_prefix("no_ring>=") {
            Condition::ConsecutiveNoRing(parse_count(rest).map_err(err)?)
        } else if let Some(rest) = text.strip_prefix("unanswered>=") {
            Condition::ConsecutiveUnanswered(parse_count(rest).map_err(err)?)
        } else if let Some(rest) = text.strip_prefix("short<") {
            let Some((below, count)) = rest.split_once(">=") else {
                return Err(err(
                    "expected `short<Ns>=N`, e.g. `short<10s>=3`".to_string()
                ));
            };
            Condition::ConsecutiveShort {
                below: parse_duration(below, "s").map_err(err)?,
                count: parse_count(count).map_err(err)?,
            }
        } else {
            return Err(err(CONDITION_SYNTAX.to_string()));
        };
        condition.validate().map_err(|e| err(e.problem()))?;
        Ok(condition)
    }
}

impl fmt::Display for Condition {
    /// Writes the short form that [`Condition::from_str`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::AcdBelow(s) => write!(f, "acd<{s}"),
            Condition::AsrBelow(p) => write!(f, "asr<{p}"),
            Condition::Every(d) => {
                f.write_str("every ")?;
                fmt_duration(*d, f)
            }
            Condition::ConsecutiveNoRing(n) => write!(f, "no_ring>={n}"),
            Condition::ConsecutiveUnanswered(n) => write!(f, "unanswered>={n}"),
            Condition::ConsecutiveShort { below, count } => {
                f.write_str("short<")?;
                fmt_duration(*below, f)?;
                write!(f, ">={count}")
            }
        }
    }
}

impl TryFrom<String> for Condition {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Condition> for String {
    fn from(value: Condition) -> Self {
        value.to_string()
    }
}

/// What the line does when the policy fires (F-6.16.8 to F-6.16.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Action {
    /// F-6.16.8 `disable_voip`: the line's SIP registration is switched off.
    DisableVoip,
    /// F-6.16.9 `disable_outbound`: SIP stays up, but no VoIP call goes out on this line.
    DisableOutbound,
    /// F-6.16.10 `power_off`: the line's module is turned off.
    PowerOffModule,
    /// F-6.16.11 `reset_cdr`: the line's call statistics are cleared.
    ResetCdr,
}

impl Action {
    /// Whether the action takes the line out of service, turning its number red
    /// (F-5.2.1.2) until it is restored.
    pub fn disables_line(self) -> bool {
        !matches!(self, Action::ResetCdr)
    }

    fn name(self) -> &'static str {
        match self {
            Action::DisableVoip => "disable_voip",
            Action::DisableOutbound => "disable_outbound",
            Action::PowerOffModule => "power_off",
            Action::ResetCdr => "reset_cdr",
        }
    }
}

impl FromStr for Action {
    type Err = ParseError;

    /// Reads `disable_voip`, `disable_outbound`, `power_off` or `reset_cdr` (case does not
    /// matter, `-` may stand for `_`).
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim().to_ascii_lowercase().replace('-', "_");
        [
            Action::DisableVoip,
            Action::DisableOutbound,
            Action::PowerOffModule,
            Action::ResetCdr,
        ]
        .into_iter()
        .find(|a| a.name() == text)
        .ok_or_else(|| {
            ParseError::new(
                "action",
                input,
                "expected `disable_voip`, `disable_outbound`, `power_off` or `reset_cdr`",
            )
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<String> for Action {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Action> for String {
    fn from(value: Action) -> Self {
        value.to_string()
    }
}

/// How the call-based conditions combine (F-6.16.1 leaves it open). `every` conditions are
/// independent triggers either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Fire when any condition is true (the default).
    #[default]
    Any,
    /// Fire when every call-based condition is true at the same call end.
    All,
}

impl FromStr for Combine {
    type Err = ParseError;

    /// Reads `any` or `all`.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        match input.trim().to_ascii_lowercase().as_str() {
            "any" => Ok(Combine::Any),
            "all" => Ok(Combine::All),
            _ => Err(ParseError::new("combine", input, "expected `any` or `all`")),
        }
    }
}

/// One line's run policy (§6.16): conditions, how they combine, and actions. Built with
/// [`RunPolicy::new`] or deserialised, both of which validate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawRunPolicy")]
pub struct RunPolicy {
    /// What to watch.
    pub conditions: Vec<Condition>,
    /// How the call-based conditions combine.
    pub combine: Combine,
    /// What to do when the policy fires, in this order.
    pub actions: Vec<Action>,
    /// Calls before ACD/ASR is judged: [`THRESHOLD_CALLS`] (30), or
    /// [`THRESHOLD_CALLS_OLD_FIRMWARE`] (10) to behave like old firmware.
    pub threshold_calls: u32,
}

/// The configuration form of [`RunPolicy`], validated on conversion.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunPolicy {
    conditions: Vec<Condition>,
    #[serde(default)]
    combine: Combine,
    actions: Vec<Action>,
    #[serde(default = "default_threshold")]
    threshold_calls: u32,
}

fn default_threshold() -> u32 {
    THRESHOLD_CALLS
}

impl TryFrom<RawRunPolicy> for RunPolicy {
    type Error = PolicyError;
    fn try_from(raw: RawRunPolicy) -> Result<Self, Self::Error> {
        RunPolicy::new(
            raw.conditions,
            raw.combine,
            raw.actions,
            raw.threshold_calls,
        )
    }
}

impl RunPolicy {
    /// Builds a policy, refusing one that could never fire or fires on nothing: no
    /// conditions, no actions, a duplicate action, zero counts or durations, a percentage
    /// above 100, a threshold of 0.
    pub fn new(
        conditions: Vec<Condition>,
        combine: Combine,
        actions: Vec<Action>,
        threshold_calls: u32,
    ) -> Result<Self, PolicyError> {
        if conditions.is_empty() {
            return Err(PolicyError::NoConditions);
        }
        if actions.is_empty() {
            return Err(PolicyError::NoActions);
        }
        for c in &conditions {
            c.validate()?;
        }
        for (i, a) in actions.iter().enumerate() {
            if actions[..i].contains(a) {
                return Err(PolicyError::DuplicateAction(*a));
            }
        }
        if threshold_calls == 0 {
            return Err(PolicyError::ZeroThreshold);
        }
        Ok(Self {
            conditions,
            combine,
            actions,
            threshold_calls,
        })
    }

    /// Whether any action takes the line out of service.
    fn disables_line(&self) -> bool {
        self.actions.iter().any(|a| a.disables_line())
    }
}

/// How one outbound call ended, as far as the run policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallOutcome {
    /// The far end rang (`ALERTING` was seen). An answered call counts as rung even when
    /// the network sent no alerting.
    pub alerted: bool,
    /// The call was connected.
    pub answered: bool,
    /// Talk time, from connect to hang-up (zero when not answered).
    pub talk: Duration,
}

/// One line's run-policy counters and timers. Feed it outbound calls only (the conditions
/// of §6.16 speak of outbound calls; inbound calls neither count nor break a run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyState {
    attempts: u64,
    connected: u64,
    talk: Duration,
    no_ring: u32,
    unanswered: u32,
    /// Consecutive short calls, one per condition (only `ConsecutiveShort` ones count).
    short: Vec<u32>,
    /// Next tick, one per condition (only `Every` ones are `Some`).
    every: Vec<Option<Instant>>,
    tripped: bool,
}

impl PolicyState {
    /// A fresh state at device start: no calls counted, `every` timers armed from `now`.
    pub fn new(policy: &RunPolicy, now: Instant) -> Self {
        let mut state = Self {
            attempts: 0,
            connected: 0,
            talk: Duration::ZERO,
            no_ring: 0,
            unanswered: 0,
            short: Vec::new(),
            every: Vec::new(),
            tripped: false,
        };
        state.fit(policy, now);
        state
    }

    /// Re-shapes the per-condition vectors when the policy changed since the last call.
    fn fit(&mut self, policy: &RunPolicy, now: Instant) {
        let n = policy.conditions.len();
        if self.short.len() != n {
            self.short = vec![0; n];
        }
        let shape_ok = self.every.len() == n
            && policy
                .conditions
                .iter()
                .zip(&self.every)
                .all(|(c, t)| matches!(c, Condition::Every(_)) == t.is_some());
        if !shape_ok {
            self.every = policy
                .conditions
                .iter()
                .map(|c| match c {
                    Condition::Every(d) => now.checked_add(*d),
                    _ => None,
                })
                .collect();
        }
    }

    /// Records the end of one outbound call and returns the actions to perform now (empty
    /// when the policy does not fire, or while the line is already disabled).
    pub fn on_call_end(
        &mut self,
        policy: &RunPolicy,
        outcome: CallOutcome,
        now: Instant,
    ) -> Vec<Action> {
        self.fit(policy, now);
        self.attempts = self.attempts.saturating_add(1);
        if outcome.answered {
            self.connected = self.connected.saturating_add(1);
            self.talk = self.talk.saturating_add(outcome.talk);
        }
        self.no_ring = if outcome.alerted || outcome.answered {
            0
        } else {
            self.no_ring.saturating_add(1)
        };
        self.unanswered = if outcome.answered {
            0
        } else {
            self.unanswered.saturating_add(1)
        };
        for (i, c) in policy.conditions.iter().enumerate() {
            if let Condition::ConsecutiveShort { below, .. } = c {
                // Unanswered calls are not "connected calls": they neither count nor
                // break the run.
                if outcome.answered {
                    self.short[i] = if outcome.talk < *below {
                        self.short[i].saturating_add(1)
                    } else {
                        0
                    };
                }
            }
        }
        if self.tripped {
            return Vec::new();
        }
        let mut truths = policy
            .conditions
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_call_based())
            .map(|(i, c)| self.holds(policy, i, c))
            .peekable();
        let fire = match policy.combine {
            Combine::Any => truths.any(|t| t),
            Combine::All => truths.peek().is_some() && truths.all(|t| t),
        };
        if fire {
            self.fire(policy)
        } else {
            Vec::new()
        }
    }

    /// Whether call-based condition `c` (at index `i`) holds now.
    fn holds(&self, policy: &RunPolicy, i: usize, c: &Condition) -> bool {
        let threshold = u64::from(policy.threshold_calls);
        match *c {
            Condition::AcdBelow(secs) => {
                // talk / connected < secs, without division.
                self.connected >= threshold
                    && self.talk.as_nanos()
                        < u128::from(secs) * 1_000_000_000 * u128::from(self.connected)
            }
            Condition::AsrBelow(percent) => {
                self.attempts >= threshold
                    && u128::from(self.connected) * 100
                        < u128::from(percent) * u128::from(self.attempts)
            }
            Condition::Every(_) => false,
            Condition::ConsecutiveNoRing(n) => self.no_ring >= n,
            Condition::ConsecutiveUnanswered(n) => self.unanswered >= n,
            Condition::ConsecutiveShort { count, .. } => {
                self.short.get(i).copied().unwrap_or(0) >= count
            }
        }
    }

    /// The policy fires: restart every counter, mark the line red if it is disabled.
    fn fire(&mut self, policy: &RunPolicy) -> Vec<Action> {
        self.attempts = 0;
        self.connected = 0;
        self.talk = Duration::ZERO;
        self.clear_consecutive();
        self.tripped = policy.disables_line();
        policy.actions.clone()
    }

    fn clear_consecutive(&mut self) {
        self.no_ring = 0;
        self.unanswered = 0;
        self.short.iter_mut().for_each(|n| *n = 0);
    }

    /// Handles the `every` timers: call at [`PolicyState::poll_timeout`]. Returns the
    /// actions when a tick is due, and re-arms the timer (a tick missed by more than one
    /// interval is not repeated).
    pub fn on_timeout(&mut self, policy: &RunPolicy, now: Instant) -> Vec<Action> {
        self.fit(policy, now);
        let mut ticked = false;
        for (c, next) in policy.conditions.iter().zip(self.every.iter_mut()) {
            let (Condition::Every(interval), Some(at)) = (c, *next) else {
                continue;
            };
            if at > now {
                continue;
            }
            ticked = true;
            let mut following = at.checked_add(*interval);
            if following.is_none_or(|t| t <= now) {
                following = now.checked_add(*interval);
            }
            *next = following;
        }
        if ticked && !self.tripped {
            self.fire(policy)
        } else {
            Vec::new()
        }
    }

    /// When [`PolicyState::on_timeout`] must next be called; `None` without `every`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.every.iter().flatten().min().copied()
    }

    /// The user restored the line (F-6.16.12, F-5.2.1.2: clicking the red line number).
    /// The line is no longer red and the consecutive counters start from zero, so the
    /// first bad call after restoring does not trip the line again at once. The ACD/ASR
    /// window already restarted when the policy fired.
    pub fn restore(&mut self) {
        self.tripped = false;
        self.clear_consecutive();
    }

    /// Whether the policy disabled the line and it was not restored yet: the line number is
    /// shown red (F-5.2.1.2).
    pub fn is_tripped(&self) -> bool {
        self.tripped
    }

    /// Outbound calls and connected calls counted towards ACD/ASR (since device start or
    /// since the policy last fired).
    pub fn counts(&self) -> (u64, u64) {
        (self.attempts, self.connected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NO_RING: CallOutcome = CallOutcome {
        alerted: false,
        answered: false,
        talk: Duration::ZERO,
    };
    const RANG: CallOutcome = CallOutcome {
        alerted: true,
        answered: false,
        talk: Duration::ZERO,
    };

    fn talked(secs: u64) -> CallOutcome {
        CallOutcome {
            alerted: true,
            answered: true,
            talk: Duration::from_secs(secs),
        }
    }

    fn policy(conds: &[&str], combine: Combine, actions: &[&str], threshold: u32) -> RunPolicy {
        let conditions = conds.iter().map(|c| c.parse().unwrap()).collect();
        let actions = actions.iter().map(|a| a.parse().unwrap()).collect();
        RunPolicy::new(conditions, combine, actions, threshold).unwrap()
    }

    #[test]
    fn f_6_16_parse_every_condition_form() {
        assert_eq!("acd<20".parse(), Ok(Condition::AcdBelow(20)));
        assert_eq!("ACD < 20s".parse(), Ok(Condition::AcdBelow(20)));
        assert_eq!("asr<30".parse(), Ok(Condition::AsrBelow(30)));
        assert_eq!("asr<30%".parse(), Ok(Condition::AsrBelow(30)));
        assert_eq!(
            "every 60m".parse(),
            Ok(Condition::Every(Duration::from_secs(3600)))
        );
        assert_eq!(
            "every 90".parse(),
            Ok(Condition::Every(Duration::from_secs(90 * 60))),
            "every defaults to minutes (F-6.16.4)"
        );
        assert_eq!(
            "every 2h".parse(),
            Ok(Condition::Every(Duration::from_secs(7200)))
        );
        assert_eq!("no_ring>=3".parse(), Ok(Condition::ConsecutiveNoRing(3)));
        assert_eq!("no-ring ≥ 3".parse(), Ok(Condition::ConsecutiveNoRing(3)));
        assert_eq!(
            "unanswered>=5".parse(),
            Ok(Condition::ConsecutiveUnanswered(5))
        );
        assert_eq!(
            "short<10s>=3".parse(),
            Ok(Condition::ConsecutiveShort {
                below: Duration::from_secs(10),
                count: 3
            })
        );
        assert_eq!(
            "short<10>=3".parse::<Condition>().map(|c| c.to_string()),
            Ok("short<10s>=3".to_string())
        );
    }

    #[test]
    fn f_6_16_condition_errors_say_what_was_expected() {
        let e = "ratio<3".parse::<Condition>().unwrap_err();
        assert_eq!(e.what, "condition");
        assert!(e.to_string().contains("`ratio<3`"), "{e}");
        assert!(e.problem.contains("no_ring>=N"), "{e}");
        let e = "acd<".parse::<Condition>().unwrap_err();
        assert!(e.problem.contains("not a whole number"), "{e}");
        let e = "asr<101".parse::<Condition>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "condition `asr<101`: ASR is a percentage, at most 100"
        );
        let e = "no_ring>=0".parse::<Condition>().unwrap_err();
        assert!(e.problem.contains("at least 1"), "{e}");
        let e = "every 0m".parse::<Condition>().unwrap_err();
        assert!(e.problem.contains("more than 0"), "{e}");
        let e = "every 5d".parse::<Condition>().unwrap_err();
        assert!(e.problem.contains("unknown unit `d`"), "{e}");
        let e = "short<10s".parse::<Condition>().unwrap_err();
        assert!(e.problem.contains("short<Ns>=N"), "{e}");
        let e = "acd<0".parse::<Condition>().unwrap_err();
        assert!(e.problem.contains("never be true"), "{e}");
        let e = "every 99999999999999999999m"
            .parse::<Condition>()
            .unwrap_err();
        assert!(e.problem.contains("too large"), "{e}");
    }

    #[test]
    fn f_6_16_8_to_11_parse_actions() {
        assert_eq!("disable_voip".parse(), Ok(Action::DisableVoip));
        assert_eq!("disable-outbound".parse(), Ok(Action::DisableOutbound));
        assert_eq!(" Power_Off ".parse(), Ok(Action::PowerOffModule));
        assert_eq!("reset_cdr".parse(), Ok(Action::ResetCdr));
        let e = "reboot".parse::<Action>().unwrap_err();
        assert_eq!(e.what, "action");
        assert!(e.problem.contains("`power_off`"), "{e}");
        assert_eq!("ALL".parse(), Ok(Combine::All));
        assert!("both".parse::<Combine>().is_err());
    }

    #[test]
    fn f_6_16_1_policy_validation() {
        let c = vec![Condition::AcdBelow(20)];
        let a = vec![Action::DisableOutbound];
        assert_eq!(
            RunPolicy::new(vec![], Combine::Any, a.clone(), 30),
            Err(PolicyError::NoConditions)
        );
        assert_eq!(
            RunPolicy::new(c.clone(), Combine::Any, vec![], 30),
            Err(PolicyError::NoActions)
        );
        assert_eq!(
            RunPolicy::new(
                c.clone(),
                Combine::Any,
                vec![Action::ResetCdr, Action::ResetCdr],
                30
            ),
            Err(PolicyError::DuplicateAction(Action::ResetCdr))
        );
        assert_eq!(
            RunPolicy::new(c.clone(), Combine::Any, a.clone(), 0),
            Err(PolicyError::ZeroThreshold)
        );
        assert_eq!(
            RunPolicy::new(vec![Condition::AsrBelow(130)], Combine::Any, a.clone(), 30),
            Err(PolicyError::AsrOver100(Condition::AsrBelow(130)))
        );
        assert_eq!(
            RunPolicy::new(
                vec![Condition::ConsecutiveShort {
                    below: Duration::from_secs(5),
                    count: 0
                }],
                Combine::Any,
                a,
                30
            )
            .map(|_| ()),
            Err(PolicyError::ZeroCount(Condition::ConsecutiveShort {
                below: Duration::from_secs(5),
                count: 0
            }))
        );
    }

    #[test]
    fn f_6_16_1_policy_deserialises_and_validates() {
        let p: RunPolicy = serde_json::from_str(
            r#"{"conditions": ["acd<20", "no_ring>=3"], "actions": ["disable_outbound"]}"#,
        )
        .unwrap();
        assert_eq!(p.combine, Combine::Any);
        assert_eq!(p.threshold_calls, THRESHOLD_CALLS);
        assert_eq!(p.conditions[1], Condition::ConsecutiveNoRing(3));
        let e = serde_json::from_str::<RunPolicy>(r#"{"conditions": ["acd<20"], "actions": []}"#)
            .unwrap_err();
        assert!(e.to_string().contains("no action"), "{e}");
        let e = serde_json::from_str::<RunPolicy>(
            r#"{"conditions": ["acd<x"], "actions": ["reset_cdr"]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("`acd<x`"), "{e}");
        let e = serde_json::from_str::<RunPolicy>(
            r#"{"conditions": ["acd<2"], "actions": ["reset_cdr"], "combin": "all"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("combin"), "{e}");
    }

    #[test]
    fn f_6_16_2_acd_judged_only_after_threshold_connected_calls() {
        let p = policy(&["acd<20"], Combine::Any, &["disable_outbound"], 30);
        let t0 = Instant::now();
        let mut s = PolicyState::new(&p, t0);
        // Unanswered calls do not count towards the ACD threshold.
        for _ in 0..40 {
            assert!(s.on_call_end(&p, RANG, t0).is_empty());
        }
        for _ in 0..29 {
            assert!(s.on_call_end(&p, talked(10), t0).is_empty());
        }
        assert_eq!(
            s.on_call_end(&p, talked(10), t0),
            vec![Action::DisableOutbound]
        );
        assert!(s.is_tripped());
    }

    #[test]
    fn f_6_16_2_acd_at_or_above_value_does_not_fire() {
        let p = policy(&["acd<20"], Combine::Any, &["reset_cdr"], 10);
        let t0 = Instant::now();
        let mut s = PolicyState::new(&p, t0);
        for _ in 0..50 {
            assert!(s.on_call_end(&p, talked(20), t0).is_empty());
        }
    }

    #[test]
    fn f_6_16_3_asr_judged_after_threshold_attempts() {
        // 10-call threshold of old firmware (F-1.2).
        let p = policy(&["asr<30"], Combine::Any, &["reset_cdr"], 10);
        let t0 = Instant::now();
        let mut s = PolicyState::new(&p, t0);
        // 2 of 10 answered: 20 % < 30 %, judged at the 10th attempt.
        for i in 0..9 {
            let o = if i < 2 { talked(60) } else { RANG };
            assert!(s.on_call_end(&p, o, t0).is_empty(), "call {i}");
        }
        assert_eq!(s.on_call_end(&p, RANG, t0), vec![Action::ResetCdr]);
        assert!(!s.is_tripped(), "reset_cdr does not disable the line");
        assert_eq!(s.counts(), (0, 0), "the ACD/ASR window restarts");
    }

    #[test]
    fn f_6_16_3_asr_exactly_at_value_does_not_fire() {
        let p = policy(&["asr<30"], Combine::Any, &["reset_cdr"], 10);
        let t0 = Instant::now();
        let mut s = PolicyState::new(&p, t0);
        for i in 0..10 {
            let o = if i < 3 { talked(60) } else { RANG };
            assert!(s.on_call_end(&p, o, t0).is_empty());
        }
    }

    #[test]
    fn f_6_16_5_consecutive_no_ring_resets_on_a_ringing_call() {
        let p = policy(&["no_ring>=3"], Combine::Any, &["power_off"], 30);
        let t0 = Instant::now();
        let mut s = PolicyState::new(&p, t0);
        assert!(s.on_call_end(&p, NO_RING, t0).is_empty());
        assert!(s.on_call_end(&p, NO_RING, t0).is_empty());
        assert!(s.on_call_end(&p, RANG, t0).is_empty());
        assert!(s.on_call_end(&p, NO_RING, t0).is_empty());
        assert!(s.on_call_end(&p, NO_RING, t0).is_empty());
        assert_eq!(s.on_call_end(&p, NO_RING, t0), vec![Action::PowerOffModule]);
    }

    #[test]
    fn f_6_16_6_consecutive_unanswered() {
        let p = policy(&["unanswered>=2"], Combine::Any, &["reset_cdr"], 30);
        let t0 = Instant::now();
        let mut s = PolicyState::new(&p, t0);
        assert!(s.on_call_end(&p, RANG, t0).is_empty());
        assert!(s.on_call_end(&p, talked(1), t0).is_empty());
        assert!(s.on_call_end(&p, NO_RING, t0).is_empty());
        assert_eq!(s.on_call_end(&p, RANG, t0), vec![Action::ResetCdr]);
        // Counters restart after firing.
        assert!(s.on_call_end(&p, RANG, t0).is_empty());
        assert_eq!(s.on_call_end(&p, RANG, t0), vec![Action::ResetCdr]);
    }

    #[test]
    fn f_6_16_7_short_calls_unanswered_do_not_break_the_run() {
        let p = policy(&["short<10s>=3"], Combine::Any, &["reset_cdr"], 30);
        let t0 = Instant::now();
        let mut s = PolicyState::new(&p, t0);
        assert!(s.on_call_end(&p, talked(3), t0).is_empty());
        assert!(s.on_call_end(&p, RANG, t0).is_empty());
        assert!(s.on_call_end(&p, talked(9), t0).is_empty());
        assert_eq!(s.on_call_end(&p, talked(1), t0), vec![Action::ResetCdr]);
        // A call of exactly 10 s is not short and breaks the run.
        assert!(s.on_call_end(&p, talked(2), t0).is_empty());
        assert!(s.on_call_end(&p, talked(2), t0).is_empty());
        assert!(s.on_call_end(&p, talked(10), t0).is_empty());
        assert!(s.on_call_end(&p, talked(2), t0).is_empty());
    }

    #[test]
    fn f_6_16_4_every_fires_on_its_timer_and_rearms() {
        let p = policy(&["every 60m"], Combine::Any, &["reset_cdr"], 30);
        let t0 = Instant::now();
        let hour = Duration::from_secs(3600);
        let mut s = PolicyState::new(&p, t0);
        assert_eq!(s.poll_timeout(), Some(t0 + hour));
        assert!(s
            .on_timeout(&p, t0 + hour - Duration::from_secs(1))
            .is_empty());
        assert_eq!(s.on_timeout(&p, t0 + hour), vec![Action::ResetCdr]);
        assert_eq!(s.poll_timeout(), Some(t0 + 2 * hour));
        // Late by 10 minutes: fires once and keeps the cadence.
        let late = t0 + 2 * hour + Duration::from_secs(600);
        assert_eq!(s.on_timeout(&p, late), vec![Action::ResetCdr]);
        assert_eq!(s.poll_timeout(), Some(t0 + 3 * hour));
        // Late by several intervals: fires once, next tick an interval from now.
        let very_late = t0 + 10 * hour;
        assert_eq!(s.on_timeout(&p, very_late), vec![Action::ResetCdr]);
        assert_eq!(s.poll_timeout(), Some(very_late + hour));
        // Calls never trigger an every-only policy.
        assert!(s.on_call_end(&p, NO_RING, very_late).is_empty());
    }

    #[test]
    fn f_6_16_1_all_needs_every_call_condition_and_every_stays_independent() {
        let p = policy(
            &["no_ring>=2", "unanswered>=3", "every 30m"],
            Combine::All,
            &["disable_voip"],
            30,
        );
        let t0 = Instant::now();
        let mut s = PolicyState::new(&p, t0);
        assert!(s.on_call_end(&p, NO_RING, t0).is_empty());
        assert!(
            s.on_call_end(&p, NO_RING, t0).is_empty(),
            "only no_ring holds"
        );
        assert_eq!(s.on_call_end(&p, NO_RING, t0), vec![Action::DisableVoip]);
        s.restore();
        // With All, the every tick fires by itself.
        let tick = t0 + Duration::from_secs(1800);
        assert_eq!(s.poll_timeout(), Some(tick));
        assert_eq!(s.on_timeout(&p, tick), vec![Action::DisableVoip]);
    }

    #[test]
    fn f_6_16_1_any_fires_on_one_condition() {
        let p = policy(
            &["no_ring>=2", "unanswered>=5"],
            Combine::Any,
            &["disable_outbound", "reset_cdr"],
            30,
        );
        let t0 = Instant::now();
        let mut s = PolicyState::new(&p, t0);
        assert!(s.on_call_end(&p, NO_RING, t0).is_empty());
        assert_eq!(
            s.on_call_end(&p, NO_RING, t0),
            vec![Action::DisableOutbound, Action::ResetCdr]
        );
    }

    #[test]
    fn f_6_16_12_tripped_line_stays_quiet_until_restored() {
        let p = policy(
            &["no_ring>=2", "every 10m"],
            Combine::Any,
            &["disable_outbound"],
            30,
        );
        let t0 = Instant::now();
        let mut s = PolicyState::new(&p, t0);
        s.on_call_end(&p, NO_RING, t0);
        assert_eq!(
            s.on_call_end(&p, NO_RING, t0),
            vec![Action::DisableOutbound]
        );
        assert!(s.is_tripped(), "F-5.2.1.2: line shown red");
        // While red: neither calls nor ticks fire again.
        assert!(s.on_call_end(&p, NO_RING, t0).is_empty());
        assert!(s.on_call_end(&p, NO_RING, t0).is_empty());
        let tick = t0 + Duration::from_secs(600);
        assert!(s.on_timeout(&p, tick).is_empty());
        assert_eq!(s.poll_timeout(), Some(tick + Duration::from_secs(600)));
        // Restoring clears the run built up meanwhile: one more no-ring call is not enough.
        s.restore();
        assert!(!s.is_tripped());
        assert!(s.on_call_end(&p, NO_RING, tick).is_empty());
        assert_eq!(
            s.on_call_end(&p, NO_RING, tick),
            vec![Action::DisableOutbound]
        );
    }

    #[test]
    fn f_6_16_state_follows_a_changed_policy() {
        let p1 = policy(&["no_ring>=5"], Combine::Any, &["reset_cdr"], 30);
        let p2 = policy(
            &["every 5m", "short<5s>=1"],
            Combine::Any,
            &["reset_cdr"],
            30,
        );
        let t0 = Instant::now();
        let mut s = PolicyState::new(&p1, t0);
        assert_eq!(s.poll_timeout(), None);
        assert_eq!(s.on_call_end(&p2, talked(1), t0), vec![Action::ResetCdr]);
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(300)));
    }

    #[test]
    fn f_1_2_threshold_by_firmware() {
        assert_eq!(threshold_for_firmware("GST1610-1.01-58-2"), 30);
        assert_eq!(threshold_for_firmware("GST1610-1.01-62-2"), 30);
        assert_eq!(threshold_for_firmware("GST1610-1.01-58-1"), 10);
        assert_eq!(threshold_for_firmware("GST1610-1.01-57"), 10);
        assert_eq!(threshold_for_firmware("GS-4.01-102"), 10);
        assert_eq!(threshold_for_firmware("GST-1.01-73"), 10);
        assert_eq!(threshold_for_firmware("cellgate 0.1.0"), 30);
        assert_eq!(threshold_for_firmware("GST1610-x"), 30);
        assert_eq!(threshold_for_firmware(""), 30);
    }

    fn any_condition() -> impl Strategy<Value = Condition> {
        prop_oneof![
            (1u32..100_000).prop_map(Condition::AcdBelow),
            (1u32..=100).prop_map(Condition::AsrBelow),
            (1u64..1_000_000).prop_map(|s| Condition::Every(Duration::from_secs(s))),
            (1u64..1_000_000).prop_map(|ms| Condition::Every(Duration::from_millis(ms))),
            (1u32..1000).prop_map(Condition::ConsecutiveNoRing),
            (1u32..1000).prop_map(Condition::ConsecutiveUnanswered),
            (1u64..100_000, 1u32..1000).prop_map(|(s, count)| Condition::ConsecutiveShort {
                below: Duration::from_secs(s),
                count
            }),
        ]
    }

    proptest! {
        #[test]
        fn f_6_16_condition_text_round_trips(c in any_condition()) {
            prop_assert_eq!(c.to_string().parse::<Condition>(), Ok(c));
        }

        #[test]
        fn f_6_16_condition_parser_never_panics(s in "\\PC{0,20}") {
            let _ = s.parse::<Condition>();
        }
    }
}
