//! The built-in registrar (F-6.4.6), driven with an explicit clock: digest challenge,
//! only the password checked, bindings with expiry, calls from registered clients,
//! GSM -> SIP calls to a registered client. The gateway runs with its safe default
//! trust (nobody), so every call that gets through does so because of registration.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cellgate_engine::sip::digest::DigestClient;
use cellgate_engine::sip::registrar::RegistrarConfig;
use cellgate_engine::sip::{Message, Request, Response};
use cellgate_engine::{Gateway, GatewayConfig, Output};
use cellgate_hal::{LineId, ModemEvent};

const GW: &str = "192.0.2.10:5060";
const SOFT: &str = "192.0.2.7:5062";
const OTHER: &str = "192.0.2.7:5999";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

struct H {
    gw: Gateway,
    now: Instant,
    branch: u32,
}

impl H {
    fn new(config: impl FnOnce(&mut GatewayConfig)) -> Self {
        let mut c = GatewayConfig::new(addr(GW));
        c.seed = Some(3);
        let mut reg = RegistrarConfig::new("reg-Secret-1");
        reg.min_expires = 30;
        reg.max_expires = 600;
        c.registrar = Some(reg);
        config(&mut c);
        let mut gw = Gateway::new(c, [LineId(1)]);
        gw.handle_line_status(LineId(1), true, true);
        let now = Instant::now();
        gw.start(now);
        Self { gw, now, branch: 0 }
    }

    fn send(&mut self, from: &str, text: &str) -> Vec<(SocketAddr, String, Option<String>)> {
        self.gw
            .handle_datagram(self.now, addr(from), text.as_bytes());
        self.out()
    }

    /// (destination, first line, module command) of every output.
    fn out(&mut self) -> Vec<(SocketAddr, String, Option<String>)> {
        std::iter::from_fn(|| self.gw.poll_output())
            .filter(|o| !o.is_bookkeeping())
            .map(|o| match o {
                Output::Transmit { to, payload } => {
                    (to, String::from_utf8_lossy(&payload).into_owned(), None)
                }
                Output::Modem { line, command, .. } => {
                    (addr(GW), String::new(), Some(format!("{line}:{command:?}")))
                }
                other => (addr(GW), format!("{other:?}"), None),
            })
            .collect()
    }

