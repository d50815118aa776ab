//! Phones outside the gateway: how a caller behaves while ringing, programmable phone
//! behaviour per number ([`PhoneBehaviour`]), and what a phone plays ([`PhoneSound`]).

use std::collections::VecDeque;
use std::time::Duration;

use crate::numbering::CalleeBehaviour;

/// How an outside phone behaves while its call to a gateway SIM is ringing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallerBehaviour {
    /// Time between two `RING` indications on the modem.
    pub ring_interval: Duration,
    /// How long the caller lets it ring before giving up (modem sees `NO CARRIER`).
    pub give_up_after: Duration,
}

impl Default for CallerBehaviour {
    /// Rings every 3 s, gives up after 30 s (10 rings), like a typical network.
    fn default() -> Self {
        Self {
            ring_interval: Duration::from_secs(3),
            give_up_after: Duration::from_secs(30),
        }
    }
}

/// What a phone sends into a connected call when it is not sending DTMF.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum PhoneSound {
    /// Digital silence (all-zero samples).
    #[default]
    Silence,
    /// A continuous sine tone.
    Tone {
        /// Frequency in Hz.
        freq_hz: f64,
        /// Peak amplitude (0..=32767).
        level: i16,
    },
    /// A PCM buffer (8 kHz s16 mono), played once from the start of each call, then silence.
    Pcm(Vec<i16>),
}

/// Programmed behaviour of one phone number, overriding the numbering plan
/// ([`crate::Network::set_phone`]). Times of `hang_up_after` and `dtmf` run from the moment
/// the call connects (the phone answers a gateway call, or the gateway answers the phone).
#[derive(Debug, Clone, PartialEq)]
pub struct PhoneBehaviour {
    /// What the phone does when a gateway line calls it.
    pub callee: CalleeBehaviour,
    /// Hang up this long after the call connects.
    pub hang_up_after: Option<Duration>,
    /// DTMF digits to send, each at a time after the call connects.
    pub dtmf: Vec<(Duration, String)>,
    /// What the phone plays while connected.
    pub sound: PhoneSound,
}

impl Default for PhoneBehaviour {
    /// Answers like an ordinary number (alerting 1 s, answer 3 s later), stays up, silent.
    fn default() -> Self {
        Self {
            callee: CalleeBehaviour::Answers {
                alert_after: crate::numbering::DEFAULT_ALERT_AFTER,
                answer_after: crate::numbering::DEFAULT_ANSWER_AFTER,
            },
            hang_up_after: None,
            dtmf: Vec::new(),
            sound: PhoneSound::Silence,
        }
    }
}

impl PhoneBehaviour {
    /// Answers `after` the dial (alerting from 1 s on, or at once if `after` is shorter).
    pub fn answers_after(after: Duration) -> Self {
        let alert = crate::numbering::DEFAULT_ALERT_AFTER.min(after);
        Self {
            callee: CalleeBehaviour::Answers {
                alert_after: alert,
                answer_after: after.saturating_sub(alert),
            },
            ..Self::default()
        }
    }

    /// A phone with this callee behaviour (busy, rejects, never answers, unreachable, ...).
    pub fn with_callee(callee: CalleeBehaviour) -> Self {
        Self {
            callee,
            ..Self::default()
        }
    }

    /// Busy: the gateway sees `BUSY` 1 s after dialling.
    pub fn busy() -> Self {
        Self::with_callee(CalleeBehaviour::Busy {
            after: crate::numbering::DEFAULT_ALERT_AFTER,
        })
    }

    /// Switched off: `NO CARRIER`, cause 20, 1 s after dialling.
    pub fn unreachable() -> Self {
        Self::with_callee(CalleeBehaviour::Unreachable {
            after: crate::numbering::DEFAULT_ALERT_AFTER,
        })
    }

    /// Hangs up `after` the call connects.
    pub fn hang_up_after(mut self, after: Duration) -> Self {
        self.hang_up_after = Some(after);
        self
    }

    /// Sends `digits` (in-band DTMF, 100 ms tone + 100 ms pause each) `at` after connecting.
    pub fn send_dtmf(mut self, at: Duration, digits: &str) -> Self {
        self.dtmf.push((at, digits.to_owned()));
        self
    }

    /// Plays `sound` while connected.
    pub fn play(mut self, sound: PhoneSound) -> Self {
        self.sound = sound;
        self
    }
}

/// A phone's state in the network: behaviour, what it heard, where its playback is.
#[derive(Debug, Clone, Default)]
pub(crate) struct PhoneState {
    pub(crate) behaviour: Option<PhoneBehaviour>,
    pub(crate) recording: Vec<i16>,
    /// Samples of the current sound played so far (tone phase, PCM position).
    pub(crate) played: u64,
    /// In-band DTMF samples waiting to be sent ahead of the sound.
    pub(crate) dtmf_out: VecDeque<i16>,
}

