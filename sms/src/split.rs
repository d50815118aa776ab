//! Splitting a text (or binary data) into the parts of a concatenated message
//! (23.040 §9.2.3.24.1): 160/153 septets for GSM 7-bit (an escaped character counts 2 and
//! is never cut), 70/67 UTF-16 units for UCS2 (a surrogate pair is never cut), 140/134
//! octets for 8-bit data; less with a 16-bit reference or national language elements.

use core::fmt;

use crate::address::Address;
use crate::dcs::Dcs;
use crate::deliver::Deliver;
use crate::gsm7::{Gsm7Tables, NationalLanguage};
use crate::submit::Submit;
use crate::timestamp::SmscTimestamp;
use crate::udh::{Concat, ConcatRef, Udh};
use crate::user_data::{udh_septets, UserData, MAX_OCTETS, MAX_SEPTETS};

/// How to code the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// GSM 7-bit if every character can be coded (default tables, then the national
    /// language if one is given), else UCS2.
    #[default]
    Auto,
    /// GSM 7-bit or fail.
    Gsm7,
    /// Always UCS2.
    Ucs2,
}

/// Options for [`split_text`] and [`split_binary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitOptions {
    /// Alphabet choice.
    pub encoding: Encoding,
    /// Reference (and its width) for the concatenation elements, used only if the text
    /// needs more than one part. The caller keeps a counter per destination.
    pub reference: ConcatRef,
    /// National language whose shift tables may be used when the default alphabet cannot
    /// code the text (single shift first, then locking + single shift).
    pub national_language: Option<NationalLanguage>,
    /// Most parts allowed (at most 255, the format's limit).
    pub max_parts: u8,
}

impl Default for SplitOptions {
    fn default() -> Self {
        Self {
            encoding: Encoding::Auto,
            reference: ConcatRef::Eight(0),
            national_language: None,
            max_parts: 255,
        }
    }
}

/// Why a text could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// The message needs more parts than allowed.
    TooManyParts {
        /// Parts needed.
        needed: usize,
        /// The limit.
        max: u8,
    },
    /// [`Encoding::Gsm7`] was asked for and a character cannot be coded.
    Unrepresentable {
        /// The character.
        ch: char,
        /// Its index in chars.
        index: usize,
    },
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyParts { needed, max } => write!(
                f,
                "message needs {needed} parts, more than the limit of {max}"
            ),
            Self::Unrepresentable { ch, index } => write!(
                f,
                "character {ch:?} at index {index} is not in the GSM 7-bit alphabet"
            ),
        }
    }
}

impl std::error::Error for SplitError {}

/// One part of a (possibly concatenated) message, ready to become a SUBMIT or DELIVER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagePart {
    /// Data coding scheme (alphabet) of this part.
    pub dcs: Dcs,
    /// Header: concatenation and national language elements, if any.
    pub udh: Option<Udh>,
    /// The content of this part.
    pub user_data: UserData,
}

impl MessagePart {
    /// This part's text, if it is text.
    pub fn text(&self) -> Option<&str> {
        self.user_data.as_text()
    }

    /// This part's concatenation information, if any.
    pub fn concat(&self) -> Option<Concat> {
        self.udh.as_ref().and_then(Udh::concat_info)
    }

    /// A SUBMIT carrying this part to `destination` (other fields at their defaults).
    pub fn into_submit(self, destination: Address) -> Submit {
        Submit {
            dcs: self.dcs,
            udh: self.udh,
            user_data: self.user_data,
            ..Submit::new(destination, "")
        }
    }

    /// A DELIVER carrying this part from `originator`.
    pub fn into_deliver(self, originator: Address, timestamp: SmscTimestamp) -> Deliver {
        Deliver {
            dcs: self.dcs,
            udh: self.udh,
            user_data: self.user_data,
            ..Deliver::new(originator, timestamp, "")
        }
    }
}

fn concat_ie_len(r: ConcatRef) -> usize {
    match r {
        ConcatRef::Eight(_) => 5,
        ConcatRef::Sixteen(_) => 6,
    }
}

enum Coding {
    Gsm7(Gsm7Tables),
    Ucs2,
}

