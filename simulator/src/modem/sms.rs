//! SMS commands (3GPP TS 27.005) in PDU and text mode, and what the modem does with a
//! message the SMSC offers (`+CMTI`, `+CMT`, `+CDS`, `+CDSI`, or refusal when the SIM is
//! full). Codec work is `cellgate-sms`'s.

use cellgate_sms::{
    decode_hex, decode_mo_tpdu_bytes, decode_mt_tpdu_bytes, encode_hex, encode_submit_tpdu,
    Address, MtPdu, SmscTimestamp, UserData,
};

use super::at_parser::{split_args, AtCommand, CommandForm};
use super::responses::AtError;
use super::ussd::{decode_cscs, encode_cscs};
use super::{Modem, Outcome, PromptFor};
use crate::sim_card::{SmsStatus, StoredSms};
use crate::smsc::{address_text, text_mode_submit, MtKind};

/// Runs an SMS command; `None` for commands of other groups.
pub fn execute(m: &mut Modem, cmd: &AtCommand) -> Option<Outcome> {
    let AtCommand::Extended { name, form } = cmd else {
        return None;
    };
    use CommandForm::{Exec, Read, Set, Test};
    let is_sms = matches!(
        name.as_str(),
        "+CSMS"
            | "+CMGF"
            | "+CSCA"
            | "+CSMP"
            | "+CSDH"
            | "+CPMS"
            | "+CNMI"
            | "+CNMA"
            | "+CMGS"
            | "+CMGW"
            | "+CMSS"
            | "+CMGR"
            | "+CMGL"
            | "+CMGD"
    );
    if !is_sms {
        return None;
    }
    // Settings work without a SIM; storage and sending need it.
    let needs_sim = matches!(
        (name.as_str(), form),
        ("+CSCA", _)
            | ("+CPMS", Set(_) | Read)
            | (
                "+CMGS" | "+CMGW" | "+CMSS" | "+CMGR" | "+CMGL" | "+CMGD",
                Set(_) | Exec
            )
    );
    if needs_sim {
        if let Err(e) = sms_ready(m) {
            return Some(Outcome::Error(AtError::Cms(e)));
        }
        if m.take_cms_busy() {
            return Some(Outcome::Error(AtError::Cms(314)));
        }
    }
    let out = match (name.as_str(), form) {
        ("+CSMS", Read) => info(m, "+CSMS: 0,1,1,1"),
        ("+CSMS", Set(a)) => match a.trim() {
            "0" | "1" => info(m, "+CSMS: 1,1,1"),
            _ => Outcome::Error(AtError::Plain),
        },
        ("+CSMS", Test) => info(m, "+CSMS: (0,1)"),
        ("+CMGF", Set(a)) => match a.trim() {
            "0" => set(m, |s| s.cmgf = 0),
            "1" => set(m, |s| s.cmgf = 1),
            _ => Outcome::Error(AtError::Plain),
        },
        ("+CMGF", Read) => {
            let v = m.settings().cmgf;
            info(m, &format!("+CMGF: {v}"))
        }
        ("+CMGF", Test) => info(m, "+CMGF: (0,1)"),
        ("+CSCA", Read) => {
            let smsc = m.sim().map(|s| s.smsc).unwrap_or_default();
            let ty = crate::phone::type_of_number(&smsc);
            let shown = encode_cscs(m, &smsc);
            info(m, &format!("+CSCA: \"{shown}\",{ty}"))
        }
        ("+CSCA", Set(a)) => {
            let parts = split_args(a);
            let raw = parts.first().cloned().unwrap_or_default();
            let number = decode_cscs(m, &raw).unwrap_or(raw);
            if crate::phone::normalise(&number)
                .trim_start_matches('+')
                .is_empty()
            {
                return Some(Outcome::Error(AtError::Plain));
            }
            m.with_sim(|s| s.smsc = number);
            Outcome::Ok
        }
        ("+CSCA", Test) => Outcome::Ok,
        ("+CSMP", Set(a)) => {
            let parts = split_args(a);
            let mut v = m.settings().csmp;
            for (i, p) in parts.iter().enumerate().take(4) {
                if p.is_empty() {
                    continue;
                }
                match p.parse::<u8>() {
                    Ok(n) => v[i] = n,
                    Err(_) => return Some(Outcome::Error(AtError::Plain)),
                }
            }
            set(m, |s| s.csmp = v)
        }
        ("+CSMP", Read) => {
            let [a, b, c, d] = m.settings().csmp;
            info(m, &format!("+CSMP: {a},{b},{c},{d}"))
        }
        ("+CSMP", Test) => Outcome::Ok,
        ("+CSDH", Set(a)) => match a.trim() {
            "0" => set(m, |s| s.csdh = false),
            "1" => set(m, |s| s.csdh = true),
            _ => Outcome::Error(AtError::Plain),
        },
        ("+CSDH", Read) => {
            let v = u8::from(m.settings().csdh);
            info(m, &format!("+CSDH: {v}"))
        }
        ("+CSDH", Test) => info(m, "+CSDH: (0,1)"),
        ("+CPMS", Set(a)) => {
            let parts = split_args(a);
            if parts.is_empty()
                || parts
                    .iter()
                    .any(|p| !["SM", "ME", "MT", "SR"].contains(&p.to_ascii_uppercase().as_str()))
            {
                return Some(Outcome::Error(AtError::Cms(302)));
            }
            let (u, t) = usage(m);
            let fields: Vec<String> = parts.iter().map(|_| format!("{u},{t}")).collect();
            let three = [0, 1, 2].map(|i| fields.get(i).cloned().unwrap_or(format!("{u},{t}")));
            info(m, &format!("+CPMS: {}", three.join(",")))
        }
        ("+CPMS", Read) => {
            let (u, t) = usage(m);
            info(
                m,
                &format!("+CPMS: \"SM\",{u},{t},\"SM\",{u},{t},\"SM\",{u},{t}"),
            )
        }
        ("+CPMS", Test) => info(m, "+CPMS: (\"SM\"),(\"SM\"),(\"SM\")"),
        ("+CNMI", Set(a)) => {
            let parts = split_args(a);
            let max = [3, 3, 3, 2, 1];
            let mut v = m.settings().cnmi;
            for (i, p) in parts.iter().enumerate() {
                if p.is_empty() {
                    continue;
                }
                match (p.parse::<u8>(), max.get(i)) {
                    (Ok(n), Some(mx)) if n <= *mx => v[i] = n,
                    _ => return Some(Outcome::Error(AtError::Plain)),
                }
            }
            m.settings_mut().cnmi = v;
            if m.sms_ready() {
                m.network().smsc_retry(m.line());
            }
            Outcome::Ok
        }
        ("+CNMI", Read) => {
            let [a, b, c, d, e] = m.settings().cnmi;
            info(m, &format!("+CNMI: {a},{b},{c},{d},{e}"))
        }
        ("+CNMI", Test) => info(m, "+CNMI: (0-3),(0-3),(0,2),(0-2),(0,1)"),
        ("+CNMA", Exec | Set(_)) => Outcome::Ok,
        ("+CNMA", Test) => info(m, "+CNMA: (0-2)"),
        ("+CMGS", Set(a)) => send_prompt(m, a, true),
        ("+CMGW", Set(a)) => send_prompt(m, a, false),
        ("+CMGW", Exec) => {
            if m.settings().cmgf == 1 {
                Outcome::Prompt(PromptFor::WriteText(String::new()))
            } else {
                Outcome::Error(AtError::Cms(304))
            }
        }
        ("+CMSS", Set(a)) => send_stored(m, a),
        ("+CMGR", Set(a)) => read(m, a),
        ("+CMGL", Exec) => list(
            m,
            if m.settings().cmgf == 1 {
                "\"REC UNREAD\""
            } else {
                "0"
            },
        ),
        ("+CMGL", Set(a)) => list(m, a),
        ("+CMGL", Test) => {
            if m.settings().cmgf == 1 {
                info(
                    m,
                    "+CMGL: (\"REC UNREAD\",\"REC READ\",\"STO UNSENT\",\"STO SENT\",\"ALL\")",
                )
            } else {
                info(m, "+CMGL: (0-4)")
            }
        }
        ("+CMGD", Set(a)) => delete(m, a),
        ("+CMGD", Test) => {
            let idx: Vec<String> = m
                .sim()
                .map(|s| s.messages.keys().map(ToString::to_string).collect())
                .unwrap_or_default();
            info(m, &format!("+CMGD: ({}),(0-4)", idx.join(",")))
        }
        ("+CMGS" | "+CMGW" | "+CMSS" | "+CMGR", Test) => Outcome::Ok,
        _ => Outcome::Error(AtError::Plain),
    };
    Some(out)
}

