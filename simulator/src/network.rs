//! The simulated GSM network: lines (modem + SIM), calls between modems and outside phones,
//! and the timers that move calls along. All state sits behind one mutex that is never held
//! across an `.await`; call progress runs in small tokio tasks on the (virtual) tokio clock.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cellgate_hal::{CallDirection, CallStatus, PcmFrame, ReleaseCause};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use thiserror::Error;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tokio::time::{sleep, Instant};

use crate::audio::{AudioConfig, SimAudio};
use crate::causes::cause_text;
use crate::clock::SimClock;
use crate::faults::Fault;
use crate::luhn;
use crate::modem::{Modem, ModuleProfile, Notice};
use crate::numbering::{CallStep, NumberingPlan, ReleaseUrc};
use crate::operator::{default_cells, default_operators, Cell, Operator};
use crate::phone::{self, CallerBehaviour, PhoneBehaviour, PhoneState};
use crate::sim_card::SimCard;
use crate::smsc::Smsc;
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
    /// The operators (the first is where SIMs of unknown home operators roam).
    pub operators: Vec<Operator>,
    /// The cells; a modem camps on the first cell of its SIM's home operator.
    pub cells: Vec<Cell>,
    /// Searching -> registered after power-on, SIM unlock or network return.
    pub registration_delay: Duration,
    /// SMSC -> modem delivery delay of a mobile-terminated message.
    pub sms_delivery_delay: Duration,
    /// Wall-clock time (Unix seconds, UTC) of the network's start, for SMSC timestamps.
    pub epoch_unix: i64,
    /// Time zone of SMSC timestamps, in quarter hours.
    pub tz_quarters: i8,
}

