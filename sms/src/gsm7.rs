//! The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1), the
//! national language shift tables for Turkish, Spanish and Portuguese (Annex A), and
//! septet packing (§6.1.2).
//!
//! Text is handled as a sequence of septet values (0..=127). A character from the
//! extension or a single-shift table takes two septets: ESC (0x1B) then its code.

use crate::error::EncodeError;

/// The escape septet that switches to the extension (single shift) table for one character.
pub const ESC: u8 = 0x1B;

/// Placeholder stored at index 0x1B of the primary tables; never matched when encoding.
const ESC_CH: char = '\u{1B}';

/// The default alphabet (23.038 §6.2.1), indexed by septet.
const DEFAULT: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    '\u{0394}', '_', '\u{03A6}', '\u{0393}', '\u{039B}', '\u{03A9}', '\u{03A0}', '\u{03A8}',
    '\u{03A3}', '\u{0398}', '\u{039E}', ESC_CH, 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
];

const fn with_changes(mut base: [char; 128], changes: &[(u8, char)]) -> [char; 128] {
    let mut i = 0;
    while i < changes.len() {
        base[changes[i].0 as usize] = changes[i].1;
        i += 1;
    }
    base
}

/// Turkish national language locking shift table (23.038 A.3.1).
const TURKISH_LOCKING: [char; 128] = with_changes(
    DEFAULT,
    &[
        (0x04, '€'),
        (0x07, 'ı'),
        (0x0B, 'Ğ'),
        (0x0C, 'ğ'),
        (0x1C, 'Ş'),
        (0x1D, 'ş'),
        (0x40, 'İ'),
        (0x60, 'ç'),
    ],
);

/// Portuguese national language locking shift table (23.038 A.3.3).
const PORTUGUESE_LOCKING: [char; 128] = with_changes(
    DEFAULT,
    &[
        (0x04, 'ê'),
        (0x06, 'ú'),
        (0x07, 'í'),
        (0x08, 'ó'),
        (0x09, 'ç'),
        (0x0B, 'Ô'),
        (0x0C, 'ô'),
        (0x0E, 'Á'),
        (0x0F, 'á'),
        (0x12, 'ª'),
        (0x13, 'Ç'),
        (0x14, 'À'),
        (0x15, '∞'),
        (0x16, '^'),
        (0x17, '\\'),
        (0x18, '€'),
        (0x19, 'Ó'),
        (0x1A, '|'),
        (0x1C, 'Â'),
        (0x1D, 'â'),
        (0x1E, 'Ê'),
        (0x24, 'º'),
        (0x40, 'Í'),
        (0x5B, 'Ã'),
        (0x5C, 'Õ'),
        (0x5D, 'Ú'),
        (0x60, '~'),
        (0x7B, 'ã'),
        (0x7C, 'õ'),
        (0x7D, '`'),
    ],
);

/// The default extension table (23.038 §6.2.1.1). 0x0A is FORM FEED; 0x0D (CR2) and 0x1B
/// (reserved for a further table) have no character.
const DEFAULT_EXTENSION: &[(u8, char)] = &[
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// Turkish national language single shift table (23.038 A.2.1).
const TURKISH_SINGLE: &[(u8, char)] = &[
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x47, 'Ğ'),
    (0x49, 'İ'),
    (0x53, 'Ş'),
    (0x63, 'ç'),
    (0x65, '€'),
    (0x67, 'ğ'),
    (0x69, 'ı'),
    (0x73, 'ş'),
];

/// Spanish national language single shift table (23.038 A.2.2). Spanish has no locking
/// shift table of its own.
const SPANISH_SINGLE: &[(u8, char)] = &[
    (0x09, 'ç'),
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x41, 'Á'),
    (0x49, 'Í'),
    (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x61, 'á'),
    (0x65, '€'),
    (0x69, 'í'),
    (0x6F, 'ó'),
    (0x75, 'ú'),
];

/// Portuguese national language single shift table (23.038 A.2.3).
const PORTUGUESE_SINGLE: &[(u8, char)] = &[
    (0x05, 'ê'),
    (0x09, 'ç'),
    (0x0A, '\u{0C}'),
    (0x0B, 'Ô'),
    (0x0C, 'ô'),
    (0x0E, 'Á'),
    (0x0F, 'á'),
    (0x12, '\u{03A6}'),
    (0x13, '\u{0393}'),
    (0x14, '^'),
    (0x15, '\u{03A9}'),
    (0x16, '\u{03A0}'),
    (0x17, '\u{03A8}'),
    (0x18, '\u{03A3}'),
    (0x19, '\u{0398}'),
    (0x1F, 'Ê'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x41, 'À'),
    (0x49, 'Í'),
    (0x4F, 'Ó'),
    (0x55, 'Ú'),
    (0x5B, 'Ã'),
    (0x5C, 'Õ'),
    (0x61, 'Â'),
    (0x65, '€'),
    (0x69, 'í'),
    (0x6F, 'ó'),
    (0x75, 'ú'),
    (0x7B, 'ã'),
    (0x7C, 'õ'),
    (0x7F, 'â'),
];

