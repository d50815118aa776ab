//! In-band DTMF detection with Goertzel filters.
//!
//! Samples are cut into blocks of 102 (12.75 ms; bins 78 Hz apart, enough to tell the
//! 73 Hz-spaced row tones apart). A block is a hit for a digit when:
//! * one row and one column tone are each above -34 dBm0,
//! * each is at least 6 dB above the other tones of its group (relative peak),
//! * the twist is within limits: high group up to 4 dB stronger (reverse twist) or up to
//!   8 dB weaker (normal twist) than the low group, the usual Q.24 receiver settings,
//! * the two tones carry at least 70% of the block's energy (rejects speech and noise),
//! * the second harmonic of the high tone is weak (rejects voiced speech).
//!
//! A digit is reported after two consecutive hits (≥ 25.5 ms of tone; any 40 ms tone
//! spans two whole blocks) and ends after two consecutive blocks without it.

use super::{dbm0_to_peak, Digit, COLS, ROWS};

/// Samples per Goertzel block.
pub const BLOCK: usize = 102;

/// A detected key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// A tone pair has been present for two blocks.
    Started(Digit),
    /// It stopped; its duration in ms (approximate, in whole blocks).
    Ended(Digit, u32),
}

#[derive(Debug, Clone, Copy)]
struct Goertzel {
    coeff: f64,
}

impl Goertzel {
    fn new(freq: f64) -> Self {
        Goertzel {
            coeff: 2.0 * (std::f64::consts::TAU * freq / 8_000.0).cos(),
        }
    }

    /// Power at the filter frequency over `x`, normalised to the mean power of a sine of
    /// that frequency (A²/2 for amplitude A).
    fn power(&self, x: &[f64]) -> f64 {
        let (mut s1, mut s2) = (0.0, 0.0);
        for &v in x {
            let s0 = v + self.coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let p = s1 * s1 + s2 * s2 - self.coeff * s1 * s2;
        2.0 * p / (x.len() as f64 * x.len() as f64)
    }
}

/// Streaming DTMF detector.
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    rows: [Goertzel; 4],
    cols: [Goertzel; 4],
    col_harm: [Goertzel; 4],
    block: [f64; BLOCK],
    fill: usize,
    last_hit: Option<Digit>,
    hits: u32,
    misses: u32,
    reported: Option<Digit>,
    run_blocks: u32,
    min_power: f64,
}

impl Default for DtmfDetector {
    fn default() -> Self {
        DtmfDetector::new()
    }
}

const RELATIVE_PEAK: f64 = 4.0; // 6 dB
const REVERSE_TWIST: f64 = 2.512; // 4 dB: high group stronger
const NORMAL_TWIST: f64 = 6.31; // 8 dB: high group weaker
const ENERGY_FRACTION: f64 = 0.7;
const HARMONIC_MAX: f64 = 0.1; // second harmonic at least 10 dB under the tone

impl DtmfDetector {
    /// A detector with the default thresholds.
    pub fn new() -> Self {
        let g = |f: [f64; 4], k: f64| f.map(|x| Goertzel::new(x * k));
        let peak = dbm0_to_peak(-34.0);
        DtmfDetector {
            rows: g(ROWS, 1.0),
            cols: g(COLS, 1.0),
            col_harm: g(COLS, 2.0),
            block: [0.0; BLOCK],
            fill: 0,
            last_hit: None,
            hits: 0,
            misses: 0,
            reported: None,
            run_blocks: 0,
            min_power: peak * peak / 2.0,
        }
    }

    /// Feeds samples; `emit` is called for every start and end found.
    pub fn process(&mut self, samples: &[i16], mut emit: impl FnMut(Detected)) {
        for &s in samples {
            self.block[self.fill] = f64::from(s);
            self.fill += 1;
            if self.fill == BLOCK {
                self.fill = 0;
                let hit = self.classify();
                self.update(hit, &mut emit);
            }
        }
    }

    fn classify(&self) -> Option<Digit> {
        let x = &self.block;
        let energy = x.iter().map(|v| v * v).sum::<f64>() / BLOCK as f64;
        if energy < self.min_power {
            return None;
        }
        let rp = self.rows.map(|g| g.power(x));
        let cp = self.cols.map(|g| g.power(x));
        let (r, &rmax) = rp.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
        let (c, &cmax) = cp.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
        if rmax < self.min_power || cmax < self.min_power {
            return None;
        }
        if cmax > rmax * REVERSE_TWIST || rmax > cmax * NORMAL_TWIST {
            return None;
        }
        let peak_ok = |p: &[f64; 4], i: usize| {
            p.iter()
                .enumerate()
                .all(|(j, &v)| j == i || v * RELATIVE_PEAK <= p[i])
        };
        if !peak_ok(&rp, r) || !peak_ok(&cp, c) {
            return None;
        }
        if rmax + cmax < ENERGY_FRACTION * energy {
            return None;
        }
        // Only the high group's harmonics are checked: twice a row frequency lies within
        // one bin of a column tone (1394 vs 1336 Hz), which would reject real digits.
        if self.col_harm[c].power(x) > cmax * HARMONIC_MAX {
            return None;
        }
        Digit::at(r, c)
    }

