//! Random sequences of SIP requests, module events, command results, media events and
//! time steps thrown at a gateway with every policy switched on (prefixes, dial rules,
//! limits, run policy, two-stage numbers, passwords, call waiting, group mode, rotation):
//! the core must never panic, must keep its timers in the future, and must end with every
//! line free once every call is torn down.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cellgate_engine::gateway::{CallWaiting, LinePolicy, MediaEvent, OutboundForward};
use cellgate_engine::{Gateway, GatewayConfig, InboundTrust, ModemCommand, Output};
use cellgate_hal::{HalError, LineId, ModemEvent, Registration, RegistrationState, ReleaseCause};
use cellgate_policy::gsm::{BcchMode, GroupPlan, RotationConfig};
use cellgate_policy::limits::LimitSpec;
use cellgate_policy::routing::{
    AuthMode, CallAuth, DialRules, InboundForward, LinePrefixes, ListTarget, MatchOn, NumberList,
    PrefixList, RepeatConfig, RestRule,
};
use cellgate_policy::run_policy::{Action, Combine, Condition, RunPolicy};
use proptest::prelude::*;

const GW: &str = "127.0.0.1:5060";
const PHONE: &str = "127.0.0.1:5070";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn gateway() -> Gateway {
    let mut c = GatewayConfig::new(addr(GW));
    c.trust = InboundTrust::LoopbackOnly;
    c.seed = Some(9);
    c.extension_host = Some(addr(PHONE));
    c.routing.own_numbers.insert("8000".into(), Vec::new());
    c.routing.call_memory = true;
    c.routing.prefixes = Some(
        LinePrefixes::new(
            vec![
                (LineId(1), PrefixList::parse("1,5").expect("list")),
                (LineId(2), PrefixList::parse("2,5").expect("list")),
                (LineId(3), PrefixList::parse("3,5,8").expect("list")),
            ],
            MatchOn::Callee,
            false,
            false,
        )
        .expect("prefixes"),
    );
    c.routing.run_policy = Some(
        RunPolicy::new(
            vec![
                Condition::ConsecutiveUnanswered(4),
                Condition::Every(Duration::from_secs(300)),
            ],
            Combine::Any,
            vec![Action::ResetCdr],
            30,
        )
        .expect("policy"),
    );
    c.routing.group = Some(
        GroupPlan::new(
            LineId(1),
            vec![(LineId(2), "5550002".into()), (LineId(3), "5550003".into())],
        )
        .expect("group"),
    );
    for n in 1..=3u16 {
        let mut p = LinePolicy {
            auto_redial: 1,
            dial_timeout: Some(Duration::from_secs(40)),
            no_ring_timeout: Some(Duration::from_secs(15)),
            dial_rules: DialRules::parse("5:+0|:+9").expect("rules"),
            rest: Some(RestRule::parse(3, "5-10").expect("rest")),
            inbound_forward: Some(match n {
                1 => InboundForward::TwoStage,
                2 => InboundForward::parse("010>101|>102").expect("map"),
                _ => InboundForward::Fixed("103".into()),
            }),
            repeat_callers: RepeatConfig::new(3).ok(),
            call_waiting: [
                CallWaiting::HoldAndAnswer,
                CallWaiting::KeySwitch,
                CallWaiting::AnswerThenSwapBack,
            ][usize::from(n - 1)],
            outbound_forward: (n == 3).then(|| OutboundForward::ServiceDtmf("91000".into())),
            ..LinePolicy::default()
        };
        p.limits.minutes = LimitSpec::parse("05:00-12:00,3|12:00-23:00,5").expect("limit");
        p.limits.calls = LimitSpec::parse("20").expect("limit");
        p.limits.hang_up_when_used_up = true;
        p.limits.per_call_max_min = Some(2);
        if n == 2 {
            p.outbound_auth = CallAuth::new(
                AuthMode::PasswordOrWhitelist,
                ListTarget::Caller,
                NumberList::parse("alice").expect("list"),
                "12",
            )
            .expect("auth");
        }
        if n == 3 {
            p.bcch = BcchMode::Rotation(
                RotationConfig::new(
                    2,
                    (Duration::from_secs(60), Duration::from_secs(120)),
                    Some(2),
                    Some(2),
                    None,
                )
                .expect("rotation"),
            );
        }
        c.lines.insert(LineId(n), p);
    }
    let now = Instant::now();
    let mut gw = Gateway::new(c, (1..=3).map(LineId));
    let local = time::macros::datetime!(2026-03-10 11:58);
    gw.set_local_time(now, Some(local), local.assume_utc().unix_timestamp());
    for n in 1..=3 {
        gw.handle_line_status(LineId(n), true, true);
    }
    gw.start(now);
    gw
}

