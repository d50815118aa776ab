//! Call-progress tones: the vendor manual's custom tone syntax (Appendix C, F-C.2), a
//! generator, and built-in national sets (F-6.1.8, F-C.5) written in that same syntax.
//!
//! A definition is sixteen comma-separated integers:
//! `nf, rpt, p1on, p1off, p2on, p2off, p3on, p3off, f1, f2, f3, f4, l1, l2, l3, l4` —
//! `nf` components (1-4) at `f1..` Hz (300-3000) and levels `l1..` (0-31, level in dBm0
//! = 3 - l), switched by up to three on/off beats (ms) that form a cadence repeated `rpt`
//! times (0 = for ever). Fields of unused components are ignored (the manual writes 0).

use std::f64::consts::TAU;
use std::fmt;

use thiserror::Error;

use crate::dtmf::dbm0_to_peak;

/// Field names in order, for error messages.
const FIELDS: [&str; 16] = [
    "nf", "rpt", "p1on", "p1off", "p2on", "p2off", "p3on", "p3off", "f1", "f2", "f3", "f4", "l1",
    "l2", "l3", "l4",
];

/// A parsed tone definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToneSpec {
    /// Times the cadence plays; 0 = for ever.
    pub repeat: u32,
    /// Up to three (on, off) beats in ms.
    pub beats: Vec<(u32, u32)>,
    /// Components: (frequency Hz, level code 0-31).
    pub components: Vec<(u32, u8)>,
}

/// What is wrong with a tone definition, and where (1-based column of the field).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("column {column} ({field}): {problem}")]
pub struct ToneError {
    /// 1-based character column where the offending field starts (or the end of input).
    pub column: usize,
    /// The field name from the manual (`nf`, `p1on`, `f2`, ...).
    pub field: &'static str,
    /// What is wrong.
    pub problem: String,
}

impl ToneSpec {
    /// Parses the Appendix C syntax.
    pub fn parse(text: &str) -> Result<ToneSpec, ToneError> {
        let mut values = [0u32; 16];
        let mut columns = [0usize; 16];
        let mut count = 0;
        let mut start = 0; // byte offset of the current field
        for (i, raw) in text.split(',').enumerate() {
            let lead = raw.len() - raw.trim_start().len();
            let column = text[..start + lead].chars().count() + 1;
            let field = FIELDS.get(i).copied().unwrap_or("?");
            if i >= 16 {
                return Err(ToneError {
                    column,
                    field: "l4",
                    problem: "more than 16 fields".into(),
                });
            }
            let t = raw.trim();
            if t.is_empty() {
                return Err(ToneError {
                    column,
                    field,
                    problem: "empty field".into(),
                });
            }
            values[i] = t.parse::<u32>().map_err(|_| ToneError {
                column,
                field,
                problem: format!("`{t}` is not a non-negative integer"),
            })?;
            columns[i] = column;
            count = i + 1;
            start += raw.len() + 1;
        }
        if count < 16 {
            return Err(ToneError {
                column: text.chars().count() + 1,
                field: FIELDS[count],
                problem: format!("expected 16 fields, found {count}"),
            });
        }
        let check = |i: usize, min: u32, max: u32| -> Result<u32, ToneError> {
            let v = values[i];
            if v < min || v > max {
                Err(ToneError {
                    column: columns[i],
                    field: FIELDS[i],
                    problem: format!("{v} is out of range {min}-{max}"),
                })
            } else {
                Ok(v)
            }
        };
        let nf = check(0, 1, 4)? as usize;
        let repeat = check(1, 0, 65_535)?;
        let mut beats = Vec::new();
        for b in 0..3 {
            let on = check(2 + 2 * b, 0, 60_000)?;
            let off = check(3 + 2 * b, 0, 60_000)?;
            if on > 0 || off > 0 {
                beats.push((on, off));
            }
        }
        if beats.iter().all(|&(on, _)| on == 0) {
            return Err(ToneError {
                column: columns[2],
                field: "p1on",
                problem: "no beat has an on time: the tone would be silent".into(),
            });
        }
        let mut components = Vec::new();
        for k in 0..nf {
            let f = check(8 + k, 300, 3_000)?;
            let l = check(12 + k, 0, 31)? as u8;
            components.push((f, l));
        }
        Ok(ToneSpec {
            repeat,
            beats,
            components,
        })
    }

