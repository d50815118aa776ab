//! IVR voice prompts from audio files (F-6.1.12): WAV (16-bit PCM, A-law or µ-law, mono,
//! 8 kHz) or headerless files named by extension (`.raw`/`.sln`/`.s16` s16le, `.ul`/
//! `.pcmu`, `.al`/`.pcma`), cut into 20 ms frames.

use std::path::Path;

use cellgate_hal::{PcmFrame, FRAME_SAMPLES};
use thiserror::Error;

use crate::codec::g711;

/// Why a prompt file cannot be used.
#[derive(Debug, Error)]
pub enum PromptError {
    /// Reading the file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Not a WAV file we can play.
    #[error("unsupported audio: {0}")]
    Unsupported(String),
}

/// A prompt as 20 ms frames (the last one zero-padded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    frames: Vec<PcmFrame>,
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

impl Prompt {
    /// From linear samples.
    pub fn from_samples(samples: &[i16]) -> Prompt {
        let frames = samples
            .chunks(FRAME_SAMPLES)
            .map(|c| {
                let mut f = [0i16; FRAME_SAMPLES];
                f[..c.len()].copy_from_slice(c);
                f
            })
            .collect();
        Prompt { frames }
    }

    /// Parses a RIFF/WAVE file.
    pub fn from_wav(bytes: &[u8]) -> Result<Prompt, PromptError> {
        let bad = |m: &str| PromptError::Unsupported(m.to_string());
        if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
            return Err(bad("not a RIFF/WAVE file"));
        }
        let mut at = 12;
        let mut format = None;
        while at + 8 <= bytes.len() {
            let id = &bytes[at..at + 4];
            let len = le32(bytes, at + 4).ok_or_else(|| bad("truncated chunk"))? as usize;
            let body = bytes
                .get(at + 8..(at + 8).saturating_add(len).min(bytes.len()))
                .unwrap_or_default();
            if id == b"fmt " {
                let tag = le16(body, 0).ok_or_else(|| bad("short fmt chunk"))?;
                let channels = le16(body, 2).ok_or_else(|| bad("short fmt chunk"))?;
                let rate = le32(body, 4).ok_or_else(|| bad("short fmt chunk"))?;
                let bits = le16(body, 14).ok_or_else(|| bad("short fmt chunk"))?;
                if channels != 1 || rate != 8_000 {
                    return Err(bad(&format!(
                        "{channels} channel(s) at {rate} Hz; need mono 8000 Hz"
                    )));
                }
                format = Some((tag, bits));
            } else if id == b"data" {
                let samples: Vec<i16> = match format {
                    Some((1, 16)) => body
                        .chunks_exact(2)
                        .map(|c| i16::from_le_bytes([c[0], c[1]]))
                        .collect(),
                    Some((6, 8)) => body.iter().map(|&b| g711::alaw_to_linear(b)).collect(),
                    Some((7, 8)) => body.iter().map(|&b| g711::ulaw_to_linear(b)).collect(),
                    Some((tag, bits)) => {
                        return Err(bad(&format!("format {tag} with {bits} bits")))
                    }
                    None => return Err(bad("data before fmt")),
                };
                return Ok(Prompt::from_samples(&samples));
            }
            at = at + 8 + len + (len & 1);
        }
        Err(bad("no data chunk"))
    }

    /// Parses a file by its extension (`.wav`, or headerless raw formats).
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Prompt, PromptError> {
        let ext = name
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match ext.as_str() {
            "wav" => Prompt::from_wav(bytes),
            "raw" | "sln" | "s16" | "pcm" => {
                let s: Vec<i16> = bytes
                    .chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]))
                    .collect();
                Ok(Prompt::from_samples(&s))
            }
            "ul" | "ulaw" | "pcmu" | "mu" => Ok(Prompt::from_samples(
                &bytes
                    .iter()
                    .map(|&b| g711::ulaw_to_linear(b))
                    .collect::<Vec<_>>(),
            )),
            "al" | "alaw" | "pcma" => Ok(Prompt::from_samples(
                &bytes
                    .iter()
                    .map(|&b| g711::alaw_to_linear(b))
                    .collect::<Vec<_>>(),
            )),
            other => Err(PromptError::Unsupported(format!(
                "unknown extension `{other}`"
            ))),
        }
    }

    /// Reads and parses a file.
    pub async fn load(path: &Path) -> Result<Prompt, PromptError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|source| PromptError::Io {
                path: path.display().to_string(),
                source,
            })?;
        Prompt::from_bytes(&path.to_string_lossy(), &bytes)
    }

    /// The frames.
    pub fn frames(&self) -> &[PcmFrame] {
        &self.frames
    }

    /// Duration in ms.
    pub fn duration_ms(&self) -> u32 {
        self.frames.len() as u32 * 20
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(tag: u16, bits: u16, rate: u32, data: &[u8]) -> Vec<u8> {
        let mut v = b"RIFF".to_vec();
        v.extend(((36 + data.len()) as u32).to_le_bytes());
        v.extend(b"WAVEfmt ");
        v.extend(16u32.to_le_bytes());
        v.extend(tag.to_le_bytes());
        v.extend(1u16.to_le_bytes());
        v.extend(rate.to_le_bytes());
        v.extend((rate * u32::from(bits) / 8).to_le_bytes());
        v.extend((bits / 8).to_le_bytes());
        v.extend(bits.to_le_bytes());
        v.extend(b"LIST");
        v.extend(3u32.to_le_bytes());
        v.extend([1, 2, 3, 0]); // odd chunk + pad byte
        v.extend(b"data");
        v.extend((data.len() as u32).to_le_bytes());
        v.extend(data);
        v
    }

    #[test]
    fn wav_formats() {
        let pcm: Vec<u8> = (0..200i16).flat_map(|s| (s * 100).to_le_bytes()).collect();
        let p = Prompt::from_wav(&wav(1, 16, 8_000, &pcm)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.frames().len(), 2);
        assert_eq!(p.frames()[1][39], 19_900);
        assert_eq!(p.frames()[1][40], 0);
        let p = Prompt::from_wav(&wav(7, 8, 8_000, &[0x80; 160])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.frames()[0][0], 32_124);
        assert_eq!(p.duration_ms(), 20);
        assert!(Prompt::from_wav(&wav(1, 16, 16_000, &pcm)).is_err());
        assert!(Prompt::from_wav(&wav(85, 0, 8_000, &pcm)).is_err());
        assert!(Prompt::from_wav(b"RIFF\0\0\0\0WAVE").is_err());
        assert!(Prompt::from_wav(&[]).is_err());
        assert!(Prompt::from_bytes("x.al", &[0xD5; 10]).is_ok());
        assert!(Prompt::from_bytes("x.mp3", &[]).is_err());
    }
}
