//! The gateway core as a sans-IO state machine.
//!
//! Inputs: SIP datagrams with their source, module events, results of module commands,
//! line status, and the current time. Outputs: datagrams to send, module commands to
//! run, and the next deadline. The tokio shell in [`crate::runtime`] does the I/O; tests
//! and the simulator drive this type directly on a virtual clock.
//!
//! This file holds the state and routes every input to the module that handles it:
//!
//! | module | job |
//! |---|---|
//! | `config` | [`GatewayConfig`] and its parts |
//! | `output` | [`Output`] and [`ModemCommand`]: what the shell must do |
//! | `admission` | trust and digest checks of INVITE and MESSAGE (F-6.4.9) |
//! | `reply` | where responses go (F-6.4.7) and the non-INVITE response cache |
//! | `voip_to_gsm` | SIP calls into the gateway: dial, ringback, answer, release |
//! | `hold` | re-INVITE in a VoIP -> GSM dialog (hold / resume) |
//! | `inbound_hold` | re-INVITE in a GSM -> SIP dialog (hold / resume) |
//! | `gsm_to_voip` | GSM calls out to SIP: INVITE client, ACK, CANCEL, BYE |
//! | `early_cancel` | CANCEL of a GSM -> SIP INVITE, held back until a provisional (RFC 3261 §9.1) |
//! | `dtmf` | DTMF by INFO in both directions (F-6.4.15) |
//! | `client_transactions` | the gateway's own non-INVITE requests (INFO, MESSAGE, OPTIONS, BYE, CANCEL) |
//! | `registration` | registration accounts and the built-in registrar |
//! | `messages` | SIP MESSAGE in and out (Appendix H) |
//! | `keepalive` | periodic keep-alives (F-6.4.12) |
//! | `media` | RTP ports, media start/stop of calls, DTMF to and from the bridge, RTP timeout |
//! | `headers`, `numbers` | header values the gateway writes; dialable numbers |
//! | `line_policy` | per-line settings (§6.6 to §6.15) and gateway-wide routing settings |
//! | `outbound_route` | which line takes a VoIP call and what it dials (prefixes, 603, auth, dial rules, limits, memory, rest) |
//! | `outbound_policy` | GSM-leg timers (no ring, dial timeout, call maximum, `M1:` DTMF), auto redial |
//! | `inbound_route` | where a GSM call goes (reject, forward, caller map, two-stage), CID rules |
//! | `collect` | digit entry: two-stage numbers and passwords, with the dial tone |
//! | `call_waiting` | a second GSM call on a line (F-6.8.13 to 16) |
//! | `accounting` | CDR, SIM usage, run policy, rotation and balance report at the end of a call; locks and paused accounts |
//! | `gsm_management` | module set-up (forwarding, IMEI, operator, cell), power, schedules, group mode |
//! | `group_peer` | group peer protocol v1: multi-device groups (F-D.6) |
//! | `status` | the status rows and header of manual §5.2 |
//! | `clock` | the network's local time |

mod accounting;
mod admission;
mod call_waiting;
mod client_transactions;
mod clock;
mod collect;
mod config;
mod dtmf;
mod early_cancel;
mod group_peer;
mod gsm_management;
mod gsm_to_voip;
mod headers;
mod hold;
mod inbound_hold;
mod inbound_route;
mod keepalive;
mod line_policy;
mod media;
mod messages;
mod numbers;
mod outbound_policy;
mod outbound_route;
mod output;
mod registration;
mod reply;
mod status;
mod voip_to_gsm;

pub(crate) use collect::Collector;
pub use config::{
    CidMode, ForwardTarget, GatewayConfig, InboundDigest, KeepAlive, MediaConfig, ReplyPath,
    RingbackMode,
};
pub use group_peer::GroupPeer;
pub use line_policy::{CallWaiting, LinePolicy, OutboundForward, RoutingConfig};
pub use media::MediaEvent;
pub use numbers::dialable;
pub use output::{CallTone, MediaParams, ModemCommand, Output};
pub use status::{GatewayStatus, LineStatus};

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytesstr::BytesStr;
use cellgate_hal::{HalError, LineId, ModemEvent, ReleaseCause};
use ezk_sip_types::{Method, Name, StatusCode};
use tracing::{debug, info, warn};

