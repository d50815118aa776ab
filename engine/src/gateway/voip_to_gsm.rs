//! SIP calls into the gateway (VoIP -> GSM): an INVITE becomes a dial on a free line;
//! the GSM callee's progress becomes ringback and the 200 OK; BYE, CANCEL, module
//! releases and timeouts end the call on both sides.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use cellgate_hal::{CallIndex, HalError, LineId, ReleaseCause};
use ezk_sip_types::{Name, StatusCode};
use tracing::{debug, info, warn};

use super::admission::Admission;
use super::headers::{branch_of, contact};
use super::numbers::dialable;
use super::outbound_route::OutboundPlan;
use super::{Gateway, ModemCommand, Output, RingbackMode};
use crate::call::{CallPhase, CallRef, OutboundCall};
use crate::sip::message::{CoreHeaders, Request, Response};
use crate::sip::sdp::{self, AcceptedOffer, AudioCodec, OfferError};
use crate::sip::uas::{ClientRequest, InviteServer, TimerOutcome};

impl Gateway {
    /// The VoIP -> GSM call with this Call-ID.
    pub(super) fn find_call_by_call_id(&self, call_id: &str) -> Option<CallRef> {
        self.calls
            .iter()
            .find(|(_, c)| c.sip.call_id() == call_id)
            .map(|(id, _)| *id)
    }

    /// The VoIP -> GSM call whose GSM leg is up on `line`.
    pub(super) fn active_call_on(&self, line: LineId) -> Option<CallRef> {
        self.calls
            .values()
            .find(|c| c.line == line && !c.gsm_done)
            .map(|c| c.id)
    }

