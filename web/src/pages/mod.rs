//! The four status pages of manual §5.2 (F-5.2.0.7) as server-rendered HTML, with the
//! common header (F-5.2.0.1 to 6) and the 5-second refresh (F-5.2.0.8).
//!
//! Plain HTML with one small script: the pages must work in the embedded browsers and
//! old desktops GoIP operators use, and scripts scrape them by element id
//! (GOIP-INTERFACES §7.7), so the General page keeps the `l<N>_<field>` ids of
//! `status.xml`.

mod basic;
mod forwarding;
mod general;
mod gsm;

use std::fmt::Write as _;

use cellgate_engine::management::StatusSnapshot;

use crate::host_network::HostNetwork;
use crate::sessions::{LoginRecord, Session};
use crate::text::{format_unix, xml_escape};

pub use general::REFRESH_SCRIPT;

/// Seconds between refreshes of every status page (F-5.2.0.8).
pub const REFRESH_SECONDS: u32 = 5;

/// Which status page (`status.html?type=…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPage {
    /// General status, `type=list` (§5.2.1).
    General,
    /// Basic status, `type=base` (§5.2.2).
    Basic,
    /// GSM status, `type=gsm` (§5.2.3).
    Gsm,
    /// SIM call-forwarding status, `type=cf` (§5.2.4).
    Forwarding,
}

impl StatusPage {
    /// The page for a `type` query value; the General page is the default.
    pub fn from_type(t: Option<&str>) -> Self {
        match t {
            Some("base") => Self::Basic,
            Some("gsm") => Self::Gsm,
            Some("cf") => Self::Forwarding,
            _ => Self::General,
        }
    }

    fn type_value(self) -> &'static str {
        match self {
            Self::General => "list",
            Self::Basic => "base",
            Self::Gsm => "gsm",
            Self::Forwarding => "cf",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::General => "General status",
            Self::Basic => "Basic status",
            Self::Gsm => "GSM status",
            Self::Forwarding => "SIM call forwarding",
        }
    }

    const ALL: [StatusPage; 4] = [
        StatusPage::General,
        StatusPage::Basic,
        StatusPage::Gsm,
        StatusPage::Forwarding,
    ];
}

/// Everything a page is drawn from.
pub struct PageData<'a> {
    /// The gateway's status.
    pub snapshot: &'a StatusSnapshot,
    /// SMS-server login per line (`None`: function off).
    pub sms_login: &'a dyn Fn(u16) -> Option<bool>,
    /// The host's network.
    pub network: &'a HostNetwork,
    /// The viewer's session.
    pub session: &'a Session,
    /// Offset for times shown.
    pub utc_offset: time::UtcOffset,
    /// Path prefix of the pages (`/default/en_US`).
    pub base: &'a str,
    /// A one-line notice after an action (e.g. "reset remaining time on lines 1, 2").
    pub notice: Option<&'a str>,
}

