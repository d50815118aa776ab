//! A second GSM call on a line in a call (F-6.8.13 to F-6.8.16). The line has one audio
//! path and one SIP dialog: the VoIP party talks to whichever GSM call is active, so the
//! modes only decide which GSM call that is:
//!
//! - off: the waiting call is rejected (user busy; with busy forwarding the network moves
//!   it on, which group mode relies on);
//! - mode 1: hold the current call and take the new one; when the new one ends the held
//!   one resumes;
//! - mode 2: the VoIP party hears a call-waiting tone and keys `32` (swap / take the new
//!   call) or `31` (end the current call and take the other);
//! - mode 3: take the new call and two seconds later swap back to the first.
//!
//! When either GSM call ends, the dialog goes on with the other; only the last one's end
//! ends the SIP call.

use std::time::{Duration, Instant};

use cellgate_hal::{CallIndex, LineId};
use tracing::info;

use super::{CallTone, CallWaiting, Gateway, ModemCommand, Output};
use crate::call::CallRef;

/// Mode 3's delay before swapping back to the first call.
const SWAP_BACK_AFTER: Duration = Duration::from_secs(2);

/// A second call on a line.
#[derive(Debug, Clone)]
pub(super) struct SecondCall {
    /// The SIP call bridged to the line.
    pub call: CallRef,
    /// Module index of the first call.
    pub first: Option<CallIndex>,
    /// Module index of the second call.
    pub second: Option<CallIndex>,
    /// The second call was accepted (is active or held), not just waiting.
    pub accepted: bool,
    /// The first call is the held one now.
    pub first_held: bool,
    /// Mode 3: swap back at this time.
    pub swap_back_at: Option<Instant>,
    /// Mode 2: the last key of the VoIP party (`3` waits for `1` or `2`).
    pub last_key: Option<char>,
    /// Mode 2 `31` asked the module to end the active call and take the other: the
    /// module does both, nothing follows the release.
    pub released_by_key: bool,
}

impl Gateway {
    /// The SIP call bridged to `line` and the module index of its GSM call, when the line
    /// is in conversation.
    fn call_on_line(&self, line: LineId) -> Option<(CallRef, Option<CallIndex>)> {
        // Only a call in conversation: while the first call is still being set up the
        // second one is refused.
        if let Some(id) = self.active_call_on(line) {
            let call = self.calls.get(&id)?;
            return (call.phase == crate::call::CallPhase::Connected)
                .then_some((id, call.gsm_index));
        }
        let id = self.inbound_on(line)?;
        let call = self.inbound.get(&id)?;
        (call.phase == crate::call::InboundPhase::Connected).then_some((id, call.gsm_index))
    }

    /// `+CCWA` on `line`: a second caller.
    pub(super) fn call_waiting(
        &mut self,
        now: Instant,
        line: LineId,
        index: Option<CallIndex>,
        caller: Option<String>,
    ) {
        let Some((call, first)) = self.call_on_line(line) else {
            self.modem(line, ModemCommand::RejectWaiting);
            return;
        };
        let mode = self.line_policy(line).call_waiting;
        info!(%line, caller = ?caller, ?mode, "call waiting");
        let mut second = SecondCall {
            call,
            first,
            second: index,
            accepted: false,
            first_held: false,
            swap_back_at: None,
            last_key: None,
            released_by_key: false,
        };
        match mode {
            CallWaiting::Disabled => {
                self.modem(line, ModemCommand::RejectWaiting);
                return;
            }
            CallWaiting::HoldAndAnswer => {
                second.accepted = true;
                second.first_held = true;
                self.modem(line, ModemCommand::HoldAndAccept);
            }
            CallWaiting::AnswerThenSwapBack => {
                second.accepted = true;
                second.first_held = true;
                second.swap_back_at = Some(now + SWAP_BACK_AFTER);
                self.modem(line, ModemCommand::HoldAndAccept);
            }
            CallWaiting::KeySwitch => {
                self.output.push_back(Output::MediaTone {
                    call,
                    tone: Some(CallTone::Waiting),
                    to_sip: true,
                });
            }
        }
        self.second_calls.insert(line, second);
    }

