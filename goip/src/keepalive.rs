//! The registration / keepalive datagram of GOIP-INTERFACES §3.1.
//!
//! Servers in the field parse this packet *positionally* (the vendor's own `goipcron`
//! reads it with one `sscanf` up to `disable_status`), so every field is always sent, in
//! the fixed order, as `key:value;` — an unknown value is `key:;`, never a missing key.
//!
//! # Values never break the grammar
//!
//! The report grammar has no escaping (§2.2): a `;` inside a value would end the field
//! early and shift every later field for a positional parser. Values come from the
//! network (operator names), the SIM and the configuration, so each one goes through
//! [`sanitize`] before it is written:
//!
//! * `;` becomes `,` — the field stays readable (an operator name like `A;B` shows as
//!   `A,B`) and the packet stays parseable. Escaping is not an option: no server would
//!   undo it, and it would show up verbatim on the server's pages;
//! * ASCII control characters (CR, LF, NUL, tab, …) are removed: C servers stop at a NUL
//!   and line-oriented ones at a line feed;
//! * a value is cut to [`MAX_VALUE_BYTES`] bytes (on a UTF-8 character boundary), which
//!   is what the vendor's server stores of an id, password or number (§2.5), and which
//!   keeps the whole datagram far below the 3500-byte receive buffer of that server.
//!
//! `:` is left alone: positional parsers read up to the next `;`, and the `CELLINFO`
//! value itself contains `:`.

use std::fmt::Write as _;

/// The largest datagram a gateway may send (§2.5: `goipcron`'s `char buf[3500]`).
pub const MAX_DATAGRAM: usize = 3500;

/// The longest value written into a field, in bytes (§2.5: 64 bytes of an id,
/// password or number is what `goipcron` keeps).
pub const MAX_VALUE_BYTES: usize = 64;

/// The serving cell, as the keepalive's `CELLINFO` field shows it (`LAC:<hex>,CELL
/// ID:<hex>`, upper-case hex as in the captures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellInfo {
    /// Location area code.
    pub lac: u32,
    /// Cell identity.
    pub cell_id: u32,
}

/// The facts about one line that a keepalive carries, besides what the SMS-server
/// client owns itself (counter, id, password, `SMS_LOGIN`). The shell fills it from the
/// gateway's status snapshot; tests build it by hand.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineReport {
    /// `num`: the line's own number; empty when unknown.
    pub num: String,
    /// `signal`: CSQ 0–31 or 99; `None` when there is no reading (sent empty).
    pub signal: Option<u8>,
    /// `gsm_status`: `LOGIN` when registered on the GSM network.
    pub gsm_login: bool,
    /// `voip_status`: `LOGIN` when the line's SIP side is registered.
    pub voip_login: bool,
    /// `voip_state`: the line's call state in the STATE vocabulary of §4.4 (`IDLE`,
    /// `DIALING:<num>`, …); empty means `IDLE`.
    pub voip_state: String,
    /// `remain_time`: remaining talk-time limit in minutes; `None` = no limit (`-1`).
    pub remain_minutes: Option<u64>,
    /// `imei`: the module's IMEI; empty when unknown.
    pub imei: String,
    /// `imsi`: the SIM's IMSI; empty when there is no SIM.
    pub imsi: String,
    /// `iccid`: the SIM's ICCID; empty when unknown.
    pub iccid: String,
    /// `pro`: operator name as the module reports it; empty when not registered.
    pub operator: String,
    /// `idle`: minutes since the last call ended.
    pub idle_minutes: u64,
    /// `disable_status`: the line is administratively disabled (`1`).
    pub disabled: bool,
    /// `SMB_LOGIN`: SIM-bank login; `None` when no SIM bank is used (sent empty).
    pub smb_login: Option<bool>,
    /// `CELLINFO`: the serving cell; `None` when unknown (sent empty).
    pub cell: Option<CellInfo>,
    /// `CGATT`: packet-service attach.
    pub cgatt: bool,
}

/// One keepalive datagram: the client's own fields plus the line's [`LineReport`].
#[derive(Debug, Clone, Copy)]
pub struct Keepalive<'a> {
    /// `req`: the packet counter (1 at start, +1 per keepalive).
    pub count: u32,
    /// `id`: the line's SMS client id.
    pub id: &'a str,
    /// `pass`: the line's SMS-client password (the keepalive says `pass:`, reports
    /// say `password:`).
    pub password: &'a str,
    /// `SMS_LOGIN`: whether the line counts itself registered with the server (§3.3).
    pub sms_login: bool,
    /// Everything else.
    pub line: &'a LineReport,
}

