//! Per-call policy decisions on a busy 32-line gateway: dial-rule parsing and rewriting
//! (worst case: the last rule matches), line-prefix routing, auth-list checks, call
//! memory, SIM limits, run policy, the SQLite I/O each finished call costs, and the whole
//! outbound INVITE → dial decision of the sans-IO engine with prefixes, dial rules and
//! limits on every line — next to the same gateway without policies, so what the policies
//! add to `sip/gateway_invite_to_dial` is visible.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cellgate_engine::gateway::LinePolicy;
use cellgate_engine::{Gateway, GatewayConfig, InboundTrust, ModemCommand, Output};
use cellgate_hal::LineId;
use cellgate_policy::cdr::{CallRecord, CdrStats, Direction};
use cellgate_policy::limits::{LimitSpec, SimLimits, SimUsage};
use cellgate_policy::routing::{
    AuthMode, CallAuth, CallMemory, DialRules, LinePrefixes, ListTarget, MatchOn, NumberList,
    PrefixList, PrefixRoute, DEFAULT_CALL_MEMORY_TTL, MAX_DIAL_RULES_LEN, MAX_NUMBER_LIST_BYTES,
};
use cellgate_policy::run_policy::{
    Action, CallOutcome, Combine, Condition, PolicyState, RunPolicy, THRESHOLD_CALLS,
};
use cellgate_policy::store::{CounterStore, LineCounters, SqliteStore};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use time::{Date, Month, PrimitiveDateTime, Time};

/// Appendix G rules as an operator writes them (138 of the 140 characters allowed). The
/// benchmark number matches only the last rule.
const DIAL_RULES: &str = "13:+0|15:+0|17:+0|18:+0|01[3-8]XXXXXXXXX:-0++86|00:-00++|0086:-0086|\
+86:-+86|10086:|12[0-9]:|95XXX:|9XXXX:-9|400XXXXXXX:|[2-8]XXXXXXX:+010";
/// A number that only the last rule (`[2-8]XXXXXXX:+010`) matches, fully.
const LAST_RULE_NUMBER: &str = "55512345";
/// What the last rule makes of it.
const LAST_RULE_DIALLED: &str = "01055512345";

/// Gateway lines.
const LINES: u16 = 32;
/// The callee of the engine benchmark: prefix `932` (line 32), then the last-rule number.
const ROUTED_CALLEE: &str = "93255512345";

const MINUTE_LIMIT: &str = "05:00-12:00,100|12:00-23:00,200";

/// 2026-03-10 10:00 local time: inside the first period of [`MINUTE_LIMIT`].
fn local_time() -> PrimitiveDateTime {
    let date = Date::from_calendar_date(2026, Month::March, 10).expect("date");
    PrimitiveDateTime::new(date, Time::from_hms(10, 0, 0).expect("time"))
}

fn dial_rules() -> DialRules {
    DialRules::parse(DIAL_RULES).expect("dial rules parse")
}

/// Line `n`'s three prefixes: `NN#`, `8NN`, `9NN` (unique, none the start of another).
fn prefix_text(n: u16) -> String {
    format!("{n:02}#,8{n:02},9{n:02}")
}

fn prefix_lines() -> Vec<(LineId, PrefixList)> {
    (1..=LINES)
        .map(|n| {
            let list = PrefixList::parse(&prefix_text(n)).expect("prefix list parses");
            (LineId(n), list)
        })
        .collect()
}

fn line_prefixes() -> LinePrefixes {
    LinePrefixes::new(prefix_lines(), MatchOn::Callee, true, true).expect("prefixes are valid")
}

fn sim_limits() -> SimLimits {
    SimLimits {
        minutes: LimitSpec::parse(MINUTE_LIMIT).expect("limit parses"),
        calls: LimitSpec::Total(1_000),
        ..SimLimits::default()
    }
}

fn bench_dial_rules(c: &mut Criterion) {
    assert!(DIAL_RULES.chars().count() <= MAX_DIAL_RULES_LEN);
    let rules = dial_rules();
    assert_eq!(
        rules.rewrite(LAST_RULE_NUMBER, false).as_deref(),
        Some(LAST_RULE_DIALLED)
    );
    assert_eq!(
        rules.rewrite(LAST_RULE_NUMBER, true).as_deref(),
        Some(LAST_RULE_DIALLED)
    );

    c.bench_function("policy/dial_rules_parse_138_chars", |b| {
        b.iter(|| DialRules::parse(black_box(DIAL_RULES)))
    });
    c.bench_function("policy/dial_rules_rewrite_last_rule", |b| {
        b.iter(|| rules.rewrite(black_box(LAST_RULE_NUMBER), false))
    });
    c.bench_function("policy/dial_rules_rewrite_last_rule_strict", |b| {
        b.iter(|| rules.rewrite(black_box(LAST_RULE_NUMBER), true))
    });
}

