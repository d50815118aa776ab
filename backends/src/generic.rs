//! The generic 3GPP TS 27.007 profile for modules the backend does not know: standard
//! commands only (`AT+CLIP=1`, `AT+CCWA=1`, `AT+CREG=2`, `AT+COPS=3,0` at init; call
//! waiting and hold with `AT+CCWA` / `AT+CHLD`), call progress by `AT+CLCC` polling, ICCID
//! by `AT+CCID` (then `AT+ICCID`), no cell information, no BCCH lock, no IMEI write, no
//! readiness check, no count of PIN2 tries.

use cellgate_hal::ModuleKind;

use crate::dialect::{CallProgress, CellInfoStyle, Dialect, Pin2Counter, Readiness};

/// The generic 27.007 dialect.
pub const GENERIC: Dialect = Dialect {
    kind: ModuleKind::Generic,
    name: "generic 27.007",
    init: &["AT+CLIP=1", "AT+CCWA=1", "AT+CREG=2", "AT+COPS=3,0"],
    audio: &[],
    call_progress: CallProgress::ClccPolling,
    iccid_commands: &["AT+CCID", "AT+ICCID"],
    cell_info: CellInfoStyle::Unsupported,
    imei_write: false,
    bcch_lock: false,
    readiness: Readiness::None,
    pin2_counter: Pin2Counter::Unknown,
};
