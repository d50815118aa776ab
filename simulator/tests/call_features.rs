//! Call waiting, hold/swap, forwarding, CLIR and calls between gateway lines.

mod common;

use std::time::Duration;

use cellgate_simulator::{CallState, ModuleProfile, Network, NetworkConfig};
use common::Gw;

async fn two_lines() -> (Network, Gw, Gw) {
    let net = Network::new(NetworkConfig::default());
    let mut a = Gw::new(net.attach_modem(1, ModuleProfile::M35));
    let mut b = Gw::new(net.attach_modem(2, ModuleProfile::M35));
    a.ready().await;
    b.ready().await;
    for gw in [&mut a, &mut b] {
        assert_eq!(gw.command("AT+CLIP=1;+CCWA=1;+QMOSTAT=1").await, ["OK"]);
    }
    (net, a, b)
}

#[tokio::test(start_paused = true)]
async fn call_waiting_hold_and_swap() {
    let (net, mut a, _b) = two_lines().await;
    net.phone_calls_line("5550001", 1).unwrap();
    assert_eq!(a.line().await, "RING");
    assert_eq!(a.line().await, "+CLIP: \"5550001\",129,\"\",,\"\",0");
    assert_eq!(a.command("ATA").await, ["OK"]);
    net.phone_calls_line("5550002", 1).unwrap();
    assert_eq!(a.line().await, "+CCWA: \"5550002\",129,1");
    assert_eq!(
        a.command("AT+CLCC").await,
        [
            "+CLCC: 1,1,0,0,0,\"5550001\",129",
            "+CLCC: 2,1,5,0,0,\"5550002\",129",
            "OK"
        ]
    );
    // Hold the first, accept the waiting one.
    assert_eq!(a.command("AT+CHLD=2").await, ["OK"]);
    let states: Vec<CallState> = net.calls().iter().map(|c| c.state).collect();
    assert_eq!(states, [CallState::Held, CallState::Active]);
    // Swap.
    assert_eq!(a.command("AT+CHLD=2").await, ["OK"]);
    let states: Vec<CallState> = net.calls().iter().map(|c| c.state).collect();
    assert_eq!(states, [CallState::Active, CallState::Held]);
    // Release call 1, make 2 active.
    assert_eq!(a.command("AT+CHLD=11").await, ["OK"]);
    assert_eq!(a.command("AT+CHLD=22").await, ["OK"]);
    assert_eq!(net.calls().len(), 1);
    assert_eq!(net.calls()[0].state, CallState::Active);
    // A third caller waits and is rejected busy with CHLD=0.
    net.phone_calls_line("5550003", 1).unwrap();
    assert_eq!(a.line().await, "+CCWA: \"5550003\",129,1");
    assert_eq!(a.command("AT+CHLD=0").await, ["OK"]);
    assert_eq!(net.calls().len(), 1);
    assert_eq!(a.command("AT+CHLD=19").await, ["ERROR"]);
}

#[tokio::test(start_paused = true)]
async fn lines_call_each_other_with_clip_and_clir() {
    let (net, mut a, mut b) = two_lines().await;
    assert_eq!(a.command("ATD13800000002;").await, ["OK"]);
    assert_eq!(b.line().await, "RING");
    assert_eq!(b.line().await, "+CLIP: \"13800000001\",129,\"\",,\"\",0");
    assert_eq!(a.line().await, "MO RING");
    assert_eq!(b.command("ATA").await, ["OK"]);
    assert_eq!(a.line().await, "MO CONNECTED");
    assert!(net.calls().iter().all(|c| c.state == CallState::Active));
    assert_eq!(b.command("ATH").await, ["OK"]);
    assert_eq!(a.line().await, "NO CARRIER");
    assert!(net.calls().is_empty());

    // CLIR: the callee sees no number.
    assert_eq!(a.command("AT+CLIR=1").await, ["OK"]);
    assert_eq!(a.command("ATD+8613800000002;").await, ["OK"]);
    assert_eq!(b.line().await, "RING");
    assert_eq!(b.line().await, "+CLIP: \"\",128,\"\",,\"\",1");
    assert_eq!(a.command("ATH").await, ["OK"]);
    assert_eq!(b.line().await, "NO CARRIER");
}

#[tokio::test(start_paused = true)]
async fn forwarding_busy_to_another_sim_of_the_gateway() {
    let (net, mut a, mut b) = two_lines().await;
    assert_eq!(a.command("AT+CCWA=0,0").await, ["OK"]);
    assert_eq!(a.command("AT+CCFC=1,3,\"13800000002\"").await, ["OK"]);
    net.phone_calls_line("5550001", 1).unwrap();
    assert_eq!(a.line().await, "RING");
    a.line().await;
    assert_eq!(a.command("ATA").await, ["OK"]);
    // Line 1 is busy: the next caller reaches line 2.
    net.phone_calls_line("5550002", 1).unwrap();
    assert_eq!(b.line().await, "RING");
    assert_eq!(b.line().await, "+CLIP: \"5550002\",129,\"\",,\"\",0");
    assert_eq!(net.calls()[1].line, 2);
}

#[tokio::test(start_paused = true)]
async fn forwarding_unconditional_and_no_reply() {
    let (net, mut a, mut b) = two_lines().await;
    net.update_sim(1, |s| {
        s.forwarding.insert(2, "13800000002".into());
        s.no_reply_secs = 10;
    })
    .unwrap();
    net.phone_calls_line("5550001", 1).unwrap();
    let t0 = tokio::time::Instant::now();
    let mut lines = Vec::new();
    loop {
        let l = a.line().await;
        if l == "NO CARRIER" {
            break;
        }
        lines.push(l);
    }
    assert_eq!(t0.elapsed(), Duration::from_secs(10));
    assert_eq!(lines.iter().filter(|l| *l == "RING").count(), 4);
    assert_eq!(b.line().await, "RING");
    assert_eq!(
        b.command("ATA").await.last().map(String::as_str),
        Some("OK")
    );

    net.phone_hangs_up("5550001").unwrap();
    assert_eq!(b.line().await, "NO CARRIER");
    assert_eq!(b.command("AT+CCFC=0,3,\"13800000001\"").await, ["OK"]);
    net.phone_calls_line("5550009", 2).unwrap();
    assert_eq!(a.line().await, "RING");
}

#[tokio::test(start_paused = true)]
async fn hold_then_dial_a_second_call() {
    let (net, mut a, _b) = two_lines().await;
    assert_eq!(a.command("ATD5551234;").await, ["OK"]);
    assert_eq!(a.line().await, "MO RING");
    assert_eq!(a.line().await, "MO CONNECTED");
    assert_eq!(a.command("AT+CHLD=2").await, ["OK"]);
    assert_eq!(net.calls()[0].state, CallState::Held);
    assert_eq!(a.command("ATD5555678;").await, ["OK"]);
    assert_eq!(
        a.command("AT+CLCC").await,
        [
            "+CLCC: 1,0,1,0,0,\"5551234\",129",
            "+CLCC: 2,0,2,0,0,\"5555678\",129",
            "OK"
        ]
    );
    // A third dial while one is being set up is refused.
    assert_eq!(a.command("AT+CMEE=1;D5550000;").await, ["+CME ERROR: 3"]);
    assert_eq!(a.command("AT+CHLD=3").await, ["ERROR"]);
}
