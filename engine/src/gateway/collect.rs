//! Digits collected from a caller before a call goes on: the second-stage number of
//! two-stage dialling (F-2.2.3 from VoIP, F-2.2.4 / F-6.8.2 from GSM) and the password
//! of password authentication (§6.7, §6.9). The caller hears a dial tone (F-6.1.8)
//! until the first digit; `#` ends the entry; the no-input timeout (F-6.8.5) ends it
//! too: with digits they are used, without them the call is released.

use std::time::{Duration, Instant};

use bytes::Bytes;
use cellgate_hal::LineId;
use tracing::info;

use super::{CallTone, ForwardTarget, Gateway, ModemCommand, Output};
use crate::call::{CallPhase, CallRef, GsmLeg, OutboundCall};
use crate::sip::message::{CoreHeaders, Request};
use crate::sip::sdp::{self, AcceptedOffer};

/// Longest entry accepted (a number or a password).
const MAX_DIGITS: usize = 32;

/// What the digits are for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CollectPurpose {
    /// VoIP caller's password; then dial this number.
    OutboundPassword(String),
    /// VoIP caller's second-stage number.
    OutboundNumber,
    /// GSM caller's password; then forward here (or collect the number).
    InboundPassword(Option<ForwardTarget>),
    /// GSM caller's second-stage VoIP number.
    InboundNumber,
}

/// An entry in progress.
#[derive(Debug, Clone)]
pub(crate) struct Collector {
    /// What for.
    pub purpose: CollectPurpose,
    /// Digits so far.
    pub digits: String,
    /// No-input deadline, renewed by each digit.
    pub deadline: Instant,
    /// The dial tone is still playing.
    pub tone: bool,
    /// The line's no-input timeout (F-6.8.5), renewed by each digit.
    pub timeout: Duration,
}

/// A GSM caller answered for two-stage dialling or a password.
#[derive(Debug, Clone)]
pub(crate) struct InboundCollect {
    /// Line.
    pub line: LineId,
    /// GSM caller.
    pub caller: Option<String>,
    /// Media port of the answered call.
    pub media_port: u16,
    /// The entry.
    pub collector: Collector,
}

/// The result of feeding a digit.
enum Entry {
    More,
    Done(String),
}

impl Collector {
    fn new(purpose: CollectPurpose, now: Instant, timeout: Duration) -> Self {
        Self {
            purpose,
            digits: String::new(),
            deadline: now + timeout,
            tone: true,
            timeout,
        }
    }

    fn feed(&mut self, digit: char, now: Instant) -> Entry {
        if digit == '#' {
            return Entry::Done(std::mem::take(&mut self.digits));
        }
        if self.digits.len() < MAX_DIGITS {
            self.digits.push(digit);
        }
        self.deadline = now + self.timeout;
        Entry::More
    }
}

