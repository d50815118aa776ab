//! GSM calls out to SIP (GSM -> VoIP): an incoming GSM call on a line with a forward
//! target becomes an INVITE (client side); the 2xx is ACKed and the module answers;
//! failures, CANCEL and BYE end the call on both sides.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use bytesstr::BytesStr;
use cellgate_hal::LineId;
use ezk_sip_types::print::AppendCtx;
use ezk_sip_types::uri::SipUri;
use ezk_sip_types::{Method, Name, StatusCode};
use tracing::info;

use super::client_transactions::Purpose;
use super::headers::{branch_of, uri_or, via, ALLOW};
use super::inbound_route::InboundPlan;
use super::numbers::dialable;
use super::{CidMode, ForwardTarget, Gateway, ModemCommand, Output};
use crate::call::{CallRef, InboundCall, InboundPhase};
use crate::sip::digest::DigestClient;
use crate::sip::ids::IdGenerator;
use crate::sip::message::{CoreHeaders, Request, Response};
use crate::sip::sdp;
use crate::sip::uac::{InviteClient, InviteClientEvent};
use crate::sip::uas::TimerOutcome;

impl Gateway {
    /// The GSM -> SIP call whose GSM leg is up on `line`.
    pub(super) fn inbound_on(&self, line: LineId) -> Option<CallRef> {
        self.inbound
            .values()
            .find(|c| c.line == line && !c.gsm_done)
            .map(|c| c.id)
    }

    /// The GSM -> SIP call with this Call-ID.
    pub(super) fn inbound_by_call_id(&self, call_id: &str) -> Option<CallRef> {
        self.inbound
            .values()
            .find(|c| c.call_id == call_id)
            .map(|c| c.id)
    }

    /// Where an incoming GSM call on `line` goes: the configured target, else the
    /// client registered under the line's `forward_registered` user.
    pub(super) fn forward_target(&self, now: Instant, line: LineId) -> Option<ForwardTarget> {
        if let Some(target) = self.config.forward.get(&line) {
            return Some(target.clone());
        }
        let user = self.config.forward_registered.get(&line)?;
        let binding = self.registrar.as_ref()?.binding(now, user)?;
        Some(ForwardTarget {
            uri: binding.contact.clone(),
            next_hop: binding.source,
            local_user: format!("line{}", line.0),
            credentials: None,
        })
    }

    /// The module of `line` rings: INVITE its forward target, or reject the GSM call
    /// when the line has none (rather than leave the caller ringing).
    pub(super) fn incoming_gsm_call(&mut self, now: Instant, line: LineId, caller: Option<String>) {
        if self.inbound.values().any(|c| c.line == line && !c.gsm_done) {
            return; // RING repeats while the call rings
        }
        let idle = self.lines.lines().iter().any(|l| l.id == line && !l.busy);
        if !idle {
            return;
        }
        match self.plan_inbound(now, line, caller.as_deref()) {
            InboundPlan::Forward(target) => self.start_inbound(now, line, caller, target),
            InboundPlan::Collect { password, then } => {
                self.start_inbound_collect(now, line, caller, password, then)
            }
            InboundPlan::Reject(why) => {
                info!(%line, caller = ?caller, why, "incoming GSM call rejected");
                self.output.push_back(Output::Modem {
                    line,
                    call: None,
                    command: ModemCommand::HangUp,
                });
            }
        }
    }

