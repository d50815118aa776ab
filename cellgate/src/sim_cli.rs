//! `cellgate sim`: the simulated GSM network on its own, on the real-time clock. Each
//! line's modem can be exposed as a raw pty (`--pty-dir DIR` -> `DIR/line1` ...) for real
//! clients (Gammu, minicom, the gateway itself), and a small HTTP/JSON control interface
//! (`--control ADDR`) drives the outside world: phones calling and texting lines, the SMSC's
//! received messages, signal, SIM insert/remove, faults. See docs/simulator.md.
//!
//! The control interface is hand-rolled over `tokio::net::TcpListener` (one request per
//! connection, `Content-Length` bodies, JSON via serde_json): a dozen routes do not
//! justify pulling a web framework into the gateway binary.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use cellgate_simulator::{
    CalleeBehaviour, Fault, ModuleProfile, Network, NetworkConfig, PhoneBehaviour, PhoneSound,
    Scenario, SimError, SmsOptions,
};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Options of `cellgate sim`.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Number of lines.
    pub lines: u16,
    /// Module per line (cycled when shorter than `lines`).
    pub modules: Vec<ModuleProfile>,
    /// Network seed.
    pub seed: u64,
    /// Where the `lineN` pty links go.
    pub pty_dir: Option<PathBuf>,
    /// Control interface address.
    pub control: Option<SocketAddr>,
    /// A scenario to play; the run ends with it.
    pub scenario: Option<Scenario>,
}

/// Reads and validates a scenario file (errors name the file, section and key).
pub fn load_scenario(path: &Path) -> Result<Scenario, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read scenario {}: {e}", path.display()))?;
    Scenario::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// Parses `--module`: `m35`, `uc15`, or a comma-separated per-line mix (`m35,uc15`).
pub fn parse_modules(s: &str) -> Result<Vec<ModuleProfile>, String> {
    s.split(',')
        .map(|m| ModuleProfile::parse(m).ok_or_else(|| format!("unknown module {m:?} (m35, uc15)")))
        .collect()
}

