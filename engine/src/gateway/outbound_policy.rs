//! The policy side of a VoIP -> GSM call's GSM leg: its timers (no-ring F-6.6.4, dial
//! timeout F-6.6.3, per-call maximum and used-up time F-6.10.16/18, the `M1:` DTMF
//! F-6.6.7), auto-redial (F-6.6.1) and the accounting of each attempt.

use std::time::{Duration, Instant};

use cellgate_hal::{LineId, ReleaseCause};
use cellgate_policy::cdr::Direction;
use tracing::info;

use super::accounting::CallFacts;
use super::{Gateway, ModemCommand, Output};
use crate::call::{CallPhase, CallRef, GsmLeg};
use crate::lines::LineCallState;

/// Causes after which a redial is pointless (the callee exists and said no).
const NO_REDIAL: [u8; 4] = [1, 17, 21, 22];

impl Gateway {
    /// Bookkeeping for a GSM leg about to be dialled on `line`.
    pub(super) fn new_gsm_leg(
        &mut self,
        now: Instant,
        line: LineId,
        caller: String,
        requested: String,
        then_dtmf: Option<String>,
        from_memory: bool,
    ) -> GsmLeg {
        let policy = self.line_policy(line);
        GsmLeg {
            caller,
            requested,
            ring_deadline: policy.no_ring_timeout.map(|t| now + t),
            answer_deadline: policy.dial_timeout.map(|t| now + t),
            then_dtmf: then_dtmf.map(|d| (d, None)),
            redials_left: policy.auto_redial,
            from_memory,
            ..GsmLeg::default()
        }
    }

    /// Status-page state of the line of a call being dialled.
    pub(super) fn mark_dialing(&mut self, line: LineId, number: &str) {
        self.lines
            .set_call_state(line, LineCallState::Dialing(number.to_owned()));
    }

