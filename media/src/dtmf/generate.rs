//! In-band DTMF generation: dual tones at a set level, with an inter-digit pause, queued.

use std::collections::VecDeque;
use std::f64::consts::TAU;

use super::{dbm0_to_peak, Digit};

/// Level of each of the two tones, in dBm0 (a common telephone setting).
pub const DEFAULT_LEVEL_DBM0: f64 = -10.0;
/// Silence after each tone so that repeated digits stay separate.
pub const PAUSE_MS: u32 = 60;

/// Plays queued digits as tones into 8 kHz sample buffers.
#[derive(Debug, Clone)]
pub struct DtmfPlayer {
    queue: VecDeque<(Digit, u32)>,
    level_dbm0: f64,
    current: Option<Playing>,
}

#[derive(Debug, Clone)]
struct Playing {
    low: f64,
    high: f64,
    amplitude: f64,
    n: u32,
    tone_samples: u32,
    total_samples: u32,
}

impl Default for DtmfPlayer {
    fn default() -> Self {
        DtmfPlayer::new(DEFAULT_LEVEL_DBM0)
    }
}

impl DtmfPlayer {
    /// A player whose two tones are each at `level_dbm0`.
    pub fn new(level_dbm0: f64) -> Self {
        DtmfPlayer {
            queue: VecDeque::new(),
            level_dbm0,
            current: None,
        }
    }

    /// Queues `digit` for `duration_ms` (at least 40 ms).
    pub fn push(&mut self, digit: Digit, duration_ms: u32) {
        self.queue.push_back((digit, duration_ms.max(40)));
    }

    /// True while a digit is playing or queued.
    pub fn is_active(&self) -> bool {
        self.current.is_some() || !self.queue.is_empty()
    }

    /// Replaces `out` with tone (or pause) samples while active. Returns true if it wrote.
    pub fn fill(&mut self, out: &mut [i16]) -> bool {
        if !self.is_active() {
            return false;
        }
        for s in out.iter_mut() {
            if self.current.is_none() {
                match self.queue.pop_front() {
                    Some((digit, ms)) => {
                        let (low, high) = digit.frequencies();
                        self.current = Some(Playing {
                            low,
                            high,
                            amplitude: dbm0_to_peak(self.level_dbm0),
                            n: 0,
                            tone_samples: ms * 8,
                            total_samples: (ms + PAUSE_MS) * 8,
                        });
                    }
                    None => {
                        *s = 0;
                        continue;
                    }
                }
            }
            if let Some(p) = self.current.as_mut() {
                *s = if p.n < p.tone_samples {
                    let t = f64::from(p.n) / 8_000.0;
                    (p.amplitude * ((TAU * p.low * t).sin() + (TAU * p.high * t).sin())) as i16
                } else {
                    0
                };
                p.n += 1;
                if p.n >= p.total_samples {
                    self.current = None;
                }
            }
        }
        true
    }
}

/// A whole key press as samples (tone only, no pause): for tests and prompts.
pub fn tone_samples(digit: Digit, duration_ms: u32, level_dbm0: f64) -> Vec<i16> {
    let (low, high) = digit.frequencies();
    let a = dbm0_to_peak(level_dbm0);
    (0..duration_ms * 8)
        .map(|n| {
            let t = f64::from(n) / 8_000.0;
            (a * ((TAU * low * t).sin() + (TAU * high * t).sin())) as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plays_tone_then_pause_then_idles() {
        let mut p = DtmfPlayer::default();
        let d = Digit::from_char('9').unwrap_or_else(|| panic!());
        p.push(d, 40);
        let mut buf = [1i16; 160];
        assert!(p.fill(&mut buf));
        let peak = buf[..160]
            .iter()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap_or(0);
        assert!(peak > 10_000, "peak {peak}");
        assert!(p.fill(&mut buf)); // second half of the 40 ms tone
        assert!(buf[100] != 0);
        for _ in 0..3 {
            // 60 ms pause
            assert!(p.fill(&mut buf));
            assert!(buf.iter().all(|&s| s == 0));
        }
        assert!(!p.is_active());
        let mut untouched = [7i16; 160];
        assert!(!p.fill(&mut untouched));
        assert_eq!(untouched[0], 7);
    }
}
