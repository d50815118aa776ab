//! The GSM side the gateway manages on its own: module setup when a line comes up
//! (call forwarding §6.11, operator §6.14, cell selection §6.15, IMEI §6.12, fixed
//! dialling with PIN2 F-6.10.7), SIM PIN and PIN2 entry (F-6.10.6, F-6.10.7), module
//! power (§7.7), cell rotation and run-policy timers, scheduled reboot (F-6.1.10) and
//! CDR reset (F-6.1.11), and group (hunt) mode (Appendix D).

use std::time::Instant;

use cellgate_hal::{HalError, LineId, PowerMode, SimState};
use cellgate_policy::gsm::{BcchMode, GroupState, ImeiPolicy, OperatorChoice};
use cellgate_policy::schedule::ScheduleTrigger;
use tracing::{info, warn};

use super::{Gateway, ModemCommand};

/// Gateway-wide timers of the management plane.
#[derive(Debug, Default)]
pub(super) struct ManagementState {
    /// Lines set up since their module last came up.
    pub set_up: std::collections::BTreeSet<LineId>,
    /// Lines whose SIM PIN was entered since the SIM last was ready (never twice: a
    /// wrong PIN must not use up the SIM's tries).
    pub pin_tried: std::collections::BTreeSet<LineId>,
    /// PIN2 use per line (F-6.10.7).
    pub pin2: std::collections::BTreeMap<LineId, Pin2Line>,
    /// Lines whose next power-up gets a random IMEI (F-6.12.3).
    pub imei_pending: std::collections::BTreeSet<LineId>,
    /// Group mode forwarding state.
    pub group: GroupState,
    /// Multi-device group (F-D.6).
    pub peer: super::group_peer::PeerState,
    /// Scheduled reboot (F-6.1.10).
    pub reboot: Option<ScheduleTrigger>,
    /// Daily CDR reset (F-6.1.11).
    pub cdr_reset: Option<ScheduleTrigger>,
    /// Next look at the limits of every line: windows renew with the clock (F-6.10.12,
    /// F-6.10.13), and paused accounts and radios must follow.
    pub next_limits_check: Option<Instant>,
}

/// What the gateway did with a line's PIN2 (F-6.10.7). A SIM blocks PIN2 after three
/// wrong tries, so a PIN2 that failed is never offered again to the same SIM: only a
/// changed `pin2` setting or another SIM (taken out, or a different ICCID) clears that.
#[derive(Debug, Default)]
pub(super) struct Pin2Line {
    /// A command carrying PIN2 is under way: no second one until its result is in.
    pending: bool,
    /// The PIN2 that failed and the ICCID of the SIM it failed on.
    refused: Option<(String, Option<String>)>,
    /// A fixed-dialling change that waits for the pending command's result.
    deferred_fixed_dialing: Option<bool>,
    /// The SIM's request for its PUK2 was logged.
    puk2_reported: bool,
}

/// Whether the configured PIN2 may be used on a line.
enum Pin2Use {
    /// No `pin2` configured.
    NotConfigured,
    /// This SIM failed it already.
    Refused,
    /// Use it.
    Use(String),
}

/// Whether a failed PIN2 command may have cost one of the SIM's PIN2 tries. The module
/// or the SIM lacking the facility (`+CME ERROR: 3` not allowed, `4` not supported) and
/// a backend without the operation never checked it; any other failure (a wrong PIN2,
/// a blocked one, or no answer) is taken as a try used.
fn pin2_try_used(error: &HalError) -> bool {
    !matches!(
        error,
        HalError::Unsupported(_) | HalError::Cme { code: 3 | 4 }
    )
}

/// How often the limits are looked at without any call.
const LIMITS_CHECK: std::time::Duration = std::time::Duration::from_secs(60);

/// When a trigger next wants a tick.
fn trigger_deadline(trigger: &ScheduleTrigger) -> Option<Instant> {
    match trigger {
        ScheduleTrigger::Daily(t) => t.deadline(),
        ScheduleTrigger::Every(t) => t.deadline(),
    }
}

