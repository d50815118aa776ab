//! The Quectel UC15 dialect (UMTS/HSPA): identity, boot sequence (`+QUSIM: 1`, `+QIND:
//! SMS DONE`, `+QIND: PB DONE`), `AT+QINISTAT` bitmap, `+QCCID:` form, `+CREG` with AcT 2
//! and 28-bit cell ids, `AT+QENG="servingcell"`/`"neighbourcell"`, `AT+QNWINFO`,
//! `AT+QPINC`, and the audio commands (`AT+QPCMV` refuses a port switch without
//! `AT+QPCMV=0` first). Also the Quectel commands both dialects share.

use std::time::Duration;

use super::at_parser::{split_args, AtCommand, CommandForm};
use super::profile::{BootStep, BootUrc, ProfileData};
use super::responses::AtError;
use super::{Modem, Outcome};
use crate::operator::Cell;

/// Declarative data of the UC15.
pub static UC15: ProfileData = ProfileData {
    manufacturer: "Quectel",
    model: "UC15",
    revision: "Revision: UC15EFAR02A07E1G",
    ati: &["Quectel", "UC15", "Revision: UC15EFAR02A07E1G"],
    tac: "86358902",
    boot: &[
        BootStep {
            at: Duration::from_millis(400),
            urc: BootUrc::Text("RDY"),
            init_status: 0,
            needs_sim: false,
        },
        BootStep {
            at: Duration::from_millis(1200),
            urc: BootUrc::SimState,
            init_status: 1,
            needs_sim: false,
        },
        BootStep {
            at: Duration::from_millis(1300),
            urc: BootUrc::Text("+QUSIM: 1"),
            init_status: 1,
            needs_sim: false,
        },
        BootStep {
            at: Duration::from_millis(2500),
            urc: BootUrc::Text("+QIND: SMS DONE"),
            init_status: 3,
            needs_sim: true,
        },
        BootStep {
            at: Duration::from_millis(3000),
            urc: BootUrc::Text("+QIND: PB DONE"),
            init_status: 7,
            needs_sim: true,
        },
    ],
    ready_status: 3,
    qccid_prefix: "+QCCID: ",
    creg_act: Some(2),
    plain_settings: &[
        ("+COLP", "0"),
        ("+CLVL", "3"),
        ("+CMUT", "0"),
        ("+CVHU", "0"),
        ("+QDAI", "1,0,0,3,0,1,1,1"),
        ("+QAUDPATH", "0"),
        ("+QAUDMOD", "0"),
        ("+QMIC", "20000,20000"),
        ("+QSIDET", "0"),
        ("+QTONEDET", "0"),
        ("+QINDCFG", "\"all\",1"),
    ],
    test_answers: &[
        ("+CMEE", "+CMEE: (0-2)"),
        ("+CREG", "+CREG: (0-2)"),
        ("+CLIP", "+CLIP: (0,1)"),
        ("+CSQ", "+CSQ: (0-31,99),(0-7,99)"),
        ("+CFUN", "+CFUN: (0,1,4),(0-1)"),
        ("+VTS", "+VTS: (0-9,*,#,A,B,C,D)"),
        ("+CSCS", "+CSCS: (\"GSM\",\"IRA\",\"UCS2\",\"HEX\")"),
        ("+QPCMV", "+QPCMV: (0,1),(0-2)"),
    ],
};

