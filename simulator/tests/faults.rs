//! One scenario per fault kind, on the virtual clock.

mod common;

use std::time::Duration;

use cellgate_simulator::{Fault, ModuleProfile, Network, NetworkConfig};
use cellgate_sms::{encode_submit, Address, Submit};
use common::Gw;
use tokio::time::Instant;

async fn ready() -> (Network, Gw) {
    let net = Network::new(NetworkConfig::default());
    let mut gw = Gw::new(net.attach_modem(1, ModuleProfile::M35));
    gw.ready().await;
    gw.command("AT+CMEE=1").await;
    (net, gw)
}

#[tokio::test(start_paused = true)]
async fn unresponsive_for_a_while_then_back() {
    let (net, mut gw) = ready().await;
    net.inject(1, Fault::Unresponsive(Some(Duration::from_secs(10))))
        .expect("inject");
    gw.send("AT").await;
    assert_eq!(gw.try_line(Duration::from_secs(9)).await, None);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(gw.command("AT").await, ["OK"]);
}

#[tokio::test(start_paused = true)]
async fn unresponsive_until_recovered() {
    let (net, mut gw) = ready().await;
    net.inject(1, Fault::Unresponsive(None)).expect("inject");
    gw.send("AT").await;
    assert_eq!(gw.try_line(Duration::from_secs(60)).await, None);
    net.inject(1, Fault::Recover).expect("recover");
    assert_eq!(gw.command("AT").await, ["OK"]);
}

#[tokio::test(start_paused = true)]
async fn garbage_on_the_line() {
    let (net, mut gw) = ready().await;
    net.inject(1, Fault::Garbage(b"\xff\x00noise\r\n".to_vec()))
        .expect("inject");
    assert_eq!(gw.line().await, "\u{fffd}\0noise");
    assert_eq!(gw.command("AT").await, ["OK"]);
}

#[tokio::test(start_paused = true)]
async fn spontaneous_reboot_replays_boot_and_forgets_settings() {
    let (net, mut gw) = ready().await;
    net.phone_calls_line("5550100", 1).expect("call");
    assert_eq!(gw.line().await, "RING");
    net.inject(1, Fault::Reboot).expect("inject");
    assert_eq!(
        gw.boot().await,
        ["RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"]
    );
    assert!(net.calls().is_empty());
    // Echo is on again after the reboot.
    assert_eq!(gw.command("AT").await, ["AT", "OK"]);
}

#[tokio::test(start_paused = true)]
async fn slow_answers() {
    let (net, mut gw) = ready().await;
    net.inject(1, Fault::Slow(Duration::from_secs(3)))
        .expect("inject");
    let t0 = Instant::now();
    assert_eq!(gw.command("AT").await, ["OK"]);
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    net.inject(1, Fault::Slow(Duration::ZERO)).expect("clear");
    let t0 = Instant::now();
    assert_eq!(gw.command("AT").await, ["OK"]);
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn transient_cme_515_and_cms_314() {
    let (net, mut gw) = ready().await;
    net.inject(1, Fault::CmeBusy(2)).expect("inject");
    assert_eq!(gw.command("AT+CSQ").await, ["+CME ERROR: 515"]);
    assert_eq!(gw.command("AT+CSQ").await, ["+CME ERROR: 515"]);
    assert_eq!(gw.command("AT+CSQ").await, ["+CSQ: 24,0", "OK"]);
    net.inject(1, Fault::CmsBusy(1)).expect("inject");
    assert_eq!(gw.command("AT+CMGL=4").await, ["+CMS ERROR: 314"]);
    assert_eq!(gw.command("AT+CMGL=4").await, ["OK"]);
}

#[tokio::test(start_paused = true)]
async fn sim_removed_and_back() {
    let (net, mut gw) = ready().await;
    net.inject(1, Fault::SimRemoved).expect("inject");
    assert_eq!(gw.line().await, "+CPIN: NOT INSERTED");
    assert_eq!(gw.command("AT+CIMI").await, ["+CME ERROR: 10"]);
    net.inject(1, Fault::SimInserted).expect("inject");
    assert_eq!(gw.line().await, "+CPIN: READY");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(gw.command("AT+CIMI").await, ["460001234500001", "OK"]);
}

#[tokio::test(start_paused = true)]
async fn network_deregistration_and_return() {
    let (net, mut gw) = ready().await;
    gw.command("AT+CREG=2").await;
    net.inject(1, Fault::Deregister).expect("inject");
    assert_eq!(gw.line().await, "+CREG: 2");
    assert_eq!(gw.command("AT+CSQ").await, ["+CSQ: 99,99", "OK"]);
    assert_eq!(gw.command("ATD5551234;").await, ["+CME ERROR: 30"]);
    net.inject(1, Fault::Reregister).expect("inject");
    assert_eq!(gw.line().await, "+CREG: 1,\"7108\",\"80C4\"");
    assert_eq!(net.registration(1), Some(1));
}

#[tokio::test(start_paused = true)]
async fn sms_send_failure() {
    let (net, mut gw) = ready().await;
    net.inject(1, Fault::SmsSendFailure { count: 1, cms: 500 })
        .expect("inject");
    let pdu =
        encode_submit(&Submit::new(Address::international("15550001"), "x"), None).expect("encode");
    for want in [vec!["+CMS ERROR: 500"], vec!["+CMGS: 1", "OK"]] {
        gw.send(&format!("AT+CMGS={}", pdu.tpdu_len)).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        gw.write(format!("{}\x1a", pdu.hex).as_bytes()).await;
        let got = gw.until_final().await;
        let got: Vec<&str> = got
            .iter()
            .map(|l| l.trim_start_matches("> "))
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(got, want);
    }
    assert_eq!(net.smsc_texts().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn signal_fade_to_nothing() {
    let (net, mut gw) = ready().await;
    gw.command("AT+CREG=1").await;
    net.inject(
        1,
        Fault::SignalFade {
            to: 0,
            over: Duration::from_secs(4),
        },
    )
    .expect("inject");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(gw.command("AT+CSQ").await, ["+CSQ: 12,0", "OK"]);
    assert_eq!(gw.line().await, "+CREG: 2");
    assert_eq!(gw.command("AT+CSQ").await, ["+CSQ: 0,0", "OK"]);
}
