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

/// Dial -> alerting of a call between two gateway lines.
const LINE_TO_LINE_SETUP: Duration = Duration::from_millis(100);

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
    /// The line is busy (ringing, dialling, or call waiting off) and does not forward.
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
    /// Attached to the GPRS service (`AT+CGATT=1`); only while CS-registered.
    pub(crate) gprs_attached: bool,
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
    /// The call on `peer_line` (the other half of a line-to-line call).
    peer_call: Option<u64>,
    /// The caller withheld its number (CLIR): no `+CLIP` / `+CCWA` number.
    withheld: bool,
}

/// What happened when the network offered a call to a line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Offer {
    /// The line rings (call id).
    Ringing(u64),
    /// The line has a call up: the new one waits (call id).
    Waiting(u64),
    /// The SIM diverts the call to this number.
    Forwarded(String),
    /// The line is busy and does not forward.
    Busy,
    /// The line cannot be reached and does not forward.
    Unreachable,
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
        if let Some(pos) = call.peer_call.and_then(|p| self.call_pos(p)) {
            let urc = if cause == ReleaseCause::USER_BUSY {
                ReleaseUrc::Busy
            } else {
                ReleaseUrc::NoCarrier
            };
            self.release(pos, cause, Some(urc), "(far end released)");
        }
    }

    /// Offers a call from `caller` to `line`: ring, wait (call waiting), forward (per the
    /// SIM's `AT+CCFC` settings), busy or unreachable.
    fn offer(&mut self, line: u16, caller: &str, withheld: bool) -> Offer {
        let Some(l) = self.lines.get(&line) else {
            return Offer::Unreachable;
        };
        let fwd = |reason: u8| {
            l.sim
                .as_ref()
                .and_then(|s| s.forwarding.get(&reason).cloned())
        };
        if let Some(n) = fwd(0) {
            return Offer::Forwarded(n);
        }
        let registered = l.link.is_some() && l.sim.is_some() && matches!(l.radio.reg_stat, 1 | 5);
        if !registered {
            if let Some(n) = fwd(3) {
                return Offer::Forwarded(n);
            }
            if l.link.is_none() {
                return Offer::Unreachable;
            }
        }
        let waiting_ok = l.sim.as_ref().is_some_and(|s| s.call_waiting);
        let busy_fwd = fwd(1);
        let on_line: Vec<CallState> = self
            .calls
            .iter()
            .filter(|c| c.line == line)
            .map(|c| c.state)
            .collect();
        let state = if on_line.is_empty() {
            CallState::Incoming
        } else if waiting_ok
            && on_line
                .iter()
                .all(|s| matches!(s, CallState::Active | CallState::Held))
        {
            CallState::Waiting
        } else {
            return busy_fwd.map_or(Offer::Busy, Offer::Forwarded);
        };
        let Some(id) = self.new_call(line, caller, CallDirection::MobileTerminated, state) else {
            return busy_fwd.map_or(Offer::Busy, Offer::Forwarded);
        };
        if let Some(pos) = self.call_pos(id) {
            self.calls[pos].withheld = withheld;
        }
        if state == CallState::Waiting {
            self.log(format!("line{line} MT call from {caller}: waiting"));
            self.notify(
                line,
                Notice::Waiting {
                    caller: (!withheld).then(|| caller.to_owned()),
                },
            );
            Offer::Waiting(id)
        } else {
            self.log(format!("line{line} MT call from {caller}: ringing"));
            Offer::Ringing(id)
        }
    }

    /// Follows an offer through forwards to gateway lines (at most 5 hops). Returns the
    /// final offer and the line it landed on.
    fn offer_following(&mut self, line: u16, caller: &str, withheld: bool) -> (Offer, u16) {
        let mut line = line;
        for _ in 0..5 {
            let offer = self.offer(line, caller, withheld);
            let Offer::Forwarded(n) = &offer else {
                return (offer, line);
            };
            self.log(format!("line{line} forwards the call from {caller} to {n}"));
            match self.line_of_number(n) {
                Some(next) if next != line => line = next,
                _ => return (offer, line),
            }
        }
        (Offer::Busy, line)
    }

    /// Points the caller's half of a line-to-line call (`peer`) at the call `offer` made;
    /// releases it if the offer did not reach a line.
    fn link_peer(&mut self, peer: Option<u64>, offer: &Option<Offer>) {
        let Some(peer) = peer else {
            return;
        };
        let Some(ppos) = self.call_pos(peer) else {
            return;
        };
        match offer {
            Some(Offer::Ringing(id) | Offer::Waiting(id)) => {
                let peer_line = self.calls[ppos].line;
                self.calls[ppos].peer_call = Some(*id);
                if let Some(pos) = self.call_pos(*id) {
                    self.calls[ppos].peer_line = Some(self.calls[pos].line);
                    self.calls[pos].peer_call = Some(peer);
                    self.calls[pos].peer_line = Some(peer_line);
                }
            }
            Some(Offer::Busy) => self.release(
                ppos,
                ReleaseCause::USER_BUSY,
                Some(ReleaseUrc::Busy),
                "(far end busy)",
            ),
            _ => self.release(
                ppos,
                ReleaseCause(20),
                Some(ReleaseUrc::NoCarrier),
                "(far end not reachable)",
            ),
        }
    }

    /// A ringing or waiting call is accepted: it connects, and so does its caller's half
    /// of a line-to-line call.
    fn accept(&mut self, pos: usize) -> Option<(u64, String, PhoneBehaviour)> {
        self.calls[pos].state = CallState::Active;
        let label = self.calls[pos].label();
        self.log(format!("{label}: answered"));
        if let Some(ppos) = self.calls[pos].peer_call.and_then(|p| self.call_pos(p)) {
            self.calls[ppos].state = CallState::Active;
            let (pl, plabel) = (self.calls[ppos].line, self.calls[ppos].label());
            self.log(format!("{plabel}: answered"));
            self.notify(pl, Notice::Connected);
            return None;
        }
        self.connected(pos)
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
            peer_call: None,
            withheld: false,
        });
        Some(id)
    }
}