/// A national language with shift tables in 23.038 Annex A that this crate implements.
/// Signalled in the user data header (IEI 0x24 locking, 0x25 single shift) by its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NationalLanguage {
    /// Turkish (id 1): locking and single shift tables.
    Turkish,
    /// Spanish (id 2): single shift table only.
    Spanish,
    /// Portuguese (id 3): locking and single shift tables.
    Portuguese,
}

impl NationalLanguage {
    /// The language identifier used in IEIs 0x24/0x25 (23.038 §6.2.1.2.4).
    pub fn id(self) -> u8 {
        match self {
            Self::Turkish => 1,
            Self::Spanish => 2,
            Self::Portuguese => 3,
        }
    }

    /// The language for an identifier, if this crate has its tables.
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Self::Turkish),
            2 => Some(Self::Spanish),
            3 => Some(Self::Portuguese),
            _ => None,
        }
    }

    /// Whether 23.038 defines a locking shift table for this language.
    pub fn has_locking_table(self) -> bool {
        !matches!(self, Self::Spanish)
    }
}

/// The pair of tables a 7-bit text is coded with: a primary (locking shift) table and an
/// extension (single shift) table; `None` means the default one. Derived from the user data
/// header's national language IEs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Gsm7Tables {
    /// Locking shift language (primary table).
    pub locking: Option<NationalLanguage>,
    /// Single shift language (table after ESC).
    pub single: Option<NationalLanguage>,
}

/// One character coded in GSM 7-bit: one septet, or ESC plus a septet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gsm7Char {
    /// A character of the primary table.
    Single(u8),
    /// A character of the extension table, sent as ESC then this code.
    Escaped(u8),
}

impl Gsm7Char {
    /// Septets this character takes (1 or 2).
    pub fn septets(self) -> usize {
        match self {
            Self::Single(_) => 1,
            Self::Escaped(_) => 2,
        }
    }
}

impl Gsm7Tables {
    /// The default alphabet with the default extension table.
    pub const DEFAULT: Self = Self {
        locking: None,
        single: None,
    };

    fn primary(self) -> &'static [char; 128] {
        match self.locking {
            Some(NationalLanguage::Turkish) => &TURKISH_LOCKING,
            Some(NationalLanguage::Portuguese) => &PORTUGUESE_LOCKING,
            Some(NationalLanguage::Spanish) | None => &DEFAULT,
        }
    }

    fn extension(self) -> &'static [(u8, char)] {
        match self.single {
            Some(NationalLanguage::Turkish) => TURKISH_SINGLE,
            Some(NationalLanguage::Spanish) => SPANISH_SINGLE,
            Some(NationalLanguage::Portuguese) => PORTUGUESE_SINGLE,
            None => DEFAULT_EXTENSION,
        }
    }

    /// How `c` is coded with these tables, or `None` if it cannot be.
    pub fn encode_char(self, c: char) -> Option<Gsm7Char> {
        if c == ESC_CH {
            return None;
        }
        let primary = self.primary();
        // Fast path: most ASCII letters and digits sit at their ASCII code.
        if c.is_ascii_alphanumeric() {
            let code = c as u8;
            if primary[usize::from(code)] == c {
                return Some(Gsm7Char::Single(code));
            }
        }
        if let Some(i) = primary.iter().position(|&t| t == c) {
            // `position` on a 128-entry table always fits in u8.
            return Some(Gsm7Char::Single(i as u8));
        }
        self.extension()
            .iter()
            .find(|&&(_, t)| t == c)
            .map(|&(code, _)| Gsm7Char::Escaped(code))
    }

    /// Septets `text` takes with these tables, or `None` if some character cannot be coded.
    pub fn septet_len(self, text: &str) -> Option<usize> {
        text.chars()
            .try_fold(0usize, |n, c| Some(n + self.encode_char(c)?.septets()))
    }

    /// Whether every character of `text` can be coded with these tables.
    pub fn can_encode(self, text: &str) -> bool {
        self.septet_len(text).is_some()
    }

    /// Appends the septets of `text` to `out`.
    pub fn encode_into(self, text: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        for (index, ch) in text.chars().enumerate() {
            match self.encode_char(ch) {
                Some(Gsm7Char::Single(s)) => out.push(s),
                Some(Gsm7Char::Escaped(s)) => {
                    out.push(ESC);
                    out.push(s);
                }
                None => return Err(EncodeError::Unrepresentable { ch, index }),
            }
        }
        Ok(())
    }

    /// The septets of `text`.
    pub fn encode(self, text: &str) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(text.len());
        self.encode_into(text, &mut out)?;
        Ok(out)
    }

    /// Decodes septets (the top bit of each value is ignored). Per 23.038 §6.2.1.1, an
    /// escaped code with no extension character shows the primary table's character, and
    /// ESC ESC shows a space; a lone ESC at the end is dropped.
    pub fn decode(self, septets: &[u8]) -> String {
        let primary = self.primary();
        let ext = self.extension();
        let mut out = String::with_capacity(septets.len());
        let mut it = septets.iter().map(|&s| s & 0x7F);
        while let Some(s) = it.next() {
            if s != ESC {
                out.push(primary[usize::from(s)]);
                continue;
            }
            match it.next() {
                None => {}
                Some(ESC) => out.push(' '),
                Some(n) => match ext.iter().find(|&&(code, _)| code == n) {
                    Some(&(_, c)) => out.push(c),
                    None => out.push(primary[usize::from(n)]),
                },
            }
        }
        out
    }
}