fn info(m: &mut Modem, text: &str) -> Outcome {
    m.info(text);
    Outcome::Ok
}

fn set(m: &mut Modem, f: impl FnOnce(&mut super::Settings)) -> Outcome {
    f(m.settings_mut());
    Outcome::Ok
}

/// CMS error when SMS cannot be used now: 310 no SIM, 311 PIN, 316 PUK, 313 SIM
/// failure, 314 still initialising.
fn sms_ready(m: &Modem) -> Result<(), u16> {
    match m.ready_sim() {
        Err(10) => return Err(310),
        Err(11) => return Err(311),
        Err(12) => return Err(316),
        Err(_) => return Err(313),
        Ok(_) => {}
    }
    if m.sms_ready() {
        Ok(())
    } else {
        Err(314)
    }
}

fn usage(m: &Modem) -> (usize, usize) {
    m.sim()
        .map(|s| (s.messages.len(), s.sms_capacity))
        .unwrap_or((0, 0))
}

fn send_prompt(m: &mut Modem, args: &str, send: bool) -> Outcome {
    let parts = split_args(args);
    if m.settings().cmgf == 1 {
        let Some(raw) = parts.first() else {
            return Outcome::Error(AtError::Cms(305));
        };
        let da = decode_cscs(m, raw).unwrap_or_else(|| raw.clone());
        if crate::phone::normalise(&da)
            .trim_start_matches('+')
            .is_empty()
        {
            return Outcome::Error(AtError::Cms(305));
        }
        Outcome::Prompt(if send {
            PromptFor::SendText(da)
        } else {
            PromptFor::WriteText(da)
        })
    } else {
        let len = parts.first().and_then(|v| v.parse::<usize>().ok());
        let Some(len @ 7..=164) = len else {
            return Outcome::Error(AtError::Cms(304));
        };
        if send {
            Outcome::Prompt(PromptFor::SendPdu(len))
        } else {
            let stat = parts.get(1).and_then(|v| v.parse::<u8>().ok()).unwrap_or(2);
            Outcome::Prompt(PromptFor::WritePdu(len, stat))
        }
    }
}

