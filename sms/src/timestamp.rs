//! TP-SCTS and TP-DT (23.040 §9.2.3.11): seven semi-octet swapped BCD octets, year to
//! second, plus the time zone in quarters of an hour with a sign bit.
//!
//! There is no clock here: the simulator passes the time it wants stamped.

use crate::error::{EncodeError, PduError, PduErrorKind};
use crate::reader::Reader;

/// A service-centre timestamp as sent: local time fields and the offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SmscTimestamp {
    /// Year within the century (0..=99).
    pub year: u8,
    /// Month (1..=12).
    pub month: u8,
    /// Day of month (1..=31).
    pub day: u8,
    /// Hour (0..=23).
    pub hour: u8,
    /// Minute (0..=59).
    pub minute: u8,
    /// Second (0..=59).
    pub second: u8,
    /// Offset of the local time from UTC in quarters of an hour (-79..=79).
    pub tz_quarters: i8,
}

/// Largest time-zone magnitude the field can carry (tens digit is 3 bits).
pub const MAX_TZ_QUARTERS: i8 = 79;

impl SmscTimestamp {
    /// The timestamp for `unix_seconds` (seconds since 1970-01-01 UTC) shown in the zone
    /// `tz_quarters` (clamped to ±79). The year is kept modulo 100.
    pub fn from_unix(unix_seconds: i64, tz_quarters: i8) -> Self {
        let tz = tz_quarters.clamp(-MAX_TZ_QUARTERS, MAX_TZ_QUARTERS);
        let local = unix_seconds.saturating_add(i64::from(tz) * 900);
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Self {
            year: y.rem_euclid(100) as u8,
            month: m as u8,
            day: d as u8,
            hour: (secs / 3600) as u8,
            minute: (secs / 60 % 60) as u8,
            second: (secs % 60) as u8,
            tz_quarters: tz,
        }
    }

    /// Seconds since 1970-01-01 UTC, reading the year as 2000..=2099; `None` if a field is
    /// out of range.
    pub fn to_unix(&self) -> Option<i64> {
        self.validate().ok()?;
        let days = days_from_civil(
            2000 + i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        let local = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        Some(local - i64::from(self.tz_quarters) * 900)
    }

    /// Offset from UTC in seconds.
    pub fn utc_offset_seconds(&self) -> i32 {
        i32::from(self.tz_quarters) * 900
    }

    fn validate(&self) -> Result<(), EncodeError> {
        let checks: [(&'static str, bool); 7] = [
            ("year", self.year <= 99),
            ("month", (1..=12).contains(&self.month)),
            ("day", (1..=31).contains(&self.day)),
            ("hour", self.hour <= 23),
            ("minute", self.minute <= 59),
            ("second", self.second <= 59),
            (
                "time zone",
                (-MAX_TZ_QUARTERS..=MAX_TZ_QUARTERS).contains(&self.tz_quarters),
            ),
        ];
        match checks.iter().find(|(_, ok)| !ok) {
            Some(&(field, _)) => Err(EncodeError::InvalidTimestamp { field }),
            None => Ok(()),
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.validate()?;
        for v in [
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
        ] {
            out.push(((v % 10) << 4) | (v / 10));
        }
        let q = self.tz_quarters.unsigned_abs();
        let sign = if self.tz_quarters < 0 { 0x08 } else { 0 };
        out.push(((q % 10) << 4) | (q / 10) | sign);
        Ok(())
    }

    /// Decodes 7 octets. Digits must be decimal; field ranges are not checked (networks do
    /// send odd values, and the raw fields are kept).
    pub(crate) fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, PduError> {
        let start = r.offset();
        let b = r.take(7, field)?;
        let mut v = [0u8; 6];
        for (i, slot) in v.iter_mut().enumerate() {
            let octet = b.get(i).copied().unwrap_or(0);
            let (tens, units) = (octet & 0x0F, octet >> 4);
            if tens > 9 || units > 9 {
                return Err(PduError {
                    offset: start + i,
                    kind: PduErrorKind::InvalidValue {
                        field,
                        value: octet,
                        reason: "not a BCD digit pair",
                    },
                });
            }
            *slot = tens * 10 + units;
        }
        let tz = b.get(6).copied().unwrap_or(0);
        let (tens, units) = (tz & 0x07, tz >> 4);
        if units > 9 {
            return Err(PduError {
                offset: start + 6,
                kind: PduErrorKind::InvalidValue {
                    field,
                    value: tz,
                    reason: "time zone is not BCD",
                },
            });
        }
        let q = (tens * 10 + units) as i8;
        Ok(Self {
            year: v[0],
            month: v[1],
            day: v[2],
            hour: v[3],
            minute: v[4],
            second: v[5],
            tz_quarters: if tz & 0x08 != 0 { -q } else { q },
        })
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (March-based year arithmetic).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::{decode_hex, encode_hex};

    #[test]
    fn classic_vector() {
        let b = decode_hex("99309251619580").unwrap();
        let t = SmscTimestamp::decode(&mut Reader::new(&b, 0), "TP-SCTS").unwrap();
        assert_eq!(
            t,
            SmscTimestamp {
                year: 99,
                month: 3,
                day: 29,
                hour: 15,
                minute: 16,
                second: 59,
                tz_quarters: 8
            }
        );
        let mut out = Vec::new();
        t.encode(&mut out).unwrap();
        assert_eq!(encode_hex(&out), "99309251619580");
    }

    #[test]
    fn negative_zone() {
        // -5 h = -20 quarters: tens 2 | sign, units 0
        let t = SmscTimestamp::from_unix(0, -20);
        let mut out = Vec::new();
        t.encode(&mut out).unwrap();
        assert_eq!(out[6], 0x0A);
        assert_eq!((t.year, t.month, t.day, t.hour), (69, 12, 31, 19));
        let back = SmscTimestamp::decode(&mut Reader::new(&out, 0), "TP-SCTS").unwrap();
        assert_eq!(back.tz_quarters, -20);
    }

    #[test]
    fn unix_round_trip() {
        // 2024-02-29 12:34:56 UTC
        let t = SmscTimestamp::from_unix(1_709_210_096, 4);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute),
            (24, 2, 29, 13, 34)
        );
        assert_eq!(t.to_unix(), Some(1_709_210_096));
    }

    #[test]
    fn rejects_non_bcd() {
        let b = decode_hex("9930925161A580").unwrap();
        let e = SmscTimestamp::decode(&mut Reader::new(&b, 10), "TP-SCTS").unwrap_err();
        assert_eq!(e.offset, 15);
    }
}
