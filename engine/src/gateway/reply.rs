//! How requests are answered: where responses go (F-6.4.7) and the cache that answers
//! retransmitted non-INVITE requests.

use std::net::SocketAddr;
use std::time::Instant;

use ezk_sip_types::Name;

use super::{Gateway, ReplyPath};
use crate::sip::message::{CoreHeaders, Request, Response};

impl Gateway {
    /// F-6.4.7: where responses to a request from `source` go.
    pub(super) fn reply_target(&self, source: SocketAddr, core: &CoreHeaders) -> SocketAddr {
        if self.config.reply_path == ReplyPath::Source {
            return source;
        }
        let via = &core.via;
        let received = via
            .params
            .get_val("received")
            .and_then(|r| r.as_str().parse::<std::net::IpAddr>().ok());
        let rport = via
            .params
            .get_val("rport")
            .and_then(|p| p.as_str().parse::<u16>().ok());
        let host = received.or(match &via.sent_by.host {
            ezk_sip_types::host::Host::IP4(ip) => Some(std::net::IpAddr::V4(*ip)),
            ezk_sip_types::host::Host::IP6(ip) => Some(std::net::IpAddr::V6(*ip)),
            ezk_sip_types::host::Host::Name(_) => None,
        });
        match host {
            Some(ip) => SocketAddr::new(ip, rport.or(via.sent_by.port).unwrap_or(5060)),
            None => source,
        }
    }

    /// Sends the answer to a non-INVITE request and keeps it for retransmissions of the
    /// request until the transaction would have timed out.
    pub(super) fn reply_non_invite(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
        core: &CoreHeaders,
        mut response: Response,
    ) {
        response
            .headers
            .insert(Name::SERVER, self.config.user_agent.clone());
        let bytes = response.to_bytes();
        if let Some(branch) = core.branch() {
            self.responses.insert(
                branch,
                &request.method,
                bytes.clone(),
                now + self.config.timers.transaction_timeout(),
            );
        }
        self.transmit(source, bytes);
    }
}
