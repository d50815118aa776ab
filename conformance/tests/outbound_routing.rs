//! VoIP -> GSM routing on the simulator (issue #7): line prefixes and the 603 rule
//! (F-6.3.13 to F-6.3.18, Appendix F), dial rules (Appendix G, F-6.6.8/9), outbound
//! authentication (§6.7), call memory (F-6.6.2), the rest rule (F-6.6.10), line
//! selection (F-6.4.2 to 4), two-stage dialling (F-2.2.3), forward number and `M1:`
//! (F-6.6.6/7), dial / no-ring timeouts (F-6.6.3/4), auto redial (F-6.6.1) and
//! outbound permission (F-6.6.5). Scripted SIP peer -> engine -> M35 AT backend ->
//! simulated network, on the virtual clock.

mod routing_common;

use std::time::Duration;

use cellgate_engine::gateway::OutboundForward;
use cellgate_engine::lines::LineSelection;
use cellgate_hal::LineId;
use cellgate_policy::routing::{
    AuthMode, CallAuth, DialRules, LinePrefixes, ListTarget, MatchOn, NumberList, PrefixList,
    RestRule,
};
use cellgate_simulator::{CalleeBehaviour, PhoneBehaviour};
use routing_common::*;

fn prefixes(entries: &[(u16, &str)], on: MatchOn, strip: bool, unique: bool) -> LinePrefixes {
    let list = entries
        .iter()
        .map(|(l, p)| (LineId(*l), PrefixList::parse(p).expect("prefix list")))
        .collect();
    LinePrefixes::new(list, on, strip, unique).expect("line prefixes")
}