impl Gateway {
    /// Answers an INVITE at once and starts collecting digits on `line` (already taken).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_collecting(
        &mut self,
        now: Instant,
        source: std::net::SocketAddr,
        request: Request,
        core: CoreHeaders,
        offer: AcceptedOffer,
        media_port: u16,
        line: LineId,
        password_then: Option<String>,
        requested: String,
    ) {
        let id = self.next_call_ref();
        let caller = super::messages::user_of(&core.from.uri.uri).unwrap_or_default();
        let mut sip = self.open_invite_server(now, source, request, core);
        let session = self.ids.number();
        let body = sdp::answer(&offer, self.config.public_addr.ip(), media_port, session);
        let ok = sip.respond(
            now,
            200,
            Some(&super::headers::contact(&self.config, &requested)),
            Some(("application/sdp", Bytes::from(body))),
        );
        self.transmit(source, ok);
        let timeout = self.line_policy(line).no_input_timeout;
        let purpose = match password_then {
            Some(number) => CollectPurpose::OutboundPassword(number),
            None => CollectPurpose::OutboundNumber,
        };
        info!(call = id.0, %line, ?purpose, "answered: collecting digits");
        self.lines
            .set_call_state(line, crate::lines::LineCallState::Active);
        self.calls.insert(
            id,
            OutboundCall {
                id,
                line,
                number: String::new(),
                sip,
                offer: offer.clone(),
                gsm_index: None,
                phase: CallPhase::Connected,
                gsm_done: true,
                sip_done: false,
                no_answer_deadline: now,
                bye: None,
                started: now,
                answered: None,
                reinvite: None,
                sdp: (session, session),
                held: false,
                media_port,
                gsm: GsmLeg {
                    caller,
                    requested,
                    accounted: true,
                    two_stage: true,
                    collect: Some(Collector::new(purpose, now, timeout)),
                    ..GsmLeg::default()
                },
            },
        );
        self.start_media(id, line, media_port, &offer);
        self.output.push_back(Output::MediaTone {
            call: id,
            tone: Some(CallTone::Dial),
            to_sip: true,
        });
    }

    /// Answers the GSM call on `line` and starts collecting digits from the caller.
    pub(super) fn start_inbound_collect(
        &mut self,
        now: Instant,
        line: LineId,
        caller: Option<String>,
        password: bool,
        then: Option<ForwardTarget>,
    ) {
        let Some(media_port) = self.allocate_rtp_port() else {
            self.modem(line, ModemCommand::HangUp);
            return;
        };
        if let Some(state) = self.lines.get_mut(line) {
            state.busy = true;
            state.call_state = crate::lines::LineCallState::Active;
        }
        let id = self.next_call_ref();
        let purpose = if password {
            CollectPurpose::InboundPassword(then)
        } else {
            CollectPurpose::InboundNumber
        };
        info!(call = id.0, %line, ?purpose, "GSM call answered: collecting digits");
        self.output.push_back(Output::Modem {
            line,
            call: Some(id),
            command: ModemCommand::Answer,
        });
        // Media with the module only: RTP goes nowhere until the SIP leg exists.
        let offer = AcceptedOffer {
            codec: crate::sip::sdp::AudioCodec::Pcmu,
            payload_type: 0,
            telephone_event: None,
            remote_rtp: Some((std::net::IpAddr::from([127, 0, 0, 1]), 9)),
        };
        self.start_media(id, line, media_port, &offer);
        self.output.push_back(Output::MediaUpdate {
            call: id,
            remote: None,
            send: false,
        });
        self.output.push_back(Output::MediaTone {
            call: id,
            tone: Some(CallTone::Dial),
            to_sip: false,
        });
        let timeout = self.line_policy(line).no_input_timeout;
        self.collecting.insert(
            id,
            InboundCollect {
                line,
                caller,
                media_port,
                collector: Collector::new(purpose, now, timeout),
            },
        );
    }

    /// A digit from the SIP side of call `id`; `true` when an entry took it.
    pub(super) fn collect_from_sip(&mut self, now: Instant, id: CallRef, digit: char) -> bool {
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        let Some(collector) = call.gsm.collect.as_mut() else {
            return false;
        };
        let stop_tone = std::mem::replace(&mut collector.tone, false);
        let entry = collector.feed(digit, now);
        if stop_tone {
            self.output.push_back(Output::MediaTone {
                call: id,
                tone: None,
                to_sip: true,
            });
        }
        if let Entry::Done(digits) = entry {
            self.outbound_entry_done(now, id, digits);
        }
        true
    }

    /// A digit from the GSM side of `line`; `true` when an entry took it.
    pub(super) fn collect_from_gsm(&mut self, now: Instant, line: LineId, digit: char) -> bool {
        let Some((&id, c)) = self.collecting.iter_mut().find(|(_, c)| c.line == line) else {
            return false;
        };
        let stop_tone = std::mem::replace(&mut c.collector.tone, false);
        let entry = c.collector.feed(digit, now);
        if stop_tone {
            self.output.push_back(Output::MediaTone {
                call: id,
                tone: None,
                to_sip: false,
            });
        }
        if let Entry::Done(digits) = entry {
            self.inbound_entry_done(now, id, digits);
        }
        true
    }

    /// The VoIP caller finished an entry.
    fn outbound_entry_done(&mut self, now: Instant, id: CallRef, digits: String) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(collector) = call.gsm.collect.take() else {
            return;
        };
        let line = call.line;
        let caller = call.gsm.caller.clone();
        let policy = self.line_policy(line).clone();
        let number = match collector.purpose {
            CollectPurpose::OutboundPassword(number) => {
                if !policy.outbound_auth.password_matches(&digits) {
                    info!(call = id.0, %line, "wrong password: releasing");
                    return self.release_collecting_call(now, id);
                }
                Some(number)
            }
            CollectPurpose::OutboundNumber => {
                let allowed = policy.outbound_auth.check(&caller, &digits)
                    != cellgate_policy::routing::AuthDecision::Deny;
                allowed
                    .then(|| policy.dial_rules.rewrite(&digits, policy.strict_dial_rules))
                    .flatten()
                    .filter(|n| super::numbers::dialable(n).is_some())
            }
            _ => None,
        };
        let Some(number) = number else {
            info!(call = id.0, %line, %digits, "second-stage number refused");
            return self.release_collecting_call(now, id);
        };
        info!(call = id.0, %line, %number, "two-stage: dialling");
        let leg = self.new_gsm_leg(now, line, caller, digits, None, false);
        let leg = GsmLeg {
            two_stage: true,
            ..leg
        };
        self.dial_for_call(now, id, line, number, leg);
    }

    /// The GSM caller finished an entry.
    fn inbound_entry_done(&mut self, now: Instant, id: CallRef, digits: String) {
        let Some(c) = self.collecting.get(&id) else {
            return;
        };
        let line = c.line;
        let purpose = c.collector.purpose.clone();
        let policy = self.line_policy(line).clone();
        match purpose {
            CollectPurpose::InboundPassword(then) => {
                if !policy.inbound_auth.password_matches(&digits) {
                    info!(call = id.0, %line, "wrong password: releasing");
                    return self.release_inbound_collect(id);
                }
                match then {
                    Some(target) => self.forward_collected(now, id, target),
                    None => {
                        if let Some(c) = self.collecting.get_mut(&id) {
                            c.collector = Collector::new(
                                CollectPurpose::InboundNumber,
                                now,
                                policy.no_input_timeout,
                            );
                        }
                        self.output.push_back(Output::MediaTone {
                            call: id,
                            tone: Some(CallTone::Dial),
                            to_sip: false,
                        });
                    }
                }
            }
            CollectPurpose::InboundNumber => {
                let number = policy
                    .inbound_dial_rules
                    .rewrite(&digits, false)
                    .unwrap_or(digits.clone());
                let target = (!number.is_empty())
                    .then(|| self.target_for_number(now, line, &number))
                    .flatten();
                match target {
                    Some(t) => self.forward_collected(now, id, t),
                    None => {
                        info!(call = id.0, %line, %digits, "second-stage VoIP number unusable");
                        self.release_inbound_collect(id)
                    }
                }
            }
            _ => {}
        }
    }

    /// INVITEs `target` for the answered GSM caller of entry `id`.
    fn forward_collected(&mut self, now: Instant, id: CallRef, target: ForwardTarget) {
        let Some(c) = self.collecting.remove(&id) else {
            return;
        };
        self.output.push_back(Output::MediaStop { call: id });
        self.media.remove(&id);
        if let Some(state) = self.lines.get_mut(c.line) {
            state.busy = false;
        }
        self.start_inbound(now, c.line, c.caller, target);
        if let Some(new) = self.inbound_on(c.line) {
            if let Some(call) = self.inbound.get_mut(&new) {
                call.pre_answered = true;
            }
        }
    }

    /// Hangs up the GSM caller of entry `id`.
    fn release_inbound_collect(&mut self, id: CallRef) {
        let Some(c) = self.collecting.remove(&id) else {
            return;
        };
        self.output.push_back(Output::MediaStop { call: id });
        self.media.remove(&id);
        self.hang_up(c.line, id);
        self.lines.release(c.line);
    }

    /// The GSM caller left during an entry on `line`; `true` when there was one.
    pub(super) fn inbound_collect_released(&mut self, line: LineId) -> bool {
        let Some(id) = self
            .collecting
            .iter()
            .find(|(_, c)| c.line == line)
            .map(|(id, _)| *id)
        else {
            return false;
        };
        self.collecting.remove(&id);
        self.output.push_back(Output::MediaStop { call: id });
        self.media.remove(&id);
        self.lines.release(line);
        true
    }

    /// Ends a VoIP call answered for an entry (BYE; no GSM leg exists).
    pub(super) fn release_collecting_call(&mut self, now: Instant, id: CallRef) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.phase = CallPhase::Ending;
            call.gsm.collect = None;
            let line = call.line;
            self.lines.release(line);
        }
        self.output.push_back(Output::MediaTone {
            call: id,
            tone: None,
            to_sip: true,
        });
        self.send_bye(now, id);
    }

    /// No-input timeouts of entries.
    pub(super) fn collect_timeouts(&mut self, now: Instant) {
        let outbound: Vec<CallRef> = self
            .calls
            .iter()
            .filter(|(_, c)| c.gsm.collect.as_ref().is_some_and(|k| now >= k.deadline))
            .map(|(id, _)| *id)
            .collect();
        for id in outbound {
            let digits = self
                .calls
                .get(&id)
                .and_then(|c| c.gsm.collect.as_ref())
                .map(|k| k.digits.clone())
                .unwrap_or_default();
            info!(call = id.0, %digits, "no more input (F-6.8.5)");
            if digits.is_empty() {
                self.release_collecting_call(now, id);
            } else {
                self.outbound_entry_done(now, id, digits);
            }
        }
        let inbound: Vec<CallRef> = self
            .collecting
            .iter()
            .filter(|(_, c)| now >= c.collector.deadline)
            .map(|(id, _)| *id)
            .collect();
        for id in inbound {
            let digits = self
                .collecting
                .get(&id)
                .map(|c| c.collector.digits.clone())
                .unwrap_or_default();
            info!(call = id.0, %digits, "no more input from the GSM caller (F-6.8.5)");
            if digits.is_empty() {
                self.release_inbound_collect(id);
            } else {
                self.inbound_entry_done(now, id, digits);
            }
        }
    }

    /// Earliest no-input deadline.
    pub(super) fn collect_deadline(&self) -> Option<Instant> {
        self.calls
            .values()
            .filter_map(|c| c.gsm.collect.as_ref().map(|k| k.deadline))
            .chain(self.collecting.values().map(|c| c.collector.deadline))
            .min()
    }
}
