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
use ezk_sip_types::print::AppendCtx;
use ezk_sip_types::uri::SipUri;
use ezk_sip_types::{Method, Name, StatusCode};
use tracing::{debug, info, warn};

use crate::call::{CallPhase, CallRef, InboundCall, InboundPhase, OutboundCall};
use crate::cause::CauseMap;
use crate::lines::{LineSelection, LineTable};
use crate::sip::digest::{DigestAlgorithm, DigestClient, DigestServer, DigestVerdict};
use crate::sip::ids::IdGenerator;
use crate::sip::message::{CoreHeaders, Message, Request, Response};
use crate::sip::register::{Registration, RegistrationConfig, RegistrationStatus};
use crate::sip::registrar::{Binding, Registrar, RegistrarConfig};
use crate::sip::sdp::{self, AcceptedOffer, AudioCodec, OfferError};
use crate::sip::timers::SipTimers;
use crate::sip::uac::{InviteClient, InviteClientEvent, NonInviteClient};
use crate::sip::uas::{ClientRequest, InviteServer, ResponseCache, TimerOutcome};
use crate::trust::InboundTrust;

/// F-6.4.5: what the caller hears while the GSM call is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RingbackMode {
    /// `180 Ringing` when the GSM callee rings (the walking-skeleton behaviour).
    #[default]
    OnAlerting,
    /// Mode 1, "colour + fake": `180` at once, then `183` with early media when the
    /// GSM callee rings.
    FakeThenColour,
    /// Mode 2, "colour": `183` with early media at once.
    Colour,
    /// Mode 3, "fake": `180` at once, nothing more until answer.
    Fake,
}

/// F-6.4.7: where responses go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplyPath {
    /// The source address and port of the request.
    #[default]
    Source,
    /// The top `Via` (its `received`/`rport` when present, else its sent-by).
    Via,
}

/// F-6.8.6 to F-6.8.8: how the GSM caller's number is passed to SIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CidMode {
    /// Not passed.
    Disabled,
    /// In a `Remote-Party-ID` header.
    RemotePartyId,
    /// As the `From` user.
    #[default]
    From,
}

/// F-6.4.9 "password" modes: INVITEs must carry digest credentials of one of `users`.
#[derive(Clone, PartialEq, Eq)]
pub struct InboundDigest {
    /// Realm of the challenge.
    pub realm: String,
    /// (user, password) pairs.
    pub users: Vec<(String, String)>,
    /// Algorithms offered, preferred first.
    pub algorithms: Vec<DigestAlgorithm>,
}

impl std::fmt::Debug for InboundDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let users: Vec<&str> = self.users.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("InboundDigest")
            .field("realm", &self.realm)
            .field("users", &users)
            .finish()
    }
}

/// Where a line's incoming GSM calls go (F-6.8.3 / F-6.8.10; the full inbound routing
/// modes are a later issue).
#[derive(Clone, PartialEq, Eq)]
pub struct ForwardTarget {
    /// Request-URI, e.g. `sip:101@192.168.2.2:6060`.
    pub uri: String,
    /// Where the INVITE is sent (the URI's host, or the proxy).
    pub next_hop: SocketAddr,
    /// Our user part in `From`/`Contact` when the caller id is not put there.
    pub local_user: String,
    /// Credentials for a 401/407 challenge of our INVITE.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for ForwardTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardTarget")
            .field("uri", &self.uri)
            .field("next_hop", &self.next_hop)
            .field("local_user", &self.local_user)
            .finish()
    }
}

