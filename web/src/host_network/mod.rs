//! The host's network facts for the Basic status page (manual §5.2.2, F-5.2.2.5 to
//! F-5.2.2.11): LAN address and MAC, PC port, PPPoE, default gateway, DNS and VPN.
//!
//! On a GoIP the gateway firmware configures the network. cellgate runs on a Linux host
//! (or a GoIP-class box running Linux) where the operating system owns it, so this module
//! only *reports* what the host has; it never changes anything. [`read`] looks at the live
//! host; [`read_from`] does the same over any directory laid out like `/`, with the
//! interface addresses passed in, so the parsing can be tested on fake trees.
//!
//! Facts that cannot be read (a missing file, a truncated line, junk) are simply absent
//! from the result: the page shows less, the gateway never stops.

mod linux;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use self::linux::OperState;

/// Which host interfaces the Basic status page describes (the `[network]` settings).
///
/// Names are Linux interface names; [`HostNetworkConfig::validate`] checks them because
/// they become path components under `/sys/class/net`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostNetworkConfig {
    /// The LAN port (F-5.2.2.5, F-5.2.2.6). When unset, the interface of the default
    /// route (IPv4, else IPv6) is taken.
    pub lan_interface: Option<String>,
    /// The PC port (F-5.2.2.7), a GoIP's second Ethernet port. A plain host has none, so
    /// it is shown only when configured.
    pub pc_interface: Option<String>,
    /// The PPPoE link, e.g. `ppp0` from pppd (F-5.2.2.8). `None` means PPPoE is not in
    /// use and the page shows nothing for it.
    pub pppoe_interface: Option<String>,
    /// The VPN link, e.g. `ppp1` (PPTP), `tun0` or `wg0` (F-5.2.2.11). `None` means no
    /// VPN is in use and the page shows nothing for it.
    pub vpn_interface: Option<String>,
}

impl HostNetworkConfig {
    /// Checks every configured interface name (non-empty, at most 15 bytes, no `/`, `:`,
    /// `..`, whitespace or control characters). The error names the offending key, e.g.
    /// `network.vpn_interface: interface name "wg 0" contains ' ', ...`.
    pub fn validate(&self) -> Result<(), String> {
        let keys = [
            ("lan_interface", &self.lan_interface),
            ("pc_interface", &self.pc_interface),
            ("pppoe_interface", &self.pppoe_interface),
            ("vpn_interface", &self.vpn_interface),
        ];
        for (key, value) in keys {
            if let Some(name) = value {
                linux::check_interface_name(name).map_err(|why| format!("network.{key}: {why}"))?;
            }
        }
        Ok(())
    }
}

/// An IPv4 address on an interface with its prefix length, shown as `192.168.1.10/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ipv4Net {
    /// The interface's address.
    pub address: Ipv4Addr,
    /// Network prefix length, 0 to 32.
    pub prefix_len: u8,
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

/// An IPv6 address on an interface with its prefix length, shown as `2001:db8::10/64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ipv6Net {
    /// The interface's address.
    pub address: Ipv6Addr,
    /// Network prefix length, 0 to 128.
    pub prefix_len: u8,
}

impl fmt::Display for Ipv6Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

/// What the page shows for an Ethernet-like port (LAN, PC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterfaceInfo {
    /// Interface name, e.g. `eth0`.
    pub name: String,
    /// IPv4 addresses, primary first (F-5.2.2.5 / F-5.2.2.7).
    pub ipv4: Vec<Ipv4Net>,
    /// IPv6 addresses, link-local included.
    pub ipv6: Vec<Ipv6Net>,
    /// MAC address, lower-case `aa:bb:cc:dd:ee:ff` (F-5.2.2.6); `None` when the link has
    /// none (ppp, tun) or the interface does not exist.
    pub mac: Option<String>,
    /// Whether the link is usable: operstate `up`, or `unknown` with an address (how ppp
    /// and tun links report). A configured interface that does not exist is down.
    pub up: bool,
}

/// The state of a point-to-point link (PPPoE, VPN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    /// The link is up (its address, if any, is in [`LinkStatus::address`]).
    Up,
    /// The interface exists but is down.
    Down,
    /// No such interface: the dialler or VPN client has not created it (yet).
    Missing,
}

