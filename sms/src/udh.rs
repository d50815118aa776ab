//! The user data header (23.040 §9.2.3.24): concatenation (IEI 0x00 with an 8-bit
//! reference, 0x08 with a 16-bit reference), national language shifts (0x24 locking,
//! 0x25 single) and any other element, kept as received.

use crate::error::{EncodeError, PduError, PduErrorKind};
use crate::gsm7::{Gsm7Tables, NationalLanguage};

/// One information element of a user data header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InformationElement {
    /// IEI 0x00: concatenated message, 8-bit reference.
    Concat8 {
        /// Reference shared by all parts.
        reference: u8,
        /// Number of parts.
        total: u8,
        /// This part's number, from 1.
        sequence: u8,
    },
    /// IEI 0x08: concatenated message, 16-bit reference.
    Concat16 {
        /// Reference shared by all parts.
        reference: u16,
        /// Number of parts.
        total: u8,
        /// This part's number, from 1.
        sequence: u8,
    },
    /// IEI 0x24: national language locking shift, with the language id.
    LockingShift(u8),
    /// IEI 0x25: national language single shift, with the language id.
    SingleShift(u8),
    /// Any other element (or a known IEI with an unexpected length), preserved.
    Other {
        /// The IEI.
        iei: u8,
        /// Its data.
        data: Vec<u8>,
    },
}

impl InformationElement {
    fn encoded_len(&self) -> usize {
        2 + match self {
            Self::Concat8 { .. } => 3,
            Self::Concat16 { .. } => 4,
            Self::LockingShift(_) | Self::SingleShift(_) => 1,
            Self::Other { data, .. } => data.len(),
        }
    }
}

/// The reference that ties the parts of a concatenated message together; 8- and 16-bit
/// references are different keys even with the same number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConcatRef {
    /// IEI 0x00.
    Eight(u8),
    /// IEI 0x08.
    Sixteen(u16),
}

/// Where a part sits in a concatenated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    /// The shared reference.
    pub reference: ConcatRef,
    /// Number of parts (1..=255).
    pub total: u8,
    /// This part's number (1..=total).
    pub sequence: u8,
}

/// A user data header: an ordered list of information elements.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Udh {
    /// The elements, in order.
    pub elements: Vec<InformationElement>,
}

/// Largest user data header (UDHL octet included) that leaves room for anything.
pub const MAX_UDH_LEN: usize = 140;

impl Udh {
    /// A header with one concatenation element.
    pub fn concat(c: Concat) -> Self {
        let mut h = Self::default();
        h.push_concat(c);
        h
    }

    /// Adds a concatenation element.
    pub fn push_concat(&mut self, c: Concat) {
        self.elements.push(match c.reference {
            ConcatRef::Eight(reference) => InformationElement::Concat8 {
                reference,
                total: c.total,
                sequence: c.sequence,
            },
            ConcatRef::Sixteen(reference) => InformationElement::Concat16 {
                reference,
                total: c.total,
                sequence: c.sequence,
            },
        });
    }

    /// The concatenation information, if there is a usable element. Per 23.040, an element
    /// with a total or sequence of 0, or a sequence beyond the total, is ignored.
    pub fn concat_info(&self) -> Option<Concat> {
        self.elements.iter().find_map(|e| {
            let (reference, total, sequence) = match *e {
                InformationElement::Concat8 {
                    reference,
                    total,
                    sequence,
                } => (ConcatRef::Eight(reference), total, sequence),
                InformationElement::Concat16 {
                    reference,
                    total,
                    sequence,
                } => (ConcatRef::Sixteen(reference), total, sequence),
                _ => return None,
            };
            (total > 0 && sequence > 0 && sequence <= total).then_some(Concat {
                reference,
                total,
                sequence,
            })
        })
    }

    /// The GSM 7-bit tables the header selects (unknown languages fall back to default).
    pub fn gsm7_tables(&self) -> Gsm7Tables {
        let mut t = Gsm7Tables::DEFAULT;
        for e in &self.elements {
            match *e {
                InformationElement::LockingShift(id) => {
                    t.locking = NationalLanguage::from_id(id).filter(|l| l.has_locking_table())
                }
                InformationElement::SingleShift(id) => t.single = NationalLanguage::from_id(id),
                _ => {}
            }
        }
        t
    }

    /// Adds the national language elements for `tables`.
    pub fn push_tables(&mut self, tables: Gsm7Tables) {
        if let Some(l) = tables.locking {
            self.elements.push(InformationElement::LockingShift(l.id()));
        }
        if let Some(l) = tables.single {
            self.elements.push(InformationElement::SingleShift(l.id()));
        }
    }

