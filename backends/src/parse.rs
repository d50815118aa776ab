//! Parsers of standard 3GPP TS 27.007 answer lines into HAL types.
//!
//! Shared by every profile (M35 now, UC15 and generic later). Every parser returns
//! `None` for a line it cannot read; callers log and carry on, nothing here panics.

use cellgate_hal::{
    AccessTech, CallDirection, CallIndex, CallInfo, CallStatus, ForwardReason, Operator,
    Registration, RegistrationState, SignalQuality, SimState, SmsFilter, SmsIndex, UssdResponse,
    UssdStatus,
};

/// One comma-separated field of an answer line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The text, without surrounding quotes.
    pub text: String,
    /// Whether it was quoted.
    pub quoted: bool,
}

impl Field {
    /// The field as an unsigned number, if it is one.
    pub fn num<T: std::str::FromStr>(&self) -> Option<T> {
        self.text.trim().parse().ok()
    }
}

/// Split the value part of an answer (after `+XXX:`) at commas outside quotes.
pub fn split_fields(value: &str) -> Vec<Field> {
    let mut raw = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    for (i, c) in value.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                raw.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    raw.push(&value[start..]);
    raw.into_iter()
        .map(|r| {
            let t = r.trim();
            match t.strip_prefix('"') {
                Some(inner) => Field {
                    text: inner.strip_suffix('"').unwrap_or(inner).to_string(),
                    quoted: true,
                },
                None => Field {
                    text: t.to_string(),
                    quoted: false,
                },
            }
        })
        .collect()
}

/// The value after `prefix` (case-insensitive), trimmed; `None` if the line lacks it.
pub fn strip_prefix<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let head = line.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| line[prefix.len()..].trim())
}

/// `+CPIN: <code>` value -> SIM state.
pub fn parse_cpin(value: &str) -> Option<SimState> {
    let v = value.trim().trim_matches('"').to_ascii_uppercase();
    Some(match v.as_str() {
        "READY" => SimState::Ready,
        "SIM PIN" | "PH-SIM PIN" | "PH-NET PIN" => SimState::PinRequired,
        "SIM PUK" | "PH-SIM PUK" | "PH-NET PUK" => SimState::PukRequired,
        "SIM PIN2" => SimState::Pin2Required,
        "SIM PUK2" => SimState::Puk2Required,
        "NOT INSERTED" | "SIM NOT INSERTED" => SimState::NotInserted,
        "NOT READY" | "SIM BUSY" => SimState::NotReady,
        "SIM ERROR" | "SIM FAILURE" | "SIM BLOCKED" | "BLOCKED" => SimState::Failure,
        _ => return None,
    })
}

fn reg_state(n: u8) -> Option<RegistrationState> {
    Some(match n {
        0 => RegistrationState::NotRegistered,
        1 => RegistrationState::Home,
        2 => RegistrationState::Searching,
        3 => RegistrationState::Denied,
        4 => RegistrationState::Unknown,
        5 => RegistrationState::Roaming,
        _ => return None,
    })
}

fn hex_field(f: Option<&Field>) -> Option<u32> {
    let f = f?;
    let t = f.text.trim();
    if t.is_empty() {
        return None;
    }
    u32::from_str_radix(t, 16).ok()
}

/// `+CREG:` value in read form (`<n>,<stat>[,"<lac>","<ci>"[,<AcT>]]`) or URC form
/// (`<stat>[,"<lac>","<ci>"[,<AcT>]]`); the form is told apart by whether the second
/// field is quoted (a lac) or a bare number (the stat after `<n>`).
pub fn parse_creg(value: &str) -> Option<Registration> {
    let fields = split_fields(value);
    let read_form = fields
        .get(1)
        .is_some_and(|f| !f.quoted && f.num::<u8>().is_some());
    let rest = if read_form { &fields[1..] } else { &fields[..] };
    let state = reg_state(rest.first()?.num()?)?;
    let lac = hex_field(rest.get(1));
    let cell_id = hex_field(rest.get(2));
    let tech = rest
        .get(3)
        .and_then(|f| f.num::<u8>())
        .and_then(|a| match a {
            0 | 1 | 3 => Some(AccessTech::Gsm),
            2 | 4..=7 => Some(AccessTech::Utran),
            _ => None,
        });
    Some(Registration {
        state,
        lac,
        cell_id,
        tech,
    })
}

