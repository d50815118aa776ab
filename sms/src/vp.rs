//! TP-VP, the validity period of a SUBMIT (23.040 §9.2.3.12): how long the SMSC keeps
//! trying. Relative (one octet), absolute (a timestamp) or enhanced (seven octets).

use std::time::Duration;

use crate::error::{EncodeError, PduError};
use crate::reader::Reader;
use crate::timestamp::SmscTimestamp;

/// A validity period; its variant decides TP-VPF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Validity {
    /// TP-VPF 10: relative, coded in one octet (see [`Validity::relative_duration`]).
    Relative(u8),
    /// TP-VPF 11: absolute expiry time.
    Absolute(SmscTimestamp),
    /// TP-VPF 01: enhanced format, seven octets kept as sent (23.040 §9.2.3.12.3).
    Enhanced([u8; 7]),
}

impl Validity {
    /// The shortest relative period that is at least `d` (saturating at 63 weeks).
    pub fn relative(d: Duration) -> Self {
        let code = (0..=255u8)
            .find(|&c| Self::relative_duration(c) >= d)
            .unwrap_or(255);
        Self::Relative(code)
    }

    /// The duration of a relative code: 0..=143 five-minute steps, 144..=167 half hours
    /// after 12 h, 168..=196 days, 197..=255 weeks.
    pub fn relative_duration(code: u8) -> Duration {
        let c = u64::from(code);
        let minutes = match code {
            0..=143 => (c + 1) * 5,
            144..=167 => 12 * 60 + (c - 143) * 30,
            168..=196 => (c - 166) * 24 * 60,
            _ => (c - 192) * 7 * 24 * 60,
        };
        Duration::from_secs(minutes * 60)
    }

    /// The TP-VPF bits (already shifted to bits 4-3 of the first octet).
    pub(crate) fn vpf_bits(v: Option<&Self>) -> u8 {
        match v {
            None => 0,
            Some(Self::Enhanced(_)) => 0x08,
            Some(Self::Relative(_)) => 0x10,
            Some(Self::Absolute(_)) => 0x18,
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Self::Relative(c) => out.push(*c),
            Self::Absolute(t) => t.encode(out)?,
            Self::Enhanced(b) => out.extend_from_slice(b),
        }
        Ok(())
    }

    /// Decodes the field selected by the first octet's TP-VPF bits.
    pub(crate) fn decode(first_octet: u8, r: &mut Reader<'_>) -> Result<Option<Self>, PduError> {
        Ok(match (first_octet >> 3) & 3 {
            0 => None,
            2 => Some(Self::Relative(r.u8("TP-VP")?)),
            3 => Some(Self::Absolute(SmscTimestamp::decode(r, "TP-VP")?)),
            _ => {
                let b = r.take(7, "TP-VP")?;
                let mut a = [0u8; 7];
                a.copy_from_slice(b);
                Some(Self::Enhanced(a))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_codes() {
        assert_eq!(Validity::relative_duration(0), Duration::from_secs(300));
        assert_eq!(
            Validity::relative_duration(143),
            Duration::from_secs(12 * 3600)
        );
        assert_eq!(
            Validity::relative_duration(167),
            Duration::from_secs(24 * 3600)
        );
        assert_eq!(
            Validity::relative_duration(170),
            Duration::from_secs(4 * 86400)
        );
        assert_eq!(
            Validity::relative_duration(255),
            Duration::from_secs(63 * 7 * 86400)
        );
        assert_eq!(
            Validity::relative(Duration::from_secs(4 * 86400)),
            Validity::Relative(170)
        );
        assert_eq!(
            Validity::relative(Duration::from_secs(301)),
            Validity::Relative(1)
        );
        assert_eq!(
            Validity::relative(Duration::from_secs(u64::MAX)),
            Validity::Relative(255)
        );
    }
}
