//! Voice codecs: G.711 A-law and µ-law (hand-written, [`g711`]) and G.729 / G.729 Annex B
//! through the pure-Rust `g729-sys` crate.
//!
//! G.722 is not offered: the crates that have it decode to 16 kHz, and the modem side of
//! the gateway is 8 kHz narrowband, so it would add two resamplers for no audible gain.
//! G.723.1 (named by the vendor manual, F-3.2.3) is not supported: no usable Rust
//! implementation exists; it is documented in `docs/media.md`.

pub mod g711;

use std::fmt;

use cellgate_hal::{PcmFrame, FRAME_SAMPLES};
use thiserror::Error;

/// Samples in one G.729 frame (10 ms).
const G729_FRAME_SAMPLES: usize = 80;
/// Bytes of one G.729 voice frame.
const G729_FRAME_BYTES: usize = 10;
/// Bytes of one G.729 Annex B SID (comfort-noise) frame.
const G729_SID_BYTES: usize = 2;

/// A voice codec the media plane can encode and decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law (PCMU), static payload type 0.
    Pcmu,
    /// G.711 A-law (PCMA), static payload type 8.
    Pcma,
    /// G.729 (with Annex A/B interoperability), static payload type 18.
    G729,
}

impl Codec {
    /// Every supported codec, in the default preference order.
    pub const ALL: [Codec; 3] = [Codec::Pcma, Codec::Pcmu, Codec::G729];

    /// Static RTP payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
            Codec::G729 => 18,
        }
    }

    /// Encoding name in an SDP `a=rtpmap` line.
    pub fn rtpmap_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G729 => "G729",
        }
    }

    /// RTP clock rate (all are 8 kHz).
    pub fn clock_rate(self) -> u32 {
        8_000
    }

    /// Smallest packetisation period the codec supports, in ms (F-6.5.2 clamps to it).
    pub fn min_ptime_ms(self) -> u32 {
        10
    }

    /// Payload bytes for `samples` samples of audio.
    pub fn payload_len(self, samples: usize) -> usize {
        match self {
            Codec::Pcmu | Codec::Pcma => samples,
            Codec::G729 => samples / G729_FRAME_SAMPLES * G729_FRAME_BYTES,
        }
    }

    /// Samples carried by a payload of `len` bytes (G.729 SID frames count as 10 ms).
    pub fn samples_in(self, len: usize) -> usize {
        match self {
            Codec::Pcmu | Codec::Pcma => len,
            Codec::G729 => {
                let voice = len / G729_FRAME_BYTES;
                let sid = usize::from(len % G729_FRAME_BYTES == G729_SID_BYTES);
                (voice + sid) * G729_FRAME_SAMPLES
            }
        }
    }

    /// Looks a codec up by rtpmap name (case-insensitive).
    pub fn from_rtpmap_name(name: &str) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|c| c.rtpmap_name().eq_ignore_ascii_case(name))
    }

    /// Looks a codec up by static payload type.
    pub fn from_static_payload_type(pt: u8) -> Option<Codec> {
        Codec::ALL.into_iter().find(|c| c.payload_type() == pt)
    }

    /// A fresh encoder.
    pub fn encoder(self) -> Encoder {
        Encoder::new(self)
    }

    /// A fresh decoder.
    pub fn decoder(self) -> Decoder {
        Decoder::new(self)
    }

    /// One-shot encode of a 20 ms frame (allocates; the bridge uses [`Encoder`]).
    pub fn encode(self, frame: &PcmFrame) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.payload_len(FRAME_SAMPLES));
        self.encoder().encode_into(frame, &mut out);
        out
    }

    /// One-shot decode of a 20 ms payload (allocates a fresh decoder).
    pub fn decode(self, payload: &[u8]) -> Result<PcmFrame, CodecError> {
        let mut samples = Vec::with_capacity(FRAME_SAMPLES);
        self.decoder().decode_into(payload, &mut samples)?;
        let mut frame = [0i16; FRAME_SAMPLES];
        if samples.len() != FRAME_SAMPLES {
            return Err(CodecError::BadLength {
                codec: self,
                len: payload.len(),
            });
        }
        frame.copy_from_slice(&samples);
        Ok(frame)
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rtpmap_name())
    }
}

