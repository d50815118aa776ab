//! SIM commands: `AT+CPIN` (PIN 1 / PUK, and PIN2 / PUK2 while the SIM asks for them),
//! `AT+CLCK` (`"SC"` PIN lock, `"FD"` fixed dialling with PIN2), `AT+CPWD` (`"SC"`,
//! `"P2"`), PIN/PUK counters (`AT+QTRPIN` on M35, `AT+QPINC` on UC15), `AT+CIMI`,
//! `AT+CNUM`, ICCID, `AT+CCFC`, `AT+CCWA`.

use super::at_parser::{split_args, AtCommand, CommandForm};
use super::responses::AtError;
use super::{Modem, Outcome};
use crate::phone;
use crate::sim_card::SimLock;

/// Runs a SIM command; `None` for commands of other groups.
pub fn execute(m: &mut Modem, cmd: &AtCommand) -> Option<Outcome> {
    let AtCommand::Extended { name, form } = cmd else {
        return None;
    };
    use CommandForm::{Exec, Read, Set, Test};
    let out = match (name.as_str(), form) {
        ("+CPIN", Read) => match m.sim() {
            None => Outcome::Error(AtError::Cme(10)),
            Some(s) if s.lock == SimLock::Blocked => Outcome::Error(AtError::Cme(13)),
            Some(_) => {
                let t = m.cpin_text();
                m.info(&format!("+CPIN: {t}"));
                Outcome::Ok
            }
        },
        ("+CPIN", Set(a)) => enter_pin(m, a),
        ("+CIMI", Exec) => match m.ready_sim() {
            Ok(s) => {
                m.info(&s.imsi);
                Outcome::Ok
            }
            Err(e) => Outcome::Error(AtError::Cme(e)),
        },
        ("+CNUM", Exec) => match m.ready_sim() {
            Ok(s) => {
                m.info(&format!(
                    "+CNUM: \"\",\"{}\",{}",
                    s.msisdn,
                    phone::type_of_number(&s.msisdn)
                ));
                Outcome::Ok
            }
            Err(e) => Outcome::Error(AtError::Cme(e)),
        },
        ("+CCID" | "+ICCID", Exec) => match m.sim() {
            Some(s) => {
                m.info(&format!("{name}: {}", s.iccid));
                Outcome::Ok
            }
            None => Outcome::Error(AtError::Cme(10)),
        },
        ("+CLCK", Set(a)) => facility_lock(m, a),
        ("+CLCK", Test) => {
            m.info(
                "+CLCK: (\"SC\",\"FD\",\"AO\",\"OI\",\"OX\",\"AI\",\"IR\",\"AB\",\"AG\",\"AC\")",
            );
            Outcome::Ok
        }
        ("+CPWD", Set(a)) => change_password(m, a),
        ("+CPWD", Test) => {
            m.info("+CPWD: (\"SC\",8),(\"P2\",8)");
            Outcome::Ok
        }
        ("+CCFC", Set(a)) => forwarding(m, a),
        ("+CCFC", Test) => {
            m.info("+CCFC: (0-5)");
            Outcome::Ok
        }
        ("+CCWA", Set(a)) => call_waiting(m, a),
        ("+CCWA", Read) => {
            let v = u8::from(m.settings().ccwa);
            m.info(&format!("+CCWA: {v}"));
            Outcome::Ok
        }
        ("+CCWA", Test) => {
            m.info("+CCWA: (0,1)");
            Outcome::Ok
        }
        ("+CPIN" | "+CIMI" | "+CNUM" | "+CCID", Test) => Outcome::Ok,
        _ => return None,
    };
    Some(out)
}

