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

use std::collections::BTreeMap;

use cellgate_hal::ReleaseCause;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use crate::causes;
use crate::network::Network;
use crate::numbering::ReleaseUrc;
use crate::phone;
use crate::sim_card::SimCard;

use at_parser::{parse_command_line, AtCommand, InputLine, LineAssembler};
pub use profile::{BootStep, ModuleProfile, ProfileData};
use responses::{cme_text, AtError, ResultCode};

/// What the network tells a modem about its calls (turned into URCs by the modem).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    /// An incoming call rings once more.
    Ring {
        /// Caller number for `+CLIP`.
        caller: String,
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
    /// `AT+CLIP`.
    pub clip: bool,
    /// `AT+COPS=3,<format>`: 0 long name, 1 short name, 2 numeric.
    pub cops_format: u8,
    /// `AT+QMOSTAT` (M35): `MO RING` / `MO CONNECTED` URCs.
    pub mo_status: bool,
    /// S-registers.
    pub s_registers: BTreeMap<u32, u32>,
    /// Values of the profile's plain settings that were set.
    pub plain: BTreeMap<String, String>,
}

impl Default for Settings {
    /// Factory defaults: echo on, verbose, `ATX4`, `AT+CMEE=0`, everything else off.
    fn default() -> Self {
        Self {
            echo: true,
            quiet: false,
            verbose: true,
            x_level: 4,
            cmee: 0,
            creg: 0,
            clip: false,
            cops_format: 0,
            mo_status: false,
            s_registers: [(0, 0), (3, 13), (4, 10), (5, 8), (7, 60)]
                .into_iter()
                .collect(),
            plain: BTreeMap::new(),
        }
    }
}

/// One simulated modem with its SIM: settings, boot progress and serial-port output.
pub struct Modem {
    net: Network,
    line: u16,
    attach_id: u64,
    profile: ModuleProfile,
    sim: SimCard,
    imei: String,
    settings: Settings,
    attached_at: Instant,
    boot_done: usize,
    assembler: LineAssembler,
    last_line: Option<Vec<u8>>,
    last_cause: ReleaseCause,
    out: Vec<u8>,
}

impl Modem {
    pub(crate) fn new(
        net: Network,
        line: u16,
        attach_id: u64,
        profile: ModuleProfile,
        sim: SimCard,
        imei: String,
    ) -> Self {
        Self {
            net,
            line,
            attach_id,
            profile,
            sim,
            imei,
            settings: Settings::default(),
            attached_at: Instant::now(),
            boot_done: 0,
            assembler: LineAssembler::default(),
            last_line: None,
            last_cause: causes::NO_CAUSE,
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
            tokio::select! {
                biased;
                notice = notices.recv() => match notice {
                    Some(n) => self.on_notice(n),
                    None => break,
                },
                _ = sleep_until(boot.unwrap_or(self.attached_at)), if boot.is_some() => {
                    self.on_boot_step();
                }
                read = rx.read(&mut buf) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let bytes = buf.get(..n).unwrap_or_default().to_vec();
                        self.on_bytes(&bytes);
                    }
                },
            }
            if !self.out.is_empty() {
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

    /// The dialect's declarative data.
    pub fn data(&self) -> &'static ProfileData {
        self.profile.data()
    }

    /// The SIM in the modem.
    pub fn sim(&self) -> &SimCard {
        &self.sim
    }

    /// The modem's IMEI.
    pub fn imei(&self) -> &str {
        &self.imei
    }

    /// Current settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Settings, for commands that change them.
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
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
            _ => self.final_result(ResultCode::Error),
        }
    }

    // ---- events ----

    fn next_boot_deadline(&self) -> Option<Instant> {
        self.data()
            .boot
            .get(self.boot_done)
            .map(|step| self.attached_at + step.at)
    }

    fn on_boot_step(&mut self) {
        if let Some(step) = self.data().boot.get(self.boot_done) {
            self.boot_done += 1;
            self.urc(step.urc);
        }
    }

    fn on_notice(&mut self, notice: Notice) {
        match notice {
            Notice::Ring { caller } => {
                self.result_code(ResultCode::Ring);
                if self.settings.clip {
                    let ty = phone::type_of_number(&caller);
                    self.urc(&format!("+CLIP: \"{caller}\",{ty},\"\",,\"\",0"));
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
        }
    }

    fn on_bytes(&mut self, bytes: &[u8]) {
        if self.boot_done == 0 {
            // Before `RDY` a real module is still starting (and autobauding): whatever
            // arrives is lost, and nothing is answered or echoed.
            return;
        }
        for input in self.assembler.push(bytes) {
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
        for cmd in &cmds {
            match self.execute(cmd) {
                Outcome::Ok => {}
                Outcome::Error(e) => return self.final_error(e),
                Outcome::Final(code) => return self.final_result(code),
            }
        }
        self.final_result(ResultCode::Ok);
    }

    fn execute(&mut self, cmd: &AtCommand) -> Outcome {
        let specific = match self.profile {
            ModuleProfile::M35 => m35::execute(self, cmd),
        };
        specific.unwrap_or_else(|| commands::execute(self, cmd))
    }
}