    /// INVITE `target` for the GSM call ringing on `line`.
    pub(super) fn start_inbound(
        &mut self,
        now: Instant,
        line: LineId,
        caller: Option<String>,
        target: ForwardTarget,
    ) {
        let Some(media_port) = self.allocate_rtp_port() else {
            info!(%line, "incoming GSM call rejected (no free RTP port)");
            self.output.push_back(Output::Modem {
                line,
                call: None,
                command: ModemCommand::HangUp,
            });
            return;
        };
        if let Some(state) = self.lines.get_mut(line) {
            state.busy = true;
        }
        let id = self.next_call_ref();
        let public = self.config.public_addr;
        let call_id = self.ids.call_id(&public.ip().to_string());
        let local_tag = self.ids.tag();
        let cseq = self.ids.number() % 10_000 + 1;
        let session = self.ids.number();
        let caller_number = caller
            .clone()
            .filter(|c| dialable(c).is_some())
            .map(|c| self.caller_id_for(line, &c));
        let cid_mode = self
            .line_policy(line)
            .cid_mode
            .unwrap_or(self.config.cid_mode);
        self.lines
            .set_call_state(line, crate::lines::LineCallState::Incoming);
        let from_user = match (cid_mode, &caller_number) {
            (CidMode::From, Some(number)) => number.clone(),
            _ => target.local_user.clone(),
        };
        let mut invite = Request::new(Method::INVITE, uri_or(&target.uri, target.next_hop));
        let branch = self.ids.branch();
        invite.headers.insert(Name::VIA, via(public, &branch));
        invite.headers.insert(Name::MAX_FORWARDS, "70");
        invite.headers.insert(
            Name::FROM,
            format!("<sip:{from_user}@{}>;tag={local_tag}", public.ip()),
        );
        invite.headers.insert(Name::TO, format!("<{}>", target.uri));
        invite.headers.insert(Name::CALL_ID, call_id.clone());
        invite.headers.insert(Name::CSEQ, format!("{cseq} INVITE"));
        invite.headers.insert(
            Name::CONTACT,
            format!("<sip:{}@{public}>", target.local_user),
        );
        if let (CidMode::RemotePartyId, Some(number)) = (cid_mode, &caller_number) {
            invite.headers.insert(
                Name::from("Remote-Party-ID"),
                format!(
                    "<sip:{number}@{}>;party=calling;screen=yes;privacy=off",
                    public.ip()
                ),
            );
        }
        invite.headers.insert(Name::ALLOW, ALLOW);
        invite
            .headers
            .insert(Name::USER_AGENT, self.config.user_agent.clone());
        invite.headers.insert(Name::CONTENT_TYPE, "application/sdp");
        invite.body = Bytes::from(sdp::offer(
            public.ip(),
            media_port,
            session,
            &self.config.media.codecs,
        ));
        let (tx, bytes) =
            InviteClient::start(&invite, branch, target.next_hop, now, self.config.timers);
        info!(call = id.0, %line, caller = ?caller, uri = %target.uri, "GSM -> SIP call: inviting");
        self.transmit(target.next_hop, bytes);
        self.inbound.insert(
            id,
            InboundCall {
                id,
                line,
                caller,
                invite: tx,
                call_id,
                local_tag,
                remote_tag: None,
                remote_target: None,
                route: Vec::new(),
                cseq,
                next_hop: target.next_hop,
                phase: InboundPhase::Calling,
                ack: None,
                auth: target
                    .credentials
                    .as_ref()
                    .map(|(u, p)| DigestClient::new(u, p)),
                gsm_done: false,
                sip_done: false,
                media_port,
                cancel_pending: false,
                hold: Default::default(),
                started: now,
                answered: None,
                accounted: false,
                pre_answered: false,
                gsm_index: self.ringing_index.remove(&line),
            },
        );
    }

    /// A response on `branch`; `false` when it is not for one of our INVITEs.
    pub(super) fn gsm_to_voip_response(
        &mut self,
        now: Instant,
        branch: &str,
        response: &Response,
    ) -> bool {
        let found = self
            .inbound
            .iter()
            .find(|(_, c)| c.invite.branch == branch)
            .map(|(id, _)| *id);
        let Some(id) = found else {
            return false;
        };
        self.inbound_response(now, id, response);
        true
    }

