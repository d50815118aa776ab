//! The per-line status rows of manual §5.2.1 to §5.2.3: what an operator's status page
//! (or the HTTP API) shows, computed from the line table, the counters and the SIM
//! limits at one instant.

use std::time::Instant;

use cellgate_hal::{LineId, SimState};
use serde::Serialize;

use super::Gateway;

/// One line as the status pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineStatus {
    /// Line number.
    pub line: u16,
    /// F-5.2.1.2: the run policy disabled outbound calls or the module (red number).
    pub policy_blocked: bool,
    /// F-5.2.1.3: `Y` module on, `N` off.
    pub enabled: bool,
    /// F-5.2.1.4: `Y`, `N`, `PIN`, `PUK`.
    pub sim: String,
    /// F-5.2.1.5: GSM registered.
    pub gsm: bool,
    /// F-5.2.1.6: the line's VoIP side is usable (its account registered, or nothing
    /// to register).
    pub voip: bool,
    /// F-5.2.1.7: IDLE, DIALING <n>, ALERTING, CONNECTED, ACTIVE, INCOMING.
    pub state: String,
    /// F-5.2.1.9: average call duration, s.
    pub acd: Option<u32>,
    /// F-5.2.1.10: answer-seizure ratio, %.
    pub asr: Option<u32>,
    /// F-5.2.1.11: total talk time, s.
    pub total_seconds: u64,
    /// F-5.2.1.12: `N/M`.
    pub calls: String,
    /// F-5.2.1.13: CDR start (Unix seconds).
    pub cdr_since: i64,
    /// F-5.2.1.14: RSSI 0..31 / 99.
    pub rssi: Option<u8>,
    /// F-5.2.1.15: operator.
    pub operator: Option<String>,
    /// F-5.2.1.16: BCCH.
    pub bcch: Option<u32>,
    /// F-5.2.1.17: minutes since the last call ended.
    pub idle_minutes: Option<u64>,
    /// F-5.2.1.18: remaining minutes (`None` = no limit).
    pub remaining_minutes: Option<u64>,
    /// F-5.2.1.19: remaining SMS (`None` = no limit).
    pub remaining_sms: Option<u32>,
    /// F-5.2.2.21: incoming calls accepted.
    pub inbound: bool,
    /// F-5.2.2.22: outbound allowed (N when the limit is used up or the policy locked it).
    pub outbound: bool,
    /// F-5.2.3.15: IMEI.
    pub imei: Option<String>,
    /// F-5.2.3.16: IMSI.
    pub imsi: Option<String>,
    /// F-5.2.3.17: ICCID.
    pub iccid: Option<String>,
    /// F-5.2.3.12/13: module model and version.
    pub module: Option<String>,
}

impl Gateway {
    /// The status row of every line at `now`.
    pub fn line_status(&self, now: Instant) -> Vec<LineStatus> {
        let local = self.local_time(now);
        self.lines
            .lines()
            .iter()
            .map(|l| {
                let policy = self.line_policy(l.id);
                let rt = self.runtime(l.id);
                let usage = rt.map(|r| &r.counters.usage);
                let cdr = rt.map(|r| &r.counters.cdr);
                let outbound_ok = policy.outbound_allowed
                    && !l.policy_blocked()
                    && usage.is_none_or(|u| u.outbound_allowed(&policy.limits, local).is_ok());
                LineStatus {
                    line: l.id.0,
                    policy_blocked: l.policy_blocked(),
                    enabled: l.enabled,
                    sim: sim_text(l.sim, l.module_ready),
                    gsm: l.gsm_registered,
                    voip: self.line_voip_registered(now, l.id),
                    state: l.call_state.to_string(),
                    acd: cdr.and_then(|c| c.acd_seconds()),
                    asr: cdr.and_then(|c| c.asr_percent()),
                    total_seconds: cdr.map(|c| c.total_talk_seconds()).unwrap_or(0),
                    calls: cdr.map(|c| c.call_count()).unwrap_or_else(|| "0/0".into()),
                    cdr_since: cdr.map(|c| c.since_unix()).unwrap_or(0),
                    rssi: l.radio.rssi,
                    operator: l.radio.operator.clone(),
                    bcch: l.radio.bcch,
                    idle_minutes: l
                        .last_call_end
                        .filter(|_| !l.busy)
                        .map(|t| now.saturating_duration_since(t).as_secs() / 60),
                    remaining_minutes: usage
                        .and_then(|u| u.remaining_seconds(&policy.limits, local))
                        .map(|s| s / 60),
                    remaining_sms: usage.and_then(|u| u.remaining_sms(&policy.limits)),
                    inbound: policy.inbound_allowed && !l.voip_disabled_by_policy,
                    outbound: outbound_ok,
                    imei: l.imei.clone(),
                    imsi: l.identity.as_ref().and_then(|i| i.imsi.clone()),
                    iccid: l.identity.as_ref().and_then(|i| i.iccid.clone()),
                    module: l
                        .identity
                        .as_ref()
                        .map(|i| format!("{} {}", i.model, i.firmware)),
                }
            })
            .collect()
    }

    /// Whether the account behind `line` is registered (or the line needs none).
    fn line_voip_registered(&self, now: Instant, line: LineId) -> bool {
        if !self.line_wants_voip(now, line) {
            return false;
        }
        let mut accounts = self
            .registrations
            .iter()
            .filter(|r| r.config().lines.is_empty() || r.config().lines.contains(&line))
            .peekable();
        if accounts.peek().is_none() {
            return true;
        }
        accounts.any(|r| r.status().registered)
    }
}

fn sim_text(sim: Option<SimState>, ready: bool) -> String {
    match sim {
        Some(SimState::Ready) => "Y",
        Some(SimState::PinRequired) => "PIN",
        Some(SimState::PukRequired) => "PUK",
        Some(_) => "N",
        None if ready => "Y",
        None => "N",
    }
    .to_owned()
}
