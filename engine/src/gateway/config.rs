//! Settings of the gateway core and the small choices they are made of (ringback, reply
//! path, caller id, inbound digest, forward targets, keep-alives).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use cellgate_hal::LineId;

use cellgate_media::dtmf::{DtmfMode, GsmDtmfPath};

use crate::cause::CauseMap;
use crate::lines::LineSelection;
use crate::sip::digest::DigestAlgorithm;
use crate::sip::register::RegistrationConfig;
use crate::sip::registrar::RegistrarConfig;
use crate::sip::sdp::{AudioCodec, DEFAULT_PREFERENCE};
use crate::sip::timers::SipTimers;
use crate::trust::InboundTrust;

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

/// How calls use the media plane (§6.5, F-6.4.13 to F-6.4.15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Codec preference order (F-6.5.13): the first of these the offer lists is chosen;
    /// our own offers list them in this order.
    pub codecs: Vec<AudioCodec>,
    /// DTMF on the SIP side (RFC 4733, SIP INFO or in-band).
    pub dtmf_mode: DtmfMode,
    /// DTMF on the module side in the RFC 4733 and in-band modes: tones in the PCM
    /// (default; `+QTONEDET` is then ignored as the bridge detects the tones) or
    /// `AT+VTS` / `+QTONEDET`. SIP INFO mode always uses `AT+VTS` / `+QTONEDET`.
    pub gsm_dtmf: GsmDtmfPath,
    /// Packetisation period in ms (F-6.5.2).
    pub ptime_ms: u32,
    /// F-6.5.12: hang up after this long without RTP; `None` = never.
    pub rtp_timeout: Option<Duration>,
    /// Jitter-buffer mode (F-6.5.4 to F-6.5.6).
    pub jitter: cellgate_media::jitter::JitterMode,
    /// Silence suppression with comfort noise on the send side (F-6.5.3).
    pub vad: bool,
    /// Appendix E input gain: PCM from the module, in dB.
    pub input_gain_db: i8,
    /// Appendix E output gain: PCM to the module, in dB.
    pub output_gain_db: i8,
    /// F-6.1.8: tone standard (a preset country code, e.g. `CN`, `US`, `UK`).
    pub tone_standard: String,
    /// Appendix C custom tones replacing the preset's (dial, ringback, busy, prompt).
    pub custom_tones: BTreeMap<String, cellgate_media::tones::ToneSpec>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        let bridge = cellgate_media::bridge::BridgeConfig::default();
        Self {
            codecs: DEFAULT_PREFERENCE.to_vec(),
            dtmf_mode: DtmfMode::Rfc4733,
            gsm_dtmf: GsmDtmfPath::InBand,
            ptime_ms: 20,
            rtp_timeout: None,
            jitter: bridge.jitter,
            vad: bridge.vad,
            input_gain_db: 0,
            output_gain_db: 0,
            tone_standard: "CN".into(),
            custom_tones: BTreeMap::new(),
        }
    }
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
    /// First RTP port of the range (F-6.5.1): each call takes the lowest free even port
    /// (RTCP on the next odd one) up to `rtp_port_max`.
    pub rtp_base_port: u16,
    /// Last port of the RTP range.
    pub rtp_port_max: u16,
    /// Codecs, DTMF mode, ptime and RTP timeout of calls.
    pub media: MediaConfig,
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
    /// Per-line settings of §6.6 to §6.15 (lines without an entry use the defaults).
    pub lines: BTreeMap<LineId, super::LinePolicy>,
    /// Gateway-wide routing: prefixes, call memory, run policy, schedules, group mode.
    pub routing: super::RoutingConfig,
    /// F-6.8.3 / F-6.8.10: where a plain extension forward number is sent (the
    /// registrar of the line's account or the trunk's Gateway1).
    pub extension_host: Option<SocketAddr>,
    /// F-5.2.0.1: the device's serial number on the status pages.
    pub serial: Option<String>,
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
            rtp_port_max: 32768,
            media: MediaConfig::default(),
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
            lines: BTreeMap::new(),
            routing: super::RoutingConfig::default(),
            extension_host: None,
            serial: None,
        }
    }
}
