//! The simulated GSM network: lines (modem + SIM), calls between modems and outside phones,
//! and the timers that move calls along. All state sits behind one mutex that is never held
//! across an `.await`; call progress runs in small tokio tasks on the (virtual) tokio clock.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cellgate_hal::{CallDirection, CallStatus, ReleaseCause};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use thiserror::Error;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tokio::time::{sleep, Instant};

use crate::causes::cause_text;
use crate::clock::SimClock;
use crate::luhn;
use crate::modem::{Modem, ModuleProfile, Notice};
use crate::numbering::{CallStep, NumberingPlan, ReleaseUrc};
use crate::phone::{self, CallerBehaviour};
use crate::sim_card::SimCard;
use crate::transcript::Transcript;

/// Size of each direction of a modem's in-memory serial port.
pub const SERIAL_BUFFER_BYTES: usize = 64 * 1024;

/// Most calls a modem holds at once (`+CLCC` ids 1..=7).
const MAX_CALLS_PER_LINE: u8 = 7;

/// What a network is built from. Everything random derives from `seed`, so equal configs
/// give byte-identical runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkConfig {
    /// Seed of every pseudo-random choice (e.g. IMEIs).
    pub seed: u64,
    /// What happens when a modem dials a number.
    pub numbering: NumberingPlan,
}

impl Default for NetworkConfig {
    /// Seed 1 and the default numbering plan.
    fn default() -> Self {
        Self {
            seed: 1,
            numbering: NumberingPlan::default(),
        }
    }
}

/// Why a test-side network operation could not be done.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SimError {
    /// No modem is attached on that line.
    #[error("no modem attached on line {0}")]
    NoSuchLine(u16),
    /// The line already has a call (call waiting is not simulated yet).
    #[error("line {0} already has a call")]
    LineBusy(u16),
    /// No call in the network involves that phone number.
    #[error("no call with phone {0}")]
    NoSuchCall(String),
    /// The number is empty or has no digits.
    #[error("invalid phone number {0:?}")]
    InvalidNumber(String),
}

/// Where a call stands, from the gateway modem's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallState {
    /// Outgoing, the network is setting it up.
    Dialing,
    /// Outgoing, the far end is ringing.
    Alerting,
    /// Connected.
    Active,
    /// Incoming, ringing on the modem.
    Incoming,
}

impl CallState {
    /// The `+CLCC` `<stat>` value.
    pub fn clcc_stat(self) -> u8 {
        match self {
            CallState::Active => 0,
            CallState::Dialing => 2,
            CallState::Alerting => 3,
            CallState::Incoming => 4,
        }
    }
}

impl From<CallState> for CallStatus {
    fn from(s: CallState) -> Self {
        match s {
            CallState::Dialing => CallStatus::Dialing,
            CallState::Alerting => CallStatus::Alerting,
            CallState::Active => CallStatus::Active,
            CallState::Incoming => CallStatus::Incoming,
        }
    }
}

/// A call as tests see it in [`Network::calls`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSnapshot {
    /// Gateway line the call is on.
    pub line: u16,
    /// The modem's call index (`+CLCC` id).
    pub index: u8,
    /// Number of the phone outside the gateway.
    pub remote: String,
    /// Originated by the gateway (MO) or received (MT).
    pub direction: CallDirection,
    /// Current state.
    pub state: CallState,
}

/// A handle on the simulated network. Cheap to clone; all clones share one network.
#[derive(Clone)]
pub struct Network {
    inner: Arc<Mutex<NetworkState>>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network").finish_non_exhaustive()
    }
}

struct NetworkState {
    config: NetworkConfig,
    clock: SimClock,
    caller: CallerBehaviour,
    lines: BTreeMap<u16, LineState>,
    calls: Vec<Call>,
    next_call_id: u64,
    next_attach_id: u64,
    events: Vec<String>,
}

struct LineState {
    profile: ModuleProfile,
    sim: SimCard,
    transcript: Transcript,
    link: Option<ModemLink>,
}

