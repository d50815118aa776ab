//! The issue #7 walk-through, as a new user would do it: `cellgate simulate` with the
//! built-in registrar and every line forwarding to the VoIP user `softphone`; a softphone
//! (SIPp, `conformance/sipp/uac_register_call.xml`) registers as `softphone`, calls a simulated phone through the gateway, and then receives the
//! call a simulated phone makes to line 1's SIM (forward mode, F-6.8.3 / F-6.8.10).
//!
//! A missing `sipp` fails the test under `CI`, and skips it elsewhere.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;
use std::time::Duration;

use common::{
    free_udp_port, scenario, scratch_dir, sipp_command, tool_available, wait_until, RunningGateway,
};

fn free_tcp_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// One HTTP/1.0 POST to the simulator's control interface; returns the response text.
fn post(control: SocketAddr, path: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(control).expect("connect to the control interface");
    let request = format!(
        "POST {path} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

#[test]
fn softphone_registers_calls_out_and_receives_a_gsm_call_in_forward_mode() {
    if !tool_available("sipp", "-v", "sip-tester") {
        return;
    }
    let dir = scratch_dir("new-user-simulate");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_udp_port())
        .parse()
        .expect("address");
    let control: SocketAddr = format!("127.0.0.1:{}", free_tcp_port())
        .parse()
        .expect("address");
    let gw = RunningGateway::simulate(
        &dir,
        addr,
        &[
            "--lines",
            "2",
            "--registrar-password",
            "demo-Pass-3",
            "--inbound-to",
            "softphone",
            "--control",
            &control.to_string(),
        ],
    );
    let port = free_udp_port();

    // 1. Register (as `softphone`) and call a simulated phone through the gateway.
    let register_call = scenario("uac_register_call.xml");
    let args = [
        "-sf",
        &register_call,
        "-s",
        "5551234",
        "-au",
        "softphone",
        "-ap",
        "demo-Pass-3",
    ];
    assert_eq!(gw.sipp(&dir, port, &args), 0, "register and call out");
    assert!(gw.log_text().contains("dialling"), "{}", gw.log_text());

    // 2. Same softphone address, now waiting as a callee.
    let uas = scenario("uas_gsm_call.xml");
    let mut callee = sipp_command(&dir, port, &["-sf", &uas])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sipp as callee");
    std::thread::sleep(Duration::from_millis(500));
    let answer = post(control, "/lines/1/call", r#"{"from": "5550100"}"#);
    assert!(answer.contains("200"), "{answer}");
    let answered = wait_until(Duration::from_secs(20), || {
        gw.log_text().contains("SIP callee answered")
    });
    assert!(
        answered,
        "the GSM call did not reach the softphone:\n{}",
        gw.log_text()
    );
    let hung_up = post(control, "/phones/5550100/hangup", "{}");
    assert!(hung_up.contains("200"), "{hung_up}");
    let status = callee.wait().expect("sipp callee");
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = callee.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        panic!("sipp callee failed: {err}\ngateway log:\n{}", gw.log_text());
    }
    let log = gw.log_text();
    assert!(log.contains("GSM -> SIP call: inviting"), "{log}");
    assert!(
        log.contains(&format!("uri=sip:softphone@127.0.0.1:{port}")),
        "the INVITE went to the registered contact:\n{log}"
    );
}
