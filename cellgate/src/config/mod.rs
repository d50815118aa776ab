//! The configuration file of `cellgate run` (real hardware).
//!
//! Every key is checked at load; an unknown key or a bad value stops start-up with a
//! message that names the key. Nothing here trusts anyone by default: with no
//! `trusted_sources`, the gateway accepts no call.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use cellgate_engine::gateway::{
    CidMode, ForwardTarget, InboundDigest, KeepAlive, ReplyPath, RingbackMode,
};
use cellgate_engine::sip::register::{AccountConfig, RegistrationConfig, ServerConfig};
use cellgate_engine::sip::registrar::RegistrarConfig;
use cellgate_engine::sip::SipTimers;
use cellgate_engine::trust::AddressPattern;
use cellgate_engine::{GatewayConfig, InboundTrust};
use cellgate_hal::LineId;
use serde::Deserialize;
use thiserror::Error;

mod policy;
#[cfg(test)]
mod policy_tests;
mod web;

use cellgate_goip::SmsServerConfig;
use cellgate_web::host_network::HostNetworkConfig;
pub use policy::{
    parse_timezone, BalanceReportSection, DefaultsSection, GroupSection, GsmSection,
    InboundSection, OutboundSection, PolicySettings, RoutingSection, RunPolicySection, SimSection,
    StorageSection, SystemSection,
};
pub use web::WebSection;

/// Why a configuration cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key, or a value of the wrong type (the message names the key
    /// and the line).
    #[error("{path}: {message}")]
    Invalid {
        /// File.
        path: PathBuf,
        /// What and where.
        message: String,
    },
}

/// `[sip]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipSection {
    /// Local address to bind, e.g. `0.0.0.0:5060`.
    pub listen: SocketAddr,
    /// F-6.3.19 (per_line mode): the one `[[sip.account]]` (of line 1) is copied to every
    /// other `[[line]]`, with its auth ID, phone number and display name counted up by
    /// the line number (`1001` on line 1 gives `1003` on line 3).
    #[serde(default)]
    pub auto_configure: bool,
    /// Address peers reach us at (Via, Contact, SDP). Defaults to `listen` when that is
    /// a concrete address.
    pub public_addr: Option<SocketAddr>,
    /// Source addresses allowed to place GSM calls. Empty: nobody (safe default).
    #[serde(default)]
    pub trusted_sources: Vec<IpAddr>,
    /// F-6.4.8: SIP status when no line is free.
    #[serde(default = "default_no_line_status")]
    pub no_line_status: u16,
    /// F-6.4.18: seconds before an unanswered call gets 408.
    #[serde(default = "default_no_answer_seconds")]
    pub no_answer_timeout_secs: u64,
    /// F-6.3.2: `single`, `per_line`, `per_group` or `trunk` (default `trunk` with no
    /// registration when no account is configured).
    #[serde(default)]
    pub mode: SipMode,
    /// Accounts: one for `single`/`trunk`, one per line or group otherwise.
    #[serde(default, rename = "account")]
    pub accounts: Vec<AccountSection>,
    /// F-6.4.9: `address` (default), `digest`, `both` or `none`.
    #[serde(default)]
    pub inbound_auth: InboundAuthMode,
    /// Realm of the digest challenge.
    #[serde(default = "default_realm")]
    pub auth_realm: String,
    /// Users allowed to place calls with digest (`[[sip.caller]]`).
    #[serde(default, rename = "caller")]
    pub callers: Vec<CallerSection>,
    /// F-6.3.23: trunk Gateway2/3 accept lists (`192.168.1.X` ranges allowed).
    #[serde(default)]
    pub trunk_accept: Vec<String>,
    /// F-6.4.5: `on_alerting` (default), `fake_then_colour`, `colour`, `fake`.
    #[serde(default)]
    pub ringback: RingbackSetting,
    /// F-6.4.7: `source` (default) or `via`.
    #[serde(default)]
    pub reply_path: ReplySetting,
    /// F-6.4.21 / F-6.4.22 / F-6.4.19 / F-6.4.20, milliseconds.
    #[serde(default)]
    pub timers: TimersSection,
    /// F-6.4.12: keep-alive period in seconds toward the registrars (0: off).
    #[serde(default)]
    pub keepalive_secs: u64,
    /// F-6.8.6 to F-6.8.8: `disabled`, `remote_party_id`, `from` (default).
    #[serde(default)]
    pub cid_mode: CidSetting,
    /// F-6.3.12: consecutive unanswered REGISTERs (or 503s) before failing over to the
    /// backup registrar (default 2).
    pub failover_after: Option<u32>,
    /// F-6.3.12: seconds between OPTIONS probes of the primary while on the backup
    /// (default 30).
    pub failback_probe_secs: Option<u64>,
    /// First retry delay in seconds after a failed registration, doubling up to 300
    /// (default 10).
    pub register_retry_secs: Option<u64>,
    /// F-6.4.6: the built-in registrar (`[sip.registrar]`); absent: off.
    pub registrar: Option<RegistrarSection>,
    /// F-6.4.1: `fixed` (default: the port of `listen`) or `random` (a free port chosen
    /// at start-up).
    #[serde(default)]
    pub local_port: LocalPortMode,
    /// F-6.4.10: STUN server (`host:port`, default port 3478) asked for the public
    /// address at start-up; it then replaces `public_addr`.
    pub stun_server: Option<String>,
    /// F-6.4.16: DSCP (0-63) of SIP packets, e.g. 24 (CS3) or 46 (EF); absent: unmarked.
    pub dscp: Option<u8>,
    /// Also accept SIP over TCP on the listen port (answers go back on the connection).
    #[serde(default)]
    pub tcp: bool,
    /// F-6.4.17: also accept SIP over TLS (`tls = { listen, cert, key }`); absent: off.
    pub tls: Option<TlsSection>,
}

/// `[sip] tls = { listen = "0.0.0.0:5061", cert = "cert.pem", key = "key.pem" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// Address of the TLS listener (port 0: a free port).
    pub listen: SocketAddr,
    /// PEM certificate chain, leaf first (relative paths: from the working directory).
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl TlsSection {
    /// Reads the certificate and key; the error names the key and the file.
    pub fn server_config(
        &self,
    ) -> Result<std::sync::Arc<cellgate_engine::tls::ServerConfig>, String> {
        use cellgate_engine::tls::{server_config, TlsSetupError};
        server_config(&self.cert, &self.key).map_err(|e| match e {
            TlsSetupError::Certificate { path, reason } => {
                format!("sip.tls.cert = {:?}: {reason}", path.display().to_string())
            }
            TlsSetupError::Key { path, reason } => {
                format!("sip.tls.key = {:?}: {reason}", path.display().to_string())
            }
            TlsSetupError::Pair { cert, key, reason } => format!(
                "sip.tls.cert = {:?} and sip.tls.key = {:?} do not make a usable pair: {reason}",
                cert.display().to_string(),
                key.display().to_string()
            ),
            other => other.to_string(),
        })
    }
}

