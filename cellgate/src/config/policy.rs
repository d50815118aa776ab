//! The routing, limit and policy sections of the configuration file: `[routing]`,
//! `[system]`, `[run_policy]`, `[group]`, `[storage]`, `[defaults]` and the
//! `[line.outbound]`, `[line.inbound]`, `[line.sim]` and `[line.gsm]` tables of each
//! `[[line]]` (manual §6.1, §6.3, §6.4, §6.6 to §6.16, Appendices D, F, G).
//!
//! Every text field is parsed by the `cellgate-policy` parser of its syntax; an error names
//! the line, the key and what the parser said (often a column), e.g.
//! `line 3: outbound.dial_rules: column 7: range [8-3] runs backwards`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use cellgate_engine::gateway::{
    CallWaiting, CidMode, GroupPeer, LinePolicy, OutboundForward, RoutingConfig,
};
use cellgate_engine::lines::LineSelection;
use cellgate_hal::LineId;
use cellgate_policy::gsm::bcch::{parse_interval, BcchList, BcchMode, RotationConfig};
use cellgate_policy::gsm::{
    ForwardPolicy, ForwardingConfig, GroupPlan, ImeiPolicy, OperatorChoice,
};
use cellgate_policy::limits::{BalanceReport, LimitSpec, SimLimits};
use cellgate_policy::routing::{
    auto_configure, AuthMode, CallAuth, DialRules, InboundForward, LinePrefixes, ListTarget,
    MatchOn, NumberList, PrefixList, RepeatConfig, RestRule,
};
use cellgate_policy::run_policy::{Action, Combine, Condition, RunPolicy, THRESHOLD_CALLS};
use cellgate_policy::schedule::{DailyTime, Schedule};
use serde::Deserialize;

use super::{Config, SipMode};

/// `[routing]`: how an outbound (SIP → GSM) call finds its line (F-6.3.13 to F-6.3.20,
/// F-6.4.2 to F-6.4.4, F-6.6.2, F-2.2.3).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSection {
    /// F-6.3.13: match prefixes against the `"caller"` or the `"callee"` (default).
    #[serde(rename = "match")]
    pub match_on: Option<String>,
    /// F-6.3.14: remove the matched prefix before dialling (callee matching only).
    #[serde(default)]
    pub strip_prefix: bool,
    /// F-6.3.19 / Appendix F: line N (group N in per_group mode) gets this value counted
    /// up by N-1 as its prefix, unless it sets its own.
    pub prefix_auto: Option<String>,
    /// F-6.4.2 to F-6.4.4: `round_robin` (default), `fewest_calls`, `least_talk_time`.
    pub line_selection: Option<String>,
    /// F-6.6.2: a callee called again within 10 minutes gets the same line.
    #[serde(default)]
    pub call_memory: bool,
    /// F-2.2.3: callee users meaning "the gateway itself" (outbound two-stage dialling).
    #[serde(default)]
    pub two_stage_numbers: Vec<String>,
    /// F-6.8.3 / F-6.8.10: where a plain extension forward number is sent, `host[:port]`
    /// (default: the next hop of the first `[[sip.account]]`).
    pub extension_host: Option<String>,
}

/// `[system]`: device-wide clock and schedules (F-6.1.2, F-6.1.10, F-6.1.11).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemSection {
    /// F-6.1.2: `GMT±X` or `UTC±X`, X from -11 to 12 (default `GMT+0`).
    pub timezone: Option<String>,
    /// F-6.1.10: `HH:MM` every day, or a number of minutes; empty or absent: off.
    pub reboot: Option<String>,
    /// F-6.1.11: `HH:MM` every day; empty or absent: off.
    pub cdr_reset: Option<String>,
    /// F-5.2.0.1: the serial number shown on the status pages (default: from the host's
    /// `/etc/machine-id`).
    pub serial: Option<String>,
}

/// `[run_policy]` (§6.16), applied to every line.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunPolicySection {
    /// `acd<S`, `asr<P`, `every Nm`, `no_ring>=N`, `unanswered>=N`, `short<Ns>=N`.
    #[serde(default)]
    pub conditions: Vec<String>,
    /// `any` (default) or `all`.
    pub combine: Option<String>,
    /// `disable_voip`, `disable_outbound`, `power_off`, `reset_cdr`.
    #[serde(default)]
    pub actions: Vec<String>,
    /// Calls before ACD/ASR are judged (default 30).
    pub threshold_calls: Option<u32>,
}

/// `[group]`: GSM group (hunt) mode of Appendix D.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSection {
    /// F-D.3: the published line whose SIM forwards when busy (this device holds the
    /// group; not with `server`).
    pub access_line: Option<u16>,
    /// F-D.4: the lines calls are forwarded to; each needs `sim_number` (F-D.5). On a
    /// member device (`server` set): this device's lines that join the server's group.
    #[serde(default)]
    pub members: Vec<u16>,
    /// F-D.6: secret shared by the devices of a multi-device group (at least 16
    /// characters, no default). With `access_line`: this device is the group server.
    pub secret: Option<String>,
    /// F-D.6: the group server's SIP address `ip:port`: this device is a member.
    pub server: Option<String>,
    /// F-D.6: this member device's id in its reports (`A-Z a-z 0-9 . _ -`, at most 64).
    pub device: Option<String>,
}

/// `[storage]`: where counters and call records survive restarts (§6.10, F-6.1.11).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// SQLite file; relative paths are relative to the configuration file's directory.
    /// Default `cellgate.db` beside the configuration file.
    pub database: Option<PathBuf>,
}

