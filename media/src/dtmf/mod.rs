//! DTMF both ways: RFC 4733 telephone-events ([`rfc4733`]), in-band detection with
//! Goertzel filters ([`detect`]) and generation ([`generate`]), and the pure [`route`]
//! that decides, per mode, what a digit from one side becomes on the other
//! (F-6.4.13 in-band, F-6.4.14 RFC 2833/4733, F-6.4.15 SIP INFO).

pub mod detect;
pub mod generate;
pub mod rfc4733;

use std::fmt;

/// Peak amplitude (16-bit linear) of a 0 dBm0 sine: G.711 puts +3.17 dBm0 at the
/// largest code (32 124), so 0 dBm0 is 32 124 / 10^(3.17/20).
pub const DBM0_PEAK: f64 = 22_307.0;

/// Peak amplitude of a sine at `dbm0`.
pub fn dbm0_to_peak(dbm0: f64) -> f64 {
    DBM0_PEAK * 10f64.powf(dbm0 / 20.0)
}

/// A DTMF key: RFC 4733 event codes 0-15 (`0`-`9`, `*` = 10, `#` = 11, `A`-`D` = 12-15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digit(u8);

/// Low-group (row) frequencies in Hz.
pub const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
/// High-group (column) frequencies in Hz.
pub const COLS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// The keypad, by row and column.
const KEYPAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

impl Digit {
    /// Every digit in event-code order.
    pub fn all() -> impl Iterator<Item = Digit> {
        (0..16).map(Digit)
    }

    /// From an RFC 4733 event code (0-15).
    pub fn from_event(code: u8) -> Option<Digit> {
        (code < 16).then_some(Digit(code))
    }

    /// From a keypad character (case-insensitive for A-D).
    pub fn from_char(c: char) -> Option<Digit> {
        let code = match c.to_ascii_uppercase() {
            d @ '0'..='9' => d as u8 - b'0',
            '*' => 10,
            '#' => 11,
            l @ 'A'..='D' => l as u8 - b'A' + 12,
            _ => return None,
        };
        Some(Digit(code))
    }

    /// The RFC 4733 event code.
    pub fn event(self) -> u8 {
        self.0
    }

    /// The keypad character.
    pub fn to_char(self) -> char {
        match self.0 {
            d @ 0..=9 => (b'0' + d) as char,
            10 => '*',
            11 => '#',
            l => (b'A' + l - 12) as char,
        }
    }

    /// (row, column) index on the keypad.
    pub fn position(self) -> (usize, usize) {
        let c = self.to_char();
        for (r, row) in KEYPAD.iter().enumerate() {
            if let Some(col) = row.iter().position(|&k| k == c) {
                return (r, col);
            }
        }
        (3, 1)
    }

    /// From a keypad position.
    pub fn at(row: usize, col: usize) -> Option<Digit> {
        KEYPAD
            .get(row)
            .and_then(|r| r.get(col))
            .and_then(|&c| Digit::from_char(c))
    }

    /// (low, high) frequencies in Hz.
    pub fn frequencies(self) -> (f64, f64) {
        let (r, c) = self.position();
        (ROWS[r], COLS[c])
    }
}

impl fmt::Display for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_char())
    }
}

/// How DTMF is carried on the SIP side (F-6.4.13 to F-6.4.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DtmfMode {
    /// RFC 4733 (RFC 2833) telephone-events in the RTP stream.
    #[default]
    Rfc4733,
    /// SIP INFO requests (the engine sends and parses them).
    SipInfo,
    /// Tones inside the voice stream.
    InBand,
}

/// How DTMF reaches the module (GSM side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GsmDtmfPath {
    /// `AT+VTS` to send, `+QTONEDET` (or equivalent) URCs to receive.
    #[default]
    AtCommand,
    /// Tones in the PCM to and from the module.
    InBand,
}

/// Where a digit was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfSource {
    /// An RFC 4733 event from the SIP peer.
    SipRfc4733,
    /// A SIP INFO from the SIP peer.
    SipInfo,
    /// Detected in the RTP audio from the SIP peer.
    SipInBand,
    /// Reported by the module (`+QTONEDET`).
    GsmUrc,
    /// Detected in the PCM from the module.
    GsmInBand,
}

impl DtmfSource {
    /// True for digits pressed by the VoIP party.
    pub fn from_sip(self) -> bool {
        matches!(
            self,
            DtmfSource::SipRfc4733 | DtmfSource::SipInfo | DtmfSource::SipInBand
        )
    }
}

