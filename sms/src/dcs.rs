//! TP-DCS, the data coding scheme (23.038 §4): which alphabet the user data uses, the
//! message class, and the compression flag.

/// The alphabet of the user data, which decides how TP-UDL is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alphabet {
    /// GSM 7-bit default alphabet (TP-UDL in septets).
    Gsm7,
    /// 8-bit data (TP-UDL in octets).
    Data8,
    /// UCS2 / UTF-16BE (TP-UDL in octets).
    Ucs2,
}

/// Message class: where the receiving phone puts the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageClass {
    /// Class 0: shown at once, not stored ("flash SMS").
    Class0,
    /// Class 1: mobile equipment specific.
    Class1,
    /// Class 2: SIM specific.
    Class2,
    /// Class 3: terminal equipment specific.
    Class3,
}

impl MessageClass {
    fn from_bits(b: u8) -> Self {
        match b & 3 {
            0 => Self::Class0,
            1 => Self::Class1,
            2 => Self::Class2,
            _ => Self::Class3,
        }
    }

    fn bits(self) -> u8 {
        match self {
            Self::Class0 => 0,
            Self::Class1 => 1,
            Self::Class2 => 2,
            Self::Class3 => 3,
        }
    }
}

/// The raw TP-DCS octet with accessors; kept raw so that every received value re-encodes
/// exactly (message-waiting groups included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Dcs(pub u8);

impl Dcs {
    /// GSM 7-bit, no class.
    pub const GSM7: Dcs = Dcs(0x00);
    /// 8-bit data, no class.
    pub const DATA8: Dcs = Dcs(0x04);
    /// UCS2, no class.
    pub const UCS2: Dcs = Dcs(0x08);

    /// A general data coding value (group 00xx) for an alphabet and optional class.
    pub fn new(alphabet: Alphabet, class: Option<MessageClass>) -> Self {
        let a = match alphabet {
            Alphabet::Gsm7 => 0,
            Alphabet::Data8 => 1,
            Alphabet::Ucs2 => 2,
        };
        let c = class.map_or(0, |c| 0x10 | c.bits());
        Dcs((a << 2) | c)
    }

    /// The alphabet. Reserved values read as GSM 7-bit, as 23.038 tells receivers to do.
    pub fn alphabet(self) -> Alphabet {
        let b = self.0;
        match b >> 4 {
            0..=3 => match (b >> 2) & 3 {
                1 => Alphabet::Data8,
                2 => Alphabet::Ucs2,
                _ => Alphabet::Gsm7,
            },
            0x0E => Alphabet::Ucs2,
            0x0F if b & 0x04 != 0 => Alphabet::Data8,
            _ => Alphabet::Gsm7,
        }
    }

    /// Whether the text is compressed (23.042) — this crate rejects such messages.
    pub fn is_compressed(self) -> bool {
        self.0 & 0x80 == 0 && self.0 & 0x20 != 0
    }

    /// The message class, if the value carries one.
    pub fn message_class(self) -> Option<MessageClass> {
        let b = self.0;
        match b >> 4 {
            0..=3 if b & 0x10 != 0 => Some(MessageClass::from_bits(b)),
            0x0F => Some(MessageClass::from_bits(b)),
            _ => None,
        }
    }

    /// Whether the message is marked for automatic deletion (group 01xx).
    pub fn auto_delete(self) -> bool {
        self.0 >> 6 == 1
    }

    /// The same value with another alphabet (class and group kept where the group allows
    /// the alphabet; otherwise a general data coding value with the same class).
    pub fn with_alphabet(self, alphabet: Alphabet) -> Self {
        if self.alphabet() == alphabet {
            return self;
        }
        let b = self.0;
        match (b >> 4, alphabet) {
            (0..=3, _) => {
                let fresh = Dcs::new(alphabet, None).0 & 0x0C;
                Dcs((b & !0x0C) | fresh)
            }
            (0x0F, Alphabet::Gsm7) => Dcs(b & !0x04),
            (0x0F, Alphabet::Data8) => Dcs(b | 0x04),
            (0x0C | 0x0D, Alphabet::Ucs2) => Dcs(0xE0 | (b & 0x0F)),
            (0x0E, Alphabet::Gsm7) => Dcs(0xD0 | (b & 0x0F)),
            _ => Dcs::new(alphabet, self.message_class()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups() {
        assert_eq!(Dcs(0x00).alphabet(), Alphabet::Gsm7);
        assert_eq!(Dcs(0x08).alphabet(), Alphabet::Ucs2);
        assert_eq!(Dcs(0x04).alphabet(), Alphabet::Data8);
        assert_eq!(Dcs(0x10).message_class(), Some(MessageClass::Class0));
        assert_eq!(Dcs(0x18).alphabet(), Alphabet::Ucs2);
        assert_eq!(Dcs(0xF5).alphabet(), Alphabet::Data8);
        assert_eq!(Dcs(0xF5).message_class(), Some(MessageClass::Class1));
        assert_eq!(Dcs(0xE0).alphabet(), Alphabet::Ucs2);
        assert_eq!(Dcs(0xC8).alphabet(), Alphabet::Gsm7);
        assert_eq!(Dcs(0x0C).alphabet(), Alphabet::Gsm7); // reserved
        assert!(Dcs(0x20).is_compressed());
        assert!(Dcs(0x60).is_compressed());
        assert!(!Dcs(0xF0).is_compressed());
        assert!(Dcs(0x40).auto_delete());
        assert_eq!(
            Dcs::new(Alphabet::Ucs2, Some(MessageClass::Class0)),
            Dcs(0x18)
        );
        assert_eq!(Dcs(0x10).with_alphabet(Alphabet::Ucs2), Dcs(0x18));
        assert_eq!(Dcs(0xF0).with_alphabet(Alphabet::Ucs2), Dcs(0x18));
    }
}
