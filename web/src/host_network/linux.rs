//! Readers for the Linux files that describe the host's network: `/proc/net/route`,
//! `/proc/net/ipv6_route`, `resolv.conf` and `/sys/class/net/<if>/{address,operstate}`.
//!
//! Every parser takes a file's text and keeps what it can understand: a line that is
//! truncated, not hex, or names an impossible interface is skipped. Nothing here panics on
//! file contents, so a broken or hostile tree only makes facts disappear from the page.

use std::fs::File;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// Most bytes read from one file. The real files are a few kilobytes; a broken tree must
/// not make a status-page refresh read without bound.
const MAX_FILE_BYTES: u64 = 256 * 1024;

/// Longest interface name Linux accepts (IFNAMSIZ 16 including the terminating NUL).
const MAX_IFNAME_BYTES: usize = 15;

/// Route flag: the route goes through a next hop (`<linux/route.h>` RTF_GATEWAY).
const RTF_GATEWAY: u32 = 0x0002;
/// Route flag: packets matching the route are refused (RTF_REJECT); such a "default" route
/// (the kernel's IPv6 `lo` catch-all) is not a way out.
const RTF_REJECT: u32 = 0x0200;

/// A default route found in a routing table: where "everything else" goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DefaultRoute<A> {
    /// The interface the route leaves by.
    pub interface: String,
    /// The next hop.
    pub gateway: A,
    /// Route metric; the lowest one is the route in use.
    pub metric: u32,
}

/// Reads a file as text (lossily, capped at [`MAX_FILE_BYTES`]); `None` when it cannot be
/// opened or read, which callers treat as "fact unknown".
pub(crate) fn read_text(path: &Path) -> Option<String> {
    let file = File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Checks that `name` can be a Linux interface name and so is safe to use as one path
/// component under `/sys/class/net`. The rules are the kernel's (non-empty, at most 15
/// bytes, no `/`, `:` or whitespace, not `.`) plus: no `..` anywhere and no control
/// characters. The error says what is wrong, for a configuration message.
pub(crate) fn check_interface_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("interface name is empty".to_string());
    }
    if name.len() > MAX_IFNAME_BYTES {
        return Err(format!(
            "interface name {name:?} is {} bytes long; Linux allows at most {MAX_IFNAME_BYTES}",
            name.len()
        ));
    }
    if name == "." || name.contains("..") {
        return Err(format!(
            "interface name {name:?} must not be . or contain .."
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| *c == '/' || *c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "interface name {name:?} contains {bad:?}, which Linux does not allow"
        ));
    }
    Ok(())
}

/// Parses a hex field of at most `max_digits` digits. Stricter than `from_str_radix`,
/// which would also take a leading `+`.
fn hex_field(text: &str, max_digits: usize) -> Option<u128> {
    if text.is_empty() || text.len() > max_digits || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(text, 16).ok()
}

/// Parses an 8-digit hex field of `/proc/net/route`.
fn hex_u32(text: &str) -> Option<u32> {
    hex_field(text, 8).and_then(|v| u32::try_from(v).ok())
}

/// Decodes an IPv4 address field of `/proc/net/route`. The kernel prints the address's
/// four bytes as it holds them in memory, read as one native integer: on a little-endian
/// host `0101A8C0` is 192.168.1.1; a big-endian host prints `C0A80101`.
pub(crate) fn route_ipv4(text: &str, big_endian_host: bool) -> Option<Ipv4Addr> {
    let value = hex_u32(text)?;
    let bytes = if big_endian_host {
        value.to_be_bytes()
    } else {
        value.to_le_bytes()
    };
    Some(Ipv4Addr::from(bytes))
}

/// Keeps `candidate` if it beats `best` (lower metric; the earlier line wins a tie).
fn keep_lowest<A>(best: &mut Option<DefaultRoute<A>>, candidate: DefaultRoute<A>) {
    if best.as_ref().is_none_or(|b| candidate.metric < b.metric) {
        *best = Some(candidate);
    }
}

/// The IPv4 default route in use, from the text of `/proc/net/route`: destination and mask
/// `00000000`, the gateway flag set, not a reject route, lowest metric. `None` when there
/// is none (or none that could be read).
pub(crate) fn default_route_v4(
    text: &str,
    big_endian_host: bool,
) -> Option<DefaultRoute<Ipv4Addr>> {
    let mut best = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // Iface Destination Gateway Flags RefCnt Use Metric Mask [MTU Window IRTT]
        let [interface, destination, gateway, flags, _refcnt, _use, metric, mask, ..] = fields[..]
        else {
            continue;
        };
        let (Some(destination), Some(gateway), Some(flags), Some(mask), Ok(metric)) = (
            hex_u32(destination),
            route_ipv4(gateway, big_endian_host),
            hex_u32(flags),
            hex_u32(mask),
            metric.parse::<u32>(),
        ) else {
            continue;
        };
        if destination != 0
            || mask != 0
            || flags & RTF_GATEWAY == 0
            || flags & RTF_REJECT != 0
            || gateway.is_unspecified()
            || check_interface_name(interface).is_err()
        {
            continue;
        }
        keep_lowest(
            &mut best,
            DefaultRoute {
                interface: interface.to_string(),
                gateway,
                metric,
            },
        );
    }
    best
}

