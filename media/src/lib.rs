//! The media plane of cellgate: everything between an RTP stream on the SIP side and a
//! modem's 8 kHz PCM on the GSM side.
//!
//! Sans-IO cores take packets, frames and the current time and return packets, frames and
//! events: [`rtp`], [`rtcp`], [`codec`], [`sdp`], [`jitter`], [`silence`], [`dtmf`],
//! [`tones`], [`gain`], [`prompt`] and the hot path [`bridge`]. The tokio shell
//! [`session::MediaSession`] owns the UDP sockets and an [`cellgate_hal::AudioChannel`];
//! [`audio`] has `AudioHal` backends for PCM devices (and cpal behind the `cpal` feature).

pub mod audio;
pub mod bridge;
pub mod codec;
pub mod dtmf;
pub mod gain;
pub mod jitter;
pub mod prompt;
pub mod rtcp;
pub mod rtp;
pub mod sdp;
pub mod session;
pub mod silence;
pub mod tones;
