//! Whole PDUs as they cross the AT interface: an SMSC address (length 0 = "use the SIM's")
//! followed by a TPDU, hex encoded. Which TPDU types can appear depends on the direction,
//! because the TP-MTI bits mean different things each way.

use crate::address::Address;
use crate::deliver::Deliver;
use crate::error::{EncodeError, PduError, PduErrorKind};
use crate::hex::{decode_hex, push_hex};
use crate::reader::Reader;
use crate::status_report::StatusReport;
use crate::submit::Submit;
use crate::submit_report::SubmitReport;

/// Which way a PDU travels, which decides how its TP-MTI is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Mobile-terminated, from the network: DELIVER, STATUS-REPORT, SUBMIT-REPORT
    /// (`+CMT`, `+CDS`, received messages in `+CMGR` / `+CMGL`).
    Mt,
    /// Mobile-originated, from the phone: SUBMIT (`AT+CMGS`, stored drafts in `+CMGL`).
    Mo,
}

/// A mobile-terminated TPDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MtPdu {
    /// A message for us.
    Deliver(Deliver),
    /// A delivery report for a message we sent.
    StatusReport(StatusReport),
    /// The SMSC's acknowledgement of a SUBMIT.
    SubmitReport(SubmitReport),
}

/// Any TPDU this crate decodes, for code that handles both directions (a `+CMGL` sweep).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tpdu {
    /// Mobile-terminated.
    Mt(MtPdu),
    /// Mobile-originated SUBMIT.
    Submit(Submit),
}

/// An encoded PDU ready for `AT+CMGS=<tpdu_len>` followed by `hex` and Ctrl-Z.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPdu {
    /// SMSC part and TPDU, upper-case hex.
    pub hex: String,
    /// TPDU length in octets, without the SMSC part: the `<length>` of `AT+CMGS`/`AT+CMGW`.
    pub tpdu_len: usize,
}

/// Decodes a hex mobile-terminated PDU (with SMSC prefix), returning the SMSC address (if
/// given) and the TPDU. A reserved TP-MTI (11) is read as a DELIVER, as 23.040 §9.2.3.1
/// tells the MS to do.
pub fn decode_mt(hex: &str) -> Result<(Option<Address>, MtPdu), PduError> {
    decode_mt_bytes(&decode_hex(hex)?)
}

/// [`decode_mt`] on raw octets.
pub fn decode_mt_bytes(pdu: &[u8]) -> Result<(Option<Address>, MtPdu), PduError> {
    let mut r = Reader::new(pdu, 0);
    let smsc = Address::decode_smsc(&mut r)?;
    let tpdu = decode_mt_tpdu(&mut r)?;
    Ok((smsc, tpdu))
}

/// Decodes a hex mobile-originated PDU (with SMSC prefix); only SUBMIT is supported.
pub fn decode_mo(hex: &str) -> Result<(Option<Address>, Submit), PduError> {
    decode_mo_bytes(&decode_hex(hex)?)
}

/// [`decode_mo`] on raw octets.
pub fn decode_mo_bytes(pdu: &[u8]) -> Result<(Option<Address>, Submit), PduError> {
    let mut r = Reader::new(pdu, 0);
    let smsc = Address::decode_smsc(&mut r)?;
    let submit = decode_mo_tpdu(&mut r)?;
    Ok((smsc, submit))
}

/// Decodes a hex PDU in the given direction.
pub fn decode(hex: &str, direction: Direction) -> Result<(Option<Address>, Tpdu), PduError> {
    let bytes = decode_hex(hex)?;
    match direction {
        Direction::Mt => decode_mt_bytes(&bytes).map(|(s, t)| (s, Tpdu::Mt(t))),
        Direction::Mo => decode_mo_bytes(&bytes).map(|(s, t)| (s, Tpdu::Submit(t))),
    }
}

