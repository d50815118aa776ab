//! The SMS-server client's registration and keepalive against a fake SMS server on a
//! loopback UDP socket, with the gateway's status answered by hand through a
//! `ManagementHandle` (GOIP-INTERFACES §1–§3, F-5.2.1.8, F-6.13.6).
//!
//! Time is tokio's paused clock. A ticker task sleeps in 10 ms steps so that the clock
//! auto-advances in small steps: without it, a datagram still in flight between two
//! sockets lets the clock jump straight to the next 30 s deadline.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cellgate_engine::gateway::{GatewayStatus, LineStatus};
use cellgate_engine::management::{ManagementHandle, ManagementRequest, StatusSnapshot};
use cellgate_goip::{run, RunError, SmsLogin, SmsServerConfig};
use cellgate_hal::LineId;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};

fn row(line: u16) -> LineStatus {
    LineStatus {
        line,
        policy_blocked: false,
        enabled: true,
        sim: "Y".into(),
        gsm: true,
        voip: true,
        state: "IDLE".into(),
        acd: None,
        asr: None,
        total_seconds: 0,
        calls: "0/0".into(),
        cdr_since: 0,
        rssi: Some(23),
        operator: Some("CHINA UNICOM GSM".into()),
        bcch: Some(689),
        idle_minutes: Some(1),
        remaining_minutes: Some(120),
        remaining_sms: None,
        inbound: true,
        outbound: true,
        imei: Some(format!("86749502395803{line}")),
        imsi: Some(format!("46001123456789{line}")),
        iccid: Some("8938003992745697720f".into()),
        module: Some("M35 R01".into()),
        sim_number: Some(format!("+86130000000{line:02}")),
        sip_mode: "S".into(),
        prefix: None,
        bcch_mode: "auto".into(),
        lac_cell: Some("FFFF 1A2B".into()),
        lac: Some(0xFFFF),
        cell_id: Some(0x1A2B),
        gprs_registered: Some(true),
        gprs_attached: Some(true),
        forwarding: Default::default(),
    }
}

fn snapshot(lines: &[u16]) -> StatusSnapshot {
    StatusSnapshot {
        gateway: GatewayStatus {
            serial: None,
            version: "cellgate test".into(),
            uptime_seconds: 3600,
            local_time: None,
            modules: vec![],
        },
        lines: lines.iter().map(|&l| row(l)).collect(),
    }
}

/// The running gateway's side of the management channel, answering with `facts`.
struct FakeGateway {
    handle: ManagementHandle,
    facts: Arc<Mutex<StatusSnapshot>>,
    snapshots: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl FakeGateway {
    fn start(facts: StatusSnapshot) -> Self {
        let (handle, mut rx) = ManagementHandle::channel();
        let facts = Arc::new(Mutex::new(facts));
        let snapshots = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let facts = facts.clone();
            let snapshots = snapshots.clone();
            async move {
                while let Some(request) = rx.recv().await {
                    match request {
                        ManagementRequest::Snapshot(reply) => {
                            snapshots.fetch_add(1, Ordering::SeqCst);
                            let _ = reply.send(facts.lock().unwrap().clone());
                        }
                        ManagementRequest::Apply { reply, .. } => {
                            let _ = reply.send(vec![]);
                        }
                    }
                }
            }
        });
        Self {
            handle,
            facts,
            snapshots,
            task,
        }
    }

    /// The gateway stops: its end of the channel goes away.
    fn stop(&self) {
        self.task.abort();
    }
}

fn ticker() -> JoinHandle<()> {
    tokio::spawn(async {
        loop {
            sleep(Duration::from_millis(10)).await;
        }
    })
}

/// A UDP port nobody uses right now.
fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn line_config(server: &str, id: &str, local_port: u16) -> SmsServerConfig {
    SmsServerConfig {
        enabled: true,
        server: server.into(),
        client_id: id.into(),
        password: format!("{id}-pw"),
        local_port: Some(local_port),
    }
}

/// The client running in a task, stopped through `stop`.
struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), RunError>>,
}

impl Running {
    fn start(
        configs: Vec<(LineId, SmsServerConfig)>,
        status: ManagementHandle,
        login: SmsLogin,
    ) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run(configs, status, login, async {
            let _ = stopped.await;
        }));
        Self {
            stop: Some(stop),
            task,
        }
    }

    async fn shut_down(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = timeout(Duration::from_secs(5), self.task)
            .await
            .expect("run returns after shutdown")
            .expect("run does not panic");
        assert!(result.is_ok(), "{result:?}");
    }
}

