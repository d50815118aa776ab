//! The tokio shell around [`Gateway`]: sockets, module tasks and timers.
//!
//! All protocol decisions live in the sans-IO core; this file only moves bytes and
//! events and sleeps until the core's next deadline (on tokio's clock, so a paused test
//! runtime drives it in virtual time).

use std::future::Future;
use std::io;
use std::sync::Arc;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use cellgate_hal::{AudioHal, DtmfDigit, HalError, LineId, ModemEvent, ModemHal, SimState};
use cellgate_media::bridge::{BridgeConfig, BridgeEvent};
use cellgate_media::dtmf::{Digit, DtmfAction, DtmfMode, GsmDtmfPath};
use cellgate_media::session::{MediaCommand, MediaSession, PortAllocator};
use cellgate_policy::store::CounterStore;
use tokio::sync::{broadcast, mpsc};
use tracing::{debug, info, warn};

use crate::call::CallRef;
use crate::gateway::{Gateway, GatewayConfig, MediaEvent, MediaParams, ModemCommand, Output};
use crate::management::{ManagementReceiver, ManagementRequest};
use crate::transport::SipTransport;

/// A module bound to a gateway line.
#[derive(Clone)]
pub struct LineModem {
    /// Line number.
    pub line: LineId,
    /// The module.
    pub modem: Arc<dyn ModemHal>,
}

enum Input {
    Event(LineId, ModemEvent),
    Cells(LineId, Vec<(u32, i16)>),
    Radio(LineId, crate::lines::RadioInfo),
    Result {
        line: LineId,
        call: Option<CallRef>,
        command: ModemCommand,
        result: Result<Option<u8>, HalError>,
    },
    Media(CallRef, MediaEvent),
}

/// Work for a line's command worker.
enum Job {
    /// A command of the core.
    Command(ModemCommand),
    /// An SMS to send (number, text).
    Sms(String, String),
    /// Read signal, operator and cell for the status pages.
    Radio,
}

/// How often a line's radio facts are read for the status pages (the first reading
/// comes one period after start).
const RADIO_POLL: std::time::Duration = std::time::Duration::from_secs(30);

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Runs the gateway without audio (signalling only) until `shutdown` completes or the
/// transport fails.
pub async fn run_gateway(
    config: GatewayConfig,
    transport: SipTransport,
    modems: Vec<LineModem>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    run_gateway_with_audio(config, transport, modems, None, shutdown).await
}

/// Runs the gateway until `shutdown` completes or the transport fails; with `audio`,
/// answered calls get a media session bridging the line's PCM to RTP.
pub async fn run_gateway_with_audio(
    config: GatewayConfig,
    transport: SipTransport,
    modems: Vec<LineModem>,
    audio: Option<Arc<dyn AudioHal>>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    run_gateway_with_store(config, transport, modems, audio, None, shutdown).await
}

/// Where the shell keeps counters and call records (§6.10: they survive restarts).
pub type SharedStore = Box<dyn CounterStore + Send>;

/// [`run_gateway_with_audio`] with a counter store: counters are loaded from it before
/// the start and every change and call record is written to it.
pub async fn run_gateway_with_store(
    config: GatewayConfig,
    transport: SipTransport,
    modems: Vec<LineModem>,
    audio: Option<Arc<dyn AudioHal>>,
    store: Option<SharedStore>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    run_gateway_managed(config, transport, modems, audio, store, None, shutdown).await
}