    /// The GSM callee rings.
    pub(super) fn gsm_leg_alerting(&mut self, id: CallRef) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.gsm.alerted = true;
            call.gsm.ring_deadline = None;
            let line = call.line;
            self.lines.set_call_state(line, LineCallState::Alerting);
        }
    }

    /// The GSM callee answered: arm the call's maximum duration and the `M1:` DTMF.
    pub(super) fn gsm_leg_connected(&mut self, now: Instant, id: CallRef) {
        let Some(line) = self.calls.get(&id).map(|c| c.line) else {
            return;
        };
        let max = self.max_call_duration(now, line);
        self.lines.set_call_state(line, LineCallState::Connected);
        if let Some(call) = self.calls.get_mut(&id) {
            call.gsm.alerted = true;
            call.gsm.ring_deadline = None;
            call.gsm.answer_deadline = None;
            call.gsm.hangup_at = max.map(|m| now + m);
            if let Some((_, at)) = call.gsm.then_dtmf.as_mut() {
                *at = Some(now + Duration::from_secs(1));
            }
        }
    }

    /// Records the GSM attempt of call `id` once, when its GSM leg ended.
    pub(super) fn account_outbound(
        &mut self,
        now: Instant,
        id: CallRef,
        cause: Option<ReleaseCause>,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.gsm.accounted || call.line == LineId(0) {
            return;
        }
        call.gsm.accounted = true;
        call.gsm.cause = cause.map(|c| c.0);
        let facts = CallFacts {
            line: call.line,
            direction: Direction::Outbound,
            number: call.number.clone(),
            started: call.started,
            alerted: call.gsm.alerted,
            answered: call.answered,
            ended: now,
            gsm_cause: call.gsm.cause,
            sip_status: call.sip.final_code(),
        };
        self.account(now, facts);
    }

    /// F-6.6.1: after a failed attempt, dials again on another fitting line (or the
    /// same) while redials are left; `true` when a redial went out.
    pub(super) fn try_redial(&mut self, now: Instant, id: CallRef, cause: ReleaseCause) -> bool {
        let Some(call) = self.calls.get(&id) else {
            return false;
        };
        if call.gsm.redials_left == 0
            || !call.unanswered()
            || call.sip.final_code().is_some()
            || NO_REDIAL.contains(&cause.0)
        {
            return false;
        }
        let (caller, requested, old_line) = (
            call.gsm.caller.clone(),
            call.gsm.requested.clone(),
            call.line,
        );
        self.lines.release(old_line);
        let (line, number, then_dtmf, from_memory) =
            match self.plan_outbound(now, &caller, &requested) {
                super::outbound_route::OutboundPlan::Dial {
                    line,
                    number,
                    then_dtmf,
                    from_memory,
                } => (line, number, then_dtmf, from_memory),
                super::outbound_route::OutboundPlan::Collect { line, .. } => {
                    // A line that would first ask for a password: not for a redial.
                    self.lines.release(line);
                    return false;
                }
                super::outbound_route::OutboundPlan::Refuse(_) => return false,
            };
        info!(call = id.0, %line, %number, "auto redial");
        let redials = call_redials(self, id);
        let mut leg =
            self.new_gsm_leg(now, line, caller, requested.clone(), then_dtmf, from_memory);
        leg.redials_left = redials.saturating_sub(1);
        self.dial_for_call(now, id, line, number, leg);
        true
    }

    /// Dials `number` on `line` for the existing SIP call `id` (a redial, or the second
    /// stage), with `leg` as its new GSM-leg bookkeeping.
    pub(super) fn dial_for_call(
        &mut self,
        now: Instant,
        id: CallRef,
        line: LineId,
        number: String,
        leg: GsmLeg,
    ) {
        let requested = leg.requested.clone();
        let from_memory = leg.from_memory;
        if let Some(call) = self.calls.get_mut(&id) {
            call.line = line;
            call.number = number.clone();
            call.gsm = leg;
            call.gsm_done = false;
            call.gsm_index = None;
            call.phase = CallPhase::Dialing;
            call.started = now;
        }
        self.mark_dialing(line, &number);
        self.output.push_back(Output::Modem {
            line,
            call: Some(id),
            command: ModemCommand::Dial(number),
        });
        self.note_call_placed(now, line, &requested, from_memory);
    }

    /// Policy timers of GSM legs (checked on every timeout).
    pub(super) fn gsm_leg_timeouts(&mut self, now: Instant) {
        let ids: Vec<CallRef> = self.calls.keys().copied().collect();
        for id in ids {
            let Some(call) = self.calls.get_mut(&id) else {
                continue;
            };
            if call.gsm_done {
                continue;
            }
            let line = call.line;
            let unanswered = call.unanswered();
            if unanswered && call.gsm.ring_deadline.is_some_and(|t| now >= t) {
                info!(call = id.0, %line, "no ringing in time (F-6.6.4): hanging up");
                call.gsm.ring_deadline = None;
                call.gsm.redials_left = 0;
                self.end_unanswered(now, id, 408);
                continue;
            }
            if unanswered && call.gsm.answer_deadline.is_some_and(|t| now >= t) {
                info!(call = id.0, %line, "not answered in time (F-6.6.3): hanging up");
                call.gsm.answer_deadline = None;
                call.gsm.redials_left = 0;
                self.end_unanswered(now, id, 408);
                continue;
            }
            if call.phase == CallPhase::Connected && call.gsm.hangup_at.is_some_and(|t| now >= t) {
                info!(call = id.0, %line, "call time limit reached: hanging up");
                call.gsm.hangup_at = None;
                call.phase = CallPhase::Ending;
                self.hang_up(line, id);
                self.send_bye(now, id);
                continue;
            }
            let due = call.phase == CallPhase::Connected
                && matches!(call.gsm.then_dtmf, Some((_, Some(at))) if now >= at);
            if due {
                if let Some((digits, _)) = call.gsm.then_dtmf.take() {
                    info!(call = id.0, %line, "M1 mode: sending the callee as DTMF");
                    for digit in digits.chars() {
                        self.output.push_back(Output::Modem {
                            line,
                            call: Some(id),
                            command: ModemCommand::SendDtmf(digit),
                        });
                    }
                }
            }
        }
    }

    /// Earliest policy timer of the GSM legs.
    pub(super) fn gsm_leg_deadline(&self) -> Option<Instant> {
        // Exactly the timers `gsm_leg_timeouts` acts on in the call's current phase, so
        // no deadline outlives its use.
        self.calls
            .values()
            .filter(|c| !c.gsm_done)
            .flat_map(|c| {
                let unanswered = c.unanswered();
                let connected = c.phase == CallPhase::Connected;
                [
                    c.gsm.ring_deadline.filter(|_| unanswered),
                    c.gsm.answer_deadline.filter(|_| unanswered),
                    c.gsm.hangup_at.filter(|_| connected),
                    c.gsm
                        .then_dtmf
                        .as_ref()
                        .and_then(|(_, at)| *at)
                        .filter(|_| connected),
                ]
            })
            .flatten()
            .min()
    }
}

fn call_redials(gateway: &Gateway, id: CallRef) -> u8 {
    gateway
        .calls
        .get(&id)
        .map(|c| c.gsm.redials_left)
        .unwrap_or(0)
}