impl Default for NetworkConfig {
    /// Seed 1, the default numbering plan, operators and cells ([`default_operators`],
    /// [`default_cells`]), registration after 0.5 s, SMS delivered 0.5 s after they reach
    /// the SMSC, timestamps from 2024-01-01 00:00:00 +08:00.
    fn default() -> Self {
        Self {
            seed: 1,
            numbering: NumberingPlan::default(),
            operators: default_operators(),
            cells: default_cells(),
            registration_delay: Duration::from_millis(500),
            sms_delivery_delay: Duration::from_millis(500),
            epoch_unix: 1_704_038_400,
            tz_quarters: 32,
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
    /// The line's slot holds no SIM.
    #[error("no SIM in line {0}")]
    NoSim(u16),
    /// A SIM is already inserted in that line.
    #[error("line {0} already holds a SIM")]
    SimPresent(u16),
    /// No operator or cell with that name/number.
    #[error("unknown operator or cell {0:?}")]
    UnknownNetwork(String),
    /// The message cannot be coded.
    #[error("cannot encode the message: {0}")]
    Encoding(String),
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
    /// Connected and on hold (`AT+CHLD=2`).
    Held,
    /// Incoming while another call is up (call waiting, `+CCWA`).
    Waiting,
}

impl CallState {
    /// The `+CLCC` `<stat>` value.
    pub fn clcc_stat(self) -> u8 {
        match self {
            CallState::Active => 0,
            CallState::Dialing => 2,
            CallState::Alerting => 3,
            CallState::Incoming => 4,
            CallState::Held => 1,
            CallState::Waiting => 5,
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
            CallState::Held => CallStatus::Held,
            CallState::Waiting => CallStatus::Waiting,
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

pub(crate) struct NetworkState {
    pub(crate) config: NetworkConfig,
    pub(crate) clock: SimClock,
    caller: CallerBehaviour,
    pub(crate) lines: BTreeMap<u16, LineState>,
    calls: Vec<Call>,
    next_call_id: u64,
    next_attach_id: u64,
    events: Vec<String>,
    pub(crate) smsc: Smsc,
    pub(crate) ussd: BTreeMap<u16, crate::ussd::Session>,
    pub(crate) ussd_generation: u64,
    phones: BTreeMap<String, PhoneState>,
    pub(crate) audio_config: AudioConfig,
    audio_open: BTreeMap<u16, u64>,
    next_audio_gen: u64,
    audio_inbox: BTreeMap<u16, VecDeque<PcmFrame>>,
}

/// Where the audio of a line's active call goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FarEnd {
    /// An outside phone (its key, see [`phone_key`]).
    Phone(String),
    /// Another gateway line.
    Line(u16),
}

/// The key of a phone in the network's phone table: its digits without a leading `+`.
pub(crate) fn phone_key(number: &str) -> String {
    phone::normalise(number).trim_start_matches('+').to_owned()
}

/// Radio conditions of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Radio {
    /// Index in `config.cells` of the cell the modem camps on.
    pub(crate) cell: usize,
    /// Signal override (`None`: the cell's).
    pub(crate) rssi: Option<u8>,
    /// Bit error rate.
    pub(crate) ber: u8,
    /// Coverage lost (network deregistration fault, signal fade to 0).
    pub(crate) lost: bool,
    /// Registration is refused (`+CREG: 3`).
    pub(crate) denied: bool,
    /// BCCH (ARFCN) lock.
    pub(crate) bcch_lock: Option<u16>,
    /// Manual operator selection (MCC+MNC).
    pub(crate) manual_operator: Option<String>,
    /// What the modem last reported (`+CREG` stat).
    pub(crate) reg_stat: u8,
}

pub(crate) struct LineState {
    pub(crate) profile: ModuleProfile,
    /// The card in the slot; `None` once removed.
    pub(crate) sim: Option<SimCard>,
    /// The last card that was in the slot (for re-insertion).
    pub(crate) last_sim: SimCard,
    transcript: Transcript,
    link: Option<ModemLink>,
    pub(crate) radio: Radio,
    pub(crate) imei: String,
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
    /// The other gateway line of a line-to-line call.
    peer_line: Option<u16>,
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
    pub(crate) fn log(&mut self, text: impl Into<String>) {
        let text = text.into();
        tracing::debug!(target: "cellgate_simulator", "{text}");
        let entry = format!("{} {text}", self.clock.stamp());
        self.events.push(entry);
    }

    pub(crate) fn notify(&self, line: u16, notice: Notice) {
        if let Some(link) = self.lines.get(&line).and_then(|l| l.link.as_ref()) {
            // A closed channel means the modem task is ending; nothing to tell it then.
            let _ = link.notices.send(notice);
        }
    }

    pub(crate) fn is_current(&self, line: u16, attach_id: u64) -> bool {
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
            peer_line: None,
        });
        Some(id)
    }
}

impl NetworkState {
    /// The programmed behaviour of a phone, if any.
    fn phone_behaviour(&self, number: &str) -> Option<PhoneBehaviour> {
        self.phones
            .get(&phone_key(number))
            .and_then(|p| p.behaviour.clone())
    }

    /// A call connected: the far-end phone restarts its sound; returns its program (hang
    /// up, DTMF) for [`Network::phone_program`].
    fn connected(&mut self, pos: usize) -> Option<(u64, String, PhoneBehaviour)> {
        let call = self.calls.get(pos)?;
        if call.peer_line.is_some() {
            return None;
        }
        let (id, remote) = (call.id, call.remote.clone());
        let p = self.phones.entry(phone_key(&remote)).or_default();
        p.played = 0;
        p.dtmf_out.clear();
        let b = p.behaviour.clone()?;
        (b.hang_up_after.is_some() || !b.dtmf.is_empty()).then_some((id, remote, b))
    }

    pub(crate) fn audio_is_current(&self, line: u16, generation: u64) -> bool {
        self.audio_open.get(&line) == Some(&generation)
    }

