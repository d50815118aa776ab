//! Domain types shared by the engine and every backend.

use std::fmt;

/// A gateway line: one module with one SIM slot, numbered from 1 as on the vendor's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineId(pub u16);

impl fmt::Display for LineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line{}", self.0)
    }
}

/// The module family, chosen from `AT+CGMM`; decides the AT dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModuleKind {
    /// Quectel M35 (GSM, GoIP boards).
    M35,
    /// Quectel UC15 (UMTS, WoIP boards).
    Uc15,
    /// Any other 3GPP 27.007 module, driven with the standard command set only.
    Generic,
}

/// Who the module is: used to identify modules by IMEI/ICCID rather than by device path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModemIdentity {
    /// `AT+CGMI`.
    pub manufacturer: String,
    /// `AT+CGMM`.
    pub model: String,
    /// `AT+CGMR`.
    pub firmware: String,
    /// `AT+CGSN`: 15 digits.
    pub imei: String,
    /// `AT+CIMI`, when a SIM is present and unlocked.
    pub imsi: Option<String>,
    /// `AT+QCCID` / `AT+CCID`, when a SIM is present.
    pub iccid: Option<String>,
}

/// SIM state as reported by `AT+CPIN?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimState {
    /// Unlocked and usable.
    Ready,
    /// Waiting for the PIN.
    PinRequired,
    /// Waiting for the PUK (PIN tries exhausted).
    PukRequired,
    /// PIN 1 is done, but the SIM waits for PIN2 (`+CPIN: SIM PIN2`, `+CME ERROR: 17`):
    /// an operation needed CHV2. Calls and SMS still work.
    Pin2Required,
    /// PIN 1 is done, but PIN2 is blocked and the SIM waits for PUK2 (`+CPIN: SIM PUK2`,
    /// `+CME ERROR: 18`). Calls and SMS still work; PIN2-protected operations do not.
    Puk2Required,
    /// No SIM in the slot.
    NotInserted,
    /// Present but still initialising.
    NotReady,
    /// Broken or blocked SIM.
    Failure,
}

impl SimState {
    /// Whether the SIM is unlocked for calls and SMS: ready, or only waiting for PIN2 /
    /// PUK2 (which guard SIM settings such as fixed dialling, not service).
    pub fn is_usable(self) -> bool {
        matches!(
            self,
            SimState::Ready | SimState::Pin2Required | SimState::Puk2Required
        )
    }
}

/// Circuit-switched network registration state (`+CREG` stat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    /// 0: not registered, not searching.
    NotRegistered,
    /// 1: registered on the home network.
    Home,
    /// 2: searching for an operator.
    Searching,
    /// 3: registration denied.
    Denied,
    /// 4: unknown.
    Unknown,
    /// 5: registered, roaming.
    Roaming,
}

impl RegistrationState {
    /// Whether calls and SMS can go through.
    pub fn is_registered(self) -> bool {
        matches!(self, RegistrationState::Home | RegistrationState::Roaming)
    }
}

/// Radio access technology of the serving cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessTech {
    /// GSM / GPRS / EDGE.
    Gsm,
    /// UMTS / WCDMA, with or without HSPA.
    Utran,
}

/// Registration with location data, as the status pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Registration state.
    pub state: RegistrationState,
    /// Location area code, when known.
    pub lac: Option<u32>,
    /// Cell id (16-bit GSM, 28-bit UMTS), when known.
    pub cell_id: Option<u32>,
    /// Access technology, when reported.
    pub tech: Option<AccessTech>,
}

/// Received signal quality (`AT+CSQ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalQuality {
    /// 0..=31, or 99 when unknown (the form the vendor pages show as RSSI).
    pub rssi: u8,
    /// Bit error rate 0..=7, or 99 when unknown.
    pub ber: u8,
}

impl SignalQuality {
    /// The level in dBm (`-113 + 2n`), `None` when unknown.
    pub fn dbm(self) -> Option<i16> {
        (self.rssi <= 31).then(|| -113 + 2 * i16::from(self.rssi))
    }
}

/// The operator a module is registered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// Long alphanumeric name (`AT+COPS=3,0`).
    pub name: String,
    /// MCC+MNC, when known.
    pub numeric: Option<String>,
}

/// How the module should choose an operator (manual §6.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorSelection {
    /// Automatic selection (`AT+COPS=0`).
    Automatic,
    /// Lock to one operator by MCC+MNC (`AT+COPS=1,2,"<numeric>"`).
    Manual(String),
}

/// Serving (and optionally neighbour) cell information, the raw material of BCCH
/// selection (manual §6.15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellInfo {
    /// Mobile country code.
    pub mcc: u16,
    /// Mobile network code.
    pub mnc: u16,
    /// Location area code.
    pub lac: u32,
    /// Cell id.
    pub cell_id: u32,
    /// ARFCN (GSM BCCH) or UARFCN (UMTS).
    pub arfcn: u32,
    /// Base station identity code (GSM) or primary scrambling code (UMTS).
    pub bsic_or_psc: Option<u16>,
    /// Received level in dBm.
    pub level_dbm: Option<i16>,
    /// Access technology of this cell.
    pub tech: AccessTech,
}

/// Index of a call on the module (`+CLCC` id).
pub type CallIndex = u8;

/// Direction of a call as the module sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallDirection {
    /// Placed by the gateway (VoIP -> GSM).
    MobileOriginated,
    /// Received by the SIM (GSM -> VoIP).
    MobileTerminated,
}

/// Call state (`+CLCC` stat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    /// 0: connected.
    Active,
    /// 1: on hold.
    Held,
    /// 2: dialling, not yet alerting.
    Dialing,
    /// 3: far end is ringing.
    Alerting,
    /// 4: incoming, ringing here.
    Incoming,
    /// 5: waiting (incoming while another call is up).
    Waiting,
}