    fn inbound_response(&mut self, now: Instant, id: CallRef, response: &Response) {
        let public = self.config.public_addr;
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        let code = response.code.into_u16();
        if let Ok(to) = response
            .headers
            .get::<ezk_sip_types::header::typed::FromTo>(Name::TO)
        {
            if let Some(tag) = to.tag {
                call.remote_tag = Some(tag.to_string());
            }
        }
        let event = call.invite.on_response(now, response);
        match event {
            InviteClientEvent::Provisional(_) => {
                if std::mem::take(&mut call.cancel_pending) {
                    self.cancel_inbound_invite(now, id);
                }
            }
            InviteClientEvent::Success(_) => {
                call.remote_target = response
                    .headers
                    .get_named::<Vec<ezk_sip_types::header::typed::Contact>>()
                    .ok()
                    .and_then(|c| c.into_iter().next())
                    .map(|c| {
                        c.uri
                            .uri
                            .print_ctx(ezk_sip_types::print::PrintCtx::default())
                            .to_string()
                    });
                let mut route: Vec<String> = response
                    .headers
                    .get_raw(&Name::RECORD_ROUTE)
                    .map(|r| r.to_string())
                    .collect();
                route.reverse();
                call.route = route;
                let cseq = call.cseq;
                let mut ack = build_inbound_request(call, Method::ACK, cseq, &mut self.ids, public);
                ack.headers.remove(&Name::CSEQ);
                ack.headers.insert(Name::CSEQ, format!("{cseq} ACK"));
                let bytes = ack.to_bytes();
                call.ack = Some(bytes.clone());
                let to = call.next_hop;
                let line = call.line;
                self.transmit(to, bytes);
                let Some(call) = self.inbound.get_mut(&id) else {
                    return;
                };
                if call.gsm_done {
                    // The GSM caller left while the callee answered: end the dialog.
                    self.send_inbound_bye(now, id);
                } else {
                    call.phase = InboundPhase::Connected;
                    call.answered = Some(now);
                    self.lines
                        .set_call_state(line, crate::lines::LineCallState::Connected);
                    let Some(call) = self.inbound.get_mut(&id) else {
                        return;
                    };
                    let port = call.media_port;
                    if !call.pre_answered {
                        info!(call = id.0, %line, "SIP callee answered: answering the GSM call");
                        self.output.push_back(Output::Modem {
                            line,
                            call: Some(id),
                            command: ModemCommand::Answer,
                        });
                    }
                    match sdp::accept_offer_with(&response.body, &self.config.media.codecs) {
                        Ok(answer) => self.start_media(id, line, port, &answer),
                        Err(e) => info!(call = id.0, error = %e, "no usable SDP answer: no media"),
                    }
                }
            }
            InviteClientEvent::Failure { code: _, ack } => {
                let to = call.next_hop;
                self.transmit(to, ack);
                if (code == 401 || code == 407) && self.retry_with_credentials(now, id, response) {
                    return;
                }
                info!(call = id.0, code, "GSM -> SIP call refused by the SIP side");
                self.inbound_sip_ended(id);
            }
            InviteClientEvent::FailureRetransmitted { ack } => {
                let to = call.next_hop;
                self.transmit(to, ack);
            }
        }
    }

    /// Re-sends the INVITE with the account's credentials after a 401/407 (once);
    /// `false` when there are none left to try or the GSM caller is gone.
    fn retry_with_credentials(&mut self, now: Instant, id: CallRef, response: &Response) -> bool {
        let public = self.config.public_addr;
        let Some(call) = self.inbound.get_mut(&id) else {
            return false;
        };
        if call.gsm_done {
            return false;
        }
        let Some(mut auth) = call.auth.take() else {
            return false;
        };
        let invite = call.invite.invite().clone();
        if auth.on_challenge(&invite, response).is_err() {
            return false;
        }
        let mut retry = invite;
        let branch = self.ids.branch();
        retry.headers.remove(&Name::VIA);
        retry.headers.insert(Name::VIA, via(public, &branch));
        call.cseq += 1;
        retry.headers.remove(&Name::CSEQ);
        retry
            .headers
            .insert(Name::CSEQ, format!("{} INVITE", call.cseq));
        auth.authorize(&mut retry.headers);
        let (tx, bytes) =
            InviteClient::start(&retry, branch, call.next_hop, now, self.config.timers);
        call.invite = tx;
        call.remote_tag = None;
        let to = call.next_hop;
        self.transmit(to, bytes);
        true
    }

    /// The SIP side of a GSM -> SIP call is over: hang up the module if the GSM caller
    /// is still there.
    fn inbound_sip_ended(&mut self, id: CallRef) {
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        call.sip_done = true;
        call.phase = InboundPhase::Ending;
        if !call.gsm_done {
            let line = call.line;
            self.hang_up(line, id);
        }
    }

    /// BYE from the SIP callee of a GSM -> SIP call.
    pub(super) fn bye_from_callee(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
        core: &CoreHeaders,
        id: CallRef,
    ) {
        let resp = Response::to_request(request, StatusCode::OK, None);
        self.reply_non_invite(now, source, request, core, resp);
        if let Some(call) = self.inbound.get(&id) {
            info!(call = id.0, line = %call.line, "SIP side hung up a GSM -> SIP call");
            self.inbound_sip_ended(id);
        }
        self.reap();
    }