    fn update(&mut self, hit: Option<Digit>, emit: &mut impl FnMut(Detected)) {
        if hit.is_some() && hit == self.last_hit {
            self.hits += 1;
        } else {
            self.hits = u32::from(hit.is_some());
        }
        self.last_hit = hit;
        if let Some(d) = self.reported {
            if hit == Some(d) {
                self.misses = 0;
                self.run_blocks += 1;
                return;
            }
            self.misses += 1;
            if self.misses < 2 {
                return;
            }
            self.reported = None;
            self.misses = 0;
            // 102 samples = 12.75 ms per block.
            emit(Detected::Ended(d, self.run_blocks * 1_275 / 100));
        }
        if let Some(d) = hit.filter(|_| self.hits >= 2) {
            self.reported = Some(d);
            self.run_blocks = self.hits;
            self.misses = 0;
            emit(Detected::Started(d));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::generate::tone_samples;
    use super::*;
    use crate::silence::ComfortNoise;

    fn detect(samples: &[i16]) -> Vec<Detected> {
        let mut d = DtmfDetector::new();
        let mut out = Vec::new();
        d.process(samples, |e| out.push(e));
        // Flush with silence.
        d.process(&[0; 400], |e| out.push(e));
        out
    }

    fn starts(events: &[Detected]) -> String {
        events
            .iter()
            .filter_map(|e| match e {
                Detected::Started(d) => Some(d.to_char()),
                Detected::Ended(..) => None,
            })
            .collect()
    }

    #[test]
    fn all_sixteen_digits_at_several_levels() {
        for level in [-3.0, -10.0, -20.0, -28.0] {
            for digit in Digit::all() {
                let mut s = vec![0i16; 37];
                s.extend(tone_samples(digit, 60, level));
                let ev = detect(&s);
                assert_eq!(
                    starts(&ev),
                    digit.to_char().to_string(),
                    "{digit} at {level} dBm0"
                );
                assert!(matches!(ev.last(), Some(Detected::Ended(d, _)) if *d == digit));
            }
        }
    }

    #[test]
    fn forty_ms_at_minus_20_dbm0_in_noise() {
        let mut noise = ComfortNoise::new(3, 55); // about -52 dBm0 of white noise
        for digit in Digit::all() {
            for offset in [0usize, 31, 77] {
                let mut s = vec![0i16; offset];
                s.extend(tone_samples(digit, 40, -20.0));
                s.extend(vec![0i16; 200]);
                let mut n = vec![0i16; s.len()];
                noise.fill(&mut n);
                for (a, b) in s.iter_mut().zip(&n) {
                    *a = a.saturating_add(*b);
                }
                assert_eq!(
                    starts(&detect(&s)),
                    digit.to_char().to_string(),
                    "{digit} offset {offset}"
                );
            }
        }
    }

    #[test]
    fn digit_sequence_with_pauses() {
        let mut s = Vec::new();
        for c in "1337#*0D".chars() {
            let d = Digit::from_char(c).unwrap_or_else(|| panic!());
            s.extend(tone_samples(d, 50, -12.0));
            s.extend(vec![0i16; 400]);
        }
        assert_eq!(starts(&detect(&s)), "1337#*0D");
    }

    #[test]
    fn rejects_single_tones_noise_and_speech_like_signals() {
        let sine = |f: f64, amp: f64, n: usize| -> Vec<i16> {
            (0..n)
                .map(|i| (amp * (std::f64::consts::TAU * f * i as f64 / 8_000.0).sin()) as i16)
                .collect()
        };
        for f in ROWS
            .iter()
            .chain(COLS.iter())
            .chain([1_000.0, 440.0].iter())
        {
            assert!(
                detect(&sine(*f, 12_000.0, 2_000)).is_empty(),
                "single {f} Hz"
            );
        }
        let mut noise = ComfortNoise::new(11, 12);
        let mut n = vec![0i16; 8_000];
        noise.fill(&mut n);
        assert!(detect(&n).is_empty(), "loud white noise");
        // Voiced speech stand-in: harmonics of a gliding 110-190 Hz pitch with formant-ish
        // weights, for two seconds.
        let mut phase = 0.0f64;
        let speech: Vec<i16> = (0..16_000)
            .map(|i| {
                let t = i as f64 / 8_000.0;
                let f0 = 150.0 + 40.0 * (TAU_F * 1.3 * t).sin();
                phase += TAU_F * f0 / 8_000.0;
                let mut v = 0.0;
                for h in 1..20 {
                    let fh = f0 * h as f64;
                    let w = (-((fh - 700.0) / 300.0).powi(2)).exp()
                        + 0.6 * (-((fh - 1_300.0) / 250.0).powi(2)).exp()
                        + 0.2;
                    v += w * (phase * h as f64).sin();
                }
                (v * 2_500.0).clamp(-32_000.0, 32_000.0) as i16
            })
            .collect();
        assert!(detect(&speech).is_empty(), "speech-like");
        // Two tones that are not a DTMF pair (wrong column frequency by 5%).
        let a = sine(770.0, 6_000.0, 2_000);
        let b = sine(1_336.0 * 1.05, 6_000.0, 2_000);
        let mix: Vec<i16> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        assert!(detect(&mix).is_empty(), "off-frequency pair");
    }

    const TAU_F: f64 = std::f64::consts::TAU;
}
