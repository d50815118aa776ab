//! `AudioHal` backends that need no simulator: raw s16le PCM devices, FIFOs or files
//! ([`pcm_device`]: the DSP PCM path of GoIP boards, the UC15 `AT+QPCMV` serial audio
//! port), and USB-audio modems through cpal ([`cpal_backend`], feature `cpal`).

#[cfg(feature = "cpal")]
pub mod cpal_backend;
pub mod pcm_device;

#[cfg(feature = "cpal")]
pub use cpal_backend::{CpalAudio, CpalDevices};
pub use pcm_device::{PcmDeviceAudio, PcmDevicePaths};
