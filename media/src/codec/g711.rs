//! G.711 A-law and µ-law (ITU-T G.711), written from the recommendation's segment rules.
//!
//! Decoding goes through 256-entry tables built at compile time; encoding computes the
//! segment from the position of the highest set bit, which is one instruction.

/// µ-law bias added before the segment search (G.711 §3.2).
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can represent before the bias is added.
const ULAW_CLIP: i32 = 32_635;

/// Encodes one 16-bit linear sample to µ-law.
#[inline]
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(ULAW_CLIP) + ULAW_BIAS;
    // s is in 0x84..=0x7FFF: its top bit is at position 7..=14, the segment is that - 7.
    let exponent = (31 - (s as u32).leading_zeros()) as i32 - 7;
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

const fn ulaw_to_linear_const(code: u8) -> i16 {
    let u = !code;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if u & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encodes one 16-bit linear sample to A-law.
#[inline]
pub fn linear_to_alaw(sample: i16) -> u8 {
    let mut v = i32::from(sample) >> 3; // A-law works on 13 bits
    let mask = if v >= 0 {
        0xD5
    } else {
        v = -v - 1;
        0x55
    };
    if v > 0x0FFF {
        return 0x7F ^ mask;
    }
    let segment = if v < 32 {
        0
    } else {
        (31 - (v as u32).leading_zeros()) as i32 - 4
    };
    let mantissa = if segment < 2 {
        (v >> 1) & 0x0F
    } else {
        (v >> segment) & 0x0F
    };
    (((segment << 4) | mantissa) as u8) ^ mask
}

const fn alaw_to_linear_const(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let segment = ((a & 0x70) >> 4) as i32;
    match segment {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= segment - 1;
        }
    }
    if a & 0x80 != 0 {
        t as i16
    } else {
        -t as i16
    }
}

const fn build_table(alaw: bool) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if alaw {
            alaw_to_linear_const(i as u8)
        } else {
            ulaw_to_linear_const(i as u8)
        };
        i += 1;
    }
    table
}

/// µ-law code -> linear sample.
pub static ULAW_TO_LINEAR: [i16; 256] = build_table(false);
/// A-law code -> linear sample.
pub static ALAW_TO_LINEAR: [i16; 256] = build_table(true);

/// Decodes one µ-law byte.
#[inline]
pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_TO_LINEAR[usize::from(code)]
}

/// Decodes one A-law byte.
#[inline]
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_TO_LINEAR[usize::from(code)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes() {
        // Silence and the extremes, from the G.711 tables.
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x80), 32_124);
        assert_eq!(ulaw_to_linear(0x00), -32_124);
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0xAA), 32_256);
        assert_eq!(alaw_to_linear(0x2A), -32_256);
    }

    #[test]
    fn every_code_round_trips() {
        for code in 0..=255u8 {
            let lin = ulaw_to_linear(code);
            // 0x7F and 0xFF are both zero in µ-law (negative zero encodes as 0xFF).
            if lin != 0 {
                assert_eq!(linear_to_ulaw(lin), code, "µ-law {code:#04x}");
            }
            assert_eq!(
                linear_to_alaw(alaw_to_linear(code)),
                code,
                "A-law {code:#04x}"
            );
        }
    }

    #[test]
    fn monotonic_and_bounded_error() {
        let mut prev_u = i16::MIN;
        let mut prev_a = i16::MIN;
        for s in (i16::MIN..=i16::MAX).step_by(7) {
            let u = ulaw_to_linear(linear_to_ulaw(s));
            let a = alaw_to_linear(linear_to_alaw(s));
            assert!(u >= prev_u && a >= prev_a, "not monotonic at {s}");
            prev_u = u;
            prev_a = a;
            let mag = i32::from(s).abs();
            // Quantisation step is at most 1/16 of the segment: relative error < ~6.5%.
            let tol = (mag / 14).max(16);
            assert!(
                (i32::from(u) - i32::from(s)).abs() <= tol.max(140),
                "µ {s} -> {u}"
            );
            assert!(
                (i32::from(a) - i32::from(s)).abs() <= tol.max(140),
                "A {s} -> {a}"
            );
        }
    }
}
