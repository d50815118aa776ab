//! [`AtModem`]: one implementation of [`ModemHal`] for every module, driven by a
//! [`Dialect`].
//!
//! [`open_modem`] spawns the [`AtChannel`] on a byte stream, probes the module with `AT`,
//! switches echo off and numeric errors on, asks `AT+CGMM` and picks the dialect
//! ([`crate::dialect::detect`]), then runs the init sequence:
//!
//! 1. `AT` (repeated until answered), `ATE0`, `AT+CMEE=1` — required;
//! 2. `AT+CGMM` (first start only) -> dialect;
//! 3. the dialect's commands (`AT+CLIP=1`, `AT+CCWA=1` — call-waiting URCs on, the
//!    network service left as the SIM has it —, `AT+CREG=2`, `AT+COPS=3,0`, M35 also
//!    `ATX4`, `AT+QMOSTAT=1`), audio set-up (`AT+QAUDCH` / `AT+QPCMV`), the configured
//!    extra commands (echo cancellation and the like), `AT+CSCS="GSM"` (or `"UCS2"`);
//! 4. `AT+CPIN?`; with a usable SIM (ready, or only waiting for PIN2 / PUK2): readiness (`AT+QINISTAT` until 3 on M35, bitmap 7
//!    on UC15) and SMS set-up: `AT+CMGF=0`, `AT+CSCA?`, `AT+CPMS="SM","SM","SM"`,
//!    `AT+CNMI=2,1,0,2,0` (store and notify with `+CMTI`; status reports `+CDSI`).
//!
//! Steps after 1 are best effort: a refusal is logged and init carries on; a timeout or a
//! lost link fails it. Every command goes through the same retry of transient errors
//! (`+CME ERROR: 515`/`14`, `+CMS ERROR: 314`): up to `transient_retries` more attempts
//! with doubling backoff on tokio's clock.
//!
//! Background tasks (ended when the `AtModem` is dropped): URC decoding into
//! [`ModemEvent`]s, `AT+CLCC` polling during calls on dialects without call-progress URCs,
//! the watchdog and the SIM sweep ([`recovery`]).

mod recovery;
mod urc;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{broadcast, oneshot, watch, Notify};
use tokio::task::JoinHandle;

use cellgate_hal::{
    CallDirection, CallForwarding, CallIndex, CallInfo, CallStatus, CellInfo, DtmfDigit,
    ForwardReason, GprsStatus, HalError, HalResult, ModemEvent, ModemEvents, ModemHal,
    ModemIdentity, ModuleKind, Operator, OperatorSelection, OutgoingPdu, PowerMode, Registration,
    ReleaseCause, SignalQuality, SimState, SmsFilter, SmsIndex, StoredSms, UssdResponse,
};

use crate::at::{AtChannel, AtCommand, ChannelConfig, InfoShape};
use crate::dialect::{CallProgress, CellInfoStyle, Dialect, Pin2Counter};
use crate::parse;

pub use recovery::PowerCycleHook;

/// Character set configured with `AT+CSCS`; it applies to USSD strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Charset {
    /// `AT+CSCS="GSM"`: USSD strings are plain text (the default).
    #[default]
    Gsm,
    /// `AT+CSCS="UCS2"`: USSD strings go out and come back as UCS2 hex.
    Ucs2,
}

/// Tunables of the AT backend. `Default` gives values fit for real modules.
#[derive(Debug, Clone)]
pub struct AtModemConfig {
    /// AT channel settings (per-command timeouts, queue depth).
    pub channel: ChannelConfig,
    /// Force a dialect instead of detecting it from `AT+CGMM`.
    pub dialect: Option<&'static Dialect>,
    /// How many `AT` probes init sends before giving up.
    pub probe_attempts: u32,
    /// Timeout of one `AT` probe (init and watchdog).
    pub probe_timeout: Duration,
    /// Pause between failed probes.
    pub probe_interval: Duration,
    /// How long a restart waits for the boot URC `RDY` before re-initialising anyway.
    pub boot_timeout: Duration,
    /// How long after `RING` to wait for `+CLIP` before reporting the call without a
    /// caller.
    pub clip_grace: Duration,
    /// Capacity of the event broadcast channel.
    pub event_capacity: usize,
    /// Audio set-up commands replacing the dialect's default (`AT+QAUDCH=0` on M35,
    /// `AT+QPCMV=0`, `AT+QPCMV=1,0` on UC15).
    pub audio_init: Option<Vec<String>>,
    /// Further init commands run after the audio set-up, e.g. echo cancellation
    /// (`AT+QECHO=...` on M35) or microphone gain; refusals are logged.
    pub extra_init: Vec<String>,
    /// `AT+CSCS` character set.
    pub charset: Charset,
    /// How many times init asks `AT+QINISTAT` before carrying on anyway.
    pub ready_attempts: u32,
    /// Pause between `AT+QINISTAT` queries.
    pub ready_interval: Duration,
    /// `AT+CLCC` polling period during calls (dialects without call-progress URCs).
    pub call_poll_interval: Duration,
    /// How long `send_ussd` waits for the `+CUSD` answer after `OK`.
    pub ussd_timeout: Duration,
    /// Extra attempts after a transient error (`CME 515`, `CME 14`, `CMS 314`).
    pub transient_retries: u32,
    /// Pause before the first retry; doubled for each further one.
    pub retry_backoff: Duration,
    /// Probe the module with `AT` when it has not answered anything for this long;
    /// `None` disables the watchdog.
    pub watchdog_interval: Option<Duration>,
    /// Pause after a resync (ESC + CR) before probing again.
    pub resync_settle: Duration,
    /// Last resort of the watchdog: power-cycle the module (GPIO, USB hub port...).
    pub power_cycle: Option<PowerCycleHook>,
    /// Delay of the first SIM sweep (`AT+CMGL=4`) after start, so subscribers made right
    /// after [`open_modem`] see its events.
    pub sms_sweep_initial_delay: Duration,
    /// Period of the SIM sweep; `None` sweeps only at start, after a restart and after
    /// a SIM re-insertion.
    pub sms_sweep_interval: Option<Duration>,
}

impl Default for AtModemConfig {
    fn default() -> Self {
        Self {
            channel: ChannelConfig::default(),
            dialect: None,
            probe_attempts: 5,
            probe_timeout: Duration::from_secs(1),
            probe_interval: Duration::from_millis(500),
            boot_timeout: Duration::from_secs(30),
            clip_grace: Duration::from_secs(1),
            event_capacity: 64,
            audio_init: None,
            extra_init: Vec::new(),
            charset: Charset::Gsm,
            ready_attempts: 10,
            ready_interval: Duration::from_secs(1),
            call_poll_interval: Duration::from_secs(1),
            ussd_timeout: Duration::from_secs(30),
            transient_retries: 3,
            retry_backoff: Duration::from_millis(500),
            watchdog_interval: Some(Duration::from_secs(30)),
            resync_settle: Duration::from_millis(200),
            power_cycle: None,
            sms_sweep_initial_delay: Duration::from_secs(1),
            sms_sweep_interval: Some(Duration::from_secs(60)),
        }
    }
}

