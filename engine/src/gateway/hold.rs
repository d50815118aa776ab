//! re-INVITE in a VoIP -> GSM dialog: hold and resume. The answer mirrors the offered
//! direction (`sendonly` -> `recvonly`, RFC 3264 §8.4); a re-INVITE while another is
//! pending gets 491.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use tracing::info;

use super::headers::contact;
use super::Gateway;
use crate::call::{CallPhase, CallRef};
use crate::sip::message::{CoreHeaders, Request};
use crate::sip::sdp;
use crate::sip::uas::InviteServer;

impl Gateway {
    /// A re-INVITE in a VoIP -> GSM dialog: hold / resume. The answer mirrors the offered
    /// direction (`sendonly` -> `recvonly`, RFC 3264 §8.4).
    pub(super) fn handle_reinvite(
        &mut self,
        now: Instant,
        source: SocketAddr,
        id: CallRef,
        request: Request,
        core: CoreHeaders,
    ) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if let Some(re) = call.reinvite.as_ref() {
            if re.branch() == core.branch() {
                if let Some(bytes) = re.on_invite_retransmission() {
                    self.transmit(source, bytes);
                }
                return;
            }
        }
        let connected = call.phase == CallPhase::Connected;
        let tag = call.sip.local_tag().to_owned();
        let mut server =
            InviteServer::new(request.clone(), core, tag, source, self.config.timers, 0);
        if !connected || call.reinvite.is_some() {
            // RFC 3261 §14.2: an INVITE while another is pending gets 491.
            let bytes = server.respond(now, 491, None, None);
            self.transmit(source, bytes);
            return;
        }
        let offer = if request.body.is_empty() {
            Ok(call.offer.clone())
        } else {
            sdp::accept_offer_with(&request.body, &self.config.media.codecs)
        };
        let offer = match offer {
            Ok(o) => o,
            Err(e) => {
                info!(call = id.0, error = %e, "re-INVITE with unacceptable SDP");
                let bytes = server.respond(now, 488, None, None);
                self.transmit(source, bytes);
                return;
            }
        };
        let offered = sdp::direction(&request.body);
        let direction = sdp::answer_direction(offered);
        let port = call.media_port;
        let ip = self.config.public_addr.ip();
        let contact_uri = contact(&self.config, &call.number);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.sdp.1 = call.sdp.1.wrapping_add(1);
        call.held = matches!(offered, "sendonly" | "inactive");
        call.offer = offer;
        info!(
            call = id.0,
            held = call.held,
            "re-INVITE answered {direction}"
        );
        let body =
            sdp::answer_with_direction(&call.offer, ip, port, call.sdp.0, call.sdp.1, direction);
        let bytes = server.respond(
            now,
            200,
            Some(&contact_uri),
            Some(("application/sdp", Bytes::from(body))),
        );
        call.reinvite = Some(server);
        let remote = call
            .offer
            .remote_rtp
            .map(|(ip, port)| SocketAddr::new(ip, port));
        let send = !call.held;
        self.transmit(source, bytes);
        if self.media.contains_key(&id) {
            self.output.push_back(super::Output::MediaUpdate {
                call: id,
                remote,
                send,
            });
        }
    }
}