/// F-6.4.1 local port mode.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LocalPortMode {
    /// The port of `listen`.
    #[default]
    Fixed,
    /// A free port chosen by the system at start-up.
    Random,
}

/// `[sip.registrar]`: softphones register with the gateway itself (F-6.4.6).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrarSection {
    /// The password every client must answer the digest challenge with (required; only
    /// the password is checked, any user name is accepted).
    pub password: String,
    /// Realm of the challenge.
    #[serde(default = "default_realm")]
    pub realm: String,
    /// Shortest registration in seconds (shorter: 423). Default 60.
    #[serde(default = "default_min_expires")]
    pub min_expires: u32,
    /// Longest registration in seconds (longer requests are shortened). Default 3600.
    #[serde(default = "default_expires")]
    pub max_expires: u32,
    /// GSM -> SIP: incoming GSM calls of lines without an account `forward_to` go to
    /// the client registered under this user.
    pub forward_to: Option<String>,
}

impl std::fmt::Debug for RegistrarSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrarSection")
            .field("realm", &self.realm)
            .field("forward_to", &self.forward_to)
            .finish_non_exhaustive()
    }
}

fn default_min_expires() -> u32 {
    60
}

/// F-6.3.2 configuration mode.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SipMode {
    /// One account for the device.
    Single,
    /// One account per line.
    PerLine,
    /// One account per group of lines (at most 4 groups).
    PerGroup,
    /// IP peering; registration optional.
    #[default]
    Trunk,
}

/// F-6.4.9 modes.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InboundAuthMode {
    /// Nobody is checked (explicit only).
    None,
    /// Source address must be trusted.
    #[default]
    Address,
    /// Digest credentials of a `[[sip.caller]]`.
    Digest,
    /// Both.
    Both,
}

/// F-6.4.5 setting.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RingbackSetting {
    /// 180 when the GSM callee rings.
    #[default]
    OnAlerting,
    /// 180 at once, 183 when it rings.
    FakeThenColour,
    /// 183 at once.
    Colour,
    /// 180 at once.
    Fake,
}

/// F-6.4.7 setting.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReplySetting {
    /// Back to the source address.
    #[default]
    Source,
    /// To the Via address.
    Via,
}

/// Caller-id setting.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CidSetting {
    /// Not passed.
    Disabled,
    /// Remote-Party-ID header.
    RemotePartyId,
    /// In From.
    #[default]
    From,
}

/// `[sip.timers]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimersSection {
    /// T1 (default 500).
    pub t1_ms: Option<u64>,
    /// T2 (default 4000).
    pub t2_ms: Option<u64>,
    /// Non-INVITE client transaction timeout (default 64·T1).
    pub nict_ms: Option<u64>,
    /// INVITE client transaction timeout (default 64·T1).
    pub ict_ms: Option<u64>,
}

/// One `[[sip.account]]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSection {
    /// Line (per_line mode) this account belongs to.
    pub line: Option<u16>,
    /// Group number 1-4 (per_group mode).
    pub group: Option<u8>,
    /// Lines of the group (per_group mode).
    #[serde(default)]
    pub lines: Vec<u16>,
    /// F-6.3.3.
    pub auth_id: String,
    /// F-6.3.4 (required: there is no default password).
    pub password: String,
    /// F-6.3.8.
    pub phone_number: Option<String>,
    /// F-6.3.9.
    pub display_name: Option<String>,
    /// F-6.3.6, `host:port` (resolved at start).
    pub registrar: String,
    /// F-6.3.11.
    pub domain: Option<String>,
    /// F-6.3.10.
    pub outbound_proxy: Option<String>,
    /// F-6.3.12.
    pub backup_registrar: Option<String>,
    /// F-6.3.7 / F-6.3.24: seconds; 0 disables registration (trunk).
    #[serde(default = "default_expires")]
    pub expires: u32,
    /// GSM -> SIP forward target of this account's lines (F-6.8.10): `user@host:port`.
    pub forward_to: Option<String>,
    /// Transport toward the registrar / proxy: `udp` (default), `tcp` or `tls` (issue #5).
    #[serde(default)]
    pub transport: Option<String>,
    /// PEM file of the CA(s) a TLS server must chain to (needed with `transport = "tls"`).
    pub tls_ca: Option<PathBuf>,
    /// Name the TLS server must present (default: the registrar's IP address).
    pub tls_server_name: Option<String>,
    /// F-6.3.20 (per_group mode only): the group's gateway prefix list, `001,13`.
    pub prefix: Option<String>,
}

impl AccountSection {
    /// The configured transport (`udp` when unset or unknown; validation reports the latter).
    pub fn transport_kind(&self) -> cellgate_engine::connections::SipTransportKind {
        self.transport
            .as_deref()
            .and_then(cellgate_engine::connections::SipTransportKind::parse)
            .unwrap_or_default()
    }
}

impl std::fmt::Debug for AccountSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountSection")
            .field("auth_id", &self.auth_id)
            .field("registrar", &self.registrar)
            .finish_non_exhaustive()
    }
}

/// One `[[sip.caller]]`: digest credentials accepted on INVITE.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerSection {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for CallerSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerSection")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

fn default_realm() -> String {
    "cellgate".into()
}

fn default_expires() -> u32 {
    3600
}

fn resolve(key: &str, value: &str) -> Result<SocketAddr, String> {
    resolve_with_default(key, value, 5060)
}

/// Resolves `host[:port]` (port `default_port` when absent).
pub fn resolve_with_default(
    key: &str,
    value: &str,
    default_port: u16,
) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let with_port = if value.parse::<SocketAddr>().is_ok()
        || value
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        value.to_owned()
    } else {
        format!("{value}:{default_port}")
    };
    with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("{key} = {value:?}: cannot resolve"))
}

fn default_no_line_status() -> u16 {
    503
}

fn default_no_answer_seconds() -> u64 {
    75
}

