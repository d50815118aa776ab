//! SMS-DELIVER (23.040 §9.2.2.1): a message from the SMSC to the phone, as `+CMT`,
//! `+CMGR` and `+CMGL` show it.

use crate::address::Address;
use crate::dcs::{Alphabet, Dcs};
use crate::error::{EncodeError, PduError};
use crate::gsm7::is_gsm7;
use crate::reader::Reader;
use crate::timestamp::SmscTimestamp;
use crate::udh::{Concat, Udh};
use crate::user_data::{self, UserData};

/// An SMS-DELIVER TPDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliver {
    /// TP-MMS inverted: `true` when the SMSC has more messages waiting (TP-MMS = 0).
    pub more_messages: bool,
    /// TP-LP: loop prevention.
    pub loop_prevention: bool,
    /// TP-SRI: the sender asked for a status report.
    pub status_report_indication: bool,
    /// TP-RP: reply path.
    pub reply_path: bool,
    /// TP-OA: the sender.
    pub originator: Address,
    /// TP-PID.
    pub pid: u8,
    /// TP-DCS.
    pub dcs: Dcs,
    /// TP-SCTS: when the SMSC received the message.
    pub timestamp: SmscTimestamp,
    /// The user data header, if any.
    pub udh: Option<Udh>,
    /// The content.
    pub user_data: UserData,
}

impl Deliver {
    /// A single-part text message from `originator` (GSM 7-bit if possible, else UCS2);
    /// for the simulator's network side.
    pub fn new(originator: Address, timestamp: SmscTimestamp, text: &str) -> Self {
        let dcs = if is_gsm7(text) { Dcs::GSM7 } else { Dcs::UCS2 };
        Self {
            more_messages: false,
            loop_prevention: false,
            status_report_indication: false,
            reply_path: false,
            originator,
            pid: 0,
            dcs,
            timestamp,
            udh: None,
            user_data: UserData::Text(text.to_string()),
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
        let first = (u8::from(!self.more_messages) << 2)
            | (u8::from(self.loop_prevention) << 3)
            | (u8::from(self.status_report_indication) << 5)
            | (u8::from(self.udh.is_some()) << 6)
            | (u8::from(self.reply_path) << 7);
        out.push(first);
        self.originator.encode_tp(out)?;
        out.push(self.pid);
        out.push(self.dcs.0);
        self.timestamp.encode(out)?;
        user_data::encode(self.dcs, self.udh.as_ref(), &self.user_data, out)
    }

    pub(crate) fn decode_tpdu(first: u8, r: &mut Reader<'_>) -> Result<Self, PduError> {
        let originator = Address::decode_tp(r, "TP-OA")?;
        let pid = r.u8("TP-PID")?;
        let dcs_offset = r.offset();
        let dcs = Dcs(r.u8("TP-DCS")?);
        let timestamp = SmscTimestamp::decode(r, "TP-SCTS")?;
        let (udh, user_data) = user_data::decode(r, dcs, dcs_offset, first & 0x40 != 0)?;
        Ok(Self {
            more_messages: first & 0x04 == 0,
            loop_prevention: first & 0x08 != 0,
            status_report_indication: first & 0x20 != 0,
            reply_path: first & 0x80 != 0,
            originator,
            pid,
            dcs,
            timestamp,
            udh,
            user_data,
        })
    }
}
