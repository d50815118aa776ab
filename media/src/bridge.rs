//! The hot path, sans-IO: RTP from the SIP peer to 20 ms PCM frames for the module
//! ([`RtpToPcm`]), PCM frames from the module to RTP ([`PcmToRtp`]), and [`Bridge`], which
//! owns both and routes DTMF between them according to the modes.
//!
//! Per frame in steady state nothing is allocated: packets are written into a reused
//! buffer and handed to a callback, payloads live in the jitter buffer's pool, and the
//! decoded samples in a reused FIFO.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use cellgate_hal::{PcmFrame, FRAME_SAMPLES};

use crate::codec::{Codec, Decoder, Encoder};
use crate::dtmf::detect::{Detected, DtmfDetector};
use crate::dtmf::generate::DtmfPlayer;
use crate::dtmf::rfc4733::{EventReceiver, EventSender, ReceivedEvent};
use crate::dtmf::{route, Digit, DtmfAction, DtmfMode, DtmfSource, GsmDtmfPath};
use crate::gain::Gain;
use crate::jitter::{JitterBuffer, JitterMode, JitterStats, Playout};
use crate::prompt::Prompt;
use crate::rtp::{self, ReceiveStats, RtpError, RtpSendState};
use crate::silence::{cn_payload, level_dbov, parse_cn, ComfortNoise, Vad};
use crate::tones::{TonePlayer, ToneSpec};

/// Everything a call's media needs to know, from configuration and SDP.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// The negotiated voice codec.
    pub codec: Codec,
    /// Its payload type in this call (the offerer's number).
    pub payload_type: u8,
    /// `telephone-event` payload type, if negotiated.
    pub telephone_event_pt: Option<u8>,
    /// `CN` payload type, if negotiated.
    pub comfort_noise_pt: Option<u8>,
    /// Packetisation period in ms (F-6.5.2; multiple of 10).
    pub ptime_ms: u32,
    /// Jitter-buffer mode (F-6.5.4 to F-6.5.6).
    pub jitter: JitterMode,
    /// Silence suppression on the send side (F-6.5.3).
    pub vad: bool,
    /// Gain on PCM from the module (Appendix E "input gain").
    pub input_gain: Gain,
    /// Gain on PCM to the module (Appendix E "output gain").
    pub output_gain: Gain,
    /// Hang up after this long without RTP (F-6.5.12); `None` = never.
    pub rtp_timeout: Option<Duration>,
    /// DTMF on the SIP side.
    pub dtmf_mode: DtmfMode,
    /// DTMF on the module side.
    pub gsm_dtmf: GsmDtmfPath,
    /// Our SSRC.
    pub ssrc: u32,
    /// First sequence number.
    pub initial_sequence: u16,
    /// First timestamp.
    pub initial_timestamp: u32,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            codec: Codec::Pcma,
            payload_type: 8,
            telephone_event_pt: Some(101),
            comfort_noise_pt: None,
            ptime_ms: 20,
            jitter: JitterMode::default(),
            vad: false,
            input_gain: Gain::unity(),
            output_gain: Gain::unity(),
            rtp_timeout: Some(Duration::from_secs(30)),
            dtmf_mode: DtmfMode::Rfc4733,
            gsm_dtmf: GsmDtmfPath::AtCommand,
            ssrc: 0x1234_5678,
            initial_sequence: 1,
            initial_timestamp: 0,
        }
    }
}

/// Audio laid over one direction instead of the call's audio (tones, prompts).
#[derive(Debug, Clone)]
pub enum Overlay {
    /// A call-progress tone.
    Tone(TonePlayer),
    /// A voice prompt, optionally looped.
    Prompt {
        /// The prompt.
        prompt: Prompt,
        /// Next frame.
        position: usize,
        /// Start again at the end.
        looped: bool,
    },
}

impl Overlay {
    /// A tone overlay.
    pub fn tone(spec: &ToneSpec) -> Self {
        Overlay::Tone(TonePlayer::new(spec))
    }

    /// A prompt overlay.
    pub fn prompt(prompt: Prompt, looped: bool) -> Self {
        Overlay::Prompt {
            prompt,
            position: 0,
            looped,
        }
    }

