//! Quectel M35 profile: [`ModemHal`] over an [`AtChannel`].
//!
//! Owns the init sequence, the mapping of M35 answers and URCs to HAL types and events,
//! and the small amount of call bookkeeping needed to give events a call index.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use cellgate_hal::{
    CallDirection, CallForwarding, CallIndex, CallInfo, CallStatus, CellInfo, DtmfDigit,
    ForwardReason, HalError, HalResult, ModemEvent, ModemEvents, ModemHal, ModemIdentity,
    ModuleKind, Operator, OperatorSelection, OutgoingPdu, PowerMode, Registration, ReleaseCause,
    SignalQuality, SimState, SmsFilter, SmsIndex, StoredSms, UssdResponse,
};

use crate::at::{AtChannel, AtCommand, ChannelConfig, Urc};
use crate::parse;

/// Tunables of the M35 backend. `Default` gives values fit for real modules.
#[derive(Debug, Clone)]
pub struct M35Config {
    /// AT channel settings (per-command timeouts, queue depth).
    pub channel: ChannelConfig,
    /// How many `AT` probes init sends before giving up (a module after power-up or
    /// reset may not answer the first ones).
    pub probe_attempts: u32,
    /// Timeout of one `AT` probe.
    pub probe_timeout: Duration,
    /// Pause between failed probes.
    pub probe_interval: Duration,
    /// How long `reset` waits for the boot URC `RDY` before re-initialising anyway.
    pub boot_timeout: Duration,
    /// How long after `RING` to wait for `+CLIP` before reporting the call without a
    /// caller.
    pub clip_grace: Duration,
    /// Capacity of the event broadcast channel.
    pub event_capacity: usize,
}

impl Default for M35Config {
    fn default() -> Self {
        Self {
            channel: ChannelConfig::default(),
            probe_attempts: 5,
            probe_timeout: Duration::from_secs(1),
            probe_interval: Duration::from_millis(500),
            boot_timeout: Duration::from_secs(30),
            clip_grace: Duration::from_secs(1),
            event_capacity: 64,
        }
    }
}

/// Init commands after the `AT` probe. The first ones are required; failures of the rest
/// (other than timeouts and a lost link) are logged and init carries on.
const INIT_REQUIRED: &[&str] = &["ATE0", "AT+CMEE=1"];
const INIT_OPTIONAL: &[&str] = &[
    "AT+CLIP=1",
    "ATX4",
    "AT+QMOSTAT=1",
    "AT+CREG=2",
    "AT+COPS=3,0",
];

/// Longest dial string accepted (27.007 numbers are at most 20 digits; supplementary
/// service strings are longer).
const MAX_DIAL_LEN: usize = 40;

#[derive(Debug, Default)]
struct CallTrack {
    /// Index of the call we know about (dialled, or assumed for an incoming one).
    current: Option<CallIndex>,
    /// `IncomingCall` already emitted for the call ringing now.
    incoming_reported: bool,
}

struct Inner {
    chan: AtChannel,
    events: broadcast::Sender<ModemEvent>,
    config: M35Config,
    calls: Mutex<CallTrack>,
    resetting: AtomicBool,
    boots: watch::Sender<u64>,
}

impl Inner {
    fn emit(&self, ev: ModemEvent) {
        tracing::debug!(?ev, "modem event");
        // No subscriber is not an error.
        let _ = self.events.send(ev);
    }

    fn calls(&self) -> MutexGuard<'_, CallTrack> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn call_index(&self) -> CallIndex {
        self.calls().current.unwrap_or(1)
    }
}

/// A Quectel M35 module driven over an AT byte stream.
///
/// Created with [`M35Modem::start`]; dropping it stops its background tasks.
pub struct M35Modem {
    inner: Arc<Inner>,
    urc_task: JoinHandle<()>,
}

impl std::fmt::Debug for M35Modem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("M35Modem").finish_non_exhaustive()
    }
}

impl Drop for M35Modem {
    fn drop(&mut self) {
        self.urc_task.abort();
    }
}

fn command(line: String) -> HalResult<AtCommand> {
    AtCommand::new(line).map_err(|e| HalError::InvalidArgument(e.to_string()))
}

/// Whether an error means the module itself is unreachable (as opposed to refusing).
fn is_link_error(e: &HalError) -> bool {
    matches!(e, HalError::Timeout(_) | HalError::LinkDown(_))
}