/// `[line.outbound]` (§6.6, §6.7): SIP → GSM calls on the line. Every key may also be
/// given in `[defaults.outbound]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundSection {
    /// F-6.6.5: the line places outbound calls (default true).
    pub allowed: Option<bool>,
    /// F-6.6.3: hang up a call not answered within this many seconds (0: never).
    pub dial_timeout_secs: Option<u64>,
    /// F-6.6.4: hang up a call not ringing within this many seconds (0: never).
    pub no_ring_timeout_secs: Option<u64>,
    /// F-6.6.1: redials of a failed call, 0 (default) to 5.
    pub auto_redial: Option<u8>,
    /// F-6.6.6 / F-6.6.7: fixed second stage: a number, or `M1:<service number>` (M35).
    pub forward_number: Option<String>,
    /// F-6.6.8: Appendix G dial rules for the callee.
    pub dial_rules: Option<String>,
    /// F-6.6.9: only callees fully matching a rule may be called.
    pub strict_dial_rules: Option<bool>,
    /// F-6.6.10: rest after every N calls (0: off).
    pub rest_every: Option<u32>,
    /// F-6.6.10: rest time, `a-b` or `a` seconds.
    pub rest_seconds: Option<String>,
    /// §6.7: `none`, `password`, `whitelist`, `password_or_whitelist`, `blacklist`.
    pub auth: Option<String>,
    /// §6.7: the list is matched against the `caller` (default) or the `callee`.
    pub auth_target: Option<String>,
    /// §6.7: comma-separated numbers, `138*` for a prefix.
    pub auth_list: Option<String>,
    /// §6.7: DTMF password (digits and `*`, up to 16).
    pub password: Option<String>,
}

/// `[line.inbound]` (§6.8, §6.9): GSM → SIP calls on the line. Every key may also be
/// given in `[defaults.inbound]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundSection {
    /// `sip` (default: where `[sip]` sends the line's calls, else rejected), `reject`
    /// (F-6.8.1), `two_stage` (F-6.8.2) or `forward` (F-6.8.3, needs `forward`).
    pub mode: Option<String>,
    /// F-6.8.10 / F-6.8.11: `101`, `101@192.168.2.2:6060` or `010>101|021>1002`.
    pub forward: Option<String>,
    /// F-6.8.5: seconds to wait for second-stage digits (1 to 300, default 10).
    pub no_input_timeout_secs: Option<u64>,
    /// F-6.8.6 to F-6.8.8: `disabled`, `remote_party_id`, `from` (default: `[sip] cid_mode`).
    pub cid: Option<String>,
    /// F-6.8.9: Appendix G rules for the caller number.
    pub cid_rules: Option<String>,
    /// F-6.8.12: Appendix G rules for the second-stage number.
    pub dial_rules: Option<String>,
    /// §6.9: as `outbound.auth`.
    pub auth: Option<String>,
    /// §6.9: `caller` (default) or `callee` (the second-stage number).
    pub auth_target: Option<String>,
    /// §6.9: comma-separated numbers, `138*` for a prefix.
    pub auth_list: Option<String>,
    /// §6.9: DTMF password.
    pub password: Option<String>,
    /// F-6.8.18: consecutive calls of one caller that block it (0: off, else at least 2).
    pub repeat_caller_limit: Option<u32>,
    /// F-6.8.18: largest gap in minutes between two calls of a run (default 10).
    pub repeat_window_mins: Option<u64>,
    /// F-6.8.18: hours a repeated caller stays blocked (default 24).
    pub repeat_block_hours: Option<u64>,
    /// F-6.8.13 to F-6.8.16: `off`, `hold_and_answer`, `key_switch`,
    /// `answer_then_swap_back`.
    pub call_waiting: Option<String>,
}

/// `balance_report = { number, identifier, threshold_min }` (F-6.10.20).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalanceReportSection {
    /// Where the report SMS goes.
    pub number: String,
    /// Text at the start of the report.
    pub identifier: String,
    /// Report when at most this many minutes remain.
    pub threshold_min: u32,
}

/// `[line.sim]` (§6.10): SIM limits. Every key may also be given in `[defaults.sim]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSection {
    /// F-6.10.11 to F-6.10.13: `N`, `HH:MM-HH:MM,N|…` or `D<day>,N` minutes.
    pub minutes: Option<String>,
    /// F-6.10.8: calls, same syntax.
    pub calls: Option<String>,
    /// F-6.10.10: unanswered calls count against `calls`.
    pub count_unanswered: Option<bool>,
    /// F-6.10.19: billing unit in seconds, 1 to 3600 (default 60).
    pub billing_unit_secs: Option<u32>,
    /// F-6.10.17: seconds added to each answered call, 0 to 600.
    pub correction_secs: Option<u32>,
    /// F-6.10.18: longest call in minutes (0: no maximum).
    pub max_call_minutes: Option<u32>,
    /// F-6.13.8: SMS send limit (absent: none; 0: no SMS).
    pub sms_limit: Option<u32>,
    /// F-6.10.2: stay registered on GSM when a limit is used up (default true).
    pub keep_module_registered: Option<bool>,
    /// F-6.10.3: keep the SIP registration when a limit is used up (default false).
    pub keep_sip_registered: Option<bool>,
    /// F-6.10.16: cut the call in progress when the minutes are used up.
    pub hang_up_when_used_up: Option<bool>,
    /// F-6.10.20: balance report by SMS.
    pub balance_report: Option<BalanceReportSection>,
    /// F-6.10.6: PIN 1 (4 to 8 digits), entered once when the SIM asks for it.
    pub pin: Option<String>,
    /// F-6.10.7: PIN2 (4 to 8 digits), entered once when the SIM asks for it and used
    /// for `fixed_dialing`.
    pub pin2: Option<String>,
    /// F-6.10.7: the SIM's fixed dialling (FDN) lock on or off at line start-up (needs
    /// `pin2`); absent: left as the SIM has it.
    pub fixed_dialing: Option<bool>,
    /// F-6.10.21: withhold the SIM's number on outbound calls (CLIR).
    pub clir: Option<bool>,
    /// F-6.10.1: GPRS attached (`true`) or detached (`false`); absent: as the module is.
    pub gprs: Option<bool>,
}