/// F-6.4.12: a periodic keep-alive toward a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepAlive {
    /// Peer.
    pub target: SocketAddr,
    /// Period.
    pub interval: Duration,
    /// `true`: an `OPTIONS` request; `false`: an empty datagram (CRLF CRLF, RFC 5626).
    pub options: bool,
}

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
    /// F-6.4.5 ringback mode.
    pub ringback: RingbackMode,
    /// F-6.4.7 reply path.
    pub reply_path: ReplyPath,
    /// F-6.4.9 digest check of incoming INVITEs (on top of `trust`).
    pub inbound_digest: Option<InboundDigest>,
    /// Keep-alives (F-6.4.12).
    pub keepalives: Vec<KeepAlive>,
    /// GSM -> SIP: per-line destination.
    pub forward: BTreeMap<LineId, ForwardTarget>,
    /// Caller-id pass-through for GSM -> SIP calls.
    pub cid_mode: CidMode,
    /// F-6.4.6: the built-in registrar, when enabled.
    pub registrar: Option<RegistrarConfig>,
    /// GSM -> SIP: lines whose incoming calls go to a client registered with the
    /// built-in registrar under this user (used when `forward` has no entry).
    pub forward_registered: BTreeMap<LineId, String>,
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
            ringback: RingbackMode::default(),
            reply_path: ReplyPath::default(),
            inbound_digest: None,
            keepalives: Vec::new(),
            forward: BTreeMap::new(),
            cid_mode: CidMode::default(),
            registrar: None,
            forward_registered: BTreeMap::new(),
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
    /// Answer the ringing incoming call.
    Answer,
    /// Send a DTMF digit in the call (`AT+VTS`).
    SendDtmf(char),
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
    /// A SIP MESSAGE arrived (Appendix H; the SMS layer consumes it). It was answered 200.
    Message {
        /// Source address.
        source: SocketAddr,
        /// Request-URI user (the gateway account or, with F-H.3, the destination).
        uri_user: Option<String>,
        /// `To` user.
        to_user: Option<String>,
        /// `From` user.
        from_user: Option<String>,
        /// Call-ID (F-H.5 reports quote it).
        call_id: String,
        /// Content type.
        content_type: Option<String>,
        /// Body.
        body: Bytes,
    },
    /// A MESSAGE sent with [`Gateway::send_message`] finished.
    MessageOutcome {
        /// The id `send_message` returned.
        id: u64,
        /// Final status, or `None` when the peer never answered.
        status: Option<u16>,
    },
}