/// One row of the module's call list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    /// Module call index.
    pub index: CallIndex,
    /// Direction.
    pub direction: CallDirection,
    /// State.
    pub status: CallStatus,
    /// Remote number, empty when withheld.
    pub number: String,
    /// Whether the call is part of a multiparty call.
    pub multiparty: bool,
}

/// Why a GSM call ended, as a 3GPP TS 24.008 cause value (normal clearing is 16).
///
/// Kept as the raw number so a configurable GSM-cause -> SIP-status table (F-6.4.23) can
/// map any value, including ones this code does not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReleaseCause(pub u8);

impl ReleaseCause {
    /// 1: unassigned (unallocated) number.
    pub const UNASSIGNED_NUMBER: Self = Self(1);
    /// 16: normal call clearing.
    pub const NORMAL_CLEARING: Self = Self(16);
    /// 17: user busy.
    pub const USER_BUSY: Self = Self(17);
    /// 18: no user responding.
    pub const NO_USER_RESPONDING: Self = Self(18);
    /// 19: user alerting, no answer.
    pub const NO_ANSWER: Self = Self(19);
    /// 21: call rejected.
    pub const CALL_REJECTED: Self = Self(21);
    /// 27: destination out of order.
    pub const DESTINATION_OUT_OF_ORDER: Self = Self(27);
    /// 31: normal, unspecified.
    pub const NORMAL_UNSPECIFIED: Self = Self(31);
    /// 34: no circuit/channel available.
    pub const NO_CIRCUIT: Self = Self(34);
    /// 38: network out of order.
    pub const NETWORK_OUT_OF_ORDER: Self = Self(38);
    /// 41: temporary failure.
    pub const TEMPORARY_FAILURE: Self = Self(41);
}

/// DTMF digit accepted by `AT+VTS` and reported by tone detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfDigit(char);

impl DtmfDigit {
    /// Accepts `0-9`, `*`, `#`, `A-D` (case-insensitive); `None` for anything else.
    pub fn new(c: char) -> Option<Self> {
        let c = c.to_ascii_uppercase();
        matches!(c, '0'..='9' | '*' | '#' | 'A'..='D').then_some(Self(c))
    }

    /// The digit as a character.
    pub fn as_char(self) -> char {
        self.0
    }
}

/// Storage index of an SMS on the SIM or module.
pub type SmsIndex = u16;

/// Which messages `list_sms` returns (`AT+CMGL` stat in PDU mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsFilter {
    /// 0: received, unread.
    Unread,
    /// 1: received, read.
    Read,
    /// 2: stored, unsent.
    Unsent,
    /// 3: stored, sent.
    Sent,
    /// 4: all.
    All,
}

/// An SMS as stored by the module: a raw TPDU in hex with its SMSC prefix, exactly as
/// `AT+CMGR`/`AT+CMGL`/`+CMT` deliver it. Decoding is the engine's SMS codec's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSms {
    /// Storage index.
    pub index: SmsIndex,
    /// Storage status (unread, read, unsent, sent).
    pub status: SmsFilter,
    /// SMSC address + TPDU, hex-encoded.
    pub pdu_hex: String,
}

/// A PDU to send with `AT+CMGS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingPdu {
    /// SMSC address + TPDU, hex-encoded (SMSC part may be `00` for "use the SIM's").
    pub pdu_hex: String,
    /// TPDU length in octets, without the SMSC part (the `AT+CMGS=<len>` value).
    pub tpdu_len: usize,
}

/// Status of a USSD exchange (`+CUSD` m).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UssdStatus {
    /// 0: no further action required.
    Done,
    /// 1: the network expects a reply.
    FurtherActionRequired,
    /// 2: terminated by the network.
    Terminated,
    /// 3: another local client answered.
    OtherClient,
    /// 4: operation not supported.
    NotSupported,
    /// 5: network timeout.
    Timeout,
}

/// A USSD answer from the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UssdResponse {
    /// Session status.
    pub status: UssdStatus,
    /// Decoded text, if any.
    pub text: Option<String>,
    /// Data coding scheme reported with the text.
    pub dcs: Option<u8>,
}

/// Call-forwarding reason (`AT+CCFC` reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardReason {
    /// 0: always.
    Unconditional,
    /// 1: when busy.
    Busy,
    /// 2: when not answered.
    NoReply,
    /// 3: when not reachable.
    NotReachable,
    /// 4: all forwarding.
    All,
    /// 5: all conditional forwarding.
    AllConditional,
}

/// A call-forwarding setting to apply or as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallForwarding {
    /// Reason.
    pub reason: ForwardReason,
    /// Whether forwarding is active.
    pub enabled: bool,
    /// Target number when enabled.
    pub number: Option<String>,
    /// No-reply time in seconds (reason NoReply only).
    pub no_reply_seconds: Option<u8>,
}

/// Module power level (`AT+CFUN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerMode {
    /// 0: minimum functionality.
    Minimum,
    /// 1: full functionality.
    Full,
    /// 4: radio off (flight mode).
    RadioOff,
}

/// Packet-switched (GPRS) state of the module, as shown on the status page (manual
/// F-5.2.3.5 GPRS registration, F-5.2.3.6 GPRS attach).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GprsStatus {
    /// Registered on the packet-switched network: `+CGREG` `<stat>` 1 (home) or 5
    /// (roaming) (3GPP TS 27.007 §10.1.20).
    pub registered: bool,
    /// Attached to the GPRS service: `+CGATT: 1` (3GPP TS 27.007 §10.1.9).
    pub attached: bool,
}