impl Keepalive<'_> {
    /// The datagram, byte for byte as §3.1 prescribes: every field in order, ending in
    /// `;` with no newline, at most [`MAX_DATAGRAM`] bytes.
    pub fn encode(&self) -> Vec<u8> {
        let l = self.line;
        let mut out = String::with_capacity(512);
        let mut field = |key: &str, value: &str| {
            out.push_str(key);
            out.push(':');
            out.push_str(&sanitize(value));
            out.push(';');
        };
        field("req", &self.count.to_string());
        field("id", self.id);
        field("pass", self.password);
        field("num", &l.num);
        field(
            "signal",
            &l.signal.map(|s| s.to_string()).unwrap_or_default(),
        );
        field("gsm_status", login(l.gsm_login));
        field("voip_status", login(l.voip_login));
        field(
            "voip_state",
            if l.voip_state.is_empty() {
                "IDLE"
            } else {
                &l.voip_state
            },
        );
        field(
            "remain_time",
            &l.remain_minutes
                .map(|m| m.to_string())
                .unwrap_or_else(|| "-1".into()),
        );
        field("imei", &l.imei);
        field("imsi", &l.imsi);
        field("iccid", &l.iccid);
        field("pro", &l.operator);
        field("idle", &l.idle_minutes.to_string());
        field("disable_status", if l.disabled { "1" } else { "0" });
        field("SMS_LOGIN", yes_no(self.sms_login));
        field("SMB_LOGIN", l.smb_login.map(yes_no).unwrap_or(""));
        let mut cell = String::new();
        if let Some(c) = l.cell {
            let _ = write!(cell, "LAC:{:X},CELL ID:{:X}", c.lac, c.cell_id);
        }
        field("CELLINFO", &cell);
        field("CGATT", yes_no(l.cgatt));
        debug_assert!(out.len() <= MAX_DATAGRAM);
        out.into_bytes()
    }
}

fn login(on: bool) -> &'static str {
    if on {
        "LOGIN"
    } else {
        "LOGOUT"
    }
}

fn yes_no(on: bool) -> &'static str {
    if on {
        "Y"
    } else {
        "N"
    }
}

