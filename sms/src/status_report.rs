//! SMS-STATUS-REPORT (23.040 §9.2.2.3): the SMSC telling whether a submitted message was
//! delivered (`+CDS`, or stored and announced by `+CDSI`).

use crate::address::Address;
use crate::dcs::Dcs;
use crate::error::{EncodeError, PduError};
use crate::reader::Reader;
use crate::timestamp::SmscTimestamp;
use crate::udh::Udh;
use crate::user_data::{self, UserData};

/// An SMS-STATUS-REPORT TPDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// TP-MMS inverted: `true` when more messages are waiting.
    pub more_messages: bool,
    /// TP-LP: loop prevention.
    pub loop_prevention: bool,
    /// TP-SRQ: `true` if this reports on an SMS-COMMAND, `false` on an SMS-SUBMIT.
    pub for_command: bool,
    /// TP-MR of the message reported on (as returned by `+CMGS: <mr>`).
    pub reference: u8,
    /// TP-RA: the recipient of the original message.
    pub recipient: Address,
    /// TP-SCTS: when the SMSC received the original message.
    pub scts: SmscTimestamp,
    /// TP-DT: when the status was reached (delivered, or failed).
    pub discharge_time: SmscTimestamp,
    /// TP-ST: the status code (see [`StatusReport::outcome`]).
    pub status: u8,
    /// TP-PID, if the TP-PI says it is present.
    pub pid: Option<u8>,
    /// TP-DCS, if present.
    pub dcs: Option<Dcs>,
    /// The user data header, if user data is present and has one.
    pub udh: Option<Udh>,
    /// The user data, if present.
    pub user_data: Option<UserData>,
}

/// What TP-ST says happened, in the four groups of 23.040 §9.2.3.15.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// 0x00..=0x1F: the transaction completed (delivered, forwarded or replaced).
    Delivered,
    /// 0x20..=0x3F: temporary error, the SMSC is still trying.
    Pending,
    /// 0x40..=0x5F: permanent error, the SMSC gave up.
    Failed,
    /// 0x60..=0x7F: temporary error, the SMSC is not trying any more.
    Expired,
    /// 0x80..=0xFF: reserved.
    Reserved,
}

impl StatusReport {
    /// Which group the status code belongs to.
    pub fn outcome(&self) -> DeliveryOutcome {
        match self.status {
            0x00..=0x1F => DeliveryOutcome::Delivered,
            0x20..=0x3F => DeliveryOutcome::Pending,
            0x40..=0x5F => DeliveryOutcome::Failed,
            0x60..=0x7F => DeliveryOutcome::Expired,
            _ => DeliveryOutcome::Reserved,
        }
    }

    /// A report with no optional parameters.
    pub fn new(
        reference: u8,
        recipient: Address,
        scts: SmscTimestamp,
        discharge_time: SmscTimestamp,
        status: u8,
    ) -> Self {
        Self {
            more_messages: false,
            loop_prevention: false,
            for_command: false,
            reference,
            recipient,
            scts,
            discharge_time,
            status,
            pid: None,
            dcs: None,
            udh: None,
            user_data: None,
        }
    }

    pub(crate) fn encode_tpdu(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let has_ud = self.user_data.is_some();
        let first = 0x02
            | (u8::from(!self.more_messages) << 2)
            | (u8::from(self.loop_prevention) << 3)
            | (u8::from(self.for_command) << 5)
            | (u8::from(has_ud && self.udh.is_some()) << 6);
        out.push(first);
        out.push(self.reference);
        self.recipient.encode_tp(out)?;
        self.scts.encode(out)?;
        self.discharge_time.encode(out)?;
        out.push(self.status);
        let pi = u8::from(self.pid.is_some())
            | (u8::from(self.dcs.is_some()) << 1)
            | (u8::from(has_ud) << 2);
        if pi != 0 {
            out.push(pi);
            if let Some(pid) = self.pid {
                out.push(pid);
            }
            if let Some(dcs) = self.dcs {
                out.push(dcs.0);
            }
            if let Some(ud) = &self.user_data {
                user_data::encode(self.dcs.unwrap_or_default(), self.udh.as_ref(), ud, out)?;
            }
        }
        Ok(())
    }

    pub(crate) fn decode_tpdu(first: u8, r: &mut Reader<'_>) -> Result<Self, PduError> {
        let reference = r.u8("TP-MR")?;
        let recipient = Address::decode_tp(r, "TP-RA")?;
        let scts = SmscTimestamp::decode(r, "TP-SCTS")?;
        let discharge_time = SmscTimestamp::decode(r, "TP-DT")?;
        let status = r.u8("TP-ST")?;
        let mut report = Self {
            more_messages: first & 0x04 == 0,
            loop_prevention: first & 0x08 != 0,
            for_command: first & 0x20 != 0,
            reference,
            recipient,
            scts,
            discharge_time,
            status,
            pid: None,
            dcs: None,
            udh: None,
            user_data: None,
        };
        if r.remaining() == 0 {
            return Ok(report);
        }
        let (pid, dcs, udh, ud) = decode_optional(r, first)?;
        report.pid = pid;
        report.dcs = dcs;
        report.udh = udh;
        report.user_data = ud;
        Ok(report)
    }
}

type Optional = (Option<u8>, Option<Dcs>, Option<Udh>, Option<UserData>);

/// TP-PI and the parameters it announces (shared with SUBMIT-REPORT). Extension octets of
/// TP-PI (bit 7) are skipped, as are its reserved bits.
pub(crate) fn decode_optional(r: &mut Reader<'_>, first: u8) -> Result<Optional, PduError> {
    let pi = r.u8("TP-PI")?;
    let mut ext = pi;
    while ext & 0x80 != 0 {
        ext = r.u8("TP-PI")?;
    }
    let pid = if pi & 0x01 != 0 {
        Some(r.u8("TP-PID")?)
    } else {
        None
    };
    let dcs_offset = r.offset();
    let dcs = if pi & 0x02 != 0 {
        Some(Dcs(r.u8("TP-DCS")?))
    } else {
        None
    };
    let (udh, ud) = if pi & 0x04 != 0 {
        let (h, d) = user_data::decode(r, dcs.unwrap_or_default(), dcs_offset, first & 0x40 != 0)?;
        (h, Some(d))
    } else {
        (None, None)
    };
    Ok((pid, dcs, udh, ud))
}
