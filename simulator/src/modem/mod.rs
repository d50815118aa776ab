//! Simulated modems: one tokio task per modem, speaking a module's AT dialect over the
//! gateway's end of an in-memory serial port.
//!
//! Layers: [`at_parser`] (bytes -> lines -> commands, sans-IO), [`commands`] (the 27.007
//! command set shared by all dialects), one module per dialect ([`m35`]) for its own
//! commands and data, and this module's [`Modem`] holding per-modem settings and the I/O
//! loop that interleaves command answers with URCs without ever splitting a response.

pub mod at_parser;
pub mod commands;
pub mod m35;
pub mod profile;
pub mod responses;
pub mod sim;
pub mod sms;
pub mod uc15;
pub mod ussd;

use std::collections::BTreeMap;
use std::time::Duration;

use cellgate_hal::ReleaseCause;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tokio::time::{sleep, sleep_until, Instant};

use crate::causes;
use crate::faults::Fault;
use crate::network::Network;
use crate::numbering::ReleaseUrc;
use crate::phone;
use crate::sim_card::{SimCard, SimLock};

use at_parser::{parse_command_line, AtCommand, InputLine, LineAssembler};
pub use profile::{BootStep, BootUrc, ModuleProfile, ProfileData};
use responses::{cme_text, AtError, ResultCode};

/// What the network tells a modem (turned into URCs or state changes by the modem).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    /// An incoming call rings once more.
    Ring {
        /// Caller number for `+CLIP` (`None`: withheld, CLIR).
        caller: Option<String>,
    },
    /// The far end of the outgoing call is ringing (`MO RING` with `AT+QMOSTAT=1`).
    Alerting,
    /// The far end answered (`MO CONNECTED` with `AT+QMOSTAT=1`).
    Connected,
    /// The network ended the call.
    Released {
        /// Cause for `AT+CEER`.
        cause: ReleaseCause,
        /// URC to print.
        urc: ReleaseUrc,
    },
    /// The SMSC offers a message (the modem stores it, shows it, or refuses it).
    Sms {
        /// SMSC id.
        id: u64,
    },
    /// A USSD answer or network-initiated USSD.
    Ussd {
        /// `+CUSD` `<m>`.
        m: u8,
        /// The text, if any.
        text: Option<String>,
    },
    /// The SIM was inserted or removed.
    SimChanged,
    /// Coverage, cell or operator changed: re-evaluate registration.
    Radio,
    /// The signal changed (`+CSQN` with `AT+QEXTUNSOL="SQ",1`).
    Signal,
    /// A fault to apply to the module itself.
    Fault(Fault),
    /// A second call waits (`+CCWA` with `AT+CCWA=1`).
    Waiting {
        /// Caller number (`None`: withheld).
        caller: Option<String>,
    },
    /// The far end sent a DTMF digit (`+QTONEDET` with `AT+QTONEDET=1`).
    Dtmf(char),
}

/// How one command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Success: continue with the next command of the line.
    Ok,
    /// Failure: stop the line with this error.
    Error(AtError),
    /// Stop the line with this result code instead of `OK` (e.g. `NO CARRIER`).
    Final(ResultCode),
    /// Print `> ` and collect a message body; the final result comes after it.
    Prompt(PromptFor),
}

/// What a `> ` body is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptFor {
    /// `AT+CMGS=<len>` (PDU mode): TPDU length.
    SendPdu(usize),
    /// `AT+CMGS="<da>"` (text mode).
    SendText(String),
    /// `AT+CMGW=<len>[,<stat>]` (PDU mode).
    WritePdu(usize, u8),
    /// `AT+CMGW="<da>"` (text mode).
    WriteText(String),
}

