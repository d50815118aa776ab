//! Header values the gateway writes into its own messages.

use std::net::SocketAddr;

use ezk_sip_types::uri::SipUri;

use super::GatewayConfig;
use crate::sip::message::{CoreHeaders, Request};

/// Methods the gateway answers.
pub(super) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, MESSAGE";

/// The Contact the gateway puts in its responses.
pub(super) fn contact(config: &GatewayConfig, number: &str) -> SipUri {
    uri_or(
        &format!("sip:{number}@{}", config.public_addr),
        config.public_addr,
    )
}

/// The `Via` of a request the gateway sends from `public`.
pub(super) fn via(public: SocketAddr, branch: &str) -> String {
    format!("SIP/2.0/UDP {public};branch={branch};rport")
}

/// The branch of a request built elsewhere (empty when its Via has none).
pub(super) fn branch_of(request: &Request) -> String {
    CoreHeaders::decode(&request.headers)
        .ok()
        .and_then(|c| c.branch().map(str::to_owned))
        .unwrap_or_default()
}

/// `uri` as a SIP URI, or the bare address `fallback` when it does not parse.
pub(super) fn uri_or(uri: &str, fallback: SocketAddr) -> SipUri {
    uri.parse::<SipUri>()
        .unwrap_or_else(|_| SipUri::new(ezk_sip_types::host::HostPort::from(fallback)))
}
