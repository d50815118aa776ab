//! The gateway core driven directly: datagrams, module events and time in; datagrams
//! and module commands out. No sockets, no runtime, no clock but the one passed in.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cellgate_engine::sip::Message;
use cellgate_engine::{Gateway, GatewayConfig, InboundTrust, ModemCommand, Output};
use cellgate_hal::{HalError, LineId, ModemEvent, ReleaseCause};

const GW: &str = "127.0.0.1:5060";
const PHONE: &str = "127.0.0.1:5070";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn invite(number: &str, call_id: &str, branch: &str) -> String {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
    format!(
        "INVITE sip:{number}@{GW} SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch={branch}\r\n\
From: <sip:alice@{PHONE}>;tag=a1\r\nTo: <sip:{number}@{GW}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:alice@{PHONE}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

fn in_dialog(method: &str, call_id: &str, branch: &str, cseq: u32, to_tag: &str) -> String {
    format!(
        "{method} sip:5551234@{GW} SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch={branch}\r\n\
From: <sip:alice@{PHONE}>;tag=a1\r\nTo: <sip:5551234@{GW}>;tag={to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

struct Harness {
    gw: Gateway,
    now: Instant,
}

impl Harness {
    fn new(lines: u16, trust: InboundTrust) -> Self {
        let mut config = GatewayConfig::new(addr(GW));
        config.trust = trust;
        config.seed = Some(1);
        let mut gw = Gateway::new(config, (1..=lines).map(LineId));
        for l in 1..=lines {
            gw.handle_line_status(LineId(l), true, true);
        }
        Self {
            gw,
            now: Instant::now(),
        }
    }

    fn sandbox() -> Self {
        Self::new(2, InboundTrust::LoopbackOnly)
    }

    fn send(&mut self, text: &str) {
        self.gw
            .handle_datagram(self.now, addr(PHONE), text.as_bytes());
    }

    fn outputs(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.gw.poll_output())
            .filter(|o| !o.is_bookkeeping())
            .collect()
    }

    /// Status codes (responses) and methods (requests) sent, plus module commands.
    fn drain(&mut self) -> Vec<String> {
        self.outputs()
            .into_iter()
            .map(|o| match o {
                Output::Transmit { payload, .. } => match Message::parse(&payload).unwrap() {
                    Message::Response(r) => r.code.into_u16().to_string(),
                    Message::Request(r) => r.method.to_string(),
                },
                Output::Modem { line, command, .. } => format!("{line}:{command:?}"),
                Output::MediaStart(p) => format!("media:start:{}", p.local_port),
                Output::MediaStop { .. } => "media:stop".to_owned(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.gw.handle_timeout(self.now);
    }

    fn to_tag_of_last(&self, outputs: &[Output]) -> String {
        outputs
            .iter()
            .rev()
            .find_map(|o| match o {
                Output::Transmit { payload, .. } => {
                    let text = String::from_utf8_lossy(payload).to_string();
                    let to = text.lines().find(|l| l.starts_with("To:"))?.to_owned();
                    Some(to.split("tag=").nth(1)?.trim().to_owned())
                }
                _ => None,
            })
            .unwrap()
    }
}

#[test]
fn invite_dials_then_rings_answers_and_bye_hangs_up() {
    let mut h = Harness::sandbox();
    h.send(&invite("5551234", "c1", "z9hG4bK1"));
    assert_eq!(h.drain(), ["100", "line1:Dial(\"5551234\")"]);
    h.gw.handle_command_result(
        h.now,
        LineId(1),
        None,
        &ModemCommand::Dial("5551234".into()),
        Ok(Some(1)),
    );
    h.gw.handle_modem_event(h.now, LineId(1), ModemEvent::CallAlerting { index: 1 });
    assert_eq!(h.drain(), ["180"]);
    h.gw.handle_modem_event(h.now, LineId(1), ModemEvent::CallConnected { index: 1 });
    let out = h.outputs();
    let Output::Transmit { payload, .. } = &out[0] else {
        panic!()
    };
    let text = String::from_utf8_lossy(payload);
    assert!(text.starts_with("SIP/2.0 200 OK"), "{text}");
    assert!(text.contains("m=audio 16384 RTP/AVP 0 101"), "{text}");
    assert!(
        text.contains("Contact: <sip:5551234@127.0.0.1:5060>"),
        "{text}"
    );
    let tag = h.to_tag_of_last(&out);
    // 200 OK is retransmitted until ACK.
    h.advance(Duration::from_millis(500));
    assert_eq!(h.drain(), ["200"]);
    h.send(&in_dialog("ACK", "c1", "z9hG4bK1", 1, &tag));
    h.advance(Duration::from_secs(10));
    assert_eq!(
        h.drain(),
        Vec::<String>::new(),
        "no retransmission after ACK"
    );
    h.send(&in_dialog("BYE", "c1", "z9hG4bK2", 2, &tag));
    assert_eq!(h.drain(), ["200", "line1:HangUp", "media:stop"]);
    let id = h.gw.calls().next().map(|c| c.id);
    h.gw.handle_command_result(h.now, LineId(1), id, &ModemCommand::HangUp, Ok(None));
    assert_eq!(h.gw.calls().count(), 0);
    assert!(!h.gw.lines().lines()[0].busy);
}

#[test]
fn gsm_failures_map_to_sip_statuses_and_are_retransmitted_until_ack() {
    for (cause, code) in [
        (ReleaseCause::USER_BUSY, "486"),
        (ReleaseCause::UNASSIGNED_NUMBER, "404"),
        (ReleaseCause::NO_ANSWER, "480"),
    ] {
        let mut h = Harness::sandbox();
        h.send(&invite("5550486", "c2", "z9hG4bK1"));
        h.drain();
        h.gw.handle_modem_event(
            h.now,
            LineId(1),
            ModemEvent::CallReleased { index: 1, cause },
        );
        let out = h.outputs();
        let tag = h.to_tag_of_last(&out);
        assert_eq!(out.len(), 1);
        h.advance(Duration::from_millis(500));
        assert_eq!(h.drain(), [code], "Timer G retransmission");
        h.send(&in_dialog("ACK", "c2", "z9hG4bK1", 1, &tag));
        assert_eq!(h.gw.calls().count(), 0, "call removed after ACK");
        assert!(!h.gw.lines().lines()[0].busy, "line free again");
    }
}

#[test]
fn gsm_hangup_after_answer_sends_bye_until_answered() {
    let mut h = Harness::sandbox();
    h.send(&invite("5551234", "c3", "z9hG4bK1"));
    h.gw.handle_modem_event(h.now, LineId(1), ModemEvent::CallConnected { index: 1 });
    let out = h.outputs();
    let tag = h.to_tag_of_last(&out);
    h.send(&in_dialog("ACK", "c3", "z9hG4bK1", 1, &tag));
    h.gw.handle_modem_event(
        h.now,
        LineId(1),
        ModemEvent::CallReleased {
            index: 1,
            cause: ReleaseCause::NORMAL_CLEARING,
        },
    );
    let out = h.outputs();
    let Output::Transmit { payload, to } = &out[0] else {
        panic!()
    };
    assert_eq!(*to, addr(PHONE));
    let bye = String::from_utf8_lossy(payload).to_string();
    assert!(
        bye.starts_with("BYE sip:alice@127.0.0.1:5070 SIP/2.0"),
        "{bye}"
    );
    assert!(
        bye.contains(&format!("tag={tag}")),
        "our tag is the From tag: {bye}"
    );
    h.advance(Duration::from_millis(500));
    assert_eq!(h.drain(), ["BYE"], "Timer E retransmission");
    let branch = bye
        .lines()
        .find(|l| l.starts_with("Via:"))
        .unwrap()
        .split("branch=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {GW};branch={branch}\r\nFrom: <sip:5551234@{GW}>;tag={tag}\r\n\
To: <sip:alice@{PHONE}>;tag=a1\r\nCall-ID: c3\r\nCSeq: 9 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    h.send(&ok);
    assert_eq!(h.gw.calls().count(), 0);
}

#[test]
fn untrusted_source_gets_403_and_never_reaches_a_modem() {
    let mut h = Harness::new(2, InboundTrust::DenyAll);
    h.send(&invite("5551234", "c4", "z9hG4bK1"));
    assert_eq!(h.drain(), ["403"]);
    assert!(h.gw.lines().lines().iter().all(|l| l.outbound_calls == 0));
}

#[test]
fn no_free_line_answers_the_configured_status() {
    let mut h = Harness::new(1, InboundTrust::LoopbackOnly);
    h.send(&invite("5551234", "c5", "z9hG4bK1"));
    h.drain();
    h.send(&invite("5551235", "c6", "z9hG4bK2"));
    assert_eq!(h.drain(), ["503"]);
}

#[test]
fn caller_cancel_before_answer_gives_487_and_hangs_up() {
    let mut h = Harness::sandbox();
    h.send(&invite("5551234", "c7", "z9hG4bK1"));
    h.gw.handle_modem_event(h.now, LineId(1), ModemEvent::CallAlerting { index: 1 });
    h.drain();
    let cancel = in_dialog("CANCEL", "c7", "z9hG4bK1", 1, "x").replace(";tag=x", "");
    h.send(&cancel);
    assert_eq!(h.drain(), ["200", "487", "line1:HangUp"]);
}

#[test]
fn no_answer_timeout_gives_408_and_hangs_up() {
    let mut h = Harness::sandbox();
    h.send(&invite("5550480", "c8", "z9hG4bK1"));
    h.gw.handle_modem_event(h.now, LineId(1), ModemEvent::CallAlerting { index: 1 });
    h.drain();
    h.advance(Duration::from_secs(74));
    assert_eq!(h.drain(), Vec::<String>::new());
    h.advance(Duration::from_secs(1));
    assert_eq!(h.drain(), ["408", "line1:HangUp"]);
}

#[test]
fn malformed_datagrams_are_dropped_and_the_gateway_keeps_serving() {
    let mut h = Harness::sandbox();
    for junk in [
        &b"\x00\x01\x02garbage"[..],
        b"INVITE sip:1@x SIP/2.0\r\nVia: nonsense\r\n",
        b"SIP/2.0 200\r\n\r\n",
        &[0xff; 2000][..],
    ] {
        h.gw.handle_datagram(h.now, addr(PHONE), junk);
    }
    // A request missing Call-ID is answered 400 naming the header.
    let no_call_id = invite("5551234", "c9", "z9hG4bK1").replace("Call-ID: c9\r\n", "");
    h.send(&no_call_id);
    let out = h.outputs();
    let Output::Transmit { payload, .. } = &out[0] else {
        panic!()
    };
    let text = String::from_utf8_lossy(payload);
    assert!(
        text.starts_with("SIP/2.0 400 missing or malformed Call-ID header"),
        "{text}"
    );
    assert_eq!(out.len(), 1);
    // And a good INVITE still works.
    h.send(&invite("5551234", "c10", "z9hG4bK2"));
    assert_eq!(h.drain(), ["100", "line1:Dial(\"5551234\")"]);
}

#[test]
fn retransmitted_invite_is_absorbed_and_non_dialable_uri_is_404() {
    let mut h = Harness::sandbox();
    h.send(&invite("5551234", "c11", "z9hG4bK1"));
    h.drain();
    h.send(&invite("5551234", "c11", "z9hG4bK1"));
    assert_eq!(h.drain(), ["100"], "same response again, no second dial");
    h.send(&invite("alice", "c12", "z9hG4bK3"));
    assert_eq!(h.drain(), ["404"]);
}

#[test]
fn failed_dial_frees_the_line_with_503() {
    let mut h = Harness::new(1, InboundTrust::LoopbackOnly);
    h.send(&invite("5551234", "c13", "z9hG4bK1"));
    h.drain();
    let id = h.gw.calls().next().map(|c| c.id);
    h.gw.handle_command_result(
        h.now,
        LineId(1),
        id,
        &ModemCommand::Dial("5551234".into()),
        Err(HalError::Cme { code: 30 }),
    );
    assert_eq!(h.drain(), ["503"]);
    assert!(!h.gw.lines().lines()[0].busy);
}

#[test]
fn options_is_answered_and_unknown_methods_get_501() {
    let mut h = Harness::sandbox();
    h.send(&in_dialog("OPTIONS", "o1", "z9hG4bK9", 1, "t").replace(";tag=t", ""));
    assert_eq!(h.drain(), ["200"]);
    h.send(&in_dialog("SUBSCRIBE", "o2", "z9hG4bK8", 1, "t").replace(";tag=t", ""));
    assert_eq!(h.drain(), ["501"]);
    // A retransmitted OPTIONS is answered from the transaction cache.
    h.send(&in_dialog("OPTIONS", "o1", "z9hG4bK9", 1, "t").replace(";tag=t", ""));
    assert_eq!(h.drain(), ["200"]);
}
