//! What a finished call changes: the CDR (§5.2.1), the SIM limits (§6.10), the run
//! policy (§6.16), the rest rule (F-6.6.10), the cell rotation (F-6.15.7/8), the
//! balance report (F-6.10.20); and what follows from those: locks, paused
//! registrations, powered-off modules, and the counters handed to the shell to persist.

use std::time::{Duration, Instant};

use cellgate_hal::{LineId, PowerMode};
use cellgate_policy::cdr::{CallRecord, Direction};
use cellgate_policy::gsm::BcchRotation;
use cellgate_policy::routing::{RepeatCallers, RestState};
use cellgate_policy::run_policy::{Action, CallOutcome, PolicyState};
use cellgate_policy::store::LineCounters;
use tracing::{info, warn};

use super::{Gateway, ModemCommand, Output};

/// Mutable per-line state of the policies.
#[derive(Debug, Default)]
pub(super) struct LineRuntime {
    /// SIM usage and CDR (persisted).
    pub counters: LineCounters,
    /// Run-policy counters (with a run policy, from the gateway's start).
    pub policy: Option<PolicyState>,
    /// Rest rule.
    pub rest: RestState,
    /// Cell rotation, in rotation mode.
    pub rotation: Option<BcchRotation>,
    /// Automatic blacklist of repeated callers.
    pub repeat: Option<RepeatCallers>,
    /// Periodic IMEI change (F-6.12.2).
    pub imei: Option<cellgate_policy::gsm::ImeiSchedule>,
    /// A cell switch that fell due during a call, applied when it ends.
    pub pending_lock: Option<u32>,
}

impl LineRuntime {
    /// Fresh state for `line` under `config`.
    pub fn new(config: &super::GatewayConfig, line: LineId) -> Self {
        let policy = config.lines.get(&line).cloned().unwrap_or_default();
        Self {
            rotation: match &policy.bcch {
                cellgate_policy::gsm::BcchMode::Rotation(cfg) => {
                    Some(BcchRotation::new(cfg.clone()))
                }
                _ => None,
            },
            repeat: policy.repeat_callers.map(RepeatCallers::new),
            ..Self::default()
        }
    }
}

/// The facts of one finished call attempt on a line.
#[derive(Debug, Clone)]
pub(super) struct CallFacts {
    pub line: LineId,
    pub direction: Direction,
    pub number: String,
    pub started: Instant,
    pub alerted: bool,
    pub answered: Option<Instant>,
    pub ended: Instant,
    pub gsm_cause: Option<u8>,
    pub sip_status: Option<u16>,
}

impl Gateway {
    /// The runtime state of `line`.
    pub(super) fn runtime(&self, line: LineId) -> Option<&LineRuntime> {
        self.line_runtime.get(&line)
    }

    /// Counters of a line (for status pages and tests).
    pub fn line_counters(&self, line: LineId) -> Option<&LineCounters> {
        self.line_runtime.get(&line).map(|r| &r.counters)
    }

    /// Restores a line's persisted counters (call before [`Self::start`]).
    pub fn restore_counters(&mut self, line: LineId, counters: LineCounters) {
        let talk = counters.cdr.total_talk_seconds();
        if let Some(rt) = self.line_runtime.get_mut(&line) {
            rt.counters = counters;
        }
        if let Some(state) = self.lines.get_mut(line) {
            state.cdr_talk_seconds = talk;
        }
    }

    /// Records a finished call attempt and applies its consequences.
    pub(super) fn account(&mut self, now: Instant, facts: CallFacts) {
        let line = facts.line;
        let local = self.local_time(now);
        let unix = self.unix_time(facts.started);
        let talk = facts
            .answered
            .map(|a| facts.ended.saturating_duration_since(a))
            .unwrap_or_default();
        let record = CallRecord {
            line,
            direction: facts.direction,
            number: facts.number.clone(),
            started_unix: unix,
            ended_unix: self.unix_time(facts.ended),
            alerted: facts.alerted || facts.answered.is_some(),
            answered: facts.answered.is_some(),
            talk_seconds: u32::try_from(talk.as_secs()).unwrap_or(u32::MAX),
            gsm_cause: facts.gsm_cause,
            sip_status: facts.sip_status,
        };
        if let Some(state) = self.lines.get_mut(line) {
            state.last_call_end = Some(now);
        }
        self.output.push_back(Output::CallRecord(record.clone()));
        let policy = self.line_policy(line).clone();
        let run_policy = self.config.routing.run_policy.clone();
        let Some(rt) = self.line_runtime.get_mut(&line) else {
            return;
        };
        rt.counters.cdr.record(&record);
        if facts.direction != Direction::Outbound {
            self.persist(line);
            return;
        }
        rt.counters
            .usage
            .call_ended(&policy.limits, facts.answered.is_some(), talk, local);
        let outcome = CallOutcome {
            alerted: record.alerted,
            answered: record.answered,
            talk,
        };
        let actions = match (run_policy.as_ref(), rt.policy.as_mut()) {
            (Some(p), Some(state)) => state.on_call_end(p, outcome, now),
            _ => Vec::new(),
        };
        let switch_cell = rt
            .rotation
            .as_mut()
            .and_then(|r| r.on_call_end(record.answered, now, &mut self.rng));
        let report = rt.counters.usage.balance_report_due(&policy.limits, local);
        let talk_total = rt.counters.cdr.total_talk_seconds();
        if let Some(state) = self.lines.get_mut(line) {
            state.cdr_talk_seconds = talk_total;
        }
        let pending = rt.pending_lock.take();
        if let Some(arfcn) = switch_cell.or(pending) {
            info!(%line, arfcn, "cell rotation after call");
            self.modem(line, ModemCommand::LockCell(Some(arfcn)));
        }
        self.maybe_change_imei(now, line);
        if let (Some(text), Some(report)) = (report, policy.limits.balance_report.as_ref()) {
            info!(%line, to = %report.number, "balance report SMS");
            self.send_line_sms(line, report.number.clone(), text);
        }
        self.apply_policy_actions(now, line, &actions);
        self.persist(line);
        self.sync_line_registrations(now);
    }

