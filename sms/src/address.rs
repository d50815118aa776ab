//! Addresses: TP-OA / TP-DA / TP-RA (23.040 §9.1.2.5) and the SMSC address that precedes
//! the TPDU in `+CMGR` / `AT+CMGS` PDUs (24.011 RP address).

use core::fmt;

use crate::error::{EncodeError, PduError, PduErrorKind};
use crate::gsm7::{pack_septets, unpack_septets, Gsm7Tables};
use crate::reader::Reader;

/// Type of number (bits 6-4 of the type-of-address octet): tells whether digits are
/// international, national, or an alphanumeric sender name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeOfNumber {
    /// 000: unknown (dialled as written).
    Unknown,
    /// 001: international (shown with a leading `+`).
    International,
    /// 010: national.
    National,
    /// 011: network specific.
    NetworkSpecific,
    /// 100: subscriber number.
    Subscriber,
    /// 101: alphanumeric, GSM 7-bit packed (sender names such as "Google").
    Alphanumeric,
    /// 110: abbreviated number.
    Abbreviated,
    /// 111: reserved.
    Reserved,
}

impl TypeOfNumber {
    /// From the three TON bits.
    pub fn from_bits(bits: u8) -> Self {
        match bits & 7 {
            0 => Self::Unknown,
            1 => Self::International,
            2 => Self::National,
            3 => Self::NetworkSpecific,
            4 => Self::Subscriber,
            5 => Self::Alphanumeric,
            6 => Self::Abbreviated,
            _ => Self::Reserved,
        }
    }

    /// The three TON bits.
    pub fn bits(self) -> u8 {
        match self {
            Self::Unknown => 0,
            Self::International => 1,
            Self::National => 2,
            Self::NetworkSpecific => 3,
            Self::Subscriber => 4,
            Self::Alphanumeric => 5,
            Self::Abbreviated => 6,
            Self::Reserved => 7,
        }
    }
}

/// Numbering plan identification (bits 3-0 of the type-of-address octet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberingPlan {
    /// 0000: unknown.
    Unknown,
    /// 0001: ISDN / telephone (E.164), the usual one.
    Isdn,
    /// 0011: data (X.121).
    Data,
    /// 0100: telex.
    Telex,
    /// 1000: national.
    National,
    /// 1001: private.
    Private,
    /// 1010: ERMES.
    Ermes,
    /// Any other value, kept as received.
    Other(u8),
}

impl NumberingPlan {
    /// From the four NPI bits.
    pub fn from_bits(bits: u8) -> Self {
        match bits & 0x0F {
            0 => Self::Unknown,
            1 => Self::Isdn,
            3 => Self::Data,
            4 => Self::Telex,
            8 => Self::National,
            9 => Self::Private,
            10 => Self::Ermes,
            b => Self::Other(b),
        }
    }

    /// The four NPI bits.
    pub fn bits(self) -> u8 {
        match self {
            Self::Unknown => 0,
            Self::Isdn => 1,
            Self::Data => 3,
            Self::Telex => 4,
            Self::National => 8,
            Self::Private => 9,
            Self::Ermes => 10,
            Self::Other(b) => b & 0x0F,
        }
    }
}

/// A phone number or alphanumeric sender, as carried in a PDU.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    /// Type of number.
    pub ton: TypeOfNumber,
    /// Numbering plan.
    pub npi: NumberingPlan,
    /// The digits (`0-9 * # a b c`, without `+`), or the text of an alphanumeric address.
    pub value: String,
}

/// Largest number of digits (semi-octets) in an address (23.040 §9.1.2.5: 10 octets).
pub const MAX_DIGITS: usize = 20;
/// Largest number of septets in an alphanumeric address (10 octets).
pub const MAX_ALPHANUMERIC_SEPTETS: usize = 11;

impl Address {
    /// An international E.164 number; a leading `+` is dropped.
    pub fn international(digits: &str) -> Self {
        Self {
            ton: TypeOfNumber::International,
            npi: NumberingPlan::Isdn,
            value: digits.trim_start_matches('+').to_string(),
        }
    }

    /// A national number.
    pub fn national(digits: &str) -> Self {
        Self {
            ton: TypeOfNumber::National,
            npi: NumberingPlan::Isdn,
            value: digits.to_string(),
        }
    }