impl PhoneState {
    /// The phone's next 20 ms of output.
    pub(crate) fn next_frame(&mut self) -> [i16; FRAME] {
        let mut frame = [0i16; FRAME];
        let sound = self
            .behaviour
            .as_ref()
            .map(|b| b.sound.clone())
            .unwrap_or_default();
        for (i, slot) in frame.iter_mut().enumerate() {
            if let Some(s) = self.dtmf_out.pop_front() {
                *slot = s;
                continue;
            }
            let n = self.played + i as u64;
            *slot = match &sound {
                PhoneSound::Silence => 0,
                PhoneSound::Tone { freq_hz, level } => tone_sample(*freq_hz, *level, n),
                PhoneSound::Pcm(buf) => usize::try_from(n)
                    .ok()
                    .and_then(|n| buf.get(n))
                    .copied()
                    .unwrap_or(0),
            };
        }
        self.played += FRAME as u64;
        frame
    }
}

const FRAME: usize = cellgate_hal::audio::FRAME_SAMPLES;
const RATE: f64 = cellgate_hal::audio::SAMPLE_RATE_HZ as f64;

/// Sample `n` of a sine tone of `freq_hz` at peak `level`, 8 kHz.
pub fn tone_sample(freq_hz: f64, level: i16, n: u64) -> i16 {
    let phase = 2.0 * std::f64::consts::PI * freq_hz * (n as f64) / RATE;
    (f64::from(level) * phase.sin()).round() as i16
}

/// `count` samples of a sine tone starting at sample `start` (what a phone playing
/// [`PhoneSound::Tone`] sends, or a test generates on the gateway side).
pub fn tone(freq_hz: f64, level: i16, start: u64, count: usize) -> Vec<i16> {
    (0..count as u64)
        .map(|i| tone_sample(freq_hz, level, start + i))
        .collect()
}

/// The DTMF frequency pair (low, high) of a digit, `None` for other characters.
pub fn dtmf_freqs(digit: char) -> Option<(f64, f64)> {
    let (row, col) = match digit.to_ascii_uppercase() {
        '1' => (0, 0),
        '2' => (0, 1),
        '3' => (0, 2),
        'A' => (0, 3),
        '4' => (1, 0),
        '5' => (1, 1),
        '6' => (1, 2),
        'B' => (1, 3),
        '7' => (2, 0),
        '8' => (2, 1),
        '9' => (2, 2),
        'C' => (2, 3),
        '*' => (3, 0),
        '0' => (3, 1),
        '#' => (3, 2),
        'D' => (3, 3),
        _ => return None,
    };
    let low = [697.0, 770.0, 852.0, 941.0];
    let high = [1209.0, 1336.0, 1477.0, 1633.0];
    Some((low[row], high[col]))
}

/// In-band DTMF for `digits`: per digit 100 ms of the dual tone (each at peak `8000`), then
/// 100 ms of silence. Characters that are not DTMF digits are skipped.
pub fn dtmf_samples(digits: &str) -> Vec<i16> {
    let per = (RATE as usize) / 10;
    let mut out = Vec::new();
    for (lo, hi) in digits.chars().filter_map(dtmf_freqs) {
        for n in 0..per as u64 {
            let s = i32::from(tone_sample(lo, 8000, n)) + i32::from(tone_sample(hi, 8000, n));
            out.push(s.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16);
        }
        out.extend(std::iter::repeat_n(0, per));
    }
    out
}

/// Normalises a phone number for comparisons: digits, `*`, `#` and a leading `+` kept,
/// everything else dropped.
pub fn normalise(number: &str) -> String {
    number
        .char_indices()
        .filter(|&(i, c)| c.is_ascii_digit() || c == '*' || c == '#' || (c == '+' && i == 0))
        .map(|(_, c)| c)
        .collect()
}

/// Whether two numbers designate the same phone (ignoring a leading `+` and separators).
pub fn same_number(a: &str, b: &str) -> bool {
    let a = normalise(a);
    let b = normalise(b);
    a.trim_start_matches('+') == b.trim_start_matches('+')
}

/// The `<type>` of a number in `+CLCC`/`+CLIP`: 145 international, 129 otherwise.
pub fn type_of_number(number: &str) -> u8 {
    if number.starts_with('+') {
        145
    } else {
        129
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_loosely() {
        assert!(same_number("+86 138-0000", "861380000"));
        assert!(!same_number("123", "124"));
        assert_eq!(type_of_number("+1"), 145);
        assert_eq!(type_of_number("1"), 129);
    }

    #[test]
    fn dtmf_and_tones() {
        assert_eq!(dtmf_samples("1#x").len(), 2 * 1600);
        assert_eq!(tone(1000.0, 1000, 0, 3), vec![0, 707, 1000]);
        let mut p = PhoneState {
            behaviour: Some(PhoneBehaviour::default().play(PhoneSound::Pcm(vec![5; 200]))),
            ..PhoneState::default()
        };
        assert_eq!(p.next_frame(), [5; FRAME]);
        let f = p.next_frame();
        assert_eq!(f[39], 5);
        assert_eq!(f[40], 0);
    }
}