/// [`run_gateway_with_store`] that also answers the management plane's requests (status
/// snapshots and line actions, see [`crate::management`]) arriving on `management`.
pub async fn run_gateway_managed(
    config: GatewayConfig,
    mut transport: SipTransport,
    modems: Vec<LineModem>,
    audio: Option<Arc<dyn AudioHal>>,
    mut store: Option<SharedStore>,
    management: Option<ManagementReceiver>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut management = management;
    let utc_offset = config.routing.utc_offset;
    let start_time = config.routing.start_time;
    let rtp_ip = match config.public_addr.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let cname = format!("cellgate@{}", config.public_addr.ip());
    let tuning = config.media.clone();
    let mut sessions: HashMap<CallRef, (LineId, MediaSession)> = HashMap::new();
    let mut gateway = Gateway::new(config, modems.iter().map(|m| m.line));
    let (input_tx, mut inputs) = mpsc::unbounded_channel::<Input>();
    let mut workers = std::collections::HashMap::new();
    let mut ringing = Vec::new();
    for lm in &modems {
        // Subscribe before asking for the status, so no change falls between the two;
        // and know every line's status before the first SIP datagram is read.
        let events = lm.modem.subscribe();
        let (sim, registered) = line_status(lm.modem.as_ref()).await;
        let ready = sim.is_some_and(SimState::is_usable);
        debug!(line = %lm.line, ready, registered, "line status");
        gateway.handle_line_status(lm.line, ready, registered);
        if let Some(sim) = sim {
            gateway.handle_line_sim(lm.line, sim);
        }
        if let Ok(identity) = lm.modem.identity().await {
            gateway.handle_line_identity(lm.line, identity);
        }
        if let Ok(number) = lm.modem.own_number().await {
            gateway.handle_line_number(lm.line, number);
        }
        // A call that started ringing before we subscribed: its RING was announced
        // already and will not be again, so pick it up from the call list.
        if let Ok(calls) = lm.modem.calls().await {
            for call in calls
                .iter()
                .filter(|c| c.status == cellgate_hal::CallStatus::Incoming)
            {
                let caller = Some(call.number.clone()).filter(|n| !n.is_empty());
                ringing.push((lm.line, call.index, caller));
            }
        }
        if let Some(store) = store.as_ref() {
            match store.load(lm.line) {
                Ok(Some(counters)) => gateway.restore_counters(lm.line, counters),
                Ok(None) => {}
                Err(e) => {
                    warn!(line = %lm.line, error = %e, "stored counters unreadable: starting from zero")
                }
            }
        }
        workers.insert(lm.line, spawn_line(lm.clone(), events, input_tx.clone()));
    }
    // Kept alive so `inputs` never reports closed (a gateway with no lines would spin).
    let _inputs_open = input_tx.clone();
    let (local, unix) = match start_time {
        Some((local, unix)) => (Some(local), unix),
        None => wall_clock(utc_offset),
    };
    gateway.set_local_time(now(), local, unix);
    gateway.start(now());
    for (line, index, caller) in ringing {
        debug!(%line, index, "a call was ringing at start");
        gateway.handle_modem_event(
            now(),
            line,
            ModemEvent::IncomingCall {
                index: Some(index),
                caller,
            },
        );
    }
    tokio::pin!(shutdown);
    let mut buf = vec![0u8; 65_535];
    loop {
        while let Some(out) = gateway.poll_output() {
            match out {
                Output::Transmit { to, payload } => {
                    let kind = gateway.transport_for(to);
                    if let Err(e) = transport.send_on(kind, to, &payload).await {
                        warn!(%to, error = %e, "SIP send failed");
                    }
                }
                Output::Modem {
                    line,
                    call,
                    command,
                } => match workers.get(&line) {
                    Some(tx) => {
                        let _ = tx.send((call, Job::Command(command)));
                    }
                    None => warn!(%line, "command for a line without module"),
                },
                Output::Message {
                    source,
                    call_id,
                    body,
                    ..
                } => {
                    // The SMS layer (Appendix H) will take these; until then they are logged.
                    info!(%source, %call_id, bytes = body.len(), "SIP MESSAGE received");
                }
                Output::MessageOutcome { id, status } => {
                    debug!(id, ?status, "SIP MESSAGE delivered");
                }
                Output::Counters { line, counters } => {
                    if let Some(store) = store.as_mut() {
                        if let Err(e) = store.save(line, &counters) {
                            warn!(%line, error = %e, "saving counters failed");
                        }
                    }
                }
                Output::CallRecord(record) => {
                    info!(line = %record.line, direction = record.direction.as_str(), number = %record.number, answered = record.answered, talk = record.talk_seconds, "call record");
                    if let Some(store) = store.as_mut() {
                        if let Err(e) = store.append_record(&record) {
                            warn!(error = %e, "saving the call record failed");
                        }
                    }
                }
                Output::SendSms { line, number, text } => match workers.get(&line) {
                    Some(tx) => {
                        let _ = tx.send((None, Job::Sms(number, text)));
                    }
                    None => warn!(%line, "SMS for a line without module"),
                },
                Output::MediaTone { call, tone, to_sip } => {
                    if let Some((_, s)) = sessions.get(&call) {
                        let overlay = tone.and_then(|t| tone_overlay(&tuning, t));
                        let command = if to_sip {
                            MediaCommand::OverlayToSip(overlay)
                        } else {
                            MediaCommand::OverlayToGsm(overlay)
                        };
                        let _ = s.commands.try_send(command);
                    }
                }
                Output::MediaStart(params) => {
                    let Some(audio) = audio.as_ref() else {
                        debug!(call = params.call.0, "no audio HAL: call without media");
                        continue;
                    };
                    let call = params.call;
                    match start_media(audio.as_ref(), &params, &tuning, rtp_ip, &cname, &input_tx)
                        .await
                    {
                        Ok(session) => {
                            sessions.insert(call, (params.line, session));
                        }
                        Err(e) => warn!(call = call.0, error = %e, "media start failed"),
                    }
                }
                Output::MediaUpdate { call, remote, send } => {
                    if let Some((_, s)) = sessions.get(&call) {
                        if let Some(remote) = remote {
                            let _ = s.commands.try_send(MediaCommand::SetRemote(remote));
                        }
                        let _ = s.commands.try_send(MediaCommand::SetSending(send));
                    }
                    debug!(call = call.0, send, "media updated");
                }
                Output::MediaDtmf { call, digit } => {
                    if let (Some((_, s)), Some(d)) = (sessions.get(&call), Digit::from_char(digit))
                    {
                        let _ = s.commands.try_send(MediaCommand::DtmfFromModule(d, 100));
                    }
                }
                Output::MediaStop { call } => {
                    if let Some((line, session)) = sessions.remove(&call) {
                        session.stop().await;
                        if let Some(audio) = audio.as_ref() {
                            if let Err(e) = audio.close(line).await {
                                debug!(%line, error = %e, "closing audio failed");
                            }
                        }
                    }
                }
            }
        }
        let deadline = gateway.poll_timeout();
        tokio::select! {
            biased;
            () = &mut shutdown => {
                for (_, (_, session)) in sessions.drain() {
                    session.stop().await;
                }
                return Ok(());
            }
            input = inputs.recv() => match input {
                Some(Input::Event(line, ev)) => gateway.handle_modem_event(now(), line, ev),
                Some(Input::Result { line, call, command, result }) => {
                    gateway.handle_command_result(now(), line, call, &command, result)
                }
                Some(Input::Media(call, event)) => gateway.handle_media_event(now(), call, event),
                Some(Input::Cells(line, cells)) => gateway.handle_cell_scan(now(), line, &cells),
                Some(Input::Radio(line, radio)) => gateway.handle_line_radio(line, radio),
                None => {}
            },
            request = next_request(&mut management) => match request {
                Some(request) => gateway.handle_management(now(), request),
                // The management plane went away: the gateway goes on without it.
                None => management = None,
            },
            received = transport.recv(&mut buf) => match received {
                Ok((from, bytes)) => gateway.handle_datagram(now(), from, &bytes),
                // An ICMP error for an earlier datagram (a peer that went away) must not
                // stop the gateway.
                Err(e) if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
                ) => debug!(error = %e, "SIP socket reported an unreachable peer"),
                Err(e) => return Err(e),
            },
            () = sleep_until(deadline) => gateway.handle_timeout(now()),
        }
    }
}