/// The TPDU of a `> ` PDU body (hex, SMSC part first), checked against `<len>`.
fn body_tpdu(body: &[u8], len: usize) -> Result<Vec<u8>, u16> {
    let hex: String = String::from_utf8_lossy(body)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let bytes = decode_hex(&hex).map_err(|_| 304u16)?;
    let sca = usize::from(*bytes.first().ok_or(304u16)?);
    let tpdu = bytes.get(1 + sca..).ok_or(304u16)?;
    if tpdu.len() != len {
        return Err(304);
    }
    Ok(tpdu.to_vec())
}

/// The message body after `> ` arrived (ended by SUB).
pub(crate) fn on_body(m: &mut Modem, prompt: PromptFor, body: &[u8]) -> Outcome {
    let tpdu = match &prompt {
        PromptFor::SendPdu(len) | PromptFor::WritePdu(len, _) => match body_tpdu(body, *len) {
            Ok(t) => t,
            Err(e) => return Outcome::Error(AtError::Cms(e)),
        },
        PromptFor::SendText(da) | PromptFor::WriteText(da) => {
            let raw = String::from_utf8_lossy(body).into_owned();
            let text = decode_cscs(m, &raw).unwrap_or(raw);
            let [fo, vp, _pid, dcs] = m.settings().csmp;
            match encode_submit_tpdu(&text_mode_submit(da, &text, fo, vp, dcs)) {
                Ok(t) => t,
                Err(_) => return Outcome::Error(AtError::Cms(305)),
            }
        }
    };
    match prompt {
        PromptFor::SendPdu(_) | PromptFor::SendText(_) => submit(m, &tpdu),
        PromptFor::WritePdu(_, stat) => write(m, tpdu, SmsStatus::from_code(stat)),
        PromptFor::WriteText(_) => write(m, tpdu, Some(SmsStatus::StoredUnsent)),
    }
}