/// One `[[line]]`: a module on a serial port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineSection {
    /// Line number, from 1.
    pub id: u16,
    /// Serial device, preferably a stable `/dev/serial/by-id/...` path. Give exactly one
    /// of `device`, `imei` and `iccid`.
    #[serde(default)]
    pub device: Option<PathBuf>,
    /// The module's IMEI: the module is looked for among the machine's serial ports, so the
    /// line survives USB renumbering.
    #[serde(default)]
    pub imei: Option<String>,
    /// The ICCID of the line's SIM, looked for like `imei`.
    #[serde(default)]
    pub iccid: Option<String>,
    /// Baud rate.
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// F-6.3.15: the line's gateway prefix list, `001,13` (not in per_group mode).
    pub prefix: Option<String>,
    /// F-6.10.4: the SIM's own number (needed by group members, F-D.5).
    pub sim_number: Option<String>,
    /// §6.6, §6.7: outbound calls on this line.
    #[serde(default)]
    pub outbound: OutboundSection,
    /// §6.8, §6.9: inbound calls on this line.
    #[serde(default)]
    pub inbound: InboundSection,
    /// §6.10: SIM limits.
    #[serde(default)]
    pub sim: SimSection,
    /// §6.11, §6.12, §6.14, §6.15: forwarding, IMEI, operator, cell selection.
    #[serde(default)]
    pub gsm: GsmSection,
    /// F-6.13.6: the line's GoIP SMS-server client (`[line.sms_server]`); absent: off.
    pub sms_server: Option<SmsServerConfig>,
}

fn default_baud() -> u32 {
    115_200
}

impl LineSection {
    /// A line with only an id and a device path (every policy key at its default).
    pub fn with_device(id: u16, device: impl Into<PathBuf>) -> Self {
        Self {
            id,
            device: Some(device.into()),
            imei: None,
            iccid: None,
            baud: default_baud(),
            prefix: None,
            sim_number: None,
            outbound: OutboundSection::default(),
            inbound: InboundSection::default(),
            sim: SimSection::default(),
            gsm: GsmSection::default(),
            sms_server: None,
        }
    }

    /// The SMS-server settings of every line that has them.
    pub fn sms_servers(lines: &[LineSection]) -> Vec<(LineId, SmsServerConfig)> {
        lines
            .iter()
            .filter_map(|l| l.sms_server.clone().map(|s| (LineId(l.id), s)))
            .collect()
    }

    /// How the line's module is found.
    pub fn selector(&self) -> cellgate_backends::discovery::ModuleSelector {
        use cellgate_backends::discovery::ModuleSelector;
        match (&self.device, &self.imei, &self.iccid) {
            (Some(device), _, _) => ModuleSelector::Device(device.to_string_lossy().into_owned()),
            (None, Some(imei), _) => ModuleSelector::Imei(imei.clone()),
            (None, None, Some(iccid)) => ModuleSelector::Iccid(iccid.clone()),
            (None, None, None) => ModuleSelector::Device(String::new()),
        }
    }

    fn check(&self) -> Result<(), String> {
        let id = self.id;
        let given = [
            self.device.is_some(),
            self.imei.is_some(),
            self.iccid.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(format!(
                "line {id}: give exactly one of line.device, line.imei and line.iccid"
            ));
        }
        if let Some(imei) = &self.imei {
            if imei.len() != 15 || !imei.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("line {id}: line.imei = {imei:?} is not 15 digits"));
            }
        }
        if let Some(iccid) = &self.iccid {
            let digits = iccid.trim_end_matches(['F', 'f']);
            if !(18..=22).contains(&iccid.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "line {id}: line.iccid = {iccid:?} is not an ICCID (18 to 22 digits)"
                ));
            }
        }
        Ok(())
    }
}

/// `[media]` section: how calls carry audio.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSection {
    /// F-6.5.13: codecs in preference order: `"pcmu"`, `"pcma"`, `"g729"`.
    pub codecs: Vec<String>,
    /// F-6.5.2: packetisation period in ms (10 to 60, a multiple of 10).
    pub ptime_ms: u32,
    /// F-6.4.13 to 15: `"rfc4733"`, `"info"` or `"inband"`.
    pub dtmf: String,
    /// F-6.5.1: first RTP port (even).
    pub rtp_port_min: u16,
    /// F-6.5.1: last RTP port.
    pub rtp_port_max: u16,
    /// F-6.5.12: hang up after this many seconds without RTP; 0 = never.
    pub rtp_timeout_secs: u64,
    /// F-6.5.3: silence suppression with comfort noise.
    pub vad: bool,
    /// F-6.5.4 to 6: `"fixed"`, `"ordered"` or `"adaptive"`.
    pub jitter: String,
    /// Jitter buffer: fixed delay, or the smallest delay of ordered/adaptive, in ms.
    pub jitter_min_ms: u32,
    /// Jitter buffer: largest delay of ordered/adaptive, in ms.
    pub jitter_max_ms: u32,
    /// Jitter buffer: starting delay of adaptive, in ms.
    pub jitter_initial_ms: u32,
    /// Appendix E: gain on what the GSM party says, in dB (-24 to 24).
    pub input_gain_db: i8,
    /// Appendix E: gain on what the GSM party hears, in dB (-24 to 24).
    pub output_gain_db: i8,
    /// F-6.1.8: tone standard, a preset country (`CN`, `US`, `UK`, `DE`, `FR`, `IN`, `RU`).
    pub tone_standard: String,
    /// Appendix C custom tones replacing the preset's (`[media.tones]`).
    pub tones: TonesSection,
}

/// `[media.tones]`: Appendix C tone definitions replacing the tone standard's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TonesSection {
    /// Dial tone (two-stage dialling).
    pub dial: Option<String>,
    /// Ringback tone.
    pub ringback: Option<String>,
    /// Busy tone.
    pub busy: Option<String>,
    /// Call-waiting prompt tone.
    pub prompt: Option<String>,
}

impl TonesSection {
    /// The custom tones, parsed; the error names the key and the column.
    fn parsed(
        &self,
    ) -> Result<std::collections::BTreeMap<String, cellgate_media::tones::ToneSpec>, String> {
        let mut out = std::collections::BTreeMap::new();
        for (key, text) in [
            ("dial", &self.dial),
            ("ringback", &self.ringback),
            ("busy", &self.busy),
            ("prompt", &self.prompt),
        ] {
            if let Some(text) = text {
                let spec = cellgate_media::tones::ToneSpec::parse(text)
                    .map_err(|e| format!("media.tones.{key}: {e}"))?;
                out.insert(key.to_owned(), spec);
            }
        }
        Ok(out)
    }
}

impl Default for MediaSection {
    fn default() -> Self {
        Self {
            codecs: vec!["pcmu".into(), "pcma".into(), "g729".into()],
            ptime_ms: 20,
            dtmf: "rfc4733".into(),
            rtp_port_min: 16384,
            rtp_port_max: 32768,
            rtp_timeout_secs: 0,
            vad: false,
            jitter: "adaptive".into(),
            jitter_min_ms: 20,
            jitter_max_ms: 200,
            jitter_initial_ms: 60,
            input_gain_db: 0,
            output_gain_db: 0,
            tone_standard: "CN".into(),
            tones: TonesSection::default(),
        }
    }
}