    /// Length of one cadence in ms.
    pub fn cadence_ms(&self) -> u32 {
        self.beats.iter().map(|(a, b)| a + b).sum()
    }
}

impl fmt::Display for ToneSpec {
    /// Prints the definition back in Appendix C syntax.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = [0u32; 16];
        v[0] = self.components.len() as u32;
        v[1] = self.repeat;
        for (i, (on, off)) in self.beats.iter().take(3).enumerate() {
            v[2 + 2 * i] = *on;
            v[3 + 2 * i] = *off;
        }
        for (i, (freq, level)) in self.components.iter().take(4).enumerate() {
            v[8 + i] = *freq;
            v[12 + i] = u32::from(*level);
        }
        let s: Vec<String> = v.iter().map(u32::to_string).collect();
        f.write_str(&s.join(","))
    }
}

/// Plays a [`ToneSpec`] into 8 kHz samples.
#[derive(Debug, Clone)]
pub struct TonePlayer {
    /// (phase increment per sample, amplitude).
    components: Vec<(f64, f64)>,
    phases: Vec<f64>,
    /// (on, off) beats in samples.
    beats: Vec<(u64, u64)>,
    cadence: u64,
    repeat: u32,
    n: u64,
}

impl TonePlayer {
    /// A player at the start of the tone.
    pub fn new(spec: &ToneSpec) -> Self {
        let components: Vec<(f64, f64)> = spec
            .components
            .iter()
            .map(|&(f, l)| {
                (
                    TAU * f64::from(f) / 8_000.0,
                    dbm0_to_peak(3.0 - f64::from(l)),
                )
            })
            .collect();
        let beats: Vec<(u64, u64)> = spec
            .beats
            .iter()
            .map(|&(on, off)| (u64::from(on) * 8, u64::from(off) * 8))
            .collect();
        let cadence = beats.iter().map(|(a, b)| a + b).sum::<u64>().max(1);
        TonePlayer {
            phases: vec![0.0; components.len()],
            components,
            beats,
            cadence,
            repeat: spec.repeat,
            n: 0,
        }
    }

    /// True once a finite tone has played all its cadences.
    pub fn finished(&self) -> bool {
        self.repeat != 0 && self.n >= self.cadence * u64::from(self.repeat)
    }

    fn is_on(&self, n: u64) -> bool {
        let mut t = n % self.cadence;
        for &(on, off) in &self.beats {
            if t < on {
                return true;
            }
            t -= on;
            if t < off {
                return false;
            }
            t -= off;
        }
        false
    }

    /// Writes the next samples to `out` (silence after a finite tone ends). Returns false
    /// once finished.
    pub fn fill(&mut self, out: &mut [i16]) -> bool {
        for s in out.iter_mut() {
            if self.finished() {
                *s = 0;
                continue;
            }
            let on = self.is_on(self.n);
            let mut v = 0.0;
            for (i, &(inc, amp)) in self.components.iter().enumerate() {
                if on {
                    v += amp * self.phases[i].sin();
                }
                self.phases[i] = (self.phases[i] + inc) % TAU;
            }
            *s = v.clamp(-32_768.0, 32_767.0) as i16;
            self.n += 1;
        }
        !self.finished()
    }
}

/// The four tones of a standard (F-C.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToneKind {
    /// While a number is entered.
    Dial,
    /// While the far end rings.
    Ringback,
    /// When the far end is busy or hangs up.
    Busy,
    /// Call-waiting prompt.
    Prompt,
}

/// Countries with a built-in tone set.
pub const PRESET_COUNTRIES: [&str; 7] = ["CN", "US", "UK", "DE", "FR", "IN", "RU"];

