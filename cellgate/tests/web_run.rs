//! The web UI of the real binary over a real TCP socket: `cellgate run` with `[web]`
//! serves the status pages and `status.xml` to a login, refuses anonymous requests, and
//! refuses to start with a factory password or a bad interface name.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use common::{free_udp_port, run_expecting_exit, scratch_dir, wait_until, RunningGateway};

fn free_tcp_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A GET with optional Basic credentials (already base64); returns (status, body).
fn get(addr: SocketAddr, path: &str, basic: Option<&str>) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let auth = basic
        .map(|b| format!("Authorization: Basic {b}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

// base64("admin:not-a-default-1")
const ADMIN: &str = "YWRtaW46bm90LWEtZGVmYXVsdC0x";

#[test]
fn cellgate_run_serves_the_status_pages_to_a_login() {
    let dir = scratch_dir("web-run");
    let sip = free_udp_port();
    let web = free_tcp_port();
    // A GoIP SMS server that acks every keepalive (GOIP-INTERFACES §3.3).
    let sms_server = UdpSocket::bind("127.0.0.1:0").expect("sms server");
    let sms_port = sms_server.local_addr().expect("addr").port();
    let keepalives = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = keepalives.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = sms_server.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if let Some(count) = text.strip_prefix("req:").and_then(|r| r.split(';').next()) {
                let _ = sms_server.send_to(format!("reg:{count};status:200;").as_bytes(), from);
            }
            if let Ok(mut seen) = seen.lock() {
                seen.push(text);
            }
        }
    });
    let local_port = free_udp_port();
    let config = format!(
        "[sip]\nlisten = \"127.0.0.1:{sip}\"\n\
         [web]\nlisten = \"127.0.0.1:{web}\"\nadmin_password = \"not-a-default-1\"\n\
         login_log = \"web-login\"\n\
         [[line]]\nid = 1\ndevice = \"/dev/null\"\n[line.sim]\nminutes = \"100\"\n\
         [line.sms_server]\nenabled = true\nserver = \"127.0.0.1:{sms_port}\"\n\
         client_id = \"goip1\"\npassword = \"pw1\"\nlocal_port = {local_port}\n"
    );
    let gw = RunningGateway::start(
        &dir,
        format!("127.0.0.1:{sip}").parse().expect("address"),
        &config,
        2,
    );
    let addr: SocketAddr = format!("127.0.0.1:{web}").parse().expect("web address");
    assert!(
        gw.log_text().contains("web UI and HTTP API running"),
        "{}",
        gw.log_text()
    );
    // Anonymous: challenged.
    let (status, _) = get(addr, "/default/en_US/status.xml", None).expect("reply");
    assert_eq!(status, 401);
    // Logged in: both lines, line 1 with its minute limit, once the modules registered.
    let mut last = String::new();
    let registered = wait_until(Duration::from_secs(30), || {
        match get(addr, "/default/en_US/status.xml", Some(ADMIN)) {
            Some((200, body)) => {
                last = body;
                last.contains("<l1_gsm_status>Y</l1_gsm_status>")
                    && last.contains("<l2_gsm_status>Y</l2_gsm_status>")
            }
            other => {
                last = format!("{other:?}");
                false
            }
        }
    });
    assert!(registered, "{last}\n{}", gw.log_text());
    assert!(
        last.contains("<l1_sim_remain>100</l1_sim_remain>"),
        "{last}"
    );
    assert!(
        last.contains("<l2_sim_remain>NO LIMIT</l2_sim_remain>"),
        "{last}"
    );
    // F-5.2.1.8: line 1 registered with the SMS server; line 2 has no such function.
    let logged_in = wait_until(Duration::from_secs(30), || {
        get(addr, "/default/en_US/status.xml", Some(ADMIN))
            .is_some_and(|(_, body)| body.contains("<l1_sms_login>Y</l1_sms_login>"))
    });
    assert!(logged_in, "{:?}", keepalives.lock().map(|k| k.clone()));
    let (_, xml) = get(addr, "/default/en_US/status.xml", Some(ADMIN)).expect("xml");
    assert!(xml.contains("<l2_sms_login/>"), "{xml}");
    let first = keepalives.lock().expect("keepalives")[0].clone();
    assert!(first.starts_with("req:1;id:goip1;pass:pw1;"), "{first}");
    // The Basic status page describes this host's network and logs the login.
    let (status, page) =
        get(addr, "/default/en_US/status.html?type=base", Some(ADMIN)).expect("page");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<th>LAN</th>") && page.contains("<th>DNS</th>"),
        "{page}"
    );
    assert!(page.contains("<tr><th>Current login IP</th><td>127.0.0.1</td></tr>"));
    assert!(dir.join("web-login").exists(), "web log file written");
}