/// Longest dial string accepted (27.007 numbers are at most 20 digits; supplementary
/// service strings are longer).
const MAX_DIAL_LEN: usize = 40;
/// Longest USSD string accepted.
const MAX_USSD_LEN: usize = 160;
/// Highest GSM ARFCN (3GPP TS 45.005: 0..=1023 covers every GSM band).
const MAX_GSM_ARFCN: u32 = 1023;

/// A call on the module besides the tracked one (call waiting, hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OtherCall {
    /// Module call index.
    index: CallIndex,
    /// `CallConnected` emitted (or the call was already up when it became known).
    connected: bool,
}

/// The calls the backend knows, as far as events are concerned.
///
/// One call is "current": the one `dial`, `RING`/`+CLIP` or `answer` started, whose
/// progress the URCs and the `AT+CLCC` poller report. A second call (`+CCWA`, or one a
/// `AT+CHLD` command revealed) is kept in `others`. When the current call ends while
/// another remains, the remaining one becomes current (active before held before
/// waiting).
#[derive(Debug, Default)]
struct CallTrack {
    /// A call exists (dialled, ringing or connected).
    live: bool,
    /// Index of the call we know about.
    current: Option<CallIndex>,
    /// Further calls on the module (waiting, held, or the other of two).
    others: Vec<OtherCall>,
    /// `IncomingCall` already emitted for the call ringing now.
    incoming_reported: bool,
    /// `CallAlerting` emitted.
    alerted: bool,
    /// `CallConnected` emitted.
    connected: bool,
    /// Bumped whenever the tracked call changes, so a poller of an earlier call cannot
    /// report on a later one.
    generation: u64,
}

impl CallTrack {
    /// Forget the call.
    fn clear(&mut self) {
        *self = CallTrack {
            generation: self.generation + 1,
            ..CallTrack::default()
        };
    }

    /// Start tracking a new call.
    fn begin(&mut self) {
        self.clear();
        self.live = true;
    }

    /// Every call with a known index: the current one first, then the others.
    fn known(&self) -> Vec<OtherCall> {
        let current = self.current.filter(|_| self.live).map(|index| OtherCall {
            index,
            connected: self.connected,
        });
        current
            .into_iter()
            .chain(self.others.iter().copied())
            .collect()
    }

    /// Whether `index` is the current call or one of the others.
    fn knows(&self, index: CallIndex) -> bool {
        (self.live && self.current == Some(index)) || self.others.iter().any(|o| o.index == index)
    }
}

struct Inner {
    chan: AtChannel,
    dialect: &'static Dialect,
    events: broadcast::Sender<ModemEvent>,
    config: AtModemConfig,
    calls: Mutex<CallTrack>,
    /// A restart was commanded: the next `RDY` is expected, not spontaneous.
    expect_boot: AtomicBool,
    /// Counts `RDY` URCs.
    boots: watch::Sender<u64>,
    /// Held by whoever restarts / re-initialises the module.
    recovery: tokio::sync::Mutex<()>,
    /// `send_ussd` waiting for its `+CUSD`.
    ussd: Mutex<Option<oneshot::Sender<UssdResponse>>>,
    /// Last known SIM state (`None`: unknown).
    sim: Mutex<Option<SimState>>,
    /// SMSC address read at init.
    smsc: Mutex<Option<String>>,
    /// Wakes the SIM sweep.
    sweep: Notify,
    /// The watchdog gave up on the module.
    lost: AtomicBool,
    /// The `AT+CLCC` poller of the current call.
    poller: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn command(line: impl Into<String>) -> HalResult<AtCommand> {
    AtCommand::new(line).map_err(|e| HalError::InvalidArgument(e.to_string()))
}

/// Whether an error means the module itself is unreachable (as opposed to refusing).
pub(crate) fn is_link_error(e: &HalError) -> bool {
    matches!(e, HalError::Timeout(_) | HalError::LinkDown(_))
}

/// Run a command, retrying transient errors with doubling backoff.
async fn exec(chan: &AtChannel, config: &AtModemConfig, cmd: AtCommand) -> HalResult<Vec<String>> {
    let mut attempt = 0;
    loop {
        match chan.execute(cmd.clone()).await {
            Err(e) if e.is_transient() && attempt < config.transient_retries => {
                let pause = config.retry_backoff * 2u32.saturating_pow(attempt);
                tracing::debug!(command = cmd.line(), error = %e, ?pause, "transient error, retrying");
                attempt += 1;
                tokio::time::sleep(pause).await;
            }
            other => return other,
        }
    }
}

async fn run(chan: &AtChannel, config: &AtModemConfig, line: &str) -> HalResult<Vec<String>> {
    exec(chan, config, command(line)?).await
}

/// A best-effort init command: refusals are logged, link errors fail.
async fn optional(chan: &AtChannel, config: &AtModemConfig, line: &str) -> HalResult<()> {
    match run(chan, config, line).await {
        Ok(_) => Ok(()),
        Err(e) if is_link_error(&e) => Err(e),
        Err(e) => {
            tracing::warn!(command = line, error = %e, "init command refused");
            Ok(())
        }
    }
}

/// `AT` until answered, then `ATE0` and `AT+CMEE=1`.
async fn probe_basic(chan: &AtChannel, config: &AtModemConfig) -> HalResult<()> {
    let mut last = HalError::Timeout("AT".into());
    let mut ok = false;
    for attempt in 0..config.probe_attempts.max(1) {
        let probe = command("AT")?.with_timeout(config.probe_timeout);
        match chan.execute(probe).await {
            Ok(_) => {
                ok = true;
                break;
            }
            Err(e @ HalError::LinkDown(_)) => return Err(e),
            Err(e) => {
                tracing::debug!(attempt, error = %e, "AT probe failed");
                last = e;
                tokio::time::sleep(config.probe_interval).await;
            }
        }
    }
    if !ok {
        return Err(last);
    }
    run(chan, config, "ATE0").await?;
    run(chan, config, "AT+CMEE=1").await?;
    Ok(())
}

/// `AT+CPIN?` -> SIM state; the error forms of a missing/broken SIM are mapped.
async fn query_sim(chan: &AtChannel, config: &AtModemConfig) -> HalResult<SimState> {
    match run(chan, config, "AT+CPIN?").await {
        Ok(lines) => {
            let value = lines
                .iter()
                .find_map(|l| parse::strip_prefix(l, "+CPIN:"))
                .ok_or_else(|| HalError::Protocol("AT+CPIN?: no +CPIN line".into()))?;
            parse::parse_cpin(value)
                .ok_or_else(|| HalError::Protocol(format!("unknown SIM state {value:?}")))
        }
        Err(HalError::Cme { code: 10 }) | Err(HalError::Cms { code: 310 }) => {
            Ok(SimState::NotInserted)
        }
        Err(HalError::Cme { code: 13 }) => Ok(SimState::Failure),
        Err(HalError::Cme { code: 14 }) => Ok(SimState::NotReady),
        Err(HalError::Cme { code: 11 }) => Ok(SimState::PinRequired),
        Err(HalError::Cme { code: 12 }) => Ok(SimState::PukRequired),
        Err(HalError::Cme { code: 17 }) => Ok(SimState::Pin2Required),
        Err(HalError::Cme { code: 18 }) => Ok(SimState::Puk2Required),
        Err(e) => Err(e),
    }
}

/// Wait until `AT+QINISTAT` says ready (bounded); modules without it carry on at once.
async fn wait_ready(chan: &AtChannel, config: &AtModemConfig, dialect: &Dialect) -> HalResult<()> {
    if dialect.readiness == crate::dialect::Readiness::None {
        return Ok(());
    }
    for _ in 0..config.ready_attempts.max(1) {
        let value = match run(chan, config, "AT+QINISTAT").await {
            Ok(lines) => lines
                .iter()
                .filter_map(|l| parse::strip_prefix(l, "+QINISTAT:"))
                .find_map(|v| v.trim().parse::<u8>().ok()),
            Err(e) if is_link_error(&e) => return Err(e),
            Err(_) => None,
        };
        match value {
            Some(v) if !dialect.readiness.is_ready(v) => {
                tracing::debug!(value = v, "module not ready yet");
                tokio::time::sleep(config.ready_interval).await;
            }
            _ => return Ok(()),
        }
    }
    tracing::warn!("module did not report ready, carrying on");
    Ok(())
}

/// SMS set-up; returns the SMSC address when the module told it.
async fn sms_init(chan: &AtChannel, config: &AtModemConfig) -> HalResult<Option<String>> {
    optional(chan, config, "AT+CMGF=0").await?;
    let smsc = match run(chan, config, "AT+CSCA?").await {
        Ok(lines) => lines
            .iter()
            .filter_map(|l| parse::strip_prefix(l, "+CSCA:"))
            .find_map(|v| parse::split_fields(v).first().map(|f| f.text.clone()))
            .filter(|s| !s.is_empty()),
        Err(e) if is_link_error(&e) => return Err(e),
        Err(e) => {
            tracing::warn!(error = %e, "no SMSC address");
            None
        }
    };
    optional(chan, config, "AT+CPMS=\"SM\",\"SM\",\"SM\"").await?;
    optional(chan, config, "AT+CNMI=2,1,0,2,0").await?;
    Ok(smsc)
}

/// What init found out.
struct InitReport {
    sim: Option<SimState>,
    smsc: Option<String>,
}

/// Init after [`probe_basic`]: dialect, audio, extra, charset, SIM, readiness, SMS.
async fn init_rest(
    chan: &AtChannel,
    config: &AtModemConfig,
    dialect: &Dialect,
) -> HalResult<InitReport> {
    for line in dialect.init {
        optional(chan, config, line).await?;
    }
    match &config.audio_init {
        Some(lines) => {
            for line in lines {
                optional(chan, config, line).await?;
            }
        }
        None => {
            for line in dialect.audio {
                optional(chan, config, line).await?;
            }
        }
    }
    for line in &config.extra_init {
        optional(chan, config, line).await?;
    }
    let cscs = match config.charset {
        Charset::Gsm => "AT+CSCS=\"GSM\"",
        Charset::Ucs2 => "AT+CSCS=\"UCS2\"",
    };
    optional(chan, config, cscs).await?;
    let sim = match query_sim(chan, config).await {
        Ok(s) => Some(s),
        Err(e) if is_link_error(&e) => return Err(e),
        Err(e) => {
            tracing::warn!(error = %e, "SIM state unknown");
            None
        }
    };
    let mut smsc = None;
    if sim.is_none_or(SimState::is_usable) {
        wait_ready(chan, config, dialect).await?;
        smsc = sms_init(chan, config).await?;
    } else {
        tracing::warn!(?sim, "SIM not ready: SMS set-up deferred");
    }
    Ok(InitReport { sim, smsc })
}

impl Inner {
    fn emit(&self, ev: ModemEvent) {
        tracing::debug!(?ev, "modem event");
        // No subscriber is not an error.
        let _ = self.events.send(ev);
    }