fn choose(text: &str, opts: &SplitOptions) -> Result<Coding, SplitError> {
    if opts.encoding == Encoding::Ucs2 {
        return Ok(Coding::Ucs2);
    }
    let mut candidates = vec![Gsm7Tables::DEFAULT];
    if let Some(l) = opts.national_language {
        candidates.push(Gsm7Tables {
            locking: None,
            single: Some(l),
        });
        if l.has_locking_table() {
            candidates.push(Gsm7Tables {
                locking: Some(l),
                single: Some(l),
            });
        }
    }
    if let Some(t) = candidates.into_iter().find(|t| t.can_encode(text)) {
        return Ok(Coding::Gsm7(t));
    }
    if opts.encoding == Encoding::Auto {
        return Ok(Coding::Ucs2);
    }
    match Gsm7Tables::DEFAULT.encode(text) {
        Err(crate::error::EncodeError::Unrepresentable { ch, index }) => {
            Err(SplitError::Unrepresentable { ch, index })
        }
        _ => Ok(Coding::Ucs2),
    }
}

/// Splits `text` into message parts: one part without a concatenation element if it fits,
/// else parts with concatenation elements carrying `opts.reference`.
pub fn split_text(text: &str, opts: &SplitOptions) -> Result<Vec<MessagePart>, SplitError> {
    let coding = choose(text, opts)?;
    let mut base = Udh::default();
    if let Coding::Gsm7(t) = &coding {
        base.push_tables(*t);
    }
    let base_len = if base.elements.is_empty() {
        0
    } else {
        base.encoded_len()
    };
    // capacity in units (septets or UTF-16 code units) for a header of `h` octets
    let capacity = |h: usize| match coding {
        Coding::Gsm7(_) => MAX_SEPTETS - if h == 0 { 0 } else { udh_septets(h) },
        Coding::Ucs2 => (MAX_OCTETS - h) / 2,
    };
    let units = |c: char| match &coding {
        Coding::Gsm7(t) => t.encode_char(c).map_or(1, |g| g.septets()),
        Coding::Ucs2 => c.len_utf16(),
    };
    let dcs = match coding {
        Coding::Gsm7(_) => Dcs::GSM7,
        Coding::Ucs2 => Dcs::UCS2,
    };
    let total_units: usize = text.chars().map(units).sum();
    if total_units <= capacity(base_len) {
        return Ok(vec![MessagePart {
            dcs,
            udh: (!base.elements.is_empty()).then_some(base),
            user_data: UserData::Text(text.to_string()),
        }]);
    }
    let header_len = base_len.max(1) + concat_ie_len(opts.reference);
    let cap = capacity(header_len);
    let mut chunks: Vec<&str> = Vec::new();
    let mut start = 0;
    let mut used = 0;
    for (i, c) in text.char_indices() {
        let u = units(c);
        if used + u > cap {
            chunks.push(text.get(start..i).unwrap_or(""));
            start = i;
            used = 0;
        }
        used += u;
    }
    chunks.push(text.get(start..).unwrap_or(""));
    build(chunks.len(), opts, |i| {
        let mut udh = Udh::default();
        udh.elements.extend(base.elements.iter().cloned());
        (
            dcs,
            udh,
            UserData::Text(chunks.get(i).copied().unwrap_or("").to_string()),
        )
    })
}

/// Splits binary data into 8-bit message parts (140 octets, or 134 per part with an 8-bit
/// reference and 133 with a 16-bit one).
pub fn split_binary(data: &[u8], opts: &SplitOptions) -> Result<Vec<MessagePart>, SplitError> {
    if data.len() <= MAX_OCTETS {
        return Ok(vec![MessagePart {
            dcs: Dcs::DATA8,
            udh: None,
            user_data: UserData::Binary(data.to_vec()),
        }]);
    }
    let cap = MAX_OCTETS - 1 - concat_ie_len(opts.reference);
    let chunks: Vec<&[u8]> = data.chunks(cap).collect();
    build(chunks.len(), opts, |i| {
        (
            Dcs::DATA8,
            Udh::default(),
            UserData::Binary(chunks.get(i).copied().unwrap_or(&[]).to_vec()),
        )
    })
}

fn build(
    n: usize,
    opts: &SplitOptions,
    mut part: impl FnMut(usize) -> (Dcs, Udh, UserData),
) -> Result<Vec<MessagePart>, SplitError> {
    let max = opts.max_parts;
    let total = match u8::try_from(n) {
        Ok(t) if t <= max => t,
        _ => return Err(SplitError::TooManyParts { needed: n, max }),
    };
    let mut parts = Vec::with_capacity(n);
    for seq in 1..=total {
        let (dcs, base, user_data) = part(usize::from(seq - 1));
        let mut udh = Udh::concat(Concat {
            reference: opts.reference,
            total,
            sequence: seq,
        });
        udh.elements.extend(base.elements);
        parts.push(MessagePart {
            dcs,
            udh: Some(udh),
            user_data,
        });
    }
    Ok(parts)
}
