//! GPRS attach (`AT+CGATT`) and packet-switched registration (`AT+CGREG`).

mod common;

use std::time::Duration;

use cellgate_simulator::{ModuleProfile, Network, NetworkConfig};
use common::Gw;

/// Polls `AT+CREG?` until the modem reports `want` (virtual time).
async fn wait_creg(gw: &mut Gw, want: &str) {
    for _ in 0..120 {
        let answer = gw.command("AT+CREG?").await;
        if answer.first().map(String::as_str) == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("modem never reported {want}");
}

async fn registered_line(profile: ModuleProfile) -> (Network, Gw) {
    let net = Network::new(NetworkConfig::default());
    let mut gw = Gw::new(net.attach_modem(1, profile));
    let last_boot_line = match profile {
        ModuleProfile::Uc15 => "+QIND: PB DONE",
        _ => "SMS Ready",
    };
    while gw.line().await != last_boot_line {}
    assert_eq!(gw.command("ATE0").await, ["ATE0", "OK"]);
    wait_creg(&mut gw, "+CREG: 0,1").await;
    (net, gw)
}

#[tokio::test(start_paused = true)]
async fn attach_and_detach() {
    for profile in [ModuleProfile::M35, ModuleProfile::Uc15] {
        let (net, mut gw) = registered_line(profile).await;
        // Detached by default.
        assert_eq!(net.gprs_attached(1), Some(false));
        assert_eq!(gw.command("AT+CGATT?").await, ["+CGATT: 0", "OK"]);
        assert_eq!(gw.command("AT+CGREG?").await, ["+CGREG: 0,0", "OK"]);
        assert_eq!(gw.command("AT+CGATT=?").await, ["+CGATT: (0,1)", "OK"]);

        assert_eq!(gw.command("AT+CGATT=1").await, ["OK"]);
        assert_eq!(net.gprs_attached(1), Some(true));
        assert_eq!(gw.command("AT+CGATT?").await, ["+CGATT: 1", "OK"]);
        assert_eq!(gw.command("AT+CGREG?").await, ["+CGREG: 0,1", "OK"]);
        assert!(net
            .event_log()
            .iter()
            .any(|l| l.ends_with("line1 GPRS attached")));

        assert_eq!(gw.command("AT+CGATT=0").await, ["OK"]);
        assert_eq!(net.gprs_attached(1), Some(false));
        assert_eq!(gw.command("AT+CGATT?").await, ["+CGATT: 0", "OK"]);
        assert_eq!(gw.command("AT+CGREG?").await, ["+CGREG: 0,0", "OK"]);
        assert_eq!(gw.command("AT+CGATT=2").await, ["ERROR"]);
    }
}

#[tokio::test(start_paused = true)]
async fn attach_needs_cs_registration() {
    let (net, mut gw) = registered_line(ModuleProfile::M35).await;
    assert_eq!(gw.command("AT+CMEE=1").await, ["OK"]);
    assert_eq!(gw.command("AT+CFUN=0").await, ["OK"]);
    assert_eq!(gw.command("AT+CGATT=1").await, ["+CME ERROR: 30"]);
    assert_eq!(net.gprs_attached(1), Some(false));
    assert_eq!(gw.command("AT+CGREG?").await, ["+CGREG: 0,0", "OK"]);
    // Detaching needs nothing.
    assert_eq!(gw.command("AT+CGATT=0").await, ["OK"]);
    assert_eq!(gw.command("AT+CFUN=1").await, ["OK"]);
    wait_creg(&mut gw, "+CREG: 0,1").await;
    assert_eq!(gw.command("AT+CGATT=1").await, ["OK"]);

    // Losing coverage detaches; coverage back does not re-attach by itself.
    net.set_coverage_lost(1, true).unwrap();
    wait_creg(&mut gw, "+CREG: 0,2").await;
    assert_eq!(net.gprs_attached(1), Some(false));
    assert_eq!(gw.command("AT+CGATT?").await, ["+CGATT: 0", "OK"]);
    assert_eq!(gw.command("AT+CGREG?").await, ["+CGREG: 0,2", "OK"]);
    assert_eq!(gw.command("AT+CGATT=1").await, ["+CME ERROR: 30"]);
    net.set_coverage_lost(1, false).unwrap();
    wait_creg(&mut gw, "+CREG: 0,1").await;
    assert_eq!(gw.command("AT+CGATT?").await, ["+CGATT: 0", "OK"]);
    assert_eq!(gw.command("AT+CGATT=1").await, ["OK"]);

    // A restart detaches.
    assert_eq!(gw.command("AT+CFUN=1,1").await, ["OK"]);
    gw.boot().await;
    assert_eq!(net.gprs_attached(1), Some(false));
}

#[tokio::test(start_paused = true)]
async fn cgreg_urcs_follow_the_attach_state() {
    let (_net, mut gw) = registered_line(ModuleProfile::M35).await;
    assert_eq!(gw.command("AT+CGREG=1").await, ["OK"]);
    assert_eq!(gw.command("AT+CGREG?").await, ["+CGREG: 1,0", "OK"]);
    assert_eq!(gw.command("AT+CGATT=1").await, ["+CGREG: 1", "OK"]);
    assert_eq!(gw.command("AT+CGREG=2").await, ["OK"]);
    let answer = gw.command("AT+CGREG?").await;
    assert!(answer[0].starts_with("+CGREG: 2,1,\""), "{answer:?}");
    assert_eq!(gw.command("AT+CGATT=0").await, ["+CGREG: 0", "OK"]);
    assert_eq!(gw.command("AT+CGREG=3").await, ["ERROR"]);
}
