//! Luhn check digits: IMEIs and ICCIDs carry one, and gateways (and humans) check them.

/// The Luhn check digit that completes `digits` (which must be ASCII digits; anything else
/// is skipped).
pub fn check_digit(digits: &str) -> u8 {
    let mut sum = 0u32;
    // Walking from the right, the digit next to the (future) check digit is doubled.
    for (i, d) in digits
        .bytes()
        .rev()
        .filter(u8::is_ascii_digit)
        .map(|b| u32::from(b - b'0'))
        .enumerate()
    {
        let v = if i.is_multiple_of(2) {
            let x = d * 2;
            if x > 9 {
                x - 9
            } else {
                x
            }
        } else {
            d
        };
        sum += v;
    }
    // `sum % 10` is < 10, so the narrowing is lossless.
    ((10 - (sum % 10)) % 10) as u8
}

/// `digits` followed by its Luhn check digit.
pub fn complete(digits: &str) -> String {
    format!("{digits}{}", check_digit(digits))
}

/// Whether a full number (payload + check digit) passes the Luhn check.
pub fn is_valid(number: &str) -> bool {
    match number.len().checked_sub(1) {
        Some(n) if n > 0 && number.bytes().all(|b| b.is_ascii_digit()) => {
            number[n..] == check_digit(&number[..n]).to_string()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Classic textbook example: 7992739871 -> check digit 3.
        assert_eq!(check_digit("7992739871"), 3);
        // A well-known sample IMEI.
        assert!(is_valid("490154203237518"));
        assert!(!is_valid("490154203237517"));
        assert!(!is_valid(""));
    }
}
