//! The Quectel UC15 (UMTS) dialect.
//!
//! - Init: `AT+CLIP=1`, `AT+CCWA=1` (`+CCWA` URCs), `AT+CREG=2` (with AcT and 28-bit
//!   cell ids), `AT+COPS=3,0`.
//! - Audio: `AT+QPCMV=0` then `AT+QPCMV=1,0` (voice as raw PCM over the USB serial
//!   port; switching ports needs the `=0` first; configurable).
//! - Call progress: `AT+CLCC` polling (no `MO RING` URCs).
//! - ICCID: `AT+QCCID` -> `+QCCID: <iccid>`, fallback `AT+CCID`.
//! - Cells: `AT+QENG="servingcell"` (WCDMA or GSM form) and `AT+QENG="neighbourcell"`
//!   ([`parse_serving`], [`parse_neighbour`]).
//! - Readiness: `AT+QINISTAT` bitmap, 7 = ready.
//! - IMEI write: `AT+EGMR=1,7,"<imei>"`.
//! - No BCCH lock command known: `lock_cell` returns `Unsupported`.
//! - PIN2 tries left: `AT+QPINC="P2"` -> `+QPINC: "P2",<pin2>,<puk2>`.

use cellgate_hal::{AccessTech, CellInfo, ModuleKind};

use crate::dialect::{CallProgress, CellInfoStyle, Dialect, Pin2Counter, Readiness};
use crate::parse::{split_fields, strip_prefix, Field};

/// The UC15 dialect.
pub const UC15: Dialect = Dialect {
    kind: ModuleKind::Uc15,
    name: "Quectel UC15",
    init: &["AT+CLIP=1", "AT+CCWA=1", "AT+CREG=2", "AT+COPS=3,0"],
    audio: &["AT+QPCMV=0", "AT+QPCMV=1,0"],
    call_progress: CallProgress::ClccPolling,
    iccid_commands: &["AT+QCCID", "AT+CCID"],
    cell_info: CellInfoStyle::Uc15Qeng,
    imei_write: true,
    bcch_lock: false,
    readiness: Readiness::QinistatBitmap(7),
    pin2_counter: Pin2Counter::Qpinc,
};

fn num<T: std::str::FromStr>(f: Option<&Field>) -> Option<T> {
    f?.num()
}

fn hex(f: Option<&Field>) -> Option<u32> {
    u32::from_str_radix(f?.text.trim(), 16).ok()
}

/// GSM rxlev: dBm when negative, else the 0..63 scale (`-110 + n`).
fn gsm_level(f: Option<&Field>) -> Option<i16> {
    let v: i16 = num(f)?;
    Some(if v < 0 { v } else { -110 + v })
}

/// `+QENG: "servingcell",<state>,"WCDMA"|"GSM",...` -> the serving cell; `None` while
/// searching (`"SEARCH"`, `-` fields) or for an unreadable line.
pub fn parse_serving(line: &str) -> Option<CellInfo> {
    let f = split_fields(strip_prefix(line, "+QENG:")?);
    if !f.first()?.text.eq_ignore_ascii_case("servingcell") {
        return None;
    }
    let rat = f.get(2)?.text.to_ascii_uppercase();
    let mcc = num(f.get(3))?;
    let mnc = num(f.get(4))?;
    let lac = hex(f.get(5))?;
    let cell_id = hex(f.get(6))?;
    match rat.as_str() {
        "WCDMA" => Some(CellInfo {
            mcc,
            mnc,
            lac,
            cell_id,
            arfcn: num(f.get(7))?,
            bsic_or_psc: num(f.get(8)),
            level_dbm: num(f.get(10)),
            tech: AccessTech::Utran,
        }),
        "GSM" => Some(CellInfo {
            mcc,
            mnc,
            lac,
            cell_id,
            bsic_or_psc: num(f.get(7)),
            arfcn: num(f.get(8))?,
            level_dbm: gsm_level(f.get(10)),
            tech: AccessTech::Gsm,
        }),
        _ => None,
    }
}