impl MediaSection {
    fn check(&self) -> Result<(), String> {
        for c in &self.codecs {
            codec_named(c)
                .ok_or_else(|| format!("media.codecs: {c:?} is not a codec (pcmu, pcma, g729)"))?;
        }
        if self.codecs.is_empty() {
            return Err("media.codecs must name at least one codec".into());
        }
        if !(10..=60).contains(&self.ptime_ms) || !self.ptime_ms.is_multiple_of(10) {
            return Err(format!(
                "media.ptime_ms = {}: must be 10 to 60, a multiple of 10",
                self.ptime_ms
            ));
        }
        dtmf_named(&self.dtmf).ok_or_else(|| {
            format!(
                "media.dtmf = {:?}: must be rfc4733, info or inband",
                self.dtmf
            )
        })?;
        if !self.rtp_port_min.is_multiple_of(2)
            || self.rtp_port_min < 1024
            || self.rtp_port_max <= self.rtp_port_min
        {
            return Err(format!(
                "media.rtp_port_min = {} / media.rtp_port_max = {}: need an even first port \
                 from 1024 and a last port above it",
                self.rtp_port_min, self.rtp_port_max
            ));
        }
        self.jitter_mode()?;
        for (key, db) in [
            ("media.input_gain_db", self.input_gain_db),
            ("media.output_gain_db", self.output_gain_db),
        ] {
            if !(-24..=24).contains(&db) {
                return Err(format!("{key} = {db}: must be -24 to 24"));
            }
        }
        if cellgate_media::tones::preset(&self.tone_standard, cellgate_media::tones::ToneKind::Dial)
            .is_none()
        {
            return Err(format!(
                "media.tone_standard = {:?}: expected one of {} (or [media.tones] for custom tones)",
                self.tone_standard,
                cellgate_media::tones::PRESET_COUNTRIES.join(", ")
            ));
        }
        self.tones.parsed()?;
        Ok(())
    }

    fn jitter_mode(&self) -> Result<cellgate_media::jitter::JitterMode, String> {
        use cellgate_media::jitter::JitterMode;
        let (min, max, initial) = (
            self.jitter_min_ms,
            self.jitter_max_ms,
            self.jitter_initial_ms,
        );
        let mode = match self.jitter.as_str() {
            "fixed" => JitterMode::Fixed { delay_ms: min },
            "ordered" => JitterMode::Ordered {
                min_ms: min,
                max_ms: max,
            },
            "adaptive" => JitterMode::Adaptive {
                min_ms: min,
                max_ms: max,
                initial_ms: initial,
            },
            other => {
                return Err(format!(
                    "media.jitter = {other:?}: must be fixed, ordered or adaptive"
                ))
            }
        };
        if self.jitter != "fixed"
            && (min > max || (self.jitter == "adaptive" && !(min..=max).contains(&initial)))
        {
            return Err(format!(
                "media.jitter_min_ms = {min}, jitter_max_ms = {max}, jitter_initial_ms = {initial}: \
                 need min <= initial <= max"
            ));
        }
        Ok(mode)
    }

    fn apply(&self, config: &mut GatewayConfig) {
        config.media.codecs = self.codecs.iter().filter_map(|c| codec_named(c)).collect();
        config.media.ptime_ms = self.ptime_ms;
        if let Some(mode) = dtmf_named(&self.dtmf) {
            config.media.dtmf_mode = mode;
        }
        config.media.rtp_timeout = (self.rtp_timeout_secs > 0)
            .then(|| std::time::Duration::from_secs(self.rtp_timeout_secs));
        config.media.vad = self.vad;
        if let Ok(mode) = self.jitter_mode() {
            config.media.jitter = mode;
        }
        config.media.input_gain_db = self.input_gain_db;
        config.media.output_gain_db = self.output_gain_db;
        config.media.tone_standard = self.tone_standard.to_ascii_uppercase();
        config.media.custom_tones = self.tones.parsed().unwrap_or_default();
        config.rtp_base_port = self.rtp_port_min;
        config.rtp_port_max = self.rtp_port_max;
    }
}

fn codec_named(name: &str) -> Option<cellgate_engine::sip::sdp::AudioCodec> {
    use cellgate_engine::sip::sdp::AudioCodec;
    match name.to_ascii_lowercase().as_str() {
        "pcmu" | "g711u" => Some(AudioCodec::Pcmu),
        "pcma" | "g711a" => Some(AudioCodec::Pcma),
        "g729" => Some(AudioCodec::G729),
        _ => None,
    }
}