    fn calls(&self) -> MutexGuard<'_, CallTrack> {
        lock(&self.calls)
    }

    async fn exec(&self, cmd: AtCommand) -> HalResult<Vec<String>> {
        exec(&self.chan, &self.config, cmd).await
    }

    async fn run(&self, line: &str) -> HalResult<Vec<String>> {
        run(&self.chan, &self.config, line).await
    }

    fn set_sim(&self, s: Option<SimState>) -> Option<SimState> {
        std::mem::replace(&mut *lock(&self.sim), s)
    }

    /// Forget the call (the module restarted or the call ended without a report).
    /// A live call is reported released with cause 41 (temporary failure).
    fn drop_call(&self) {
        let (live, index, others) = {
            let mut t = self.calls();
            let r = (
                t.live,
                t.current.unwrap_or(1),
                std::mem::take(&mut t.others),
            );
            t.clear();
            r
        };
        if let Some(p) = lock(&self.poller).take() {
            p.abort();
        }
        let released = live.then_some(index).into_iter();
        for index in released.chain(others.iter().map(|o| o.index)) {
            self.emit(ModemEvent::CallReleased {
                index,
                cause: ReleaseCause::TEMPORARY_FAILURE,
            });
        }
    }

    /// Full re-initialisation after a restart. The caller holds `recovery`.
    async fn reinit(&self) -> HalResult<()> {
        self.drop_call();
        probe_basic(&self.chan, &self.config).await?;
        let report = init_rest(&self.chan, &self.config, self.dialect).await?;
        self.set_sim(report.sim);
        *lock(&self.smsc) = report.smsc;
        self.lost.store(false, Ordering::SeqCst);
        self.sweep.notify_one();
        Ok(())
    }

    /// The SIM became ready (PIN entered, SIM re-inserted): set up SMS and sweep.
    async fn sim_became_ready(&self) {
        self.sim_usable(SimState::Ready).await;
    }

    /// The SIM is in `now`, a usable state ([`SimState::is_usable`]: ready, or only
    /// waiting for PIN2 / PUK2): when it was not usable before, set up SMS and sweep.
    async fn sim_usable(&self, now: SimState) {
        let before = self.set_sim(Some(now));
        if before.is_some_and(SimState::is_usable) {
            return;
        }
        tracing::info!(?before, "SIM ready: setting up SMS");
        if let Err(e) = wait_ready(&self.chan, &self.config, self.dialect).await {
            tracing::warn!(error = %e, "readiness check failed");
        }
        match sms_init(&self.chan, &self.config).await {
            Ok(smsc) => *lock(&self.smsc) = smsc,
            Err(e) => tracing::warn!(error = %e, "SMS set-up after SIM change failed"),
        }
        self.sweep.notify_one();
    }
}

/// A GSM/UMTS module driven over an AT byte stream, in the dialect of its family.
///
/// Created with [`open_modem`] (or [`AtModem::start`]); dropping it stops its background
/// tasks.
pub struct AtModem {
    inner: Arc<Inner>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for AtModem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtModem")
            .field("dialect", &self.inner.dialect.name)
            .finish_non_exhaustive()
    }
}

impl Drop for AtModem {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(p) = lock(&self.inner.poller).take() {
            p.abort();
        }
    }
}

