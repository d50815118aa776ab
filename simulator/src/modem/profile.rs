//! Module profiles: which dialect a simulated modem speaks, and the declarative data that
//! goes with it (identity strings, boot sequence, canned answers).

use std::time::Duration;

use cellgate_hal::ModuleKind;

/// The module family a simulated modem imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ModuleProfile {
    /// Quectel M35 (GSM), the module of GoIP-class boards.
    M35,
    /// Quectel UC15 (UMTS/HSPA with GSM fallback).
    Uc15,
}

impl ModuleProfile {
    /// The HAL's name for this module family.
    pub fn kind(self) -> ModuleKind {
        match self {
            ModuleProfile::M35 => ModuleKind::M35,
            ModuleProfile::Uc15 => ModuleKind::Uc15,
        }
    }

    /// The dialect's declarative data.
    pub fn data(self) -> &'static ProfileData {
        match self {
            ModuleProfile::M35 => &super::m35::M35,
            ModuleProfile::Uc15 => &super::uc15::UC15,
        }
    }

    /// Parses `m35` / `uc15` (any case), as the command line and scenario files write it.
    pub fn parse(s: &str) -> Option<ModuleProfile> {
        match s.trim().to_ascii_lowercase().as_str() {
            "m35" => Some(ModuleProfile::M35),
            "uc15" => Some(ModuleProfile::Uc15),
            _ => None,
        }
    }

    /// `m35` / `uc15`.
    pub fn name(self) -> &'static str {
        match self {
            ModuleProfile::M35 => "m35",
            ModuleProfile::Uc15 => "uc15",
        }
    }
}

/// What a boot step prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootUrc {
    /// A fixed line (`RDY`, `Call Ready`, ...).
    Text(&'static str),
    /// The SIM state as `+CPIN: <state>` (`READY`, `SIM PIN`, `NOT INSERTED`, ...).
    SimState,
}

/// One unsolicited line of the boot sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootStep {
    /// Time after power-on at which the line is sent.
    pub at: Duration,
    /// The URC.
    pub urc: BootUrc,
    /// Init status (`AT+QINISTAT`) once this step is done.
    pub init_status: u8,
    /// The step only happens with a ready SIM (boot pauses here until the PIN is entered).
    pub needs_sim: bool,
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
    /// Boot URCs after power-on, in time order. The first one must be `RDY`.
    pub boot: &'static [BootStep],
    /// `AT+QINISTAT` value meaning "ready" (M35 3, UC15 bitmap 7).
    pub ready_status: u8,
    /// Prefix of the `AT+QCCID` answer (`""` bare digits on M35, `"+QCCID: "` on UC15).
    pub qccid_prefix: &'static str,
    /// `<AcT>` appended to `+CREG` location answers (`None`: GSM-only module, no AcT).
    pub creg_act: Option<u8>,
    /// Settings accepted and stored without effect: `(command, value reported by the read
    /// form until set)`. Lets gateways run their init sequences.
    pub plain_settings: &'static [(&'static str, &'static str)],
    /// Canned answers to test forms (`AT+X=?`): `(command, answer line)`.
    pub test_answers: &'static [(&'static str, &'static str)],
}
