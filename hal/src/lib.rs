//! # cellgate-hal
//!
//! The seam between the hardware-agnostic engine and whatever drives a GSM/UMTS module:
//! an AT-command backend on a serial port, or the built-in network simulator.
//!
//! The engine depends on this crate only. Operations are expressed at the level of module
//! operations and events (dial, send an SMS PDU, incoming call with caller id), never as AT
//! strings, so the same engine runs on M35, UC15 or a generic 27.007 module.

pub mod audio;
pub mod error;
pub mod events;
pub mod modem;
pub mod types;

pub use audio::{AudioChannel, AudioHal, PcmFrame, FRAME_SAMPLES, SAMPLE_RATE_HZ};
pub use error::{HalError, HalResult};
pub use events::{ModemEvent, ModemEvents};
pub use modem::ModemHal;
pub use types::*;

#[cfg(feature = "mock")]
pub use audio::MockAudioHal;
#[cfg(feature = "mock")]
pub use modem::MockModemHal;
