//! SMS-SUBMIT (23.040 §9.2.2.2): a message from the phone (the gateway) to the SMSC.

use crate::address::Address;
use crate::dcs::{Alphabet, Dcs};
use crate::error::{EncodeError, PduError};
use crate::gsm7::is_gsm7;
use crate::reader::Reader;
use crate::udh::{Concat, Udh};
use crate::user_data::{self, UserData};
use crate::vp::Validity;

/// An SMS-SUBMIT TPDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submit {
    /// TP-RD: ask the SMSC to reject a duplicate (same reference and destination).
    pub reject_duplicates: bool,
    /// TP-RP: reply path requested.
    pub reply_path: bool,
    /// TP-SRR: ask for a status report.
    pub status_report_request: bool,
    /// TP-MR: message reference (the module usually overwrites it).
    pub reference: u8,
    /// TP-DA: the recipient.
    pub destination: Address,
    /// TP-PID: protocol identifier (0 for ordinary messages).
    pub pid: u8,
    /// TP-DCS.
    pub dcs: Dcs,
    /// TP-VP, or `None` for no validity period.
    pub validity: Option<Validity>,
    /// The user data header, if any (TP-UDHI follows from it).
    pub udh: Option<Udh>,
    /// The content.
    pub user_data: UserData,
}

impl Submit {
    /// A single-part text message: GSM 7-bit if every character can be, else UCS2. Longer
    /// texts need [`crate::split_text`].
    pub fn new(destination: Address, text: &str) -> Self {
        let dcs = if is_gsm7(text) { Dcs::GSM7 } else { Dcs::UCS2 };
        Self {
            reject_duplicates: false,
            reply_path: false,
            status_report_request: false,
            reference: 0,
            destination,
            pid: 0,
            dcs,
            validity: None,
            udh: None,
            user_data: UserData::Text(text.to_string()),
        }
    }

    /// A single-part 8-bit data message.
    pub fn binary(destination: Address, data: Vec<u8>) -> Self {
        Self {
            dcs: Dcs::DATA8,
            user_data: UserData::Binary(data),
            ..Self::new(destination, "")
        }
    }

    /// The text, if the content is text.
    pub fn text(&self) -> Option<&str> {
        self.user_data.as_text()
    }

    /// Concatenation information from the header.
    pub fn concat(&self) -> Option<Concat> {
        self.udh.as_ref().and_then(Udh::concat_info)
    }

    /// The alphabet the DCS selects.
    pub fn alphabet(&self) -> Alphabet {
        self.dcs.alphabet()
    }

    pub(crate) fn encode_tpdu(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let first = 0x01
            | (u8::from(self.reject_duplicates) << 2)
            | Validity::vpf_bits(self.validity.as_ref())
            | (u8::from(self.status_report_request) << 5)
            | (u8::from(self.udh.is_some()) << 6)
            | (u8::from(self.reply_path) << 7);
        out.push(first);
        out.push(self.reference);
        self.destination.encode_tp(out)?;
        out.push(self.pid);
        out.push(self.dcs.0);
        if let Some(v) = &self.validity {
            v.encode(out)?;
        }
        user_data::encode(self.dcs, self.udh.as_ref(), &self.user_data, out)
    }

    pub(crate) fn decode_tpdu(first: u8, r: &mut Reader<'_>) -> Result<Self, PduError> {
        let reference = r.u8("TP-MR")?;
        let destination = Address::decode_tp(r, "TP-DA")?;
        let pid = r.u8("TP-PID")?;
        let dcs_offset = r.offset();
        let dcs = Dcs(r.u8("TP-DCS")?);
        let validity = Validity::decode(first, r)?;
        let (udh, user_data) = user_data::decode(r, dcs, dcs_offset, first & 0x40 != 0)?;
        Ok(Self {
            reject_duplicates: first & 0x04 != 0,
            reply_path: first & 0x80 != 0,
            status_report_request: first & 0x20 != 0,
            reference,
            destination,
            pid,
            dcs,
            validity,
            udh,
            user_data,
        })
    }
}