    /// The far end of `line`'s active call, if it has one.
    pub(crate) fn far_end(&self, line: u16) -> Option<FarEnd> {
        let call = self
            .calls
            .iter()
            .find(|c| c.line == line && c.state == CallState::Active)?;
        Some(match call.peer_line {
            Some(l) => FarEnd::Line(l),
            None => FarEnd::Phone(phone_key(&call.remote)),
        })
    }

    /// A frame from the gateway reaches the far end.
    pub(crate) fn audio_deliver(&mut self, to: &FarEnd, frame: PcmFrame) {
        match to {
            FarEnd::Phone(key) => self
                .phones
                .entry(key.clone())
                .or_default()
                .recording
                .extend_from_slice(&frame),
            FarEnd::Line(l) => {
                let inbox = self.audio_inbox.entry(*l).or_default();
                if inbox.len() < crate::audio::CHANNEL_FRAMES {
                    inbox.push_back(frame);
                }
            }
        }
    }

    /// The far end's next frame towards `line`.
    pub(crate) fn far_end_frame(&mut self, line: u16, far: &FarEnd) -> Option<PcmFrame> {
        match far {
            FarEnd::Phone(key) => Some(self.phones.entry(key.clone()).or_default().next_frame()),
            FarEnd::Line(_) => self
                .audio_inbox
                .get_mut(&line)
                .and_then(VecDeque::pop_front),
        }
    }

    /// Index of the cell a SIM camps on: the first of its home operator, else the first.
    pub(crate) fn home_cell(&self, sim: &SimCard) -> usize {
        self.config
            .cells
            .iter()
            .position(|c| c.operator == sim.home_operator())
            .unwrap_or(0)
    }

    /// The operator with this MCC+MNC.
    pub(crate) fn operator(&self, numeric: &str) -> Option<&Operator> {
        self.config
            .operators
            .iter()
            .find(|o| o.numeric() == numeric)
    }