/// Runs the simulator until `shutdown` completes.
pub async fn run(
    opts: SimOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Box<dyn std::error::Error>> {
    let net = Network::new(NetworkConfig {
        seed: opts.seed,
        ..NetworkConfig::default()
    });
    let modules = if opts.modules.is_empty() {
        vec![ModuleProfile::M35]
    } else {
        opts.modules.clone()
    };
    let mut ptys = Vec::new();
    let mut keep = Vec::new();
    for line in 1..=opts.lines {
        let profile = modules[usize::from(line - 1) % modules.len()];
        let port = net.attach_modem(line, profile);
        match &opts.pty_dir {
            Some(dir) => {
                let (path, held) = expose_pty(port, dir, line)?;
                println!("line{line}: {} {}", profile.name(), path.display());
                ptys.push((line, path));
                keep.push(held);
            }
            None => keep.push(HeldPort::Memory(port)),
        }
    }
    if let Some(addr) = opts.control {
        let listener = TcpListener::bind(addr).await?;
        println!("control: http://{}", listener.local_addr()?);
        let net = net.clone();
        let ptys = ptys.clone();
        tokio::spawn(async move { serve_control(listener, net, ptys).await });
    }
    if let Some(scenario) = &opts.scenario {
        println!(
            "cellgate sim: {} lines (seed {}); scenario {:?}, {:.1} s",
            opts.lines,
            opts.seed,
            scenario.name,
            scenario.duration().as_secs_f64()
        );
        let result = tokio::select! {
            r = scenario.run(&net) => r,
            _ = shutdown => {
                drop(keep);
                return Err("scenario interrupted".into());
            }
        };
        drop(keep);
        return match result {
            Ok(passed) => {
                for p in passed {
                    println!("ok   {p}");
                }
                println!("scenario passed");
                Ok(())
            }
            Err(e) => Err(e.into()),
        };
    }
    println!(
        "cellgate sim: {} lines (seed {}); Ctrl-C to stop.",
        opts.lines, opts.seed
    );
    shutdown.await;
    drop(keep);
    Ok(())
}

/// What keeps a line's port alive.
enum HeldPort {
    /// No pty: the in-memory stream (the modem runs, nobody talks to it).
    Memory(#[allow(dead_code)] DuplexStream),
    /// A pty: our own slave fd (so the master never sees a hangup between clients).
    Pty(#[allow(dead_code)] OwnedFd),
}

/// Opens a raw pty, links `dir/lineN` to its slave and bridges its master to `port`.
fn expose_pty(
    port: DuplexStream,
    dir: &Path,
    line: u16,
) -> Result<(PathBuf, HeldPort), Box<dyn std::error::Error>> {
    use nix::pty::openpty;
    use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
    std::fs::create_dir_all(dir)?;
    let pty = openpty(None, None)?;
    let mut t = tcgetattr(&pty.slave)?;
    cfmakeraw(&mut t);
    tcsetattr(&pty.slave, SetArg::TCSANOW, &t)?;
    let slave_path = std::fs::read_link(format!("/proc/self/fd/{}", pty.slave.as_raw_fd()))?;
    let link = dir.join(format!("line{line}"));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&slave_path, &link)?;
    let reader = std::fs::File::from(pty.master.try_clone()?);
    let writer = std::fs::File::from(pty.master);
    bridge(port, reader, writer, line);
    Ok((link, HeldPort::Pty(pty.slave)))
}

/// Copies bytes between the pty master (two blocking threads) and the modem's stream.
fn bridge(port: DuplexStream, mut reader: std::fs::File, mut writer: std::fs::File, line: u16) {
    let (mut port_rx, mut port_tx) = tokio::io::split(port);
    let (to_modem, mut from_pty) = mpsc::unbounded_channel::<Vec<u8>>();
    let (to_pty, from_modem) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::Builder::new()
        .name(format!("pty-rd-{line}"))
        .spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => std::thread::sleep(Duration::from_millis(20)),
                    Ok(n) => {
                        if to_modem.send(buf[..n].to_vec()).is_err() {
                            return;
                        }
                    }
                    // EIO while no client has the slave open (we hold one, but be safe).
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        })
        .ok();
    std::thread::Builder::new()
        .name(format!("pty-wr-{line}"))
        .spawn(move || {
            while let Ok(bytes) = from_modem.recv() {
                if writer.write_all(&bytes).is_err() {
                    return;
                }
            }
        })
        .ok();
    tokio::spawn(async move {
        while let Some(bytes) = from_pty.recv().await {
            if port_tx.write_all(&bytes).await.is_err() {
                return;
            }
        }
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            match port_rx.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if to_pty.send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

// ---- control interface ----

/// Serves the HTTP/JSON control interface of `net` (docs/simulator.md) on `listener`;
/// `cellgate simulate --control` uses it too, so a test can make a phone call a line.
pub async fn serve_control(listener: TcpListener, net: Network, ptys: Vec<(u16, PathBuf)>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let net = net.clone();
        let ptys = ptys.clone();
        tokio::spawn(async move {
            let _ = handle(stream, &net, &ptys).await;
        });
    }
}

async fn handle(
    mut stream: TcpStream,
    net: &Network,
    ptys: &[(u16, PathBuf)],
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, content_length) = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (pos + 4, len);
        }
        if buf.len() > 64 * 1024 {
            return Ok(());
        }
    };
    while buf.len() < head_end + content_length.min(1 << 20) {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut first = head.lines().next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_owned();
    let path = first.next().unwrap_or("").to_owned();
    let body: Value =
        serde_json::from_slice(buf.get(head_end..).unwrap_or_default()).unwrap_or(Value::Null);
    let (status, reply) = route(&method, &path, &body, net, ptys);
    let text = reply.to_string();
    let reason = if status == 200 { "OK" } else { "Error" };
    let resp = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    stream.write_all(resp.as_bytes()).await?;
    stream.shutdown().await
}

fn err(e: impl std::fmt::Display) -> (u16, Value) {
    (400, json!({ "error": e.to_string() }))
}

fn done(r: Result<(), SimError>) -> (u16, Value) {
    match r {
        Ok(()) => (200, json!({ "ok": true })),
        Err(e) => err(e),
    }
}

fn str_field<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

