//! Server side of an INVITE dialog (RFC 3261 §13.3, §17.2.1) and the in-dialog requests
//! the gateway sends back (BYE), as sans-IO state: messages and the time go in, bytes to
//! send and the next deadline come out.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytesstr::BytesStr;
use ezk_sip_types::header::typed::{CSeq, Contact};
use ezk_sip_types::uri::SipUri;
use ezk_sip_types::{Method, Name, StatusCode};

use super::ids::IdGenerator;
use super::message::{CoreHeaders, Request, Response};
use super::timers::SipTimers;

/// A final response being retransmitted until acknowledged.
#[derive(Debug, Clone)]
struct Retransmission {
    bytes: Bytes,
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

/// What a timer firing asks the owner to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerOutcome {
    /// Nothing due.
    Idle,
    /// Send these bytes again.
    Retransmit(Bytes),
    /// The peer never confirmed: treat the dialog as failed (Timer H / 64·T1 for 2xx).
    GaveUp,
}

/// One incoming INVITE: its transaction, then its dialog.
#[derive(Debug)]
pub struct InviteServer {
    invite: Request,
    core: CoreHeaders,
    local_tag: String,
    reply_to: SocketAddr,
    timers: SipTimers,
    last_response: Option<Bytes>,
    retransmission: Option<Retransmission>,
    final_code: Option<u16>,
    acked: bool,
    local_cseq: u32,
}

impl InviteServer {
    /// Starts the server transaction for `invite` (whose core headers were decoded).
    pub fn new(
        invite: Request,
        core: CoreHeaders,
        local_tag: String,
        reply_to: SocketAddr,
        timers: SipTimers,
        first_local_cseq: u32,
    ) -> Self {
        Self {
            invite,
            core,
            local_tag,
            reply_to,
            timers,
            last_response: None,
            retransmission: None,
            final_code: None,
            acked: false,
            local_cseq: first_local_cseq,
        }
    }

    /// Where responses go.
    pub fn reply_to(&self) -> SocketAddr {
        self.reply_to
    }

    /// Our To tag in this dialog.
    pub fn local_tag(&self) -> &str {
        &self.local_tag
    }

    /// The INVITE's CSeq number.
    pub fn cseq(&self) -> u32 {
        self.core.cseq.cseq
    }

    /// The INVITE this transaction serves.
    pub fn invite(&self) -> &Request {
        &self.invite
    }

    /// The INVITE's Call-ID.
    pub fn call_id(&self) -> &str {
        self.core.call_id.0.as_str()
    }

    /// The INVITE's top-Via branch.
    pub fn branch(&self) -> Option<&str> {
        self.core.branch()
    }

    /// Final status sent, if any.
    pub fn final_code(&self) -> Option<u16> {
        self.final_code
    }

    /// Whether the final response was acknowledged.
    pub fn acked(&self) -> bool {
        self.acked
    }

    /// Builds and records a response. `100 Trying` carries no To tag (RFC 3261 §8.2.6.2);
    /// every other response does. Final responses are retransmitted until ACK.
    pub fn respond(
        &mut self,
        now: Instant,
        code: u16,
        contact: Option<&SipUri>,
        body: Option<(&str, Bytes)>,
    ) -> Bytes {
        self.respond_with(now, code, contact, body, &[])
    }

    /// [`respond`](Self::respond) with extra headers (e.g. `WWW-Authenticate`).
    pub fn respond_with(
        &mut self,
        now: Instant,
        code: u16,
        contact: Option<&SipUri>,
        body: Option<(&str, Bytes)>,
        extra: &[(Name, String)],
    ) -> Bytes {
        let status = StatusCode::from(code);
        let tag = (code != 100).then_some(self.local_tag.as_str());
        let mut response = Response::to_request(&self.invite, status, tag);
        // Record-Route is copied into 1xx/2xx so the dialog's route set matches (§12.1.1).
        if (101..300).contains(&code) {
            let _ = self
                .invite
                .headers
                .clone_into(&mut response.headers, Name::RECORD_ROUTE);
        }
        if let Some(uri) = contact {
            response
                .headers
                .insert_named(&Contact::new(ezk_sip_types::uri::NameAddr::uri(
                    uri.clone(),
                )));
        }
        response.headers.insert(
            Name::ALLOW,
            "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, MESSAGE",
        );
        for (name, value) in extra {
            response.headers.insert(name.clone(), value.clone());
        }
        if let Some((content_type, bytes)) = body {
            response.headers.insert(Name::CONTENT_TYPE, content_type);
            response.body = bytes;
        }
        let bytes = response.to_bytes();
        self.last_response = Some(bytes.clone());
        if code >= 200 {
            self.final_code = Some(code);
            self.retransmission = Some(Retransmission {
                bytes: bytes.clone(),
                next: now + self.timers.t1,
                interval: self.timers.t1,
                give_up: now + self.timers.transaction_timeout(),
            });
        }
        bytes
    }

