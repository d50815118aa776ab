//! Who may make the gateway place GSM calls (F-6.4.9 and the toll-fraud defaults).
//!
//! GSM gateways are scanned for by toll fraudsters, so the default for real hardware is
//! to accept nobody until the operator configures trust.

use std::net::IpAddr;

/// Which SIP sources may place calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundTrust {
    /// Nobody: the default of `cellgate run` until trust is configured.
    DenyAll,
    /// Loopback sources only: the sandbox mode of `cellgate simulate`.
    LoopbackOnly,
    /// Listed source addresses only.
    Addresses(Vec<IpAddr>),
}

impl InboundTrust {
    /// Whether a request from `source` may place a call.
    pub fn allows(&self, source: IpAddr) -> bool {
        match self {
            InboundTrust::DenyAll => false,
            InboundTrust::LoopbackOnly => source.is_loopback(),
            InboundTrust::Addresses(list) => list.contains(&source),
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
}
