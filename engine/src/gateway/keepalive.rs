//! F-6.4.12: periodic keep-alives toward configured peers, as `OPTIONS` or as an empty
//! CRLF CRLF datagram (RFC 5626).

use std::time::Instant;

use bytes::Bytes;
use ezk_sip_types::uri::SipUri;
use ezk_sip_types::Method;

use super::client_transactions::Purpose;
use super::Gateway;

impl Gateway {
    /// The first keep-alive of each peer is due one interval after start.
    pub(super) fn start_keepalives(&mut self, now: Instant) {
        for (due, ka) in self.keepalive_due.iter_mut().zip(&self.config.keepalives) {
            *due = Some(now + ka.interval);
        }
    }

    /// Sends the keep-alives due at `now`.
    pub(super) fn keepalive_timeouts(&mut self, now: Instant) {
        for i in 0..self.keepalive_due.len() {
            let Some(due) = self.keepalive_due[i] else {
                continue;
            };
            if now < due {
                continue;
            }
            let ka = self.config.keepalives[i].clone();
            self.keepalive_due[i] = Some(now + ka.interval);
            if !ka.options {
                self.transmit(ka.target, Bytes::from_static(b"\r\n\r\n"));
                continue;
            }
            let uri = SipUri::new(ezk_sip_types::host::HostPort::from(ka.target));
            let to = format!("<sip:{}>", ka.target);
            let (req, branch) = self.out_of_dialog_request(Method::OPTIONS, uri, "cellgate", to);
            self.start_client_transaction(now, &req, branch, ka.target, Purpose::KeepAlive);
        }
    }
}