/// Opens the line's audio, binds the call's RTP/RTCP ports and starts its session; the
/// session's events are forwarded to the core.
async fn start_media(
    audio: &dyn AudioHal,
    params: &MediaParams,
    tuning: &crate::gateway::MediaConfig,
    ip: IpAddr,
    cname: &str,
    inputs: &mpsc::UnboundedSender<Input>,
) -> io::Result<MediaSession> {
    let port = params.local_port;
    let sockets = PortAllocator::new(port..=port.saturating_add(1))
        .bind(ip)
        .await?;
    let channel = audio
        .open(params.line)
        .await
        .map_err(|e| io::Error::other(e.to_string()))?;
    let cfg = BridgeConfig {
        codec: params.codec,
        payload_type: params.payload_type,
        telephone_event_pt: params.telephone_event,
        comfort_noise_pt: None,
        ptime_ms: params.ptime,
        rtp_timeout: params.rtp_timeout,
        dtmf_mode: params.dtmf_mode,
        gsm_dtmf: bridge_gsm_dtmf(params),
        ssrc: 0x6365_6c00 ^ (params.call.0 as u32).wrapping_mul(0x9e37_79b9),
        jitter: tuning.jitter,
        vad: tuning.vad,
        input_gain: cellgate_media::gain::Gain::from_db(tuning.input_gain_db),
        output_gain: cellgate_media::gain::Gain::from_db(tuning.output_gain_db),
        ..BridgeConfig::default()
    };
    info!(call = params.call.0, line = %params.line, port, remote = %params.remote, codec = %params.codec, "media started");
    let mut session = MediaSession::start(cfg, sockets, params.remote, channel, cname.to_owned());
    let (_closed, empty) = mpsc::channel(1);
    let mut events = std::mem::replace(&mut session.events, empty);
    let call = params.call;
    let inputs = inputs.clone();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let event = match event {
                BridgeEvent::Dtmf(DtmfAction::SendAtVts { digit, .. }) => {
                    MediaEvent::DtmfToModule(digit.to_char())
                }
                BridgeEvent::Dtmf(DtmfAction::SendSipInfo { digit, .. }) => {
                    MediaEvent::DtmfToSip(digit.to_char())
                }
                BridgeEvent::RtpTimeout { .. } => MediaEvent::RtpTimeout,
                BridgeEvent::DtmfReceived { source, digit, .. } => {
                    if source.from_sip() {
                        MediaEvent::DigitFromSip(digit.to_char())
                    } else {
                        MediaEvent::DigitFromGsm(digit.to_char())
                    }
                }
                other => {
                    debug!(call = call.0, event = ?other, "media event");
                    continue;
                }
            };
            if inputs.send(Input::Media(call, event)).is_err() {
                break;
            }
        }
    });
    Ok(session)
}

