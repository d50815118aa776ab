//! Group peer protocol, version 1 (Appendix D, F-D.6): lines of other cellgate instances
//! join the hunt group of a server instance. Sans-IO: the codec of one report datagram
//! and the server's table of remote members; sockets and timers belong to the engine.
//!
//! A report is one UDP datagram of JSON sent to the server's SIP address:
//!
//! ```text
//! {"v":1,"device":"shop-2","sent":1773136800,
//!  "lines":[{"number":"+8613800000009","idle":true}],"mac":"<64 hex digits>"}
//! ```
//!
//! `mac` is HMAC-SHA256 with the shared secret over the canonical string
//! `cellgate-group|1|<device>|<sent>|<number>:<1|0>,<number>:<1|0>,...` (lines in report
//! order, `1` = idle; no line: nothing after the last `|`). Device ids are 1 to 64 of
//! `A-Z a-z 0-9 . _ -` and numbers `+` and digits, so the string is unambiguous. The
//! full specification is in `docs/gsm-management.md`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::forwarding::is_phone_number;

/// The protocol version this module speaks.
pub const VERSION: u64 = 1;
/// Most lines one report may carry.
pub const MAX_LINES: usize = 64;
/// Largest datagram accepted (a full report is far smaller).
pub const MAX_DATAGRAM: usize = 8192;
/// Most seconds `sent` may differ from the receiver's clock.
pub const MAX_SKEW_SECS: i64 = 60;
/// How long a device's last report counts after it arrived.
pub const REPORT_LIFETIME: Duration = Duration::from_secs(30);
/// How often a member sends its report when nothing changes.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(10);
/// Longest device id.
pub const MAX_DEVICE_LEN: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// Why a report datagram is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// More than [`MAX_DATAGRAM`] bytes.
    #[error("group report of {0} bytes is too large")]
    TooLarge(usize),
    /// Not JSON of the report's shape.
    #[error("group report is malformed: {0}")]
    Malformed(String),
    /// A version other than [`VERSION`].
    #[error("group report version {0} is not supported (only 1)")]
    Version(u64),
    /// A device id that is empty, too long or has characters outside `A-Za-z0-9._-`.
    #[error("group report: bad device id {0:?}")]
    BadDevice(String),
    /// More than [`MAX_LINES`] lines.
    #[error("group report has {0} lines (at most 64)")]
    TooManyLines(usize),
    /// A number that is not `+` and digits.
    #[error("group report: `{0}` is not a phone number")]
    BadNumber(String),
    /// The MAC does not match (wrong secret or altered report).
    #[error("group report: bad MAC")]
    BadMac,
    /// `sent` is more than [`MAX_SKEW_SECS`] from the receiver's clock.
    #[error("group report sent at {sent} is stale at {now} (more than 60 s apart)")]
    Stale {
        /// Unix seconds in the report.
        sent: i64,
        /// Unix seconds of the receiver.
        now: i64,
    },
}

/// One line of a member device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerLine {
    /// The SIM number of the line (`+` and digits).
    pub number: String,
    /// Whether the line can take a forwarded call now.
    pub idle: bool,
}

/// A member device's report of its group lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The member device's id (1 to 64 of `A-Za-z0-9._-`).
    pub device: String,
    /// Unix seconds when it was sent.
    pub sent: i64,
    /// The device's group lines, in its order.
    pub lines: Vec<PeerLine>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    v: u64,
    device: String,
    sent: i64,
    lines: Vec<PeerLine>,
    mac: String,
}

#[derive(Deserialize)]
struct VersionOnly {
    v: u64,
}

/// Whether `device` is a valid device id.
pub fn is_device_id(device: &str) -> bool {
    !device.is_empty()
        && device.len() <= MAX_DEVICE_LEN
        && device
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let pairs = text.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None;
    }
    pairs
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

impl Report {
    /// The string the MAC covers (see the module documentation).
    pub fn canonical(&self) -> String {
        let lines: Vec<String> = self
            .lines
            .iter()
            .map(|l| format!("{}:{}", l.number, u8::from(l.idle)))
            .collect();
        format!(
            "cellgate-group|{VERSION}|{}|{}|{}",
            self.device,
            self.sent,
            lines.join(",")
        )
    }

