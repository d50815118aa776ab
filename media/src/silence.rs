//! Silence suppression (F-6.5.3): an energy VAD for the send side, RFC 3389 comfort-noise
//! payloads, and a local comfort-noise generator for when the peer suppresses silence.
//!
//! The CN generator is white noise at the signalled level; RFC 3389's optional spectral
//! (reflection) coefficients are read past and not used.

/// Level of a frame in -dBov (RFC 3389 units: 0 = full-scale square wave, 127 = digital
/// silence).
pub fn level_dbov(samples: &[i16]) -> u8 {
    if samples.is_empty() {
        return 127;
    }
    let energy: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let mean = energy / samples.len() as f64;
    if mean < 1.0 {
        return 127;
    }
    let db = 10.0 * (mean / (32_768.0 * 32_768.0)).log10();
    (-db).round().clamp(0.0, 127.0) as u8
}

/// Parses an RFC 3389 CN payload: the noise level in -dBov, or `None` if empty.
pub fn parse_cn(payload: &[u8]) -> Option<u8> {
    payload.first().map(|&l| l & 0x7F)
}

/// An RFC 3389 CN payload with only the level byte.
pub fn cn_payload(level: u8) -> [u8; 1] {
    [level.min(127)]
}

/// Energy-based voice-activity detector with an adaptive noise floor and hangover.
#[derive(Debug, Clone)]
pub struct Vad {
    /// Noise floor estimate in dB (negative dBov); `None` before the first frame.
    floor_db: Option<f64>,
    hangover: u32,
    hangover_frames: u32,
}

impl Default for Vad {
    fn default() -> Self {
        Vad::new(10)
    }
}

/// Frames above floor + this many dB count as speech.
const SPEECH_MARGIN_DB: f64 = 9.0;
/// Highest starting noise floor.
const INITIAL_FLOOR_DB: f64 = -55.0;
/// Below this absolute level nothing counts as speech.
const ABSOLUTE_FLOOR_DB: f64 = -60.0;

impl Vad {
    /// A detector that keeps reporting speech for `hangover_frames` after the last
    /// speech frame (200 ms with 10 frames of 20 ms), so word endings are not clipped.
    pub fn new(hangover_frames: u32) -> Self {
        Vad {
            floor_db: None,
            hangover: 0,
            hangover_frames,
        }
    }

    /// Current noise floor in dBov.
    pub fn noise_floor_db(&self) -> Option<f64> {
        self.floor_db
    }

    /// True if `frame` (or the hangover after speech) is voice.
    pub fn is_speech(&mut self, frame: &[i16]) -> bool {
        let db = -f64::from(level_dbov(frame));
        // Floor: drops at once to quieter frames, rises slowly (0.05 dB per frame, i.e.
        // 2.5 dB/s) so a long vowel is not learnt as noise.
        let floor = match self.floor_db {
            Some(f) if db >= f => f + 0.05_f64.min(db - f),
            Some(_) => db,
            // Start no higher than a quiet line, so that a call opening with speech is
            // not learnt as noise.
            None => db.min(INITIAL_FLOOR_DB),
        };
        self.floor_db = Some(floor);
        let speech = db > ABSOLUTE_FLOOR_DB && db > floor + SPEECH_MARGIN_DB;
        if speech {
            self.hangover = self.hangover_frames;
            true
        } else if self.hangover > 0 {
            self.hangover -= 1;
            true
        } else {
            false
        }
    }
}

/// White comfort noise at a level in -dBov, from a seeded xorshift generator.
#[derive(Debug, Clone)]
pub struct ComfortNoise {
    state: u32,
    amplitude: f32,
    level: u8,
}

impl ComfortNoise {
    /// A generator with the given seed (0 is replaced by a fixed odd value).
    pub fn new(seed: u32, level: u8) -> Self {
        let mut cn = ComfortNoise {
            state: if seed == 0 { 0x9E37_79B9 } else { seed },
            amplitude: 0.0,
            level: 127,
        };
        cn.set_level(level);
        cn
    }

    /// Changes the level (-dBov).
    pub fn set_level(&mut self, level: u8) {
        self.level = level.min(127);
        // Uniform noise in [-a, a] has RMS a/√3.
        let rms = 32_768.0 * 10f32.powf(-f32::from(self.level) / 20.0);
        self.amplitude = if self.level >= 127 {
            0.0
        } else {
            rms * 3f32.sqrt()
        };
    }

    /// The level (-dBov).
    pub fn level(&self) -> u8 {
        self.level
    }

    /// Fills `out` with noise.
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 17;
            self.state ^= self.state << 5;
            let u = (self.state as f32 / u32::MAX as f32) * 2.0 - 1.0;
            *s = (u * self.amplitude).clamp(-32_768.0, 32_767.0) as i16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(amp: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * (2.0 * std::f64::consts::PI * 400.0 * i as f64 / 8_000.0).sin()) as i16)
            .collect()
    }

    #[test]
    fn levels() {
        assert_eq!(level_dbov(&[0; 160]), 127);
        assert_eq!(level_dbov(&[i16::MAX; 160]), 0);
        // Full-scale sine is -3 dBov.
        assert_eq!(level_dbov(&tone(32_767.0, 160)), 3);
        assert_eq!(parse_cn(&[0x85, 1, 2]), Some(5));
        assert_eq!(parse_cn(&[]), None);
        assert_eq!(cn_payload(200), [127]);
    }

    #[test]
    fn cn_generator_hits_its_level() {
        let mut cn = ComfortNoise::new(1, 50);
        let mut buf = [0i16; 1_600];
        cn.fill(&mut buf);
        let l = level_dbov(&buf);
        assert!((49..=51).contains(&l), "level {l}");
        cn.set_level(127);
        cn.fill(&mut buf);
        assert!(buf.iter().all(|&s| s == 0));
    }

    #[test]
    fn vad_speech_vs_noise_with_hangover() {
        let mut vad = Vad::new(3);
        let mut noise = ComfortNoise::new(7, 60);
        let mut frame = [0i16; 160];
        for _ in 0..50 {
            noise.fill(&mut frame);
            assert!(!vad.is_speech(&frame));
        }
        assert!(vad.is_speech(&tone(8_000.0, 160)));
        // Hangover: 3 more frames of "speech", then silence.
        let after: Vec<bool> = (0..5)
            .map(|_| {
                noise.fill(&mut frame);
                vad.is_speech(&frame)
            })
            .collect();
        assert_eq!(after, vec![true, true, true, false, false]);
    }
}