/// Open a module on a byte stream: spawn the AT channel, probe, detect the dialect from
/// `AT+CGMM` (unless `config.dialect` forces one), initialise, and start the background
/// tasks (URC events, call polling, watchdog, SIM sweep).
pub async fn open_modem<S>(stream: S, config: AtModemConfig) -> Result<AtModem, HalError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (chan, mut urcs) = AtChannel::spawn(stream, config.channel.clone());
    probe_basic(&chan, &config).await?;
    let dialect = match config.dialect {
        Some(d) => d,
        None => {
            let model = match run(&chan, &config, "AT+CGMM").await {
                Ok(lines) => lines
                    .iter()
                    .map(|l| parse::bare_value(l, &["+CGMM:"]))
                    .find(|v| !v.is_empty())
                    .unwrap_or_default(),
                Err(e) if is_link_error(&e) => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "AT+CGMM refused");
                    String::new()
                }
            };
            let d = crate::dialect::detect(&model);
            tracing::info!(%model, dialect = d.name, "module identified");
            d
        }
    };
    let report = init_rest(&chan, &config, dialect).await?;
    // URCs that arrived before init finished (boot URCs of a module just powered)
    // describe the state init has already dealt with: drop `RDY`, keep the rest.
    let mut early = Vec::new();
    while let Ok(u) = urcs.try_recv() {
        early.push(u);
    }
    let (events, _) = broadcast::channel(config.event_capacity.max(1));
    let (boots, _) = watch::channel(0);
    let inner = Arc::new(Inner {
        chan,
        dialect,
        events,
        config,
        calls: Mutex::new(CallTrack::default()),
        expect_boot: AtomicBool::new(false),
        boots,
        recovery: tokio::sync::Mutex::new(()),
        ussd: Mutex::new(None),
        sim: Mutex::new(report.sim),
        smsc: Mutex::new(report.smsc),
        sweep: Notify::new(),
        lost: AtomicBool::new(false),
        poller: Mutex::new(None),
    });
    let mut tasks = vec![
        tokio::spawn(urc::urc_loop(inner.clone(), early, urcs)),
        tokio::spawn(recovery::sweeper(inner.clone())),
    ];
    if inner.config.watchdog_interval.is_some() {
        tasks.push(tokio::spawn(recovery::watchdog(inner.clone())));
    }
    Ok(AtModem { inner, tasks })
}

impl AtModem {
    /// [`open_modem`] with default settings.
    pub async fn start<S>(stream: S) -> Result<AtModem, HalError>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        open_modem(stream, AtModemConfig::default()).await
    }

    /// [`open_modem`] with explicit settings.
    pub async fn start_with_config<S>(stream: S, config: AtModemConfig) -> Result<AtModem, HalError>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        open_modem(stream, config).await
    }

    /// The dialect in use.
    pub fn dialect(&self) -> &'static Dialect {
        self.inner.dialect
    }

    /// The SMSC address read at init (`AT+CSCA?`), if any.
    pub fn smsc(&self) -> Option<String> {
        lock(&self.inner.smsc).clone()
    }

    /// The AT channel, for diagnostics and for commands this backend does not wrap.
    pub fn channel(&self) -> &AtChannel {
        &self.inner.chan
    }

    async fn query(&self, line: &str) -> HalResult<Vec<String>> {
        self.inner.run(line).await
    }

    /// The value of the first line with `prefix`.
    async fn query_value(&self, line: &str, prefix: &str) -> HalResult<String> {
        let lines = self.query(line).await?;
        lines
            .iter()
            .find_map(|l| parse::strip_prefix(l, prefix))
            .map(str::to_string)
            .ok_or_else(|| HalError::Protocol(format!("{line}: no {prefix} line")))
    }

    /// First line of a bare answer (identity queries).
    async fn bare(&self, line: &str, prefixes: &[&str]) -> HalResult<String> {
        let lines = self.query(line).await?;
        lines
            .iter()
            .map(|l| parse::bare_value(l, prefixes))
            .find(|v| !v.is_empty())
            .ok_or_else(|| HalError::Protocol(format!("{line}: empty answer")))
    }

    /// An identity field that only exists with a usable SIM: refusals mean "absent".
    async fn optional_bare(&self, line: &str, prefixes: &[&str]) -> HalResult<Option<String>> {
        match self.bare(line, prefixes).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if is_link_error(&e) => Err(e),
            Err(e) => {
                tracing::debug!(command = line, error = %e, "identity field absent");
                Ok(None)
            }
        }
    }

    /// The SIM's PIN2 (CHV2) tries left, where the dialect can read them; `None` when it
    /// cannot or the module would not say.
    async fn pin2_tries(&self) -> HalResult<Option<u8>> {
        /// Reads the PIN2 count from one answer line's value.
        type Count = fn(&str) -> Option<u8>;
        let (line, prefix, parse): (&str, &str, Count) = match self.inner.dialect.pin2_counter {
            Pin2Counter::Qtrpin => ("AT+QTRPIN", "+QTRPIN:", parse::parse_qtrpin_pin2),
            Pin2Counter::Qpinc => ("AT+QPINC=\"P2\"", "+QPINC:", parse::parse_qpinc_pin2),
            Pin2Counter::Unknown => return Ok(None),
        };
        match self.query(line).await {
            Ok(lines) => Ok(lines
                .iter()
                .filter_map(|l| parse::strip_prefix(l, prefix))
                .find_map(parse)),
            Err(e) if is_link_error(&e) => Err(e),
            Err(e) => {
                tracing::debug!(command = line, error = %e, "PIN2 tries unknown");
                Ok(None)
            }
        }
    }

    /// Refuses a PIN2 command that would use the SIM's last try (or that a SIM without
    /// tries would refuse): a wrong PIN2 then blocks CHV2, which only the PUK2 undoes, so
    /// that try is left to a person.
    async fn pin2_try_allowed(&self) -> HalResult<()> {
        match self.pin2_tries().await? {
            Some(0) => {
                self.pin2_refused(&HalError::Cme {
                    code: CME_SIM_PUK2_REQUIRED,
                });
                Err(HalError::InvalidArgument(
                    "PIN2 is blocked: the SIM needs its PUK2".into(),
                ))
            }
            Some(1) => Err(HalError::InvalidArgument(
                "the SIM has one PIN2 try left: not used automatically".into(),
            )),
            _ => Ok(()),
        }
    }

    /// A PIN2 command failed: `+CME ERROR: 17` / `18` say what the SIM waits for now.
    fn pin2_refused(&self, error: &HalError) {
        let state = match error {
            HalError::Cme {
                code: CME_SIM_PIN2_REQUIRED,
            } => SimState::Pin2Required,
            HalError::Cme {
                code: CME_SIM_PUK2_REQUIRED,
            } => SimState::Puk2Required,
            _ => return,
        };
        if self.inner.set_sim(Some(state)) != Some(state) {
            self.inner.emit(ModemEvent::SimChanged(state));
        }
    }

    /// `AT+CHLD=<n>`, then `AT+CLCC` to report what it changed: calls that ended get
    /// `CallReleased` (cause from `cause(was_connected)`), a waiting call that became
    /// active gets `CallConnected`.
    async fn chld(&self, n: u8, cause: fn(bool) -> ReleaseCause) -> HalResult<()> {
        let before = self.inner.calls().known();
        self.query(&format!("AT+CHLD={n}")).await?;
        match self.calls().await {
            Ok(rows) => urc::apply_listing(&self.inner, &before, &rows, &cause, true),
            Err(e) if is_link_error(&e) => return Err(e),
            // The command did its work; the next URC or poll brings the tracking up to
            // date.
            Err(e) => tracing::warn!(error = %e, "AT+CLCC after AT+CHLD failed"),
        }
        Ok(())
    }

    async fn cells_m35(&self) -> HalResult<Vec<CellInfo>> {
        self.query("AT+QENG=1,1").await?;
        let lines = self.query("AT+QENG?").await?;
        Ok(crate::m35::parse_qeng(&lines))
    }

    async fn cells_uc15(&self) -> HalResult<Vec<CellInfo>> {
        let lines = self.query("AT+QENG=\"servingcell\"").await?;
        let Some(serving) = lines.iter().find_map(|l| crate::uc15::parse_serving(l)) else {
            return Ok(Vec::new());
        };
        let mut cells = vec![serving.clone()];
        match self.query("AT+QENG=\"neighbourcell\"").await {
            Ok(lines) => cells.extend(
                lines
                    .iter()
                    .filter_map(|l| crate::uc15::parse_neighbour(l, Some(&serving))),
            ),
            Err(e) if is_link_error(&e) => return Err(e),
            Err(e) => tracing::debug!(error = %e, "no neighbour cells"),
        }
        Ok(cells)
    }
}

