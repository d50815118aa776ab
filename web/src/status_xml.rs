//! `status.xml`: the per-line status document GoIP monitoring scripts poll
//! (GOIP-INTERFACES §7.6), and the device identity of `type=base`.
//!
//! Element names and order follow the firmware's document, so exporters written against
//! a GoIP read cellgate unchanged; the values are plain (no colour markup) in well-formed
//! UTF-8 XML, one element per text line.

use std::fmt::Write as _;

use cellgate_engine::gateway::LineStatus;
use cellgate_engine::management::StatusSnapshot;

use crate::text::{format_unix, xml_escape};

/// Facts the document needs besides the snapshot.
pub struct XmlContext<'a> {
    /// SMS-server login per line: `None` when the function is off for it (F-5.2.1.8).
    pub sms_login: &'a dyn Fn(u16) -> Option<bool>,
    /// Offset for the `rct` time stamps.
    pub utc_offset: time::UtcOffset,
}

/// The per-line document.
pub fn lines_document(snapshot: &StatusSnapshot, ctx: &XmlContext<'_>) -> String {
    let mut out = String::with_capacity(64 + snapshot.lines.len() * 768);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<status>\n");
    for line in &snapshot.lines {
        for (field, value) in line_fields(line, ctx) {
            let n = line.line;
            if value.is_empty() {
                let _ = writeln!(out, "<l{n}_{field}/>");
            } else {
                let _ = write!(out, "<l{n}_{field}>");
                escape_into(&mut out, &value);
                let _ = writeln!(out, "</l{n}_{field}>");
            }
        }
    }
    out.push_str("</status>\n");
    out
}

/// The `type=base` document: serial number, version and model, in that order.
pub fn base_document(snapshot: &StatusSnapshot) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<status>\n");
    let serial = snapshot.gateway.serial.clone().unwrap_or_default();
    element(&mut out, "sn", &serial);
    element(
        &mut out,
        "version",
        &version_token(&snapshot.gateway.version),
    );
    element(
        &mut out,
        "model",
        &format!("cellgate{}", snapshot.lines.len()),
    );
    element(
        &mut out,
        "uptime",
        &snapshot.gateway.uptime_seconds.to_string(),
    );
    element(
        &mut out,
        "time",
        snapshot.gateway.local_time.as_deref().unwrap_or(""),
    );
    out.push_str("</status>\n");
    out
}

/// `cellgate 0.1.0` → `cellgate-0.1.0`: scripts match the version with `[\w-.]+`.
fn version_token(version: &str) -> String {
    version.split_whitespace().collect::<Vec<_>>().join("-")
}

/// `<name>value</name>`, or `<name/>` when empty, on its own line.
fn element(out: &mut String, name: &str, value: &str) {
    if value.is_empty() {
        let _ = writeln!(out, "<{name}/>");
    } else {
        let _ = write!(out, "<{name}>");
        escape_into(out, value);
        let _ = writeln!(out, "</{name}>");
    }
}

/// Appends `value` escaped; most values need no escaping and are copied as they are.
fn escape_into(out: &mut String, value: &str) {
    if value
        .bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'') || b < 0x20 || b == 0x7f)
    {
        out.push_str(&xml_escape(value));
    } else {
        out.push_str(value);
    }
}

/// Whether the status-page SIM text means a usable SIM.
pub fn sim_present(sim: &str) -> bool {
    matches!(sim, "Y" | "PIN2" | "PUK2")
}

/// `NO LIMIT`, or the remaining amount: how the pages and `status.xml` show a quota
/// (F-5.2.1.18, F-5.2.1.19).
pub(crate) fn limit_text<T: ToString>(remaining: Option<T>) -> String {
    remaining.map_or_else(|| "NO LIMIT".to_owned(), |r| r.to_string())
}

/// The BCCH a line is held on: shown only in fixed or rotation mode (F-5.2.1.16).
pub(crate) fn held_bcch(l: &LineStatus) -> String {
    l.bcch
        .filter(|_| l.bcch_mode != "auto")
        .map(|b| b.to_string())
        .unwrap_or_default()
}

/// What clicking the Enable value does (the firmware's tooltip).
pub(crate) fn module_title(enabled: bool) -> &'static str {
    if enabled {
        "Click to shut down module"
    } else {
        "Click to start module"
    }
}

fn yn(v: bool) -> String {
    if v { "Y" } else { "N" }.to_owned()
}

/// The fields of one line, in the firmware's order.
pub fn line_fields(l: &LineStatus, ctx: &XmlContext<'_>) -> Vec<(&'static str, String)> {
    vec![
        (
            "module_status_gsm",
            if l.enabled { "1" } else { "0" }.into(),
        ),
        ("module_title_gsm", String::new()),
        ("module_status", yn(l.enabled)),
        ("module_title", module_title(l.enabled).into()),
        // Parsers accept only Y/N here; PIN/PUK show on the HTML page. A SIM waiting
        // for PIN2/PUK2 works (F-6.10.7): Y.
        ("gsm_sim", yn(sim_present(&l.sim))),
        ("gsm_status", yn(l.gsm)),
        ("status_line", yn(l.voip)),
        ("line_state", l.state.clone()),
        (
            "sms_login",
            (ctx.sms_login)(l.line).map(yn).unwrap_or_default(),
        ),
        // No SIM bank (F-6.1.14): empty, as the firmware sends when it is not used.
        ("smb_login", String::new()),
        ("gsm_signal", l.rssi.unwrap_or(99).to_string()),
        ("gsm_cur_oper", l.operator.clone().unwrap_or_default()),
        ("gsm_cur_bst", held_bcch(l)),
        ("lac", l.lac_cell.clone().unwrap_or_default()),
        ("sim_remain", limit_text(l.remaining_minutes)),
        ("nocall_t", l.idle_minutes.unwrap_or(0).to_string()),
        ("acd", l.acd.unwrap_or(0).to_string()),
        ("asr", l.asr.unwrap_or(0).to_string()),
        ("callt", l.total_seconds.to_string()),
        ("callc", l.calls.clone()),
        ("rct", format_unix(l.cdr_since, ctx.utc_offset)),
        ("sms_count", limit_text(l.remaining_sms)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_only_when_needed() {
        let mut out = String::new();
        element(&mut out, "l1_gsm_cur_oper", "AT&T <US>");
        element(&mut out, "l1_gsm_cur_bst", "");
        element(&mut out, "l1_acd", "73");
        assert_eq!(
            out,
            "<l1_gsm_cur_oper>AT&amp;T &lt;US&gt;</l1_gsm_cur_oper>\n<l1_gsm_cur_bst/>\n<l1_acd>73</l1_acd>\n"
        );
    }

    #[test]
    fn version_has_no_spaces_for_scripts() {
        assert_eq!(version_token("cellgate 0.1.0"), "cellgate-0.1.0");
    }
}

#[cfg(test)]
mod sim_tests {
    use super::sim_present;

    #[test]
    fn a_sim_waiting_for_pin2_is_present_f_6_10_7() {
        assert!(sim_present("Y") && sim_present("PIN2") && sim_present("PUK2"));
        assert!(!sim_present("N") && !sim_present("PIN") && !sim_present("PUK"));
    }
}