/// Parses a 32-digit address field of `/proc/net/ipv6_route` (printed in network order).
fn route_ipv6(text: &str) -> Option<Ipv6Addr> {
    if text.len() != 32 {
        return None;
    }
    hex_field(text, 32).map(Ipv6Addr::from)
}

/// The IPv6 default route in use, from the text of `/proc/net/ipv6_route`: destination
/// `::/0`, the gateway flag set, not a reject route, lowest metric.
pub(crate) fn default_route_v6(text: &str) -> Option<DefaultRoute<Ipv6Addr>> {
    let mut best = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // dest dest_len src src_len next_hop metric refcnt use flags iface
        let [destination, destination_len, _src, _src_len, next_hop, metric, _refcnt, _use, flags, interface, ..] =
            fields[..]
        else {
            continue;
        };
        let (Some(destination), Some(destination_len), Some(gateway), Some(metric), Some(flags)) = (
            route_ipv6(destination),
            hex_field(destination_len, 2),
            route_ipv6(next_hop),
            hex_u32(metric),
            hex_u32(flags),
        ) else {
            continue;
        };
        if !destination.is_unspecified()
            || destination_len != 0
            || flags & RTF_GATEWAY == 0
            || flags & RTF_REJECT != 0
            || gateway.is_unspecified()
            || check_interface_name(interface).is_err()
        {
            continue;
        }
        keep_lowest(
            &mut best,
            DefaultRoute {
                interface: interface.to_string(),
                gateway,
                metric,
            },
        );
    }
    best
}

/// The `nameserver` addresses of a `resolv.conf`, in file order without repeats. Comments
/// (`#` or `;`, at the start of a line or after the address) are dropped, an IPv6 scope id
/// (`fe80::1%eth0`) is cut off, and a line whose address does not parse is skipped.
pub(crate) fn nameservers(text: &str) -> Vec<IpAddr> {
    let mut servers = Vec::new();
    for line in text.lines() {
        let content = line.split(['#', ';']).next().unwrap_or_default();
        let mut words = content.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(word) = words.next() else {
            continue;
        };
        let without_scope = word.split('%').next().unwrap_or_default();
        if let Ok(address) = without_scope.parse::<IpAddr>() {
            if !servers.contains(&address) {
                servers.push(address);
            }
        }
    }
    servers
}

/// A link-layer address from `/sys/class/net/<if>/address`, lower-case `aa:bb:...`.
/// `None` for an empty file (ppp, tun and WireGuard links have no MAC), an all-zero one
/// (loopback) or anything that is not colon-separated hex byte pairs.
pub(crate) fn parse_mac(text: &str) -> Option<String> {
    let text = text.trim();
    let mut all_zero = true;
    for part in text.split(':') {
        if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        all_zero &= part == "00";
    }
    if all_zero {
        return None;
    }
    Some(text.to_ascii_lowercase())
}

/// What `/sys/class/net/<if>/operstate` says, folded to what the page needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OperState {
    /// `up`: the link is usable.
    Up,
    /// `unknown` (how ppp, tun and loopback report), or the file could not be read: the
    /// caller decides by whether the interface has an address.
    Unknown,
    /// `down`, `lowerlayerdown`, `dormant`, `notpresent`, `testing` or anything else.
    Down,
}

