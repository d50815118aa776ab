//! Basic status (§5.2.2): hardware, network, web log and call management.

use std::fmt::Write as _;

use super::{module_list, row, yn, PageData};
use crate::host_network::{HostNetwork, InterfaceInfo};
use crate::status_xml::limit_text;
use crate::text::xml_escape;

pub(super) fn body(out: &mut String, data: &PageData<'_>) {
    let g = &data.snapshot.gateway;
    out.push_str("<h3>Hardware</h3>\n<table id=\"hardware\">\n");
    row(out, "S/N", g.serial.as_deref().unwrap_or(""));
    row(out, "Version", &g.version);
    row(
        out,
        "Model",
        &format!(
            "cellgate, {} line(s); {}",
            data.snapshot.lines.len(),
            module_list(g)
        ),
    );
    row(
        out,
        "Local time",
        g.local_time.as_deref().unwrap_or("no network time"),
    );
    out.push_str("</table>\n<h3>Network</h3>\n<table id=\"network\">\n");
    network_rows(out, data.network);
    out.push_str("</table>\n<h3>Web log</h3>\n<table id=\"weblog\">\n");
    let previous = data.session.previous;
    row(
        out,
        "Last login IP",
        &previous.map(|r| r.ip.to_string()).unwrap_or_default(),
    );
    row(
        out,
        "Last login time",
        &previous
            .map(|r| crate::text::format_unix(r.unix, data.utc_offset))
            .unwrap_or_default(),
    );
    row(out, "Current login IP", &data.session.ip.to_string());
    out.push_str(
        "</table>\n<h3>Call management</h3>\n<table id=\"voip_lines\">\n\
         <tr><th colspan=\"4\">VoIP</th></tr>\n\
         <tr><th>Line</th><th>Mode</th><th>Registered</th><th>Gateway prefix</th></tr>\n",
    );
    for l in &data.snapshot.lines {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            l.line,
            xml_escape(&l.sip_mode),
            yn(l.voip),
            xml_escape(l.prefix.as_deref().unwrap_or(""))
        );
    }
    out.push_str(
        "</table>\n<table id=\"gsm_lines\">\n<tr><th colspan=\"5\">GSM</th></tr>\n\
         <tr><th>Line</th><th>Registered</th><th>Inbound</th><th>Outbound</th>\
         <th>Remaining time(min)</th></tr>\n",
    );
    for l in &data.snapshot.lines {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            l.line,
            yn(l.gsm),
            yn(l.inbound),
            yn(l.outbound),
            limit_text(l.remaining_minutes)
        );
    }
    out.push_str("</table>\n");
}

/// F-5.2.2.5 to 11. PPPoE and VPN rows appear only when those links are configured.
fn network_rows(out: &mut String, net: &HostNetwork) {
    let addresses = |i: &InterfaceInfo| {
        let mut list: Vec<String> = i.ipv4.iter().map(|a| a.to_string()).collect();
        list.extend(i.ipv6.iter().map(|a| a.to_string()));
        let state = if i.up { "" } else { " (down)" };
        format!("{}: {}{state}", i.name, list.join(", "))
    };
    row(
        out,
        "LAN",
        &net.lan.as_ref().map(addresses).unwrap_or_default(),
    );
    row(
        out,
        "LAN MAC",
        net.lan
            .as_ref()
            .and_then(|i| i.mac.as_deref())
            .unwrap_or(""),
    );
    if let Some(pc) = &net.pc {
        row(out, "PC", &addresses(pc));
    }
    if let Some(pppoe) = &net.pppoe {
        row(out, "PPPoE", &pppoe.to_string());
    }
    row(
        out,
        "Gateway",
        &net.gateway.map(|g| g.to_string()).unwrap_or_default(),
    );
    let dns: Vec<String> = net.dns.iter().map(|d| d.to_string()).collect();
    row(out, "DNS", &dns.join(", "));
    if let Some(vpn) = &net.vpn {
        row(out, "VPN", &vpn.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_network::{Ipv4Net, LinkState, LinkStatus};

    fn lan() -> InterfaceInfo {
        InterfaceInfo {
            name: "eth0".into(),
            ipv4: vec![Ipv4Net {
                address: "192.168.1.20".parse().unwrap(),
                prefix_len: 24,
            }],
            ipv6: vec![],
            mac: Some("00:30:48:aa:bb:cc".into()),
            up: true,
        }
    }

    fn network() -> HostNetwork {
        HostNetwork {
            lan: Some(lan()),
            pc: None,
            pppoe: None,
            gateway: Some("192.168.1.1".parse().unwrap()),
            dns: vec!["192.168.1.1".parse().unwrap(), "9.9.9.9".parse().unwrap()],
            vpn: None,
        }
    }

    #[test]
    fn f_5_2_2_5_lan_address_mac_gateway_and_dns_rows() {
        let mut out = String::new();
        network_rows(&mut out, &network());
        assert!(out.contains("<tr><th>LAN</th><td>eth0: 192.168.1.20/24</td></tr>"));
        assert!(out.contains("<tr><th>LAN MAC</th><td>00:30:48:aa:bb:cc</td></tr>"));
        assert!(out.contains("<tr><th>Gateway</th><td>192.168.1.1</td></tr>"));
        assert!(out.contains("<tr><th>DNS</th><td>192.168.1.1, 9.9.9.9</td></tr>"));
        // Not configured: no PC, PPPoE or VPN row at all (F-5.2.2.7/8/11).
        for absent in ["<th>PC</th>", "<th>PPPoE</th>", "<th>VPN</th>"] {
            assert!(!out.contains(absent), "{absent}");
        }
    }

    #[test]
    fn f_5_2_2_8_pppoe_and_vpn_rows_when_configured() {
        let mut net = network();
        let mut pc = lan();
        pc.name = "eth1".into();
        pc.up = false;
        net.pc = Some(pc);
        net.pppoe = Some(LinkStatus {
            interface: "ppp0".into(),
            state: LinkState::Up,
            address: Some("10.64.0.5".parse().unwrap()),
        });
        net.vpn = Some(LinkStatus {
            interface: "ppp1".into(),
            state: LinkState::Missing,
            address: None,
        });
        let mut out = String::new();
        network_rows(&mut out, &net);
        assert!(out.contains("<tr><th>PC</th><td>eth1: 192.168.1.20/24 (down)</td></tr>"));
        assert!(out.contains("<tr><th>PPPoE</th><td>connected 10.64.0.5</td></tr>"));
        assert!(out.contains("<tr><th>VPN</th><td>no such interface ppp1</td></tr>"));
    }
}
