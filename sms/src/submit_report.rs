//! SMS-SUBMIT-REPORT (23.040 §9.2.2.2a): the SMSC's acknowledgement of a SUBMIT. Modules
//! rarely show it, but a TPDU with this type can turn up in storage and must decode.

use crate::dcs::Dcs;
use crate::error::PduError;
use crate::reader::Reader;
use crate::timestamp::SmscTimestamp;
use crate::udh::Udh;
use crate::user_data::UserData;

/// An SMS-SUBMIT-REPORT TPDU, for RP-ACK or RP-ERROR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitReport {
    /// TP-FCS for the RP-ERROR form. The TPDU does not say which form it is: an octet
    /// of 0x80 or more after the first octet is read as a failure cause (TP-PI values
    /// are below 0x80 in practice).
    pub failure_cause: Option<u8>,
    /// TP-SCTS.
    pub scts: SmscTimestamp,
    /// TP-PID if present.
    pub pid: Option<u8>,
    /// TP-DCS if present.
    pub dcs: Option<Dcs>,
    /// User data header if present.
    pub udh: Option<Udh>,
    /// User data if present.
    pub user_data: Option<UserData>,
}

impl SubmitReport {
    pub(crate) fn decode_tpdu(first: u8, r: &mut Reader<'_>) -> Result<Self, PduError> {
        let peek = r.u8("TP-PI")?;
        let (failure_cause, pi) = if peek >= 0x80 {
            (Some(peek), r.u8("TP-PI")?)
        } else {
            (None, peek)
        };
        // TP-PI extension octets (bit 7) follow the first one; their bits are reserved.
        let mut ext = pi;
        while ext & 0x80 != 0 {
            ext = r.u8("TP-PI")?;
        }
        let pi_only = pi & 0x07;
        let scts = SmscTimestamp::decode(r, "TP-SCTS")?;
        let mut result = Self {
            failure_cause,
            scts,
            pid: None,
            dcs: None,
            udh: None,
            user_data: None,
        };
        if pi_only & 0x07 == 0 {
            return Ok(result);
        }
        let pid = if pi_only & 0x01 != 0 {
            Some(r.u8("TP-PID")?)
        } else {
            None
        };
        let dcs_offset = r.offset();
        let dcs = if pi_only & 0x02 != 0 {
            Some(Dcs(r.u8("TP-DCS")?))
        } else {
            None
        };
        if pi_only & 0x04 != 0 {
            let (h, d) = crate::user_data::decode(
                r,
                dcs.unwrap_or_default(),
                dcs_offset,
                first & 0x40 != 0,
            )?;
            result.udh = h;
            result.user_data = Some(d);
        }
        result.pid = pid;
        result.dcs = dcs;
        Ok(result)
    }
}
