//! Module profiles: which dialect a simulated modem speaks, and the declarative data that
//! goes with it (identity strings, boot sequence, canned answers).

use std::time::Duration;

use cellgate_hal::ModuleKind;

/// The module family a simulated modem imitates. UC15 is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ModuleProfile {
    /// Quectel M35 (GSM), the module of GoIP-class boards.
    M35,
}

impl ModuleProfile {
    /// The HAL's name for this module family.
    pub fn kind(self) -> ModuleKind {
        match self {
            ModuleProfile::M35 => ModuleKind::M35,
        }
    }

    /// The dialect's declarative data.
    pub fn data(self) -> &'static ProfileData {
        match self {
            ModuleProfile::M35 => &super::m35::M35,
        }
    }
}

/// One unsolicited line of the boot sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootStep {
    /// Time after attach at which the line is sent.
    pub at: Duration,
    /// The URC text.
    pub urc: &'static str,
    /// Init status (`AT+QINISTAT`) once this step is done.
    pub init_status: u8,
}

/// Everything about a dialect that is data rather than behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileData {
    /// `AT+CGMI`.
    pub manufacturer: &'static str,
    /// `AT+CGMM`.
    pub model: &'static str,
    /// `AT+CGMR`.
    pub revision: &'static str,
    /// The lines `ATI` prints.
    pub ati: &'static [&'static str],
    /// First 8 digits of the modem's IMEIs.
    pub tac: &'static str,
    /// Boot URCs after attach, in time order.
    pub boot: &'static [BootStep],
    /// Settings accepted and stored without effect: `(command, value reported by the read
    /// form until set)`. Lets gateways run their init sequences.
    pub plain_settings: &'static [(&'static str, &'static str)],
    /// Canned answers to test forms (`AT+X=?`): `(command, answer line)`.
    pub test_answers: &'static [(&'static str, &'static str)],
}
