//! One VoIP -> GSM call: the SIP leg (an [`InviteServer`]) bound to a GSM leg on a line.

use std::time::Instant;

use cellgate_hal::{CallIndex, LineId};

use crate::sip::sdp::AcceptedOffer;
use crate::sip::uas::{ClientRequest, InviteServer};

/// Engine-wide handle of a call, stable for its lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallRef(pub u64);

/// Where a VoIP -> GSM call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPhase {
    /// `ATD` issued, far end not yet ringing.
    Dialing,
    /// The GSM callee's phone rings.
    Alerting,
    /// Both legs up.
    Connected,
    /// The call is over on the SIP side; waiting for the last confirmations
    /// (ACK of a failure, answer to our BYE, the modem's hang-up).
    Ending,
}

/// State of one outbound call.
#[derive(Debug)]
pub struct OutboundCall {
    /// Handle.
    pub id: CallRef,
    /// The line carrying the GSM leg.
    pub line: LineId,
    /// Dialled number.
    pub number: String,
    /// SIP server transaction and dialog.
    pub sip: InviteServer,
    /// Negotiated media.
    pub offer: AcceptedOffer,
    /// Module call index once known.
    pub gsm_index: Option<CallIndex>,
    /// Phase.
    pub phase: CallPhase,
    /// The GSM leg is gone (released by the network or hung up by us).
    pub gsm_done: bool,
    /// The SIP leg is finished (failure acknowledged, BYE answered, or given up).
    pub sip_done: bool,
    /// F-6.4.18: when an unanswered call is abandoned with 408.
    pub no_answer_deadline: Instant,
    /// Our BYE, while it awaits an answer.
    pub bye: Option<ClientRequest>,
    /// When the INVITE arrived.
    pub started: Instant,
    /// When the GSM callee answered.
    pub answered: Option<Instant>,
}

impl OutboundCall {
    /// Whether nothing remains to be done for this call.
    pub fn finished(&self) -> bool {
        self.gsm_done && self.sip_done
    }

    /// Whether the call still waits for the GSM callee to answer.
    pub fn unanswered(&self) -> bool {
        matches!(self.phase, CallPhase::Dialing | CallPhase::Alerting)
    }
}