/// The routes of the control interface (documented in docs/simulator.md).
fn route(
    method: &str,
    path: &str,
    body: &Value,
    net: &Network,
    ptys: &[(u16, PathBuf)],
) -> (u16, Value) {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let line = |s: &str| s.parse::<u16>().ok();
    match (method, parts.as_slice()) {
        ("GET", ["lines"]) => {
            let rows: Vec<Value> = net
                .lines()
                .into_iter()
                .map(|l| {
                    let sim = net.sim(l);
                    json!({
                        "line": l,
                        "module": net.profile(l).map(|p| p.name()),
                        "imei": net.imei(l),
                        "iccid": sim.as_ref().map(|s| s.iccid.clone()),
                        "imsi": sim.as_ref().map(|s| s.imsi.clone()),
                        "msisdn": sim.as_ref().map(|s| s.msisdn.clone()),
                        "registration": net.registration(l),
                        "pty": ptys.iter().find(|(n, _)| *n == l).map(|(_, p)| p.display().to_string()),
                    })
                })
                .collect();
            (200, Value::Array(rows))
        }
        ("GET", ["calls"]) => {
            let rows: Vec<Value> = net
                .calls()
                .into_iter()
                .map(|c| {
                    json!({"line": c.line, "index": c.index, "remote": c.remote,
                    "direction": format!("{:?}", c.direction), "state": format!("{:?}", c.state)})
                })
                .collect();
            (200, Value::Array(rows))
        }
        ("GET", ["events"]) => (200, json!(net.event_log())),
        ("GET", ["smsc"]) => {
            let rows: Vec<Value> = net
                .smsc_texts()
                .into_iter()
                .map(|t| json!({"from": t.from, "to": t.to, "text": t.text, "parts": t.parts}))
                .collect();
            (200, Value::Array(rows))
        }
        ("GET", ["lines", n, "sms"]) => match line(n).and_then(|l| net.sim(l)) {
            Some(sim) => {
                let rows: Vec<Value> = sim
                    .messages
                    .iter()
                    .map(|(i, m)| json!({"index": i, "status": m.status.text()}))
                    .collect();
                (200, Value::Array(rows))
            }
            None => err("no such line or no SIM"),
        },
        ("POST", ["lines", n, "call"]) => {
            let Some(l) = line(n) else {
                return err("bad line");
            };
            let withheld = body.get("withheld").and_then(Value::as_bool) == Some(true);
            done(net.phone_calls_line_with(
                str_field(body, "from").unwrap_or("+8613912345678"),
                l,
                withheld,
            ))
        }
        ("POST", ["phones", number, "hangup"]) => done(net.phone_hangs_up(number)),
        ("POST", ["phones", number, "dtmf"]) => match str_field(body, "digits") {
            Some(d) => done(net.phone_sends_dtmf(number, d)),
            None => err("missing \"digits\""),
        },
        ("POST", ["phones", number]) => match phone_from_json(body) {
            Ok(b) => {
                net.set_phone(number, b);
                (200, json!({}))
            }
            Err(e) => err(&e),
        },
        ("GET", ["phones", number, "recording"]) => {
            let samples = net.phone_recording(number).len();
            (200, json!({ "samples": samples, "frames": samples / 160 }))
        }
        ("POST", ["lines", n, "sms"]) => {
            let Some(l) = line(n) else {
                return err("bad line");
            };
            let from = str_field(body, "from").unwrap_or("+8613912345678");
            let text = str_field(body, "text").unwrap_or("");
            let encoding = match str_field(body, "encoding") {
                Some("ucs2") => cellgate_sms::Encoding::Ucs2,
                Some("gsm7") => cellgate_sms::Encoding::Gsm7,
                _ => cellgate_sms::Encoding::Auto,
            };
            let reference = body
                .get("ref16")
                .and_then(Value::as_u64)
                .map(|r| cellgate_sms::ConcatRef::Sixteen(r as u16))
                .or_else(|| {
                    body.get("ref8")
                        .and_then(Value::as_u64)
                        .map(|r| cellgate_sms::ConcatRef::Eight(r as u8))
                });
            let opts = SmsOptions {
                encoding,
                reference,
                validity: body
                    .get("validity_secs")
                    .and_then(Value::as_u64)
                    .map(Duration::from_secs),
                ..SmsOptions::default()
            };
            match net.phone_sends_sms_with(from, l, text, &opts) {
                Ok(parts) => (200, json!({ "parts": parts })),
                Err(e) => err(e),
            }
        }
        ("POST", ["lines", n, "signal"]) => {
            let (Some(l), Some(rssi)) = (line(n), body.get("rssi").and_then(Value::as_u64)) else {
                return err("need a line and rssi");
            };
            done(net.set_signal(l, rssi.min(31) as u8))
        }
        ("POST", ["lines", n, "sim", "remove"]) => match line(n) {
            Some(l) => done(net.remove_sim(l).map(|_| ())),
            None => err("bad line"),
        },
        ("POST", ["lines", n, "sim", "insert"]) => match line(n) {
            Some(l) => done(net.insert_sim(l, None)),
            None => err("bad line"),
        },
        ("POST", ["lines", n, "fault"]) => {
            let Some(l) = line(n) else {
                return err("bad line");
            };
            match fault_from_json(body) {
                Some(f) => done(net.inject(l, f)),
                None => err("unknown fault"),
            }
        }
        _ => (404, json!({ "error": format!("no route {method} {path}") })),
    }
}