/// `[line.gsm]` (§6.11, §6.12, §6.14, §6.15): module and SIM management. Every key may
/// also be given in `[defaults.gsm]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GsmSection {
    /// §6.11: `disable`, `unchanged` (default) or a number.
    pub forward_unconditional: Option<String>,
    /// §6.11, busy.
    pub forward_busy: Option<String>,
    /// §6.11, no reply.
    pub forward_no_reply: Option<String>,
    /// §6.11, not reachable.
    pub forward_not_reachable: Option<String>,
    /// Ringing time before no-reply forwarding: 5 to 30 in steps of 5.
    pub forward_no_reply_secs: Option<u8>,
    /// §6.12: `keep`, `random_at_power_up`, `every 24h` or a 15-digit IMEI.
    pub imei: Option<String>,
    /// §6.14: `auto` or an MCC+MNC such as `46000`.
    pub operator: Option<String>,
    /// §6.15: `auto`, a channel number, or `rotation`.
    pub bcch: Option<String>,
    /// F-6.15.5: rotation among this many strongest cells (1 to 7).
    pub bcch_cells: Option<usize>,
    /// F-6.15.6: switch after a random `a-b` (or a fixed `a`) minutes.
    pub bcch_interval: Option<String>,
    /// F-6.15.7: switch after this many calls.
    pub bcch_after_calls: Option<u32>,
    /// F-6.15.8: switch after this many consecutive failed calls.
    pub bcch_after_failures: Option<u32>,
    /// F-6.15.9: `black:62,70` or `white:62,70`.
    pub bcch_list: Option<String>,
}

/// `[defaults]`: values for every line that does not set the key itself ("auto-configure
/// other lines", F-6.6.11, F-6.8.19).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultsSection {
    /// Defaults of `[line.outbound]`.
    #[serde(default)]
    pub outbound: OutboundSection,
    /// Defaults of `[line.inbound]`.
    #[serde(default)]
    pub inbound: InboundSection,
    /// Defaults of `[line.sim]`.
    #[serde(default)]
    pub sim: SimSection,
    /// Defaults of `[line.gsm]`.
    #[serde(default)]
    pub gsm: GsmSection,
}

/// Field by field: the line's value, else the default's.
macro_rules! merge {
    ($line:expr, $default:expr; $($field:ident),* $(,)?) => {
        Self { $($field: $line.$field.clone().or_else(|| $default.$field.clone())),* }
    };
}

impl OutboundSection {
    fn or(&self, d: &Self) -> Self {
        merge!(self, d; allowed, dial_timeout_secs, no_ring_timeout_secs, auto_redial,
            forward_number, dial_rules, strict_dial_rules, rest_every, rest_seconds, auth,
            auth_target, auth_list, password)
    }
}

impl InboundSection {
    fn or(&self, d: &Self) -> Self {
        merge!(self, d; mode, forward, no_input_timeout_secs, cid, cid_rules, dial_rules,
            auth, auth_target, auth_list, password, repeat_caller_limit, repeat_window_mins,
            repeat_block_hours, call_waiting)
    }
}

impl SimSection {
    fn or(&self, d: &Self) -> Self {
        merge!(self, d; minutes, calls, count_unanswered, billing_unit_secs, correction_secs,
            max_call_minutes, sms_limit, keep_module_registered, keep_sip_registered,
            hang_up_when_used_up, balance_report, pin, pin2, fixed_dialing, clir, gprs)
    }
}

impl GsmSection {
    fn or(&self, d: &Self) -> Self {
        merge!(self, d; forward_unconditional, forward_busy, forward_no_reply,
            forward_not_reachable, forward_no_reply_secs, imei, operator, bcch, bcch_cells,
            bcch_interval, bcch_after_calls, bcch_after_failures, bcch_list)
    }
}

/// Lower case with `-` read as `_`: `round-robin` and `Round_Robin` are the same keyword.
fn keyword(text: &str) -> String {
    text.trim().to_ascii_lowercase().replace('-', "_")
}

fn dial_rules(key: &str, text: &Option<String>) -> Result<DialRules, String> {
    DialRules::parse(text.as_deref().unwrap_or("")).map_err(|e| format!("{key}: {e}"))
}

fn seconds(key: &str, value: Option<u64>, max: u64) -> Result<Option<Duration>, String> {
    match value {
        None | Some(0) => Ok(None),
        Some(s) if s <= max => Ok(Some(Duration::from_secs(s))),
        Some(s) => Err(format!("{key} = {s}: must be 0 (off) to {max}")),
    }
}

