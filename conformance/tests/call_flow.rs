//! End-to-end VoIP -> GSM calls through the whole gateway on the virtual clock:
//! scripted SIP peer -> engine -> M35 AT backend -> simulated M35 modem -> simulated phone.

use std::time::Duration;

use cellgate_conformance::{FlowEntry, TestBed};

/// Runs the basic scenario and returns (SIP flow, AT transcript of line 1, network log).
async fn basic_call(seed: u64) -> (String, String, String) {
    let mut bed = TestBed::start(2, seed).await;
    bed.peer.invite("5551234", "call-1");
    bed.peer.expect_status(100).await;
    bed.peer.expect_status(180).await;
    let ok = bed.peer.expect_status(200).await;
    assert!(
        ok.text.contains("m=audio "),
        "200 OK carries an SDP answer:\n{}",
        ok.text
    );
    bed.peer.ack("5551234", "call-1", &ok);

    // The simulated phone has the call up.
    let calls = bed.network.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(format!("{:?}", calls[0]).contains("5551234"), "{calls:?}");
    assert!(format!("{:?}", calls[0]).contains("Active"), "{calls:?}");

    tokio::time::sleep(Duration::from_secs(2)).await;
    bed.peer.bye("5551234", "call-1", &ok);
    bed.peer.expect_status(200).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        bed.network.calls().is_empty(),
        "GSM call released after BYE"
    );

    let flow = bed.peer.summary();
    let transcript = bed.network.transcript(1).join("\n");
    let log = bed.network.event_log().join("\n");
    bed.stop().await;
    (flow, transcript, log)
}

#[tokio::test(start_paused = true)]
async fn sip_invite_reaches_simulated_phone_answer_and_caller_hangup() {
    let (flow, transcript, _) = basic_call(7).await;
    assert!(transcript.contains("-> ATD5551234;"), "{transcript}");
    assert!(transcript.contains("-> ATH"), "{transcript}");
    insta::assert_snapshot!("basic_call_sip_flow", flow);
    insta::assert_snapshot!("basic_call_at_transcript", transcript);
}

#[tokio::test(start_paused = true)]
async fn same_seed_gives_identical_flows_and_transcripts() {
    let first = basic_call(11).await;
    let second = basic_call(11).await;
    assert_eq!(first, second);
}

async fn failing_call(number: &str, expected: u16) -> Vec<FlowEntry> {
    let mut bed = TestBed::start(1, 3).await;
    let call_id = format!("fail-{number}");
    bed.peer.invite(number, &call_id);
    let final_response = loop {
        let entry = bed.peer.recv().await;
        if entry.status().is_some_and(|c| c >= 200) {
            break entry;
        }
    };
    assert_eq!(
        final_response.status(),
        Some(expected),
        "{}",
        bed.peer.summary()
    );
    bed.peer.ack(number, &call_id, &final_response);
    // No retransmission after ACK, and the line is free for the next call.
    assert!(bed
        .peer
        .recv_within(Duration::from_secs(10))
        .await
        .is_none());
    bed.peer.invite("5551234", "after");
    bed.peer.expect_status(180).await;
    let flow = bed.peer.flow.clone();
    bed.stop().await;
    flow
}

#[tokio::test(start_paused = true)]
async fn busy_number_gives_486() {
    failing_call("5550486", 486).await;
}

#[tokio::test(start_paused = true)]
async fn unassigned_number_gives_404() {
    failing_call("5550404", 404).await;
}

#[tokio::test(start_paused = true)]
async fn never_answering_number_gives_480_after_the_network_gives_up() {
    let flow = failing_call("5550480", 480).await;
    let final_at = flow.iter().find(|e| e.status() == Some(480)).map(|e| e.at);
    assert!(
        final_at.is_some_and(|t| t >= Duration::from_secs(60)),
        "480 only after the network's 60 s ring limit: {final_at:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn gsm_side_hangup_sends_bye_to_the_caller() {
    let mut bed = TestBed::start(1, 5).await;
    bed.peer.invite("5551234", "gsm-hangup");
    let ok = bed.peer.expect_status(200).await;
    bed.peer.ack("5551234", "gsm-hangup", &ok);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(bed.network.phone_hangs_up("5551234").is_ok());
    let bye = bed.peer.recv().await;
    assert!(
        bye.first_line().starts_with("BYE sip:peer@127.0.0.1:5070"),
        "{}",
        bye.text
    );
    bed.peer.ok_to(&bye);
    assert!(
        bed.peer
            .recv_within(Duration::from_secs(40))
            .await
            .is_none(),
        "BYE not retransmitted once answered"
    );
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn malformed_sip_is_survived_and_next_call_works() {
    let mut bed = TestBed::start(1, 9).await;
    bed.peer.send_raw(b"\x00\xffINVITE garbage\r\n\r\n");
    bed.peer.send_raw(b"INVITE sip:5551234@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx\r\n\r\n");
    let bad = bed.peer.recv().await;
    assert_eq!(bad.status(), Some(400), "{}", bad.text);
    bed.peer.invite("5551234", "after-garbage");
    bed.peer.expect_status(200).await;
    bed.stop().await;
}
