//! Client transactions (RFC 3261 §17.1) as sans-IO state: the request goes out once,
//! then the owner feeds responses and the time, and gets back bytes to resend, the ACK
//! to send, and the next deadline.
//!
//! - [`NonInviteClient`]: Timer E (retransmit, doubling to T2; T2 once a provisional
//!   arrived) and Timer F (give up after the NICT timeout, F-6.4.19).
//! - [`InviteClient`]: Timer A (retransmit, doubling), Timer B (give up after the ICT
//!   timeout, F-6.4.20), the ACK for a non-2xx final response built and resent inside
//!   the transaction (Timer D), while the ACK for a 2xx is the dialog's job (§13.2.2.4).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ezk_sip_types::{Method, Name};

use super::message::{Request, Response};
use super::timers::SipTimers;
use super::uas::TimerOutcome;

/// Timer D for unreliable transports: how long a completed INVITE client transaction
/// absorbs retransmitted final responses.
pub const TIMER_D: Duration = Duration::from_secs(32);

/// A non-INVITE request the gateway sends (REGISTER, BYE, OPTIONS, INFO, MESSAGE...).
#[derive(Debug)]
pub struct NonInviteClient {
    /// Branch of this transaction, to match responses.
    pub branch: String,
    /// Destination.
    pub destination: SocketAddr,
    request: Request,
    bytes: Bytes,
    next: Option<Instant>,
    interval: Duration,
    give_up: Instant,
    timers: SipTimers,
    done: bool,
}

impl NonInviteClient {
    /// Starts the transaction; the caller sends the returned bytes once now.
    pub fn start(
        request: &Request,
        branch: String,
        destination: SocketAddr,
        now: Instant,
        timers: SipTimers,
    ) -> (Self, Bytes) {
        let bytes = request.to_bytes();
        (
            Self {
                branch,
                destination,
                request: request.clone(),
                bytes: bytes.clone(),
                next: Some(now + timers.t1),
                interval: timers.t1,
                give_up: now + timers.nict_timeout,
                timers,
                done: false,
            },
            bytes,
        )
    }

    /// The request this transaction carries.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// A response matched this transaction's branch. Returns `true` when it is final
    /// (the transaction is then complete and stops retransmitting).
    pub fn on_response(&mut self, code: u16) -> bool {
        if self.done {
            return code >= 200;
        }
        if code >= 200 {
            self.done = true;
            self.next = None;
            return true;
        }
        // Proceeding: retransmit every T2 from now on (§17.1.2.2).
        self.interval = self.timers.t2;
        false
    }

    /// Whether a final response arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Next deadline.
    pub fn poll_timeout(&self) -> Instant {
        if self.done {
            return self.give_up;
        }
        self.next.map_or(self.give_up, |n| n.min(self.give_up))
    }

    /// Drives Timer E and Timer F.
    pub fn handle_timeout(&mut self, now: Instant) -> TimerOutcome {
        if self.done {
            return TimerOutcome::Idle;
        }
        if now >= self.give_up {
            self.done = true;
            return TimerOutcome::GaveUp;
        }
        match self.next {
            Some(next) if now >= next => {
                self.interval = self.timers.next_interval(self.interval);
                self.next = Some(now + self.interval);
                TimerOutcome::Retransmit(self.bytes.clone())
            }
            _ => TimerOutcome::Idle,
        }
    }
}

/// Where an INVITE client transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteClientState {
    /// Sent, nothing heard: retransmitting (Timer A).
    Calling,
    /// A provisional arrived: waiting for the final response.
    Proceeding,
    /// A non-2xx final arrived and was acknowledged; absorbing retransmissions (Timer D).
    Completed,
    /// Done (2xx handed to the dialog, Timer D or Timer B fired).
    Terminated,
}

/// What a response to the INVITE means for its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteClientEvent {
    /// A provisional response (first or repeated).
    Provisional(u16),
    /// A 2xx: the dialog must ACK it (new branch) and keep ACKing retransmissions.
    Success(u16),
    /// A non-2xx final response, heard for the first time; the ACK must be sent.
    Failure {
        /// Status.
        code: u16,
        /// ACK to send to the transaction's destination.
        ack: Bytes,
    },
    /// The same non-2xx again: resend the ACK only.
    FailureRetransmitted {
        /// ACK to send again.
        ack: Bytes,
    },
}

/// An INVITE the gateway sends (GSM -> SIP calls).
#[derive(Debug)]
pub struct InviteClient {
    /// Branch of this transaction.
    pub branch: String,
    /// Destination (the next hop).
    pub destination: SocketAddr,
    invite: Request,
    bytes: Bytes,
    state: InviteClientState,
    next: Option<Instant>,
    interval: Duration,
    deadline: Instant,
    ack: Option<Bytes>,
    timers: SipTimers,
}