/// Run the M35 init sequence.
async fn init(chan: &AtChannel, config: &M35Config) -> HalResult<()> {
    let mut last = HalError::Timeout("AT".into());
    let mut ok = false;
    for attempt in 0..config.probe_attempts.max(1) {
        let probe = command("AT".into())?.with_timeout(config.probe_timeout);
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
    for line in INIT_REQUIRED {
        chan.run(line).await?;
    }
    for line in INIT_OPTIONAL {
        match chan.run(line).await {
            Ok(_) => {}
            Err(e) if is_link_error(&e) => return Err(e),
            Err(e) => tracing::warn!(command = line, error = %e, "init command refused"),
        }
    }
    Ok(())
}

impl M35Modem {
    /// Start the backend on a byte stream with default settings: spawns the AT channel,
    /// runs the init sequence, then starts URC processing.
    pub async fn start<S>(stream: S) -> Result<M35Modem, HalError>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        Self::start_with_config(stream, M35Config::default()).await
    }

    /// [`M35Modem::start`] with explicit settings.
    pub async fn start_with_config<S>(stream: S, config: M35Config) -> Result<M35Modem, HalError>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (chan, mut urcs) = AtChannel::spawn(stream, config.channel.clone());
        init(&chan, &config).await?;
        // URCs that arrived before init finished (boot URCs of a module just powered)
        // describe the state init has already dealt with: drop the boot ones.
        let mut early = Vec::new();
        while let Ok(u) = urcs.try_recv() {
            early.push(u);
        }
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        let (boots, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            chan,
            events,
            config,
            calls: Mutex::new(CallTrack::default()),
            resetting: AtomicBool::new(false),
            boots,
        });
        let urc_task = tokio::spawn(urc_loop(inner.clone(), early, urcs));
        Ok(M35Modem { inner, urc_task })
    }

    /// The AT channel, for diagnostics and for commands this profile does not wrap yet.
    pub fn channel(&self) -> &AtChannel {
        &self.inner.chan
    }

    async fn query(&self, line: &str) -> HalResult<Vec<String>> {
        self.inner.chan.run(line).await
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
}