fn call_auth(
    section: &str,
    auth: &Option<String>,
    target: &Option<String>,
    list: &Option<String>,
    password: &Option<String>,
) -> Result<CallAuth, String> {
    let mode = match auth.as_deref().map(keyword).as_deref() {
        None | Some("none") => AuthMode::None,
        Some("password") => AuthMode::Password,
        Some("whitelist") => AuthMode::Whitelist,
        Some("password_or_whitelist") => AuthMode::PasswordOrWhitelist,
        Some("blacklist") => AuthMode::Blacklist,
        Some(_) => {
            return Err(format!(
                "{section}.auth = {:?}: expected none, password, whitelist, password_or_whitelist \
                 or blacklist",
                auth.as_deref().unwrap_or_default()
            ))
        }
    };
    let target = match target.as_deref().map(keyword).as_deref() {
        None | Some("caller") => ListTarget::Caller,
        Some("callee") => ListTarget::Callee,
        Some(other) => {
            return Err(format!(
                "{section}.auth_target = {other:?}: expected caller or callee"
            ))
        }
    };
    let list = NumberList::parse(list.as_deref().unwrap_or(""))
        .map_err(|e| format!("{section}.auth_list: {e}"))?;
    CallAuth::new(mode, target, list, password.as_deref().unwrap_or(""))
        .map_err(|e| format!("{section}.password: {e}"))
}

