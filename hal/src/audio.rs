//! Per-line PCM audio between the engine and a module's voice path.

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::error::HalResult;
use crate::types::LineId;

/// Sample rate of every [`PcmFrame`]: narrowband telephony.
pub const SAMPLE_RATE_HZ: u32 = 8_000;
/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// 20 ms of signed 16-bit mono PCM at 8 kHz: the unit the media bridge moves.
pub type PcmFrame = [i16; FRAME_SAMPLES];

/// An open audio path for one line: frames from the module (what the GSM party says)
/// and a sender for frames to the module (what the VoIP party says).
#[derive(Debug)]
pub struct AudioChannel {
    /// Frames heard on the GSM side, every 20 ms while a call is up.
    pub from_gsm: mpsc::Receiver<PcmFrame>,
    /// Frames to play to the GSM side.
    pub to_gsm: mpsc::Sender<PcmFrame>,
}

/// Source and sink of a line's voice PCM: a DSP PCM device, a UC15 `AT+QPCMV` port, a USB
/// sound card, or the simulator.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AudioHal: Send + Sync {
    /// Open the audio path of a line (normally when its call connects).
    async fn open(&self, line: LineId) -> HalResult<AudioChannel>;
    /// Close the audio path of a line.
    async fn close(&self, line: LineId) -> HalResult<()>;
}