fn dtmf_named(name: &str) -> Option<cellgate_media::dtmf::DtmfMode> {
    use cellgate_media::dtmf::DtmfMode;
    match name {
        "rfc4733" | "rfc2833" => Some(DtmfMode::Rfc4733),
        "info" => Some(DtmfMode::SipInfo),
        "inband" => Some(DtmfMode::InBand),
        _ => None,
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// SIP side.
    pub sip: SipSection,
    /// Media plane (F-6.5, DTMF F-6.4.13 to 15, Appendix E gains).
    #[serde(default)]
    pub media: MediaSection,
    /// Lines.
    #[serde(default, rename = "line")]
    pub lines: Vec<LineSection>,
    /// Outbound line choice: prefixes, selection, call memory, own numbers.
    #[serde(default)]
    pub routing: RoutingSection,
    /// Time zone, scheduled reboot and CDR reset (F-6.1.2, F-6.1.10, F-6.1.11).
    #[serde(default)]
    pub system: SystemSection,
    /// §6.16 run policy of every line.
    pub run_policy: Option<RunPolicySection>,
    /// Appendix D GSM group mode.
    pub group: Option<GroupSection>,
    /// Values of line keys for lines that do not set them (F-6.6.11, F-6.8.19).
    #[serde(default)]
    pub defaults: DefaultsSection,
    /// Counter and CDR database.
    #[serde(default)]
    pub storage: StorageSection,
    /// The web UI and HTTP API; absent: no web server.
    pub web: Option<WebSection>,
    /// Host interfaces the Basic status page reports (F-5.2.2.5 to 11).
    #[serde(default)]
    pub network: HostNetworkConfig,
    /// Directory of the configuration file (relative paths of `[storage]` start here).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let config = Self::parse(&text, path)?;
        if let Some(tls) = &config.sip.tls {
            tls.server_config()
                .map_err(|message| ConfigError::Invalid {
                    path: path.to_owned(),
                    message,
                })?;
        }
        Ok(config)
    }

    /// Parses and validates configuration text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let mut config: Config = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        config.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        config.expand_auto_configure().map_err(invalid)?;
        if !(300..=699).contains(&config.sip.no_line_status) {
            return Err(invalid(format!(
                "sip.no_line_status = {}: must be a SIP failure status (300-699)",
                config.sip.no_line_status
            )));
        }
        if config.sip.no_answer_timeout_secs == 0 {
            return Err(invalid(
                "sip.no_answer_timeout_secs must be at least 1".into(),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for line in &config.lines {
            if line.id == 0 {
                return Err(invalid("line.id = 0: lines are numbered from 1".into()));
            }
            if !seen.insert(line.id) {
                return Err(invalid(format!("line.id = {} appears twice", line.id)));
            }
            line.check().map_err(invalid)?;
        }
        if let Some(web) = &config.web {
            web.accounts().map_err(invalid)?;
        }
        config.network.validate().map_err(invalid)?;
        cellgate_goip::validate_all(&LineSection::sms_servers(&config.lines))
            .map_err(|e| invalid(e.to_string()))?;
        config.media.check().map_err(invalid)?;
        config.check_sip().map_err(invalid)?;
        config.policy_settings().map_err(invalid)?;
        if config.sip.public_addr.is_none()
            && config.sip.listen.ip().is_unspecified()
            && config.sip.stun_server.is_none()
        {
            return Err(invalid(format!(
                "sip.public_addr is required when sip.listen is {} (peers need a concrete address)",
                config.sip.listen
            )));
        }
        Ok(config)
    }

    /// The counter and CDR database: `[storage] database`, relative to the configuration
    /// file's directory; `cellgate.db` there by default.
    pub fn database_path(&self) -> PathBuf {
        let path = self
            .storage
            .database
            .clone()
            .unwrap_or_else(|| PathBuf::from("cellgate.db"));
        if path.is_absolute() {
            path
        } else {
            self.base_dir.join(path)
        }
    }

    /// F-6.3.19: fills in the accounts of lines 2..N from line 1's.
    fn expand_auto_configure(&mut self) -> Result<(), String> {
        if !self.sip.auto_configure {
            return Ok(());
        }
        if self.sip.mode != SipMode::PerLine || self.sip.accounts.len() != 1 {
            return Err(
                "sip.auto_configure needs sip.mode = \"per_line\" and exactly one [[sip.account]] (line 1's)"
                    .into(),
            );
        }
        let first = self.sip.accounts[0].clone();
        let base = first.line.unwrap_or(1);
        let Some(max) = self.lines.iter().map(|l| l.id).max() else {
            return Ok(());
        };
        let count = usize::from(max.saturating_sub(base)) + 1;
        let counted = |what: &str, value: &str| -> Result<Vec<String>, String> {
            cellgate_policy::routing::auto_configure(value, count)
                .map_err(|e| format!("sip.auto_configure: account {what} {value:?}: {e}"))
        };
        let auth_ids = counted("auth_id", &first.auth_id)?;
        let numbers = match &first.phone_number {
            Some(n) => Some(counted("phone_number", n)?),
            None => None,
        };
        // A display name without a number at its end is copied as it is.
        let names = first.display_name.as_ref().map(|n| {
            cellgate_policy::routing::auto_configure(n, count)
                .unwrap_or_else(|_| vec![n.clone(); count])
        });
        for line in self.lines.iter().map(|l| l.id).filter(|&id| id > base) {
            let k = usize::from(line - base);
            let mut account = first.clone();
            account.line = Some(line);
            account.auth_id = auth_ids[k].clone();
            account.phone_number = numbers.as_ref().map(|n| n[k].clone());
            account.display_name = names.as_ref().map(|n| n[k].clone());
            self.sip.accounts.push(account);
        }
        Ok(())
    }

    fn check_sip(&self) -> Result<(), String> {
        let sip = &self.sip;
        match sip.mode {
            SipMode::Single if sip.accounts.len() != 1 => {
                return Err("sip.mode = \"single\" needs exactly one [[sip.account]]".into())
            }
            SipMode::Trunk if sip.accounts.len() > 1 => {
                return Err(
                    "sip.mode = \"trunk\" takes at most one [[sip.account]] (Gateway1)".into(),
                )
            }
            SipMode::PerLine => {
                let mut seen = std::collections::BTreeSet::new();
                for a in &sip.accounts {
                    let Some(line) = a.line else {
                        return Err(format!(
                            "sip.account {:?}: per_line mode needs `line`",
                            a.auth_id
                        ));
                    };
                    if !seen.insert(line) {
                        return Err(format!("sip.account line = {line} appears twice"));
                    }
                }
            }
            SipMode::PerGroup => {
                if sip.accounts.len() > 4 {
                    return Err("sip.mode = \"per_group\": at most 4 groups".into());
                }
                for a in &sip.accounts {
                    if !a.group.is_some_and(|g| (1..=4).contains(&g)) || a.lines.is_empty() {
                        return Err(format!(
                            "sip.account {:?}: per_group mode needs group = 1..4 and lines = [...]",
                            a.auth_id
                        ));
                    }
                }
            }
            _ => {}
        }
        for a in &sip.accounts {
            if a.password.is_empty() {
                return Err(format!(
                    "sip.account {:?}: password must not be empty",
                    a.auth_id
                ));
            }
            resolve("sip.account.registrar", &a.registrar)?;
            if let Some(b) = &a.backup_registrar {
                resolve("sip.account.backup_registrar", b)?;
            }
            if let Some(p) = &a.outbound_proxy {
                resolve("sip.account.outbound_proxy", p)?;
            }
            if let Some(t) = &a.transport {
                if cellgate_engine::connections::SipTransportKind::parse(t).is_none() {
                    return Err(format!(
                        "sip.account.transport = {t:?}: expected \"udp\", \"tcp\" or \"tls\""
                    ));
                }
            }
            let uses_tls = a.transport_kind()
                == cellgate_engine::connections::SipTransportKind::Tls
                || a.forward_to.as_deref().is_some_and(|f| {
                    cellgate_engine::connections::SipTransportKind::from_uri(f)
                        == Some(cellgate_engine::connections::SipTransportKind::Tls)
                });
            match &a.tls_ca {
                Some(ca) => {
                    cellgate_engine::tls::client_config(ca)
                        .map_err(|e| format!("sip.account.tls_ca: {e}"))?;
                }
                None if uses_tls => {
                    return Err(format!(
                        "sip.account {:?}: TLS needs tls_ca (PEM file of the server's CA)",
                        a.auth_id
                    ));
                }
                None => {}
            }
        }
        for (i, pattern) in sip.trunk_accept.iter().enumerate() {
            pattern
                .parse::<AddressPattern>()
                .map_err(|e| format!("sip.trunk_accept[{i}]: {e}"))?;
        }
        if matches!(
            sip.inbound_auth,
            InboundAuthMode::Digest | InboundAuthMode::Both
        ) && sip.callers.is_empty()
        {
            return Err(
                "sip.inbound_auth needs at least one [[sip.caller]] with user and password".into(),
            );
        }
        if sip.callers.iter().any(|c| c.password.is_empty()) {
            return Err("sip.caller: password must not be empty".into());
        }
        if sip.failover_after == Some(0)
            || sip.failback_probe_secs == Some(0)
            || sip.register_retry_secs == Some(0)
        {
            return Err(
                "sip.failover_after, failback_probe_secs and register_retry_secs must be at least 1"
                    .into(),
            );
        }
        if sip.dscp.is_some_and(|d| d > 63) {
            return Err("sip.dscp must be 0-63".into());
        }
        if let Some(s) = &sip.stun_server {
            resolve_with_default("sip.stun_server", s, 3478)?;
        }
        if let Some(r) = &sip.registrar {
            if r.password.is_empty() {
                return Err("sip.registrar.password must not be empty".into());
            }
            if r.min_expires == 0 || r.min_expires > r.max_expires {
                return Err("sip.registrar: need 1 <= min_expires <= max_expires".into());
            }
        }
        if sip.timers.t1_ms == Some(0) || sip.timers.t2_ms == Some(0) {
            return Err("sip.timers: t1_ms and t2_ms must be at least 1".into());
        }
        Ok(())
    }

    /// The engine settings this file asks for.
    pub fn gateway_config(&self) -> GatewayConfig {
        let public = self.sip.public_addr.unwrap_or(self.sip.listen);
        let mut config = GatewayConfig::new(public);
        let sip = &self.sip;
        let mut patterns: Vec<AddressPattern> = sip
            .trusted_sources
            .iter()
            .map(|ip| match ip {
                IpAddr::V4(v4) => AddressPattern::V4(v4.octets().map(Some)),
                IpAddr::V6(v6) => AddressPattern::V6(*v6),
            })
            .collect();
        patterns.extend(sip.trunk_accept.iter().filter_map(|p| p.parse().ok()));
        if sip.mode == SipMode::Trunk {
            // Gateway1 is trusted too (F-6.3.22).
            for a in &sip.accounts {
                if let Ok(addr) = resolve("", &a.registrar) {
                    patterns.push(match addr.ip() {
                        IpAddr::V4(v4) => AddressPattern::V4(v4.octets().map(Some)),
                        IpAddr::V6(v6) => AddressPattern::V6(v6),
                    });
                }
            }
        }
        config.trust = match sip.inbound_auth {
            InboundAuthMode::None | InboundAuthMode::Digest => InboundTrust::Anyone,
            InboundAuthMode::Address | InboundAuthMode::Both if patterns.is_empty() => {
                InboundTrust::DenyAll
            }
            InboundAuthMode::Address | InboundAuthMode::Both => InboundTrust::Patterns(patterns),
        };
        if matches!(
            sip.inbound_auth,
            InboundAuthMode::Digest | InboundAuthMode::Both
        ) {
            config.inbound_digest = Some(InboundDigest {
                realm: sip.auth_realm.clone(),
                users: sip
                    .callers
                    .iter()
                    .map(|c| (c.user.clone(), c.password.clone()))
                    .collect(),
                algorithms: Vec::new(),
            });
        }
        config.ringback = match sip.ringback {
            RingbackSetting::OnAlerting => RingbackMode::OnAlerting,
            RingbackSetting::FakeThenColour => RingbackMode::FakeThenColour,
            RingbackSetting::Colour => RingbackMode::Colour,
            RingbackSetting::Fake => RingbackMode::Fake,
        };
        config.reply_path = match sip.reply_path {
            ReplySetting::Source => ReplyPath::Source,
            ReplySetting::Via => ReplyPath::Via,
        };
        config.cid_mode = match sip.cid_mode {
            CidSetting::Disabled => CidMode::Disabled,
            CidSetting::RemotePartyId => CidMode::RemotePartyId,
            CidSetting::From => CidMode::From,
        };
        let ms = std::time::Duration::from_millis;
        let mut timers = SipTimers::from_t1_t2(
            ms(sip.timers.t1_ms.unwrap_or(500)),
            ms(sip.timers.t2_ms.unwrap_or(4000)),
        );
        if let Some(n) = sip.timers.nict_ms {
            timers.nict_timeout = ms(n);
        }
        if let Some(n) = sip.timers.ict_ms {
            timers.ict_timeout = ms(n);
        }
        config.timers = timers;
        self.media.apply(&mut config);
        let all_lines: Vec<u16> = self.lines.iter().map(|l| l.id).collect();
        for a in &sip.accounts {
            let Ok(registrar) = resolve("", &a.registrar) else {
                continue;
            };
            let server = ServerConfig {
                registrar,
                domain: a.domain.clone(),
                outbound_proxy: a
                    .outbound_proxy
                    .as_deref()
                    .and_then(|p| resolve("", p).ok()),
                transport: a.transport_kind(),
            };
            let label = match (sip.mode, a.line, a.group) {
                (SipMode::PerLine, Some(l), _) => format!("line {l}"),
                (SipMode::PerGroup, _, Some(g)) => format!("group {g}"),
                (SipMode::Trunk, _, _) => "trunk".into(),
                _ => "single".into(),
            };
            let lines: Vec<u16> = match sip.mode {
                SipMode::PerLine => a.line.into_iter().collect(),
                SipMode::PerGroup => a.lines.clone(),
                _ => all_lines.clone(),
            };
            if let Some(target) = &a.forward_to {
                let uri = if target.starts_with("sip:") || target.starts_with("sips:") {
                    target.clone()
                } else {
                    format!("sip:{target}")
                };
                let host = uri
                    .trim_start_matches("sips:")
                    .trim_start_matches("sip:")
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .rsplit('@')
                    .next()
                    .unwrap_or("");
                let next_hop = server
                    .outbound_proxy
                    .or_else(|| resolve("", host).ok())
                    .unwrap_or(registrar);
                for line in &lines {
                    config.forward.insert(
                        LineId(*line),
                        ForwardTarget {
                            uri: uri.clone(),
                            next_hop,
                            local_user: a.phone_number.clone().unwrap_or_else(|| a.auth_id.clone()),
                            credentials: Some((a.auth_id.clone(), a.password.clone())),
                        },
                    );
                }
            }
            if a.expires == 0 {
                continue; // trunk without registration (F-6.3.24)
            }
            let account = AccountConfig {
                auth_id: a.auth_id.clone(),
                password: a.password.clone(),
                phone_number: a.phone_number.clone(),
                display_name: a.display_name.clone(),
            };
            let mut reg = RegistrationConfig::new(&label, account, server.clone());
            reg.expires = a.expires;
            // Per-line registration (F-6.3.16, F-6.3.20): the account stands for its lines.
            if matches!(sip.mode, SipMode::PerLine | SipMode::PerGroup) {
                reg.lines = lines.iter().copied().map(LineId).collect();
            }
            if let Some(n) = sip.failover_after {
                reg.failover_after = n;
            }
            if let Some(secs) = sip.failback_probe_secs {
                reg.probe_interval = std::time::Duration::from_secs(secs);
            }
            if let Some(secs) = sip.register_retry_secs {
                reg.retry_min = std::time::Duration::from_secs(secs);
            }
            reg.backup = a
                .backup_registrar
                .as_deref()
                .and_then(|b| resolve("", b).ok())
                .map(|b| ServerConfig {
                    registrar: b,
                    domain: a.domain.clone(),
                    outbound_proxy: None,
                    transport: a.transport_kind(),
                });
            if sip.keepalive_secs > 0 {
                config.keepalives.push(KeepAlive {
                    target: server.next_hop(),
                    interval: std::time::Duration::from_secs(sip.keepalive_secs),
                    options: true,
                });
            }
            config.registrations.push(reg);
        }
        if let Some(r) = &sip.registrar {
            let mut registrar = RegistrarConfig::new(&r.password);
            registrar.realm = r.realm.clone();
            registrar.min_expires = r.min_expires;
            registrar.max_expires = r.max_expires;
            config.registrar = Some(registrar);
            if let Some(user) = &r.forward_to {
                for line in &all_lines {
                    if !config.forward.contains_key(&LineId(*line)) {
                        config
                            .forward_registered
                            .insert(LineId(*line), user.clone());
                    }
                }
            }
        }
        config.no_line_status = self.sip.no_line_status;
        config.no_answer_timeout = std::time::Duration::from_secs(self.sip.no_answer_timeout_secs);
        config.extension_host = sip.accounts.first().and_then(|a| {
            let registrar = resolve("", &a.registrar).ok()?;
            Some(
                a.outbound_proxy
                    .as_deref()
                    .and_then(|p| resolve("", p).ok())
                    .unwrap_or(registrar),
            )
        });
        // Validated by `parse`; a configuration built by hand that fails keeps the defaults.
        if let Ok(settings) = self.policy_settings() {
            config.lines = settings.lines;
            config.routing = settings.routing;
            config.line_selection = settings.line_selection;
            if settings.extension_host.is_some() {
                config.extension_host = settings.extension_host;
            }
        }
        config.serial = self.system.serial.clone();
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"))
    }

    #[test]
    fn default_trust_is_nobody() {
        let c = parse("[sip]\nlisten = \"192.0.2.1:5060\"\n").unwrap();
        assert_eq!(c.gateway_config().trust, InboundTrust::DenyAll);
    }

    #[test]
    fn registration_modes_auth_and_timers_map_to_the_engine() {
        let c = parse(
            "[sip]\nlisten = \"192.0.2.1:5060\"\nmode = \"per_group\"\ninbound_auth = \"both\"\n\
             trusted_sources = [\"192.0.2.7\"]\nringback = \"fake_then_colour\"\nreply_path = \"via\"\n\
             [sip.timers]\nt1_ms = 250\n\
             [[sip.caller]]\nuser = \"pbx\"\npassword = \"x\"\n\
             [[sip.account]]\ngroup = 1\nlines = [1, 2]\nauth_id = \"g1\"\npassword = \"p\"\nregistrar = \"192.0.2.50\"\n\
             backup_registrar = \"192.0.2.51:5070\"\nexpires = 120\nforward_to = \"101@192.0.2.60:6060\"\n\
             [[sip.account]]\ngroup = 2\nlines = [3]\nauth_id = \"g2\"\npassword = \"p\"\nregistrar = \"192.0.2.50:5060\"\n",
        )
        .unwrap();
        let g = c.gateway_config();
        assert_eq!(g.registrations.len(), 2);
        assert_eq!(g.registrations[0].label, "group 1");
        assert_eq!(g.registrations[0].expires, 120);
        assert_eq!(
            g.registrations[0].primary.registrar.to_string(),
            "192.0.2.50:5060"
        );
        assert_eq!(
            g.registrations[0]
                .backup
                .as_ref()
                .map(|b| b.registrar.to_string())
                .as_deref(),
            Some("192.0.2.51:5070")
        );
        assert_eq!(g.forward.len(), 2);
        assert_eq!(
            g.forward[&LineId(2)].next_hop.to_string(),
            "192.0.2.60:6060"
        );
        assert!(g.inbound_digest.is_some());
        assert!(g.trust.allows("192.0.2.7".parse().unwrap()));
        assert!(!g.trust.allows("192.0.2.8".parse().unwrap()));
        assert_eq!(g.timers.t1, std::time::Duration::from_millis(250));
        assert_eq!(g.timers.nict_timeout, std::time::Duration::from_secs(16));
        assert_eq!(g.ringback, RingbackMode::FakeThenColour);
        assert_eq!(g.reply_path, ReplyPath::Via);
    }

    #[test]
    fn bad_sip_settings_are_named_and_digest_needs_callers() {
        let err =
            parse("[sip]\nlisten = \"192.0.2.1:5060\"\ninbound_auth = \"digest\"\n").unwrap_err();
        assert!(err.to_string().contains("sip.caller"), "{err}");
        let err = parse("[sip]\nlisten = \"192.0.2.1:5060\"\nmode = \"single\"\n").unwrap_err();
        assert!(err.to_string().contains("exactly one"), "{err}");
        let err = parse("[sip]\nlisten = \"192.0.2.1:5060\"\ntrunk_accept = [\"192.168.1.Y\"]\n")
            .unwrap_err();
        assert!(err.to_string().contains("sip.trunk_accept[0]"), "{err}");
        let c = parse("[sip]\nlisten = \"192.0.2.1:5060\"\ntrunk_accept = [\"192.168.1.X\"]\n")
            .unwrap();
        assert!(c
            .gateway_config()
            .trust
            .allows("192.168.1.77".parse().unwrap()));
    }

    #[test]
    fn registrar_section_maps_to_the_engine_and_needs_a_password() {
        let c = parse(
            "[sip]\nlisten = \"192.0.2.1:5060\"\n[sip.registrar]\npassword = \"pw\"\nforward_to = \"alice\"\n\
             [[line]]\nid = 1\ndevice = \"/dev/a\"\n",
        )
        .unwrap();
        let g = c.gateway_config();
        let r = g.registrar.expect("registrar");
        assert_eq!((r.min_expires, r.max_expires), (60, 3600));
        assert_eq!(g.forward_registered[&LineId(1)], "alice");
        assert_eq!(
            g.trust,
            InboundTrust::DenyAll,
            "registration is the only way in"
        );
        let err = parse("[sip]\nlisten = \"192.0.2.1:5060\"\n[sip.registrar]\npassword = \"\"\n")
            .unwrap_err();
        assert!(err.to_string().contains("sip.registrar.password"), "{err}");
        let err = parse("[sip]\nlisten = \"192.0.2.1:5060\"\n[sip.registrar]\n").unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
    }

    #[test]
    fn account_transport_and_tls_ca_are_checked() {
        let account = "[sip]\nlisten = \"192.0.2.1:5060\"\n[[sip.account]]\nauth_id = \"a\"\n\
                       password = \"p\"\nregistrar = \"192.0.2.50\"\n";
        let c = parse(&format!("{account}transport = \"tcp\"\n")).unwrap();
        let g = c.gateway_config();
        assert_eq!(
            g.registrations[0].primary.transport,
            cellgate_engine::connections::SipTransportKind::Tcp
        );
        let err = parse(&format!("{account}transport = \"sctp\"\n")).unwrap_err();
        assert!(err.to_string().contains("sip.account.transport"), "{err}");
        let err = parse(&format!("{account}transport = \"tls\"\n")).unwrap_err();
        assert!(err.to_string().contains("tls_ca"), "{err}");
        let err = parse(&format!(
            "{account}forward_to = \"sips:101@192.0.2.60:5061\"\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("tls_ca"), "{err}");
        let err = parse(&format!(
            "{account}transport = \"tls\"\ntls_ca = \"/nonexistent/ca.pem\"\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("sip.account.tls_ca"), "{err}");
    }

    #[test]
    fn transport_keys_are_checked() {
        let c = parse(
            "[sip]\nlisten = \"0.0.0.0:5060\"\nstun_server = \"127.0.0.1\"\nlocal_port = \"random\"\ndscp = 46\ntcp = true\n",
        )
        .unwrap();
        assert_eq!(c.sip.local_port, LocalPortMode::Random);
        assert_eq!(c.sip.dscp, Some(46));
        assert!(c.sip.tcp);
        let err = parse("[sip]\nlisten = \"192.0.2.1:5060\"\ndscp = 64\n").unwrap_err();
        assert!(err.to_string().contains("sip.dscp"), "{err}");
        let err =
            parse("[sip]\nlisten = \"192.0.2.1:5060\"\nlocal_port = \"sometimes\"\n").unwrap_err();
        assert!(err.to_string().contains("local_port"), "{err}");
        let c = parse(
            "[sip]\nlisten = \"192.0.2.1:5060\"\ntls = { listen = \"0.0.0.0:5061\", cert = \"c.pem\", key = \"k.pem\" }\n",
        )
        .unwrap();
        let tls = c.sip.tls.as_ref().unwrap();
        assert_eq!(tls.listen.port(), 5061);
        assert_eq!(tls.cert, std::path::Path::new("c.pem"));
        let err = parse(
            "[sip]\nlisten = \"192.0.2.1:5060\"\ntls = { listen = \"0.0.0.0:5061\", cert = \"c.pem\" }\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("key"), "{err}");
    }

    #[test]
    fn a_line_names_its_module_by_exactly_one_of_device_imei_iccid() {
        let base = "[sip]\nlisten = \"192.0.2.1:5060\"\n[[line]]\nid = 1\n";
        assert!(parse(&format!("{base}imei = \"861111111111111\"\n")).is_ok());
        assert!(parse(&format!("{base}iccid = \"89860000000000000011\"\n")).is_ok());
        let err = parse(base).unwrap_err();
        assert!(
            err.to_string().contains("exactly one of line.device"),
            "{err}"
        );
        let err = parse(&format!(
            "{base}device = \"/dev/ttyS1\"\nimei = \"861111111111111\"\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("exactly one"), "{err}");
        let err = parse(&format!("{base}imei = \"12345\"\n")).unwrap_err();
        assert!(err.to_string().contains("line.imei"), "{err}");
        let err = parse(&format!("{base}iccid = \"89x\"\n")).unwrap_err();
        assert!(err.to_string().contains("line.iccid"), "{err}");
    }

    #[test]
    fn media_section_feeds_the_engine_and_bad_values_are_named() {
        use cellgate_media::jitter::JitterMode;
        let base = "[sip]\nlisten = \"192.0.2.1:5060\"\n[media]\n";
        let c = parse(&format!(
            "{base}codecs = [\"g729\", \"pcma\"]\nptime_ms = 40\ndtmf = \"info\"\n\
             rtp_port_min = 20000\nrtp_port_max = 20100\nrtp_timeout_secs = 30\nvad = true\n\
             jitter = \"fixed\"\njitter_min_ms = 60\ninput_gain_db = -6\n"
        ))
        .unwrap();
        let g = c.gateway_config();
        assert_eq!(
            g.media.codecs,
            [
                cellgate_engine::sip::sdp::AudioCodec::G729,
                cellgate_engine::sip::sdp::AudioCodec::Pcma
            ]
        );
        assert_eq!(g.media.ptime_ms, 40);
        assert_eq!(g.media.dtmf_mode, cellgate_media::dtmf::DtmfMode::SipInfo);
        assert_eq!((g.rtp_base_port, g.rtp_port_max), (20000, 20100));
        assert_eq!(
            g.media.rtp_timeout,
            Some(std::time::Duration::from_secs(30))
        );
        assert!(g.media.vad);
        assert_eq!(g.media.jitter, JitterMode::Fixed { delay_ms: 60 });
        assert_eq!(g.media.input_gain_db, -6);
        for (bad, key) in [
            ("codecs = [\"opus\"]", "media.codecs"),
            ("ptime_ms = 25", "media.ptime_ms"),
            ("dtmf = \"loud\"", "media.dtmf"),
            ("rtp_port_min = 20001", "media.rtp_port_min"),
            (
                "rtp_port_min = 30000\nrtp_port_max = 20000",
                "media.rtp_port_min",
            ),
            ("jitter = \"magic\"", "media.jitter"),
            ("jitter_min_ms = 300", "media.jitter_min_ms"),
            ("output_gain_db = 40", "media.output_gain_db"),
            ("colour = 1", "colour"),
        ] {
            let err = parse(&format!("{base}{bad}\n")).unwrap_err();
            assert!(err.to_string().contains(key), "{bad}: {err}");
        }
    }

    #[test]
    fn unknown_key_is_named() {
        let err = parse("[sip]\nlisten = \"192.0.2.1:5060\"\nlisten_port = 5060\n").unwrap_err();
        assert!(err.to_string().contains("listen_port"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let err = parse("[sip]\nlisten = \"192.0.2.1:5060\"\nno_line_status = 200\n").unwrap_err();
        assert!(err.to_string().contains("sip.no_line_status"), "{err}");
        let err = parse("[sip]\nlisten = \"0.0.0.0:5060\"\n").unwrap_err();
        assert!(err.to_string().contains("sip.public_addr"), "{err}");
        let err = parse(
            "[sip]\nlisten = \"192.0.2.1:5060\"\n[[line]]\nid = 1\ndevice = \"/dev/a\"\n[[line]]\nid = 1\ndevice = \"/dev/b\"\n",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("line.id = 1 appears twice"),
            "{err}"
        );
    }
}