use crate::call::{CallRef, InboundCall, OutboundCall};
use crate::connections::SipTransportKind;
use crate::lines::LineTable;
use crate::sip::digest::DigestServer;
use crate::sip::ids::IdGenerator;
use crate::sip::message::{CoreHeaders, Message, Request, Response};
use crate::sip::register::Registration;
use crate::sip::registrar::Registrar;
use crate::sip::uac::NonInviteClient;
use crate::sip::uas::{InviteServer, ResponseCache};
use client_transactions::Purpose;
use headers::ALLOW;

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
    media: BTreeMap<CallRef, MediaParams>,
    line_runtime: BTreeMap<LineId, accounting::LineRuntime>,
    call_memory: cellgate_policy::routing::CallMemory,
    clock: clock::NetworkClock,
    rng: rand_chacha::ChaCha8Rng,
    default_policy: LinePolicy,
    collecting: BTreeMap<CallRef, collect::InboundCollect>,
    management: gsm_management::ManagementState,
    started_at: Option<Instant>,
    line_snapshot: Vec<(bool, bool)>,
    second_calls: BTreeMap<LineId, call_waiting::SecondCall>,
    ringing_index: BTreeMap<LineId, cellgate_hal::CallIndex>,
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
        let lines: Vec<LineId> = lines.into_iter().collect();
        let line_runtime = lines
            .iter()
            .map(|&l| (l, accounting::LineRuntime::new(&config, l)))
            .collect();
        let rng = {
            use rand::SeedableRng;
            rand_chacha::ChaCha8Rng::seed_from_u64(config.seed.unwrap_or_else(rand::random))
        };
        Self {
            line_runtime,
            call_memory: cellgate_policy::routing::CallMemory::new(Duration::from_secs(600)),
            clock: clock::NetworkClock::default(),
            rng,
            default_policy: LinePolicy::default(),
            collecting: BTreeMap::new(),
            management: Default::default(),
            started_at: None,
            line_snapshot: Vec::new(),
            second_calls: BTreeMap::new(),
            ringing_index: BTreeMap::new(),
            registrar,
            media: BTreeMap::new(),
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

    /// The settings of `line` (the defaults for a line without its own).
    pub(crate) fn line_policy(&self, line: LineId) -> &LinePolicy {
        self.config.lines.get(&line).unwrap_or(&self.default_policy)
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
        self.started_at = Some(now);
        self.start_registrations(now);
        self.start_keepalives(now);
        self.flush_registrations();
        self.start_management(now);
        self.start_cdr_clocks(now);
        let ready: Vec<LineId> = self
            .lines
            .lines()
            .iter()
            .filter(|l| l.module_ready)
            .map(|l| l.id)
            .collect();
        for line in ready {
            self.line_came_up(line);
        }
        self.sync_line_registrations(now);
        self.sync_group_peer(now);
        self.sync_group(now);
    }

    /// Next output to act on.
    pub fn poll_output(&mut self) -> Option<Output> {
        if !self.media.is_empty() {
            self.sync_media();
        }
        let out = self.output.pop_front()?;
        Some(self.stamp_transport(out))
    }

    /// The transport the shell must use toward `to` (issue #5): the configured one of a
    /// registration server or forward target (`sips:` / `;transport=` of its URI) whose
    /// next hop is `to`; UDP otherwise. Requests to a stream hop already come out of
    /// [`poll_output`](Self::poll_output) with the matching `Via` and `Contact`.
    pub fn transport_for(&self, to: SocketAddr) -> SipTransportKind {
        let servers = self
            .config
            .registrations
            .iter()
            .flat_map(|r| std::iter::once(&r.primary).chain(r.backup.iter()));
        for server in servers {
            if server.next_hop() == to && server.transport.is_stream() {
                return server.transport;
            }
        }
        self.config
            .forward
            .values()
            .filter(|f| f.next_hop == to)
            .find_map(|f| SipTransportKind::from_uri(&f.uri))
            .unwrap_or_default()
    }

    fn stamp_transport(&self, out: Output) -> Output {
        match out {
            Output::Transmit { to, payload } => {
                let kind = self.transport_for(to);
                Output::Transmit {
                    to,
                    payload: crate::connections::stamp_request(&payload, kind),
                }
            }
            other => other,
        }
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
        let inbound = self.inbound.values().flat_map(|c| {
            let reinvite = c.hold.reinvite.as_ref();
            [
                c.invite.poll_timeout(),
                reinvite.and_then(InviteServer::poll_timeout),
            ]
        });
        let pending = self.pending.iter().map(|(t, _)| Some(t.poll_timeout()));
        let registrar = self.registrar.as_ref().and_then(Registrar::poll_timeout);
        calls
            .chain([
                registrar,
                self.gsm_leg_deadline(),
                self.policy_deadline(),
                self.collect_deadline(),
                self.call_waiting_deadline(),
            ])
            .chain([self.responses.poll_timeout()])
            .chain(regs)
            .chain(inbound)
            .chain(pending)
            .chain(self.keepalive_due.iter().copied())
            .flatten()
            .min()
    }

    /// Tells the core the network's local time `local` (and Unix time `unix`) at `now`;
    /// `None` when the device has no network time (F-6.10.9, F-6.10.14).
    pub fn set_local_time(
        &mut self,
        now: Instant,
        local: Option<time::PrimitiveDateTime>,
        unix: i64,
    ) {
        self.clock.set(now, local, unix);
    }

    /// Local time at `now`, when known.
    pub(crate) fn local_time(&self, now: Instant) -> Option<time::PrimitiveDateTime> {
        self.clock.local(now)
    }

    /// Unix seconds at `now` (0 without network time).
    pub(crate) fn unix_time(&self, now: Instant) -> i64 {
        self.clock.unix(now)
    }

    /// Reports whether a line's module is usable and registered.
    pub fn handle_line_status(&mut self, line: LineId, module_ready: bool, registered: bool) {
        if let Some(state) = self.lines.get_mut(line) {
            state.module_ready = module_ready;
            state.gsm_registered = registered;
        }
    }

    /// Reports who a line's module and SIM are (status pages; IMEI management).
    pub fn handle_line_identity(&mut self, line: LineId, identity: cellgate_hal::ModemIdentity) {
        if let Some(state) = self.lines.get_mut(line) {
            state.imei = Some(identity.imei.clone());
            state.identity = Some(identity);
        }
    }

    /// Reports the SIM's own number as the module knows it (`AT+CNUM`).
    pub fn handle_line_number(&mut self, line: LineId, number: Option<String>) {
        if let Some(state) = self.lines.get_mut(line) {
            state.own_number = number;
        }
    }

    /// Reports radio facts of a line (RSSI, operator, BCCH) for the status pages.
    pub fn handle_line_radio(&mut self, line: LineId, radio: crate::lines::RadioInfo) {
        if let Some(state) = self.lines.get_mut(line) {
            state.radio = radio;
        }
    }

    // ------------------------------------------------------------------ SIP input

    /// One datagram from `source`. Malformed input is logged and dropped, or answered
    /// `400` when enough of it parsed to address a response.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, datagram: &[u8]) {
        if datagram.iter().all(|b| b.is_ascii_whitespace()) {
            return; // RFC 5626 keep-alive
        }
        if datagram.first() == Some(&b'{') {
            // Not SIP: a group peer report (F-D.6).
            self.handle_group_report(now, source, datagram);
            self.after_line_changes(now);
            return;
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
        // Most datagrams (retransmissions, INFO, OPTIONS, registrations) change no line:
        // then nothing downstream of the lines needs a look.
        if self.lines_changed() {
            self.after_line_changes(now);
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
            Method::INVITE => match self.inbound_by_call_id(core.call_id.0.as_str()) {
                Some(id) => self.handle_inbound_reinvite(now, source, id, request, core),
                None => self.handle_invite(now, source, request, core),
            },
            Method::ACK => {
                if !self.inbound_reinvite_acked(&core) {
                    self.handle_ack(&core)
                }
            }
            Method::BYE => match self.inbound_by_call_id(core.call_id.0.as_str()) {
                Some(id) => self.bye_from_callee(now, source, &request, &core, id),
                None => self.bye_from_caller(now, source, &request, &core),
            },
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
                self.handle_register(now, source, &request, &core)
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

    fn handle_response(&mut self, now: Instant, response: Response) {
        let Ok(core) = CoreHeaders::decode(&response.headers) else {
            warn!("response without usable core headers dropped");
            return;
        };
        let code = response.code.into_u16();
        if let Some(branch) = core.branch() {
            if self.registration_response(now, branch, &response) {
                return;
            }
            if self.client_transaction_response(branch, code) {
                self.reap();
                return;
            }
            if self.gsm_to_voip_response(now, branch, &response) {
                self.reap();
                return;
            }
        }
        if code >= 200 {
            self.bye_answered(core.branch().unwrap_or_default(), code);
            self.reap();
        }
    }

    // ------------------------------------------------------------------ modem input

    /// An unsolicited event from the module of `line`.
    pub fn handle_modem_event(&mut self, now: Instant, line: LineId, event: ModemEvent) {
        match event {
            ModemEvent::CallAlerting { index } => self.gsm_alerting(now, line, index),
            ModemEvent::CallConnected { index } => self.gsm_connected(now, line, index),
            ModemEvent::CallReleased { cause, index } => {
                if !self.second_call_released(line, index) {
                    self.forget_second_call(line);
                    self.gsm_released(now, line, cause)
                }
            }
            ModemEvent::CallWaiting { index, caller } => {
                self.call_waiting(now, line, index, caller)
            }
            ModemEvent::DtmfReceived { digit } => self.dtmf_from_gsm(now, line, digit),
            ModemEvent::IncomingCall { caller, index } => {
                if let Some(index) = index {
                    self.ringing_index.insert(line, index);
                }
                self.incoming_gsm_call(now, line, caller);
                self.ringing_index.remove(&line);
            }
            ModemEvent::RegistrationChanged(reg) => {
                let registered = reg.state.is_registered();
                let mut back = false;
                if let Some(state) = self.lines.get_mut(line) {
                    back = registered && !state.gsm_registered;
                    state.gsm_registered = registered;
                }
                // A module loses its GPRS attach with the network: attach again.
                if back && self.line_policy(line).gprs == Some(true) && self.started {
                    self.modem(line, ModemCommand::SetGprs(true));
                }
            }
            ModemEvent::SimChanged(sim) => {
                // Waiting for PIN2 / PUK2 only guards SIM settings: the line still works.
                if let Some(state) = self.lines.get_mut(line) {
                    state.module_ready = sim.is_usable();
                }
                self.handle_line_sim(line, sim);
                if sim.is_usable() && self.started {
                    self.line_came_up(line);
                }
            }
            ModemEvent::ModuleRestarted => {
                self.gsm_released(now, line, ReleaseCause::TEMPORARY_FAILURE);
                self.line_went_down(line);
            }
            ModemEvent::ModuleLost { reason } => {
                warn!(%line, %reason, "module lost");
                self.gsm_released(now, line, ReleaseCause::NETWORK_OUT_OF_ORDER);
                if let Some(state) = self.lines.get_mut(line) {
                    state.module_ready = false;
                }
                self.line_went_down(line);
            }
            other => debug!(%line, event = ?other, "module event not handled yet"),
        }
        self.sync_line_registrations(now);
        self.after_line_changes(now);
    }

    /// The GSM leg on `line` is gone.
    fn gsm_released(&mut self, now: Instant, line: LineId, cause: ReleaseCause) {
        if self.inbound_collect_released(line) {
            return;
        }
        match self.inbound_on(line) {
            Some(id) => {
                self.inbound_gsm_released(now, id);
                self.reap();
            }
            None => self.outbound_gsm_released(now, line, cause),
        }
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
            (ModemCommand::Dial(number), Err(e)) => self.dial_failed(now, line, call, number, e),
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
            (
                ModemCommand::SetForwarding(_)
                | ModemCommand::WriteImei(_)
                | ModemCommand::SelectOperator(_)
                | ModemCommand::LockCell(_)
                | ModemCommand::SetPower(_)
                | ModemCommand::Reset
                | ModemCommand::ScanCells,
                Err(e),
            ) => warn!(%line, ?command, error = %e, "module management command failed"),
            (ModemCommand::EnterPin(_), Err(e)) => {
                warn!(%line, error = %e, "the SIM refused the configured PIN (F-6.10.6): not retried")
            }
            (ModemCommand::EnterPin(_), Ok(_)) => info!(%line, "SIM unlocked"),
            (
                ModemCommand::EnterPin2(_)
                | ModemCommand::ReadFixedDialing
                | ModemCommand::SetFixedDialing { .. },
                result,
            ) => self.handle_pin2_result(line, command, result),
            (
                ModemCommand::SetCallWaiting(_)
                | ModemCommand::HoldAndAccept
                | ModemCommand::ReleaseActiveAndAccept
                | ModemCommand::RejectWaiting,
                Err(e),
            ) => warn!(%line, ?command, error = %e, "call-waiting command failed"),
            (
                ModemCommand::SetCallWaiting(_)
                | ModemCommand::HoldAndAccept
                | ModemCommand::ReleaseActiveAndAccept
                | ModemCommand::RejectWaiting,
                Ok(_),
            ) => {}
            (ModemCommand::SetClir(_) | ModemCommand::SetGprs(_), Err(e)) => {
                warn!(%line, ?command, error = %e, "SIM setting not applied")
            }
            (ModemCommand::SetClir(_) | ModemCommand::SetGprs(_), Ok(_)) => {}
            (ModemCommand::WriteImei(imei), Ok(_)) => {
                info!(%line, %imei, "IMEI written");
                if let Some(state) = self.lines.get_mut(line) {
                    state.imei = Some(imei.clone());
                }
            }
            (ModemCommand::SetForwarding(setting), Ok(_)) => {
                if let Some(state) = self.lines.get_mut(line) {
                    state.forwarding.retain(|f| f.reason != setting.reason);
                    state.forwarding.push(setting.clone());
                }
            }
            (
                ModemCommand::SelectOperator(_)
                | ModemCommand::LockCell(_)
                | ModemCommand::SetPower(_)
                | ModemCommand::Reset
                | ModemCommand::ScanCells,
                Ok(_),
            ) => {}
            (ModemCommand::HangUp, result) => {
                if let Err(e) = result {
                    warn!(%line, error = %e, "hang-up failed");
                }
                let inbound = call.and_then(|id| self.inbound.get_mut(&id));
                if let Some(c) = inbound.filter(|c| !c.gsm_done) {
                    c.gsm_done = true;
                    let id = c.id;
                    self.lines.release(line);
                    self.account_inbound(now, id);
                }
                let outbound = call.and_then(|id| self.calls.get_mut(&id));
                if let Some(c) = outbound.filter(|c| !c.gsm_done) {
                    c.gsm_done = true;
                    let id = c.id;
                    self.account_outbound(now, id, None);
                    self.lines.release(line);
                }
            }
        }
        self.reap();
        self.after_line_changes(now);
    }

    // ------------------------------------------------------------------ time

    /// Drives retransmissions and timeouts due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.responses.expire(now);
        self.registration_timeouts(now);
        self.keepalive_timeouts(now);
        self.client_transaction_timeouts(now);
        self.inbound_timeouts(now);
        self.inbound_reinvite_timeouts(now);
        self.outbound_timeouts(now);
        self.collect_timeouts(now);
        self.call_waiting_timeouts(now);
        self.policy_timeouts(now);
        self.reap();
        self.after_line_changes(now);
    }

    // ------------------------------------------------------------------ helpers

    fn transmit(&mut self, to: SocketAddr, payload: Bytes) {
        self.output.push_back(Output::Transmit { to, payload });
    }

    /// Asks the shell to hang up the module of `line` for call `id`.
    fn hang_up(&mut self, line: LineId, id: CallRef) {
        if self.forget_second_call(line) {
            // The held or waiting second call goes too.
            self.modem(line, ModemCommand::RejectWaiting);
        }
        self.output.push_back(Output::Modem {
            line,
            call: Some(id),
            command: ModemCommand::HangUp,
        });
    }

    /// A fresh engine-wide call handle.
    fn next_call_ref(&mut self) -> CallRef {
        let id = CallRef(self.next_call);
        self.next_call += 1;
        id
    }

    /// Drops calls with nothing left to do and frees the lines of finished GSM -> SIP
    /// calls.
    fn reap(&mut self) {
        // A call answered for digit entry holds its line without a GSM leg to free it.
        let mut held: Vec<LineId> = Vec::new();
        self.calls.retain(|_, c| {
            if !c.finished() {
                return true;
            }
            if c.gsm.collect.is_some() {
                held.push(c.line);
            }
            false
        });
        for line in held {
            self.lines.release(line);
        }
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
}
