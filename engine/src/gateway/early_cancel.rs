//! CANCEL of a GSM -> SIP INVITE whose GSM caller hung up before the answer. RFC 3261
//! §9.1: a CANCEL must not be sent before a provisional response, so before one it is
//! only remembered and sent when the first 1xx arrives; a 2xx instead is ACKed and the
//! dialog ended with BYE, and an INVITE that times out (or is refused) just ends.

use std::time::Instant;

use ezk_sip_types::{Method, Name};
use tracing::info;

use super::client_transactions::Purpose;
use super::Gateway;
use crate::call::CallRef;
use crate::sip::message::Request;
use crate::sip::uac::InviteClientState;

impl Gateway {
    /// Cancels the INVITE of call `id` now, or once a provisional response arrives.
    pub(super) fn cancel_inbound_invite(&mut self, now: Instant, id: CallRef) {
        let Some(call) = self.inbound.get_mut(&id) else {
            return;
        };
        if call.invite.state() == InviteClientState::Calling {
            info!(
                call = id.0,
                "GSM caller hung up before any provisional: CANCEL held back"
            );
            call.cancel_pending = true;
            return;
        }
        // Same branch, Request-URI, Call-ID, From, To and CSeq number as the INVITE.
        info!(call = id.0, "GSM caller hung up before answer: CANCEL");
        let invite = call.invite.invite().clone();
        let mut cancel = Request::new(Method::CANCEL, invite.uri.clone());
        for name in [Name::VIA, Name::FROM, Name::TO, Name::CALL_ID, Name::ROUTE] {
            let _ = invite.headers.clone_into(&mut cancel.headers, name);
        }
        cancel
            .headers
            .insert(Name::CSEQ, format!("{} CANCEL", call.cseq));
        cancel.headers.insert(Name::MAX_FORWARDS, "70");
        let branch = call.invite.branch.clone();
        let to = call.next_hop;
        // The 487 (or a late 2xx) still arrives on the INVITE transaction.
        self.start_client_transaction(now, &cancel, branch, to, Purpose::InboundCancel(id));
    }
}
