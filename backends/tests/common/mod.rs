//! A scripted fake module on a tokio duplex stream, shared by the backend tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cellgate_backends::at::{ChannelConfig, Timeouts};
use cellgate_backends::{open_modem, AtModem, AtModemConfig};
use cellgate_hal::{ModemEvent, ModemEvents, ModemHal};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::mpsc;

/// What the fake answers to one command line: `None` -> the default answer,
/// `Some("")` -> silence. A prompt body arrives as `BODY:<hex>`.
pub type Script = Box<dyn FnMut(&str) -> Option<String> + Send>;

pub struct Fake {
    log: Arc<Mutex<Vec<String>>>,
    inject: mpsc::UnboundedSender<Vec<u8>>,
    /// While set, the fake answers nothing (a hung module).
    pub mute: Arc<AtomicBool>,
}

impl Fake {
    pub fn log(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn clear(&self) {
        if let Ok(mut l) = self.log.lock() {
            l.clear();
        }
    }

    pub fn send(&self, raw: &str) {
        let _ = self.inject.send(raw.as_bytes().to_vec());
    }

    pub fn send_bytes(&self, raw: &[u8]) {
        let _ = self.inject.send(raw.to_vec());
    }

    pub fn set_mute(&self, on: bool) {
        self.mute.store(on, Ordering::SeqCst);
    }

    pub fn count(&self, line: &str) -> usize {
        self.log().iter().filter(|l| *l == line).count()
    }
}

#[derive(Clone, Copy)]
pub struct FakeOptions {
    /// `AT+CGMM` answer.
    pub model: &'static str,
    /// Echo on at start (as after boot).
    pub echo: bool,
    /// Ignore `ATE0` (keep echoing).
    pub sticky_echo: bool,
}

pub const M35: FakeOptions = FakeOptions {
    model: "Quectel_M35",
    echo: true,
    sticky_echo: false,
};
pub const UC15: FakeOptions = FakeOptions {
    model: "UC15",
    echo: true,
    sticky_echo: false,
};
pub const GENERIC: FakeOptions = FakeOptions {
    model: "SIMCOM_SIM800",
    echo: true,
    sticky_echo: false,
};

pub fn ok_with(info: &[&str]) -> String {
    let mut s = String::new();
    for l in info {
        s.push_str("\r\n");
        s.push_str(l);
        s.push_str("\r\n");
    }
    s + "\r\nOK\r\n"
}

pub fn spawn_fake(opts: FakeOptions, script: Script) -> (DuplexStream, Fake) {
    spawn_fake_shared(opts, Arc::new(AtomicBool::new(false)), script)
}

/// [`spawn_fake`] with a mute flag the script can also see.
pub fn spawn_fake_shared(
    opts: FakeOptions,
    mute: Arc<AtomicBool>,
    mut script: Script,
) -> (DuplexStream, Fake) {
    let (ours, theirs) = tokio::io::duplex(8192);
    let log = Arc::new(Mutex::new(Vec::new()));
    let (inject, mut injected) = mpsc::unbounded_channel::<Vec<u8>>();
    let task_log = log.clone();
    let task_mute = mute.clone();
    tokio::spawn(async move {
        let (mut rd, mut wr) = tokio::io::split(theirs);
        let mut echo = opts.echo;
        let mut pending = Vec::new();
        let mut body: Option<Vec<u8>> = None;
        let mut buf = [0u8; 512];
        loop {
            tokio::select! {
                n = rd.read(&mut buf) => {
                    let n = match n { Ok(0) | Err(_) => return, Ok(n) => n };
                    let mut out = String::new();
                    for &b in &buf[..n] {
                        if let Some(collected) = body.as_mut() {
                            match b {
                                0x1a => {
                                    let hex = String::from_utf8_lossy(collected).to_string();
                                    body = None;
                                    let line = format!("BODY:{hex}");
                                    if let Ok(mut l) = task_log.lock() { l.push(line.clone()); }
                                    out.push_str(&script(&line).unwrap_or_else(|| ok_with(&["+CMGS: 42"])));
                                }
                                0x1b => { body = None; out.push_str("\r\nOK\r\n"); }
                                _ => collected.push(b),
                            }
                            continue;
                        }
                        if b != b'\r' && b != b'\n' {
                            pending.push(b);
                            continue;
                        }
                        let had_esc = pending.contains(&0x1b);
                        let line = String::from_utf8_lossy(&pending).trim().to_string();
                        pending.clear();
                        // ESC (resync) and other control bytes are dropped like a module
                        // does; an ESC is logged as "ESC" and shown to the script.
                        let line: String = line.chars().filter(|c| !c.is_control()).collect();
                        let line = if line.is_empty() && had_esc { "ESC".to_string() } else { line };
                        if line.is_empty() {
                            continue;
                        }
                        if let Ok(mut l) = task_log.lock() {
                            l.push(line.clone());
                        }
                        if task_mute.load(Ordering::SeqCst) {
                            // A hung module: only the script may wake it (e.g. a reset);
                            // its answer goes out only if it did.
                            let answer = script(&line);
                            if task_mute.load(Ordering::SeqCst) {
                                continue;
                            }
                            out.push_str(&answer.unwrap_or_else(|| default_answer(opts, &line)));
                            continue;
                        }
                        if line == "ESC" {
                            let _ = script(&line);
                            continue;
                        }
                        if echo {
                            out.push_str(&line);
                            out.push('\r');
                        }
                        let upper = line.to_ascii_uppercase();
                        match upper.as_str() {
                            "ATE0" if !opts.sticky_echo => echo = false,
                            "ATE1" => echo = true,
                            _ => {}
                        }
                        if upper.starts_with("AT+CMGS=") {
                            match script(&line) {
                                Some(a) => out.push_str(&a),
                                None => {
                                    out.push_str("\r\n> ");
                                    body = Some(Vec::new());
                                }
                            }
                            continue;
                        }
                        out.push_str(&script(&line).unwrap_or_else(|| default_answer(opts, &line)));
                    }
                    if !out.is_empty() && wr.write_all(out.as_bytes()).await.is_err() {
                        return;
                    }
                }
                raw = injected.recv() => {
                    let Some(raw) = raw else { return };
                    if wr.write_all(&raw).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    (ours, Fake { log, inject, mute })
}

pub fn default_answer(opts: FakeOptions, line: &str) -> String {
    match line {
        "AT+CGMM" => ok_with(&[opts.model]),
        "AT+CGMI" => ok_with(&["Quectel"]),
        "AT+CGMR" => ok_with(&["Revision: X01"]),
        "AT+CGSN" => ok_with(&["861234567890123"]),
        "AT+CIMI" => ok_with(&["262011234567890"]),
        "AT+CPIN?" => ok_with(&["+CPIN: READY"]),
        "AT+QINISTAT" if opts.model == "UC15" => ok_with(&["+QINISTAT: 7"]),
        "AT+QINISTAT" => ok_with(&["+QINISTAT: 3"]),
        "AT+CSCA?" => ok_with(&["+CSCA: \"+491710760000\",145"]),
        "AT+CEER" => ok_with(&["+CEER: 16,\"Normal call clearing\""]),
        "AT+CLCC" => ok_with(&["+CLCC: 1,0,2,0,0,\"5551234\",129,\"\""]),
        "AT+CMGL=4" => ok_with(&[]),
        _ => ok_with(&[]),
    }
}

/// The init sequence of each profile, as the fake sees it.
pub fn init_sequence(opts: FakeOptions, first_start: bool) -> Vec<String> {
    let mut v = vec!["AT", "ATE0", "AT+CMEE=1"];
    if first_start {
        v.push("AT+CGMM");
    }
    match opts.model {
        "Quectel_M35" => v.extend([
            "AT+CLIP=1",
            "AT+CCWA=1",
            "ATX4",
            "AT+QMOSTAT=1",
            "AT+CREG=2",
            "AT+COPS=3,0",
            "AT+QAUDCH=0",
        ]),
        "UC15" => v.extend([
            "AT+CLIP=1",
            "AT+CCWA=1",
            "AT+CREG=2",
            "AT+COPS=3,0",
            "AT+QPCMV=0",
            "AT+QPCMV=1,0",
        ]),
        _ => v.extend(["AT+CLIP=1", "AT+CCWA=1", "AT+CREG=2", "AT+COPS=3,0"]),
    }
    v.extend(["AT+CSCS=\"GSM\"", "AT+CPIN?"]);
    if opts.model == "Quectel_M35" || opts.model == "UC15" {
        v.push("AT+QINISTAT");
    }
    v.extend([
        "AT+CMGF=0",
        "AT+CSCA?",
        "AT+CPMS=\"SM\",\"SM\",\"SM\"",
        "AT+CNMI=2,1,0,2,0",
    ]);
    v.into_iter().map(String::from).collect()
}

/// Settings for tests: short default timeout, no watchdog, no early sweep.
pub fn test_config() -> AtModemConfig {
    AtModemConfig {
        channel: ChannelConfig {
            timeouts: Timeouts {
                default: Duration::from_secs(2),
                ..Timeouts::default()
            },
            ..ChannelConfig::default()
        },
        watchdog_interval: None,
        sms_sweep_initial_delay: Duration::from_secs(3600),
        sms_sweep_interval: None,
        ..AtModemConfig::default()
    }
}

pub async fn start_with(
    opts: FakeOptions,
    config: AtModemConfig,
    script: Script,
) -> (AtModem, Fake, ModemEvents) {
    let (stream, fake) = spawn_fake(opts, script);
    let modem = match open_modem(stream, config).await {
        Ok(m) => m,
        Err(e) => panic!("start failed: {e}"),
    };
    let events = modem.subscribe();
    fake.clear();
    (modem, fake, events)
}

/// [`start_with`] with a shared mute flag.
pub async fn start_shared(
    opts: FakeOptions,
    config: AtModemConfig,
    mute: Arc<AtomicBool>,
    script: Script,
) -> (AtModem, Fake, ModemEvents) {
    let (stream, fake) = spawn_fake_shared(opts, mute, script);
    let modem = match open_modem(stream, config).await {
        Ok(m) => m,
        Err(e) => panic!("start failed: {e}"),
    };
    let events = modem.subscribe();
    fake.clear();
    (modem, fake, events)
}

pub async fn start(opts: FakeOptions, script: Script) -> (AtModem, Fake, ModemEvents) {
    start_with(opts, test_config(), script).await
}

pub fn defaults() -> Script {
    Box::new(|_| None)
}

pub async fn next_event(rx: &mut ModemEvents) -> ModemEvent {
    match tokio::time::timeout(Duration::from_secs(600), rx.recv()).await {
        Ok(Ok(ev)) => ev,
        other => panic!("no event: {other:?}"),
    }
}

/// Wait for an event matching `pred`, skipping others.
pub async fn wait_for(rx: &mut ModemEvents, pred: impl Fn(&ModemEvent) -> bool) -> ModemEvent {
    loop {
        let e = next_event(rx).await;
        if pred(&e) {
            return e;
        }
    }
}

/// Let the background tasks run (virtual time) and check nothing more was emitted.
pub async fn assert_no_event(rx: &mut ModemEvents) {
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}
