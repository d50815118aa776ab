//! Tests of the routing, limit and policy sections and of the annotated example file.

use std::path::Path;
use std::time::Duration;

use cellgate_engine::gateway::{CallWaiting, CidMode, OutboundForward};
use cellgate_engine::lines::LineSelection;
use cellgate_hal::LineId;
use cellgate_policy::gsm::{BcchMode, ForwardPolicy, ImeiPolicy, OperatorChoice};
use cellgate_policy::limits::LimitSpec;
use cellgate_policy::routing::{AuthMode, InboundForward, PrefixRoute};
use cellgate_policy::schedule::Schedule;

use super::{Config, ConfigError};

const EXAMPLE: &str = include_str!("../../../docs/cellgate.example.toml");

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("test.toml"))
}

/// The error message of a configuration that must be refused.
fn refused(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const SIP: &str = "[sip]\nlisten = \"192.0.2.1:5060\"\n";

fn line(id: u16, extra: &str) -> String {
    format!("[[line]]\nid = {id}\ndevice = \"/dev/l{id}\"\n{extra}")
}

#[test]
fn example_file_parses_and_maps_to_the_engine() {
    let config = Config::parse(EXAMPLE, Path::new("docs/cellgate.example.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.database_path(), Path::new("docs/cellgate.db"));
    let g = config.gateway_config();
    assert_eq!(g.lines.len(), 4);

    let l1 = &g.lines[&LineId(1)];
    assert_eq!(
        l1.outbound_forward,
        Some(OutboundForward::ServiceDtmf("91000".into()))
    );
    assert_eq!(
        l1.dial_rules.rewrite("8613800000000", false).as_deref(),
        Some("13800000000")
    );
    assert_eq!(l1.dial_timeout, Some(Duration::from_secs(60)));
    assert_eq!(l1.auto_redial, 1);
    assert_eq!(l1.rest.map(|r| r.range_secs()), Some((30, 60)));
    assert_eq!(l1.outbound_auth.mode(), AuthMode::None);
    assert_eq!(l1.inbound_auth.mode(), AuthMode::Blacklist);
    assert!(matches!(
        l1.inbound_forward,
        Some(InboundForward::ByCaller(_))
    ));
    assert_eq!(l1.cid_mode, Some(CidMode::RemotePartyId));
    assert_eq!(l1.repeat_callers.map(|r| r.limit()), Some(3));
    assert_eq!(l1.call_waiting, CallWaiting::Disabled);
    assert!(matches!(l1.limits.minutes, LimitSpec::Periods(ref p) if p.len() == 2));
    assert_eq!(l1.pin.as_deref(), Some("1234"));
    assert_eq!((l1.pin2.as_deref(), l1.fixed_dialing), (Some("5678"), None));
    assert!(!l1.clir);
    assert_eq!(l1.gprs, Some(true));
    assert_eq!(
        l1.limits.calls,
        LimitSpec::Monthly {
            day: 5,
            limit: 1000
        }
    );
    assert_eq!(l1.limits.sms, Some(100));
    assert_eq!(
        l1.limits.balance_report.as_ref().map(|b| b.threshold_min),
        Some(10)
    );
    assert_eq!(l1.sim_number.as_deref(), Some("+8613800000001"));
    assert_eq!(
        l1.forwarding.not_reachable,
        ForwardPolicy::Enable("+8613800000099".into())
    );
    assert_eq!(l1.forwarding.no_reply, ForwardPolicy::Disable);
    assert_eq!(l1.forwarding.no_reply_seconds, Some(20));
    assert!(matches!(&l1.bcch, BcchMode::Rotation(r) if r.max_cells == 3
        && r.interval == (Duration::from_secs(1800), Duration::from_secs(3000))));

    // Line 2 sets nothing: the [defaults] tables apply.
    let l2 = &g.lines[&LineId(2)];
    assert_eq!(l2.dial_timeout, Some(Duration::from_secs(60)));
    assert_eq!(l2.no_ring_timeout, Some(Duration::from_secs(20)));
    assert_eq!(l2.inbound_forward, Some(InboundForward::TwoStage));
    assert!(l2.dial_rules.is_empty());
    assert_eq!(g.lines[&LineId(3)].dial_rules.as_str(), "[1-3]XX:+9");

    let l4 = &g.lines[&LineId(4)];
    assert!(!l4.inbound_allowed);
    assert!(matches!(l4.imei, ImeiPolicy::Fixed(i) if i.as_str() == "490154203237518"));
    assert_eq!(l4.operator, "46001".parse::<OperatorChoice>().unwrap());
    assert_eq!(l4.bcch, BcchMode::Fixed(62));

    // Routing: line 1 has its own prefixes, lines 2..4 get 002..004 from prefix_auto.
    let prefixes = g.routing.prefixes.as_ref().expect("prefixes");
    assert_eq!(
        prefixes.route("", "0025551234"),
        PrefixRoute::Lines {
            lines: vec![LineId(2)],
            number: "5551234".into()
        }
    );
    assert_eq!(
        prefixes.route("", "13900000000"),
        PrefixRoute::Lines {
            lines: vec![LineId(1)],
            number: "900000000".into()
        }
    );
    assert_eq!(prefixes.route("", "0091"), PrefixRoute::NoMatch);
    assert!(g.routing.call_memory);
    assert_eq!(g.line_selection, LineSelection::RoundRobin);
    assert_eq!(g.routing.own_numbers["8000"], Vec::<LineId>::new());
    assert_eq!(g.routing.own_numbers["8001"], vec![LineId(1)]);
    assert_eq!(g.routing.own_numbers["goip-02"], vec![LineId(2)]);
    assert_eq!(g.routing.utc_offset.whole_hours(), 8);
    assert!(matches!(g.routing.reboot, Some(Schedule::Daily(t)) if t.hour() == 3));
    assert!(matches!(g.routing.cdr_reset, Some(Schedule::Daily(t)) if t.hour() == 0));
    assert_eq!(g.serial.as_deref(), Some("CG-0001"));
    let policy = g.routing.run_policy.as_ref().expect("run policy");
    assert_eq!((policy.conditions.len(), policy.threshold_calls), (2, 30));
    let group = g.routing.group.as_ref().expect("group");
    assert_eq!(group.access(), LineId(1));
    assert_eq!(group.members().len(), 2);
    assert_eq!(g.media.tone_standard, "CN");
    assert!(g.media.custom_tones.contains_key("busy"));
    assert_eq!(g.registrations[0].lines, vec![LineId(1)]);
    assert_eq!(g.registrations[3].lines, vec![LineId(4)]);
    assert_eq!(
        g.extension_host.map(|h| h.to_string()).as_deref(),
        Some("192.0.2.50:5060")
    );
}

#[test]
fn a_broken_dial_rule_names_the_line_the_key_and_the_column() {
    let err = refused(&format!(
        "{SIP}{}{}",
        line(1, ""),
        line(3, "[line.outbound]\ndial_rules = \"86:-86|[8-3]:+0\"\n")
    ));
    assert!(
        err.contains("line 3: outbound.dial_rules: column 8"),
        "{err}"
    );
    let err = refused(&format!(
        "{SIP}[defaults.inbound]\ncid_rules = \"86:-86|[8-3]:+0\"\n{}",
        line(1, "")
    ));
    assert!(
        err.contains("defaults.inbound.cid_rules: column 8"),
        "{err}"
    );
}

#[test]
fn an_overlapping_line_prefix_names_both_lines() {
    let base = "[sip]\nlisten = \"192.0.2.1:5060\"\nmode = \"per_line\"\n";
    let err = refused(&format!(
        "{base}{}{}",
        line(1, "prefix = \"13\"\n"),
        line(2, "prefix = \"00,135\"\n")
    ));
    assert!(
        err.contains("line1") && err.contains("line2") && err.contains("\"135\""),
        "{err}"
    );
    // Per-line mode: once a prefix is configured, every line needs one (F-6.3.17)...
    let err = refused(&format!(
        "{base}{}{}",
        line(1, "prefix = \"13\"\n"),
        line(2, "")
    ));
    assert!(err.contains("line2 has no gateway prefix"), "{err}");
    // ... but with no prefix at all, any line may take a call.
    let c = parse(&format!("{base}{}{}", line(1, ""), line(2, ""))).unwrap();
    assert!(c.gateway_config().routing.prefixes.is_none());
    // Single mode: prefixes may overlap; the longest match wins.
    let c = parse(&format!(
        "{SIP}{}{}",
        line(1, "prefix = \"13\"\n"),
        line(2, "prefix = \"135\"\n")
    ))
    .unwrap();
    let g = c.gateway_config();
    let route = g.routing.prefixes.as_ref().unwrap().route("", "1351");
    assert!(matches!(route, PrefixRoute::Lines { lines, .. } if lines == vec![LineId(2)]));
    let err = refused(&format!("{SIP}{}", line(1, "prefix = \"1,,2\"\n")));
    assert!(err.contains("line 1: prefix"), "{err}");
}

#[test]
fn unknown_keys_are_named_in_every_new_table() {
    for (text, key) in [
        ("[routing]\nmatches = \"callee\"\n", "matches"),
        ("[system]\ntime_zone = \"GMT\"\n", "time_zone"),
        ("[defaults.sim]\nminute = \"10\"\n", "minute"),
        (
            "[run_policy]\nconditions = [\"asr<30\"]\nactions = [\"reset_cdr\"]\nthreshold = 3\n",
            "threshold",
        ),
    ] {
        let err = refused(&format!("{SIP}{text}"));
        assert!(err.contains(key), "{text}: {err}");
    }
    let err = refused(&format!(
        "{SIP}{}",
        line(1, "[line.outbound]\ndial_rule = \"86:-86\"\n")
    ));
    assert!(err.contains("dial_rule"), "{err}");
    let err = refused(&format!("{SIP}{}", line(1, "[line.gsm]\nbcch_cell = 3\n")));
    assert!(err.contains("bcch_cell"), "{err}");
}

#[test]
fn bad_limits_and_numbers_out_of_range_are_named() {
    for (table, bad, key) in [
        (
            "sim",
            "minutes = \"05:00-25:00,100\"",
            "line 1: sim.minutes: limit, column",
        ),
        ("sim", "calls = \"D32,10\"", "line 1: sim.calls"),
        ("sim", "billing_unit_secs = 0", "sim.billing_unit_secs"),
        ("sim", "pin = \"12a4\"", "sim.pin"),
        ("outbound", "auto_redial = 6", "outbound.auto_redial"),
        (
            "outbound",
            "dial_timeout_secs = 601",
            "outbound.dial_timeout_secs",
        ),
        ("outbound", "rest_every = 5", "outbound.rest_every"),
        ("outbound", "auth = \"password\"", "outbound.password"),
        ("outbound", "auth = \"sometimes\"", "outbound.auth"),
        (
            "outbound",
            "forward_number = \"12ab\"",
            "outbound.forward_number",
        ),
        (
            "inbound",
            "repeat_caller_limit = 1",
            "inbound.repeat_caller_limit",
        ),
        (
            "inbound",
            "no_input_timeout_secs = 0",
            "inbound.no_input_timeout_secs",
        ),
        (
            "inbound",
            "call_waiting = \"maybe\"",
            "inbound.call_waiting",
        ),
        ("inbound", "cid = \"header\"", "inbound.cid"),
        ("inbound", "forward = \"010>\"", "inbound.forward"),
        ("gsm", "forward_busy = \"later\"", "gsm.forward_busy"),
        (
            "gsm",
            "forward_no_reply_secs = 7",
            "gsm.forward_no_reply_secs",
        ),
        ("gsm", "operator = \"460\"", "gsm.operator"),
        ("gsm", "bcch = \"99999\"", "gsm.bcch"),
        (
            "gsm",
            "bcch_cells = 3",
            "only apply with gsm.bcch = \"rotation\"",
        ),
        ("gsm", "imei = \"every 10s\"", "gsm.imei"),
    ] {
        let err = refused(&format!(
            "{SIP}{}",
            line(1, &format!("[line.{table}]\n{bad}\n"))
        ));
        assert!(err.contains(key), "{bad}: {err}");
    }
    let err = refused(&format!("{SIP}{}", line(1, "sim_number = \"12-34\"\n")));
    assert!(err.contains("line 1: sim_number"), "{err}");
    let err = refused(&format!("{SIP}[media]\ntone_standard = \"XX\"\n"));
    assert!(err.contains("media.tone_standard"), "{err}");
    let err = refused(&format!("{SIP}[media.tones]\nbusy = \"1,0,abc\"\n"));
    assert!(err.contains("media.tones.busy: column"), "{err}");
}

#[test]
fn bad_schedules_and_timezones_are_named() {
    for (text, key) in [
        (
            "reboot = \"25:00\"",
            "system.reboot = \"25:00\": schedule, column 1",
        ),
        ("reboot = \"0\"", "system.reboot"),
        ("cdr_reset = \"30\"", "system.cdr_reset"),
        ("timezone = \"GMT+13\"", "system.timezone = \"GMT+13\""),
        ("timezone = \"CET\"", "system.timezone"),
        ("timezone = \"UTC-12\"", "system.timezone"),
    ] {
        let err = refused(&format!("{SIP}[system]\n{text}\n"));
        assert!(err.contains(key), "{text}: {err}");
    }
    let c = parse(&format!(
        "{SIP}[system]\ntimezone = \"utc-11\"\nreboot = \"90\"\ncdr_reset = \"\"\n"
    ))
    .unwrap();
    let g = c.gateway_config();
    assert_eq!(g.routing.utc_offset.whole_hours(), -11);
    assert_eq!(
        g.routing.reboot,
        Some(Schedule::Every(Duration::from_secs(5400)))
    );
    assert_eq!(g.routing.cdr_reset, None);
}

#[test]
fn a_bad_run_policy_condition_is_named() {
    let run = |body: &str| refused(&format!("{SIP}[run_policy]\n{body}\n"));
    let err = run("conditions = [\"asr<30\", \"asr<300\"]\nactions = [\"disable_voip\"]");
    assert!(
        err.contains("run_policy.conditions[1]: condition `asr<300`"),
        "{err}"
    );
    let err = run("conditions = [\"sometimes\"]\nactions = [\"disable_voip\"]");
    assert!(err.contains("run_policy.conditions[0]"), "{err}");
    let err = run("conditions = [\"asr<30\"]\nactions = [\"explode\"]");
    assert!(err.contains("run_policy.actions[0]"), "{err}");
    let err = run("conditions = [\"asr<30\"]");
    assert!(err.contains("no action"), "{err}");
    let err = run("conditions = [\"asr<30\"]\nactions = [\"reset_cdr\"]\ncombine = \"most\"");
    assert!(err.contains("run_policy.combine"), "{err}");
}

#[test]
fn an_imei_with_a_wrong_check_digit_is_refused() {
    let err = refused(&format!(
        "{SIP}{}",
        line(1, "[line.gsm]\nimei = \"490154203237519\"\n")
    ));
    assert!(
        err.contains("line 1: gsm.imei") && err.contains("check digit"),
        "{err}"
    );
}

#[test]
fn group_lines_must_exist_and_members_need_a_sim_number() {
    let group = "[group]\naccess_line = 1\nmembers = [2, 3]\n";
    let err = refused(&format!(
        "{SIP}{group}{}{}{}",
        line(1, ""),
        line(2, "sim_number = \"+8613800000002\"\n"),
        line(3, "")
    ));
    assert!(
        err.contains("group.members: line 3 has no sim_number"),
        "{err}"
    );
    let err = refused(&format!(
        "{SIP}{group}{}{}",
        line(1, ""),
        line(2, "sim_number = \"+8613800000002\"\n")
    ));
    assert!(err.contains("group: line 3 is not configured"), "{err}");
    let members = format!(
        "{}{}",
        line(2, "sim_number = \"+8613800000002\"\n"),
        line(3, "sim_number = \"+8613800000003\"\n")
    );
    let err = refused(&format!(
        "{SIP}{group}{}{members}",
        line(1, "[line.gsm]\nforward_busy = \"disable\"\n")
    ));
    assert!(err.contains("line 1: gsm.forward_busy"), "{err}");
    let err = refused(&format!(
        "{SIP}{group}{}{members}",
        line(1, "[line.inbound]\ncall_waiting = \"key-switch\"\n")
    ));
    assert!(err.contains("line 1: inbound.call_waiting"), "{err}");
    let c = parse(&format!("{SIP}{group}{}{members}", line(1, ""))).unwrap();
    assert!(c.gateway_config().routing.group.is_some());
}

#[test]
fn group_server_and_member_devices_f_d_6() {
    use cellgate_engine::gateway::GroupPeer;
    let l2 = line(2, "sim_number = \"+8613800000002\"\n");
    // Server: access line plus secret; local members may be empty.
    let server = "[group]\naccess_line = 1\nsecret = \"0123456789abcdef\"\n";
    let c = parse(&format!("{SIP}{server}{}", line(1, ""))).unwrap();
    let g = c.gateway_config();
    assert!(g
        .routing
        .group
        .as_ref()
        .is_some_and(|p| p.members().is_empty()));
    assert_eq!(
        g.routing.group_peer,
        Some(GroupPeer::Server {
            secret: "0123456789abcdef".into()
        })
    );
    // Member: server, secret, device and its own lines with their SIM numbers.
    let member = "[group]\nserver = \"192.0.2.9:5060\"\nsecret = \"0123456789abcdef\"\n\
                  device = \"shop-b\"\nmembers = [2]\n";
    let c = parse(&format!("{SIP}{member}{}{l2}", line(1, ""))).unwrap();
    let g = c.gateway_config();
    assert!(g.routing.group.is_none());
    assert_eq!(
        g.routing.group_peer,
        Some(GroupPeer::Member {
            server: "192.0.2.9:5060".parse().unwrap(),
            device: "shop-b".into(),
            secret: "0123456789abcdef".into(),
            lines: vec![LineId(2)],
        })
    );
    let err = refused(&format!(
        "{SIP}{}{}{l2}",
        member.replace("0123456789abcdef", "short"),
        line(1, "")
    ));
    assert!(err.contains("group.secret: at least 16"), "{err}");
    let err = refused(&format!(
        "{SIP}{}{}{l2}",
        member.replace("secret = \"0123456789abcdef\"\n", ""),
        line(1, "")
    ));
    assert!(err.contains("group.secret is required"), "{err}");
    let err = refused(&format!(
        "{SIP}{}{}{l2}",
        member.replace("192.0.2.9:5060", "nowhere"),
        line(1, "")
    ));
    assert!(err.contains("group.server"), "{err}");
    let err = refused(&format!(
        "{SIP}{}{}{l2}",
        member.replace("shop-b", "shop b"),
        line(1, "")
    ));
    assert!(err.contains("group.device"), "{err}");
    let err = refused(&format!("{SIP}{member}{}", line(2, "")));
    assert!(err.contains("line 2 has no sim_number"), "{err}");
    let err = refused(&format!(
        "{SIP}{member}access_line = 1\n{}{l2}",
        line(1, "")
    ));
    assert!(err.contains("not both"), "{err}");
    let err = refused(&format!("{SIP}[group]\nmembers = [2]\n{}{l2}", line(1, "")));
    assert!(err.contains("access_line (or server) is required"), "{err}");
}

#[test]
fn inbound_modes_and_rotation_need_their_keys() {
    let err = refused(&format!(
        "{SIP}{}",
        line(1, "[line.inbound]\nmode = \"forward\"\n")
    ));
    assert!(
        err.contains("line 1: inbound.mode = \"forward\" needs inbound.forward"),
        "{err}"
    );
    let err = refused(&format!(
        "{SIP}{}",
        line(
            1,
            "[line.inbound]\nmode = \"two-stage\"\nforward = \"101\"\n"
        )
    ));
    assert!(err.contains("does not use it"), "{err}");
    let err = refused(&format!(
        "{SIP}{}",
        line(1, "[line.gsm]\nbcch = \"rotation\"\n")
    ));
    assert!(err.contains("needs gsm.bcch_cells"), "{err}");
    let err = refused(&format!(
        "{SIP}{}",
        line(1, "[line.gsm]\nbcch = \"rotation\"\nbcch_cells = 3\n")
    ));
    assert!(err.contains("needs gsm.bcch_interval"), "{err}");
    // A forward number alone means mode = forward; nothing at all keeps the SIP routes.
    let c = parse(&format!(
        "{SIP}{}{}",
        line(1, "[line.inbound]\nforward = \"101@192.0.2.2:6060\"\n"),
        line(2, "")
    ))
    .unwrap();
    let g = c.gateway_config();
    assert_eq!(
        g.lines[&LineId(1)].inbound_forward,
        Some(InboundForward::Fixed("101@192.0.2.2:6060".into()))
    );
    assert_eq!(g.lines[&LineId(2)].inbound_forward, None);
    assert!(g.lines[&LineId(2)].inbound_allowed);
}

#[test]
fn routing_keywords_and_storage_paths() {
    let c = parse(&format!(
        "{SIP}[routing]\nline_selection = \"least-talk-time\"\nmatch = \"caller\"\n\
         [storage]\ndatabase = \"/var/lib/cellgate/counters.db\"\n{}",
        line(1, "prefix = \"101\"\n")
    ))
    .unwrap();
    assert_eq!(
        c.database_path(),
        Path::new("/var/lib/cellgate/counters.db")
    );
    let g = c.gateway_config();
    assert_eq!(g.line_selection, LineSelection::LeastTalkTime);
    let route = g.routing.prefixes.as_ref().unwrap().route("1015", "555");
    assert!(matches!(route, PrefixRoute::Lines { number, .. } if number == "555"));
    assert_eq!(
        parse(SIP).unwrap().database_path(),
        Path::new("cellgate.db")
    );
    let err = refused(&format!("{SIP}[routing]\nline_selection = \"random\"\n"));
    assert!(err.contains("routing.line_selection"), "{err}");
    let err = refused(&format!(
        "{SIP}[routing]\nmatch = \"caller\"\nstrip_prefix = true\n"
    ));
    assert!(err.contains("routing.strip_prefix"), "{err}");
    let err = refused(&format!(
        "{SIP}[routing]\nprefix_auto = \"abc\"\n{}{}",
        line(1, ""),
        line(2, "")
    ));
    assert!(err.contains("routing.prefix_auto"), "{err}");
    let err = refused(&format!("{SIP}[routing]\ntwo_stage_numbers = [\"a@b\"]\n"));
    assert!(err.contains("routing.two_stage_numbers[0]"), "{err}");
}

#[test]
fn auto_configure_copies_line_1_account_counting_up_f_6_3_19() {
    let text = format!(
        "[sip]\nlisten = \"192.0.2.1:5060\"\nmode = \"per_line\"\nauto_configure = true\n\
         [[sip.account]]\nline = 1\nauth_id = \"1001\"\npassword = \"pw\"\nphone_number = \"8001\"\n\
         display_name = \"GoIP-01\"\nregistrar = \"192.0.2.9:5060\"\n{}{}{}",
        line(1, ""),
        line(2, ""),
        line(3, "")
    );
    let g = parse(&text)
        .unwrap_or_else(|e| panic!("{e}"))
        .gateway_config();
    assert_eq!(g.registrations.len(), 3);
    let third = &g.registrations[2];
    assert_eq!(third.label, "line 3");
    assert_eq!(third.account.auth_id, "1003");
    assert_eq!(third.account.phone_number.as_deref(), Some("8003"));
    assert_eq!(third.account.display_name.as_deref(), Some("GoIP-03"));
    assert_eq!(third.lines, [LineId(3)]);
    // Only in per-line mode with one account.
    let single = format!(
        "[sip]\nlisten = \"192.0.2.1:5060\"\nauto_configure = true\n\
         [[sip.account]]\nauth_id = \"1001\"\npassword = \"pw\"\nregistrar = \"192.0.2.9:5060\"\n{}",
        line(1, "")
    );
    assert!(refused(&single).contains("sip.auto_configure"));
}

#[test]
fn f_6_10_7_pin2_and_fixed_dialing_reach_the_line_policy() {
    let c = parse(&format!(
        "{SIP}[defaults.sim]\npin2 = \"5678\"\n{}{}{}",
        line(1, "[line.sim]\nfixed_dialing = true\n"),
        line(
            2,
            "[line.sim]\npin2 = \"24681357\"\nfixed_dialing = false\n"
        ),
        line(3, "")
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let g = c.gateway_config();
    let l1 = &g.lines[&LineId(1)];
    assert_eq!(
        (l1.pin2.as_deref(), l1.fixed_dialing),
        (Some("5678"), Some(true))
    );
    let l2 = &g.lines[&LineId(2)];
    assert_eq!(
        (l2.pin2.as_deref(), l2.fixed_dialing),
        (Some("24681357"), Some(false))
    );
    // Absent: the SIM's lock is left alone.
    let l3 = &g.lines[&LineId(3)];
    assert_eq!((l3.pin2.as_deref(), l3.fixed_dialing), (Some("5678"), None));
}

#[test]
fn f_6_10_7_bad_pin2_and_fixed_dialing_without_pin2_are_refused() {
    for bad in ["\"12a4\"", "\"123\"", "\"123456789\"", "\"\"", "\"56 78\""] {
        let err = refused(&format!(
            "{SIP}{}",
            line(4, &format!("[line.sim]\npin2 = {bad}\n"))
        ));
        assert!(
            err.contains("line 4: sim.pin2: must be 4 to 8 digits"),
            "{bad}: {err}"
        );
    }
    let err = refused(&format!(
        "{SIP}{}{}",
        line(1, "[line.sim]\npin2 = \"5678\"\nfixed_dialing = true\n"),
        line(2, "[line.sim]\npin = \"1234\"\nfixed_dialing = true\n")
    ));
    assert!(
        err.contains("line 2: sim.fixed_dialing: needs sim.pin2"),
        "{err}"
    );
    // The PIN 1 does not stand in for PIN2, and a default lock needs a default PIN2.
    let err = refused(&format!(
        "{SIP}[defaults.sim]\nfixed_dialing = false\n{}",
        line(5, "")
    ));
    assert!(err.contains("sim.fixed_dialing"), "{err}");
    // A wrongly typed value is refused by the parser with the key's name.
    let err = refused(&format!(
        "{SIP}{}",
        line(1, "[line.sim]\npin2 = \"5678\"\nfixed_dialing = \"yes\"\n")
    ));
    assert!(err.contains("fixed_dialing"), "{err}");
}