fn submit(m: &mut Modem, tpdu: &[u8]) -> Outcome {
    if let Some(cms) = m.take_sms_failure() {
        let line = m.line();
        m.network()
            .state()
            .log(format!("line{line} SMS send failed (fault, CMS {cms})"));
        return Outcome::Error(AtError::Cms(cms));
    }
    if m.reg_stat() != 1 && m.reg_stat() != 5 {
        return Outcome::Error(AtError::Cms(331));
    }
    match m.network().modem_submit(m.line(), tpdu) {
        Ok(mr) => {
            m.info(&format!("+CMGS: {mr}"));
            Outcome::Ok
        }
        Err(cms) => Outcome::Error(AtError::Cms(cms)),
    }
}

fn write(m: &mut Modem, tpdu: Vec<u8>, status: Option<SmsStatus>) -> Outcome {
    let Some(status) = status else {
        return Outcome::Error(AtError::Cms(304));
    };
    match m.with_sim(|s| s.store(StoredSms { status, tpdu })) {
        Some(Some(idx)) => {
            m.info(&format!("+CMGW: {idx}"));
            Outcome::Ok
        }
        Some(None) => Outcome::Error(AtError::Cms(322)),
        None => Outcome::Error(AtError::Cms(310)),
    }
}

fn send_stored(m: &mut Modem, args: &str) -> Outcome {
    let parts = split_args(args);
    let Some(idx) = parts.first().and_then(|v| v.parse::<usize>().ok()) else {
        return Outcome::Error(AtError::Plain);
    };
    let Some(stored) = m.sim().and_then(|s| s.messages.get(&idx).cloned()) else {
        return Outcome::Error(AtError::Cms(321));
    };
    let mut tpdu = stored.tpdu;
    if let Some(da) = parts.get(1).filter(|d| !d.is_empty()) {
        let Ok(mut s) = decode_mo_tpdu_bytes(&tpdu) else {
            return Outcome::Error(AtError::Cms(304));
        };
        s.destination = Address::parse(da);
        match encode_submit_tpdu(&s) {
            Ok(t) => tpdu = t,
            Err(_) => return Outcome::Error(AtError::Cms(304)),
        }
    }
    if decode_mo_tpdu_bytes(&tpdu).is_err() {
        return Outcome::Error(AtError::Cms(302));
    }
    let out = submit(m, &tpdu);
    if out == Outcome::Ok {
        m.with_sim(|s| {
            if let Some(msg) = s.messages.get_mut(&idx) {
                msg.status = SmsStatus::StoredSent;
            }
        });
    }
    out
}

/// The SMSC address prefix of a PDU line (`07` `91` digits...).
fn smsc_prefix(smsc: &str) -> String {
    let digits: Vec<u8> = smsc.bytes().filter(u8::is_ascii_digit).collect();
    if digits.is_empty() {
        return "00".into();
    }
    let ty = if smsc.trim_start().starts_with('+') {
        0x91
    } else {
        0x81
    };
    let mut out = vec![(1 + digits.len().div_ceil(2)) as u8, ty];
    for pair in digits.chunks(2) {
        let lo = pair[0] - b'0';
        let hi = pair.get(1).map_or(0xF, |d| d - b'0');
        out.push((hi << 4) | lo);
    }
    encode_hex(&out)
}

fn pdu_line(m: &Modem, tpdu: &[u8]) -> String {
    let smsc = m.sim().map(|s| s.smsc).unwrap_or_default();
    format!("{}{}", smsc_prefix(&smsc), encode_hex(tpdu))
}

/// `yy/MM/dd,hh:mm:ss±zz`.
fn ts_text(t: &SmscTimestamp) -> String {
    let sign = if t.tz_quarters < 0 { '-' } else { '+' };
    format!(
        "{:02}/{:02}/{:02},{:02}:{:02}:{:02}{sign}{:02}",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.tz_quarters.unsigned_abs()
    )
}

