//! The Quectel M35 dialect: its identity, boot sequence, canned answers and the
//! commands only it has (`AT+QMOSTAT`, `AT+QENG` in the GSM form, `AT+QLOCKF` BCCH lock,
//! `AT+QNSTATUS`, `AT+QTRPIN`, `AT+QEXTUNSOL`).

use std::time::Duration;

use super::at_parser::{split_args, AtCommand, CommandForm};
use super::profile::{BootStep, BootUrc, ProfileData};
use super::responses::AtError;
use super::{Modem, Outcome};
use crate::operator::Cell;

/// Declarative data of the M35.
pub static M35: ProfileData = ProfileData {
    manufacturer: "Quectel_Ltd",
    model: "Quectel_M35",
    revision: "Revision: M35FAR02A03",
    ati: &["Quectel_Ltd", "Quectel_M35", "Revision: M35FAR02A03"],
    tac: "86286002",
    boot: &[
        BootStep {
            at: Duration::from_millis(300),
            urc: BootUrc::Text("RDY"),
            init_status: 0,
            needs_sim: false,
        },
        BootStep {
            at: Duration::from_millis(600),
            urc: BootUrc::Text("+CFUN: 1"),
            init_status: 0,
            needs_sim: false,
        },
        BootStep {
            at: Duration::from_millis(900),
            urc: BootUrc::SimState,
            init_status: 1,
            needs_sim: false,
        },
        BootStep {
            at: Duration::from_millis(1500),
            urc: BootUrc::Text("Call Ready"),
            init_status: 2,
            needs_sim: true,
        },
        BootStep {
            at: Duration::from_millis(2000),
            urc: BootUrc::Text("SMS Ready"),
            init_status: 3,
            needs_sim: true,
        },
    ],
    ready_status: 3,
    qccid_prefix: "",
    creg_act: None,
    plain_settings: &[
        ("+COLP", "0"),
        ("+CLVL", "60"),
        ("+CMUT", "0"),
        ("+CVHU", "0"),
        ("+QAUDCH", "0"),
        ("+QSIDET", "0"),
        ("+QMIC", "0,4,9"),
        ("+QECHO", "0,96,253,0,0"),
        ("+QSFR", "0"),
        ("+QSIMDET", "0,0"),
        ("+QTONEDET", "0"),
        ("+QURCCFG", "\"urcport\",\"uart1\""),
    ],
    test_answers: &[
        ("+CMEE", "+CMEE: (0-2)"),
        ("+CREG", "+CREG: (0-2)"),
        ("+CLIP", "+CLIP: (0,1)"),
        ("+CSQ", "+CSQ: (0-31,99),(0-7,99)"),
        ("+CFUN", "+CFUN: (0,1,4),(0-1)"),
        ("+QMOSTAT", "+QMOSTAT: (0,1)"),
        ("+VTS", "+VTS: (0-9,*,#,A,B,C,D)"),
        (
            "+CSCS",
            "+CSCS: (\"GSM\",\"HEX\",\"IRA\",\"PCCP936\",\"UCS2\")",
        ),
    ],
};

