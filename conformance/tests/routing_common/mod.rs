//! Shared set-up of the routing and policy scenarios: a test bed whose engine settings a
//! closure adjusts, and small readers of the simulated network's AT transcripts.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use cellgate::sandbox::{SandboxSip, SharedCounters};
use cellgate_conformance::{FlowEntry, TestBed};
use cellgate_engine::gateway::LinePolicy;
use cellgate_engine::GatewayConfig;
use cellgate_hal::LineId;

/// 2026-03-10 10:00 local time (a Tuesday): the network time of every scenario.
pub fn start_time() -> (time::PrimitiveDateTime, i64) {
    let local = time::macros::datetime!(2026-03-10 10:00);
    (local, local.assume_utc().unix_timestamp())
}

/// A fresh block of 200 RTP ports for one bed.
fn next_rtp_base() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(20_000);
    NEXT.fetch_add(200, std::sync::atomic::Ordering::Relaxed)
}

/// A bed of `lines` lines whose engine settings `configure` adjusts.
pub async fn bed(
    lines: u16,
    configure: impl Fn(&mut GatewayConfig) + Send + Sync + 'static,
) -> TestBed {
    bed_with(lines, SandboxSip::default(), configure).await
}

/// As [`bed`], on top of `sip` settings.
pub async fn bed_with(
    lines: u16,
    mut sip: SandboxSip,
    configure: impl Fn(&mut GatewayConfig) + Send + Sync + 'static,
) -> TestBed {
    // Tests of one binary run in parallel in one process and bind real RTP sockets:
    // each bed gets its own part of the port range.
    if sip.rtp_base_port.is_none() {
        sip.rtp_base_port = Some(next_rtp_base());
    }
    sip.configure = Some(Arc::new(move |c: &mut GatewayConfig| {
        c.routing.start_time = Some(start_time());
        configure(c);
    }));
    TestBed::start_with(lines, 5, sip).await
}

/// As [`bed`], writing counters to `store`.
pub async fn bed_with_store(
    lines: u16,
    store: SharedCounters,
    configure: impl Fn(&mut GatewayConfig) + Send + Sync + 'static,
) -> TestBed {
    let sip = SandboxSip {
        counters: Some(store),
        ..SandboxSip::default()
    };
    bed_with(lines, sip, configure).await
}

/// The policy of `line`, created with the defaults if absent.
pub fn line(c: &mut GatewayConfig, n: u16) -> &mut LinePolicy {
    c.lines.entry(LineId(n)).or_default()
}

/// The final response to the INVITE being answered (skips provisionals).
pub async fn final_response(bed: &mut TestBed) -> FlowEntry {
    loop {
        let entry = bed.peer.recv().await;
        if entry.status().is_some_and(|c| c >= 200) {
            return entry;
        }
    }
}

/// Calls `number`, expects it answered, ACKs; returns the 200 OK.
pub async fn answered_call(bed: &mut TestBed, number: &str, call_id: &str) -> FlowEntry {
    bed.peer.invite(number, call_id);
    let ok = final_response(bed).await;
    assert_eq!(ok.status(), Some(200), "{}", bed.peer.summary());
    bed.peer.ack(number, call_id, &ok);
    ok
}

/// Calls `number` and expects the final status `code` (ACKed).
pub async fn refused_call(bed: &mut TestBed, number: &str, call_id: &str, code: u16) {
    bed.peer.invite(number, call_id);
    let last = final_response(bed).await;
    assert_eq!(last.status(), Some(code), "{}", bed.peer.summary());
    bed.peer.ack(number, call_id, &last);
}

/// Hangs up an answered call and waits for the 200.
pub async fn hang_up(bed: &mut TestBed, number: &str, call_id: &str, ok: &FlowEntry) {
    bed.peer.bye(number, call_id, ok);
    bed.peer.expect_status(200).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Commands the gateway sent to line `n`'s module.
pub fn commands(bed: &TestBed, n: u16) -> Vec<String> {
    bed.network
        .transcript(n)
        .into_iter()
        .filter_map(|l| l.strip_prefix("-> ").map(str::to_owned))
        .collect()
}

/// The `ATD` numbers dialled on line `n`.
pub fn dialled(bed: &TestBed, n: u16) -> Vec<String> {
    commands(bed, n)
        .into_iter()
        .filter_map(|c| {
            c.strip_prefix("ATD")
                .map(|d| d.trim_end_matches(';').to_owned())
        })
        .collect()
}

/// Sends `digits` as SIP INFO DTMF in the dialog of `ok`.
pub async fn info_digits(
    bed: &mut TestBed,
    number: &str,
    call_id: &str,
    ok: &FlowEntry,
    digits: &str,
) {
    for d in digits.chars() {
        bed.peer.info(
            number,
            call_id,
            ok,
            "application/dtmf-relay",
            &format!("Signal={d}\r\nDuration=160\r\n"),
        );
        bed.peer.expect_status(200).await;
    }
}