    /// The line whose SIM has this MSISDN (loose comparison).
    pub(crate) fn line_of_number(&self, number: &str) -> Option<u16> {
        self.lines.iter().find_map(|(n, l)| {
            l.sim
                .as_ref()
                .filter(|s| {
                    phone::same_number(&s.msisdn, number) || national_match(&s.msisdn, number)
                })
                .map(|_| *n)
        })
    }
}

/// `+8613800000001` reaches `13800000001`: an international number matches a national
/// MSISDN when it ends with it and the rest is a country code (1-3 digits).
fn national_match(msisdn: &str, number: &str) -> bool {
    let digits = phone::normalise(number);
    let Some(intl) = digits.strip_prefix('+') else {
        return false;
    };
    let m = phone::normalise(msisdn);
    intl.len() > m.len() && intl.len() - m.len() <= 3 && intl.ends_with(m.as_str())
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
                smsc: Smsc::default(),
                ussd: BTreeMap::new(),
                ussd_generation: 0,
                config,
                clock: SimClock::start(),
                caller: CallerBehaviour::default(),
                lines: BTreeMap::new(),
                calls: Vec::new(),
                next_call_id: 1,
                next_attach_id: 1,
                events: Vec::new(),
                phones: BTreeMap::new(),
                audio_config: AudioConfig::default(),
                audio_open: BTreeMap::new(),
                next_audio_gen: 1,
                audio_inbox: BTreeMap::new(),
            })),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, NetworkState> {
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
            let cell = st.home_cell(&sim);
            let mut sim = sim;
            sim.power_on();
            let entry = st.lines.entry(line).or_insert_with(|| LineState {
                profile,
                sim: None,
                last_sim: sim.clone(),
                transcript: Transcript::default(),
                link: None,
                radio: Radio {
                    cell,
                    rssi: None,
                    ber: 0,
                    lost: false,
                    denied: false,
                    bcch_lock: None,
                    manual_operator: None,
                    reg_stat: 0,
                },
                imei: imei.clone(),
            });
            entry.profile = profile;
            entry.sim = Some(sim.clone());
            entry.last_sim = sim;
            entry.imei = imei.clone();
            entry.radio.reg_stat = 0;
            entry.link = Some(ModemLink {
                attach_id,
                notices: tx,
            });
            (attach_id, imei)
        };
        let modem = Modem::new(self.clone(), line, attach_id, profile, imei);
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

    /// The SIM currently in `line` (`None` if the slot is empty or no modem was ever
    /// attached there).
    pub fn sim(&self, line: u16) -> Option<SimCard> {
        self.state().lines.get(&line).and_then(|l| l.sim.clone())
    }

    /// Changes the SIM in `line` in place (balance, forwarding, capacity, ...).
    pub fn update_sim(&self, line: u16, f: impl FnOnce(&mut SimCard)) -> Result<(), SimError> {
        let mut st = self.state();
        let l = st.lines.get_mut(&line).ok_or(SimError::NoSuchLine(line))?;
        let sim = l.sim.as_mut().ok_or(SimError::NoSim(line))?;
        f(sim);
        l.last_sim = sim.clone();
        Ok(())
    }

    /// The IMEI of `line`'s modem.
    pub fn imei(&self, line: u16) -> Option<String> {
        self.state().lines.get(&line).map(|l| l.imei.clone())
    }

    /// Lines with a modem ever attached, ascending.
    pub fn lines(&self) -> Vec<u16> {
        self.state().lines.keys().copied().collect()
    }

    /// The line whose SIM has this MSISDN.
    pub fn line_of_number(&self, number: &str) -> Option<u16> {
        self.state().line_of_number(number)
    }

    /// Takes the SIM out of `line`: the modem prints `+CPIN: NOT INSERTED`, deregisters,
    /// and SIM commands fail with CME 10 / CMS 310. The card keeps its state.
    pub fn remove_sim(&self, line: u16) -> Result<SimCard, SimError> {
        let mut st = self.state();
        let l = st.lines.get_mut(&line).ok_or(SimError::NoSuchLine(line))?;
        let sim = l.sim.take().ok_or(SimError::NoSim(line))?;
        l.last_sim = sim.clone();
        st.log(format!("line{line} SIM {} removed", sim.iccid));
        while let Some(pos) = st.calls.iter().position(|c| c.line == line) {
            st.release(
                pos,
                ReleaseCause(41),
                Some(ReleaseUrc::NoCarrier),
                "(SIM removed)",
            );
        }
        st.notify(line, Notice::SimChanged);
        Ok(sim)
    }

    /// Puts a SIM into `line` (`None`: the card last removed). It powers on (asks for its
    /// PIN if enabled); the modem prints the new `+CPIN:` state and registers.
    pub fn insert_sim(&self, line: u16, sim: Option<SimCard>) -> Result<(), SimError> {
        let mut st = self.state();
        let l = st.lines.get_mut(&line).ok_or(SimError::NoSuchLine(line))?;
        if l.sim.is_some() {
            return Err(SimError::SimPresent(line));
        }
        let mut sim = sim.unwrap_or_else(|| l.last_sim.clone());
        sim.power_on();
        let text = format!(
            "line{line} SIM {} inserted ({})",
            sim.iccid,
            sim.cpin_text()
        );
        l.sim = Some(sim.clone());
        l.last_sim = sim.clone();
        let cell = st.home_cell(&sim);
        if let Some(l) = st.lines.get_mut(&line) {
            l.radio.cell = cell;
        }
        st.log(text);
        st.notify(line, Notice::SimChanged);
        Ok(())
    }

    // ---- audio and programmable phones ----

    /// The [`cellgate_hal::AudioHal`] of this network's lines.
    pub fn audio(&self) -> SimAudio {
        SimAudio::new(self.clone())
    }

    /// Sets loss and delay of every line's voice path (channels already open included).
    pub fn set_audio(&self, config: AudioConfig) {
        let mut st = self.state();
        st.audio_config = config;
        st.log(format!(
            "audio loss {:.3}, delay {} ms",
            config.loss,
            config.delay.as_millis()
        ));
    }

    /// Opens `line`'s audio: returns the channel generation and the network seed, or
    /// `None` if the line has no modem.
    pub(crate) fn audio_open(&self, line: u16) -> Option<(u64, u64)> {
        let mut st = self.state();
        st.lines.get(&line)?;
        let generation = st.next_audio_gen;
        st.next_audio_gen += 1;
        st.audio_open.insert(line, generation);
        st.audio_inbox.remove(&line);
        Some((generation, st.config.seed))
    }

    /// Closes `line`'s audio (its clock task ends at the next tick).
    pub(crate) fn audio_close(&self, line: u16) {
        let mut st = self.state();
        st.audio_open.remove(&line);
        st.audio_inbox.remove(&line);
    }

    /// Everything the phone `number` has heard from the gateway so far (8 kHz s16 mono),
    /// over all its calls.
    pub fn phone_recording(&self, number: &str) -> Vec<i16> {
        self.state()
            .phones
            .get(&phone_key(number))
            .map(|p| p.recording.clone())
            .unwrap_or_default()
    }

    /// Programs the phone `number`: how it answers gateway calls (overriding the numbering
    /// plan), when it hangs up, the DTMF it sends and what it plays.
    pub fn set_phone(&self, number: &str, behaviour: PhoneBehaviour) {
        let mut st = self.state();
        st.log(format!(
            "phone {} programmed: {}",
            phone::normalise(number),
            behaviour.callee.label()
        ));
        st.phones.entry(phone_key(number)).or_default().behaviour = Some(behaviour);
    }

    /// The phone `number` sends DTMF `digits` into its active call: in-band tones in its
    /// audio, and `+QTONEDET: <ascii>` on modems with `AT+QTONEDET=1`.
    pub fn phone_sends_dtmf(&self, number: &str, digits: &str) -> Result<(), SimError> {
        let mut st = self.state();
        let Some(pos) = st.calls.iter().position(|c| {
            c.state == CallState::Active
                && c.peer_line.is_none()
                && phone::same_number(&c.remote, number)
        }) else {
            return Err(SimError::NoSuchCall(number.to_owned()));
        };
        let (line, label) = (st.calls[pos].line, st.calls[pos].label());
        st.log(format!("{label}: phone sends DTMF {digits}"));
        let samples = phone::dtmf_samples(digits);
        st.phones
            .entry(phone_key(number))
            .or_default()
            .dtmf_out
            .extend(samples);
        for c in digits.chars().filter(|c| phone::dtmf_freqs(*c).is_some()) {
            st.notify(line, Notice::Dtmf(c));
        }
        Ok(())
    }

    /// Runs a connected phone's program: DTMF at their times, then the hang-up.
    async fn phone_program(self, call_id: u64, number: String, behaviour: PhoneBehaviour) {
        let start = Instant::now();
        let mut steps: Vec<(Duration, Option<String>)> = behaviour
            .dtmf
            .iter()
            .map(|(t, d)| (*t, Some(d.clone())))
            .collect();
        if let Some(t) = behaviour.hang_up_after {
            steps.push((t, None));
        }
        steps.sort_by_key(|(t, d)| (*t, d.is_none()));
        for (at, step) in steps {
            tokio::time::sleep_until(start + at).await;
            if self.state().call_pos(call_id).is_none() {
                return;
            }
            match step {
                Some(digits) => {
                    let _ = self.phone_sends_dtmf(&number, &digits);
                }
                None => {
                    let mut st = self.state();
                    if let Some(pos) = st.call_pos(call_id) {
                        st.release(
                            pos,
                            ReleaseCause::NORMAL_CLEARING,
                            Some(ReleaseUrc::NoCarrier),
                            "by the phone",
                        );
                    }
                    return;
                }
            }
        }
    }

    fn spawn_program(&self, program: Option<(u64, String, PhoneBehaviour)>) {
        if let Some((id, number, b)) = program {
            tokio::spawn(self.clone().phone_program(id, number, b));
        }
    }

    /// Injects a fault into `line`'s modem or radio (see [`Fault`]).
    pub fn inject(&self, line: u16, fault: Fault) -> Result<(), SimError> {
        crate::faults::inject(self, line, fault)
    }

    /// Sets the signal of `line` (`AT+CSQ` rssi 0..=31, 99 unknown). rssi 0 loses
    /// coverage (deregistration); a higher value restores it.
    pub fn set_signal(&self, line: u16, rssi: u8) -> Result<(), SimError> {
        let mut st = self.state();
        let l = st.lines.get_mut(&line).ok_or(SimError::NoSuchLine(line))?;
        l.radio.rssi = Some(rssi.min(31));
        let was_lost = l.radio.lost;
        l.radio.lost = rssi == 0;
        let changed = was_lost != l.radio.lost;
        st.log(format!("line{line} signal rssi {rssi}"));
        st.notify(line, Notice::Signal);
        if changed {
            st.notify(line, Notice::Radio);
        }
        Ok(())
    }

    /// Coverage lost (`true`) or back (`false`) for `line`: `+CREG: 2` and, on return,
    /// `+CREG: 1` after the registration delay.
    pub fn set_coverage_lost(&self, line: u16, lost: bool) -> Result<(), SimError> {
        let mut st = self.state();
        let l = st.lines.get_mut(&line).ok_or(SimError::NoSuchLine(line))?;
        l.radio.lost = lost;
        st.log(format!(
            "line{line} network {}",
            if lost { "lost" } else { "back" }
        ));
        st.notify(line, Notice::Radio);
        Ok(())
    }

    /// Moves `line` to another cell (by ARFCN), as a BCCH rotation or handover would.
    pub fn move_to_cell(&self, line: u16, arfcn: u16) -> Result<(), SimError> {
        let mut st = self.state();
        let idx = st
            .config
            .cells
            .iter()
            .position(|c| c.arfcn == arfcn)
            .ok_or_else(|| SimError::UnknownNetwork(arfcn.to_string()))?;
        let l = st.lines.get_mut(&line).ok_or(SimError::NoSuchLine(line))?;
        l.radio.cell = idx;
        st.log(format!("line{line} camps on ARFCN {arfcn}"));
        st.notify(line, Notice::Radio);
        Ok(())
    }

    /// The `+CREG` stat `line`'s modem last reported (0 idle, 1 home, 2 searching, 3
    /// denied, 5 roaming).
    pub fn registration(&self, line: u16) -> Option<u8> {
        self.state().lines.get(&line).map(|l| l.radio.reg_stat)
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
                let program = st.connected(pos);
                drop(st);
                self.spawn_program(program);
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
                        caller: Some(call.remote.clone()),
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

    /// The registration a modem with power and an unlocked SIM gets on `line`: 1 home, 5
    /// roaming, 2 searching (no coverage, locked BCCH missing), 3 denied.
    pub(crate) fn reg_target(&self, line: u16) -> u8 {
        let st = self.state();
        let Some(l) = st.lines.get(&line) else {
            return 0;
        };
        if l.radio.lost {
            return 2;
        }
        if l.radio.denied {
            return 3;
        }
        let Some(cell) = st.config.cells.get(l.radio.cell) else {
            return 2;
        };
        if l.radio.bcch_lock.is_some_and(|a| a != cell.arfcn) {
            return 2;
        }
        if let Some(op) = &l.radio.manual_operator {
            if *op != cell.operator {
                return 2;
            }
        }
        let home = l.sim.as_ref().map(|s| s.home_operator().to_owned());
        if home.as_deref() == Some(cell.operator.as_str()) {
            1
        } else {
            5
        }
    }

    /// Records the registration a modem reports.
    pub(crate) fn set_reg_stat(&self, line: u16, stat: u8) {
        let mut st = self.state();
        let changed = st
            .lines
            .get_mut(&line)
            .map(|l| std::mem::replace(&mut l.radio.reg_stat, stat) != stat)
            .unwrap_or(false);
        if changed {
            let text = match stat {
                0 => "not registered",
                1 => "registered (home)",
                2 => "searching",
                3 => "registration denied",
                5 => "registered (roaming)",
                _ => "registration unknown",
            };
            st.log(format!("line{line} {text}"));
        }
    }

    /// The cell `line` camps on.
    pub(crate) fn serving_cell(&self, line: u16) -> Option<Cell> {
        let st = self.state();
        let l = st.lines.get(&line)?;
        st.config.cells.get(l.radio.cell).cloned()
    }

    /// The operator of the cell `line` camps on.
    pub(crate) fn serving_operator(&self, line: u16) -> Option<Operator> {
        let cell = self.serving_cell(line)?;
        self.state().operator(&cell.operator).cloned()
    }

    /// `(rssi, ber)` for `AT+CSQ`: 99,99 without coverage.
    pub(crate) fn signal(&self, line: u16) -> (u8, u8) {
        let st = self.state();
        let Some(l) = st.lines.get(&line) else {
            return (99, 99);
        };
        if l.radio.lost && l.radio.rssi != Some(0) {
            return (99, 99);
        }
        let cell_rssi = st.config.cells.get(l.radio.cell).map_or(99, |c| c.rssi);
        (l.radio.rssi.unwrap_or(cell_rssi), l.radio.ber)
    }

    /// Manual operator selection (`AT+COPS=1`): camps on that operator's first cell that
    /// the BCCH lock allows. `false` if the operator has no such cell.
    pub(crate) fn select_operator(&self, line: u16, numeric: Option<&str>) -> bool {
        let mut st = self.state();
        let lock = st.lines.get(&line).and_then(|l| l.radio.bcch_lock);
        let home = st
            .lines
            .get(&line)
            .and_then(|l| l.sim.as_ref())
            .map(|s| s.home_operator().to_owned());
        let want = numeric.map(str::to_owned).or(home);
        let idx = st.config.cells.iter().position(|c| {
            want.as_deref().is_none_or(|w| w == c.operator) && lock.is_none_or(|a| a == c.arfcn)
        });
        let Some(idx) = idx else {
            return false;
        };
        if let Some(l) = st.lines.get_mut(&line) {
            l.radio.cell = idx;
            l.radio.manual_operator = numeric.map(str::to_owned);
        }
        st.log(format!(
            "line{line} operator selection {}",
            numeric.unwrap_or("automatic")
        ));
        true
    }

    /// BCCH lock (`None` unlocks): the modem moves to that ARFCN's cell, or loses
    /// service if no cell has it.
    pub(crate) fn lock_bcch(&self, line: u16, arfcn: Option<u16>) {
        let mut st = self.state();
        let idx = arfcn.and_then(|a| st.config.cells.iter().position(|c| c.arfcn == a));
        if let Some(l) = st.lines.get_mut(&line) {
            l.radio.bcch_lock = arfcn;
            if let Some(i) = idx {
                l.radio.cell = i;
            }
        }
        st.log(format!(
            "line{line} BCCH lock {}",
            arfcn.map_or("off".to_owned(), |a| a.to_string())
        ));
    }

    /// Every cell of the network with the rssi `line` would get on it (neighbour lists).
    pub(crate) fn cells(&self) -> Vec<Cell> {
        self.state().config.cells.clone()
    }

    /// The operators of the network.
    pub(crate) fn operators(&self) -> Vec<Operator> {
        self.state().config.operators.clone()
    }

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
            let behaviour = match st.phone_behaviour(number) {
                Some(b) => b.callee,
                None => st.config.numbering.resolve(number).clone(),
            };
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
        let program = st.connected(pos);
        drop(st);
        self.spawn_program(program);
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
