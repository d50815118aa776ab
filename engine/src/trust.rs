//! Who may make the gateway place GSM calls (F-6.4.9, F-6.3.23 and the toll-fraud
//! defaults).
//!
//! GSM gateways are scanned for by toll fraudsters, so the default for real hardware is
//! to accept nobody until the operator configures trust. Digest authentication of
//! INVITEs (F-6.4.9 modes "password" and "password + address") is configured beside
//! this, in [`crate::gateway::InboundDigest`].

use std::net::IpAddr;
use std::str::FromStr;

/// An IPv4 address with optional wildcard octets, the manual's range form
/// `192.168.1.X` (`X` or `x`: any value 0-255, F-6.3.23), or an exact IPv6 address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressPattern {
    /// Four octets, `None` = any.
    V4([Option<u8>; 4]),
    /// Exact IPv6 address.
    V6(std::net::Ipv6Addr),
}

impl AddressPattern {
    /// Whether `ip` matches.
    pub fn matches(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (AddressPattern::V4(octets), IpAddr::V4(v4)) => octets
                .iter()
                .zip(v4.octets())
                .all(|(want, got)| want.is_none_or(|w| w == got)),
            (AddressPattern::V6(want), IpAddr::V6(got)) => *want == got,
            _ => false,
        }
    }
}

impl FromStr for AddressPattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(v6) = s.parse::<std::net::Ipv6Addr>() {
            return Ok(AddressPattern::V6(v6));
        }
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() != 4 {
            return Err(format!(
                "{s:?} is not an address or a range like 192.168.1.X"
            ));
        }
        let mut octets = [None; 4];
        for (slot, part) in octets.iter_mut().zip(parts) {
            *slot = if part.eq_ignore_ascii_case("x") {
                None
            } else {
                Some(
                    part.parse::<u8>()
                        .map_err(|_| format!("{s:?}: {part:?} is neither 0-255 nor X"))?,
                )
            };
        }
        Ok(AddressPattern::V4(octets))
    }
}

/// Which SIP sources may place calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundTrust {
    /// Nobody: the default of `cellgate run` until trust is configured.
    DenyAll,
    /// Loopback sources only: the sandbox mode of `cellgate simulate`.
    LoopbackOnly,
    /// Listed source addresses only.
    Addresses(Vec<IpAddr>),
    /// Addresses or ranges (`192.168.1.X`), e.g. trunk Gateway1/2/3 (F-6.3.22, F-6.3.23).
    Patterns(Vec<AddressPattern>),
    /// Any source. Only by explicit configuration (F-6.4.9 "none", or "password" where
    /// digest authentication does the checking).
    Anyone,
}

impl InboundTrust {
    /// Whether a request from `source` may place a call.
    pub fn allows(&self, source: IpAddr) -> bool {
        match self {
            InboundTrust::DenyAll => false,
            InboundTrust::LoopbackOnly => source.is_loopback(),
            InboundTrust::Addresses(list) => list.contains(&source),
            InboundTrust::Patterns(list) => list.iter().any(|p| p.matches(source)),
            InboundTrust::Anyone => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_all_denies_loopback_and_sandbox_denies_remote() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let remote: IpAddr = "203.0.113.9".parse().unwrap();
        assert!(!InboundTrust::DenyAll.allows(lo));
        assert!(InboundTrust::LoopbackOnly.allows(lo));
        assert!(!InboundTrust::LoopbackOnly.allows(remote));
        assert!(InboundTrust::Addresses(vec![remote]).allows(remote));
        assert!(!InboundTrust::Addresses(vec![remote]).allows(lo));
    }

    #[test]
    fn manual_range_form_matches_any_last_octet() {
        let p: AddressPattern = "192.168.1.X".parse().unwrap();
        assert!(p.matches("192.168.1.0".parse().unwrap()));
        assert!(p.matches("192.168.1.255".parse().unwrap()));
        assert!(!p.matches("192.168.2.1".parse().unwrap()));
        assert!(!p.matches("::1".parse().unwrap()));
        let trust = InboundTrust::Patterns(vec!["10.x.0.1".parse().unwrap(), p]);
        assert!(trust.allows("10.99.0.1".parse().unwrap()));
        assert!(!trust.allows("10.99.0.2".parse().unwrap()));
        assert!("192.168.1".parse::<AddressPattern>().is_err());
        assert!("192.168.1.300".parse::<AddressPattern>().is_err());
        assert!("192.168.1.Y".parse::<AddressPattern>().is_err());
    }
}