impl NetworkState {
    /// The cell automatic cell selection picks for `line`: the strongest (first on a tie)
    /// of the operator the line may use — its manual selection, else its SIM's home
    /// operator, else the operator of the cell it camps on.
    fn best_cell(&self, line: u16) -> Option<usize> {
        let l = self.lines.get(&line)?;
        let current = self
            .config
            .cells
            .get(l.radio.cell)
            .map(|c| c.operator.clone());
        let home = l.sim.as_ref().map(|s| s.home_operator().to_owned());
        let strongest = |op: &str| {
            self.config
                .cells
                .iter()
                .enumerate()
                .filter(|(_, c)| c.operator == op)
                .min_by_key(|(i, c)| (std::cmp::Reverse(c.rssi), *i))
                .map(|(i, _)| i)
        };
        match &l.radio.manual_operator {
            Some(op) => strongest(op),
            None => home
                .as_deref()
                .and_then(strongest)
                .or_else(|| current.as_deref().and_then(strongest)),
        }
    }

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
                    gprs_attached: false,
                },
                imei: imei.clone(),
            });
            entry.profile = profile;
            entry.sim = Some(sim.clone());
            entry.last_sim = sim;
            entry.imei = imei.clone();
            entry.radio.reg_stat = 0;
            entry.radio.gprs_attached = false;
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
        self.phone_calls_line_with(caller, line, false)
    }

    /// Like [`Network::phone_calls_line`]; `withheld` hides the caller's number (CLIR):
    /// `+CLIP: "",128`. The line's SIM applies its forwarding (`AT+CCFC`) and call waiting
    /// (`+CCWA` while a call is up); `LineBusy` when the line is busy and does not forward.
    pub fn phone_calls_line_with(
        &self,
        caller: &str,
        line: u16,
        withheld: bool,
    ) -> Result<(), SimError> {
        let caller = phone::normalise(caller);
        if caller.trim_start_matches('+').is_empty() {
            return Err(SimError::InvalidNumber(caller));
        }
        let (offer, behaviour) = {
            let mut st = self.state();
            if st.lines.get(&line).is_none_or(|l| l.link.is_none()) {
                return Err(SimError::NoSuchLine(line));
            }
            let (offer, _) = st.offer_following(line, &caller, withheld);
            (offer, st.caller)
        };
        match offer {
            Offer::Ringing(id) | Offer::Waiting(id) => {
                tokio::spawn(self.clone().ring(id, behaviour));
                Ok(())
            }
            Offer::Forwarded(_) => Ok(()),
            Offer::Busy => Err(SimError::LineBusy(line)),
            Offer::Unreachable => Err(SimError::NoSuchLine(line)),
        }
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

    /// The SIM in `line` asks for PIN2, as after an operation that needed it (CHV2):
    /// with PIN 1 done, `AT+CPIN?` answers `SIM PIN2` (`SIM PUK2` with no PIN2 try left)
    /// and the modem prints that state as a `+CPIN:` URC. Calls and SMS carry on.
    pub fn ask_pin2(&self, line: u16) -> Result<(), SimError> {
        let mut st = self.state();
        let l = st.lines.get_mut(&line).ok_or(SimError::NoSuchLine(line))?;
        let sim = l.sim.as_mut().ok_or(SimError::NoSim(line))?;
        sim.pin2_asked = true;
        let text = format!("line{line} SIM asks for PIN2 ({})", sim.cpin_text());
        l.last_sim = sim.clone();
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

    /// Whether `line`'s modem is attached to the GPRS service (`AT+CGATT=1` while
    /// registered on the circuit-switched network; detached by default, on losing
    /// registration and on a restart). `None` for a line that never had a modem.
    pub fn gprs_attached(&self, line: u16) -> Option<bool> {
        self.state().lines.get(&line).map(|l| l.radio.gprs_attached)
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
        let mut id = call_id;
        while let Some(next) = self.ring_once(id, behaviour).await {
            id = next;
        }
    }

    /// Rings one call until it is answered, released or given up; `Some(id)` of the call
    /// a no-reply forward created on another line.
    async fn ring_once(&self, call_id: u64, behaviour: CallerBehaviour) -> Option<u64> {
        let started = Instant::now();
        let (give_up, no_reply) = {
            let st = self.state();
            let fwd = st.call_pos(call_id).and_then(|p| {
                let line = st.calls[p].line;
                let sim = st.lines.get(&line)?.sim.as_ref()?;
                let n = sim.forwarding.get(&2)?.clone();
                Some((Duration::from_secs(u64::from(sim.no_reply_secs)), n))
            });
            match fwd {
                Some((t, n)) if t < behaviour.give_up_after => (t, Some(n)),
                _ => (behaviour.give_up_after, None),
            }
        };
        loop {
            {
                let st = self.state();
                let pos = st.call_pos(call_id)?;
                let call = &st.calls[pos];
                match call.state {
                    CallState::Incoming => st.notify(
                        call.line,
                        Notice::Ring {
                            caller: (!call.withheld).then(|| call.remote.clone()),
                        },
                    ),
                    CallState::Waiting => {}
                    _ => return None,
                }
            }
            let left = give_up.saturating_sub(started.elapsed());
            sleep(behaviour.ring_interval.min(left)).await;
            if started.elapsed() >= give_up {
                let next = {
                    let mut st = self.state();
                    let pos = st.call_pos(call_id)?;
                    if !matches!(
                        st.calls[pos].state,
                        CallState::Incoming | CallState::Waiting
                    ) {
                        return None;
                    }
                    match &no_reply {
                        None => {
                            st.release(
                                pos,
                                ReleaseCause::NORMAL_CLEARING,
                                Some(ReleaseUrc::NoCarrier),
                                "(caller gave up)",
                            );
                            return None;
                        }
                        Some(n) => {
                            // The caller's half (line-to-line) follows the call.
                            let peer = st.calls[pos].peer_call.take();
                            let (line, caller, withheld) = {
                                let c = &st.calls[pos];
                                (c.line, c.remote.clone(), c.withheld)
                            };
                            st.release(
                                pos,
                                ReleaseCause::NORMAL_CLEARING,
                                Some(ReleaseUrc::NoCarrier),
                                "(forwarded on no reply)",
                            );
                            st.log(format!("line{line} forwards the call from {caller} to {n}"));
                            let target = st.line_of_number(n).filter(|t| *t != line);
                            let offer = target.map(|t| st.offer_following(t, &caller, withheld).0);
                            st.link_peer(peer, &offer);
                            offer
                        }
                    }
                };
                return match next {
                    Some(Offer::Ringing(id) | Offer::Waiting(id)) => Some(id),
                    _ => None,
                };
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

    /// Records the GPRS attach state of `line`'s modem (logged when it changes).
    pub(crate) fn set_gprs_attached(&self, line: u16, attached: bool) {
        let mut st = self.state();
        let changed = st
            .lines
            .get_mut(&line)
            .map(|l| std::mem::replace(&mut l.radio.gprs_attached, attached) != attached)
            .unwrap_or(false);
        if changed {
            let text = if attached { "attached" } else { "detached" };
            st.log(format!("line{line} GPRS {text}"));
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
    /// service if no cell has it. Unlocking returns to automatic cell selection: the
    /// modem reselects the strongest cell of the operator it may use (the manually
    /// selected one, else its SIM's home operator, else the one it camps on).
    pub(crate) fn lock_bcch(&self, line: u16, arfcn: Option<u16>) {
        let mut st = self.state();
        let idx = match arfcn {
            Some(a) => st.config.cells.iter().position(|c| c.arfcn == a),
            None => st.best_cell(line),
        };
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
    /// A number that is another gateway SIM's MSISDN rings that line (its `+CLIP` shows
    /// this line's MSISDN unless `withheld`).
    pub(crate) fn modem_dial(
        &self,
        line: u16,
        attach_id: u64,
        number: &str,
        withheld: bool,
    ) -> Result<u8, DialRefused> {
        let (call_id, index, script, ring) = {
            let mut st = self.state();
            if !st.is_current(line, attach_id) {
                return Err(DialRefused::Detached);
            }
            if st
                .calls
                .iter()
                .any(|c| c.line == line && c.state != CallState::Held)
            {
                return Err(DialRefused::LineBusy);
            }
            let id = st
                .new_call(
                    line,
                    number,
                    CallDirection::MobileOriginated,
                    CallState::Dialing,
                )
                .ok_or(DialRefused::LineBusy)?;
            let index = st.calls.iter().find(|c| c.id == id).map_or(1, |c| c.index);
            let own = st
                .lines
                .get(&line)
                .and_then(|l| l.sim.as_ref())
                .map(|s| s.msisdn.clone());
            let target = st.line_of_number(number).filter(|t| *t != line);
            if let (Some(target), Some(own)) = (target, own) {
                st.log(format!(
                    "line{line} MO call to {number}: dialing (gateway line{target})"
                ));
                let (offer, _) = st.offer_following(target, &own, withheld);
                let ring = match offer {
                    Offer::Ringing(mt) | Offer::Waiting(mt) => Some(mt),
                    _ => None,
                };
                st.link_peer(Some(id), &Some(offer));
                // The caller hears ringback once the network has set the call up.
                let script = if ring.is_some() {
                    vec![(LINE_TO_LINE_SETUP, CallStep::Alert)]
                } else {
                    Vec::new()
                };
                (id, index, script, ring)
            } else {
                let behaviour = match st.phone_behaviour(number) {
                    Some(b) => b.callee,
                    None => st.config.numbering.resolve(number).clone(),
                };
                st.log(format!(
                    "line{line} MO call to {number}: dialing (far end {})",
                    behaviour.label()
                ));
                (id, index, behaviour.script(), None)
            }
        };
        if let Some(mt) = ring {
            let caller = self.state().caller;
            tokio::spawn(self.clone().ring(mt, caller));
        }
        if !script.is_empty() {
            tokio::spawn(self.clone().run_script(call_id, script));
        }
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
        let program = st.accept(pos);
        drop(st);
        self.spawn_program(program);
        true
    }

    /// `AT+CHLD=<n>[<x>]` (3GPP TS 22.030): 0 releases held calls or rejects the waiting
    /// one (busy); 1 releases active calls and accepts the held/waiting one; 1x releases
    /// call x; 2 holds active calls and accepts the held/waiting one (swap); 2x keeps
    /// only call x active. `false` when there is nothing to do.
    pub(crate) fn modem_chld(&self, line: u16, attach_id: u64, n: u8, x: Option<u8>) -> bool {
        let mut st = self.state();
        if !st.is_current(line, attach_id) {
            return false;
        }
        let ids = |st: &NetworkState, pred: &dyn Fn(&Call) -> bool| -> Vec<u64> {
            st.calls
                .iter()
                .filter(|c| c.line == line && pred(c))
                .map(|c| c.id)
                .collect()
        };
        let mut programs = Vec::new();
        let done = match (n, x) {
            (0, None) => {
                let waiting = ids(&st, &|c| c.state == CallState::Waiting);
                let targets = if waiting.is_empty() {
                    ids(&st, &|c| c.state == CallState::Held)
                } else {
                    waiting
                };
                let cause = if targets.is_empty() {
                    None
                } else if st
                    .calls
                    .iter()
                    .any(|c| c.id == targets[0] && c.state == CallState::Waiting)
                {
                    Some(ReleaseCause::USER_BUSY)
                } else {
                    Some(ReleaseCause::NORMAL_CLEARING)
                };
                for id in &targets {
                    if let (Some(pos), Some(cause)) = (st.call_pos(*id), cause) {
                        st.release(pos, cause, None, "by the gateway (AT+CHLD=0)");
                    }
                }
                !targets.is_empty()
            }
            (1 | 2, None) => {
                let active = ids(&st, &|c| c.state == CallState::Active);
                let waiting = ids(&st, &|c| c.state == CallState::Waiting);
                let held = ids(&st, &|c| c.state == CallState::Held);
                for id in &active {
                    if let Some(pos) = st.call_pos(*id) {
                        if n == 1 {
                            st.release(pos, ReleaseCause::NORMAL_CLEARING, None, "by the gateway");
                        } else {
                            st.calls[pos].state = CallState::Held;
                            let label = st.calls[pos].label();
                            st.log(format!("{label}: held"));
                        }
                    }
                }
                if let Some(pos) = waiting.first().and_then(|id| st.call_pos(*id)) {
                    programs.push(st.accept(pos));
                } else {
                    for id in &held {
                        if let Some(pos) = st.call_pos(*id) {
                            st.calls[pos].state = CallState::Active;
                            let label = st.calls[pos].label();
                            st.log(format!("{label}: retrieved"));
                        }
                    }
                }
                !(active.is_empty() && waiting.is_empty() && held.is_empty())
            }
            (1, Some(x)) => match st.calls.iter().position(|c| c.line == line && c.index == x) {
                Some(pos) => {
                    st.release(pos, ReleaseCause::NORMAL_CLEARING, None, "by the gateway");
                    true
                }
                None => false,
            },
            (2, Some(x)) => {
                let Some(pos) = st.calls.iter().position(|c| {
                    c.line == line
                        && c.index == x
                        && matches!(c.state, CallState::Active | CallState::Held)
                }) else {
                    return false;
                };
                for c in st.calls.iter_mut() {
                    if c.line == line && c.index != x && c.state == CallState::Active {
                        c.state = CallState::Held;
                    }
                }
                st.calls[pos].state = CallState::Active;
                let label = st.calls[pos].label();
                st.log(format!("{label}: active, others held"));
                true
            }
            _ => false,
        };
        drop(st);
        for p in programs {
            self.spawn_program(p);
        }
        done
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
            l.radio.gprs_attached = false;
        }
        st.log(format!("line{line} modem detached"));
    }
}