    /// The GSM caller of a GSM -> SIP call hung up (or could not be answered).
    pub(super) fn inbound_gsm_released(&mut self, now: Instant, id: CallRef) {
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        if call.gsm_done {
            return;
        }
        call.gsm_done = true;
        self.lines.release(call.line);
        self.account_inbound(now, id);
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        match call.phase {
            InboundPhase::Calling => self.cancel_inbound_invite(now, id),
            InboundPhase::Connected => {
                info!(call = id.0, "GSM caller hung up: BYE");
                call.phase = InboundPhase::Ending;
                self.send_inbound_bye(now, id);
            }
            InboundPhase::Ending => {}
        }
    }

    /// The next request in a connected GSM -> SIP dialog, with its destination.
    pub(super) fn connected_inbound_request(
        &mut self,
        id: CallRef,
        method: Method,
    ) -> Option<(Request, SocketAddr)> {
        let public = self.config.public_addr;
        let call = self.inbound.get_mut(&id)?;
        if call.phase != InboundPhase::Connected {
            return None;
        }
        call.cseq += 1;
        let cseq = call.cseq;
        let req = build_inbound_request(call, method, cseq, &mut self.ids, public);
        Some((req, call.next_hop))
    }

    pub(super) fn send_inbound_bye(&mut self, now: Instant, id: CallRef) {
        let public = self.config.public_addr;
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        call.phase = InboundPhase::Ending;
        call.cseq += 1;
        let cseq = call.cseq;
        let bye = build_inbound_request(call, Method::BYE, cseq, &mut self.ids, public);
        let to = call.next_hop;
        let branch = branch_of(&bye);
        self.start_client_transaction(now, &bye, branch, to, Purpose::InboundBye(id));
    }

    /// Retransmissions and timeouts of our INVITEs.
    pub(super) fn inbound_timeouts(&mut self, now: Instant) {
        let ids: Vec<CallRef> = self.inbound.keys().copied().collect();
        for id in ids {
            let Some(call) = self.inbound.get_mut(&id) else {
                continue;
            };
            match call.invite.handle_timeout(now) {
                TimerOutcome::Retransmit(bytes) => {
                    let to = call.next_hop;
                    self.transmit(to, bytes);
                }
                TimerOutcome::GaveUp => {
                    info!(call = id.0, "GSM -> SIP call: no answer from the SIP side");
                    self.inbound_sip_ended(id);
                }
                TimerOutcome::Idle => {
                    // A cancelled call whose INVITE transaction has finished is done.
                    if call.gsm_done
                        && call.phase == InboundPhase::Calling
                        && call.invite.is_terminated()
                    {
                        call.sip_done = true;
                    }
                }
            }
        }
        self.reap();
    }
}

/// A request inside a GSM -> SIP dialog (ACK for 2xx, BYE, INFO).
fn build_inbound_request(
    call: &InboundCall,
    method: Method,
    cseq: u32,
    ids: &mut IdGenerator,
    public: SocketAddr,
) -> Request {
    let invite = call.invite.invite();
    let target = call
        .remote_target
        .as_deref()
        .and_then(|t| t.parse::<SipUri>().ok())
        .unwrap_or_else(|| invite.uri.clone());
    let mut req = Request::new(method.clone(), target);
    let branch = ids.branch();
    req.headers.insert(Name::VIA, via(public, &branch));
    req.headers.insert(Name::MAX_FORWARDS, "70");
    let _ = invite.headers.clone_into(&mut req.headers, Name::FROM);
    match invite
        .headers
        .get::<ezk_sip_types::header::typed::FromTo>(Name::TO)
    {
        Ok(mut to) => {
            to.tag = call.remote_tag.as_deref().map(BytesStr::from);
            req.headers.insert_type(Name::TO, &to);
        }
        Err(_) => {
            let _ = invite.headers.clone_into(&mut req.headers, Name::TO);
        }
    }
    req.headers.insert(Name::CALL_ID, call.call_id.clone());
    req.headers.insert(Name::CSEQ, format!("{cseq} {method}"));
    for route in &call.route {
        req.headers.insert(Name::ROUTE, route.clone());
    }
    req
}

impl Gateway {
    /// Records a GSM -> SIP call once, when its GSM leg ended.
    pub(super) fn account_inbound(&mut self, now: Instant, id: CallRef) {
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        if call.accounted {
            return;
        }
        call.accounted = true;
        let facts = super::accounting::CallFacts {
            line: call.line,
            direction: cellgate_policy::cdr::Direction::Inbound,
            number: call.caller.clone().unwrap_or_default(),
            started: call.started,
            alerted: true,
            answered: call.answered,
            ended: now,
            gsm_cause: None,
            sip_status: None,
        };
        self.account(now, facts);
    }
}