/// A payload a decoder cannot take.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    /// The payload length is not a whole number of codec frames.
    #[error("{codec} payload of {len} bytes is not a whole number of frames")]
    BadLength {
        /// The codec.
        codec: Codec,
        /// The payload length.
        len: usize,
    },
}

/// Stateful encoder of one direction of one call.
pub struct Encoder {
    codec: Codec,
    g729: Option<Box<g729_sys::Encoder>>,
}

impl fmt::Debug for Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder")
            .field("codec", &self.codec)
            .finish()
    }
}

impl Encoder {
    /// A fresh encoder for `codec`. G.729 is encoded without Annex B VAD: silence
    /// suppression is done codec-independently by [`crate::silence`].
    pub fn new(codec: Codec) -> Self {
        let g729 = (codec == Codec::G729).then(|| Box::new(g729_sys::Encoder::new(false)));
        Encoder { codec, g729 }
    }

    /// The codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Appends the encoding of `samples` to `out`. `samples.len()` should be a multiple of
    /// 80 for G.729 (a trailing partial frame is zero-padded).
    pub fn encode_into(&mut self, samples: &[i16], out: &mut Vec<u8>) {
        match self.codec {
            Codec::Pcmu => out.extend(samples.iter().map(|&s| g711::linear_to_ulaw(s))),
            Codec::Pcma => out.extend(samples.iter().map(|&s| g711::linear_to_alaw(s))),
            Codec::G729 => {
                let Some(enc) = self.g729.as_mut() else {
                    return;
                };
                for chunk in samples.chunks(G729_FRAME_SAMPLES) {
                    let mut input = [0i16; G729_FRAME_SAMPLES];
                    input[..chunk.len()].copy_from_slice(chunk);
                    let mut bits = [0u8; G729_FRAME_BYTES];
                    let n = usize::from(enc.encode_into(&input, &mut bits));
                    out.extend_from_slice(&bits[..n.min(G729_FRAME_BYTES)]);
                }
            }
        }
    }
}

/// Stateful decoder of one direction of one call, with packet-loss concealment.
pub struct Decoder {
    codec: Codec,
    g729: Option<Box<g729_sys::Decoder>>,
    /// Last decoded samples, for G.711 pitch-repeat concealment.
    history: [i16; HISTORY],
    /// Pitch period found at the start of a loss, and the read position in it.
    period: usize,
    phase: usize,
    /// Consecutive concealed 10 ms blocks.
    concealed: u32,
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("codec", &self.codec)
            .field("concealed", &self.concealed)
            .finish()
    }
}

/// G.711 concealment fades out over this many 10 ms blocks (60 ms), then is silent.
const PLC_FADE_BLOCKS: u32 = 6;
/// Decoded samples kept for concealment (30 ms).
const HISTORY: usize = 240;
/// Pitch search range in samples (57-400 Hz).
const PITCH_MIN: usize = 20;
const PITCH_MAX: usize = 140;

/// The period (PITCH_MIN..=PITCH_MAX) that best predicts the last 60 samples of `h` from
/// the samples one period earlier (normalised autocorrelation).
fn find_pitch(h: &[i16; HISTORY]) -> usize {
    const WIN: usize = 60;
    let end = HISTORY;
    let mut best = (f64::MIN, PITCH_MIN);
    for p in PITCH_MIN..=PITCH_MAX {
        let (mut xy, mut yy) = (0.0, 0.0);
        for i in end - WIN..end {
            let x = f64::from(h[i]);
            let y = f64::from(h[i - p]);
            xy += x * y;
            yy += y * y;
        }
        let score = if yy > 0.0 { xy / yy.sqrt() } else { 0.0 };
        if score > best.0 {
            best = (score, p);
        }
    }
    best.1
}

impl Decoder {
    /// A fresh decoder for `codec`.
    pub fn new(codec: Codec) -> Self {
        let g729 = (codec == Codec::G729).then(|| Box::new(g729_sys::Decoder::new()));
        Decoder {
            codec,
            g729,
            history: [0; HISTORY],
            period: PITCH_MIN,
            phase: 0,
            concealed: 0,
        }
    }