    fn register_request(&mut self, user: &str, from: &str, expires: u32) -> Request {
        self.branch += 1;
        let text = format!(
            "REGISTER sip:{GW} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bKr{}\r\n\
From: <sip:{user}@{GW}>;tag=r1\r\nTo: <sip:{user}@{GW}>\r\nCall-ID: reg-{user}\r\nCSeq: {} REGISTER\r\n\
Contact: <sip:{user}@{from}>;expires={expires}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            self.branch, self.branch
        );
        match Message::parse(text.as_bytes()) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    /// REGISTER, answer the 401 with `password`; returns the final response.
    fn register(&mut self, user: &str, password: &str, from: &str, expires: u32) -> String {
        let first = self.register_request(user, from, expires);
        let out = self.send(from, &String::from_utf8_lossy(&first.to_bytes()));
        assert!(out[0].1.starts_with("SIP/2.0 401"), "{}", out[0].1);
        let challenge = match Message::parse(out[0].1.as_bytes()) {
            Ok(Message::Response(r)) => r,
            other => panic!("{other:?}"),
        };
        let mut client = DigestClient::new(user, password);
        client.on_challenge(&first, &challenge).expect("challenge");
        let mut second = self.register_request(user, from, expires);
        client.authorize(&mut second.headers);
        let out = self.send(from, &String::from_utf8_lossy(&second.to_bytes()));
        assert_eq!(out.len(), 1, "{out:?}");
        out[0].1.clone()
    }

    fn invite(&mut self, from: &str, call: &str) -> Vec<(SocketAddr, String, Option<String>)> {
        self.branch += 1;
        let text = format!(
            "INVITE sip:5551234@{GW} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bKi{}\r\n\
From: <sip:alice@{from}>;tag=i1\r\nTo: <sip:5551234@{GW}>\r\nCall-ID: {call}\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:alice@{from}>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            self.branch
        );
        self.send(from, &text)
    }
}

fn status(text: &str) -> &str {
    text.split(' ').nth(1).unwrap_or("")
}

#[test]
fn registration_checks_only_the_password_and_admits_calls_from_the_binding() {
    let mut h = H::new(|_| {});
    // Before registering: the default trust refuses the call.
    let out = h.invite(SOFT, "c1");
    assert_eq!(status(&out[0].1), "403", "{}", out[0].1);
    // A wrong password is refused; any user name with the password is accepted.
    let wrong = h.register("alice", "guess", SOFT, 120);
    assert_eq!(status(&wrong), "403", "{wrong}");
    let ok = h.register("alice", "reg-Secret-1", SOFT, 120);
    assert_eq!(status(&ok), "200", "{ok}");
    assert!(
        ok.contains(&format!("<sip:alice@{SOFT}>;expires=120")),
        "{ok}"
    );
    let other_user = h.register("bob", "reg-Secret-1", OTHER, 9999);
    assert!(other_user.contains("expires=600"), "capped: {other_user}");
    let now = h.now;
    let users: Vec<String> =
        h.gw.registered_clients(now)
            .into_iter()
            .map(|b| format!("{}@{}", b.user, b.source))
            .collect();
    assert_eq!(users, [format!("alice@{SOFT}"), format!("bob@{OTHER}")]);
    // The registered client's calls go through (100 Trying, then a dial).
    let out = h.invite(SOFT, "c2");
    assert!(out[0].1.starts_with("SIP/2.0 100"), "{}", out[0].1);
    assert!(out
        .iter()
        .any(|o| o.2.as_deref() == Some("line1:Dial(\"5551234\")")));
    // Same IP, another port: not the binding, refused.
    let out = h.invite("192.0.2.7:6000", "c3");
    assert_eq!(status(&out[0].1), "403");
}

#[test]
fn bindings_expire_unregister_and_short_lifetimes_get_423() {
    let mut h = H::new(|_| {});
    let brief = {
        let first = h.register_request("alice", SOFT, 5);
        let out = h.send(SOFT, &String::from_utf8_lossy(&first.to_bytes()));
        let challenge: Response = match Message::parse(out[0].1.as_bytes()) {
            Ok(Message::Response(r)) => r,
            other => panic!("{other:?}"),
        };
        let mut client = DigestClient::new("alice", "reg-Secret-1");
        client.on_challenge(&first, &challenge).expect("challenge");
        let mut second = h.register_request("alice", SOFT, 5);
        client.authorize(&mut second.headers);
        h.send(SOFT, &String::from_utf8_lossy(&second.to_bytes()))
    };
    assert_eq!(status(&brief[0].1), "423");
    assert!(brief[0].1.contains("Min-Expires: 30"), "{}", brief[0].1);

    assert_eq!(
        status(&h.register("alice", "reg-Secret-1", SOFT, 60)),
        "200"
    );
    assert_eq!(h.gw.registered_clients(h.now).len(), 1);
    // The binding lapses after 60 s; the gateway wakes up for it.
    let deadline = h.gw.poll_timeout().expect("expiry deadline");
    assert!(deadline <= h.now + Duration::from_secs(60));
    h.now += Duration::from_secs(61);
    h.gw.handle_timeout(h.now);
    assert!(h.gw.registered_clients(h.now).is_empty());
    let out = h.invite(SOFT, "c9");
    assert_eq!(status(&out[0].1), "403");
    // Register again, then unregister with expires=0.
    assert_eq!(
        status(&h.register("alice", "reg-Secret-1", SOFT, 60)),
        "200"
    );
    assert_eq!(status(&h.register("alice", "reg-Secret-1", SOFT, 0)), "200");
    assert!(h.gw.registered_clients(h.now).is_empty());
}

#[test]
fn gsm_call_goes_to_the_registered_client_and_is_rejected_while_none_is() {
    let mut h = H::new(|c| {
        c.forward_registered.insert(LineId(1), "alice".into());
    });
    let ring = ModemEvent::IncomingCall {
        index: Some(1),
        caller: Some("5550100".into()),
    };
    h.gw.handle_modem_event(h.now, LineId(1), ring.clone());
    let out = h.out();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].2.as_deref(),
        Some("line1:HangUp"),
        "no client: rejected"
    );
    h.gw.handle_command_result(
        h.now,
        LineId(1),
        None,
        &cellgate_engine::ModemCommand::HangUp,
        Ok(None),
    );
    assert_eq!(
        status(&h.register("alice", "reg-Secret-1", SOFT, 60)),
        "200"
    );
    h.gw.handle_modem_event(h.now, LineId(1), ring);
    let out = h.out();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].0, addr(SOFT));
    assert!(
        out[0]
            .1
            .starts_with(&format!("INVITE sip:alice@{SOFT} SIP/2.0")),
        "{}",
        out[0].1
    );
    assert!(out[0].1.contains("From: <sip:5550100@"), "{}", out[0].1);
}