impl Gateway {
    /// A line's module is up with its SIM ready: apply its GSM settings once.
    pub(super) fn line_came_up(&mut self, line: LineId) {
        if !self.management.set_up.insert(line) {
            return;
        }
        let policy = self.line_policy(line).clone();
        if matches!(policy.imei, ImeiPolicy::RandomAtPowerUp)
            && self.management.imei_pending.remove(&line)
        {
            if let Some(current) = self.line_imei(line) {
                let imei = current.randomised(&mut self.rng);
                info!(%line, imei = %imei, "random IMEI at power-up (F-6.12.3)");
                self.modem(line, ModemCommand::WriteImei(imei.to_string()));
                // The module restarts with it; the rest is applied when it is back.
                self.management.set_up.remove(&line);
                return;
            }
        }
        if let ImeiPolicy::Fixed(imei) = &policy.imei {
            if self.line_imei(line).as_ref() != Some(imei) {
                info!(%line, imei = %imei, "writing the configured IMEI (F-6.12.1)");
                self.modem(line, ModemCommand::WriteImei(imei.to_string()));
                self.management.set_up.remove(&line);
                return;
            }
        }
        if let OperatorChoice::Fixed(_) = &policy.operator {
            self.modem(
                line,
                ModemCommand::SelectOperator(policy.operator.to_selection()),
            );
        }
        match &policy.bcch {
            BcchMode::Auto => {}
            BcchMode::Fixed(arfcn) => self.modem(line, ModemCommand::LockCell(Some(*arfcn))),
            BcchMode::Rotation(_) => self.modem(line, ModemCommand::ScanCells),
        }
        if policy.clir {
            self.modem(line, ModemCommand::SetClir(true));
        }
        if let Some(attach) = policy.gprs {
            self.modem(line, ModemCommand::SetGprs(attach));
        }
        if let Some(on) = policy.fixed_dialing {
            // Read first: a SIM already in the wanted state costs no PIN2 check.
            match self.pin2_use(line) {
                Pin2Use::Use(_) => self.modem(line, ModemCommand::ReadFixedDialing),
                Pin2Use::NotConfigured => {
                    warn!(%line, on, "fixed dialling configured without sim.pin2: not applied")
                }
                Pin2Use::Refused => info!(
                    %line, on,
                    "fixed dialling not applied: this SIM refused the configured PIN2 (F-6.10.7)"
                ),
            }
        }
        if policy.call_waiting != super::CallWaiting::Disabled {
            self.modem(line, ModemCommand::SetCallWaiting(true));
        }
        for setting in policy.forwarding.commands() {
            self.modem(line, ModemCommand::SetForwarding(setting));
        }
    }

    /// The IMEI the line's module reported, when known and valid.
    fn line_imei(&self, line: LineId) -> Option<cellgate_policy::gsm::Imei> {
        let text = self.lines.get(line)?.imei.as_deref()?;
        cellgate_policy::gsm::Imei::parse(text).ok()
    }

    /// The module of `line` restarted or was lost: set it up again when it is back.
    pub(super) fn line_went_down(&mut self, line: LineId) {
        self.management.set_up.remove(&line);
    }

    /// The SIM of `line` is in `sim` state: unlock it with the configured PIN once when it
    /// asks for one (F-6.10.6), enter the configured PIN2 once when it asks for that
    /// (F-6.10.7). A SIM waiting only for PIN2 or PUK2 keeps the line usable.
    pub fn handle_line_sim(&mut self, line: LineId, sim: SimState) {
        if let Some(state) = self.lines.get_mut(line) {
            state.sim = Some(sim);
            state.module_ready = sim.is_usable();
        }
        if sim.is_usable() {
            self.management.pin_tried.remove(&line);
        }
        if sim != SimState::Puk2Required {
            if let Some(p) = self.management.pin2.get_mut(&line) {
                p.puk2_reported = false;
            }
        }
        match sim {
            SimState::PinRequired => {
                let Some(pin) = self.line_policy(line).pin.clone() else {
                    info!(%line, "SIM needs its PIN and none is configured");
                    return;
                };
                if self.management.pin_tried.insert(line) {
                    info!(%line, "unlocking the SIM with the configured PIN");
                    self.modem(line, ModemCommand::EnterPin(pin));
                }
            }
            SimState::Pin2Required => self.enter_pin2(line),
            SimState::Puk2Required => {
                let p = self.management.pin2.entry(line).or_default();
                if !p.puk2_reported {
                    p.puk2_reported = true;
                    warn!(
                        %line,
                        "PIN2 is blocked: the SIM needs its PUK2, which the gateway never \
                         enters (F-6.10.7)"
                    );
                }
            }
            SimState::NotInserted => {
                // Another SIM may come: what this one refused does not carry over.
                self.management.pin2.remove(&line);
            }
            _ => {}
        }
    }

    /// The ICCID the line's module reported, when known.
    fn line_iccid(&self, line: LineId) -> Option<String> {
        self.lines.get(line)?.identity.as_ref()?.iccid.clone()
    }