#[test]
fn a_factory_password_stops_start_up() {
    let dir = scratch_dir("web-run-factory-password");
    let sip = free_udp_port();
    let web = free_tcp_port();
    let config = format!(
        "[sip]\nlisten = \"127.0.0.1:{sip}\"\n\
         [web]\nlisten = \"127.0.0.1:{web}\"\nadmin_password = \"admin\"\n"
    );
    let (ok, stderr) = run_expecting_exit(&dir, &config);
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("web.admin_password"), "{stderr}");
    let config = format!(
        "[sip]\nlisten = \"127.0.0.1:{sip}\"\n\
         [web]\nlisten = \"127.0.0.1:{web}\"\n"
    );
    let (ok, stderr) = run_expecting_exit(&dir, &config);
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("admin_password"), "{stderr}");
}

#[test]
fn a_bad_interface_name_stops_start_up() {
    let dir = scratch_dir("web-run-bad-interface");
    let sip = free_udp_port();
    let config =
        format!("[sip]\nlisten = \"127.0.0.1:{sip}\"\n[network]\nvpn_interface = \"../etc\"\n");
    let (ok, stderr) = run_expecting_exit(&dir, &config);
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("network.vpn_interface"), "{stderr}");
}

#[test]
fn two_lines_with_one_sms_client_id_stop_start_up() {
    // GOIP-INTERFACES §1.1: the server keys lines by id, so one id twice on one server
    // would mix two lines up.
    let dir = scratch_dir("web-run-sms-id-twice");
    let sip = free_udp_port();
    let config = format!(
        "[sip]\nlisten = \"127.0.0.1:{sip}\"\n\
         [[line]]\nid = 1\ndevice = \"/dev/null\"\n\
         [line.sms_server]\nenabled = true\nserver = \"127.0.0.1\"\nclient_id = \"g\"\npassword = \"p\"\n\
         [[line]]\nid = 2\ndevice = \"/dev/null\"\n\
         [line.sms_server]\nenabled = true\nserver = \"127.0.0.1\"\nclient_id = \"g\"\npassword = \"q\"\n"
    );
    let (ok, stderr) = run_expecting_exit(&dir, &config);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("line 2") && stderr.contains("sms_server.client_id"),
        "{stderr}"
    );
}

#[test]
fn simulate_with_web_prints_a_one_time_password_that_logs_in() {
    let dir = scratch_dir("web-simulate");
    let sip = free_udp_port();
    let web = free_tcp_port();
    let web_addr = format!("127.0.0.1:{web}");
    let gw = RunningGateway::simulate(
        &dir,
        format!("127.0.0.1:{sip}").parse().expect("address"),
        &["--lines", "2", "--web", &web_addr],
    );
    // The password is random and printed once: `(user admin, password XXXX)`.
    let log = gw.log_text();
    let password = log
        .split("password ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("password printed")
        .to_owned();
    assert!(password.len() >= 12, "{log}");
    let addr: SocketAddr = web_addr.parse().expect("web address");
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("admin:{password}"));
    let mut last = None;
    let ok = wait_until(Duration::from_secs(30), || {
        last = get(addr, "/default/en_US/status.xml", Some(&basic));
        last.as_ref().is_some_and(|(status, body)| {
            *status == 200 && body.contains("<l2_gsm_status>Y</l2_gsm_status>")
        })
    });
    assert!(ok, "{last:?}\n{log}");
    // Another password does not work.
    let wrong = base64::engine::general_purpose::STANDARD.encode("admin:admin");
    let (status, _) = get(addr, "/default/en_US/status.xml", Some(&wrong)).expect("reply");
    assert_eq!(status, 401);
}