    /// A retransmitted INVITE gets the last response again (§17.2.1).
    pub fn on_invite_retransmission(&self) -> Option<Bytes> {
        self.last_response.clone()
    }

    /// ACK received: stop retransmitting.
    pub fn on_ack(&mut self) {
        self.acked = true;
        self.retransmission = None;
    }

    /// Next time [`handle_timeout`](Self::handle_timeout) must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.retransmission.as_ref().map(|r| r.next.min(r.give_up))
    }

    /// Drives Timer G (retransmit) and Timer H / 64·T1 (give up).
    pub fn handle_timeout(&mut self, now: Instant) -> TimerOutcome {
        let Some(r) = self.retransmission.as_mut() else {
            return TimerOutcome::Idle;
        };
        if now >= r.give_up {
            self.retransmission = None;
            return TimerOutcome::GaveUp;
        }
        if now >= r.next {
            r.interval = self.timers.next_interval(r.interval);
            r.next = now + r.interval;
            return TimerOutcome::Retransmit(r.bytes.clone());
        }
        TimerOutcome::Idle
    }

    /// Builds a BYE within the dialog (§15.1.1): To/From swapped, Request-URI is the
    /// caller's Contact, route set from Record-Route (in order, for the UAS side).
    pub fn build_bye(&mut self, ids: &mut IdGenerator, local: SocketAddr) -> Request {
        self.build_request(Method::BYE, ids, local)
    }

    /// Builds a request within the dialog (BYE, INFO), with the next local CSeq.
    pub fn build_request(
        &mut self,
        method: Method,
        ids: &mut IdGenerator,
        local: SocketAddr,
    ) -> Request {
        let target = self
            .invite
            .headers
            .get_named::<Vec<Contact>>()
            .ok()
            .and_then(|c| c.into_iter().next())
            .map(|c| c.uri.uri)
            .unwrap_or_else(|| self.core.from.uri.uri.clone());
        let mut bye = Request::new(method.clone(), target);
        let branch = ids.branch();
        bye.headers.insert(
            Name::VIA,
            format!("SIP/2.0/UDP {local};branch={branch};rport"),
        );
        bye.headers.insert(Name::MAX_FORWARDS, "70");
        let mut from = self.core.to.clone();
        from.tag = Some(BytesStr::from(self.local_tag.as_str()));
        bye.headers.insert_type(Name::FROM, &from);
        bye.headers.insert_type(Name::TO, &self.core.from);
        bye.headers.insert_named(&self.core.call_id);
        self.local_cseq += 1;
        bye.headers
            .insert_named(&CSeq::new(self.local_cseq, method));
        let routes: Vec<BytesStr> = self
            .invite
            .headers
            .get_raw(&Name::RECORD_ROUTE)
            .cloned()
            .collect();
        for route in routes {
            bye.headers.insert(Name::ROUTE, route);
        }
        bye
    }
}

pub use super::uac::NonInviteClient as ClientRequest;

/// Final responses to non-INVITE requests (BYE, CANCEL, OPTIONS), kept for 64·T1 so a
/// retransmitted request gets the same answer without being processed twice (§17.2.2).
#[derive(Debug, Default)]
pub struct ResponseCache {
    entries: HashMap<(String, String), (Bytes, Instant)>,
    order: VecDeque<(Instant, (String, String))>,
}

impl ResponseCache {
    /// Remembers the response to (branch, method) until `expires`.
    pub fn insert(&mut self, branch: &str, method: &Method, bytes: Bytes, expires: Instant) {
        let key = (branch.to_owned(), method.to_string());
        self.order.push_back((expires, key.clone()));
        self.entries.insert(key, (bytes, expires));
    }

    /// The response already sent to this (branch, method), if still remembered.
    pub fn get(&self, branch: &str, method: &Method) -> Option<Bytes> {
        self.entries
            .get(&(branch.to_owned(), method.to_string()))
            .map(|(b, _)| b.clone())
    }

    /// Forgets expired entries.
    pub fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if *at > now {
                break;
            }
            if let Some((_, key)) = self.order.pop_front() {
                if self.entries.get(&key).is_some_and(|(_, e)| *e <= now) {
                    self.entries.remove(&key);
                }
            }
        }
    }

    /// Earliest expiry, for the owner's deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.order.front().map(|(at, _)| *at)
    }
}