    /// Whether the configured PIN2 of `line` may be used on its SIM; a failure recorded
    /// for another PIN2 or another SIM is forgotten.
    fn pin2_use(&mut self, line: LineId) -> Pin2Use {
        let Some(pin2) = self.line_policy(line).pin2.clone() else {
            return Pin2Use::NotConfigured;
        };
        let iccid = self.line_iccid(line);
        let p = self.management.pin2.entry(line).or_default();
        match &p.refused {
            Some((refused, on)) if *refused == pin2 && *on == iccid => Pin2Use::Refused,
            Some(_) => {
                p.refused = None;
                Pin2Use::Use(pin2)
            }
            None => Pin2Use::Use(pin2),
        }
    }

    /// The SIM of `line` asks for PIN2: enter the configured one, unless one is under way
    /// or this SIM refused it.
    fn enter_pin2(&mut self, line: LineId) {
        match self.pin2_use(line) {
            Pin2Use::NotConfigured => info!(%line, "SIM asks for PIN2 and none is configured"),
            Pin2Use::Refused => info!(
                %line,
                "SIM asks for PIN2; it refused the configured one, which is not tried again \
                 until sim.pin2 or the SIM changes"
            ),
            Pin2Use::Use(pin2) => {
                let p = self.management.pin2.entry(line).or_default();
                if !p.pending {
                    p.pending = true;
                    info!(%line, "entering the configured PIN2 (F-6.10.7)");
                    self.modem(line, ModemCommand::EnterPin2(pin2));
                }
            }
        }
    }

    /// Changes the fixed dialling lock of `line` to `on` with the configured PIN2, or
    /// after the PIN2 command under way.
    fn set_fixed_dialing(&mut self, line: LineId, on: bool) {
        let pin2 = match self.pin2_use(line) {
            Pin2Use::Use(pin2) => pin2,
            Pin2Use::NotConfigured | Pin2Use::Refused => {
                info!(%line, on, "fixed dialling not changed: no usable PIN2");
                return;
            }
        };
        let p = self.management.pin2.entry(line).or_default();
        if p.pending {
            p.deferred_fixed_dialing = Some(on);
            return;
        }
        p.pending = true;
        info!(%line, on, "setting fixed dialling with the configured PIN2 (F-6.10.7)");
        self.modem(line, ModemCommand::SetFixedDialing { enabled: on, pin2 });
    }

    /// The result of [`ModemCommand::EnterPin2`], [`ModemCommand::ReadFixedDialing`] or
    /// [`ModemCommand::SetFixedDialing`] on `line`.
    pub(super) fn handle_pin2_result(
        &mut self,
        line: LineId,
        command: &ModemCommand,
        result: Result<Option<u8>, HalError>,
    ) {
        if let ModemCommand::ReadFixedDialing = command {
            let want = self.line_policy(line).fixed_dialing;
            match (result, want) {
                (Ok(Some(state)), Some(on)) if (state == 1) != on => {
                    self.set_fixed_dialing(line, on)
                }
                (Ok(_), Some(on)) => info!(%line, on, "fixed dialling already as configured"),
                (Ok(_), None) => {}
                (Err(e), _) => {
                    warn!(%line, error = %e, "fixed dialling state unreadable: not changed")
                }
            }
            return;
        }
        let (what, pin2) = match command {
            ModemCommand::EnterPin2(pin2) => ("PIN2 entry", pin2.clone()),
            ModemCommand::SetFixedDialing { pin2, .. } => ("fixed dialling", pin2.clone()),
            _ => return,
        };
        let iccid = self.line_iccid(line);
        let p = self.management.pin2.entry(line).or_default();
        p.pending = false;
        let deferred = p.deferred_fixed_dialing.take();
        match result {
            Ok(_) => {
                match command {
                    ModemCommand::SetFixedDialing { enabled, .. } => {
                        info!(%line, on = *enabled, "fixed dialling set (F-6.10.7)")
                    }
                    _ => info!(%line, "PIN2 entered (F-6.10.7)"),
                }
                if let Some(on) = deferred {
                    self.set_fixed_dialing(line, on);
                }
            }
            Err(e) if pin2_try_used(&e) => {
                p.refused = Some((pin2, iccid));
                warn!(
                    %line, error = %e,
                    "{what} failed with the configured PIN2 (F-6.10.7): it is not used again \
                     on this SIM until sim.pin2 or the SIM changes"
                );
            }
            Err(e) => warn!(%line, error = %e, "{what} not possible on this module or SIM"),
        }
    }

