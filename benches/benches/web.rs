//! The management plane's hot paths: what a monitoring script polling `status.xml` every
//! few seconds costs the gateway (render of a 32-line document, the login check), the
//! General page, and the GoIP keepalive encode/ack parse done every 30 s per line.

use cellgate_engine::gateway::{GatewayStatus, LineStatus};
use cellgate_engine::management::StatusSnapshot;
use cellgate_goip::ack::parse_ack;
use cellgate_goip::keepalive::Keepalive;
use cellgate_goip::shell::report_for;
use cellgate_web::auth::{Accounts, Level};
use cellgate_web::status_xml::{lines_document, XmlContext};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn line(n: u16) -> LineStatus {
    LineStatus {
        line: n,
        policy_blocked: n.is_multiple_of(7),
        enabled: true,
        sim: "Y".into(),
        gsm: true,
        voip: true,
        state: if n.is_multiple_of(3) {
            "CONNECTED".into()
        } else {
            "IDLE".into()
        },
        acd: Some(73),
        asr: Some(41),
        total_seconds: 123_456,
        calls: "1234/3001".into(),
        cdr_since: 1_764_000_000,
        rssi: Some(23),
        operator: Some("CHINA MOBILE".into()),
        bcch: Some(62),
        idle_minutes: Some(3),
        remaining_minutes: Some(500),
        remaining_sms: None,
        inbound: true,
        outbound: true,
        imei: Some("860123456789012".into()),
        imsi: Some("460001234567890".into()),
        iccid: Some("89860012345678901234".into()),
        module: Some("M35 M35FAR02A08".into()),
        sim_number: Some(format!("+86138000000{n:02}")),
        sip_mode: "L".into(),
        prefix: Some(format!("{n:02}")),
        bcch_mode: "rotation".into(),
        lac_cell: Some("7E5 5E5B".into()),
        lac: Some(0x7E5),
        cell_id: Some(0x5E5B),
        gprs_registered: Some(true),
        gprs_attached: Some(true),
        forwarding: [
            "Not Set".into(),
            "OFF".into(),
            "+8613800000099".into(),
            "Not Set".into(),
        ],
    }
}

fn snapshot(lines: u16) -> StatusSnapshot {
    StatusSnapshot {
        gateway: GatewayStatus {
            serial: Some("CG0001".into()),
            version: "cellgate 0.1.0".into(),
            uptime_seconds: 86_400,
            local_time: Some("2026-11-25 10:00:00".into()),
            modules: (0..lines).map(|_| Some("M35 M35FAR02A08".into())).collect(),
        },
        lines: (1..=lines).map(line).collect(),
    }
}

fn bench_web(c: &mut Criterion) {
    let snap = snapshot(32);
    let login = |l: u16| l.is_multiple_of(2).then_some(true);
    let ctx = XmlContext {
        sms_login: &login,
        utc_offset: time::UtcOffset::UTC,
    };
    c.bench_function("status.xml render, 32 lines", |b| {
        b.iter(|| lines_document(black_box(&snap), &ctx))
    });
    let mut accounts = Accounts::new();
    accounts
        .enable(Level::Admin, "correct horse battery", "k")
        .expect("admin");
    accounts
        .enable(Level::User, "another password", "k")
        .expect("user");
    let header = "Basic YWRtaW46Y29ycmVjdCBob3JzZSBiYXR0ZXJ5"; // admin:correct horse battery
    c.bench_function("Basic login check, 2 accounts", |b| {
        b.iter(|| accounts.check_basic(black_box(header)))
    });
    let report = report_for(&snap, 5);
    c.bench_function("GoIP keepalive encode", |b| {
        b.iter(|| {
            Keepalive {
                count: 12_345,
                id: "goip5",
                password: "secret",
                sms_login: true,
                line: black_box(&report),
            }
            .encode()
        })
    });
    c.bench_function("GoIP keepalive ack parse", |b| {
        b.iter(|| parse_ack(black_box(b"reg:12345;status:200;\n")))
    });
}

criterion_group!(benches, bench_web);
criterion_main!(benches);