fn bench_prefixes(c: &mut Criterion) {
    c.bench_function("policy/line_prefixes_new_32x3", |b| {
        b.iter_batched(
            prefix_lines,
            |lines| LinePrefixes::new(lines, MatchOn::Callee, true, true),
            BatchSize::SmallInput,
        )
    });

    let prefixes = line_prefixes();
    assert_eq!(
        prefixes.route("alice", ROUTED_CALLEE),
        PrefixRoute::Lines {
            lines: vec![LineId(LINES)],
            number: LAST_RULE_NUMBER.to_owned(),
        }
    );
    assert_eq!(prefixes.route("alice", "7775551234"), PrefixRoute::NoMatch);
    c.bench_function("policy/line_prefixes_route_hit_strip", |b| {
        b.iter(|| prefixes.route(black_box("alice"), black_box(ROUTED_CALLEE)))
    });
    c.bench_function("policy/line_prefixes_route_miss_603", |b| {
        b.iter(|| prefixes.route(black_box("alice"), black_box("7775551234")))
    });
}

/// About 90 numbers filling the 999 bytes of a whitelist.
fn whitelist_text() -> String {
    let mut text = String::new();
    let mut i = 0u32;
    loop {
        let entry = format!("{}{:07}", 1380 + i % 10, 1_000_000 + i * 7919 % 9_000_000);
        let extra = if text.is_empty() { 0 } else { 1 };
        if text.len() + extra + entry.len() > MAX_NUMBER_LIST_BYTES {
            break;
        }
        if extra == 1 {
            text.push(',');
        }
        text.push_str(&entry);
        i += 1;
    }
    text
}

fn bench_auth(c: &mut Criterion) {
    let text = whitelist_text();
    let list = NumberList::parse(&text).expect("whitelist parses");
    let last = text.rsplit(',').next().unwrap_or_default().to_owned();
    let auth = CallAuth::new(AuthMode::Whitelist, ListTarget::Caller, list, "")
        .expect("auth setting is valid");
    assert_eq!(
        auth.check(&last, "5551234"),
        cellgate_policy::routing::AuthDecision::Allow
    );
    assert_eq!(
        auth.check("4915100000000", "5551234"),
        cellgate_policy::routing::AuthDecision::Deny
    );
    let name_hit = format!(
        "policy/auth_whitelist_{}_bytes_{}_numbers_hit_last",
        text.len(),
        auth.list().len()
    );
    c.bench_function(&name_hit, |b| {
        b.iter(|| auth.check(black_box(&last), black_box("5551234")))
    });
    c.bench_function("policy/auth_whitelist_miss", |b| {
        b.iter(|| auth.check(black_box("4915100000000"), black_box("5551234")))
    });
}

fn bench_memory(c: &mut Criterion) {
    let start = Instant::now();
    let mut memory = CallMemory::new(DEFAULT_CALL_MEMORY_TTL);
    for i in 0..10_000u32 {
        let line = LineId(1 + (i % u32::from(LINES)) as u16);
        memory.remember(&format!("13{:09}", i * 37), line, start);
    }
    assert_eq!(memory.len(), 10_000);
    let later = start + Duration::from_secs(60);
    let callee = format!("13{:09}", 5_000 * 37);
    assert!(memory.recall(&callee, later).is_some());
    c.bench_function("policy/call_memory_recall_10000", |b| {
        b.iter(|| memory.recall(black_box(&callee), later))
    });
}

fn bench_limits(c: &mut Criterion) {
    let cfg = sim_limits();
    let local = Some(local_time());
    let mut usage = SimUsage::new();
    usage.refresh(&cfg, local);
    assert_eq!(usage.remaining_seconds(&cfg, local), Some(100 * 60));
    c.bench_function("policy/sim_limits_call_ended_and_remaining", |b| {
        b.iter(|| {
            usage.call_ended(&cfg, true, black_box(Duration::from_secs(68)), local);
            usage.remaining_seconds(&cfg, local)
        })
    });
}

fn bench_run_policy(c: &mut Criterion) {
    let policy = RunPolicy::new(
        vec![
            Condition::AcdBelow(20),
            Condition::AsrBelow(30),
            Condition::ConsecutiveShort {
                below: Duration::from_secs(10),
                count: 3,
            },
        ],
        Combine::Any,
        vec![Action::DisableOutbound],
        THRESHOLD_CALLS,
    )
    .expect("run policy is valid");
    let now = Instant::now();
    let mut state = PolicyState::new(&policy, now);
    // Good calls: counters move, the policy never fires.
    let outcome = CallOutcome {
        alerted: true,
        answered: true,
        talk: Duration::from_secs(90),
    };
    c.bench_function("policy/run_policy_on_call_end_3_conditions", |b| {
        b.iter(|| state.on_call_end(&policy, black_box(outcome), now))
    });
    assert!(!state.is_tripped());
}

/// A SQLite file in the temp dir, removed (with its WAL files) when dropped.
struct TempDb(PathBuf);