/// Runs an M35-only command; `None` hands the command to the common set.
pub fn execute(m: &mut Modem, cmd: &AtCommand) -> Option<Outcome> {
    let AtCommand::Extended { name, form } = cmd else {
        return None;
    };
    let outcome = match (name.as_str(), form) {
        ("+QMOSTAT", CommandForm::Set(a)) => match a.trim() {
            "0" => {
                m.settings_mut().mo_status = false;
                Outcome::Ok
            }
            "1" => {
                m.settings_mut().mo_status = true;
                Outcome::Ok
            }
            _ => Outcome::Error(AtError::Plain),
        },
        ("+QMOSTAT", CommandForm::Read) => {
            let v = u8::from(m.settings().mo_status);
            m.info(&format!("+QMOSTAT: {v}"));
            Outcome::Ok
        }
        ("+QENG", CommandForm::Set(a)) => {
            let parts = split_args(a);
            match parts.first().map(String::as_str) {
                Some("0") => m.settings_mut().plain.remove("+QENG"),
                Some("1") => m
                    .settings_mut()
                    .plain
                    .insert("+QENG".into(), parts.get(1).cloned().unwrap_or("0".into())),
                _ => return Some(Outcome::Error(AtError::Plain)),
            };
            Outcome::Ok
        }
        ("+QENG", CommandForm::Read) => {
            let mode = m.settings().plain.get("+QENG").cloned();
            let Some(dump) = mode else {
                m.info("+QENG: 0,0");
                return Some(Outcome::Ok);
            };
            m.info(&format!("+QENG: 1,{dump}"));
            if matches!(m.reg_stat(), 1 | 5) {
                m35_cells(m, dump == "1");
            } else {
                m.info("+QENG: 0,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x");
            }
            Outcome::Ok
        }
        ("+QENG", CommandForm::Test) => {
            m.info("+QENG: (0,1),(0-4)");
            Outcome::Ok
        }
        ("+QBAND", CommandForm::Read) => {
            m.info("+QBAND: \"EGSM_DCS_MODE\"");
            Outcome::Ok
        }
        ("+QLOCKF", CommandForm::Set(a)) => bcch_lock(m, a),
        ("+QLOCKF", CommandForm::Read) => {
            let lock = m
                .network()
                .state()
                .lines
                .get(&m.line())
                .and_then(|l| l.radio.bcch_lock);
            match lock {
                Some(a) => m.info(&format!("+QLOCKF: 1,{a}")),
                None => m.info("+QLOCKF: 0"),
            }
            Outcome::Ok
        }
        ("+QNSTATUS", CommandForm::Exec) => {
            let v = u8::from(!matches!(m.reg_stat(), 1 | 5));
            m.info(&format!("+QNSTATUS: {v}"));
            Outcome::Ok
        }
        ("+QTRPIN", CommandForm::Exec) => match m.sim() {
            Some(s) => {
                m.info(&format!(
                    "+QTRPIN: {},{},{},{}",
                    s.pin_tries, s.pin2_tries, s.puk_tries, s.puk2_tries
                ));
                Outcome::Ok
            }
            None => Outcome::Error(AtError::Cme(10)),
        },
        ("+QEXTUNSOL", CommandForm::Set(a)) => {
            let parts = split_args(a);
            if parts.first().is_some_and(|p| p.eq_ignore_ascii_case("SQ")) {
                m.settings_mut().signal_urc = parts.get(1).is_some_and(|v| v == "1");
            }
            Outcome::Ok
        }
        ("+QMOSTAT" | "+QCCID" | "+QINISTAT" | "+QNSTATUS" | "+QTRPIN", CommandForm::Test) => {
            Outcome::Ok
        }
        _ => return super::uc15::quectel_common(m, name, form),
    };
    Some(outcome)
}

/// `+QENG: 0,...` serving row, then neighbours `+QENG: 1,<n>,<bcch>,<dbm>,<bsic>,<c1>,
/// <c2>,<mcc>,<mnc>,<lac>,<ci>` groups with `AT+QENG=1,1`.
fn m35_cells(m: &mut Modem, with_neighbours: bool) {
    let Some(serving) = m.network().serving_cell(m.line()) else {
        return;
    };
    let (rssi, _) = m.network().signal(m.line());
    let dbm = Cell::dbm(rssi);
    let (mcc, mnc) = serving.operator.split_at(3.min(serving.operator.len()));
    let rla = (dbm + 110).max(0);
    m.info(&format!(
        "+QENG: 0,{mcc},{mnc},{:04x},{:04x},{},{},{dbm},{rla},{rla},0,{rla},x,x,x,x,x,x,x",
        serving.lac,
        serving.cell_id & 0xFFFF,
        serving.arfcn,
        serving.bsic
    ));
    if !with_neighbours {
        return;
    }
    let groups: Vec<String> = m
        .network()
        .cells()
        .iter()
        .filter(|c| c.arfcn != serving.arfcn)
        .enumerate()
        .map(|(i, c)| {
            let d = Cell::dbm(c.rssi);
            let (mcc, mnc) = c.operator.split_at(3.min(c.operator.len()));
            let c1 = (d + 110).max(0);
            format!(
                "{},{},{d},{},{c1},{c1},{mcc},{mnc},{:04x},{:04x}",
                i + 1,
                c.arfcn,
                c.bsic,
                c.lac,
                c.cell_id & 0xFFFF
            )
        })
        .collect();
    if !groups.is_empty() {
        m.info(&format!("+QENG: 1,{}", groups.join(",")));
    }
}

/// `AT+QLOCKF=<mode>[,<arfcn>]`: 1 locks the BCCH, 0 unlocks (manual 6.15).
fn bcch_lock(m: &mut Modem, args: &str) -> Outcome {
    let parts = split_args(args);
    match (
        parts.first().map(String::as_str),
        parts.get(1).and_then(|v| v.parse::<u16>().ok()),
    ) {
        (Some("0"), _) => {
            m.network().lock_bcch(m.line(), None);
            m.evaluate_registration();
            Outcome::Ok
        }
        (Some("1"), Some(arfcn)) => {
            m.network().lock_bcch(m.line(), Some(arfcn));
            m.evaluate_registration();
            Outcome::Ok
        }
        _ => Outcome::Error(AtError::Plain),
    }
}
