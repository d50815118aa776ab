//! Call statistics of a line for the general status page (F-5.2.1.9 to F-5.2.1.13) and
//! its idle time (F-5.2.1.17), plus the call record each finished call produces.
//!
//! Choices (see `docs/limits.md`): ACD, ASR, total duration and call count cover
//! **outbound** calls (VoIP → GSM), the traffic whose answer rate matters for a SIM;
//! inbound calls are counted apart. A CDR reset (icon 3, F-5.2.1.20, or the daily
//! F-6.1.11 reset) clears all of it, totals and counts included, and starts a new CDR
//! start time; the idle time is not a CDR statistic and survives resets.

use cellgate_hal::LineId;
use serde::{Deserialize, Serialize};

/// Which way a call went, as the manual names them (F-2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// VoIP → GSM: the module placed the call.
    Outbound,
    /// GSM → VoIP: the SIM received the call.
    Inbound,
}

impl Direction {
    /// The lower-case name used in the store and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }
}

/// One finished call on one line: what the statistics are computed from and what the
/// store keeps as the call history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// The line the call used (serialised as its number).
    #[serde(with = "line_number")]
    pub line: LineId,
    /// Outbound (VoIP → GSM) or inbound (GSM → VoIP).
    pub direction: Direction,
    /// The GSM number dialled (outbound) or the caller's number (inbound).
    pub number: String,
    /// Unix seconds when the call attempt started.
    pub started_unix: i64,
    /// Unix seconds when the call ended (for the idle time, F-5.2.1.17).
    pub ended_unix: i64,
    /// Whether the far end rang (ALERTING).
    pub alerted: bool,
    /// Whether the call was answered (connected).
    pub answered: bool,
    /// Talk time in seconds from answer to end; 0 when not answered.
    pub talk_seconds: u32,
    /// GSM release cause (3GPP 24.008), when known.
    pub gsm_cause: Option<u8>,
    /// Final SIP status of the VoIP leg, when known.
    pub sip_status: Option<u16>,
}

/// Serialises a [`LineId`] as its bare number.
mod line_number {
    use cellgate_hal::LineId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(line: &LineId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(line.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<LineId, D::Error> {
        u16::deserialize(d).map(LineId)
    }
}

/// `a / b` rounded half up, `None` when `b` is 0.
fn div_round(a: u64, b: u64) -> Option<u32> {
    if b == 0 {
        return None;
    }
    let q = (u128::from(a) * 2 + u128::from(b)) / (u128::from(b) * 2);
    Some(u32::try_from(q).unwrap_or(u32::MAX))
}

/// The CDR statistics of one line since its CDR start time (F-5.2.1.9 to F-5.2.1.13).
/// Serialised so that it survives restarts (see [`crate::store`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CdrStats {
    /// Unix seconds when collection started (F-5.2.1.13).
    since: i64,
    /// Outbound call attempts (M of F-5.2.1.12).
    attempts: u64,
    /// Answered outbound calls (N of F-5.2.1.12).
    connected: u64,
    /// Talk seconds of answered outbound calls (F-5.2.1.11).
    talk_seconds: u64,
    /// Inbound calls received.
    inbound_calls: u64,
    /// Inbound calls answered.
    inbound_answered: u64,
    /// Talk seconds of answered inbound calls.
    inbound_talk_seconds: u64,
    /// Unix seconds of the end of the last call in either direction (F-5.2.1.17).
    last_call_end_unix: Option<i64>,
}

impl CdrStats {
    /// Empty statistics whose CDR start time is `since_unix`.
    pub fn new(since_unix: i64) -> Self {
        Self {
            since: since_unix,
            ..Self::default()
        }
    }

    /// Adds a finished call. Outbound calls feed ACD, ASR, total and count; inbound calls
    /// their own counters; both update the idle time.
    pub fn record(&mut self, call: &CallRecord) {
        let talk = if call.answered {
            u64::from(call.talk_seconds)
        } else {
            0
        };
        match call.direction {
            Direction::Outbound => {
                self.attempts += 1;
                if call.answered {
                    self.connected += 1;
                    self.talk_seconds += talk;
                }
            }
            Direction::Inbound => {
                self.inbound_calls += 1;
                if call.answered {
                    self.inbound_answered += 1;
                    self.inbound_talk_seconds += talk;
                }
            }
        }
        self.last_call_end_unix = Some(
            self.last_call_end_unix
                .map_or(call.ended_unix, |t| t.max(call.ended_unix)),
        );
    }

    /// F-5.2.1.9: average call duration in seconds, total talk ÷ connected calls, rounded
    /// half up; `None` before the first connected call.
    pub fn acd_seconds(&self) -> Option<u32> {
        div_round(self.talk_seconds, self.connected)
    }

    /// F-5.2.1.10: answer-seizure ratio, connected ÷ attempts × 100, rounded half up;
    /// `None` before the first attempt.
    pub fn asr_percent(&self) -> Option<u32> {
        div_round(self.connected.saturating_mul(100), self.attempts)
    }

    /// F-5.2.1.11: total talk seconds of connected outbound calls.
    pub fn total_talk_seconds(&self) -> u64 {
        self.talk_seconds
    }

    /// F-5.2.1.12: `"N/M"`, connected calls over call attempts.
    pub fn call_count(&self) -> String {
        format!("{}/{}", self.connected, self.attempts)
    }

