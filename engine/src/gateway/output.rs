//! What the core asks its shell to do: send a datagram, run a module command, hand on a
//! SIP MESSAGE or report the outcome of one.

use std::net::SocketAddr;

use bytes::Bytes;
use cellgate_hal::LineId;

use crate::call::CallRef;

/// A module operation the shell must run on a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModemCommand {
    /// Place a voice call.
    Dial(String),
    /// Release every call on the module.
    HangUp,
    /// Answer the ringing incoming call.
    Answer,
    /// Send a DTMF digit in the call (`AT+VTS`).
    SendDtmf(char),
}

/// What the shell must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send a datagram.
    Transmit {
        /// Destination.
        to: SocketAddr,
        /// Payload.
        payload: Bytes,
    },
    /// Run a module command and report its result with
    /// [`super::Gateway::handle_command_result`].
    Modem {
        /// Line to run it on.
        line: LineId,
        /// Call it belongs to (echoed back with the result).
        call: Option<CallRef>,
        /// The operation.
        command: ModemCommand,
    },
    /// A SIP MESSAGE arrived (Appendix H; the SMS layer consumes it). It was answered 200.
    Message {
        /// Source address.
        source: SocketAddr,
        /// Request-URI user (the gateway account or, with F-H.3, the destination).
        uri_user: Option<String>,
        /// `To` user.
        to_user: Option<String>,
        /// `From` user.
        from_user: Option<String>,
        /// Call-ID (F-H.5 reports quote it).
        call_id: String,
        /// Content type.
        content_type: Option<String>,
        /// Body.
        body: Bytes,
    },
    /// A MESSAGE sent with [`super::Gateway::send_message`] finished.
    MessageOutcome {
        /// The id `send_message` returned.
        id: u64,
        /// Final status, or `None` when the peer never answered.
        status: Option<u16>,
    },
}