/// `AT+CPIN=<pin>` / `AT+CPIN=<puk>,<newpin>` (PIN2 / PUK2 when the SIM asks for them).
fn enter_pin(m: &mut Modem, args: &str) -> Outcome {
    let parts = split_args(args);
    let pin2 = m
        .sim()
        .is_some_and(|s| s.lock == SimLock::Ready && s.pin2_asked);
    let result = match parts.as_slice() {
        [pin] => m.with_sim(|s| s.enter_pin(pin)),
        [puk, new_pin] => m.with_sim(|s| s.enter_puk(puk, new_pin)),
        _ => return Outcome::Error(AtError::Plain),
    };
    match result {
        None => Outcome::Error(AtError::Cme(10)),
        Some(Ok(())) => {
            let what = if pin2 { "PIN2 entered" } else { "SIM unlocked" };
            m.network().state().log(format!("line{} {what}", m.line()));
            // The module reports the new state, then resumes its boot.
            m.urc("+CPIN: READY");
            m.resume_boot();
            Outcome::Ok
        }
        Some(Err(code)) => {
            let state = m.cpin_text();
            m.network().state().log(format!(
                "line{} SIM refused the code (CME {code}), now {state}",
                m.line()
            ));
            Outcome::Error(AtError::Cme(code))
        }
    }
}

/// `AT+CLCK="SC"|"FD",<mode>[,<passwd>]`: 0 unlock, 1 lock, 2 query (`"FD"`: fixed
/// dialling, password PIN2). Barring facilities are queried as not active.
fn facility_lock(m: &mut Modem, args: &str) -> Outcome {
    let parts = split_args(args);
    let fac = parts
        .first()
        .map(|f| f.to_ascii_uppercase())
        .unwrap_or_default();
    let mode = parts.get(1).and_then(|v| v.parse::<u8>().ok());
    let pass = parts.get(2).cloned().unwrap_or_default();
    if fac == "FD" {
        return fixed_dialing(m, mode, parts.get(2).map(String::as_str));
    }
    if fac != "SC" {
        return match mode {
            Some(2) => {
                m.info("+CLCK: 0,7");
                Outcome::Ok
            }
            Some(0 | 1) => Outcome::Ok,
            _ => Outcome::Error(AtError::Plain),
        };
    }
    match mode {
        Some(2) => match m.sim() {
            Some(s) => {
                m.info(&format!("+CLCK: {}", u8::from(s.pin_enabled)));
                Outcome::Ok
            }
            None => Outcome::Error(AtError::Cme(10)),
        },
        Some(v @ (0 | 1)) => {
            let r = m.with_sim(|s| {
                s.check_pin(&pass)?;
                s.pin_enabled = v == 1;
                Ok::<(), u16>(())
            });
            match r {
                None => Outcome::Error(AtError::Cme(10)),
                Some(Ok(())) => Outcome::Ok,
                Some(Err(c)) => Outcome::Error(AtError::Cme(c)),
            }
        }
        _ => Outcome::Error(AtError::Plain),
    }
}

/// `AT+CLCK="FD",<mode>[,<pin2>]`: the fixed dialling (FDN) lock of the SIM.
fn fixed_dialing(m: &mut Modem, mode: Option<u8>, pin2: Option<&str>) -> Outcome {
    match mode {
        Some(2) => match m.ready_sim() {
            Ok(s) => {
                m.info(&format!("+CLCK: {}", u8::from(s.fixed_dialing)));
                Outcome::Ok
            }
            Err(e) => Outcome::Error(AtError::Cme(e)),
        },
        Some(v @ (0 | 1)) => match m.with_sim(|s| s.set_fixed_dialing(v == 1, pin2)) {
            None => Outcome::Error(AtError::Cme(10)),
            Some(Ok(())) => {
                let state = if v == 1 { "on" } else { "off" };
                m.network()
                    .state()
                    .log(format!("line{} fixed dialling {state}", m.line()));
                Outcome::Ok
            }
            Some(Err(c)) => {
                m.network()
                    .state()
                    .log(format!("line{} fixed dialling refused (CME {c})", m.line()));
                Outcome::Error(AtError::Cme(c))
            }
        },
        _ => Outcome::Error(AtError::Plain),
    }
}

/// `AT+CPWD="SC"|"P2",<old>,<new>`.
fn change_password(m: &mut Modem, args: &str) -> Outcome {
    let parts = split_args(args);
    let result = |r: Option<Result<(), u16>>| match r {
        None => Outcome::Error(AtError::Cme(10)),
        Some(Ok(())) => Outcome::Ok,
        Some(Err(c)) => Outcome::Error(AtError::Cme(c)),
    };
    match parts.as_slice() {
        [fac, old, new] if fac.eq_ignore_ascii_case("SC") => {
            result(m.with_sim(|s| s.change_pin(old, new)))
        }
        [fac, old, new] if fac.eq_ignore_ascii_case("P2") => {
            result(m.with_sim(|s| s.change_pin2(old, new)))
        }
        [_, _, _] => Outcome::Error(AtError::Cme(4)),
        _ => Outcome::Error(AtError::Plain),
    }
}