/// `+` and 1 to 20 digits.
fn is_phone_number(text: &str) -> bool {
    let digits = text.strip_prefix('+').unwrap_or(text);
    (1..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

impl OutboundSection {
    fn apply(&self, p: &mut LinePolicy) -> Result<(), String> {
        if let Some(allowed) = self.allowed {
            p.outbound_allowed = allowed;
        }
        p.dial_timeout = seconds("outbound.dial_timeout_secs", self.dial_timeout_secs, 600)?;
        p.no_ring_timeout = seconds(
            "outbound.no_ring_timeout_secs",
            self.no_ring_timeout_secs,
            600,
        )?;
        let redial = self.auto_redial.unwrap_or(0);
        if redial > 5 {
            return Err(format!(
                "outbound.auto_redial = {redial}: must be 0 (off) to 5"
            ));
        }
        p.auto_redial = redial;
        p.outbound_forward = OutboundForward::parse(self.forward_number.as_deref().unwrap_or(""))
            .map_err(|e| format!("outbound.forward_number: {e}"))?;
        p.dial_rules = dial_rules("outbound.dial_rules", &self.dial_rules)?;
        p.strict_dial_rules = self.strict_dial_rules.unwrap_or(false);
        let rest = RestRule::parse(
            self.rest_every.unwrap_or(0),
            self.rest_seconds.as_deref().unwrap_or(""),
        )
        .map_err(|e| format!("outbound.rest_every / rest_seconds: {e}"))?;
        p.rest = rest.is_active().then_some(rest);
        p.outbound_auth = call_auth(
            "outbound",
            &self.auth,
            &self.auth_target,
            &self.auth_list,
            &self.password,
        )?;
        Ok(())
    }
}

impl InboundSection {
    fn apply(&self, p: &mut LinePolicy) -> Result<(), String> {
        let forward = self
            .forward
            .as_deref()
            .filter(|f| !f.trim().is_empty())
            .map(InboundForward::parse)
            .transpose()
            .map_err(|e| format!("inbound.forward: {e}"))?;
        let mode = self.mode.as_deref().map(keyword);
        match (mode.as_deref(), forward) {
            (None | Some("forward"), Some(f)) => p.inbound_forward = Some(f),
            (Some("forward"), None) => {
                return Err(
                    "inbound.mode = \"forward\" needs inbound.forward (an extension, \
                            user@host:port or a caller map)"
                        .into(),
                )
            }
            (None | Some("sip"), None) => p.inbound_forward = None,
            (Some("two_stage"), None) => p.inbound_forward = Some(InboundForward::TwoStage),
            (Some("reject"), None) => p.inbound_allowed = false,
            (Some(m @ ("sip" | "two_stage" | "reject")), Some(_)) => {
                return Err(format!(
                    "inbound.forward is set but inbound.mode = {m:?} does not use it \
                     (use mode = \"forward\")"
                ))
            }
            (Some(other), _) => {
                return Err(format!(
                    "inbound.mode = {other:?}: expected sip, reject, two_stage or forward"
                ))
            }
        }
        let timeout = self.no_input_timeout_secs.unwrap_or(10);
        if !(1..=300).contains(&timeout) {
            return Err(format!(
                "inbound.no_input_timeout_secs = {timeout}: must be 1 to 300"
            ));
        }
        p.no_input_timeout = Duration::from_secs(timeout);
        p.cid_mode = match self.cid.as_deref().map(keyword).as_deref() {
            None => None,
            Some("disabled") => Some(CidMode::Disabled),
            Some("remote_party_id") => Some(CidMode::RemotePartyId),
            Some("from") => Some(CidMode::From),
            Some(other) => {
                return Err(format!(
                    "inbound.cid = {other:?}: expected disabled, remote_party_id or from"
                ))
            }
        };
        p.cid_rules = dial_rules("inbound.cid_rules", &self.cid_rules)?;
        p.inbound_dial_rules = dial_rules("inbound.dial_rules", &self.dial_rules)?;
        p.inbound_auth = call_auth(
            "inbound",
            &self.auth,
            &self.auth_target,
            &self.auth_list,
            &self.password,
        )?;
        let limit = self.repeat_caller_limit.unwrap_or(0);
        let window = self.repeat_window_mins.unwrap_or(10);
        let block = self.repeat_block_hours.unwrap_or(24);
        if !(1..=1440).contains(&window) {
            return Err(format!(
                "inbound.repeat_window_mins = {window}: must be 1 to 1440"
            ));
        }
        if !(1..=8760).contains(&block) {
            return Err(format!(
                "inbound.repeat_block_hours = {block}: must be 1 to 8760"
            ));
        }
        let repeat = RepeatConfig::with_times(
            limit,
            Duration::from_secs(window * 60),
            Duration::from_secs(block * 3600),
        )
        .map_err(|e| format!("inbound.repeat_caller_limit = {limit}: {e}"))?;
        p.repeat_callers = (limit > 0).then_some(repeat);
        p.call_waiting = match self.call_waiting.as_deref().map(keyword).as_deref() {
            None | Some("off") | Some("disabled") => CallWaiting::Disabled,
            Some("hold_and_answer") => CallWaiting::HoldAndAnswer,
            Some("key_switch") => CallWaiting::KeySwitch,
            Some("answer_then_swap_back") => CallWaiting::AnswerThenSwapBack,
            Some(other) => {
                return Err(format!(
                    "inbound.call_waiting = {other:?}: expected off, hold_and_answer, \
                     key_switch or answer_then_swap_back"
                ))
            }
        };
        Ok(())
    }
}

impl SimSection {
    fn apply(&self, p: &mut LinePolicy) -> Result<(), String> {
        let spec = |key: &str, text: &Option<String>| {
            LimitSpec::parse(text.as_deref().unwrap_or("")).map_err(|e| format!("sim.{key}: {e}"))
        };
        let mut limits = SimLimits {
            minutes: spec("minutes", &self.minutes)?,
            calls: spec("calls", &self.calls)?,
            ..SimLimits::default()
        };
        if let Some(v) = self.count_unanswered {
            limits.count_unanswered = v;
        }
        if let Some(unit) = self.billing_unit_secs {
            if !(1..=3600).contains(&unit) {
                return Err(format!("sim.billing_unit_secs = {unit}: must be 1 to 3600"));
            }
            limits.billing_unit_s = unit;
        }
        if let Some(c) = self.correction_secs {
            if c > 600 {
                return Err(format!("sim.correction_secs = {c}: must be 0 to 600"));
            }
            limits.correction_s = c;
        }
        limits.per_call_max_min = self.max_call_minutes.filter(|m| *m > 0);
        limits.sms = self.sms_limit;
        if let Some(v) = self.keep_module_registered {
            limits.keep_module_registered = v;
        }
        if let Some(v) = self.keep_sip_registered {
            limits.keep_sip_registered = v;
        }
        if let Some(v) = self.hang_up_when_used_up {
            limits.hang_up_when_used_up = v;
        }
        if let Some(b) = &self.balance_report {
            if !is_phone_number(b.number.trim()) {
                return Err(format!(
                    "sim.balance_report.number = {:?}: not a phone number ('+' and digits)",
                    b.number
                ));
            }
            limits.balance_report = Some(BalanceReport {
                number: b.number.trim().to_owned(),
                identifier: b.identifier.clone(),
                threshold_min: b.threshold_min,
            });
        }
        p.limits = limits;
        let digits = |key: &str, pin: &String| -> Result<String, String> {
            if (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
                Ok(pin.clone())
            } else {
                Err(format!("{key}: must be 4 to 8 digits"))
            }
        };
        if let Some(pin) = &self.pin {
            p.pin = Some(digits("sim.pin", pin)?);
        }
        if let Some(pin2) = &self.pin2 {
            p.pin2 = Some(digits("sim.pin2", pin2)?);
        }
        if self.fixed_dialing.is_some() && p.pin2.is_none() {
            return Err(
                "sim.fixed_dialing: needs sim.pin2 (the SIM changes its fixed dialling lock \
                 only with PIN2)"
                    .into(),
            );
        }
        p.fixed_dialing = self.fixed_dialing;
        p.clir = self.clir.unwrap_or(false);
        p.gprs = self.gprs;
        Ok(())
    }
}

impl GsmSection {
    fn apply(&self, p: &mut LinePolicy) -> Result<(), String> {
        let forward = |key: &str, text: &Option<String>| -> Result<ForwardPolicy, String> {
            match text {
                None => Ok(ForwardPolicy::Unchanged),
                Some(t) => t.parse().map_err(|e| format!("gsm.{key}: {e}")),
            }
        };
        let forwarding = ForwardingConfig {
            unconditional: forward("forward_unconditional", &self.forward_unconditional)?,
            busy: forward("forward_busy", &self.forward_busy)?,
            no_reply: forward("forward_no_reply", &self.forward_no_reply)?,
            not_reachable: forward("forward_not_reachable", &self.forward_not_reachable)?,
            no_reply_seconds: self.forward_no_reply_secs,
        };
        forwarding
            .validate()
            .map_err(|e| format!("gsm.forward_no_reply_secs: {e}"))?;
        p.forwarding = forwarding;
        if let Some(imei) = &self.imei {
            p.imei = imei
                .parse::<ImeiPolicy>()
                .map_err(|e| format!("gsm.imei: {e}"))?;
        }
        if let Some(op) = &self.operator {
            p.operator = op
                .parse::<OperatorChoice>()
                .map_err(|e| format!("gsm.operator: {e}"))?;
        }
        let rotation_keys = self.bcch_cells.is_some()
            || self.bcch_interval.is_some()
            || self.bcch_after_calls.is_some()
            || self.bcch_after_failures.is_some()
            || self.bcch_list.is_some();
        let mode = self.bcch.as_deref().unwrap_or("auto");
        if keyword(mode) == "rotation" {
            let cells = self.bcch_cells.ok_or(
                "gsm.bcch = \"rotation\" needs gsm.bcch_cells (how many cells to rotate among, 1 to 7)",
            )?;
            let interval = parse_interval(self.bcch_interval.as_deref().ok_or(
                "gsm.bcch = \"rotation\" needs gsm.bcch_interval (minutes: `40` or `30-50`)",
            )?)
            .map_err(|e| format!("gsm.bcch_interval: {e}"))?;
            let list = self
                .bcch_list
                .as_deref()
                .map(str::parse::<BcchList>)
                .transpose()
                .map_err(|e| format!("gsm.bcch_list: {e}"))?;
            let rotation = RotationConfig::new(
                cells,
                interval,
                self.bcch_after_calls,
                self.bcch_after_failures,
                list,
            )
            .map_err(|e| format!("gsm.bcch rotation: {e}"))?;
            p.bcch = BcchMode::Rotation(rotation);
        } else {
            if rotation_keys {
                return Err(format!(
                    "gsm.bcch_cells / bcch_interval / bcch_after_calls / bcch_after_failures / \
                     bcch_list only apply with gsm.bcch = \"rotation\" (it is {mode:?})"
                ));
            }
            p.bcch = mode
                .parse::<BcchMode>()
                .map_err(|e| format!("gsm.bcch: {e}"))?;
        }
        Ok(())
    }
}

fn line_policy(
    outbound: &OutboundSection,
    inbound: &InboundSection,
    sim: &SimSection,
    gsm: &GsmSection,
) -> Result<LinePolicy, String> {
    let mut p = LinePolicy::default();
    outbound.apply(&mut p)?;
    inbound.apply(&mut p)?;
    sim.apply(&mut p)?;
    gsm.apply(&mut p)?;
    Ok(p)
}

/// What the policy sections produce for the engine.
#[derive(Debug, Clone)]
pub struct PolicySettings {
    /// Per-line settings of every `[[line]]`.
    pub lines: BTreeMap<LineId, LinePolicy>,
    /// Gateway-wide routing.
    pub routing: RoutingConfig,
    /// F-6.4.2 to F-6.4.4.
    pub line_selection: LineSelection,
    /// `[routing] extension_host`, resolved.
    pub extension_host: Option<std::net::SocketAddr>,
}

/// F-6.1.2: `GMT±X` / `UTC±X` (X from -11 to 12), `GMT` / `UTC` alone for 0.
pub fn parse_timezone(text: &str) -> Option<i8> {
    let t = text.trim().to_ascii_uppercase();
    let rest = t.strip_prefix("GMT").or_else(|| t.strip_prefix("UTC"))?;
    if rest.is_empty() {
        return Some(0);
    }
    let (negative, digits) = match rest.as_bytes().first() {
        Some(b'+') => (false, &rest[1..]),
        Some(b'-') => (true, &rest[1..]),
        _ => return None,
    };
    if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i8 = digits.parse().ok()?;
    let hours = if negative { -value } else { value };
    (-11..=12).contains(&hours).then_some(hours)
}

impl Config {
    /// Builds the per-line policies and the gateway-wide routing from the file, checking
    /// everything that involves more than one key (prefix uniqueness, group lines, …).
    /// The error names the line and the key.
    pub fn policy_settings(&self) -> Result<PolicySettings, String> {
        let d = &self.defaults;
        line_policy(&d.outbound, &d.inbound, &d.sim, &d.gsm)
            .map_err(|e| format!("defaults.{e}"))?;
        let mut lines = BTreeMap::new();
        for l in &self.lines {
            let mut policy = line_policy(
                &l.outbound.or(&d.outbound),
                &l.inbound.or(&d.inbound),
                &l.sim.or(&d.sim),
                &l.gsm.or(&d.gsm),
            )
            .map_err(|e| format!("line {}: {e}", l.id))?;
            if let Some(n) = &l.sim_number {
                if !is_phone_number(n.trim()) {
                    return Err(format!(
                        "line {}: sim_number = {n:?}: not a phone number ('+' and up to 20 digits)",
                        l.id
                    ));
                }
                policy.sim_number = Some(n.trim().to_owned());
            }
            lines.insert(LineId(l.id), policy);
        }
        let mut routing = RoutingConfig {
            prefixes: self.prefixes()?,
            call_memory: self.routing.call_memory,
            ..RoutingConfig::default()
        };
        let line_selection = match self
            .routing
            .line_selection
            .as_deref()
            .map(keyword)
            .as_deref()
        {
            None | Some("round_robin") => LineSelection::RoundRobin,
            Some("fewest_calls") => LineSelection::FewestCalls,
            Some("least_talk_time") => LineSelection::LeastTalkTime,
            Some(other) => {
                return Err(format!(
                    "routing.line_selection = {other:?}: expected round_robin, fewest_calls or \
                     least_talk_time"
                ))
            }
        };
        for (i, n) in self.routing.two_stage_numbers.iter().enumerate() {
            let n = n.trim();
            if n.is_empty() || n.contains(['@', ' ', ':', ';']) {
                return Err(format!(
                    "routing.two_stage_numbers[{i}] = {n:?}: expected a SIP user part such as \"8000\""
                ));
            }
            routing.own_numbers.insert(n.to_owned(), Vec::new());
        }
        for a in &self.sip.accounts {
            let user = a.phone_number.clone().unwrap_or_else(|| a.auth_id.clone());
            let own: Vec<LineId> = match self.sip.mode {
                SipMode::PerLine => a.line.into_iter().map(LineId).collect(),
                SipMode::PerGroup => a.lines.iter().copied().map(LineId).collect(),
                _ => continue,
            };
            routing.own_numbers.entry(user).or_insert(own);
        }
        let extension_host = match &self.routing.extension_host {
            Some(h) => Some(super::resolve("routing.extension_host", h)?),
            None => None,
        };
        if let Some(tz) = &self.system.timezone {
            let hours = parse_timezone(tz).ok_or_else(|| {
                format!(
                    "system.timezone = {tz:?}: expected GMT±X or UTC±X with X a whole number \
                     from -11 to 12, e.g. \"GMT+8\""
                )
            })?;
            if !routing.set_utc_offset_hours(hours) {
                return Err(format!("system.timezone = {tz:?}: not a valid offset"));
            }
        }
        if let Some(r) = self
            .system
            .reboot
            .as_deref()
            .filter(|r| !r.trim().is_empty())
        {
            routing.reboot =
                Some(Schedule::parse(r).map_err(|e| format!("system.reboot = {r:?}: {e}"))?);
        }
        if let Some(r) = self
            .system
            .cdr_reset
            .as_deref()
            .filter(|r| !r.trim().is_empty())
        {
            routing.cdr_reset = Some(Schedule::Daily(
                DailyTime::parse(r).map_err(|e| format!("system.cdr_reset = {r:?}: {e}"))?,
            ));
        }
        if let Some(rp) = &self.run_policy {
            routing.run_policy = Some(run_policy(rp)?);
        }
        if let Some(g) = &self.group {
            let (plan, peer) = self.group_plan(g, &lines)?;
            routing.group = plan;
            routing.group_peer = peer;
        }
        Ok(PolicySettings {
            lines,
            routing,
            line_selection,
            extension_host,
        })
    }

    /// F-6.3.13 to F-6.3.20: the prefixes of the lines (or groups), `None` when no line
    /// has one.
    fn prefixes(&self) -> Result<Option<LinePrefixes>, String> {
        let r = &self.routing;
        let match_on = match r.match_on.as_deref().map(keyword).as_deref() {
            None | Some("callee") => MatchOn::Callee,
            Some("caller") => MatchOn::Caller,
            Some(other) => {
                return Err(format!(
                    "routing.match = {other:?}: expected caller or callee"
                ))
            }
        };
        if r.strip_prefix && match_on == MatchOn::Caller {
            return Err(
                "routing.strip_prefix only works with routing.match = \"callee\" (F-6.3.14)".into(),
            );
        }
        let parse = |key: String, text: &str| {
            PrefixList::parse(text).map_err(|e| format!("{key} = {text:?}: {e}"))
        };
        // (label used in messages, lines, own prefix) of each entry.
        let mut entries: Vec<(String, Vec<LineId>, Option<String>)> = Vec::new();
        if self.sip.mode == SipMode::PerGroup {
            for l in &self.lines {
                if l.prefix.is_some() {
                    return Err(format!(
                        "line {}: prefix: in per_group mode the prefix belongs to the group's \
                         [[sip.account]] (F-6.3.20)",
                        l.id
                    ));
                }
            }
            for a in &self.sip.accounts {
                let group = a.group.unwrap_or(0);
                entries.push((
                    format!("group {group}: sip.account.prefix"),
                    a.lines.iter().copied().map(LineId).collect(),
                    a.prefix.clone(),
                ));
            }
        } else {
            if let Some(a) = self.sip.accounts.iter().find(|a| a.prefix.is_some()) {
                return Err(format!(
                    "sip.account {:?}: prefix is only for per_group mode; set line.prefix",
                    a.auth_id
                ));
            }
            for l in &self.lines {
                entries.push((
                    format!("line {}: prefix", l.id),
                    vec![LineId(l.id)],
                    l.prefix.clone(),
                ));
            }
        }
        if let Some(first) = &r.prefix_auto {
            let count = if self.sip.mode == SipMode::PerGroup {
                self.sip
                    .accounts
                    .iter()
                    .filter_map(|a| a.group)
                    .max()
                    .map(usize::from)
            } else {
                self.lines.iter().map(|l| usize::from(l.id)).max()
            }
            .unwrap_or(0);
            let values = auto_configure(first, count)
                .map_err(|e| format!("routing.prefix_auto = {first:?}: {e}"))?;
            parse("routing.prefix_auto".into(), first)?;
            for (i, (_, lines, prefix)) in entries.iter_mut().enumerate() {
                let index = if self.sip.mode == SipMode::PerGroup {
                    self.sip
                        .accounts
                        .get(i)
                        .and_then(|a| a.group)
                        .map(usize::from)
                } else {
                    lines.first().map(|l| usize::from(l.0))
                };
                if prefix.is_none() {
                    *prefix = index
                        .and_then(|n| n.checked_sub(1))
                        .and_then(|n| values.get(n))
                        .cloned();
                }
            }
        }
        if entries.iter().all(|(_, _, p)| p.is_none()) {
            return Ok(None);
        }
        let mut groups = Vec::new();
        for (key, lines, prefix) in entries {
            let list = parse(key, prefix.as_deref().unwrap_or(""))?;
            groups.push((lines, list));
        }
        let unique = matches!(self.sip.mode, SipMode::PerLine | SipMode::PerGroup);
        LinePrefixes::grouped(groups, match_on, r.strip_prefix, unique)
            .map(Some)
            .map_err(|e| format!("line prefixes: {e}"))
    }

    /// Appendix D and F-D.6: the group plan of a group-holding device and its part in a
    /// multi-device group.
    fn group_plan(
        &self,
        g: &GroupSection,
        lines: &BTreeMap<LineId, LinePolicy>,
    ) -> Result<(Option<GroupPlan>, Option<GroupPeer>), String> {
        if let Some(secret) = &g.secret {
            if secret.chars().count() < 16 {
                return Err("group.secret: at least 16 characters".into());
            }
        }
        let access_line = match (g.access_line, &g.server) {
            (Some(_), Some(_)) => {
                return Err(
                    "group: set access_line (this device holds the group) or server \
                            (this device's lines join another's), not both"
                        .into(),
                )
            }
            (None, None) => return Err("group: access_line (or server) is required".into()),
            (Some(access), None) => access,
            (None, Some(server)) => {
                return self.group_member(g, server, lines).map(|p| (None, Some(p)))
            }
        };
        let known: BTreeSet<u16> = self.lines.iter().map(|l| l.id).collect();
        for id in std::iter::once(&access_line).chain(&g.members) {
            if !known.contains(id) {
                return Err(format!(
                    "group: line {id} is not configured (no [[line]] with id = {id})"
                ));
            }
        }
        let mut members = Vec::new();
        for id in &g.members {
            let number = lines
                .get(&LineId(*id))
                .and_then(|p| p.sim_number.clone())
                .ok_or_else(|| {
                    format!(
                        "group.members: line {id} has no sim_number; set line.sim_number so the \
                         access line can forward to it (F-D.5)"
                    )
                })?;
            members.push((LineId(*id), number));
        }
        if g.device.is_some() {
            return Err("group.device is only for member devices (with group.server)".into());
        }
        let peer = g.secret.clone().map(|secret| GroupPeer::Server { secret });
        let plan = if peer.is_some() {
            GroupPlan::server(LineId(access_line), members)
        } else {
            GroupPlan::new(LineId(access_line), members)
        }
        .map_err(|e| format!("group: {e}"))?;
        if let Some(access) = lines.get(&LineId(access_line)) {
            if access.forwarding.busy != ForwardPolicy::Unchanged {
                return Err(format!(
                    "line {}: gsm.forward_busy must be \"unchanged\" on the group's access line \
                     (the group sets busy forwarding itself)",
                    access_line
                ));
            }
            if access.call_waiting != CallWaiting::Disabled {
                return Err(format!(
                    "line {}: inbound.call_waiting must be off on the group's access line \
                     (the network would offer a waiting call instead of forwarding)",
                    access_line
                ));
            }
        }
        Ok((Some(plan), peer))
    }

    /// F-D.6: a member device, reporting `g.members` to the group server at `server`.
    fn group_member(
        &self,
        g: &GroupSection,
        server: &str,
        lines: &BTreeMap<LineId, LinePolicy>,
    ) -> Result<GroupPeer, String> {
        let address: std::net::SocketAddr = server
            .trim()
            .parse()
            .map_err(|_| format!("group.server = {server:?}: not an ip:port address"))?;
        let secret = g
            .secret
            .clone()
            .ok_or("group.secret is required with group.server (no default)")?;
        let device = g
            .device
            .clone()
            .ok_or("group.device is required with group.server (this device's id)")?;
        if !cellgate_policy::gsm::group_peer::is_device_id(&device) {
            return Err(format!(
                "group.device = {device:?}: 1 to 64 of A-Z a-z 0-9 . _ -"
            ));
        }
        if g.members.is_empty() {
            return Err("group.members: a member device needs at least one line".into());
        }
        let known: BTreeSet<u16> = self.lines.iter().map(|l| l.id).collect();
        let mut members = Vec::new();
        for id in &g.members {
            if !known.contains(id) {
                return Err(format!(
                    "group: line {id} is not configured (no [[line]] with id = {id})"
                ));
            }
            if members.contains(&LineId(*id)) {
                return Err(format!("group.members: line {id} is listed twice"));
            }
            if lines
                .get(&LineId(*id))
                .and_then(|p| p.sim_number.as_ref())
                .is_none()
            {
                return Err(format!(
                    "group.members: line {id} has no sim_number; set line.sim_number so the \
                     server can forward to it (F-D.5, F-D.6)"
                ));
            }
            members.push(LineId(*id));
        }
        Ok(GroupPeer::Member {
            server: address,
            device,
            secret,
            lines: members,
        })
    }
}

fn run_policy(rp: &RunPolicySection) -> Result<RunPolicy, String> {
    let mut conditions = Vec::new();
    for (i, c) in rp.conditions.iter().enumerate() {
        conditions.push(
            c.parse::<Condition>()
                .map_err(|e| format!("run_policy.conditions[{i}]: {e}"))?,
        );
    }
    let mut actions = Vec::new();
    for (i, a) in rp.actions.iter().enumerate() {
        actions.push(
            a.parse::<Action>()
                .map_err(|e| format!("run_policy.actions[{i}]: {e}"))?,
        );
    }
    let combine = match &rp.combine {
        Some(c) => c
            .parse::<Combine>()
            .map_err(|e| format!("run_policy.combine: {e}"))?,
        None => Combine::Any,
    };
    RunPolicy::new(
        conditions,
        combine,
        actions,
        rp.threshold_calls.unwrap_or(THRESHOLD_CALLS),
    )
    .map_err(|e| format!("run_policy: {e}"))
}
