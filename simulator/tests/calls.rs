//! Calls through the simulated network, driven over the modem's serial port like a gateway.

mod common;

use std::time::Duration;

use cellgate_hal::CallDirection;
use cellgate_simulator::{CallState, ModuleProfile, Network, NetworkConfig, SimError};
use common::Gw;
use tokio::time::Instant;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Virtual time is exact up to the timer wheel's millisecond granularity.
#[track_caller]
fn assert_at(t0: Instant, expected: Duration) {
    let got = t0.elapsed();
    assert!(
        got >= expected && got <= expected + Duration::from_millis(5),
        "expected at {expected:?} after t0, got {got:?}"
    );
}

async fn setup() -> (Network, Gw) {
    let net = Network::new(NetworkConfig::default());
    let mut gw = Gw::new(net.attach_modem(1, ModuleProfile::M35));
    gw.ready().await;
    (net, gw)
}

#[tokio::test(start_paused = true)]
async fn mo_call_to_a_normal_number() {
    let (net, mut gw) = setup().await;
    assert_eq!(gw.command("AT+QMOSTAT=1").await, ["OK"]);

    let t0 = Instant::now();
    assert_eq!(gw.command("ATD5551234;").await, ["OK"]);
    assert_at(t0, Duration::ZERO);
    let calls = net.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].line, 1);
    assert_eq!(calls[0].remote, "5551234");
    assert_eq!(calls[0].direction, CallDirection::MobileOriginated);
    assert_eq!(calls[0].state, CallState::Dialing);
    assert_eq!(
        gw.command("AT+CLCC").await,
        ["+CLCC: 1,0,2,0,0,\"5551234\",129", "OK"]
    );

    assert_eq!(gw.line().await, "MO RING");
    assert_at(t0, secs(1.0));
    assert_eq!(net.calls()[0].state, CallState::Alerting);
    assert_eq!(
        gw.command("AT+CLCC").await,
        ["+CLCC: 1,0,3,0,0,\"5551234\",129", "OK"]
    );

    assert_eq!(gw.line().await, "MO CONNECTED");
    assert_at(t0, secs(4.0));
    assert_eq!(net.calls()[0].state, CallState::Active);
    assert_eq!(
        gw.command("AT+CLCC").await,
        ["+CLCC: 1,0,0,0,0,\"5551234\",129", "OK"]
    );
    assert_eq!(gw.command("AT+VTS=5").await, ["OK"]);

    // The call stays up until released.
    gw.silent_for(secs(120.0)).await;
    assert_eq!(net.calls().len(), 1);

    assert_eq!(gw.command("ATH").await, ["OK"]);
    assert!(net.calls().is_empty());
    assert_eq!(gw.command("AT+CLCC").await, ["OK"]);
    assert_eq!(
        gw.command("AT+CEER").await,
        ["+CEER: 16,\"Normal call clearing\"", "OK"]
    );
    let log = net.event_log();
    assert!(
        log.contains(&"   3.000s line1 MO call to 5551234: alerting".to_owned()),
        "{log:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn international_number_and_chup() {
    let (net, mut gw) = setup().await;
    assert_eq!(gw.command("ATD+8613912345678;").await, ["OK"]);
    assert_eq!(
        gw.command("AT+CLCC").await,
        ["+CLCC: 1,0,2,0,0,\"+8613912345678\",145", "OK"]
    );
    assert_eq!(gw.command("AT+CHUP").await, ["OK"]);
    assert!(net.calls().is_empty());
    // Without AT+QMOSTAT=1 there are no progress URCs, and nothing follows the release.
    gw.silent_for(secs(10.0)).await;
}

#[tokio::test(start_paused = true)]
async fn unsuccessful_numbers_report_urc_and_cause() {
    // (number, MO RING expected, URC, time of URC after dial, CEER line)
    let cases = [
        ("5551486", false, "BUSY", 1.0, "+CEER: 17,\"User busy\""),
        (
            "555404",
            false,
            "NO CARRIER",
            1.0,
            "+CEER: 1,\"Unassigned (unallocated) number\"",
        ),
        (
            "+86555480",
            true,
            "NO ANSWER",
            61.0,
            "+CEER: 19,\"User alerting, no answer\"",
        ),
        (
            "555603",
            true,
            "NO CARRIER",
            3.0,
            "+CEER: 21,\"Call rejected\"",
        ),
    ];
    for (number, rings, urc, at, ceer) in cases {
        let (net, mut gw) = setup().await;
        assert_eq!(gw.command("AT+QMOSTAT=1").await, ["OK"]);
        let t0 = Instant::now();
        assert_eq!(
            gw.command(&format!("ATD{number};")).await,
            ["OK"],
            "{number}"
        );
        if rings {
            assert_eq!(gw.line().await, "MO RING", "{number}");
            assert_at(t0, secs(1.0));
        }
        assert_eq!(gw.line().await, urc, "{number}");
        assert_at(t0, secs(at));
        assert!(net.calls().is_empty(), "{number}");
        assert_eq!(gw.command("AT+CEER").await, [ceer, "OK"], "{number}");
    }
}

