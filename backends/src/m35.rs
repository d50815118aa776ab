//! The Quectel M35 (GSM) dialect.
//!
//! - Init: `AT+CLIP=1`, `AT+CCWA=1` (`+CCWA` call-waiting URCs), `ATX4` (so
//!   `BUSY`/`NO DIALTONE` are reported), `AT+QMOSTAT=1` (call progress by `MO RING` /
//!   `MO CONNECTED`), `AT+CREG=2`, `AT+COPS=3,0`.
//! - Audio: `AT+QAUDCH=0` (normal channel; configurable).
//! - ICCID: `AT+QCCID` answers bare digits (some firmware: `+QCCID:`/`+CCID:` forms;
//!   all are accepted), with `AT+CCID` as fallback.
//! - Cells: `AT+QENG=1,1` then `AT+QENG?` -> `+QENG: 0,<mcc>,<mnc>,<lac>,<ci>,<bcch>,
//!   <bsic>,<dbm>,...` and neighbour rows `+QENG: 1,<ncell>,<bcch>,<dbm>,<bsic>,<c1>,<c2>,
//!   <mcc>,<mnc>,<lac>,<ci>[,...]` ([`parse_qeng`]).
//! - Readiness: `AT+QINISTAT` counts up to 3.
//! - IMEI write: `AT+EGMR=1,7,"<imei>"`.
//! - BCCH lock (manual §6.15): `AT+QLOCKF=1,<arfcn>` locks, `AT+QLOCKF=0` unlocks.
//! - PIN2 tries left: `AT+QTRPIN` -> `+QTRPIN: <pin1>,<pin2>,<puk1>,<puk2>`.
//!
//! [`M35Modem`] and [`M35Config`] are the names this profile had before the shared
//! [`AtModem`]; they remain as aliases.

use cellgate_hal::{AccessTech, CellInfo, ModuleKind};

use crate::dialect::{CallProgress, CellInfoStyle, Dialect, Pin2Counter, Readiness};
use crate::modem::{AtModem, AtModemConfig};
use crate::parse::{split_fields, strip_prefix, Field};

/// The M35 dialect.
pub const M35: Dialect = Dialect {
    kind: ModuleKind::M35,
    name: "Quectel M35",
    init: &[
        "AT+CLIP=1",
        "AT+CCWA=1",
        "ATX4",
        "AT+QMOSTAT=1",
        "AT+CREG=2",
        "AT+COPS=3,0",
    ],
    audio: &["AT+QAUDCH=0"],
    call_progress: CallProgress::MoUrcs,
    iccid_commands: &["AT+QCCID", "AT+CCID"],
    cell_info: CellInfoStyle::M35Qeng,
    imei_write: true,
    bcch_lock: true,
    readiness: Readiness::QinistatCount(3),
    pin2_counter: Pin2Counter::Qtrpin,
};

/// The former name of the M35 backend: an [`AtModem`] (which picks the dialect from
/// `AT+CGMM`, so an M35 gets [`M35`]).
pub type M35Modem = AtModem;

/// The former name of the backend settings.
pub type M35Config = AtModemConfig;

fn num<T: std::str::FromStr>(f: Option<&Field>) -> Option<T> {
    f?.num()
}

fn hex(f: Option<&Field>) -> Option<u32> {
    u32::from_str_radix(f?.text.trim(), 16).ok()
}

/// Parse the rows of an M35 `AT+QENG?` answer: the serving cell first, then neighbours.
/// The mode row (`+QENG: 1,1`) and unreadable rows are skipped; fields shown as `x` make
/// a row (or neighbour group) unreadable only when they are ones a [`CellInfo`] needs.
pub fn parse_qeng(lines: &[String]) -> Vec<CellInfo> {
    let mut serving = Vec::new();
    let mut neighbours = Vec::new();
    for line in lines {
        let Some(value) = strip_prefix(line, "+QENG:") else {
            continue;
        };
        let f = split_fields(value);
        match f.first().map(|x| x.text.as_str()) {
            Some("0") if f.len() >= 8 => {
                let cell = (|| {
                    Some(CellInfo {
                        mcc: num(f.get(1))?,
                        mnc: num(f.get(2))?,
                        lac: hex(f.get(3))?,
                        cell_id: hex(f.get(4))?,
                        arfcn: num(f.get(5))?,
                        bsic_or_psc: num(f.get(6)),
                        level_dbm: num(f.get(7)),
                        tech: AccessTech::Gsm,
                    })
                })();
                match cell {
                    Some(c) => serving.push(c),
                    None => tracing::debug!(line, "unreadable +QENG serving row"),
                }
            }
            Some("1") if f.len() > 2 => {
                let rest = &f[1..];
                // Groups of 10 with the neighbour number first, or 9 without it.
                let width = if rest.len().is_multiple_of(10) {
                    10
                } else if rest.len().is_multiple_of(9) {
                    9
                } else {
                    tracing::debug!(line, "unreadable +QENG neighbour row");
                    continue;
                };
                for g in rest.chunks(width) {
                    let g = if width == 10 { &g[1..] } else { g };
                    let cell = (|| {
                        Some(CellInfo {
                            arfcn: num(g.first())?,
                            level_dbm: num(g.get(1)),
                            bsic_or_psc: num(g.get(2)),
                            mcc: num(g.get(5))?,
                            mnc: num(g.get(6))?,
                            lac: hex(g.get(7))?,
                            cell_id: hex(g.get(8))?,
                            tech: AccessTech::Gsm,
                        })
                    })();
                    if let Some(c) = cell {
                        neighbours.push(c);
                    }
                }
            }
            _ => {}
        }
    }
    serving.truncate(1);
    serving.extend(neighbours);
    serving
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn serving_and_neighbours() {
        let cells = parse_qeng(&lines(&[
            "+QENG: 1,1",
            "+QENG: 0,460,00,7108,80c4,554,41,-95,18,50,0,10,x,x,x,x,x,x,x",
            "+QENG: 1,1,560,-87,39,21,21,460,00,7108,80c5,2,571,-99,35,12,12,460,00,7108,80c6",
            "+QENG: 1,3,x,x,x,x,x,x,x,x,x",
        ]));
        assert_eq!(cells.len(), 3);
        assert_eq!(
            cells[0],
            CellInfo {
                mcc: 460,
                mnc: 0,
                lac: 0x7108,
                cell_id: 0x80c4,
                arfcn: 554,
                bsic_or_psc: Some(41),
                level_dbm: Some(-95),
                tech: AccessTech::Gsm
            }
        );
        assert_eq!(
            (cells[1].arfcn, cells[1].cell_id, cells[1].level_dbm),
            (560, 0x80c5, Some(-87))
        );
        assert_eq!((cells[2].arfcn, cells[2].cell_id), (571, 0x80c6));
    }

    #[test]
    fn no_serving_cell() {
        assert!(parse_qeng(&lines(&["+QENG: 1,1", "+QENG: 0,x,x,x,x,x,x,x"])).is_empty());
        assert!(parse_qeng(&[]).is_empty());
    }
}
