//! Hex helpers: PDUs travel over AT as hex strings (`+CMGR`, `+CMT`, `AT+CMGS`).

use crate::error::{PduError, PduErrorKind};

/// Decodes a hex string (upper or lower case; surrounding ASCII whitespace, such as the CR
/// left by an AT line, is ignored). Errors give the character position.
pub fn decode_hex(s: &str) -> Result<Vec<u8>, PduError> {
    let lead = s.len() - s.trim_start().len();
    let t = s.trim();
    let bytes = t.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return Err(PduError {
            offset: lead + bytes.len(),
            kind: PduErrorKind::OddHexLength { len: bytes.len() },
        });
    }
    let mut out = Vec::with_capacity(bytes.len() / 2);
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let mut v = 0u8;
        for (j, &c) in pair.iter().enumerate() {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => {
                    let pos = i * 2 + j;
                    let ch = t.get(pos..).and_then(|r| r.chars().next()).unwrap_or('?');
                    return Err(PduError {
                        offset: lead + pos,
                        kind: PduErrorKind::InvalidHex { ch },
                    });
                }
            };
            v = (v << 4) | d;
        }
        out.push(v);
    }
    Ok(out)
}

/// Encodes octets as upper-case hex, the form modules expect after `AT+CMGS`.
pub fn encode_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    push_hex(&mut s, bytes);
    s
}

pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0F)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_case() {
        assert_eq!(decode_hex("0aFf").unwrap(), vec![0x0A, 0xFF]);
        assert_eq!(encode_hex(&[0x0A, 0xFF]), "0AFF");
        assert_eq!(decode_hex(" 00\r\n").unwrap(), vec![0]);
    }

    #[test]
    fn errors_name_position() {
        let e = decode_hex("0A0").unwrap_err();
        assert_eq!(e.kind, PduErrorKind::OddHexLength { len: 3 });
        let e = decode_hex("0AxZ").unwrap_err();
        assert_eq!(e.offset, 2);
        assert_eq!(e.kind, PduErrorKind::InvalidHex { ch: 'x' });
        let e = decode_hex("0Aé").unwrap_err();
        assert_eq!(e.offset, 2);
    }
}