    fn mac(&self, secret: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length: this cannot fail.
        let mut mac = match HmacSha256::new_from_slice(secret) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts any key length"),
        };
        mac.update(self.canonical().as_bytes());
        mac
    }

    /// The datagram carrying this report, signed with `secret`.
    pub fn encode(&self, secret: &[u8]) -> Vec<u8> {
        let tag = hex(&self.mac(secret).finalize().into_bytes());
        let wire = Wire {
            v: VERSION,
            device: self.device.clone(),
            sent: self.sent,
            lines: self.lines.clone(),
            mac: tag,
        };
        serde_json::to_vec(&wire).unwrap_or_default()
    }

    /// Reads and checks a datagram: shape, version, device id, line count and numbers,
    /// MAC (in constant time) and `sent` against `now_unix`. Never panics.
    pub fn decode(bytes: &[u8], secret: &[u8], now_unix: i64) -> Result<Report, PeerError> {
        if bytes.len() > MAX_DATAGRAM {
            return Err(PeerError::TooLarge(bytes.len()));
        }
        let version: VersionOnly =
            serde_json::from_slice(bytes).map_err(|e| PeerError::Malformed(e.to_string()))?;
        if version.v != VERSION {
            return Err(PeerError::Version(version.v));
        }
        let wire: Wire =
            serde_json::from_slice(bytes).map_err(|e| PeerError::Malformed(e.to_string()))?;
        if !is_device_id(&wire.device) {
            return Err(PeerError::BadDevice(wire.device));
        }
        if wire.lines.len() > MAX_LINES {
            return Err(PeerError::TooManyLines(wire.lines.len()));
        }
        if let Some(bad) = wire.lines.iter().find(|l| !is_phone_number(&l.number)) {
            return Err(PeerError::BadNumber(bad.number.clone()));
        }
        let report = Report {
            device: wire.device,
            sent: wire.sent,
            lines: wire.lines,
        };
        let tag = unhex(&wire.mac).ok_or(PeerError::BadMac)?;
        report
            .mac(secret)
            .verify_slice(&tag)
            .map_err(|_| PeerError::BadMac)?;
        if report.sent.abs_diff(now_unix) > MAX_SKEW_SECS.unsigned_abs() {
            return Err(PeerError::Stale {
                sent: report.sent,
                now: now_unix,
            });
        }
        Ok(report)
    }
}

/// The server's view of remote members: each device's last report, counting for
/// [`REPORT_LIFETIME`] after it arrived.
#[derive(Debug, Clone, Default)]
pub struct RemoteMembers {
    devices: BTreeMap<String, (Instant, Report)>,
}

impl RemoteMembers {
    /// No device known.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `report`, arrived at `now`, in place of the device's previous one. A report
    /// sent before the stored one (reordered datagram) is ignored: `false`.
    pub fn insert(&mut self, now: Instant, report: Report) -> bool {
        if let Some((_, old)) = self.devices.get(&report.device) {
            if report.sent < old.sent {
                return false;
            }
        }
        self.devices.insert(report.device.clone(), (now, report));
        true
    }

    /// Drops reports older than [`REPORT_LIFETIME`] at `now`; `true` when any went.
    pub fn expire(&mut self, now: Instant) -> bool {
        let before = self.devices.len();
        self.devices
            .retain(|_, (at, _)| now.saturating_duration_since(*at) < REPORT_LIFETIME);
        self.devices.len() != before
    }