/// Per-modem settings changed by commands; `ATZ`/`AT&F` restore the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `ATE`: echo command lines.
    pub echo: bool,
    /// `ATQ`: suppress final result codes.
    pub quiet: bool,
    /// `ATV`: verbose (text) result codes.
    pub verbose: bool,
    /// `ATX`: 3 or 4 report `BUSY`, lower levels `NO CARRIER`.
    pub x_level: u32,
    /// `AT+CMEE`.
    pub cmee: u8,
    /// `AT+CREG` presentation mode.
    pub creg: u8,
    /// `AT+CGREG` presentation mode.
    pub cgreg: u8,
    /// `AT+CLIP`.
    pub clip: bool,
    /// `AT+CLIR` (0 subscription default, 1 invoke, 2 suppress).
    pub clir: u8,
    /// `AT+CCWA` presentation.
    pub ccwa: bool,
    /// `AT+CRC`: `+CRING: VOICE` instead of `RING`.
    pub crc: bool,
    /// `AT+COPS=3,<format>`: 0 long name, 1 short name, 2 numeric.
    pub cops_format: u8,
    /// `AT+QMOSTAT` (M35): `MO RING` / `MO CONNECTED` URCs.
    pub mo_status: bool,
    /// `AT+CSCS`: `GSM`, `IRA`, `UCS2`, `HEX`.
    pub cscs: String,
    /// `AT+CMGF`: 0 PDU, 1 text.
    pub cmgf: u8,
    /// `AT+CSDH`: show text-mode header values.
    pub csdh: bool,
    /// `AT+CNMI` `<mode>,<mt>,<bm>,<ds>,<bfr>`.
    pub cnmi: [u8; 5],
    /// `AT+CSMP` `<fo>,<vp>,<pid>,<dcs>`.
    pub csmp: [u8; 4],
    /// `AT+QEXTUNSOL="SQ",1` (M35) / `AT+QINDCFG="csq",1`: signal URCs.
    pub signal_urc: bool,
    /// S-registers.
    pub s_registers: BTreeMap<u32, u32>,
    /// Values of the profile's plain settings that were set.
    pub plain: BTreeMap<String, String>,
}

impl Default for Settings {
    /// Factory defaults: echo on, verbose, `ATX4`, `AT+CMEE=0`, PDU mode,
    /// `AT+CNMI=0,0,0,0,0`, `AT+CSMP=17,167,0,0`, `AT+CSCS="GSM"`, everything else off.
    fn default() -> Self {
        Self {
            echo: true,
            quiet: false,
            verbose: true,
            x_level: 4,
            cmee: 0,
            creg: 0,
            cgreg: 0,
            clip: false,
            clir: 0,
            ccwa: false,
            crc: false,
            cops_format: 0,
            mo_status: false,
            cscs: "GSM".into(),
            cmgf: 0,
            csdh: false,
            cnmi: [0, 0, 0, 0, 0],
            csmp: [17, 167, 0, 0],
            signal_urc: false,
            s_registers: [(0, 0), (3, 13), (4, 10), (5, 8), (7, 60)]
                .into_iter()
                .collect(),
            plain: BTreeMap::new(),
        }
    }
}

/// Switchable behaviours marked *unverified* in AT-DIALECTS.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quirks {
    /// `+CLCC` rows carry a trailing empty alpha field `,""` (M35, 8 fields).
    pub clcc_alpha: bool,
    /// `AT+QCCID` is not supported (only `AT+CCID`).
    pub no_qccid: bool,
}

/// Fault state of a modem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct FaultState {
    mute: bool,
    slow: Duration,
    cme_busy: u32,
    cms_busy: u32,
    sms_fail: Option<(u32, u16)>,
}

/// One simulated modem: settings, boot progress, registration and serial-port output.
/// The SIM lives in the network's slot (so it survives the modem), reached through
/// [`Modem::sim`] / [`Modem::with_sim`].
pub struct Modem {
    net: Network,
    line: u16,
    attach_id: u64,
    profile: ModuleProfile,
    imei: String,
    settings: Settings,
    quirks: Quirks,
    boot_origin: Instant,
    boot_done: usize,
    boot_paused: bool,
    cfun: u8,
    reg: u8,
    reg_pending: Option<(Instant, u8)>,
    assembler: LineAssembler,
    prompt: Option<PromptFor>,
    last_line: Option<Vec<u8>>,
    last_cause: ReleaseCause,
    faults: FaultState,
    out: Vec<u8>,
}

impl Modem {
    pub(crate) fn new(
        net: Network,
        line: u16,
        attach_id: u64,
        profile: ModuleProfile,
        imei: String,
    ) -> Self {
        Self {
            net,
            line,
            attach_id,
            profile,
            imei,
            settings: Settings::default(),
            quirks: Quirks::default(),
            boot_origin: Instant::now(),
            boot_done: 0,
            boot_paused: false,
            cfun: 1,
            reg: 0,
            reg_pending: None,
            assembler: LineAssembler::default(),
            prompt: None,
            last_line: None,
            last_cause: causes::NO_CAUSE,
            faults: FaultState::default(),
            out: Vec::new(),
        }
    }