/// Folds an `operstate` file's text into an [`OperState`].
pub(crate) fn parse_operstate(text: &str) -> OperState {
    match text.trim() {
        "up" => OperState::Up,
        "unknown" => OperState::Unknown,
        _ => OperState::Down,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f_5_2_2_9_gateway_hex_decoding_both_byte_orders() {
        assert_eq!(
            route_ipv4("0101A8C0", false),
            Some(Ipv4Addr::new(192, 168, 1, 1))
        );
        assert_eq!(
            route_ipv4("C0A80101", true),
            Some(Ipv4Addr::new(192, 168, 1, 1))
        );
        assert_eq!(
            route_ipv4("010200c0", false),
            Some(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert_eq!(route_ipv4("00000000", false), Some(Ipv4Addr::UNSPECIFIED));
    }

    #[test]
    fn route_hex_fields_reject_junk() {
        for junk in [
            "",
            "+101A8C0",
            "0101A8CG",
            "0101A8C0F",
            "0x0101A8",
            " 0101A8C",
            "é0101A8",
        ] {
            assert_eq!(route_ipv4(junk, false), None, "{junk:?}");
        }
    }

    #[test]
    fn f_5_2_2_9_default_route_v4_lowest_metric_and_filters() {
        let table =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            wlan0\t00000000\t0100000A\t0003\t0\t0\t600\t00000000\t0\t0\t0\n\
            eth0\t0000A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n\
            rej0\t00000000\t0100000A\t0203\t0\t0\t1\t00000000\t0\t0\t0\n\
            nogw0\t00000000\t00000000\t0001\t0\t0\t2\t00000000\t0\t0\t0\n\
            eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
            eth1\t00000000\t0201A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n";
        let route = default_route_v4(table, false).expect("a default route");
        assert_eq!(route.interface, "eth0");
        assert_eq!(route.gateway, Ipv4Addr::new(192, 168, 1, 1));
        assert_eq!(route.metric, 100);
    }

    #[test]
    fn default_route_v4_survives_truncation_and_junk() {
        let table = "eth0\t00000000\t0101A8C0\t0003\t0\t0\n\
            eth0\t00000000\tzzzzzzzz\t0003\t0\t0\t0\t00000000\n\
            eth0\t00000000\t0101A8C0\t0003\t0\t0\t-1\t00000000\n\
            ../x\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\n\
            \0\u{1}\u{fffd}\n\n\t\t\t";
        assert_eq!(default_route_v4(table, false), None);
        assert_eq!(default_route_v4("", false), None);
    }

    #[test]
    fn f_5_2_2_9_default_route_v6_skips_reject_and_local_routes() {
        // Shaped like a real kernel's table: a default via a router, the `lo` reject
        // catch-all, and connected routes.
        let table = "\
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000003 00000000 00000003     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000002 00000200 00000003 00000000 00000003     wlan0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe80000000000000000000000000000
";
        let route = default_route_v6(table).expect("a default route");
        assert_eq!(route.interface, "wlan0");
        assert_eq!(route.gateway, "fe80::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(route.metric, 0x200);
        assert_eq!(default_route_v6("garbage\n0 0 0 0 0 0 0 0 0 0\n"), None);
    }

    #[test]
    fn f_5_2_2_10_nameservers_parsing() {
        let conf = "# Generated by NetworkManager\n\
            search lan example.org\n\
            nameserver 192.168.1.1\n\
            ; nameserver 10.0.0.1\n\
            nameserver 2001:db8::53 # upstream v6\n\
            nameserver fe80::1%eth0\n\
            nameserver\n\
            nameserver not-an-address\n\
            nameserverx 10.9.9.9\n\
            \tnameserver\t8.8.8.8\t\n\
            nameserver 192.168.1.1\n\
            options edns0\n";
        let expected: Vec<IpAddr> = ["192.168.1.1", "2001:db8::53", "fe80::1", "8.8.8.8"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(nameservers(conf), expected);
        assert!(nameservers("").is_empty());
        assert!(nameservers("\u{fffd}\u{fffd}\nnameserver 1.2.3.4.5\n").is_empty());
    }

    #[test]
    fn f_5_2_2_6_mac_parsing() {
        assert_eq!(
            parse_mac("52:54:00:AB:cd:EF\n").as_deref(),
            Some("52:54:00:ab:cd:ef")
        );
        assert_eq!(parse_mac("00:00:00:00:00:00\n"), None);
        assert_eq!(parse_mac("\n"), None);
        assert_eq!(parse_mac(""), None);
        assert_eq!(
            parse_mac("52:54:00:ab:cd"),
            Some("52:54:00:ab:cd".to_string())
        );
        assert_eq!(parse_mac("52:54:00:ab:cd:e"), None);
        assert_eq!(parse_mac("52-54-00-ab-cd-ef"), None);
        assert_eq!(parse_mac("zz:54:00:ab:cd:ef"), None);
    }

    #[test]
    fn operstate_folding() {
        assert_eq!(parse_operstate("up\n"), OperState::Up);
        assert_eq!(parse_operstate("unknown\n"), OperState::Unknown);
        for other in ["down\n", "lowerlayerdown", "dormant", "", "UP"] {
            assert_eq!(parse_operstate(other), OperState::Down, "{other:?}");
        }
    }

    #[test]
    fn interface_name_rules() {
        for good in [
            "eth0",
            "ppp0",
            "wg0",
            "tun0",
            "enp0s31f6",
            "br-lan",
            "a.b",
            "x_y@z",
        ] {
            assert_eq!(check_interface_name(good), Ok(()), "{good:?}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../etc",
            "a..b",
            "eth0/x",
            "/",
            "eth 0",
            "eth0\n",
            "\teth0",
            "eth0:1",
            "eth\u{0}0",
            "abcdefghijklmnop",
            "ééééééééé",
        ] {
            assert!(check_interface_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_interface_name("abcdefghijklmno"), Ok(()));
    }
}
