//! GSM-side management on the simulator (issue #7): SIM call forwarding applied at
//! start (§6.11), IMEI written or randomised with a valid check digit (§6.12), fixed
//! operator (§6.14), fixed and rotating cell selection (§6.15), group (hunt) mode
//! through the access line's busy forwarding (Appendix D, F-6.8.4), and the SIM's PIN,
//! PIN2 and fixed dialling lock (F-6.10.6, F-6.10.7).

mod routing_common;

use std::time::Duration;

use cellgate_hal::LineId;
use cellgate_policy::gsm::{
    BcchList, BcchMode, ForwardPolicy, GroupPlan, Imei, ImeiPolicy, OperatorChoice, RotationConfig,
};
use cellgate_simulator::CallState;
use routing_common::*;

#[tokio::test(start_paused = true)]
async fn call_forwarding_settings_are_applied_to_the_sim_f_6_11() {
    let bed = bed(1, |c| {
        let f = &mut line(c, 1).forwarding;
        f.busy = ForwardPolicy::Enable("5559999".into());
        f.no_reply = ForwardPolicy::Enable("5558888".into());
        f.unconditional = ForwardPolicy::Disable;
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let sim = bed.network.sim(1).expect("sim");
    assert_eq!(
        sim.forwarding.get(&1).map(String::as_str),
        Some("5559999"),
        "{:?}",
        sim.forwarding
    );
    assert_eq!(sim.forwarding.get(&2).map(String::as_str), Some("5558888"));
    assert!(!sim.forwarding.contains_key(&0));
    assert!(
        commands(&bed, 1)
            .iter()
            .any(|c| c.starts_with("AT+CCFC=0,0")),
        "{:?}",
        commands(&bed, 1)
    );
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn random_imei_at_power_up_keeps_the_tac_and_has_a_valid_check_digit_f_6_12_3() {
    let before_bed = bed(1, |_| {}).await;
    let original = before_bed.network.imei(1).expect("imei");
    before_bed.stop().await;
    let bed = bed(1, |c| {
        line(c, 1).imei = ImeiPolicy::RandomAtPowerUp;
    })
    .await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let now = bed.network.imei(1).expect("imei");
    assert_ne!(now, original);
    assert_eq!(now[..8], original[..8], "TAC kept (F-6.12.4)");
    assert!(Imei::parse(&now).is_ok(), "valid check digit: {now}");
    // Written once: the restart it causes is not a new power-up.
    let writes = commands(&bed, 1)
        .iter()
        .filter(|c| c.starts_with("AT+EGMR=1,7"))
        .count();
    assert_eq!(writes, 1);
    // The line works afterwards.
    let mut bed = bed;
    let ok = answered_call(&mut bed, "5551234", "imei").await;
    hang_up(&mut bed, "5551234", "imei", &ok).await;
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn fixed_imei_is_written_f_6_12_1() {
    let imei = Imei::from_14("86012345678901").expect("imei");
    let expected = imei.to_string();
    let bed = bed(1, move |c| {
        line(c, 1).imei = ImeiPolicy::Fixed(imei);
    })
    .await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(bed.network.imei(1).as_deref(), Some(expected.as_str()));
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn fixed_operator_is_selected_f_6_14_2() {
    let bed = bed(1, |c| {
        line(c, 1).operator = OperatorChoice::Fixed("46000".into());
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        commands(&bed, 1)
            .iter()
            .any(|c| c == "AT+COPS=1,2,\"46000\""),
        "{:?}",
        commands(&bed, 1)
    );
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn fixed_bcch_locks_the_cell_f_6_15_3() {
    let bed = bed(1, |c| {
        line(c, 1).bcch = BcchMode::Fixed(560);
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        commands(&bed, 1).iter().any(|c| c == "AT+QLOCKF=1,560"),
        "{:?}",
        commands(&bed, 1)
    );
    let log = bed.network.event_log().join("\n");
    assert!(log.contains("560"), "{log}");
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn bcch_rotation_locks_a_scanned_cell_and_switches_after_calls_f_6_15_4_to_9() {
    let bed = bed(1, |c| {
        let cfg = RotationConfig::new(
            2,
            (Duration::from_secs(3600), Duration::from_secs(3600)),
            Some(1),
            None,
            Some(BcchList::White(vec![554, 560])),
        )
        .expect("rotation");
        line(c, 1).bcch = BcchMode::Rotation(cfg);
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let locks = |bed: &cellgate_conformance::TestBed| -> Vec<String> {
        commands(bed, 1)
            .into_iter()
            .filter(|c| c.starts_with("AT+QLOCKF=1,"))
            .collect()
    };
    let first = locks(&bed);
    assert_eq!(first.len(), 1, "{:?}", commands(&bed, 1));
    assert!(
        first[0].ends_with(",554") || first[0].ends_with(",560"),
        "{first:?}"
    );
    let mut bed = bed;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let ok = answered_call(&mut bed, "5551234", "rot").await;
    hang_up(&mut bed, "5551234", "rot", &ok).await;
    let after = locks(&bed);
    assert_eq!(after.len(), 2, "switched after 1 call: {after:?}");
    assert_ne!(after[0], after[1]);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn group_mode_forwards_the_access_line_to_an_idle_member_appendix_d() {
    let bed = bed(3, |_| {}).await;
    let numbers: Vec<String> = (1..=3)
        .map(|n| bed.network.sim(n).expect("sim").msisdn)
        .collect();
    bed.stop().await;
    let members = numbers.clone();
    let mut bed = routing_common::bed(3, move |c| {
        c.routing.group = Some(
            GroupPlan::new(
                LineId(1),
                vec![
                    (LineId(2), members[1].clone()),
                    (LineId(3), members[2].clone()),
                ],
            )
            .expect("plan"),
        );
        line(c, 1).outbound_allowed = false;
        line(c, 3).outbound_allowed = false;
        for n in 1..=3 {
            line(c, n).inbound_forward = Some(cellgate_policy::routing::InboundForward::Fixed(
                format!("10{n}@{}", cellgate_conformance::PEER),
            ));
        }
    })
    .await;
    // Appendix D needs the access SIM's call waiting off, or a second caller waits
    // instead of being forwarded as busy.
    bed.network
        .update_sim(1, |s| s.call_waiting = false)
        .expect("sim");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let busy_target = |bed: &cellgate_conformance::TestBed| {
        bed.network
            .sim(1)
            .and_then(|s| s.forwarding.get(&1).cloned())
    };
    assert_eq!(
        busy_target(&bed).as_deref(),
        Some(numbers[1].as_str()),
        "line 2 idle"
    );
    // Line 2 takes a VoIP call: the access line's forwarding moves to line 3.
    let ok = answered_call(&mut bed, "5551234", "g1").await;
    assert_eq!(dialled(&bed, 2), ["5551234"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        busy_target(&bed).as_deref(),
        Some(numbers[2].as_str()),
        "line 2 busy"
    );
    hang_up(&mut bed, "5551234", "g1", &ok).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        busy_target(&bed).as_deref(),
        Some(numbers[1].as_str()),
        "back to line 2"
    );
    // A caller of the access line while it is busy is moved to the member by the
    // network: line 1 busy with one caller, a second caller rings on line 2.
    bed.network
        .phone_calls_line("5550100", 1)
        .expect("first caller");
    let invite = bed.peer.expect_request("INVITE").await;
    bed.peer.respond_to_invite(&invite, 200);
    let _ack = bed.peer.expect_request("ACK").await;
    bed.network
        .phone_calls_line("5550200", 1)
        .expect("second caller");
    let second = bed.peer.expect_request("INVITE").await;
    assert!(second.first_line().contains("sip:102@"), "{}", second.text);
    let calls = bed.network.calls();
    assert!(
        calls.iter().any(|c| c.line == 2),
        "forwarded to line 2: {calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.line == 2 && c.state == CallState::Incoming),
        "{calls:?}"
    );
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn imei_changes_periodically_but_never_during_a_call_f_6_12_2() {
    let mut bed = bed(1, |c| {
        line(c, 1).imei = ImeiPolicy::ChangeEvery(Duration::from_secs(3600));
    })
    .await;
    let first = bed.network.imei(1).expect("imei");
    tokio::time::sleep(Duration::from_secs(3590)).await;
    // A call that runs over the change time holds it back.
    let ok = answered_call(&mut bed, "5551234", "ic").await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        bed.network.imei(1).as_deref(),
        Some(first.as_str()),
        "not during a call"
    );
    hang_up(&mut bed, "5551234", "ic", &ok).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let second = bed.network.imei(1).expect("imei");
    assert_ne!(second, first, "changed once the call ended");
    assert_eq!(second[..8], first[..8]);
    assert!(Imei::parse(&second).is_ok());
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_configured_pin_unlocks_the_sim_once_f_6_10_6() {
    let mut bed = bed(1, |c| {
        line(c, 1).pin = Some("4321".into());
    })
    .await;
    bed.network
        .update_sim(1, |s| {
            s.pin = "4321".into();
            s.pin_enabled = true;
        })
        .expect("sim");
    bed.network
        .inject(1, cellgate_simulator::Fault::Reboot)
        .expect("reboot");
    tokio::time::sleep(Duration::from_secs(30)).await;
    let unlocks = commands(&bed, 1)
        .iter()
        .filter(|c| c.starts_with("AT+CPIN=\""))
        .count();
    assert_eq!(unlocks, 1, "{:?}", commands(&bed, 1));
    let ok = answered_call(&mut bed, "5551234", "pin").await;
    hang_up(&mut bed, "5551234", "pin", &ok).await;
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_wrong_pin_is_tried_only_once_f_6_10_6() {
    let bed = bed(1, |c| {
        line(c, 1).pin = Some("0000".into());
    })
    .await;
    bed.network
        .update_sim(1, |s| {
            s.pin = "4321".into();
            s.pin_enabled = true;
        })
        .expect("sim");
    bed.network
        .inject(1, cellgate_simulator::Fault::Reboot)
        .expect("reboot");
    tokio::time::sleep(Duration::from_secs(60)).await;
    let sim = bed.network.sim(1).expect("sim");
    assert_eq!(sim.pin_tries, 2, "one try used, the SIM is not blocked");
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn gprs_is_attached_and_reattached_after_coverage_returns_f_6_10_1() {
    let bed = bed(1, |c| {
        line(c, 1).gprs = Some(true);
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(bed.network.gprs_attached(1), Some(true));
    bed.network.set_coverage_lost(1, true).expect("coverage");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(bed.network.gprs_attached(1), Some(false));
    bed.network.set_coverage_lost(1, false).expect("coverage");
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(bed.network.gprs_attached(1), Some(true), "attached again");
    bed.stop().await;
}

/// Line 1 calls line 2's SIM; line 2 forwards the call to the SIP peer. Returns whether
/// the forwarded INVITE shows line 1's number, and whether line 1 was sent `AT+CLIR=1`.
async fn line_to_line_caller_id(clir: bool) -> (bool, bool) {
    let mut bed = bed(2, move |c| {
        line(c, 1).clir = clir;
        line(c, 2).outbound_allowed = false;
        line(c, 2).inbound_forward = Some(cellgate_policy::routing::InboundForward::Fixed(
            format!("101@{}", cellgate_conformance::PEER),
        ));
    })
    .await;
    let line1 = bed.network.sim(1).expect("sim").msisdn;
    let line2 = bed.network.sim(2).expect("sim").msisdn;
    bed.peer.invite(&line2, "clir");
    let forwarded = bed.peer.expect_request("INVITE").await;
    let from = forwarded.header("From").unwrap_or_default();
    let sent = commands(&bed, 1).iter().any(|c| c == "AT+CLIR=1");
    bed.stop().await;
    (from.contains(&line1), sent)
}

#[tokio::test(start_paused = true)]
async fn clir_withholds_the_number_on_outbound_calls_f_6_10_21() {
    assert_eq!(line_to_line_caller_id(false).await, (true, false));
    assert_eq!(line_to_line_caller_id(true).await, (false, true));
}

/// The status page's SIM column (F-5.2.1.4) of line `n`.
async fn sim_column(bed: &cellgate_conformance::TestBed, n: u16) -> String {
    let snapshot = bed
        .management
        .snapshot()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    snapshot
        .lines
        .into_iter()
        .find(|l| l.line == n)
        .map(|l| l.sim)
        .unwrap_or_default()
}

/// How often the gateway sent exactly `command` to line `n`.
fn sent(bed: &cellgate_conformance::TestBed, n: u16, command: &str) -> usize {
    commands(bed, n).iter().filter(|c| *c == command).count()
}

#[tokio::test(start_paused = true)]
async fn f_6_10_7_pin2_entered_when_sim_asks() {
    let mut bed = bed(1, |c| {
        line(c, 1).pin2 = Some("5678".into());
    })
    .await;
    assert_eq!(sim_column(&bed, 1).await, "Y");
    assert_eq!(sent(&bed, 1, "AT+CPIN=\"5678\""), 0, "not asked: not sent");
    // An operation needed CHV2: the SIM asks for PIN2.
    bed.network.ask_pin2(1).expect("sim");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let sim = bed.network.sim(1).expect("sim");
    assert!(!sim.pin2_asked, "PIN2 entered: the SIM no longer asks");
    assert_eq!(sim.pin2_tries, 3);
    assert_eq!(
        sent(&bed, 1, "AT+CPIN=\"5678\""),
        1,
        "{:?}",
        commands(&bed, 1)
    );
    assert_eq!(sim_column(&bed, 1).await, "Y", "no longer PIN2");
    // A later request is answered again, once.
    bed.network.ask_pin2(1).expect("sim");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(sent(&bed, 1, "AT+CPIN=\"5678\""), 2);
    assert!(!bed.network.sim(1).expect("sim").pin2_asked);
    // The line carries calls throughout.
    let ok = answered_call(&mut bed, "5551234", "pin2").await;
    hang_up(&mut bed, "5551234", "pin2", &ok).await;
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn f_6_10_7_wrong_pin2_tried_once_only() {
    let bed = bed(1, |c| {
        line(c, 1).pin2 = Some("0000".into());
    })
    .await;
    bed.network.ask_pin2(1).expect("sim");
    tokio::time::sleep(Duration::from_secs(30)).await;
    let sim = bed.network.sim(1).expect("sim");
    assert_eq!(sim.pin2_tries, 2, "one try used, PIN2 not blocked");
    assert!(sim.pin2_asked, "the SIM still asks");
    assert_eq!(sim_column(&bed, 1).await, "PIN2");
    // Asked again, and again after a module restart: the refused PIN2 is not reused.
    bed.network.ask_pin2(1).expect("sim");
    tokio::time::sleep(Duration::from_secs(30)).await;
    bed.network
        .inject(1, cellgate_simulator::Fault::Reboot)
        .expect("reboot");
    tokio::time::sleep(Duration::from_secs(30)).await;
    bed.network.ask_pin2(1).expect("sim");
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        sent(&bed, 1, "AT+CPIN=\"0000\""),
        1,
        "{:?}",
        commands(&bed, 1)
    );
    let sim = bed.network.sim(1).expect("sim");
    assert_eq!(sim.pin2_tries, 2);
    assert_eq!(sim.pin_tries, 3, "PIN 1 untouched");
    assert_eq!(sim_column(&bed, 1).await, "PIN2");
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn f_6_10_7_fixed_dialing_is_switched_on_at_start_up() {
    let bed = bed(2, |c| {
        line(c, 1).pin2 = Some("5678".into());
        line(c, 1).fixed_dialing = Some(true);
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let sim = bed.network.sim(1).expect("sim");
    assert!(sim.fixed_dialing, "the SIM's FDN lock is on");
    assert_eq!(sim.pin2_tries, 3);
    assert_eq!(
        sent(&bed, 1, "AT+CLCK=\"FD\",1,\"5678\""),
        1,
        "{:?}",
        commands(&bed, 1)
    );
    // Line 2 has no fixed_dialing setting: its SIM is left alone.
    assert!(!bed.network.sim(2).expect("sim").fixed_dialing);
    assert!(!commands(&bed, 2).iter().any(|c| c.contains("\"FD\"")));
    // After a module restart the lock is read, found on, and not set again.
    bed.network
        .inject(1, cellgate_simulator::Fault::Reboot)
        .expect("reboot");
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(
        sent(&bed, 1, "AT+CLCK=\"FD\",2") >= 2,
        "{:?}",
        commands(&bed, 1)
    );
    assert_eq!(sent(&bed, 1, "AT+CLCK=\"FD\",1,\"5678\""), 1);
    assert_eq!(sim_column(&bed, 1).await, "Y");
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn f_6_10_7_fixed_dialing_with_a_wrong_pin2_is_tried_once_only() {
    let bed = bed(1, |c| {
        line(c, 1).pin2 = Some("1111".into());
        line(c, 1).fixed_dialing = Some(true);
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    bed.network
        .inject(1, cellgate_simulator::Fault::Reboot)
        .expect("reboot");
    tokio::time::sleep(Duration::from_secs(30)).await;
    let sim = bed.network.sim(1).expect("sim");
    assert!(!sim.fixed_dialing);
    assert_eq!(sim.pin2_tries, 2, "one try used, not one per start-up");
    assert_eq!(sent(&bed, 1, "AT+CLCK=\"FD\",1,\"1111\""), 1);
    bed.stop().await;
}