    /// The modem's task: reads commands, receives network notices, plays the boot
    /// sequence, and writes whole responses and URCs. Ends when either side goes away.
    pub(crate) async fn run(
        mut self,
        port: DuplexStream,
        mut notices: mpsc::UnboundedReceiver<Notice>,
    ) {
        let (mut rx, mut tx) = tokio::io::split(port);
        let mut buf = vec![0u8; 4096];
        loop {
            let boot = self.next_boot_deadline();
            let reg = self.reg_pending.map(|(t, _)| t);
            tokio::select! {
                biased;
                notice = notices.recv() => match notice {
                    Some(n) => self.on_notice(n),
                    None => break,
                },
                _ = sleep_until(boot.unwrap_or(self.boot_origin)), if boot.is_some() => {
                    self.on_boot_step();
                }
                _ = sleep_until(reg.unwrap_or(self.boot_origin)), if reg.is_some() => {
                    self.on_registered();
                }
                read = rx.read(&mut buf) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let bytes = buf.get(..n).unwrap_or_default().to_vec();
                        self.on_bytes(&bytes);
                    }
                },
            }
            if self.faults.mute {
                self.out.clear();
            }
            if !self.out.is_empty() {
                if !self.faults.slow.is_zero() {
                    sleep(self.faults.slow).await;
                }
                let out = std::mem::take(&mut self.out);
                if tx.write_all(&out).await.is_err() || tx.flush().await.is_err() {
                    break;
                }
            }
        }
        self.net.modem_detached(self.line, self.attach_id);
    }

    // ---- accessors for command handlers ----

    /// The gateway line this modem serves.
    pub fn line(&self) -> u16 {
        self.line
    }

    /// The module family.
    pub fn profile(&self) -> ModuleProfile {
        self.profile
    }

    /// The dialect's declarative data.
    pub fn data(&self) -> &'static ProfileData {
        self.profile.data()
    }

    /// The SIM in the modem's slot (a copy), if any.
    pub fn sim(&self) -> Option<SimCard> {
        self.net.sim(self.line)
    }

    /// Runs `f` on the SIM in the slot; `None` if the slot is empty.
    pub fn with_sim<R>(&self, f: impl FnOnce(&mut SimCard) -> R) -> Option<R> {
        let mut st = self.net.state();
        let l = st.lines.get_mut(&self.line)?;
        let r = l.sim.as_mut().map(f);
        if let Some(s) = &l.sim {
            l.last_sim = s.clone();
        }
        r
    }

    /// The SIM if it is inserted and unlocked, else the CME error a module gives (10 not
    /// inserted, 11 PIN, 12 PUK, 13 failure).
    pub fn ready_sim(&self) -> Result<SimCard, u16> {
        match self.sim() {
            None => Err(10),
            Some(s) => match s.lock {
                SimLock::Ready => Ok(s),
                SimLock::PinRequired => Err(11),
                SimLock::PukRequired => Err(12),
                SimLock::Blocked => Err(13),
            },
        }
    }

    /// The modem's IMEI.
    pub fn imei(&self) -> &str {
        &self.imei
    }

    /// Replaces the IMEI (`AT+EGMR=1,7`).
    pub fn set_imei(&mut self, imei: String) {
        self.imei = imei.clone();
        if let Some(l) = self.net.state().lines.get_mut(&self.line) {
            l.imei = imei;
        }
    }

    /// Current settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Settings, for commands that change them.
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// The quirk switches.
    pub fn quirks(&self) -> Quirks {
        self.quirks
    }

    /// The network the modem is attached to.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// Id of this attachment, to tell the network which modem is asking.
    pub(crate) fn attach_id(&self) -> u64 {
        self.attach_id
    }

    /// Cause of the last call release (`AT+CEER`).
    pub fn last_cause(&self) -> ReleaseCause {
        self.last_cause
    }

    /// Sets the cause `AT+CEER` reports.
    pub fn set_last_cause(&mut self, cause: ReleaseCause) {
        self.last_cause = cause;
    }

    /// `AT+QINISTAT`-style init status: the last completed boot step's value.
    pub fn init_status(&self) -> u8 {
        self.boot_done
            .checked_sub(1)
            .and_then(|i| self.data().boot.get(i))
            .map_or(0, |s| s.init_status)
    }

    /// Whether SMS commands work (boot reached the dialect's ready status and the SIM is
    /// unlocked).
    pub fn sms_ready(&self) -> bool {
        self.init_status() >= self.data().ready_status && self.ready_sim().is_ok()
    }

    /// `AT+CFUN` level (0 minimum, 1 full, 4 flight mode).
    pub fn cfun(&self) -> u8 {
        self.cfun
    }

    /// `+CREG` stat the modem reports (0 idle, 1 home, 2 searching, 3 denied, 5 roaming).
    pub fn reg_stat(&self) -> u8 {
        self.reg
    }

    /// Whether the modem is attached to the GPRS service (`+CGATT`).
    pub fn gprs_attached(&self) -> bool {
        self.net.gprs_attached(self.line).unwrap_or(false)
    }

    /// `+CGREG` stat: the CS stat (1 home, 5 roaming) while attached and registered, 2
    /// while searching, else 0.
    pub fn gprs_stat(&self) -> u8 {
        match self.reg {
            s @ (1 | 5) if self.gprs_attached() => s,
            2 => 2,
            _ => 0,
        }
    }

    /// `AT+CGATT=<state>`: attaching needs CS registration (`false` without it);
    /// detaching always works. A `+CGREG` URC follows a stat change when enabled.
    pub fn set_gprs_attached(&mut self, attached: bool) -> bool {
        if attached && !matches!(self.reg, 1 | 5) {
            return false;
        }
        let before = self.gprs_stat();
        self.net.set_gprs_attached(self.line, attached);
        self.gprs_urc(before);
        true
    }

    /// `+CGREG` URC (`AT+CGREG=1|2`) when the GPRS stat is no longer `before`.
    fn gprs_urc(&mut self, before: u8) {
        let stat = self.gprs_stat();
        if stat == before {
            return;
        }
        match self.settings.cgreg {
            1 => self.urc(&format!("+CGREG: {stat}")),
            2 => {
                let loc = self.gprs_location_suffix();
                self.urc(&format!("+CGREG: {stat}{loc}"));
            }
            _ => {}
        }
    }

    /// `,"<lac>","<ci>"[,<act>]` while GPRS-registered, else empty.
    pub fn gprs_location_suffix(&self) -> String {
        if matches!(self.gprs_stat(), 1 | 5) {
            self.location_suffix()
        } else {
            String::new()
        }
    }

    /// Sets the functionality level; 0 and 4 deregister, 1 registers again.
    pub fn set_cfun(&mut self, level: u8) {
        self.cfun = level;
        self.evaluate_registration();
    }

    /// `AT+CFUN=1,1`: the module restarts (as a commanded reset).
    pub fn restart(&mut self) {
        self.net
            .state()
            .log(format!("line{} module restarting", self.line));
        self.reboot();
    }

    // ---- output ----

    fn emit(&mut self, framed: &[u8], logged: &[u8]) {
        self.out.extend_from_slice(framed);
        self.net.record_sent(self.line, self.attach_id, logged);
    }

    /// Sends an information-response line (framed `\r\n<text>\r\n`).
    pub fn info(&mut self, text: &str) {
        let framed = if self.settings.verbose {
            format!("\r\n{text}\r\n")
        } else {
            format!("{text}\r\n")
        };
        self.emit(framed.as_bytes(), text.as_bytes());
    }

    /// Sends a bare line with only a trailing CRLF (the PDU after `+CMGR:`, `+CMT:`).
    pub fn raw_line(&mut self, text: &str) {
        self.emit(format!("{text}\r\n").as_bytes(), text.as_bytes());
    }

    /// Sends an unsolicited text line (`MO RING`, `+CLIP: ...`, boot lines).
    pub fn urc(&mut self, text: &str) {
        self.info(text);
    }

    /// Sends a result code as text or number per `ATV`.
    fn result_code(&mut self, code: ResultCode) {
        if self.settings.verbose {
            self.emit(
                format!("\r\n{}\r\n", code.text()).as_bytes(),
                code.text().as_bytes(),
            );
        } else {
            let n = code.number().to_string();
            self.emit(format!("{n}\r").as_bytes(), n.as_bytes());
        }
    }

    fn final_result(&mut self, code: ResultCode) {
        if !self.settings.quiet {
            self.result_code(code);
        }
    }

    fn final_error(&mut self, err: AtError) {
        match (err, self.settings.cmee) {
            (AtError::Cme(code), 1) => self.info(&format!("+CME ERROR: {code}")),
            (AtError::Cme(code), 2) => self.info(&format!("+CME ERROR: {}", cme_text(code))),
            (AtError::Cms(code), 1 | 2) => self.info(&format!("+CMS ERROR: {code}")),
            _ => self.final_result(ResultCode::Error),
        }
    }

    // ---- boot and registration ----

    fn next_boot_deadline(&self) -> Option<Instant> {
        if self.boot_paused || self.cfun == 0 && self.boot_done > 0 {
            return None;
        }
        self.data()
            .boot
            .get(self.boot_done)
            .map(|step| self.boot_origin + step.at)
    }

    fn on_boot_step(&mut self) {
        let Some(step) = self.data().boot.get(self.boot_done).copied() else {
            return;
        };
        let sim_ready = self.ready_sim().is_ok();
        if step.needs_sim && !sim_ready {
            self.boot_paused = true;
            return;
        }
        self.boot_done += 1;
        match step.urc {
            BootUrc::Text(t) => self.urc(t),
            BootUrc::SimState => {
                let text = self.cpin_text();
                self.urc(&format!("+CPIN: {text}"));
                self.evaluate_registration();
            }
        }
        if self.sms_ready() {
            self.net.smsc_retry(self.line);
        }
    }

    /// `+CPIN:` state text.
    pub fn cpin_text(&self) -> &'static str {
        match self.sim() {
            None => "NOT INSERTED",
            Some(s) => s.cpin_text(),
        }
    }

    /// Resumes a boot paused for the PIN (called once the SIM is unlocked).
    pub fn resume_boot(&mut self) {
        if self.boot_paused {
            self.boot_paused = false;
            if let Some(step) = self.data().boot.get(self.boot_done) {
                let now = Instant::now();
                self.boot_origin = now
                    .checked_sub(step.at)
                    .unwrap_or(now)
                    .checked_add(Duration::from_millis(300))
                    .unwrap_or(now);
            }
        }
        self.evaluate_registration();
    }

    fn reboot(&mut self) {
        // Calls of the old "power cycle" end without URCs.
        self.net.modem_hang_up(self.line, self.attach_id);
        self.settings = Settings::default();
        self.boot_origin = Instant::now();
        self.boot_done = 0;
        self.boot_paused = false;
        self.cfun = 1;
        self.assembler = LineAssembler::default();
        self.prompt = None;
        self.faults.mute = false;
        self.set_reg(0, false);
        self.reg_pending = None;
        self.net.ussd_cancel(self.line);
        if let Some(l) = self.net.state().lines.get_mut(&self.line) {
            if let Some(s) = l.sim.as_mut() {
                s.power_on();
            }
        }
    }

    /// Decides registration from power, SIM and radio; starts the searching delay.
    pub fn evaluate_registration(&mut self) {
        let sim_ready = self.ready_sim().is_ok() && self.init_status() > 0;
        let target = if self.cfun != 1 || !sim_ready || self.boot_done == 0 {
            0
        } else {
            self.net.reg_target(self.line)
        };
        let registered = |s: u8| s == 1 || s == 5;
        if registered(target) {
            if self.reg == target && self.reg_pending.is_none() {
                return;
            }
            if registered(self.reg) {
                self.set_reg(target, true);
                return;
            }
            if self.reg != 2 {
                self.set_reg(2, true);
            }
            let delay = self.net.state().config.registration_delay;
            self.reg_pending = Some((Instant::now() + delay, target));
        } else {
            self.reg_pending = None;
            if self.reg != target {
                self.set_reg(target, true);
            }
        }
    }

    fn on_registered(&mut self) {
        if let Some((_, stat)) = self.reg_pending.take() {
            // Conditions may have changed since the search started.
            if self.net.reg_target(self.line) == stat && self.cfun == 1 {
                self.set_reg(stat, true);
            } else {
                self.evaluate_registration();
            }
        }
    }

    fn set_reg(&mut self, stat: u8, urc: bool) {
        let gprs_before = self.gprs_stat();
        self.reg = stat;
        self.net.set_reg_stat(self.line, stat);
        if !matches!(stat, 1 | 5) {
            // Losing CS registration detaches GPRS; it is not re-attached by itself.
            self.net.set_gprs_attached(self.line, false);
        }
        if !urc {
            return;
        }
        match self.settings.creg {
            1 => self.urc(&format!("+CREG: {stat}")),
            2 => {
                let loc = self.location_suffix();
                self.urc(&format!("+CREG: {stat}{loc}"));
            }
            _ => {}
        }
        self.gprs_urc(gprs_before);
    }

    /// `,"<lac>","<ci>"[,<act>]` when registered, else empty.
    pub fn location_suffix(&self) -> String {
        if self.reg != 1 && self.reg != 5 {
            return String::new();
        }
        let Some(cell) = self.net.serving_cell(self.line) else {
            return String::new();
        };
        match self.data().creg_act {
            Some(act) => format!(",\"{:04X}\",\"{:X}\",{act}", cell.lac, cell.cell_id),
            None => format!(",\"{:04X}\",\"{:04X}\"", cell.lac, cell.cell_id & 0xFFFF),
        }
    }

    // ---- events ----

    fn on_notice(&mut self, notice: Notice) {
        if self.boot_done == 0 && !matches!(notice, Notice::Fault(_) | Notice::Sms { .. }) {
            // Powered but not started: nothing reaches the host.
            return;
        }
        match notice {
            Notice::Ring { caller } => {
                if self.settings.crc {
                    self.urc("+CRING: VOICE");
                } else {
                    self.result_code(ResultCode::Ring);
                }
                if self.settings.clip {
                    let line = match caller {
                        Some(c) => {
                            let ty = phone::type_of_number(&c);
                            format!("+CLIP: \"{c}\",{ty},\"\",,\"\",0")
                        }
                        None => "+CLIP: \"\",128,\"\",,\"\",1".to_owned(),
                    };
                    self.urc(&line);
                }
            }
            Notice::Alerting => {
                if self.settings.mo_status {
                    self.urc("MO RING");
                }
            }
            Notice::Connected => {
                if self.settings.mo_status {
                    self.urc("MO CONNECTED");
                }
            }
            Notice::Released { cause, urc } => {
                self.last_cause = cause;
                let code = match urc {
                    ReleaseUrc::Busy if self.settings.x_level >= 3 => ResultCode::Busy,
                    ReleaseUrc::Busy | ReleaseUrc::NoCarrier => ResultCode::NoCarrier,
                    ReleaseUrc::NoAnswer => ResultCode::NoAnswer,
                };
                self.result_code(code);
            }
            Notice::Sms { id } => sms::on_offer(self, id),
            Notice::Ussd { m, text } => ussd::on_answer(self, m, text),
            Notice::SimChanged => {
                let text = self.cpin_text();
                self.urc(&format!("+CPIN: {text}"));
                if self.ready_sim().is_ok() {
                    self.resume_boot();
                } else {
                    self.evaluate_registration();
                }
            }
            Notice::Radio => self.evaluate_registration(),
            Notice::Signal => {
                if self.settings.signal_urc {
                    let (rssi, ber) = self.net.signal(self.line);
                    self.urc(&format!("+CSQN: {rssi},{ber}"));
                }
            }
            Notice::Fault(f) => self.on_fault(f),
            Notice::Waiting { caller } => {
                if self.settings.ccwa {
                    let line = match caller {
                        Some(c) => format!("+CCWA: \"{c}\",{},1", phone::type_of_number(&c)),
                        None => "+CCWA: \"\",128,1".to_owned(),
                    };
                    self.urc(&line);
                }
            }
            Notice::Dtmf(c) => {
                let on = self.settings.plain.get("+QTONEDET").map(String::as_str) == Some("1");
                if on {
                    self.urc(&format!("+QTONEDET: {}", u32::from(c)));
                }
            }
        }
    }

    fn on_fault(&mut self, fault: Fault) {
        match fault {
            Fault::Unresponsive(_) => self.faults.mute = true,
            Fault::Recover => {
                self.faults.mute = false;
                self.faults.slow = Duration::ZERO;
            }
            Fault::Garbage(bytes) => {
                self.out.extend_from_slice(&bytes);
                self.net.record_sent(self.line, self.attach_id, &bytes);
            }
            Fault::Reboot => {
                self.net
                    .state()
                    .log(format!("line{} module rebooted by itself", self.line));
                self.reboot();
            }
            Fault::Slow(d) => self.faults.slow = d,
            Fault::CmeBusy(n) => self.faults.cme_busy = n,
            Fault::CmsBusy(n) => self.faults.cms_busy = n,
            Fault::SmsSendFailure { count, cms } => self.faults.sms_fail = Some((count, cms)),
            // Network-side faults never reach the modem.
            _ => {}
        }
    }

    fn on_bytes(&mut self, bytes: &[u8]) {
        if self.boot_done == 0 || self.faults.mute {
            // Before `RDY` a real module is still starting (and autobauding): whatever
            // arrives is lost, and nothing is answered or echoed. A hung module likewise.
            return;
        }
        for &b in bytes {
            let in_prompt = self.assembler.in_prompt();
            let Some(input) = self.assembler.push_byte(b) else {
                if in_prompt && self.settings.echo && b != 0 {
                    self.out.push(b);
                }
                continue;
            };
            match input {
                InputLine::Line(line) => self.on_line(line),
                InputLine::Repeat => {
                    self.net.record_received(self.line, self.attach_id, b"A/");
                    if self.settings.echo {
                        self.emit(b"A/\r", b"A/");
                    }
                    match self.last_line.clone() {
                        Some(line) => self.execute_line(&line),
                        None => self.final_error(AtError::Plain),
                    }
                }
                InputLine::Overflow => {
                    self.net
                        .record_received(self.line, self.attach_id, b"<line too long>");
                    self.final_error(AtError::Plain);
                }
                InputLine::Body(body) => {
                    let mut logged = body.clone();
                    logged.extend_from_slice(b"<SUB>");
                    self.net.record_received(self.line, self.attach_id, &logged);
                    if let Some(p) = self.prompt.take() {
                        match sms::on_body(self, p, &body) {
                            Outcome::Ok => self.final_result(ResultCode::Ok),
                            Outcome::Error(e) => self.final_error(e),
                            Outcome::Final(c) => self.final_result(c),
                            Outcome::Prompt(_) => {}
                        }
                    }
                }
                InputLine::BodyCancelled => {
                    self.net
                        .record_received(self.line, self.attach_id, b"<ESC>");
                    // Cancelling a message is not an error on Quectel modules.
                    if self.prompt.take().is_some() {
                        self.final_result(ResultCode::Ok);
                    }
                }
            }
        }
    }

    fn on_line(&mut self, line: Vec<u8>) {
        self.net.record_received(self.line, self.attach_id, &line);
        if self.settings.echo {
            let mut echoed = line.clone();
            echoed.push(b'\r');
            self.emit(&echoed, &line);
        }
        self.execute_line(&line);
    }

    /// Runs every command of a line in order; one final result for the whole line.
    fn execute_line(&mut self, line: &[u8]) {
        let cmds = match parse_command_line(line) {
            None => return,
            Some(Err(_)) => return self.final_error(AtError::Plain),
            Some(Ok(cmds)) => cmds,
        };
        self.last_line = Some(line.to_vec());
        if self.faults.cme_busy > 0 && !cmds.is_empty() {
            self.faults.cme_busy -= 1;
            return self.final_error(AtError::Cme(515));
        }
        for cmd in &cmds {
            match self.execute(cmd) {
                Outcome::Ok => {}
                Outcome::Error(e) => return self.final_error(e),
                Outcome::Final(code) => return self.final_result(code),
                Outcome::Prompt(p) => {
                    self.prompt = Some(p);
                    self.assembler.start_prompt();
                    self.emit(b"\r\n> ", b"> ");
                    return;
                }
            }
        }
        self.final_result(ResultCode::Ok);
    }

    /// Consumes one "SMS busy" fault, if armed (`+CMS ERROR: 314`).
    pub(crate) fn take_cms_busy(&mut self) -> bool {
        if self.faults.cms_busy > 0 {
            self.faults.cms_busy -= 1;
            true
        } else {
            false
        }
    }

    /// Consumes one "SMS send failure" fault, if armed: its CMS code.
    pub(crate) fn take_sms_failure(&mut self) -> Option<u16> {
        let (n, cms) = self.faults.sms_fail?;
        self.faults.sms_fail = if n > 1 { Some((n - 1, cms)) } else { None };
        Some(cms)
    }

    fn execute(&mut self, cmd: &AtCommand) -> Outcome {
        let specific = match self.profile {
            ModuleProfile::M35 => m35::execute(self, cmd),
            ModuleProfile::Uc15 => uc15::execute(self, cmd),
        };
        specific
            .or_else(|| sim::execute(self, cmd))
            .or_else(|| sms::execute(self, cmd))
            .or_else(|| ussd::execute(self, cmd))
            .unwrap_or_else(|| commands::execute(self, cmd))
    }
}