#[derive(Debug, Clone)]
enum Step {
    Invite { number: u8, call: u8, caller: u8 },
    Bye { call: u8 },
    Cancel { call: u8 },
    Info { call: u8, digit: u8 },
    Alerting { line: u8, index: u8 },
    Connected { line: u8, index: u8 },
    Released { line: u8, index: u8, cause: u8 },
    Incoming { line: u8, index: u8, caller: u8 },
    Waiting { line: u8, index: u8, caller: u8 },
    GsmDigit { line: u8, digit: u8 },
    Registration { line: u8, up: bool },
    Result { line: u8, ok: bool, kind: u8 },
    Media { call: u8, kind: u8, digit: u8 },
    Response { code: u16 },
    Wait { secs: u16 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..6u8, 0..6u8, 0..3u8).prop_map(|(number, call, caller)| Step::Invite {
            number,
            call,
            caller
        }),
        (0..6u8).prop_map(|call| Step::Bye { call }),
        (0..6u8).prop_map(|call| Step::Cancel { call }),
        (0..6u8, 0..13u8).prop_map(|(call, digit)| Step::Info { call, digit }),
        (1..4u8, 1..3u8).prop_map(|(line, index)| Step::Alerting { line, index }),
        (1..4u8, 1..3u8).prop_map(|(line, index)| Step::Connected { line, index }),
        (
            1..4u8,
            1..3u8,
            prop::sample::select(vec![16u8, 17, 19, 21, 31, 34])
        )
            .prop_map(|(line, index, cause)| Step::Released { line, index, cause }),
        (1..4u8, 1..3u8, 0..4u8).prop_map(|(line, index, caller)| Step::Incoming {
            line,
            index,
            caller
        }),
        (1..4u8, 1..3u8, 0..4u8).prop_map(|(line, index, caller)| Step::Waiting {
            line,
            index,
            caller
        }),
        (1..4u8, 0..13u8).prop_map(|(line, digit)| Step::GsmDigit { line, digit }),
        (1..4u8, any::<bool>()).prop_map(|(line, up)| Step::Registration { line, up }),
        (1..4u8, any::<bool>(), 0..4u8).prop_map(|(line, ok, kind)| Step::Result {
            line,
            ok,
            kind
        }),
        (1..12u8, 0..3u8, 0..13u8).prop_map(|(call, kind, digit)| Step::Media {
            call,
            kind,
            digit
        }),
        prop::sample::select(vec![100u16, 180, 200, 401, 486, 500])
            .prop_map(|code| Step::Response { code }),
        (0..400u16).prop_map(|secs| Step::Wait { secs }),
    ]
}

const NUMBERS: [&str; 6] = [
    "15551234", "25551234", "8000", "35550486", "9999", "55551234",
];
const CALLERS: [&str; 4] = ["0105550100", "5550200", "", "+8613912345678"];
const DIGITS: [char; 13] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', '3',
];