/// The module-side DTMF path of the call's bridge. In SIP INFO mode the core sends the
/// SIP peer's digits as `AT+VTS` itself, and the bridge detects the module's tones in
/// the PCM (so digits reach the peer as INFO without `+QTONEDET`, which the AT backend
/// does not enable).
fn bridge_gsm_dtmf(params: &MediaParams) -> GsmDtmfPath {
    match params.dtmf_mode {
        DtmfMode::SipInfo => GsmDtmfPath::InBand,
        _ => params.gsm_dtmf,
    }
}

/// The next management request, or never when there is no management plane.
async fn next_request(management: &mut Option<ManagementReceiver>) -> Option<ManagementRequest> {
    match management {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

async fn line_status(modem: &dyn ModemHal) -> (Option<SimState>, bool) {
    let ready = modem.sim_state().await.ok();
    let registered = modem
        .registration()
        .await
        .map(|r| r.state.is_registered())
        .unwrap_or(false);
    (ready, registered)
}

/// Spawns the tasks of one line: event forwarding, and a command worker that runs the
/// line's commands strictly in order (a hang-up never overtakes its dial).
fn spawn_line(
    lm: LineModem,
    mut events: broadcast::Receiver<ModemEvent>,
    inputs: mpsc::UnboundedSender<Input>,
) -> mpsc::UnboundedSender<(Option<CallRef>, Job)> {
    let (job_tx, mut jobs) = mpsc::unbounded_channel::<(Option<CallRef>, Job)>();
    let line = lm.line;
    let event_inputs = inputs.clone();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(ev) => {
                    if event_inputs.send(Input::Event(line, ev)).is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    warn!(%line, missed = n, "module events lagged")
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    let modem = lm.modem;
    // Weak: the poller must not keep the worker alive once the gateway drops the line.
    let poll_tx = job_tx.downgrade();
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + RADIO_POLL;
        let mut ticks = tokio::time::interval_at(start, RADIO_POLL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(tx) = poll_tx.upgrade() else {
                break;
            };
            if tx.send((None, Job::Radio)).is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        while let Some((call, job)) = jobs.recv().await {
            let command = match job {
                Job::Command(c) => c,
                Job::Sms(number, text) => {
                    send_text_sms(modem.as_ref(), line, &number, &text).await;
                    continue;
                }
                Job::Radio => {
                    let radio = read_radio(modem.as_ref()).await;
                    if inputs.send(Input::Radio(line, radio)).is_err() {
                        break;
                    }
                    continue;
                }
            };
            if command == ModemCommand::ScanCells {
                match modem.cell_info().await {
                    Ok(cells) => {
                        let cells = cells
                            .iter()
                            .map(|c| (c.arfcn, c.level_dbm.unwrap_or(-120)))
                            .collect();
                        if inputs.send(Input::Cells(line, cells)).is_err() {
                            break;
                        }
                    }
                    Err(e) => warn!(%line, error = %e, "cell scan failed"),
                }
                continue;
            }
            let result = match &command {
                ModemCommand::Dial(number) => modem.dial(number).await.map(Some),
                ModemCommand::HangUp => modem.hang_up().await.map(|()| None),
                ModemCommand::Answer => modem.answer().await.map(|()| None),
                ModemCommand::SendDtmf(digit) => match DtmfDigit::new(*digit) {
                    Some(d) => modem.send_dtmf(d).await.map(|()| None),
                    None => Err(HalError::InvalidArgument(format!("DTMF digit {digit:?}"))),
                },
                ModemCommand::SetForwarding(setting) => {
                    modem.set_call_forwarding(setting).await.map(|()| None)
                }
                ModemCommand::WriteImei(imei) => modem.write_imei(imei).await.map(|()| None),
                ModemCommand::SelectOperator(sel) => {
                    modem.select_operator(sel.clone()).await.map(|()| None)
                }
                ModemCommand::LockCell(arfcn) => modem.lock_cell(*arfcn).await.map(|()| None),
                ModemCommand::SetPower(mode) => modem.set_power(*mode).await.map(|()| None),
                ModemCommand::Reset => modem.reset().await.map(|()| None),
                ModemCommand::ScanCells => Ok(None),
                ModemCommand::EnterPin(pin) => modem.enter_pin(pin, None).await.map(|()| None),
                ModemCommand::EnterPin2(pin2) => modem.enter_pin2(pin2).await.map(|()| None),
                ModemCommand::ReadFixedDialing => {
                    modem.fixed_dialing().await.map(|on| Some(u8::from(on)))
                }
                ModemCommand::SetFixedDialing { enabled, pin2 } => {
                    modem.set_fixed_dialing(*enabled, pin2).await.map(|()| None)
                }
                ModemCommand::SetCallWaiting(on) => {
                    modem.set_call_waiting(*on).await.map(|()| None)
                }
                ModemCommand::HoldAndAccept => modem.hold_and_accept().await.map(|()| None),
                ModemCommand::ReleaseActiveAndAccept => {
                    modem.release_active_and_accept().await.map(|()| None)
                }
                ModemCommand::RejectWaiting => modem.reject_waiting().await.map(|()| None),
                ModemCommand::SetClir(on) => modem.set_clir(*on).await.map(|()| None),
                ModemCommand::SetGprs(on) => modem.set_gprs_attached(*on).await.map(|()| None),
            };
            if inputs
                .send(Input::Result {
                    line,
                    call,
                    command,
                    result,
                })
                .is_err()
            {
                break;
            }
        }
    });
    job_tx
}

/// F-6.4.10: asks the STUN server `server` for the public address of `transport`'s
/// socket (before the gateway starts serving on it). Other datagrams that arrive
/// meanwhile are dropped. Bounded by the client's retransmission schedule (`rto` initial).
pub async fn stun_discover(
    transport: &mut SipTransport,
    server: std::net::SocketAddr,
    tid: [u8; 12],
    rto: std::time::Duration,
) -> io::Result<std::net::SocketAddr> {
    use crate::stun::{StunClient, StunPoll};
    let mut client = StunClient::new(server, tid, rto);
    let mut buf = vec![0u8; 2048];
    loop {
        match client.poll(now()) {
            StunPoll::Transmit(to, bytes) => {
                transport.send(to, &bytes::Bytes::from(bytes)).await?;
            }
            StunPoll::Mapped(addr) => {
                info!(%server, public = %addr, "STUN: public signalling address");
                return Ok(addr);
            }
            StunPoll::Failed(reason) => {
                return Err(io::Error::new(io::ErrorKind::TimedOut, reason));
            }
            StunPoll::Wait(at) => {
                tokio::select! {
                    received = transport.recv(&mut buf) => match received {
                        Ok((from, bytes)) => {
                            if !client.handle_datagram(from, &bytes) {
                                debug!(%from, "datagram dropped during STUN discovery");
                            }
                        }
                        Err(e) if matches!(
                            e.kind(),
                            io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
                        ) => {}
                        Err(e) => return Err(e),
                    },
                    () = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
                }
            }
        }
    }
}

/// The wall clock as the core's network time: local time in the configured zone and
/// Unix seconds (no network time before 2020, e.g. a board without RTC after boot).
fn wall_clock(offset: time::UtcOffset) -> (Option<time::PrimitiveDateTime>, i64) {
    let now = time::OffsetDateTime::now_utc();
    let unix = now.unix_timestamp();
    let plausible = now.year() >= 2020;
    let local = now.to_offset(offset);
    (
        plausible.then(|| time::PrimitiveDateTime::new(local.date(), local.time())),
        unix,
    )
}

/// The media overlay of a call-progress tone in the configured standard.
fn tone_overlay(
    tuning: &crate::gateway::MediaConfig,
    tone: crate::gateway::CallTone,
) -> Option<cellgate_media::bridge::Overlay> {
    use cellgate_media::tones::{preset, ToneKind, TonePlayer, ToneSpec};
    let (kind, key) = match tone {
        crate::gateway::CallTone::Dial => (ToneKind::Dial, "dial"),
        crate::gateway::CallTone::Ringback => (ToneKind::Ringback, "ringback"),
        crate::gateway::CallTone::Busy => (ToneKind::Busy, "busy"),
        crate::gateway::CallTone::Waiting => (ToneKind::Prompt, "prompt"),
    };
    let spec = match tuning.custom_tones.get(key) {
        Some(spec) => spec.clone(),
        None => ToneSpec::parse(preset(&tuning.tone_standard, kind)?).ok()?,
    };
    Some(cellgate_media::bridge::Overlay::Tone(TonePlayer::new(
        &spec,
    )))
}

/// Sends `text` to `number` from a line (one or more SMS parts).
async fn send_text_sms(modem: &dyn ModemHal, line: LineId, number: &str, text: &str) {
    use cellgate_sms::{encode_submit, Address, Submit};
    let submit = Submit::new(Address::parse(number), text);
    match encode_submit(&submit, None) {
        Ok(pdu) => {
            let pdu = cellgate_hal::OutgoingPdu {
                pdu_hex: pdu.hex,
                tpdu_len: pdu.tpdu_len,
            };
            match modem.send_sms(&pdu).await {
                Ok(reference) => info!(%line, %number, reference, "SMS sent"),
                Err(e) => warn!(%line, %number, error = %e, "SMS not sent"),
            }
        }
        Err(e) => warn!(%line, %number, error = %e, "SMS not encodable"),
    }
}

/// Signal, operator and serving cell of a module, as far as it answers.
async fn read_radio(modem: &dyn ModemHal) -> crate::lines::RadioInfo {
    let rssi = modem.signal().await.ok().map(|q| q.rssi);
    let operator = modem.operator().await.ok().flatten().map(|o| o.name);
    let registration = modem.registration().await.ok();
    let bcch = match modem.cell_info().await {
        Ok(cells) => cells.first().map(|c| c.arfcn),
        Err(_) => None,
    };
    let gprs = modem.gprs_status().await.ok();
    crate::lines::RadioInfo {
        rssi,
        operator,
        bcch,
        lac: registration.as_ref().and_then(|r| r.lac),
        cell_id: registration.as_ref().and_then(|r| r.cell_id),
        gprs_registered: gprs.map(|g| g.registered),
        gprs_attached: gprs.map(|g| g.attached),
    }
}
