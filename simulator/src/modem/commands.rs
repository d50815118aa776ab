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
    if !matches!(m.reg_stat(), 1 | 5) {
        return Outcome::Error(AtError::Cme(CME_NO_NETWORK));
    }
    let withheld = m.settings().clir == 1;
    match m
        .network()
        .modem_dial(m.line(), m.attach_id(), &number, withheld)
    {
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
        ("+GCAP", Exec) => m.info("+GCAP: +CGSM"),
        ("+CLAC", Exec) => {
            for c in KNOWN {
                m.info(&format!("AT{c}"));
            }
        }
        ("+EGMR", Set(a)) => return egmr(m, a),
        ("+CFUN", Read) => {
            let v = m.cfun();
            m.info(&format!("+CFUN: {v}"));
        }
        ("+CFUN", Set(a)) => {
            match int_args(a).as_deref() {
                Some([v @ (0 | 1 | 4)]) | Some([v @ (0 | 1 | 4), 0]) => m.set_cfun(*v as u8),
                Some([1, 1]) => {
                    // Reset: the final OK goes out, then the module restarts.
                    m.restart();
                    return Outcome::Ok;
                }
                _ => return Outcome::Error(AtError::Plain),
            }
        }
        ("+CREG", Set(a)) => match single_int(a, 2) {
            Some(v) => m.settings_mut().creg = v as u8,
            None => return Outcome::Error(AtError::Plain),
        },
        ("+CREG", Read) => {
            let n = m.settings().creg;
            let stat = m.reg_stat();
            let loc = if n == 2 {
                m.location_suffix()
            } else {
                String::new()
            };
            m.info(&format!("+CREG: {n},{stat}{loc}"));
        }
        ("+CGREG", Set(a)) => match single_int(a, 2) {
            Some(v) => m.settings_mut().cgreg = v as u8,
            None => return Outcome::Error(AtError::Plain),
        },
        ("+CGREG", Read) => {
            let n = m.settings().cgreg;
            let stat = m.gprs_stat();
            let loc = if n == 2 {
                m.gprs_location_suffix()
            } else {
                String::new()
            };
            m.info(&format!("+CGREG: {n},{stat}{loc}"));
        }
        ("+CGREG", Test) => m.info("+CGREG: (0-2)"),
        ("+CGATT", Read) => {
            let v = u8::from(m.gprs_attached());
            m.info(&format!("+CGATT: {v}"));
        }
        ("+CGATT", Set(a)) => match single_int(a, 1) {
            Some(v) => {
                if !m.set_gprs_attached(v == 1) {
                    return Outcome::Error(AtError::Cme(CME_NO_NETWORK));
                }
            }
            None => return Outcome::Error(AtError::Plain),
        },
        ("+CGATT", Test) => m.info("+CGATT: (0,1)"),
        ("+CSQ", Exec) => {
            let (rssi, ber) = m.network().signal(m.line());
            m.info(&format!("+CSQ: {rssi},{ber}"));
        }
        ("+COPS", Read) => {
            let f = m.settings().cops_format;
            let mode = u8::from(
                m.network()
                    .state()
                    .lines
                    .get(&m.line())
                    .is_some_and(|l| l.radio.manual_operator.is_some()),
            );
            let registered = matches!(m.reg_stat(), 1 | 5);
            match m.network().serving_operator(m.line()) {
                Some(op) if registered => {
                    let name = match f {
                        1 => op.short_name.clone(),
                        2 => op.numeric(),
                        _ => op.long_name.clone(),
                    };
                    let act = m.data().creg_act.map_or(String::new(), |a| format!(",{a}"));
                    m.info(&format!("+COPS: {mode},{f},\"{name}\"{act}"));
                }
                _ => m.info(&format!("+COPS: {mode}")),
            }
        }
        ("+COPS", Test) => {
            let serving = m.network().serving_operator(m.line()).map(|o| o.numeric());
            let rows: Vec<String> = m
                .network()
                .operators()
                .iter()
                .map(|o| {
                    let stat = if Some(o.numeric()) == serving { 2 } else { 1 };
                    format!(
                        "({stat},\"{}\",\"{}\",\"{}\")",
                        o.long_name,
                        o.short_name,
                        o.numeric()
                    )
                })
                .collect();
            m.info(&format!("+COPS: {},,(0-4),(0-2)", rows.join(",")));
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
        ("+CLIR", Set(a)) => match single_int(a, 2) {
            Some(v) => m.settings_mut().clir = v as u8,
            None => return Outcome::Error(AtError::Plain),
        },
        ("+CLIR", Read) => {
            let v = m.settings().clir;
            m.info(&format!("+CLIR: {v},2"));
        }
        ("+CRC", Set(a)) => match single_int(a, 1) {
            Some(v) => m.settings_mut().crc = v == 1,
            None => return Outcome::Error(AtError::Plain),
        },
        ("+CRC", Read) => {
            let v = u8::from(m.settings().crc);
            m.info(&format!("+CRC: {v}"));
        }
        ("+CLCC", Exec) => {
            let alpha = if m.quirks().clcc_alpha { ",\"\"" } else { "" };
            for c in m.network().modem_calls(m.line()) {
                let dir = match c.direction {
                    CallDirection::MobileOriginated => 0,
                    CallDirection::MobileTerminated => 1,
                };
                m.info(&format!(
                    "+CLCC: {},{dir},{},0,0,\"{}\",{}{alpha}",
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
        ("+CHLD", Set(a)) => {
            let a = a.trim();
            let mut chars = a.chars();
            let n = chars.next().and_then(|c| c.to_digit(10));
            let rest = chars.as_str();
            let x = if rest.is_empty() {
                None
            } else {
                match rest.parse::<u8>() {
                    Ok(x) => Some(x),
                    Err(_) => return Outcome::Error(AtError::Plain),
                }
            };
            let Some(n @ 0..=2) = n else {
                return Outcome::Error(AtError::Plain);
            };
            if x.is_some() && n == 0 {
                return Outcome::Error(AtError::Plain);
            }
            if !m.network().modem_chld(m.line(), m.attach_id(), n as u8, x) {
                return Outcome::Error(AtError::Cme(CME_NOT_ALLOWED));
            }
        }
        ("+CHLD", Test) => m.info("+CHLD: (0,1,1x,2,2x)"),
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
        (_, Test) if KNOWN.contains(&name) => {}
        _ => return Outcome::Error(AtError::Plain),
    }
    Outcome::Ok
}

/// Commands handled by [`extended`] (for the bare `=?` answer and `AT+CLAC`).
const KNOWN: &[&str] = &[
    "+CMEE", "+CGMI", "+GMI", "+CGMM", "+GMM", "+CGMR", "+GMR", "+CGSN", "+GSN", "+GCAP", "+CLAC",
    "+CIMI", "+CPIN", "+CNUM", "+CFUN", "+CREG", "+CGREG", "+CGATT", "+CSQ", "+COPS", "+CLIP",
    "+CLIR", "+CRC", "+CLCC", "+CHUP", "+CEER", "+VTS", "+EGMR", "+CLCK", "+CPWD", "+CCFC",
    "+CCWA", "+CHLD", "+CUSD", "+CSCS", "+CMGF", "+CMGS", "+CMGL", "+CMGR", "+CMGD", "+CMGW",
    "+CMSS", "+CNMI", "+CPMS", "+CSCA", "+CSMP", "+CSMS",
];

/// `AT+EGMR=1,7,"<imei>"` writes the IMEI (15 digits, Luhn-valid); `AT+EGMR=0,7` reads it.
fn egmr(m: &mut Modem, args: &str) -> Outcome {
    let parts = split_args(args);
    match parts.as_slice() {
        [op, id] if op == "0" && id == "7" => {
            let imei = m.imei().to_owned();
            m.info(&format!("+EGMR: \"{imei}\""));
            Outcome::Ok
        }
        [op, id, imei] if op == "1" && id == "7" => {
            if imei.len() == 15
                && imei.bytes().all(|b| b.is_ascii_digit())
                && crate::luhn::is_valid(imei)
            {
                let line = m.line();
                m.network()
                    .state()
                    .log(format!("line{line} IMEI written: {imei}"));
                m.set_imei(imei.clone());
                Outcome::Ok
            } else {
                Outcome::Error(AtError::Cme(3))
            }
        }
        _ => Outcome::Error(AtError::Plain),
    }
}

fn set_cops(m: &mut Modem, args: &str) -> Outcome {
    let parts = split_args(args);
    let mode = parts.first().and_then(|p| p.parse::<u8>().ok());
    let format = parts.get(1).and_then(|p| p.parse::<u8>().ok());
    let line = m.line();
    match (mode, format) {
        (Some(0), _) => {
            m.network().select_operator(line, None);
            m.evaluate_registration();
            Outcome::Ok
        }
        (Some(2), _) => {
            m.set_cfun(m.cfun());
            Outcome::Ok
        }
        (Some(3), Some(f @ 0..=2)) => {
            m.settings_mut().cops_format = f;
            Outcome::Ok
        }
        (Some(1 | 4), Some(0..=2)) => {
            let oper = parts.get(2).map(String::as_str).unwrap_or("");
            let found = m.network().operators().into_iter().find(|o| {
                [o.long_name.as_str(), o.short_name.as_str(), &o.numeric()].contains(&oper)
            });
            match found {
                Some(op) if m.network().select_operator(line, Some(&op.numeric())) => {
                    m.evaluate_registration();
                    Outcome::Ok
                }
                _ if mode == Some(4) => {
                    m.network().select_operator(line, None);
                    m.evaluate_registration();
                    Outcome::Ok
                }
                _ => Outcome::Error(AtError::Cme(CME_NO_NETWORK)),
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