    pub(super) fn handle_invite(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: Request,
        core: CoreHeaders,
    ) {
        // Retransmission of an INVITE we already serve.
        if let Some(id) = self.find_call_by_call_id(core.call_id.0.as_str()) {
            if let Some(call) = self.calls.get(&id) {
                if call.sip.branch() == core.branch() {
                    if let Some(bytes) = call.sip.on_invite_retransmission() {
                        let to = call.sip.reply_to();
                        self.transmit(to, bytes);
                    }
                    return;
                } else if core.to.tag.is_some() || call.sip.final_code().is_none_or(|c| c < 300) {
                    self.handle_reinvite(now, source, id, request, core);
                    return;
                }
            }
            // A new INVITE in the Call-ID of a refused one (the retry after a 401):
            // the refused transaction is over.
            self.calls.remove(&id);
        }
        if self.inbound_by_call_id(core.call_id.0.as_str()).is_some() {
            // A re-INVITE in a GSM -> SIP dialog is not supported yet; refuse cleanly.
            let resp = Response::to_request(&request, StatusCode::NOT_IMPLMENTED, None);
            self.transmit(source, resp.to_bytes());
            return;
        }
        if core.to.tag.is_some() {
            // Unknown dialog.
            self.refuse_invite(now, source, &request, &core, 481, &[]);
            return;
        }
        match self.admit_invite(now, source, &request) {
            Admission::Admitted => {}
            Admission::Refused => {
                self.refuse_invite(now, source, &request, &core, 403, &[]);
                return;
            }
            Admission::Challenge { stale } => {
                let challenges = self.digest_challenges(now, stale);
                self.refuse_invite(now, source, &request, &core, 401, &challenges);
                return;
            }
        }
        let Some(number) = request.uri_user().and_then(dialable) else {
            info!(uri = ?request.uri_user(), "INVITE to a non-dialable number");
            self.refuse_invite(now, source, &request, &core, 404, &[]);
            return;
        };
        let offer = if request.body.is_empty() {
            // Delayed offer: we offer PCMU in the 200 OK.
            AcceptedOffer {
                codec: AudioCodec::Pcmu,
                payload_type: 0,
                telephone_event: Some(101),
                remote_rtp: None,
            }
        } else {
            match sdp::accept_offer_with(&request.body, &self.config.media.codecs) {
                Ok(offer) => offer,
                Err(
                    e
                    @ (OfferError::NoAudio | OfferError::NoCommonCodec | OfferError::Malformed(_)),
                ) => {
                    info!(error = %e, "INVITE with unacceptable SDP");
                    self.refuse_invite(now, source, &request, &core, 488, &[]);
                    return;
                }
            }
        };
        let Some(media_port) = self.allocate_rtp_port() else {
            info!(%number, "no free RTP port");
            self.refuse_invite(now, source, &request, &core, 503, &[]);
            return;
        };
        let caller = super::messages::user_of(&core.from.uri.uri).unwrap_or_default();
        let (line, number, then_dtmf, from_memory) = match self.plan_outbound(now, &caller, &number)
        {
            OutboundPlan::Dial {
                line,
                number: dialled,
                then_dtmf,
                from_memory,
            } => (line, dialled, then_dtmf, from_memory),
            OutboundPlan::Collect {
                line,
                password_then,
            } => {
                self.start_collecting(
                    now,
                    source,
                    request,
                    core,
                    offer,
                    media_port,
                    line,
                    password_then,
                    number,
                );
                return;
            }
            OutboundPlan::Refuse(code) => {
                info!(%number, code, "VoIP -> GSM call refused");
                self.refuse_invite(now, source, &request, &core, code, &[]);
                return;
            }
        };
        let requested = request.uri_user().unwrap_or_default().to_owned();
        let id = self.next_call_ref();
        let mut sip = self.open_invite_server(now, source, request, core);
        let session = self.ids.number();
        let early = match self.config.ringback {
            RingbackMode::OnAlerting => None,
            RingbackMode::FakeThenColour | RingbackMode::Fake => Some(180),
            RingbackMode::Colour => Some(183),
        };
        if let Some(code) = early {
            let body = (code == 183).then(|| {
                let sdp = sdp::answer(&offer, self.config.public_addr.ip(), media_port, session);
                ("application/sdp", Bytes::from(sdp))
            });
            let bytes = sip.respond(now, code, Some(&contact(&self.config, &number)), body);
            self.transmit(source, bytes);
        }
        info!(call = id.0, %line, %number, "VoIP -> GSM call: dialling");
        self.output.push_back(Output::Modem {
            line,
            call: Some(id),
            command: ModemCommand::Dial(number.clone()),
        });
        self.note_call_placed(now, line, &requested, from_memory);
        self.mark_dialing(line, &number);
        let gsm = self.new_gsm_leg(now, line, caller, requested, then_dtmf, from_memory);
        self.calls.insert(
            id,
            OutboundCall {
                id,
                line,
                number,
                sip,
                offer,
                gsm_index: None,
                phase: CallPhase::Dialing,
                gsm_done: false,
                sip_done: false,
                no_answer_deadline: now + self.config.no_answer_timeout,
                bye: None,
                started: now,
                answered: None,
                reinvite: None,
                sdp: (session, session),
                held: false,
                media_port,
                gsm,
            },
        );
    }

    /// The server transaction of an accepted INVITE, with `100 Trying` sent.
    pub(super) fn open_invite_server(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: Request,
        core: CoreHeaders,
    ) -> InviteServer {
        let local_cseq = self.ids.number() % 10_000;
        let mut sip = InviteServer::new(
            request,
            core,
            self.ids.tag(),
            source,
            self.config.timers,
            local_cseq,
        );
        let trying = sip.respond(now, 100, None, None);
        self.transmit(source, trying);
        sip
    }

    /// Answers an INVITE with the final failure `code` (and `extra` headers) and keeps
    /// the transaction until the ACK.
    fn refuse_invite(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
        core: &CoreHeaders,
        code: u16,
        extra: &[(Name, String)],
    ) {
        let mut server = InviteServer::new(
            request.clone(),
            core.clone(),
            self.ids.tag(),
            source,
            self.config.timers,
            0,
        );
        let bytes = server.respond_with(now, code, None, None, extra);
        self.transmit(source, bytes);
        self.track_rejected(now, server);
    }

