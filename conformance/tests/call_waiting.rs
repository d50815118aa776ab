//! Call waiting on the simulator (F-6.8.13 to F-6.8.16): a VoIP -> GSM call is up on
//! line 1 when a phone calls line 1's SIM. The VoIP party stays in one SIP dialog and
//! talks to whichever GSM call the mode makes active.

mod routing_common;

use std::time::Duration;

use cellgate_conformance::TestBed;
use cellgate_engine::gateway::CallWaiting;
use cellgate_simulator::CallState;
use routing_common::*;

const FIRST: &str = "5551234";
const SECOND: &str = "5550200";

/// The state of the GSM call with `number` on line 1.
fn state_of(bed: &TestBed, number: &str) -> Option<CallState> {
    bed.network
        .calls()
        .into_iter()
        .find(|c| c.line == 1 && format!("{c:?}").contains(number))
        .map(|c| c.state)
}

async fn with_second_caller(mode: CallWaiting) -> (TestBed, cellgate_conformance::FlowEntry) {
    let mut bed = bed(1, move |c| {
        line(c, 1).call_waiting = mode;
    })
    .await;
    let ok = answered_call(&mut bed, FIRST, "cw").await;
    bed.network
        .phone_calls_line(SECOND, 1)
        .expect("second caller");
    tokio::time::sleep(Duration::from_secs(1)).await;
    (bed, ok)
}

#[tokio::test(start_paused = true)]
async fn off_rejects_the_second_caller_and_keeps_the_call_f_6_8_13() {
    let (bed, _ok) = with_second_caller(CallWaiting::Disabled).await;
    assert_eq!(state_of(&bed, SECOND), None, "{:?}", bed.network.calls());
    assert_eq!(state_of(&bed, FIRST), Some(CallState::Active));
    assert!(commands(&bed, 1).iter().any(|c| c == "AT+CHLD=0"));
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn mode_1_holds_the_call_takes_the_new_one_and_resumes_f_6_8_14() {
    let (mut bed, ok) = with_second_caller(CallWaiting::HoldAndAnswer).await;
    assert_eq!(
        state_of(&bed, FIRST),
        Some(CallState::Held),
        "{:?}",
        bed.network.calls()
    );
    assert_eq!(state_of(&bed, SECOND), Some(CallState::Active));
    bed.network.phone_hangs_up(SECOND).expect("hang up");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(state_of(&bed, FIRST), Some(CallState::Active), "resumed");
    // The SIP dialog never ended.
    assert!(bed.peer.recv_within(Duration::from_secs(2)).await.is_none());
    hang_up(&mut bed, FIRST, "cw", &ok).await;
    assert!(bed.network.calls().is_empty());
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn mode_3_takes_the_new_call_then_swaps_back_after_2_s_f_6_8_16() {
    let (mut bed, ok) = with_second_caller(CallWaiting::AnswerThenSwapBack).await;
    // 1 s after the second call: it is active, the first held.
    assert_eq!(
        state_of(&bed, SECOND),
        Some(CallState::Active),
        "{:?}",
        bed.network.calls()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(state_of(&bed, FIRST), Some(CallState::Active));
    assert_eq!(state_of(&bed, SECOND), Some(CallState::Held));
    // The VoIP party hangs up: both GSM calls go.
    hang_up(&mut bed, FIRST, "cw", &ok).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(bed.network.calls().is_empty(), "{:?}", bed.network.calls());
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn mode_2_keys_32_swap_and_31_ends_the_current_call_f_6_8_15() {
    let (mut bed, ok) = with_second_caller(CallWaiting::KeySwitch).await;
    assert_eq!(
        state_of(&bed, SECOND),
        Some(CallState::Waiting),
        "{:?}",
        bed.network.calls()
    );
    info_digits(&mut bed, FIRST, "cw", &ok, "32").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(state_of(&bed, FIRST), Some(CallState::Held));
    assert_eq!(state_of(&bed, SECOND), Some(CallState::Active));
    info_digits(&mut bed, FIRST, "cw", &ok, "32").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        state_of(&bed, FIRST),
        Some(CallState::Active),
        "swapped back"
    );
    assert_eq!(state_of(&bed, SECOND), Some(CallState::Held));
    info_digits(&mut bed, FIRST, "cw", &ok, "31").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        state_of(&bed, FIRST),
        None,
        "the current (first) call ended"
    );
    assert_eq!(state_of(&bed, SECOND), Some(CallState::Active));
    // The dialog goes on with the second caller; its hang-up ends the SIP call.
    bed.network.phone_hangs_up(SECOND).expect("hang up");
    let bye = bed.peer.expect_request("BYE").await;
    bed.peer.ok_to(&bye);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn when_the_first_caller_leaves_the_dialog_goes_on_with_the_second_f_6_8_14() {
    let (mut bed, _ok) = with_second_caller(CallWaiting::HoldAndAnswer).await;
    bed.network.phone_hangs_up(FIRST).expect("first leaves");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(state_of(&bed, SECOND), Some(CallState::Active));
    assert!(
        bed.peer.recv_within(Duration::from_secs(2)).await.is_none(),
        "no BYE yet"
    );
    bed.network.phone_hangs_up(SECOND).expect("second leaves");
    let bye = bed.peer.expect_request("BYE").await;
    bed.peer.ok_to(&bye);
    bed.stop().await;
}