/// What to do with a digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfAction {
    /// Send RFC 4733 events in our RTP stream (the bridge does it).
    SendRfc4733 {
        /// The digit.
        digit: Digit,
        /// Duration in ms.
        duration_ms: u32,
    },
    /// Send a SIP INFO (the engine does it).
    SendSipInfo {
        /// The digit.
        digit: Digit,
        /// Duration in ms.
        duration_ms: u32,
    },
    /// Mix the tone into the audio sent to the SIP peer (the bridge does it).
    PlayToSip {
        /// The digit.
        digit: Digit,
        /// Duration in ms.
        duration_ms: u32,
    },
    /// Ask the module to send it (`AT+VTS`, through `ModemHal`).
    SendAtVts {
        /// The digit.
        digit: Digit,
        /// Duration in ms.
        duration_ms: u32,
    },
    /// Mix the tone into the PCM sent to the module (the bridge does it).
    PlayToGsm {
        /// The digit.
        digit: Digit,
        /// Duration in ms.
        duration_ms: u32,
    },
}

/// Decides what a digit from `source` becomes on the other side: the SIP side follows
/// `sip_mode`, the module side `gsm_path`. Digits are accepted from the SIP peer whichever
/// way it sends them. `None` when the tone already travels in the audio (in-band on both
/// sides) and nothing must be added.
pub fn route(
    source: DtmfSource,
    digit: Digit,
    duration_ms: u32,
    sip_mode: DtmfMode,
    gsm_path: GsmDtmfPath,
) -> Option<DtmfAction> {
    let duration_ms = duration_ms.clamp(40, 5_000);
    if source.from_sip() {
        match (gsm_path, source) {
            (GsmDtmfPath::InBand, DtmfSource::SipInBand) => None,
            (GsmDtmfPath::InBand, _) => Some(DtmfAction::PlayToGsm { digit, duration_ms }),
            (GsmDtmfPath::AtCommand, _) => Some(DtmfAction::SendAtVts { digit, duration_ms }),
        }
    } else {
        match (sip_mode, source) {
            (DtmfMode::InBand, DtmfSource::GsmInBand) => None,
            (DtmfMode::InBand, _) => Some(DtmfAction::PlayToSip { digit, duration_ms }),
            (DtmfMode::Rfc4733, _) => Some(DtmfAction::SendRfc4733 { digit, duration_ms }),
            (DtmfMode::SipInfo, _) => Some(DtmfAction::SendSipInfo { digit, duration_ms }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits() {
        let chars: String = Digit::all().map(Digit::to_char).collect();
        assert_eq!(chars, "0123456789*#ABCD");
        for d in Digit::all() {
            assert_eq!(Digit::from_char(d.to_char()), Some(d));
            let (r, c) = d.position();
            assert_eq!(Digit::at(r, c), Some(d));
        }
        assert_eq!(Digit::from_char('x'), None);
        assert_eq!(Digit::from_event(16), None);
        assert_eq!(
            Digit::from_char('5').map(Digit::frequencies),
            Some((770.0, 1336.0))
        );
    }

    #[test]
    fn routing_in_every_mode() {
        let d = Digit::from_char('7').unwrap_or_else(|| panic!());
        use DtmfAction::*;
        use DtmfSource::*;
        let at = GsmDtmfPath::AtCommand;
        let ib = GsmDtmfPath::InBand;
        for mode in [DtmfMode::Rfc4733, DtmfMode::SipInfo, DtmfMode::InBand] {
            for src in [SipRfc4733, SipInfo, SipInBand] {
                assert_eq!(
                    route(src, d, 100, mode, at),
                    Some(SendAtVts {
                        digit: d,
                        duration_ms: 100
                    })
                );
            }
            assert_eq!(
                route(SipRfc4733, d, 100, mode, ib),
                Some(PlayToGsm {
                    digit: d,
                    duration_ms: 100
                })
            );
            assert_eq!(route(SipInBand, d, 100, mode, ib), None);
        }
        assert_eq!(
            route(GsmUrc, d, 10, DtmfMode::Rfc4733, at),
            Some(SendRfc4733 {
                digit: d,
                duration_ms: 40
            })
        );
        assert_eq!(
            route(GsmInBand, d, 90, DtmfMode::SipInfo, ib),
            Some(SendSipInfo {
                digit: d,
                duration_ms: 90
            })
        );
        assert_eq!(
            route(GsmUrc, d, 90, DtmfMode::InBand, at),
            Some(PlayToSip {
                digit: d,
                duration_ms: 90
            })
        );
        assert_eq!(route(GsmInBand, d, 90, DtmfMode::InBand, ib), None);
    }
}
