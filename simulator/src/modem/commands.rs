//! The 3GPP TS 27.007 / V.250 command set every simulated dialect shares.

use cellgate_hal::{CallDirection, DtmfDigit, ReleaseCause};

use super::at_parser::{split_args, AtCommand, CommandForm};
use super::responses::{
    AtError, ResultCode, CME_DIAL_STRING_TOO_LONG, CME_INVALID_DIAL_CHARS, CME_NOT_ALLOWED,
    CME_NO_NETWORK,
};
use super::{Modem, Outcome, Settings};
use crate::causes::{self, cause_text};
use crate::network::{CallState, DialRefused};
use crate::operator::{HOME_CELL, HOME_OPERATOR};
use crate::phone;

/// Longest accepted dial string (digits after clean-up).
const MAX_DIAL_LEN: usize = 40;

/// Runs a command of the common set; unknown commands answer plain `ERROR`.
pub fn execute(m: &mut Modem, cmd: &AtCommand) -> Outcome {
    match cmd {
        AtCommand::Basic { name, value } => basic(m, name, *value),
        AtCommand::SRegister { register, write } => {
            match write {
                Some(v) => {
                    m.settings_mut().s_registers.insert(*register, *v);
                }
                None => {
                    let v = m.settings().s_registers.get(register).copied().unwrap_or(0);
                    m.info(&format!("{v:03}"));
                }
            }
            Outcome::Ok
        }
        AtCommand::Dial { dial_string, voice } => dial(m, dial_string, *voice),
        AtCommand::Extended { name, form } => extended(m, name, form),
    }
}