    /// A number of unknown type (sent as dialled).
    pub fn unknown(digits: &str) -> Self {
        Self {
            ton: TypeOfNumber::Unknown,
            npi: NumberingPlan::Isdn,
            value: digits.to_string(),
        }
    }

    /// An alphanumeric sender name (at most 11 GSM 7-bit septets).
    pub fn alphanumeric(name: &str) -> Self {
        Self {
            ton: TypeOfNumber::Alphanumeric,
            npi: NumberingPlan::Unknown,
            value: name.to_string(),
        }
    }

    /// Reads the usual written forms: `+digits` is international, a string of dial digits
    /// is of unknown type, anything else is an alphanumeric name.
    pub fn parse(s: &str) -> Self {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix('+') {
            if !rest.is_empty() && rest.chars().all(|c| digit_nibble(c).is_some()) {
                return Self::international(rest);
            }
        }
        if !s.is_empty() && s.chars().all(|c| digit_nibble(c).is_some()) {
            Self::unknown(s)
        } else {
            Self::alphanumeric(s)
        }
    }

    /// Whether this is an alphanumeric sender name.
    pub fn is_alphanumeric(&self) -> bool {
        self.ton == TypeOfNumber::Alphanumeric
    }

    fn type_octet(&self) -> u8 {
        0x80 | (self.ton.bits() << 4) | self.npi.bits()
    }

    /// Encodes as a TP address: length in useful semi-octets, type, value.
    pub(crate) fn encode_tp(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if self.is_alphanumeric() {
            let septets = Gsm7Tables::DEFAULT.encode(&self.value).map_err(|_| {
                EncodeError::InvalidAddress {
                    reason: "alphanumeric address is not GSM 7-bit",
                }
            })?;
            if septets.len() > MAX_ALPHANUMERIC_SEPTETS {
                return Err(EncodeError::InvalidAddress {
                    reason: "alphanumeric address longer than 11 septets",
                });
            }
            let semi_octets = (septets.len() * 7).div_ceil(4);
            out.push(semi_octets as u8);
            out.push(self.type_octet());
            pack_septets(&septets, 0, out);
            return Ok(());
        }
        let n = self.digit_count()?;
        out.push(n as u8);
        out.push(self.type_octet());
        self.push_digits(out)
    }

    /// Encodes as an SMSC (RP) address: length in octets including the type octet.
    pub(crate) fn encode_smsc(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if self.is_alphanumeric() {
            return Err(EncodeError::InvalidAddress {
                reason: "an SMSC address cannot be alphanumeric",
            });
        }
        let n = self.digit_count()?;
        out.push((1 + n.div_ceil(2)) as u8);
        out.push(self.type_octet());
        self.push_digits(out)
    }

    fn digit_count(&self) -> Result<usize, EncodeError> {
        let n = self.value.chars().count();
        if n > MAX_DIGITS {
            return Err(EncodeError::InvalidAddress {
                reason: "more than 20 digits",
            });
        }
        Ok(n)
    }

    fn push_digits(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let mut pending: Option<u8> = None;
        for c in self.value.chars() {
            let d = digit_nibble(c).ok_or(EncodeError::InvalidAddress {
                reason: "digits must be 0-9, *, #, a, b or c",
            })?;
            match pending.take() {
                None => pending = Some(d),
                Some(lo) => out.push(lo | (d << 4)),
            }
        }
        if let Some(lo) = pending {
            out.push(lo | 0xF0);
        }
        Ok(())
    }

    /// Decodes a TP address (TP-OA, TP-DA, TP-RA).
    pub(crate) fn decode_tp(r: &mut Reader<'_>, field: &'static str) -> Result<Self, PduError> {
        let len_offset = r.offset();
        let semi_octets = usize::from(r.u8(field)?);
        if semi_octets > MAX_DIGITS {
            return Err(PduError {
                offset: len_offset,
                kind: PduErrorKind::TooLong {
                    field,
                    value: semi_octets,
                    max: MAX_DIGITS,
                    unit: "semi-octets",
                },
            });
        }
        let toa = r.u8(field)?;
        let body = r.take(semi_octets.div_ceil(2), field)?;
        Ok(Self::from_parts(toa, body, semi_octets))
    }

