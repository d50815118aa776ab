//! SIP signalling: message framing, transactions, dialogs, SDP — all sans-IO.

pub mod digest;
pub mod ids;
pub mod message;
pub mod register;
pub mod registrar;
pub mod sdp;
pub mod timers;
pub mod uac;
pub mod uas;

pub use message::{CoreHeaders, Message, MessageError, Request, Response};
pub use timers::SipTimers;
