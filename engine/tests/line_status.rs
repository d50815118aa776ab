//! The per-line status model of manual §5.2 and what the limits and the run policy do to
//! a line's SIP registration and availability, driven through the sans-IO core.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cellgate_engine::gateway::LinePolicy;
use cellgate_engine::sip::register::{AccountConfig, RegistrationConfig, ServerConfig};
use cellgate_engine::sip::Message;
use cellgate_engine::{Gateway, GatewayConfig, InboundTrust, ModemCommand, Output};
use cellgate_hal::{
    AccessTech, LineId, ModemEvent, PowerMode, Registration, RegistrationState, ReleaseCause,
};
use cellgate_policy::limits::LimitSpec;
use cellgate_policy::run_policy::{Action, Combine, Condition, RunPolicy};

const GW: &str = "127.0.0.1:5060";
const PHONE: &str = "127.0.0.1:5070";
const REGISTRAR: &str = "127.0.0.1:5090";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn invite(number: &str, call_id: &str) -> String {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    format!(
        "INVITE sip:{number}@{GW} SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bK{call_id}\r\n\
From: <sip:alice@{PHONE}>;tag=a1\r\nTo: <sip:{number}@{GW}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:alice@{PHONE}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

struct H {
    gw: Gateway,
    now: Instant,
}

impl H {
    fn new(configure: impl FnOnce(&mut GatewayConfig)) -> Self {
        let mut config = GatewayConfig::new(addr(GW));
        config.trust = InboundTrust::LoopbackOnly;
        config.seed = Some(3);
        configure(&mut config);
        let now = Instant::now();
        let mut gw = Gateway::new(config, [LineId(1)]);
        gw.handle_line_status(LineId(1), true, true);
        let local = time::macros::datetime!(2026-03-10 10:00);
        gw.set_local_time(now, Some(local), local.assume_utc().unix_timestamp());
        gw.start(now);
        Self { gw, now }
    }

    /// Everything sent or run, as short strings (bookkeeping outputs included).
    fn drain(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.gw.poll_output())
            .map(|o| match o {
                Output::Transmit { to, payload } => match Message::parse(&payload) {
                    Ok(Message::Response(r)) => r.code.into_u16().to_string(),
                    Ok(Message::Request(r)) => {
                        let text = String::from_utf8_lossy(&payload).to_string();
                        let expires = text
                            .lines()
                            .find_map(|l| l.strip_prefix("Expires: "))
                            .map(|e| format!(" expires={e}"))
                            .unwrap_or_default();
                        format!("{} to {to}{expires}", r.method)
                    }
                    Err(e) => format!("unparsable: {e}"),
                },
                Output::Modem { line, command, .. } => format!("{line}:{command:?}"),
                Output::Counters { .. } => "counters".into(),
                Output::CallRecord(r) => format!("record:{}:{}", r.number, r.answered),
                other => format!("{other:?}"),
            })
            .collect()
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.gw.handle_timeout(self.now);
    }

    fn event(&mut self, event: ModemEvent) {
        self.gw.handle_modem_event(self.now, LineId(1), event);
    }

    fn state(&self) -> cellgate_engine::gateway::LineStatus {
        self.gw.line_status(self.now).remove(0)
    }

    fn call_answered_for(&mut self, call_id: &str, talk: Duration) {
        self.gw
            .handle_datagram(self.now, addr(PHONE), invite("5551234", call_id).as_bytes());
        self.gw.handle_command_result(
            self.now,
            LineId(1),
            None,
            &ModemCommand::Dial("5551234".into()),
            Ok(Some(1)),
        );
        self.event(ModemEvent::CallAlerting { index: 1 });
        self.event(ModemEvent::CallConnected { index: 1 });
        self.advance(talk);
        self.event(ModemEvent::CallReleased {
            index: 1,
            cause: ReleaseCause(16),
        });
    }
}

#[test]
fn status_row_follows_the_call_and_keeps_the_cdr_f_5_2_1() {
    let mut h = H::new(|_| {});
    assert_eq!(h.state().state, "IDLE");
    h.gw.handle_datagram(h.now, addr(PHONE), invite("5551234", "s1").as_bytes());
    assert_eq!(h.state().state, "DIALING 5551234");
    h.event(ModemEvent::CallAlerting { index: 1 });
    assert_eq!(h.state().state, "ALERTING");
    h.event(ModemEvent::CallConnected { index: 1 });
    assert_eq!(h.state().state, "CONNECTED");
    h.advance(Duration::from_secs(42));
    h.event(ModemEvent::CallReleased {
        index: 1,
        cause: ReleaseCause(16),
    });
    let out = h.drain();
    assert!(out.contains(&"record:5551234:true".to_owned()), "{out:?}");
    assert!(out.contains(&"counters".to_owned()), "{out:?}");
    let row = h.state();
    assert_eq!(row.state, "IDLE");
    assert_eq!(row.calls, "1/1");
    assert_eq!(row.acd, Some(42));
    assert_eq!(row.asr, Some(100));
    assert_eq!(row.total_seconds, 42);
    assert_eq!(row.sim, "Y");
    assert!(row.gsm && row.enabled && row.outbound && row.inbound);
    h.advance(Duration::from_secs(125));
    assert_eq!(h.state().idle_minutes, Some(2));
    h.gw.reset_cdr(h.now, LineId(1));
    assert_eq!(h.state().calls, "0/0");
}

fn line_account(config: &mut GatewayConfig) {
    let account = AccountConfig {
        auth_id: "1001".into(),
        password: "pw".into(),
        phone_number: None,
        display_name: None,
    };
    let mut reg = RegistrationConfig::new("line 1", account, ServerConfig::new(addr(REGISTRAR)));
    reg.lines = vec![LineId(1)];
    config.registrations.push(reg);
}

#[test]
fn used_up_minutes_lock_outbound_and_pause_the_line_account_f_6_10_3_f_6_10_15() {
    let mut h = H::new(|c| {
        line_account(c);
        let mut policy = LinePolicy::default();
        policy.limits.minutes = LimitSpec::parse("1").expect("limit");
        c.lines.insert(LineId(1), policy);
    });
    let first = h.drain();
    assert!(
        first.contains(&format!("REGISTER to {REGISTRAR} expires=3600")),
        "{first:?}"
    );
    assert_eq!(h.state().remaining_minutes, Some(1));
    h.call_answered_for("u1", Duration::from_secs(30));
    let out = h.drain();
    assert!(
        out.contains(&format!("REGISTER to {REGISTRAR} expires=0")),
        "{out:?}"
    );
    let row = h.state();
    assert_eq!(row.remaining_minutes, Some(0));
    assert!(!row.outbound, "F-5.2.2.22");
    assert!(!row.voip);
    h.gw.handle_datagram(h.now, addr(PHONE), invite("5551234", "u2").as_bytes());
    let out = h.drain();
    assert!(out.contains(&"503".to_owned()), "{out:?}");
    // Reset icon 1 (F-5.2.1.20): the line calls and registers again.
    h.gw.reset_remaining_time(h.now, LineId(1));
    let out = h.drain();
    assert!(
        out.contains(&format!("REGISTER to {REGISTRAR} expires=3600")),
        "{out:?}"
    );
    assert!(h.state().outbound);
}

#[test]
fn keep_sip_registered_keeps_the_account_when_the_limit_is_used_up_f_6_10_3() {
    let mut h = H::new(|c| {
        line_account(c);
        let mut policy = LinePolicy::default();
        policy.limits.minutes = LimitSpec::parse("1").expect("limit");
        policy.limits.keep_sip_registered = true;
        c.lines.insert(LineId(1), policy);
    });
    h.drain();
    h.call_answered_for("k1", Duration::from_secs(30));
    let out = h.drain();
    assert!(!out.iter().any(|o| o.contains("expires=0")), "{out:?}");
    assert!(!h.state().outbound);
}

#[test]
fn losing_gsm_registration_pauses_the_line_account_f_5_2_1_6() {
    let mut h = H::new(line_account);
    h.drain();
    h.event(ModemEvent::RegistrationChanged(Registration {
        state: RegistrationState::Searching,
        lac: None,
        cell_id: None,
        tech: Some(AccessTech::Gsm),
    }));
    let out = h.drain();
    assert!(
        out.contains(&format!("REGISTER to {REGISTRAR} expires=0")),
        "{out:?}"
    );
    assert!(!h.state().gsm && !h.state().voip);
}

#[test]
fn run_policy_locks_the_line_red_until_restored_f_6_16_12() {
    let mut h = H::new(|c| {
        c.routing.run_policy = Some(
            RunPolicy::new(
                vec![Condition::ConsecutiveUnanswered(1)],
                Combine::Any,
                vec![Action::DisableOutbound],
                30,
            )
            .expect("policy"),
        );
    });
    h.gw.handle_datagram(h.now, addr(PHONE), invite("5550486", "r1").as_bytes());
    h.event(ModemEvent::CallReleased {
        index: 1,
        cause: ReleaseCause(17),
    });
    let row = h.state();
    assert!(row.policy_blocked, "red line number (F-5.2.1.2)");
    assert!(!row.outbound);
    h.drain();
    h.gw.handle_datagram(h.now, addr(PHONE), invite("5551234", "r2").as_bytes());
    assert!(h.drain().contains(&"503".to_owned()));
    h.gw.restore_line(h.now, LineId(1));
    assert!(!h.state().policy_blocked);
    h.gw.handle_datagram(h.now, addr(PHONE), invite("5551234", "r3").as_bytes());
    let out = h.drain();
    assert!(
        out.iter().any(|o| o.contains("Dial(\"5551234\")")),
        "{out:?}"
    );
}

#[test]
fn period_limit_without_network_time_locks_the_line_f_6_10_14() {
    let mut config = GatewayConfig::new(addr(GW));
    config.trust = InboundTrust::LoopbackOnly;
    let mut policy = LinePolicy::default();
    policy.limits.minutes = LimitSpec::parse("05:00-12:00,100").expect("limit");
    config.lines.insert(LineId(1), policy);
    let now = Instant::now();
    let mut gw = Gateway::new(config, [LineId(1)]);
    gw.handle_line_status(LineId(1), true, true);
    gw.set_local_time(now, None, 0);
    gw.start(now);
    assert_eq!(gw.line_status(now)[0].remaining_minutes, Some(0));
    assert!(!gw.line_status(now)[0].outbound);
}

#[test]
fn module_power_control_switches_the_module_and_takes_the_line_out_f_7_7_1() {
    let mut h = H::new(|_| {});
    h.drain();
    h.gw.set_module_enabled(h.now, LineId(1), false);
    assert_eq!(
        h.drain(),
        [format!("line1:SetPower({:?})", PowerMode::Minimum)]
    );
    assert!(!h.state().enabled);
    h.gw.handle_datagram(h.now, addr(PHONE), invite("5551234", "p1").as_bytes());
    assert!(h.drain().contains(&"503".to_owned()));
    h.gw.set_module_enabled(h.now, LineId(1), true);
    assert_eq!(
        h.drain(),
        [format!("line1:SetPower({:?})", PowerMode::Full)]
    );
}

#[test]
fn status_shows_radio_identity_prefix_mode_and_forwarding_f_5_2_2_f_5_2_3_f_5_2_4() {
    use cellgate_engine::lines::RadioInfo;
    use cellgate_hal::{CallForwarding, ForwardReason, ModemIdentity};
    use cellgate_policy::gsm::ForwardPolicy;
    use cellgate_policy::routing::{LinePrefixes, MatchOn, PrefixList};
    let mut h = H::new(|c| {
        line_account(c);
        c.serial = Some("CG-0001".into());
        c.routing.prefixes = Some(
            LinePrefixes::new(
                vec![(LineId(1), PrefixList::parse("001,13").expect("list"))],
                MatchOn::Callee,
                true,
                true,
            )
            .expect("prefixes"),
        );
        let mut policy = LinePolicy::default();
        policy.forwarding.busy = ForwardPolicy::Enable("5559999".into());
        policy.forwarding.unconditional = ForwardPolicy::Disable;
        policy.sim_number = Some("+8613800000001".into());
        c.lines.insert(LineId(1), policy);
    });
    h.gw.handle_line_identity(
        LineId(1),
        ModemIdentity {
            manufacturer: "Quectel".into(),
            model: "M35".into(),
            firmware: "M35FAR01A01".into(),
            imei: "862860027334428".into(),
            imsi: Some("460001234567890".into()),
            iccid: Some("89860012345678901234".into()),
        },
    );
    h.gw.handle_line_radio(
        LineId(1),
        RadioInfo {
            rssi: Some(24),
            operator: Some("CHINA MOBILE".into()),
            bcch: Some(554),
            lac: Some(0x7108),
            cell_id: Some(0x80c4),
            gprs_registered: Some(true),
            gprs_attached: Some(true),
        },
    );
    h.gw.handle_command_result(
        h.now,
        LineId(1),
        None,
        &ModemCommand::SetForwarding(CallForwarding {
            reason: ForwardReason::Busy,
            enabled: true,
            number: Some("5559999".into()),
            no_reply_seconds: None,
        }),
        Ok(None),
    );
    let row = h.state();
    assert_eq!(row.rssi, Some(24));
    assert_eq!(row.operator.as_deref(), Some("CHINA MOBILE"));
    assert_eq!(row.bcch, Some(554));
    assert_eq!(row.lac_cell.as_deref(), Some("7108 80C4"));
    assert_eq!(
        (row.gprs_registered, row.gprs_attached),
        (Some(true), Some(true))
    );
    assert_eq!(row.imei.as_deref(), Some("862860027334428"));
    assert_eq!(row.iccid.as_deref(), Some("89860012345678901234"));
    assert_eq!(row.imsi.as_deref(), Some("460001234567890"));
    assert_eq!(row.module.as_deref(), Some("M35 M35FAR01A01"));
    assert_eq!(row.sim_number.as_deref(), Some("+8613800000001"));
    assert_eq!(row.sip_mode, "L");
    assert_eq!(row.prefix.as_deref(), Some("001,13"));
    assert_eq!(row.bcch_mode, "auto");
    assert_eq!(row.forwarding[1], "5559999", "busy: applied");
    assert_eq!(row.forwarding[2], "Not Set", "no reply: unchanged");
    let header = h.gw.gateway_status(h.now + Duration::from_secs(90));
    assert_eq!(header.uptime_seconds, 90);
    assert_eq!(header.local_time.as_deref(), Some("2026-03-10 10:01:30"));
    assert!(header.version.starts_with("cellgate "));
    assert_eq!(header.serial.as_deref(), Some("CG-0001"));
    assert_eq!(header.modules, [Some("M35 M35FAR01A01".to_owned())]);
}

#[test]
fn run_policy_disable_voip_pauses_the_account_and_refuses_both_ways_f_6_16_8() {
    let mut h = H::new(|c| {
        line_account(c);
        c.routing.run_policy = Some(
            RunPolicy::new(
                vec![Condition::ConsecutiveUnanswered(1)],
                Combine::Any,
                vec![Action::DisableVoip],
                30,
            )
            .expect("policy"),
        );
    });
    h.drain();
    h.gw.handle_datagram(h.now, addr(PHONE), invite("5550486", "v1").as_bytes());
    h.event(ModemEvent::CallReleased {
        index: 1,
        cause: ReleaseCause(17),
    });
    let out = h.drain();
    assert!(
        out.contains(&format!("REGISTER to {REGISTRAR} expires=0")),
        "{out:?}"
    );
    let row = h.state();
    assert!(row.policy_blocked && !row.voip && !row.inbound);
    h.event(ModemEvent::IncomingCall {
        index: Some(1),
        caller: Some("5550100".into()),
    });
    assert_eq!(h.drain(), ["line1:HangUp"], "incoming GSM call refused");
    h.gw.restore_line(h.now, LineId(1));
    let out = h.drain();
    assert!(
        out.contains(&format!("REGISTER to {REGISTRAR} expires=3600")),
        "{out:?}"
    );
}

#[test]
fn sim_column_shows_pin_and_puk_states_f_5_2_1_4() {
    use cellgate_hal::SimState;
    let mut h = H::new(|_| {});
    for (state, text) in [
        (SimState::PinRequired, "PIN"),
        (SimState::PukRequired, "PUK"),
        (SimState::Pin2Required, "PIN2"),
        (SimState::Puk2Required, "PUK2"),
        (SimState::NotInserted, "N"),
        (SimState::Ready, "Y"),
    ] {
        h.event(ModemEvent::SimChanged(state));
        assert_eq!(h.state().sim, text, "{state:?}");
    }
}

#[test]
fn a_sim_waiting_for_pin2_or_puk2_keeps_the_line_usable_f_6_10_7() {
    use cellgate_hal::SimState;
    for state in [SimState::Pin2Required, SimState::Puk2Required] {
        let mut h = H::new(|_| {});
        h.event(ModemEvent::SimChanged(state));
        h.drain();
        h.gw.handle_datagram(h.now, addr(PHONE), invite("5551234", "p2").as_bytes());
        let out = h.drain();
        assert!(
            out.iter().any(|o| o.contains("Dial(\"5551234\")")),
            "{state:?}: {out:?}"
        );
    }
}
