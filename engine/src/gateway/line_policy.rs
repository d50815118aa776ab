//! Per-line settings of manual §6.6 to §6.15 (outbound, inbound, SIM limits, GSM side)
//! and the gateway-wide routing settings they work with (prefixes, run policy,
//! schedules, group mode). The decisions themselves live in `cellgate-policy`.

use std::collections::BTreeMap;
use std::time::Duration;

use cellgate_hal::LineId;

use cellgate_policy::gsm::{
    BcchMode, ForwardPolicy, ForwardingConfig, GroupPlan, ImeiPolicy, OperatorChoice,
};
use cellgate_policy::limits::SimLimits;
use cellgate_policy::routing::{
    CallAuth, DialRules, InboundForward, LinePrefixes, RepeatConfig, RestRule,
};
use cellgate_policy::run_policy::RunPolicy;
use cellgate_policy::schedule::Schedule;

use super::CidMode;

/// F-6.6.6 / F-6.6.7: what an outbound two-stage call does instead of asking for the
/// second-stage number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundForward {
    /// Dial this number directly.
    Fixed(String),
    /// `M1:<service>`: dial the service number, then 1 s after it answers send the
    /// callee number as DTMF followed by `#` (M35 only).
    ServiceDtmf(String),
}

impl OutboundForward {
    /// Parses the forward-number field: `M1:<digits>` or a plain number.
    pub fn parse(text: &str) -> Result<Option<Self>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let (value, special) = match text.strip_prefix("M1:").or(text.strip_prefix("m1:")) {
            Some(rest) => (rest, true),
            None => (text, false),
        };
        let ok = !value.is_empty()
            && value.len() <= 32
            && value
                .chars()
                .enumerate()
                .all(|(i, c)| c.is_ascii_digit() || matches!(c, '*' | '#') || (i == 0 && c == '+'));
        if !ok {
            return Err(format!(
                "{text:?} is not a phone number (digits, `*`, `#`, a leading `+`; `M1:<number>` for the service-number mode)"
            ));
        }
        Ok(Some(if special {
            Self::ServiceDtmf(value.to_owned())
        } else {
            Self::Fixed(value.to_owned())
        }))
    }
}

/// F-6.8.13 to F-6.8.16: what a line does with a call waiting during a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallWaiting {
    /// Call waiting off: a second call is rejected by the network as busy.
    #[default]
    Disabled,
    /// Mode 1: hold the current call, take the new one, resume when it ends.
    HoldAndAnswer,
    /// Mode 2: `32` swaps, `31` hangs up the current call.
    KeySwitch,
    /// Mode 3: take the new one, 2 s later swap back.
    AnswerThenSwapBack,
}

/// Everything configured for one line.
#[derive(Debug, Clone)]
pub struct LinePolicy {
    /// F-6.6.5: the line may place outbound calls.
    pub outbound_allowed: bool,
    /// F-6.6.3: an outbound call not answered in this time is hung up.
    pub dial_timeout: Option<Duration>,
    /// F-6.6.4: an outbound call not ringing in this time is hung up.
    pub no_ring_timeout: Option<Duration>,
    /// F-6.6.1: redials of a failed outbound call (0 = off, the default).
    pub auto_redial: u8,
    /// F-6.6.6 / F-6.6.7: fixed second stage of outbound two-stage calls.
    pub outbound_forward: Option<OutboundForward>,
    /// F-6.6.8: rewrite of the outbound callee (Appendix G).
    pub dial_rules: DialRules,
    /// F-6.6.9: only callees fully matching a rule may be called.
    pub strict_dial_rules: bool,
    /// F-6.6.10: every N calls rest a–b seconds.
    pub rest: Option<RestRule>,
    /// §6.7: outbound call authentication.
    pub outbound_auth: CallAuth,
    /// F-6.8.1: incoming GSM calls go to VoIP at all ("Call VoIP").
    pub inbound_allowed: bool,
    /// F-6.8.2 / F-6.8.3 / F-6.8.10 / F-6.8.11: where incoming calls go; `None` = no
    /// inbound route (calls are rejected unless the SIP settings give the line a
    /// forward target).
    pub inbound_forward: Option<InboundForward>,
    /// F-6.8.5: two-stage no-input timeout.
    pub no_input_timeout: Duration,
    /// F-6.8.6 to F-6.8.8: caller id toward SIP (`None`: the gateway-wide mode).
    pub cid_mode: Option<CidMode>,
    /// F-6.8.9: rewrite of the caller number's prefix (Appendix G).
    pub cid_rules: DialRules,
    /// F-6.8.12: rewrite of the inbound second-stage number (Appendix G).
    pub inbound_dial_rules: DialRules,
    /// §6.9: inbound call authentication.
    pub inbound_auth: CallAuth,
    /// F-6.8.18: automatic blacklist of repeated callers.
    pub repeat_callers: Option<RepeatConfig>,
    /// F-6.8.13 to F-6.8.16.
    pub call_waiting: CallWaiting,
    /// §6.10: SIM limits.
    pub limits: SimLimits,
    /// F-6.10.4: the SIM's own number, when known.
    pub sim_number: Option<String>,
    /// F-6.10.6: PIN 1, entered once when the SIM asks for it (a wrong PIN is never
    /// retried: the SIM would block).
    pub pin: Option<String>,
    /// F-6.10.7: PIN2, entered once when the SIM asks for it and used to set
    /// [`Self::fixed_dialing`]; a PIN2 the SIM refused is not offered to that SIM again.
    pub pin2: Option<String>,
    /// F-6.10.7: the SIM's fixed dialling (FDN) lock on (`Some(true)`), off
    /// (`Some(false)`) or left as the SIM has it (`None`); changed with [`Self::pin2`]
    /// when the line comes up and the SIM has it otherwise.
    pub fixed_dialing: Option<bool>,
    /// F-6.10.21: withhold the SIM's number on outbound calls (CLIR).
    pub clir: bool,
    /// F-6.10.1: GPRS attached (`Some(true)`), detached (`Some(false)`) or left as the
    /// module has it (`None`).
    pub gprs: Option<bool>,
    /// §6.11: SIM call forwarding.
    pub forwarding: ForwardingConfig,
    /// §6.12: IMEI.
    pub imei: ImeiPolicy,
    /// §6.14: operator.
    pub operator: OperatorChoice,
    /// §6.15: cell selection.
    pub bcch: BcchMode,
}