/// Digits, `+`, `*`, `#` only: the dial string goes into an AT command line.
pub(crate) fn validate_dial(number: &str) -> HalResult<()> {
    if number.is_empty() || number.len() > MAX_DIAL_LEN {
        return Err(HalError::InvalidArgument(format!(
            "dial string must be 1..={MAX_DIAL_LEN} characters"
        )));
    }
    if !number
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '*' | '#'))
    {
        return Err(HalError::InvalidArgument(format!(
            "dial string may contain only digits, '+', '*', '#': {number:?}"
        )));
    }
    Ok(())
}

/// `+CME ERROR: 17`, SIM PIN2 required (27.007 §9.2.1).
const CME_SIM_PIN2_REQUIRED: u16 = 17;
/// `+CME ERROR: 18`, SIM PUK2 required.
const CME_SIM_PUK2_REQUIRED: u16 = 18;

/// Reads the fixed dialling lock (27.007 §7.4 `+CLCK`, facility `"FD"`, mode 2).
const FD_QUERY: &str = "AT+CLCK=\"FD\",2";

/// `AT+CPIN="<code>"` (PIN 1 or PIN2, whichever the SIM waits for).
fn cpin_line(code: &str) -> String {
    format!("AT+CPIN=\"{code}\"")
}

/// The fixed dialling lock on (`<mode>` 1) or off (0) with PIN2 as the password.
fn clck_fd_line(enabled: bool, pin2: &str) -> String {
    format!("AT+CLCK=\"FD\",{},\"{pin2}\"", u8::from(enabled))
}

fn validate_pin(what: &str, pin: &str) -> HalResult<()> {
    if (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(HalError::InvalidArgument(format!(
            "{what} must be 4 to 8 digits"
        )))
    }
}

/// The call-waiting command: `+CCWA` presentation on (`<n>` 1) and the network service
/// activated (`<mode>` 1) or deactivated (`<mode>` 0) for the default classes (27.007
/// §7.12; no `<class>`, so the network's default, voice included, applies).
fn ccwa_line(enabled: bool) -> &'static str {
    if enabled {
        "AT+CCWA=1,1"
    } else {
        "AT+CCWA=1,0"
    }
}

/// The caller-ID restriction command (27.007 §7.7): `AT+CLIR=1` invokes CLIR (our
/// number withheld on outgoing calls), `AT+CLIR=0` leaves presentation to the
/// subscription.
fn clir_line(withheld: bool) -> &'static str {
    if withheld {
        "AT+CLIR=1"
    } else {
        "AT+CLIR=0"
    }
}

/// The GPRS attach command (27.007 §10.1.9): `AT+CGATT=1` attaches, `AT+CGATT=0`
/// detaches.
fn cgatt_line(attached: bool) -> &'static str {
    if attached {
        "AT+CGATT=1"
    } else {
        "AT+CGATT=0"
    }
}

/// The M35 BCCH lock command: `AT+QLOCKF=1,<arfcn>` locks, `AT+QLOCKF=0` unlocks.
fn qlockf_line(arfcn: Option<u32>) -> HalResult<String> {
    match arfcn {
        None => Ok("AT+QLOCKF=0".to_string()),
        Some(a) if a <= MAX_GSM_ARFCN => Ok(format!("AT+QLOCKF=1,{a}")),
        Some(a) => Err(HalError::InvalidArgument(format!(
            "ARFCN must be 0..={MAX_GSM_ARFCN}: {a}"
        ))),
    }
}

fn validate_ussd(text: &str) -> HalResult<()> {
    if text.is_empty() || text.chars().count() > MAX_USSD_LEN {
        return Err(HalError::InvalidArgument(format!(
            "USSD string must be 1..={MAX_USSD_LEN} characters"
        )));
    }
    if text.chars().any(|c| c.is_control() || c == '"') {
        return Err(HalError::InvalidArgument(
            "USSD string may not contain quotes or control characters".into(),
        ));
    }
    Ok(())
}

fn parse_rows<T>(lines: &[String], prefix: &str, f: impl Fn(&str) -> Option<T>) -> Vec<T> {
    lines
        .iter()
        .filter_map(|l| parse::strip_prefix(l, prefix))
        .filter_map(|v| {
            let row = f(v);
            if row.is_none() {
                tracing::warn!(line = v, prefix, "unreadable row ignored");
            }
            row
        })
        .collect()
}

/// Pair `+CMGL:` headers with the PDU line after each.
fn parse_cmgl(lines: &[String]) -> Vec<StoredSms> {
    let mut out = Vec::new();
    let mut it = lines.iter().peekable();
    while let Some(line) = it.next() {
        let Some(v) = parse::strip_prefix(line, "+CMGL:") else {
            continue;
        };
        let Some((index, status)) = parse::parse_cmgl_header(v) else {
            tracing::warn!(line, "unreadable +CMGL header ignored");
            continue;
        };
        match it.peek() {
            Some(pdu) if parse::is_hex_pdu(pdu) => {
                out.push(StoredSms {
                    index,
                    status,
                    pdu_hex: pdu.to_string(),
                });
                it.next();
            }
            _ => tracing::warn!(index, "+CMGL entry without PDU ignored"),
        }
    }
    out
}

#[async_trait]
impl ModemHal for AtModem {
    fn kind(&self) -> ModuleKind {
        self.inner.dialect.kind
    }

    fn subscribe(&self) -> ModemEvents {
        self.inner.events.subscribe()
    }

