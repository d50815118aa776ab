//! The module operations the engine may ask for.

use async_trait::async_trait;

use crate::error::HalResult;
use crate::events::ModemEvents;
use crate::types::{
    CallForwarding, CallIndex, CallInfo, CellInfo, DtmfDigit, ForwardReason, GprsStatus,
    ModemIdentity, ModuleKind, Operator, OperatorSelection, OutgoingPdu, PowerMode, Registration,
    SignalQuality, SimState, SmsFilter, SmsIndex, StoredSms, UssdResponse,
};

/// One GSM/UMTS module with its SIM, seen through module operations and events.
///
/// Implemented by the AT backend (real modules, and the simulator's modems over a byte
/// stream). A backend that cannot perform an operation returns
/// [`HalError::Unsupported`](crate::HalError::Unsupported); it never panics.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ModemHal: Send + Sync {
    /// Which dialect the backend is speaking.
    fn kind(&self) -> ModuleKind;

    /// Subscribe to the module's unsolicited events.
    fn subscribe(&self) -> ModemEvents;

    // --- identity and SIM ---

    /// Manufacturer, model, firmware, IMEI, IMSI, ICCID.
    async fn identity(&self) -> HalResult<ModemIdentity>;
    /// Current SIM state.
    async fn sim_state(&self) -> HalResult<SimState>;
    /// Enter the PIN (or PUK and a new PIN when `new_pin` is given).
    async fn enter_pin(&self, pin: &str, new_pin: Option<String>) -> HalResult<()>;
    /// Enter PIN2 (`AT+CPIN="<pin2>"`) when the SIM asks for it
    /// ([`SimState::Pin2Required`]); does nothing when it does not, so a PIN2 is never
    /// offered to a SIM waiting for PIN 1. A wrong PIN2 uses up one of the SIM's three
    /// CHV2 tries. Backends without this return
    /// [`HalError::Unsupported`](crate::HalError::Unsupported).
    async fn enter_pin2(&self, pin2: &str) -> HalResult<()> {
        let _ = pin2;
        Err(crate::HalError::Unsupported("enter_pin2"))
    }
    /// Whether the SIM's fixed dialling (FDN) lock is on (`AT+CLCK="FD",2`; no PIN2
    /// needed to read it).
    async fn fixed_dialing(&self) -> HalResult<bool> {
        Err(crate::HalError::Unsupported("fixed_dialing"))
    }
    /// Switch the SIM's fixed dialling (FDN) lock on or off with PIN2
    /// (`AT+CLCK="FD",1|0,"<pin2>"`, manual F-6.10.7). With FDN on, the SIM only lets
    /// the module call the numbers of its FDN phonebook. A wrong PIN2 uses up one try.
    async fn set_fixed_dialing(&self, enabled: bool, pin2: &str) -> HalResult<()> {
        let _ = (enabled, pin2);
        Err(crate::HalError::Unsupported("set_fixed_dialing"))
    }
    /// Own number as stored on the SIM (`AT+CNUM`), when present.
    async fn own_number(&self) -> HalResult<Option<String>>;

    // --- network ---

    /// Registration state with location.
    async fn registration(&self) -> HalResult<Registration>;
    /// Signal quality.
    async fn signal(&self) -> HalResult<SignalQuality>;
    /// Registered operator, `None` when not registered.
    async fn operator(&self) -> HalResult<Option<Operator>>;
    /// Choose the operator automatically or lock to one.
    async fn select_operator(&self, selection: OperatorSelection) -> HalResult<()>;
    /// Serving cell and, where the module reports them, neighbours (serving first).
    async fn cell_info(&self) -> HalResult<Vec<CellInfo>>;
    /// Lock the module to the cell whose BCCH is on `arfcn` ("fixed" cell selection,
    /// manual §6.15), or unlock it with `None` (automatic cell selection). A module
    /// without a BCCH lock command returns
    /// [`HalError::Unsupported`](crate::HalError::Unsupported).
    async fn lock_cell(&self, arfcn: Option<u32>) -> HalResult<()>;

    // --- calls ---

    /// Place a voice call. Returns the module's call index once the module accepted the
    /// dial; progress (alerting, connected, released) arrives as events.
    async fn dial(&self, number: &str) -> HalResult<CallIndex>;
    /// Answer the ringing call.
    async fn answer(&self) -> HalResult<()>;
    /// Release all calls on the module.
    async fn hang_up(&self) -> HalResult<()>;
    /// Send one DTMF digit into the active call.
    async fn send_dtmf(&self, digit: DtmfDigit) -> HalResult<()>;
    /// The module's current call list.
    async fn calls(&self) -> HalResult<Vec<CallInfo>>;

    // --- call waiting and hold (3GPP TS 27.007 +CCWA / +CHLD, TS 22.030 and 22.083;
    // manual F-6.8.13 to F-6.8.16) ---

    /// Enable or disable the call-waiting service of the SIM's subscription
    /// (`AT+CCWA=1,1` / `AT+CCWA=1,0`: `+CCWA` presentation stays on, the network service
    /// is activated or deactivated for the default classes). Disabled (F-6.8.13), a
    /// second caller gets busy while a call is up; enabled, the line reports
    /// [`ModemEvent::CallWaiting`](crate::ModemEvent::CallWaiting).
    async fn set_call_waiting(&self, enabled: bool) -> HalResult<()>;
    /// Put the active call on hold and accept the waiting call, or, without a waiting
    /// call, the held one (`AT+CHLD=2`). With one active and one held call this swaps
    /// them (F-6.8.14 to F-6.8.16); with only a held call it resumes it.
    async fn hold_and_accept(&self) -> HalResult<()>;
    /// Release the active call and accept the waiting call, or, without a waiting call,
    /// resume the held one (`AT+CHLD=1`).
    async fn release_active_and_accept(&self) -> HalResult<()>;
    /// Reject the waiting call (released as user busy, cause 17), or, without a waiting
    /// call, release the held one (`AT+CHLD=0`). The active call is not touched.
    async fn reject_waiting(&self) -> HalResult<()>;

    // --- SMS ---

    /// Send an SMS PDU; returns the message reference (`+CMGS: <mr>`).
    async fn send_sms(&self, pdu: &OutgoingPdu) -> HalResult<u8>;
    /// List stored messages.
    async fn list_sms(&self, filter: SmsFilter) -> HalResult<Vec<StoredSms>>;
    /// Read one stored message.
    async fn read_sms(&self, index: SmsIndex) -> HalResult<StoredSms>;
    /// Delete one stored message. The engine calls this only after persisting it.
    async fn delete_sms(&self, index: SmsIndex) -> HalResult<()>;

    // --- supplementary services ---

    /// Send a USSD string; the first answer is returned, later ones arrive as events.
    async fn send_ussd(&self, text: &str) -> HalResult<UssdResponse>;
    /// Set a call-forwarding rule on the SIM.
    async fn set_call_forwarding(&self, setting: &CallForwarding) -> HalResult<()>;
    /// Read a call-forwarding rule.
    async fn call_forwarding(&self, reason: ForwardReason) -> HalResult<CallForwarding>;
    /// Caller-ID anonymity for calls this line makes (3GPP TS 27.007 §7.7 `+CLIR`,
    /// manual F-6.10.21): `withheld` sends `AT+CLIR=1` (CLIR invoked: the called party
    /// sees no number), otherwise `AT+CLIR=0` (presentation as the subscription has it).
    /// The setting is the module's, so it is lost on a module restart.
    async fn set_clir(&self, withheld: bool) -> HalResult<()>;

    // --- packet data (3GPP TS 27.007 §10.1) ---

    /// Attach to or detach from the GPRS service (`AT+CGATT=1` / `AT+CGATT=0`, manual
    /// F-6.10.1). Attaching needs circuit-switched registration; the network may take
    /// long to answer.
    async fn set_gprs_attached(&self, attached: bool) -> HalResult<()>;
    /// GPRS registration (`AT+CGREG?`) and attach state (`AT+CGATT?`), for the status
    /// page (manual F-5.2.3.5 / F-5.2.3.6).
    async fn gprs_status(&self) -> HalResult<GprsStatus>;

    // --- module management ---

    /// Write a new IMEI (takes effect after a module restart on most modules).
    async fn write_imei(&self, imei: &str) -> HalResult<()>;
    /// Set the power level.
    async fn set_power(&self, mode: PowerMode) -> HalResult<()>;
    /// Restart the module and re-initialise it.
    async fn reset(&self) -> HalResult<()>;
}