/// Why a non-INVITE client transaction of the gateway exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
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
    digest: Option<DigestServer>,
    inbound: BTreeMap<CallRef, InboundCall>,
    pending: Vec<(NonInviteClient, Purpose)>,
    keepalive_due: Vec<Option<Instant>>,
    next_message: u64,
    registrar: Option<Registrar>,
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
        let digest = config
            .inbound_digest
            .as_ref()
            .map(|d| DigestServer::new(&d.realm, d.algorithms.clone(), Duration::from_secs(300)));
        let registrar = config.registrar.clone().map(Registrar::new);
        Self {
            registrar,
            registrations,
            started: false,
            digest,
            inbound: BTreeMap::new(),
            pending: Vec::new(),
            keepalive_due: vec![None; config.keepalives.len()],
            next_message: 1,
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
        for (due, ka) in self.keepalive_due.iter_mut().zip(&self.config.keepalives) {
            *due = Some(now + ka.interval);
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
                c.reinvite.as_ref().and_then(InviteServer::poll_timeout),
            ]
        });
        let regs = self.registrations.iter().map(Registration::poll_timeout);
        let inbound = self.inbound.values().map(|c| c.invite.poll_timeout());
        let pending = self.pending.iter().map(|(t, _)| Some(t.poll_timeout()));
        let registrar = self.registrar.as_ref().and_then(Registrar::poll_timeout);
        calls
            .chain([registrar])
            .chain([self.responses.poll_timeout()])
            .chain(regs)
            .chain(inbound)
            .chain(pending)
            .chain(self.keepalive_due.iter().copied())
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
        let source = self.reply_target(source, &core);
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
                resp.headers.insert(Name::ALLOW, ALLOW);
                resp.headers.insert(Name::ACCEPT, "application/sdp");
                self.reply_non_invite(now, source, &request, &core, resp);
            }
            Method::INFO => self.handle_info(now, source, &request, &core),
            Method::REGISTER if self.registrar.is_some() => {
                let Some(registrar) = self.registrar.as_mut() else {
                    return;
                };
                let mut resp = registrar.handle_register(now, source, &request, &mut self.ids);
                resp.headers.insert(Name::ALLOW, ALLOW);
                self.reply_non_invite(now, source, &request, &core, resp);
            }
            Method::MESSAGE => self.handle_message(now, source, &request, &core),
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
                return;
            } else if core.to.tag.is_some() || call.sip.final_code().is_none_or(|c| c < 300) {
                self.handle_reinvite(now, source, id, request, core);
                return;
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
        // A client registered with the built-in registrar proved the password already.
        let registered = self
            .registrar
            .as_ref()
            .is_some_and(|r| r.trusts(now, source));
        if !registered && !self.config.trust.allows(source.ip()) {
            info!(%source, "INVITE from untrusted source refused");
            reject(self, 403, "untrusted source");
            return;
        }
        let verdict = if registered {
            debug!(%source, "INVITE from a registered client");
            None
        } else {
            self.check_digest(now, &request)
        };
        if let Some(verdict) = verdict {
            match verdict {
                DigestVerdict::Authorized(user) => debug!(%user, "INVITE authenticated"),
                DigestVerdict::Rejected => {
                    info!(%source, "INVITE with wrong credentials refused");
                    reject(self, 403, "bad credentials");
                    return;
                }
                DigestVerdict::Missing | DigestVerdict::Stale => {
                    let stale = verdict == DigestVerdict::Stale;
                    let challenges = match self.digest.as_mut() {
                        Some(d) => d.challenge(now, &mut self.ids, stale),
                        None => Vec::new(),
                    };
                    let extra: Vec<(Name, String)> = challenges
                        .into_iter()
                        .map(|c| (Name::WWW_AUTHENTICATE, c))
                        .collect();
                    let mut server = InviteServer::new(
                        request.clone(),
                        core.clone(),
                        self.ids.tag(),
                        source,
                        self.config.timers,
                        0,
                    );
                    let bytes = server.respond_with(now, 401, None, None, &extra);
                    self.transmit(source, bytes);
                    self.track_rejected(now, server);
                    return;
                }
            }
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
        let session = self.ids.number();
        let early = match self.config.ringback {
            RingbackMode::OnAlerting => None,
            RingbackMode::FakeThenColour | RingbackMode::Fake => Some(180),
            RingbackMode::Colour => Some(183),
        };
        if let Some(code) = early {
            let body = (code == 183).then(|| {
                let port = self.rtp_port(line);
                let sdp = sdp::answer(&offer, self.config.public_addr.ip(), port, session);
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
                reinvite: None,
                sdp: (0, 0),
                held: false,
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

    fn handle_bye(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
        core: &CoreHeaders,
    ) {
        if let Some(id) = self.inbound_by_call_id(core.call_id.0.as_str()) {
            let resp = Response::to_request(request, StatusCode::OK, None);
            self.reply_non_invite(now, source, request, core, resp);
            if let Some(call) = self.inbound.get_mut(&id) {
                info!(call = id.0, line = %call.line, "SIP side hung up a GSM -> SIP call");
                call.sip_done = true;
                call.phase = InboundPhase::Ending;
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
            return;
        }
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
            if let Some(pos) = self.pending.iter().position(|(t, _)| t.branch == branch) {
                if self.pending[pos].0.on_response(code) {
                    let (_, purpose) = self.pending.remove(pos);
                    self.pending_finished(purpose, Some(code));
                }
                self.reap();
                return;
            }
            let inbound = self
                .inbound
                .iter()
                .find(|(_, c)| c.invite.branch == branch)
                .map(|(id, _)| *id);
            if let Some(id) = inbound {
                self.inbound_response(now, id, &response);
                self.reap();
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
                    let port = self
                        .config
                        .rtp_base_port
                        .saturating_add(2 * line.0.saturating_sub(1));
                    let (code, body) = match self.config.ringback {
                        RingbackMode::OnAlerting => (Some(180), None),
                        RingbackMode::FakeThenColour => {
                            let sdp = sdp::answer(
                                &call.offer,
                                self.config.public_addr.ip(),
                                port,
                                call.sdp.0,
                            );
                            (Some(183), Some(("application/sdp", Bytes::from(sdp))))
                        }
                        RingbackMode::Colour | RingbackMode::Fake => (None, None),
                    };
                    if let Some(code) = code {
                        let bytes = call.sip.respond(
                            now,
                            code,
                            Some(&contact(&self.config, &call.number)),
                            body,
                        );
                        let to = call.sip.reply_to();
                        self.transmit(to, bytes);
                    }
                }
            }
            ModemEvent::CallConnected { index } => {
                let Some(id) = self.active_call_on(line) else {
                    return;
                };
                let call = self.calls.get_mut(&id).expect_call();
                let session = call.sdp.0;
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
            ModemEvent::DtmfReceived { digit } => self.dtmf_from_gsm(now, line, digit),
            ModemEvent::IncomingCall { caller, .. } => {
                if self.inbound.values().any(|c| c.line == line && !c.gsm_done) {
                    return; // RING repeats while the call rings
                }
                let idle = self.lines.lines().iter().any(|l| l.id == line && !l.busy);
                if idle && self.forward_target(now, line).is_some() {
                    self.start_inbound(now, line, caller);
                    return;
                }
                // No route for this line: reject rather than leave the caller ringing.
                if idle {
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
        if let Some(id) = self.inbound_on(line) {
            self.inbound_gsm_released(now, id);
            self.reap();
            return;
        }
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
            (ModemCommand::Answer, Err(e)) => {
                warn!(%line, error = %e, "answering the GSM call failed");
                if let Some(id) = call.filter(|id| self.inbound.contains_key(id)) {
                    self.inbound_gsm_released(now, id);
                }
            }
            (ModemCommand::Answer, Ok(_)) => {}
            (ModemCommand::SendDtmf(digit), Err(e)) => {
                warn!(%line, %digit, error = %e, "DTMF to the module failed");
            }
            (ModemCommand::SendDtmf(_), Ok(_)) => {}
            (ModemCommand::HangUp, result) => {
                if let Err(e) = result {
                    warn!(%line, error = %e, "hang-up failed");
                }
                if let Some(c) = call.and_then(|id| self.inbound.get_mut(&id)) {
                    if !c.gsm_done {
                        c.gsm_done = true;
                        self.lines.release(line);
                    }
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
        if let Some(registrar) = self.registrar.as_mut() {
            registrar.handle_timeout(now);
        }
        for reg in &mut self.registrations {
            reg.handle_timeout(now, &mut self.ids);
        }
        self.flush_registrations();
        self.keepalive_timeouts(now);
        self.pending_timeouts(now);
        self.inbound_timeouts(now);
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
        let lines = &mut self.lines;
        self.inbound.retain(|_, c| {
            if c.finished() {
                lines.release(c.line);
                false
            } else {
                true
            }
        });
    }

    fn rtp_port(&self, line: LineId) -> u16 {
        self.config
            .rtp_base_port
            .saturating_add(2 * line.0.saturating_sub(1))
    }
}

/// Methods the gateway answers.
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, MESSAGE";

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

// ---------------------------------------------------------------------- SIP features
impl Gateway {
    /// F-6.4.7: where responses to a request from `source` go.
    fn reply_target(&self, source: SocketAddr, core: &CoreHeaders) -> SocketAddr {
        if self.config.reply_path == ReplyPath::Source {
            return source;
        }
        let via = &core.via;
        let received = via
            .params
            .get_val("received")
            .and_then(|r| r.as_str().parse::<std::net::IpAddr>().ok());
        let rport = via
            .params
            .get_val("rport")
            .and_then(|p| p.as_str().parse::<u16>().ok());
        let host = received.or(match &via.sent_by.host {
            ezk_sip_types::host::Host::IP4(ip) => Some(std::net::IpAddr::V4(*ip)),
            ezk_sip_types::host::Host::IP6(ip) => Some(std::net::IpAddr::V6(*ip)),
            ezk_sip_types::host::Host::Name(_) => None,
        });
        match host {
            Some(ip) => SocketAddr::new(ip, rport.or(via.sent_by.port).unwrap_or(5060)),
            None => source,
        }
    }

    /// F-6.4.9 digest check of an INVITE; `None` when no digest is configured.
    fn check_digest(&mut self, now: Instant, request: &Request) -> Option<DigestVerdict> {
        let users = self.config.inbound_digest.as_ref()?.users.clone();
        let server = self.digest.as_mut()?;
        Some(
            server.verify(now, &request.method, &request.headers, false, |u| {
                users
                    .iter()
                    .find(|(name, _)| name == u)
                    .map(|(_, p)| p.clone())
            }),
        )
    }

    /// A re-INVITE in a VoIP -> GSM dialog: hold / resume. The answer mirrors the offered
    /// direction (`sendonly` -> `recvonly`, RFC 3264 §8.4).
    fn handle_reinvite(
        &mut self,
        now: Instant,
        source: SocketAddr,
        id: CallRef,
        request: Request,
        core: CoreHeaders,
    ) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if let Some(re) = call.reinvite.as_ref() {
            if re.branch() == core.branch() {
                if let Some(bytes) = re.on_invite_retransmission() {
                    self.transmit(source, bytes);
                }
                return;
            }
        }
        let connected = call.phase == CallPhase::Connected;
        let tag = call.sip.local_tag().to_owned();
        let mut server =
            InviteServer::new(request.clone(), core, tag, source, self.config.timers, 0);
        if !connected || call.reinvite.is_some() {
            // RFC 3261 §14.2: an INVITE while another is pending gets 491.
            let bytes = server.respond(now, 491, None, None);
            self.transmit(source, bytes);
            return;
        }
        let offer = if request.body.is_empty() {
            Ok(call.offer.clone())
        } else {
            sdp::accept_offer(&request.body)
        };
        let offer = match offer {
            Ok(o) => o,
            Err(e) => {
                info!(call = id.0, error = %e, "re-INVITE with unacceptable SDP");
                let bytes = server.respond(now, 488, None, None);
                self.transmit(source, bytes);
                return;
            }
        };
        let offered = sdp::direction(&request.body);
        let direction = sdp::answer_direction(offered);
        let port = self.rtp_port(call.line);
        let ip = self.config.public_addr.ip();
        let contact_uri = contact(&self.config, &call.number);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.sdp.1 = call.sdp.1.wrapping_add(1);
        call.held = matches!(offered, "sendonly" | "inactive");
        call.offer = offer;
        info!(
            call = id.0,
            held = call.held,
            "re-INVITE answered {direction}"
        );
        let body =
            sdp::answer_with_direction(&call.offer, ip, port, call.sdp.0, call.sdp.1, direction);
        let bytes = server.respond(
            now,
            200,
            Some(&contact_uri),
            Some(("application/sdp", Bytes::from(body))),
        );
        call.reinvite = Some(server);
        self.transmit(source, bytes);
    }

    /// INFO: DTMF from the SIP caller (`application/dtmf-relay` `Signal=5` or
    /// `application/dtmf` `5`) goes to the module (F-6.4.15).
    fn handle_info(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
        core: &CoreHeaders,
    ) {
        let call_id = core.call_id.0.as_str();
        let target = self
            .find_call_by_call_id(call_id)
            .and_then(|id| self.calls.get(&id).map(|c| (id, c.line, !c.gsm_done)))
            .or_else(|| {
                self.inbound_by_call_id(call_id)
                    .and_then(|id| self.inbound.get(&id).map(|c| (id, c.line, !c.gsm_done)))
            });
        let Some((id, line, gsm_up)) = target else {
            let resp = Response::to_request(
                request,
                StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST,
                None,
            );
            self.reply_non_invite(now, source, request, core, resp);
            return;
        };
        let digit = dtmf_digit(&request.body);
        let resp = Response::to_request(request, StatusCode::OK, None);
        self.reply_non_invite(now, source, request, core, resp);
        match digit {
            Some(digit) if gsm_up => {
                debug!(call = id.0, %line, %digit, "DTMF from SIP to GSM");
                self.output.push_back(Output::Modem {
                    line,
                    call: Some(id),
                    command: ModemCommand::SendDtmf(digit),
                });
            }
            _ => debug!(call = id.0, "INFO without a DTMF digit ignored"),
        }
    }

    /// MESSAGE (Appendix H): answered 200 and handed to the SMS layer as
    /// [`Output::Message`]. Only trusted sources may send it.
    fn handle_message(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
        core: &CoreHeaders,
    ) {
        let registered = self
            .registrar
            .as_ref()
            .is_some_and(|r| r.trusts(now, source));
        let allowed = registered
            || (self.config.trust.allows(source.ip())
                && self
                    .check_digest(now, request)
                    .is_none_or(|v| matches!(v, DigestVerdict::Authorized(_))));
        if !allowed {
            info!(%source, "MESSAGE from untrusted source refused");
            let resp = Response::to_request(request, StatusCode::FORBIDDEN, Some(&self.ids.tag()));
            self.reply_non_invite(now, source, request, core, resp);
            return;
        }
        let resp = Response::to_request(request, StatusCode::OK, Some(&self.ids.tag()));
        self.reply_non_invite(now, source, request, core, resp);
        let user = |uri: &SipUri| match &uri.user_part {
            ezk_sip_types::uri::SipUriUserPart::User(u) => Some(u.to_string()),
            ezk_sip_types::uri::SipUriUserPart::UserPw(pw) => Some(pw.user.to_string()),
            ezk_sip_types::uri::SipUriUserPart::Empty => None,
        };
        self.output.push_back(Output::Message {
            source,
            uri_user: request.uri_user().map(str::to_owned),
            to_user: user(&core.to.uri.uri),
            from_user: user(&core.from.uri.uri),
            call_id: core.call_id.0.to_string(),
            content_type: request
                .headers
                .get_raw(&Name::CONTENT_TYPE)
                .next()
                .map(|v| v.to_string()),
            body: request.body.clone(),
        });
    }

    /// Sends a MESSAGE (SMS to SIP, F-H.4 reports); the outcome comes back as
    /// [`Output::MessageOutcome`] with the returned id.
    pub fn send_message(
        &mut self,
        now: Instant,
        uri: &str,
        next_hop: SocketAddr,
        from_user: &str,
        content_type: &str,
        body: Bytes,
    ) -> u64 {
        let id = self.next_message;
        self.next_message += 1;
        let target = uri
            .parse::<SipUri>()
            .unwrap_or_else(|_| SipUri::new(ezk_sip_types::host::HostPort::from(next_hop)));
        let mut req = Request::new(Method::MESSAGE, target);
        let branch = self.ids.branch();
        let public = self.config.public_addr;
        req.headers.insert(
            Name::VIA,
            format!("SIP/2.0/UDP {public};branch={branch};rport"),
        );
        req.headers.insert(Name::MAX_FORWARDS, "70");
        req.headers.insert(
            Name::FROM,
            format!("<sip:{from_user}@{public}>;tag={}", self.ids.tag()),
        );
        req.headers.insert(Name::TO, format!("<{uri}>"));
        req.headers
            .insert(Name::CALL_ID, self.ids.call_id(&public.ip().to_string()));
        req.headers.insert(Name::CSEQ, "1 MESSAGE");
        req.headers
            .insert(Name::USER_AGENT, self.config.user_agent.clone());
        req.headers
            .insert(Name::CONTENT_TYPE, content_type.to_owned());
        req.body = body;
        let (tx, bytes) = NonInviteClient::start(&req, branch, next_hop, now, self.config.timers);
        self.pending.push((tx, Purpose::Message(id)));
        self.transmit(next_hop, bytes);
        id
    }

    /// DTMF detected on a GSM leg goes to the SIP peer as INFO `application/dtmf-relay`.
    fn dtmf_from_gsm(&mut self, now: Instant, line: LineId, digit: char) {
        let public = self.config.public_addr;
        let body = format!("Signal={digit}\r\nDuration=160\r\n");
        let request = if let Some(id) = self.active_call_on(line) {
            let Some(call) = self.calls.get_mut(&id) else {
                return;
            };
            if call.phase != CallPhase::Connected {
                return;
            }
            let req = call.sip.build_request(Method::INFO, &mut self.ids, public);
            Some((req, call.sip.reply_to()))
        } else if let Some(id) = self.inbound_on(line) {
            let Some(call) = self.inbound.get_mut(&id) else {
                return;
            };
            if call.phase != InboundPhase::Connected {
                return;
            }
            call.cseq += 1;
            let cseq = call.cseq;
            let req = build_inbound_request(call, Method::INFO, cseq, &mut self.ids, public);
            Some((req, call.next_hop))
        } else {
            None
        };
        let Some((mut req, to)) = request else { return };
        req.headers
            .insert(Name::CONTENT_TYPE, "application/dtmf-relay");
        req.body = Bytes::from(body);
        let branch = CoreHeaders::decode(&req.headers)
            .ok()
            .and_then(|c| c.branch().map(str::to_owned))
            .unwrap_or_default();
        let (tx, bytes) = NonInviteClient::start(&req, branch, to, now, self.config.timers);
        self.pending.push((tx, Purpose::Info));
        self.transmit(to, bytes);
    }

    fn pending_finished(&mut self, purpose: Purpose, code: Option<u16>) {
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

    fn pending_timeouts(&mut self, now: Instant) {
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
                self.pending_finished(purpose, None);
            }
        }
        self.reap();
    }

    fn keepalive_timeouts(&mut self, now: Instant) {
        for i in 0..self.keepalive_due.len() {
            let Some(due) = self.keepalive_due[i] else {
                continue;
            };
            if now < due {
                continue;
            }
            let ka = self.config.keepalives[i].clone();
            self.keepalive_due[i] = Some(now + ka.interval);
            if !ka.options {
                self.transmit(ka.target, Bytes::from_static(b"\r\n\r\n"));
                continue;
            }
            let public = self.config.public_addr;
            let mut req = Request::new(
                Method::OPTIONS,
                SipUri::new(ezk_sip_types::host::HostPort::from(ka.target)),
            );
            let branch = self.ids.branch();
            req.headers.insert(
                Name::VIA,
                format!("SIP/2.0/UDP {public};branch={branch};rport"),
            );
            req.headers.insert(Name::MAX_FORWARDS, "70");
            req.headers.insert(
                Name::FROM,
                format!("<sip:cellgate@{public}>;tag={}", self.ids.tag()),
            );
            req.headers.insert(Name::TO, format!("<sip:{}>", ka.target));
            req.headers
                .insert(Name::CALL_ID, self.ids.call_id(&public.ip().to_string()));
            req.headers.insert(Name::CSEQ, "1 OPTIONS");
            req.headers
                .insert(Name::USER_AGENT, self.config.user_agent.clone());
            let (tx, bytes) =
                NonInviteClient::start(&req, branch, ka.target, now, self.config.timers);
            self.pending.push((tx, Purpose::KeepAlive));
            self.transmit(ka.target, bytes);
        }
    }

    // ------------------------------------------------------------ GSM -> SIP calls

    fn inbound_on(&self, line: LineId) -> Option<CallRef> {
        self.inbound
            .values()
            .find(|c| c.line == line && !c.gsm_done)
            .map(|c| c.id)
    }

    /// Where an incoming GSM call on `line` goes: the configured target, else the
    /// client registered under the line's `forward_registered` user.
    fn forward_target(&self, now: Instant, line: LineId) -> Option<ForwardTarget> {
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

    /// Clients registered with the built-in registrar (F-6.4.6), for status reporting.
    pub fn registered_clients(&self, now: Instant) -> Vec<Binding> {
        self.registrar
            .as_ref()
            .map(|r| r.bindings(now).cloned().collect())
            .unwrap_or_default()
    }

    fn inbound_by_call_id(&self, call_id: &str) -> Option<CallRef> {
        self.inbound
            .values()
            .find(|c| c.call_id == call_id)
            .map(|c| c.id)
    }

    /// An incoming GSM call on a line with a forward target: INVITE the target.
    fn start_inbound(&mut self, now: Instant, line: LineId, caller: Option<String>) {
        let Some(target) = self.forward_target(now, line) else {
            return;
        };
        if let Some(state) = self.lines.get_mut(line) {
            state.busy = true;
        }
        let id = CallRef(self.next_call);
        self.next_call += 1;
        let public = self.config.public_addr;
        let call_id = self.ids.call_id(&public.ip().to_string());
        let local_tag = self.ids.tag();
        let cseq = self.ids.number() % 10_000 + 1;
        let session = self.ids.number();
        let caller_number = caller.clone().filter(|c| dialable(c).is_some());
        let from_user = match (self.config.cid_mode, &caller_number) {
            (CidMode::From, Some(number)) => number.clone(),
            _ => target.local_user.clone(),
        };
        let uri = target
            .uri
            .parse::<SipUri>()
            .unwrap_or_else(|_| SipUri::new(ezk_sip_types::host::HostPort::from(target.next_hop)));
        let mut invite = Request::new(Method::INVITE, uri);
        let branch = self.ids.branch();
        invite.headers.insert(
            Name::VIA,
            format!("SIP/2.0/UDP {public};branch={branch};rport"),
        );
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
        if let (CidMode::RemotePartyId, Some(number)) = (self.config.cid_mode, &caller_number) {
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
        invite.body = Bytes::from(sdp::offer(public.ip(), self.rtp_port(line), session));
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
            },
        );
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
            InviteClientEvent::Provisional(_) => {}
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
                    info!(call = id.0, %line, "SIP callee answered: answering the GSM call");
                    self.output.push_back(Output::Modem {
                        line,
                        call: Some(id),
                        command: ModemCommand::Answer,
                    });
                }
            }
            InviteClientEvent::Failure { code: _, ack } => {
                let to = call.next_hop;
                self.transmit(to, ack);
                let Some(call) = self.inbound.get_mut(&id) else {
                    return;
                };
                if (code == 401 || code == 407) && !call.gsm_done {
                    if let Some(mut auth) = call.auth.take() {
                        let invite = call.invite.invite().clone();
                        if auth.on_challenge(&invite, response).is_ok() {
                            let mut retry = invite;
                            let branch = self.ids.branch();
                            retry.headers.remove(&Name::VIA);
                            retry.headers.insert(
                                Name::VIA,
                                format!("SIP/2.0/UDP {public};branch={branch};rport"),
                            );
                            call.cseq += 1;
                            retry.headers.remove(&Name::CSEQ);
                            retry
                                .headers
                                .insert(Name::CSEQ, format!("{} INVITE", call.cseq));
                            auth.authorize(&mut retry.headers);
                            let (tx, bytes) = InviteClient::start(
                                &retry,
                                branch,
                                call.next_hop,
                                now,
                                self.config.timers,
                            );
                            call.invite = tx;
                            call.remote_tag = None;
                            let to = call.next_hop;
                            self.transmit(to, bytes);
                            return;
                        }
                    }
                }
                info!(call = id.0, code, "GSM -> SIP call refused by the SIP side");
                call.sip_done = true;
                call.phase = InboundPhase::Ending;
                if !call.gsm_done {
                    let line = call.line;
                    self.output.push_back(Output::Modem {
                        line,
                        call: Some(id),
                        command: ModemCommand::HangUp,
                    });
                }
            }
            InviteClientEvent::FailureRetransmitted { ack } => {
                let to = call.next_hop;
                self.transmit(to, ack);
            }
        }
    }

    /// The GSM caller of a GSM -> SIP call hung up (or could not be answered).
    fn inbound_gsm_released(&mut self, now: Instant, id: CallRef) {
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        if call.gsm_done {
            return;
        }
        call.gsm_done = true;
        self.lines.release(call.line);
        match call.phase {
            InboundPhase::Calling => {
                // CANCEL the INVITE (RFC 3261 §9.1: same branch, Request-URI, Call-ID,
                // From, To and CSeq number as the INVITE).
                info!(call = id.0, "GSM caller hung up before answer: CANCEL");
                let invite = call.invite.invite().clone();
                let mut cancel = Request::new(Method::CANCEL, invite.uri.clone());
                for name in [Name::VIA, Name::FROM, Name::TO, Name::CALL_ID, Name::ROUTE] {
                    let _ = invite.headers.clone_into(&mut cancel.headers, name);
                }
                cancel
                    .headers
                    .insert(Name::CSEQ, format!("{} CANCEL", call.cseq));
                cancel.headers.insert(Name::MAX_FORWARDS, "70");
                let branch = call.invite.branch.clone();
                let to = call.next_hop;
                let (tx, bytes) =
                    NonInviteClient::start(&cancel, branch, to, now, self.config.timers);
                // The 487 (or a late 2xx) still arrives on the INVITE transaction.
                self.pending.push((tx, Purpose::InboundCancel(id)));
                self.transmit(to, bytes);
            }
            InboundPhase::Connected => {
                info!(call = id.0, "GSM caller hung up: BYE");
                call.phase = InboundPhase::Ending;
                self.send_inbound_bye(now, id);
            }
            InboundPhase::Ending => {}
        }
    }

    fn send_inbound_bye(&mut self, now: Instant, id: CallRef) {
        let public = self.config.public_addr;
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        call.phase = InboundPhase::Ending;
        call.cseq += 1;
        let cseq = call.cseq;
        let bye = build_inbound_request(call, Method::BYE, cseq, &mut self.ids, public);
        let branch = CoreHeaders::decode(&bye.headers)
            .ok()
            .and_then(|c| c.branch().map(str::to_owned))
            .unwrap_or_default();
        let to = call.next_hop;
        let (tx, bytes) = NonInviteClient::start(&bye, branch, to, now, self.config.timers);
        self.pending.push((tx, Purpose::InboundBye(id)));
        self.transmit(to, bytes);
    }

    fn inbound_timeouts(&mut self, now: Instant) {
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
                    call.sip_done = true;
                    call.phase = InboundPhase::Ending;
                    if !call.gsm_done {
                        let line = call.line;
                        self.output.push_back(Output::Modem {
                            line,
                            call: Some(id),
                            command: ModemCommand::HangUp,
                        });
                    }
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
    req.headers.insert(
        Name::VIA,
        format!("SIP/2.0/UDP {public};branch={branch};rport"),
    );
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

/// The digit of a SIP INFO DTMF body: `Signal=5` (application/dtmf-relay) or a bare
/// digit (application/dtmf).
fn dtmf_digit(body: &[u8]) -> Option<char> {
    let text = std::str::from_utf8(body).ok()?;
    let value = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim().eq_ignore_ascii_case("signal").then_some(v.trim())
        })
        .unwrap_or(text.trim());
    let mut chars = value.chars();
    let c = chars.next()?.to_ascii_uppercase();
    (chars.next().is_none() && matches!(c, '0'..='9' | '*' | '#' | 'A'..='D')).then_some(c)
}