    /// Mode 2 keys from the VoIP party of the call on `line`; `true` when the key was
    /// part of `31` / `32`.
    pub(super) fn call_waiting_key(&mut self, line: LineId, key: char) -> bool {
        if self.line_policy(line).call_waiting != CallWaiting::KeySwitch {
            return false;
        }
        let Some(second) = self.second_calls.get_mut(&line) else {
            return false;
        };
        let previous = second.last_key.replace(key);
        let command = match (previous, key) {
            (Some('3'), '2') => {
                second.last_key = None;
                if !second.accepted {
                    second.accepted = true;
                    self.output.push_back(Output::MediaTone {
                        call: second.call,
                        tone: None,
                        to_sip: true,
                    });
                }
                second.first_held = !second.first_held;
                ModemCommand::HoldAndAccept
            }
            (Some('3'), '1') => {
                second.last_key = None;
                second.released_by_key = true;
                ModemCommand::ReleaseActiveAndAccept
            }
            _ => return key == '3',
        };
        info!(%line, ?command, "call-waiting key");
        self.modem(line, command);
        true
    }

    /// A GSM call on `line` ended while a second call exists; `true` when the SIP call
    /// goes on with the other one.
    pub(super) fn second_call_released(&mut self, line: LineId, index: CallIndex) -> bool {
        let Some(second) = self.second_calls.get(&line).cloned() else {
            return false;
        };
        if second.second == Some(index) {
            // The second caller left: back to the first call.
            self.second_calls.remove(&line);
            if second.released_by_key {
                // `31` ended it; the module took the first call back itself.
            } else if !second.accepted {
                self.output.push_back(Output::MediaTone {
                    call: second.call,
                    tone: None,
                    to_sip: true,
                });
            } else if second.first_held {
                self.modem(line, ModemCommand::HoldAndAccept);
            }
            info!(%line, "second call ended: back to the first");
            return true;
        }
        if second.first == Some(index) {
            // The first caller left: the dialog goes on with the second call.
            self.second_calls.remove(&line);
            if !second.released_by_key && (!second.accepted || !second.first_held) {
                // Waiting or held: take it (after `31` the module already did).
                self.modem(line, ModemCommand::HoldAndAccept);
            }
            if !second.accepted {
                self.output.push_back(Output::MediaTone {
                    call: second.call,
                    tone: None,
                    to_sip: true,
                });
            }
            if let Some(call) = self.calls.get_mut(&second.call) {
                call.gsm_index = second.second;
            } else if let Some(call) = self.inbound.get_mut(&second.call) {
                call.gsm_index = second.second;
            }
            info!(%line, "first call ended: the VoIP party goes on with the second");
            return true;
        }
        false
    }

    /// Mode 3's swap back, when due.
    pub(super) fn call_waiting_timeouts(&mut self, now: Instant) {
        let due: Vec<LineId> = self
            .second_calls
            .iter()
            .filter(|(_, s)| s.swap_back_at.is_some_and(|t| now >= t))
            .map(|(l, _)| *l)
            .collect();
        for line in due {
            if let Some(second) = self.second_calls.get_mut(&line) {
                second.swap_back_at = None;
                second.first_held = false;
            }
            info!(%line, "mode 3: back to the first call");
            self.modem(line, ModemCommand::HoldAndAccept);
        }
    }

    /// Earliest mode-3 swap.
    pub(super) fn call_waiting_deadline(&self) -> Option<Instant> {
        self.second_calls
            .values()
            .filter_map(|s| s.swap_back_at)
            .min()
    }

    /// The SIP call of `line` is over: forget its second call (the module hangs up all).
    pub(super) fn forget_second_call(&mut self, line: LineId) -> bool {
        self.second_calls.remove(&line).is_some()
    }
}
