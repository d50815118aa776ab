//! re-INVITE in a GSM -> SIP dialog (the SIP callee holds or resumes the call), the
//! mirror of `hold.rs`: the answer takes the offered codec and mirrors its direction
//! (`sendonly` -> `recvonly`, RFC 3264 §8.4) with our session id and a raised version;
//! a re-INVITE before the call is connected or while another is pending gets 491, an
//! unusable or missing offer 488; the 2xx is retransmitted until its ACK.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use tracing::info;

use super::headers::contact;
use super::{Gateway, Output};
use crate::call::{CallRef, InboundPhase};
use crate::sip::message::{CoreHeaders, Request};
use crate::sip::sdp;
use crate::sip::uas::{InviteServer, TimerOutcome};

/// The session id of the `o=` line of our SDP `body`.
fn session_id(body: &[u8]) -> u32 {
    std::str::from_utf8(body)
        .ok()
        .and_then(|text| text.lines().find_map(|l| l.strip_prefix("o=")))
        .and_then(|o| o.split_whitespace().nth(1))
        .and_then(|id| id.parse().ok())
        .unwrap_or(0)
}

impl Gateway {
    /// An INVITE in the dialog of GSM -> SIP call `id` (a re-INVITE, or a
    /// retransmission of the one being answered).
    pub(super) fn handle_inbound_reinvite(
        &mut self,
        now: Instant,
        source: SocketAddr,
        id: CallRef,
        request: Request,
        core: CoreHeaders,
    ) {
        let timers = self.config.timers;
        let codecs = self.config.media.codecs.clone();
        let ip = self.config.public_addr.ip();
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        if let Some(re) = call.hold.reinvite.as_ref() {
            if re.branch() == core.branch() {
                if let Some(bytes) = re.on_invite_retransmission() {
                    self.transmit(source, bytes);
                }
                return;
            }
        }
        let connected = call.phase == InboundPhase::Connected;
        let tag = call.local_tag.clone();
        let mut server = InviteServer::new(request.clone(), core, tag, source, timers, 0);
        if !connected || call.hold.reinvite.is_some() {
            // RFC 3261 §14.2: an INVITE while another is pending gets 491.
            let bytes = server.respond(now, 491, None, None);
            self.transmit(source, bytes);
            return;
        }
        let offer = match sdp::accept_offer_with(&request.body, &codecs) {
            Ok(offer) => offer,
            Err(e) => {
                // An offer-less re-INVITE would need our offer in the 2xx: not supported.
                info!(call = id.0, error = %e, "re-INVITE in a GSM -> SIP call: no usable offer");
                let bytes = server.respond(now, 488, None, None);
                self.transmit(source, bytes);
                return;
            }
        };
        let offered = sdp::direction(&request.body);
        let direction = sdp::answer_direction(offered);
        let session = session_id(&call.invite.invite().body);
        call.hold.version = call.hold.version.max(session).wrapping_add(1);
        call.hold.held = matches!(offered, "sendonly" | "inactive");
        info!(
            call = id.0,
            held = call.hold.held,
            "re-INVITE in a GSM -> SIP call answered {direction}"
        );
        let body = sdp::answer_with_direction(
            &offer,
            ip,
            call.media_port,
            session,
            call.hold.version,
            direction,
        );
        let local_user = self
            .config
            .forward
            .get(&call.line)
            .map(|f| f.local_user.clone())
            .unwrap_or_default();
        let contact_uri = contact(&self.config, &local_user);
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        let bytes = server.respond(
            now,
            200,
            Some(&contact_uri),
            Some(("application/sdp", Bytes::from(body))),
        );
        call.hold.reinvite = Some(server);
        let send = !call.hold.held;
        self.transmit(source, bytes);
        if self.media.contains_key(&id) {
            let remote = offer.remote_rtp.map(|(ip, port)| SocketAddr::new(ip, port));
            self.output.push_back(Output::MediaUpdate {
                call: id,
                remote,
                send,
            });
        }
    }

    /// The ACK of a re-INVITE answered in a GSM -> SIP dialog; `false` when it is not one.
    pub(super) fn inbound_reinvite_acked(&mut self, core: &CoreHeaders) -> bool {
        let Some(id) = self.inbound_by_call_id(core.call_id.0.as_str()) else {
            return false;
        };
        let Some(call) = self.inbound.get_mut(&id) else {
            return false;
        };
        match call.hold.reinvite.as_mut() {
            Some(re) if re.cseq() == core.cseq.cseq => {
                re.on_ack();
                call.hold.reinvite = None;
                true
            }
            _ => false,
        }
    }

    /// 2xx retransmissions of re-INVITEs in GSM -> SIP dialogs.
    pub(super) fn inbound_reinvite_timeouts(&mut self, now: Instant) {
        let mut sends = Vec::new();
        for call in self.inbound.values_mut() {
            let Some(re) = call.hold.reinvite.as_mut() else {
                continue;
            };
            match re.handle_timeout(now) {
                TimerOutcome::Retransmit(bytes) => sends.push((re.reply_to(), bytes)),
                TimerOutcome::GaveUp => call.hold.reinvite = None,
                TimerOutcome::Idle => {}
            }
        }
        for (to, bytes) in sends {
            self.transmit(to, bytes);
        }
    }
}
