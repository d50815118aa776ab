//! SIPp (Debian `sip-tester`) as the caller against the gateway, with the scenarios
//! kept in `conformance/sipp/`: the three ringback modes (F-6.4.5), re-INVITE hold,
//! a digest challenge on INVITE (F-6.4.9), 408 on no answer (F-6.4.18), the no-line
//! status (F-6.4.8), and an untrusted caller under the default `cellgate run`
//! configuration that never reaches a modem.
//!
//! A missing `sipp` fails the tests under `CI`, and skips them elsewhere.

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use common::{
    free_udp_port, scenario, scratch_dir, sipp_command, tool_available, wait_until, RunningGateway,
};

fn sipp_available() -> bool {
    tool_available("sipp", "-v", "sip-tester")
}

fn loopback() -> SocketAddr {
    format!("127.0.0.1:{}", free_udp_port())
        .parse()
        .expect("address")
}

fn simulate(name: &str, extra: &[&str]) -> (std::path::PathBuf, RunningGateway) {
    let dir = scratch_dir(name);
    let gateway = RunningGateway::simulate(&dir, loopback(), extra);
    (dir, gateway)
}

#[test]
fn ringback_on_alerting_sends_180_when_the_gsm_callee_rings() {
    if !sipp_available() {
        return;
    }
    let (dir, gw) = simulate("sipp-ringback-on-alerting", &["--lines", "1"]);
    let s = scenario("uac_ringback_180.xml");
    assert_eq!(
        gw.sipp(&dir, free_udp_port(), &["-sf", &s, "-s", "5551234"]),
        0
    );
    // Not vacuous: this mode sends no 183, so the 183 scenario must fail.
    let s183 = scenario("uac_ringback_183.xml");
    assert_ne!(
        gw.sipp(&dir, free_udp_port(), &["-sf", &s183, "-s", "5551234"]),
        0
    );
}

#[test]
fn ringback_fake_then_colour_sends_180_then_183_with_sdp() {
    if !sipp_available() {
        return;
    }
    let (dir, gw) = simulate(
        "sipp-ringback-fake-then-colour",
        &["--lines", "1", "--ringback", "fake-then-colour"],
    );
    let s = scenario("uac_ringback_180_183.xml");
    assert_eq!(
        gw.sipp(&dir, free_udp_port(), &["-sf", &s, "-s", "5551234"]),
        0
    );
}

#[test]
fn ringback_colour_sends_183_with_sdp_and_no_180() {
    if !sipp_available() {
        return;
    }
    let (dir, gw) = simulate(
        "sipp-ringback-colour",
        &["--lines", "1", "--ringback", "colour"],
    );
    let s = scenario("uac_ringback_183.xml");
    assert_eq!(
        gw.sipp(&dir, free_udp_port(), &["-sf", &s, "-s", "5551234"]),
        0
    );
}

#[test]
fn ringback_fake_sends_180_at_once_and_no_183() {
    if !sipp_available() {
        return;
    }
    let (dir, gw) = simulate(
        "sipp-ringback-fake",
        &["--lines", "1", "--ringback", "fake"],
    );
    let s = scenario("uac_ringback_180.xml");
    assert_eq!(
        gw.sipp(&dir, free_udp_port(), &["-sf", &s, "-s", "5551234"]),
        0
    );
}

#[test]
fn re_invite_puts_the_call_on_hold() {
    if !sipp_available() {
        return;
    }
    let (dir, gw) = simulate("sipp-hold", &["--lines", "1"]);
    let s = scenario("uac_hold.xml");
    assert_eq!(
        gw.sipp(&dir, free_udp_port(), &["-sf", &s, "-s", "5551234"]),
        0
    );
    assert!(gw.log_text().contains("held=true"), "{}", gw.log_text());
}

#[test]
fn invite_is_challenged_and_only_the_right_password_gets_through() {
    if !sipp_available() {
        return;
    }
    let (dir, gw) = simulate(
        "sipp-auth",
        &[
            "--lines",
            "1",
            "--auth-user",
            "alice",
            "--auth-password",
            "s3cret-pw",
        ],
    );
    let s = scenario("uac_auth.xml");
    let ok = [
        "-sf",
        &s,
        "-s",
        "5551234",
        "-au",
        "alice",
        "-ap",
        "s3cret-pw",
    ];
    assert_eq!(gw.sipp(&dir, free_udp_port(), &ok), 0);
    let wrong = ["-sf", &s, "-s", "5551234", "-au", "alice", "-ap", "guess"];
    assert_ne!(gw.sipp(&dir, free_udp_port(), &wrong), 0);
    assert!(gw
        .log_text()
        .contains("INVITE with wrong credentials refused"));
    // Without credentials the standard scenario never gets past the 401.
    assert_ne!(
        gw.sipp(
            &dir,
            free_udp_port(),
            &["-sn", "uac", "-s", "5551234", "-d", "500"]
        ),
        0
    );
}

