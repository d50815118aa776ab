//! What the core asks its shell to do: send a datagram, run a module command, hand on a
//! SIP MESSAGE or report the outcome of one.

use std::net::SocketAddr;

use bytes::Bytes;
use std::time::Duration;

use cellgate_hal::{CallForwarding, LineId, OperatorSelection, PowerMode};
use cellgate_media::dtmf::{DtmfMode, GsmDtmfPath};
use cellgate_policy::cdr::CallRecord;
use cellgate_policy::store::LineCounters;

use crate::call::CallRef;
use crate::sip::sdp::AudioCodec;

/// The media of an answered call: what the shell's media session needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaParams {
    /// The call.
    pub call: CallRef,
    /// Its line (whose audio channel to open).
    pub line: LineId,
    /// Our RTP port, as put in the SDP (RTCP on the next one).
    pub local_port: u16,
    /// Where the peer wants RTP.
    pub remote: SocketAddr,
    /// Negotiated codec.
    pub codec: AudioCodec,
    /// Its payload type in this call.
    pub payload_type: u8,
    /// `telephone-event` payload type, if negotiated.
    pub telephone_event: Option<u8>,
    /// DTMF on the SIP side.
    pub dtmf_mode: DtmfMode,
    /// DTMF on the module side.
    pub gsm_dtmf: GsmDtmfPath,
    /// Packetisation period in ms.
    pub ptime: u32,
    /// Hang up after this long without RTP (F-6.5.12).
    pub rtp_timeout: Option<Duration>,
}

/// Call-progress tones the engine asks for (the shell renders them in the configured
/// tone standard, Appendix C).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallTone {
    /// Dial tone: enter the second-stage number.
    Dial,
    /// Ringback.
    Ringback,
    /// Busy / refused.
    Busy,
    /// A second call is waiting (the standard's prompt tone).
    Waiting,
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
    /// Apply a SIM call-forwarding setting (§6.11, Appendix D).
    SetForwarding(CallForwarding),
    /// Write a new IMEI; the module restarts to use it (§6.12).
    WriteImei(String),
    /// Operator selection (§6.14).
    SelectOperator(OperatorSelection),
    /// Lock to a BCCH (ARFCN), or `None` for automatic cell selection (§6.15).
    LockCell(Option<u32>),
    /// Module power (§7.7, run-policy action F-6.16.10).
    SetPower(PowerMode),
    /// Restart the module (scheduled reboot, F-6.1.10).
    Reset,
    /// Read the serving and neighbour cells (F-6.15.1 scan; rotation candidates).
    ScanCells,
    /// Unlock the SIM with its PIN (F-6.10.6).
    EnterPin(String),
    /// Enter PIN2 when the SIM asks for it (F-6.10.7).
    EnterPin2(String),
    /// Read the SIM's fixed dialling (FDN) lock (F-6.10.7); the result is `Some(1)` on,
    /// `Some(0)` off.
    ReadFixedDialing,
    /// The SIM's fixed dialling (FDN) lock on or off, with PIN2 (F-6.10.7).
    SetFixedDialing {
        /// On (`true`) or off.
        enabled: bool,
        /// The PIN2 that authorises the change.
        pin2: String,
    },
    /// Call-waiting service of the SIM on or off (F-6.8.13).
    SetCallWaiting(bool),
    /// Hold the active call, take the waiting or held one (`AT+CHLD=2`).
    HoldAndAccept,
    /// End the active call, take the waiting or held one (`AT+CHLD=1`).
    ReleaseActiveAndAccept,
    /// Reject the waiting call as busy (`AT+CHLD=0`).
    RejectWaiting,
    /// Withhold (`true`) or present the SIM's number on outbound calls (F-6.10.21).
    SetClir(bool),
    /// GPRS attach (`true`) or detach (F-6.10.1).
    SetGprs(bool),
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
    /// [`super::Gateway::handle_command_result`].
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
    /// Start the media of an answered call (open the line's audio, bridge it to RTP).
    MediaStart(MediaParams),
    /// A re-INVITE changed the call's media (hold / resume, new address).
    MediaUpdate {
        /// The call.
        call: CallRef,
        /// Where the peer wants RTP now.
        remote: Option<SocketAddr>,
        /// Whether we may send (false while the peer holds the call).
        send: bool,
    },
    /// A DTMF digit the module reported (`+QTONEDET`) for the call's bridge to send on
    /// the SIP side (RFC 4733 events or in-band).
    MediaDtmf {
        /// The call.
        call: CallRef,
        /// The digit.
        digit: char,
    },
    /// Stop the media of a call that ended (close the audio, free the port).
    MediaStop {
        /// The call.
        call: CallRef,
    },
    /// A line's counters changed: store them (they must survive restarts, §6.10).
    Counters {
        /// The line.
        line: LineId,
        /// Its counters now.
        counters: LineCounters,
    },
    /// A call attempt finished: append it to the call records.
    CallRecord(CallRecord),
    /// Send an SMS from a line (balance report, F-6.10.20).
    SendSms {
        /// Sending line.
        line: LineId,
        /// Recipient.
        number: String,
        /// Text.
        text: String,
    },
    /// Play a tone to one side of a call's media (two-stage dialling, F-6.1.8).
    MediaTone {
        /// The call.
        call: CallRef,
        /// The tone, or `None` to stop.
        tone: Option<CallTone>,
        /// `true`: toward the SIP peer; `false`: toward the GSM side.
        to_sip: bool,
    },
    /// A MESSAGE sent with [`super::Gateway::send_message`] finished.
    MessageOutcome {
        /// The id `send_message` returned.
        id: u64,
        /// Final status, or `None` when the peer never answered.
        status: Option<u16>,
    },
}

impl Output {
    /// Counters and call records: what the shell stores, as opposed to what it sends or
    /// runs. Tests that look at the signalling skip them.
    pub fn is_bookkeeping(&self) -> bool {
        matches!(self, Output::Counters { .. } | Output::CallRecord(_))
    }
}