    /// Decodes the SMSC address that prefixes a PDU; length 0 means "none given".
    pub(crate) fn decode_smsc(r: &mut Reader<'_>) -> Result<Option<Self>, PduError> {
        const FIELD: &str = "SMSC address";
        let len_offset = r.offset();
        let octets = usize::from(r.u8(FIELD)?);
        if octets == 0 {
            return Ok(None);
        }
        if octets > 1 + MAX_DIGITS / 2 {
            return Err(PduError {
                offset: len_offset,
                kind: PduErrorKind::TooLong {
                    field: FIELD,
                    value: octets,
                    max: 1 + MAX_DIGITS / 2,
                    unit: "octets",
                },
            });
        }
        let toa = r.u8(FIELD)?;
        let body = r.take(octets - 1, FIELD)?;
        Ok(Some(Self::from_parts(toa, body, body.len() * 2)))
    }

    fn from_parts(toa: u8, body: &[u8], semi_octets: usize) -> Self {
        let ton = TypeOfNumber::from_bits(toa >> 4);
        let npi = NumberingPlan::from_bits(toa);
        let value = if ton == TypeOfNumber::Alphanumeric {
            let septets = unpack_septets(body, 0, semi_octets * 4 / 7);
            Gsm7Tables::DEFAULT.decode(&septets)
        } else {
            let mut s = String::with_capacity(semi_octets);
            for i in 0..semi_octets {
                let b = body.get(i / 2).copied().unwrap_or(0xFF);
                let nibble = if i % 2 == 0 { b & 0x0F } else { b >> 4 };
                if let Some(c) = nibble_digit(nibble) {
                    s.push(c);
                }
            }
            s
        };
        Self { ton, npi, value }
    }
}

impl fmt::Display for Address {
    /// International numbers with `+`, everything else as stored.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ton == TypeOfNumber::International {
            write!(f, "+{}", self.value)
        } else {
            f.write_str(&self.value)
        }
    }
}

fn digit_nibble(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(0x0A),
        '#' => Some(0x0B),
        'a' | 'A' => Some(0x0C),
        'b' | 'B' => Some(0x0D),
        'c' | 'C' => Some(0x0E),
        _ => None,
    }
}

/// 0xF is the filler and is skipped.
fn nibble_digit(n: u8) -> Option<char> {
    match n {
        0..=9 => Some(char::from(b'0' + n)),
        0x0A => Some('*'),
        0x0B => Some('#'),
        0x0C => Some('a'),
        0x0D => Some('b'),
        0x0E => Some('c'),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::{decode_hex, encode_hex};

    fn tp(a: &Address) -> String {
        let mut v = Vec::new();
        a.encode_tp(&mut v).unwrap();
        encode_hex(&v)
    }

    #[test]
    fn international_with_filler() {
        assert_eq!(
            tp(&Address::international("+46708251358")),
            "0B916407281553F8"
        );
        let b = decode_hex("0B916407281553F8").unwrap();
        let a = Address::decode_tp(&mut Reader::new(&b, 0), "TP-DA").unwrap();
        assert_eq!(a.to_string(), "+46708251358");
    }

    #[test]
    fn alphanumeric_google() {
        assert_eq!(tp(&Address::alphanumeric("Google")), "0BD0C7F7FBCC2E03");
        // some SMSCs count whole octets (0x0C): same text
        let b = decode_hex("0CD0C7F7FBCC2E03").unwrap();
        let a = Address::decode_tp(&mut Reader::new(&b, 0), "TP-OA").unwrap();
        assert_eq!(a, Address::alphanumeric("Google"));
        assert!(Address::alphanumeric("TwelveLetter")
            .encode_tp(&mut Vec::new())
            .is_err());
    }

    #[test]
    fn smsc() {
        let mut v = Vec::new();
        Address::international("27381000015")
            .encode_smsc(&mut v)
            .unwrap();
        assert_eq!(encode_hex(&v), "07917283010010F5");
        let a = Address::decode_smsc(&mut Reader::new(&v, 0))
            .unwrap()
            .unwrap();
        assert_eq!(a.to_string(), "+27381000015");
        assert_eq!(
            Address::decode_smsc(&mut Reader::new(&[0], 0)).unwrap(),
            None
        );
    }

    #[test]
    fn parse_forms() {
        assert_eq!(Address::parse("+4912"), Address::international("4912"));
        assert_eq!(Address::parse("*100#"), Address::unknown("*100#"));
        assert!(Address::parse("Bank").is_alphanumeric());
    }
}
