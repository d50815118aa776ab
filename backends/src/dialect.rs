//! Module dialects: what differs between the modules the backend drives.
//!
//! One [`crate::AtModem`] implements every [`cellgate_hal::ModemHal`] operation over a
//! [`Dialect`]: a table of data (init commands, ICCID commands, readiness check, ...)
//! and a few choices (call-progress mode, cell-info format). [`detect`] picks the dialect
//! from the `AT+CGMM` answer: `Quectel_M35` -> [`crate::m35::M35`], `UC15` ->
//! [`crate::uc15::UC15`], anything else -> [`crate::generic::GENERIC`].

use cellgate_hal::ModuleKind;

/// How the backend learns that an outgoing call is alerting, answered or gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallProgress {
    /// The module reports `MO RING` / `MO CONNECTED` (M35 after `AT+QMOSTAT=1`) and
    /// `NO CARRIER` / `BUSY` at the end.
    MoUrcs,
    /// Poll `AT+CLCC` about once a second while a call exists (UC15, generic 27.007);
    /// `NO CARRIER`/`BUSY` URCs still end calls early when they come.
    ClccPolling,
}

/// Which cell-information command and answer format the module has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellInfoStyle {
    /// M35: `AT+QENG=1,1`, then `AT+QENG?` with `+QENG: 0,...` (serving) and
    /// `+QENG: 1,...` (neighbours) rows.
    M35Qeng,
    /// UC15: `AT+QENG="servingcell"` (WCDMA or GSM form) and `AT+QENG="neighbourcell"`.
    Uc15Qeng,
    /// No vendor command known: `cell_info` returns `Unsupported`.
    Unsupported,
}

/// How init decides that the module and SIM have finished starting up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Nothing to wait for.
    None,
    /// `AT+QINISTAT` counts up; ready at this value or more (M35: 3).
    QinistatCount(u8),
    /// `AT+QINISTAT` is a bitmap; ready when all these bits are set (UC15: 7).
    QinistatBitmap(u8),
}

impl Readiness {
    /// Whether a `+QINISTAT` value means "ready".
    pub fn is_ready(self, value: u8) -> bool {
        match self {
            Readiness::None => true,
            Readiness::QinistatCount(n) => value >= n,
            Readiness::QinistatBitmap(mask) => value & mask == mask,
        }
    }
}

/// How the module tells how many PIN2 (CHV2) tries the SIM has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin2Counter {
    /// M35: `AT+QTRPIN` -> `+QTRPIN: <pin1>,<pin2>,<puk1>,<puk2>`.
    Qtrpin,
    /// UC15: `AT+QPINC="P2"` -> `+QPINC: "P2",<pin2>,<puk2>`.
    Qpinc,
    /// No command known: the count is not checked.
    Unknown,
}

/// Everything that differs between module families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// The module family reported by `ModemHal::kind`.
    pub kind: ModuleKind,
    /// Human-readable name for logs.
    pub name: &'static str,
    /// Dialect commands run after `ATE0` / `AT+CMEE=1`; a refusal is logged, not fatal.
    pub init: &'static [&'static str],
    /// Default audio set-up (overridable with `AtModemConfig::audio_init`).
    pub audio: &'static [&'static str],
    /// Call-progress mode.
    pub call_progress: CallProgress,
    /// Commands that read the ICCID, tried in order until one answers.
    pub iccid_commands: &'static [&'static str],
    /// Cell-information format.
    pub cell_info: CellInfoStyle,
    /// Whether `AT+EGMR=1,7,"<imei>"` writes the IMEI.
    pub imei_write: bool,
    /// Whether `AT+QLOCKF=1,<arfcn>` / `AT+QLOCKF=0` lock and unlock the BCCH
    /// (`lock_cell`); without it `lock_cell` returns `Unsupported`.
    pub bcch_lock: bool,
    /// Readiness check after init.
    pub readiness: Readiness,
    /// Where the SIM's remaining PIN2 tries are read (the last try is never used by the
    /// gateway on its own).
    pub pin2_counter: Pin2Counter,
}

/// The dialect for an `AT+CGMM` answer.
pub fn detect(model: &str) -> &'static Dialect {
    let upper = model.trim().to_ascii_uppercase();
    if upper.contains("M35") {
        &crate::m35::M35
    } else if upper.contains("UC15") {
        &crate::uc15::UC15
    } else {
        &crate::generic::GENERIC
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_by_model() {
        assert_eq!(detect("Quectel_M35").kind, ModuleKind::M35);
        assert_eq!(detect("UC15").kind, ModuleKind::Uc15);
        assert_eq!(detect(" uc15 ").kind, ModuleKind::Uc15);
        assert_eq!(detect("SIM800").kind, ModuleKind::Generic);
        assert_eq!(detect("").kind, ModuleKind::Generic);
    }

    #[test]
    fn readiness_values() {
        assert!(Readiness::QinistatCount(3).is_ready(3));
        assert!(!Readiness::QinistatCount(3).is_ready(2));
        assert!(Readiness::QinistatBitmap(7).is_ready(7));
        assert!(!Readiness::QinistatBitmap(7).is_ready(3));
        assert!(Readiness::None.is_ready(0));
    }
}
