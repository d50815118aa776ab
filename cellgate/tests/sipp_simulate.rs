//! SIPp (Debian `sip-tester`), a real SIP peer, calls through `cellgate simulate`.
//!
//! These tests need the `sipp` binary. The test command (`tools/test-all.sh`) installs it;
//! when it is missing they fail under `CI=true` and are reported as skipped elsewhere.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Kills the gateway when the test ends, whatever happens.
struct Gateway {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sipp_available() -> bool {
    let found = Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "sipp is not installed but CI is set: install sip-tester (tools/test-all.sh does)"
        );
        eprintln!("SKIPPED: sipp not installed (apt-get install sip-tester)");
    }
    found
}

fn free_udp_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral port");
    socket.local_addr().expect("local addr").port()
}

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../conformance/sipp")
        .join(name)
}

fn log_path(port: u16) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cellgate-simulate-{port}.log"))
}

/// Starts `cellgate simulate` on a free port and waits until it says it is serving.
fn start_gateway() -> Gateway {
    let port = free_udp_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    let log = std::fs::File::create(log_path(port)).expect("gateway log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .args([
            "simulate",
            "--lines",
            "2",
            "--sip-listen",
            &addr.to_string(),
        ])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start cellgate simulate");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("SIP on udp:") {
                let _ = tx.send(());
            }
        }
    });
    let gateway = Gateway { child, addr };
    rx.recv_timeout(Duration::from_secs(60))
        .expect("cellgate simulate did not report it was serving");
    gateway
}

/// Runs SIPp as a caller; returns its exit status code (0: every call succeeded).
fn sipp(gateway: &Gateway, extra: &[&str]) -> i32 {
    let port = free_udp_port().to_string();
    let output = Command::new("sipp")
        .args(extra)
        .args(["-p", &port, "-i", "127.0.0.1", "-m", "1", "-nostdin"])
        .args(["-timeout", "60s", "-timeout_error", "-trace_err"])
        .arg(gateway.addr.to_string())
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("run sipp");
    if !output.status.success() {
        eprintln!("sipp stdout:\n{}", String::from_utf8_lossy(&output.stdout));
        eprintln!("sipp stderr:\n{}", String::from_utf8_lossy(&output.stderr));
        let log = std::fs::read_to_string(log_path(gateway.addr.port())).unwrap_or_default();
        eprintln!("gateway log:\n{log}");
    }
    output.status.code().unwrap_or(-1)
}

#[test]
fn sipp_call_is_answered_by_a_simulated_phone_and_released() {
    if !sipp_available() {
        return;
    }
    let gateway = start_gateway();
    assert_eq!(
        sipp(&gateway, &["-sn", "uac", "-s", "5551234", "-d", "2000"]),
        0,
        "SIPp's standard caller scenario must succeed"
    );
}

#[test]
fn sipp_call_to_a_busy_number_gets_486() {
    if !sipp_available() {
        return;
    }
    let gateway = start_gateway();
    let busy = scenario("uac_busy.xml");
    assert_eq!(
        sipp(&gateway, &["-sf", &busy.to_string_lossy(), "-s", "5550486"]),
        0,
        "SIPp must see 486 Busy Here"
    );
    // The standard scenario expects 200: against a busy number it must fail, which
    // proves the busy scenario's success is not vacuous.
    assert_ne!(
        sipp(&gateway, &["-sn", "uac", "-s", "5550486", "-d", "500"]),
        0
    );
}

#[test]
fn sipp_cancel_while_ringing_gets_487() {
    if !sipp_available() {
        return;
    }
    let gateway = start_gateway();
    let cancel = scenario("uac_cancel.xml");
    assert_eq!(
        sipp(
            &gateway,
            &["-sf", &cancel.to_string_lossy(), "-s", "5551234"]
        ),
        0,
        "SIPp must see 200 to CANCEL and 487 to INVITE"
    );
}