/// A phone behaviour from `{"behaviour": "answers"|"busy"|"rejects"|"never_answers"|
/// "unreachable", "answer_after_secs", "hang_up_after_secs", "tone_hz", "tone_level"}`.
pub fn phone_from_json(v: &Value) -> Result<PhoneBehaviour, String> {
    let secs = |k: &str| -> Result<Option<Duration>, String> {
        match v.get(k) {
            None => Ok(None),
            Some(x) => x
                .as_f64()
                .filter(|s| s.is_finite() && (0.0..1e9).contains(s))
                .map(|s| Some(Duration::from_secs_f64(s)))
                .ok_or_else(|| format!("\"{k}\" must be a number of seconds")),
        }
    };
    let alert = Duration::from_secs(1);
    let mut b = match str_field(v, "behaviour").unwrap_or("answers") {
        "answers" => PhoneBehaviour::answers_after(
            secs("answer_after_secs")?.unwrap_or(Duration::from_secs(4)),
        ),
        "busy" => PhoneBehaviour::busy(),
        "unreachable" => PhoneBehaviour::unreachable(),
        "rejects" => PhoneBehaviour::with_callee(CalleeBehaviour::Rejects {
            alert_after: alert,
            reject_after: secs("answer_after_secs")?.unwrap_or(Duration::from_secs(2)),
        }),
        "never_answers" => PhoneBehaviour::with_callee(CalleeBehaviour::NeverAnswers {
            alert_after: alert,
            give_up_after: Duration::from_secs(60),
        }),
        other => return Err(format!("unknown behaviour {other:?}")),
    };
    if let Some(t) = secs("hang_up_after_secs")? {
        b = b.hang_up_after(t);
    }
    if let Some(hz) = v.get("tone_hz").and_then(Value::as_f64) {
        let level = v.get("tone_level").and_then(Value::as_i64).unwrap_or(8000);
        b = b.play(PhoneSound::Tone {
            freq_hz: hz,
            level: level.clamp(0, i64::from(i16::MAX)) as i16,
        });
    }
    Ok(b)
}

/// A fault from `{"kind": "...", ...}` (kinds as in scenario files).
pub fn fault_from_json(v: &Value) -> Option<Fault> {
    let secs = |k: &str| {
        v.get(k)
            .and_then(Value::as_f64)
            .map(Duration::from_secs_f64)
    };
    let n = |k: &str, d: u64| v.get(k).and_then(Value::as_u64).unwrap_or(d);
    Some(match str_field(v, "kind")? {
        "unresponsive" => Fault::Unresponsive(secs("secs")),
        "recover" => Fault::Recover,
        "garbage" => Fault::Garbage(
            str_field(v, "bytes")
                .unwrap_or("\u{ff}\u{fe}garbage\r\n")
                .as_bytes()
                .to_vec(),
        ),
        "reboot" => Fault::Reboot,
        "slow" => Fault::Slow(secs("secs").unwrap_or(Duration::from_secs(2))),
        "cme_busy" => Fault::CmeBusy(n("count", 1) as u32),
        "cms_busy" => Fault::CmsBusy(n("count", 1) as u32),
        "sim_removed" => Fault::SimRemoved,
        "sim_inserted" => Fault::SimInserted,
        "deregister" => Fault::Deregister,
        "reregister" => Fault::Reregister,
        "sms_send_failure" => Fault::SmsSendFailure {
            count: n("count", 1) as u32,
            cms: n("cms", 500) as u16,
        },
        "signal_fade" => Fault::SignalFade {
            to: n("to", 0).min(31) as u8,
            over: secs("secs").unwrap_or(Duration::from_secs(10)),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn phone_routes() {
        let net = Network::new(NetworkConfig::default());
        let _port = net.attach_modem(1, ModuleProfile::M35);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (code, _) = route(
            "POST",
            "/phones/5551000",
            &json!({"behaviour": "busy"}),
            &net,
            &[],
        );
        assert_eq!(code, 200);
        let (code, v) = route(
            "POST",
            "/phones/5551000",
            &json!({"behaviour": "grumpy"}),
            &net,
            &[],
        );
        assert_eq!(
            (code, v["error"].as_str()),
            (400, Some("unknown behaviour \"grumpy\""))
        );
        let (code, _) = route(
            "POST",
            "/lines/1/call",
            &json!({"from": "5552000", "withheld": true}),
            &net,
            &[],
        );
        assert_eq!(code, 200);
        let (code, _) = route(
            "POST",
            "/phones/5552000/dtmf",
            &json!({"digits": "1"}),
            &net,
            &[],
        );
        assert_eq!(code, 400, "not connected yet");
        let (code, v) = route("GET", "/phones/5552000/recording", &json!({}), &net, &[]);
        assert_eq!((code, v["samples"].as_u64()), (200, Some(0)));
        assert!(phone_from_json(&json!({"hang_up_after_secs": "x"})).is_err());
    }
}