/// The built-in definition of `kind` for an ISO country code (`GB` = `UK`), in
/// Appendix C syntax. Values follow the national plans published in ITU-T E.180.
pub fn preset(country: &str, kind: ToneKind) -> Option<&'static str> {
    use ToneKind::*;
    let set: [&str; 4] = match country.to_ascii_uppercase().as_str() {
        "CN" => [
            "1,0,1000,0,0,0,0,0,450,0,0,0,13,0,0,0",
            "1,0,1000,4000,0,0,0,0,450,0,0,0,13,0,0,0",
            "1,0,350,350,0,0,0,0,450,0,0,0,13,0,0,0",
            "1,0,400,4000,0,0,0,0,450,0,0,0,13,0,0,0",
        ],
        "US" | "CA" => [
            "2,0,1000,0,0,0,0,0,350,440,0,0,16,16,0,0",
            "2,0,2000,4000,0,0,0,0,440,480,0,0,22,22,0,0",
            "2,0,500,500,0,0,0,0,480,620,0,0,27,27,0,0",
            "1,0,300,9700,0,0,0,0,440,0,0,0,16,0,0,0",
        ],
        "UK" | "GB" => [
            "2,0,1000,0,0,0,0,0,350,440,0,0,16,16,0,0",
            "2,0,400,200,400,2000,0,0,400,450,0,0,16,16,0,0",
            "1,0,375,375,0,0,0,0,400,0,0,0,13,0,0,0",
            "1,0,100,2900,0,0,0,0,400,0,0,0,13,0,0,0",
        ],
        "DE" => [
            "1,0,1000,0,0,0,0,0,425,0,0,0,13,0,0,0",
            "1,0,1000,4000,0,0,0,0,425,0,0,0,13,0,0,0",
            "1,0,480,480,0,0,0,0,425,0,0,0,13,0,0,0",
            "1,0,200,200,200,5000,0,0,425,0,0,0,13,0,0,0",
        ],
        "FR" => [
            "1,0,1000,0,0,0,0,0,440,0,0,0,13,0,0,0",
            "1,0,1500,3500,0,0,0,0,440,0,0,0,13,0,0,0",
            "1,0,500,500,0,0,0,0,440,0,0,0,13,0,0,0",
            "1,0,300,10000,0,0,0,0,440,0,0,0,13,0,0,0",
        ],
        // India's 400 Hz tone amplitude-modulated by 25 Hz is exactly 375 + 425 Hz.
        "IN" => [
            "2,0,1000,0,0,0,0,0,375,425,0,0,16,16,0,0",
            "2,0,400,200,400,2000,0,0,375,425,0,0,16,16,0,0",
            "1,0,750,750,0,0,0,0,400,0,0,0,13,0,0,0",
            "1,0,200,100,200,7500,0,0,400,0,0,0,13,0,0,0",
        ],
        "RU" => [
            "1,0,1000,0,0,0,0,0,425,0,0,0,13,0,0,0",
            "1,0,800,3200,0,0,0,0,425,0,0,0,13,0,0,0",
            "1,0,400,400,0,0,0,0,425,0,0,0,13,0,0,0",
            "1,0,200,5000,0,0,0,0,425,0,0,0,13,0,0,0",
        ],
        _ => return None,
    };
    Some(match kind {
        Dial => set[0],
        Ringback => set[1],
        Busy => set[2],
        Prompt => set[3],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::silence::level_dbov;

    #[test]
    fn manual_example() {
        let spec = ToneSpec::parse("1,0,100,0,0,0,0,0,450,0,0,0,23,0,0,0")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.components, vec![(450, 23)]);
        assert_eq!(spec.beats, vec![(100, 0)]);
        assert_eq!(spec.repeat, 0);
        assert_eq!(spec.to_string(), "1,0,100,0,0,0,0,0,450,0,0,0,23,0,0,0");
        // l1 = 23 is -20 dBm0: the generator's peak must be that of a -20 dBm0 sine.
        let mut p = TonePlayer::new(&spec);
        let mut buf = [0i16; 8_000];
        assert!(p.fill(&mut buf));
        let peak = buf.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        let expected = dbm0_to_peak(-20.0);
        assert!(
            (f64::from(peak) - expected).abs() < expected * 0.01,
            "peak {peak}"
        );
        assert!(buf[7_000..].iter().any(|&s| s != 0), "continuous");
    }

    #[test]
    fn spaces_are_allowed_and_errors_have_columns() {
        assert!(ToneSpec::parse(" 2, 0, 500,500, 0,0,0,0, 480,620,0,0, 27,27,0,0 ").is_ok());
        let e = |s: &str| {
            ToneSpec::parse(s)
                .err()
                .unwrap_or_else(|| panic!("accepted {s}"))
        };
        let err = e("1,0,100,0,0,0,0,0,4500,0,0,0,23,0,0,0");
        assert_eq!((err.column, err.field), (19, "f1"));
        assert_eq!(
            err.to_string(),
            "column 19 (f1): 4500 is out of range 300-3000"
        );
        let err = e("5,0,100,0,0,0,0,0,450,0,0,0,23,0,0,0");
        assert_eq!((err.column, err.field), (1, "nf"));
        let err = e("1,0,100,0,0,0,0,0,450,0,0,0,32,0,0,0");
        assert_eq!((err.column, err.field), (29, "l1"));
        let err = e("1,0,1x0,0,0,0,0,0,450,0,0,0,23,0,0,0");
        assert_eq!((err.column, err.field), (5, "p1on"));
        assert!(err.problem.contains("`1x0`"));
        let err = e("1,0,100,0");
        assert_eq!((err.column, err.field), (10, "p2on"));
        let err = e("1,0,100,0,0,0,0,0,450,0,0,0,23,0,0,0,9");
        assert_eq!(err.column, 38);
        let err = e("1,0,0,100,0,0,0,0,450,0,0,0,23,0,0,0");
        assert_eq!(err.field, "p1on");
        let err = e("1,0,100,,0,0,0,0,450,0,0,0,23,0,0,0");
        assert_eq!((err.column, err.field), (9, "p1off"));
        let err = e("2,0,100,0,0,0,0,0,450,200,0,0,23,0,0,0");
        assert_eq!(err.field, "f2");
        assert!(e("").problem.contains("empty"));
        assert!(e("-1,0,100,0,0,0,0,0,450,0,0,0,23,0,0,0")
            .problem
            .contains("non-negative"));
    }

    #[test]
    fn cadence_and_repeat() {
        // 2 cadences of 100 ms on / 100 ms off, then finished.
        let spec = ToneSpec::parse("1,2,100,100,0,0,0,0,1000,0,0,0,3,0,0,0")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut p = TonePlayer::new(&spec);
        let mut buf = vec![0i16; 3_200]; // 400 ms
        assert!(!p.fill(&mut buf));
        let on = |a: usize, b: usize| level_dbov(&buf[a..b]) < 30;
        assert!(on(0, 800) && !on(800, 1_600) && on(1_600, 2_400) && !on(2_400, 3_200));
        assert!(p.finished());
        let mut more = [1i16; 160];
        assert!(!p.fill(&mut more));
        assert!(more.iter().all(|&s| s == 0));
    }

    #[test]
    fn every_preset_parses() {
        for c in PRESET_COUNTRIES {
            for k in [
                ToneKind::Dial,
                ToneKind::Ringback,
                ToneKind::Busy,
                ToneKind::Prompt,
            ] {
                let text = preset(c, k).unwrap_or_else(|| panic!("{c} {k:?}"));
                let spec = ToneSpec::parse(text).unwrap_or_else(|e| panic!("{c} {k:?}: {e}"));
                assert_eq!(spec.to_string(), text);
            }
        }
        assert_eq!(preset("gb", ToneKind::Busy), preset("UK", ToneKind::Busy));
        assert_eq!(preset("XX", ToneKind::Dial), None);
    }
}