/// What the page shows for a PPPoE or VPN link (F-5.2.2.8, F-5.2.2.11). Its `Display` is
/// the operator text: `connected 10.64.0.5`, `up, no address`, `down`,
/// `no such interface ppp0`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkStatus {
    /// The configured interface name.
    pub interface: String,
    /// Up, down or missing.
    pub state: LinkState,
    /// The link's address: its first IPv4 address, else its first IPv6 address that is
    /// not link-local.
    pub address: Option<IpAddr>,
}

impl fmt::Display for LinkStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.state, self.address) {
            (LinkState::Up, Some(address)) => write!(f, "connected {address}"),
            (LinkState::Up, None) => f.write_str("up, no address"),
            (LinkState::Down, _) => f.write_str("down"),
            (LinkState::Missing, _) => write!(f, "no such interface {}", self.interface),
        }
    }
}

/// The network block of the Basic status page (F-5.2.2.5 to F-5.2.2.11), as read from the
/// host at one moment. `Default` is "nothing known", for pages that do not show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostNetwork {
    /// The LAN port (F-5.2.2.5, F-5.2.2.6); `None` when none is configured and the host
    /// has no default route to name one.
    pub lan: Option<InterfaceInfo>,
    /// The PC port (F-5.2.2.7); `None` unless configured.
    pub pc: Option<InterfaceInfo>,
    /// The PPPoE link (F-5.2.2.8); `None` unless configured.
    pub pppoe: Option<LinkStatus>,
    /// The default gateway in use (F-5.2.2.9): the next hop of the IPv4 default route
    /// with the lowest metric, else that of the IPv6 one. An IPv6 gateway is often
    /// link-local (`fe80::1`); its scope is the LAN interface.
    pub gateway: Option<IpAddr>,
    /// DNS servers (F-5.2.2.10), from `resolv.conf`; behind the systemd-resolved stub,
    /// the upstream servers it uses.
    pub dns: Vec<IpAddr>,
    /// The VPN link (F-5.2.2.11); `None` unless configured.
    pub vpn: Option<LinkStatus>,
}

/// Reads the live host's network facts for the configured interfaces. Blocking, but only
/// a few small files under `/proc`, `/sys` and `/etc` and one `getifaddrs` call.
pub fn read(cfg: &HostNetworkConfig) -> HostNetwork {
    read_from(Path::new("/"), &interface_addresses(), cfg)
}

/// [`read`] over a tree laid out like `/` under `root` (`proc/net/route`,
/// `proc/net/ipv6_route`, `etc/resolv.conf`, `sys/class/net/<if>/{address,operstate}`),
/// with the interface addresses given as `(interface, address, prefix length)`. It is the
/// seam that lets tests describe a host without having one.
pub fn read_from(
    root: &Path,
    addrs: &[(String, IpAddr, u8)],
    cfg: &HostNetworkConfig,
) -> HostNetwork {
    let route_v4 = linux::read_text(&root.join("proc/net/route"))
        .and_then(|text| linux::default_route_v4(&text, cfg!(target_endian = "big")));
    let route_v6 = linux::read_text(&root.join("proc/net/ipv6_route"))
        .and_then(|text| linux::default_route_v6(&text));

    let lan_name = cfg
        .lan_interface
        .clone()
        .or_else(|| route_v4.as_ref().map(|r| r.interface.clone()))
        .or_else(|| route_v6.as_ref().map(|r| r.interface.clone()));
    let gateway = route_v4
        .map(|r| IpAddr::V4(r.gateway))
        .or_else(|| route_v6.map(|r| IpAddr::V6(r.gateway)));

    HostNetwork {
        lan: lan_name.map(|name| interface_info(root, addrs, &name)),
        pc: cfg
            .pc_interface
            .as_deref()
            .map(|name| interface_info(root, addrs, name)),
        pppoe: cfg
            .pppoe_interface
            .as_deref()
            .map(|name| link_status(root, addrs, name)),
        gateway,
        dns: dns_servers(root),
        vpn: cfg
            .vpn_interface
            .as_deref()
            .map(|name| link_status(root, addrs, name)),
    }
}

/// Where the sysfs facts of `name` live, or `None` when `name` is not a possible interface
/// name: such a name is never joined to a path.
fn sys_dir(root: &Path, name: &str) -> Option<PathBuf> {
    linux::check_interface_name(name).ok()?;
    Some(root.join("sys/class/net").join(name))
}