    async fn identity(&self) -> HalResult<ModemIdentity> {
        let manufacturer = self.bare("AT+CGMI", &["+CGMI:"]).await?;
        let model = self.bare("AT+CGMM", &["+CGMM:"]).await?;
        let firmware = self.bare("AT+CGMR", &["Revision:", "+CGMR:"]).await?;
        let imei = self.bare("AT+CGSN", &["+CGSN:"]).await?;
        let imsi = self.optional_bare("AT+CIMI", &["+CIMI:"]).await?;
        let ccid_prefixes = ["+QCCID:", "+CCID:", "+ICCID:"];
        let mut iccid = None;
        for line in self.inner.dialect.iccid_commands {
            iccid = self.optional_bare(line, &ccid_prefixes).await?;
            if iccid.is_some() {
                break;
            }
        }
        Ok(ModemIdentity {
            manufacturer,
            model,
            firmware,
            imei,
            imsi,
            iccid,
        })
    }

    async fn sim_state(&self) -> HalResult<SimState> {
        let s = query_sim(&self.inner.chan, &self.inner.config).await?;
        if s.is_usable() {
            self.inner.sim_usable(s).await;
        } else {
            self.inner.set_sim(Some(s));
        }
        Ok(s)
    }

    async fn enter_pin(&self, pin: &str, new_pin: Option<String>) -> HalResult<()> {
        let line = match new_pin {
            None => {
                validate_pin("PIN", pin)?;
                cpin_line(pin)
            }
            Some(new_pin) => {
                validate_pin("PUK", pin)?;
                validate_pin("new PIN", &new_pin)?;
                format!("AT+CPIN=\"{pin}\",\"{new_pin}\"")
            }
        };
        let lines = self.inner.exec(command(line)?).await?;
        // Modules that announce `+CPIN: READY` before the final `OK` hand it over as an
        // information line of this command, not as a URC: treat it as the URC would be.
        let ready = lines.iter().any(|l| {
            parse::strip_prefix(l, "+CPIN:").and_then(parse::parse_cpin) == Some(SimState::Ready)
        });
        if ready {
            self.inner.emit(ModemEvent::SimChanged(SimState::Ready));
            self.inner.sim_became_ready().await;
        }
        Ok(())
    }

    async fn enter_pin2(&self, pin2: &str) -> HalResult<()> {
        validate_pin("PIN2", pin2)?;
        // `AT+CPIN=` answers whatever the SIM waits for: offered to a SIM that wants PIN 1
        // (or nothing), the PIN2 would be checked as something else.
        let state = self.sim_state().await?;
        if state != SimState::Pin2Required {
            tracing::debug!(?state, "the SIM does not ask for PIN2: nothing entered");
            self.inner.emit(ModemEvent::SimChanged(state));
            return Ok(());
        }
        self.pin2_try_allowed().await?;
        if let Err(e) = self.inner.exec(command(cpin_line(pin2))?).await {
            self.pin2_refused(&e);
            return Err(e);
        }
        // The SIM says what it waits for now (`READY`, mostly).
        let now = self.sim_state().await?;
        self.inner.emit(ModemEvent::SimChanged(now));
        Ok(())
    }

    async fn fixed_dialing(&self) -> HalResult<bool> {
        let value = self.query_value(FD_QUERY, "+CLCK:").await?;
        parse::parse_clck(&value)
            .ok_or_else(|| HalError::Protocol(format!("unreadable +CLCK: {value:?}")))
    }

    async fn set_fixed_dialing(&self, enabled: bool, pin2: &str) -> HalResult<()> {
        validate_pin("PIN2", pin2)?;
        self.pin2_try_allowed().await?;
        match self.inner.exec(command(clck_fd_line(enabled, pin2))?).await {
            Ok(_) => Ok(()),
            Err(e) => {
                self.pin2_refused(&e);
                Err(e)
            }
        }
    }

    async fn own_number(&self) -> HalResult<Option<String>> {
        let lines = self.query("AT+CNUM").await?;
        Ok(lines
            .iter()
            .filter_map(|l| parse::strip_prefix(l, "+CNUM:"))
            .find_map(parse::parse_cnum))
    }

    async fn registration(&self) -> HalResult<Registration> {
        let value = self.query_value("AT+CREG?", "+CREG:").await?;
        parse::parse_creg(&value)
            .ok_or_else(|| HalError::Protocol(format!("unreadable +CREG: {value:?}")))
    }

    async fn signal(&self) -> HalResult<SignalQuality> {
        let value = self.query_value("AT+CSQ", "+CSQ:").await?;
        parse::parse_csq(&value)
            .ok_or_else(|| HalError::Protocol(format!("unreadable +CSQ: {value:?}")))
    }

    async fn operator(&self) -> HalResult<Option<Operator>> {
        let value = self.query_value("AT+COPS?", "+COPS:").await?;
        parse::parse_cops(&value)
            .ok_or_else(|| HalError::Protocol(format!("unreadable +COPS: {value:?}")))
    }

