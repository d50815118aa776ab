//! GSM status (§5.2.3): radio facts per line, then module and SIM identity per line.

use std::fmt::Write as _;

use super::{opt, yn, PageData};
use crate::text::xml_escape;

pub(super) fn body(out: &mut String, data: &PageData<'_>) {
    out.push_str(
        "<div id=\"gsm_info\">\n<table>\n<tr><th>CH</th><th>Remote SIM</th><th>SIM</th>\
         <th>GSM</th><th>RSSI</th><th>GPRS registration</th><th>GPRS attach</th>\
         <th>Carrier</th><th>BCCH mode</th><th>BCCH ID</th><th>LAC + CELL ID</th></tr>\n",
    );
    for l in &data.snapshot.lines {
        let tri = |v: Option<bool>| v.map(yn).unwrap_or("");
        let _ = writeln!(
            out,
            "<tr><td>{n}</td><td>OFF</td><td>{sim}</td><td>{gsm}</td><td>{rssi}</td>\
             <td>{gprs_reg}</td><td>{gprs_att}</td><td>{oper}</td><td>{mode}</td>\
             <td>{bcch}</td><td>{lac}</td></tr>",
            n = l.line,
            sim = yn(crate::status_xml::sim_present(&l.sim)),
            gsm = yn(l.gsm),
            rssi = l.rssi.unwrap_or(99),
            gprs_reg = tri(l.gprs_registered),
            gprs_att = tri(l.gprs_attached),
            oper = xml_escape(&opt(&l.operator)),
            mode = xml_escape(&l.bcch_mode),
            bcch = opt(&l.bcch),
            lac = xml_escape(&opt(&l.lac_cell)),
        );
    }
    out.push_str(
        "</table>\n</div>\n<div id=\"gsm_detail\">\n<table>\n<tr><th>Line</th><th>Module</th>\
         <th>Module Version</th><th>SIM Number</th><th>IMEI</th><th>IMSI</th><th>ICCID</th></tr>\n",
    );
    for l in &data.snapshot.lines {
        let (model, version) = match l.module.as_deref() {
            Some(m) => m.split_once(' ').unwrap_or((m, "")),
            None => ("", ""),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            l.line,
            xml_escape(model),
            xml_escape(version),
            xml_escape(&opt(&l.sim_number)),
            xml_escape(&opt(&l.imei)),
            xml_escape(&opt(&l.imsi)),
            xml_escape(&opt(&l.iccid)),
        );
    }
    out.push_str("</table>\n</div>\n");
}
