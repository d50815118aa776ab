//! `AT+CUSD` and `AT+CSCS`: USSD requests and answers in the current character set
//! (`GSM`/`IRA` plain, `UCS2` as UTF-16BE hex, `HEX` as GSM 7-bit codes in hex), whatever
//! the dcs says (as seen on M35).

use cellgate_sms::{decode_hex, encode_hex, is_gsm7, Gsm7Tables};

use super::at_parser::{split_args, AtCommand, CommandForm};
use super::responses::AtError;
use super::{Modem, Outcome};

/// Runs `AT+CUSD` / `AT+CSCS`; `None` for other commands.
pub fn execute(m: &mut Modem, cmd: &AtCommand) -> Option<Outcome> {
    let AtCommand::Extended { name, form } = cmd else {
        return None;
    };
    use CommandForm::{Read, Set, Test};
    let out = match (name.as_str(), form) {
        ("+CSCS", Set(a)) => {
            let cs = split_args(a)
                .first()
                .map(|s| s.to_ascii_uppercase())
                .unwrap_or_default();
            if ["GSM", "IRA", "UCS2", "HEX", "PCCP936", "8859-1"].contains(&cs.as_str()) {
                m.settings_mut().cscs = cs;
                Outcome::Ok
            } else {
                Outcome::Error(AtError::Plain)
            }
        }
        ("+CSCS", Read) => {
            let cs = m.settings().cscs.clone();
            m.info(&format!("+CSCS: \"{cs}\""));
            Outcome::Ok
        }
        ("+CUSD", Set(a)) => request(m, a),
        ("+CUSD", Read) => {
            m.info("+CUSD: 1");
            Outcome::Ok
        }
        ("+CUSD", Test) => {
            m.info("+CUSD: (0-2)");
            Outcome::Ok
        }
        _ => return None,
    };
    Some(out)
}

fn request(m: &mut Modem, args: &str) -> Outcome {
    let parts = split_args(args);
    let n = parts.first().and_then(|v| v.parse::<u8>().ok());
    match n {
        Some(2) => {
            m.network().ussd_cancel(m.line());
            return Outcome::Ok;
        }
        Some(0 | 1) => {}
        _ => return Outcome::Error(AtError::Plain),
    }
    let Some(raw) = parts.get(1).filter(|s| !s.is_empty()) else {
        // Presentation on/off only.
        return Outcome::Ok;
    };
    if let Err(e) = m.ready_sim() {
        return Outcome::Error(AtError::Cme(e));
    }
    if m.reg_stat() != 1 && m.reg_stat() != 5 {
        return Outcome::Error(AtError::Cme(30));
    }
    let text = decode_cscs(m, raw).unwrap_or_else(|| raw.clone());
    m.network().modem_ussd(m.line(), &text);
    Outcome::Ok
}

/// A USSD answer (or network-initiated USSD) arrives.
pub(crate) fn on_answer(m: &mut Modem, code: u8, text: Option<String>) {
    match text {
        Some(t) => {
            let dcs = if is_gsm7(&t) { 15 } else { 72 };
            let shown = encode_cscs(m, &t);
            m.urc(&format!("+CUSD: {code},\"{shown}\",{dcs}"));
        }
        None => m.urc(&format!("+CUSD: {code}")),
    }
}

/// Text in the modem's `AT+CSCS` character set.
pub fn encode_cscs(m: &Modem, text: &str) -> String {
    match m.settings().cscs.as_str() {
        "UCS2" => {
            let mut out = String::new();
            for u in text.encode_utf16() {
                out.push_str(&format!("{u:04X}"));
            }
            out
        }
        "HEX" => match Gsm7Tables::DEFAULT.encode(text) {
            Ok(septets) => encode_hex(&septets),
            Err(_) => encode_hex(text.as_bytes()),
        },
        _ => text.to_owned(),
    }
}

/// Text from the modem's character set; `None` if it is not valid in it (callers then
/// take the string as typed, as tolerant modules do).
pub fn decode_cscs(m: &Modem, s: &str) -> Option<String> {
    match m.settings().cscs.as_str() {
        "UCS2" => {
            if !s.len().is_multiple_of(4) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let bytes = decode_hex(s).ok()?;
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        "HEX" => {
            let bytes = decode_hex(s).ok()?;
            Some(Gsm7Tables::DEFAULT.decode(&bytes))
        }
        _ => Some(s.to_owned()),
    }
}