impl InviteClient {
    /// Starts the transaction; the caller sends the returned bytes once now.
    pub fn start(
        invite: &Request,
        branch: String,
        destination: SocketAddr,
        now: Instant,
        timers: SipTimers,
    ) -> (Self, Bytes) {
        let bytes = invite.to_bytes();
        (
            Self {
                branch,
                destination,
                invite: invite.clone(),
                bytes: bytes.clone(),
                state: InviteClientState::Calling,
                next: Some(now + timers.t1),
                interval: timers.t1,
                deadline: now + timers.ict_timeout,
                ack: None,
                timers,
            },
            bytes,
        )
    }

    /// The INVITE.
    pub fn invite(&self) -> &Request {
        &self.invite
    }

    /// Current state.
    pub fn state(&self) -> InviteClientState {
        self.state
    }

    /// Feeds a response whose branch matched.
    pub fn on_response(&mut self, now: Instant, response: &Response) -> InviteClientEvent {
        let code = response.code.into_u16();
        if code < 200 {
            if self.state == InviteClientState::Calling {
                self.state = InviteClientState::Proceeding;
                self.next = None;
            }
            return InviteClientEvent::Provisional(code);
        }
        if code < 300 {
            self.state = InviteClientState::Terminated;
            self.next = None;
            return InviteClientEvent::Success(code);
        }
        if let Some(ack) = &self.ack {
            return InviteClientEvent::FailureRetransmitted { ack: ack.clone() };
        }
        let ack = self.build_ack(response).to_bytes();
        self.ack = Some(ack.clone());
        self.state = InviteClientState::Completed;
        self.next = None;
        self.deadline = now + TIMER_D;
        InviteClientEvent::Failure { code, ack }
    }

    /// ACK for a non-2xx response (§17.1.1.3): same Request-URI, top Via, From,
    /// Call-ID and Route as the INVITE, To from the response, CSeq number of the INVITE.
    fn build_ack(&self, response: &Response) -> Request {
        let mut ack = Request::new(Method::ACK, self.invite.uri.clone());
        for name in [Name::VIA, Name::FROM] {
            if let Some(first) = self.invite.headers.get_raw(&name).next().cloned() {
                ack.headers.insert(name, first);
            }
        }
        match response.headers.get_raw(&Name::TO).next().cloned() {
            Some(to) => ack.headers.insert(Name::TO, to),
            None => {
                let _ = self.invite.headers.clone_into(&mut ack.headers, Name::TO);
            }
        }
        let _ = self
            .invite
            .headers
            .clone_into(&mut ack.headers, Name::CALL_ID);
        let number = self
            .invite
            .headers
            .get_named::<ezk_sip_types::header::typed::CSeq>()
            .map(|c| c.cseq)
            .unwrap_or(1);
        ack.headers.insert(Name::CSEQ, format!("{number} ACK"));
        let _ = self
            .invite
            .headers
            .clone_into(&mut ack.headers, Name::ROUTE);
        ack.headers.insert(Name::MAX_FORWARDS, "70");
        ack
    }