/// Digits, `+`, `*`, `#` only: the dial string goes into an AT command line.
fn validate_dial(number: &str) -> HalResult<()> {
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

fn validate_pin(what: &str, pin: &str) -> HalResult<()> {
    if (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(HalError::InvalidArgument(format!(
            "{what} must be 4 to 8 digits"
        )))
    }
}

#[async_trait]
impl ModemHal for M35Modem {
    fn kind(&self) -> ModuleKind {
        ModuleKind::M35
    }

    fn subscribe(&self) -> ModemEvents {
        self.inner.events.subscribe()
    }

    async fn identity(&self) -> HalResult<ModemIdentity> {
        let manufacturer = self.bare("AT+CGMI", &[]).await?;
        let model = self.bare("AT+CGMM", &[]).await?;
        if !model.to_ascii_uppercase().contains("M35") {
            tracing::warn!(%model, "M35 profile driving a different model");
        }
        let firmware = self.bare("AT+CGMR", &["Revision:"]).await?;
        let imei = self.bare("AT+CGSN", &["+CGSN:"]).await?;
        let imsi = self.optional_bare("AT+CIMI", &["+CIMI:"]).await?;
        let ccid_prefixes = ["+QCCID:", "+CCID:"];
        let iccid = match self.optional_bare("AT+QCCID", &ccid_prefixes).await? {
            Some(v) => Some(v),
            None => self.optional_bare("AT+CCID", &ccid_prefixes).await?,
        };
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
        match self.query("AT+CPIN?").await {
            Ok(lines) => {
                let value = lines
                    .iter()
                    .find_map(|l| parse::strip_prefix(l, "+CPIN:"))
                    .ok_or_else(|| HalError::Protocol("AT+CPIN?: no +CPIN line".into()))?;
                parse::parse_cpin(value)
                    .ok_or_else(|| HalError::Protocol(format!("unknown SIM state {value:?}")))
            }
            // Many modules answer a missing or broken SIM with an error instead.
            Err(HalError::Cme { code: 10 }) => Ok(SimState::NotInserted),
            Err(HalError::Cme { code: 13 }) => Ok(SimState::Failure),
            Err(HalError::Cme { code: 14 }) => Ok(SimState::NotReady),
            Err(e) => Err(e),
        }
    }

    async fn enter_pin(&self, pin: &str, new_pin: Option<String>) -> HalResult<()> {
        let line = match new_pin {
            None => {
                validate_pin("PIN", pin)?;
                format!("AT+CPIN=\"{pin}\"")
            }
            Some(new_pin) => {
                validate_pin("PUK", pin)?;
                validate_pin("new PIN", &new_pin)?;
                format!("AT+CPIN=\"{pin}\",\"{new_pin}\"")
            }
        };
        self.inner.chan.execute(command(line)?).await.map(|_| ())
    }

    async fn own_number(&self) -> HalResult<Option<String>> {
        let lines = self.query("AT+CNUM").await?;
        Ok(lines
            .iter()
            .filter_map(|l| parse::strip_prefix(l, "+CNUM:"))
            .find_map(parse::parse_cnum))
    }

    async fn registration(&self) -> HalResult<Registration> {
        let lines = self.query("AT+CREG?").await?;
        let value = lines
            .iter()
            .find_map(|l| parse::strip_prefix(l, "+CREG:"))
            .ok_or_else(|| HalError::Protocol("AT+CREG?: no +CREG line".into()))?;
        parse::parse_creg(value)
            .ok_or_else(|| HalError::Protocol(format!("unreadable +CREG: {value:?}")))
    }

    async fn signal(&self) -> HalResult<SignalQuality> {
        let lines = self.query("AT+CSQ").await?;
        let value = lines
            .iter()
            .find_map(|l| parse::strip_prefix(l, "+CSQ:"))
            .ok_or_else(|| HalError::Protocol("AT+CSQ: no +CSQ line".into()))?;
        parse::parse_csq(value)
            .ok_or_else(|| HalError::Protocol(format!("unreadable +CSQ: {value:?}")))
    }

    async fn operator(&self) -> HalResult<Option<Operator>> {
        let lines = self.query("AT+COPS?").await?;
        let value = lines
            .iter()
            .find_map(|l| parse::strip_prefix(l, "+COPS:"))
            .ok_or_else(|| HalError::Protocol("AT+COPS?: no +COPS line".into()))?;
        parse::parse_cops(value)
            .ok_or_else(|| HalError::Protocol(format!("unreadable +COPS: {value:?}")))
    }

    async fn select_operator(&self, _selection: OperatorSelection) -> HalResult<()> {
        Err(HalError::Unsupported("select_operator"))
    }

    async fn cell_info(&self) -> HalResult<Vec<CellInfo>> {
        Err(HalError::Unsupported("cell_info"))
    }

    async fn dial(&self, number: &str) -> HalResult<CallIndex> {
        validate_dial(number)?;
        {
            let mut t = self.inner.calls();
            t.current = None;
            t.incoming_reported = false;
        }
        let resp = self
            .inner
            .chan
            .execute_raw(command(format!("ATD{number};"))?)
            .await?;
        let result = resp.result.clone();
        if let Err(e) = resp.into_result() {
            tracing::warn!(?result, "dial refused");
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
        Ok(index)
    }

    async fn answer(&self) -> HalResult<()> {
        self.query("ATA").await?;
        let index = self.inner.call_index();
        self.inner.calls().current = Some(index);
        self.inner.emit(ModemEvent::CallConnected { index });
        Ok(())
    }

    async fn hang_up(&self) -> HalResult<()> {
        self.query("ATH").await?;
        *self.inner.calls() = CallTrack::default();
        Ok(())
    }

    async fn send_dtmf(&self, digit: DtmfDigit) -> HalResult<()> {
        self.inner
            .chan
            .execute(command(format!("AT+VTS={}", digit.as_char()))?)
            .await
            .map(|_| ())
    }

    async fn calls(&self) -> HalResult<Vec<CallInfo>> {
        let lines = self.query("AT+CLCC").await?;
        Ok(lines
            .iter()
            .filter_map(|l| parse::strip_prefix(l, "+CLCC:"))
            .filter_map(|v| {
                let row = parse::parse_clcc(v);
                if row.is_none() {
                    tracing::warn!(line = v, "unreadable +CLCC row ignored");
                }
                row
            })
            .collect())
    }

    async fn send_sms(&self, _pdu: &OutgoingPdu) -> HalResult<u8> {
        Err(HalError::Unsupported("send_sms"))
    }

    async fn list_sms(&self, _filter: SmsFilter) -> HalResult<Vec<StoredSms>> {
        Err(HalError::Unsupported("list_sms"))
    }

    async fn read_sms(&self, _index: SmsIndex) -> HalResult<StoredSms> {
        Err(HalError::Unsupported("read_sms"))
    }

    async fn delete_sms(&self, _index: SmsIndex) -> HalResult<()> {
        Err(HalError::Unsupported("delete_sms"))
    }

    async fn send_ussd(&self, _text: &str) -> HalResult<UssdResponse> {
        Err(HalError::Unsupported("send_ussd"))
    }

    async fn set_call_forwarding(&self, _setting: &CallForwarding) -> HalResult<()> {
        Err(HalError::Unsupported("set_call_forwarding"))
    }

    async fn call_forwarding(&self, _reason: ForwardReason) -> HalResult<CallForwarding> {
        Err(HalError::Unsupported("call_forwarding"))
    }

    async fn write_imei(&self, _imei: &str) -> HalResult<()> {
        Err(HalError::Unsupported("write_imei"))
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
        let inner = &self.inner;
        inner.resetting.store(true, Ordering::SeqCst);
        let result = async {
            let mut boots = inner.boots.subscribe();
            boots.mark_unchanged();
            match inner.chan.run("AT+CFUN=1,1").await {
                Ok(_) => {}
                // The module may reboot before it finishes answering.
                Err(HalError::Timeout(_)) => tracing::debug!("no answer to AT+CFUN=1,1"),
                Err(e) => return Err(e),
            }
            match tokio::time::timeout(inner.config.boot_timeout, boots.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(HalError::LinkDown("backend stopped".into())),
                Err(_) => tracing::warn!("no RDY after reset, re-initialising anyway"),
            }
            *inner.calls() = CallTrack::default();
            init(&inner.chan, &inner.config).await
        }
        .await;
        inner.resetting.store(false, Ordering::SeqCst);
        result
    }
}

/// Background task: turns URCs into [`ModemEvent`]s.
async fn urc_loop(inner: Arc<Inner>, early: Vec<Urc>, mut urcs: mpsc::UnboundedReceiver<Urc>) {
    let mut state = UrcState::default();
    for urc in early {
        if urc.line.eq_ignore_ascii_case("RDY") {
            continue;
        }
        handle_urc(&inner, &mut state, urc).await;
    }
    loop {
        let ring_deadline = state.ring_deadline;
        tokio::select! {
            urc = urcs.recv() => match urc {
                Some(urc) => handle_urc(&inner, &mut state, urc).await,
                None => {
                    inner.emit(ModemEvent::ModuleLost { reason: "link to module lost".into() });
                    return;
                }
            },
            () = sleep_until_opt(ring_deadline) => {
                state.ring_deadline = None;
                report_incoming(&inner, None);
            }
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[derive(Debug, Default)]
struct UrcState {
    /// `RING` seen without `+CLIP`: report the call without caller at this time.
    ring_deadline: Option<Instant>,
}

fn report_incoming(inner: &Inner, caller: Option<String>) {
    {
        let mut t = inner.calls();
        if t.incoming_reported {
            return;
        }
        t.incoming_reported = true;
    }
    inner.emit(ModemEvent::IncomingCall {
        index: None,
        caller,
    });
}

fn released(inner: &Inner, state: &mut UrcState, cause: ReleaseCause) {
    state.ring_deadline = None;
    let index = {
        let mut t = inner.calls();
        let index = t.current.unwrap_or(1);
        *t = CallTrack::default();
        index
    };
    inner.emit(ModemEvent::CallReleased { index, cause });
}

/// `AT+CEER` after `NO CARRIER`: the 24.008 cause, 16 (normal clearing) when unreadable.
async fn query_cause(inner: &Inner) -> ReleaseCause {
    match inner.chan.run("AT+CEER").await {
        Ok(lines) => lines
            .iter()
            .filter_map(|l| parse::strip_prefix(l, "+CEER:"))
            .find_map(parse::parse_ceer)
            .map_or(ReleaseCause::NORMAL_CLEARING, ReleaseCause),
        Err(e) => {
            tracing::warn!(error = %e, "AT+CEER failed");
            ReleaseCause::NORMAL_CLEARING
        }
    }
}

async fn handle_urc(inner: &Inner, state: &mut UrcState, urc: Urc) {
    let line = urc.line.as_str();
    let upper = line.to_ascii_uppercase();
    let value = |prefix: &str| parse::strip_prefix(line, prefix);
    match upper.as_str() {
        "RING" => {
            if state.ring_deadline.is_none() && !inner.calls().incoming_reported {
                state.ring_deadline = Some(Instant::now() + inner.config.clip_grace);
            }
            return;
        }
        "MO RING" => {
            let index = inner.call_index();
            inner.emit(ModemEvent::CallAlerting { index });
            return;
        }
        "MO CONNECTED" => {
            let index = inner.call_index();
            inner.emit(ModemEvent::CallConnected { index });
            return;
        }
        "NO CARRIER" | "NO DIALTONE" => {
            let cause = query_cause(inner).await;
            released(inner, state, cause);
            return;
        }
        "BUSY" => {
            released(inner, state, ReleaseCause::USER_BUSY);
            return;
        }
        "NO ANSWER" => {
            released(inner, state, ReleaseCause::NO_ANSWER);
            return;
        }
        "RDY" => {
            inner.boots.send_modify(|n| *n += 1);
            if inner.resetting.load(Ordering::SeqCst) {
                return;
            }
            tracing::warn!("module restarted on its own, re-initialising");
            *inner.calls() = CallTrack::default();
            state.ring_deadline = None;
            match init(&inner.chan, &inner.config).await {
                Ok(()) => inner.emit(ModemEvent::ModuleRestarted),
                Err(e) => inner.emit(ModemEvent::ModuleLost {
                    reason: format!("re-init after restart failed: {e}"),
                }),
            }
            return;
        }
        "CALL READY" | "SMS READY" => return,
        _ => {}
    }
    if let Some(v) = value("+CRING:") {
        tracing::trace!(kind = v, "+CRING");
        if state.ring_deadline.is_none() && !inner.calls().incoming_reported {
            state.ring_deadline = Some(Instant::now() + inner.config.clip_grace);
        }
    } else if let Some(v) = value("+CLIP:") {
        state.ring_deadline = None;
        report_incoming(inner, parse::parse_clip(v));
    } else if let Some(v) = value("+CREG:") {
        match parse::parse_creg(v) {
            Some(r) => inner.emit(ModemEvent::RegistrationChanged(r)),
            None => tracing::warn!(line, "unreadable +CREG URC ignored"),
        }
    } else if let Some(v) = value("+CPIN:") {
        match parse::parse_cpin(v) {
            Some(s) => inner.emit(ModemEvent::SimChanged(s)),
            None => tracing::warn!(line, "unreadable +CPIN URC ignored"),
        }
    } else if let Some(v) = value("+CMTI:") {
        match parse::parse_cmti(v) {
            Some(index) => inner.emit(ModemEvent::SmsStored { index }),
            None => tracing::warn!(line, "unreadable +CMTI URC ignored"),
        }
    } else if let Some(v) = value("+CDSI:") {
        match parse::parse_cmti(v) {
            Some(index) => inner.emit(ModemEvent::StatusReportStored { index }),
            None => tracing::warn!(line, "unreadable +CDSI URC ignored"),
        }
    } else if value("+CMT:").is_some() || value("+CDS:").is_some() {
        let Some(pdu_hex) = urc.body.clone() else {
            tracing::warn!(line, "SMS URC without PDU ignored");
            return;
        };
        if value("+CMT:").is_some() {
            inner.emit(ModemEvent::SmsDelivered { pdu_hex });
        } else {
            inner.emit(ModemEvent::StatusReport { pdu_hex });
        }
    } else if let Some(v) = value("+CSQN:") {
        match parse::parse_csq(v) {
            Some(q) => inner.emit(ModemEvent::SignalChanged(q)),
            None => tracing::warn!(line, "unreadable +CSQN URC ignored"),
        }
    } else if let Some(v) = value("+QTONEDET:") {
        let digit = v
            .parse::<u8>()
            .ok()
            .and_then(|code| DtmfDigit::new(char::from(code)));
        match digit {
            Some(d) => inner.emit(ModemEvent::DtmfReceived { digit: d.as_char() }),
            None => tracing::warn!(line, "unreadable +QTONEDET URC ignored"),
        }
    } else {
        tracing::debug!(line, "URC not mapped to an event");
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
    fn pins() {
        assert_eq!(validate_pin("PIN", "1234"), Ok(()));
        assert!(validate_pin("PIN", "12\"4").is_err());
        assert!(validate_pin("PIN", "123").is_err());
    }
}
