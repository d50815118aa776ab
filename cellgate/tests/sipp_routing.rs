//! SIPp (Debian `sip-tester`) against `cellgate run` with routing settings on simulated
//! lines (issue #7): callee prefixes pick and strip the line (F-6.3.13/14), an unrouted
//! number gets 603 (F-6.3.18), and two-stage dialling takes the second-stage number as
//! SIP INFO digits after answering (F-2.2.3).
//!
//! A missing `sipp` fails the test under `CI`, and skips it elsewhere.

mod common;

use std::net::SocketAddr;

use common::{free_udp_port, scenario, scratch_dir, tool_available, RunningGateway};

fn config(addr: SocketAddr) -> String {
    format!(
        "[sip]\nlisten = \"{addr}\"\ntrusted_sources = [\"127.0.0.1\"]\n\n\
         [routing]\nmatch = \"callee\"\nstrip_prefix = true\ntwo_stage_numbers = [\"8000\"]\n\n\
         [[line]]\nid = 1\ndevice = \"/dev/null\"\nprefix = \"001\"\n\n\
         [[line]]\nid = 2\ndevice = \"/dev/null\"\nprefix = \"002\"\n"
    )
}

fn start(name: &str) -> Option<(std::path::PathBuf, RunningGateway)> {
    if !tool_available("sipp", "-v", "sip-tester") {
        return None;
    }
    let dir = scratch_dir(name);
    let addr: SocketAddr = format!("127.0.0.1:{}", free_udp_port())
        .parse()
        .expect("address");
    let gw = RunningGateway::start(&dir, addr, &config(addr), 2);
    Some((dir, gw))
}

#[test]
fn prefix_routes_to_its_line_and_an_unrouted_number_gets_603() {
    let Some((dir, gw)) = start("sipp-routing-prefix") else {
        return;
    };
    let unrouted = scenario("uac_unrouted.xml");
    assert_eq!(
        gw.sipp(
            &dir,
            free_udp_port(),
            &["-sf", &unrouted, "-s", "0095551234"]
        ),
        0
    );
    let log = gw.log_text();
    assert!(!log.contains("dialling"), "nothing dialled:\n{log}");
    assert_eq!(
        gw.sipp(
            &dir,
            free_udp_port(),
            &["-sn", "uac", "-s", "0025551234", "-d", "1000"]
        ),
        0
    );
    let log = gw.log_text();
    assert!(
        log.contains("line=line2 number=5551234"),
        "line 2 dials the stripped number:\n{log}"
    );
}

#[test]
fn two_stage_call_dials_the_digits_keyed_after_the_answer() {
    let Some((dir, gw)) = start("sipp-routing-two-stage") else {
        return;
    };
    let two_stage = scenario("uac_two_stage.xml");
    assert_eq!(
        gw.sipp(&dir, free_udp_port(), &["-sf", &two_stage, "-s", "8000"]),
        0
    );
    let log = gw.log_text();
    assert!(log.contains("answered: collecting digits"), "{log}");
    assert!(
        log.contains("two-stage: dialling") && log.contains("number=5551234"),
        "{log}"
    );
}