/// `AT+CCFC=<reason>,<mode>[,<number>[,<type>[,<class>[,,,<time>]]]]`.
fn forwarding(m: &mut Modem, args: &str) -> Outcome {
    let parts = split_args(args);
    let reason = parts.first().and_then(|v| v.parse::<u8>().ok());
    let mode = parts.get(1).and_then(|v| v.parse::<u8>().ok());
    let (Some(reason @ 0..=5), Some(mode @ 0..=4)) = (reason, mode) else {
        return Outcome::Error(AtError::Plain);
    };
    if let Err(e) = m.ready_sim() {
        return Outcome::Error(AtError::Cme(e));
    }
    if m.reg_stat() != 1 && m.reg_stat() != 5 {
        return Outcome::Error(AtError::Cme(30));
    }
    // Reasons 4 (all) and 5 (all conditional) apply to several single reasons.
    let reasons: Vec<u8> = match reason {
        4 => vec![0, 1, 2, 3],
        5 => vec![1, 2, 3],
        r => vec![r],
    };
    match mode {
        2 => {
            let sim = m
                .sim()
                .unwrap_or_else(|| crate::sim_card::SimCard::for_line(0));
            let mut any = false;
            for r in &reasons {
                if let Some(num) = sim.forwarding.get(r) {
                    any = true;
                    let ty = phone::type_of_number(num);
                    let time = if *r == 2 {
                        format!(",,,{}", sim.no_reply_secs)
                    } else {
                        String::new()
                    };
                    m.info(&format!("+CCFC: 1,1,\"{num}\",{ty}{time}"));
                }
            }
            if !any {
                m.info("+CCFC: 0,7");
            }
            Outcome::Ok
        }
        3 | 1 => {
            let number = parts.get(2).cloned().unwrap_or_default();
            let time = parts.get(7).and_then(|v| v.parse::<u8>().ok());
            if mode == 3 && phone::normalise(&number).trim_start_matches('+').is_empty() {
                return Outcome::Error(AtError::Cme(3));
            }
            m.with_sim(|s| {
                for r in &reasons {
                    let n = if number.is_empty() {
                        s.forwarding.get(r).cloned().unwrap_or_default()
                    } else {
                        number.clone()
                    };
                    if !n.is_empty() {
                        s.forwarding.insert(*r, n);
                    }
                }
                if let Some(t) = time {
                    s.no_reply_secs = t.clamp(5, 30);
                }
            });
            let line = m.line();
            m.network().state().log(format!(
                "line{line} call forwarding {reasons:?} to {number}"
            ));
            Outcome::Ok
        }
        0 | 4 => {
            m.with_sim(|s| {
                for r in &reasons {
                    s.forwarding.remove(r);
                }
            });
            Outcome::Ok
        }
        _ => Outcome::Error(AtError::Plain),
    }
}

/// `AT+CCWA=<n>[,<mode>[,<class>]]`: presentation, and enable/disable/query of the
/// subscription.
fn call_waiting(m: &mut Modem, args: &str) -> Outcome {
    let parts = split_args(args);
    let n = parts.first().and_then(|v| v.parse::<u8>().ok());
    let mode = parts.get(1).and_then(|v| v.parse::<u8>().ok());
    match n {
        Some(v @ 0..=1) => m.settings_mut().ccwa = v == 1,
        None if parts.first().is_some_and(String::is_empty) => {}
        _ => return Outcome::Error(AtError::Plain),
    }
    match mode {
        None => Outcome::Ok,
        Some(v @ 0..=1) => {
            m.with_sim(|s| s.call_waiting = v == 1);
            Outcome::Ok
        }
        Some(2) => {
            let on = m.sim().is_some_and(|s| s.call_waiting);
            m.info(&format!("+CCWA: {},1", u8::from(on)));
            Outcome::Ok
        }
        _ => Outcome::Error(AtError::Plain),
    }
}