    /// Writes the next frame; false once finished.
    fn fill(&mut self, out: &mut PcmFrame) -> bool {
        match self {
            Overlay::Tone(t) => {
                let alive = !t.finished();
                t.fill(out);
                alive
            }
            Overlay::Prompt {
                prompt,
                position,
                looped,
            } => {
                let frames = prompt.frames();
                if *position >= frames.len() {
                    if *looped && !frames.is_empty() {
                        *position = 0;
                    } else {
                        return false;
                    }
                }
                out.copy_from_slice(&frames[*position]);
                *position += 1;
                true
            }
        }
    }
}

/// What the bridge tells its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeEvent {
    /// A DTMF action only the engine can carry out: `SendAtVts` or `SendSipInfo`.
    Dtmf(DtmfAction),
    /// A digit was received (for logs and CDRs), whatever the action.
    DtmfReceived {
        /// Where it came from.
        source: DtmfSource,
        /// The digit.
        digit: Digit,
        /// Its duration in ms.
        duration_ms: u32,
    },
    /// No RTP for the configured time (F-6.5.12): the engine should hang up.
    RtpTimeout {
        /// How long it has been silent.
        silent_for: Duration,
    },
    /// The peer's SSRC changed (the jitter buffer restarted).
    SsrcChanged {
        /// The new SSRC.
        ssrc: u32,
    },
}

/// Receive direction: RTP -> jitter buffer -> decode -> gain -> 20 ms frames.
#[derive(Debug)]
pub struct RtpToPcm {
    payload_type: u8,
    te_pt: Option<u8>,
    cn_pt: Option<u8>,
    codec: Codec,
    jitter: JitterBuffer,
    decoder: Decoder,
    stats: ReceiveStats,
    fifo: Vec<i16>,
    cn: ComfortNoise,
    heard_audio: bool,
    events_rx: EventReceiver,
    detector: Option<DtmfDetector>,
    player: DtmfPlayer,
    overlay: Option<Overlay>,
    gain: Gain,
    started: Instant,
    last_rx: Option<Instant>,
    timeout: Option<Duration>,
    timed_out: bool,
    digits: VecDeque<(DtmfSource, Digit, u32)>,
    other: VecDeque<BridgeEvent>,
    ignored: u64,
}

/// Default comfort-noise level when the peer stops sending without a CN packet (-dBov).
const LOCAL_CN_LEVEL: u8 = 70;

impl RtpToPcm {
    /// The receive direction of a call starting at `now`.
    pub fn new(cfg: &BridgeConfig, now: Instant) -> Self {
        let detect = cfg.dtmf_mode == DtmfMode::InBand && cfg.gsm_dtmf == GsmDtmfPath::AtCommand;
        RtpToPcm {
            payload_type: cfg.payload_type,
            te_pt: cfg.telephone_event_pt,
            cn_pt: cfg.comfort_noise_pt,
            codec: cfg.codec,
            jitter: JitterBuffer::new(cfg.jitter, FRAME_SAMPLES as u32),
            decoder: cfg.codec.decoder(),
            stats: ReceiveStats::new(cfg.codec.clock_rate()),
            fifo: Vec::with_capacity(4 * FRAME_SAMPLES + 960),
            cn: ComfortNoise::new(cfg.ssrc ^ 0x5EED, LOCAL_CN_LEVEL),
            heard_audio: false,
            events_rx: EventReceiver::new(),
            detector: detect.then(DtmfDetector::new),
            player: DtmfPlayer::default(),
            overlay: None,
            gain: cfg.output_gain,
            started: now,
            last_rx: None,
            timeout: cfg.rtp_timeout,
            timed_out: false,
            digits: VecDeque::new(),
            other: VecDeque::new(),
            ignored: 0,
        }
    }

    /// Takes one datagram from the RTP socket.
    pub fn push_datagram(&mut self, datagram: &[u8], now: Instant) -> Result<(), RtpError> {
        let (h, payload) = rtp::parse(datagram)?;
        if self.stats.ssrc().is_some_and(|s| s != h.ssrc) {
            self.jitter.reset();
            self.other
                .push_back(BridgeEvent::SsrcChanged { ssrc: h.ssrc });
        }
        self.stats.on_packet(&h, now);
        self.last_rx = Some(now);
        self.timed_out = false;
        if Some(h.payload_type) == self.te_pt {
            let digits = &mut self.digits;
            self.events_rx.on_packet(h.timestamp, payload, |e| {
                if let ReceivedEvent::Ended(d, ms) = e {
                    digits.push_back((DtmfSource::SipRfc4733, d, ms));
                }
            });
        } else if Some(h.payload_type) == self.cn_pt {
            if let Some(level) = parse_cn(payload) {
                self.cn.set_level(level);
            }
        } else if h.payload_type == self.payload_type {
            let samples = self.codec.samples_in(payload.len()) as u32;
            self.jitter
                .push(h.timestamp, h.marker, h.payload_type, payload, samples, now);
        } else {
            self.ignored += 1;
        }
        Ok(())
    }

