//! SIP features of the gateway core (issue "SIP side"), driven with an explicit clock:
//! digest on INVITE, ringback modes, reply path, hold, DTMF by INFO, MESSAGE, keep-alive,
//! GSM -> SIP calls and registration at start.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cellgate_engine::gateway::{
    CidMode, ForwardTarget, InboundDigest, KeepAlive, ReplyPath, RingbackMode,
};
use cellgate_engine::sip::digest::{DigestAlgorithm, DigestClient};
use cellgate_engine::sip::register::{AccountConfig, RegistrationConfig, ServerConfig};
use cellgate_engine::sip::{Message, Request, Response};
use cellgate_engine::{Gateway, GatewayConfig, InboundTrust, ModemCommand, Output};
use cellgate_hal::{LineId, ModemEvent, ReleaseCause};

const GW: &str = "127.0.0.1:5060";
const PHONE: &str = "127.0.0.1:5070";
const PBX: &str = "127.0.0.1:5080";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn invite_text(
    number: &str,
    call_id: &str,
    branch: &str,
    via: &str,
    extra: &str,
    direction: &str,
) -> String {
    let sdp = format!("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n{direction}");
    format!(
        "INVITE sip:{number}@{GW} SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch={branch}\r\n\
From: <sip:alice@{PHONE}>;tag=a1\r\nTo: <sip:{number}@{GW}>{}\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:alice@{PHONE}>\r\nMax-Forwards: 70\r\n{extra}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        if direction.is_empty() { String::new() } else { ";tag=TOTAG".into() },
        sdp.len()
    )
}

fn invite(number: &str, call_id: &str, branch: &str) -> String {
    invite_text(number, call_id, branch, PHONE, "", "")
}

struct H {
    gw: Gateway,
    now: Instant,
}

impl H {
    fn new(config: impl FnOnce(&mut GatewayConfig)) -> Self {
        let mut c = GatewayConfig::new(addr(GW));
        c.trust = InboundTrust::LoopbackOnly;
        c.seed = Some(1);
        config(&mut c);
        let mut gw = Gateway::new(c, [LineId(1), LineId(2)]);
        gw.handle_line_status(LineId(1), true, true);
        gw.handle_line_status(LineId(2), true, true);
        let now = Instant::now();
        gw.start(now);
        Self { gw, now }
    }

    fn send_from(&mut self, from: &str, text: &str) {
        self.gw
            .handle_datagram(self.now, addr(from), text.as_bytes());
    }

    fn send(&mut self, text: &str) {
        self.send_from(PHONE, text);
    }

    fn outputs(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.gw.poll_output())
            .filter(|o| !o.is_bookkeeping())
            .collect()
    }

    /// (destination, parsed message) of transmitted datagrams; module commands as text.
    fn sent(&mut self) -> (Vec<(SocketAddr, String)>, Vec<String>) {
        let mut msgs = vec![];
        let mut cmds = vec![];
        for o in self.outputs() {
            match o {
                Output::Transmit { to, payload } => {
                    msgs.push((to, String::from_utf8_lossy(&payload).to_string()))
                }
                Output::Modem { line, command, .. } => cmds.push(format!("{line}:{command:?}")),
                // Media outputs are covered by engine/tests/media_calls.rs.
                Output::MediaStart(_)
                | Output::MediaUpdate { .. }
                | Output::MediaStop { .. }
                | Output::MediaDtmf { .. } => {}
                other => cmds.push(format!("{other:?}")),
            }
        }
        (msgs, cmds)
    }

    fn codes(&mut self) -> Vec<String> {
        let (msgs, cmds) = self.sent();
        msgs.iter()
            .map(|(_, t)| first_word(t))
            .chain(cmds)
            .collect()
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.gw.handle_timeout(self.now);
    }
}

fn first_word(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    match line.strip_prefix("SIP/2.0 ") {
        Some(rest) => rest.split(' ').next().unwrap_or("").to_owned(),
        None => line.split(' ').next().unwrap_or("").to_owned(),
    }
}