/// The addresses `addrs` gives for `name`, without repeats, prefix lengths clamped.
fn addresses_of(addrs: &[(String, IpAddr, u8)], name: &str) -> (Vec<Ipv4Net>, Vec<Ipv6Net>) {
    let mut ipv4 = Vec::new();
    let mut ipv6 = Vec::new();
    for (interface, address, prefix_len) in addrs {
        if interface != name {
            continue;
        }
        match *address {
            IpAddr::V4(address) => {
                let net = Ipv4Net {
                    address,
                    prefix_len: (*prefix_len).min(32),
                };
                if !ipv4.contains(&net) {
                    ipv4.push(net);
                }
            }
            IpAddr::V6(address) => {
                let net = Ipv6Net {
                    address,
                    prefix_len: (*prefix_len).min(128),
                };
                if !ipv6.contains(&net) {
                    ipv6.push(net);
                }
            }
        }
    }
    (ipv4, ipv6)
}

/// Everything the page shows about one port.
fn interface_info(root: &Path, addrs: &[(String, IpAddr, u8)], name: &str) -> InterfaceInfo {
    let (ipv4, ipv6) = addresses_of(addrs, name);
    let dir = sys_dir(root, name);
    let mac = dir
        .as_ref()
        .and_then(|dir| linux::read_text(&dir.join("address")))
        .and_then(|text| linux::parse_mac(&text));
    let operstate = dir
        .as_ref()
        .and_then(|dir| linux::read_text(&dir.join("operstate")))
        .map_or(OperState::Unknown, |text| linux::parse_operstate(&text));
    let up = match operstate {
        OperState::Up => true,
        OperState::Unknown => !ipv4.is_empty() || !ipv6.is_empty(),
        OperState::Down => false,
    };
    InterfaceInfo {
        name: name.to_string(),
        ipv4,
        ipv6,
        mac,
        up,
    }
}

/// The state of a PPPoE or VPN link. It exists when sysfs has it or it has an address.
fn link_status(root: &Path, addrs: &[(String, IpAddr, u8)], name: &str) -> LinkStatus {
    let in_sysfs = sys_dir(root, name).is_some_and(|dir| dir.exists());
    let has_address = addrs.iter().any(|(interface, _, _)| interface == name);
    if !in_sysfs && !has_address {
        return LinkStatus {
            interface: name.to_string(),
            state: LinkState::Missing,
            address: None,
        };
    }
    let info = interface_info(root, addrs, name);
    let address = info
        .ipv4
        .first()
        .map(|net| IpAddr::V4(net.address))
        .or_else(|| {
            info.ipv6
                .iter()
                .find(|net| !net.address.is_unicast_link_local())
                .map(|net| IpAddr::V6(net.address))
        });
    LinkStatus {
        interface: name.to_string(),
        state: if info.up {
            LinkState::Up
        } else {
            LinkState::Down
        },
        address,
    }
}

/// The DNS servers: `etc/resolv.conf`'s, unless it only points at the systemd-resolved
/// stub (127.0.0.53 / 127.0.0.54), in which case the upstream servers resolved writes to
/// `run/systemd/resolve/resolv.conf` are more useful to an operator (when it has any).
fn dns_servers(root: &Path) -> Vec<IpAddr> {
    let servers = linux::read_text(&root.join("etc/resolv.conf"))
        .map(|text| linux::nameservers(&text))
        .unwrap_or_default();
    let stub = |address: &IpAddr| {
        *address == IpAddr::V4(Ipv4Addr::new(127, 0, 0, 53))
            || *address == IpAddr::V4(Ipv4Addr::new(127, 0, 0, 54))
    };
    if !servers.is_empty() && servers.iter().all(stub) {
        let upstream = linux::read_text(&root.join("run/systemd/resolve/resolv.conf"))
            .map(|text| linux::nameservers(&text))
            .unwrap_or_default();
        if !upstream.is_empty() {
            return upstream;
        }
    }
    servers
}

