//! UCS2 user data (23.038 §6.2.3), read and written as UTF-16 big-endian so that characters
//! outside the Basic Multilingual Plane (emoji) travel as surrogate pairs, as phones send them.

/// Appends `text` as UTF-16BE.
pub fn encode_ucs2_into(text: &str, out: &mut Vec<u8>) {
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
}

/// `text` as UTF-16BE octets.
pub fn encode_ucs2(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    encode_ucs2_into(text, &mut out);
    out
}

/// Number of UTF-16 code units (2 octets each) `text` takes.
pub fn ucs2_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Decodes UTF-16BE octets. Unpaired surrogates and an odd trailing octet become U+FFFD:
/// network data is never trusted to be well formed.
pub fn decode_ucs2(data: &[u8]) -> String {
    let units = data.chunks(2).map(|c| match *c {
        [hi, lo] => u16::from_be_bytes([hi, lo]),
        _ => 0xFFFD,
    });
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surrogate_pairs() {
        let b = encode_ucs2("a😀");
        assert_eq!(b, vec![0x00, 0x61, 0xD8, 0x3D, 0xDE, 0x00]);
        assert_eq!(decode_ucs2(&b), "a😀");
        assert_eq!(ucs2_len("a😀"), 3);
    }

    #[test]
    fn malformed_is_replaced() {
        assert_eq!(decode_ucs2(&[0xD8, 0x3D, 0x00, 0x61]), "\u{FFFD}a");
        assert_eq!(decode_ucs2(&[0x00, 0x61, 0x00]), "a\u{FFFD}");
    }
}