fn header(text: &str, name: &str) -> String {
    text.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim().to_owned())
        .unwrap_or_default()
}

fn to_tag(text: &str) -> String {
    header(text, "To")
        .split("tag=")
        .nth(1)
        .unwrap_or("")
        .trim()
        .to_owned()
}

fn parse_request(text: &str) -> Request {
    match Message::parse(text.as_bytes()) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn parse_response(text: &str) -> Response {
    match Message::parse(text.as_bytes()) {
        Ok(Message::Response(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn in_dialog(
    method: &str,
    call_id: &str,
    branch: &str,
    cseq: u32,
    to_tag: &str,
    ctype: &str,
    body: &str,
) -> String {
    format!(
        "{method} sip:5551234@{GW} SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch={branch}\r\n\
From: <sip:alice@{PHONE}>;tag=a1\r\nTo: <sip:5551234@{GW}>;tag={to_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n\
Max-Forwards: 70\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Answer a request the gateway sent with `code`, copying the dialog headers.
fn answer(request: &str, code: u16, extra: &str) -> String {
    let h = |n: &str| header(request, n);
    let to = if h("To").contains("tag=") {
        h("To")
    } else {
        format!("{};tag=callee1", h("To"))
    };
    format!(
        "SIP/2.0 {code} X\r\nVia: {}\r\nFrom: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}Content-Length: 0\r\n\r\n",
        h("Via"),
        h("From"),
        h("Call-ID"),
        h("CSeq")
    )
}

#[test]
fn digest_mode_challenges_invites_and_admits_only_valid_credentials() {
    let mut h = H::new(|c| {
        c.trust = InboundTrust::Anyone;
        c.inbound_digest = Some(InboundDigest {
            realm: "cellgate".into(),
            users: vec![("pbx".into(), "s3cret".into())],
            algorithms: vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
        });
    });
    let first = invite("5551234", "d1", "z9hG4bKd1");
    h.send(&first);
    let (msgs, cmds) = h.sent();
    assert_eq!(first_word(&msgs[0].1), "401");
    assert!(cmds.is_empty(), "no dial before authentication");
    let challenge = &msgs[0].1;
    assert!(
        challenge.contains("algorithm=SHA-256") && challenge.contains("algorithm=MD5"),
        "{challenge}"
    );
    assert!(challenge.contains("qop=\"auth\""), "{challenge}");
    // ACK the 401, then retry with credentials.
    h.send(&in_dialog(
        "ACK",
        "d1",
        "z9hG4bKd1",
        1,
        &to_tag(challenge),
        "",
        "",
    ));
    let mut client = DigestClient::new("pbx", "s3cret");
    client
        .on_challenge(&parse_request(&first), &parse_response(challenge))
        .unwrap();
    let mut retry = parse_request(&invite("5551234", "d1", "z9hG4bKd2"));
    client.authorize(&mut retry.headers);
    h.gw.handle_datagram(h.now, addr(PHONE), &retry.to_bytes());
    assert_eq!(h.codes(), ["100", "line1:Dial(\"5551234\")"]);
    // Wrong password: 403, never a modem.
    let mut bad = DigestClient::new("pbx", "guess");
    let other = invite("5551234", "d2", "z9hG4bKd3");
    h.send(&other);
    let (msgs, _) = h.sent();
    bad.on_challenge(&parse_request(&other), &parse_response(&msgs[0].1))
        .unwrap();
    let mut retry = parse_request(&invite("5551234", "d2", "z9hG4bKd4"));
    bad.authorize(&mut retry.headers);
    h.gw.handle_datagram(h.now, addr(PHONE), &retry.to_bytes());
    assert_eq!(h.codes(), ["403"]);
}

#[test]
fn address_plus_digest_refuses_unlisted_sources_before_challenging() {
    let mut h = H::new(|c| {
        c.trust = InboundTrust::Patterns(vec!["10.0.0.X".parse().unwrap()]);
        c.inbound_digest = Some(InboundDigest {
            realm: "cellgate".into(),
            users: vec![("pbx".into(), "s3cret".into())],
            algorithms: vec![],
        });
    });
    h.send_from("192.0.2.7:5060", &invite("5551234", "b1", "z9hG4bKb1"));
    assert_eq!(h.codes(), ["403"]);
    h.send_from("10.0.0.7:5060", &invite("5551234", "b2", "z9hG4bKb2"));
    assert_eq!(h.codes(), ["401"]);
}

#[test]
fn ringback_modes_send_180_183_as_configured() {
    for (mode, at_invite, at_alerting) in [
        (
            RingbackMode::FakeThenColour,
            vec!["100", "180", "line1:Dial(\"5551234\")"],
            vec!["183"],
        ),
        (
            RingbackMode::Colour,
            vec!["100", "183", "line1:Dial(\"5551234\")"],
            vec![],
        ),
        (
            RingbackMode::Fake,
            vec!["100", "180", "line1:Dial(\"5551234\")"],
            vec![],
        ),
        (
            RingbackMode::OnAlerting,
            vec!["100", "line1:Dial(\"5551234\")"],
            vec!["180"],
        ),
    ] {
        let mut h = H::new(|c| c.ringback = mode);
        h.send(&invite("5551234", "r1", "z9hG4bKr1"));
        let (msgs, cmds) = h.sent();
        let mut got: Vec<String> = msgs.iter().map(|(_, t)| first_word(t)).collect();
        got.extend(cmds);
        assert_eq!(got, at_invite, "{mode:?}");
        if let Some((_, m)) = msgs.iter().find(|(_, t)| first_word(t) == "183") {
            assert!(m.contains("m=audio "), "183 carries early media SDP: {m}");
        }
        h.gw.handle_modem_event(h.now, LineId(1), ModemEvent::CallAlerting { index: 1 });
        assert_eq!(h.codes(), at_alerting, "{mode:?}");
    }
}

#[test]
fn reply_path_via_answers_to_the_via_address_not_the_source() {
    let mut h = H::new(|c| c.reply_path = ReplyPath::Via);
    h.send_from(
        "127.0.0.9:40000",
        &invite_text("5551234", "v1", "z9hG4bKv1", "127.0.0.1:5099", "", ""),
    );
    let (msgs, _) = h.sent();
    assert_eq!(msgs[0].0, addr("127.0.0.1:5099"));
    let mut h = H::new(|_| {});
    h.send_from(
        "127.0.0.9:40000",
        &invite_text("5551234", "v1", "z9hG4bKv1", "127.0.0.1:5099", "", ""),
    );
    let (msgs, _) = h.sent();
    assert_eq!(
        msgs[0].0,
        addr("127.0.0.9:40000"),
        "default: back to source"
    );
}

fn connected(h: &mut H, call_id: &str) -> String {
    h.send(&invite("5551234", call_id, "z9hG4bKc1"));
    h.gw.handle_modem_event(h.now, LineId(1), ModemEvent::CallConnected { index: 1 });
    let (msgs, _) = h.sent();
    let ok = &msgs.iter().find(|(_, t)| first_word(t) == "200").unwrap().1;
    let tag = to_tag(ok);
    h.send(&in_dialog("ACK", call_id, "z9hG4bKc1a", 1, &tag, "", ""));
    tag
}

#[test]
fn reinvite_hold_is_answered_recvonly_and_resume_sendrecv() {
    let mut h = H::new(|_| {});
    let tag = connected(&mut h, "h1");
    let hold = invite_text("5551234", "h1", "z9hG4bKh2", PHONE, "", "a=sendonly\r\n")
        .replace("TOTAG", &tag)
        .replace("CSeq: 1 INVITE", "CSeq: 2 INVITE");
    h.send(&hold);
    let (msgs, cmds) = h.sent();
    assert!(cmds.is_empty(), "hold does not touch the GSM leg: {cmds:?}");
    let ok = &msgs[0].1;
    assert_eq!(first_word(ok), "200", "{ok}");
    assert!(ok.contains("a=recvonly"), "{ok}");
    assert!(h.gw.calls().next().unwrap().held);
    // Retransmitted until ACK.
    h.advance(Duration::from_millis(500));
    assert_eq!(h.codes(), ["200"]);
    h.send(&in_dialog("ACK", "h1", "z9hG4bKh2a", 2, &tag, "", ""));
    h.advance(Duration::from_secs(5));
    assert!(h.codes().is_empty());
    let resume = invite_text("5551234", "h1", "z9hG4bKh3", PHONE, "", "a=sendrecv\r\n")
        .replace("TOTAG", &tag)
        .replace("CSeq: 1 INVITE", "CSeq: 3 INVITE");
    h.send(&resume);
    let (msgs, _) = h.sent();
    assert!(msgs[0].1.contains("a=sendrecv"), "{}", msgs[0].1);
    assert!(!h.gw.calls().next().unwrap().held);
}

#[test]
fn dtmf_info_in_goes_to_the_module_and_module_dtmf_goes_out_as_info() {
    let mut h = H::new(|c| c.media.dtmf_mode = cellgate_media::dtmf::DtmfMode::SipInfo);
    let tag = connected(&mut h, "t1");
    h.send(&in_dialog(
        "INFO",
        "t1",
        "z9hG4bKi1",
        2,
        &tag,
        "Content-Type: application/dtmf-relay\r\n",
        "Signal=5\r\nDuration=160\r\n",
    ));
    assert_eq!(h.codes(), ["200", "line1:SendDtmf('5')"]);
    h.send(&in_dialog(
        "INFO",
        "t1",
        "z9hG4bKi2",
        3,
        &tag,
        "Content-Type: application/dtmf\r\n",
        "#",
    ));
    assert_eq!(h.codes(), ["200", "line1:SendDtmf('#')"]);
    h.send(&in_dialog("INFO", "nope", "z9hG4bKi3", 3, &tag, "", ""));
    assert_eq!(h.codes(), ["481"]);
    h.gw.handle_modem_event(h.now, LineId(1), ModemEvent::DtmfReceived { digit: '7' });
    let (msgs, _) = h.sent();
    let info = &msgs[0].1;
    assert!(
        info.starts_with("INFO sip:alice@127.0.0.1:5070 SIP/2.0"),
        "{info}"
    );
    assert!(
        info.contains("Content-Type: application/dtmf-relay") && info.contains("Signal=7"),
        "{info}"
    );
    assert_eq!(msgs[0].0, addr(PHONE));
}

#[test]
fn message_is_accepted_from_trusted_sources_and_handed_on() {
    let mut h = H::new(|_| {});
    let body = "13602345012\ntest 1";
    let msg = format!(
        "MESSAGE sip:goip-01@{GW} SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bKm1\r\nFrom: <sip:102@{PHONE}>;tag=m1\r\n\
To: <sip:goip-01@{GW}>\r\nCall-ID: 3ac5@127.0.0.1\r\nCSeq: 102 MESSAGE\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    h.send(&msg);
    let out = h.outputs();
    assert!(
        matches!(&out[0], Output::Transmit { payload, .. } if payload.starts_with(b"SIP/2.0 200"))
    );
    match &out[1] {
        Output::Message {
            to_user,
            from_user,
            call_id,
            body: b,
            ..
        } => {
            assert_eq!(to_user.as_deref(), Some("goip-01"));
            assert_eq!(from_user.as_deref(), Some("102"));
            assert_eq!(call_id, "3ac5@127.0.0.1");
            assert_eq!(&b[..], body.as_bytes());
        }
        other => panic!("{other:?}"),
    }
    h.send_from("192.0.2.9:5060", &msg.replace("z9hG4bKm1", "z9hG4bKm2"));
    assert_eq!(h.codes(), ["403"]);
    // Outgoing MESSAGE: outcome reported with the final status.
    let id = h.gw.send_message(
        h.now,
        "sip:02@127.0.0.1:5080",
        addr(PBX),
        "140",
        "text/plain",
        "SMS(callid:3ac5) RELAY OK".into(),
    );
    let (msgs, _) = h.sent();
    assert!(msgs[0]
        .1
        .starts_with("MESSAGE sip:02@127.0.0.1:5080 SIP/2.0"));
    h.send_from(PBX, &answer(&msgs[0].1, 202, ""));
    let out = h.outputs();
    assert_eq!(
        out,
        [Output::MessageOutcome {
            id,
            status: Some(202)
        }]
    );
}

#[test]
fn options_keepalive_is_sent_every_interval() {
    let mut h = H::new(|c| {
        c.keepalives = vec![
            KeepAlive {
                target: addr(PBX),
                interval: Duration::from_secs(20),
                options: true,
            },
            KeepAlive {
                target: addr("127.0.0.1:5090"),
                interval: Duration::from_secs(15),
                options: false,
            },
        ]
    });
    h.advance(Duration::from_secs(15));
    let (msgs, _) = h.sent();
    assert_eq!(msgs, [(addr("127.0.0.1:5090"), "\r\n\r\n".to_owned())]);
    h.advance(Duration::from_secs(5));
    let (msgs, _) = h.sent();
    assert_eq!(msgs.len(), 1);
    assert!(
        msgs[0].1.starts_with("OPTIONS sip:127.0.0.1:5080 SIP/2.0"),
        "{}",
        msgs[0].1
    );
    h.send_from(PBX, &answer(&msgs[0].1, 200, ""));
    h.advance(Duration::from_secs(10));
    let (msgs, _) = h.sent();
    assert_eq!(
        msgs.len(),
        1,
        "CRLF at 30 s, no OPTIONS retransmission after the 200"
    );
}

fn forward_config(c: &mut GatewayConfig, cid: CidMode) {
    let mut forward = BTreeMap::new();
    forward.insert(
        LineId(1),
        ForwardTarget {
            uri: format!("sip:101@{PBX}"),
            next_hop: addr(PBX),
            local_user: "goip1".into(),
            credentials: Some(("goip1".into(), "pw".into())),
        },
    );
    c.forward = forward;
    c.cid_mode = cid;
}

#[test]
fn gsm_call_is_forwarded_as_invite_with_caller_id_and_released_both_ways() {
    let mut h = H::new(|c| forward_config(c, CidMode::From));
    h.gw.handle_modem_event(
        h.now,
        LineId(1),
        ModemEvent::IncomingCall {
            index: Some(1),
            caller: Some("+4915112345".into()),
        },
    );
    let (msgs, cmds) = h.sent();
    assert!(cmds.is_empty());
    let (to, inv) = &msgs[0];
    assert_eq!(*to, addr(PBX));
    assert!(
        inv.starts_with("INVITE sip:101@127.0.0.1:5080 SIP/2.0"),
        "{inv}"
    );
    assert!(
        header(inv, "From").starts_with("<sip:+4915112345@127.0.0.1>"),
        "{inv}"
    );
    assert!(inv.contains("m=audio 16384 RTP/AVP 0 8 18 101"), "{inv}");
    // RING repeats do not send a second INVITE.
    h.gw.handle_modem_event(
        h.now,
        LineId(1),
        ModemEvent::IncomingCall {
            index: Some(1),
            caller: Some("+4915112345".into()),
        },
    );
    assert!(h.codes().is_empty());
    // Timer A retransmits until a provisional.
    h.advance(Duration::from_millis(500));
    assert_eq!(h.codes(), ["INVITE"]);
    h.send_from(PBX, &answer(inv, 180, ""));
    h.advance(Duration::from_secs(2));
    assert!(h.codes().is_empty());
    // 200: ACK and answer the module.
    h.send_from(
        PBX,
        &answer(inv, 200, &format!("Contact: <sip:101@{PBX}>\r\n")),
    );
    let (msgs, cmds) = h.sent();
    assert!(
        msgs[0].1.starts_with("ACK sip:101@127.0.0.1:5080 SIP/2.0"),
        "{}",
        msgs[0].1
    );
    assert!(msgs[0].1.contains("tag=callee1"), "{}", msgs[0].1);
    assert_eq!(cmds, ["line1:Answer"]);
    assert!(h.gw.lines().lines()[0].busy, "line busy during the call");
    // SIP side hangs up: 200 and module hang-up.
    let bye = format!(
        "BYE sip:goip1@{GW} SIP/2.0\r\nVia: SIP/2.0/UDP {PBX};branch=z9hG4bKpb\r\nFrom: <sip:101@{PBX}>;tag=callee1\r\n\
To: {}\r\nCall-ID: {}\r\nCSeq: 5 BYE\r\nContent-Length: 0\r\n\r\n",
        header(inv, "From"),
        header(inv, "Call-ID")
    );
    h.send_from(PBX, &bye);
    assert_eq!(h.codes(), ["200", "line1:HangUp"]);
    let cmd = ModemCommand::HangUp;
    h.gw.handle_modem_event(
        h.now,
        LineId(1),
        ModemEvent::CallReleased {
            index: 1,
            cause: ReleaseCause::NORMAL_CLEARING,
        },
    );
    h.gw.handle_command_result(h.now, LineId(1), None, &cmd, Ok(None));
    assert!(!h.gw.lines().lines()[0].busy, "line free after the call");

    // GSM caller hangs up after answer: BYE.
    h.gw.handle_modem_event(
        h.now,
        LineId(1),
        ModemEvent::IncomingCall {
            index: Some(1),
            caller: Some("5550001".into()),
        },
    );
    let (msgs, _) = h.sent();
    let inv = msgs[0].1.clone();
    h.send_from(
        PBX,
        &answer(&inv, 200, &format!("Contact: <sip:101@{PBX}>\r\n")),
    );
    h.sent();
    h.gw.handle_modem_event(
        h.now,
        LineId(1),
        ModemEvent::CallReleased {
            index: 1,
            cause: ReleaseCause::NORMAL_CLEARING,
        },
    );
    let (msgs, _) = h.sent();
    assert!(
        msgs[0].1.starts_with("BYE sip:101@127.0.0.1:5080 SIP/2.0"),
        "{}",
        msgs[0].1
    );
    h.send_from(PBX, &answer(&msgs[0].1, 200, ""));
    h.advance(Duration::from_secs(1));
    assert!(!h.gw.lines().lines()[0].busy);
}

#[test]
fn gsm_caller_gone_before_answer_cancels_and_remote_party_id_mode_keeps_from() {
    let mut h = H::new(|c| forward_config(c, CidMode::RemotePartyId));
    h.gw.handle_modem_event(
        h.now,
        LineId(1),
        ModemEvent::IncomingCall {
            index: Some(1),
            caller: Some("5550001".into()),
        },
    );
    let (msgs, _) = h.sent();
    let inv = msgs[0].1.clone();
    assert!(
        header(&inv, "From").starts_with("<sip:goip1@127.0.0.1>"),
        "{inv}"
    );
    assert!(
        header(&inv, "Remote-Party-ID").starts_with("<sip:5550001@127.0.0.1>;party=calling"),
        "{inv}"
    );
    h.send_from(PBX, &answer(&inv, 180, ""));
    h.gw.handle_modem_event(
        h.now,
        LineId(1),
        ModemEvent::CallReleased {
            index: 1,
            cause: ReleaseCause::NORMAL_CLEARING,
        },
    );
    let (msgs, _) = h.sent();
    let cancel = &msgs[0].1;
    assert!(
        cancel.starts_with("CANCEL sip:101@127.0.0.1:5080 SIP/2.0"),
        "{cancel}"
    );
    assert_eq!(
        header(cancel, "Via"),
        header(&inv, "Via"),
        "same branch as the INVITE"
    );
    h.send_from(PBX, &answer(cancel, 200, ""));
    h.send_from(PBX, &answer(&inv, 487, ""));
    let (msgs, _) = h.sent();
    assert!(
        msgs[0].1.starts_with("ACK "),
        "the transaction ACKs the 487"
    );
    h.advance(Duration::from_secs(40));
    assert_eq!(h.gw.calls().count(), 0);
}

#[test]
fn gsm_call_challenged_by_the_pbx_is_retried_with_credentials_once() {
    let mut h = H::new(|c| forward_config(c, CidMode::Disabled));
    h.gw.handle_modem_event(
        h.now,
        LineId(1),
        ModemEvent::IncomingCall {
            index: Some(1),
            caller: Some("5550001".into()),
        },
    );
    let (msgs, _) = h.sent();
    let inv = msgs[0].1.clone();
    assert!(!inv.contains("5550001"), "CID disabled: {inv}");
    let challenge =
        "WWW-Authenticate: Digest realm=\"pbx\", nonce=\"n1\", algorithm=MD5, qop=\"auth\"\r\n";
    h.send_from(PBX, &answer(&inv, 401, challenge));
    let (msgs, _) = h.sent();
    assert!(msgs[0].1.starts_with("ACK "), "{}", msgs[0].1);
    assert!(
        msgs[1].1.starts_with("INVITE ") && msgs[1].1.contains("Authorization: Digest"),
        "{}",
        msgs[1].1
    );
    h.send_from(PBX, &answer(&msgs[1].1, 401, challenge));
    let codes = h.codes();
    assert_eq!(codes, ["ACK", "line1:HangUp"], "no second retry");
}

#[test]
fn registrations_start_with_the_gateway_and_report_status() {
    let account = AccountConfig {
        auth_id: "goip-01".into(),
        password: "pw".into(),
        phone_number: None,
        display_name: None,
    };
    let mut h = H::new(|c| {
        c.registrations = vec![RegistrationConfig::new(
            "single",
            account,
            ServerConfig::new(addr(PBX)),
        )];
    });
    let (msgs, _) = h.sent();
    assert_eq!(msgs[0].0, addr(PBX));
    assert!(
        msgs[0].1.starts_with("REGISTER sip:127.0.0.1:5080 SIP/2.0"),
        "{}",
        msgs[0].1
    );
    h.send_from(PBX, &answer(&msgs[0].1, 200, "Expires: 300\r\n"));
    let status = h.gw.registration_status();
    assert_eq!(status[0].0, "single");
    assert!(status[0].1.registered, "{status:?}");
}

// ---------------------------------------------------------------- media (§6.5)

fn media_outputs(h: &mut H) -> Vec<Output> {
    h.outputs()
        .into_iter()
        .filter(|o| {
            matches!(
                o,
                Output::MediaStart(_)
                    | Output::MediaUpdate { .. }
                    | Output::MediaStop { .. }
                    | Output::MediaDtmf { .. }
            )
        })
        .collect()
}

#[test]
fn answered_calls_get_ports_from_the_range_and_media_start_and_stop() {
    use cellgate_media::codec::Codec;
    use cellgate_media::dtmf::{DtmfMode, GsmDtmfPath};
    let mut h = H::new(|c| {
        c.rtp_base_port = 20_001;
        c.media.codecs = vec![Codec::G729, Codec::Pcmu];
    });
    // Two calls at once: the lowest free even ports, in the SDP.
    h.send(&invite("5551234", "m1", "z9hG4bKm1"));
    h.send(&invite("5551235", "m2", "z9hG4bKm2"));
    h.outputs();
    h.gw.handle_modem_event(h.now, LineId(1), ModemEvent::CallConnected { index: 1 });
    let out = h.outputs();
    let ok = out
        .iter()
        .find_map(|o| match o {
            Output::Transmit { payload, .. } => Some(String::from_utf8_lossy(payload).to_string()),
            _ => None,
        })
        .unwrap();
    // G.729 is preferred but not offered: PCMU.
    assert!(ok.contains("m=audio 20002 RTP/AVP 0 101"), "{ok}");
    let start = out
        .iter()
        .find_map(|o| match o {
            Output::MediaStart(p) => Some(p.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(start.local_port, 20_002);
    assert_eq!(start.line, LineId(1));
    assert_eq!(start.remote, addr("127.0.0.1:6000"));
    assert_eq!((start.codec, start.payload_type), (Codec::Pcmu, 0));
    assert_eq!(start.telephone_event, Some(101));
    assert_eq!(start.dtmf_mode, DtmfMode::Rfc4733);
    assert_eq!(start.gsm_dtmf, GsmDtmfPath::InBand);
    assert_eq!(start.ptime, 20);
    h.gw.handle_modem_event(h.now, LineId(2), ModemEvent::CallConnected { index: 1 });
    let second = media_outputs(&mut h);
    assert!(
        matches!(&second[..], [Output::MediaStart(p)] if p.local_port == 20_004),
        "{second:?}"
    );
    // The GSM side of call 1 hangs up: media stops, its port is free again.
    h.gw.handle_modem_event(
        h.now,
        LineId(1),
        ModemEvent::CallReleased {
            index: 1,
            cause: ReleaseCause::NORMAL_CLEARING,
        },
    );
    let stop = media_outputs(&mut h);
    assert!(
        matches!(&stop[..], [Output::MediaStop { call }] if *call == start.call),
        "{stop:?}"
    );
}

#[test]
fn rtp_timeout_hangs_up_both_sides_and_dtmf_routes_by_mode() {
    use cellgate_engine::gateway::MediaEvent;
    let mut h = H::new(|c| c.media.rtp_timeout = Some(Duration::from_secs(30)));
    let _tag = connected(&mut h, "r1");
    let call = h.gw.calls().next().unwrap().id;
    // RFC 4733 mode with the in-band module path: +QTONEDET is left to the bridge.
    h.gw.handle_modem_event(h.now, LineId(1), ModemEvent::DtmfReceived { digit: '7' });
    assert!(h.outputs().is_empty());
    // The bridge asks for AT+VTS (module path AT) or INFO (SIP INFO mode).
    h.gw.handle_media_event(h.now, call, MediaEvent::DtmfToModule('4'));
    assert_eq!(h.codes(), ["line1:SendDtmf('4')"]);
    h.gw.handle_media_event(h.now, call, MediaEvent::DtmfToSip('9'));
    let (msgs, _) = h.sent();
    assert!(msgs[0].1.starts_with("INFO ") && msgs[0].1.contains("Signal=9"));
    h.gw.handle_media_event(h.now, call, MediaEvent::RtpTimeout);
    let out = h.outputs();
    let texts: Vec<String> = out
        .iter()
        .map(|o| match o {
            Output::Transmit { payload, .. } => first_word(&String::from_utf8_lossy(payload)),
            Output::Modem { command, .. } => format!("{command:?}"),
            Output::MediaStop { .. } => "MediaStop".into(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(texts, ["BYE", "HangUp", "MediaStop"]);
}

#[test]
fn module_dtmf_goes_to_the_bridge_on_the_at_path() {
    use cellgate_media::dtmf::GsmDtmfPath;
    let mut h = H::new(|c| c.media.gsm_dtmf = GsmDtmfPath::AtCommand);
    connected(&mut h, "d1");
    let call = h.gw.calls().next().unwrap().id;
    h.gw.handle_modem_event(h.now, LineId(1), ModemEvent::DtmfReceived { digit: '#' });
    let out = media_outputs(&mut h);
    assert_eq!(out, [Output::MediaDtmf { call, digit: '#' }]);
}