/// The host's interface addresses as `(interface, address, prefix length)`, from
/// `getifaddrs`. Empty if the call fails: the page then shows no addresses.
fn interface_addresses() -> Vec<(String, IpAddr, u8)> {
    let entries = match nix::ifaddrs::getifaddrs() {
        Ok(entries) => entries,
        Err(error) => {
            tracing::debug!(%error, "getifaddrs failed; no interface addresses");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let Some(address) = entry.address.as_ref() else {
            continue;
        };
        let netmask = entry.netmask.as_ref();
        if let Some(v4) = address.as_sockaddr_in() {
            let prefix_len = netmask
                .and_then(|mask| mask.as_sockaddr_in())
                .map_or(32, |mask| u32::from(mask.ip()).count_ones());
            out.push((
                entry.interface_name.clone(),
                IpAddr::V4(v4.ip()),
                u8::try_from(prefix_len).unwrap_or(32),
            ));
        } else if let Some(v6) = address.as_sockaddr_in6() {
            let prefix_len = netmask
                .and_then(|mask| mask.as_sockaddr_in6())
                .map_or(128, |mask| u128::from(mask.ip()).count_ones());
            out.push((
                entry.interface_name.clone(),
                IpAddr::V6(v6.ip()),
                u8::try_from(prefix_len).unwrap_or(128),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A directory laid out like `/`, removed when dropped.
    struct FakeHost {
        dir: tempfile::TempDir,
    }

    impl FakeHost {
        fn new() -> Self {
            FakeHost {
                dir: tempfile::tempdir().expect("temp dir"),
            }
        }

        fn root(&self) -> &Path {
            self.dir.path()
        }

        fn file(&self, relative: &str, text: &str) {
            let path = self.root().join(relative);
            fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
            fs::write(path, text).expect("write");
        }

        /// A sysfs entry for `name` with its `address` and `operstate` files.
        fn interface(&self, name: &str, mac: &str, operstate: &str) {
            self.file(
                &format!("sys/class/net/{name}/address"),
                &format!("{mac}\n"),
            );
            self.file(
                &format!("sys/class/net/{name}/operstate"),
                &format!("{operstate}\n"),
            );
        }

        /// `/proc/net/route` with its header and the given rows
        /// `(iface, destination, gateway, flags, metric, mask)`.
        fn routes(&self, rows: &[(&str, Ipv4Addr, Ipv4Addr, u32, u32, Ipv4Addr)]) {
            let mut text = String::from(
                "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n",
            );
            for (iface, destination, gateway, flags, metric, mask) in rows {
                text.push_str(&format!(
                    "{iface}\t{}\t{}\t{flags:04X}\t0\t0\t{metric}\t{}\t0\t0\t0\n",
                    route_hex(*destination),
                    route_hex(*gateway),
                    route_hex(*mask)
                ));
            }
            self.file("proc/net/route", &text);
        }
    }

    /// An address as this host's kernel prints it in `/proc/net/route`.
    fn route_hex(address: Ipv4Addr) -> String {
        let value = if cfg!(target_endian = "big") {
            u32::from_be_bytes(address.octets())
        } else {
            u32::from_le_bytes(address.octets())
        };
        format!("{value:08X}")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
        Ipv4Addr::new(a, b, c, d)
    }

    fn addr(interface: &str, address: &str, prefix_len: u8) -> (String, IpAddr, u8) {
        (interface.to_string(), ip(address), prefix_len)
    }

    const ANY: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

    #[test]
    fn f_5_2_2_9_gateway_from_default_route() {
        let host = FakeHost::new();
        host.routes(&[
            (
                "eth0",
                v4(192, 168, 1, 0),
                ANY,
                0x1,
                100,
                v4(255, 255, 255, 0),
            ),
            ("eth0", ANY, v4(192, 168, 1, 1), 0x3, 100, ANY),
        ]);
        let net = read_from(host.root(), &[], &HostNetworkConfig::default());
        assert_eq!(net.gateway, Some(ip("192.168.1.1")));
        assert_eq!(net.lan.as_ref().map(|lan| lan.name.as_str()), Some("eth0"));
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn f_5_2_2_9_gateway_decoded_from_kernel_hex() {
        let host = FakeHost::new();
        host.file(
            "proc/net/route",
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
             eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
             eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n",
        );
        let net = read_from(host.root(), &[], &HostNetworkConfig::default());
        assert_eq!(net.gateway, Some(ip("192.168.1.1")));
    }

    #[test]
    fn f_5_2_2_9_lowest_metric_default_route_wins() {
        let host = FakeHost::new();
        host.routes(&[
            ("wlan0", ANY, v4(10, 0, 0, 1), 0x3, 600, ANY),
            ("eth0", ANY, v4(192, 168, 1, 1), 0x3, 100, ANY),
            ("eth1", ANY, v4(172, 16, 0, 1), 0x3, 100, ANY),
            ("blackhole0", ANY, v4(10, 9, 9, 9), 0x203, 0, ANY),
        ]);
        let net = read_from(host.root(), &[], &HostNetworkConfig::default());
        assert_eq!(net.gateway, Some(ip("192.168.1.1")));
        assert_eq!(net.lan.as_ref().map(|lan| lan.name.as_str()), Some("eth0"));
    }

    #[test]
    fn f_5_2_2_9_no_default_route_no_gateway() {
        let host = FakeHost::new();
        host.routes(&[(
            "eth0",
            v4(192, 168, 1, 0),
            ANY,
            0x1,
            0,
            v4(255, 255, 255, 0),
        )]);
        let net = read_from(host.root(), &[], &HostNetworkConfig::default());
        assert_eq!(net.gateway, None);
        assert_eq!(
            net.lan, None,
            "no LAN configured and no default route to name one"
        );

        // A configured LAN is still described.
        host.interface("eth0", "52:54:00:12:34:56", "up");
        let cfg = HostNetworkConfig {
            lan_interface: Some("eth0".to_string()),
            ..Default::default()
        };
        let net = read_from(host.root(), &[addr("eth0", "192.168.1.20", 24)], &cfg);
        assert_eq!(net.gateway, None);
        let lan = net.lan.expect("configured LAN");
        assert_eq!(
            lan.ipv4,
            vec![Ipv4Net {
                address: v4(192, 168, 1, 20),
                prefix_len: 24
            }]
        );
        assert!(lan.up);
    }

    #[test]
    fn f_5_2_2_9_nothing_readable_nothing_shown() {
        let host = FakeHost::new();
        let net = read_from(host.root(), &[], &HostNetworkConfig::default());
        assert_eq!(
            net,
            HostNetwork {
                lan: None,
                pc: None,
                pppoe: None,
                gateway: None,
                dns: Vec::new(),
                vpn: None,
            }
        );
        host.file(
            "proc/net/route",
            "\u{0}\u{1}garbage\n\n\t\teth0\t00000000\n",
        );
        host.file("proc/net/ipv6_route", "zz zz zz\n");
        host.file("etc/resolv.conf", "nameserver\nnameserver ::g\n");
        let net = read_from(host.root(), &[], &HostNetworkConfig::default());
        assert_eq!((net.gateway, net.lan, net.dns), (None, None, Vec::new()));
    }

    #[test]
    fn f_5_2_2_9_ipv6_default_gateway_when_no_ipv4_one() {
        let host = FakeHost::new();
        host.routes(&[]);
        host.file(
            "proc/net/ipv6_route",
            "\
2001db80000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000003 00000000 00000003     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
",
        );
        let net = read_from(host.root(), &[], &HostNetworkConfig::default());
        assert_eq!(net.gateway, Some(ip("fe80::1")));
        assert_eq!(net.lan.as_ref().map(|lan| lan.name.as_str()), Some("eth0"));

        // With an IPv4 default route too, the IPv4 gateway is the one shown.
        host.routes(&[("eth0", ANY, v4(192, 168, 1, 1), 0x3, 0, ANY)]);
        let net = read_from(host.root(), &[], &HostNetworkConfig::default());
        assert_eq!(net.gateway, Some(ip("192.168.1.1")));
    }

    #[test]
    fn f_5_2_2_10_dns_from_resolv_conf() {
        let host = FakeHost::new();
        host.file(
            "etc/resolv.conf",
            "# written by dhclient\n\
             domain lan\n\
             nameserver 192.168.1.1\n\
             ;nameserver 10.1.1.1\n\
             nameserver 2001:4860:4860::8888   # google v6\n\
             nameserver fe80::1%eth0\n\
             nameserver 300.1.1.1\n\
             nameserver\n\
             \u{fffd}\u{0}junk\n\
             nameserver 192.168.1.1\n",
        );
        let net = read_from(host.root(), &[], &HostNetworkConfig::default());
        assert_eq!(
            net.dns,
            vec![ip("192.168.1.1"), ip("2001:4860:4860::8888"), ip("fe80::1")]
        );
    }

    #[test]
    fn f_5_2_2_10_dns_behind_systemd_resolved_stub_shows_upstreams() {
        let host = FakeHost::new();
        host.file(
            "etc/resolv.conf",
            "nameserver 127.0.0.53\noptions edns0 trust-ad\n",
        );
        let net = read_from(host.root(), &[], &HostNetworkConfig::default());
        assert_eq!(
            net.dns,
            vec![ip("127.0.0.53")],
            "no upstream file: the stub itself"
        );

        host.file(
            "run/systemd/resolve/resolv.conf",
            "# upstreams\nnameserver 9.9.9.9\nnameserver 2620:fe::fe\n",
        );
        let net = read_from(host.root(), &[], &HostNetworkConfig::default());
        assert_eq!(net.dns, vec![ip("9.9.9.9"), ip("2620:fe::fe")]);

        // A resolv.conf that names real servers is taken as it is.
        host.file(
            "etc/resolv.conf",
            "nameserver 127.0.0.53\nnameserver 1.1.1.1\n",
        );
        let net = read_from(host.root(), &[], &HostNetworkConfig::default());
        assert_eq!(net.dns, vec![ip("127.0.0.53"), ip("1.1.1.1")]);
    }

    #[test]
    fn f_5_2_2_5_lan_ip_addresses_from_default_route_interface() {
        let host = FakeHost::new();
        host.routes(&[("eth0", ANY, v4(192, 168, 1, 1), 0x3, 0, ANY)]);
        host.interface("eth0", "52:54:00:12:34:56", "up");
        let addrs = [
            addr("lo", "127.0.0.1", 8),
            addr("eth0", "192.168.1.20", 24),
            addr("eth0", "192.168.1.21", 32),
            addr("eth0", "192.168.1.20", 24),
            addr("eth0", "fe80::5054:ff:fe12:3456", 64),
            addr("eth0", "10.0.0.1", 99),
            addr("wlan0", "10.1.1.1", 24),
        ];
        let lan = read_from(host.root(), &addrs, &HostNetworkConfig::default())
            .lan
            .expect("LAN");
        assert_eq!(lan.name, "eth0");
        assert_eq!(
            lan.ipv4.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["192.168.1.20/24", "192.168.1.21/32", "10.0.0.1/32"]
        );
        assert_eq!(
            lan.ipv6.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["fe80::5054:ff:fe12:3456/64"]
        );
        assert!(lan.up);
    }

    #[test]
    fn f_5_2_2_6_lan_mac_and_operstate() {
        let host = FakeHost::new();
        host.interface("eth0", "52:54:00:AB:CD:EF", "up");
        let cfg = HostNetworkConfig {
            lan_interface: Some("eth0".to_string()),
            ..Default::default()
        };
        let with_address = [addr("eth0", "192.168.1.20", 24)];
        let lan = read_from(host.root(), &[], &cfg).lan.expect("LAN");
        assert_eq!(lan.mac.as_deref(), Some("52:54:00:ab:cd:ef"));
        assert!(lan.up, "operstate up is up even without an address");

        host.interface("eth0", "52:54:00:ab:cd:ef", "down");
        let lan = read_from(host.root(), &with_address, &cfg)
            .lan
            .expect("LAN");
        assert!(!lan.up, "operstate down is down even with an address");
        assert_eq!(lan.mac.as_deref(), Some("52:54:00:ab:cd:ef"));

        host.interface("eth0", "", "unknown");
        let lan = read_from(host.root(), &[], &cfg).lan.expect("LAN");
        assert!(!lan.up, "unknown without an address");
        assert_eq!(lan.mac, None, "empty address file");
        let lan = read_from(host.root(), &with_address, &cfg)
            .lan
            .expect("LAN");
        assert!(lan.up, "unknown with an address");

        host.interface("eth0", "not a mac", "lowerlayerdown");
        let lan = read_from(host.root(), &with_address, &cfg)
            .lan
            .expect("LAN");
        assert_eq!((lan.mac, lan.up), (None, false));
    }

    #[test]
    fn f_5_2_2_7_pc_port_only_when_configured() {
        let host = FakeHost::new();
        host.interface("eth1", "52:54:00:00:00:02", "up");
        let addrs = [addr("eth1", "192.168.8.1", 24)];
        let net = read_from(host.root(), &addrs, &HostNetworkConfig::default());
        assert_eq!(net.pc, None);

        let cfg = HostNetworkConfig {
            pc_interface: Some("eth1".to_string()),
            ..Default::default()
        };
        let pc = read_from(host.root(), &addrs, &cfg).pc.expect("PC port");
        assert_eq!(pc.name, "eth1");
        assert_eq!(
            pc.ipv4,
            vec![Ipv4Net {
                address: v4(192, 168, 8, 1),
                prefix_len: 24
            }]
        );
        assert_eq!(pc.mac.as_deref(), Some("52:54:00:00:00:02"));
        assert!(pc.up);

        // Configured but absent: named, down, nothing else.
        let cfg = HostNetworkConfig {
            pc_interface: Some("eth7".to_string()),
            ..Default::default()
        };
        let pc = read_from(host.root(), &addrs, &cfg).pc.expect("PC port");
        assert_eq!(
            pc,
            InterfaceInfo {
                name: "eth7".to_string(),
                ipv4: Vec::new(),
                ipv6: Vec::new(),
                mac: None,
                up: false,
            }
        );
    }

    #[test]
    fn f_5_2_2_8_pppoe_not_enabled_shows_nothing() {
        let host = FakeHost::new();
        host.interface("ppp0", "", "unknown");
        let addrs = [addr("ppp0", "100.64.1.2", 32)];
        let net = read_from(host.root(), &addrs, &HostNetworkConfig::default());
        assert_eq!((net.pppoe, net.vpn), (None, None));
    }

    #[test]
    fn f_5_2_2_8_pppoe_configured_but_missing() {
        let host = FakeHost::new();
        host.interface("eth0", "52:54:00:00:00:01", "up");
        let cfg = HostNetworkConfig {
            pppoe_interface: Some("ppp0".to_string()),
            ..Default::default()
        };
        let pppoe = read_from(host.root(), &[addr("eth0", "10.0.0.2", 24)], &cfg)
            .pppoe
            .expect("PPPoE configured");
        assert_eq!(
            pppoe,
            LinkStatus {
                interface: "ppp0".to_string(),
                state: LinkState::Missing,
                address: None,
            }
        );
        assert_eq!(pppoe.to_string(), "no such interface ppp0");
    }

    #[test]
    fn f_5_2_2_8_pppoe_up_and_down() {
        let host = FakeHost::new();
        host.interface("ppp0", "", "unknown");
        let cfg = HostNetworkConfig {
            pppoe_interface: Some("ppp0".to_string()),
            ..Default::default()
        };
        let pppoe = read_from(host.root(), &[addr("ppp0", "100.64.1.2", 32)], &cfg)
            .pppoe
            .expect("PPPoE configured");
        assert_eq!(pppoe.state, LinkState::Up);
        assert_eq!(pppoe.to_string(), "connected 100.64.1.2");

        // pppd has created the link but LCP/IPCP has not finished: no address yet.
        let pppoe = read_from(host.root(), &[], &cfg).pppoe.expect("PPPoE");
        assert_eq!(pppoe.state, LinkState::Down);
        assert_eq!(pppoe.to_string(), "down");

        host.interface("ppp0", "", "up");
        let pppoe = read_from(host.root(), &[], &cfg).pppoe.expect("PPPoE");
        assert_eq!((pppoe.state, pppoe.address), (LinkState::Up, None));
        assert_eq!(pppoe.to_string(), "up, no address");
    }

    #[test]
    fn f_5_2_2_11_vpn_up_with_address() {
        let host = FakeHost::new();
        host.interface("ppp1", "", "unknown");
        let addrs = [
            addr("eth0", "192.168.1.20", 24),
            addr("ppp1", "fe80::1234", 128),
            addr("ppp1", "10.64.0.5", 32),
        ];
        let cfg = HostNetworkConfig {
            vpn_interface: Some("ppp1".to_string()),
            ..Default::default()
        };
        let vpn = read_from(host.root(), &addrs, &cfg)
            .vpn
            .expect("VPN configured");
        assert_eq!(
            vpn,
            LinkStatus {
                interface: "ppp1".to_string(),
                state: LinkState::Up,
                address: Some(ip("10.64.0.5")),
            }
        );
        assert_eq!(vpn.to_string(), "connected 10.64.0.5");
    }

    #[test]
    fn f_5_2_2_11_vpn_ipv6_only_wireguard_and_down_link() {
        let host = FakeHost::new();
        host.interface("wg0", "", "unknown");
        let cfg = HostNetworkConfig {
            vpn_interface: Some("wg0".to_string()),
            ..Default::default()
        };
        let addrs = [addr("wg0", "fe80::1", 64), addr("wg0", "fd42::2", 64)];
        let vpn = read_from(host.root(), &addrs, &cfg).vpn.expect("VPN");
        assert_eq!(
            vpn.to_string(),
            "connected fd42::2",
            "link-local is skipped"
        );

        host.interface("wg0", "", "down");
        let vpn = read_from(host.root(), &addrs, &cfg).vpn.expect("VPN");
        assert_eq!(vpn.state, LinkState::Down);
        assert_eq!(vpn.to_string(), "down");

        // No sysfs at all (a container without /sys), but the address says it exists.
        let bare = FakeHost::new();
        let vpn = read_from(bare.root(), &[addr("wg0", "10.8.0.2", 24)], &cfg)
            .vpn
            .expect("VPN");
        assert_eq!(vpn.to_string(), "connected 10.8.0.2");
    }

    #[test]
    fn config_validate_rejects_bad_interface_names() {
        let good = HostNetworkConfig {
            lan_interface: Some("enp3s0".to_string()),
            pc_interface: Some("eth1".to_string()),
            pppoe_interface: Some("ppp0".to_string()),
            vpn_interface: Some("wg0".to_string()),
        };
        assert_eq!(good.validate(), Ok(()));
        assert_eq!(HostNetworkConfig::default().validate(), Ok(()));

        type Field = fn(&mut HostNetworkConfig) -> &mut Option<String>;
        let cases: [(&str, Field); 4] = [
            ("network.lan_interface", |c| &mut c.lan_interface),
            ("network.pc_interface", |c| &mut c.pc_interface),
            ("network.pppoe_interface", |c| &mut c.pppoe_interface),
            ("network.vpn_interface", |c| &mut c.vpn_interface),
        ];
        for (key, field) in cases {
            for bad in [
                "",
                "../../etc",
                "eth0/..",
                "wg 0",
                "tun0\n",
                "averyveryverylongname",
                "..",
            ] {
                let mut cfg = good.clone();
                *field(&mut cfg) = Some(bad.to_string());
                let error = cfg.validate().expect_err(bad);
                assert!(error.starts_with(&format!("{key}: ")), "{error}");
            }
        }
    }

    #[test]
    fn invalid_configured_name_never_becomes_a_path() {
        let host = FakeHost::new();
        // What `sys/class/net/../x` would reach if the name were used as given.
        host.file("sys/class/x/operstate", "up\n");
        host.file("sys/class/x/address", "52:54:00:00:00:09\n");
        host.file("sys/class/net/.keep", "");
        let cfg = HostNetworkConfig {
            lan_interface: Some("../x".to_string()),
            vpn_interface: Some("../x".to_string()),
            ..Default::default()
        };
        let net = read_from(host.root(), &[], &cfg);
        let lan = net.lan.expect("configured LAN");
        assert_eq!((lan.mac, lan.up), (None, false));
        assert_eq!(net.vpn.map(|vpn| vpn.state), Some(LinkState::Missing));
    }

    #[test]
    fn config_from_toml_denies_unknown_keys() {
        let cfg: HostNetworkConfig =
            toml::from_str("lan_interface = \"eth0\"\nvpn_interface = \"wg0\"\n").expect("parses");
        assert_eq!(cfg.lan_interface.as_deref(), Some("eth0"));
        assert_eq!(cfg.pc_interface, None);
        assert_eq!(cfg.pppoe_interface, None);
        assert_eq!(cfg.vpn_interface.as_deref(), Some("wg0"));
        let error =
            toml::from_str::<HostNetworkConfig>("lan = \"eth0\"\n").expect_err("unknown key");
        assert!(error.to_string().contains("lan"), "{error}");
    }

    #[test]
    fn live_host_read_is_robust() {
        let net = read(&HostNetworkConfig::default());
        let route = fs::read_to_string("/proc/net/route").unwrap_or_default();
        let has_default = route.lines().skip(1).any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() >= 8
                && fields[1] == "00000000"
                && fields[7] == "00000000"
                && u32::from_str_radix(fields[3], 16)
                    .is_ok_and(|flags| flags & 0x2 != 0 && flags & 0x200 == 0)
        });
        if has_default {
            assert!(matches!(net.gateway, Some(IpAddr::V4(_))), "{net:?}");
            assert!(net.lan.is_some(), "{net:?}");
        }
        assert_eq!((net.pc, net.pppoe, net.vpn), (None, None, None));

        let cfg = HostNetworkConfig {
            lan_interface: Some("lo".to_string()),
            pppoe_interface: Some("cgnoppp9".to_string()),
            ..Default::default()
        };
        let net = read(&cfg);
        let lo = net.lan.expect("configured LAN");
        if Path::new("/sys/class/net/lo").exists() {
            assert!(
                lo.ipv4.iter().all(|net| net.address.is_loopback()),
                "{lo:?}"
            );
            assert_eq!(lo.mac, None, "loopback has an all-zero MAC");
        }
        assert_eq!(net.pppoe.map(|p| p.state), Some(LinkState::Missing));
    }
}