    /// Carries out run-policy actions on `line` (F-6.16.8 to F-6.16.11).
    pub(super) fn apply_policy_actions(&mut self, now: Instant, line: LineId, actions: &[Action]) {
        for action in actions {
            warn!(%line, ?action, "run policy fired");
            match action {
                Action::DisableVoip => {
                    if let Some(s) = self.lines.get_mut(line) {
                        s.voip_disabled_by_policy = true;
                    }
                }
                Action::DisableOutbound => {
                    if let Some(s) = self.lines.get_mut(line) {
                        s.outbound_disabled_by_policy = true;
                    }
                }
                Action::PowerOffModule => {
                    if let Some(s) = self.lines.get_mut(line) {
                        s.module_off_by_policy = true;
                    }
                    self.modem(line, ModemCommand::SetPower(PowerMode::Minimum));
                }
                Action::ResetCdr => self.reset_cdr(now, line),
            }
        }
        if !actions.is_empty() {
            self.sync_line_registrations(now);
        }
    }

    /// F-5.2.1.2 / F-6.16.12: gives a line back its outbound service after the run
    /// policy took it (and powers its module on again when the policy had turned it off).
    pub fn restore_line(&mut self, now: Instant, line: LineId) {
        let Some(state) = self.lines.get_mut(line) else {
            return;
        };
        let power_on = state.module_off_by_policy;
        state.outbound_disabled_by_policy = false;
        state.voip_disabled_by_policy = false;
        state.module_off_by_policy = false;
        if let Some(state) = self
            .line_runtime
            .get_mut(&line)
            .and_then(|rt| rt.policy.as_mut())
        {
            state.restore();
        }
        if power_on {
            self.modem(line, ModemCommand::SetPower(PowerMode::Full));
        }
        info!(%line, "line restored");
        self.sync_line_registrations(now);
    }

    /// F-5.2.1.13: a line whose CDR never started (no stored counters) starts it now,
    /// so the status shows when collection began rather than nothing.
    pub(super) fn start_cdr_clocks(&mut self, now: Instant) {
        let unix = self.unix_time(now);
        let fresh: Vec<LineId> = self
            .line_runtime
            .iter()
            .filter(|(_, rt)| rt.counters.cdr.since_unix() == 0)
            .map(|(line, _)| *line)
            .collect();
        for line in fresh {
            if let Some(rt) = self.line_runtime.get_mut(&line) {
                rt.counters.cdr.reset(unix);
            }
            self.persist(line);
        }
    }

    /// F-5.2.1.20 icon 3 / F-6.16.11 / F-6.1.11: clears the CDR of `line`.
    pub fn reset_cdr(&mut self, now: Instant, line: LineId) {
        let unix = self.unix_time(now);
        if let Some(rt) = self.line_runtime.get_mut(&line) {
            rt.counters.cdr.reset(unix);
        }
        if let Some(state) = self.lines.get_mut(line) {
            state.cdr_talk_seconds = 0;
        }
        self.persist(line);
    }

    /// F-5.2.1.20 icon 1: remaining time (and call count) back to the configured limit.
    pub fn reset_remaining_time(&mut self, now: Instant, line: LineId) {
        let local = self.local_time(now);
        let limits = self.line_policy(line).limits.clone();
        if let Some(rt) = self.line_runtime.get_mut(&line) {
            rt.counters.usage.reset_minutes(&limits, local);
            rt.counters.usage.reset_calls(&limits, local);
        }
        self.persist(line);
        self.sync_line_registrations(now);
    }

    /// F-5.2.1.20 icon 2: remaining SMS back to the configured limit.
    pub fn reset_remaining_sms(&mut self, line: LineId) {
        if let Some(rt) = self.line_runtime.get_mut(&line) {
            rt.counters.usage.reset_sms();
        }
        self.persist(line);
    }

