//! re-INVITE inside a GSM -> SIP dialog: the SIP callee holds (`sendonly` -> answered
//! `recvonly`) and resumes; the 2xx is retransmitted until the ACK; a re-INVITE without
//! a usable offer gets 488.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cellgate_engine::gateway::ForwardTarget;
use cellgate_engine::{Gateway, GatewayConfig, InboundTrust, Output};
use cellgate_hal::{LineId, ModemEvent};

const GW: &str = "127.0.0.1:5060";
const PBX: &str = "127.0.0.1:5080";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn header(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default()
}

fn sdp(direction: &str) -> String {
    format!(
        "v=0\r\no=pbx 7 {} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na={direction}\r\n",
        direction.len()
    )
}

struct H {
    gw: Gateway,
    now: Instant,
}

impl H {
    fn sent(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.gw.poll_output())
            .filter(|o| !o.is_bookkeeping())
            .filter_map(|o| match o {
                Output::Transmit { payload, .. } => {
                    Some(String::from_utf8_lossy(&payload).into_owned())
                }
                _ => None,
            })
            .collect()
    }

    fn pbx_sends(&mut self, text: &str) {
        self.gw
            .handle_datagram(self.now, addr(PBX), text.as_bytes());
    }

    /// A GSM -> SIP call answered by the PBX; returns the INVITE.
    fn connected() -> (Self, String) {
        let mut c = GatewayConfig::new(addr(GW));
        c.trust = InboundTrust::LoopbackOnly;
        c.seed = Some(4);
        c.forward.insert(
            LineId(1),
            ForwardTarget {
                uri: format!("sip:101@{PBX}"),
                next_hop: addr(PBX),
                local_user: "goip1".into(),
                credentials: None,
            },
        );
        let mut gw = Gateway::new(c, [LineId(1)]);
        gw.handle_line_status(LineId(1), true, true);
        let now = Instant::now();
        gw.start(now);
        let mut h = Self { gw, now };
        let event = ModemEvent::IncomingCall {
            index: Some(1),
            caller: Some("5550001".into()),
        };
        h.gw.handle_modem_event(h.now, LineId(1), event);
        let invite = h.sent().into_iter().next().expect("INVITE");
        let body = sdp("sendrecv");
        h.pbx_sends(&format!(
            "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=callee1\r\nCall-ID: {}\r\nCSeq: {}\r\n\
Contact: <sip:101@{PBX}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            header(&invite, "Via"),
            header(&invite, "From"),
            header(&invite, "To"),
            header(&invite, "Call-ID"),
            header(&invite, "CSeq"),
            body.len()
        ));
        let sent = h.sent();
        assert!(sent[0].starts_with("ACK "), "{sent:#?}");
        (h, invite)
    }

    /// A re-INVITE from the PBX in the dialog of `invite`.
    fn reinvite(&mut self, invite: &str, cseq: u32, body: &str) {
        let from = header(invite, "From");
        let to = header(invite, "To");
        self.pbx_sends(&format!(
            "INVITE sip:goip1@{GW} SIP/2.0\r\nVia: SIP/2.0/UDP {PBX};branch=z9hG4bKre{cseq}\r\n\
From: {to};tag=callee1\r\nTo: {from}\r\nCall-ID: {}\r\nCSeq: {cseq} INVITE\r\n\
Contact: <sip:101@{PBX}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{body}",
            header(invite, "Call-ID"),
            body.len()
        ));
    }

    fn ack(&mut self, invite: &str, cseq: u32) {
        let from = header(invite, "From");
        let to = header(invite, "To");
        self.pbx_sends(&format!(
            "ACK sip:goip1@{GW} SIP/2.0\r\nVia: SIP/2.0/UDP {PBX};branch=z9hG4bKack{cseq}\r\n\
From: {to};tag=callee1\r\nTo: {from}\r\nCall-ID: {}\r\nCSeq: {cseq} ACK\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            header(invite, "Call-ID"),
        ));
    }
}

fn o_line(text: &str) -> Vec<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("o="))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn hold_and_resume_in_a_gsm_to_sip_call() {
    let (mut h, invite) = H::connected();
    h.reinvite(&invite, 10, &sdp("sendonly"));
    let sent = h.sent();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let ok = &sent[0];
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert!(ok.contains("a=recvonly"), "{ok}");
    assert!(header(ok, "To").contains(";tag="), "{ok}");
    let ours = o_line(&invite);
    let held = o_line(ok);
    assert_eq!(held[1], ours[1], "same session id");
    assert!(
        held[2].parse::<u64>().ok() > ours[2].parse::<u64>().ok(),
        "version raised"
    );
    // No ACK yet: the 2xx is retransmitted.
    h.now += Duration::from_millis(600);
    h.gw.handle_timeout(h.now);
    let again = h.sent();
    assert!(
        again.iter().any(|m| m.starts_with("SIP/2.0 200")),
        "{again:#?}"
    );
    h.ack(&invite, 10);
    h.now += Duration::from_secs(5);
    h.gw.handle_timeout(h.now);
    assert!(h.sent().is_empty(), "no retransmission after the ACK");

    h.reinvite(&invite, 11, &sdp("sendrecv"));
    let sent = h.sent();
    assert!(sent[0].starts_with("SIP/2.0 200"), "{sent:#?}");
    assert!(sent[0].contains("a=sendrecv"), "{}", sent[0]);
    assert!(o_line(&sent[0])[2].parse::<u64>().ok() > held[2].parse::<u64>().ok());
    h.ack(&invite, 11);
    assert!(h.gw.lines().lines()[0].busy, "the call goes on");
}

#[test]
fn reinvite_without_usable_offer_gets_488_and_the_call_goes_on() {
    let (mut h, invite) = H::connected();
    h.reinvite(&invite, 10, "");
    let sent = h.sent();
    assert!(sent[0].starts_with("SIP/2.0 488"), "{sent:#?}");
    h.reinvite(&invite, 11, &sdp("sendonly"));
    let sent = h.sent();
    assert!(sent[0].starts_with("SIP/2.0 200"), "{sent:#?}");
}