    /// The codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Decodes `payload`, appending the samples to `out`.
    pub fn decode_into(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        match self.codec {
            Codec::Pcmu => out.extend(payload.iter().map(|&b| g711::ulaw_to_linear(b))),
            Codec::Pcma => out.extend(payload.iter().map(|&b| g711::alaw_to_linear(b))),
            Codec::G729 => {
                let rest = payload.len() % G729_FRAME_BYTES;
                if rest != 0 && rest != G729_SID_BYTES {
                    return Err(CodecError::BadLength {
                        codec: self.codec,
                        len: payload.len(),
                    });
                }
                let Some(dec) = self.g729.as_mut() else {
                    return Ok(());
                };
                for chunk in payload.chunks(G729_FRAME_BYTES) {
                    let sid = chunk.len() == G729_SID_BYTES;
                    out.extend_from_slice(&dec.decode(chunk, false, sid, false));
                }
            }
        }
        let fresh = &out[out.len().saturating_sub(HISTORY)..];
        self.history.copy_within(fresh.len().., 0);
        self.history[HISTORY - fresh.len()..].copy_from_slice(fresh);
        self.concealed = 0;
        Ok(())
    }

    /// Appends `samples` of concealment for a lost packet: G.729's own erasure
    /// concealment, or for G.711 the last 10 ms repeated with a linear fade to silence
    /// over 60 ms.
    pub fn conceal_into(&mut self, samples: usize, out: &mut Vec<i16>) {
        let blocks = samples.div_ceil(G729_FRAME_SAMPLES);
        let target = out.len() + samples;
        for _ in 0..blocks {
            match self.g729.as_mut() {
                Some(dec) => out.extend_from_slice(&dec.decode(&[], true, false, false)),
                None => {
                    // Repeat the last pitch period (phase-continuous), fading to silence.
                    if self.concealed == 0 {
                        self.period = find_pitch(&self.history);
                        self.phase = 0;
                    }
                    let n = self.concealed;
                    let total = (PLC_FADE_BLOCKS * G729_FRAME_SAMPLES as u32) as i32;
                    let base = HISTORY - self.period;
                    for i in 0..G729_FRAME_SAMPLES {
                        let s = self.history[base + self.phase];
                        self.phase = (self.phase + 1) % self.period;
                        let pos = (n * G729_FRAME_SAMPLES as u32) as i32 + i as i32;
                        let gain = (total - pos).max(0);
                        out.push((i32::from(s) * gain / total) as i16);
                    }
                }
            }
            self.concealed = self.concealed.saturating_add(1);
        }
        out.truncate(target);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_sizes() {
        assert_eq!(Codec::Pcmu.payload_len(160), 160);
        assert_eq!(Codec::G729.payload_len(160), 20);
        assert_eq!(Codec::G729.samples_in(20), 160);
        assert_eq!(Codec::G729.samples_in(22), 240);
        assert_eq!(Codec::from_rtpmap_name("pcma"), Some(Codec::Pcma));
        assert_eq!(Codec::from_static_payload_type(18), Some(Codec::G729));
    }

    #[test]
    fn g729_rejects_odd_lengths_and_round_trips_lengths() {
        let frame = [0i16; FRAME_SAMPLES];
        let bits = Codec::G729.encode(&frame);
        assert_eq!(bits.len(), 20);
        assert!(Codec::G729.decode(&bits).is_ok());
        assert!(Codec::G729.decode(&[1, 2, 3]).is_err());
    }

    #[test]
    fn g711_concealment_fades_out() {
        let mut dec = Codec::Pcmu.decoder();
        let mut out = Vec::new();
        dec.decode_into(&[0x80; 160], &mut out).unwrap_or_default();
        out.clear();
        dec.conceal_into(160, &mut out);
        assert_eq!(out.len(), 160);
        assert!(out[0].abs() > 30_000);
        out.clear();
        dec.conceal_into(480, &mut out);
        assert_eq!(out[out.len() - 1], 0);
    }
}