fn bool_value(value: Option<u32>) -> Option<bool> {
    match value.unwrap_or(0) {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

fn basic(m: &mut Modem, name: &str, value: Option<u32>) -> Outcome {
    let s = m.settings_mut();
    match name {
        "E" | "Q" | "V" => {
            let Some(on) = bool_value(value) else {
                return Outcome::Error(AtError::Plain);
            };
            match name {
                "E" => s.echo = on,
                "Q" => s.quiet = on,
                _ => s.verbose = on,
            }
        }
        "X" => match value.unwrap_or(0) {
            v @ 0..=4 => s.x_level = v,
            _ => return Outcome::Error(AtError::Plain),
        },
        "Z" | "&F" => *s = Settings::default(),
        "&W" | "L" | "M" => {}
        "I" => {
            for l in m.data().ati {
                m.info(l);
            }
        }
        "A" => return answer(m),
        "H" => return hang_up(m),
        _ => return Outcome::Error(AtError::Plain),
    }
    Outcome::Ok
}

fn answer(m: &mut Modem) -> Outcome {
    if m.network().modem_answer(m.line(), m.attach_id()) {
        Outcome::Ok
    } else {
        Outcome::Final(ResultCode::NoCarrier)
    }
}

fn hang_up(m: &mut Modem) -> Outcome {
    if m.network().modem_hang_up(m.line(), m.attach_id()) > 0 {
        m.set_last_cause(ReleaseCause::NORMAL_CLEARING);
    }
    Outcome::Ok
}

/// Cleans a dial string: separators dropped, digits `* # +` kept; `Err` with a CME code
/// when it holds characters that cannot be dialled.
fn clean_dial_string(raw: &str) -> Result<String, u16> {
    let mut out = String::new();
    for c in raw.trim().chars() {
        match c {
            '0'..='9' | '*' | '#' => out.push(c),
            '+' if out.is_empty() => out.push(c),
            // Visual separators, tone/pulse selectors, CLIR/CUG modifiers.
            ' ' | '-' | '(' | ')' | '.' | 'T' | 't' | 'P' | 'p' | 'I' | 'i' | 'G' | 'g' => {}
            _ => return Err(CME_INVALID_DIAL_CHARS),
        }
    }
    if out.len() > MAX_DIAL_LEN {
        return Err(CME_DIAL_STRING_TOO_LONG);
    }
    Ok(out)
}

fn dial(m: &mut Modem, raw: &str, voice: bool) -> Outcome {
    if !voice {
        // The simulated network carries voice only; a data call fails like an unreachable modem.
        m.set_last_cause(causes::INCOMPATIBLE_DESTINATION);
        return Outcome::Final(ResultCode::NoCarrier);
    }
    let number = match clean_dial_string(raw) {
        Ok(n) => n,
        Err(code) => return Outcome::Error(AtError::Cme(code)),
    };
    if number.trim_start_matches('+').is_empty() {
        m.set_last_cause(causes::INVALID_NUMBER_FORMAT);
        return Outcome::Final(ResultCode::NoCarrier);
    }
    match m.network().modem_dial(m.line(), m.attach_id(), &number) {
        Ok(_) => Outcome::Ok,
        Err(DialRefused::LineBusy) => Outcome::Error(AtError::Cme(CME_NOT_ALLOWED)),
        Err(DialRefused::Detached) => Outcome::Error(AtError::Cme(CME_NO_NETWORK)),
    }
}

/// Parses a set argument list of small integers.
fn int_args(args: &str) -> Option<Vec<u32>> {
    split_args(args).iter().map(|a| a.parse().ok()).collect()
}

fn single_int(args: &str, max: u32) -> Option<u32> {
    match int_args(args)?.as_slice() {
        [v] if *v <= max => Some(*v),
        _ => None,
    }
}

fn extended(m: &mut Modem, name: &str, form: &CommandForm) -> Outcome {
    use CommandForm::{Exec, Read, Set, Test};
    let data = m.data();
    let sim = m.sim().clone();
    match (name, form) {
        (_, Test) if data.test_answers.iter().any(|(n, _)| *n == name) => {
            if let Some((_, answer)) = data.test_answers.iter().find(|(n, _)| *n == name) {
                m.info(answer);
            }
        }
        ("+CMEE", Set(a)) => match single_int(a, 2) {
            Some(v) => m.settings_mut().cmee = v as u8,
            None => return Outcome::Error(AtError::Plain),
        },
        ("+CMEE", Read) => {
            let v = m.settings().cmee;
            m.info(&format!("+CMEE: {v}"));
        }
        ("+CGMI" | "+GMI", Exec) => m.info(data.manufacturer),
        ("+CGMM" | "+GMM", Exec) => m.info(data.model),
        ("+CGMR" | "+GMR", Exec) => m.info(data.revision),
        ("+CGSN" | "+GSN", Exec) => {
            let imei = m.imei().to_owned();
            m.info(&imei);
        }
        ("+CIMI", Exec) => m.info(&sim.imsi),
        ("+CPIN", Read) => m.info("+CPIN: READY"),
        ("+CPIN", Set(_)) => return Outcome::Error(AtError::Cme(CME_NOT_ALLOWED)),
        ("+CNUM", Exec) => m.info(&format!(
            "+CNUM: \"\",\"{}\",{}",
            sim.msisdn,
            phone::type_of_number(&sim.msisdn)
        )),
        ("+CFUN", Read) => m.info("+CFUN: 1"),
        ("+CFUN", Set(a)) => {
            if int_args(a).as_deref() != Some(&[1]) {
                return Outcome::Error(AtError::Plain);
            }
        }
        ("+CREG", Set(a)) => match single_int(a, 2) {
            Some(v) => m.settings_mut().creg = v as u8,
            None => return Outcome::Error(AtError::Plain),
        },
        ("+CREG", Read) => {
            let n = m.settings().creg;
            if n == 2 {
                m.info(&format!(
                    "+CREG: 2,1,\"{:04X}\",\"{:04X}\"",
                    HOME_CELL.lac, HOME_CELL.cell_id
                ));
            } else {
                m.info(&format!("+CREG: {n},1"));
            }
        }
        ("+CSQ", Exec) => m.info(&format!("+CSQ: {},{}", HOME_CELL.rssi, HOME_CELL.ber)),
        ("+COPS", Read) => {
            let f = m.settings().cops_format;
            let name = match f {
                1 => HOME_OPERATOR.short_name,
                2 => HOME_OPERATOR.numeric,
                _ => HOME_OPERATOR.long_name,
            };
            m.info(&format!("+COPS: 0,{f},\"{name}\""));
        }
        ("+COPS", Set(a)) => return set_cops(m, a),
        ("+CLIP", Set(a)) => match single_int(a, 1) {
            Some(v) => m.settings_mut().clip = v == 1,
            None => return Outcome::Error(AtError::Plain),
        },
        ("+CLIP", Read) => {
            let v = u8::from(m.settings().clip);
            m.info(&format!("+CLIP: {v},1"));
        }
        ("+CLCC", Exec) => {
            for c in m.network().modem_calls(m.line()) {
                let dir = match c.direction {
                    CallDirection::MobileOriginated => 0,
                    CallDirection::MobileTerminated => 1,
                };
                m.info(&format!(
                    "+CLCC: {},{dir},{},0,0,\"{}\",{}",
                    c.index,
                    c.state.clcc_stat(),
                    c.remote,
                    phone::type_of_number(&c.remote)
                ));
            }
        }
        ("+CHUP", Exec) => return hang_up(m),
        ("+CEER", Exec) => {
            let cause = m.last_cause();
            m.info(&format!("+CEER: {},\"{}\"", cause.0, cause_text(cause)));
        }
        ("+VTS", Set(a)) => return send_dtmf(m, a),
        (_, Set(a)) if data.plain_settings.iter().any(|(n, _)| *n == name) => {
            m.settings_mut().plain.insert(name.to_owned(), a.clone());
        }
        (_, Read) if data.plain_settings.iter().any(|(n, _)| *n == name) => {
            let default = data
                .plain_settings
                .iter()
                .find(|(n, _)| *n == name)
                .map_or("", |(_, d)| *d);
            let value = m.settings().plain.get(name).cloned();
            m.info(&format!("{name}: {}", value.as_deref().unwrap_or(default)));
        }
        // The test form of anything implemented above answers OK.
        (_, Test) if is_known(name) => {}
        _ => return Outcome::Error(AtError::Plain),
    }
    Outcome::Ok
}

/// Commands handled by [`extended`] (for the bare `=?` answer).
fn is_known(name: &str) -> bool {
    matches!(
        name,
        "+CMEE"
            | "+CGMI"
            | "+GMI"
            | "+CGMM"
            | "+GMM"
            | "+CGMR"
            | "+GMR"
            | "+CGSN"
            | "+GSN"
            | "+CIMI"
            | "+CPIN"
            | "+CNUM"
            | "+CFUN"
            | "+CREG"
            | "+CSQ"
            | "+COPS"
            | "+CLIP"
            | "+CLCC"
            | "+CHUP"
            | "+CEER"
            | "+VTS"
    )
}

fn set_cops(m: &mut Modem, args: &str) -> Outcome {
    let parts = split_args(args);
    let mode = parts.first().and_then(|p| p.parse::<u8>().ok());
    let format = parts.get(1).and_then(|p| p.parse::<u8>().ok());
    match (mode, format) {
        (Some(0), _) => Outcome::Ok,
        (Some(3), Some(f @ 0..=2)) => {
            m.settings_mut().cops_format = f;
            Outcome::Ok
        }
        (Some(1 | 4), Some(0..=2)) => {
            let oper = parts.get(2).map(String::as_str).unwrap_or("");
            let ours = [
                HOME_OPERATOR.long_name,
                HOME_OPERATOR.short_name,
                HOME_OPERATOR.numeric,
            ];
            if ours.contains(&oper) {
                Outcome::Ok
            } else {
                Outcome::Error(AtError::Cme(CME_NO_NETWORK))
            }
        }
        _ => Outcome::Error(AtError::Plain),
    }
}

fn send_dtmf(m: &mut Modem, args: &str) -> Outcome {
    let digits: Option<String> = split_args(args)
        .iter()
        .flat_map(|a| a.chars())
        .map(|c| DtmfDigit::new(c).map(DtmfDigit::as_char))
        .collect();
    let digits = match digits {
        Some(d) if !d.is_empty() => d,
        _ => return Outcome::Error(AtError::Plain),
    };
    let active = m
        .network()
        .modem_calls(m.line())
        .iter()
        .any(|c| c.state == CallState::Active);
    if active && m.network().modem_dtmf(m.line(), &digits) {
        Outcome::Ok
    } else {
        Outcome::Error(AtError::Cme(CME_NOT_ALLOWED))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_strings() {
        assert_eq!(clean_dial_string("+1 (555) 123-4"), Ok("+15551234".into()));
        assert_eq!(clean_dial_string("12+3"), Err(CME_INVALID_DIAL_CHARS));
        assert_eq!(clean_dial_string("12x"), Err(CME_INVALID_DIAL_CHARS));
        assert_eq!(
            clean_dial_string(&"1".repeat(41)),
            Err(CME_DIAL_STRING_TOO_LONG)
        );
        assert_eq!(clean_dial_string(""), Ok(String::new()));
    }
}