    async fn select_operator(&self, selection: OperatorSelection) -> HalResult<()> {
        match selection {
            OperatorSelection::Automatic => {
                self.query("AT+COPS=0").await?;
            }
            OperatorSelection::Manual(numeric) => {
                if !(5..=6).contains(&numeric.len()) || !numeric.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(HalError::InvalidArgument(format!(
                        "operator must be MCC+MNC, 5 or 6 digits: {numeric:?}"
                    )));
                }
                self.inner
                    .exec(command(format!("AT+COPS=1,2,\"{numeric}\""))?)
                    .await?;
            }
        }
        // Keep `AT+COPS?` answering with the long name.
        if let Err(e) = self.query("AT+COPS=3,0").await {
            tracing::warn!(error = %e, "AT+COPS=3,0 refused");
        }
        Ok(())
    }

    async fn cell_info(&self) -> HalResult<Vec<CellInfo>> {
        match self.inner.dialect.cell_info {
            CellInfoStyle::M35Qeng => self.cells_m35().await,
            CellInfoStyle::Uc15Qeng => self.cells_uc15().await,
            CellInfoStyle::Unsupported => Err(HalError::Unsupported("cell_info")),
        }
    }

    async fn lock_cell(&self, arfcn: Option<u32>) -> HalResult<()> {
        if !self.inner.dialect.bcch_lock {
            return Err(HalError::Unsupported("lock_cell"));
        }
        let line = qlockf_line(arfcn)?;
        self.inner.exec(command(line)?).await.map(|_| ())
    }

    async fn dial(&self, number: &str) -> HalResult<CallIndex> {
        validate_dial(number)?;
        {
            self.inner.calls().begin();
            if let Some(p) = lock(&self.inner.poller).take() {
                p.abort();
            }
        }
        let resp = self
            .inner
            .chan
            .execute_raw(command(format!("ATD{number};"))?)
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                self.inner.calls().live = false;
                return Err(e);
            }
        };
        let result = resp.result.clone();
        if let Err(e) = resp.into_result() {
            tracing::warn!(?result, "dial refused");
            self.inner.calls().live = false;
            return Err(e);
        }
        let index = match self.calls().await {
            Ok(calls) => calls
                .iter()
                .filter(|c| c.direction == CallDirection::MobileOriginated)
                .min_by_key(|c| match c.status {
                    CallStatus::Dialing | CallStatus::Alerting => 0,
                    CallStatus::Active => 1,
                    _ => 2,
                })
                .map_or(1, |c| c.index),
            Err(e) if is_link_error(&e) => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "AT+CLCC after dial failed, assuming index 1");
                1
            }
        };
        self.inner.calls().current = Some(index);
        if self.inner.dialect.call_progress == CallProgress::ClccPolling {
            urc::start_poller(&self.inner);
        }
        Ok(index)
    }

    async fn answer(&self) -> HalResult<()> {
        self.query("ATA").await?;
        let (index, was_live) = {
            let mut t = self.inner.calls();
            let was_live = t.live;
            if !was_live {
                t.begin();
            }
            let index = t.current.unwrap_or(1);
            t.current = Some(index);
            t.connected = true;
            (index, was_live)
        };
        self.inner.emit(ModemEvent::CallConnected { index });
        let polled = self.inner.dialect.call_progress == CallProgress::ClccPolling;
        if polled && (!was_live || lock(&self.inner.poller).is_none()) {
            urc::start_poller(&self.inner);
        }
        Ok(())
    }

    async fn hang_up(&self) -> HalResult<()> {
        match self.query("ATH").await {
            Ok(_) => {}
            Err(e) if is_link_error(&e) => return Err(e),
            Err(e) => {
                tracing::debug!(error = %e, "ATH refused, trying AT+CHUP");
                self.query("AT+CHUP").await?;
            }
        }
        self.inner.calls().clear();
        if let Some(p) = lock(&self.inner.poller).take() {
            p.abort();
        }
        Ok(())
    }

    async fn send_dtmf(&self, digit: DtmfDigit) -> HalResult<()> {
        self.inner
            .exec(command(format!("AT+VTS={}", digit.as_char()))?)
            .await
            .map(|_| ())
    }

    async fn calls(&self) -> HalResult<Vec<CallInfo>> {
        let lines = self.query("AT+CLCC").await?;
        Ok(parse_rows(&lines, "+CLCC:", parse::parse_clcc))
    }

    async fn set_call_waiting(&self, enabled: bool) -> HalResult<()> {
        // A set command answers no `+CCWA:` line: a `+CCWA` URC arriving meanwhile must
        // stay a URC.
        let cmd = command(ccwa_line(enabled))?.with_info(InfoShape::None);
        self.inner.exec(cmd).await.map(|_| ())
    }

    async fn hold_and_accept(&self) -> HalResult<()> {
        self.chld(2, |_| ReleaseCause::NORMAL_CLEARING).await
    }

    async fn release_active_and_accept(&self) -> HalResult<()> {
        self.chld(1, |_| ReleaseCause::NORMAL_CLEARING).await
    }

    async fn reject_waiting(&self) -> HalResult<()> {
        // A waiting call is refused as busy; a held one is simply released.
        self.chld(0, |connected| {
            if connected {
                ReleaseCause::NORMAL_CLEARING
            } else {
                ReleaseCause::USER_BUSY
            }
        })
        .await
    }

    async fn send_sms(&self, pdu: &OutgoingPdu) -> HalResult<u8> {
        if !parse::is_hex_pdu(&pdu.pdu_hex) {
            return Err(HalError::InvalidArgument(
                "PDU must be an even number of hex digits".into(),
            ));
        }
        if pdu.tpdu_len == 0 || pdu.tpdu_len > pdu.pdu_hex.len() / 2 || pdu.tpdu_len > 176 {
            return Err(HalError::InvalidArgument(format!(
                "TPDU length {} does not fit the PDU",
                pdu.tpdu_len
            )));
        }
        let cmd = command(format!("AT+CMGS={}", pdu.tpdu_len))?
            .with_body(pdu.pdu_hex.as_bytes().to_vec());
        let lines = self.inner.exec(cmd).await?;
        lines
            .iter()
            .filter_map(|l| parse::strip_prefix(l, "+CMGS:"))
            .find_map(|v| parse::split_fields(v).first().and_then(|f| f.num::<u8>()))
            .ok_or_else(|| HalError::Protocol("AT+CMGS: no +CMGS line".into()))
    }

    async fn list_sms(&self, filter: SmsFilter) -> HalResult<Vec<StoredSms>> {
        let n = parse::sms_status_number(filter);
        let lines = self.query(&format!("AT+CMGL={n}")).await?;
        Ok(parse_cmgl(&lines))
    }

    async fn read_sms(&self, index: SmsIndex) -> HalResult<StoredSms> {
        let lines = self.query(&format!("AT+CMGR={index}")).await?;
        let pos = lines
            .iter()
            .position(|l| parse::strip_prefix(l, "+CMGR:").is_some())
            // An empty slot: some modules answer a bare OK.
            .ok_or(HalError::Cms { code: 321 })?;
        let status = parse::strip_prefix(&lines[pos], "+CMGR:")
            .and_then(parse::parse_cmgr_header)
            .ok_or_else(|| HalError::Protocol(format!("unreadable {:?}", lines[pos])))?;
        let pdu_hex = lines
            .get(pos + 1)
            .filter(|p| parse::is_hex_pdu(p))
            .cloned()
            .ok_or_else(|| HalError::Protocol("AT+CMGR: no PDU line".into()))?;
        Ok(StoredSms {
            index,
            status,
            pdu_hex,
        })
    }

    async fn delete_sms(&self, index: SmsIndex) -> HalResult<()> {
        self.query(&format!("AT+CMGD={index}")).await.map(|_| ())
    }

    async fn send_ussd(&self, text: &str) -> HalResult<UssdResponse> {
        validate_ussd(text)?;
        let ucs2 = self.inner.config.charset == Charset::Ucs2;
        let payload = if ucs2 {
            parse::encode_ucs2_hex(text)
        } else {
            text.to_string()
        };
        let (tx, rx) = oneshot::channel();
        *lock(&self.inner.ussd) = Some(tx);
        let result = self
            .inner
            .exec(command(format!("AT+CUSD=1,\"{payload}\",15"))?)
            .await;
        let lines = match result {
            Ok(l) => l,
            Err(e) => {
                lock(&self.inner.ussd).take();
                return Err(e);
            }
        };
        // Some firmware puts the answer before the OK.
        if let Some(resp) = lines
            .iter()
            .filter_map(|l| parse::strip_prefix(l, "+CUSD:"))
            .find_map(|v| parse::parse_cusd(v, ucs2))
        {
            lock(&self.inner.ussd).take();
            return Ok(resp);
        }
        match tokio::time::timeout(self.inner.config.ussd_timeout, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(HalError::LinkDown("backend stopped".into())),
            Err(_) => {
                lock(&self.inner.ussd).take();
                // Close the session so the next request starts clean.
                let _ = self.query("AT+CUSD=2").await;
                Err(HalError::Timeout("AT+CUSD (no +CUSD answer)".into()))
            }
        }
    }

    async fn set_call_forwarding(&self, setting: &CallForwarding) -> HalResult<()> {
        let reason = parse::forward_reason_number(setting.reason);
        let line = match (setting.enabled, &setting.number) {
            (true, Some(number)) => {
                validate_dial(number)?;
                let ty = if number.starts_with('+') { 145 } else { 129 };
                match (setting.reason, setting.no_reply_seconds) {
                    (
                        ForwardReason::NoReply | ForwardReason::AllConditional | ForwardReason::All,
                        Some(t),
                    ) => {
                        if !(5..=30).contains(&t) {
                            return Err(HalError::InvalidArgument(
                                "no-reply time must be 5..=30 s".into(),
                            ));
                        }
                        format!("AT+CCFC={reason},3,\"{number}\",{ty},1,,,{t}")
                    }
                    _ => format!("AT+CCFC={reason},3,\"{number}\",{ty},1"),
                }
            }
            (true, None) => format!("AT+CCFC={reason},1"),
            (false, _) => format!("AT+CCFC={reason},0"),
        };
        self.inner.exec(command(line)?).await.map(|_| ())
    }

    async fn call_forwarding(&self, reason: ForwardReason) -> HalResult<CallForwarding> {
        let n = parse::forward_reason_number(reason);
        let lines = self.query(&format!("AT+CCFC={n},2")).await?;
        let rows = parse_rows(&lines, "+CCFC:", parse::parse_ccfc);
        let row = rows
            .iter()
            .find(|r| r.class & 1 == 1)
            .or_else(|| rows.first());
        Ok(match row {
            Some(r) => CallForwarding {
                reason,
                enabled: r.active,
                number: r.number.clone(),
                no_reply_seconds: r.time,
            },
            None => CallForwarding {
                reason,
                enabled: false,
                number: None,
                no_reply_seconds: None,
            },
        })
    }

    async fn set_clir(&self, withheld: bool) -> HalResult<()> {
        self.query(clir_line(withheld)).await.map(|_| ())
    }

    async fn set_gprs_attached(&self, attached: bool) -> HalResult<()> {
        self.query(cgatt_line(attached)).await.map(|_| ())
    }

    async fn gprs_status(&self) -> HalResult<GprsStatus> {
        let cgreg = self.query_value("AT+CGREG?", "+CGREG:").await?;
        let registered = parse::parse_cgreg(&cgreg)
            .ok_or_else(|| HalError::Protocol(format!("unreadable +CGREG: {cgreg:?}")))?;
        let cgatt = self.query_value("AT+CGATT?", "+CGATT:").await?;
        let attached = parse::parse_cgatt(&cgatt)
            .ok_or_else(|| HalError::Protocol(format!("unreadable +CGATT: {cgatt:?}")))?;
        Ok(GprsStatus {
            registered,
            attached,
        })
    }

    async fn write_imei(&self, imei: &str) -> HalResult<()> {
        if !self.inner.dialect.imei_write {
            return Err(HalError::Unsupported("write_imei"));
        }
        if !parse::imei_is_valid(imei) {
            return Err(HalError::InvalidArgument(
                "IMEI must be 15 digits with a valid Luhn check digit".into(),
            ));
        }
        self.inner
            .exec(command(format!("AT+EGMR=1,7,\"{imei}\""))?)
            .await
            .map(|_| ())
    }

    async fn set_power(&self, mode: PowerMode) -> HalResult<()> {
        let n = match mode {
            PowerMode::Minimum => 0,
            PowerMode::Full => 1,
            PowerMode::RadioOff => 4,
        };
        self.query(&format!("AT+CFUN={n}")).await.map(|_| ())
    }

    async fn reset(&self) -> HalResult<()> {
        let _guard = self.inner.recovery.lock().await;
        recovery::restart_and_reinit(&self.inner, recovery::RestartHow::Command).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_strings() {
        assert_eq!(validate_dial("+491701234567"), Ok(()));
        assert_eq!(validate_dial("*100#"), Ok(()));
        for bad in ["", "123;ATH", "12 34", "123\r", "12a", &"1".repeat(41)] {
            assert!(
                matches!(validate_dial(bad), Err(HalError::InvalidArgument(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn pins_and_ussd() {
        assert_eq!(validate_pin("PIN", "1234"), Ok(()));
        assert!(validate_pin("PIN", "12\"4").is_err());
        assert!(validate_pin("PIN", "123").is_err());
        assert_eq!(validate_ussd("*100#"), Ok(()));
        assert!(validate_ussd("*100\"#").is_err());
        assert!(validate_ussd("").is_err());
        assert!(validate_ussd("a\rb").is_err());
    }

    #[test]
    fn pin2_commands_f_6_10_7() {
        assert_eq!(cpin_line("5678"), "AT+CPIN=\"5678\"");
        assert_eq!(clck_fd_line(true, "5678"), "AT+CLCK=\"FD\",1,\"5678\"");
        assert_eq!(
            clck_fd_line(false, "12345678"),
            "AT+CLCK=\"FD\",0,\"12345678\""
        );
        assert_eq!(FD_QUERY, "AT+CLCK=\"FD\",2");
        assert!(validate_pin("PIN2", "5678\",\"1").is_err());
    }

    #[test]
    fn call_waiting_commands() {
        assert_eq!(ccwa_line(true), "AT+CCWA=1,1");
        assert_eq!(ccwa_line(false), "AT+CCWA=1,0");
    }

    #[test]
    fn call_track_known_calls() {
        let mut t = CallTrack::default();
        assert!(t.known().is_empty());
        t.begin();
        t.current = Some(1);
        t.connected = true;
        t.others.push(OtherCall {
            index: 2,
            connected: false,
        });
        assert_eq!(
            t.known(),
            vec![
                OtherCall {
                    index: 1,
                    connected: true
                },
                OtherCall {
                    index: 2,
                    connected: false
                }
            ]
        );
        assert!(t.knows(1) && t.knows(2) && !t.knows(3));
        t.clear();
        assert!(t.known().is_empty() && !t.knows(2));
    }

    #[test]
    fn clir_and_gprs_commands() {
        assert_eq!(clir_line(true), "AT+CLIR=1");
        assert_eq!(clir_line(false), "AT+CLIR=0");
        assert_eq!(cgatt_line(true), "AT+CGATT=1");
        assert_eq!(cgatt_line(false), "AT+CGATT=0");
    }

    #[test]
    fn bcch_lock_commands() {
        assert_eq!(qlockf_line(Some(554)), Ok("AT+QLOCKF=1,554".to_string()));
        assert_eq!(qlockf_line(Some(0)), Ok("AT+QLOCKF=1,0".to_string()));
        assert_eq!(qlockf_line(None), Ok("AT+QLOCKF=0".to_string()));
        assert!(matches!(
            qlockf_line(Some(1024)),
            Err(HalError::InvalidArgument(_))
        ));
    }

    #[test]
    fn cmgl_pairs() {
        let lines: Vec<String> = [
            "+CMGL: 1,0,,5",
            "0011AABBCC",
            "+CMGL: 2,1,,5",
            "+CMGL: 3,1,,5",
            "0011DDEEFF",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let sms = parse_cmgl(&lines);
        assert_eq!(
            sms.iter().map(|s| (s.index, s.status)).collect::<Vec<_>>(),
            vec![(1, SmsFilter::Unread), (3, SmsFilter::Read)]
        );
    }
}