    /// Next deadline, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            InviteClientState::Terminated => None,
            _ => Some(self.next.map_or(self.deadline, |n| n.min(self.deadline))),
        }
    }

    /// Drives Timer A (retransmit), Timer B (give up while calling/proceeding) and
    /// Timer D (leave Completed; reported as `Idle`).
    pub fn handle_timeout(&mut self, now: Instant) -> TimerOutcome {
        match self.state {
            InviteClientState::Terminated => TimerOutcome::Idle,
            InviteClientState::Completed => {
                if now >= self.deadline {
                    self.state = InviteClientState::Terminated;
                }
                TimerOutcome::Idle
            }
            InviteClientState::Calling | InviteClientState::Proceeding => {
                if now >= self.deadline {
                    self.state = InviteClientState::Terminated;
                    return TimerOutcome::GaveUp;
                }
                match self.next {
                    Some(next) if now >= next => {
                        // Timer A doubles without the T2 cap (§17.1.1.2).
                        self.interval *= 2;
                        self.next = Some(now + self.interval);
                        TimerOutcome::Retransmit(self.bytes.clone())
                    }
                    _ => TimerOutcome::Idle,
                }
            }
        }
    }

    /// Whether the transaction gave up or completed.
    pub fn is_terminated(&self) -> bool {
        self.state == InviteClientState::Terminated
    }

    /// The ACK sent for a failure, if any (to answer retransmissions).
    pub fn failure_ack(&self) -> Option<&Bytes> {
        self.ack.as_ref()
    }

    /// Timers in use.
    pub fn timers(&self) -> SipTimers {
        self.timers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Message;

    fn request(method: &str) -> Request {
        let text = format!(
            "{method} sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKx1\r\n\
From: <sip:gw@192.0.2.9>;tag=f1\r\nTo: <sip:100@192.0.2.1>\r\nCall-ID: cid1\r\nCSeq: 7 {method}\r\n\
Route: <sip:proxy.example;lr>\r\nContent-Length: 0\r\n\r\n"
        );
        match Message::parse(text.as_bytes()) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn response(code: u16) -> Response {
        let text = format!(
            "SIP/2.0 {code} X\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKx1\r\n\
From: <sip:gw@192.0.2.9>;tag=f1\r\nTo: <sip:100@192.0.2.1>;tag=t9\r\nCall-ID: cid1\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n"
        );
        match Message::parse(text.as_bytes()) {
            Ok(Message::Response(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn non_invite_retransmits_with_timer_e_and_gives_up_at_timer_f() {
        let t0 = Instant::now();
        let timers = SipTimers::default();
        let dest = "192.0.2.1:5060".parse().unwrap();
        let (mut tx, _) =
            NonInviteClient::start(&request("OPTIONS"), "z9hG4bKx1".into(), dest, t0, timers);
        let mut sent = vec![];
        let mut now = t0;
        while now < t0 + Duration::from_secs(40) {
            now = tx.poll_timeout();
            match tx.handle_timeout(now) {
                TimerOutcome::Retransmit(_) => sent.push((now - t0).as_millis()),
                TimerOutcome::GaveUp => break,
                TimerOutcome::Idle => {}
            }
        }
        assert_eq!(
            &sent[..5],
            &[500, 1500, 3500, 7500, 11500],
            "doubling, capped at T2"
        );
        assert_eq!(now - t0, Duration::from_secs(32), "Timer F = 64·T1");
    }

    #[test]
    fn non_invite_provisional_slows_to_t2_and_final_stops() {
        let t0 = Instant::now();
        let dest = "192.0.2.1:5060".parse().unwrap();
        let (mut tx, _) = NonInviteClient::start(
            &request("REGISTER"),
            "b".into(),
            dest,
            t0,
            SipTimers::default(),
        );
        assert!(!tx.on_response(100));
        assert!(matches!(
            tx.handle_timeout(t0 + Duration::from_millis(500)),
            TimerOutcome::Retransmit(_)
        ));
        assert_eq!(tx.poll_timeout(), t0 + Duration::from_millis(4500));
        assert!(tx.on_response(200));
        assert_eq!(
            tx.handle_timeout(t0 + Duration::from_secs(60)),
            TimerOutcome::Idle
        );
    }

    #[test]
    fn invite_client_acks_failures_itself_and_leaves_2xx_to_the_dialog() {
        let t0 = Instant::now();
        let timers = SipTimers::default();
        let dest = "192.0.2.1:5060".parse().unwrap();
        let (mut tx, _) =
            InviteClient::start(&request("INVITE"), "z9hG4bKx1".into(), dest, t0, timers);
        // Timer A doubles without cap: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5.
        let mut now = t0;
        let mut sent = vec![];
        while let Some(at) = tx.poll_timeout() {
            now = at;
            match tx.handle_timeout(now) {
                TimerOutcome::Retransmit(_) => sent.push((now - t0).as_millis()),
                TimerOutcome::GaveUp => break,
                TimerOutcome::Idle => {}
            }
        }
        assert_eq!(sent, [500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!(now - t0, Duration::from_secs(32), "Timer B");

        let (mut tx, _) =
            InviteClient::start(&request("INVITE"), "z9hG4bKx1".into(), dest, t0, timers);
        assert_eq!(
            tx.on_response(t0, &response(180)),
            InviteClientEvent::Provisional(180)
        );
        let InviteClientEvent::Failure { code, ack } = tx.on_response(t0, &response(486)) else {
            panic!()
        };
        assert_eq!(code, 486);
        let ack = String::from_utf8_lossy(&ack).to_string();
        assert!(ack.starts_with("ACK sip:100@192.0.2.1 SIP/2.0"), "{ack}");
        assert!(ack.contains("branch=z9hG4bKx1"), "same branch: {ack}");
        assert!(ack.contains("tag=t9"), "To from the response: {ack}");
        assert!(ack.contains("CSeq: 7 ACK"), "{ack}");
        assert!(ack.contains("Route: <sip:proxy.example;lr>"), "{ack}");
        assert!(matches!(
            tx.on_response(t0, &response(486)),
            InviteClientEvent::FailureRetransmitted { .. }
        ));
        tx.handle_timeout(t0 + TIMER_D);
        assert!(tx.is_terminated());

        let (mut tx, _) =
            InviteClient::start(&request("INVITE"), "z9hG4bKx1".into(), dest, t0, timers);
        assert_eq!(
            tx.on_response(t0, &response(200)),
            InviteClientEvent::Success(200)
        );
        assert!(tx.is_terminated());
        assert_eq!(tx.poll_timeout(), None);
    }
}
