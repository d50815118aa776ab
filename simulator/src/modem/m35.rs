//! The Quectel M35 dialect: its identity, boot sequence, canned answers and the
//! commands only it has (`AT+QMOSTAT`, `AT+QCCID`, `AT+QINISTAT`).

use std::time::Duration;

use super::at_parser::{AtCommand, CommandForm};
use super::profile::{BootStep, ProfileData};
use super::responses::AtError;
use super::{Modem, Outcome};

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
            urc: "RDY",
            init_status: 0,
        },
        BootStep {
            at: Duration::from_millis(600),
            urc: "+CFUN: 1",
            init_status: 0,
        },
        BootStep {
            at: Duration::from_millis(900),
            urc: "+CPIN: READY",
            init_status: 1,
        },
        BootStep {
            at: Duration::from_millis(1500),
            urc: "Call Ready",
            init_status: 2,
        },
        BootStep {
            at: Duration::from_millis(2000),
            urc: "SMS Ready",
            init_status: 3,
        },
    ],
    plain_settings: &[
        ("+CSCS", "\"GSM\""),
        ("+CRC", "0"),
        ("+COLP", "0"),
        ("+CLVL", "60"),
        ("+CMUT", "0"),
        ("+QAUDCH", "0"),
        ("+QSIDET", "0"),
        ("+QMIC", "0,4,9"),
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
        ("+QCCID", CommandForm::Exec) => {
            let iccid = m.sim().iccid.clone();
            m.info(&iccid);
            Outcome::Ok
        }
        ("+QINISTAT", CommandForm::Exec) => {
            let v = m.init_status();
            m.info(&format!("+QINISTAT: {v}"));
            Outcome::Ok
        }
        ("+QMOSTAT" | "+QCCID" | "+QINISTAT", CommandForm::Test) => Outcome::Ok,
        _ => return None,
    };
    Some(outcome)
}