struct ModemLink {
    attach_id: u64,
    notices: mpsc::UnboundedSender<Notice>,
}

struct Call {
    id: u64,
    line: u16,
    index: u8,
    remote: String,
    direction: CallDirection,
    state: CallState,
}

impl Call {
    fn snapshot(&self) -> CallSnapshot {
        CallSnapshot {
            line: self.line,
            index: self.index,
            remote: self.remote.clone(),
            direction: self.direction,
            state: self.state,
        }
    }

    fn label(&self) -> String {
        match self.direction {
            CallDirection::MobileOriginated => {
                format!("line{} MO call to {}", self.line, self.remote)
            }
            CallDirection::MobileTerminated => {
                format!("line{} MT call from {}", self.line, self.remote)
            }
        }
    }
}

/// Why the network refused a modem's dial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DialRefused {
    /// The line already holds a call, or all call slots are used.
    LineBusy,
    /// The modem is no longer attached.
    Detached,
}

impl NetworkState {
    fn log(&mut self, text: impl Into<String>) {
        let text = text.into();
        tracing::debug!(target: "cellgate_simulator", "{text}");
        let entry = format!("{} {text}", self.clock.stamp());
        self.events.push(entry);
    }

    fn notify(&self, line: u16, notice: Notice) {
        if let Some(link) = self.lines.get(&line).and_then(|l| l.link.as_ref()) {
            // A closed channel means the modem task is ending; nothing to tell it then.
            let _ = link.notices.send(notice);
        }
    }

    fn is_current(&self, line: u16, attach_id: u64) -> bool {
        self.lines
            .get(&line)
            .and_then(|l| l.link.as_ref())
            .is_some_and(|link| link.attach_id == attach_id)
    }

    fn call_pos(&self, call_id: u64) -> Option<usize> {
        self.calls.iter().position(|c| c.id == call_id)
    }

    /// Removes a call; tells the modem with `urc` when the network (not the modem) ended it.
    fn release(&mut self, pos: usize, cause: ReleaseCause, urc: Option<ReleaseUrc>, why: &str) {
        let call = self.calls.remove(pos);
        let label = call.label();
        self.log(format!(
            "{label}: released {why}, cause {} ({})",
            cause.0,
            cause_text(cause)
        ));
        if let Some(urc) = urc {
            self.notify(call.line, Notice::Released { cause, urc });
        }
    }

    fn free_index(&self, line: u16) -> Option<u8> {
        (1..=MAX_CALLS_PER_LINE)
            .find(|i| !self.calls.iter().any(|c| c.line == line && c.index == *i))
    }

    fn new_call(
        &mut self,
        line: u16,
        remote: &str,
        direction: CallDirection,
        state: CallState,
    ) -> Option<u64> {
        let index = self.free_index(line)?;
        let id = self.next_call_id;
        self.next_call_id += 1;
        self.calls.push(Call {
            id,
            line,
            index,
            remote: remote.to_owned(),
            direction,
            state,
        });
        Some(id)
    }
}

/// A deterministic, Luhn-valid IMEI for a line: the module's type allocation code, then a
/// serial drawn from the network seed and the line number (independent of attach order).
fn imei_for(seed: u64, line: u16, tac: &str) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (u64::from(line) << 48) ^ 0x1e1);
    let serial: u32 = rng.gen_range(0..1_000_000);
    luhn::complete(&format!("{tac}{serial:06}"))
}

impl Network {
    /// Builds an empty network; its clock (for the event log) starts now.
    pub fn new(config: NetworkConfig) -> Network {
        Network {
            inner: Arc::new(Mutex::new(NetworkState {
                config,
                clock: SimClock::start(),
                caller: CallerBehaviour::default(),
                lines: BTreeMap::new(),
                calls: Vec::new(),
                next_call_id: 1,
                next_attach_id: 1,
                events: Vec::new(),
            })),
        }
    }

