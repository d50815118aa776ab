//! Recognising the server's answer to a keepalive (GOIP-INTERFACES §3.3).
//!
//! Servers disagree on the ack: `reg:` (the vendor) or `req:` (node-goip and its ports),
//! status `200`, `0`, `-1`, `404`, `304` or none, extra fields, a trailing LF, CR, spaces,
//! tabs or the two characters `\n`. The gateway is liberal: anything that starts with
//! `re[gq]:<digits>`, in any case, is an ack for that count, whatever follows.
//!
//! The parser works on raw bytes, never allocates per byte, and never panics: every
//! datagram that reaches a line's socket goes through it first.

/// What the server said about the keepalive it acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckStatus {
    /// `status:0`, `status:200`, or no parseable status: the server knows this line.
    Ok,
    /// Any other status (`-1`, `404`, `304`, …): the server refused the id or password.
    Refused(i64),
}

/// A keepalive ack: which keepalive it answers and what the server said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepaliveAck {
    /// The `req` count the server echoes.
    pub count: u64,
    /// The server's verdict.
    pub status: AckStatus,
}

/// Parses `data` as a keepalive ack; `None` when it is not one (another kind of
/// datagram, garbage, or a count too large to be one of ours).
pub fn parse_ack(data: &[u8]) -> Option<KeepaliveAck> {
    let rest = strip_prefix_ignore_case(data, b"reg:")
        .or_else(|| strip_prefix_ignore_case(data, b"req:"))?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let count = parse_u64(&rest[..digits])?;
    let status = rest[digits..]
        .split(|&b| b == b';')
        .skip(1)
        .find_map(status_value)
        .map(classify)
        .unwrap_or(AckStatus::Ok);
    Some(KeepaliveAck { count, status })
}

fn strip_prefix_ignore_case<'a>(data: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    if data.len() >= prefix.len() && data[..prefix.len()].eq_ignore_ascii_case(prefix) {
        Some(&data[prefix.len()..])
    } else {
        None
    }
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// The value of a `status:` field (key in any case, blanks around it ignored).
fn status_value(field: &[u8]) -> Option<&[u8]> {
    let field = trim(field);
    let value = strip_prefix_ignore_case(field, b"status")?;
    let value = trim(value);
    let value = value.strip_prefix(b":")?;
    Some(trim(value))
}

/// `0` and `200` are ok; another integer is a refusal; anything unparseable is ok (§3.3:
/// "or with no parseable status").
fn classify(value: &[u8]) -> AckStatus {
    let (negative, digits) = match value.strip_prefix(b"-") {
        Some(d) => (true, d),
        None => (false, value),
    };
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if len == 0 {
        return AckStatus::Ok;
    }
    let Some(n) = parse_u64(&digits[..len]).and_then(|n| i64::try_from(n).ok()) else {
        return AckStatus::Ok;
    };
    let n = if negative { -n } else { n };
    match n {
        0 | 200 => AckStatus::Ok,
        n => AckStatus::Refused(n),
    }
}

/// Removes blanks, CR, LF and a literal backslash-`n` pair (§2.3) from both ends.
fn trim(mut s: &[u8]) -> &[u8] {
    loop {
        let before = s.len();
        s = s.trim_ascii();
        if let Some(rest) = s.strip_suffix(b"\\n") {
            s = rest;
        }
        if s.len() == before {
            return s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ack(s: &str) -> Option<KeepaliveAck> {
        parse_ack(s.as_bytes())
    }

    fn ok(count: u64) -> Option<KeepaliveAck> {
        Some(KeepaliveAck {
            count,
            status: AckStatus::Ok,
        })
    }

    fn refused(count: u64, code: i64) -> Option<KeepaliveAck> {
        Some(KeepaliveAck {
            count,
            status: AckStatus::Refused(code),
        })
    }

    /// Every ack of the §8.1 table.
    #[test]
    fn accepts_every_ack_of_the_spec_table_f_6_13_6() {
        assert_eq!(ack("reg:10;status:200;"), ok(10));
        assert_eq!(ack("reg:10;status:0;"), ok(10));
        assert_eq!(ack("reg:100;status:0;"), ok(100));
        assert_eq!(ack("reg:100;status:-1;"), refused(100, -1));
        assert_eq!(ack("req:123;status:200;"), ok(123));
        assert_eq!(ack("reg:7;status:200;v:1;"), ok(7));
        assert_eq!(ack("reg:7;status:404;"), refused(7, 404));
        assert_eq!(ack("reg:7;status:304;"), refused(7, 304));
    }

    #[test]
    fn terminators_case_and_missing_status() {
        assert_eq!(ack("reg:5;status:200;\n"), ok(5));
        assert_eq!(ack("reg:5;status:200;\r\n"), ok(5));
        assert_eq!(ack("reg:5;status:200 \t\n"), ok(5));
        assert_eq!(ack("reg:5;status:404\\n"), refused(5, 404));
        assert_eq!(ack("reg:5;status:200;\\n"), ok(5));
        assert_eq!(ack("REG:5;STATUS:404;"), refused(5, 404));
        assert_eq!(ack("Req:5;Status : -1 ;"), refused(5, -1));
        assert_eq!(ack("reg:5"), ok(5));
        assert_eq!(ack("reg:5\n"), ok(5));
        assert_eq!(ack("reg:5;"), ok(5));
        assert_eq!(ack("reg:5;status:;"), ok(5));
        assert_eq!(ack("reg:5;status:fine;"), ok(5));
        assert_eq!(ack("reg:5;v:1;status:404;"), refused(5, 404));
        assert_eq!(ack("reg:0005;status:0"), ok(5));
    }

    #[test]
    fn other_datagrams_are_not_acks() {
        assert_eq!(ack(""), None);
        assert_eq!(ack("reg:"), None);
        assert_eq!(ack("reg:;status:200;"), None);
        assert_eq!(ack("reg:x1;status:200;"), None);
        assert_eq!(ack(" reg:1;"), None);
        assert_eq!(ack("RECEIVE 1270197307 OK"), None);
        assert_eq!(ack("MSG 11 4 test"), None);
        assert_eq!(ack("get_gsm_num 1 pw"), None);
        assert_eq!(ack("re"), None);
        // A count no keepalive of ours can have.
        assert_eq!(ack("reg:99999999999999999999999;status:200;"), None);
    }

    #[test]
    fn huge_status_values_do_not_overflow() {
        assert_eq!(ack("reg:1;status:99999999999999999999999;"), ok(1));
        assert_eq!(
            ack("reg:1;status:-9223372036854775807;"),
            refused(1, -9223372036854775807)
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_garbage(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_ack(&data);
        }

        #[test]
        fn never_panics_on_near_acks(tail in proptest::collection::vec(any::<u8>(), 0..100), n in any::<u32>()) {
            let mut data = format!("ReG:{n}").into_bytes();
            data.extend_from_slice(&tail);
            let parsed = parse_ack(&data);
            if !tail.first().is_some_and(u8::is_ascii_digit) {
                prop_assert_eq!(parsed.map(|a| a.count), Some(u64::from(n)));
            }
        }

        #[test]
        fn any_count_and_status_round_trip(n in any::<u32>(), status in any::<i32>()) {
            let parsed = parse_ack(format!("reg:{n};status:{status};\n").as_bytes());
            let expected = match status { 0 | 200 => AckStatus::Ok, s => AckStatus::Refused(i64::from(s)) };
            prop_assert_eq!(parsed, Some(KeepaliveAck { count: u64::from(n), status: expected }));
        }
    }
}