fn invite(number: &str, call: u8, caller: &str) -> String {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
    format!(
        "INVITE sip:{number}@{GW} SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bKc{call}\r\n\
From: <sip:{caller}@{PHONE}>;tag=f{call}\r\nTo: <sip:{number}@{GW}>\r\nCall-ID: chaos-{call}\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:x@{PHONE}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

fn in_dialog(method: &str, call: u8, cseq: u32, body: &str) -> String {
    format!(
        "{method} sip:x@{GW} SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bK{method}{call}{cseq}\r\n\
From: <sip:a@{PHONE}>;tag=f{call}\r\nTo: <sip:x@{GW}>;tag=whatever\r\nCall-ID: chaos-{call}\r\nCSeq: {cseq} {method}\r\n\
Max-Forwards: 70\r\nContent-Type: application/dtmf-relay\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn cancel(call: u8) -> String {
    format!(
        "CANCEL sip:x@{GW} SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bKc{call}\r\n\
From: <sip:a@{PHONE}>;tag=f{call}\r\nTo: <sip:x@{GW}>\r\nCall-ID: chaos-{call}\r\nCSeq: 1 CANCEL\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Answers the last request the gateway sent with `code`.
fn response_to(last: &Option<String>, code: u16) -> Option<String> {
    let text = last.as_ref()?;
    let header = |name: &str| {
        text.lines()
            .find(|l| {
                l.to_ascii_lowercase()
                    .starts_with(&format!("{}:", name.to_ascii_lowercase()))
            })
            .map(str::to_owned)
    };
    Some(format!(
        "SIP/2.0 {code} X\r\n{}\r\n{}\r\n{};tag=peer\r\n{}\r\n{}\r\nContent-Length: 0\r\n\r\n",
        header("Via")?,
        header("From")?,
        header("To")?,
        header("Call-ID")?,
        header("CSeq")?
    ))
}

fn run(steps: &[Step]) {
    let mut gw = gateway();
    let mut now = Instant::now();
    let mut cseq = 10;
    let mut last_request: Option<String> = None;
    for s in steps {
        match s {
            Step::Invite {
                number,
                call,
                caller,
            } => gw.handle_datagram(
                now,
                addr(PHONE),
                invite(
                    NUMBERS[usize::from(*number)],
                    *call,
                    CALLERS[usize::from(*caller) % 2 + 1].trim(),
                )
                .as_bytes(),
            ),
            Step::Bye { call } => {
                cseq += 1;
                gw.handle_datagram(
                    now,
                    addr(PHONE),
                    in_dialog("BYE", *call, cseq, "").as_bytes(),
                )
            }
            Step::Cancel { call } => gw.handle_datagram(now, addr(PHONE), cancel(*call).as_bytes()),
            Step::Info { call, digit } => {
                cseq += 1;
                let body = format!("Signal={}\r\nDuration=160\r\n", DIGITS[usize::from(*digit)]);
                gw.handle_datagram(
                    now,
                    addr(PHONE),
                    in_dialog("INFO", *call, cseq, &body).as_bytes(),
                )
            }
            Step::Alerting { line, index } => gw.handle_modem_event(
                now,
                LineId(u16::from(*line)),
                ModemEvent::CallAlerting { index: *index },
            ),
            Step::Connected { line, index } => gw.handle_modem_event(
                now,
                LineId(u16::from(*line)),
                ModemEvent::CallConnected { index: *index },
            ),
            Step::Released { line, index, cause } => gw.handle_modem_event(
                now,
                LineId(u16::from(*line)),
                ModemEvent::CallReleased {
                    index: *index,
                    cause: ReleaseCause(*cause),
                },
            ),
            Step::Incoming {
                line,
                index,
                caller,
            } => gw.handle_modem_event(
                now,
                LineId(u16::from(*line)),
                ModemEvent::IncomingCall {
                    index: Some(*index),
                    caller: Some(CALLERS[usize::from(*caller)].to_owned())
                        .filter(|c| !c.is_empty()),
                },
            ),
            Step::Waiting {
                line,
                index,
                caller,
            } => gw.handle_modem_event(
                now,
                LineId(u16::from(*line)),
                ModemEvent::CallWaiting {
                    index: Some(*index),
                    caller: Some(CALLERS[usize::from(*caller)].to_owned()),
                },
            ),
            Step::GsmDigit { line, digit } => gw.handle_modem_event(
                now,
                LineId(u16::from(*line)),
                ModemEvent::DtmfReceived {
                    digit: DIGITS[usize::from(*digit)],
                },
            ),
            Step::Registration { line, up } => gw.handle_modem_event(
                now,
                LineId(u16::from(*line)),
                ModemEvent::RegistrationChanged(Registration {
                    state: if *up {
                        RegistrationState::Home
                    } else {
                        RegistrationState::Searching
                    },
                    lac: None,
                    cell_id: None,
                    tech: None,
                }),
            ),
            Step::Result { line, ok, kind } => {
                let command = match kind {
                    0 => ModemCommand::Dial("15551234".into()),
                    1 => ModemCommand::HangUp,
                    2 => ModemCommand::Answer,
                    _ => ModemCommand::HoldAndAccept,
                };
                let result = if *ok {
                    Ok(Some(1))
                } else {
                    Err(HalError::Timeout("chaos".into()))
                };
                gw.handle_command_result(now, LineId(u16::from(*line)), None, &command, result)
            }
            Step::Media { call, kind, digit } => {
                let d = DIGITS[usize::from(*digit)];
                let event = match kind {
                    0 => MediaEvent::DigitFromSip(d),
                    1 => MediaEvent::DigitFromGsm(d),
                    _ => MediaEvent::RtpTimeout,
                };
                gw.handle_media_event(now, cellgate_engine::call::CallRef(u64::from(*call)), event)
            }
            Step::Response { code } => {
                if let Some(r) = response_to(&last_request, *code) {
                    gw.handle_datagram(now, addr(PHONE), r.as_bytes());
                }
            }
            Step::Wait { secs } => {
                now += Duration::from_secs(u64::from(*secs));
                gw.handle_timeout(now);
                // Whatever was due has been handled: no deadline is left in the past (a
                // shell would spin on it).
                let next = gw.poll_timeout();
                assert!(
                    next.is_none_or(|t| t > now),
                    "deadline {next:?} not after {now:?}"
                );
            }
        }
        while let Some(out) = gw.poll_output() {
            if let Output::Transmit { payload, .. } = out {
                let text = String::from_utf8_lossy(&payload).to_string();
                if !text.starts_with("SIP/2.0") {
                    last_request = Some(text);
                }
            }
        }
        let _ = gw.line_status(now);
        let _ = gw.gateway_status(now);
    }
    // Tear everything down: every GSM call ends, time runs out every timer.
    for line in 1..=3u16 {
        for index in 1..=2 {
            gw.handle_modem_event(
                now,
                LineId(line),
                ModemEvent::CallReleased {
                    index,
                    cause: ReleaseCause(16),
                },
            );
        }
    }
    for _ in 0..40 {
        now += Duration::from_secs(30);
        gw.handle_timeout(now);
        while gw.poll_output().is_some() {}
    }
    for (i, l) in gw.lines().lines().iter().enumerate() {
        assert!(
            !l.busy || gw.calls().any(|c| c.line == l.id),
            "line {} left busy without a call: {:?}",
            i + 1,
            l
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn random_traffic_never_panics_and_frees_the_lines(steps in prop::collection::vec(step(), 1..60)) {
        run(&steps);
    }
}