/// `+CGREG:` value in read form (`<n>,<stat>[,...]`) or URC form (`<stat>[,...]`) ->
/// whether the module is registered on the packet-switched network (`<stat>` 1 home or
/// 5 roaming; 3GPP TS 27.007 §10.1.20). Other `<stat>` values (0 not registered, 2
/// searching, 3 denied, 4 unknown, 6.. SMS-only and emergency forms) are "not
/// registered"; `None` when the stat is not a number.
pub fn parse_cgreg(value: &str) -> Option<bool> {
    let fields = split_fields(value);
    let read_form = fields
        .get(1)
        .is_some_and(|f| !f.quoted && f.num::<u8>().is_some());
    let stat = if read_form {
        fields.get(1)
    } else {
        fields.first()
    };
    let stat: u8 = stat?.num()?;
    Some(matches!(stat, 1 | 5))
}

/// `+CGATT: <state>` value -> attached (1) or detached (0) (3GPP TS 27.007 §10.1.9).
pub fn parse_cgatt(value: &str) -> Option<bool> {
    match split_fields(value).first()?.num::<u8>()? {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// `+CLCK: <status>[,<class>]` value -> lock on (1) or off (0) (27.007 §7.4).
pub fn parse_clck(value: &str) -> Option<bool> {
    match split_fields(value).first()?.num::<u8>()? {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// PIN2 tries left from an M35 `+QTRPIN: <pin1>,<pin2>,<puk1>,<puk2>` value.
pub fn parse_qtrpin_pin2(value: &str) -> Option<u8> {
    let f = split_fields(value);
    if f.len() < 4 {
        return None;
    }
    f.get(1)?.num()
}

/// PIN2 tries left from a UC15 `+QPINC: "P2",<pin2>,<puk2>` value (`None` for another
/// facility's row).
pub fn parse_qpinc_pin2(value: &str) -> Option<u8> {
    let f = split_fields(value);
    if !f.first()?.text.eq_ignore_ascii_case("P2") {
        return None;
    }
    f.get(1)?.num()
}

/// `+CSQ: <rssi>,<ber>` value.
pub fn parse_csq(value: &str) -> Option<SignalQuality> {
    let f = split_fields(value);
    Some(SignalQuality {
        rssi: f.first()?.num()?,
        ber: f.get(1)?.num()?,
    })
}

/// `+COPS: <mode>[,<format>,"<oper>"[,<AcT>]]` value; `Ok(None)` when not registered.
pub fn parse_cops(value: &str) -> Option<Option<Operator>> {
    let f = split_fields(value);
    f.first()?.num::<u8>()?;
    let (Some(format), Some(oper)) = (f.get(1).and_then(|x| x.num::<u8>()), f.get(2)) else {
        return Some(None);
    };
    if oper.text.is_empty() {
        return Some(None);
    }
    Some(Some(if format == 2 {
        Operator {
            name: oper.text.clone(),
            numeric: Some(oper.text.clone()),
        }
    } else {
        Operator {
            name: oper.text.clone(),
            numeric: None,
        }
    }))
}

/// `+CLCC:` row value: `<id>,<dir>,<stat>,<mode>,<mpty>[,"<num>",<type>[,"<alpha>"]]`
/// (tolerates the M35's trailing alpha field).
pub fn parse_clcc(value: &str) -> Option<CallInfo> {
    let f = split_fields(value);
    let index: CallIndex = f.first()?.num()?;
    let direction = match f.get(1)?.num::<u8>()? {
        0 => CallDirection::MobileOriginated,
        1 => CallDirection::MobileTerminated,
        _ => return None,
    };
    let status = match f.get(2)?.num::<u8>()? {
        0 => CallStatus::Active,
        1 => CallStatus::Held,
        2 => CallStatus::Dialing,
        3 => CallStatus::Alerting,
        4 => CallStatus::Incoming,
        5 => CallStatus::Waiting,
        _ => return None,
    };
    let multiparty = f.get(4)?.num::<u8>()? == 1;
    let number = f.get(5).map(|x| x.text.clone()).unwrap_or_default();
    Some(CallInfo {
        index,
        direction,
        status,
        number,
        multiparty,
    })
}

/// `+CLIP: "<num>",<type>,...` value -> caller number, `None` when empty (withheld).
pub fn parse_clip(value: &str) -> Option<String> {
    let f = split_fields(value);
    let n = f.first()?.text.trim().to_string();
    (!n.is_empty()).then_some(n)
}

/// `+CNUM: ["<alpha>"],"<number>",<type>` value -> the number.
pub fn parse_cnum(value: &str) -> Option<String> {
    let f = split_fields(value);
    let n = f.get(1)?.text.trim().to_string();
    (!n.is_empty()).then_some(n)
}

/// `+CEER: <cause>[,"<text>"]` value -> the 24.008 cause number.
pub fn parse_ceer(value: &str) -> Option<u8> {
    split_fields(value).first()?.num()
}

/// `+CMTI: "<mem>",<index>` value -> storage index.
pub fn parse_cmti(value: &str) -> Option<SmsIndex> {
    split_fields(value).get(1)?.num()
}

/// An identity answer line with an optional `+XXX:` prefix and quotes removed
/// (`+QCCID: 8986...`, `+CCID: "8986..."`, bare `8986...`).
pub fn bare_value(line: &str, prefixes: &[&str]) -> String {
    let v = prefixes
        .iter()
        .find_map(|p| strip_prefix(line, p))
        .unwrap_or(line);
    v.trim().trim_matches('"').trim().to_string()
}

/// PDU-mode storage status number (`0` unread .. `4` all) -> [`SmsFilter`].
pub fn sms_status(n: u8) -> Option<SmsFilter> {
    Some(match n {
        0 => SmsFilter::Unread,
        1 => SmsFilter::Read,
        2 => SmsFilter::Unsent,
        3 => SmsFilter::Sent,
        4 => SmsFilter::All,
        _ => return None,
    })
}

/// [`SmsFilter`] -> PDU-mode `<stat>` number for `AT+CMGL`.
pub fn sms_status_number(f: SmsFilter) -> u8 {
    match f {
        SmsFilter::Unread => 0,
        SmsFilter::Read => 1,
        SmsFilter::Unsent => 2,
        SmsFilter::Sent => 3,
        SmsFilter::All => 4,
    }
}

/// `+CMGL: <index>,<stat>,[<alpha>],<length>` value -> index and status.
pub fn parse_cmgl_header(value: &str) -> Option<(SmsIndex, SmsFilter)> {
    let f = split_fields(value);
    Some((f.first()?.num()?, sms_status(f.get(1)?.num()?)?))
}

/// `+CMGR: <stat>,[<alpha>],<length>` value -> status.
pub fn parse_cmgr_header(value: &str) -> Option<SmsFilter> {
    sms_status(split_fields(value).first()?.num()?)
}

/// Whether a line is a hex PDU (even number of hex digits, not empty).
pub fn is_hex_pdu(s: &str) -> bool {
    !s.is_empty() && s.len().is_multiple_of(2) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether a 3GPP TS 23.038 data coding scheme announces UCS2 text.
pub fn dcs_is_ucs2(dcs: u8) -> bool {
    match dcs >> 4 {
        // General data coding: bits 3..2 give the alphabet, 10 = UCS2.
        0x4..=0x7 => (dcs >> 2) & 0x03 == 0x02,
        // Language-indicated UCS2.
        0x1 => dcs == 0x11,
        // Message class coding with UCS2 (group 1001).
        0x9 => (dcs >> 2) & 0x03 == 0x02,
        _ => false,
    }
}

/// Decode a hex string of UTF-16 big-endian code units (`AT+CSCS="UCS2"` text).
pub fn decode_ucs2_hex(hex: &str) -> Option<String> {
    if hex.is_empty() || !hex.len().is_multiple_of(4) || !hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let units: Vec<u16> = (0..hex.len())
        .step_by(4)
        .map(|i| u16::from_str_radix(hex.get(i..i + 4)?, 16).ok())
        .collect::<Option<_>>()?;
    String::from_utf16(&units).ok()
}

/// Encode text as UCS2 hex (for `AT+CSCS="UCS2"`).
pub fn encode_ucs2_hex(text: &str) -> String {
    text.encode_utf16().map(|u| format!("{u:04X}")).collect()
}

/// Text of a `+CUSD` string. With `AT+CSCS="UCS2"` (`ucs2_charset`) the string is always
/// UCS2 hex. With `"GSM"` the module normally converts to plain text, but some firmware
/// (M35) passes a UCS2-coded answer through as hex: when the dcs says UCS2 and the whole
/// string is hex digits in groups of four, it is decoded as UCS2.
pub fn decode_ussd_text(text: &str, dcs: Option<u8>, ucs2_charset: bool) -> String {
    if ucs2_charset || dcs.is_some_and(dcs_is_ucs2) {
        if let Some(t) = decode_ucs2_hex(text) {
            return t;
        }
    }
    text.to_string()
}

/// `+CUSD: <m>[,"<str>"[,<dcs>]]` value.
pub fn parse_cusd(value: &str, ucs2_charset: bool) -> Option<UssdResponse> {
    let f = split_fields(value);
    let status = match f.first()?.num::<u8>()? {
        0 => UssdStatus::Done,
        1 => UssdStatus::FurtherActionRequired,
        2 => UssdStatus::Terminated,
        3 => UssdStatus::OtherClient,
        4 => UssdStatus::NotSupported,
        5 => UssdStatus::Timeout,
        _ => return None,
    };
    let dcs = f.get(2).and_then(|d| d.num::<u8>());
    let text = f
        .get(1)
        .map(|t| decode_ussd_text(&t.text, dcs, ucs2_charset));
    Some(UssdResponse { status, text, dcs })
}

/// [`ForwardReason`] -> `AT+CCFC` reason number.
pub fn forward_reason_number(r: ForwardReason) -> u8 {
    match r {
        ForwardReason::Unconditional => 0,
        ForwardReason::Busy => 1,
        ForwardReason::NoReply => 2,
        ForwardReason::NotReachable => 3,
        ForwardReason::All => 4,
        ForwardReason::AllConditional => 5,
    }
}

/// One `+CCFC: <status>,<class>[,"<number>",<type>[,,,<time>]]` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcfcRow {
    /// Active.
    pub active: bool,
    /// Bearer class bitmap (1 = voice).
    pub class: u8,
    /// Forwarding target.
    pub number: Option<String>,
    /// No-reply time in seconds.
    pub time: Option<u8>,
}

/// `+CCFC:` row value.
pub fn parse_ccfc(value: &str) -> Option<CcfcRow> {
    let f = split_fields(value);
    let active = f.first()?.num::<u8>()? == 1;
    let class = f.get(1).and_then(|c| c.num()).unwrap_or(0);
    let number = f
        .get(2)
        .map(|n| n.text.trim().to_string())
        .filter(|n| !n.is_empty());
    // 27.007: <status>,<class>,<number>,<type>,<subaddr>,<satype>,<time>; some firmware
    // puts one more empty field before the time.
    let time = f
        .get(6)
        .and_then(|t| t.num())
        .or_else(|| f.get(7).and_then(|t| t.num()));
    Some(CcfcRow {
        active,
        class,
        number,
        time,
    })
}

/// Whether `imei` is 15 digits whose last digit is the Luhn check digit of the first 14.
pub fn imei_is_valid(imei: &str) -> bool {
    if imei.len() != 15 || !imei.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = imei
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let d2 = d * 2;
                d2 / 10 + d2 % 10
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_quotes_and_commas() {
        let f = split_fields(r#"1,"a,b", 3 ,"",x"#);
        let texts: Vec<&str> = f.iter().map(|x| x.text.as_str()).collect();
        assert_eq!(texts, vec!["1", "a,b", "3", "", "x"]);
        assert!(f[1].quoted && f[3].quoted && !f[0].quoted);
    }

    #[test]
    fn creg_both_forms() {
        let full = Registration {
            state: RegistrationState::Home,
            lac: Some(0x1a2b),
            cell_id: Some(0xc4),
            tech: None,
        };
        assert_eq!(parse_creg(r#"2,1,"1A2B","00C4""#), Some(full.clone()));
        assert_eq!(parse_creg(r#"1,"1A2B","00C4""#), Some(full.clone()));
        assert_eq!(
            parse_creg(r#"2,5,"1A2B","00C4",2"#).map(|r| (r.state, r.tech)),
            Some((RegistrationState::Roaming, Some(AccessTech::Utran)))
        );
        assert_eq!(
            parse_creg("0,2").map(|r| r.state),
            Some(RegistrationState::Searching)
        );
        assert_eq!(
            parse_creg("3").map(|r| r.state),
            Some(RegistrationState::Denied)
        );
        assert_eq!(parse_creg("x"), None);
        assert_eq!(parse_creg("2,9"), None);
    }

    #[test]
    fn gprs_registration_and_attach() {
        assert_eq!(parse_cgreg("0,1"), Some(true));
        assert_eq!(parse_cgreg("2,5,\"1A2B\",\"00C4\""), Some(true));
        assert_eq!(parse_cgreg("0,0"), Some(false));
        assert_eq!(parse_cgreg("0,2"), Some(false));
        assert_eq!(parse_cgreg("1"), Some(true));
        assert_eq!(parse_cgreg("3"), Some(false));
        assert_eq!(parse_cgreg("5,\"1A2B\",\"00C4\""), Some(true));
        assert_eq!(parse_cgreg("x"), None);
        assert_eq!(parse_cgreg(""), None);
        assert_eq!(parse_cgatt("1"), Some(true));
        assert_eq!(parse_cgatt(" 0"), Some(false));
        assert_eq!(parse_cgatt("2"), None);
        assert_eq!(parse_cgatt(""), None);
    }

    #[test]
    fn clcc_rows() {
        let row = parse_clcc(r#"1,0,3,0,0,"+4917012",145,"""#);
        assert_eq!(
            row,
            Some(CallInfo {
                index: 1,
                direction: CallDirection::MobileOriginated,
                status: CallStatus::Alerting,
                number: "+4917012".into(),
                multiparty: false
            })
        );
        assert_eq!(
            parse_clcc("2,1,4,0,1").map(|c| (c.number, c.multiparty)),
            Some((String::new(), true))
        );
        assert_eq!(parse_clcc("2,1,9,0,0"), None);
        assert_eq!(parse_clcc(""), None);
    }

    #[test]
    fn misc_answers() {
        assert_eq!(parse_cpin("READY"), Some(SimState::Ready));
        assert_eq!(parse_cpin("SIM PIN"), Some(SimState::PinRequired));
        assert_eq!(parse_cpin("SIM PIN2"), Some(SimState::Pin2Required));
        assert_eq!(parse_cpin(" \"SIM PUK2\""), Some(SimState::Puk2Required));
        assert_eq!(parse_cpin("what"), None);
        assert_eq!(parse_clck("1"), Some(true));
        assert_eq!(parse_clck("0,7"), Some(false));
        assert_eq!(parse_clck("x"), None);
        assert_eq!(parse_qtrpin_pin2("3,2,10,10"), Some(2));
        assert_eq!(parse_qtrpin_pin2("3,2"), None);
        assert_eq!(parse_qpinc_pin2("\"P2\",1,10"), Some(1));
        assert_eq!(parse_qpinc_pin2("\"SC\",3,10"), None);
        assert_eq!(
            parse_csq("17,99"),
            Some(SignalQuality { rssi: 17, ber: 99 })
        );
        assert_eq!(parse_csq("17"), None);
        assert_eq!(
            parse_cops(r#"0,0,"Vodafone.de""#),
            Some(Some(Operator {
                name: "Vodafone.de".into(),
                numeric: None
            }))
        );
        assert_eq!(parse_cops("0"), Some(None));
        assert_eq!(parse_cops("x"), None);
        assert_eq!(
            parse_clip(r#""0301234",129,"",,"",0"#),
            Some("0301234".into())
        );
        assert_eq!(parse_clip(r#""",128,"",,"",1"#), None);
        assert_eq!(parse_cnum(r#""","+4917012",145"#), Some("+4917012".into()));
        assert_eq!(parse_ceer(r#"17,"User busy""#), Some(17));
        assert_eq!(parse_ceer(r#""Normal""#), None);
        assert_eq!(parse_cmti(r#""SM",3"#), Some(3));
        assert_eq!(
            bare_value("+QCCID: 89860012", &["+QCCID:", "+CCID:"]),
            "89860012"
        );
        assert_eq!(
            bare_value(r#"+CCID: "89860012""#, &["+QCCID:", "+CCID:"]),
            "89860012"
        );
        assert_eq!(bare_value("89860012", &["+QCCID:", "+CCID:"]), "89860012");
    }

    #[test]
    fn sms_headers() {
        assert_eq!(parse_cmgl_header("3,0,,24"), Some((3, SmsFilter::Unread)));
        assert_eq!(
            parse_cmgl_header("12,1,\"x\",24"),
            Some((12, SmsFilter::Read))
        );
        assert_eq!(parse_cmgl_header("a,1,,2"), None);
        assert_eq!(parse_cmgr_header("1,,24"), Some(SmsFilter::Read));
        assert_eq!(parse_cmgr_header("9,,24"), None);
        assert!(is_hex_pdu("0011AAbb"));
        assert!(!is_hex_pdu("0011AAb"));
        assert!(!is_hex_pdu("OK"));
    }

    #[test]
    fn ussd_answers() {
        assert_eq!(
            parse_cusd("0,\"Balance: 5 EUR\",15", false),
            Some(UssdResponse {
                status: UssdStatus::Done,
                text: Some("Balance: 5 EUR".into()),
                dcs: Some(15)
            })
        );
        assert_eq!(
            parse_cusd("1,\"00480069\",72", false).and_then(|r| r.text),
            Some("Hi".into())
        );
        assert_eq!(
            parse_cusd("0,\"00480069\",15", true).and_then(|r| r.text),
            Some("Hi".into())
        );
        // GSM charset and a GSM dcs: hex-looking text stays as it is.
        assert_eq!(
            parse_cusd("0,\"1234\",15", false).and_then(|r| r.text),
            Some("1234".into())
        );
        assert_eq!(
            parse_cusd("4", false).map(|r| (r.status, r.text)),
            Some((UssdStatus::NotSupported, None))
        );
        assert_eq!(parse_cusd("9", false), None);
        assert_eq!(encode_ucs2_hex("*1€"), "002A003120AC");
        assert_eq!(decode_ucs2_hex("D83DDE00"), Some("\u{1F600}".into()));
        assert_eq!(decode_ucs2_hex("D83D"), None);
    }

    #[test]
    fn ccfc_rows() {
        // 27.007 places <time> after <subaddr>,<satype>; an extra empty field is tolerated.
        for row in ["1,1,\"+4930123\",145,,,20", "1,1,\"+4930123\",145,,,,20"] {
            assert_eq!(
                parse_ccfc(row),
                Some(CcfcRow {
                    active: true,
                    class: 1,
                    number: Some("+4930123".into()),
                    time: Some(20)
                }),
                "{row}"
            );
        }
        assert_eq!(
            parse_ccfc("0,7"),
            Some(CcfcRow {
                active: false,
                class: 7,
                number: None,
                time: None
            })
        );
    }

    #[test]
    fn imei_luhn() {
        assert!(imei_is_valid("490154203237518"));
        assert!(!imei_is_valid("490154203237519"));
        assert!(!imei_is_valid("49015420323751"));
        assert!(!imei_is_valid("49015420323751a"));
    }
}
