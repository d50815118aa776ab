//! The gateway core as a sans-IO state machine.
//!
//! Inputs: SIP datagrams with their source, module events, results of module commands,
//! line status, and the current time. Outputs: datagrams to send, module commands to
//! run, and the next deadline. The tokio shell in [`crate::runtime`] does the I/O; tests
//! and the simulator drive this type directly on a virtual clock.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytesstr::BytesStr;
use cellgate_hal::{HalError, LineId, ModemEvent, ReleaseCause};
use ezk_sip_types::uri::SipUri;
use ezk_sip_types::{Method, Name, StatusCode};
use tracing::{debug, info, warn};

use crate::call::{CallPhase, CallRef, OutboundCall};
use crate::cause::CauseMap;
use crate::lines::{LineSelection, LineTable};
use crate::sip::ids::IdGenerator;
use crate::sip::message::{CoreHeaders, Message, Request, Response};
use crate::sip::register::{Registration, RegistrationConfig, RegistrationStatus};
use crate::sip::sdp::{self, AcceptedOffer, AudioCodec, OfferError};
use crate::sip::timers::SipTimers;
use crate::sip::uas::{ClientRequest, InviteServer, ResponseCache, TimerOutcome};
use crate::trust::InboundTrust;

/// Settings of the gateway core.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Address put in Via, Contact and SDP: where peers reach the gateway.
    pub public_addr: SocketAddr,
    /// Which SIP sources may place calls.
    pub trust: InboundTrust,
    /// Transaction timers.
    pub timers: SipTimers,
    /// F-6.4.8: status sent when no line can take a call.
    pub no_line_status: u16,
    /// F-6.4.18: an unanswered outbound call is abandoned with 408 after this long.
    pub no_answer_timeout: Duration,
    /// GSM cause -> SIP status (F-6.4.23).
    pub causes: CauseMap,
    /// How a line is chosen.
    pub line_selection: LineSelection,
    /// First RTP port; line n uses `rtp_base_port + 2(n-1)`.
    pub rtp_base_port: u16,
    /// Seed for tags and branches (simulation); `None` draws from the OS.
    pub seed: Option<u64>,
    /// `Server` / `User-Agent` text.
    pub user_agent: String,
    /// SIP accounts to register (single, per line, per group, trunk; F-6.3.2).
    pub registrations: Vec<RegistrationConfig>,
}

impl GatewayConfig {
    /// Safe defaults: nobody may call until trust is configured.
    pub fn new(public_addr: SocketAddr) -> Self {
        Self {
            public_addr,
            trust: InboundTrust::DenyAll,
            timers: SipTimers::default(),
            no_line_status: 503,
            no_answer_timeout: Duration::from_secs(75),
            causes: CauseMap::default(),
            line_selection: LineSelection::default(),
            rtp_base_port: 16384,
            seed: None,
            user_agent: format!("cellgate/{}", env!("CARGO_PKG_VERSION")),
            registrations: Vec::new(),
        }
    }
}

/// A module operation the shell must run on a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModemCommand {
    /// Place a voice call.
    Dial(String),
    /// Release every call on the module.
    HangUp,
}

/// What the shell must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send a datagram.
    Transmit {
        /// Destination.
        to: SocketAddr,
        /// Payload.
        payload: Bytes,
    },
    /// Run a module command and report its result with
    /// [`Gateway::handle_command_result`].
    Modem {
        /// Line to run it on.
        line: LineId,
        /// Call it belongs to (echoed back with the result).
        call: Option<CallRef>,
        /// The operation.
        command: ModemCommand,
    },
}

/// The gateway core.
#[derive(Debug)]
pub struct Gateway {
    config: GatewayConfig,
    ids: IdGenerator,
    lines: LineTable,
    calls: BTreeMap<CallRef, OutboundCall>,
    next_call: u64,
    responses: ResponseCache,
    output: VecDeque<Output>,
    registrations: Vec<Registration>,
    started: bool,
}

