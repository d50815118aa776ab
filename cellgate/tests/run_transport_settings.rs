//! `cellgate run` transport settings end to end: a random local SIP port (F-6.4.1),
//! the public address learnt from a STUN server (F-6.4.10, an in-test responder on
//! loopback) and DSCP marking (F-6.4.16) configured together.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use cellgate_engine::stun::{binding_success, is_stun, transaction_id};
use common::{scratch_dir, RunningGateway};

#[test]
fn random_port_and_stun_mapped_public_address_are_used() {
    let stun = UdpSocket::bind("127.0.0.1:0").expect("bind STUN responder");
    stun.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let stun_addr = stun.local_addr().expect("address");
    let mapped: SocketAddr = "203.0.113.5:40123".parse().expect("address");
    let responder = std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        let (n, from) = stun.recv_from(&mut buf).expect("a binding request");
        assert!(is_stun(&buf[..n]));
        let tid = transaction_id(&buf[..n]).expect("transaction id");
        stun.send_to(&binding_success(tid, mapped), from)
            .expect("answer");
        from
    });
    let dir = scratch_dir("run-transport-settings");
    let config = format!(
        "[sip]\nlisten = \"127.0.0.1:5060\"\nlocal_port = \"random\"\nstun_server = \"{stun_addr}\"\ndscp = 46\n"
    );
    // The listen port is ignored in random mode, so 5060 being taken does not matter.
    let gw = RunningGateway::start(&dir, "127.0.0.1:0".parse().expect("address"), &config, 1);
    let asked_from = responder.join().expect("responder");
    let log = gw.log_text();
    assert!(log.contains("random local SIP port"), "{log}");
    assert_ne!(asked_from.port(), 5060);
    assert!(
        log.contains(&format!("listen=127.0.0.1:{}", asked_from.port())),
        "the STUN request came from the SIP socket:\n{log}"
    );
    assert!(log.contains("public=203.0.113.5:40123"), "{log}");
}