/// Runs a UC15-only command; `None` hands the command to the common set.
pub fn execute(m: &mut Modem, cmd: &AtCommand) -> Option<Outcome> {
    let AtCommand::Extended { name, form } = cmd else {
        return None;
    };
    let out = match (name.as_str(), form) {
        ("+QENG", CommandForm::Set(a)) => {
            let what = split_args(a).first().map(|s| s.to_ascii_lowercase());
            match what.as_deref() {
                Some("servingcell") => serving(m),
                Some("neighbourcell") => neighbours(m),
                _ => return Some(Outcome::Error(AtError::Plain)),
            }
            Outcome::Ok
        }
        ("+QNWINFO", CommandForm::Exec) => {
            match (
                matches!(m.reg_stat(), 1 | 5),
                m.network().serving_cell(m.line()),
            ) {
                (true, Some(c)) => m.info(&format!(
                    "+QNWINFO: \"WCDMA\",\"{}\",\"WCDMA 2100\",{}",
                    c.operator, c.uarfcn
                )),
                _ => m.info("+QNWINFO: No Service"),
            }
            Outcome::Ok
        }
        ("+QPINC", CommandForm::Read) => match m.sim() {
            Some(s) => {
                m.info(&format!("+QPINC: \"SC\",{},{}", s.pin_tries, s.puk_tries));
                m.info(&format!("+QPINC: \"P2\",{},{}", s.pin2_tries, s.puk2_tries));
                Outcome::Ok
            }
            None => Outcome::Error(AtError::Cme(10)),
        },
        ("+QPINC", CommandForm::Set(a)) => match m.sim() {
            Some(s)
                if split_args(a)
                    .first()
                    .is_some_and(|f| f.eq_ignore_ascii_case("SC")) =>
            {
                m.info(&format!("+QPINC: \"SC\",{},{}", s.pin_tries, s.puk_tries));
                Outcome::Ok
            }
            Some(s) => {
                m.info(&format!("+QPINC: \"P2\",{},{}", s.pin2_tries, s.puk2_tries));
                Outcome::Ok
            }
            None => Outcome::Error(AtError::Cme(10)),
        },
        ("+QPCMV", CommandForm::Set(a)) => {
            let parts = split_args(a);
            let current = m.settings().plain.get("+QPCMV").cloned();
            match parts.first().map(String::as_str) {
                Some("0") => {
                    m.settings_mut().plain.remove("+QPCMV");
                    Outcome::Ok
                }
                Some("1") => {
                    let port = parts.get(1).cloned().unwrap_or_else(|| "0".into());
                    if !["0", "1", "2"].contains(&port.as_str()) {
                        return Some(Outcome::Error(AtError::Plain));
                    }
                    match current {
                        // Switching the PCM port needs `AT+QPCMV=0` first.
                        Some(p) if p != port => Outcome::Error(AtError::Plain),
                        _ => {
                            m.settings_mut().plain.insert("+QPCMV".into(), port);
                            Outcome::Ok
                        }
                    }
                }
                _ => Outcome::Error(AtError::Plain),
            }
        }
        ("+QPCMV", CommandForm::Read) => {
            match m.settings().plain.get("+QPCMV").cloned() {
                Some(p) => m.info(&format!("+QPCMV: 1,{p}")),
                None => m.info("+QPCMV: 0"),
            }
            Outcome::Ok
        }
        ("+QURCCFG", CommandForm::Set(_)) => Outcome::Ok,
        ("+QURCCFG", CommandForm::Read) => {
            m.info("+QURCCFG: \"urcport\",\"usbat\"");
            Outcome::Ok
        }
        ("+QHUP", CommandForm::Set(_)) => {
            m.network().modem_hang_up(m.line(), m.attach_id());
            Outcome::Ok
        }
        ("+QENG" | "+QNWINFO" | "+QPINC" | "+QHUP", CommandForm::Test) => Outcome::Ok,
        _ => return quectel_common(m, name, form),
    };
    Some(out)
}

/// Quectel commands both dialects have, shaped by the profile data: `AT+QCCID`,
/// `AT+QINISTAT`, `AT+QSPN`.
pub(crate) fn quectel_common(m: &mut Modem, name: &str, form: &CommandForm) -> Option<Outcome> {
    let out = match (name, form) {
        ("+QCCID", CommandForm::Exec) if !m.quirks().no_qccid => match m.sim() {
            Some(s) => {
                let prefix = m.data().qccid_prefix;
                m.info(&format!("{prefix}{}", s.iccid));
                Outcome::Ok
            }
            None => Outcome::Error(AtError::Cme(10)),
        },
        ("+QINISTAT", CommandForm::Exec) => {
            let v = m.init_status();
            m.info(&format!("+QINISTAT: {v}"));
            Outcome::Ok
        }
        ("+QSPN", CommandForm::Exec) => {
            match m.network().serving_operator(m.line()) {
                Some(op) if matches!(m.reg_stat(), 1 | 5) => m.info(&format!(
                    "+QSPN: \"{}\",\"{}\",\"\",0,\"{}\"",
                    op.long_name,
                    op.short_name,
                    op.numeric()
                )),
                _ => return Some(Outcome::Error(AtError::Cme(30))),
            }
            Outcome::Ok
        }
        ("+QCCID" | "+QINISTAT" | "+QSPN", CommandForm::Test) => Outcome::Ok,
        _ => return None,
    };
    Some(out)
}

fn serving(m: &mut Modem) {
    let registered = matches!(m.reg_stat(), 1 | 5);
    match m.network().serving_cell(m.line()) {
        Some(c) if registered => {
            let (rssi, _) = m.network().signal(m.line());
            let rscp = Cell::dbm(rssi);
            let (mcc, mnc) = c.operator.split_at(3.min(c.operator.len()));
            m.info(&format!(
                "+QENG: \"servingcell\",\"NOCONN\",\"WCDMA\",{mcc},{mnc},{:X},{:X},{},{},1,{rscp},-5,-,-,-,-,-",
                c.lac, c.cell_id, c.uarfcn, c.psc
            ));
        }
        _ => m.info("+QENG: \"servingcell\",\"SEARCH\""),
    }
}

fn neighbours(m: &mut Modem) {
    let Some(s) = m.network().serving_cell(m.line()) else {
        return;
    };
    for c in m.network().cells() {
        if c.arfcn == s.arfcn {
            continue;
        }
        m.info(&format!(
            "+QENG: \"neighbourcell\",\"WCDMA\",{},{},{},-8",
            c.uarfcn,
            c.psc,
            Cell::dbm(c.rssi)
        ));
    }
}
