//! Whatever arrives over HTTP, the management plane answers with a status and keeps
//! serving: random methods, paths, query strings, headers and bodies never panic, never
//! get a 5xx, and never get through without a login.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request};
use cellgate_engine::gateway::GatewayStatus;
use cellgate_engine::management::{ManagementHandle, ManagementRequest, StatusSnapshot};
use cellgate_web::auth::{Accounts, Level};
use cellgate_web::host_network::HostNetwork;
use cellgate_web::server::{router, WebState};
use cellgate_web::sessions::Sessions;
use proptest::prelude::*;
use tower::ServiceExt as _;

fn app(rt: &tokio::runtime::Runtime) -> axum::Router {
    let (handle, mut requests) = ManagementHandle::channel();
    rt.spawn(async move {
        while let Some(request) = requests.recv().await {
            match request {
                ManagementRequest::Snapshot(reply) => {
                    let _ = reply.send(StatusSnapshot {
                        gateway: GatewayStatus {
                            serial: None,
                            version: "cellgate test".into(),
                            uptime_seconds: 1,
                            local_time: None,
                            modules: vec![],
                        },
                        lines: vec![],
                    });
                }
                ManagementRequest::Apply { lines, reply, .. } => {
                    let _ = reply.send(lines);
                }
            }
        }
    });
    let mut accounts = Accounts::new();
    accounts
        .enable(Level::Admin, "hostile-test-pw", "k")
        .expect("admin");
    router(WebState::new(
        accounts,
        Sessions::new(None),
        handle,
        Arc::new(|_| None),
        Arc::new(HostNetwork::default),
        Arc::new(|| 1_700_000_000),
        time::UtcOffset::UTC,
    ))
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/default/en_US/status.html".to_owned()),
        Just("/default/zh_CN/status.xml".to_owned()),
        Just("/default/xx/status.xml".to_owned()),
        Just("/".to_owned()),
        Just("/static/refresh.js".to_owned()),
        "/[a-z/._%]{0,30}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn hostile_requests_are_answered_not_crashed(
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE")],
        path in path(),
        query in "[ -~]{0,60}",
        auth in proptest::option::of("[ -~]{0,60}"),
        cookie in proptest::option::of("[ -~]{0,40}"),
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        let app = app(&rt);
        let query: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
        let uri = format!("{path}?q={query}&type=list");
        let Ok(mut req) = Request::builder()
            .method(method)
            .uri(&uri)
            .body(Body::from(body))
        else {
            return Ok(());
        };
        if let Some(a) = auth.as_deref().and_then(|a| HeaderValue::from_str(a).ok()) {
            req.headers_mut().insert("authorization", a);
        }
        if let Some(c) = cookie.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
            req.headers_mut().insert("cookie", c);
        }
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 4000))));
        let resp = rt.block_on(app.oneshot(req)).expect("infallible");
        let status = resp.status().as_u16();
        prop_assert!(status < 500, "{method} {uri}: {status}");
        // Nothing but the redirect, the script and 404s answers without a login.
        if status == 200 && !path.starts_with("/static/") {
            prop_assert!(false, "{method} {uri} answered 200 without valid credentials");
        }
    }
}