/// Whether `text` can be sent in the GSM 7-bit default alphabet (with its extension table).
pub fn is_gsm7(text: &str) -> bool {
    Gsm7Tables::DEFAULT.can_encode(text)
}

/// Packs septets into octets, least significant bit first (23.038 §6.1.2.1), after
/// `fill_bits` zero bits (0..=6, the alignment after a user data header).
///
/// If the last octet would end with 7 spare bits, they carry CR (0x0D) rather than zeros
/// (23.038 §6.1.2.1.1 / §6.1.2.3.1) so that a receiver counting octets does not see a
/// trailing `@`. Receivers using TP-UDL ignore the padding either way.
pub fn pack_septets(septets: &[u8], fill_bits: u8, out: &mut Vec<u8>) {
    let mut acc: u32 = 0;
    let mut bits: u32 = u32::from(fill_bits % 8);
    for &s in septets {
        acc |= u32::from(s & 0x7F) << bits;
        bits += 7;
        while bits >= 8 {
            out.push((acc & 0xFF) as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        if bits == 1 && !septets.is_empty() {
            acc |= 0x0D << 1;
        }
        out.push((acc & 0xFF) as u8);
    }
}

/// Octets that `septets` septets take after `fill_bits` fill bits.
pub fn packed_len(septets: usize, fill_bits: u8) -> usize {
    (septets * 7 + usize::from(fill_bits)).div_ceil(8)
}

/// Unpacks `count` septets from `data`, skipping `fill_bits` leading bits. Bits past the
/// end of `data` read as zero (callers check the length first).
pub fn unpack_septets(data: &[u8], fill_bits: u8, count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count);
    let fill = usize::from(fill_bits);
    for i in 0..count {
        let bit = fill + i * 7;
        let byte = bit / 8;
        let shift = bit % 8;
        let lo = u16::from(data.get(byte).copied().unwrap_or(0)) >> shift;
        let hi = if shift > 1 {
            u16::from(data.get(byte + 1).copied().unwrap_or(0)) << (8 - shift)
        } else {
            0
        };
        out.push(((lo | hi) & 0x7F) as u8);
    }
    out
}

/// Packs septets for a field whose length is counted in octets (USSD, cell broadcast),
/// applying the CR rules of 23.038 §6.1.2.3.1: 7 spare bits carry CR, and a text that ends
/// with CR exactly on an octet boundary gets a second CR.
pub fn pack_septets_octet_counted(septets: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(packed_len(septets.len() + 1, 0));
    if septets.len().is_multiple_of(8) && septets.last() == Some(&0x0D) {
        let mut v = septets.to_vec();
        v.push(0x0D);
        pack_septets(&v, 0, &mut out);
    } else {
        pack_septets(septets, 0, &mut out);
    }
    out
}

/// Unpacks every septet of an octet-counted field (USSD, cell broadcast), dropping the CR
/// that pads 7 spare bits (23.038 §6.1.2.3.1).
pub fn unpack_septets_octet_counted(data: &[u8]) -> Vec<u8> {
    let count = data.len() * 8 / 7;
    let mut v = unpack_septets(data, 0, count);
    if data.len().is_multiple_of(7) && v.last() == Some(&0x0D) {
        v.pop();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table_is_a_bijection_apart_from_esc() {
        for (i, &c) in DEFAULT.iter().enumerate() {
            if i == usize::from(ESC) {
                assert_eq!(Gsm7Tables::DEFAULT.encode_char(c), None);
                continue;
            }
            assert_eq!(
                Gsm7Tables::DEFAULT.encode_char(c),
                Some(Gsm7Char::Single(i as u8)),
                "{c:?}"
            );
        }
    }

    #[test]
    fn extension_chars_take_two_septets() {
        let t = Gsm7Tables::DEFAULT;
        assert_eq!(t.encode("€").unwrap(), vec![0x1B, 0x65]);
        assert_eq!(t.septet_len("{}[]~\\|^€\u{0C}"), Some(20));
        assert_eq!(t.decode(&[0x1B, 0x65, 0x1B, 0x28]), "€{");
        // unknown extension code shows the default character, ESC ESC a space
        assert_eq!(t.decode(&[0x1B, 0x41, 0x1B, 0x1B]), "A ");
        assert_eq!(t.decode(&[0x41, 0x1B]), "A");
    }

    #[test]
    fn national_tables() {
        let tr = Gsm7Tables {
            locking: Some(NationalLanguage::Turkish),
            single: Some(NationalLanguage::Turkish),
        };
        assert_eq!(tr.encode("ışİ").unwrap(), vec![0x07, 0x1D, 0x40]);
        assert_eq!(tr.decode(&[0x04, 0x60, 0x1B, 0x47]), "€çĞ");
        let es = Gsm7Tables {
            locking: None,
            single: Some(NationalLanguage::Spanish),
        };
        assert_eq!(es.encode("ácÑ").unwrap(), vec![0x1B, 0x61, 0x63, 0x5D]);
        assert!(!Gsm7Tables::DEFAULT.can_encode("á"));
        let pt = Gsm7Tables {
            locking: Some(NationalLanguage::Portuguese),
            single: Some(NationalLanguage::Portuguese),
        };
        assert_eq!(pt.encode("ãçÕ").unwrap(), vec![0x7B, 0x09, 0x5C]);
        assert_eq!(pt.decode(&[0x15, 0x1B, 0x7F]), "∞â");
    }

    #[test]
    fn packing_hellohello() {
        let s = Gsm7Tables::DEFAULT.encode("hellohello").unwrap();
        let mut out = Vec::new();
        pack_septets(&s, 0, &mut out);
        assert_eq!(crate::hex::encode_hex(&out), "E8329BFD4697D9EC37");
        assert_eq!(unpack_septets(&out, 0, 10), s);
    }

    #[test]
    fn seven_spare_bits_carry_cr() {
        // 7 septets = 49 bits: the 7th octet has 1 used bit and 7 spare bits.
        let s = Gsm7Tables::DEFAULT.encode("abcdef@").unwrap();
        let mut out = Vec::new();
        pack_septets(&s, 0, &mut out);
        assert_eq!(out.len(), 7);
        assert_eq!(out[6] >> 1, 0x0D);
        // decoding by septet count keeps the trailing '@'
        assert_eq!(
            Gsm7Tables::DEFAULT.decode(&unpack_septets(&out, 0, 7)),
            "abcdef@"
        );
        // octet-counted decoding drops the padding CR rather than inventing '@'
        assert_eq!(unpack_septets_octet_counted(&out), s);
    }

    #[test]
    fn octet_counted_cr_at_boundary_is_doubled() {
        let s = Gsm7Tables::DEFAULT.encode("1234567\r").unwrap();
        let out = pack_septets_octet_counted(&s);
        assert_eq!(out.len(), 8);
        let back = unpack_septets_octet_counted(&out);
        assert_eq!(Gsm7Tables::DEFAULT.decode(&back), "1234567\r\r");
        let s = Gsm7Tables::DEFAULT.encode("1234567@").unwrap();
        let out = pack_septets_octet_counted(&s);
        assert_eq!(out.len(), 7);
        assert_eq!(unpack_septets_octet_counted(&out), s);
    }

    #[test]
    fn fill_bits() {
        let s = [0x7F, 0x01, 0x40];
        for fill in 0..7u8 {
            let mut out = Vec::new();
            pack_septets(&s, fill, &mut out);
            assert_eq!(out.len(), packed_len(3, fill));
            assert_eq!(unpack_septets(&out, fill, 3), s, "fill {fill}");
            assert_eq!(out[0] & ((1u8 << fill) - 1), 0);
        }
    }
}