    /// A refused INVITE still needs its final response retransmitted until ACK.
    fn track_rejected(&mut self, now: Instant, sip: InviteServer) {
        let id = self.next_call_ref();
        let line = LineId(0);
        self.calls.insert(
            id,
            OutboundCall {
                id,
                line,
                number: String::new(),
                sip,
                offer: AcceptedOffer {
                    codec: AudioCodec::Pcmu,
                    payload_type: 0,
                    telephone_event: None,
                    remote_rtp: None,
                },
                gsm_index: None,
                phase: CallPhase::Ending,
                gsm_done: true,
                sip_done: false,
                no_answer_deadline: now,
                bye: None,
                started: now,
                answered: None,
                reinvite: None,
                sdp: (0, 0),
                held: false,
                media_port: 0,
                gsm: crate::call::GsmLeg {
                    accounted: true,
                    ..Default::default()
                },
            },
        );
    }

    pub(super) fn handle_ack(&mut self, core: &CoreHeaders) {
        let Some(id) = self.find_call_by_call_id(core.call_id.0.as_str()) else {
            debug!("ACK for unknown call ignored");
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if let Some(re) = call.reinvite.as_mut() {
            if re.cseq() == core.cseq.cseq {
                re.on_ack();
                call.reinvite = None;
                return;
            }
        }
        call.sip.on_ack();
        if call.sip.final_code().is_some_and(|c| c >= 300) {
            call.sip_done = true;
        }
        self.reap();
    }

    /// BYE from the SIP caller of a VoIP -> GSM call (or for no call at all: 481).
    pub(super) fn bye_from_caller(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
        core: &CoreHeaders,
    ) {
        let Some(id) = self.find_call_by_call_id(core.call_id.0.as_str()) else {
            let resp = Response::to_request(
                request,
                StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST,
                None,
            );
            self.reply_non_invite(now, source, request, core, resp);
            return;
        };
        let resp = Response::to_request(request, StatusCode::OK, None);
        self.reply_non_invite(now, source, request, core, resp);
        if let Some(call) = self.calls.get_mut(&id) {
            info!(call = id.0, line = %call.line, "VoIP side hung up");
            call.sip.on_ack();
            call.sip_done = true;
            call.phase = CallPhase::Ending;
            let line = call.line;
            if !call.gsm_done {
                self.hang_up(line, id);
            } else if call.gsm.collect.take().is_some() {
                // Hung up during digit entry: no GSM leg to wait for.
                self.lines.release(line);
            }
        }
        self.reap();
    }

    pub(super) fn handle_cancel(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
        core: &CoreHeaders,
    ) {
        let id = self
            .find_call_by_call_id(core.call_id.0.as_str())
            .filter(|id| {
                self.calls
                    .get(id)
                    .is_some_and(|c| c.sip.branch() == core.branch())
            });
        let Some(id) = id else {
            let resp = Response::to_request(
                request,
                StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST,
                None,
            );
            self.reply_non_invite(now, source, request, core, resp);
            return;
        };
        let resp = Response::to_request(request, StatusCode::OK, None);
        self.reply_non_invite(now, source, request, core, resp);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.sip.final_code().is_some() {
            return; // too late: the INVITE already has its final answer
        }
        info!(call = id.0, line = %call.line, "caller cancelled");
        self.end_unanswered(now, id, 487);
    }

    /// Sends a response of the call's INVITE transaction to the caller, with our
    /// Contact when `with_contact`.
    fn respond_to_caller(
        &mut self,
        now: Instant,
        id: CallRef,
        code: u16,
        with_contact: bool,
        body: Option<(&str, Bytes)>,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let contact = with_contact.then(|| contact(&self.config, &call.number));
        let payload = call.sip.respond(now, code, contact.as_ref(), body);
        let to = call.sip.reply_to();
        self.output.push_back(Output::Transmit { to, payload });
    }

    /// Ends an unanswered call with the final `code`, and hangs up its GSM leg when
    /// that is still up.
    pub(super) fn end_unanswered(&mut self, now: Instant, id: CallRef, code: u16) {
        self.respond_to_caller(now, id, code, false, None);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.phase = CallPhase::Ending;
        if !call.gsm_done {
            let line = call.line;
            self.hang_up(line, id);
        }
    }

    /// The GSM callee rings: ringback by the configured mode.
    pub(super) fn gsm_alerting(&mut self, now: Instant, line: LineId, index: CallIndex) {
        let Some(id) = self.active_call_on(line) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let port = call.media_port;
        call.gsm_index.get_or_insert(index);
        if call.phase != CallPhase::Dialing {
            return;
        }
        call.phase = CallPhase::Alerting;
        info!(call = id.0, %line, "GSM callee alerting");
        self.gsm_leg_alerting(id);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.gsm.two_stage {
            return; // the SIP leg is answered already; the caller hears the network
        }
        let (code, body) = match self.config.ringback {
            RingbackMode::OnAlerting => (Some(180), None),
            RingbackMode::FakeThenColour => {
                let sdp = sdp::answer(&call.offer, self.config.public_addr.ip(), port, call.sdp.0);
                (Some(183), Some(("application/sdp", Bytes::from(sdp))))
            }
            RingbackMode::Colour | RingbackMode::Fake => (None, None),
        };
        if let Some(code) = code {
            self.respond_to_caller(now, id, code, true, body);
        }
    }

    /// The GSM callee answered: 200 OK with the SDP answer.
    pub(super) fn gsm_connected(&mut self, now: Instant, line: LineId, index: CallIndex) {
        let Some(id) = self.active_call_on(line) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let port = call.media_port;
        call.gsm_index.get_or_insert(index);
        if call.gsm.two_stage && matches!(call.phase, CallPhase::Dialing | CallPhase::Alerting) {
            call.phase = CallPhase::Connected;
            call.answered = Some(now);
            info!(call = id.0, %line, "GSM callee answered (two-stage)");
            self.gsm_leg_connected(now, id);
            return;
        }
        if !call.unanswered() {
            return;
        }
        call.phase = CallPhase::Connected;
        call.answered = Some(now);
        info!(call = id.0, %line, "GSM callee answered");
        self.gsm_leg_connected(now, id);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let body = sdp::answer(&call.offer, self.config.public_addr.ip(), port, call.sdp.0);
        let offer = call.offer.clone();
        self.respond_to_caller(
            now,
            id,
            200,
            true,
            Some(("application/sdp", Bytes::from(body))),
        );
        self.start_media(id, line, port, &offer);
    }

    /// The GSM leg of the VoIP -> GSM call on `line` is gone.
    pub(super) fn outbound_gsm_released(
        &mut self,
        now: Instant,
        line: LineId,
        cause: ReleaseCause,
    ) {
        let Some(id) = self.active_call_on(line) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.gsm_done = true;
        let unanswered = call.unanswered();
        self.account_outbound(now, id, Some(cause));
        if unanswered && self.try_redial(now, id, cause) {
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.gsm.two_stage && call.phase != CallPhase::Ending {
            info!(call = id.0, %line, cause = cause.0, "GSM leg of a two-stage call ended: BYE");
            call.phase = CallPhase::Ending;
            self.send_bye(now, id);
            self.lines.release(line);
            self.reap();
            return;
        }
        match call.phase {
            CallPhase::Dialing | CallPhase::Alerting => {
                let code = self.config.causes.sip_status(cause);
                info!(call = id.0, %line, cause = cause.0, code, "GSM call failed");
                self.end_unanswered(now, id, code);
            }
            CallPhase::Connected => {
                info!(call = id.0, %line, cause = cause.0, "GSM side hung up");
                call.phase = CallPhase::Ending;
                self.send_bye(now, id);
            }
            CallPhase::Ending => {}
        }
        self.lines.release(line);
        self.reap();
    }

    /// The dial command failed: 484 for an invalid number, else 503.
    pub(super) fn dial_failed(
        &mut self,
        now: Instant,
        line: LineId,
        call: Option<CallRef>,
        number: &str,
        error: HalError,
    ) {
        warn!(%line, %number, error = %error, "dial failed");
        let code = match error {
            HalError::InvalidArgument(_) => 484,
            _ => 503,
        };
        if let Some(id) = call {
            if let Some(c) = self.calls.get_mut(&id) {
                c.gsm_done = true;
                self.account_outbound(now, id, None);
                if self.calls.get(&id).is_some_and(|c| c.unanswered()) {
                    self.end_unanswered(now, id, code);
                }
            }
        }
        self.lines.release(line);
    }

    /// BYE toward the SIP caller.
    pub(super) fn send_bye(&mut self, now: Instant, id: CallRef) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let bye = call.sip.build_bye(&mut self.ids, self.config.public_addr);
        let branch = branch_of(&bye);
        let (tx, bytes) =
            ClientRequest::start(&bye, branch, call.sip.reply_to(), now, self.config.timers);
        let to = tx.destination;
        call.bye = Some(tx);
        self.transmit(to, bytes);
    }

    /// A final response to one of our BYEs.
    pub(super) fn bye_answered(&mut self, branch: &str, code: u16) {
        let found = self
            .calls
            .iter_mut()
            .find(|(_, c)| c.bye.as_ref().is_some_and(|b| b.branch == branch));
        if let Some((id, call)) = found {
            debug!(call = id.0, code, "BYE answered");
            call.bye = None;
            call.sip_done = true;
        }
    }

    /// Retransmissions and timeouts of VoIP -> GSM calls: the INVITE transaction, a
    /// re-INVITE, our BYE, and F-6.4.18's no-answer timeout.
    pub(super) fn outbound_timeouts(&mut self, now: Instant) {
        let ids: Vec<CallRef> = self.calls.keys().copied().collect();
        for id in ids {
            let Some(call) = self.calls.get_mut(&id) else {
                continue;
            };
            match call.sip.handle_timeout(now) {
                TimerOutcome::Retransmit(bytes) => {
                    let to = call.sip.reply_to();
                    self.transmit(to, bytes);
                }
                TimerOutcome::GaveUp => {
                    if call.sip.final_code().is_some_and(|c| c < 300) {
                        // 2xx never acknowledged: end the dialog (RFC 3261 §13.3.1.4).
                        warn!(call = id.0, "no ACK for 200 OK: ending call");
                        call.phase = CallPhase::Ending;
                        let hang_up = !call.gsm_done;
                        let line = call.line;
                        self.send_bye(now, id);
                        if hang_up {
                            self.hang_up(line, id);
                        }
                    } else {
                        call.sip_done = true;
                    }
                }
                TimerOutcome::Idle => {}
            }
            let Some(call) = self.calls.get_mut(&id) else {
                continue;
            };
            if let Some(re) = call.reinvite.as_mut() {
                match re.handle_timeout(now) {
                    TimerOutcome::Retransmit(bytes) => {
                        let to = re.reply_to();
                        self.output
                            .push_back(Output::Transmit { to, payload: bytes });
                    }
                    TimerOutcome::GaveUp => call.reinvite = None,
                    TimerOutcome::Idle => {}
                }
            }
            if let Some(bye) = call.bye.as_mut() {
                match bye.handle_timeout(now) {
                    TimerOutcome::Retransmit(bytes) => {
                        let to = bye.destination;
                        self.transmit(to, bytes);
                    }
                    TimerOutcome::GaveUp => {
                        call.bye = None;
                        call.sip_done = true;
                    }
                    TimerOutcome::Idle => {}
                }
            }
            let Some(call) = self.calls.get_mut(&id) else {
                continue;
            };
            if call.unanswered() && now >= call.no_answer_deadline {
                info!(call = id.0, line = %call.line, "no answer in time: 408");
                self.end_unanswered(now, id, 408);
            }
        }
        self.gsm_leg_timeouts(now);
    }
}
