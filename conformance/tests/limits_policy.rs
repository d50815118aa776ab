//! SIM limits, counters, CDR and the run policy on the simulator (issue #7): minute
//! limits with billing units (F-6.10.11, F-6.10.19, F-6.10.15), time periods
//! (F-6.10.12), per-call maximum and hang-up when used up (F-6.10.16, F-6.10.18),
//! call-count limits (F-6.10.8, F-6.10.10), the balance report (F-6.10.20), counters
//! and CDR that survive a restart, the daily CDR reset (F-6.1.11), the scheduled
//! reboot (F-6.1.10), and run-policy conditions and actions (§6.16).

mod routing_common;

use std::time::Duration;

use cellgate::sandbox::SharedCounters;
use cellgate_hal::LineId;
use cellgate_policy::limits::{BalanceReport, LimitSpec};
use cellgate_policy::run_policy::{Action, Combine, Condition, RunPolicy};
use cellgate_policy::schedule::Schedule;
use cellgate_policy::store::CounterStore;
use cellgate_simulator::{CalleeBehaviour, PhoneBehaviour};
use routing_common::*;

fn limit(text: &str) -> LimitSpec {
    LimitSpec::parse(text).expect("limit")
}

#[tokio::test(start_paused = true)]
async fn minutes_are_billed_in_units_and_the_line_locks_when_used_up() {
    // 61 s is billed as 2 minutes (F-6.10.19); a 2-minute limit is then used up and the
    // line refuses outbound calls (F-6.10.15) with the no-line status.
    let store = SharedCounters::default();
    let mut bed = bed_with_store(1, store.clone(), |c| {
        line(c, 1).limits.minutes = limit("2");
    })
    .await;
    let ok = answered_call(&mut bed, "5551234", "m1").await;
    tokio::time::sleep(Duration::from_secs(61)).await;
    hang_up(&mut bed, "5551234", "m1", &ok).await;
    refused_call(&mut bed, "5551234", "m2", 503).await;
    let records = store.records(LineId(1), 10).expect("records");
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(
        records[0].answered && (61..=62).contains(&records[0].talk_seconds),
        "{records:?}"
    );
    let counters = store.load(LineId(1)).expect("load").expect("saved");
    let (local, _) = start_time();
    let limits = cellgate_policy::limits::SimLimits {
        minutes: limit("2"),
        ..Default::default()
    };
    assert_eq!(
        counters.usage.remaining_seconds(&limits, Some(local)),
        Some(0)
    );
    assert_eq!(counters.cdr.call_count(), "1/1");
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn counters_survive_a_restart_of_the_gateway() {
    let store = SharedCounters::default();
    let configure = |c: &mut cellgate_engine::GatewayConfig| {
        line(c, 1).limits.minutes = limit("2");
    };
    let mut bed = bed_with_store(1, store.clone(), configure).await;
    let ok = answered_call(&mut bed, "5551234", "r1").await;
    tokio::time::sleep(Duration::from_secs(90)).await;
    hang_up(&mut bed, "5551234", "r1", &ok).await;
    bed.stop().await;
    // A new gateway on the same store still knows the minutes are used up.
    let mut bed = bed_with_store(1, store.clone(), configure).await;
    refused_call(&mut bed, "5551234", "r2", 503).await;
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn time_period_quota_renews_in_the_next_period_f_6_10_12() {
    // Start at 10:00: 1 minute until 12:00, then 100 minutes until 23:00.
    let mut bed = bed(1, |c| {
        line(c, 1).limits.minutes = limit("05:00-12:00,1|12:00-23:00,100");
    })
    .await;
    let ok = answered_call(&mut bed, "5551234", "p1").await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    hang_up(&mut bed, "5551234", "p1", &ok).await;
    refused_call(&mut bed, "5551234", "p2", 503).await;
    tokio::time::sleep(Duration::from_secs(2 * 3600)).await; // 12:00 passed
    let ok = answered_call(&mut bed, "5551234", "p3").await;
    hang_up(&mut bed, "5551234", "p3", &ok).await;
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn per_call_maximum_cuts_the_call_f_6_10_18() {
    let mut bed = bed(1, |c| {
        line(c, 1).limits.per_call_max_min = Some(1);
    })
    .await;
    let started = tokio::time::Instant::now();
    let _ok = answered_call(&mut bed, "5551234", "x1").await;
    let bye = bed.peer.expect_request("BYE").await;
    let lasted = started.elapsed();
    assert!(
        lasted >= Duration::from_secs(60) && lasted < Duration::from_secs(70),
        "{lasted:?}"
    );
    bed.peer.ok_to(&bye);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(bed.network.calls().is_empty(), "GSM call hung up");
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn hang_up_when_the_time_is_used_up_f_6_10_16() {
    let mut bed = bed(1, |c| {
        let l = line(c, 1);
        l.limits.minutes = limit("1");
        l.limits.hang_up_when_used_up = true;
    })
    .await;
    let started = tokio::time::Instant::now();
    let _ok = answered_call(&mut bed, "5551234", "h1").await;
    let bye = bed.peer.expect_request("BYE").await;
    let lasted = started.elapsed();
    assert!(lasted < Duration::from_secs(70), "{lasted:?}");
    bed.peer.ok_to(&bye);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn call_count_limit_counts_answered_calls_only_by_default_f_6_10_8_f_6_10_10() {
    let mut bed = bed(1, |c| {
        line(c, 1).limits.calls = limit("1");
    })
    .await;
    refused_call(&mut bed, "5550486", "c1", 486).await; // busy: not counted
    let ok = answered_call(&mut bed, "5551234", "c2").await;
    hang_up(&mut bed, "5551234", "c2", &ok).await;
    refused_call(&mut bed, "5551234", "c3", 503).await;
    bed.stop().await;

    let mut bed = routing_common::bed(1, |c| {
        let l = line(c, 1);
        l.limits.calls = limit("1");
        l.limits.count_unanswered = true;
    })
    .await;
    refused_call(&mut bed, "5550486", "u1", 486).await; // counted now
    refused_call(&mut bed, "5551234", "u2", 503).await;
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn balance_report_sms_goes_out_once_below_the_threshold_f_6_10_20() {
    let mut bed = bed(1, |c| {
        let l = line(c, 1);
        l.limits.minutes = limit("10");
        l.limits.balance_report = Some(BalanceReport {
            number: "5550999".into(),
            identifier: "L1".into(),
            threshold_min: 8,
        });
    })
    .await;
    for id in ["b1", "b2"] {
        let ok = answered_call(&mut bed, "5551234", id).await;
        tokio::time::sleep(Duration::from_secs(90)).await;
        hang_up(&mut bed, "5551234", id, &ok).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let sent = commands(&bed, 1)
        .iter()
        .filter(|c| c.starts_with("AT+CMGS="))
        .count();
    assert_eq!(sent, 1, "one report after the second call (6 min left)");
    let log = bed.network.event_log().join("\n");
    assert!(log.contains("5550999"), "{log}");
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn daily_cdr_reset_clears_the_statistics_f_6_1_11() {
    let store = SharedCounters::default();
    let mut bed = bed_with_store(1, store.clone(), |c| {
        c.routing.cdr_reset = Some(Schedule::parse("10:05").expect("schedule"));
    })
    .await;
    let ok = answered_call(&mut bed, "5551234", "z1").await;
    hang_up(&mut bed, "5551234", "z1", &ok).await;
    let before = store.load(LineId(1)).expect("load").expect("saved");
    assert_eq!(before.cdr.call_count(), "1/1");
    tokio::time::sleep(Duration::from_secs(6 * 60)).await;
    let after = store.load(LineId(1)).expect("load").expect("saved");
    assert_eq!(after.cdr.call_count(), "0/0");
    assert!(after.cdr.since_unix() > before.cdr.since_unix());
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn scheduled_reboot_restarts_every_module_f_6_1_10() {
    let mut bed = bed(2, |c| {
        c.routing.reboot = Some(Schedule::parse("5").expect("schedule"));
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4 * 60)).await;
    let restarts = |bed: &cellgate_conformance::TestBed, n| {
        commands(bed, n)
            .iter()
            .filter(|c| c.starts_with("AT+CFUN=1,1"))
            .count()
    };
    assert_eq!(restarts(&bed, 1), 0);
    tokio::time::sleep(Duration::from_secs(2 * 60)).await;
    assert_eq!(restarts(&bed, 1), 1);
    assert_eq!(restarts(&bed, 2), 1);
    // The lines come back and carry calls.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let ok = answered_call(&mut bed, "5551234", "rb").await;
    hang_up(&mut bed, "5551234", "rb", &ok).await;
    bed.stop().await;
}

fn policy(conditions: Vec<Condition>, actions: Vec<Action>) -> RunPolicy {
    RunPolicy::new(conditions, Combine::Any, actions, 30).expect("policy")
}

#[tokio::test(start_paused = true)]
async fn consecutive_unanswered_calls_disable_outbound_f_6_16_6_f_6_16_9() {
    let mut bed = bed(1, |c| {
        c.routing.run_policy = Some(policy(
            vec![Condition::ConsecutiveUnanswered(2)],
            vec![Action::DisableOutbound],
        ));
    })
    .await;
    refused_call(&mut bed, "5550486", "n1", 486).await;
    refused_call(&mut bed, "5550486", "n2", 486).await;
    refused_call(&mut bed, "5551234", "n3", 503).await;
    assert_eq!(dialled(&bed, 1).len(), 2);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn consecutive_no_ring_calls_power_the_module_off_f_6_16_5_f_6_16_10() {
    let mut bed = bed(1, |c| {
        c.routing.run_policy = Some(policy(
            vec![Condition::ConsecutiveNoRing(2)],
            vec![Action::PowerOffModule],
        ));
    })
    .await;
    // Numbers ending in 404 do not exist: released before ringing.
    refused_call(&mut bed, "5550404", "nr1", 404).await;
    refused_call(&mut bed, "5550404", "nr2", 404).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        commands(&bed, 1).iter().any(|c| c == "AT+CFUN=0"),
        "{:?}",
        commands(&bed, 1)
    );
    refused_call(&mut bed, "5551234", "nr3", 503).await;
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn consecutive_short_calls_reset_the_cdr_f_6_16_7_f_6_16_11() {
    let store = SharedCounters::default();
    let mut bed = bed_with_store(1, store.clone(), |c| {
        c.routing.run_policy = Some(policy(
            vec![Condition::ConsecutiveShort {
                below: Duration::from_secs(10),
                count: 2,
            }],
            vec![Action::ResetCdr],
        ));
    })
    .await;
    for id in ["sh1", "sh2"] {
        let ok = answered_call(&mut bed, "5551234", id).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        hang_up(&mut bed, "5551234", id, &ok).await;
    }
    let counters = store.load(LineId(1)).expect("load").expect("saved");
    assert_eq!(counters.cdr.call_count(), "0/0", "reset by the policy");
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn asr_condition_waits_for_the_threshold_number_of_calls_f_6_16_3() {
    let mut bed = bed(1, |c| {
        c.routing.run_policy = Some(
            RunPolicy::new(
                vec![Condition::AsrBelow(50)],
                Combine::Any,
                vec![Action::DisableOutbound],
                3,
            )
            .expect("policy"),
        );
    })
    .await;
    bed.network.set_phone(
        "5550007",
        PhoneBehaviour {
            callee: CalleeBehaviour::Busy {
                after: Duration::from_secs(1),
            },
            ..PhoneBehaviour::default()
        },
    );
    refused_call(&mut bed, "5550007", "a1", 486).await;
    refused_call(&mut bed, "5550007", "a2", 486).await;
    // 0 % after 2 calls, but the threshold is 3 calls: still allowed.
    refused_call(&mut bed, "5550007", "a3", 486).await;
    // Third attempt reached the threshold with ASR 0 %: outbound disabled.
    refused_call(&mut bed, "5551234", "a4", 503).await;
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn radio_goes_off_when_the_limit_is_used_up_unless_kept_registered_f_6_10_2() {
    // 10:00, 1 minute until 12:00: after a call the limit is used up and the module
    // leaves the network; from 12:00 the next period's quota brings it back.
    let mut bed = bed(1, |c| {
        let l = line(c, 1);
        l.limits.minutes = limit("05:00-12:00,1|12:00-23:00,100");
        l.limits.keep_module_registered = false;
    })
    .await;
    let ok = answered_call(&mut bed, "5551234", "k1").await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    hang_up(&mut bed, "5551234", "k1", &ok).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        commands(&bed, 1).iter().any(|c| c == "AT+CFUN=4"),
        "{:?}",
        commands(&bed, 1)
    );
    assert_ne!(bed.network.registration(1), Some(1), "off the network");
    tokio::time::sleep(Duration::from_secs(2 * 3600)).await;
    assert!(
        commands(&bed, 1).iter().any(|c| c == "AT+CFUN=1"),
        "{:?}",
        commands(&bed, 1)
    );
    assert_eq!(bed.network.registration(1), Some(1), "registered again");
    bed.stop().await;
}