impl TempDb {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Self(std::env::temp_dir().join(format!(
            "cellgate-bench-policy-{}-{nanos}.sqlite",
            std::process::id()
        )))
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

fn record(i: i64) -> CallRecord {
    CallRecord {
        line: LineId(7),
        direction: Direction::Outbound,
        number: "01055512345".to_owned(),
        started_unix: 1_773_136_800 + i * 120,
        ended_unix: 1_773_136_800 + i * 120 + 95,
        alerted: true,
        answered: true,
        talk_seconds: 68,
        gsm_cause: Some(16),
        sip_status: Some(200),
    }
}

fn bench_store(c: &mut Criterion) {
    let db = TempDb::new();
    {
        let mut store = SqliteStore::open(&db.0).expect("store opens");
        let cfg = sim_limits();
        let local = Some(local_time());
        let mut counters = LineCounters {
            usage: SimUsage::new(),
            cdr: CdrStats::new(1_773_100_000),
        };
        for i in 0..40 {
            counters
                .usage
                .call_ended(&cfg, true, Duration::from_secs(68), local);
            counters.cdr.record(&record(i));
        }
        c.bench_function("policy/sqlite_save_line_counters", |b| {
            b.iter(|| store.save(LineId(7), black_box(&counters)))
        });
        let mut i = 0;
        c.bench_function("policy/sqlite_append_call_record", |b| {
            b.iter(|| {
                i += 1;
                store.append_record(black_box(&record(i)))
            })
        });
        assert!(store.load(LineId(7)).expect("load").is_some());
    }
    drop(db);

    // The same SQL without the file: what is SQLite's own work and what is disk I/O.
    let mut memory = SqliteStore::open_in_memory().expect("in-memory store opens");
    let mut i = 0;
    c.bench_function("policy/sqlite_append_call_record_in_memory", |b| {
        b.iter(|| {
            i += 1;
            memory.append_record(black_box(&record(i)))
        })
    });
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// The same shape as `cellgate_benches::TYPICAL_INVITE`, to `callee`.
fn invite(callee: &str) -> String {
    let sdp =
        "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
t=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    format!(
        "INVITE sip:{callee}@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-3947-1-0\r\n\
From: sipp <sip:sipp@127.0.0.1:5070>;tag=3947SIPpTag001\r\n\
To: <sip:{callee}@127.0.0.1:5060>\r\n\
Call-ID: 1-3947@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: sip:sipp@127.0.0.1:5070\r\n\
Max-Forwards: 70\r\n\
Subject: Performance Test\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// A started gateway with 32 ready lines at 10:00 local time; with `policies`, prefixes
/// (callee matching, strip, unique), the dial rules and the limits on every line.
fn gateway(policies: bool, now: Instant) -> Gateway {
    let mut config = GatewayConfig::new(addr("127.0.0.1:5060"));
    config.trust = InboundTrust::LoopbackOnly;
    config.seed = Some(1);
    if policies {
        config.routing.prefixes = Some(line_prefixes());
        for n in 1..=LINES {
            config.lines.insert(
                LineId(n),
                LinePolicy {
                    dial_rules: dial_rules(),
                    limits: sim_limits(),
                    ..LinePolicy::default()
                },
            );
        }
    }
    let mut gw = Gateway::new(config, (1..=LINES).map(LineId));
    for n in 1..=LINES {
        gw.handle_line_status(LineId(n), true, true);
    }
    let local = local_time();
    gw.set_local_time(now, Some(local), local.assume_utc().unix_timestamp());
    gw.start(now);
    while gw.poll_output().is_some() {}
    gw
}

/// The line and number of the `Dial` the gateway asks for, draining every output.
fn dial_of(gw: &mut Gateway) -> Option<(LineId, String)> {
    let mut dial = None;
    while let Some(out) = gw.poll_output() {
        if let Output::Modem {
            line,
            command: ModemCommand::Dial(number),
            ..
        } = out
        {
            dial = Some((line, number));
        }
    }
    dial
}

fn bench_gateway(c: &mut Criterion) {
    let peer = addr("127.0.0.1:5070");
    let routed = invite(ROUTED_CALLEE);
    let plain = invite("5551234");

    let now = Instant::now();
    let mut gw = gateway(true, now);
    gw.handle_datagram(now, peer, routed.as_bytes());
    assert_eq!(
        dial_of(&mut gw),
        Some((LineId(LINES), LAST_RULE_DIALLED.to_owned())),
        "prefix stripped, last dial rule applied, limits allow"
    );
    let mut gw = gateway(false, now);
    gw.handle_datagram(now, peer, plain.as_bytes());
    assert!(dial_of(&mut gw).is_some(), "plain gateway dials");

    for (name, policies, datagram) in [
        (
            "policy/gateway_32_lines_invite_to_dial_no_policies",
            false,
            &plain,
        ),
        (
            "policy/gateway_32_lines_invite_to_dial_with_policies",
            true,
            &routed,
        ),
    ] {
        c.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let now = Instant::now();
                    (gateway(policies, now), now)
                },
                |(mut gw, now)| {
                    gw.handle_datagram(now, peer, datagram.as_bytes());
                    while let Some(out) = gw.poll_output() {
                        black_box(out);
                    }
                    gw
                },
                BatchSize::SmallInput,
            )
        });
    }
}

criterion_group!(
    benches,
    bench_dial_rules,
    bench_prefixes,
    bench_auth,
    bench_memory,
    bench_limits,
    bench_run_policy,
    bench_store,
    bench_gateway
);
criterion_main!(benches);