    /// Outbound call attempts since the CDR start.
    pub fn attempts(&self) -> u64 {
        self.attempts
    }

    /// Connected outbound calls since the CDR start.
    pub fn connected(&self) -> u64 {
        self.connected
    }

    /// Inbound calls since the CDR start: (received, answered, talk seconds).
    pub fn inbound(&self) -> (u64, u64, u64) {
        (
            self.inbound_calls,
            self.inbound_answered,
            self.inbound_talk_seconds,
        )
    }

    /// F-5.2.1.13: unix seconds when the statistics started being collected.
    pub fn since_unix(&self) -> i64 {
        self.since
    }

    /// Reset icon 3 (F-5.2.1.20) and the daily reset (F-6.1.11): clears every statistic,
    /// totals and counts included, and makes `now_unix` the new CDR start time. The idle
    /// time is kept.
    pub fn reset(&mut self, now_unix: i64) {
        *self = Self {
            since: now_unix,
            last_call_end_unix: self.last_call_end_unix,
            ..Self::default()
        };
    }

    /// Unix seconds of the end of the last call in either direction, if any.
    pub fn last_call_end_unix(&self) -> Option<i64> {
        self.last_call_end_unix
    }

    /// F-5.2.1.17: whole minutes since the last call ended (0 if the clock is behind it);
    /// `None` when the line has had no call.
    pub fn idle_minutes(&self, now_unix: i64) -> Option<u64> {
        self.last_call_end_unix
            .map(|end| u64::try_from(now_unix.saturating_sub(end)).unwrap_or(0) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(direction: Direction, answered: bool, talk: u32, ended: i64) -> CallRecord {
        CallRecord {
            line: LineId(1),
            direction,
            number: "13800000000".into(),
            started_unix: ended - i64::from(talk) - 10,
            ended_unix: ended,
            alerted: answered,
            answered,
            talk_seconds: talk,
            gsm_cause: Some(16),
            sip_status: None,
        }
    }

    /// F-5.2.1.9 to F-5.2.1.12: ACD, ASR, total and `N/M` from outbound calls.
    #[test]
    fn f_5_2_1_9_to_12_statistics() {
        let mut s = CdrStats::new(1_000);
        assert_eq!(s.acd_seconds(), None);
        assert_eq!(s.asr_percent(), None);
        assert_eq!(s.call_count(), "0/0");
        s.record(&call(Direction::Outbound, true, 60, 2_000));
        s.record(&call(Direction::Outbound, true, 31, 2_100));
        s.record(&call(Direction::Outbound, false, 0, 2_200));
        assert_eq!(s.acd_seconds(), Some(46)); // 91 / 2 = 45.5, rounded half up
        assert_eq!(s.asr_percent(), Some(67)); // 2 / 3
        assert_eq!(s.total_talk_seconds(), 91);
        assert_eq!(s.call_count(), "2/3");
        // Talk time of an unanswered call is ignored.
        s.record(&call(Direction::Outbound, false, 99, 2_300));
        assert_eq!(s.total_talk_seconds(), 91);
        assert_eq!(s.asr_percent(), Some(50));
    }

    /// Inbound calls do not change ACD/ASR but are counted apart.
    #[test]
    fn inbound_counted_apart() {
        let mut s = CdrStats::new(0);
        s.record(&call(Direction::Outbound, false, 0, 100));
        s.record(&call(Direction::Inbound, true, 40, 200));
        assert_eq!(s.asr_percent(), Some(0));
        assert_eq!(s.call_count(), "0/1");
        assert_eq!(s.inbound(), (1, 1, 40));
    }

    /// F-5.2.1.13, F-5.2.1.20: reset clears everything and starts a new CDR time; the idle
    /// time survives.
    #[test]
    fn f_5_2_1_20_reset_clears_all() {
        let mut s = CdrStats::new(1_000);
        s.record(&call(Direction::Outbound, true, 60, 2_000));
        s.record(&call(Direction::Inbound, true, 60, 2_050));
        s.reset(5_000);
        assert_eq!(s.since_unix(), 5_000);
        assert_eq!(s.call_count(), "0/0");
        assert_eq!(s.total_talk_seconds(), 0);
        assert_eq!(s.acd_seconds(), None);
        assert_eq!(s.inbound(), (0, 0, 0));
        assert_eq!(s.last_call_end_unix(), Some(2_050));
    }

    /// F-5.2.1.17: idle minutes since the latest call end.
    #[test]
    fn f_5_2_1_17_idle_minutes() {
        let mut s = CdrStats::new(0);
        assert_eq!(s.idle_minutes(10_000), None);
        s.record(&call(Direction::Outbound, true, 10, 1_000));
        // An older record arriving late does not move the last end back.
        s.record(&call(Direction::Inbound, false, 0, 900));
        assert_eq!(s.idle_minutes(1_000 + 179), Some(2));
        assert_eq!(s.idle_minutes(500), Some(0));
    }

    /// The line is serialised as its bare number; records and stats round-trip.
    #[test]
    fn serde_round_trip() {
        let r = call(Direction::Inbound, true, 5, 50);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["line"], 1);
        assert_eq!(json["direction"], "inbound");
        assert_eq!(serde_json::from_value::<CallRecord>(json).unwrap(), r);
        let mut s = CdrStats::new(7);
        s.record(&r);
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<CdrStats>(&text).unwrap(), s);
    }
}