fn ud_text(m: &Modem, ud: &UserData) -> String {
    match ud {
        UserData::Text(t) => encode_cscs(m, t),
        UserData::Binary(b) => encode_hex(b),
    }
}

/// Text-mode header and body of a stored message.
fn text_form(m: &Modem, msg: &StoredSms) -> Option<(String, String)> {
    let stat = msg.status.text();
    if matches!(
        msg.status,
        SmsStatus::ReceivedRead | SmsStatus::ReceivedUnread
    ) {
        match decode_mt_tpdu_bytes(&msg.tpdu).ok()? {
            MtPdu::Deliver(d) => {
                let oa = encode_cscs(m, &address_text(&d.originator));
                Some((
                    format!("\"{stat}\",\"{oa}\",,\"{}\"", ts_text(&d.timestamp)),
                    ud_text(m, &d.user_data),
                ))
            }
            MtPdu::StatusReport(r) => Some((
                format!(
                    "{},{},\"{}\",,\"{}\",\"{}\",{}",
                    6,
                    r.reference,
                    address_text(&r.recipient),
                    ts_text(&r.scts),
                    ts_text(&r.discharge_time),
                    r.status
                ),
                String::new(),
            )),
            MtPdu::SubmitReport(_) => None,
        }
    } else {
        let s = decode_mo_tpdu_bytes(&msg.tpdu).ok()?;
        let da = encode_cscs(m, &address_text(&s.destination));
        Some((format!("\"{stat}\",\"{da}\","), ud_text(m, &s.user_data)))
    }
}

fn read(m: &mut Modem, args: &str) -> Outcome {
    let Some(idx) = split_args(args)
        .first()
        .and_then(|v| v.parse::<usize>().ok())
    else {
        return Outcome::Error(AtError::Plain);
    };
    let Some(msg) = m.sim().and_then(|s| s.messages.get(&idx).cloned()) else {
        return Outcome::Error(AtError::Cms(321));
    };
    if m.settings().cmgf == 1 {
        match text_form(m, &msg) {
            Some((head, body)) => {
                m.info(&format!("+CMGR: {head}"));
                m.raw_line(&body);
            }
            None => return Outcome::Error(AtError::Cms(303)),
        }
    } else {
        let pdu = pdu_line(m, &msg.tpdu);
        m.info(&format!("+CMGR: {},,{}", msg.status.code(), msg.tpdu.len()));
        m.raw_line(&pdu);
    }
    mark_read(m, &[idx]);
    Outcome::Ok
}

fn mark_read(m: &Modem, idx: &[usize]) {
    m.with_sim(|s| {
        for i in idx {
            if let Some(msg) = s.messages.get_mut(i) {
                if msg.status == SmsStatus::ReceivedUnread {
                    msg.status = SmsStatus::ReceivedRead;
                }
            }
        }
    });
}

fn list(m: &mut Modem, args: &str) -> Outcome {
    let arg = split_args(args).first().cloned().unwrap_or_default();
    let text_mode = m.settings().cmgf == 1;
    // `None` = all.
    let wanted: Option<SmsStatus> = if text_mode {
        if arg.eq_ignore_ascii_case("ALL") {
            None
        } else {
            match SmsStatus::from_text(&arg) {
                Some(s) => Some(s),
                None => return Outcome::Error(AtError::Plain),
            }
        }
    } else {
        match arg.parse::<u8>() {
            Ok(4) => None,
            Ok(c) => match SmsStatus::from_code(c) {
                Some(s) => Some(s),
                None => return Outcome::Error(AtError::Plain),
            },
            Err(_) => return Outcome::Error(AtError::Plain),
        }
    };
    let messages = m.sim().map(|s| s.messages).unwrap_or_default();
    let mut shown = Vec::new();
    for (idx, msg) in messages {
        if wanted.is_some_and(|w| w != msg.status) {
            continue;
        }
        if text_mode {
            if let Some((head, body)) = text_form(m, &msg) {
                m.info(&format!("+CMGL: {idx},{head}"));
                m.raw_line(&body);
            }
        } else {
            let pdu = pdu_line(m, &msg.tpdu);
            m.info(&format!(
                "+CMGL: {idx},{},,{}",
                msg.status.code(),
                msg.tpdu.len()
            ));
            m.raw_line(&pdu);
        }
        shown.push(idx);
    }
    mark_read(m, &shown);
    Outcome::Ok
}