    /// Cells the module reported after [`ModemCommand::ScanCells`] (ARFCN, dBm).
    pub fn handle_cell_scan(&mut self, now: Instant, line: LineId, cells: &[(u32, i16)]) {
        let Some(rt) = self.line_runtime.get_mut(&line) else {
            return;
        };
        let Some(rotation) = rt.rotation.as_mut() else {
            return;
        };
        if let Some(arfcn) = rotation.on_scan(cells, now, &mut self.rng) {
            info!(%line, arfcn, "cell rotation: locking");
            self.modem(line, ModemCommand::LockCell(Some(arfcn)));
        }
    }

    /// §7.7 / F-5.2.1.3: switches a line's module on or off.
    pub fn set_module_enabled(&mut self, now: Instant, line: LineId, enabled: bool) {
        let Some(state) = self.lines.get_mut(line) else {
            return;
        };
        if state.enabled == enabled {
            return;
        }
        state.enabled = enabled;
        info!(%line, enabled, "module power by the operator");
        let mode = if enabled {
            PowerMode::Full
        } else {
            PowerMode::Minimum
        };
        if enabled {
            self.management.imei_pending.insert(line);
            self.management.set_up.remove(&line);
        }
        self.modem(line, ModemCommand::SetPower(mode));
        self.sync_line_registrations(now);
    }

    /// Starts the management timers (with the gateway).
    pub(super) fn start_management(&mut self, now: Instant) {
        let ids: Vec<LineId> = self.line_runtime.keys().copied().collect();
        for line in ids {
            if let ImeiPolicy::ChangeEvery(_) = &self.line_policy(line).imei {
                let schedule =
                    cellgate_policy::gsm::ImeiSchedule::new(&self.line_policy(line).imei, now);
                if let Some(rt) = self.line_runtime.get_mut(&line) {
                    rt.imei = Some(schedule);
                }
            }
        }
        if let Some(policy) = self.config.routing.run_policy.clone() {
            for rt in self.line_runtime.values_mut() {
                rt.policy = Some(cellgate_policy::run_policy::PolicyState::new(&policy, now));
            }
        }
        for l in self.lines.lines() {
            if matches!(self.line_policy(l.id).imei, ImeiPolicy::RandomAtPowerUp) {
                self.management.imei_pending.insert(l.id);
            }
        }
        let local = self.local_time(now);
        let timed = self
            .config
            .lines
            .values()
            .any(|p| p.limits.minutes.needs_clock() || p.limits.calls.needs_clock());
        self.management.next_limits_check = timed.then(|| now + LIMITS_CHECK);
        self.management.reboot = self.config.routing.reboot.map(ScheduleTrigger::new);
        self.management.cdr_reset = self.config.routing.cdr_reset.map(ScheduleTrigger::new);
        for trigger in [&mut self.management.reboot, &mut self.management.cdr_reset]
            .into_iter()
            .flatten()
        {
            trigger.tick(now, local); // primes: nothing fires at start
        }
    }

    /// Earliest management or policy deadline.
    pub(super) fn policy_deadline(&self) -> Option<Instant> {
        let lines = self.line_runtime.values().flat_map(|rt| {
            [
                rt.policy.as_ref().and_then(|p| p.poll_timeout()),
                rt.rotation.as_ref().and_then(|r| r.poll_timeout()),
                rt.imei.as_ref().and_then(|i| i.poll_timeout()),
            ]
        });
        let schedules = [&self.management.reboot, &self.management.cdr_reset]
            .into_iter()
            .map(|t| t.as_ref().and_then(trigger_deadline));
        lines
            .chain(schedules)
            .chain([
                self.management.next_limits_check,
                self.group_peer_deadline(),
            ])
            .flatten()
            .min()
    }