    /// When the oldest report expires.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.devices
            .values()
            .map(|(at, _)| *at + REPORT_LIFETIME)
            .min()
    }

    /// The idle remote numbers counting at `now`, by device id then report order, each
    /// number once.
    pub fn idle_numbers(&self, now: Instant) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let live = self
            .devices
            .values()
            .filter(|(at, _)| now.saturating_duration_since(*at) < REPORT_LIFETIME);
        for (_, report) in live {
            for line in report.lines.iter().filter(|l| l.idle) {
                if !out.contains(&line.number) {
                    out.push(line.number.clone());
                }
            }
        }
        out
    }

    /// Devices with a report counting at `now`.
    pub fn devices(&self, now: Instant) -> Vec<&str> {
        self.devices
            .iter()
            .filter(|(_, (at, _))| now.saturating_duration_since(*at) < REPORT_LIFETIME)
            .map(|(d, _)| d.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"0123456789abcdef-shared";
    const NOW: i64 = 1_773_136_800;

    fn report() -> Report {
        Report {
            device: "shop-2".into(),
            sent: NOW,
            lines: vec![
                PeerLine {
                    number: "+8613800000009".into(),
                    idle: true,
                },
                PeerLine {
                    number: "13800000010".into(),
                    idle: false,
                },
            ],
        }
    }

    fn resign(value: &serde_json::Value, secret: &[u8]) -> Vec<u8> {
        // Re-encodes a hand-edited object with a MAC over its canonical string.
        let r = Report {
            device: value["device"].as_str().unwrap_or_default().into(),
            sent: value["sent"].as_i64().unwrap_or_default(),
            lines: serde_json::from_value(value["lines"].clone()).unwrap_or_default(),
        };
        let mut v = value.clone();
        let good: serde_json::Value = serde_json::from_slice(&r.encode(secret)).unwrap();
        v["mac"] = good["mac"].clone();
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn f_d_6_round_trip() {
        let r = report();
        let bytes = r.encode(SECRET);
        assert_eq!(bytes[0], b'{');
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("{\"v\":1,\"device\":\"shop-2\""), "{text}");
        assert_eq!(Report::decode(&bytes, SECRET, NOW + 59), Ok(r.clone()));
        assert_eq!(
            r.canonical(),
            "cellgate-group|1|shop-2|1773136800|+8613800000009:1,13800000010:0"
        );
        let empty = Report { lines: vec![], ..r };
        assert_eq!(
            Report::decode(&empty.encode(SECRET), SECRET, NOW),
            Ok(empty)
        );
    }

    #[test]
    fn f_d_6_bad_mac_and_stale_refused() {
        let bytes = report().encode(SECRET);
        assert_eq!(
            Report::decode(&bytes, b"another-secret-16", NOW),
            Err(PeerError::BadMac)
        );
        // An altered line state with the old MAC.
        let text = String::from_utf8(bytes.clone()).unwrap();
        let altered = text.replacen("\"idle\":false", "\"idle\":true", 1);
        assert_eq!(
            Report::decode(altered.as_bytes(), SECRET, NOW),
            Err(PeerError::BadMac)
        );
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        v["mac"] = "zz".into();
        let b = serde_json::to_vec(&v).unwrap();
        assert_eq!(Report::decode(&b, SECRET, NOW), Err(PeerError::BadMac));
        assert_eq!(
            Report::decode(&bytes, SECRET, NOW + 61),
            Err(PeerError::Stale {
                sent: NOW,
                now: NOW + 61
            })
        );
        assert!(matches!(
            Report::decode(&bytes, SECRET, NOW - 61),
            Err(PeerError::Stale { .. })
        ));
    }

    #[test]
    fn f_d_6_malformed_and_oversized_refused() {
        let good: serde_json::Value = serde_json::from_slice(&report().encode(SECRET)).unwrap();
        assert!(matches!(
            Report::decode(b"{not json", SECRET, NOW),
            Err(PeerError::Malformed(_))
        ));
        assert!(matches!(
            Report::decode(b"{\"v\":1}", SECRET, NOW),
            Err(PeerError::Malformed(_))
        ));
        let mut v = good.clone();
        v["v"] = 2.into();
        assert_eq!(
            Report::decode(&serde_json::to_vec(&v).unwrap(), SECRET, NOW),
            Err(PeerError::Version(2))
        );
        let mut v = good.clone();
        v["extra"] = 1.into();
        assert!(matches!(
            Report::decode(&serde_json::to_vec(&v).unwrap(), SECRET, NOW),
            Err(PeerError::Malformed(_))
        ));
        let mut v = good.clone();
        v["lines"][0]["number"] = "+86 138".into();
        assert_eq!(
            Report::decode(&resign(&v, SECRET), SECRET, NOW),
            Err(PeerError::BadNumber("+86 138".into()))
        );
        let mut v = good.clone();
        v["device"] = "a|b".into();
        assert_eq!(
            Report::decode(&resign(&v, SECRET), SECRET, NOW),
            Err(PeerError::BadDevice("a|b".into()))
        );
        let mut v = good.clone();
        let lines: Vec<serde_json::Value> = (0..65)
            .map(|i| serde_json::json!({"number": format!("+86138{i:08}"), "idle": true}))
            .collect();
        v["lines"] = lines.into();
        assert_eq!(
            Report::decode(&resign(&v, SECRET), SECRET, NOW),
            Err(PeerError::TooManyLines(65))
        );
        let mut v = good;
        let lines: Vec<serde_json::Value> = (0..64)
            .map(|i| serde_json::json!({"number": format!("+86138{i:08}"), "idle": true}))
            .collect();
        v["lines"] = lines.into();
        assert_eq!(
            Report::decode(&resign(&v, SECRET), SECRET, NOW).map(|r| r.lines.len()),
            Ok(64)
        );
        let big = vec![b' '; MAX_DATAGRAM + 1];
        assert_eq!(
            Report::decode(&big, SECRET, NOW),
            Err(PeerError::TooLarge(MAX_DATAGRAM + 1))
        );
    }

    #[test]
    fn f_d_6_remote_members_expire_and_keep_a_stable_order() {
        let t0 = Instant::now();
        let mut m = RemoteMembers::new();
        let b = |device: &str, sent: i64, lines: &[(&str, bool)]| Report {
            device: device.into(),
            sent,
            lines: lines
                .iter()
                .map(|(n, idle)| PeerLine {
                    number: (*n).into(),
                    idle: *idle,
                })
                .collect(),
        };
        assert!(m.insert(t0, b("z-dev", NOW, &[("+2", true), ("+1", true)])));
        assert!(m.insert(
            t0 + Duration::from_secs(10),
            b("a-dev", NOW, &[("+3", false), ("+4", true)])
        ));
        assert_eq!(
            m.idle_numbers(t0 + Duration::from_secs(10)),
            vec!["+4", "+2", "+1"],
            "device id, then report order; busy lines left out"
        );
        assert_eq!(m.next_expiry(), Some(t0 + REPORT_LIFETIME));
        // A reordered, older report is ignored.
        assert!(!m.insert(t0, b("z-dev", NOW - 1, &[])));
        // z-dev expires 30 s after its report arrived.
        let t30 = t0 + REPORT_LIFETIME;
        assert_eq!(m.idle_numbers(t30), vec!["+4"]);
        assert_eq!(m.devices(t30), vec!["a-dev"]);
        assert!(m.expire(t30));
        assert!(!m.expire(t30));
        assert_eq!(m.next_expiry(), Some(t0 + Duration::from_secs(40)));
        // A fresh report replaces the old one.
        assert!(m.insert(t30, b("a-dev", NOW + 30, &[("+3", true)])));
        assert_eq!(m.idle_numbers(t30), vec!["+3"]);
        assert!(m.expire(t30 + REPORT_LIFETIME));
        assert!(m.idle_numbers(t30 + REPORT_LIFETIME).is_empty());
    }

    proptest! {
        #[test]
        fn f_d_6_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600),
                                     now in any::<i64>()) {
            let _ = Report::decode(&bytes, SECRET, now);
            let mut b = bytes;
            b.insert(0, b'{');
            let _ = Report::decode(&b, SECRET, now);
        }

        #[test]
        fn f_d_6_decode_never_panics_on_near_reports(
            device in "[ -~]{0,70}", sent in any::<i64>(), now in any::<i64>(),
            numbers in proptest::collection::vec("[+0-9a]{0,22}", 0..70), mac in "[0-9a-g]{0,70}")
        {
            let v = serde_json::json!({
                "v": 1, "device": device, "sent": sent,
                "lines": numbers.iter().map(|n| serde_json::json!({"number": n, "idle": true})).collect::<Vec<_>>(),
                "mac": mac,
            });
            let bytes = serde_json::to_vec(&v).unwrap();
            let _ = Report::decode(&bytes, SECRET, now);
            let _ = Report::decode(&resign(&v, SECRET), SECRET, now);
        }
    }
}