#[tokio::test(start_paused = true)]
async fn callee_prefix_picks_the_line_strips_it_and_unknown_prefixes_get_603() {
    // F-6.3.13, F-6.3.14, F-6.3.18, Appendix F scheme 2.
    let mut bed = bed(2, |c| {
        c.routing.prefixes = Some(prefixes(
            &[(1, "001"), (2, "002")],
            MatchOn::Callee,
            true,
            true,
        ));
    })
    .await;
    let ok = answered_call(&mut bed, "0025551234", "p1").await;
    assert_eq!(dialled(&bed, 2), ["5551234"], "line 2, prefix stripped");
    assert!(dialled(&bed, 1).is_empty());
    hang_up(&mut bed, "0025551234", "p1", &ok).await;
    refused_call(&mut bed, "0095551234", "p2", 603).await;
    refused_call(&mut bed, "5551234", "p3", 603).await;
    assert_eq!(dialled(&bed, 1).len() + dialled(&bed, 2).len(), 1);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn caller_prefix_binds_agents_to_lines_appendix_f_scheme_1() {
    // F-6.3.13 caller matching, F-F.1: extension 102 only ever uses line 2.
    let mut bed = bed(2, |c| {
        c.routing.prefixes = Some(prefixes(
            &[(1, "101"), (2, "102")],
            MatchOn::Caller,
            false,
            true,
        ));
    })
    .await;
    bed.peer.invite_from("102", "5551234", "a1");
    let ok = final_response(&mut bed).await;
    assert_eq!(ok.status(), Some(200), "{}", bed.peer.summary());
    bed.peer.ack("5551234", "a1", &ok);
    assert_eq!(dialled(&bed, 2), ["5551234"], "callee kept whole");
    bed.peer.invite_from("103", "5551234", "a2");
    let refused = final_response(&mut bed).await;
    assert_eq!(refused.status(), Some(603));
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn dial_rules_rewrite_the_callee_and_strict_mode_refuses_the_rest() {
    // Appendix G example 4 (F-G.8) and strict mode with example 5 (F-G.9, F-G.12).
    let mut bed = bed(1, |c| {
        let l = line(c, 1);
        l.dial_rules = DialRules::parse("01[3-8]XXXXXXXXX:-0++86|1[3-8]XXXXXXXXX:").expect("rules");
        l.strict_dial_rules = true;
    })
    .await;
    let ok = answered_call(&mut bed, "015912345678", "d1").await;
    hang_up(&mut bed, "015912345678", "d1", &ok).await;
    let ok = answered_call(&mut bed, "13812345678", "d2").await;
    hang_up(&mut bed, "13812345678", "d2", &ok).await;
    refused_call(&mut bed, "5551234", "d3", 403).await;
    refused_call(&mut bed, "138123456789", "d4", 403).await; // 12 digits: no full match
    assert_eq!(dialled(&bed, 1), ["+8615912345678", "13812345678"]);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn blacklist_and_whitelist_on_callee_and_caller() {
    // §6.7: F-6.7.3, F-6.7.5, F-6.7.6.
    let mut bed = bed(2, |c| {
        line(c, 1).outbound_auth = CallAuth::new(
            AuthMode::Blacklist,
            ListTarget::Callee,
            NumberList::parse("5550666,5559*").expect("list"),
            "",
        )
        .expect("auth");
        line(c, 2).outbound_auth = CallAuth::new(
            AuthMode::Blacklist,
            ListTarget::Callee,
            NumberList::parse("5550666,5559*").expect("list"),
            "",
        )
        .expect("auth");
    })
    .await;
    refused_call(&mut bed, "5550666", "b1", 403).await;
    refused_call(&mut bed, "5559123", "b2", 403).await;
    let ok = answered_call(&mut bed, "5551234", "b3").await;
    hang_up(&mut bed, "5551234", "b3", &ok).await;
    bed.stop().await;

    let mut bed = routing_common::bed(1, |c| {
        line(c, 1).outbound_auth = CallAuth::new(
            AuthMode::Whitelist,
            ListTarget::Caller,
            NumberList::parse("boss").expect("list"),
            "",
        )
        .expect("auth");
    })
    .await;
    refused_call(&mut bed, "5551234", "w1", 403).await; // From user "peer"
    bed.peer.invite_from("boss", "5551234", "w2");
    assert_eq!(final_response(&mut bed).await.status(), Some(200));
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn password_authentication_answers_collects_the_password_then_dials() {
    // F-6.7.2 / F-6.7.4: a caller not on the list enters the password by DTMF.
    let mut bed = bed(1, |c| {
        line(c, 1).outbound_auth = CallAuth::new(
            AuthMode::PasswordOrWhitelist,
            ListTarget::Caller,
            NumberList::parse("boss").expect("list"),
            "2468",
        )
        .expect("auth");
    })
    .await;
    let ok = answered_call(&mut bed, "5551234", "pw1").await;
    assert!(
        dialled(&bed, 1).is_empty(),
        "nothing dialled before the password"
    );
    info_digits(&mut bed, "5551234", "pw1", &ok, "2468#").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(dialled(&bed, 1), ["5551234"]);
    hang_up(&mut bed, "5551234", "pw1", &ok).await;

    // A wrong password releases the call without dialling.
    let ok = answered_call(&mut bed, "5551234", "pw2").await;
    info_digits(&mut bed, "5551234", "pw2", &ok, "1111#").await;
    let bye = bed.peer.expect_request("BYE").await;
    bed.peer.ok_to(&bye);
    assert_eq!(dialled(&bed, 1).len(), 1);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn two_stage_dialling_collects_the_number_after_answering_f_2_2_3() {
    // A call to the gateway's own number is answered; the digits up to # are dialled.
    let mut bed = bed(1, |c| {
        c.routing.own_numbers.insert("8000".into(), Vec::new());
    })
    .await;
    let ok = answered_call(&mut bed, "8000", "ts1").await;
    assert!(dialled(&bed, 1).is_empty());
    info_digits(&mut bed, "8000", "ts1", &ok, "5551234#").await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(dialled(&bed, 1), ["5551234"]);
    let calls = bed.network.calls();
    assert!(format!("{calls:?}").contains("Active"), "{calls:?}");
    hang_up(&mut bed, "8000", "ts1", &ok).await;
    assert!(
        bed.network.calls().is_empty(),
        "GSM leg released by the BYE"
    );

    // No digits before the no-input timeout (F-6.8.5): released.
    let ok = answered_call(&mut bed, "8000", "ts2").await;
    let _ = ok;
    let bye = bed.peer.expect_request("BYE").await;
    bed.peer.ok_to(&bye);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn forward_number_skips_the_second_stage_f_6_6_6() {
    let mut bed = bed(1, |c| {
        c.routing.own_numbers.insert("8000".into(), Vec::new());
        line(c, 1).outbound_forward = Some(OutboundForward::Fixed("5557777".into()));
    })
    .await;
    let ok = answered_call(&mut bed, "8000", "f1").await;
    assert_eq!(dialled(&bed, 1), ["5557777"]);
    hang_up(&mut bed, "8000", "f1", &ok).await;
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn m1_mode_dials_the_service_number_then_sends_the_callee_as_dtmf_f_6_6_7() {
    let mut bed = bed(1, |c| {
        line(c, 1).outbound_forward = OutboundForward::parse("M1:91000").expect("forward");
    })
    .await;
    let ok = answered_call(&mut bed, "5551234", "m1").await;
    assert_eq!(dialled(&bed, 1), ["91000"]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let vts: String = commands(&bed, 1)
        .iter()
        .filter_map(|c| c.strip_prefix("AT+VTS="))
        .map(|d| d.trim_matches('"').to_owned())
        .collect();
    assert_eq!(vts, "5551234#");
    hang_up(&mut bed, "5551234", "m1", &ok).await;
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn no_ring_and_dial_timeouts_hang_up_f_6_6_3_f_6_6_4() {
    let mut bed = bed(1, |c| {
        let l = line(c, 1);
        l.no_ring_timeout = Some(Duration::from_secs(5));
        l.dial_timeout = Some(Duration::from_secs(15));
    })
    .await;
    bed.network.set_phone(
        "5550001",
        PhoneBehaviour {
            callee: CalleeBehaviour::NeverAnswers {
                alert_after: Duration::from_secs(30),
                give_up_after: Duration::from_secs(90),
            },
            ..PhoneBehaviour::default()
        },
    );
    bed.network.set_phone(
        "5550002",
        PhoneBehaviour {
            callee: CalleeBehaviour::NeverAnswers {
                alert_after: Duration::from_secs(1),
                give_up_after: Duration::from_secs(90),
            },
            ..PhoneBehaviour::default()
        },
    );
    let started = tokio::time::Instant::now();
    refused_call(&mut bed, "5550001", "t1", 408).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_secs(7),
        "{waited:?}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(bed.network.calls().is_empty(), "GSM call hung up");
    let started = tokio::time::Instant::now();
    refused_call(&mut bed, "5550002", "t2", 408).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(15) && waited < Duration::from_secs(17),
        "{waited:?}"
    );
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn auto_redial_tries_another_line_after_a_failure_f_6_6_1() {
    let mut bed = bed(2, |c| {
        line(c, 1).auto_redial = 1;
        line(c, 2).auto_redial = 1;
    })
    .await;
    bed.network.set_phone(
        "5550003",
        PhoneBehaviour {
            callee: CalleeBehaviour::NeverAnswers {
                alert_after: Duration::from_secs(1),
                give_up_after: Duration::from_secs(10),
            },
            ..PhoneBehaviour::default()
        },
    );
    bed.peer.invite("5550003", "r1");
    let last = final_response(&mut bed).await;
    assert!(
        last.status().is_some_and(|c| c >= 400),
        "{}",
        bed.peer.summary()
    );
    bed.peer.ack("5550003", "r1", &last);
    assert_eq!(dialled(&bed, 1), ["5550003"]);
    assert_eq!(
        dialled(&bed, 2),
        ["5550003"],
        "redialled once, on the other line"
    );
    // A busy callee is not redialled (cause 17).
    refused_call(&mut bed, "5550486", "r2", 486).await;
    assert_eq!(dialled(&bed, 1).len() + dialled(&bed, 2).len(), 3);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn call_memory_prefers_the_line_that_called_the_number_before_f_6_6_2() {
    let mut bed = bed(3, |c| {
        c.routing.call_memory = true;
        c.line_selection = LineSelection::RoundRobin;
    })
    .await;
    let ok = answered_call(&mut bed, "5551234", "cm1").await;
    hang_up(&mut bed, "5551234", "cm1", &ok).await;
    let ok = answered_call(&mut bed, "5552222", "cm2").await;
    hang_up(&mut bed, "5552222", "cm2", &ok).await;
    // Round robin would now pick line 3; memory brings 5551234 back to line 1.
    let ok = answered_call(&mut bed, "5551234", "cm3").await;
    hang_up(&mut bed, "5551234", "cm3", &ok).await;
    assert_eq!(dialled(&bed, 1), ["5551234", "5551234"]);
    assert_eq!(dialled(&bed, 2), ["5552222"]);
    // After 10 minutes the memory is gone: round robin goes on (line 2... since line 1
    // was last, the cursor is on line 2).
    tokio::time::sleep(Duration::from_secs(601)).await;
    let ok = answered_call(&mut bed, "5551234", "cm4").await;
    hang_up(&mut bed, "5551234", "cm4", &ok).await;
    assert_eq!(dialled(&bed, 1).len(), 2, "not line 1 this time");
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn every_n_calls_the_line_rests_and_memory_hits_skip_the_rest_f_6_6_10() {
    let mut bed = bed(1, |c| {
        c.routing.call_memory = true;
        line(c, 1).rest = Some(RestRule::parse(2, "30-30").expect("rest"));
    })
    .await;
    for (n, id) in [("5551111", "s1"), ("5552222", "s2")] {
        let ok = answered_call(&mut bed, n, id).await;
        hang_up(&mut bed, n, id, &ok).await;
    }
    // Two calls placed: the line rests 30 s.
    refused_call(&mut bed, "5553333", "s3", 503).await;
    // A call-memory hit is not held back by the rest (F-6.6.2).
    let ok = answered_call(&mut bed, "5552222", "s4").await;
    hang_up(&mut bed, "5552222", "s4", &ok).await;
    tokio::time::sleep(Duration::from_secs(31)).await;
    let ok = answered_call(&mut bed, "5553333", "s5").await;
    hang_up(&mut bed, "5553333", "s5", &ok).await;
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn outbound_disallowed_line_is_never_used_f_6_6_5() {
    let mut bed = bed(2, |c| {
        line(c, 1).outbound_allowed = false;
    })
    .await;
    for id in ["o1", "o2"] {
        let ok = answered_call(&mut bed, "5551234", id).await;
        hang_up(&mut bed, "5551234", id, &ok).await;
    }
    assert!(dialled(&bed, 1).is_empty());
    assert_eq!(dialled(&bed, 2).len(), 2);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn fewest_calls_and_least_talk_time_selection_f_6_4_2_f_6_4_4() {
    let mut bed = bed(2, |c| {
        c.line_selection = LineSelection::LeastTalkTime;
    })
    .await;
    // Line 1 carries a 20 s call; the next calls go to line 2 while its total is lower.
    let ok = answered_call(&mut bed, "5551234", "l1").await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    hang_up(&mut bed, "5551234", "l1", &ok).await;
    let ok = answered_call(&mut bed, "5552222", "l2").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    hang_up(&mut bed, "5552222", "l2", &ok).await;
    let ok = answered_call(&mut bed, "5553333", "l3").await;
    hang_up(&mut bed, "5553333", "l3", &ok).await;
    assert_eq!(dialled(&bed, 1), ["5551234"]);
    assert_eq!(dialled(&bed, 2), ["5552222", "5553333"]);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn group_prefixes_route_to_any_line_of_the_group_f_6_3_20() {
    // Per-group mode: lines 1-2 are group 1 (prefix 8), line 3 is group 2 (prefix 9).
    let mut bed = bed(3, |c| {
        let groups = vec![
            (
                vec![LineId(1), LineId(2)],
                PrefixList::parse("8").expect("list"),
            ),
            (vec![LineId(3)], PrefixList::parse("9").expect("list")),
        ];
        c.routing.prefixes =
            Some(LinePrefixes::grouped(groups, MatchOn::Callee, true, true).expect("groups"));
    })
    .await;
    let first = answered_call(&mut bed, "85551111", "g1").await;
    let second = answered_call(&mut bed, "85552222", "g2").await;
    // Group 1 is full now: its third call gets the no-line status, not line 3.
    refused_call(&mut bed, "85553333", "g3", 503).await;
    let third = answered_call(&mut bed, "95554444", "g4").await;
    assert_eq!(dialled(&bed, 1), ["5551111"]);
    assert_eq!(dialled(&bed, 2), ["5552222"]);
    assert_eq!(dialled(&bed, 3), ["5554444"]);
    hang_up(&mut bed, "85551111", "g1", &first).await;
    hang_up(&mut bed, "85552222", "g2", &second).await;
    hang_up(&mut bed, "95554444", "g4", &third).await;
    bed.stop().await;
}