    fn state(&self) -> MutexGuard<'_, NetworkState> {
        // No code path panics while holding the lock, but never let a poisoned lock take
        // the whole simulator down.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates the modem for `line` with [`SimCard::for_line`], spawns its task on the
    /// current tokio runtime and returns the gateway-side end of its serial port.
    ///
    /// Must be called from within a tokio runtime.
    pub fn attach_modem(&self, line: u16, profile: ModuleProfile) -> DuplexStream {
        self.attach_modem_with_sim(line, profile, SimCard::for_line(line))
    }

    /// Like [`Network::attach_modem`] with a chosen SIM. Re-attaching a line replaces its
    /// modem: the old one's calls end silently and its stream closes.
    pub fn attach_modem_with_sim(
        &self,
        line: u16,
        profile: ModuleProfile,
        sim: SimCard,
    ) -> DuplexStream {
        let (gateway_end, modem_end) = tokio::io::duplex(SERIAL_BUFFER_BYTES);
        let (tx, rx) = mpsc::unbounded_channel();
        let (attach_id, imei) = {
            let mut st = self.state();
            let attach_id = st.next_attach_id;
            st.next_attach_id += 1;
            while let Some(pos) = st.calls.iter().position(|c| c.line == line) {
                st.release(pos, ReleaseCause::NORMAL_CLEARING, None, "(modem replaced)");
            }
            let imei = imei_for(st.config.seed, line, profile.data().tac);
            st.log(format!(
                "line{line} modem attached: {}, IMEI {imei}, ICCID {}, IMSI {}, MSISDN {}",
                profile.data().model,
                sim.iccid,
                sim.imsi,
                sim.msisdn
            ));
            let entry = st.lines.entry(line).or_insert_with(|| LineState {
                profile,
                sim: sim.clone(),
                transcript: Transcript::default(),
                link: None,
            });
            entry.profile = profile;
            entry.sim = sim.clone();
            entry.link = Some(ModemLink {
                attach_id,
                notices: tx,
            });
            (attach_id, imei)
        };
        let modem = Modem::new(self.clone(), line, attach_id, profile, sim, imei);
        tokio::spawn(modem.run(modem_end, rx));
        gateway_end
    }

    /// A phone outside the gateway calls the SIM of `line`: the modem rings (`RING`, and
    /// `+CLIP` when enabled) every 3 s until answered with `ATA`, until the phone hangs up
    /// ([`Network::phone_hangs_up`]) or until it gives up after 30 s (`NO CARRIER`).
    pub fn phone_calls_line(&self, caller: &str, line: u16) -> Result<(), SimError> {
        let caller = phone::normalise(caller);
        if caller.trim_start_matches('+').is_empty() {
            return Err(SimError::InvalidNumber(caller));
        }
        let (call_id, behaviour) = {
            let mut st = self.state();
            if st.lines.get(&line).is_none_or(|l| l.link.is_none()) {
                return Err(SimError::NoSuchLine(line));
            }
            if st.calls.iter().any(|c| c.line == line) {
                return Err(SimError::LineBusy(line));
            }
            let id = st
                .new_call(
                    line,
                    &caller,
                    CallDirection::MobileTerminated,
                    CallState::Incoming,
                )
                .ok_or(SimError::LineBusy(line))?;
            st.log(format!("line{line} MT call from {caller}: ringing"));
            (id, st.caller)
        };
        tokio::spawn(self.clone().ring(call_id, behaviour));
        Ok(())
    }

    /// The outside phone `number` hangs up all its calls; the gateway modems involved see
    /// `NO CARRIER` and `AT+CEER` reports cause 16.
    pub fn phone_hangs_up(&self, number: &str) -> Result<(), SimError> {
        let mut st = self.state();
        let mut found = false;
        while let Some(pos) = st
            .calls
            .iter()
            .position(|c| phone::same_number(&c.remote, number))
        {
            found = true;
            st.release(
                pos,
                ReleaseCause::NORMAL_CLEARING,
                Some(ReleaseUrc::NoCarrier),
                "by the phone",
            );
        }
        if found {
            Ok(())
        } else {
            Err(SimError::NoSuchCall(number.to_owned()))
        }
    }