    /// Produces the next 20 ms frame for the module at `now` (call every 20 ms).
    pub fn tick(&mut self, now: Instant, out: &mut PcmFrame) {
        while self.fifo.len() < FRAME_SAMPLES {
            let before = self.fifo.len();
            match self.jitter.pop(now) {
                Playout::Frame { payload, .. } => {
                    if self.decoder.decode_into(payload, &mut self.fifo).is_err() {
                        self.decoder.conceal_into(FRAME_SAMPLES, &mut self.fifo);
                    }
                    self.heard_audio = true;
                }
                Playout::Lost { samples } => {
                    self.decoder.conceal_into(samples as usize, &mut self.fifo);
                }
                Playout::Silence { samples } => {
                    let n = (samples as usize).max(1);
                    let start = self.fifo.len();
                    self.fifo.resize(start + n, 0);
                    if self.heard_audio {
                        self.cn.fill(&mut self.fifo[start..]);
                    }
                }
            }
            if self.fifo.len() == before {
                // A zero-length frame: never loop for ever.
                self.fifo.resize(before + FRAME_SAMPLES, 0);
            }
        }
        out.copy_from_slice(&self.fifo[..FRAME_SAMPLES]);
        self.fifo.copy_within(FRAME_SAMPLES.., 0);
        self.fifo.truncate(self.fifo.len() - FRAME_SAMPLES);

        if let Some(det) = self.detector.as_mut() {
            let digits = &mut self.digits;
            det.process(out, |e| {
                if let Detected::Ended(d, ms) = e {
                    digits.push_back((DtmfSource::SipInBand, d, ms));
                }
            });
        }
        self.gain.apply(out);
        self.player.fill(out);
        if let Some(o) = self.overlay.as_mut() {
            if !o.fill(out) {
                self.overlay = None;
            }
        }

        if let Some(limit) = self.timeout {
            let since = now.saturating_duration_since(self.last_rx.unwrap_or(self.started));
            if since >= limit && !self.timed_out {
                self.timed_out = true;
                self.other
                    .push_back(BridgeEvent::RtpTimeout { silent_for: since });
            }
        }
    }

    /// Plays `digit` in-band to the module.
    pub fn play_dtmf(&mut self, digit: Digit, duration_ms: u32) {
        self.player.push(digit, duration_ms);
    }

    /// Lays a tone or prompt over the audio to the module (`None` stops it).
    pub fn set_overlay(&mut self, overlay: Option<Overlay>) {
        self.overlay = overlay;
    }

    /// Receive statistics (for RTCP).
    pub fn stats_mut(&mut self) -> &mut ReceiveStats {
        &mut self.stats
    }

    /// Jitter-buffer counters.
    pub fn jitter_stats(&self) -> JitterStats {
        self.jitter.stats()
    }

    /// The jitter buffer (target delay, measured jitter).
    pub fn jitter(&self) -> &JitterBuffer {
        &self.jitter
    }

    /// Packets with a payload type we did not negotiate.
    pub fn ignored_packets(&self) -> u64 {
        self.ignored
    }
}

/// Send direction: 20 ms frames -> gain -> DTMF/tones -> VAD -> encode -> RTP packets.
#[derive(Debug)]
pub struct PcmToRtp {
    payload_type: u8,
    te_pt: Option<u8>,
    cn_pt: Option<u8>,
    ptime_samples: usize,
    encoder: Encoder,
    send: RtpSendState,
    vad: Option<Vad>,
    gain: Gain,
    pending: Vec<i16>,
    payload: Vec<u8>,
    packet: Vec<u8>,
    in_talkspurt: bool,
    event: Option<EventSender>,
    event_queue: VecDeque<(Digit, u32)>,
    player: DtmfPlayer,
    overlay: Option<Overlay>,
    detector: Option<DtmfDetector>,
    digits: VecDeque<(DtmfSource, Digit, u32)>,
    frame: PcmFrame,
}

