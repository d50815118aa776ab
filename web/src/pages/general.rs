//! General status (§5.2.1): one row per line, the reset icons and the bulk actions.
//!
//! The whole table is one form. A per-line button posts `one=<action>:<line>`; the
//! buttons under the table (and the *Line* header) post `action=<action>` for every
//! ticked `line` checkbox (F-5.2.1.21, F-5.2.1.2).

use std::fmt::Write as _;

use super::{opt, yn, PageData};
use crate::status_xml::{held_bcch, limit_text, module_title};
use crate::text::{format_unix, xml_escape};

/// Refreshes the General page every 5 s without losing ticked checkboxes: fetches the
/// page again and swaps the table body and header, then re-ticks what was ticked.
pub const REFRESH_SCRIPT: &str = r#"// cellgate: refresh the status table every 5 s (F-5.2.0.8), keeping ticked lines.
(function () {
  var PERIOD_MS = 5000;
  function refresh() {
    var ticked = {};
    document.querySelectorAll('input[name=line]:checked').forEach(function (c) { ticked[c.value] = true; });
    fetch(window.location.pathname + '?type=list', { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        ['#header', '#lines tbody'].forEach(function (sel) {
          var fresh = doc.querySelector(sel), old = document.querySelector(sel);
          if (fresh && old) { old.innerHTML = fresh.innerHTML; }
        });
        document.querySelectorAll('input[name=line]').forEach(function (c) { c.checked = !!ticked[c.value]; });
      })
      .catch(function () {})
      .then(function () { setTimeout(refresh, PERIOD_MS); });
  }
  setTimeout(refresh, PERIOD_MS);
})();
"#;

pub(super) fn body(out: &mut String, data: &PageData<'_>) {
    let csrf = xml_escape(&data.session.csrf);
    let _ = writeln!(
        out,
        "<form method=\"post\" action=\"{}/status.html?type=list\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
         <table id=\"lines\">\n<thead><tr>\
         <th>Select</th>\
         <th><button class=\"link\" name=\"action\" value=\"restore\" \
         title=\"Give the ticked lines their outbound calls back\">Line</button></th>\
         <th>Enable</th><th>SIM</th><th>GSM</th><th>VoIP</th><th>Status</th><th>SMS</th>\
         <th>ACD(s)</th><th>ASR(%)</th><th>Total call duration(s)</th><th>Call count</th>\
         <th>CDR start time</th><th>RSSI</th><th>Operator</th><th>BCCH</th>\
         <th>Idle time(min)</th><th>Remaining time(min)</th><th>Remaining SMS</th><th>Reset</th>\
         </tr></thead>\n<tbody>",
        data.base
    );
    for l in &data.snapshot.lines {
        let n = l.line;
        let class = if l.policy_blocked {
            " class=\"blocked\""
        } else {
            ""
        };
        let line_cell = if l.policy_blocked {
            format!(
                "<button class=\"link line\" name=\"one\" value=\"restore:{n}\" \
                 title=\"Disabled by the run policy: click to restore\">{n}</button>"
            )
        } else {
            n.to_string()
        };
        let toggle = if l.enabled { "module_off" } else { "module_on" };
        let toggle_title = module_title(l.enabled);
        let sms = (data.sms_login)(n).map(yn).unwrap_or("");
        let bcch = held_bcch(l);
        let remaining = limit_text(l.remaining_minutes);
        let remaining_sms = limit_text(l.remaining_sms);
        let _ = writeln!(
            out,
            "<tr id=\"l{n}\"{class}>\
             <td><input type=\"checkbox\" name=\"line\" value=\"{n}\" aria-label=\"line {n}\"></td>\
             <td>{line_cell}</td>\
             <td id=\"l{n}_module_status\"><button class=\"link\" name=\"one\" value=\"{toggle}:{n}\" title=\"{toggle_title}\">{enabled}</button></td>\
             <td id=\"l{n}_gsm_sim\">{sim}</td>\
             <td id=\"l{n}_gsm_status\">{gsm}</td>\
             <td id=\"l{n}_status_line\">{voip}</td>\
             <td id=\"l{n}_line_state\">{state}</td>\
             <td id=\"l{n}_sms_login\">{sms}</td>\
             <td id=\"l{n}_acd\">{acd}</td>\
             <td id=\"l{n}_asr\">{asr}</td>\
             <td id=\"l{n}_callt\">{callt}</td>\
             <td id=\"l{n}_callc\">{callc}</td>\
             <td id=\"l{n}_rct\">{rct}</td>\
             <td id=\"l{n}_gsm_signal\">{rssi}</td>\
             <td id=\"l{n}_gsm_cur_oper\">{oper}</td>\
             <td id=\"l{n}_gsm_cur_bst\">{bcch}</td>\
             <td id=\"l{n}_nocall_t\">{idle}</td>\
             <td id=\"l{n}_sim_remain\">{remaining}</td>\
             <td id=\"l{n}_sms_count\">{remaining_sms}</td>\
             <td><button name=\"one\" value=\"reset_time:{n}\" title=\"Reset remaining time\">T</button>\
             <button name=\"one\" value=\"reset_sms:{n}\" title=\"Reset remaining SMS\">S</button>\
             <button name=\"one\" value=\"reset_cdr:{n}\" title=\"Reset ACD/ASR\">C</button></td></tr>",
            enabled = yn(l.enabled),
            sim = xml_escape(&l.sim),
            gsm = yn(l.gsm),
            voip = yn(l.voip),
            state = xml_escape(&l.state),
            acd = l.acd.unwrap_or(0),
            asr = l.asr.unwrap_or(0),
            callt = l.total_seconds,
            callc = xml_escape(&l.calls),
            rct = format_unix(l.cdr_since, data.utc_offset),
            rssi = opt(&l.rssi),
            oper = xml_escape(&opt(&l.operator)),
            idle = opt(&l.idle_minutes),
        );
    }
    out.push_str(
        "</tbody>\n</table>\n<p class=\"bulk\">Ticked lines: \
         <button name=\"action\" value=\"reset_time\">Reset remaining time</button> \
         <button name=\"action\" value=\"reset_sms\">Reset remaining SMS</button> \
         <button name=\"action\" value=\"reset_cdr\">Reset ACD/ASR</button> \
         <button name=\"action\" value=\"restore\">Restore</button></p>\n</form>\n",
    );
}