    /// Every call in the network, in creation order.
    pub fn calls(&self) -> Vec<CallSnapshot> {
        self.state().calls.iter().map(Call::snapshot).collect()
    }

    /// The AT transcript of `line` (all its modems so far): `-> <line>` received,
    /// `<- <line>` sent, in order. Empty for a line that never had a modem.
    pub fn transcript(&self, line: u16) -> Vec<String> {
        self.state()
            .lines
            .get(&line)
            .map(|l| l.transcript.entries().to_vec())
            .unwrap_or_default()
    }

    /// The network event log, each entry stamped with virtual time since [`Network::new`].
    pub fn event_log(&self) -> Vec<String> {
        self.state().events.clone()
    }

    /// The SIM currently in `line`, if a modem was ever attached there.
    pub fn sim(&self, line: u16) -> Option<SimCard> {
        self.state().lines.get(&line).map(|l| l.sim.clone())
    }

    /// The module profile of `line`, if a modem was ever attached there.
    pub fn profile(&self, line: u16) -> Option<ModuleProfile> {
        self.state().lines.get(&line).map(|l| l.profile)
    }

    // ---- timers ----

    async fn run_script(self, call_id: u64, script: Vec<(Duration, CallStep)>) {
        for (delay, step) in script {
            sleep(delay).await;
            if !self.apply_step(call_id, step) {
                return;
            }
        }
    }

    /// Applies one scripted step; `false` once the call is gone or in an unexpected state.
    fn apply_step(&self, call_id: u64, step: CallStep) -> bool {
        let mut st = self.state();
        let Some(pos) = st.call_pos(call_id) else {
            return false;
        };
        let (line, state, label) = {
            let c = &st.calls[pos];
            (c.line, c.state, c.label())
        };
        match step {
            CallStep::Alert if state == CallState::Dialing => {
                st.calls[pos].state = CallState::Alerting;
                st.log(format!("{label}: alerting"));
                st.notify(line, Notice::Alerting);
                true
            }
            CallStep::Answer if state == CallState::Alerting => {
                st.calls[pos].state = CallState::Active;
                st.log(format!("{label}: answered"));
                st.notify(line, Notice::Connected);
                true
            }
            CallStep::Release { cause, urc } => {
                st.release(pos, cause, Some(urc), "by the network");
                false
            }
            CallStep::Alert | CallStep::Answer => false,
        }
    }

    async fn ring(self, call_id: u64, behaviour: CallerBehaviour) {
        let started = Instant::now();
        loop {
            {
                let st = self.state();
                let Some(pos) = st.call_pos(call_id) else {
                    return;
                };
                let call = &st.calls[pos];
                if call.state != CallState::Incoming {
                    return;
                }
                st.notify(
                    call.line,
                    Notice::Ring {
                        caller: call.remote.clone(),
                    },
                );
            }
            let left = behaviour.give_up_after.saturating_sub(started.elapsed());
            sleep(behaviour.ring_interval.min(left)).await;
            if started.elapsed() >= behaviour.give_up_after {
                let mut st = self.state();
                if let Some(pos) = st.call_pos(call_id) {
                    if st.calls[pos].state == CallState::Incoming {
                        st.release(
                            pos,
                            ReleaseCause::NORMAL_CLEARING,
                            Some(ReleaseUrc::NoCarrier),
                            "(caller gave up)",
                        );
                    }
                }
                return;
            }
        }
    }

    // ---- the modem side (crate-internal) ----