impl PcmToRtp {
    /// The send direction of a call.
    pub fn new(cfg: &BridgeConfig) -> Self {
        let ptime = crate::sdp::effective_ptime_ms(cfg.ptime_ms, cfg.codec);
        let ptime_samples = (ptime * 8) as usize;
        let detect = cfg.gsm_dtmf == GsmDtmfPath::InBand && cfg.dtmf_mode != DtmfMode::InBand;
        PcmToRtp {
            payload_type: cfg.payload_type,
            te_pt: cfg.telephone_event_pt,
            cn_pt: cfg.comfort_noise_pt,
            ptime_samples,
            encoder: cfg.codec.encoder(),
            send: RtpSendState::new(cfg.ssrc, cfg.initial_sequence, cfg.initial_timestamp),
            vad: cfg.vad.then(Vad::default),
            gain: cfg.input_gain,
            pending: Vec::with_capacity(ptime_samples + FRAME_SAMPLES),
            payload: Vec::with_capacity(ptime_samples + 16),
            packet: Vec::with_capacity(ptime_samples + 64),
            in_talkspurt: false,
            event: None,
            event_queue: VecDeque::new(),
            player: DtmfPlayer::default(),
            overlay: None,
            detector: detect.then(DtmfDetector::new),
            digits: VecDeque::new(),
            frame: [0; FRAME_SAMPLES],
        }
    }

    /// Takes one frame from the module; `send` gets every RTP packet to send (zero, one or
    /// more depending on ptime, VAD and DTMF).
    pub fn push_frame(&mut self, frame: &PcmFrame, mut send: impl FnMut(&[u8])) {
        self.frame = *frame;
        self.gain.apply(&mut self.frame);
        if let Some(det) = self.detector.as_mut() {
            let digits = &mut self.digits;
            det.process(&self.frame, |e| {
                if let Detected::Ended(d, ms) = e {
                    digits.push_back((DtmfSource::GsmInBand, d, ms));
                }
            });
        }
        self.player.fill(&mut self.frame);
        if let Some(o) = self.overlay.as_mut() {
            if !o.fill(&mut self.frame) {
                self.overlay = None;
            }
        }
        self.pending.extend_from_slice(&self.frame);
        while self.pending.len() >= self.ptime_samples {
            self.packetise(&mut send);
            self.pending.copy_within(self.ptime_samples.., 0);
            self.pending
                .truncate(self.pending.len() - self.ptime_samples);
        }
    }

    fn packetise(&mut self, send: &mut impl FnMut(&[u8])) {
        let n = self.ptime_samples;
        let ts = self.send.timestamp;
        if self.event.is_none() {
            if let (Some((d, ms)), Some(_)) = (self.event_queue.front().copied(), self.te_pt) {
                self.event_queue.pop_front();
                self.event = Some(EventSender::new(d, ms, ts, n as u16));
            }
        }
        if let (Some(ev), Some(te_pt)) = (self.event.as_mut(), self.te_pt) {
            if let Some(p) = ev.next_packet() {
                self.packet.clear();
                self.send
                    .write_packet(&mut self.packet, te_pt, p.marker, p.timestamp, &p.payload);
                send(&self.packet);
            }
            if ev.finished() {
                self.event = None;
                self.in_talkspurt = false;
            }
            self.send.advance(n as u32);
            return;
        }
        let chunk = &self.pending[..n];
        let speech = self.vad.as_mut().is_none_or(|v| v.is_speech(chunk));
        if !speech {
            if self.in_talkspurt {
                self.in_talkspurt = false;
                if let Some(cn_pt) = self.cn_pt {
                    let level = cn_payload(level_dbov(chunk));
                    self.packet.clear();
                    self.send
                        .write_packet(&mut self.packet, cn_pt, false, ts, &level);
                    send(&self.packet);
                }
            }
            self.send.advance(n as u32);
            return;
        }
        self.payload.clear();
        self.encoder.encode_into(chunk, &mut self.payload);
        let marker = !self.in_talkspurt;
        self.in_talkspurt = true;
        self.packet.clear();
        self.send.write_packet(
            &mut self.packet,
            self.payload_type,
            marker,
            ts,
            &self.payload,
        );
        send(&self.packet);
        self.send.advance(n as u32);
    }

