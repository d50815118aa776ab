//! F-D.6: a group spanning two sans-IO gateways over the group peer protocol, version 1.
//! A is the server (access line 1, local member line 2); B is a member whose line 1
//! (SIM number +8613800000009) joins A's group.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cellgate_engine::gateway::{GroupPeer, LinePolicy};
use cellgate_engine::{Gateway, GatewayConfig, InboundTrust, ModemCommand, Output};
use cellgate_hal::{CallForwarding, ForwardReason, LineId};
use cellgate_policy::gsm::{GroupPlan, PeerLine, Report};

const A: &str = "127.0.0.1:5060";
const B: &str = "127.0.0.1:5062";
const PHONE: &str = "127.0.0.1:5070";
const SECRET: &str = "group-secret-0123456789";
const A_MEMBER: &str = "+8613800000002";
const B_NUMBER: &str = "+8613800000009";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn invite(gw: &str, number: &str, call_id: &str) -> String {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    format!(
        "INVITE sip:{number}@{gw} SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bK{call_id}\r\n\
From: <sip:alice@{PHONE}>;tag=a1\r\nTo: <sip:{number}@{gw}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:alice@{PHONE}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

fn gateway(
    local: &str,
    lines: &[u16],
    now: Instant,
    configure: impl FnOnce(&mut GatewayConfig),
) -> Gateway {
    let mut config = GatewayConfig::new(addr(local));
    config.trust = InboundTrust::LoopbackOnly;
    config.seed = Some(5);
    configure(&mut config);
    let mut gw = Gateway::new(config, lines.iter().map(|l| LineId(*l)));
    for l in lines {
        gw.handle_line_status(LineId(*l), true, true);
    }
    let local_time = time::macros::datetime!(2026-03-10 10:00);
    gw.set_local_time(
        now,
        Some(local_time),
        local_time.assume_utc().unix_timestamp(),
    );
    gw.start(now);
    gw
}

fn server(now: Instant) -> Gateway {
    gateway(A, &[1, 2], now, |c| {
        let access = LinePolicy {
            outbound_allowed: false, // outbound calls go out on the member line 2
            ..LinePolicy::default()
        };
        c.lines.insert(LineId(1), access);
        c.lines.insert(
            LineId(2),
            LinePolicy {
                sim_number: Some(A_MEMBER.into()),
                ..LinePolicy::default()
            },
        );
        c.routing.group =
            Some(GroupPlan::server(LineId(1), vec![(LineId(2), A_MEMBER.into())]).expect("plan"));
        c.routing.group_peer = Some(GroupPeer::Server {
            secret: SECRET.into(),
        });
    })
}

fn member(now: Instant) -> Gateway {
    gateway(B, &[1], now, |c| {
        c.lines.insert(
            LineId(1),
            LinePolicy {
                sim_number: Some(B_NUMBER.into()),
                ..LinePolicy::default()
            },
        );
        c.routing.group_peer = Some(GroupPeer::Member {
            server: addr(A),
            device: "shop-b".into(),
            secret: SECRET.into(),
            lines: vec![LineId(1)],
        });
    })
}

/// The group reports B sent since the last call (other output dropped).
fn reports(b: &mut Gateway) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| b.poll_output())
        .filter_map(|o| match o {
            Output::Transmit { to, payload } if payload.first() == Some(&b'{') => {
                assert_eq!(to, addr(A), "reports go to the server's SIP address");
                Some(payload.to_vec())
            }
            _ => None,
        })
        .collect()
}

/// The busy-forwarding changes A made since the last call.
fn forwarding(a: &mut Gateway) -> Vec<CallForwarding> {
    std::iter::from_fn(|| a.poll_output())
        .filter_map(|o| match o {
            Output::Modem {
                line,
                command: ModemCommand::SetForwarding(f),
                ..
            } => {
                assert_eq!(line, LineId(1), "only the access line forwards");
                assert_eq!(f.reason, ForwardReason::Busy);
                Some(f)
            }
            _ => None,
        })
        .collect()
}

fn target(f: &CallForwarding) -> Option<&str> {
    f.enabled.then_some(f.number.as_deref()).flatten()
}

/// Hands B's reports to A.
fn deliver(a: &mut Gateway, now: Instant, reports: Vec<Vec<u8>>) -> usize {
    let n = reports.len();
    for r in reports {
        a.handle_datagram(now, addr(B), &r);
    }
    n
}

