//! Per-line input and output gain (Appendix E, F-E.2). The manual gives no range or
//! unit; cellgate uses whole dB steps from -24 to +24 dB, 0 being unity, applied as a
//! Q12 fixed-point factor with saturation.

/// Smallest gain step in dB.
pub const MIN_DB: i8 = -24;
/// Largest gain step in dB.
pub const MAX_DB: i8 = 24;

/// A gain in whole dB, applied to PCM samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gain {
    db: i8,
    q12: i32,
}

impl Default for Gain {
    fn default() -> Self {
        Gain::unity()
    }
}

impl Gain {
    /// 0 dB.
    pub const fn unity() -> Self {
        Gain { db: 0, q12: 4_096 }
    }

    /// A gain of `db` dB, clamped to [`MIN_DB`]..=[`MAX_DB`].
    pub fn from_db(db: i8) -> Self {
        let db = db.clamp(MIN_DB, MAX_DB);
        let factor = 10f64.powf(f64::from(db) / 20.0);
        Gain {
            db,
            q12: (factor * 4_096.0).round() as i32,
        }
    }

    /// The gain in dB.
    pub fn db(self) -> i8 {
        self.db
    }

    /// The linear factor.
    pub fn factor(self) -> f64 {
        f64::from(self.q12) / 4_096.0
    }

    /// Multiplies `samples` in place, saturating at the 16-bit limits. Unity is a no-op.
    pub fn apply(self, samples: &mut [i16]) {
        if self.db == 0 {
            return;
        }
        for s in samples {
            let v = (i32::from(*s) * self.q12 + 2_048) >> 12;
            *s = v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_and_saturation() {
        assert!((Gain::from_db(6).factor() - 1.995).abs() < 0.001);
        assert!((Gain::from_db(-20).factor() - 0.1).abs() < 0.001);
        assert_eq!(Gain::from_db(100).db(), MAX_DB);
        let mut s = [1_000i16, -1_000, 30_000, -30_000];
        Gain::from_db(6).apply(&mut s);
        assert_eq!(s, [1_995, -1_995, i16::MAX, i16::MIN]);
        let mut u = [123i16];
        Gain::unity().apply(&mut u);
        assert_eq!(u, [123]);
    }
}