    /// Run-policy timers, cell rotation, scheduled reboot and CDR reset.
    pub(super) fn policy_timeouts(&mut self, now: Instant) {
        let lines: Vec<LineId> = self.line_runtime.keys().copied().collect();
        for line in lines {
            let run_policy = self.config.routing.run_policy.clone();
            let Some(rt) = self.line_runtime.get_mut(&line) else {
                continue;
            };
            let actions = match (run_policy.as_ref(), rt.policy.as_mut()) {
                (Some(p), Some(state)) => state.on_timeout(p, now),
                _ => Vec::new(),
            };
            let switch = rt
                .rotation
                .as_mut()
                .and_then(|r| r.on_timeout(now, &mut self.rng));
            if let Some(arfcn) = switch {
                let busy = self.lines.get(line).is_some_and(|l| l.busy);
                if busy {
                    // Not in the middle of a call: when it ends.
                    rt.pending_lock = Some(arfcn);
                } else {
                    info!(%line, arfcn, "cell rotation by interval");
                    self.modem(line, ModemCommand::LockCell(Some(arfcn)));
                }
            }
            self.maybe_change_imei(now, line);
            if !actions.is_empty() {
                self.apply_policy_actions(now, line, &actions);
            }
        }
        if self.management.next_limits_check.is_some_and(|t| now >= t) {
            self.management.next_limits_check = Some(now + LIMITS_CHECK);
            let ids: Vec<LineId> = self.line_runtime.keys().copied().collect();
            let local = self.local_time(now);
            for line in ids {
                let limits = self.line_policy(line).limits.clone();
                if let Some(rt) = self.line_runtime.get_mut(&line) {
                    rt.counters.usage.refresh(&limits, local);
                }
            }
            self.sync_line_registrations(now);
        }
        let local = self.local_time(now);
        let reboot = self
            .management
            .reboot
            .as_mut()
            .is_some_and(|t| t.tick(now, local));
        if reboot {
            info!("scheduled reboot (F-6.1.10): restarting every module");
            let ids: Vec<LineId> = self.lines.lines().iter().map(|l| l.id).collect();
            for line in ids {
                self.management.imei_pending.insert(line);
                self.management.set_up.remove(&line);
                self.modem(line, ModemCommand::Reset);
            }
        }
        let reset = self
            .management
            .cdr_reset
            .as_mut()
            .is_some_and(|t| t.tick(now, local));
        if reset {
            info!("daily CDR reset (F-6.1.11)");
            let ids: Vec<LineId> = self.lines.lines().iter().map(|l| l.id).collect();
            for line in ids {
                self.reset_cdr(now, line);
            }
        }
    }

    /// F-6.12.2: changes the IMEI when due, or once the call in progress ended.
    pub(super) fn maybe_change_imei(&mut self, now: Instant, line: LineId) {
        let busy = self.lines.get(line).is_some_and(|l| l.busy);
        let current = self.line_imei(line);
        let Some(rt) = self.line_runtime.get_mut(&line) else {
            return;
        };
        let Some(schedule) = rt.imei.as_mut() else {
            return;
        };
        if !schedule.due(now) {
            return;
        }
        if !schedule.change_now(now, busy) {
            schedule.defer();
            return;
        }
        schedule.on_changed(now);
        if let Some(current) = current {
            let imei = current.randomised(&mut self.rng);
            info!(%line, imei = %imei, "periodic IMEI change (F-6.12.2)");
            self.management.set_up.remove(&line);
            self.modem(line, ModemCommand::WriteImei(imei.to_string()));
        }
    }

    /// Per line: available for a call, and usable for VoIP as far as the line table knows
    /// (registration, power, policy locks) — what group mode and paused accounts follow.
    fn line_states(&self) -> Vec<(bool, bool)> {
        self.lines
            .lines()
            .iter()
            .map(|l| {
                let voip = l.enabled && l.gsm_registered && !l.voip_disabled_by_policy;
                (l.available(), voip)
            })
            .collect()
    }

    /// Whether a line became free, busy, registered or locked since the last
    /// [`Self::after_line_changes`].
    pub(super) fn lines_changed(&self) -> bool {
        self.line_states() != self.line_snapshot
    }

    /// What follows a line becoming free or busy: group forwarding, deferred IMEI changes.
    pub(super) fn after_line_changes(&mut self, now: Instant) {
        self.line_snapshot = self.line_states();
        self.sync_group_peer(now);
        self.sync_group(now);
        self.sync_line_registrations(now);
        let deferred: Vec<LineId> = self
            .line_runtime
            .iter()
            .filter(|(_, rt)| rt.imei.as_ref().is_some_and(|i| i.is_deferred()))
            .map(|(l, _)| *l)
            .collect();
        for line in deferred {
            self.maybe_change_imei(now, line);
        }
    }

    /// Appendix D: keeps the access line's forwarding pointed at an idle member, local
    /// first, then the idle lines of member devices (F-D.6).
    pub(super) fn sync_group(&mut self, now: Instant) {
        let Some(plan) = self.config.routing.group.clone() else {
            return;
        };
        let remote = self.remote_idle_numbers(now);
        let lines = &self.lines;
        let idle = |l: LineId| lines.get(l).is_some_and(|s| s.available());
        if let Some(change) = self
            .management
            .group
            .update_with_remote(&plan, idle, &remote)
        {
            info!(line = %change.line, forwarding = ?change.forwarding, "group mode: forwarding updated");
            self.modem(change.line, ModemCommand::SetForwarding(change.forwarding));
        }
    }
}
