//! The status pages of manual §5.2 over HTTP, against the real gateway on the simulator
//! (virtual clock): the three login levels, sessions and the web log, the four pages and
//! their refresh, `status.xml` as GoIP scripts read it, and the line actions (reset
//! icons, bulk reset of ticked lines, module on/off).

mod routing_common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Request, StatusCode};
use base64::Engine as _;
use cellgate_policy::limits::LimitSpec;
use cellgate_web::auth::{Accounts, Level};
use cellgate_web::host_network::HostNetwork;
use cellgate_web::server::{router, WebState};
use cellgate_web::sessions::Sessions;
use routing_common::*;
use tower::ServiceExt as _;

const ADMIN_PASSWORD: &str = "correct horse";
const SMS_PASSWORD: &str = "texts-only-9";
const BASE: &str = "/default/en_US";

/// A web front of the bed's gateway. Line 2 has the SMS-server function on and logged in.
fn web(bed: &cellgate_conformance::TestBed) -> axum::Router {
    let mut accounts = Accounts::new();
    accounts
        .enable(Level::Admin, ADMIN_PASSWORD, "web.admin_password")
        .expect("admin");
    accounts
        .enable(Level::Sms, SMS_PASSWORD, "web.sms_password")
        .expect("sms");
    let (_, unix) = start_time();
    let state = WebState::new(
        accounts,
        Sessions::new(None),
        bed.management.clone(),
        Arc::new(|line| (line == 2).then_some(true)),
        Arc::new(HostNetwork::default),
        Arc::new(move || unix),
        time::UtcOffset::UTC,
    );
    router(state)
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn cookie(&self) -> Option<String> {
        let set = self.headers.get(header::SET_COOKIE)?.to_str().ok()?;
        Some(set.split(';').next()?.to_owned())
    }

    /// The text of the element with `id`.
    fn cell(&self, id: &str) -> Option<String> {
        let start = self.body.find(&format!("id=\"{id}\""))?;
        let rest = &self.body[start..];
        let open = rest.find('>')? + 1;
        let close = rest.find("</td>")?;
        let inner = &rest[open..close];
        // Strip a button around the value.
        let text = match inner.find('>') {
            Some(i) if inner.starts_with("<button") => {
                inner[i + 1..].trim_end_matches("</button>").to_owned()
            }
            _ => inner.to_owned(),
        };
        Some(text)
    }

    /// The CSRF token of the page's form.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("csrf field");
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').expect("end")].to_owned()
    }
}

async fn request(
    app: &axum::Router,
    method: &str,
    uri: &str,
    from: &str,
    headers: &[(&str, String)],
    body: &str,
) -> Reply {
    let mut builder = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        builder = builder.header(*k, v);
    }
    if method == "POST" {
        builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let mut req = builder.body(Body::from(body.to_owned())).expect("request");
    let ip: IpAddr = from.parse().expect("ip");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(ip, 50_000)));
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).expect("utf-8"),
    }
}

async fn admin_get(app: &axum::Router, uri: &str) -> Reply {
    let r = request(
        app,
        "GET",
        uri,
        "192.168.8.2",
        &[("authorization", basic("admin", ADMIN_PASSWORD))],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.body);
    r
}

/// Posts `form` (after the page's CSRF token) from the session that loaded `page`.
async fn act(app: &axum::Router, page: &Reply, form: &str) -> Reply {
    request(
        app,
        "POST",
        &format!("{BASE}/status.html?type=list"),
        "192.168.8.2",
        &[("cookie", page.cookie().expect("the page opened a session"))],
        &format!("csrf={}&{form}", page.csrf()),
    )
    .await
}

fn limit(text: &str) -> LimitSpec {
    LimitSpec::parse(text).expect("limit")
}

