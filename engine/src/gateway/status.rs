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
    /// F-5.2.1.4: `Y`, `N`, `PIN`, `PUK`; `PIN2` / `PUK2` while a usable SIM waits for
    /// its second PIN (F-6.10.7).
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
    /// F-5.2.3.14 / F-6.10.4: the SIM's number (configured, else reported by the SIM).
    pub sim_number: Option<String>,
    /// F-5.2.2.16: SIP mode of the line's account: `S`, `L`, `G<n>`, `T` (empty: none).
    pub sip_mode: String,
    /// F-5.2.2.18: the line's gateway prefix list.
    pub prefix: Option<String>,
    /// F-5.2.3.8: cell selection mode (`auto`, `fixed`, `rotation`).
    pub bcch_mode: String,
    /// F-5.2.3.10: `LAC + CELL ID` in hex.
    pub lac_cell: Option<String>,
    /// The serving cell's location area code (for machine interfaces).
    pub lac: Option<u32>,
    /// The serving cell's cell id (for machine interfaces).
    pub cell_id: Option<u32>,
    /// F-5.2.3.5: GPRS registered.
    pub gprs_registered: Option<bool>,
    /// F-5.2.3.6: GPRS attached.
    pub gprs_attached: Option<bool>,
    /// F-5.2.4.1: forwarding per condition (unconditional, busy, no reply, not
    /// reachable): a number, `OFF` or `Not Set`.
    pub forwarding: [String; 4],
}

/// The header of the status pages (F-5.2.0.1 to F-5.2.0.6, F-5.2.2.1 to 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayStatus {
    /// Serial number (F-5.2.0.1, F-5.2.2.1), when configured.
    pub serial: Option<String>,
    /// Software name and version (F-5.2.0.2).
    pub version: String,
    /// Seconds since the gateway started (F-5.2.0.4).
    pub uptime_seconds: u64,
    /// The network's local time, `YYYY-MM-DD HH:MM:SS` (F-5.2.0.6); `None` without
    /// network time.
    pub local_time: Option<String>,
    /// Module models of the lines, in line order (F-5.2.0.3).
    pub modules: Vec<Option<String>>,
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
                    sim_number: policy.sim_number.clone().or_else(|| l.own_number.clone()),
                    sip_mode: self.sip_mode_of(l.id),
                    prefix: self
                        .config
                        .routing
                        .prefixes
                        .as_ref()
                        .and_then(|p| p.list_of(l.id))
                        .map(|p| p.as_str().to_owned()),
                    bcch_mode: match &policy.bcch {
                        cellgate_policy::gsm::BcchMode::Auto => "auto",
                        cellgate_policy::gsm::BcchMode::Fixed(_) => "fixed",
                        cellgate_policy::gsm::BcchMode::Rotation(_) => "rotation",
                    }
                    .to_owned(),
                    lac: l.radio.lac,
                    cell_id: l.radio.cell_id,
                    lac_cell: match (l.radio.lac, l.radio.cell_id) {
                        (Some(lac), Some(ci)) => Some(format!("{lac:X} {ci:X}")),
                        _ => None,
                    },
                    gprs_registered: l.radio.gprs_registered,
                    gprs_attached: l.radio.gprs_attached,
                    forwarding: cellgate_policy::gsm::forwarding::REASONS.map(|reason| {
                        let applied = l.forwarding.iter().find(|f| f.reason == reason);
                        let unchanged = cellgate_policy::gsm::ForwardPolicy::Unchanged;
                        let configured = policy.forwarding.get(reason).unwrap_or(&unchanged);
                        cellgate_policy::gsm::status_text(applied, configured)
                    }),
                }
            })
            .collect()
    }

    /// The status-page header at `now`.
    pub fn gateway_status(&self, now: Instant) -> GatewayStatus {
        GatewayStatus {
            serial: self.config.serial.clone(),
            version: format!("cellgate {}", env!("CARGO_PKG_VERSION")),
            uptime_seconds: self
                .started_at
                .map(|t| now.saturating_duration_since(t).as_secs())
                .unwrap_or(0),
            local_time: self.local_time(now).map(|t| {
                format!(
                    "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second()
                )
            }),
            modules: self
                .lines
                .lines()
                .iter()
                .map(|l| {
                    l.identity
                        .as_ref()
                        .map(|i| format!("{} {}", i.model, i.firmware))
                })
                .collect(),
        }
    }

    /// F-5.2.2.16: the SIP mode letter of the account serving `line`.
    fn sip_mode_of(&self, line: LineId) -> String {
        let Some(reg) = self
            .registrations
            .iter()
            .find(|r| r.config().lines.is_empty() || r.config().lines.contains(&line))
        else {
            return String::new();
        };
        let label = &reg.config().label;
        if let Some(group) = label.strip_prefix("group ") {
            format!("G{group}")
        } else if label.starts_with("line ") {
            "L".into()
        } else if label == "trunk" {
            "T".into()
        } else {
            "S".into()
        }
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
        Some(SimState::Pin2Required) => "PIN2",
        Some(SimState::Puk2Required) => "PUK2",
        Some(_) => "N",
        None if ready => "Y",
        None => "N",
    }
    .to_owned()
}
