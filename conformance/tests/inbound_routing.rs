//! GSM -> VoIP routing on the simulator (issue #7): the inbound modes (F-6.8.1 to 3),
//! the caller-prefix map (F-6.8.11), caller-id rewriting and modes (F-6.8.7 to 9),
//! inbound two-stage dialling with its dial rules and password (F-6.8.2, F-6.8.5,
//! F-6.8.12, F-2.2.4, §6.9), inbound blacklists (F-6.9.5) and the automatic blacklist
//! of repeated callers (F-6.8.18). A phone of the simulated network calls a line's
//! SIM; the scripted SIP peer is the VoIP side.

mod routing_common;

use std::net::SocketAddr;
use std::time::Duration;

use cellgate_conformance::signal::tone_snr_db;
use cellgate_conformance::{FlowEntry, TestBed, PEER};
use cellgate_engine::gateway::CidMode;
use cellgate_policy::routing::{
    AuthMode, CallAuth, DialRules, InboundForward, ListTarget, NumberList, RepeatConfig,
};
use cellgate_simulator::CallState;
use routing_common::*;

fn peer() -> SocketAddr {
    PEER.parse().expect("peer address")
}

/// Waits until line 1's GSM call is in `state` (or gone when `None`).
async fn gsm_call_state(bed: &TestBed, state: Option<CallState>) -> bool {
    for _ in 0..200 {
        let calls = bed.network.calls();
        let now = calls.iter().find(|c| c.line == 1).map(|c| c.state);
        if now == state {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Answers the gateway's INVITE and returns it.
async fn answer_invite(bed: &mut TestBed) -> FlowEntry {
    let invite = bed.peer.expect_request("INVITE").await;
    bed.peer.respond_to_invite(&invite, 180);
    bed.peer.respond_to_invite(&invite, 200);
    let _ack = bed.peer.expect_request("ACK").await;
    invite
}

#[tokio::test(start_paused = true)]
async fn reject_mode_hangs_up_without_any_sip_f_6_8_1() {
    let mut bed = bed(1, |c| {
        let l = line(c, 1);
        l.inbound_allowed = false;
        l.inbound_forward = Some(InboundForward::Fixed(format!("101@{PEER}")));
    })
    .await;
    bed.network.phone_calls_line("5550100", 1).expect("call");
    assert!(
        gsm_call_state(&bed, None).await,
        "{:?}",
        bed.network.calls()
    );
    assert!(bed.peer.recv_within(Duration::from_secs(5)).await.is_none());
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn forward_mode_invites_the_fixed_number_and_bridges_on_answer_f_6_8_3() {
    let mut bed = bed(1, |c| {
        line(c, 1).inbound_forward = Some(InboundForward::Fixed(format!("101@{PEER}")));
    })
    .await;
    bed.network.phone_calls_line("5550100", 1).expect("call");
    let invite = answer_invite(&mut bed).await;
    assert!(
        invite
            .first_line()
            .starts_with(&format!("INVITE sip:101@{PEER}")),
        "{}",
        invite.text
    );
    assert!(gsm_call_state(&bed, Some(CallState::Active)).await);
    bed.network.phone_hangs_up("5550100").expect("hang up");
    let bye = bed.peer.expect_request("BYE").await;
    bed.peer.ok_to(&bye);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn caller_prefix_map_chooses_the_extension_f_6_8_11() {
    let mut bed = bed(1, |c| {
        c.extension_host = Some(peer());
        line(c, 1).inbound_forward = Some(InboundForward::parse("010>101|021>1002").expect("map"));
    })
    .await;
    for (caller, ext) in [("0105550100", "101"), ("0215550100", "1002")] {
        bed.network.phone_calls_line(caller, 1).expect("call");
        let invite = answer_invite(&mut bed).await;
        assert!(
            invite
                .first_line()
                .starts_with(&format!("INVITE sip:{ext}@{PEER}")),
            "{}",
            invite.text
        );
        bed.network.phone_hangs_up(caller).expect("hang up");
        let bye = bed.peer.expect_request("BYE").await;
        bed.peer.ok_to(&bye);
        assert!(gsm_call_state(&bed, None).await);
    }
    // No pair and no default: rejected.
    bed.network.phone_calls_line("0305550100", 1).expect("call");
    assert!(gsm_call_state(&bed, None).await);
    assert!(bed.peer.recv_within(Duration::from_secs(3)).await.is_none());
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn caller_id_is_rewritten_and_sent_as_remote_party_id_f_6_8_7_f_6_8_9() {
    let mut bed = bed(1, |c| {
        let l = line(c, 1);
        l.inbound_forward = Some(InboundForward::Fixed(format!("101@{PEER}")));
        l.cid_mode = Some(CidMode::RemotePartyId);
        l.cid_rules = DialRules::parse("+86:-+86+0").expect("rules");
    })
    .await;
    bed.network
        .phone_calls_line("+8613912345678", 1)
        .expect("call");
    let invite = bed.peer.expect_request("INVITE").await;
    let rpid = invite.header("Remote-Party-ID").unwrap_or_default();
    assert!(rpid.contains("sip:013912345678@"), "{}", invite.text);
    let from = invite.header("From").unwrap_or_default();
    assert!(
        !from.contains("013912345678"),
        "From keeps the line's user: {from}"
    );
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn repeated_caller_is_blacklisted_automatically_f_6_8_18() {
    let mut bed = bed(1, |c| {
        let l = line(c, 1);
        l.inbound_forward = Some(InboundForward::Fixed(format!("101@{PEER}")));
        l.repeat_callers = Some(RepeatConfig::new(3).expect("limit"));
    })
    .await;
    for _ in 0..2 {
        bed.network.phone_calls_line("5550100", 1).expect("call");
        let _invite = answer_invite(&mut bed).await;
        bed.network.phone_hangs_up("5550100").expect("hang up");
        let bye = bed.peer.expect_request("BYE").await;
        bed.peer.ok_to(&bye);
        assert!(gsm_call_state(&bed, None).await);
    }
    // The third consecutive call reaches the limit: refused without SIP.
    bed.network.phone_calls_line("5550100", 1).expect("call");
    assert!(gsm_call_state(&bed, None).await);
    assert!(bed.peer.recv_within(Duration::from_secs(3)).await.is_none());
    // Another caller still gets through.
    bed.network.phone_calls_line("5550200", 1).expect("call");
    let invite = bed.peer.expect_request("INVITE").await;
    assert!(invite.text.contains("5550200"), "{}", invite.text);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn inbound_blacklist_rejects_listed_callers_f_6_9_5() {
    let mut bed = bed(1, |c| {
        let l = line(c, 1);
        l.inbound_forward = Some(InboundForward::Fixed(format!("101@{PEER}")));
        l.inbound_auth = CallAuth::new(
            AuthMode::Blacklist,
            ListTarget::Caller,
            NumberList::parse("5550666").expect("list"),
            "",
        )
        .expect("auth");
    })
    .await;
    bed.network.phone_calls_line("5550666", 1).expect("call");
    assert!(gsm_call_state(&bed, None).await);
    assert!(bed.peer.recv_within(Duration::from_secs(3)).await.is_none());
    bed.network.phone_calls_line("5550100", 1).expect("call");
    let _ = bed.peer.expect_request("INVITE").await;
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn two_stage_inbound_answers_collects_dtmf_and_calls_the_voip_number_f_6_8_2() {
    let mut bed = bed(1, |c| {
        c.extension_host = Some(peer());
        let l = line(c, 1);
        l.inbound_forward = Some(InboundForward::TwoStage);
        l.inbound_dial_rules = DialRules::parse("9:-9").expect("rules"); // F-6.8.12
    })
    .await;
    bed.network.phone_calls_line("5550100", 1).expect("call");
    assert!(
        gsm_call_state(&bed, Some(CallState::Active)).await,
        "answered for the second stage"
    );
    assert!(bed.peer.recv_within(Duration::from_secs(1)).await.is_none());
    bed.network
        .phone_sends_dtmf("5550100", "9101#")
        .expect("dtmf");
    let invite = bed.peer.expect_request("INVITE").await;
    assert!(
        invite
            .first_line()
            .starts_with(&format!("INVITE sip:101@{PEER}")),
        "{}",
        invite.text
    );
    bed.peer.respond_to_invite(&invite, 200);
    let _ack = bed.peer.expect_request("ACK").await;
    bed.network.phone_hangs_up("5550100").expect("hang up");
    let bye = bed.peer.expect_request("BYE").await;
    bed.peer.ok_to(&bye);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn two_stage_inbound_without_input_releases_the_caller_f_6_8_5() {
    let bed = bed(1, |c| {
        let l = line(c, 1);
        l.inbound_forward = Some(InboundForward::TwoStage);
        l.no_input_timeout = Duration::from_secs(8);
    })
    .await;
    bed.network.phone_calls_line("5550100", 1).expect("call");
    assert!(gsm_call_state(&bed, Some(CallState::Active)).await);
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert!(
        gsm_call_state(&bed, None).await,
        "released after the no-input timeout"
    );
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn inbound_password_then_forward_f_6_9_2() {
    let mut bed = bed(1, |c| {
        let l = line(c, 1);
        l.inbound_forward = Some(InboundForward::Fixed(format!("101@{PEER}")));
        l.inbound_auth = CallAuth::new(
            AuthMode::Password,
            ListTarget::Caller,
            NumberList::default(),
            "4321",
        )
        .expect("auth");
    })
    .await;
    bed.network.phone_calls_line("5550100", 1).expect("call");
    assert!(gsm_call_state(&bed, Some(CallState::Active)).await);
    bed.network
        .phone_sends_dtmf("5550100", "4321#")
        .expect("dtmf");
    let invite = bed.peer.expect_request("INVITE").await;
    assert!(invite
        .first_line()
        .starts_with(&format!("INVITE sip:101@{PEER}")));
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_caller_hears_the_dial_tone_of_the_tone_standard_f_6_1_8() {
    // CN dial tone: continuous 450 Hz; US: 350 + 440 Hz.
    let bed = bed(1, |c| {
        line(c, 1).inbound_forward = Some(InboundForward::TwoStage);
        c.media.tone_standard = "CN".into();
    })
    .await;
    bed.network.phone_calls_line("5550100", 1).expect("call");
    assert!(gsm_call_state(&bed, Some(CallState::Active)).await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let heard = bed.network.phone_recording("5550100");
    assert!(
        heard.len() > 8_000,
        "{} samples\n{}",
        heard.len(),
        bed.network.event_log().join("\n")
    );
    let last_second = &heard[heard.len() - 8_000..];
    let snr = tone_snr_db(last_second, 450.0);
    assert!(snr > 20.0, "450 Hz dial tone: {snr:.1} dB");
    assert!(tone_snr_db(last_second, 1_000.0) < 0.0);
    // The first digit stops it.
    bed.network.phone_sends_dtmf("5550100", "1").expect("dtmf");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let heard = bed.network.phone_recording("5550100");
    let after = &heard[heard.len() - 4_000..];
    let energy: f64 = after.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / 4_000.0;
    assert!(
        energy < 1_000.0,
        "silence after the first digit: {energy:.0}"
    );
    bed.stop().await;
}