#[tokio::test(start_paused = true)]
async fn f_5_1_2_2_every_endpoint_needs_a_login_of_the_right_level() {
    let bed = bed(1, |_| {}).await;
    let app = web(&bed);
    for uri in [
        format!("{BASE}/status.html"),
        format!("{BASE}/status.xml"),
        "/default/zh_CN/status.xml".into(),
    ] {
        let r = request(&app, "GET", &uri, "10.0.0.9", &[], "").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{uri}");
        let challenge = r.headers.get(header::WWW_AUTHENTICATE).expect("challenge");
        assert!(challenge.to_str().unwrap().starts_with("Basic "), "{uri}");
    }
    // The factory password of GoIP boxes is not valid here.
    let r = request(
        &app,
        "GET",
        &format!("{BASE}/status.xml"),
        "10.0.0.9",
        &[("authorization", basic("admin", "admin"))],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // The `sms` level sees no status (F-5.1.2.5); `user` is not enabled.
    let r = request(
        &app,
        "GET",
        &format!("{BASE}/status.html"),
        "10.0.0.9",
        &[("authorization", basic("sms", SMS_PASSWORD))],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = request(
        &app,
        "GET",
        &format!("{BASE}/status.xml"),
        "10.0.0.9",
        &[("authorization", basic("user", SMS_PASSWORD))],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Scripts may pass u/p instead of Basic (GOIP-INTERFACES §7.1).
    let r = request(
        &app,
        "GET",
        &format!("{BASE}/status.xml?type=list&u=admin&p=correct+horse&ajaxcachebust=17"),
        "10.0.0.9",
        &[],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.headers.get(header::CONTENT_TYPE).unwrap(),
        "text/xml; charset=utf-8"
    );
    assert_eq!(r.headers.get(header::CACHE_CONTROL).unwrap(), "no-cache");
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn repeated_wrong_passwords_lock_the_address_out() {
    let bed = bed(1, |_| {}).await;
    let app = web(&bed);
    let uri = format!("{BASE}/status.xml");
    for _ in 0..10 {
        let r = request(
            &app,
            "GET",
            &uri,
            "203.0.113.5",
            &[("authorization", basic("admin", "guess"))],
            "",
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused from that address for a while...
    let right = [("authorization", basic("admin", ADMIN_PASSWORD))];
    let r = request(&app, "GET", &uri, "203.0.113.5", &right, "").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // ...but not from another one, and not after the window.
    let r = request(&app, "GET", &uri, "203.0.113.6", &right, "").await;
    assert_eq!(r.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(6 * 60)).await;
    let r = request(&app, "GET", &uri, "203.0.113.5", &right, "").await;
    assert_eq!(r.status, StatusCode::OK);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn f_5_2_0_7_four_status_pages() {
    let bed = bed(2, |c| {
        line(c, 1).limits.minutes = limit("30");
    })
    .await;
    let app = web(&bed);
    let snapshot = bed.management.snapshot().await.expect("snapshot");
    let imei = snapshot.lines[0].imei.clone().expect("imei read at start");

    let general = admin_get(&app, &format!("{BASE}/status.html?type=list")).await;
    assert!(general.body.contains("General status"));
    assert_eq!(general.cell("l1_gsm_sim").as_deref(), Some("Y"));
    assert_eq!(general.cell("l1_gsm_status").as_deref(), Some("Y"));
    assert_eq!(general.cell("l1_line_state").as_deref(), Some("IDLE"));
    assert_eq!(general.cell("l1_module_status").as_deref(), Some("Y"));
    assert_eq!(general.cell("l1_sim_remain").as_deref(), Some("30"));
    assert_eq!(general.cell("l2_sim_remain").as_deref(), Some("NO LIMIT"));
    // F-5.2.1.8: blank where the SMS-server function is off, Y/N where it is on.
    assert_eq!(general.cell("l1_sms_login").as_deref(), Some(""));
    assert_eq!(general.cell("l2_sms_login").as_deref(), Some("Y"));
    // F-5.2.1.1: a checkbox per line.
    for n in 1..=2 {
        assert!(general
            .body
            .contains(&format!("name=\"line\" value=\"{n}\"")));
    }

    let basic_page = admin_get(&app, &format!("{BASE}/status.html?type=base")).await;
    for heading in ["Hardware", "Network", "Web log", "Call management"] {
        assert!(basic_page.body.contains(heading), "{heading}");
    }
    assert!(basic_page.body.contains("cellgate 0."), "version shown");

    let gsm = admin_get(&app, &format!("{BASE}/status.html?type=gsm")).await;
    assert!(gsm.body.contains("id=\"gsm_info\""));
    assert!(gsm.body.contains(&format!("<td>{imei}</td>")), "IMEI");
    // F-5.2.3.1: no line uses a remote SIM (F-6.1.14 is not available).
    for n in 1..=2 {
        assert!(
            gsm.body
                .contains(&format!("<tr><td>{n}</td><td>OFF</td><td>Y</td><td>Y</td>")),
            "{}",
            gsm.body
        );
    }

    let cf = admin_get(&app, &format!("{BASE}/status.html?type=cf")).await;
    assert!(cf.body.contains("Not reachable"));
    assert!(cf.body.contains("<td>Not Set</td>"), "{}", cf.body);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn f_5_2_0_8_status_pages_refresh_every_5_seconds() {
    let bed = bed(1, |_| {}).await;
    let app = web(&bed);
    for t in ["base", "gsm", "cf"] {
        let page = admin_get(&app, &format!("{BASE}/status.html?type={t}")).await;
        assert!(
            page.body
                .contains("<meta http-equiv=\"refresh\" content=\"5\">"),
            "{t}"
        );
    }
    // The General page refreshes by script (keeping ticked lines), and by a plain
    // reload without script.
    let general = admin_get(&app, &format!("{BASE}/status.html")).await;
    assert!(general.body.contains("<script src=\"/static/refresh.js\""));
    assert!(general
        .body
        .contains("<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>"));
    let script = admin_get(&app, "/static/refresh.js").await;
    assert!(script.body.contains("PERIOD_MS = 5000"));
    assert!(script.body.contains("input[name=line]:checked"));
    // What the refresh fetches changes as the line does: the call state follows a call.
    let mut bed = bed;
    bed.peer.invite("5551234", "r1");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = admin_get(&app, &format!("{BASE}/status.html?type=list")).await;
    let state = during.cell("l1_line_state").expect("state cell");
    assert!(
        state.starts_with("DIALING") || state == "ALERTING",
        "{state}"
    );
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn f_5_2_2_12_web_log_shows_the_previous_and_current_login() {
    let bed = bed(1, |_| {}).await;
    let app = web(&bed);
    let auth = [("authorization", basic("admin", ADMIN_PASSWORD))];
    let first = request(
        &app,
        "GET",
        &format!("{BASE}/status.html?type=base"),
        "192.168.8.20",
        &auth,
        "",
    )
    .await;
    assert_eq!(first.status, StatusCode::OK);
    let cookie = first.cookie().expect("a login opens a session");
    assert!(first
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .contains("HttpOnly; SameSite=Strict"));
    // Requests of the same session are not new logins.
    let again = request(
        &app,
        "GET",
        &format!("{BASE}/status.html?type=base"),
        "192.168.8.20",
        &[("cookie", cookie)],
        "",
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.cookie().is_none());
    // A login from another address sees the first one as the previous login.
    let second = request(
        &app,
        "GET",
        &format!("{BASE}/status.html?type=base"),
        "192.168.8.30",
        &auth,
        "",
    )
    .await;
    assert!(
        second
            .body
            .contains("<tr><th>Last login IP</th><td>192.168.8.20</td></tr>"),
        "{}",
        second.body
    );
    assert!(second
        .body
        .contains("<tr><th>Last login time</th><td>2026-03-10 10:00:00</td></tr>"));
    assert!(second
        .body
        .contains("<tr><th>Current login IP</th><td>192.168.8.30</td></tr>"));
    // F-5.2.0.5: the header shows the previous login's time too.
    assert!(second
        .body
        .contains("<tr><th>Last Login</th><td>2026-03-10 10:00:00 from 192.168.8.20</td></tr>"));
    // Machine polling opens no session and writes no log entry.
    let xml = request(
        &app,
        "GET",
        &format!("{BASE}/status.xml"),
        "10.9.9.9",
        &auth,
        "",
    )
    .await;
    assert!(xml.cookie().is_none());
    let third = request(
        &app,
        "GET",
        &format!("{BASE}/status.html?type=base"),
        "192.168.8.40",
        &auth,
        "",
    )
    .await;
    assert!(third
        .body
        .contains("<tr><th>Last login IP</th><td>192.168.8.30</td></tr>"));
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn status_xml_is_what_goip_scripts_parse() {
    let bed = bed(2, |c| {
        line(c, 1).limits.minutes = limit("30");
    })
    .await;
    let app = web(&bed);
    let r = admin_get(&app, &format!("{BASE}/status.xml?type=list")).await;
    let lines: Vec<&str> = r.body.lines().collect();
    assert_eq!(lines[0], "<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    assert_eq!(lines[1], "<status>");
    // The firmware's element order (GOIP-INTERFACES §8.6), line by line.
    let names: Vec<&str> = lines[2..24]
        .iter()
        .map(|l| {
            l.trim_start_matches('<')
                .split(['>', '/'])
                .next()
                .unwrap_or("")
        })
        .collect();
    assert_eq!(
        names,
        [
            "l1_module_status_gsm",
            "l1_module_title_gsm",
            "l1_module_status",
            "l1_module_title",
            "l1_gsm_sim",
            "l1_gsm_status",
            "l1_status_line",
            "l1_line_state",
            "l1_sms_login",
            "l1_smb_login",
            "l1_gsm_signal",
            "l1_gsm_cur_oper",
            "l1_gsm_cur_bst",
            "l1_lac",
            "l1_sim_remain",
            "l1_nocall_t",
            "l1_acd",
            "l1_asr",
            "l1_callt",
            "l1_callc",
            "l1_rct",
            "l1_sms_count",
        ]
    );
    assert!(r.body.contains("<l1_module_status>Y</l1_module_status>\n"));
    assert!(r.body.contains("<l1_sim_remain>30</l1_sim_remain>\n"));
    assert!(r.body.contains("<l2_sim_remain>NO LIMIT</l2_sim_remain>\n"));
    assert!(r.body.contains("<l1_sms_login/>\n"));
    assert!(r.body.contains("<l2_sms_login>Y</l2_sms_login>\n"));
    assert!(r.body.contains("<l1_callc>0/0</l1_callc>\n"));
    assert!(
        r.body.contains("<l1_rct>2026-03-10 10:00:00</l1_rct>\n"),
        "{}",
        r.body
    );
    assert!(r.body.trim_end().ends_with("</status>"));
    // Device identity: sn, version, model in that order.
    let base = admin_get(&app, &format!("{BASE}/status.xml?type=base")).await;
    let sn = base.body.find("<sn").expect("sn");
    let version = base.body.find("<version>cellgate-").expect("version");
    let model = base.body.find("<model>cellgate2</model>").expect("model");
    assert!(sn < version && version < model, "{}", base.body);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn f_5_2_1_20_reset_icon_unlocks_a_used_up_line() {
    let mut bed = bed(1, |c| {
        line(c, 1).limits.minutes = limit("2");
    })
    .await;
    let app = web(&bed);
    let ok = answered_call(&mut bed, "5551234", "u1").await;
    tokio::time::sleep(Duration::from_secs(121)).await;
    hang_up(&mut bed, "5551234", "u1", &ok).await;
    refused_call(&mut bed, "5551234", "u2", 503).await;
    let page = admin_get(&app, &format!("{BASE}/status.html")).await;
    assert_eq!(page.cell("l1_sim_remain").as_deref(), Some("0"));
    // The refused call never seized the line: not an attempt.
    assert_eq!(page.cell("l1_callc").as_deref(), Some("1/1"));
    // A form without its token is refused (it could come from another site).
    let auth = ("authorization", basic("admin", ADMIN_PASSWORD));
    let forged = request(
        &app,
        "POST",
        &format!("{BASE}/status.html?type=list"),
        "192.168.8.2",
        std::slice::from_ref(&auth),
        "one=reset_time%3A1",
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // The same session's form works; post/redirect/get.
    let cookie = page.cookie().expect("session");
    let done = act(&app, &page, "one=reset_time%3A1").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let after = request(
        &app,
        "GET",
        done.headers
            .get(header::LOCATION)
            .unwrap()
            .to_str()
            .unwrap(),
        "192.168.8.2",
        &[("cookie", cookie.clone())],
        "",
    )
    .await;
    assert!(after.body.contains("remaining time reset: line 1"));
    // A crafted link cannot put its own words on the page.
    let crafted = admin_get(
        &app,
        &format!("{BASE}/status.html?type=list&done=Call+0900-123+now&lines=1"),
    )
    .await;
    assert!(!crafted.body.contains("0900-123"));
    assert_eq!(after.cell("l1_sim_remain").as_deref(), Some("2"));
    // The line takes calls again.
    let ok = answered_call(&mut bed, "5551234", "u3").await;
    hang_up(&mut bed, "5551234", "u3", &ok).await;
    // Icon 3 clears ACD/ASR and the call counts.
    let page = admin_get(&app, &format!("{BASE}/status.html")).await;
    assert_eq!(page.cell("l1_callc").as_deref(), Some("2/2"));
    let done = act(&app, &page, "one=reset_cdr%3A1").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let xml = admin_get(&app, &format!("{BASE}/status.xml")).await;
    assert!(
        xml.body.contains("<l1_callc>0/0</l1_callc>"),
        "{}",
        xml.body
    );
    assert!(xml.body.contains("<l1_acd>0</l1_acd>"));
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn f_5_2_1_21_bulk_reset_applies_to_the_ticked_lines_only() {
    let mut bed = bed(3, |c| {
        for n in 1..=3 {
            line(c, n).limits.minutes = limit("2");
        }
    })
    .await;
    let app = web(&bed);
    // Three calls at once occupy the three lines; each uses up its line's minutes.
    let mut oks = Vec::new();
    for i in 1..=3 {
        let id = format!("b{i}");
        oks.push((id.clone(), answered_call(&mut bed, "5551234", &id).await));
    }
    tokio::time::sleep(Duration::from_secs(121)).await;
    for (id, ok) in &oks {
        hang_up(&mut bed, "5551234", id, ok).await;
    }
    let page = admin_get(&app, &format!("{BASE}/status.html")).await;
    for n in 1..=3 {
        assert_eq!(
            page.cell(&format!("l{n}_sim_remain")).as_deref(),
            Some("0"),
            "line {n}"
        );
    }
    // Nothing ticked: nothing happens, and the page says why.
    let none = act(&app, &page, "action=reset_time").await;
    assert!(none.body.contains("tick at least one line first"));
    let done = act(&app, &page, "line=1&line=3&action=reset_time").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let after = admin_get(&app, &format!("{BASE}/status.html")).await;
    assert_eq!(after.cell("l1_sim_remain").as_deref(), Some("2"));
    assert_eq!(after.cell("l2_sim_remain").as_deref(), Some("0"));
    assert_eq!(after.cell("l3_sim_remain").as_deref(), Some("2"));
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn f_5_2_1_3_clicking_enable_switches_the_module() {
    let bed = bed(2, |_| {}).await;
    let app = web(&bed);
    let page = admin_get(&app, &format!("{BASE}/status.html")).await;
    let done = act(&app, &page, "one=module_off%3A2").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let xml = admin_get(&app, &format!("{BASE}/status.xml")).await;
    assert!(xml.body.contains("<l1_module_status>Y</l1_module_status>"));
    assert!(xml.body.contains("<l2_module_status>N</l2_module_status>"));
    // The module itself was told: its radio is off.
    assert!(
        commands(&bed, 2)
            .iter()
            .any(|c| c == "AT+CFUN=4" || c == "AT+CFUN=0"),
        "{:?}",
        commands(&bed, 2)
    );
    // An unknown line is named, not ignored.
    let page = admin_get(&app, &format!("{BASE}/status.html")).await;
    let r = act(&app, &page, "one=module_off%3A9").await;
    assert!(r.body.contains("no such line: 9"), "{}", r.body);
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn f_5_2_1_19_remaining_sms_counts_down_blocks_at_0_and_resets() {
    // The line's own SMS (the balance report, F-6.10.20) count against its SMS quota
    // (F-6.13.8): with a quota of 1, the second report is not sent.
    let mut bed = bed(1, |c| {
        let l = line(c, 1);
        l.limits.minutes = limit("10");
        l.limits.sms = Some(1);
        l.limits.balance_report = Some(cellgate_policy::limits::BalanceReport {
            number: "5550999".into(),
            identifier: "L1".into(),
            threshold_min: 9,
        });
    })
    .await;
    let app = web(&bed);
    let page = admin_get(&app, &format!("{BASE}/status.html")).await;
    assert_eq!(page.cell("l1_sms_count").as_deref(), Some("1"));
    let sms_sent = |bed: &cellgate_conformance::TestBed| {
        commands(bed, 1)
            .iter()
            .filter(|c| c.starts_with("AT+CMGS="))
            .count()
    };
    let ok = answered_call(&mut bed, "5551234", "s1").await;
    tokio::time::sleep(Duration::from_secs(90)).await;
    hang_up(&mut bed, "5551234", "s1", &ok).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(sms_sent(&bed), 1, "the first report goes out");
    let page = admin_get(&app, &format!("{BASE}/status.html")).await;
    assert_eq!(page.cell("l1_sms_count").as_deref(), Some("0"));
    // Re-arm the report by resetting the time; the next one finds no SMS left.
    let r = act(&app, &page, "one=reset_time%3A1").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let ok = answered_call(&mut bed, "5551234", "s2").await;
    tokio::time::sleep(Duration::from_secs(90)).await;
    hang_up(&mut bed, "5551234", "s2", &ok).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(sms_sent(&bed), 1, "quota used up: no second report");
    // Reset icon 2 gives the quota back.
    let r = act(&app, &page, "one=reset_sms%3A1").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let xml = admin_get(&app, &format!("{BASE}/status.xml")).await;
    assert!(
        xml.body.contains("<l1_sms_count>1</l1_sms_count>"),
        "{}",
        xml.body
    );
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn f_5_2_1_2_red_line_number_restores_a_policy_blocked_line() {
    use cellgate_policy::run_policy::{Action, Combine, Condition, RunPolicy};
    let mut bed = bed(1, |c| {
        c.routing.run_policy = Some(
            RunPolicy::new(
                vec![Condition::ConsecutiveUnanswered(2)],
                Combine::Any,
                vec![Action::DisableOutbound],
                30,
            )
            .expect("policy"),
        );
    })
    .await;
    let app = web(&bed);
    refused_call(&mut bed, "5550486", "p1", 486).await;
    refused_call(&mut bed, "5550486", "p2", 486).await;
    refused_call(&mut bed, "5551234", "p3", 503).await;
    let page = admin_get(&app, &format!("{BASE}/status.html")).await;
    // The line number is drawn red and is the restore button.
    assert!(
        page.body.contains("<tr id=\"l1\" class=\"blocked\">"),
        "{}",
        page.body
    );
    assert!(page.body.contains("name=\"one\" value=\"restore:1\""));
    let r = act(&app, &page, "one=restore%3A1").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = admin_get(&app, &format!("{BASE}/status.html")).await;
    assert!(!page.body.contains("class=\"blocked\""));
    let ok = answered_call(&mut bed, "5551234", "p4").await;
    hang_up(&mut bed, "5551234", "p4", &ok).await;
    bed.stop().await;
}

#[tokio::test(start_paused = true)]
async fn gsm_page_reads_like_the_firmware_for_scrapers() {
    // GOIP-INTERFACES §7.7: a PHP client reads serial, firmware and module version from
    // rows 1-3 and the current time from row 6 of the GSM page's third table (value in the
    // second cell), and the line tables as `#gsm_info > table` / `#gsm_detail > table`.
    use scraper::{Html, Selector};
    let bed = bed(2, |_| {}).await;
    let app = web(&bed);
    let page = admin_get(&app, &format!("{BASE}/status.html?type=gsm")).await;
    let doc = Html::parse_document(&page.body);
    let sel = |s: &str| Selector::parse(s).expect("selector");
    let text = |e: scraper::ElementRef<'_>| e.text().collect::<String>();
    let tables: Vec<_> = doc.select(&sel("table")).collect();
    let rows: Vec<Vec<String>> = tables[2]
        .select(&sel("tr"))
        .map(|r| r.select(&sel("th, td")).map(text).collect())
        .collect();
    assert_eq!(rows[0][0], "Serial Number");
    assert_eq!(rows[1][0], "Firmware Version");
    assert!(rows[1][1].starts_with("cellgate "), "{rows:?}");
    assert_eq!(rows[2][0], "Module Version");
    assert!(!rows[2][1].is_empty(), "{rows:?}");
    assert_eq!(rows[5][0], "Current Time");
    assert!(rows[5][1].starts_with("2026-03-10 10:0"), "{rows:?}");
    let headers = |s: &str| -> Vec<String> {
        doc.select(&sel(s))
            .next()
            .expect("table")
            .select(&sel("th"))
            .map(text)
            .collect()
    };
    let info = headers("#gsm_info > table");
    for h in ["CH", "GSM", "Carrier"] {
        assert!(info.iter().any(|x| x == h), "{info:?}");
    }
    let detail = headers("#gsm_detail > table");
    for h in ["SIM Number", "IMEI", "IMSI", "ICCID"] {
        assert!(detail.iter().any(|x| x == h), "{detail:?}");
    }
    let lines = doc.select(&sel("#gsm_detail > table tr")).skip(1).count();
    assert_eq!(lines, 2);
    bed.stop().await;
}