    /// A modem dials `number` (already validated and normalised). Returns the call index.
    pub(crate) fn modem_dial(
        &self,
        line: u16,
        attach_id: u64,
        number: &str,
    ) -> Result<u8, DialRefused> {
        let (call_id, index, script) = {
            let mut st = self.state();
            if !st.is_current(line, attach_id) {
                return Err(DialRefused::Detached);
            }
            if st.calls.iter().any(|c| c.line == line) {
                return Err(DialRefused::LineBusy);
            }
            let behaviour = st.config.numbering.resolve(number).clone();
            let id = st
                .new_call(
                    line,
                    number,
                    CallDirection::MobileOriginated,
                    CallState::Dialing,
                )
                .ok_or(DialRefused::LineBusy)?;
            let index = st.calls.iter().find(|c| c.id == id).map_or(1, |c| c.index);
            st.log(format!(
                "line{line} MO call to {number}: dialing (far end {})",
                behaviour.label()
            ));
            (id, index, behaviour.script())
        };
        tokio::spawn(self.clone().run_script(call_id, script));
        Ok(index)
    }

    /// The modem answers its ringing call (`ATA`); `false` when nothing is ringing.
    pub(crate) fn modem_answer(&self, line: u16, attach_id: u64) -> bool {
        let mut st = self.state();
        if !st.is_current(line, attach_id) {
            return false;
        }
        let Some(pos) = st
            .calls
            .iter()
            .position(|c| c.line == line && c.state == CallState::Incoming)
        else {
            return false;
        };
        st.calls[pos].state = CallState::Active;
        let label = st.calls[pos].label();
        st.log(format!("{label}: answered"));
        true
    }

    /// The modem releases all its calls (`ATH`, `AT+CHUP`); returns how many there were.
    pub(crate) fn modem_hang_up(&self, line: u16, attach_id: u64) -> usize {
        let mut st = self.state();
        if !st.is_current(line, attach_id) {
            return 0;
        }
        let mut n = 0;
        while let Some(pos) = st.calls.iter().position(|c| c.line == line) {
            st.release(pos, ReleaseCause::NORMAL_CLEARING, None, "by the gateway");
            n += 1;
        }
        n
    }

    /// The calls of one line, for `AT+CLCC`.
    pub(crate) fn modem_calls(&self, line: u16) -> Vec<CallSnapshot> {
        self.state()
            .calls
            .iter()
            .filter(|c| c.line == line)
            .map(Call::snapshot)
            .collect()
    }

    /// The modem sends DTMF into its active call; `false` when no call is active.
    pub(crate) fn modem_dtmf(&self, line: u16, digits: &str) -> bool {
        let mut st = self.state();
        let Some(label) = st
            .calls
            .iter()
            .find(|c| c.line == line && c.state == CallState::Active)
            .map(Call::label)
        else {
            return false;
        };
        st.log(format!("{label}: DTMF {digits}"));
        true
    }

    /// Records a line the modem received, if `attach_id` is still the line's modem.
    pub(crate) fn record_received(&self, line: u16, attach_id: u64, bytes: &[u8]) {
        let mut st = self.state();
        if st.is_current(line, attach_id) {
            if let Some(l) = st.lines.get_mut(&line) {
                l.transcript.received(bytes);
            }
        }
    }

    /// Records a line the modem sent, if `attach_id` is still the line's modem.
    pub(crate) fn record_sent(&self, line: u16, attach_id: u64, bytes: &[u8]) {
        let mut st = self.state();
        if st.is_current(line, attach_id) {
            if let Some(l) = st.lines.get_mut(&line) {
                l.transcript.sent(bytes);
            }
        }
    }

    /// The modem's task ended (gateway closed the port): its calls end quietly.
    pub(crate) fn modem_detached(&self, line: u16, attach_id: u64) {
        let mut st = self.state();
        if !st.is_current(line, attach_id) {
            return;
        }
        while let Some(pos) = st.calls.iter().position(|c| c.line == line) {
            st.release(pos, ReleaseCause::NORMAL_CLEARING, None, "(modem detached)");
        }
        if let Some(l) = st.lines.get_mut(&line) {
            l.link = None;
        }
        st.log(format!("line{line} modem detached"));
    }
}