    /// Sends `digit` as RFC 4733 events (queued behind a press in progress).
    pub fn send_event(&mut self, digit: Digit, duration_ms: u32) {
        self.event_queue.push_back((digit, duration_ms));
    }

    /// Plays `digit` in-band into the RTP audio.
    pub fn play_dtmf(&mut self, digit: Digit, duration_ms: u32) {
        self.player.push(digit, duration_ms);
    }

    /// Lays a tone or prompt over the audio to the SIP peer (`None` stops it).
    pub fn set_overlay(&mut self, overlay: Option<Overlay>) {
        self.overlay = overlay;
    }

    /// Send counters (for RTCP SR).
    pub fn send_state(&self) -> &RtpSendState {
        &self.send
    }
}

/// Both directions of one call, with DTMF routed between them.
#[derive(Debug)]
pub struct Bridge {
    /// SIP -> module.
    pub rx: RtpToPcm,
    /// Module -> SIP.
    pub tx: PcmToRtp,
    dtmf_mode: DtmfMode,
    gsm_dtmf: GsmDtmfPath,
    events: VecDeque<BridgeEvent>,
}

impl Bridge {
    /// A bridge for a call starting at `now`.
    pub fn new(cfg: &BridgeConfig, now: Instant) -> Self {
        Bridge {
            rx: RtpToPcm::new(cfg, now),
            tx: PcmToRtp::new(cfg),
            dtmf_mode: cfg.dtmf_mode,
            gsm_dtmf: cfg.gsm_dtmf,
            events: VecDeque::new(),
        }
    }

    /// A datagram from the RTP socket.
    pub fn on_rtp(&mut self, datagram: &[u8], now: Instant) -> Result<(), RtpError> {
        let r = self.rx.push_datagram(datagram, now);
        self.route_pending();
        r
    }

    /// The 20 ms playout tick: the frame for the module.
    pub fn tick(&mut self, now: Instant, out: &mut PcmFrame) {
        self.rx.tick(now, out);
        self.route_pending();
    }

    /// A frame from the module; `send` gets the RTP packets.
    pub fn on_pcm(&mut self, frame: &PcmFrame, send: impl FnMut(&[u8])) {
        self.tx.push_frame(frame, send);
        self.route_pending();
    }

    /// A digit the engine got in a SIP INFO.
    pub fn dtmf_from_sip_info(&mut self, digit: Digit, duration_ms: u32) {
        self.handle(DtmfSource::SipInfo, digit, duration_ms);
    }

    /// A digit the module reported (`+QTONEDET`).
    pub fn dtmf_from_module(&mut self, digit: Digit, duration_ms: u32) {
        self.handle(DtmfSource::GsmUrc, digit, duration_ms);
    }

    /// The next event for the owner.
    pub fn poll_event(&mut self) -> Option<BridgeEvent> {
        self.route_pending();
        self.events.pop_front()
    }

    fn route_pending(&mut self) {
        while let Some(e) = self.rx.other.pop_front() {
            self.events.push_back(e);
        }
        while let Some((s, d, ms)) = self.rx.digits.pop_front() {
            self.handle(s, d, ms);
        }
        while let Some((s, d, ms)) = self.tx.digits.pop_front() {
            self.handle(s, d, ms);
        }
    }

    fn handle(&mut self, source: DtmfSource, digit: Digit, duration_ms: u32) {
        self.events.push_back(BridgeEvent::DtmfReceived {
            source,
            digit,
            duration_ms,
        });
        // RFC 4733 needs a negotiated payload type; without one fall back to in-band.
        let mode = match self.dtmf_mode {
            DtmfMode::Rfc4733 if self.tx.te_pt.is_none() => DtmfMode::InBand,
            m => m,
        };
        match route(source, digit, duration_ms, mode, self.gsm_dtmf) {
            Some(DtmfAction::PlayToGsm { digit, duration_ms }) => {
                self.rx.play_dtmf(digit, duration_ms)
            }
            Some(DtmfAction::PlayToSip { digit, duration_ms }) => {
                self.tx.play_dtmf(digit, duration_ms)
            }
            Some(DtmfAction::SendRfc4733 { digit, duration_ms }) => {
                self.tx.send_event(digit, duration_ms)
            }
            Some(a @ (DtmfAction::SendAtVts { .. } | DtmfAction::SendSipInfo { .. })) => {
                self.events.push_back(BridgeEvent::Dtmf(a))
            }
            None => {}
        }
    }
}
