//! What a module tells the engine without being asked.

use crate::types::{
    CallIndex, Registration, ReleaseCause, SignalQuality, SimState, SmsIndex, UssdResponse,
};

/// An unsolicited event from a module, already decoded from its URCs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModemEvent {
    /// A call is ringing on this line (`RING` + `+CLIP`).
    IncomingCall {
        /// Module call index, when known.
        index: Option<CallIndex>,
        /// Caller number; `None` when withheld or not (yet) reported.
        caller: Option<String>,
    },
    /// A second call arrived while a call is up (call waiting, 3GPP TS 27.007 `+CCWA:
    /// "<number>",<type>,<class>...`; manual F-6.8.13..16). It stays waiting until
    /// [`ModemHal::hold_and_accept`](crate::ModemHal::hold_and_accept),
    /// [`ModemHal::release_active_and_accept`](crate::ModemHal::release_active_and_accept)
    /// or [`ModemHal::reject_waiting`](crate::ModemHal::reject_waiting), or until the
    /// caller gives up ([`ModemEvent::CallReleased`] with its index). No `IncomingCall` is
    /// sent for it.
    CallWaiting {
        /// Module call index of the waiting call (`+CLCC` id), when the backend could
        /// read it.
        index: Option<CallIndex>,
        /// Caller number; `None` when withheld or not reported.
        caller: Option<String>,
    },
    /// A call placed with `dial` reached the far end, which is ringing.
    CallAlerting {
        /// Module call index.
        index: CallIndex,
    },
    /// A call was answered (by the far end for outgoing calls).
    CallConnected {
        /// Module call index.
        index: CallIndex,
    },
    /// A call ended. With two calls on the module (call waiting, hold) `index` says
    /// which one; the other call goes on.
    CallReleased {
        /// Module call index.
        index: CallIndex,
        /// 3GPP TS 24.008 cause, as reported or inferred (`BUSY` -> 17).
        cause: ReleaseCause,
    },
    /// A DTMF digit was detected from the far end.
    DtmfReceived {
        /// The digit.
        digit: char,
    },
    /// A new SMS was stored on the SIM (`+CMTI`).
    SmsStored {
        /// Storage index to read.
        index: SmsIndex,
    },
    /// An SMS was delivered directly (`+CMT`): SMSC + TPDU hex.
    SmsDelivered {
        /// SMSC address + TPDU, hex.
        pdu_hex: String,
    },
    /// A status report arrived directly (`+CDS`): SMSC + TPDU hex.
    StatusReport {
        /// SMSC address + TPDU, hex.
        pdu_hex: String,
    },
    /// A status report was stored (`+CDSI`).
    StatusReportStored {
        /// Storage index to read.
        index: SmsIndex,
    },
    /// A USSD answer or network-initiated USSD.
    Ussd(UssdResponse),
    /// Registration changed (`+CREG`).
    RegistrationChanged(Registration),
    /// Signal changed (`+CSQN` and similar).
    SignalChanged(SignalQuality),
    /// SIM state changed (`+CPIN`, SIM detection).
    SimChanged(SimState),
    /// The module restarted on its own (boot URCs seen); the backend has re-initialised it.
    ModuleRestarted,
    /// The backend lost the module (no answer after recovery attempts).
    ModuleLost {
        /// What happened, for logs and the status page.
        reason: String,
    },
}

/// The receiving side of a module's event stream.
///
/// A broadcast channel: several engine parts (call control, SMS, status) may listen. Events
/// that matter for data are never only in this stream: SMS stay on the SIM until the engine
/// has persisted them and deleted them, so a lagging receiver loses no message.
pub type ModemEvents = tokio::sync::broadcast::Receiver<ModemEvent>;
