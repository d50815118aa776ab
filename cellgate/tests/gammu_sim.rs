//! Gammu (Debian `gammu`), a real AT client, against `cellgate sim --pty-dir`: for the M35
//! and the UC15 dialect, `identify`, `networkinfo`, `getsecuritystatus`, `getallsms` /
//! `geteachsms` (a 3-part UCS2 message joined), `sendsms` (exact text at the simulated
//! SMSC, read through the control interface) and `getussd '*100#'`.
//!
//! Needs the `gammu` binary: `tools/test-all.sh` installs it; when it is missing the tests
//! fail under `CI` and are reported as skipped elsewhere.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// `cellgate sim`, killed when the test ends.
struct Sim {
    child: Child,
    control: String,
    dir: PathBuf,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn gammu_available() -> bool {
    let found = Command::new("gammu")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "gammu is not installed but CI is set: install gammu (tools/test-all.sh does)"
        );
        eprintln!("SKIPPED: gammu not installed (apt-get install gammu)");
    }
    found
}

fn free_tcp_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

fn start_sim(module: &str) -> Sim {
    let port = free_tcp_port();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("gammu-{module}-{port}"));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .args(["sim", "--lines", "2", "--module", module, "--seed", "7"])
        .arg("--pty-dir")
        .arg(&dir)
        .args(["--control", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start cellgate sim");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let sim = Sim {
        child,
        control: format!("127.0.0.1:{port}"),
        dir,
    };
    loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) if l.starts_with("cellgate sim:") => break,
            Ok(_) => {}
            Err(e) => panic!("cellgate sim did not start: {e}"),
        }
    }
    // Let the modems finish booting (real time).
    std::thread::sleep(Duration::from_secs(4));
    sim
}

/// One HTTP request to the control interface; returns the body.
fn control(sim: &Sim, method: &str, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(&sim.control).expect("connect control");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write request");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read response");
    assert!(resp.starts_with("HTTP/1.1 200"), "{method} {path}: {resp}");
    resp.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

fn gammu_config(sim: &Sim, line: u16) -> PathBuf {
    let path = sim.dir.join(format!("gammurc{line}"));
    let device = sim.dir.join(format!("line{line}"));
    std::fs::write(
        &path,
        format!("[gammu]\ndevice = {}\nconnection = at\n", device.display()),
    )
    .expect("write gammurc");
    path
}

/// Runs gammu with a time bound (killed after 60 s), optional stdin.
fn gammu(rc: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new("gammu")
        .arg("-c")
        .arg(rc)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gammu");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).expect("gammu stdin");
    }
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(out)) => {
            assert!(
                out.status.success(),
                "gammu {args:?} failed: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            out
        }
        Ok(Err(e)) => panic!("gammu {args:?}: {e}"),
        Err(_) => {
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!("gammu {args:?} timed out");
        }
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn field<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_once(':'))
        .map_or("", |(_, v)| v.trim())
}

fn check_module(module: &str, model: &str) {
    if !gammu_available() {
        return;
    }
    let sim = start_sim(module);
    let rc = gammu_config(&sim, 1);
    let lines = control(&sim, "GET", "/lines", "");
    let imei = lines
        .split("\"imei\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("imei in /lines")
        .to_owned();

    let id = stdout(&gammu(&rc, &["identify"], None));
    assert!(field(&id, "Model").contains(model), "{id}");
    assert_eq!(field(&id, "IMEI"), imei, "{id}");
    assert_eq!(field(&id, "SIM IMSI"), "460001234500001", "{id}");

    let net = stdout(&gammu(&rc, &["networkinfo"], None));
    assert_eq!(field(&net, "Network state"), "home network", "{net}");
    let network = field(&net, "Network   ");
    assert!(network.starts_with("460 00"), "{net}");
    assert!(
        network.contains("LAC 7108") && network.contains("CID 80C4"),
        "{net}"
    );
    assert!(net.contains("CHINA MOBILE"), "{net}");

    let sec = stdout(&gammu(&rc, &["getsecuritystatus"], None));
    assert!(sec.contains("Nothing to enter"), "{sec}");

    // Messages delivered by the simulated SMSC: a 3-part UCS2 one (16-bit reference) and
    // a plain GSM one.
    let long = "Привет мир, это длинное сообщение 👋 ".repeat(5);
    let body = format!(
        "{{\"from\":\"+79161234567\",\"text\":\"{long}\",\"encoding\":\"ucs2\",\"ref16\":4660}}"
    );
    assert_eq!(
        control(&sim, "POST", "/lines/1/sms", &body),
        "{\"parts\":3}"
    );
    control(
        &sim,
        "POST",
        "/lines/1/sms",
        "{\"from\":\"+8613912345678\",\"text\":\"hello gammu\"}",
    );
    std::thread::sleep(Duration::from_secs(2));
    let all = stdout(&gammu(&rc, &["getallsms"], None));
    assert!(all.contains("4 SMS parts in 4 SMS sequences"), "{all}");
    assert!(all.contains("hello gammu"), "{all}");
    assert!(all.contains("ID (16 bit) 4660, part 3 of 3"), "{all}");
    // The parts, in order, are the whole text.
    let parts: String = (1..=3)
        .map(|k| {
            let marker = format!("part {k} of 3\n\n");
            let start = all.find(&marker).expect("part") + marker.len();
            all[start..]
                .split("\n\nLocation")
                .next()
                .unwrap_or("")
                .trim_end_matches('\n')
                .to_owned()
        })
        .collect();
    assert_eq!(parts.trim_end(), long.trim_end());
    let each = stdout(&gammu(&rc, &["geteachsms"], None));
    assert!(each.contains("4660, 3 parts"), "{each}");
    assert!(each.contains(long.trim_end()), "{each}");

    let text = "Gammu says hi: 100% {ok} ~ €5";
    let sent = stdout(&gammu(
        &rc,
        &["sendsms", "TEXT", "+8613912345678"],
        Some(text),
    ));
    let _ = sent;
    let smsc = control(&sim, "GET", "/smsc", "");
    let expected = serde_json::json!([{
        "from": "13800000001", "to": "+8613912345678", "text": text, "parts": 1
    }]);
    let got: serde_json::Value = serde_json::from_str(&smsc).expect("json");
    assert_eq!(got, expected);

    let ussd = stdout(&gammu(&rc, &["getussd", "*100#"], None));
    assert!(ussd.contains("Your balance is 50.00 CNY."), "{ussd}");
}

#[test]
fn gammu_against_simulated_m35() {
    check_module("m35", "Quectel_M35");
}

#[test]
fn gammu_against_simulated_uc15() {
    check_module("uc15", "UC15");
}
