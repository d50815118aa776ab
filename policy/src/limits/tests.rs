//! Behaviour of the SIM limits, named after the features they check.

use std::time::Duration;

use time::macros::datetime;
use time::PrimitiveDateTime;

use super::*;

fn cfg(minutes: &str, calls: &str) -> SimLimits {
    SimLimits {
        minutes: LimitSpec::parse(minutes).unwrap(),
        calls: LimitSpec::parse(calls).unwrap(),
        ..SimLimits::default()
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn answered(u: &mut SimUsage, c: &SimLimits, talk_s: u64, at: Option<PrimitiveDateTime>) {
    u.call_ended(c, true, secs(talk_s), at);
}

/// F-6.10.19 manual example: 68 s with a 60 s unit is charged as 2 minutes.
#[test]
fn f_6_10_19_billing_rounds_up_to_units() {
    let c = SimLimits::default();
    assert_eq!(c.billing_unit_s, 60);
    assert_eq!(c.billed_seconds(secs(68)), 120);
    assert_eq!(c.billed_seconds(secs(60)), 60);
    assert_eq!(c.billed_seconds(secs(61)), 120);
    // Measured time is rounded to the nearest second first.
    assert_eq!(c.billed_seconds(Duration::from_millis(60_400)), 60);
    assert_eq!(c.billed_seconds(Duration::from_millis(60_500)), 120);
    // An answered call costs at least one unit.
    assert_eq!(c.billed_seconds(Duration::ZERO), 60);
    // Unit 1 (and 0, read as 1) bills by the second.
    let per_second = SimLimits {
        billing_unit_s: 0,
        ..SimLimits::default()
    };
    assert_eq!(per_second.billed_seconds(secs(68)), 68);
}

/// F-6.10.17: the correction is added before rounding to units.
#[test]
fn f_6_10_17_correction_added_before_rounding() {
    let c = SimLimits {
        correction_s: 5,
        ..SimLimits::default()
    };
    assert_eq!(c.billed_seconds(secs(55)), 60);
    assert_eq!(c.billed_seconds(secs(56)), 120);
}

/// F-6.10.11, F-6.10.15: a total limit counts down and locks at 0, with or without network time.
#[test]
fn f_6_10_11_total_limit_locks_at_zero() {
    let c = cfg("3", "");
    let mut u = SimUsage::new();
    assert_eq!(u.remaining_seconds(&c, None), Some(180));
    answered(&mut u, &c, 68, None);
    assert_eq!(u.remaining_seconds(&c, None), Some(60));
    assert_eq!(u.remaining_minutes(&c, None), Some(1));
    assert_eq!(u.outbound_allowed(&c, None), Ok(()));
    answered(&mut u, &c, 10, Some(datetime!(2024-03-01 10:00)));
    assert_eq!(u.remaining_seconds(&c, None), Some(0));
    assert_eq!(u.outbound_allowed(&c, None), Err(Exhausted::Minutes));
    // F-5.2.2.22: resetting the remaining time unlocks the line.
    u.reset_minutes(&c, None);
    assert_eq!(u.remaining_seconds(&c, None), Some(180));
    assert_eq!(u.outbound_allowed(&c, None), Ok(()));
}

#[test]
fn no_limit_means_unlimited() {
    let c = SimLimits::default();
    let mut u = SimUsage::new();
    answered(&mut u, &c, 600, None);
    assert_eq!(u.remaining_seconds(&c, None), None);
    assert_eq!(u.remaining_calls(&c, None), None);
    assert_eq!(u.outbound_allowed(&c, None), Ok(()));
    assert_eq!(u.max_call_duration(&c, None), None);
}

/// F-6.10.10: unanswered calls cost no minutes and count only when configured.
#[test]
fn f_6_10_10_unanswered_calls() {
    let mut c = cfg("10", "5");
    let mut u = SimUsage::new();
    u.call_ended(&c, false, Duration::ZERO, None);
    assert_eq!(u.remaining_seconds(&c, None), Some(600));
    assert_eq!(u.remaining_calls(&c, None), Some(5));
    c.count_unanswered = true;
    u.call_ended(&c, false, Duration::ZERO, None);
    assert_eq!(u.remaining_calls(&c, None), Some(4));
    answered(&mut u, &c, 30, None);
    assert_eq!(u.remaining_calls(&c, None), Some(3));
    assert_eq!(u.remaining_seconds(&c, None), Some(540));
}

/// F-6.10.8: the call-count limit locks outbound calls at 0.
#[test]
fn f_6_10_8_call_count_limit() {
    let c = cfg("", "2");
    let mut u = SimUsage::new();
    answered(&mut u, &c, 30, None);
    answered(&mut u, &c, 30, None);
    assert_eq!(u.remaining_calls(&c, None), Some(0));
    assert_eq!(u.outbound_allowed(&c, None), Err(Exhausted::Calls));
    u.reset_calls(&c, None);
    assert_eq!(u.remaining_calls(&c, None), Some(2));
}

/// F-6.10.12 manual example: 100 min in 05:00-12:00, 200 min in 12:00-23:00, no limit
/// otherwise, and each period's quota renews the next day.
#[test]
fn f_6_10_12_periods_renew_daily() {
    let c = cfg("05:00-12:00,100|12:00-23:00,200", "");
    let mut u = SimUsage::new();
    let morning = Some(datetime!(2024-03-01 06:00));
    assert_eq!(u.remaining_seconds(&c, morning), Some(6000));
    answered(&mut u, &c, 100 * 60, morning);
    assert_eq!(u.remaining_seconds(&c, morning), Some(0));
    assert_eq!(
        u.outbound_allowed(&c, Some(datetime!(2024-03-01 11:59))),
        Err(Exhausted::Minutes)
    );
    // 12:00 belongs to the second period, which has its own quota.
    let noon = Some(datetime!(2024-03-01 12:00));
    assert_eq!(u.remaining_seconds(&c, noon), Some(12000));
    assert_eq!(u.outbound_allowed(&c, noon), Ok(()));
    // Outside every period: no limit.
    assert_eq!(
        u.remaining_seconds(&c, Some(datetime!(2024-03-01 23:00))),
        None
    );
    assert_eq!(
        u.remaining_seconds(&c, Some(datetime!(2024-03-02 04:59))),
        None
    );
    // Next day: the morning quota is back.
    let next = Some(datetime!(2024-03-02 05:00));
    assert_eq!(u.remaining_seconds(&c, next), Some(6000));
    answered(&mut u, &c, 60, next);
    assert_eq!(u.remaining_seconds(&c, next), Some(5940));
}

/// Calls outside every period are not charged anywhere.
#[test]
fn f_6_10_12_calls_outside_periods_are_free() {
    let c = cfg("05:00-12:00,100", "");
    let mut u = SimUsage::new();
    answered(&mut u, &c, 3600, Some(datetime!(2024-03-01 04:00)));
    assert_eq!(
        u.remaining_seconds(&c, Some(datetime!(2024-03-01 05:00))),
        Some(6000)
    );
}

/// F-6.10.13 manual example `D5,1000`: the window starts at 00:00 on the 5th.
#[test]
fn f_6_10_13_monthly_window_rolls_over_on_day_5() {
    let c = cfg("D5,1000", "");
    let mut u = SimUsage::new();
    let before = Some(datetime!(2024-03-04 23:59));
    answered(&mut u, &c, 600, before);
    assert_eq!(u.remaining_seconds(&c, before), Some(60_000 - 600));
    // Same window back to 5 February.
    assert_eq!(
        u.remaining_seconds(&c, Some(datetime!(2024-02-05 00:00))),
        Some(60_000 - 600)
    );
    assert_eq!(
        u.remaining_seconds(&c, Some(datetime!(2024-02-04 23:59))),
        Some(60_000)
    );
    // 00:00 on 5 March starts a fresh window.
    let after = Some(datetime!(2024-03-05 00:00));
    assert_eq!(u.remaining_seconds(&c, after), Some(60_000));
    answered(&mut u, &c, 60, after);
    assert_eq!(
        u.remaining_seconds(&c, Some(datetime!(2024-04-04 12:00))),
        Some(60_000 - 60)
    );
    assert_eq!(
        u.remaining_seconds(&c, Some(datetime!(2024-04-05 00:00))),
        Some(60_000)
    );
}

/// F-6.10.13: a day past the month's end means the month's last day; January looks back
/// to December of the previous year.
#[test]
fn f_6_10_13_monthly_day_clamped_to_month_length() {
    let c = cfg("D31,10", "");
    let mut u = SimUsage::new();
    answered(&mut u, &c, 60, Some(datetime!(2024-02-28 12:00)));
    // 28 Feb is in the window that started 31 Jan; 29 Feb (leap year) starts the next.
    assert_eq!(
        u.remaining_seconds(&c, Some(datetime!(2024-01-31 00:00))),
        Some(540)
    );
    assert_eq!(
        u.remaining_seconds(&c, Some(datetime!(2024-02-29 00:00))),
        Some(600)
    );
    let c5 = cfg("D5,10", "");
    let mut u = SimUsage::new();
    answered(&mut u, &c5, 60, Some(datetime!(2024-01-03 12:00)));
    assert_eq!(
        u.remaining_seconds(&c5, Some(datetime!(2023-12-05 00:00))),
        Some(540)
    );
}

/// F-6.10.14: without network time, period and monthly minute limits give 0 and lock the
/// line; SIP registration is paused by default (F-6.10.3); a total limit keeps working.
#[test]
fn f_6_10_14_no_network_time_minutes_are_zero() {
    for (spec, full) in [("05:00-12:00,100", 6000), ("D5,1000", 60_000)] {
        let c = cfg(spec, "");
        let mut u = SimUsage::new();
        u.refresh(&c, Some(datetime!(2024-03-06 06:00)));
        assert_eq!(u.remaining_seconds(&c, None), Some(0), "{spec}");
        assert_eq!(u.outbound_allowed(&c, None), Err(Exhausted::Minutes));
        assert_eq!(
            u.registration_policy(&c, None),
            Registrations {
                sip: false,
                module: true
            }
        );
        // Network time obtained: back to normal.
        let t = Some(datetime!(2024-03-06 06:01));
        assert_eq!(u.remaining_seconds(&c, t), Some(full));
        assert_eq!(u.outbound_allowed(&c, t), Ok(()));
    }
    let total = cfg("100", "");
    assert_eq!(SimUsage::new().remaining_seconds(&total, None), Some(6000));
}

/// F-6.10.9: without network time a period or monthly call-count limit stays at its last
/// known value, also across a restart (the usage is persisted).
#[test]
fn f_6_10_9_no_network_time_calls_keep_last_value() {
    let c = cfg("", "D1,10");
    let mut u = SimUsage::new();
    let t = Some(datetime!(2024-03-10 09:00));
    for _ in 0..3 {
        answered(&mut u, &c, 30, t);
    }
    assert_eq!(u.remaining_calls(&c, t), Some(7));
    // Restart: the state is reloaded and there is no network time yet.
    let json = serde_json::to_string(&u).unwrap();
    let mut u: SimUsage = serde_json::from_str(&json).unwrap();
    assert_eq!(u.remaining_calls(&c, None), Some(7));
    assert_eq!(u.outbound_allowed(&c, None), Ok(()));
    // A call made meanwhile lowers the frozen value.
    answered(&mut u, &c, 30, None);
    assert_eq!(u.remaining_calls(&c, None), Some(6));
    // Time back in the same month: the call is placed in that window.
    let mut same = u.clone();
    same.refresh(&c, Some(datetime!(2024-03-20 09:00)));
    assert_eq!(
        same.remaining_calls(&c, Some(datetime!(2024-03-20 09:00))),
        Some(6)
    );
    // Time back in a new month: the call made without time counts in the new window.
    let april = Some(datetime!(2024-04-02 09:00));
    assert_eq!(u.remaining_calls(&c, april), Some(9));
    u.refresh(&c, april);
    assert_eq!(u.remaining_calls(&c, None), Some(9));
}

/// F-6.10.9: a line that never had network time has no last value: the limit reads 0.
#[test]
fn f_6_10_9_never_known_is_zero() {
    let c = cfg("", "05:00-12:00,5");
    let u = SimUsage::new();
    assert_eq!(u.remaining_calls(&c, None), Some(0));
    assert_eq!(u.outbound_allowed(&c, None), Err(Exhausted::Calls));
    // Last seen outside every period: stays unlimited.
    let mut u = SimUsage::new();
    u.refresh(&c, Some(datetime!(2024-03-01 13:00)));
    assert_eq!(u.remaining_calls(&c, None), None);
}

/// F-5.2.1.20: resetting the call count without network time restores the limit of the
/// last window seen.
#[test]
fn f_5_2_1_20_reset_calls_without_network_time() {
    let c = cfg("", "D1,4");
    let mut u = SimUsage::new();
    for _ in 0..4 {
        answered(&mut u, &c, 10, Some(datetime!(2024-03-02 10:00)));
    }
    assert_eq!(u.remaining_calls(&c, None), Some(0));
    u.reset_calls(&c, None);
    assert_eq!(u.remaining_calls(&c, None), Some(4));
}

/// F-6.10.16: with hang-up-when-used-up the call may last the remaining time (less the
/// correction); F-6.10.18 caps each call.
#[test]
fn f_6_10_16_max_call_duration() {
    let mut c = cfg("10", "");
    let mut u = SimUsage::new();
    answered(&mut u, &c, 68, None); // 120 s billed, 480 s left
    assert_eq!(u.max_call_duration(&c, None), None);
    c.hang_up_when_used_up = true;
    assert_eq!(u.max_call_duration(&c, None), Some(secs(480)));
    c.per_call_max_min = Some(5);
    assert_eq!(u.max_call_duration(&c, None), Some(secs(300)));
    c.per_call_max_min = Some(0); // 0 = no per-call maximum
    assert_eq!(u.max_call_duration(&c, None), Some(secs(480)));
    c.per_call_max_min = Some(60);
    c.correction_s = 2;
    assert_eq!(u.max_call_duration(&c, None), Some(secs(478)));
    // Running the whole allowed time uses up exactly what was left.
    answered(&mut u, &c, 478, None);
    assert_eq!(u.remaining_seconds(&c, None), Some(0));
    assert_eq!(u.max_call_duration(&c, None), Some(Duration::ZERO));
}

/// F-6.10.18 without any minute limit.
#[test]
fn f_6_10_18_per_call_max_alone() {
    let c = SimLimits {
        per_call_max_min: Some(3),
        hang_up_when_used_up: true,
        ..SimLimits::default()
    };
    assert_eq!(SimUsage::new().max_call_duration(&c, None), Some(secs(180)));
}

/// F-6.10.2, F-6.10.3, F-6.10.15: registrations once a limit is used up.
#[test]
fn f_6_10_15_registrations_when_used_up() {
    let mut c = cfg("", "1");
    let mut u = SimUsage::new();
    let all = Registrations {
        sip: true,
        module: true,
    };
    assert_eq!(u.registration_policy(&c, None), all);
    answered(&mut u, &c, 10, None);
    assert_eq!(
        u.registration_policy(&c, None),
        Registrations {
            sip: false,
            module: true
        }
    );
    c.keep_sip_registered = true;
    c.keep_module_registered = false;
    assert_eq!(
        u.registration_policy(&c, None),
        Registrations {
            sip: true,
            module: false
        }
    );
}

/// F-6.13.8, F-5.2.1.19: SMS quota, blocked at 0, reset to the maximum.
#[test]
fn f_6_13_8_sms_limit() {
    let mut c = SimLimits {
        sms: Some(3),
        ..SimLimits::default()
    };
    let mut u = SimUsage::new();
    assert_eq!(u.remaining_sms(&c), Some(3));
    u.sms_sent(2);
    assert!(u.sms_allowed(&c));
    u.sms_sent(1);
    assert_eq!(u.remaining_sms(&c), Some(0));
    assert!(!u.sms_allowed(&c));
    u.reset_sms();
    assert_eq!(u.remaining_sms(&c), Some(3));
    c.sms = None;
    u.sms_sent(100);
    assert!(u.sms_allowed(&c));
    assert_eq!(u.remaining_sms(&c), None);
    c.sms = Some(0);
    assert!(!u.sms_allowed(&c));
}

/// F-6.10.20: the balance report is due once when the remaining time falls to the
/// threshold, and again only after a reset.
#[test]
fn f_6_10_20_balance_report_once() {
    let mut c = cfg("10", "");
    c.balance_report = Some(BalanceReport {
        number: "13800000000".into(),
        identifier: "SIM7".into(),
        threshold_min: 5,
    });
    let mut u = SimUsage::new();
    answered(&mut u, &c, 240, None);
    assert_eq!(u.balance_report_due(&c, None), None); // 6 min left
    answered(&mut u, &c, 120, None);
    assert_eq!(
        u.balance_report_due(&c, None).as_deref(),
        Some("SIM7: 4 min left")
    );
    assert_eq!(u.balance_report_due(&c, None), None);
    answered(&mut u, &c, 120, None);
    assert_eq!(u.balance_report_due(&c, None), None);
    u.reset_minutes(&c, None);
    assert_eq!(u.balance_report_due(&c, None), None);
    answered(&mut u, &c, 600, None);
    if let Some(r) = c.balance_report.as_mut() {
        r.identifier.clear();
    }
    assert_eq!(
        u.balance_report_due(&c, None).as_deref(),
        Some("0 min left")
    );
}

/// F-6.10.20 with periods: the renewal the next day re-arms the report; no report without
/// network time.
#[test]
fn f_6_10_20_balance_report_rearmed_by_renewal() {
    let mut c = cfg("05:00-12:00,10", "");
    c.balance_report = Some(BalanceReport {
        number: "1".into(),
        identifier: "L1".into(),
        threshold_min: 5,
    });
    let mut u = SimUsage::new();
    assert_eq!(u.balance_report_due(&c, None), None);
    let d1 = Some(datetime!(2024-03-01 06:00));
    answered(&mut u, &c, 360, d1);
    assert_eq!(
        u.balance_report_due(&c, d1).as_deref(),
        Some("L1: 4 min left")
    );
    assert_eq!(u.balance_report_due(&c, d1), None);
    let d2 = Some(datetime!(2024-03-02 06:00));
    assert_eq!(u.balance_report_due(&c, d2), None); // 10 min again
    answered(&mut u, &c, 360, d2);
    assert_eq!(
        u.balance_report_due(&c, d2).as_deref(),
        Some("L1: 4 min left")
    );
}

/// SimUsage persists as JSON and reads back equal; missing fields default.
#[test]
fn usage_serde_round_trip() {
    let c = cfg("05:00-12:00,100", "D5,10");
    let mut u = SimUsage::new();
    answered(&mut u, &c, 68, Some(datetime!(2024-03-01 06:00)));
    u.sms_sent(2);
    let json = serde_json::to_string(&u).unwrap();
    assert_eq!(serde_json::from_str::<SimUsage>(&json).unwrap(), u);
    assert_eq!(
        serde_json::from_str::<SimUsage>("{}").unwrap(),
        SimUsage::new()
    );
}

/// SimLimits reads from JSON with the limit fields as text and defaults for the rest.
#[test]
fn limits_config_from_json() {
    let c: SimLimits =
        serde_json::from_str(r#"{"minutes":"05:00-12:00,100|12:00-23:00,200","calls":"D5,10"}"#)
            .unwrap();
    assert_eq!(c.minutes.to_string(), "05:00-12:00,100|12:00-23:00,200");
    assert_eq!(c.calls, LimitSpec::Monthly { day: 5, limit: 10 });
    assert_eq!(c.billing_unit_s, 60);
    assert!(!c.keep_sip_registered);
}