    /// Every SMS the gateway sends from a line goes through here: the line's SMS quota
    /// (F-6.13.8, shown as remaining SMS, F-5.2.1.19) is checked and each part counted.
    /// At 0 (or fewer parts left than the text needs) nothing is sent. Returns whether
    /// the SMS was handed to the module.
    pub(super) fn send_line_sms(&mut self, line: LineId, number: String, text: String) -> bool {
        let limits = self.line_policy(line).limits.clone();
        let parts = cellgate_sms::split_text(&text, &cellgate_sms::SplitOptions::default())
            .map_or(1, |p| p.len().max(1));
        let parts = u32::try_from(parts).unwrap_or(u32::MAX);
        let Some(rt) = self.line_runtime.get_mut(&line) else {
            return false;
        };
        if rt
            .counters
            .usage
            .remaining_sms(&limits)
            .is_some_and(|left| left < parts)
        {
            warn!(%line, %number, parts, "SMS quota used up: SMS not sent");
            return false;
        }
        rt.counters.usage.sms_sent(parts);
        self.output
            .push_back(Output::SendSms { line, number, text });
        self.persist(line);
        true
    }

    /// Hands the counters of `line` to the shell to store.
    pub(super) fn persist(&mut self, line: LineId) {
        if let Some(rt) = self.line_runtime.get(&line) {
            self.output.push_back(Output::Counters {
                line,
                counters: rt.counters.clone(),
            });
        }
    }

    /// Queues a module command without a call.
    pub(super) fn modem(&mut self, line: LineId, command: ModemCommand) {
        self.output.push_back(Output::Modem {
            line,
            call: None,
            command,
        });
    }

    /// Whether `line` may use VoIP now: GSM registered (F-5.2.1.6), not disabled by the
    /// run policy, and not out of limits unless SIP is kept registered (F-6.10.3).
    pub(super) fn line_wants_voip(&self, now: Instant, line: LineId) -> bool {
        let Some(state) = self.lines.get(line) else {
            return false;
        };
        if !state.enabled || !state.gsm_registered || state.voip_disabled_by_policy {
            return false;
        }
        let policy = self.line_policy(line);
        let local = self.local_time(now);
        match self.line_runtime.get(&line) {
            Some(rt) => {
                rt.counters
                    .usage
                    .registration_policy(&policy.limits, local)
                    .sip
            }
            None => true,
        }
    }

    /// Pauses or resumes the registrations of per-line and per-group accounts as their
    /// lines can or cannot use VoIP.
    pub(super) fn sync_line_registrations(&mut self, now: Instant) {
        if !self.started {
            return;
        }
        let wanted: Vec<Option<bool>> = self
            .registrations
            .iter()
            .map(|r| {
                let lines = &r.config().lines;
                (!lines.is_empty()).then(|| lines.iter().any(|&l| self.line_wants_voip(now, l)))
            })
            .collect();
        self.sync_limit_radio(now);
        for (reg, want) in self.registrations.iter_mut().zip(wanted) {
            match want {
                Some(true) => reg.resume(now, &mut self.ids),
                Some(false) => reg.pause(now, &mut self.ids, "no line of the account may use VoIP"),
                None => {}
            }
        }
        self.flush_registrations();
    }

    /// F-6.10.2: turns the radio off while a line's limit is used up and the module is not
    /// kept registered, and back on when the limit is reset or renewed.
    fn sync_limit_radio(&mut self, now: Instant) {
        let local = self.local_time(now);
        let ids: Vec<LineId> = self.lines.lines().iter().map(|l| l.id).collect();
        for line in ids {
            let policy = self.line_policy(line);
            let keep = match self.line_runtime.get(&line) {
                Some(rt) => {
                    rt.counters
                        .usage
                        .registration_policy(&policy.limits, local)
                        .module
                }
                None => true,
            };
            let Some(state) = self.lines.get_mut(line) else {
                continue;
            };
            if state.busy || keep != state.radio_off_by_limits {
                continue; // nothing to change (or not in the middle of a call)
            }
            state.radio_off_by_limits = !keep;
            let mode = if keep {
                info!(%line, "limit available again: radio on");
                PowerMode::Full
            } else {
                info!(%line, "limit used up: radio off (F-6.10.2)");
                PowerMode::RadioOff
            };
            self.modem(line, ModemCommand::SetPower(mode));
        }
    }

    /// Rest rule after a dial not chosen by call memory (F-6.6.10).
    pub(super) fn note_call_placed(
        &mut self,
        now: Instant,
        line: LineId,
        number: &str,
        from_memory: bool,
    ) {
        if self.config.routing.call_memory {
            self.call_memory.remember(number, line, now);
        }
        if from_memory {
            return;
        }
        let rule = self.line_policy(line).rest;
        if let (Some(rule), Some(rt)) = (rule, self.line_runtime.get_mut(&line)) {
            rt.rest.on_call_placed(&rule, now, &mut self.rng);
        }
    }

    /// Longest the call on `line` may run now (F-6.10.16, F-6.10.18).
    pub(super) fn max_call_duration(&self, now: Instant, line: LineId) -> Option<Duration> {
        let policy = self.line_policy(line);
        let local = self.local_time(now);
        self.line_runtime
            .get(&line)?
            .counters
            .usage
            .max_call_duration(&policy.limits, local)
    }
}
