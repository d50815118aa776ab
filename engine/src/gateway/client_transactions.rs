//! The gateway's own non-INVITE requests (INFO, MESSAGE, keep-alive OPTIONS, BYE and
//! CANCEL of GSM -> SIP calls): building them, their client transactions, and what
//! their outcome means.

use std::net::SocketAddr;
use std::time::Instant;

use ezk_sip_types::uri::SipUri;
use ezk_sip_types::{Method, Name};

use super::headers::via;
use super::{Gateway, Output};
use crate::call::CallRef;
use crate::sip::message::Request;
use crate::sip::uac::NonInviteClient;
use crate::sip::uas::TimerOutcome;

/// Why a non-INVITE client transaction of the gateway exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// DTMF INFO toward a caller.
    Info,
    /// MESSAGE with this id.
    Message(u64),
    /// Keep-alive OPTIONS.
    KeepAlive,
    /// BYE of a GSM -> SIP call.
    InboundBye(CallRef),
    /// CANCEL of a GSM -> SIP call.
    InboundCancel(CallRef),
}

impl Gateway {
    /// A request outside any dialog, from `from_user` at the public address: Via,
    /// Max-Forwards, From with a new tag, `to`, a new Call-ID, CSeq 1, User-Agent.
    /// Returns it with its branch.
    pub(super) fn out_of_dialog_request(
        &mut self,
        method: Method,
        uri: SipUri,
        from_user: &str,
        to: String,
    ) -> (Request, String) {
        let public = self.config.public_addr;
        let mut req = Request::new(method.clone(), uri);
        let branch = self.ids.branch();
        req.headers.insert(Name::VIA, via(public, &branch));
        req.headers.insert(Name::MAX_FORWARDS, "70");
        req.headers.insert(
            Name::FROM,
            format!("<sip:{from_user}@{public}>;tag={}", self.ids.tag()),
        );
        req.headers.insert(Name::TO, to);
        req.headers
            .insert(Name::CALL_ID, self.ids.call_id(&public.ip().to_string()));
        req.headers.insert(Name::CSEQ, format!("1 {method}"));
        req.headers
            .insert(Name::USER_AGENT, self.config.user_agent.clone());
        (req, branch)
    }

    /// Sends `request` to `to` in a new client transaction kept for `purpose`.
    pub(super) fn start_client_transaction(
        &mut self,
        now: Instant,
        request: &Request,
        branch: String,
        to: SocketAddr,
        purpose: Purpose,
    ) {
        let (tx, bytes) = NonInviteClient::start(request, branch, to, now, self.config.timers);
        self.pending.push((tx, purpose));
        self.transmit(to, bytes);
    }

    /// A response on `branch`; `false` when no client transaction of ours has it.
    pub(super) fn client_transaction_response(&mut self, branch: &str, code: u16) -> bool {
        let Some(pos) = self.pending.iter().position(|(t, _)| t.branch == branch) else {
            return false;
        };
        if self.pending[pos].0.on_response(code) {
            let (_, purpose) = self.pending.remove(pos);
            self.client_transaction_finished(purpose, Some(code));
        }
        true
    }

    fn client_transaction_finished(&mut self, purpose: Purpose, code: Option<u16>) {
        match purpose {
            Purpose::Message(id) => self
                .output
                .push_back(Output::MessageOutcome { id, status: code }),
            Purpose::InboundBye(id) => {
                if let Some(call) = self.inbound.get_mut(&id) {
                    call.sip_done = true;
                }
            }
            Purpose::InboundCancel(_) | Purpose::Info | Purpose::KeepAlive => {}
        }
    }

    /// Retransmissions and timeouts of the gateway's own non-INVITE requests.
    pub(super) fn client_transaction_timeouts(&mut self, now: Instant) {
        let mut finished = Vec::new();
        for (i, (tx, purpose)) in self.pending.iter_mut().enumerate() {
            match tx.handle_timeout(now) {
                TimerOutcome::Retransmit(bytes) => {
                    self.output.push_back(Output::Transmit {
                        to: tx.destination,
                        payload: bytes,
                    });
                }
                TimerOutcome::GaveUp => finished.push((i, *purpose)),
                TimerOutcome::Idle => {
                    if tx.is_done() && now >= tx.poll_timeout() {
                        finished.push((i, *purpose));
                    }
                }
            }
        }
        for (i, purpose) in finished.into_iter().rev() {
            let (tx, _) = self.pending.remove(i);
            if !tx.is_done() || matches!(purpose, Purpose::InboundBye(_)) {
                self.client_transaction_finished(purpose, None);
            }
        }
        self.reap();
    }
}
