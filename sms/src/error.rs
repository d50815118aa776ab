//! Error types shared by the decoders and encoders.

use core::fmt;

/// Why decoding a PDU failed, and where: the engine logs it and the AT backend reports it,
/// so it must say which field broke and at which octet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PduError {
    /// Octet offset into the PDU (counting the SMSC part) where the problem was found; for
    /// hex errors, the character position in the hex string.
    pub offset: usize,
    /// What went wrong.
    pub kind: PduErrorKind,
}

/// The kinds of decoding failure, so callers can react to some (e.g. compressed data)
/// without matching on strings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PduErrorKind {
    /// The hex string has an odd number of digits.
    OddHexLength {
        /// Number of hex digits found.
        len: usize,
    },
    /// A character that is not a hex digit.
    InvalidHex {
        /// The offending character.
        ch: char,
    },
    /// A field runs past the end of the PDU.
    Truncated {
        /// The 23.040 name of the field.
        field: &'static str,
        /// Octets the field needs.
        needed: usize,
        /// Octets left in the PDU.
        available: usize,
    },
    /// A length field is larger than the standard allows.
    TooLong {
        /// The 23.040 name of the field.
        field: &'static str,
        /// The value found.
        value: usize,
        /// The largest allowed value.
        max: usize,
        /// Unit of `value` and `max` ("octets", "septets", "semi-octets").
        unit: &'static str,
    },
    /// A field holds a value that cannot be interpreted.
    InvalidValue {
        /// The 23.040 name of the field.
        field: &'static str,
        /// The raw octet.
        value: u8,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// The data coding scheme says the user data is compressed (23.042), which is not
    /// supported by any module or network we care about.
    Compressed {
        /// The TP-DCS octet.
        dcs: u8,
    },
    /// Octets remain after the last field of the TPDU.
    TrailingData {
        /// How many.
        count: usize,
    },
    /// The TP-MTI is not valid for the direction asked for.
    UnexpectedType {
        /// The two TP-MTI bits.
        mti: u8,
        /// "mobile-terminated" or "mobile-originated".
        direction: &'static str,
    },
}

impl fmt::Display for PduErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OddHexLength { len } => write!(f, "hex string has odd length {len}"),
            Self::InvalidHex { ch } => write!(f, "invalid hex character {ch:?}"),
            Self::Truncated {
                field,
                needed,
                available,
            } => write!(
                f,
                "{field} needs {needed} octets but only {available} remain"
            ),
            Self::TooLong {
                field,
                value,
                max,
                unit,
            } => write!(f, "{field} {value} exceeds {max} {unit}"),
            Self::InvalidValue {
                field,
                value,
                reason,
            } => write!(f, "invalid {field} 0x{value:02X}: {reason}"),
            Self::Compressed { dcs } => write!(
                f,
                "compressed user data (TP-DCS 0x{dcs:02X}) is not supported"
            ),
            Self::TrailingData { count } => {
                write!(f, "{count} unexpected octets after the last field")
            }
            Self::UnexpectedType { mti, direction } => {
                write!(f, "TP-MTI {mti:02b} is not a {direction} message type")
            }
        }
    }
}

impl fmt::Display for PduError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.kind, self.offset)
    }
}

impl std::error::Error for PduError {}

/// Why a message could not be encoded: the caller asked for something the PDU format cannot
/// carry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// A character has no code in the GSM 7-bit tables in use.
    Unrepresentable {
        /// The character.
        ch: char,
        /// Its index (in chars) in the text.
        index: usize,
    },
    /// The user data (with its header) does not fit in one TPDU.
    UserDataTooLong {
        /// Length needed.
        length: usize,
        /// Largest allowed length.
        max: usize,
        /// "septets" or "octets".
        unit: &'static str,
    },
    /// The user data header itself is too long or has an over-long element.
    HeaderTooLong {
        /// Its length in octets.
        length: usize,
    },
    /// An address cannot be encoded.
    InvalidAddress {
        /// Why.
        reason: &'static str,
    },
    /// A timestamp field is out of range.
    InvalidTimestamp {
        /// Which field.
        field: &'static str,
    },
    /// Binary user data with a 7-bit DCS, or text with an 8-bit DCS.
    AlphabetMismatch,
    /// The DCS asks for compression, which is not supported.
    Compressed,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unrepresentable { ch, index } => write!(
                f,
                "character {ch:?} at index {index} is not in the GSM 7-bit alphabet"
            ),
            Self::UserDataTooLong { length, max, unit } => {
                write!(f, "user data of {length} {unit} exceeds {max} {unit}")
            }
            Self::HeaderTooLong { length } => {
                write!(f, "user data header of {length} octets is too long")
            }
            Self::InvalidAddress { reason } => write!(f, "invalid address: {reason}"),
            Self::InvalidTimestamp { field } => write!(f, "timestamp {field} out of range"),
            Self::AlphabetMismatch => {
                write!(f, "user data kind does not match the data coding scheme")
            }
            Self::Compressed => write!(f, "compressed user data is not supported"),
        }
    }
}

impl std::error::Error for EncodeError {}