impl Gateway {
    /// A gateway over the given lines; lines stay unusable until reported ready.
    pub fn new(config: GatewayConfig, lines: impl IntoIterator<Item = LineId>) -> Self {
        let mut ids = match config.seed {
            Some(seed) => IdGenerator::seeded(seed),
            None => IdGenerator::from_entropy(),
        };
        let registrations = config
            .registrations
            .iter()
            .map(|r| {
                Registration::new(
                    r.clone(),
                    config.public_addr,
                    config.timers,
                    &config.user_agent,
                    &mut ids,
                )
            })
            .collect();
        Self {
            registrations,
            started: false,
            lines: LineTable::new(lines, config.line_selection),
            config,
            ids,
            calls: BTreeMap::new(),
            next_call: 1,
            responses: ResponseCache::default(),
            output: VecDeque::new(),
        }
    }

    /// Line table, for status reporting.
    pub fn lines(&self) -> &LineTable {
        &self.lines
    }

    /// Calls in progress.
    pub fn calls(&self) -> impl Iterator<Item = &OutboundCall> {
        self.calls.values()
    }

    /// Starts what runs on its own (registrations). Call once, before the first input.
    pub fn start(&mut self, now: Instant) {
        if self.started {
            return;
        }
        self.started = true;
        for reg in &mut self.registrations {
            reg.start(now, &mut self.ids);
        }
        self.flush_registrations();
    }

    /// Status of every registration, in configuration order (F-5.2.2.16: registered or
    /// not, and why).
    pub fn registration_status(&self) -> Vec<(String, RegistrationStatus)> {
        self.registrations
            .iter()
            .map(|r| (r.config().label.clone(), r.status().clone()))
            .collect()
    }

    fn flush_registrations(&mut self) {
        for reg in &mut self.registrations {
            while let Some((to, payload)) = reg.poll_transmit() {
                self.output.push_back(Output::Transmit { to, payload });
            }
        }
    }