#[test]
fn unanswered_call_gets_408_after_the_no_answer_timeout() {
    if !sipp_available() {
        return;
    }
    let (dir, gw) = simulate(
        "sipp-no-answer",
        &["--lines", "1", "--no-answer-timeout", "2"],
    );
    let s = scenario("uac_no_answer.xml");
    // 5550480 rings and never answers (docs/simulator.md).
    assert_eq!(
        gw.sipp(&dir, free_udp_port(), &["-sf", &s, "-s", "5550480"]),
        0
    );
    assert!(gw.log_text().contains("no answer in time: 408"));
}

#[test]
fn second_call_on_a_single_busy_line_gets_the_configured_no_line_status() {
    if !sipp_available() {
        return;
    }
    let (dir, gw) = simulate("sipp-no-line", &["--lines", "1", "--no-line-status", "480"]);
    // First call holds the only line for 4 s.
    let mut first = sipp_command(
        &dir,
        free_udp_port(),
        &["-sn", "uac", "-s", "5551234", "-d", "4000"],
    )
    .arg(gw.addr.to_string())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("start the first sipp");
    assert!(
        wait_until(Duration::from_secs(20), || gw
            .log_text()
            .contains("GSM callee answered")),
        "first call not answered\n{}",
        gw.log_text()
    );
    let s = scenario("uac_no_line.xml");
    let second = gw.sipp(&dir, free_udp_port(), &["-sf", &s, "-s", "5557777"]);
    let first_status = first.wait().expect("first sipp");
    assert_eq!(second, 0, "the second call must get 480");
    assert!(first_status.success(), "the first call must succeed");
}

#[test]
fn untrusted_caller_under_the_default_run_configuration_never_reaches_a_modem() {
    if !sipp_available() {
        return;
    }
    let dir = scratch_dir("sipp-run-default-untrusted");
    let addr = loopback();
    // The minimal `cellgate run` configuration: no trusted sources, no auth settings.
    let config = format!("[sip]\nlisten = \"{addr}\"\n");
    let gw = RunningGateway::start(&dir, addr, &config, 1);
    let s = scenario("uac_forbidden.xml");
    assert_eq!(
        gw.sipp(&dir, free_udp_port(), &["-sf", &s, "-s", "5551234"]),
        0
    );
    // Loopback is not trusted either: the standard call scenario fails.
    assert_ne!(
        gw.sipp(
            &dir,
            free_udp_port(),
            &["-sn", "uac", "-s", "5551234", "-d", "500"]
        ),
        0
    );
    let log = gw.log_text();
    assert!(
        log.contains("INVITE from untrusted source refused"),
        "{log}"
    );
    // The AT traffic is traced (so the check below can see a dial), and has no ATD.
    assert!(log.contains("to module"), "AT trace missing:\n{log}");
    assert!(!log.contains("ATD"), "a dial reached the modem:\n{log}");
    assert!(!log.contains("dialling"), "{log}");
}

#[test]
fn softphone_registers_with_the_built_in_registrar_then_calls_through_it() {
    if !sipp_available() {
        return;
    }
    let dir = scratch_dir("sipp-builtin-registrar");
    let addr = loopback();
    // Default trust (nobody) plus the built-in registrar: registering is the way in.
    let config = format!(
        "[sip]\nlisten = \"{addr}\"\n\n[sip.registrar]\npassword = \"reg-Secret-7\"\nmin_expires = 30\n"
    );
    let gw = RunningGateway::start(&dir, addr, &config, 1);
    let port = free_udp_port();
    // Not registered yet: refused.
    let forbidden = scenario("uac_forbidden.xml");
    assert_eq!(
        gw.sipp(&dir, port, &["-sf", &forbidden, "-s", "5551234"]),
        0
    );
    let s = scenario("uac_register_call.xml");
    // A wrong password gets no binding.
    let wrong = [
        "-sf",
        &s,
        "-s",
        "5551234",
        "-au",
        "softphone",
        "-ap",
        "guess",
    ];
    assert_ne!(gw.sipp(&dir, free_udp_port(), &wrong), 0);
    // Any user name with the password registers, and its calls go through.
    let ok = [
        "-sf",
        &s,
        "-s",
        "5551234",
        "-au",
        "anyone",
        "-ap",
        "reg-Secret-7",
    ];
    assert_eq!(gw.sipp(&dir, port, &ok), 0);
    let log = gw.log_text();
    assert!(
        log.contains("registered with the built-in registrar"),
        "{log}"
    );
    assert!(log.contains("dialling"), "{log}");
}