struct FakeServer {
    socket: UdpSocket,
}

impl FakeServer {
    async fn start() -> Self {
        Self {
            socket: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    /// The next datagram within `within`, as text, with its source.
    async fn recv(&self, within: Duration) -> Option<(String, SocketAddr)> {
        let mut buf = vec![0u8; 4096];
        let (len, from) = timeout(within, self.socket.recv_from(&mut buf))
            .await
            .ok()?
            .unwrap();
        Some((String::from_utf8(buf[..len].to_vec()).unwrap(), from))
    }

    async fn send(&self, to: SocketAddr, data: &[u8]) {
        self.socket.send_to(data, to).await.unwrap();
    }
}

fn field<'a>(keepalive: &'a str, key: &str) -> &'a str {
    keepalive
        .split(';')
        .find_map(|f| f.strip_prefix(key).and_then(|v| v.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no {key} in {keepalive}"))
}

fn count(keepalive: &str) -> u32 {
    field(keepalive, "req").parse().unwrap()
}

#[tokio::test(start_paused = true)]
async fn f_6_13_6_keepalive_fields_reach_the_server_in_order() {
    let _ticker = ticker();
    let server = FakeServer::start().await;
    let gateway = FakeGateway::start(snapshot(&[1, 2]));
    let login = SmsLogin::new();
    let port = free_port();
    let t0 = Instant::now();
    let running = Running::start(
        vec![(
            LineId(2),
            line_config(&server.addr().to_string(), "goip-2", port),
        )],
        gateway.handle.clone(),
        login.clone(),
    );

    // The first keepalive goes out at once, from the line's own port (§1.2), with
    // every field in the order of §3.1 and line 2's facts.
    let (first, from) = server
        .recv(Duration::from_secs(1))
        .await
        .expect("keepalive");
    assert!(
        t0.elapsed() < Duration::from_millis(100),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(from.port(), port);
    assert_eq!(
        first,
        "req:1;id:goip-2;pass:goip-2-pw;num:+8613000000002;signal:23;gsm_status:LOGIN;voip_status:LOGIN;voip_state:IDLE;remain_time:120;imei:867495023958032;imsi:460011234567892;iccid:8938003992745697720f;pro:CHINA UNICOM GSM;idle:1;disable_status:0;SMS_LOGIN:N;SMB_LOGIN:;CELLINFO:LAC:FFFF,CELL ID:1A2B;CGATT:Y;"
    );
    server.send(from, b"reg:1;status:200;\n").await;

    // 30 s later: count 2, logged in, and the facts as they are now.
    gateway.facts.lock().unwrap().lines[1].state = "DIALING 10086".into();
    let (second, _) = server
        .recv(Duration::from_secs(31))
        .await
        .expect("keepalive 2");
    let at = t0.elapsed();
    assert!(
        at >= Duration::from_secs(30) && at < Duration::from_millis(30_100),
        "{at:?}"
    );
    assert_eq!(count(&second), 2);
    assert_eq!(field(&second, "SMS_LOGIN"), "Y");
    assert_eq!(field(&second, "voip_state"), "DIALING:10086");
    assert_eq!(field(&second, "idle"), "0");
    assert_eq!(login.get(2), Some(true));

    running.shut_down().await;
    assert_eq!(login.get(2), None);
}

#[tokio::test(start_paused = true)]
async fn f_5_2_1_8_sms_login_follows_acks() {
    let _ticker = ticker();
    let server = FakeServer::start().await;
    let gateway = FakeGateway::start(snapshot(&[1, 2, 3]));
    let login = SmsLogin::new();
    let addr = server.addr().to_string();
    let running = Running::start(
        vec![
            (LineId(1), line_config(&addr, "goip1", free_port())),
            (LineId(2), line_config(&addr, "goip2", free_port())),
            (LineId(3), SmsServerConfig::default()),
        ],
        gateway.handle.clone(),
        login.clone(),
    );

    // Both lines register; the server acks line 1 with `reg:` and line 2 with the
    // `req:` form of node-goip (§3.3), for three rounds.
    let mut seen = Vec::new();
    for _round in 0..3 {
        for _ in 0..2 {
            let (text, from) = server
                .recv(Duration::from_secs(31))
                .await
                .expect("keepalive");
            let n = count(&text);
            let reply = match field(&text, "id") {
                "goip1" => format!("reg:{n};status:200;"),
                _ => format!("req:{n};status:200;\n"),
            };
            server.send(from, reply.as_bytes()).await;
            seen.push((field(&text, "id").to_owned(), n));
        }
        sleep(Duration::from_millis(50)).await;
        assert_eq!(login.get(1), Some(true));
        assert_eq!(login.get(2), Some(true));
        // Line 3 has the function off: blank, not N.
        assert_eq!(login.get(3), None);
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("goip1".into(), 1),
            ("goip1".into(), 2),
            ("goip1".into(), 3),
            ("goip2".into(), 1),
            ("goip2".into(), 2),
            ("goip2".into(), 3),
        ]
    );
    // One status snapshot per round, not one per line.
    assert_eq!(gateway.snapshots.load(Ordering::SeqCst), 3);

    // The server stops acking. Keepalives go on; the third unanswered one turns the
    // lines N (the last ack, for count 3, has left the window of the last three).
    let mut unanswered = Vec::new();
    for _ in 0..6 {
        let (text, _) = server
            .recv(Duration::from_secs(31))
            .await
            .expect("keepalive");
        unanswered.push((count(&text), field(&text, "SMS_LOGIN").to_owned()));
        if count(&text) == 5 {
            sleep(Duration::from_millis(50)).await;
            assert_eq!(login.get(1), Some(true), "after two unanswered keepalives");
        }
    }
    unanswered.sort();
    assert_eq!(
        unanswered,
        vec![
            (4, "Y".into()),
            (4, "Y".into()),
            (5, "Y".into()),
            (5, "Y".into()),
            (6, "N".into()),
            (6, "N".into()),
        ]
    );
    sleep(Duration::from_millis(50)).await;
    assert_eq!(login.get(1), Some(false));
    assert_eq!(login.get(2), Some(false));

    // Acks again: Y again.
    let (text, from) = server
        .recv(Duration::from_secs(31))
        .await
        .expect("keepalive");
    server
        .send(from, format!("REG:{};STATUS:0;", count(&text)).as_bytes())
        .await;
    sleep(Duration::from_millis(50)).await;
    let line = if field(&text, "id") == "goip1" { 1 } else { 2 };
    assert_eq!(login.get(line), Some(true));

    running.shut_down().await;
    assert_eq!(login.all().len(), 0);
}

#[tokio::test(start_paused = true)]
async fn garbage_and_refusals_do_not_stop_keepalives() {
    let _ticker = ticker();
    let server = FakeServer::start().await;
    let gateway = FakeGateway::start(snapshot(&[1]));
    let login = SmsLogin::new();
    let running = Running::start(
        vec![(
            LineId(1),
            line_config(&server.addr().to_string(), "goip1", free_port()),
        )],
        gateway.handle.clone(),
        login.clone(),
    );
    let (text, from) = server
        .recv(Duration::from_secs(1))
        .await
        .expect("keepalive");
    assert_eq!(count(&text), 1);
    let big = vec![b'x'; 60_000];
    let junk: [&[u8]; 9] = [
        b"",
        b"\xff\xfe\x00\x01",
        b"reg:",
        b"reg:;status:200",
        b"reg:99999999999999999999999999;status:200;",
        b"RECEIVE 1 OK",
        b"reg:1;status:404;",
        &big,
        b"req:7;status:200;",
    ];
    for data in junk {
        server.send(from, data).await;
    }
    sleep(Duration::from_millis(50)).await;
    // The 404 for count 1 is the only ack that matched: refused, so N.
    assert_eq!(login.get(1), Some(false));
    let (text, _) = server
        .recv(Duration::from_secs(31))
        .await
        .expect("keepalive");
    assert_eq!(count(&text), 2);
    assert_eq!(field(&text, "SMS_LOGIN"), "N");
    // An ack from another source port is still an ack (§1.3).
    let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    other.send_to(b"reg:2;status:200;", from).await.unwrap();
    sleep(Duration::from_millis(50)).await;
    assert_eq!(login.get(1), Some(true));
    running.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn survives_an_unreachable_server_and_a_stopped_gateway() {
    let _ticker = ticker();
    let gateway = FakeGateway::start(snapshot(&[1]));
    let login = SmsLogin::new();
    // Nothing listens on the server port: loopback answers with ICMP port unreachable.
    let dead = format!("127.0.0.1:{}", free_port());
    let server = FakeServer::start().await;
    let running = Running::start(
        vec![
            (LineId(1), line_config(&dead, "goip1", free_port())),
            (
                LineId(2),
                line_config(&server.addr().to_string(), "goip2", free_port()),
            ),
        ],
        gateway.handle.clone(),
        login.clone(),
    );
    let (text, _) = server
        .recv(Duration::from_secs(1))
        .await
        .expect("keepalive");
    assert_eq!(
        field(&text, "gsm_status"),
        "LOGOUT",
        "line 2 is not in the snapshot"
    );
    sleep(Duration::from_secs(100)).await;
    assert!(!running.task.is_finished());
    assert_eq!(login.get(1), Some(false));
    // Line 2 went on meanwhile (ack-less, at 30 s, 60 s, 90 s).
    let mut queued = 0;
    while server.recv(Duration::from_millis(1)).await.is_some() {
        queued += 1;
    }
    assert_eq!(queued, 3);

    // The gateway stops: keepalives continue, reporting the line logged out.
    gateway.facts.lock().unwrap().lines.push(row(2));
    let (text, _) = server
        .recv(Duration::from_secs(31))
        .await
        .expect("keepalive");
    assert_eq!(field(&text, "gsm_status"), "LOGIN");
    gateway.stop();
    let (text, _) = server
        .recv(Duration::from_secs(31))
        .await
        .expect("keepalive");
    assert_eq!(field(&text, "gsm_status"), "LOGOUT");
    assert_eq!(field(&text, "voip_status"), "LOGOUT");
    assert_eq!(field(&text, "imsi"), "460011234567892", "identity kept");
    let (text, _) = server
        .recv(Duration::from_secs(31))
        .await
        .expect("keepalive");
    assert_eq!(field(&text, "gsm_status"), "LOGOUT");
    assert!(!running.task.is_finished());
    running.shut_down().await;
}

#[tokio::test(start_paused = true)]
async fn host_names_are_resolved() {
    let _ticker = ticker();
    let server = FakeServer::start().await;
    let gateway = FakeGateway::start(snapshot(&[1]));
    let login = SmsLogin::new();
    let running = Running::start(
        vec![(
            LineId(1),
            line_config(
                &format!("localhost:{}", server.addr().port()),
                "goip1",
                free_port(),
            ),
        )],
        gateway.handle.clone(),
        login.clone(),
    );
    // The first round has no address yet; the keepalive goes out as soon as the name
    // resolves (and the 5 s minimum gap between keepalives allows), counted as the
    // second.
    let t0 = Instant::now();
    let (text, from) = server
        .recv(Duration::from_secs(10))
        .await
        .expect("keepalive");
    assert_eq!(count(&text), 2, "{text}");
    assert!(
        t0.elapsed() <= Duration::from_millis(5_100),
        "{:?}",
        t0.elapsed()
    );
    server
        .send(from, format!("reg:{};status:200;", count(&text)).as_bytes())
        .await;
    sleep(Duration::from_millis(50)).await;
    assert_eq!(login.get(1), Some(true));
    running.shut_down().await;
}

#[tokio::test]
async fn bad_settings_and_busy_ports_stop_the_start() {
    let (handle, _rx) = ManagementHandle::channel();
    let login = SmsLogin::new();
    let same_id = vec![
        (LineId(1), line_config("10.0.0.1", "goip", free_port())),
        (
            LineId(2),
            line_config("10.0.0.1:44444", "goip", free_port()),
        ),
    ];
    let err = run(
        same_id,
        handle.clone(),
        login.clone(),
        std::future::pending(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string().split(':').take(2).collect::<Vec<_>>(),
        ["line 2", " sms_server.client_id"]
    );

    let busy = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let err = run(
        vec![(LineId(4), line_config("10.0.0.1", "goip", port))],
        handle,
        login.clone(),
        std::future::pending(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            RunError::Bind {
                line: LineId(4),
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().starts_with("line 4: sms_server.local_port"));
    assert_eq!(login.all().len(), 0);
}