#[tokio::test(start_paused = true)]
async fn busy_is_no_carrier_below_atx3() {
    let (_net, mut gw) = setup().await;
    assert_eq!(gw.command("ATX0").await, ["OK"]);
    assert_eq!(gw.command("ATD486;").await, ["OK"]);
    assert_eq!(gw.line().await, "NO CARRIER");
    assert_eq!(
        gw.command("AT+CEER").await,
        ["+CEER: 17,\"User busy\"", "OK"]
    );
}

#[tokio::test(start_paused = true)]
async fn incoming_call_answered_then_phone_hangs_up() {
    let (net, mut gw) = setup().await;
    assert_eq!(gw.command("AT+CLIP=1").await, ["OK"]);
    let caller = "+8613912345678";
    let t0 = Instant::now();
    net.phone_calls_line(caller, 1).unwrap();
    let clip = "+CLIP: \"+8613912345678\",145,\"\",,\"\",0";
    assert_eq!(gw.line().await, "RING");
    assert_eq!(gw.line().await, clip);
    assert_at(t0, Duration::ZERO);
    assert_eq!(gw.line().await, "RING");
    assert_eq!(gw.line().await, clip);
    assert_at(t0, secs(3.0));

    let calls = net.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].direction, CallDirection::MobileTerminated);
    assert_eq!(calls[0].state, CallState::Incoming);
    assert_eq!(
        gw.command("AT+CLCC").await,
        ["+CLCC: 1,1,4,0,0,\"+8613912345678\",145", "OK"]
    );
    // A second caller finds the line busy.
    assert_eq!(
        net.phone_calls_line("5550000", 1),
        Err(SimError::LineBusy(1))
    );

    assert_eq!(gw.command("ATA").await, ["OK"]);
    assert_eq!(net.calls()[0].state, CallState::Active);
    assert_eq!(
        gw.command("AT+CLCC").await,
        ["+CLCC: 1,1,0,0,0,\"+8613912345678\",145", "OK"]
    );
    // No more rings once answered.
    gw.silent_for(secs(20.0)).await;

    net.phone_hangs_up("8613912345678").unwrap();
    assert_eq!(gw.line().await, "NO CARRIER");
    assert!(net.calls().is_empty());
    assert_eq!(
        gw.command("AT+CEER").await,
        ["+CEER: 16,\"Normal call clearing\"", "OK"]
    );
    assert_eq!(
        net.phone_hangs_up("8613912345678"),
        Err(SimError::NoSuchCall("8613912345678".into()))
    );
}

#[tokio::test(start_paused = true)]
async fn incoming_call_caller_gives_up_after_30_s() {
    let (net, mut gw) = setup().await;
    let t0 = Instant::now();
    net.phone_calls_line("5557777", 1).unwrap();
    let mut rings = 0;
    loop {
        match gw.line().await.as_str() {
            "RING" => rings += 1,
            "NO CARRIER" => break,
            other => panic!("unexpected {other:?} (CLIP is off)"),
        }
    }
    assert_at(t0, secs(30.0));
    assert_eq!(rings, 10);
    assert!(net.calls().is_empty());
    // ATA after the caller left: nothing to answer.
    assert_eq!(gw.command("ATA").await, ["NO CARRIER"]);
}

#[tokio::test(start_paused = true)]
async fn phone_hangs_up_during_mo_call_and_errors() {
    let (net, mut gw) = setup().await;
    assert_eq!(net.phone_calls_line("555", 9), Err(SimError::NoSuchLine(9)));
    assert!(matches!(
        net.phone_calls_line("", 1),
        Err(SimError::InvalidNumber(_))
    ));
    assert_eq!(gw.command("ATD5551234;").await, ["OK"]);
    // A second dial while a call is up is refused.
    assert_eq!(gw.command("ATD5559999;").await, ["ERROR"]);
    tokio::time::sleep(secs(10.0)).await;
    assert_eq!(net.calls()[0].state, CallState::Active);
    net.phone_hangs_up("5551234").unwrap();
    assert_eq!(gw.line().await, "NO CARRIER");
    assert_eq!(
        gw.command("AT+CEER").await,
        ["+CEER: 16,\"Normal call clearing\"", "OK"]
    );
}

#[tokio::test(start_paused = true)]
async fn gateway_closing_the_port_ends_its_calls() {
    let (net, mut gw) = setup().await;
    assert_eq!(gw.command("ATD5551234;").await, ["OK"]);
    drop(gw);
    tokio::time::sleep(secs(1.0)).await;
    assert!(net.calls().is_empty());
    assert!(net
        .event_log()
        .last()
        .is_some_and(|l| l.ends_with("line1 modem detached")));
}