/// Renders `page`.
pub fn render(page: StatusPage, data: &PageData<'_>) -> String {
    let mut out = String::with_capacity(16 * 1024);
    head(&mut out, page, data);
    match page {
        StatusPage::General => general::body(&mut out, data),
        StatusPage::Basic => basic::body(&mut out, data),
        StatusPage::Gsm => gsm::body(&mut out, data),
        StatusPage::Forwarding => forwarding::body(&mut out, data),
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn head(out: &mut String, page: StatusPage, data: &PageData<'_>) {
    let g = &data.snapshot.gateway;
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>cellgate — {title}</title>\n",
        title = page.title()
    );
    // The General page refreshes by script so ticked checkboxes survive; without
    // script (and on the other pages) the browser reloads the page.
    if page == StatusPage::General {
        let _ = writeln!(
            out,
            "<script src=\"/static/refresh.js\" defer></script>\n\
             <noscript><meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\"></noscript>"
        );
    } else {
        let _ = writeln!(
            out,
            "<meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">"
        );
    }
    out.push_str(STYLE);
    // Title and menu are tables, as on the firmware's pages: scripts written against
    // the firmware read the header as the page's third table (GOIP-INTERFACES §7.7).
    let _ = write!(
        out,
        "</head>\n<body>\n<table id=\"title\"><tr><td><b>cellgate</b></td><td>{}</td>\
         <td class=\"who\">{}</td></tr></table>\n<table id=\"menu\"><tr>",
        page.title(),
        data.session.level.user_name()
    );
    for p in StatusPage::ALL {
        let class = if p == page { " class=\"current\"" } else { "" };
        let _ = write!(
            out,
            "<td><a{class} href=\"{}/status.html?type={}\">{}</a></td>",
            data.base,
            p.type_value(),
            p.title()
        );
    }
    out.push_str("</tr></table>\n<table id=\"header\">\n");
    let modules = module_list(g);
    let last_login = data
        .session
        .previous
        .map(|r| login_text(r, data.utc_offset))
        .unwrap_or_else(|| "—".into());
    row(out, "Serial Number", g.serial.as_deref().unwrap_or(""));
    row(out, "Firmware Version", &g.version);
    row(out, "Module Version", &modules);
    row(out, "Uptime", &uptime_text(g.uptime_seconds));
    row(out, "Last Login", &last_login);
    row(
        out,
        "Current Time",
        g.local_time.as_deref().unwrap_or("no network time"),
    );
    out.push_str("</table>\n<main>\n");
    if let Some(notice) = data.notice {
        let _ = writeln!(
            out,
            "<p class=\"notice\" role=\"status\">{}</p>",
            xml_escape(notice)
        );
    }
}

/// The module models of the lines, each once when neighbours repeat it.
fn module_list(g: &cellgate_engine::gateway::GatewayStatus) -> String {
    let mut m: Vec<&str> = g.modules.iter().filter_map(|m| m.as_deref()).collect();
    m.dedup();
    m.join(", ")
}

/// A two-cell row: label, value.
fn row(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(
        out,
        "<tr><th>{}</th><td>{}</td></tr>",
        xml_escape(label),
        xml_escape(value)
    );
}

fn login_text(r: LoginRecord, offset: time::UtcOffset) -> String {
    format!("{} from {}", format_unix(r.unix, offset), r.ip)
}

/// `3d 04:05:06`.
fn uptime_text(seconds: u64) -> String {
    let (d, rest) = (seconds / 86_400, seconds % 86_400);
    format!(
        "{d}d {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `Y`/`N`.
fn yn(v: bool) -> &'static str {
    if v {
        "Y"
    } else {
        "N"
    }
}

/// An optional value, or empty.
fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(|v| v.to_string()).unwrap_or_default()
}

const STYLE: &str = "<style>\
body{font-family:sans-serif;font-size:13px;margin:8px}\
table{border-collapse:collapse;margin-bottom:10px}\
th,td{border:1px solid #bbb;padding:2px 6px;text-align:center}\
#header th{text-align:left}\
#title,#menu{border:0}#title td,#menu td{border:0;text-align:left}\
#menu a.current{font-weight:bold}.who{color:#555}\
.blocked button.line{color:#d00;font-weight:bold}\
button.link{border:0;background:none;color:#036;cursor:pointer;padding:0;text-decoration:underline}\
.notice{background:#ffd;padding:4px}\
</style>\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_as_days_and_clock() {
        assert_eq!(uptime_text(0), "0d 00:00:00");
        assert_eq!(
            uptime_text(3 * 86_400 + 4 * 3600 + 5 * 60 + 6),
            "3d 04:05:06"
        );
    }

    #[test]
    fn page_types_round_trip() {
        for p in StatusPage::ALL {
            assert_eq!(StatusPage::from_type(Some(p.type_value())), p);
        }
        assert_eq!(StatusPage::from_type(Some("bogus")), StatusPage::General);
    }
}
