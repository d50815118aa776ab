//! RFC 3261 §9.1 in GSM -> SIP calls: when the GSM caller hangs up before any
//! provisional response, no CANCEL goes out until a 1xx arrives; a 2xx instead is ACKed
//! and ended with BYE; an INVITE nobody answers just times out.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cellgate_engine::gateway::ForwardTarget;
use cellgate_engine::{Gateway, GatewayConfig, InboundTrust, Output};
use cellgate_hal::{LineId, ModemEvent, ReleaseCause};

const GW: &str = "127.0.0.1:5060";
const PBX: &str = "127.0.0.1:5080";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

struct H {
    gw: Gateway,
    now: Instant,
}

impl H {
    fn new() -> Self {
        let mut c = GatewayConfig::new(addr(GW));
        c.trust = InboundTrust::LoopbackOnly;
        c.seed = Some(3);
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
        Self { gw, now }
    }

    /// Requests/responses sent, as text.
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

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.gw.handle_timeout(self.now);
    }

    /// A GSM call arrives on line 1 and the caller hangs up before any SIP answer;
    /// returns the INVITE.
    fn call_and_hang_up(&mut self) -> String {
        let event = ModemEvent::IncomingCall {
            index: Some(1),
            caller: Some("5550001".into()),
        };
        self.gw.handle_modem_event(self.now, LineId(1), event);
        let sent = self.sent();
        let invite = sent
            .iter()
            .find(|m| m.starts_with("INVITE "))
            .cloned()
            .expect("INVITE");
        let released = ModemEvent::CallReleased {
            index: 1,
            cause: ReleaseCause::NORMAL_CLEARING,
        };
        self.gw.handle_modem_event(self.now, LineId(1), released);
        invite
    }
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

fn answer(request: &str, code: u16, extra: &str) -> String {
    let h = |n: &str| header(request, n);
    format!(
        "SIP/2.0 {code} X\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=callee1\r\nCall-ID: {}\r\nCSeq: {}\r\n\
{extra}Content-Length: 0\r\n\r\n",
        h("Via"),
        h("From"),
        h("To"),
        h("Call-ID"),
        h("CSeq")
    )
}

fn methods(sent: &[String]) -> Vec<String> {
    sent.iter()
        .map(|m| m.split(' ').next().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn cancel_waits_for_the_first_provisional() {
    let mut h = H::new();
    let invite = h.call_and_hang_up();
    assert!(
        !methods(&h.sent()).contains(&"CANCEL".to_owned()),
        "no CANCEL before a provisional"
    );
    h.advance(Duration::from_millis(500));
    let retransmitted = h.sent();
    assert_eq!(
        methods(&retransmitted),
        ["INVITE"],
        "the INVITE is retransmitted"
    );
    h.pbx_sends(&answer(&invite, 100, ""));
    let sent = h.sent();
    assert_eq!(methods(&sent), ["CANCEL"], "{sent:#?}");
    assert_eq!(header(&sent[0], "Via"), header(&invite, "Via"));
    h.pbx_sends(&answer(&sent[0], 200, ""));
    h.pbx_sends(&answer(&invite, 180, ""));
    assert!(h.sent().is_empty(), "a later 1xx sends no second CANCEL");
    h.pbx_sends(&answer(&invite, 487, ""));
    assert_eq!(methods(&h.sent()), ["ACK"]);
    h.advance(Duration::from_secs(40));
    assert_eq!(h.gw.calls().count(), 0);
    assert!(!h.gw.lines().lines()[0].busy);
}

#[test]
fn a_2xx_instead_of_a_provisional_is_acked_and_ended_with_bye() {
    let mut h = H::new();
    let invite = h.call_and_hang_up();
    h.sent();
    h.pbx_sends(&answer(
        &invite,
        200,
        &format!("Contact: <sip:101@{PBX}>\r\n"),
    ));
    let sent = h.sent();
    assert_eq!(methods(&sent), ["ACK", "BYE"], "{sent:#?}");
    h.pbx_sends(&answer(&sent[1], 200, ""));
    h.advance(Duration::from_secs(40));
    assert!(!h.gw.lines().lines()[0].busy);
}

#[test]
fn an_unanswered_invite_times_out_without_cancel() {
    let mut h = H::new();
    h.call_and_hang_up();
    let mut all = h.sent();
    for _ in 0..80 {
        h.advance(Duration::from_secs(1));
        all.extend(h.sent());
    }
    assert!(!methods(&all).contains(&"CANCEL".to_owned()), "{all:#?}");
    assert!(!h.gw.lines().lines()[0].busy);
}