fn delete(m: &mut Modem, args: &str) -> Outcome {
    let parts = split_args(args);
    let idx = parts.first().and_then(|v| v.parse::<usize>().ok());
    let flag = parts.get(1).map_or(Some(0), |v| v.parse::<u8>().ok());
    let (Some(idx), Some(flag @ 0..=4)) = (idx, flag) else {
        return Outcome::Error(AtError::Plain);
    };
    let capacity = m.sim().map_or(0, |s| s.sms_capacity);
    if flag == 0 && (idx == 0 || idx > capacity) {
        return Outcome::Error(AtError::Cms(321));
    }
    m.with_sim(|s| {
        s.messages.retain(|i, msg| {
            let gone = match flag {
                0 => *i == idx,
                1 => msg.status == SmsStatus::ReceivedRead,
                2 => matches!(msg.status, SmsStatus::ReceivedRead | SmsStatus::StoredSent),
                3 => msg.status != SmsStatus::ReceivedUnread,
                _ => true,
            };
            !gone
        });
    });
    // Room again: the SMSC retries what it kept.
    m.network().smsc_retry(m.line());
    Outcome::Ok
}

/// The SMSC offers message `id`: store it (`+CMTI`/`+CDSI`), show it (`+CMT`/`+CDS`),
/// or refuse it (not ready, SIM full).
pub(crate) fn on_offer(m: &mut Modem, id: u64) {
    let Some((tpdu, kind)) = m.network().smsc_take(id) else {
        return;
    };
    if !m.sms_ready() {
        m.network().smsc_result(id, false, "module not ready");
        return;
    }
    let [_, mt, _, ds, _] = m.settings().cnmi;
    let text_mode = m.settings().cmgf == 1;
    let direct = match kind {
        MtKind::Deliver => mt == 2 || mt == 3,
        MtKind::StatusReport => ds == 1,
    };
    if direct {
        let line = match kind {
            MtKind::Deliver if text_mode => {
                let msg = StoredSms {
                    status: SmsStatus::ReceivedUnread,
                    tpdu: tpdu.clone(),
                };
                match text_form(m, &msg) {
                    Some((head, body)) => {
                        // `"REC UNREAD","<oa>",,"<scts>"` -> `"<oa>",,"<scts>"`.
                        let head = head
                            .split_once(',')
                            .map_or(head.clone(), |(_, h)| h.to_owned());
                        m.urc(&format!("+CMT: {head}"));
                        body
                    }
                    None => return m.network().smsc_result(id, false, "undecodable"),
                }
            }
            MtKind::Deliver => {
                m.urc(&format!("+CMT: ,{}", tpdu.len()));
                pdu_line(m, &tpdu)
            }
            MtKind::StatusReport => {
                m.urc(&format!("+CDS: {}", tpdu.len()));
                pdu_line(m, &tpdu)
            }
        };
        m.raw_line(&line);
        m.network().smsc_result(id, true, "shown directly");
        return;
    }
    if kind == MtKind::StatusReport && ds == 0 {
        m.network().smsc_result(id, true, "report not wanted");
        return;
    }
    let stored = m.with_sim(|s| {
        s.store(StoredSms {
            status: SmsStatus::ReceivedUnread,
            tpdu,
        })
    });
    match stored.flatten() {
        Some(idx) => {
            let notify = match kind {
                MtKind::Deliver => (mt == 1).then(|| format!("+CMTI: \"SM\",{idx}")),
                MtKind::StatusReport => Some(format!("+CDSI: \"SM\",{idx}")),
            };
            if let Some(u) = notify {
                m.urc(&u);
            }
            m.network()
                .smsc_result(id, true, &format!("stored at SM {idx}"));
        }
        // A full SIM takes nothing and says nothing: no `+CMTI`.
        None => m.network().smsc_result(id, false, "SIM memory full"),
    }
}