    /// Next output to act on.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.output.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.calls.values().flat_map(|c| {
            let no_answer = c.unanswered().then_some(c.no_answer_deadline);
            [
                c.sip.poll_timeout(),
                c.bye.as_ref().map(|b| b.poll_timeout()),
                no_answer,
            ]
        });
        let regs = self.registrations.iter().map(Registration::poll_timeout);
        calls
            .chain([self.responses.poll_timeout()])
            .chain(regs)
            .flatten()
            .min()
    }

    /// Reports whether a line's module is usable and registered.
    pub fn handle_line_status(&mut self, line: LineId, module_ready: bool, registered: bool) {
        if let Some(state) = self.lines.get_mut(line) {
            state.module_ready = module_ready;
            state.gsm_registered = registered;
        }
    }

    // ------------------------------------------------------------------ SIP input

    /// One datagram from `source`. Malformed input is logged and dropped, or answered
    /// `400` when enough of it parsed to address a response.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, datagram: &[u8]) {
        if datagram.iter().all(|b| b.is_ascii_whitespace()) {
            return; // RFC 5626 keep-alive
        }
        let message = match Message::parse(datagram) {
            Ok(m) => m,
            Err(e) => {
                warn!(%source, error = %e, "dropping malformed SIP datagram");
                return;
            }
        };
        match message {
            Message::Request(request) => self.handle_request(now, source, request),
            Message::Response(response) => self.handle_response(now, response),
        }
    }

    fn handle_request(&mut self, now: Instant, source: SocketAddr, request: Request) {
        let core = match CoreHeaders::decode(&request.headers) {
            Ok(core) => core,
            Err(e) => {
                warn!(%source, error = %e, "bad SIP request");
                if request.method != Method::ACK {
                    let mut resp = Response::to_request(&request, StatusCode::BAD_REQUEST, None);
                    resp.reason = Some(BytesStr::from(e.to_string()));
                    self.transmit(source, resp.to_bytes());
                }
                return;
            }
        };
        let branch = core.branch().unwrap_or_default().to_owned();
        if request.method != Method::INVITE && request.method != Method::ACK {
            if let Some(cached) = self.responses.get(&branch, &request.method) {
                self.transmit(source, cached);
                return;
            }
        }
        match request.method {
            Method::INVITE => self.handle_invite(now, source, request, core),
            Method::ACK => self.handle_ack(&core),
            Method::BYE => self.handle_bye(now, source, &request, &core),
            Method::CANCEL => self.handle_cancel(now, source, &request, &core),
            Method::OPTIONS => {
                let mut resp =
                    Response::to_request(&request, StatusCode::OK, Some(&self.ids.tag()));
                resp.headers
                    .insert(Name::ALLOW, "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO");
                resp.headers.insert(Name::ACCEPT, "application/sdp");
                self.reply_non_invite(now, source, &request, &core, resp);
            }
            _ => {
                let resp = Response::to_request(
                    &request,
                    StatusCode::NOT_IMPLMENTED,
                    Some(&self.ids.tag()),
                );
                self.reply_non_invite(now, source, &request, &core, resp);
            }
        }
    }

    fn reply_non_invite(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
        core: &CoreHeaders,
        mut response: Response,
    ) {
        response
            .headers
            .insert(Name::SERVER, self.config.user_agent.clone());
        let bytes = response.to_bytes();
        if let Some(branch) = core.branch() {
            self.responses.insert(
                branch,
                &request.method,
                bytes.clone(),
                now + self.config.timers.transaction_timeout(),
            );
        }
        self.transmit(source, bytes);
    }

    fn find_call_by_call_id(&self, call_id: &str) -> Option<CallRef> {
        self.calls
            .iter()
            .find(|(_, c)| c.sip.call_id() == call_id)
            .map(|(id, _)| *id)
    }

    fn handle_invite(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: Request,
        core: CoreHeaders,
    ) {
        // Retransmission of an INVITE we already serve.
        if let Some(id) = self.find_call_by_call_id(core.call_id.0.as_str()) {
            let call = &self.calls[&id];
            if call.sip.branch() == core.branch() {
                if let Some(bytes) = call.sip.on_invite_retransmission() {
                    let to = call.sip.reply_to();
                    self.transmit(to, bytes);
                }
            } else {
                // re-INVITE (hold, codec change) is a later feature; refuse cleanly.
                let resp = Response::to_request(&request, StatusCode::NOT_IMPLMENTED, None);
                self.transmit(source, resp.to_bytes());
            }
            return;
        }
        let reject = |gw: &mut Self, code: u16, reason: &str| {
            let mut server = InviteServer::new(
                request.clone(),
                core.clone(),
                gw.ids.tag(),
                source,
                gw.config.timers,
                0,
            );
            let bytes = server.respond(now, code, None, None);
            let _ = reason;
            gw.transmit(source, bytes);
            gw.track_rejected(now, server);
        };
        if core.to.tag.is_some() {
            reject(self, 481, "unknown dialog");
            return;
        }
        if !self.config.trust.allows(source.ip()) {
            info!(%source, "INVITE from untrusted source refused");
            reject(self, 403, "untrusted source");
            return;
        }
        let Some(number) = request.uri_user().and_then(dialable) else {
            info!(uri = ?request.uri_user(), "INVITE to a non-dialable number");
            reject(self, 404, "not a dialable number");
            return;
        };
        let offer = if request.body.is_empty() {
            // Delayed offer: we offer PCMU in the 200 OK.
            AcceptedOffer {
                codec: AudioCodec::Pcmu,
                telephone_event: Some(101),
                remote_rtp: None,
            }
        } else {
            match sdp::accept_offer(&request.body) {
                Ok(offer) => offer,
                Err(
                    e
                    @ (OfferError::NoAudio | OfferError::NoCommonCodec | OfferError::Malformed(_)),
                ) => {
                    info!(error = %e, "INVITE with unacceptable SDP");
                    reject(self, 488, "unacceptable SDP");
                    return;
                }
            }
        };
        let Some(line) = self.lines.take() else {
            info!(%number, "no free line");
            let code = self.config.no_line_status;
            reject(self, code, "no line");
            return;
        };
        let id = CallRef(self.next_call);
        self.next_call += 1;
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
        info!(call = id.0, %line, %number, "VoIP -> GSM call: dialling");
        self.output.push_back(Output::Modem {
            line,
            call: Some(id),
            command: ModemCommand::Dial(number.clone()),
        });
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
            },
        );
    }

    /// A refused INVITE still needs its final response retransmitted until ACK.
    fn track_rejected(&mut self, now: Instant, sip: InviteServer) {
        let id = CallRef(self.next_call);
        self.next_call += 1;
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
            },
        );
    }

    fn handle_ack(&mut self, core: &CoreHeaders) {
        let Some(id) = self.find_call_by_call_id(core.call_id.0.as_str()) else {
            debug!("ACK for unknown call ignored");
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.sip.on_ack();
        if call.sip.final_code().is_some_and(|c| c >= 300) {
            call.sip_done = true;
        }
        self.reap();
    }

    fn handle_bye(
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
            if !call.gsm_done {
                let line = call.line;
                self.output.push_back(Output::Modem {
                    line,
                    call: Some(id),
                    command: ModemCommand::HangUp,
                });
            }
        }
        self.reap();
    }

    fn handle_cancel(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
        core: &CoreHeaders,
    ) {
        let id = self
            .find_call_by_call_id(core.call_id.0.as_str())
            .filter(|id| self.calls[id].sip.branch() == core.branch());
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
        let bytes = call.sip.respond(now, 487, None, None);
        let to = call.sip.reply_to();
        call.phase = CallPhase::Ending;
        let gsm_pending = !call.gsm_done;
        let line = call.line;
        self.transmit(to, bytes);
        if gsm_pending {
            self.output.push_back(Output::Modem {
                line,
                call: Some(id),
                command: ModemCommand::HangUp,
            });
        }
    }

    fn handle_response(&mut self, now: Instant, response: Response) {
        let Ok(core) = CoreHeaders::decode(&response.headers) else {
            warn!("response without usable core headers dropped");
            return;
        };
        let code = response.code.into_u16();
        if let Some(branch) = core.branch() {
            if let Some(reg) = self.registrations.iter_mut().find(|r| r.owns(branch)) {
                reg.handle_response(now, &mut self.ids, branch, &response);
                self.flush_registrations();
                return;
            }
        }
        if code < 200 {
            return;
        }
        let branch = core.branch().unwrap_or_default();
        let found = self
            .calls
            .iter_mut()
            .find(|(_, c)| c.bye.as_ref().is_some_and(|b| b.branch == branch));
        if let Some((id, call)) = found {
            debug!(call = id.0, code, "BYE answered");
            call.bye = None;
            call.sip_done = true;
        }
        self.reap();
    }

    // ------------------------------------------------------------------ modem input

    /// An unsolicited event from the module of `line`.
    pub fn handle_modem_event(&mut self, now: Instant, line: LineId, event: ModemEvent) {
        match event {
            ModemEvent::CallAlerting { index } => {
                let Some(id) = self.active_call_on(line) else {
                    return;
                };
                let call = self.calls.get_mut(&id).expect_call();
                call.gsm_index.get_or_insert(index);
                if call.phase == CallPhase::Dialing {
                    call.phase = CallPhase::Alerting;
                    info!(call = id.0, %line, "GSM callee alerting");
                    let bytes = call.sip.respond(
                        now,
                        180,
                        Some(&contact(&self.config, &call.number)),
                        None,
                    );
                    let to = call.sip.reply_to();
                    self.transmit(to, bytes);
                }
            }
            ModemEvent::CallConnected { index } => {
                let Some(id) = self.active_call_on(line) else {
                    return;
                };
                let session = self.ids.number();
                let call = self.calls.get_mut(&id).expect_call();
                call.gsm_index.get_or_insert(index);
                if call.unanswered() {
                    call.phase = CallPhase::Connected;
                    call.answered = Some(now);
                    info!(call = id.0, %line, "GSM callee answered");
                    let port = self
                        .config
                        .rtp_base_port
                        .saturating_add(2 * line.0.saturating_sub(1));
                    let body =
                        sdp::answer(&call.offer, self.config.public_addr.ip(), port, session);
                    let bytes = call.sip.respond(
                        now,
                        200,
                        Some(&contact(&self.config, &call.number)),
                        Some(("application/sdp", Bytes::from(body))),
                    );
                    let to = call.sip.reply_to();
                    self.transmit(to, bytes);
                }
            }
            ModemEvent::CallReleased { cause, .. } => self.gsm_released(now, line, cause),
            ModemEvent::IncomingCall { caller, .. } => {
                // GSM -> VoIP routing is a later feature; an idle line rejects the call
                // rather than leaving the caller ringing forever.
                if self.lines.lines().iter().any(|l| l.id == line && !l.busy) {
                    info!(%line, caller = ?caller, "incoming GSM call rejected (no inbound route)");
                    self.output.push_back(Output::Modem {
                        line,
                        call: None,
                        command: ModemCommand::HangUp,
                    });
                }
            }
            ModemEvent::RegistrationChanged(reg) => {
                if let Some(state) = self.lines.get_mut(line) {
                    state.gsm_registered = reg.state.is_registered();
                }
            }
            ModemEvent::SimChanged(sim) => {
                if let Some(state) = self.lines.get_mut(line) {
                    state.module_ready = sim == cellgate_hal::SimState::Ready;
                }
            }
            ModemEvent::ModuleRestarted => {
                self.gsm_released(now, line, ReleaseCause::TEMPORARY_FAILURE);
            }
            ModemEvent::ModuleLost { reason } => {
                warn!(%line, %reason, "module lost");
                self.gsm_released(now, line, ReleaseCause::NETWORK_OUT_OF_ORDER);
                if let Some(state) = self.lines.get_mut(line) {
                    state.module_ready = false;
                }
            }
            other => debug!(%line, event = ?other, "module event not handled yet"),
        }
    }

    /// The GSM leg on `line` is gone.
    fn gsm_released(&mut self, now: Instant, line: LineId, cause: ReleaseCause) {
        let Some(id) = self.active_call_on(line) else {
            return;
        };
        let call = self.calls.get_mut(&id).expect_call();
        call.gsm_done = true;
        match call.phase {
            CallPhase::Dialing | CallPhase::Alerting => {
                let code = self.config.causes.sip_status(cause);
                info!(call = id.0, %line, cause = cause.0, code, "GSM call failed");
                let bytes = call.sip.respond(now, code, None, None);
                let to = call.sip.reply_to();
                call.phase = CallPhase::Ending;
                self.transmit(to, bytes);
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

    fn send_bye(&mut self, now: Instant, id: CallRef) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let bye = call.sip.build_bye(&mut self.ids, self.config.public_addr);
        let branch = CoreHeaders::decode(&bye.headers)
            .ok()
            .and_then(|c| c.branch().map(str::to_owned))
            .unwrap_or_default();
        let (tx, bytes) =
            ClientRequest::start(&bye, branch, call.sip.reply_to(), now, self.config.timers);
        let to = tx.destination;
        call.bye = Some(tx);
        self.transmit(to, bytes);
    }

    /// Result of a command issued through [`Output::Modem`].
    pub fn handle_command_result(
        &mut self,
        now: Instant,
        line: LineId,
        call: Option<CallRef>,
        command: &ModemCommand,
        result: Result<Option<u8>, HalError>,
    ) {
        match (command, result) {
            (ModemCommand::Dial(_), Ok(index)) => {
                if let Some(c) = call.and_then(|id| self.calls.get_mut(&id)) {
                    c.gsm_index = index.or(c.gsm_index);
                }
            }
            (ModemCommand::Dial(number), Err(e)) => {
                warn!(%line, %number, error = %e, "dial failed");
                let code = match e {
                    HalError::InvalidArgument(_) => 484,
                    _ => 503,
                };
                if let Some(id) = call {
                    if let Some(c) = self.calls.get_mut(&id) {
                        c.gsm_done = true;
                        if c.unanswered() {
                            let bytes = c.sip.respond(now, code, None, None);
                            let to = c.sip.reply_to();
                            c.phase = CallPhase::Ending;
                            self.transmit(to, bytes);
                        }
                    }
                }
                self.lines.release(line);
            }
            (ModemCommand::HangUp, result) => {
                if let Err(e) = result {
                    warn!(%line, error = %e, "hang-up failed");
                }
                if let Some(c) = call.and_then(|id| self.calls.get_mut(&id)) {
                    if !c.gsm_done {
                        c.gsm_done = true;
                        self.lines.release(line);
                    }
                }
            }
        }
        self.reap();
    }

    // ------------------------------------------------------------------ time

    /// Drives retransmissions and timeouts due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.responses.expire(now);
        for reg in &mut self.registrations {
            reg.handle_timeout(now, &mut self.ids);
        }
        self.flush_registrations();
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
                    let call = self.calls.get_mut(&id).expect_call();
                    if call.sip.final_code().is_some_and(|c| c < 300) {
                        // 2xx never acknowledged: end the dialog (RFC 3261 §13.3.1.4).
                        warn!(call = id.0, "no ACK for 200 OK: ending call");
                        call.phase = CallPhase::Ending;
                        let hang_up = !call.gsm_done;
                        let line = call.line;
                        self.send_bye(now, id);
                        if hang_up {
                            self.output.push_back(Output::Modem {
                                line,
                                call: Some(id),
                                command: ModemCommand::HangUp,
                            });
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
                let bytes = call.sip.respond(now, 408, None, None);
                let to = call.sip.reply_to();
                call.phase = CallPhase::Ending;
                let line = call.line;
                self.transmit(to, bytes);
                self.output.push_back(Output::Modem {
                    line,
                    call: Some(id),
                    command: ModemCommand::HangUp,
                });
            }
        }
        self.reap();
    }

    // ------------------------------------------------------------------ helpers

    fn active_call_on(&self, line: LineId) -> Option<CallRef> {
        self.calls
            .values()
            .find(|c| c.line == line && !c.gsm_done)
            .map(|c| c.id)
    }

    fn transmit(&mut self, to: SocketAddr, payload: Bytes) {
        self.output.push_back(Output::Transmit { to, payload });
    }

    fn reap(&mut self) {
        self.calls.retain(|_, c| !c.finished());
    }
}

/// The Contact the gateway puts in its responses.
fn contact(config: &GatewayConfig, number: &str) -> SipUri {
    let text = format!("sip:{number}@{}", config.public_addr);
    text.parse::<SipUri>()
        .unwrap_or_else(|_| SipUri::new(ezk_sip_types::host::HostPort::from(config.public_addr)))
}

/// The dialable form of a Request-URI user part: digits, `+`, `*`, `#`, at most 32.
/// Visual separators (`-`, `.`, `(`, `)`) are removed (RFC 3966).
pub fn dialable(user: &str) -> Option<String> {
    let digits: String = user
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
        .collect();
    let valid = !digits.is_empty()
        && digits.len() <= 32
        && digits
            .chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || c == '*' || c == '#' || (c == '+' && i == 0));
    valid.then_some(digits)
}

/// Internal invariant helper: a call looked up by a key just taken from the map exists.
trait ExpectCall<'a> {
    fn expect_call(self) -> &'a mut OutboundCall;
}

impl<'a> ExpectCall<'a> for Option<&'a mut OutboundCall> {
    #[allow(clippy::expect_used)]
    fn expect_call(self) -> &'a mut OutboundCall {
        self.expect("call id taken from the call map")
    }
}