/// `+QENG: "neighbourcell","WCDMA",<uarfcn>,<psc>,<rscp>,<ecno>` or
/// `+QENG: "neighbourcell","GSM",<mcc>,<mnc>,<lac>,<ci>,<bsic>,<arfcn>,<rxlev>,...`.
/// WCDMA rows carry no identity: MCC/MNC/LAC are taken from the serving cell and the
/// cell id is 0.
pub fn parse_neighbour(line: &str, serving: Option<&CellInfo>) -> Option<CellInfo> {
    let f = split_fields(strip_prefix(line, "+QENG:")?);
    if !f
        .first()?
        .text
        .to_ascii_lowercase()
        .starts_with("neighbourcell")
    {
        return None;
    }
    match f.get(1)?.text.to_ascii_uppercase().as_str() {
        "WCDMA" => Some(CellInfo {
            mcc: serving.map_or(0, |s| s.mcc),
            mnc: serving.map_or(0, |s| s.mnc),
            lac: serving.map_or(0, |s| s.lac),
            cell_id: 0,
            arfcn: num(f.get(2))?,
            bsic_or_psc: num(f.get(3)),
            level_dbm: num(f.get(4)),
            tech: AccessTech::Utran,
        }),
        "GSM" => Some(CellInfo {
            mcc: num(f.get(2))?,
            mnc: num(f.get(3))?,
            lac: hex(f.get(4))?,
            cell_id: hex(f.get(5))?,
            bsic_or_psc: num(f.get(6)),
            arfcn: num(f.get(7))?,
            level_dbm: gsm_level(f.get(8)),
            tech: AccessTech::Gsm,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_wcdma_and_gsm() {
        assert_eq!(
            parse_serving(
                "+QENG: \"servingcell\",\"NOCONN\",\"WCDMA\",460,01,A5E0,1C5B7D8,10663,357,1,-67,-5,-,-,-,-,-"
            ),
            Some(CellInfo {
                mcc: 460,
                mnc: 1,
                lac: 0xa5e0,
                cell_id: 0x1c5b7d8,
                arfcn: 10663,
                bsic_or_psc: Some(357),
                level_dbm: Some(-67),
                tech: AccessTech::Utran
            })
        );
        assert_eq!(
            parse_serving(
                "+QENG: \"servingcell\",\"NOCONN\",\"GSM\",262,02,1A2B,00C4,41,554,0,-80,0,-,-,-,-"
            ),
            Some(CellInfo {
                mcc: 262,
                mnc: 2,
                lac: 0x1a2b,
                cell_id: 0xc4,
                arfcn: 554,
                bsic_or_psc: Some(41),
                level_dbm: Some(-80),
                tech: AccessTech::Gsm
            })
        );
        assert_eq!(parse_serving("+QENG: \"servingcell\",\"SEARCH\""), None);
        assert_eq!(
            parse_serving("+QENG: \"servingcell\",\"LIMSRV\",\"WCDMA\",-,-,-,-,-"),
            None
        );
    }

    #[test]
    fn neighbours() {
        let serving = parse_serving(
            "+QENG: \"servingcell\",\"NOCONN\",\"WCDMA\",460,01,A5E0,1C5B7D8,10663,357,1,-67,-5",
        );
        let n = parse_neighbour(
            "+QENG: \"neighbourcell\",\"WCDMA\",10663,300,-90,-12",
            serving.as_ref(),
        );
        assert_eq!(
            n.map(|c| (c.mcc, c.arfcn, c.bsic_or_psc, c.tech)),
            Some((460, 10663, Some(300), AccessTech::Utran))
        );
        let g = parse_neighbour(
            "+QENG: \"neighbourcell\",\"GSM\",460,01,A5E0,1234,33,75,30",
            None,
        );
        assert_eq!(
            g.map(|c| (c.cell_id, c.arfcn, c.level_dbm)),
            Some((0x1234, 75, Some(-80)))
        );
    }
}
