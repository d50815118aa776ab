//! Same scenario, same bytes: transcripts and event logs are reproducible, and one call's
//! transcript is pinned as a snapshot.

mod common;

use std::time::Duration;

use cellgate_simulator::{ModuleProfile, Network, NetworkConfig};
use common::Gw;

/// A scenario touching most of the simulator: two lines, boot, init, an answered MO call
/// with DTMF, a busy number, an incoming call that is answered and hung up by the phone,
/// and some garbage.
async fn scenario() -> (Vec<String>, Vec<String>, Vec<String>) {
    let net = Network::new(NetworkConfig::default());
    let mut a = Gw::new(net.attach_modem(1, ModuleProfile::M35));
    let mut b = Gw::new(net.attach_modem(2, ModuleProfile::M35));
    a.ready().await;
    b.ready().await;
    for gw in [&mut a, &mut b] {
        gw.command("AT+CMEE=1;+CLIP=1;+QMOSTAT=1").await;
        gw.command("AT+CGSN").await;
    }
    a.command("ATD13912345678;").await;
    b.command("ATD5551486;").await;
    b.line().await; // BUSY
    net.phone_calls_line("+8613700000000", 2).unwrap();
    a.write(b"\xff\x00garbage\r").await;
    b.line().await; // RING
    b.line().await; // +CLIP
    tokio::time::sleep(Duration::from_secs(5)).await;
    a.command("AT+VTS=1").await;
    b.command("ATA").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    net.phone_hangs_up("+8613700000000").unwrap();
    a.command("ATH").await;
    b.until_final().await; // NO CARRIER
    b.command("AT+CEER").await;
    (net.transcript(1), net.transcript(2), net.event_log())
}

fn run_in_fresh_runtime() -> (Vec<String>, Vec<String>, Vec<String>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(scenario())
}

#[test]
fn identical_runs_give_identical_transcripts_and_logs() {
    let first = run_in_fresh_runtime();
    let second = run_in_fresh_runtime();
    assert!(first.0.len() > 20 && first.1.len() > 20 && first.2.len() > 8);
    assert_eq!(first.0, second.0);
    assert_eq!(first.1, second.1);
    assert_eq!(first.2, second.2);
}

#[test]
fn different_seeds_give_different_imeis_only() {
    let imei = |seed| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let net = Network::new(NetworkConfig {
                seed,
                ..NetworkConfig::default()
            });
            let mut gw = Gw::new(net.attach_modem(1, ModuleProfile::M35));
            gw.ready().await;
            gw.command("AT+CGSN").await
        })
    };
    assert_eq!(imei(1), imei(1));
    assert_ne!(imei(1), imei(2));
}

#[tokio::test(start_paused = true)]
async fn transcript_of_one_call_snapshot() {
    let net = Network::new(NetworkConfig::default());
    let mut gw = Gw::new(net.attach_modem(1, ModuleProfile::M35));
    gw.boot().await;
    gw.command("ATE0").await;
    gw.command("AT+CMEE=1;+QMOSTAT=1").await;
    gw.command("ATD5551234;").await;
    gw.line().await; // MO RING
    gw.line().await; // MO CONNECTED
    gw.command("AT+CLCC").await;
    gw.command("AT+VTS=5").await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    gw.command("ATH").await;
    gw.command("AT+CEER").await;
    insta::assert_snapshot!("m35_mo_call_transcript", net.transcript(1).join("\n"));
    insta::assert_snapshot!("m35_mo_call_event_log", net.event_log().join("\n"));
}
