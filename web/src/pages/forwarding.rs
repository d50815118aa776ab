//! SIM call-forwarding status (§5.2.4): one value per line and condition — a number,
//! `OFF`, or `Not Set` when the gateway leaves the SIM's setting alone (F-5.2.4.1).

use std::fmt::Write as _;

use super::PageData;
use crate::text::xml_escape;

pub(super) fn body(out: &mut String, data: &PageData<'_>) {
    out.push_str(
        "<table id=\"forwarding\">\n<tr><th>Line</th><th>Unconditional</th><th>Busy</th>\
         <th>No reply</th><th>Not reachable</th></tr>\n",
    );
    for l in &data.snapshot.lines {
        let _ = write!(out, "<tr><td>{}</td>", l.line);
        for value in &l.forwarding {
            let _ = write!(out, "<td>{}</td>", xml_escape(value));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}
