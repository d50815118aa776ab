//! Calls: VoIP -> GSM (the SIP leg an [`InviteServer`]) and GSM -> VoIP (the SIP leg an
//! [`InviteClient`]), each bound to a GSM leg on a line.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use cellgate_hal::{CallIndex, LineId};

use crate::sip::digest::DigestClient;
use crate::sip::sdp::AcceptedOffer;
use crate::sip::uac::InviteClient;
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
    /// A re-INVITE (hold / resume) being answered.
    pub reinvite: Option<InviteServer>,
    /// SDP session id and version of our answers.
    pub sdp: (u32, u32),
    /// The caller put the call on hold (its last offer was `sendonly` or `inactive`).
    pub held: bool,
    /// Our RTP port for this call (0 for refused INVITEs).
    pub media_port: u16,
    /// Policy bookkeeping of the GSM leg (routing, timers, accounting).
    pub gsm: GsmLeg,
}

/// What the policies track about the GSM leg of a VoIP -> GSM call.
#[derive(Debug, Clone, Default)]
pub struct GsmLeg {
    /// The SIP caller (From user).
    pub caller: String,
    /// The callee as requested (before dial rules), for redials and call memory.
    pub requested: String,
    /// The far end rang at some point.
    pub alerted: bool,
    /// The attempt was recorded in the CDR.
    pub accounted: bool,
    /// F-6.6.4: hang up unless ringing by then.
    pub ring_deadline: Option<Instant>,
    /// F-6.6.3: hang up unless answered by then.
    pub answer_deadline: Option<Instant>,
    /// F-6.10.16 / F-6.10.18: hang up a connected call at this time.
    pub hangup_at: Option<Instant>,
    /// `M1:` mode: DTMF to send once connected, and when.
    pub then_dtmf: Option<(String, Option<Instant>)>,
    /// F-6.6.1: redials left.
    pub redials_left: u8,
    /// The line came from call memory.
    pub from_memory: bool,
    /// Release cause from the network.
    pub cause: Option<u8>,
    /// The SIP leg was answered before the GSM leg (two-stage dialling or password):
    /// GSM progress is not signalled on the SIP side, and a GSM failure ends the call
    /// with BYE.
    pub two_stage: bool,
    /// Digits being collected before dialling.
    pub(crate) collect: Option<crate::gateway::Collector>,
}

impl OutboundCall {
    /// Whether nothing remains to be done for this call.
    pub fn finished(&self) -> bool {
        self.gsm_done && self.sip_done
    }

    /// Whether the SIP caller still waits for a final answer.
    pub fn unanswered(&self) -> bool {
        matches!(self.phase, CallPhase::Dialing | CallPhase::Alerting) && !self.gsm.two_stage
    }
}

/// Where a GSM -> VoIP call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundPhase {
    /// INVITE sent, no final answer yet.
    Calling,
    /// 2xx received, ACKed, module answered.
    Connected,
    /// Over on the SIP side or being torn down.
    Ending,
}

/// State of one GSM -> VoIP call.
#[derive(Debug)]
pub struct InboundCall {
    /// Handle.
    pub id: CallRef,
    /// Line where the GSM call rings.
    pub line: LineId,
    /// GSM caller number, if presented.
    pub caller: Option<String>,
    /// The INVITE client transaction (replaced when re-sent with credentials).
    pub invite: InviteClient,
    /// Call-ID.
    pub call_id: String,
    /// Our From tag.
    pub local_tag: String,
    /// The callee's To tag, once known.
    pub remote_tag: Option<String>,
    /// Where in-dialog requests go (the callee's Contact), once known.
    pub remote_target: Option<String>,
    /// Route set (Record-Route of the 2xx, reversed).
    pub route: Vec<String>,
    /// Last CSeq number used.
    pub cseq: u32,
    /// Next hop for every request.
    pub next_hop: SocketAddr,
    /// Phase.
    pub phase: InboundPhase,
    /// The ACK of the 2xx (resent when the 2xx is retransmitted).
    pub ack: Option<Bytes>,
    /// Credentials for a challenge, used at most once.
    pub auth: Option<DigestClient>,
    /// The GSM leg is gone.
    pub gsm_done: bool,
    /// The SIP leg is finished.
    pub sip_done: bool,
    /// Our RTP port for this call.
    pub media_port: u16,
    /// The GSM caller left before any provisional response: CANCEL as soon as one
    /// arrives (RFC 3261 §9.1 forbids it earlier).
    pub cancel_pending: bool,
    /// re-INVITEs from the SIP side (hold / resume).
    pub hold: InboundHold,
    /// When the GSM call rang.
    pub started: Instant,
    /// When the SIP callee answered.
    pub answered: Option<Instant>,
    /// The call was recorded.
    pub accounted: bool,
    /// The GSM call was answered before the INVITE (two-stage dialling).
    pub pre_answered: bool,
    /// Module index of the GSM call, when reported.
    pub gsm_index: Option<CallIndex>,
}

/// re-INVITE state of a GSM -> SIP dialog.
#[derive(Debug, Default)]
pub struct InboundHold {
    /// The re-INVITE being answered (its 2xx retransmitted until the ACK).
    pub reinvite: Option<InviteServer>,
    /// Whether the SIP side holds the call.
    pub held: bool,
    /// Version of our SDP, raised with each answer.
    pub version: u32,
}

impl InboundCall {
    /// Whether nothing remains to be done for this call.
    pub fn finished(&self) -> bool {
        self.gsm_done && self.sip_done
    }
}