    /// Encoded length in octets, the UDHL octet included.
    pub fn encoded_len(&self) -> usize {
        1 + self
            .elements
            .iter()
            .map(InformationElement::encoded_len)
            .sum::<usize>()
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let len = self.encoded_len();
        if len > MAX_UDH_LEN {
            return Err(EncodeError::HeaderTooLong { length: len });
        }
        out.push((len - 1) as u8);
        for e in &self.elements {
            match e {
                InformationElement::Concat8 {
                    reference,
                    total,
                    sequence,
                } => out.extend_from_slice(&[0x00, 3, *reference, *total, *sequence]),
                InformationElement::Concat16 {
                    reference,
                    total,
                    sequence,
                } => {
                    let [hi, lo] = reference.to_be_bytes();
                    out.extend_from_slice(&[0x08, 4, hi, lo, *total, *sequence]);
                }
                InformationElement::LockingShift(id) => out.extend_from_slice(&[0x24, 1, *id]),
                InformationElement::SingleShift(id) => out.extend_from_slice(&[0x25, 1, *id]),
                InformationElement::Other { iei, data } => {
                    out.push(*iei);
                    out.push(data.len() as u8);
                    out.extend_from_slice(data);
                }
            }
        }
        Ok(())
    }

    /// Decodes the header whose UDHL octet is `bytes[0]`; `bytes` is exactly the header.
    /// `base` is the offset of `bytes[0]` in the PDU.
    pub(crate) fn decode(bytes: &[u8], base: usize) -> Result<Self, PduError> {
        let mut elements = Vec::new();
        let mut pos = 1;
        while pos < bytes.len() {
            let iei = bytes.get(pos).copied().unwrap_or(0);
            let Some(&len) = bytes.get(pos + 1) else {
                return Err(PduError {
                    offset: base + pos,
                    kind: PduErrorKind::Truncated {
                        field: "TP-UDH information element",
                        needed: 2,
                        available: 1,
                    },
                });
            };
            let start = pos + 2;
            let end = start + usize::from(len);
            let Some(data) = bytes.get(start..end) else {
                return Err(PduError {
                    offset: base + pos + 1,
                    kind: PduErrorKind::TooLong {
                        field: "TP-UDH information element length",
                        value: usize::from(len),
                        max: bytes.len().saturating_sub(start),
                        unit: "octets",
                    },
                });
            };
            elements.push(match (iei, data) {
                (0x00, &[reference, total, sequence]) => InformationElement::Concat8 {
                    reference,
                    total,
                    sequence,
                },
                (0x08, &[hi, lo, total, sequence]) => InformationElement::Concat16 {
                    reference: u16::from_be_bytes([hi, lo]),
                    total,
                    sequence,
                },
                (0x24, &[id]) => InformationElement::LockingShift(id),
                (0x25, &[id]) => InformationElement::SingleShift(id),
                _ => InformationElement::Other {
                    iei,
                    data: data.to_vec(),
                },
            });
            pos = end;
        }
        Ok(Self { elements })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::{decode_hex, encode_hex};

    #[test]
    fn round_trip_elements() {
        let h = Udh {
            elements: vec![
                InformationElement::Concat16 {
                    reference: 0xBEEF,
                    total: 3,
                    sequence: 2,
                },
                InformationElement::SingleShift(1),
                InformationElement::Other {
                    iei: 0x70,
                    data: vec![1, 2],
                },
                InformationElement::Other {
                    iei: 0x00,
                    data: vec![1],
                },
            ],
        };
        let mut out = Vec::new();
        h.encode(&mut out).unwrap();
        assert_eq!(
            encode_hex(&out),
            "100804BEEF03022501017002010200 0101".replace(' ', "")
        );
        assert_eq!(Udh::decode(&out, 0).unwrap(), h);
        assert_eq!(
            h.concat_info(),
            Some(Concat {
                reference: ConcatRef::Sixteen(0xBEEF),
                total: 3,
                sequence: 2
            })
        );
    }

    #[test]
    fn invalid_concat_is_ignored_but_kept() {
        let b = decode_hex("050003070003").unwrap();
        let h = Udh::decode(&b, 0).unwrap();
        assert_eq!(h.elements.len(), 1);
        assert_eq!(h.concat_info(), None);
    }

    #[test]
    fn overlong_element_is_an_error() {
        let b = decode_hex("0400050102").unwrap();
        let e = Udh::decode(&b, 20).unwrap_err();
        assert_eq!(e.offset, 22);
    }
}
