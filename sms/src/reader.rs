//! A bounds-checked cursor over PDU octets: every read names its field so errors say what
//! was being decoded and where.

use crate::error::{PduError, PduErrorKind};

pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// `base` is the offset of `data[0]` in the whole PDU (for error messages).
    pub(crate) fn new(data: &'a [u8], base: usize) -> Self {
        Self { data, pos: 0, base }
    }

    pub(crate) fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    pub(crate) fn error(&self, kind: PduErrorKind) -> PduError {
        PduError {
            offset: self.offset(),
            kind,
        }
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, PduError> {
        match self.data.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.error(PduErrorKind::Truncated {
                field,
                needed: 1,
                available: 0,
            })),
        }
    }

    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], PduError> {
        let end = self.pos.checked_add(n);
        match end.and_then(|end| self.data.get(self.pos..end)) {
            Some(slice) => {
                self.pos += n;
                Ok(slice)
            }
            None => Err(self.error(PduErrorKind::Truncated {
                field,
                needed: n,
                available: self.remaining(),
            })),
        }
    }

    pub(crate) fn finish(&self) -> Result<(), PduError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(self.error(PduErrorKind::TrailingData { count })),
        }
    }
}