/// Decodes a mobile-terminated TPDU that has no SMSC prefix (e.g. from a network
/// simulator's own transport). Offsets in errors count from the TPDU's first octet.
pub fn decode_mt_tpdu_bytes(tpdu: &[u8]) -> Result<MtPdu, PduError> {
    decode_mt_tpdu(&mut Reader::new(tpdu, 0))
}

/// Decodes a SUBMIT TPDU that has no SMSC prefix (what a network receives).
pub fn decode_mo_tpdu_bytes(tpdu: &[u8]) -> Result<Submit, PduError> {
    decode_mo_tpdu(&mut Reader::new(tpdu, 0))
}

fn decode_mt_tpdu(r: &mut Reader<'_>) -> Result<MtPdu, PduError> {
    let first = r.u8("TP-MTI")?;
    let pdu = match first & 3 {
        0 | 3 => MtPdu::Deliver(Deliver::decode_tpdu(first, r)?),
        2 => MtPdu::StatusReport(StatusReport::decode_tpdu(first, r)?),
        _ => MtPdu::SubmitReport(SubmitReport::decode_tpdu(first, r)?),
    };
    r.finish()?;
    Ok(pdu)
}

fn decode_mo_tpdu(r: &mut Reader<'_>) -> Result<Submit, PduError> {
    let offset = r.offset();
    let first = r.u8("TP-MTI")?;
    if first & 3 != 1 {
        return Err(PduError {
            offset,
            kind: PduErrorKind::UnexpectedType {
                mti: first & 3,
                direction: "mobile-originated SUBMIT",
            },
        });
    }
    let submit = Submit::decode_tpdu(first, r)?;
    r.finish()?;
    Ok(submit)
}

fn finish(smsc: Option<&Address>, tpdu: &[u8]) -> Result<EncodedPdu, EncodeError> {
    let mut prefix = Vec::with_capacity(12);
    match smsc {
        Some(a) => a.encode_smsc(&mut prefix)?,
        None => prefix.push(0),
    }
    let mut hex = String::with_capacity((prefix.len() + tpdu.len()) * 2);
    push_hex(&mut hex, &prefix);
    push_hex(&mut hex, tpdu);
    Ok(EncodedPdu {
        hex,
        tpdu_len: tpdu.len(),
    })
}

/// The TPDU octets of a SUBMIT (no SMSC part).
pub fn encode_submit_tpdu(submit: &Submit) -> Result<Vec<u8>, EncodeError> {
    let mut t = Vec::with_capacity(176);
    submit.encode_tpdu(&mut t)?;
    Ok(t)
}

/// The TPDU octets of a DELIVER (no SMSC part).
pub fn encode_deliver_tpdu(deliver: &Deliver) -> Result<Vec<u8>, EncodeError> {
    let mut t = Vec::with_capacity(176);
    deliver.encode_tpdu(&mut t)?;
    Ok(t)
}

/// The TPDU octets of a STATUS-REPORT (no SMSC part).
pub fn encode_status_report_tpdu(report: &StatusReport) -> Result<Vec<u8>, EncodeError> {
    let mut t = Vec::with_capacity(176);
    report.encode_tpdu(&mut t)?;
    Ok(t)
}

/// Encodes a SUBMIT for `AT+CMGS`; `smsc: None` writes `00` (use the SIM's SMSC).
pub fn encode_submit(submit: &Submit, smsc: Option<&Address>) -> Result<EncodedPdu, EncodeError> {
    finish(smsc, &encode_submit_tpdu(submit)?)
}

/// Encodes a DELIVER as a module would show it (the simulator's `+CMT` / `+CMGR`).
pub fn encode_deliver(
    deliver: &Deliver,
    smsc: Option<&Address>,
) -> Result<EncodedPdu, EncodeError> {
    finish(smsc, &encode_deliver_tpdu(deliver)?)
}

/// Encodes a STATUS-REPORT as a module would show it (the simulator's `+CDS`).
pub fn encode_status_report(
    report: &StatusReport,
    smsc: Option<&Address>,
) -> Result<EncodedPdu, EncodeError> {
    finish(smsc, &encode_status_report_tpdu(report)?)
}
