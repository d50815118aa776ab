//! TP-UDL / TP-UD: user data with its optional header, in any of the three alphabets.
//! Shared by SUBMIT, DELIVER and STATUS-REPORT.

use crate::dcs::{Alphabet, Dcs};
use crate::error::{EncodeError, PduError, PduErrorKind};
use crate::gsm7::{pack_septets, packed_len, unpack_septets};
use crate::reader::Reader;
use crate::ucs2::{decode_ucs2, encode_ucs2_into};
use crate::udh::Udh;

/// Most septets in one TPDU's user data.
pub const MAX_SEPTETS: usize = 160;
/// Most octets in one TPDU's user data.
pub const MAX_OCTETS: usize = 140;

/// The content of a message: text (sent as GSM 7-bit or UCS2, as the DCS says) or binary
/// data (8-bit).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserData {
    /// Text.
    Text(String),
    /// 8-bit data (or UCS2 octets that are not to be interpreted).
    Binary(Vec<u8>),
}

impl Default for UserData {
    fn default() -> Self {
        Self::Text(String::new())
    }
}

impl UserData {
    /// The text, if this is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t),
            Self::Binary(_) => None,
        }
    }

    /// The binary data, if this is binary.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Text(_) => None,
            Self::Binary(b) => Some(b),
        }
    }

    /// Whether there is no content.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Text(t) => t.is_empty(),
            Self::Binary(b) => b.is_empty(),
        }
    }
}

/// Fill bits needed after a header of `udh_octets` octets (UDHL included) so that the text
/// starts on a septet boundary.
pub fn fill_bits(udh_octets: usize) -> u8 {
    ((7 - (udh_octets * 8) % 7) % 7) as u8
}

/// Septets taken by a header of `udh_octets` octets plus its fill bits.
pub fn udh_septets(udh_octets: usize) -> usize {
    (udh_octets * 8).div_ceil(7)
}

/// Appends TP-UDL and TP-UD.
pub(crate) fn encode(
    dcs: Dcs,
    udh: Option<&Udh>,
    ud: &UserData,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    if dcs.is_compressed() {
        return Err(EncodeError::Compressed);
    }
    let mut header = Vec::new();
    if let Some(h) = udh {
        h.encode(&mut header)?;
    }
    match (dcs.alphabet(), ud) {
        (Alphabet::Gsm7, UserData::Text(text)) => {
            let tables = udh.map(Udh::gsm7_tables).unwrap_or_default();
            let septets = tables.encode(text)?;
            let hs = if header.is_empty() {
                0
            } else {
                udh_septets(header.len())
            };
            let udl = hs + septets.len();
            if udl > MAX_SEPTETS {
                return Err(EncodeError::UserDataTooLong {
                    length: udl,
                    max: MAX_SEPTETS,
                    unit: "septets",
                });
            }
            out.push(udl as u8);
            out.extend_from_slice(&header);
            let fill = if header.is_empty() {
                0
            } else {
                fill_bits(header.len())
            };
            out.reserve(packed_len(septets.len(), fill));
            pack_septets(&septets, fill, out);
        }
        (Alphabet::Gsm7, UserData::Binary(_)) | (Alphabet::Data8, UserData::Text(_)) => {
            return Err(EncodeError::AlphabetMismatch)
        }
        (Alphabet::Ucs2, UserData::Text(text)) => {
            let start = out.len();
            out.push(0);
            out.extend_from_slice(&header);
            encode_ucs2_into(text, out);
            set_octet_udl(out, start)?;
        }
        (Alphabet::Ucs2 | Alphabet::Data8, UserData::Binary(data)) => {
            let start = out.len();
            out.push(0);
            out.extend_from_slice(&header);
            out.extend_from_slice(data);
            set_octet_udl(out, start)?;
        }
    }
    Ok(())
}

fn set_octet_udl(out: &mut [u8], start: usize) -> Result<(), EncodeError> {
    let len = out.len().saturating_sub(start + 1);
    if len > MAX_OCTETS {
        return Err(EncodeError::UserDataTooLong {
            length: len,
            max: MAX_OCTETS,
            unit: "octets",
        });
    }
    if let Some(slot) = out.get_mut(start) {
        *slot = len as u8;
    }
    Ok(())
}

/// Decodes TP-UDL and TP-UD. `dcs_offset` is where TP-DCS was, for the compressed error.
pub(crate) fn decode(
    r: &mut Reader<'_>,
    dcs: Dcs,
    dcs_offset: usize,
    udhi: bool,
) -> Result<(Option<Udh>, UserData), PduError> {
    if dcs.is_compressed() {
        return Err(PduError {
            offset: dcs_offset,
            kind: PduErrorKind::Compressed { dcs: dcs.0 },
        });
    }
    let udl_offset = r.offset();
    let udl = usize::from(r.u8("TP-UDL")?);
    let alphabet = dcs.alphabet();
    let (max, unit) = match alphabet {
        Alphabet::Gsm7 => (MAX_SEPTETS, "septets"),
        _ => (MAX_OCTETS, "octets"),
    };
    if udl > max {
        return Err(PduError {
            offset: udl_offset,
            kind: PduErrorKind::TooLong {
                field: "TP-UDL",
                value: udl,
                max,
                unit,
            },
        });
    }
    let octets = match alphabet {
        Alphabet::Gsm7 => packed_len(udl, 0),
        _ => udl,
    };
    let ud_offset = r.offset();
    let data = r.take(octets, "TP-UD")?;
    let (udh, body, udh_len) = if udhi {
        let Some(&udhl) = data.first() else {
            return Err(PduError {
                offset: ud_offset,
                kind: PduErrorKind::Truncated {
                    field: "TP-UDHL",
                    needed: 1,
                    available: 0,
                },
            });
        };
        let hl = usize::from(udhl) + 1;
        let fits = match alphabet {
            Alphabet::Gsm7 => udh_septets(hl) <= udl,
            _ => hl <= udl,
        };
        let header = data.get(..hl).filter(|_| fits).ok_or(PduError {
            offset: ud_offset,
            kind: PduErrorKind::TooLong {
                field: "TP-UDHL",
                value: usize::from(udhl),
                max: octets.saturating_sub(1),
                unit: "octets",
            },
        })?;
        let h = Udh::decode(header, ud_offset)?;
        (Some(h), data.get(hl..).unwrap_or(&[]), hl)
    } else {
        (None, data, 0)
    };
    let content = match alphabet {
        Alphabet::Gsm7 => {
            let (fill, count) = if udh_len == 0 {
                (0, udl)
            } else {
                (fill_bits(udh_len), udl - udh_septets(udh_len))
            };
            let septets = unpack_septets(body, fill, count);
            let tables = udh.as_ref().map(Udh::gsm7_tables).unwrap_or_default();
            UserData::Text(tables.decode(&septets))
        }
        Alphabet::Ucs2 => UserData::Text(decode_ucs2(body)),
        Alphabet::Data8 => UserData::Binary(body.to_vec()),
    };
    Ok((udh, content))
}