/// Advances a gateway to `to` through its own deadlines, checking none is in the past.
fn run_until(gw: &mut Gateway, to: Instant) {
    while let Some(t) = gw.poll_timeout().filter(|t| *t <= to) {
        gw.handle_timeout(t);
        if let Some(next) = gw.poll_timeout() {
            assert!(next > t, "deadline {next:?} not after {t:?}");
        }
    }
    gw.handle_timeout(to);
}

#[test]
fn f_d_6_server_forwards_to_a_member_device_when_its_own_members_are_busy() {
    let t0 = Instant::now();
    let mut a = server(t0);
    let mut b = member(t0);
    let first = forwarding(&mut a);
    assert_eq!(first.len(), 1);
    assert_eq!(target(&first[0]), Some(A_MEMBER), "local member first");

    // B reports at start and every 10 s of its own timers.
    let r = reports(&mut b);
    assert_eq!(r.len(), 1, "first report at start");
    let decoded = Report::decode(&r[0], SECRET.as_bytes(), 1_773_136_800).expect("valid");
    assert_eq!(decoded.device, "shop-b");
    assert_eq!(
        decoded.lines,
        vec![PeerLine {
            number: B_NUMBER.into(),
            idle: true
        }]
    );
    deliver(&mut a, t0, r);
    assert!(
        forwarding(&mut a).is_empty(),
        "line 2 still idle: no change"
    );
    assert_eq!(b.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    let t10 = t0 + Duration::from_secs(10);
    run_until(&mut b, t10);
    assert_eq!(deliver(&mut a, t10, reports(&mut b)), 1, "periodic report");
    run_until(&mut a, t10);

    // A's member line 2 takes a call: forward to B's line.
    a.handle_datagram(t10, addr(PHONE), invite(A, "5551234", "a1").as_bytes());
    let f = forwarding(&mut a);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(target(&f[0]), Some(B_NUMBER));

    // B's line becomes busy too: B reports at once and A turns forwarding off.
    let t12 = t10 + Duration::from_secs(2);
    b.handle_datagram(t12, addr(PHONE), invite(B, "5559876", "b1").as_bytes());
    let r = reports(&mut b);
    assert_eq!(r.len(), 1, "report on the busy change");
    deliver(&mut a, t12, r);
    let f = forwarding(&mut a);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(target(&f[0]), None, "everyone busy: forwarding off");
    assert!(!f[0].enabled);

    // B's call ends: B's line is offered again.
    let t15 = t12 + Duration::from_secs(3);
    b.handle_modem_event(
        t15,
        LineId(1),
        cellgate_hal::ModemEvent::CallReleased {
            index: 1,
            cause: cellgate_hal::ReleaseCause(16),
        },
    );
    deliver(&mut a, t15, reports(&mut b));
    let f = forwarding(&mut a);
    assert_eq!(
        f.iter().map(target).collect::<Vec<_>>(),
        vec![Some(B_NUMBER)]
    );

    // B's reports stop: 30 s after the last one arrived, its number is no longer used.
    let expiry = t15 + Duration::from_secs(30);
    assert!(a.poll_timeout().is_some_and(|t| t <= expiry));
    run_until(&mut a, expiry - Duration::from_secs(1));
    assert!(forwarding(&mut a).is_empty(), "still counting at 29 s");
    run_until(&mut a, expiry);
    let f = forwarding(&mut a);
    assert_eq!(f.iter().map(target).collect::<Vec<_>>(), vec![None]);
    if let Some(next) = a.poll_timeout() {
        assert!(next > expiry, "no deadline in the past");
    }
}

#[test]
fn f_d_6_report_with_a_wrong_secret_changes_nothing() {
    let t0 = Instant::now();
    let mut a = server(t0);
    forwarding(&mut a);
    a.handle_datagram(t0, addr(PHONE), invite(A, "5551234", "a1").as_bytes());
    let f = forwarding(&mut a);
    assert_eq!(f.iter().map(target).collect::<Vec<_>>(), vec![None]);
    let report = |secret: &str| {
        Report {
            device: "intruder".into(),
            sent: 1_773_136_800,
            lines: vec![PeerLine {
                number: "+8613900000001".into(),
                idle: true,
            }],
        }
        .encode(secret.as_bytes())
    };
    a.handle_datagram(t0, addr(B), &report("not-the-group-secret"));
    a.handle_datagram(t0, addr(B), b"{\"v\":1,\"garbage");
    assert!(forwarding(&mut a).is_empty(), "bad reports are dropped");
    // The same report with the right secret is taken (the test is not vacuous).
    a.handle_datagram(t0, addr(B), &report(SECRET));
    let f = forwarding(&mut a);
    assert_eq!(
        f.iter().map(target).collect::<Vec<_>>(),
        vec![Some("+8613900000001")]
    );
}