/// A value made safe for the report grammar (see the module docs): `;` becomes `,`,
/// control characters are dropped, and the result is at most [`MAX_VALUE_BYTES`] bytes.
pub fn sanitize(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(MAX_VALUE_BYTES));
    for c in value.chars() {
        let c = match c {
            ';' => ',',
            c if c.is_control() => continue,
            c => c,
        };
        if out.len() + c.len_utf8() > MAX_VALUE_BYTES {
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// §8.1, first vector: captured from a GoIP (NiceLabs notify_test.go).
    const CAPTURE_NL: &str = "req:3;id:goip-1;pass:goip;num:;signal:;gsm_status:LOGIN;voip_status:LOGOUT;voip_state:IDLE;remain_time:-1;imei:000000000000000;imsi:000000000000000;iccid:00000000000000000000;pro:CHINA UNICOM GSM;idle:1;disable_status:0;SMS_LOGIN:N;SMB_LOGIN:;CELLINFO:LAC:FFFF,CELL ID:FFFF;CGATT:Y;";

    /// §8.1, second vector (node-goip test/samples.js).
    const CAPTURE_NG: &str = "req:27;id:gateway_name;pass:gateway_password;num:;signal:29;gsm_status:LOGIN;voip_status:LOGOUT;voip_state:IDLE;remain_time:-1;imei:867495023958030;imsi:260060172091324;iccid:89480611000720913242;pro:POL;idle:11;disable_status:0;SMS_LOGIN:N;SMB_LOGIN:;CELLINFO:LAC:7E5,CELL ID:5E5B;CGATT:Y;";

    fn nl_line() -> LineReport {
        LineReport {
            num: String::new(),
            signal: None,
            gsm_login: true,
            voip_login: false,
            voip_state: "IDLE".into(),
            remain_minutes: None,
            imei: "000000000000000".into(),
            imsi: "000000000000000".into(),
            iccid: "00000000000000000000".into(),
            operator: "CHINA UNICOM GSM".into(),
            idle_minutes: 1,
            disabled: false,
            smb_login: None,
            cell: Some(CellInfo {
                lac: 0xFFFF,
                cell_id: 0xFFFF,
            }),
            cgatt: true,
        }
    }

    #[test]
    fn keepalive_matches_the_goip_capture_byte_for_byte_f_6_13_6() {
        let line = nl_line();
        let ka = Keepalive {
            count: 3,
            id: "goip-1",
            password: "goip",
            sms_login: false,
            line: &line,
        };
        assert_eq!(String::from_utf8(ka.encode()).unwrap(), CAPTURE_NL);
    }

    #[test]
    fn keepalive_matches_the_node_goip_sample_byte_for_byte() {
        let line = LineReport {
            num: String::new(),
            signal: Some(29),
            gsm_login: true,
            voip_login: false,
            voip_state: "IDLE".into(),
            remain_minutes: None,
            imei: "867495023958030".into(),
            imsi: "260060172091324".into(),
            iccid: "89480611000720913242".into(),
            operator: "POL".into(),
            idle_minutes: 11,
            disabled: false,
            smb_login: None,
            cell: Some(CellInfo {
                lac: 0x7E5,
                cell_id: 0x5E5B,
            }),
            cgatt: true,
        };
        let ka = Keepalive {
            count: 27,
            id: "gateway_name",
            password: "gateway_password",
            sms_login: false,
            line: &line,
        };
        assert_eq!(ka.encode(), CAPTURE_NG.as_bytes());
    }

    #[test]
    fn empty_line_sends_every_key_with_empty_values() {
        let line = LineReport::default();
        let ka = Keepalive {
            count: 1,
            id: "g1",
            password: "p",
            sms_login: true,
            line: &line,
        };
        assert_eq!(
            String::from_utf8(ka.encode()).unwrap(),
            "req:1;id:g1;pass:p;num:;signal:;gsm_status:LOGOUT;voip_status:LOGOUT;voip_state:IDLE;remain_time:-1;imei:;imsi:;iccid:;pro:;idle:0;disable_status:0;SMS_LOGIN:Y;SMB_LOGIN:;CELLINFO:;CGATT:N;"
        );
    }

    #[test]
    fn limits_disabled_and_sim_bank_are_written() {
        let line = LineReport {
            remain_minutes: Some(42),
            disabled: true,
            smb_login: Some(true),
            voip_login: true,
            ..LineReport::default()
        };
        let text = String::from_utf8(
            Keepalive {
                count: 9,
                id: "a",
                password: "b",
                sms_login: false,
                line: &line,
            }
            .encode(),
        )
        .unwrap();
        assert!(text.contains(";voip_status:LOGIN;"), "{text}");
        assert!(text.contains(";remain_time:42;"), "{text}");
        assert!(text.contains(";disable_status:1;"), "{text}");
        assert!(text.contains(";SMB_LOGIN:Y;"), "{text}");
    }

    #[test]
    fn a_semicolon_in_the_operator_name_cannot_shift_fields() {
        let line = LineReport {
            operator: "Evil;idle:999;x\r\n".into(),
            ..nl_line()
        };
        let text = String::from_utf8(
            Keepalive {
                count: 3,
                id: "goip-1",
                password: "goip",
                sms_login: false,
                line: &line,
            }
            .encode(),
        )
        .unwrap();
        assert!(text.contains(";pro:Evil,idle:999,x;idle:1;"), "{text}");
        assert_eq!(text.matches(';').count(), 19);
    }

    #[test]
    fn sanitize_cuts_on_a_character_boundary() {
        let long = "é".repeat(40); // 80 bytes
        let s = sanitize(&long);
        assert_eq!(s.len(), 64);
        assert_eq!(s.chars().count(), 32);
        assert_eq!(sanitize("a\0b\tc;d"), "abc,d");
    }

    proptest! {
        #[test]
        fn any_values_give_19_fields_within_the_size_limit(
            count in any::<u32>(),
            id in ".{0,200}",
            password in ".{0,200}",
            num in ".{0,200}",
            operator in ".{0,300}",
            state in ".{0,100}",
            imei in ".{0,100}",
            signal in proptest::option::of(any::<u8>()),
            remain in proptest::option::of(any::<u64>()),
            idle in any::<u64>(),
            lac in any::<u32>(),
            ci in any::<u32>(),
        ) {
            let line = LineReport {
                num,
                signal,
                voip_state: state,
                remain_minutes: remain,
                imei: imei.clone(),
                imsi: imei.clone(),
                iccid: imei,
                operator,
                idle_minutes: idle,
                cell: Some(CellInfo { lac, cell_id: ci }),
                ..LineReport::default()
            };
            let bytes = Keepalive { count, id: &id, password: &password, sms_login: true, line: &line }.encode();
            prop_assert!(bytes.len() <= MAX_DATAGRAM);
            let text = String::from_utf8(bytes).unwrap();
            prop_assert!(text.ends_with(';'));
            let keys: Vec<&str> = text
                .trim_end_matches(';')
                .split(';')
                .map(|f| f.split(':').next().unwrap_or(""))
                .collect();
            prop_assert_eq!(
                keys,
                vec![
                    "req", "id", "pass", "num", "signal", "gsm_status", "voip_status",
                    "voip_state", "remain_time", "imei", "imsi", "iccid", "pro", "idle",
                    "disable_status", "SMS_LOGIN", "SMB_LOGIN", "CELLINFO", "CGATT"
                ]
            );
        }
    }
}