impl Default for LinePolicy {
    fn default() -> Self {
        Self {
            outbound_allowed: true,
            dial_timeout: None,
            no_ring_timeout: None,
            auto_redial: 0,
            outbound_forward: None,
            dial_rules: DialRules::default(),
            strict_dial_rules: false,
            rest: None,
            outbound_auth: CallAuth::default(),
            inbound_allowed: true,
            inbound_forward: None,
            no_input_timeout: Duration::from_secs(10),
            cid_mode: None,
            cid_rules: DialRules::default(),
            inbound_dial_rules: DialRules::default(),
            inbound_auth: CallAuth::default(),
            repeat_callers: None,
            call_waiting: CallWaiting::default(),
            limits: SimLimits::default(),
            sim_number: None,
            pin: None,
            pin2: None,
            fixed_dialing: None,
            clir: false,
            gprs: None,
            // Unlike the manual's default (Disable, F-6.11.3), a line without its own
            // forwarding settings leaves the SIM's forwarding as it is.
            forwarding: ForwardingConfig {
                unconditional: ForwardPolicy::Unchanged,
                busy: ForwardPolicy::Unchanged,
                no_reply: ForwardPolicy::Unchanged,
                not_reachable: ForwardPolicy::Unchanged,
                no_reply_seconds: None,
            },
            imei: ImeiPolicy::Keep,
            operator: OperatorChoice::Auto,
            bcch: BcchMode::Auto,
        }
    }
}

/// Gateway-wide routing settings.
#[derive(Debug, Clone)]
pub struct RoutingConfig {
    /// F-6.3.13 to F-6.3.18: line (or group) prefixes; `None` = any line.
    pub prefixes: Option<LinePrefixes>,
    /// F-6.6.2: remember callee -> line for 10 minutes.
    pub call_memory: bool,
    /// §6.16, applied to every line.
    pub run_policy: Option<RunPolicy>,
    /// F-6.1.10: scheduled reboot (restart of every module).
    pub reboot: Option<Schedule>,
    /// F-6.1.11: daily CDR reset.
    pub cdr_reset: Option<Schedule>,
    /// Appendix D: GSM group (hunt) mode.
    pub group: Option<GroupPlan>,
    /// F-D.6: this instance as server or member of a multi-device group.
    pub group_peer: Option<super::GroupPeer>,
    /// Callee users that mean "the gateway itself" (registration accounts), with the
    /// lines each stands for (empty = any line): an INVITE to one of them is an outbound
    /// two-stage call (F-2.2.3).
    pub own_numbers: BTreeMap<String, Vec<LineId>>,
    /// F-6.1.2: the zone of the network's local time (limits and schedules).
    pub utc_offset: time::UtcOffset,
    /// The network time at start (local time, Unix seconds) instead of the system
    /// clock's: simulations and tests run on a virtual clock from a fixed date.
    pub start_time: Option<(time::PrimitiveDateTime, i64)>,
}

impl RoutingConfig {
    /// F-6.1.2: sets [`RoutingConfig::utc_offset`] to whole `hours` east of UTC; `false`
    /// (and no change) when `hours` is not a valid offset (-25 < hours < 26).
    pub fn set_utc_offset_hours(&mut self, hours: i8) -> bool {
        match time::UtcOffset::from_hms(hours, 0, 0) {
            Ok(offset) => {
                self.utc_offset = offset;
                true
            }
            Err(_) => false,
        }
    }
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            prefixes: None,
            call_memory: false,
            run_policy: None,
            reboot: None,
            cdr_reset: None,
            group: None,
            group_peer: None,
            own_numbers: BTreeMap::new(),
            utc_offset: time::UtcOffset::UTC,
            start_time: None,
        }
    }
}
